//! `[clients]`: each instance's cache of client records.

use serde::Deserialize;

use super::SettingsError;

#[derive(Debug, Clone, Deserialize)]
pub struct ClientSettings {
    /// Seconds a client record stays in each instance's cache; 0 disables it.
    pub cache_ttl_secs: u64,
}

impl ClientSettings {
    /// Every `u64` is acceptable (0 disables the cache); a value that is not
    /// one is refused while loading, naming `clients.cache_ttl_secs`.
    pub(crate) fn validate(self) -> Result<Self, SettingsError> {
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::tests::load;

    #[test]
    fn good_and_bad_cache_ttl() {
        let s = ClientSettings { cache_ttl_secs: 0 }.validate().unwrap();
        assert_eq!(s.cache_ttl_secs, 0);
        let err = load(&[("SKEDCAST__CLIENTS__CACHE_TTL_SECS", "-1")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`clients.cache_ttl_secs`"), "{err}");
    }
}
