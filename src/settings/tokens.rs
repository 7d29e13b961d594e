//! `[tokens]`: lifetimes of access tokens and refresh-token families.

use serde::Deserialize;

use super::{SettingsError, key_error};

#[derive(Debug, Clone, Deserialize)]
pub struct TokenSettings {
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub refresh_token_idle_ttl_secs: u64,
}

impl TokenSettings {
    pub(crate) fn validate(self) -> Result<Self, SettingsError> {
        if self.access_token_ttl_secs == 0 {
            return Err(key_error(
                "tokens.access_token_ttl_secs",
                "must be at least 1",
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
}
