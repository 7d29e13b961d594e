//! `POST /oauth/token` (RFC 6749 §3.2, OAuth 2.1): form-encoded requests
//! only; every response, success or error, carries `Cache-Control: no-store`
//! and `Pragma: no-cache`; errors are RFC 6749 §5.2 JSON.
//!
//! This file parses the request and dispatches on `grant_type`; each grant
//! is one file beside it that authenticates nothing itself and decides
//! everything about its grant:
//! - `client_credentials.rs`
//! - `code.rs` (authorization_code) and `refresh.rs` (refresh_token), added
//!   with the accounts and authorize work.
//!
//! Access tokens are made by [`access_token`] whatever the grant.

pub mod access_token;
pub mod client_credentials;
pub mod code;
pub mod families;
pub mod refresh;

use std::sync::Arc;

use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use crate::AppState;
use crate::http::basic::ClientAuthorization;
use crate::http::form_body::FormBody;
use crate::http::no_store::no_store;
use crate::oauth::TokenTag;
use crate::oauth::client::authentication::{self as client_auth, Rule};
use crate::oauth::error::OAuthError;
use crate::oauth::params::{self, MAX_FORM_BYTES, Params, quote};

/// The grant types served, as advertised in the metadata
/// (`grant_types_supported`). `authorization_code` and `refresh_token` are
/// added here by their files.
pub const GRANT_TYPES_SUPPORTED: &[&str] =
    &["authorization_code", "refresh_token", "client_credentials"];

/// Token request (RFC 6749 §4.4.2), form-encoded. Each parameter at most
/// once (except `resource`); unknown parameters are ignored.
#[derive(Object)]
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token` or `client_credentials`.
    pub grant_type: String,
    /// authorization_code: the code from the authorization response.
    pub code: Option<String>,
    /// authorization_code: the PKCE verifier (43–128 characters).
    pub code_verifier: Option<String>,
    /// authorization_code: required when the authorization request had one.
    pub redirect_uri: Option<String>,
    /// refresh_token: the refresh token (rotated on every use).
    pub refresh_token: Option<String>,
    /// Space-separated scopes, within the client's registered scope; omitted:
    /// the registered scope.
    pub scope: Option<String>,
    /// RFC 8707 resource the token is for (its `aud`); omitted: the default
    /// resource.
    pub resource: Option<String>,
    /// client_secret_post and public clients.
    pub client_id: Option<String>,
    /// client_secret_post.
    pub client_secret: Option<String>,
}

/// Successful token response (RFC 6749 §5.1).
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// An ES256 JWT (RFC 9068, `typ` at+jwt).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The granted scopes, space-separated (always present).
    pub scope: String,
    /// Issued by the authorization_code and refresh_token grants to clients
    /// with the refresh_token grant; never by client_credentials.
    #[oai(skip_serializing_if_is_none)]
    pub refresh_token: Option<String>,
}

pub struct TokenApi {
    pub state: Arc<AppState>,
}

#[OpenApi]
impl TokenApi {
    /// Token endpoint (RFC 6749 §3.2): `authorization_code` (PKCE S256),
    /// `refresh_token` (rotating), `client_credentials`.
    #[oai(
        path = "/oauth/token",
        method = "post",
        tag = "TokenTag::Tokens",
        transform = "no_store"
    )]
    async fn token(
        &self,
        authorization: ClientAuthorization,
        body: FormBody<TokenRequest, MAX_FORM_BYTES>,
    ) -> Result<Json<TokenResponse>, OAuthError> {
        let params = params::from_body(body)?;
        exchange(&self.state, authorization.header(), &params)
            .await
            .map(Json)
    }
}

/// Dispatch a token request on its `grant_type`.
pub async fn exchange(
    state: &AppState,
    authorization: Option<&str>,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let result = dispatch(state, authorization, params).await;
    if result.is_ok() {
        let grant: &'static str = match params.get("grant_type") {
            Some("authorization_code") => "authorization_code",
            Some("refresh_token") => "refresh_token",
            _ => "client_credentials",
        };
        metrics::counter!("tokens_issued_total", "grant" => grant).increment(1);
    }
    result
}

async fn dispatch(
    state: &AppState,
    authorization: Option<&str>,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let Some(grant_type) = params.get("grant_type") else {
        return Err(OAuthError::invalid_request(format!(
            "grant_type is required (supported: {})",
            GRANT_TYPES_SUPPORTED.join(", ")
        )));
    };
    match grant_type {
        "client_credentials" => {
            let client =
                client_auth::authenticate(state, authorization, params, Rule::Registered).await?;
            client_credentials::exchange(state, &client, params).await
        }
        "authorization_code" => {
            let client =
                client_auth::authenticate(state, authorization, params, Rule::Registered).await?;
            code::exchange(state, &client, params).await
        }
        "refresh_token" => {
            let client =
                client_auth::authenticate(state, authorization, params, Rule::Registered).await?;
            refresh::exchange(state, &client, params).await
        }
        other => Err(unsupported(other)),
    }
}

/// Sign the access token of a member's grant (its `jti` already recorded
/// with the refresh token) and build the response.
pub async fn member_response(
    state: &AppState,
    grant: &access_token::Grant<'_>,
    now: i64,
    jti: String,
    refresh_token: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let ttl = state.settings.tokens.access_token_ttl_secs;
    let claims = access_token::claims(grant, &state.settings.issuer, now, ttl, jti);
    let token = state
        .keys
        .sign(access_token::TYP, &claims)
        .await
        .map_err(|e| OAuthError::server_error(e, "sign access token"))?;
    Ok(TokenResponse {
        access_token: token,
        token_type: "Bearer".into(),
        expires_in: ttl,
        scope: claims.scope,
        refresh_token,
    })
}

fn unsupported(grant_type: &str) -> OAuthError {
    OAuthError::unsupported_grant_type(format!(
        "grant_type {} is not supported by this server (supported: {})",
        quote(grant_type),
        GRANT_TYPES_SUPPORTED.join(", ")
    ))
}

/// The scope tokens of a `scope` parameter, in order, without repeats.
pub fn split_scope(scope: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for s in scope.split_ascii_whitespace() {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    #[test]
    fn scopes_split_without_repeats() {
        assert_eq!(split_scope(" a  b a\tc "), ["a", "b", "c"]);
        assert!(split_scope("").is_empty());
    }

    #[test]
    fn unsupported_grant_names_what_is_supported() {
        let e = unsupported("password");
        assert_eq!(e.code, ErrorCode::UnsupportedGrantType);
        assert!(e.description.contains("'password'"));
        assert!(e.description.contains("client_credentials"));
    }
}
