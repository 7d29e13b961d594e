//! `issuer`: the auth server's public base URL (RFC 8414 §2): an https URL
//! (http tolerated for local use) with no query, no fragment and no
//! credentials, kept exactly as written.
//!
//! It may have a path (`https://example.com/auth`): every route is then
//! served under that path ([`path`]). The path is written plainly so that
//! the one string is both what the router matches and what every produced
//! URL carries: segments of unreserved characters (RFC 3986 §2.3), no empty
//! segment, no `.` or `..`, and no trailing slash (`https://a.example/auth/`
//! would make `/auth/` and `/auth` two issuers for one set of routes, and
//! RFC 8414 §3.1's `/.well-known/oauth-authorization-server/auth/` an odd
//! location). A bare `https://a.example/` stays accepted: it has no path.

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
    plain_path(value)?;
    Ok(value.to_string())
}

/// The path of a validated issuer without a trailing slash: `""` for
/// `https://a.example` and `https://a.example/`, `/auth` for
/// `https://a.example/auth`. Routes are served under it and every URL the
/// server produces starts with it.
pub fn path(issuer: &str) -> &str {
    let rest = issuer.split_once("://").map_or("", |(_, r)| r);
    rest.find('/')
        .map_or("", |i| rest[i..].trim_end_matches('/'))
}

/// See the module comment: the path's rules, each with its own message.
fn plain_path(value: &str) -> Result<(), SettingsError> {
    let raw = value.split_once("://").map_or("", |(_, r)| r);
    let raw = raw.find('/').map_or("", |i| &raw[i..]);
    if raw.is_empty() || raw == "/" {
        return Ok(());
    }
    if raw.ends_with('/') {
        return Err(key_error(
            "issuer",
            format!(
                "must not end with a slash after its path: {value:?} (write {:?})",
                value.trim_end_matches('/')
            ),
        ));
    }
    for segment in raw[1..].split('/') {
        let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        if segment.is_empty()
            || segment == "."
            || segment == ".."
            || !segment.chars().all(unreserved)
        {
            return Err(key_error(
                "issuer",
                format!(
                    "has a path segment {segment:?} in {value:?}: \
                     use letters, digits, '-', '.', '_' or '~', no empty, '.' or '..' segment"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_exactly_as_written() {
        for v in [
            "https://a.example",
            "https://a.example/",
            "https://a.example/auth",
            "http://127.0.0.1:8080/tenant1/v2.0",
        ] {
            assert_eq!(validate(v).unwrap(), v);
        }
    }

    #[test]
    fn the_path_routes_are_served_under() {
        assert_eq!(path("https://a.example"), "");
        assert_eq!(path("https://a.example/"), "");
        assert_eq!(path("https://a.example:8443/auth"), "/auth");
        assert_eq!(path("http://127.0.0.1:1/t/v2"), "/t/v2");
    }

    #[test]
    fn a_path_is_plain_and_has_no_trailing_slash() {
        for (value, want) in [
            (
                "https://a.example/auth/",
                "`issuer` must not end with a slash after its path: \
                 \"https://a.example/auth/\" (write \"https://a.example/auth\")",
            ),
            ("https://a.example//auth", "path segment \"\""),
            ("https://a.example/a/../b", "path segment \"..\""),
            ("https://a.example/a/./b", "path segment \".\""),
            ("https://a.example/a%20b", "path segment \"a%20b\""),
            ("https://a.example/a b", "path segment \"a b\""),
        ] {
            let err = validate(value).unwrap_err().to_string();
            assert!(err.contains(want), "{value}: {err}");
        }
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
