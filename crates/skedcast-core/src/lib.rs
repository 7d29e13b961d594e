//! What the SkedCast authorization server and the verifier its resource
//! servers embed (`skedcast-verify`) must agree on, in one place:
//!
//! - [`scopes`]: the `scope` syntax of RFC 6749 §3.3 as one type, [`Scopes`];
//! - [`role`]: the contract's role → scopes table;
//! - [`api_key`]: the API-key format (`sked_live_` + base62 + checksum);
//! - [`claims`]: the access-token claims (RFC 9068) a verifier reads;
//! - [`bearer`]: the `Authorization: Bearer` syntax (RFC 6750 §2.1).
//!
//! No I/O, no database, no framework: serde and a CRC32 only.

pub mod api_key;
pub mod bearer;
pub mod claims;
pub mod role;
pub mod scopes;

pub use role::Role;
pub use scopes::{ScopeError, Scopes};
