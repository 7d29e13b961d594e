//! DPoP at the token endpoint (RFC 9449 §4-§8, §10): the `DPoP` header of a
//! token request, checked by the verifier crate's pure
//! [`skedcast_verify::dpop::verify`], then what needs shared state:
//!
//! - the server nonce, when `dpop.use_nonce` is on: an HMAC of the current
//!   time step under a key kept in the database ([`nonce_at`]), so every
//!   instance makes and accepts the same values, and they rotate by
//!   themselves (the current and the previous step are accepted);
//! - the proof's `jti`, used once: a row of `dpop_proof_jtis` whose primary
//!   key decides (insert-or-fail), kept until the proof's window ends and
//!   pruned by the housekeeping task.
//!
//! The result is the key's thumbprint (`jkt`), which every grant passes to
//! the one place tokens are minted ([`super::token::access_token::issue`]).
//! A request's proof is checked before the grant touches anything, so a bad
//! proof consumes no code and rotates no refresh token.

use entity::{dpop_nonce_secret, dpop_proof_jti};
use hmac::{KeyInit, Mac};
use poem::http::HeaderMap;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait};
use skedcast_verify::dpop::{self, Expected};

use crate::AppState;
use crate::crypto::{b64url, b64url_decode, ct_eq, random_bytes, sha256_hex};
use crate::oauth::error::OAuthError;

/// The request header carrying the proof.
pub const HEADER: &str = "dpop";
/// The response header carrying a server nonce.
pub const NONCE_HEADER: &str = "dpop-nonce";

/// The one `DPoP` header of a request, if any (RFC 9449 §4.3 step 1: more
/// than one is an invalid proof).
pub fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, OAuthError> {
    dpop::proof_header(headers).map_err(OAuthError::invalid_dpop_proof)
}

/// Check the proof of a `POST` to `htu` (the token endpoint): the key's
/// thumbprint, or `None` when the request has no proof.
pub async fn check(
    state: &AppState,
    proof: Option<&str>,
    htu: &str,
) -> Result<Option<String>, OAuthError> {
    check_request(state, proof, "POST", htu, None).await
}

/// Check the proof of an `htm` request to `htu`; with `access_token`, the
/// proof's `ath` must be its hash (RFC 9449 §7, a protected resource of
/// this server such as UserInfo).
pub async fn check_request(
    state: &AppState,
    proof: Option<&str>,
    htm: &str,
    htu: &str,
    access_token: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    let Some(proof) = proof else {
        return Ok(None);
    };
    let settings = &state.settings.dpop;
    let now = crate::clock::now();
    let window = settings.proof_window_secs as i64;
    let expected = Expected {
        htm,
        htu,
        now,
        window_secs: window,
        access_token,
    };
    let valid = dpop::verify_with(proof, &expected, &state.dpop_keys).map_err(|why| {
        metrics::counter!("dpop_proofs_refused_total").increment(1);
        OAuthError::invalid_dpop_proof(format!("the DPoP proof {why}"))
    })?;
    if settings.use_nonce {
        let key = nonce_key(state).await?;
        let step = settings.nonce_step_secs as i64;
        let good = valid
            .nonce
            .as_deref()
            .is_some_and(|n| nonce_is_current(&key, n, now, step));
        if !good {
            return Err(OAuthError::use_dpop_nonce(nonce_at(&key, now, step)));
        }
    }
    // The latest the proof could still be accepted: its iat plus the window.
    let until = valid.iat.saturating_add(window).max(now) + 1;
    let first = use_once(&state.db, &valid.jkt, &valid.jti, until)
        .await
        .map_err(|e| OAuthError::db(e, "record DPoP proof"))?;
    if !first {
        return Err(OAuthError::invalid_dpop_proof(
            "the DPoP proof was used before (its jti); make a fresh proof for each request",
        ));
    }
    Ok(Some(valid.jkt))
}

/// The row key: the `jti` is the client's choice, so it is scoped to the
/// key, and hashed to a fixed length.
fn jti_key(jkt: &str, jti: &str) -> String {
    sha256_hex(&format!("{jkt}\n{jti}"))
}

/// Record the proof `jti` of key `jkt` as used until `expires_at`. `false`:
/// it was used before (the primary key decides, on every instance).
pub async fn use_once(
    db: &impl ConnectionTrait,
    jkt: &str,
    jti: &str,
    expires_at: i64,
) -> Result<bool, DbErr> {
    let inserted = dpop_proof_jti::Entity::insert(dpop_proof_jti::ActiveModel {
        key: Set(jti_key(jkt, jti)),
        expires_at: Set(expires_at),
    })
    .on_conflict(
        OnConflict::column(dpop_proof_jti::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted == 1)
}

/// Delete the rows of proofs whose window ended before `now`, in batches.
pub async fn prune(db: &impl ConnectionTrait, now: i64) -> Result<u64, DbErr> {
    use dpop_proof_jti::{Column, Entity};
    let expired = sea_orm::Condition::all().add(Column::ExpiresAt.lt(now));
    crate::db::delete_in_batches::<Entity>(db, Column::Key, expired).await
}

/// The shared nonce key: read once per instance; the first instance to need
/// it creates it (insert-or-ignore, then read what won).
async fn nonce_key(state: &AppState) -> Result<[u8; 32], OAuthError> {
    state
        .dpop_nonce_key
        .get_or_try_init(|| async {
            let fresh = b64url(&random_bytes::<32>());
            dpop_nonce_secret::Entity::insert(dpop_nonce_secret::ActiveModel {
                id: Set(1),
                secret: Set(fresh),
                created_at: Set(crate::clock::now()),
            })
            .on_conflict(
                OnConflict::column(dpop_nonce_secret::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&state.db)
            .await
            .map_err(|e| OAuthError::db(e, "create the DPoP nonce key"))?;
            let row = dpop_nonce_secret::Entity::find_by_id(1)
                .one(&state.db)
                .await
                .map_err(|e| OAuthError::db(e, "read the DPoP nonce key"))?;
            row.and_then(|r| b64url_decode(&r.secret))
                .and_then(|k| <[u8; 32]>::try_from(k).ok())
                .ok_or_else(|| OAuthError::server_error("unreadable row", "DPoP nonce key"))
        })
        .await
        .copied()
}

/// A fresh nonce for the response headers, when nonces are on.
pub async fn fresh_nonce(state: &AppState) -> Result<Option<String>, OAuthError> {
    let s = &state.settings.dpop;
    if !s.use_nonce {
        return Ok(None);
    }
    let key = nonce_key(state).await?;
    Ok(Some(nonce_at(
        &key,
        crate::clock::now(),
        s.nonce_step_secs as i64,
    )))
}

/// Pure: the nonce of the time step `now` falls in.
pub fn nonce_at(key: &[u8; 32], now: i64, step_secs: i64) -> String {
    b64url(&nonce_mac(key, now.div_euclid(step_secs)))
}

fn nonce_mac(key: &[u8; 32], step: i64) -> Vec<u8> {
    // HMAC takes a key of any length: this never fails.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(b"skedcast dpop nonce\n");
    mac.update(&step.to_be_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Pure: whether `nonce` is the nonce of the current or the previous step.
pub fn nonce_is_current(key: &[u8; 32], nonce: &str, now: i64, step_secs: i64) -> bool {
    let Some(sent) = b64url_decode(nonce).filter(|s| s.len() == 32) else {
        return false;
    };
    let step = now.div_euclid(step_secs);
    // Both compared, in constant time, so timing says nothing of which.
    let current = ct_eq(&sent, &nonce_mac(key, step));
    let previous = ct_eq(&sent, &nonce_mac(key, step - 1));
    current | previous
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_rotate_and_the_previous_one_still_counts() {
        let key = [7u8; 32];
        let n = nonce_at(&key, 1000, 100);
        assert!(nonce_is_current(&key, &n, 1000, 100));
        assert!(nonce_is_current(&key, &n, 1099, 100));
        assert!(nonce_is_current(&key, &n, 1199, 100), "previous step");
        assert!(!nonce_is_current(&key, &n, 1200, 100), "two steps on");
        assert!(!nonce_is_current(&key, &n, 999, 100), "a future step's");
        assert_ne!(nonce_at(&key, 1100, 100), n);
        assert!(!nonce_is_current(&[8u8; 32], &n, 1000, 100), "another key");
        assert!(!nonce_is_current(&key, "not base64!", 1000, 100));
    }

    #[test]
    fn only_one_proof_header() {
        let mut h = HeaderMap::new();
        assert_eq!(proof_header(&h).unwrap(), None);
        h.append(HEADER, "a.b.c".parse().unwrap());
        assert_eq!(proof_header(&h).unwrap(), Some("a.b.c"));
        h.append(HEADER, "d.e.f".parse().unwrap());
        let e = proof_header(&h).unwrap_err();
        assert_eq!(e.code, crate::oauth::error::ErrorCode::InvalidDpopProof);
    }
}
