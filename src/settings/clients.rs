//! `[clients]`: each instance's cache of client records.

use serde::Deserialize;

use super::SettingsError;

#[derive(Debug, Clone, Deserialize)]
pub struct ClientSettings {
    /// Seconds a client record stays in each instance's cache; 0 disables it.
    pub cache_ttl_secs: u64,
    /// Seconds a pushed authorization request's `request_uri` is valid
    /// (RFC 9126 `expires_in`), 1 to 600.
    pub request_uri_ttl_secs: u64,
    /// Every client must push its authorization requests (RFC 9126 §5).
    pub require_pushed_authorization_requests: bool,
    /// Seconds a device authorization (RFC 8628 `expires_in`) waits for the
    /// member, 60 to 3600.
    pub device_code_ttl_secs: u64,
    /// New pending authorization requests one address may store per
    /// minute (at least 1).
    pub pending_requests_per_minute_per_ip: u32,
}

impl ClientSettings {
    /// Every `u64` is acceptable (0 disables the cache); a value that is not
    /// one is refused while loading, naming `clients.cache_ttl_secs`.
    pub(crate) fn validate(self) -> Result<Self, SettingsError> {
        if !(1..=600).contains(&self.request_uri_ttl_secs) {
            return Err(super::key_error(
                "clients.request_uri_ttl_secs",
                "must be between 1 and 600",
            ));
        }
        if !(60..=3600).contains(&self.device_code_ttl_secs) {
            return Err(super::key_error(
                "clients.device_code_ttl_secs",
                "must be between 60 and 3600",
            ));
        }
        if self.pending_requests_per_minute_per_ip == 0 {
            return Err(super::key_error(
                "clients.pending_requests_per_minute_per_ip",
                "must be at least 1",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::load;

    #[test]
    fn good_and_bad_cache_ttl() {
        let s = ClientSettings {
            cache_ttl_secs: 0,
            request_uri_ttl_secs: 60,
            require_pushed_authorization_requests: false,
            device_code_ttl_secs: 600,
            pending_requests_per_minute_per_ip: 60,
        }
        .validate()
        .unwrap();
        assert_eq!(s.cache_ttl_secs, 0);
        let err = load(&[("SKEDCAST__CLIENTS__CACHE_TTL_SECS", "-1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`clients.cache_ttl_secs`"), "{err}");
    }

    #[test]
    fn request_uri_lifetime_is_one_to_600_seconds() {
        for bad in ["0", "601"] {
            let err = load(&[("SKEDCAST__CLIENTS__REQUEST_URI_TTL_SECS", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("`clients.request_uri_ttl_secs`"), "{err}");
        }
        assert!(load(&[("SKEDCAST__CLIENTS__REQUEST_URI_TTL_SECS", "600")]).is_ok());
    }

    #[test]
    fn device_code_lifetime_is_60_to_3600_seconds() {
        assert_eq!(load(&[]).unwrap().clients.device_code_ttl_secs, 600);
        for bad in ["59", "3601"] {
            let err = load(&[("SKEDCAST__CLIENTS__DEVICE_CODE_TTL_SECS", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("`clients.device_code_ttl_secs`"), "{err}");
        }
    }
}
