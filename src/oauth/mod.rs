//! The OAuth 2.1 surface.

pub mod metadata;
