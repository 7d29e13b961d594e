//! The integration tests: one binary (linking the crate once instead of
//! once per file), a module per feature, the shared harness in `support`.
//! Every test runs against a real server on a real database (SQLite, or
//! Postgres with `SKEDCAST_TEST_DATABASE=postgres`); what a test needs
//! beyond Rust (Chromium, the MCP SDK venv, a started Postgres) is
//! provisioned by `support::provision`.

mod support;

mod accounts;
mod agents;
mod api_keys;
mod audit;
mod authorize;
mod browser;
mod client_credentials;
mod code;
mod cors;
mod device;
mod discovery;
mod dpop;
mod fuzz_regressions;
mod introspect;
mod metrics;
mod mfa;
mod oidc;
mod operations;
mod par;
mod passkeys;
mod path_issuer;
mod pending_request;
mod properties;
mod query_plans;
mod refresh;
mod registration;
mod reliability;
mod resource;
mod revoke;
mod sign_in;
mod signing_keys;
