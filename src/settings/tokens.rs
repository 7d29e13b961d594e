//! `[tokens]`: lifetimes of access tokens and refresh-token families, and
//! the refresh reuse grace window.

use serde::Deserialize;

use super::{SettingsError, key_error};

#[derive(Debug, Clone, Deserialize)]
pub struct TokenSettings {
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub refresh_token_idle_ttl_secs: u64,
    /// Seconds after a refresh token's rotation during which the same client
    /// presenting it again gets new tokens instead of revoking the family
    /// (parallel agent sessions sharing one token). 0: no grace.
    pub refresh_reuse_grace_secs: u64,
    /// Lifetime of OpenID Connect id_tokens (short: a client checks one at
    /// sign-in). Default 5 minutes.
    #[serde(default = "default_id_token_ttl_secs")]
    pub id_token_ttl_secs: u64,
}

fn default_id_token_ttl_secs() -> u64 {
    300
}

/// The longest reuse grace window: every second of it is a second in which
/// a thief racing the client gets tokens too (RFC 9700 §4.14.2).
pub const MAX_REFRESH_REUSE_GRACE_SECS: u64 = 60;

impl TokenSettings {
    pub(crate) fn validate(self) -> Result<Self, SettingsError> {
        if self.access_token_ttl_secs == 0 {
            return Err(key_error(
                "tokens.access_token_ttl_secs",
                "must be at least 1",
            ));
        }
        if self.id_token_ttl_secs == 0 || self.id_token_ttl_secs > 86_400 {
            return Err(key_error(
                "tokens.id_token_ttl_secs",
                "must be between 1 and 86400",
            ));
        }
        if self.refresh_reuse_grace_secs > MAX_REFRESH_REUSE_GRACE_SECS {
            return Err(key_error(
                "tokens.refresh_reuse_grace_secs",
                format!("must be at most {MAX_REFRESH_REUSE_GRACE_SECS}"),
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(access_token_ttl_secs: u64) -> TokenSettings {
        TokenSettings {
            access_token_ttl_secs,
            refresh_token_ttl_secs: 2_592_000,
            refresh_token_idle_ttl_secs: 1_209_600,
            refresh_reuse_grace_secs: 0,
            id_token_ttl_secs: 300,
        }
    }

    #[test]
    fn good_and_bad_access_token_lifetime() {
        assert_eq!(tokens(1).validate().unwrap().access_token_ttl_secs, 1);
        assert_eq!(
            tokens(0).validate().unwrap_err().to_string(),
            "configuration: `tokens.access_token_ttl_secs` must be at least 1"
        );
    }

    #[test]
    fn reuse_grace_is_at_most_a_minute() {
        let with = |g| TokenSettings {
            refresh_reuse_grace_secs: g,
            ..tokens(900)
        };
        assert_eq!(with(60).validate().unwrap().refresh_reuse_grace_secs, 60);
        assert_eq!(
            with(61).validate().unwrap_err().to_string(),
            "configuration: `tokens.refresh_reuse_grace_secs` must be at most 60"
        );
    }
}
