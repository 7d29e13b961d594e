//! Rules for URL-valued keys shared by both services (the auth server's
//! `issuer` and `resource.default`; the resource service's `issuer`,
//! `resource` and `auth_server.internal_url`). Values are kept exactly as
//! written: clients compare issuers and resources byte for byte.

use super::{SettingsError, key_error};

/// An absolute http(s) URL with a host, parsed.
pub(crate) fn http_url(key: &str, value: &str) -> Result<url::Url, SettingsError> {
    let parsed = url::Url::parse(value)
        .map_err(|e| key_error(key, format!("is not an absolute URL: {value:?} ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(key_error(
            key,
            format!("must be an absolute http(s) URL with a host: {value:?}"),
        ));
    }
    Ok(parsed)
}

/// No user name or password in the URL (they would be published).
pub(crate) fn without_credentials(
    key: &str,
    value: &str,
    parsed: &url::Url,
) -> Result<(), SettingsError> {
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(key_error(
            key,
            format!("must not carry credentials: {value:?}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_url_wants_an_absolute_http_url_with_a_host() {
        assert!(http_url("k", "https://a.example/p?q=1").is_ok());
        assert_eq!(
            http_url("k", "a.example").unwrap_err().to_string(),
            "configuration: `k` is not an absolute URL: \"a.example\" \
             (relative URL without a base)"
        );
        assert_eq!(
            http_url("k", "ftp://a.example").unwrap_err().to_string(),
            "configuration: `k` must be an absolute http(s) URL with a host: \"ftp://a.example\""
        );
    }

    #[test]
    fn credentials_are_refused() {
        let ok = url::Url::parse("https://a.example").unwrap();
        assert!(without_credentials("k", "https://a.example", &ok).is_ok());
        let bad = url::Url::parse("https://u:p@a.example").unwrap();
        assert_eq!(
            without_credentials("k", "https://u:p@a.example", &bad)
                .unwrap_err()
                .to_string(),
            "configuration: `k` must not carry credentials: \"https://u:p@a.example\""
        );
    }
}
