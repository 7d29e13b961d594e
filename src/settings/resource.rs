//! `[resource]`: the default resource (RFC 8707 / RFC 9728), the `aud` of
//! access tokens when a client names none.

use serde::Deserialize;

use super::SettingsError;
use super::url::http_url;

/// `[resource]` as written; `default` becomes `Settings::default_resource`.
#[derive(Deserialize)]
pub(crate) struct RawResource {
    default: String,
}

impl RawResource {
    /// The default resource, kept exactly as written.
    pub(crate) fn validate(self) -> Result<String, SettingsError> {
        http_url("resource.default", &self.default)?;
        Ok(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(default: &str) -> Result<String, SettingsError> {
        RawResource {
            default: default.into(),
        }
        .validate()
    }

    #[test]
    fn good_and_bad_default() {
        assert_eq!(
            resource("https://api.example.com").unwrap(),
            "https://api.example.com"
        );
        let err = resource("api.example.com").unwrap_err().to_string();
        assert!(
            err.starts_with("configuration: `resource.default` is not an absolute URL"),
            "{err}"
        );
    }
}
