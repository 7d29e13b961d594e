//! The device_code grant (RFC 8628 §3.4, §3.5): the device polls until the
//! member answered at `/device`.
//!
//! - pending: `authorization_pending`, or `slow_down` when the poll came
//!   before the device code's interval was over (the interval then grows by
//!   5 s, in the database, so every instance applies it);
//! - denied: `access_denied`; expired: `expired_token`;
//! - approved: the row is deleted by one conditional DELETE in the
//!   transaction that starts the refresh-token family, so of concurrent
//!   polls exactly one gets tokens (the others `invalid_grant`), and the
//!   tokens are those of the code grant, issued by [`member::finish`].

use entity::device_authorization::Model as Device;
use sea_orm::TransactionTrait;

use super::TokenResponse;
use super::access_token::Stamp;
use super::code::{effective, identity};
use super::member::{self, Family, IdTokenParams, MemberGrant};
use super::request::DeviceCodeRequest;
use crate::AppState;
use crate::accounts;
use crate::crypto::sha256_hex;
use crate::oauth::client::ClientRecord;
use crate::oauth::device::store::{self, APPROVED, DENIED};
use crate::oauth::error::{ErrorCode, OAuthError};

const INVALID_DEVICE_CODE: &str =
    "the device_code is invalid or already used; start a new device authorization";

/// Where a stored device authorization stands for a poll.
#[derive(Debug, PartialEq, Eq)]
pub enum Standing<'a> {
    /// The member has not answered: pending or slow_down, by the poll time.
    Pending,
    /// Approved: the member, the agency and the granted scope.
    Approved {
        user_id: &'a str,
        agency_id: &'a str,
        granted: &'a str,
    },
}

/// Pure: what a poll of `client_id` at `now` finds in `device`, or the
/// error it gets (another client's code, expired, denied).
pub fn standing<'a>(
    device: &'a Device,
    client_id: &str,
    now: i64,
) -> Result<Standing<'a>, OAuthError> {
    if device.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "the device_code was issued to another client",
        ));
    }
    if device.expires_at <= now {
        return Err(OAuthError::of(
            ErrorCode::ExpiredToken,
            "the device_code has expired; start a new device authorization",
        ));
    }
    match device.status.as_str() {
        DENIED => Err(OAuthError::of(
            ErrorCode::AccessDenied,
            "the member denied the authorization request",
        )),
        APPROVED => match (
            device.user_id.as_deref(),
            device.agency_id.as_deref(),
            device.granted_scope.as_deref(),
        ) {
            (Some(user_id), Some(agency_id), Some(granted)) => Ok(Standing::Approved {
                user_id,
                agency_id,
                granted,
            }),
            // Written together by `store::approve`: never half there.
            _ => Err(OAuthError::invalid_grant(INVALID_DEVICE_CODE)),
        },
        _ => Ok(Standing::Pending),
    }
}

/// Serve a device_code request of an authenticated client admitted to the
/// grant.
pub async fn exchange(
    state: &AppState,
    client: &ClientRecord,
    request: DeviceCodeRequest,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let db = &state.db;
    let now = crate::clock::now();
    let hash = sha256_hex(&request.device_code);
    let device = store::find(db, &hash)
        .await
        .map_err(|e| OAuthError::db(e, "find device authorization"))?
        .ok_or_else(|| OAuthError::invalid_grant(INVALID_DEVICE_CODE))?;
    let (user_id, agency_id, granted) = match standing(&device, &client.client_id, now)? {
        Standing::Approved {
            user_id,
            agency_id,
            granted,
        } => (user_id, agency_id, granted),
        Standing::Pending => return Err(pending(state, &device, now).await),
    };
    let role = accounts::role_in(db, user_id, agency_id)
        .await
        .map_err(|e| OAuthError::db(e, "find membership"))?
        .ok_or_else(|| {
            OAuthError::invalid_grant("the member is no longer in the agency of this grant")
        })?;
    let mut scopes = effective(granted, role);
    if scopes.is_empty() {
        return Err(OAuthError::invalid_grant(
            "the member's role no longer allows any granted scope",
        ));
    }
    scopes.extend(identity(granted));

    let stamp = Stamp::new(now, state.settings.tokens.access_token_ttl_secs);
    // Consume and start the family in one transaction; the DELETE comes
    // first so that SQLite takes the write lock at once.
    let txn = db.begin().await.map_err(|e| OAuthError::db(e, "begin"))?;
    let won = store::consume(&txn, &hash, now)
        .await
        .map_err(|e| OAuthError::db(e, "consume device code"))?;
    if !won {
        return Err(OAuthError::invalid_grant(INVALID_DEVICE_CODE));
    }
    let grant = MemberGrant {
        user_id,
        client_id: &device.client_id,
        agency_id,
        resource: &device.resource,
        role,
        granted,
        scopes: &scopes,
        // No nonce travels with a device authorization; the approving
        // session's start and sign-in methods do.
        id_token: IdTokenParams {
            alg: client.id_token_alg,
            nonce: None,
            auth_time: device.auth_time,
            amr: device.amr.as_deref(),
        },
        jkt,
    };
    // The family records what started it: here the device code's hash
    // (never an authorization code's, so a code replay cannot reach it).
    let family = Family::start(client, &hash, jkt);
    let jti = stamp.jti.clone();
    let response = member::finish(state, txn, stamp, &grant, family).await?;
    tracing::info!(client_id = %device.client_id, %user_id, %jti, "device code redeemed");
    Ok(response)
}

/// A poll of a pending authorization: `authorization_pending` when it
/// comes at least the interval after the previous one (recorded by a
/// conditional UPDATE), else `slow_down`, and the interval grows.
async fn pending(state: &AppState, device: &Device, now: i64) -> OAuthError {
    let hash = &device.device_code_hash;
    match store::poll_on_time(&state.db, hash, now).await {
        Err(e) => return OAuthError::db(e, "record poll"),
        Ok(true) => {
            return OAuthError::of(
                ErrorCode::AuthorizationPending,
                "the member has not answered yet; poll again after the interval",
            );
        }
        Ok(false) => {}
    }
    if let Err(e) = store::slow_down(&state.db, hash, now).await {
        return OAuthError::db(e, "slow down");
    }
    OAuthError::of(
        ErrorCode::SlowDown,
        format!(
            "polled before the interval of {} seconds was over; wait {} seconds between \
             requests from now on",
            device.interval_secs,
            device.interval_secs + store::SLOW_DOWN_SECS
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(status: &str) -> Device {
        Device {
            device_code_hash: "h".into(),
            user_code: "BCDFGHJK".into(),
            client_id: "c".into(),
            scope: "agency:read".into(),
            offline: false,
            resource: "https://api".into(),
            status: status.into(),
            user_id: None,
            agency_id: None,
            granted_scope: None,
            interval_secs: 5,
            last_poll_at: None,
            created_at: 0,
            expires_at: 600,
            auth_time: None,
            amr: None,
        }
    }

    fn code(r: Result<Standing<'_>, OAuthError>) -> ErrorCode {
        r.unwrap_err().code
    }

    #[test]
    fn a_poll_finds_pending_denied_expired_or_approved() {
        let d = device(store::PENDING);
        assert_eq!(standing(&d, "c", 10).unwrap(), Standing::Pending);
        assert_eq!(code(standing(&d, "other", 10)), ErrorCode::InvalidGrant);
        assert_eq!(code(standing(&d, "c", 600)), ErrorCode::ExpiredToken);
        assert_eq!(
            code(standing(&device(DENIED), "c", 10)),
            ErrorCode::AccessDenied
        );
        // Expiry is said before the answer.
        assert_eq!(
            code(standing(&device(DENIED), "c", 600)),
            ErrorCode::ExpiredToken
        );
        let approved = Device {
            user_id: Some("u".into()),
            agency_id: Some("a".into()),
            granted_scope: Some("agency:read offline_access".into()),
            ..device(APPROVED)
        };
        assert_eq!(
            standing(&approved, "c", 10).unwrap(),
            Standing::Approved {
                user_id: "u",
                agency_id: "a",
                granted: "agency:read offline_access"
            }
        );
        assert_eq!(
            code(standing(&device(APPROVED), "c", 10)),
            ErrorCode::InvalidGrant
        );
    }
}
