//! The OAuth 2.1 surface.

pub mod authorize;
pub mod client;
pub mod connected_apps;
pub mod device;
pub mod dpop;
pub mod error;
pub mod introspect;
pub mod metadata;
pub mod oidc;
pub mod par;
pub mod params;
pub mod pkce;
pub mod redirect_uri;
pub mod register;
pub mod resource;
pub mod revoke;
pub mod revoked_tokens;
pub mod token;

/// The OpenAPI tag of the token, revocation and introspection endpoints.
#[derive(poem_openapi::Tags)]
pub enum TokenTag {
    /// Tokens: issue (RFC 6749), revoke (RFC 7009), introspect (RFC 7662)
    Tokens,
}
