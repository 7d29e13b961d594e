//! The refresh_token grant with rotation (OAuth 2.1 §4.3, RFC 9700 §4.14.2).
//!
//! Every use rotates: the presented token is marked used (one conditional
//! UPDATE, so of concurrent refreshes exactly one wins) and a new token of
//! the same family is issued with the same scope (RFC 6749 §6). Presenting a
//! used token revokes the whole family, unless it comes back within
//! `tokens.refresh_reuse_grace_secs` of its rotation from the same client
//! (parallel agent sessions sharing one token): then it gets a new token of
//! the same family as well. The access token's scopes are
//! recomputed from the member's role now: a demotion narrows them, a member
//! removed from the agency ends the family.

use sea_orm::TransactionTrait;

use super::access_token::Stamp;
use super::families;
use super::member::{self, Family, IdTokenParams, MemberGrant};
use super::request::RefreshRequest;
use super::{TokenResponse, split_scope};
use crate::AppState;
use crate::oauth::client::ClientRecord;
use crate::oauth::error::OAuthError;
use crate::oauth::params::quote;
use crate::oauth::resource;
use crate::scopes::{OFFLINE_ACCESS, Role};

const INVALID_TOKEN: &str =
    "the refresh token is invalid, expired or revoked; start a new authorization";

/// Pure: the access token's scopes for an optional narrower `requested`
/// scope, within the grant's `granted` scope and the `role` now.
pub fn decide<'a>(
    granted: &'a str,
    requested: Option<&'a str>,
    role: Role,
) -> Result<Vec<&'a str>, OAuthError> {
    // The stored grant was written by this server: unreadable means nothing.
    let granted: Vec<&str> = split_scope(granted).unwrap_or_default();
    let asked: Vec<&str> = match requested {
        Some(r) => {
            let asked = split_scope(r)?;
            // offline_access only asks for a refresh token, which every
            // refresh returns: never a widening.
            if let Some(wider) = asked
                .iter()
                .find(|s| **s != OFFLINE_ACCESS && !granted.contains(s))
            {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {} was not granted; a refresh may narrow the scope, never widen it",
                    quote(wider)
                )));
            }
            asked
        }
        None => granted,
    };
    let mut allowed: Vec<&str> = asked
        .iter()
        .copied()
        .filter(|s| *s != OFFLINE_ACCESS && role.allows(s))
        .collect();
    if allowed.is_empty() {
        return Err(OAuthError::invalid_grant(
            "the member's role no longer allows any of the requested scopes",
        ));
    }
    // Identity scopes are no permissions: kept as asked (an id_token is
    // issued again only when `openid` is among them).
    allowed.extend(
        asked
            .iter()
            .copied()
            .filter(|s| crate::scopes::is_identity(s)),
    );
    Ok(allowed)
}

/// Pure: a public client's refresh token bound to a DPoP key (RFC 9449 §5)
/// is used only with a proof by that key.
pub fn check_binding(bound: Option<&str>, jkt: Option<&str>) -> Result<(), OAuthError> {
    match (bound, jkt) {
        (Some(b), Some(k)) if crate::crypto::ct_eq(b.as_bytes(), k.as_bytes()) => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::invalid_grant(
            "the refresh token is bound to another DPoP key (RFC 9449 section 5)",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant(
            "the refresh token is bound to a DPoP key: send a DPoP proof by that key",
        )),
        (None, _) => Ok(()),
    }
}

/// Serve a refresh_token request of an authenticated client admitted to
/// the grant.
pub async fn exchange(
    state: &AppState,
    client: &ClientRecord,
    request: RefreshRequest,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let secret = &request.refresh_token;
    let db = &state.db;
    let now = crate::clock::now();
    let (token, family, member_role) = families::find_with_role(db, secret)
        .await
        .map_err(|e| OAuthError::db(e, "find refresh token"))?
        .ok_or_else(|| OAuthError::invalid_grant(INVALID_TOKEN))?;
    if family.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    // Only the client the family belongs to gets here: another client's
    // presentation was refused above, so it never has a grace.
    let grace = state.settings.tokens.refresh_reuse_grace_secs;
    if let Some(used_at) = token.used_at
        && family.revoked_at.is_none()
        && !families::within_grace(used_at, now, grace)
    {
        return Err(reused(state, &family, now).await);
    }
    if !families::alive(&token, &family, now) {
        return Err(OAuthError::invalid_grant(INVALID_TOKEN));
    }
    check_binding(family.dpop_jkt.as_deref(), jkt)?;
    if let Some(r) = request.resource.first()
        && (!resource::same(r, &family.resource) || request.resource.len() > 1)
    {
        return Err(OAuthError::invalid_target(format!(
            "resource must be the one of the original grant ({})",
            family.resource
        )));
    }
    // The membership as read with the token (`accounts::role_in`'s rule).
    let Some(role) = member_role.as_deref().and_then(Role::parse) else {
        families::revoke_family(db, &family.id, now)
            .await
            .map_err(|e| OAuthError::db(e, "revoke family"))?;
        return Err(OAuthError::invalid_grant(
            "the member is no longer in the agency of this grant; the grant is revoked",
        ));
    };
    let scopes = decide(&token.scope, request.scope.as_deref(), role)?;

    let stamp = Stamp::new(now, state.settings.tokens.access_token_ttl_secs);
    let txn = db.begin().await.map_err(|e| OAuthError::db(e, "begin"))?;
    let won = families::mark_used(&txn, secret, now)
        .await
        .map_err(|e| OAuthError::db(e, "rotate refresh token"))?;
    if !won {
        // Used already (read so above, or by a concurrent rotation that has
        // committed since): a reuse, forgiven only within the grace window
        // of when it was used. The window never slides: `used_at` is set once.
        let used_at = families::used_at(&txn, secret)
            .await
            .map_err(|e| OAuthError::db(e, "read refresh token"))?;
        if !used_at.is_some_and(|u| families::within_grace(u, now, grace)) {
            drop(txn);
            return Err(reused(state, &family, now).await);
        }
        tracing::info!(
            family_id = %family.id,
            "refresh token presented again within the reuse grace; a new token of its family is issued"
        );
    }
    let live = families::hold_live(&txn, &family.id)
        .await
        .map_err(|e| OAuthError::db(e, "lock refresh family"))?;
    if !live {
        // Revoked since it was read: roll back the rotation.
        drop(txn);
        return Err(OAuthError::invalid_grant(INVALID_TOKEN));
    }
    let grant = MemberGrant {
        user_id: &family.user_id,
        client_id: &family.client_id,
        agency_id: &family.agency_id,
        resource: &family.resource,
        role,
        granted: &token.scope,
        scopes: &scopes,
        // OpenID Connect Core §12.2: the same auth_time, no nonce.
        id_token: IdTokenParams {
            alg: client.id_token_alg,
            nonce: None,
            auth_time: family.auth_time,
            amr: family.amr.as_deref(),
        },
        jkt,
    };
    member::finish(state, txn, stamp, &grant, Some(Family::Rotate(&family))).await
}

/// A used refresh token came back: someone holds a copy. Revoke the family
/// and record the detection, in one transaction.
async fn reused(state: &AppState, family: &entity::refresh_family::Model, now: i64) -> OAuthError {
    let revoked = async {
        let txn = state.db.begin().await?;
        families::revoke_family(&txn, &family.id, now).await?;
        let event = crate::audit::Event::RefreshReuseDetected {
            client_id: &family.client_id,
            user_id: Some(&family.user_id),
            agency_id: Some(&family.agency_id),
            family_id: &family.id,
        };
        crate::audit::record(&txn, crate::audit::At::no_ip(now), event).await?;
        txn.commit().await
    };
    if let Err(e) = revoked.await {
        return OAuthError::db(e, "revoke family");
    }
    tracing::warn!(
        family_id = %family.id,
        "refresh token reuse detected; the family is revoked"
    );
    OAuthError::invalid_grant(
        "the refresh token was already used, so the whole grant is revoked (RFC 9700 §4.14.2); start a new authorization",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    #[test]
    fn narrowing_and_role() {
        let granted = "agency:read posts:write offline_access";
        assert_eq!(
            decide(granted, None, Role::Owner).unwrap(),
            ["agency:read", "posts:write"]
        );
        assert_eq!(
            decide(granted, None, Role::Viewer).unwrap(),
            ["agency:read"]
        );
        assert_eq!(
            decide(granted, Some("posts:write"), Role::Editor).unwrap(),
            ["posts:write"]
        );
        assert_eq!(
            decide(granted, Some("billing:read"), Role::Owner)
                .unwrap_err()
                .code,
            ErrorCode::InvalidScope
        );
        // MCP clients repeat offline_access on refresh, granted or not.
        assert_eq!(
            decide(
                "agency:read",
                Some("agency:read offline_access"),
                Role::Owner
            )
            .unwrap(),
            ["agency:read"]
        );
        assert_eq!(
            decide(granted, Some("posts:write"), Role::Viewer)
                .unwrap_err()
                .code,
            ErrorCode::InvalidGrant
        );
    }
}
