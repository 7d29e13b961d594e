//! `[audit]`: how long the audit trail is kept.

use serde::Deserialize;

use super::{SettingsError, key_error};

#[derive(Debug, Clone, Deserialize)]
pub struct AuditSettings {
    /// Events older than this many days are pruned by housekeeping.
    pub retention_days: u32,
}

impl AuditSettings {
    pub(crate) fn validate(self) -> Result<Self, SettingsError> {
        if self.retention_days == 0 {
            return Err(key_error("audit.retention_days", "must be at least 1"));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_at_least_a_day() {
        let with = |retention_days| AuditSettings { retention_days }.validate();
        assert_eq!(with(365).unwrap().retention_days, 365);
        assert_eq!(
            with(0).unwrap_err().to_string(),
            "configuration: `audit.retention_days` must be at least 1"
        );
    }
}
