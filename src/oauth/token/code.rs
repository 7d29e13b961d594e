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
use super::access_token::{Grant, Member};
use super::families::{self, NewToken};
use crate::AppState;
use crate::accounts;
use crate::crypto::{random_token, sha256_hex};
use crate::oauth::client::ClientRecord;
use crate::oauth::client::GrantType;
use crate::oauth::error::OAuthError;
use crate::oauth::params::Params;
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
    params: &Params,
    verifier: &str,
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
    match params.get("redirect_uri") {
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
    if !pkce::verify(verifier, &code.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge of the authorization request",
        ));
    }
    let mut resources = params.all("resource");
    if let Some(r) = resources.next()
        && (!resource::same(r, &code.resource) || resources.next().is_some())
    {
        return Err(OAuthError::invalid_target(format!(
            "resource must be the one of the authorization request ({})",
            code.resource
        )));
    }
    Ok(())
}

/// Pure: the permission scopes of a grant the role allows now.
pub fn effective(scope: &str, role: Role) -> Vec<&str> {
    scope
        .split(' ')
        .filter(|s| !s.is_empty() && *s != OFFLINE_ACCESS && role.allows(s))
        .collect()
}

pub async fn exchange(
    state: &AppState,
    client: &ClientRecord,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    if !client.has_grant(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client(
            "the client is not registered for the authorization_code grant",
        ));
    }
    let Some(secret) = params.get("code") else {
        return Err(OAuthError::invalid_request("code is required"));
    };
    let Some(verifier) = params.get("code_verifier") else {
        return Err(OAuthError::invalid_request(
            "code_verifier is required (PKCE)",
        ));
    };
    if !pkce::is_valid_verifier(verifier) {
        return Err(OAuthError::invalid_request(
            "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)",
        ));
    }
    let db = &state.db;
    let now = crate::clock::now();
    let hash = sha256_hex(secret);
    let code = Entity::find_by_id(hash.clone())
        .one(db)
        .await
        .map_err(|e| OAuthError::db(e, "find code"))?
        .ok_or_else(|| OAuthError::invalid_grant(INVALID_CODE))?;
    if code.used_at.is_some() {
        return Err(replayed(state, &code, now).await);
    }
    check(&code, &client.client_id, params, verifier, now)?;
    let role = accounts::role_in(db, &code.user_id, &code.agency_id)
        .await
        .map_err(|e| OAuthError::db(e, "find membership"))?
        .ok_or_else(|| {
            OAuthError::invalid_grant("the member is no longer in the agency of this grant")
        })?;
    let scopes = effective(&code.scope, role);
    if scopes.is_empty() {
        return Err(OAuthError::invalid_grant(
            "the member's role no longer allows any granted scope",
        ));
    }

    let ttl = state.settings.tokens.access_token_ttl_secs;
    let jti = uuid::Uuid::new_v4().to_string();
    let access_exp = now + ttl as i64;
    let refresh = client.has_grant(GrantType::RefreshToken).then(random_token);

    // Consume the code and start the family in one transaction; the UPDATE
    // comes first so that SQLite takes the write lock at once.
    let txn = db.begin().await.map_err(|e| OAuthError::db(e, "begin"))?;
    let won = Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .col_expr(Column::AccessJti, Expr::value(jti.clone()))
        .col_expr(Column::AccessExp, Expr::value(access_exp))
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
    if let Some(rt) = &refresh {
        let tokens = &state.settings.tokens;
        let family_exp = now + tokens.refresh_token_ttl_secs as i64;
        let family_id = uuid::Uuid::new_v4().to_string();
        families::insert_family(
            &txn,
            entity::refresh_family::Model {
                id: family_id.clone(),
                client_id: code.client_id.clone(),
                user_id: code.user_id.clone(),
                agency_id: code.agency_id.clone(),
                resource: code.resource.clone(),
                code_hash: hash.clone(),
                created_at: now,
                expires_at: family_exp,
                revoked_at: None,
            },
        )
        .await
        .map_err(|e| OAuthError::db(e, "start refresh family"))?;
        families::insert_token(
            &txn,
            NewToken {
                secret: rt,
                family_id: &family_id,
                scope: &code.scope,
                now,
                expires_at: family_exp.min(now + tokens.refresh_token_idle_ttl_secs as i64),
                access_jti: &jti,
                access_exp,
            },
        )
        .await
        .map_err(|e| OAuthError::db(e, "store refresh token"))?;
    }
    txn.commit()
        .await
        .map_err(|e| OAuthError::db(e, "commit"))?;

    let grant = Grant {
        subject: &code.user_id,
        client_id: &code.client_id,
        scopes: &scopes,
        audience: &code.resource,
        member: Some(Member {
            agency_id: &code.agency_id,
            role,
        }),
    };
    tracing::info!(client_id = %code.client_id, user_id = %code.user_id, %jti, "authorization code redeemed");
    super::member_response(state, &grant, now, jti, refresh).await
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
