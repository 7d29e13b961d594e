//! `[metrics]`, shared by both services: the bearer token `GET /metrics`
//! requires; empty turns the endpoint off.

use serde::Deserialize;

use super::SettingsError;

/// `[metrics]` as written; the token is trimmed of the stray whitespace a
/// secret file or variable may carry.
#[derive(Deserialize)]
pub(crate) struct RawMetrics {
    token: String,
}

impl RawMetrics {
    /// The token, trimmed; every string is acceptable.
    pub(crate) fn validate(self) -> Result<String, SettingsError> {
        Ok(self.token.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_trimmed_and_empty_means_off() {
        let token = |t: &str| RawMetrics { token: t.into() }.validate().unwrap();
        assert_eq!(token(" s3cret\n"), "s3cret");
        assert_eq!(token("  "), "");
    }
}
