//! HTTP plumbing shared by every route.

pub mod bearer;
pub mod json_body;
pub mod json_bytes;
pub mod no_store;
pub mod request_log;
