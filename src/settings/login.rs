//! `[login]`: sign-in throttling per account and per client IP.

use serde::Deserialize;

use super::{SettingsError, key_error};

/// Sign-in throttling.
#[derive(Debug, Clone, Deserialize)]
pub struct LoginSettings {
    pub max_failures: u32,
    pub failure_window_secs: u64,
}

impl LoginSettings {
    pub(crate) fn validate(self) -> Result<Self, SettingsError> {
        if !(60..=3600).contains(&self.failure_window_secs) {
            return Err(key_error(
                "login.failure_window_secs",
                "must be between 60 and 3600",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(failure_window_secs: u64) -> LoginSettings {
        LoginSettings {
            max_failures: 5,
            failure_window_secs,
        }
    }

    #[test]
    fn good_and_bad_window() {
        assert!(login(60).validate().is_ok());
        assert!(login(3600).validate().is_ok());
        for bad in [59, 3601] {
            assert_eq!(
                login(bad).validate().unwrap_err().to_string(),
                "configuration: `login.failure_window_secs` must be between 60 and 3600"
            );
        }
    }
}
