//! The document URL policy (draft-ietf-oauth-client-id-metadata-document
//! §3): which `client_id`s name a metadata document, and which of those
//! may be fetched. Pure, no I/O.

use url::Url;

use super::unusable;
use crate::oauth::error::OAuthError;
use crate::oauth::redirect_uri::is_loopback;

/// Longest client id URL accepted.
pub const MAX_URL_LEN: usize = 2000;

/// Whether a `client_id` names a metadata document rather than a registered
/// client. Registered ids are base64url and never contain `:`.
pub fn is_document_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// The document URL of a client id (draft §3): a fetchable URL
/// ([`fetchable_url`]) with a path other than `/`.
pub fn parse_url(client_id: &str, allow_loopback: bool) -> Result<Url, OAuthError> {
    fetchable_url(client_id, allow_loopback, true)
        .map_err(|why| unusable(format!("the client_id URL {why}")))
}

/// A URL this server may fetch (a metadata document, or a client's
/// `jwks_uri`): https (plain http only on a loopback host when
/// `allow_loopback`), a host, no dot segments, no fragment, no user
/// information, and written in canonical form (what is fetched is exactly
/// what the client sent); with `need_path`, a path other than `/`. The
/// error completes "the URL ...".
pub fn fetchable_url(raw: &str, allow_loopback: bool, need_path: bool) -> Result<Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("is longer than {MAX_URL_LEN} bytes"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or control characters".into());
    }
    if raw.contains('#') {
        return Err("must not contain a fragment".into());
    }
    let Ok(url) = Url::parse(raw) else {
        return Err("is not an absolute URL".into());
    };
    let Some(host) = url.host_str() else {
        return Err("has no host".into());
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_loopback && is_loopback(host) => {}
        _ => return Err("must use https".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain user information".into());
    }
    let raw_path = raw
        .split_once("://")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("");
    let raw_path = raw_path.split('?').next().unwrap_or("");
    if raw_path.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".."
    }) {
        return Err("must not contain . or .. path segments".into());
    }
    if need_path && matches!(url.path(), "" | "/") {
        return Err("must have a path (e.g. https://app.example/oauth/client.json)".into());
    }
    if url.as_str() != raw {
        return Err(format!(
            "is not in canonical form (lower-case scheme and host, no default port, \
             percent-encoding where needed): expected {}",
            url.as_str()
        ));
    }
    Ok(url)
}

/// The host (and port, when not the default) of a document client id, shown
/// on the consent page: the one part of the client's identity it does not
/// assert about itself.
pub fn display_host(client_id: &str) -> Option<String> {
    let url = Url::parse(client_id).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://app.example/oauth/client.json";

    #[test]
    fn document_ids_are_urls() {
        assert!(is_document_id(URL));
        assert!(is_document_id("http://127.0.0.1:3000/c.json"));
        assert!(!is_document_id("Jx0bHc2zW5l1wzKxhd9n8w"));
        assert!(!is_document_id("urn:x"));
    }

    #[test]
    fn url_rules() {
        for ok in [
            URL,
            "https://app.example/c",
            "https://app.example:8443/c.json",
            "https://app.example/c.json?v=2",
            "https://[2606:4700::1111]/c",
        ] {
            assert!(parse_url(ok, false).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("http://app.example/c.json", "https"),
            ("https://app.example", "path"),
            ("https://app.example/", "path"),
            ("https://app.example/a/../c.json", ". or .."),
            ("https://app.example/a/./c.json", ". or .."),
            ("https://app.example/a/%2E%2E/c.json", ". or .."),
            ("https://app.example/c.json#x", "fragment"),
            ("https://u:p@app.example/c.json", "user information"),
            ("https://u@app.example/c.json", "user information"),
            ("https://APP.example/c.json", "canonical"),
            ("https://app.example:443/c.json", "canonical"),
            ("https://app.example/c d", "whitespace"),
            ("ftp://app.example/c", "https"),
        ] {
            let e = parse_url(bad, false).expect_err(bad).description;
            assert!(e.contains(why), "{bad}: {e}");
        }
        let long = format!("https://app.example/{}", "x".repeat(MAX_URL_LEN));
        assert!(parse_url(&long, false).is_err());
        // Plain http only on loopback, and only with the test switch.
        assert!(parse_url("http://127.0.0.1:8000/c.json", false).is_err());
        assert!(parse_url("http://127.0.0.1:8000/c.json", true).is_ok());
        assert!(parse_url("http://localhost:8000/c.json", true).is_ok());
        assert!(parse_url("http://[::1]:8000/c.json", true).is_ok());
        assert!(parse_url("http://app.example/c.json", true).is_err());
        // Loopback as RFC 8252 spells it, not any address in 127/8.
        assert!(parse_url("http://127.0.0.2:8000/c.json", true).is_err());
    }

    #[test]
    fn consent_host() {
        assert_eq!(display_host(URL).as_deref(), Some("app.example"));
        assert_eq!(
            display_host("http://127.0.0.1:4000/c.json").as_deref(),
            Some("127.0.0.1:4000")
        );
    }
}
