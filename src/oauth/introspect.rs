//! `POST /oauth/introspect` (RFC 7662): resource servers ask whether a token
//! is active and what it carries.
//!
//! - Only resource servers (clients created with `skedcast-auth
//!   resource-server create`) may call it, authenticating with their secret
//!   by HTTP Basic or in the body; anyone else gets `401 invalid_client`.
//! - An active access token is answered with `active`, `scope`,
//!   `client_id`, `sub`, `exp`, `iat`, `iss`, `aud`, `token_type` (`Bearer`,
//!   the RFC 6749 §7.1 type, as RFC 7662 §2.2 defines the member; `DPoP`
//!   with `cnf.jkt` for a DPoP-bound token, RFC 9449 §6.2), and
//!   `agency_id`/`role` when the token has them.
//! - A token is reported active only to the resource server it is for
//!   (`aud` equals the caller's resource, RFC 7662 §4): a resource server
//!   learns nothing about tokens meant for others.
//! - A token issued to a metadata-document client while `cimd.enabled` is
//!   off is inactive: those clients are switched off everywhere.
//! - Refresh tokens (and any other opaque string) are exactly
//!   `{"active": false}`, live or not: they are never revealed to resource
//!   servers (RFC 7662 §2.2 allows it).
//! - Anything else (garbage, expired, revoked, issued to a client since
//!   deleted, signed by another key, another audience) is exactly
//!   `{"active": false}`.
//!
//! The token's shape decides where it is looked up; see [`kind`].

use std::sync::Arc;

use poem::web::RemoteAddr;

use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use crate::AppState;
use crate::http::basic::ClientAuthorization;
use crate::http::form_body::FormBody;
use crate::http::no_store::no_store;
use crate::oauth::TokenTag;
use crate::oauth::client::ClientRecord;
use crate::oauth::client::authentication::{self as client_auth, Rule};
use crate::oauth::client::metadata_document;
use crate::oauth::client::store;
use crate::oauth::error::OAuthError;
use crate::oauth::params::{self, MAX_FORM_BYTES};
use crate::oauth::revoked_tokens;
use crate::oauth::token::access_token::{self, Claims};
use crate::rate_limit;

use crate::api_keys::format::PREFIX as API_KEY_PREFIX;

/// What a presented token is, judged by its shape alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A compact JWS: one of our access tokens, if anything.
    AccessToken,
    /// `sked_live_...`.
    ApiKey,
    /// Anything else: refresh tokens are opaque random strings.
    Opaque,
}

pub fn kind(token: &str) -> TokenKind {
    if token.starts_with(API_KEY_PREFIX) {
        TokenKind::ApiKey
    } else if access_token::looks_like_jwt(token) {
        TokenKind::AccessToken
    } else {
        TokenKind::Opaque
    }
}

/// Introspection request (RFC 7662 §2.1), form-encoded.
#[derive(Object)]
pub struct IntrospectionRequest {
    /// The token to introspect.
    pub token: String,
    /// `access_token` or `refresh_token`; a hint only (the token's shape
    /// decides).
    pub token_type_hint: Option<String>,
    /// With client_secret_post.
    pub client_id: Option<String>,
    /// With client_secret_post.
    pub client_secret: Option<String>,
    /// private_key_jwt: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
    /// private_key_jwt: a JWT signed with one of the client's keys (RFC 7523
    /// §2.2), used once.
    pub client_assertion: Option<String>,
}

/// Introspection response (RFC 7662 §2.2). Inactive: only `active: false`.
#[derive(Object, Debug, Clone, Default, PartialEq, Eq)]
pub struct IntrospectionResponse {
    pub active: bool,
    #[oai(skip_serializing_if_is_none)]
    pub scope: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub client_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub sub: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub exp: Option<i64>,
    #[oai(skip_serializing_if_is_none)]
    pub iat: Option<i64>,
    #[oai(skip_serializing_if_is_none)]
    pub iss: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub aud: Option<String>,
    /// `Bearer`, or `DPoP` for a token bound to a DPoP key.
    #[oai(skip_serializing_if_is_none)]
    pub token_type: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub agency_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub role: Option<String>,
    /// RFC 9449 §6.2: the DPoP key a bound token is for.
    #[oai(skip_serializing_if_is_none)]
    pub cnf: Option<IntrospectionCnf>,
}

/// RFC 7800 confirmation of a DPoP-bound token (RFC 9449 §6.2).
#[derive(Object, Debug, Clone, PartialEq, Eq)]
pub struct IntrospectionCnf {
    /// The RFC 7638 thumbprint of the key.
    pub jkt: String,
}

impl IntrospectionResponse {
    pub fn inactive() -> Self {
        Self::default()
    }

    pub fn from_claims(c: Claims) -> Self {
        IntrospectionResponse {
            active: true,
            scope: Some(c.scope),
            client_id: Some(c.client_id),
            sub: Some(c.sub),
            exp: Some(c.exp),
            iat: Some(c.iat),
            iss: Some(c.iss),
            aud: Some(c.aud.resource().to_string()),
            token_type: Some(access_token::token_type(c.cnf.is_some()).to_string()),
            agency_id: c.agency_id,
            role: c.role,
            cnf: c.cnf.map(|c| IntrospectionCnf { jkt: c.jkt }),
        }
    }
}

pub struct IntrospectionApi {
    pub state: Arc<AppState>,
}

#[OpenApi]
impl IntrospectionApi {
    /// Token introspection (RFC 7662), for resource servers.
    #[oai(
        path = "/oauth/introspect",
        method = "post",
        tag = "TokenTag::Tokens",
        transform = "no_store"
    )]
    async fn introspect(
        &self,
        remote: &RemoteAddr,
        authorization: ClientAuthorization,
        body: FormBody<IntrospectionRequest, MAX_FORM_BYTES>,
    ) -> Result<Json<IntrospectionResponse>, OAuthError> {
        let params = params::from_body(body)?;
        let header = authorization.header();
        let ip = rate_limit::client_ip(remote);
        let caller =
            client_auth::authenticate(&self.state, ip, header, &params, Rule::AnySecretMethod)
                .await?;
        if !caller.is_resource_server() {
            return Err(OAuthError::invalid_client(
                "only resource servers (created with `skedcast-auth resource-server create`) may \
                 call the introspection endpoint",
                header.is_some(),
            ));
        }
        let Some(token) = params.get("token") else {
            return Err(OAuthError::invalid_request(
                "token is required (the token to introspect)",
            ));
        };
        introspect(&self.state, &caller, token).await.map(Json)
    }
}

/// What `caller` may learn about `token`.
pub async fn introspect(
    state: &AppState,
    caller: &ClientRecord,
    token: &str,
) -> Result<IntrospectionResponse, OAuthError> {
    match kind(token) {
        TokenKind::AccessToken => access_token(state, caller, token).await,
        TokenKind::ApiKey => api_key(state, token).await,
        // Refresh tokens are never revealed to resource servers (RFC 7662
        // §2.2 lets the server answer inactive; issue 13, item 14): they
        // are the client's, a resource server never needs one.
        TokenKind::Opaque => Ok(IntrospectionResponse::inactive()),
    }
}

async fn access_token(
    state: &AppState,
    caller: &ClientRecord,
    token: &str,
) -> Result<IntrospectionResponse, OAuthError> {
    let now = crate::clock::now();
    let Some(claims) = access_token::verify(&state.keys, &state.settings.issuer, token, now).await
    else {
        return Ok(IntrospectionResponse::inactive());
    };
    if caller.resource.as_deref() != Some(claims.aud.resource())
        || metadata_document::switched_off(&state.settings.cimd, &claims.client_id)
    {
        return Ok(IntrospectionResponse::inactive());
    }
    let revoked = revoked_tokens::is_revoked(&state.db, &claims.jti)
        .await
        .map_err(|e| OAuthError::db(e, "check revocation"))?;
    // Issue 13 item 14: a client deleted over RFC 7592 takes its tokens
    // with it. Issued access tokens are not recorded per client, so the
    // client's row is what is checked (registered ids are random, never
    // reused).
    let client_gone = !revoked
        && !store::exists(&state.db, &claims.client_id)
            .await
            .map_err(|e| OAuthError::db(e, "find client"))?;
    Ok(if revoked || client_gone {
        IntrospectionResponse::inactive()
    } else {
        IntrospectionResponse::from_claims(claims)
    })
}

/// An API key: active while not expired or revoked and its member is still
/// in the agency; `scope` is the key's scopes ∩ the role now. The checksum
/// is checked before any lookup.
async fn api_key(state: &AppState, token: &str) -> Result<IntrospectionResponse, OAuthError> {
    let now = crate::clock::now();
    let Some(k) = crate::api_keys::check(&state.db, token, now)
        .await
        .map_err(|e| OAuthError::db(e, "check API key"))?
    else {
        return Ok(IntrospectionResponse::inactive());
    };
    Ok(IntrospectionResponse {
        active: true,
        scope: Some(k.scopes.join(" ")),
        sub: Some(k.user_id),
        exp: Some(k.expires_at),
        iss: Some(state.settings.issuer.clone()),
        token_type: Some("api_key".to_string()),
        agency_id: Some(k.agency_id),
        role: Some(k.role.as_str().to_string()),
        ..IntrospectionResponse::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::types::ToJSON;

    #[test]
    fn kinds_by_shape() {
        assert_eq!(kind("eyJh.eyJz.c2ln"), TokenKind::AccessToken);
        assert_eq!(kind("sked_live_abc123"), TokenKind::ApiKey);
        assert_eq!(kind("x5Y_opaque-refresh"), TokenKind::Opaque);
        assert_eq!(kind(""), TokenKind::Opaque);
    }

    #[test]
    fn inactive_is_exactly_active_false() {
        let v = IntrospectionResponse::inactive().to_json().unwrap();
        assert_eq!(v, serde_json::json!({"active": false}));
    }

    #[test]
    fn active_carries_the_claims() {
        let c = Claims {
            iss: "i".into(),
            sub: "s".into(),
            aud: crate::oauth::token::access_token::Audience::One("a".into()),
            client_id: "c".into(),
            scope: "x y".into(),
            iat: 1,
            exp: 2,
            jti: "j".into(),
            agency_id: None,
            role: None,
            cnf: None,
            amr: None,
        };
        let v = IntrospectionResponse::from_claims(c.clone())
            .to_json()
            .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"active": true, "scope": "x y", "client_id": "c", "sub": "s",
                "exp": 2, "iat": 1, "iss": "i", "aud": "a", "token_type": "Bearer"})
        );
        let bound = Claims {
            cnf: Some(access_token::Confirmation { jkt: "t".into() }),
            ..c
        };
        let v = IntrospectionResponse::from_claims(bound).to_json().unwrap();
        assert_eq!(
            (&v["token_type"], &v["cnf"]),
            (&"DPoP".into(), &serde_json::json!({"jkt": "t"}))
        );
    }
}
