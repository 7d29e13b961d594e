//! RFC 8414 authorization server metadata: derived from the issuer, built
//! once at start. Only endpoints and values that exist are advertised.
//!
//! The same document answers OpenID Connect Discovery 1.0 (issue 16): it
//! carries every field Discovery §3 requires (`subject_types_supported`,
//! `id_token_signing_alg_values_supported` with RS256, ...) and those it
//! recommends for what we serve; RFC 8414 §2 admits these fields, so a
//! plain OAuth client reads the document as before.

use poem_openapi::Object;
use poem_openapi::types::ToJSON;

use crate::oauth::client::{AuthMethod, GrantType};
use crate::settings::Settings;

/// RFC 8414 §2 authorization server metadata.
#[derive(Object, Debug, Clone)]
pub struct ServerMetadata {
    /// The issuer identifier, exactly as configured.
    pub issuer: String,
    /// Where the ES256 public keys are published.
    pub jwks_uri: String,
    /// RFC 7591 Dynamic Client Registration.
    pub registration_endpoint: String,
    /// The authorization endpoint (authorization code flow with PKCE S256).
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `private_key_jwt` assertion algorithms (RFC 8414 §2).
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// The grants the token endpoint serves.
    pub grant_types_supported: Vec<String>,
    /// RFC 7009 token revocation.
    pub revocation_endpoint: String,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// RFC 7662 token introspection (resource servers only).
    pub introspection_endpoint: String,
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub response_modes_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
    /// RFC 9207: authorization responses carry `iss`.
    pub authorization_response_iss_parameter_supported: bool,
    /// A `client_id` may be the https URL of a Client ID Metadata Document
    /// (draft-ietf-oauth-client-id-metadata-document).
    pub client_id_metadata_document_supported: bool,
    /// RFC 9126 pushed authorization requests (client authentication as at
    /// the token endpoint).
    pub pushed_authorization_request_endpoint: String,
    /// RFC 9126 §5: every client must push its authorization requests.
    pub require_pushed_authorization_requests: bool,
    /// RFC 8628 device authorization (client authentication as at the
    /// token endpoint).
    pub device_authorization_endpoint: String,
    /// OpenID Connect Core §5.3.
    pub userinfo_endpoint: String,
    /// OpenID Connect RP-Initiated Logout 1.0.
    pub end_session_endpoint: String,
    /// OpenID Connect Discovery §3: `public` (the user id for every client).
    pub subject_types_supported: Vec<String>,
    /// ES256 (the default) and RS256 (registered per client).
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub claims_supported: Vec<String>,
    /// `none`, `login`, `consent`, `select_account`.
    pub prompt_values_supported: Vec<String>,
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    /// Request objects by reference (OpenID Connect Core §6.2) are not
    /// served; RFC 9126 `request_uri`s are.
    pub request_uri_parameter_supported: bool,
    /// RFC 9449 §5.1: the algorithms of DPoP proofs.
    pub dpop_signing_alg_values_supported: Vec<String>,
}

/// Client authentication at the token and revocation endpoints: every
/// method; at introspection only the confidential ones.
fn auth_methods(confidential_only: bool) -> Vec<String> {
    AuthMethod::ALL
        .into_iter()
        .filter(|m| !confidential_only || m.is_confidential())
        .map(|m| m.as_str().to_string())
        .collect()
}

/// `private_key_jwt` assertion algorithms.
fn signing_algs() -> Vec<String> {
    crate::oauth::client::assertion::ALGS
        .into_iter()
        .map(str::to_string)
        .collect()
}

pub fn build(settings: &Settings) -> ServerMetadata {
    ServerMetadata {
        issuer: settings.issuer.clone(),
        jwks_uri: settings.endpoint("/.well-known/jwks.json"),
        registration_endpoint: settings.endpoint("/oauth/register"),
        authorization_endpoint: settings.endpoint("/oauth/authorize"),
        token_endpoint: settings.endpoint("/oauth/token"),
        token_endpoint_auth_methods_supported: auth_methods(false),
        token_endpoint_auth_signing_alg_values_supported: signing_algs(),
        grant_types_supported: GrantType::ALL
            .into_iter()
            .map(|g| g.as_str().to_string())
            .collect(),
        revocation_endpoint: settings.endpoint("/oauth/revoke"),
        revocation_endpoint_auth_methods_supported: auth_methods(false),
        revocation_endpoint_auth_signing_alg_values_supported: signing_algs(),
        introspection_endpoint: settings.endpoint("/oauth/introspect"),
        introspection_endpoint_auth_methods_supported: auth_methods(true),
        introspection_endpoint_auth_signing_alg_values_supported: signing_algs(),
        response_types_supported: vec!["code".into()],
        response_modes_supported: vec!["query".into()],
        code_challenge_methods_supported: vec!["S256".into()],
        scopes_supported: crate::scopes::supported(),
        authorization_response_iss_parameter_supported: true,
        client_id_metadata_document_supported: settings.cimd.enabled,
        pushed_authorization_request_endpoint: settings.endpoint("/oauth/par"),
        require_pushed_authorization_requests: settings
            .clients
            .require_pushed_authorization_requests,
        device_authorization_endpoint: settings.endpoint("/oauth/device_authorization"),
        userinfo_endpoint: settings.endpoint("/oauth/userinfo"),
        end_session_endpoint: settings.endpoint(crate::oauth::oidc::logout::PATH),
        subject_types_supported: vec!["public".into()],
        id_token_signing_alg_values_supported: crate::oauth::client::model::ID_TOKEN_ALGS
            .into_iter()
            .map(str::to_string)
            .collect(),
        claims_supported: crate::oauth::oidc::claims::SUPPORTED
            .iter()
            .map(|c| c.to_string())
            .collect(),
        prompt_values_supported: ["none", "login", "consent", "select_account"]
            .into_iter()
            .map(str::to_string)
            .collect(),
        claims_parameter_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        dpop_signing_alg_values_supported: skedcast_verify::dpop::ALGS
            .into_iter()
            .map(str::to_string)
            .collect(),
    }
}

/// The document as bytes, served as is.
pub fn to_bytes(meta: &ServerMetadata) -> Vec<u8> {
    meta.to_json()
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_default()
}
