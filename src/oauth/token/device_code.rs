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

use sea_orm::TransactionTrait;

use super::TokenResponse;
use super::access_token::Stamp;
use super::code::effective;
use super::member::{self, Family, MemberGrant};
use super::request::DeviceCodeRequest;
use crate::AppState;
use crate::accounts;
use crate::crypto::sha256_hex;
use crate::oauth::client::ClientRecord;
use crate::oauth::device::store::{self, APPROVED, DENIED};
use crate::oauth::error::{ErrorCode, OAuthError};

const INVALID_DEVICE_CODE: &str =
    "the device_code is invalid or already used; start a new device authorization";

/// Serve a device_code request of an authenticated client admitted to the
/// grant.
pub async fn exchange(
    state: &AppState,
    client: &ClientRecord,
    request: DeviceCodeRequest,
) -> Result<TokenResponse, OAuthError> {
    let db = &state.db;
    let now = crate::clock::now();
    let hash = sha256_hex(&request.device_code);
    let device = store::find(db, &hash)
        .await
        .map_err(|e| OAuthError::db(e, "find device authorization"))?
        .ok_or_else(|| OAuthError::invalid_grant(INVALID_DEVICE_CODE))?;
    if device.client_id != client.client_id {
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
        DENIED => {
            return Err(OAuthError::of(
                ErrorCode::AccessDenied,
                "the member denied the authorization request",
            ));
        }
        APPROVED => {}
        _ => {
            let on_time = store::poll_on_time(db, &hash, now)
                .await
                .map_err(|e| OAuthError::db(e, "record poll"))?;
            if on_time {
                return Err(OAuthError::of(
                    ErrorCode::AuthorizationPending,
                    "the member has not answered yet; poll again after the interval",
                ));
            }
            store::slow_down(db, &hash, now)
                .await
                .map_err(|e| OAuthError::db(e, "slow down"))?;
            return Err(OAuthError::of(
                ErrorCode::SlowDown,
                format!(
                    "polled before the interval of {} seconds was over; wait {} seconds \
                     between requests from now on",
                    device.interval_secs,
                    device.interval_secs + store::SLOW_DOWN_SECS
                ),
            ));
        }
    }
    let (Some(user_id), Some(agency_id), Some(granted)) = (
        device.user_id.as_deref(),
        device.agency_id.as_deref(),
        device.granted_scope.as_deref(),
    ) else {
        return Err(OAuthError::invalid_grant(INVALID_DEVICE_CODE));
    };
    let role = accounts::role_in(db, user_id, agency_id)
        .await
        .map_err(|e| OAuthError::db(e, "find membership"))?
        .ok_or_else(|| {
            OAuthError::invalid_grant("the member is no longer in the agency of this grant")
        })?;
    let scopes = effective(granted, role);
    if scopes.is_empty() {
        return Err(OAuthError::invalid_grant(
            "the member's role no longer allows any granted scope",
        ));
    }

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
    };
    // The family records what started it: here the device code's hash
    // (never an authorization code's, so a code replay cannot reach it).
    let family = client
        .gets_refresh_tokens()
        .then_some(Family::Start { code_hash: &hash });
    let jti = stamp.jti.clone();
    let response = member::finish(state, txn, stamp, &grant, family).await?;
    tracing::info!(client_id = %device.client_id, %user_id, %jti, "device code redeemed");
    Ok(response)
}
