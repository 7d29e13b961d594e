//! The OAuth 2.1 surface.

pub mod authorize;
pub mod client;
pub mod error;
pub mod introspect;
pub mod metadata;
pub mod params;
pub mod pkce;
pub mod redirect_uri;
pub mod register;
pub mod resource;
pub mod revoke;
pub mod revoked_tokens;
pub mod token;

// The client's items at their paths before `client/` (issue 12), so that
// branches written against them still build once merged. Remove when
// nothing uses them.
#[doc(hidden)]
pub mod clients {
    pub use super::client::model::{ClientRecord, list};
    pub use super::client::store::*;
}
#[doc(hidden)]
pub use client::authentication as client_auth;
#[doc(hidden)]
pub use client::cache as client_cache;
#[doc(hidden)]
pub use client::metadata_document as cimd;

/// The OpenAPI tag of the token, revocation and introspection endpoints.
#[derive(poem_openapi::Tags)]
pub enum TokenTag {
    /// Tokens: issue (RFC 6749), revoke (RFC 7009), introspect (RFC 7662)
    Tokens,
}
