//! `POST /oauth/token` (RFC 6749 §3.2, OAuth 2.1): form-encoded requests
//! only; every response, success or error, carries `Cache-Control: no-store`
//! and `Pragma: no-cache`; errors are RFC 6749 §5.2 JSON.
//!
//! This file authenticates the client, once for every grant, and hands the
//! typed request ([`request`]) to its grant, one file each, which decides
//! everything about that grant:
//! - `code.rs`: authorization_code (OAuth 2.1 §4.1.3, PKCE S256);
//! - `refresh.rs`: refresh_token (rotating, RFC 9700 §4.14.2);
//! - `client_credentials.rs` (RFC 6749 §4.4);
//! - `device_code.rs`: urn:ietf:params:oauth:grant-type:device_code (RFC 8628).
//!
//! The member grants end in [`member`] (the refresh-token family of
//! [`families`], then the access token); every access token is minted by
//! [`access_token::issue`].
//!
//! A `DPoP` proof header is checked here too, once for every grant
//! ([`crate::oauth::dpop`]), before the grant runs: a bad proof changes
//! nothing. Its key's thumbprint goes with the grant to `issue`, which binds
//! the access token to it (`cnf.jkt`).

pub mod access_token;
pub mod client_credentials;
pub mod code;
pub mod device_code;
pub mod families;
pub mod member;
pub mod refresh;
pub mod request;

use std::net::IpAddr;
use std::sync::Arc;

use poem::web::RemoteAddr;

use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use crate::AppState;
use crate::http::basic::ClientAuthorization;
use crate::http::form_body::FormBody;
use crate::http::no_store::no_store;
use crate::oauth::TokenTag;
use crate::oauth::client::authentication::{self as client_auth, Rule};
use crate::oauth::dpop;
use crate::oauth::error::OAuthError;
use crate::oauth::params::{self, MAX_FORM_BYTES, Params};
use crate::rate_limit;

use request::{TokenRequest, TokenRequestDoc};

/// Successful token response (RFC 6749 §5.1).
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// An ES256 JWT (RFC 9068, `typ` at+jwt).
    pub access_token: String,
    /// `Bearer`, or `DPoP` when the request had a DPoP proof (RFC 9449 §5).
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The granted scopes, space-separated (always present).
    pub scope: String,
    /// Issued by the authorization_code and refresh_token grants to clients
    /// with the refresh_token grant; never by client_credentials.
    #[oai(skip_serializing_if_is_none)]
    pub refresh_token: Option<String>,
    /// OpenID Connect: when the grant holds `openid` (ES256, or RS256 for
    /// clients that registered it).
    #[oai(skip_serializing_if_is_none)]
    pub id_token: Option<String>,
}

pub struct TokenApi {
    pub state: Arc<AppState>,
}

#[OpenApi]
impl TokenApi {
    /// Token endpoint (RFC 6749 §3.2): `authorization_code` (PKCE S256),
    /// `refresh_token` (rotating), `client_credentials`, and the device
    /// grant (RFC 8628).
    #[oai(
        path = "/oauth/token",
        method = "post",
        tag = "TokenTag::Tokens",
        transform = "no_store"
    )]
    async fn token(
        &self,
        req: &poem::Request,
        remote: &RemoteAddr,
        authorization: ClientAuthorization,
        /// A DPoP proof (RFC 9449 §4): the access token is bound to its key.
        #[oai(name = "DPoP")]
        _dpop: Header<Option<String>>,
        body: FormBody<TokenRequestDoc, MAX_FORM_BYTES>,
    ) -> Result<Json<TokenResponse>, OAuthError> {
        let params = params::from_body(body)?;
        let ip = rate_limit::client_ip(remote);
        let proof = dpop::proof_header(req.headers())?;
        exchange(&self.state, ip, authorization.header(), proof, &params)
            .await
            .map(Json)
    }
}

/// Serve a token request: its grant type, the client (authenticated once,
/// whatever the grant), whether that client may use the grant, then the
/// grant with its typed parameters. The checks come in this order so that
/// each error is the one a client got before the request was typed.
pub async fn exchange(
    state: &AppState,
    ip: Option<IpAddr>,
    authorization: Option<&str>,
    proof: Option<&str>,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let grant = request::grant_type(params)?;
    let client =
        client_auth::authenticate(state, ip, authorization, params, Rule::Registered).await?;
    request::admit(grant, &client)?;
    let request = TokenRequest::parse(grant, params)?;
    let jkt = dpop::check(state, proof, &state.settings.endpoint("/oauth/token")).await?;
    if client.dpop_bound_access_tokens && jkt.is_none() {
        return Err(OAuthError::invalid_dpop_proof(
            "the client is registered with dpop_bound_access_tokens: send a DPoP proof",
        ));
    }
    let jkt = jkt.as_deref();
    let label = request.as_str();
    let response = match request {
        TokenRequest::AuthorizationCode(r) => code::exchange(state, &client, r, jkt).await,
        TokenRequest::RefreshToken(r) => refresh::exchange(state, &client, r, jkt).await,
        TokenRequest::ClientCredentials(r) => {
            client_credentials::exchange(state, &client, r, jkt).await
        }
        TokenRequest::DeviceCode(r) => device_code::exchange(state, &client, r, jkt).await,
    }?;
    metrics::counter!("tokens_issued_total", "grant" => label).increment(1);
    Ok(response)
}

/// The scope tokens of a `scope` parameter, in order, without repeats.
pub fn split_scope(scope: &str) -> Result<Vec<&str>, OAuthError> {
    crate::scopes::split(scope).map_err(|e| OAuthError::invalid_scope(e.description()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_without_repeats() {
        assert_eq!(split_scope(" a  b a c ").unwrap(), ["a", "b", "c"]);
        assert!(split_scope("").unwrap().is_empty());
        // RFC 6749 section 3.3: only the space separates.
        let e = split_scope("a\tc").unwrap_err();
        assert_eq!(e.code, crate::oauth::error::ErrorCode::InvalidScope);
    }
}
