//! `POST /oauth/revoke` (RFC 7009). The client authenticates as at the
//! token endpoint (a public client sends its `client_id`). The answer is
//! `200` with an empty body whether or not anything was revoked: unknown
//! tokens, expired ones, and tokens issued to another client change nothing.
//!
//! - Access tokens: the `jti` is recorded until the token's `exp`, so
//!   introspection reports it inactive. A resource server that verifies
//!   tokens offline (signature and `exp` only) keeps accepting it until it
//!   expires.
//! - The token's shape tells the kinds apart (see
//!   [`crate::oauth::introspect::kind`]), so `token_type_hint` is accepted
//!   but never needed; values this server does not know are ignored.

use std::sync::Arc;

use poem::web::RemoteAddr;

use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::AppState;
use crate::http::basic::ClientAuthorization;
use crate::http::form_body::FormBody;
use crate::http::no_store::no_store;
use crate::oauth::TokenTag;
use crate::oauth::client::ClientRecord;
use crate::oauth::client::authentication::{self as client_auth, Rule};
use crate::oauth::error::OAuthError;
use crate::oauth::introspect::{TokenKind, kind};
use crate::oauth::params::{self, MAX_FORM_BYTES};
use crate::oauth::revoked_tokens;
use crate::oauth::token::access_token;
use crate::rate_limit;

/// Revocation request (RFC 7009 §2.1), form-encoded.
#[derive(Object)]
pub struct RevocationRequest {
    /// The access token to revoke.
    pub token: String,
    /// `access_token` or `refresh_token`; a hint only; other values are
    /// ignored.
    pub token_type_hint: Option<String>,
    /// Public clients and client_secret_post.
    pub client_id: Option<String>,
    /// client_secret_post.
    pub client_secret: Option<String>,
    /// private_key_jwt: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
    /// private_key_jwt: a JWT signed with one of the client's keys (RFC 7523
    /// §2.2), used once.
    pub client_assertion: Option<String>,
}

#[derive(ApiResponse)]
pub enum Revoked {
    /// The token is revoked, or was not one this client may revoke (RFC 7009
    /// §2.2: the answer is the same).
    #[oai(status = 200)]
    Ok,
}

pub struct RevocationApi {
    pub state: Arc<AppState>,
}

#[OpenApi]
impl RevocationApi {
    /// Token revocation (RFC 7009).
    #[oai(
        path = "/oauth/revoke",
        method = "post",
        tag = "TokenTag::Tokens",
        transform = "no_store"
    )]
    async fn revoke(
        &self,
        remote: &RemoteAddr,
        authorization: ClientAuthorization,
        body: FormBody<RevocationRequest, MAX_FORM_BYTES>,
    ) -> Result<Revoked, OAuthError> {
        let params = params::from_body(body)?;
        let client = client_auth::authenticate(
            &self.state,
            rate_limit::client_ip(remote),
            authorization.header(),
            &params,
            Rule::Registered,
        )
        .await?;
        let Some(token) = params.get("token") else {
            return Err(OAuthError::invalid_request(
                "token is required (the token to revoke)",
            ));
        };
        revoke(&self.state, &client, token).await?;
        Ok(Revoked::Ok)
    }
}

/// Revoke `token` if it is one of `client`'s.
pub async fn revoke(
    state: &AppState,
    client: &ClientRecord,
    token: &str,
) -> Result<(), OAuthError> {
    match kind(token) {
        TokenKind::AccessToken => access_token(state, client, token).await,
        // Refresh tokens are opaque; revoking one revokes its whole family
        // (RFC 9700 §4.14.2: the family shares one fate).
        TokenKind::Opaque => refresh_token(state, client, token).await,
        // API keys are revoked by their owners (settings page, CLI), not by
        // OAuth clients.
        TokenKind::ApiKey => Ok(()),
    }
}

async fn access_token(
    state: &AppState,
    client: &ClientRecord,
    token: &str,
) -> Result<(), OAuthError> {
    let now = crate::clock::now();
    let Some(claims) = access_token::verify(&state.keys, &state.settings.issuer, token, now).await
    else {
        // Not ours, or expired already: nothing to do.
        return Ok(());
    };
    if claims.client_id != client.client_id {
        // RFC 7009 §2.1: another client's token is left alone, silently.
        return Ok(());
    }
    revoked_tokens::record(&state.db, &claims.jti, claims.exp)
        .await
        .map_err(|e| OAuthError::db(e, "record revocation"))?;
    tracing::info!(client_id = %client.client_id, jti = %claims.jti, "access token revoked");
    Ok(())
}

/// A refresh token revokes its whole family, when it belongs to `client`.
async fn refresh_token(
    state: &AppState,
    client: &ClientRecord,
    token: &str,
) -> Result<(), OAuthError> {
    let found = crate::oauth::token::families::find(&state.db, token)
        .await
        .map_err(|e| OAuthError::db(e, "find refresh token"))?;
    let Some((_, family)) = found else {
        return Ok(());
    };
    if family.client_id != client.client_id {
        return Ok(());
    }
    crate::oauth::token::families::revoke_family(&state.db, &family.id, crate::clock::now())
        .await
        .map_err(|e| OAuthError::db(e, "revoke refresh family"))?;
    tracing::info!(client_id = %client.client_id, family_id = %family.id, "refresh token family revoked");
    Ok(())
}
