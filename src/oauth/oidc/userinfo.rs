//! `GET` and `POST /oauth/userinfo` (OpenID Connect Core §5.3): the member
//! claims of an access token granted `openid`, as JSON.
//!
//! Audience (docs/token.md): an access token whose grant holds `openid`
//! names this issuer in `aud` beside its resource, and only such tokens are
//! admitted here; resource servers keep checking their own audience, so a
//! token for the UserInfo endpoint alone is refused by them, and one for a
//! resource server without `openid` is refused here (`insufficient_scope`
//! when it is ours but lacks `openid`, RFC 6750 §3.1).
//!
//! The credential is read in one place ([`credential`]) so that another
//! scheme (DPoP) can be added there. Errors carry an RFC 6750 §3
//! `WWW-Authenticate: Bearer` challenge; CORS as at the token endpoint.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use poem::web::Data;
use poem::{Request, Response, handler};

use crate::AppState;
use crate::accounts;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::revoked_tokens;
use crate::oauth::token::access_token;

/// The challenge without an error: no credential was sent.
const CHALLENGE: &str = "Bearer realm=\"skedcast\"";
const INVALID_TOKEN: &str = "Bearer realm=\"skedcast\", error=\"invalid_token\"";
const INSUFFICIENT_SCOPE: &str =
    "Bearer realm=\"skedcast\", error=\"insufficient_scope\", scope=\"openid\"";

/// The access token a request presents: `Authorization: Bearer` (RFC 6750
/// §2.1). `Ok(None)`: no credential at all.
pub fn credential(req: &Request) -> Result<Option<String>, OAuthError> {
    let Some(h) = req.headers().get(poem::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    crate::http::bearer::parse(h.to_str().ok())
        .map(|t| Some(t.to_string()))
        .ok_or_else(|| {
            refused(
                ErrorCode::InvalidRequest,
                "the Authorization header is not \"Bearer <token>\"",
                INVALID_TOKEN,
            )
        })
}

fn refused(code: ErrorCode, description: &str, challenge: &'static str) -> OAuthError {
    OAuthError {
        challenge: Some(challenge),
        ..OAuthError::of(code, description)
    }
}

/// Pure: whether verified `claims` admit the UserInfo endpoint of
/// `issuer`: the issuer among the audiences, `openid` in the scope.
pub fn admits(claims: &access_token::Claims, issuer: &str) -> Result<(), OAuthError> {
    if !claims.scope.split(' ').any(|s| s == crate::scopes::OPENID) {
        return Err(refused(
            ErrorCode::InsufficientScope,
            "the access token was not granted openid",
            INSUFFICIENT_SCOPE,
        ));
    }
    if !claims.aud.contains(issuer) {
        return Err(refused(
            ErrorCode::InvalidToken,
            "the access token's audience does not include this issuer (the UserInfo endpoint)",
            INVALID_TOKEN,
        ));
    }
    Ok(())
}

async fn answer(state: &AppState, req: &Request) -> Result<Response, OAuthError> {
    let Some(token) = credential(req)? else {
        return Err(OAuthError {
            challenge: Some(CHALLENGE),
            ..OAuthError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidToken,
                "an access token is required (Authorization: Bearer)",
            )
        });
    };
    let now = crate::clock::now();
    let bad = || {
        refused(
            ErrorCode::InvalidToken,
            "the access token is invalid, expired or revoked",
            INVALID_TOKEN,
        )
    };
    let claims = access_token::verify(&state.keys, &state.settings.issuer, &token, now)
        .await
        .ok_or_else(bad)?;
    admits(&claims, &state.settings.issuer)?;
    if revoked_tokens::is_revoked(&state.db, &claims.jti)
        .await
        .map_err(|e| OAuthError::db(e, "check revocation"))?
    {
        return Err(bad());
    }
    let user = accounts::find_user(&state.db, &claims.sub)
        .await
        .map_err(|e| OAuthError::db(e, "find user"))?
        .ok_or_else(bad)?;
    let scopes: Vec<&str> = claims.scope.split(' ').collect();
    let mut body = super::claims::released(&user, &scopes);
    body.insert("sub".into(), serde_json::Value::String(user.id));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json")
        .header(CACHE_CONTROL, "no-store")
        .body(serde_json::to_vec(&body).unwrap_or_default()))
}

#[handler]
pub async fn get(state: Data<&Arc<AppState>>, req: &Request) -> Response {
    answer(&state, req)
        .await
        .unwrap_or_else(poem::IntoResponse::into_response)
}

/// POST (OpenID Connect Core §5.3.1): the same, the token in the header.
#[handler]
pub async fn post(state: Data<&Arc<AppState>>, req: &Request) -> Response {
    answer(&state, req)
        .await
        .unwrap_or_else(poem::IntoResponse::into_response)
}
