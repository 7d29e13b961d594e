//! The OAuth 2.1 surface.

pub mod clients;
pub mod metadata;
pub mod redirect_uri;
pub mod register;
