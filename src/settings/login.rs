//! `[login]`: sign-in throttling per client IP, per (account, client IP) and
//! per account, and the bound on sign-ins waiting for a password check.

use serde::Deserialize;

use super::{SettingsError, key_error};

/// Sign-in throttling.
#[derive(Debug, Clone, Deserialize)]
pub struct LoginSettings {
    /// Attempts per client IP, and per (account, client IP), in a window.
    pub max_failures: u32,
    /// Attempts per account from all addresses together in a window: a
    /// ceiling on guessing spread over many addresses, set well above
    /// `max_failures` so that one address cannot lock the owner out.
    pub max_account_failures: u32,
    pub failure_window_secs: u64,
    /// Sign-ins one instance lets wait for or run a password check at once;
    /// beyond it a sign-in is answered 429 without a hash.
    pub max_queued_checks: u32,
}

impl LoginSettings {
    pub(crate) fn validate(self) -> Result<Self, SettingsError> {
        if !(60..=3600).contains(&self.failure_window_secs) {
            return Err(key_error(
                "login.failure_window_secs",
                "must be between 60 and 3600",
            ));
        }
        // A ceiling below the per-address limit would make it the lockout
        // any address can trigger again.
        if self.max_account_failures != 0 && self.max_account_failures < self.max_failures {
            return Err(key_error(
                "login.max_account_failures",
                "must be 0 (no ceiling) or at least login.max_failures",
            ));
        }
        if !(1..=100_000).contains(&self.max_queued_checks) {
            return Err(key_error(
                "login.max_queued_checks",
                "must be between 1 and 100000",
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
            max_account_failures: 100,
            failure_window_secs,
            max_queued_checks: 64,
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

    #[test]
    fn ceiling_and_queue_bounds() {
        let with = |max_account_failures, max_queued_checks| LoginSettings {
            max_account_failures,
            max_queued_checks,
            ..login(900)
        };
        assert!(with(0, 1).validate().is_ok());
        assert!(with(5, 1).validate().is_ok());
        assert_eq!(
            with(4, 64).validate().unwrap_err().to_string(),
            "configuration: `login.max_account_failures` must be 0 (no ceiling) or at least login.max_failures"
        );
        assert_eq!(
            with(100, 0).validate().unwrap_err().to_string(),
            "configuration: `login.max_queued_checks` must be between 1 and 100000"
        );
    }
}
