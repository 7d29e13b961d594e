//! The authorization_code grant (OAuth 2.1 §4.1.3) with PKCE S256.
//!
//! The code is checked (client, redirect URI, verifier, resource, the
//! member's role now) and then consumed with one conditional UPDATE in the
//! same transaction that starts the refresh-token family, so of N concurrent
//! redemptions exactly one succeeds. A second use of a code is
//! `invalid_grant` and revokes every token issued from it.

use entity::authorization_code::{Column, Entity, Model as Code};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use super::TokenResponse;
use super::access_token::Stamp;
use super::families;
use super::member::{self, Family, IdTokenParams, MemberGrant};
use super::request::CodeRequest;
use crate::AppState;
use crate::accounts;
use crate::crypto::sha256_hex;
use crate::db_key::by_key;
use crate::oauth::client::ClientRecord;
use crate::oauth::error::OAuthError;
use crate::oauth::pkce;
use crate::oauth::resource;
use crate::scopes::{OFFLINE_ACCESS, Role};

const INVALID_CODE: &str =
    "the authorization code is invalid, expired or already used; start a new authorization";

/// Pure checks of a stored code against the request; `Ok` means the code
/// may be consumed.
pub fn check(
    code: &Code,
    client_id: &str,
    request: &CodeRequest,
    now: i64,
) -> Result<(), OAuthError> {
    if code.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if code.expires_at <= now {
        return Err(OAuthError::invalid_grant(INVALID_CODE));
    }
    match request.redirect_uri.as_deref() {
        Some(r) if r == code.redirect_uri => {}
        Some(_) => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the one in the authorization request",
            ));
        }
        None if code.redirect_uri_given => {
            return Err(OAuthError::invalid_request(
                "redirect_uri is required: the authorization request had one",
            ));
        }
        None => {}
    }
    if !pkce::verify(&request.code_verifier, &code.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge of the authorization request",
        ));
    }
    if let Some(r) = request.resource.first()
        && (!resource::same(r, &code.resource) || request.resource.len() > 1)
    {
        return Err(OAuthError::invalid_target(format!(
            "resource must be the one of the authorization request ({})",
            code.resource
        )));
    }
    Ok(())
}

/// Pure: a code bound to a DPoP key (`dpop_jkt` of the authorization
/// request, RFC 9449 §10) is redeemed only with a proof by that key.
pub fn check_binding(bound: Option<&str>, jkt: Option<&str>) -> Result<(), OAuthError> {
    match (bound, jkt) {
        (Some(b), Some(k)) if crate::crypto::ct_eq(b.as_bytes(), k.as_bytes()) => Ok(()),
        (Some(_), _) => Err(OAuthError::invalid_grant(
            "the authorization request bound the code to a DPoP key (dpop_jkt): redeem it \
             with a DPoP proof by that key",
        )),
        (None, _) => Ok(()),
    }
}

/// Pure: the permission scopes of a grant the role allows now.
pub fn effective(scope: &str, role: Role) -> Vec<&str> {
    // The stored grant was written by this server: unreadable means nothing.
    crate::scopes::split(scope)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| *s != OFFLINE_ACCESS && role.allows(s))
        .collect()
}

/// Pure: the identity scopes (`openid`, `email`, `profile`) of a grant:
/// no permissions, so the role does not narrow them.
pub fn identity(scope: &str) -> Vec<&str> {
    crate::scopes::split(scope)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| crate::scopes::is_identity(s))
        .collect()
}

/// Serve an authorization_code request of an authenticated client admitted
/// to the grant.
pub async fn exchange(
    state: &AppState,
    client: &ClientRecord,
    request: CodeRequest,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let db = &state.db;
    let now = crate::clock::now();
    let hash = sha256_hex(&request.code);
    let code = by_key(Entity::find_by_id(hash.clone()), db)
        .await
        .map_err(|e| OAuthError::db(e, "find code"))?
        .ok_or_else(|| OAuthError::invalid_grant(INVALID_CODE))?;
    if code.used_at.is_some() {
        return Err(replayed(state, &code, now).await);
    }
    check(&code, &client.client_id, &request, now)?;
    check_binding(code.dpop_jkt.as_deref(), jkt)?;
    let role = accounts::role_in(db, &code.user_id, &code.agency_id)
        .await
        .map_err(|e| OAuthError::db(e, "find membership"))?
        .ok_or_else(|| {
            OAuthError::invalid_grant("the member is no longer in the agency of this grant")
        })?;
    let mut scopes = effective(&code.scope, role);
    if scopes.is_empty() {
        return Err(OAuthError::invalid_grant(
            "the member's role no longer allows any granted scope",
        ));
    }
    scopes.extend(identity(&code.scope));

    let stamp = Stamp::new(now, state.settings.tokens.access_token_ttl_secs);
    // Consume the code and start the family in one transaction; the UPDATE
    // comes first so that SQLite takes the write lock at once.
    let txn = db.begin().await.map_err(|e| OAuthError::db(e, "begin"))?;
    let won = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .col_expr(Column::AccessJti, Expr::value(stamp.jti.clone()))
        .col_expr(Column::AccessExp, Expr::value(stamp.exp()))
        .filter(Column::CodeHash.eq(&hash))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await
        .map_err(|e| OAuthError::db(e, "consume code"))?
        .rows_affected
        == 1;
    if !won {
        drop(txn);
        return Err(replayed(state, &code, now).await);
    }
    let grant = MemberGrant {
        user_id: &code.user_id,
        client_id: &code.client_id,
        agency_id: &code.agency_id,
        resource: &code.resource,
        role,
        granted: &code.scope,
        scopes: &scopes,
        id_token: IdTokenParams {
            alg: client.id_token_alg,
            nonce: code.nonce.as_deref(),
            auth_time: code.auth_time,
            amr: code.amr.as_deref(),
        },
        jkt,
    };
    let family = Family::start(client, &hash, jkt);
    let jti = stamp.jti.clone();
    let response = member::finish(state, txn, stamp, &grant, family).await?;
    tracing::info!(client_id = %code.client_id, user_id = %code.user_id, %jti, "authorization code redeemed");
    Ok(response)
}

/// A code used before: revoke what it issued and say so.
async fn replayed(state: &AppState, code: &Code, now: i64) -> OAuthError {
    // Reload: the winner of a race has recorded its access token by now.
    let fresh = Entity::find_by_id(code.code_hash.clone())
        .one(&state.db)
        .await;
    let code = match fresh {
        Ok(Some(c)) => c,
        Ok(None) => return OAuthError::invalid_grant(INVALID_CODE),
        Err(e) => return OAuthError::db(e, "reload code"),
    };
    if let Err(e) = families::revoke_from_code(&state.db, &code, now).await {
        return OAuthError::db(e, "revoke tokens of a replayed code");
    }
    tracing::warn!(client_id = %code.client_id, "authorization code replayed; its tokens are revoked");
    metrics::counter!("authorization_code_replays_total").increment(1);
    OAuthError::invalid_grant(INVALID_CODE)
}
