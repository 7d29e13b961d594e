//! `issuer`: the auth server's public base URL (RFC 8414 §2): an https URL
//! (http tolerated for local use) with no query, no fragment and no
//! credentials, kept exactly as written.

use super::url::{http_url, without_credentials};
use super::{SettingsError, key_error};

/// The issuer as configured, or the one-line error naming `issuer`.
pub(crate) fn validate(value: &str) -> Result<String, SettingsError> {
    let parsed = http_url("issuer", value)?;
    if parsed.query().is_some() || value.contains('?') {
        return Err(key_error(
            "issuer",
            format!("must not have a query: {value:?}"),
        ));
    }
    if parsed.fragment().is_some() || value.contains('#') {
        return Err(key_error(
            "issuer",
            format!("must not have a fragment: {value:?}"),
        ));
    }
    without_credentials("issuer", value, &parsed)?;
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_exactly_as_written() {
        assert_eq!(
            validate("https://a.example/auth/").unwrap(),
            "https://a.example/auth/"
        );
    }

    #[test]
    fn query_fragment_and_credentials_are_refused() {
        for (value, want) in [
            ("auth.example.com", "`issuer` is not an absolute URL"),
            ("https://a.example/?x=1", "`issuer` must not have a query"),
            ("https://a.example/?", "`issuer` must not have a query"),
            ("https://a.example/#f", "`issuer` must not have a fragment"),
            (
                "https://u@a.example/",
                "`issuer` must not carry credentials",
            ),
        ] {
            let err = validate(value).unwrap_err().to_string();
            assert!(err.contains(want), "{value}: {err}");
        }
    }
}
