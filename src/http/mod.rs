//! HTTP plumbing shared by every route.

pub mod json_bytes;
pub mod request_log;
