//! sea-orm entities. Timestamps are Unix seconds (`i64`) so that they compare
//! the same way on SQLite and Postgres.

pub mod client;
pub mod rate_limit;
pub mod revoked_access_token;
pub mod signing_key;
