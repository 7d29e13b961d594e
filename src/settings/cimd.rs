//! `[cimd]`: Client ID Metadata Documents (`client_id` = an https URL):
//! whether they are fetched, the fetch deadline, cache bounds and the
//! limits on fetching.

use serde::Deserialize;

use super::{SettingsError, key_error};

/// Client ID Metadata Documents (`client_id` = an https URL).
#[derive(Debug, Clone, Deserialize)]
pub struct CimdSettings {
    /// Whether URL client ids are fetched at all; off, document clients
    /// (stored ones included) are unknown everywhere.
    pub enabled: bool,
    /// Whole fetch (DNS, connect, TLS, headers, body) deadline.
    pub fetch_timeout_secs: u64,
    /// Bounds of the cache lifetime taken from the response's Cache-Control.
    pub min_cache_secs: u64,
    pub max_cache_secs: u64,
    /// TEST ONLY: loopback addresses and http://127.0.0.1 documents.
    pub allow_loopback: bool,
    /// Fetches one client address (IPv6: its /64) may cause per minute; 0:
    /// no limit. A request answered from a cache causes none.
    pub fetches_per_minute_per_ip: u32,
    /// Fetches from one document host per minute, whoever asks; 0: no limit.
    pub fetches_per_minute_per_host: u32,
    /// Seconds a document that could not be fetched or used is not fetched
    /// again (the same error is answered meanwhile).
    pub failure_cache_secs: u64,
}

impl CimdSettings {
    pub(crate) fn validate(self) -> Result<Self, SettingsError> {
        if !(1..=30).contains(&self.fetch_timeout_secs) {
            return Err(key_error(
                "cimd.fetch_timeout_secs",
                "must be between 1 and 30",
            ));
        }
        if self.max_cache_secs > 86_400 {
            return Err(key_error(
                "cimd.max_cache_secs",
                "must not exceed 86400 (24 hours)",
            ));
        }
        if self.failure_cache_secs > 3600 {
            return Err(key_error(
                "cimd.failure_cache_secs",
                "must not exceed 3600 (1 hour)",
            ));
        }
        if self.min_cache_secs > self.max_cache_secs {
            return Err(key_error(
                "cimd.min_cache_secs",
                "must not exceed cimd.max_cache_secs",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::load;

    fn cimd(fetch_timeout_secs: u64, min_cache_secs: u64, max_cache_secs: u64) -> CimdSettings {
        CimdSettings {
            enabled: true,
            fetch_timeout_secs,
            min_cache_secs,
            max_cache_secs,
            allow_loopback: false,
            fetches_per_minute_per_ip: 20,
            fetches_per_minute_per_host: 60,
            failure_cache_secs: 30,
        }
    }

    #[test]
    fn good_bounds() {
        assert!(cimd(1, 0, 0).validate().is_ok());
        assert!(cimd(30, 300, 86_400).validate().is_ok());
    }

    #[test]
    fn bad_bounds_name_their_key() {
        for (raw, want) in [
            (
                cimd(0, 300, 86_400),
                "`cimd.fetch_timeout_secs` must be between 1 and 30",
            ),
            (
                cimd(31, 300, 86_400),
                "`cimd.fetch_timeout_secs` must be between 1 and 30",
            ),
            (
                cimd(5, 300, 90_000),
                "`cimd.max_cache_secs` must not exceed 86400 (24 hours)",
            ),
            (
                CimdSettings {
                    failure_cache_secs: 3601,
                    ..cimd(5, 300, 86_400)
                },
                "`cimd.failure_cache_secs` must not exceed 3600 (1 hour)",
            ),
            (
                cimd(5, 86_401, 86_400),
                "`cimd.min_cache_secs` must not exceed cimd.max_cache_secs",
            ),
        ] {
            let err = raw.validate().unwrap_err().to_string();
            assert!(err.ends_with(want), "{err}");
        }
    }

    #[test]
    fn cimd_bounds_name_their_key() {
        for (k, v, want) in [
            (
                "SKEDCAST__CIMD__FETCH_TIMEOUT_SECS",
                "0",
                "`cimd.fetch_timeout_secs`",
            ),
            (
                "SKEDCAST__CIMD__MAX_CACHE_SECS",
                "90000",
                "`cimd.max_cache_secs`",
            ),
            (
                "SKEDCAST__CIMD__MIN_CACHE_SECS",
                "86401",
                "`cimd.min_cache_secs`",
            ),
        ] {
            let err = load(&[(k, v)]).unwrap_err().to_string();
            assert!(err.contains(want), "{k}={v}: {err}");
        }
    }
}
