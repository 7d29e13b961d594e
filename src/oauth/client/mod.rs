//! The OAuth client, in one place: what a client is ([`model`]: the record
//! and its vocabulary as typed enums), where it is kept ([`store`]: the
//! `clients` table; [`cache`]: a short-lived copy for the token endpoint),
//! how it proves who it is ([`authentication`], RFC 6749 §2.3), what
//! metadata it may declare ([`metadata`], RFC 7591 §2), clients named
//! by a Client ID Metadata Document ([`metadata_document`]), and machine
//! clients made by an operator ([`machine`]).
//!
//! The registration endpoints (RFC 7591/7592) are in
//! [`crate::oauth::register`]: they validate with [`metadata`] and store
//! with [`store`]; nothing here imports them.

pub mod assertion;
pub mod assertion_jti;
pub mod authentication;
pub mod cache;
pub mod jwks;
pub mod machine;
pub mod metadata;
pub mod metadata_document;
pub mod model;
pub mod store;

pub use model::{ApplicationType, AuthMethod, ClientKind, ClientMetadata, ClientRecord, GrantType};
