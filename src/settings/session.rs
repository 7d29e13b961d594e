//! `[session]`: browser sessions of the sign-in and consent pages.

use serde::Deserialize;

use super::{SettingsError, key_error};

/// Browser sessions of the sign-in and consent pages.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionSettings {
    pub idle_timeout_secs: u64,
    pub absolute_timeout_secs: u64,
}

impl SessionSettings {
    pub(crate) fn validate(self) -> Result<Self, SettingsError> {
        if self.idle_timeout_secs < 60 {
            return Err(key_error(
                "session.idle_timeout_secs",
                "must be at least 60",
            ));
        }
        if self.absolute_timeout_secs < self.idle_timeout_secs {
            return Err(key_error(
                "session.absolute_timeout_secs",
                "must not be shorter than session.idle_timeout_secs",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(idle_timeout_secs: u64, absolute_timeout_secs: u64) -> SessionSettings {
        SessionSettings {
            idle_timeout_secs,
            absolute_timeout_secs,
        }
    }

    #[test]
    fn good_and_bad_timeouts() {
        assert!(session(60, 60).validate().is_ok());
        assert_eq!(
            session(59, 3600).validate().unwrap_err().to_string(),
            "configuration: `session.idle_timeout_secs` must be at least 60"
        );
        assert_eq!(
            session(3600, 3599).validate().unwrap_err().to_string(),
            "configuration: `session.absolute_timeout_secs` must not be shorter than \
             session.idle_timeout_secs"
        );
    }
}
