//! `[keys]`: the ES256 signing keys' encryption at rest, publication and
//! rotation timing.

use serde::Deserialize;

use super::{SettingsError, key_error};

#[derive(Clone)]
pub struct KeySettings {
    /// 32-byte key-encryption key for private signing keys at rest.
    pub encryption_key: Option<[u8; 32]>,
    pub jwks_max_age_secs: u64,
    pub activation_delay_secs: u64,
    pub refresh_interval_secs: u64,
    pub retirement_leeway_secs: u64,
}

impl std::fmt::Debug for KeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySettings")
            .field("encryption_key", &self.encryption_key.map(|_| "<redacted>"))
            .field("jwks_max_age_secs", &self.jwks_max_age_secs)
            .field("activation_delay_secs", &self.activation_delay_secs)
            .field("refresh_interval_secs", &self.refresh_interval_secs)
            .field("retirement_leeway_secs", &self.retirement_leeway_secs)
            .finish()
    }
}

/// `[keys]` as written: the key is base64url text (empty: none) and the
/// activation delay defaults to `jwks_max_age_secs`.
#[derive(Deserialize)]
pub(crate) struct RawKeys {
    encryption_key: String,
    jwks_max_age_secs: u64,
    activation_delay_secs: Option<u64>,
    refresh_interval_secs: u64,
    retirement_leeway_secs: u64,
}

impl RawKeys {
    pub(crate) fn validate(self) -> Result<KeySettings, SettingsError> {
        let encryption_key = match self.encryption_key.trim() {
            "" => None,
            b64 => Some(decode_kek(b64)?),
        };
        if self.refresh_interval_secs > self.jwks_max_age_secs {
            return Err(key_error(
                "keys.refresh_interval_secs",
                "must not exceed keys.jwks_max_age_secs",
            ));
        }
        Ok(KeySettings {
            encryption_key,
            jwks_max_age_secs: self.jwks_max_age_secs,
            activation_delay_secs: self.activation_delay_secs.unwrap_or(self.jwks_max_age_secs),
            refresh_interval_secs: self.refresh_interval_secs,
            retirement_leeway_secs: self.retirement_leeway_secs,
        })
    }
}

fn decode_kek(b64: &str) -> Result<[u8; 32], SettingsError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|_| key_error("keys.encryption_key", "is not base64url"))?;
    bytes
        .try_into()
        .map_err(|_| key_error("keys.encryption_key", "must decode to exactly 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(encryption_key: &str, refresh_interval_secs: u64) -> RawKeys {
        RawKeys {
            encryption_key: encryption_key.into(),
            jwks_max_age_secs: 300,
            activation_delay_secs: None,
            refresh_interval_secs,
            retirement_leeway_secs: 300,
        }
    }

    #[test]
    fn good_values() {
        let s = keys("", 30).validate().unwrap();
        assert!(s.encryption_key.is_none());
        assert_eq!(
            s.activation_delay_secs, 300,
            "defaults to jwks_max_age_secs"
        );
        let kek = "A".repeat(43);
        let s = keys(&kek, 300).validate().unwrap();
        assert_eq!(s.encryption_key, Some([0; 32]));
        assert!(!format!("{s:?}").contains(&kek), "redacted");
        let s = RawKeys {
            activation_delay_secs: Some(7),
            ..keys("", 30)
        };
        assert_eq!(s.validate().unwrap().activation_delay_secs, 7);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (raw, want) in [
            (
                keys("c2hvcnQ", 30),
                "`keys.encryption_key` must decode to exactly 32 bytes",
            ),
            (
                keys("not base64!", 30),
                "`keys.encryption_key` is not base64url",
            ),
            (
                keys("", 301),
                "`keys.refresh_interval_secs` must not exceed keys.jwks_max_age_secs",
            ),
        ] {
            let err = raw.validate().unwrap_err().to_string();
            assert!(err.ends_with(want), "{err}");
        }
    }
}
