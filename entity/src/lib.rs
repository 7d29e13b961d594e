//! sea-orm entities. Timestamps are Unix seconds (`i64`) so that they compare
//! the same way on SQLite and Postgres.

pub mod agency;
pub mod api_key;
pub mod audit_event;
pub mod authorization_code;
pub mod client;
pub mod client_assertion_jti;
pub mod client_metadata_document;
pub mod consent;
pub mod consent_decision;
pub mod device_authorization;
pub mod dpop_nonce_secret;
pub mod dpop_proof_jti;
pub mod membership;
pub mod mfa_challenge;
pub mod passkey;
pub mod pending_authorization;
pub mod rate_limit;
pub mod recovery_code;
pub mod refresh_family;
pub mod refresh_token;
pub mod revoked_access_token;
pub mod session;
pub mod signing_key;
pub mod user;
pub mod user_totp;
pub mod webauthn_ceremony;
