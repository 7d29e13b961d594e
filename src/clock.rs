//! The one wall clock: Unix seconds, as every `*_at` column stores them.

/// Now, in Unix seconds (UTC).
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
