//! HTTP plumbing shared by every route.

pub mod basic;
pub mod bearer;
pub mod cors;
pub mod form_body;
pub mod issuer_path;
pub mod json_body;
pub mod json_bytes;
pub mod metrics;
pub mod no_store;
pub mod request_log;
pub mod shutdown;
