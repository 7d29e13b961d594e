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

/// Where the endpoint is served (under the issuer's path).
pub const PATH: &str = "/oauth/userinfo";

/// The challenge without an error: no credential was sent (both schemes,
/// RFC 9449 §7.1).
const CHALLENGE: &str = "Bearer realm=\"skedcast\", DPoP algs=\"ES256 RS256 PS256\"";
const INVALID_TOKEN: &str = "Bearer realm=\"skedcast\", error=\"invalid_token\"";
const INSUFFICIENT_SCOPE: &str =
    "Bearer realm=\"skedcast\", error=\"insufficient_scope\", scope=\"openid\"";
const INVALID_DPOP_PROOF: &str = "DPoP algs=\"ES256 RS256 PS256\", error=\"invalid_dpop_proof\"";

/// How the access token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer` (RFC 6750 §2.1).
    Bearer,
    /// `Authorization: DPoP` with a `DPoP` proof (RFC 9449 §7.1).
    Dpop,
}

/// The access token a request presents and its scheme. `Ok(None)`: no
/// credential at all.
pub fn credential(req: &Request) -> Result<Option<(Scheme, String)>, OAuthError> {
    let Some(h) = req.headers().get(poem::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let h = h.to_str().ok();
    if let Some(t) = crate::http::bearer::parse(h) {
        return Ok(Some((Scheme::Bearer, t.to_string())));
    }
    if let Some(t) = skedcast_core::bearer::parse_scheme(h, "dpop") {
        return Ok(Some((Scheme::Dpop, t.to_string())));
    }
    Err(refused(
        ErrorCode::InvalidRequest,
        "the Authorization header is not \"Bearer <token>\" or \"DPoP <token>\"",
        INVALID_TOKEN,
    ))
}

/// Pure: whether the token's DPoP binding (`cnf.jkt`) and the way it was
/// presented agree: a bound token needs the DPoP scheme and a proof by its
/// key (`proved`); an unbound one must not claim DPoP.
pub fn binding_ok(
    claims: &access_token::Claims,
    scheme: Scheme,
    proved: Option<&str>,
) -> Result<(), OAuthError> {
    let bound = claims.cnf.as_ref().map(|c| c.jkt.as_str());
    match (bound, scheme) {
        (Some(_), Scheme::Bearer) => Err(refused(
            ErrorCode::InvalidToken,
            "the access token is bound to a DPoP key: send it as \"Authorization: DPoP\" \
             with a DPoP proof",
            INVALID_TOKEN,
        )),
        (Some(jkt), Scheme::Dpop)
            if proved.is_some_and(|p| crate::crypto::ct_eq(p.as_bytes(), jkt.as_bytes())) =>
        {
            Ok(())
        }
        (Some(_), Scheme::Dpop) => Err(dpop_refused(
            "the DPoP proof is not signed by the key the access token is bound to",
        )),
        (None, Scheme::Dpop) => Err(refused(
            ErrorCode::InvalidToken,
            "the access token is not bound to a DPoP key: send it as Bearer",
            INVALID_TOKEN,
        )),
        (None, Scheme::Bearer) => Ok(()),
    }
}

fn dpop_refused(description: impl Into<String>) -> OAuthError {
    OAuthError {
        challenge: Some(INVALID_DPOP_PROOF),
        ..OAuthError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidDpopProof,
            description,
        )
    }
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
    let Some((scheme, token)) = credential(req)? else {
        return Err(OAuthError {
            challenge: Some(CHALLENGE),
            ..OAuthError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidToken,
                "an access token is required (Authorization: Bearer or DPoP)",
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
    let proved = match scheme {
        Scheme::Bearer => None,
        Scheme::Dpop => {
            let proof = crate::oauth::dpop::proof_header(req.headers())
                .map_err(|e| dpop_refused(e.description))?
                .ok_or_else(|| dpop_refused("the DPoP scheme needs a DPoP proof header"))?;
            let htu = state.settings.endpoint(PATH);
            crate::oauth::dpop::check_request(
                state,
                Some(proof),
                req.method().as_str(),
                &htu,
                Some(&token),
            )
            .await
            .map_err(|e| match e.code {
                // RFC 9449 §9: at a resource the nonce demand is a 401.
                ErrorCode::UseDpopNonce => OAuthError {
                    status: StatusCode::UNAUTHORIZED,
                    ..e
                },
                ErrorCode::InvalidDpopProof => dpop_refused(e.description),
                _ => e,
            })?
        }
    };
    binding_ok(&claims, scheme, proved.as_deref())?;
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
