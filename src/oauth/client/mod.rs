//! The OAuth client, in one place: what a client is ([`model`]: the record
//! and its vocabulary as typed enums), where it is kept ([`store`]: the
//! `clients` table; [`cache`]: a short-lived copy for the token endpoint),
//! how it proves who it is ([`authentication`], RFC 6749 §2.3), and clients
//! named by a Client ID Metadata Document ([`metadata_document`]).
//!
//! Registration (RFC 7591/7592) is in [`crate::oauth::register`]: it
//! validates metadata into a [`model::ClientMetadata`] and stores it here;
//! nothing here imports it.

pub mod authentication;
pub mod cache;
pub mod metadata_document;
pub mod model;
pub mod store;

pub use model::{ApplicationType, AuthMethod, ClientKind, ClientMetadata, ClientRecord, GrantType};
