//! The OAuth 2.1 surface.

pub mod authorize;
pub mod clients;
pub mod metadata;
pub mod pkce;
pub mod redirect_uri;
pub mod register;
