//! Redirect URIs: what may be registered, and how a presented URI matches a
//! registered one at authorize time. Pure functions, no I/O.
//!
//! Registration (RFC 8252, OAuth 2.1 §2.3):
//! - `https` URIs with a host;
//! - `http` only on a loopback host (`127.0.0.1`, `[::1]`, `localhost`), for
//!   native apps listening on an ephemeral port (RFC 8252 §7.3);
//! - private-use schemes in reverse-domain form, e.g. `com.example.app:/cb`
//!   (RFC 8252 §7.1);
//! - always absolute, no fragment, no user info, no whitespace or control
//!   characters (the `url` crate silently strips some of those, and the
//!   stored string must be exactly what the client will send), no
//!   backslash (browsers read it as `/`, RFC 3986 does not).
//!
//! Matching is exact string equality, except that the port of a loopback
//! `http` URI is ignored (RFC 8252 §7.3).

/// Longest redirect URI accepted at registration.
pub const MAX_LEN: usize = 2000;

/// Loopback host names as they appear in the authority of an http URI.
const LOOPBACK_HOSTS: &[&str] = &["127.0.0.1", "[::1]", "localhost"];

/// Whether `host`, as written in a URI's authority (an IPv6 address in
/// brackets, as [`url::Url::host_str`] gives it), is a loopback host of
/// RFC 8252 §7.3: `127.0.0.1`, `[::1]` or `localhost`, in exactly these
/// spellings. The one loopback rule of the server: redirect URIs, the URLs
/// shown to people at registration, the consent page and metadata
/// document URLs (test switch) all ask here.
pub fn is_loopback(host: &str) -> bool {
    LOOPBACK_HOSTS.contains(&host)
}

/// Schemes never acceptable as a redirect target, whatever their form.
const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "file", "vbscript", "blob", "about"];

/// Why a redirect URI cannot be registered (a phrase for `error_description`).
pub fn validate(uri: &str) -> Result<(), String> {
    if uri.is_empty() {
        return Err("is empty".into());
    }
    if uri.chars().count() > MAX_LEN {
        return Err(format!("is longer than {MAX_LEN} characters"));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or control characters".into());
    }
    // WHATWG URL parsers read `\` as `/` in http(s) URIs, RFC 3986 does
    // not: `https://evil.example\@app.example/` names two different hosts.
    if uri.contains('\\') {
        return Err("must not contain a backslash".into());
    }
    if uri.contains('#') {
        return Err("must not contain a fragment".into());
    }
    let parsed = url::Url::parse(uri).map_err(|e| format!("is not an absolute URI ({e})"))?;
    let scheme = parsed.scheme();
    if FORBIDDEN_SCHEMES.contains(&scheme) {
        return Err(format!("uses the forbidden scheme {scheme}:"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not contain user information".into());
    }
    match scheme {
        "https" => {
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err("has no host".into());
            }
            Ok(())
        }
        "http" => match parsed.host_str() {
            // The text must already be canonical (no `127.1`, no upper case):
            // matching at authorize time compares strings.
            Some(h) if is_loopback(h) && uri.starts_with(&format!("http://{h}")) => Ok(()),
            _ => Err(
                "uses http, which is allowed only on a loopback host written as \
                      127.0.0.1, [::1] or localhost (use https)"
                    .into(),
            ),
        },
        other if is_reverse_domain(other) => Ok(()),
        other => Err(format!(
            "uses the scheme {other}: (allowed: https, http on a loopback host, or a \
             private-use scheme in reverse-domain form such as com.example.app:/callback)"
        )),
    }
}

/// `com.example.app`: at least two non-empty dot-separated labels.
fn is_reverse_domain(scheme: &str) -> bool {
    let labels: Vec<&str> = scheme.split('.').collect();
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// Whether `presented` (from an authorization request) designates the
/// `registered` redirect URI.
pub fn matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    match (split_loopback(registered), split_loopback(presented)) {
        (Some((host_a, _, rest_a)), Some((host_b, _, rest_b))) => {
            host_a == host_b && rest_a == rest_b
        }
        _ => false,
    }
}

/// `http://HOST[:PORT]REST` with a loopback HOST → (HOST, PORT, REST).
/// Textual on purpose: only the port may differ, nothing gets normalised.
fn split_loopback(uri: &str) -> Option<(&str, Option<u16>, &str)> {
    let after = uri.strip_prefix("http://")?;
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let host = LOOPBACK_HOSTS.iter().find(|h| authority.starts_with(**h))?;
    let port = match &authority[host.len()..] {
        "" => None,
        p => {
            let digits = p.strip_prefix(':')?;
            if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            Some(digits.parse::<u16>().ok().filter(|p| *p != 0)?)
        }
    };
    Some((host, port, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_https_loopback_and_private_use() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?tenant=1",
            "https://app.example.com:8443/cb",
            "http://127.0.0.1/cb",
            "http://127.0.0.1:49152/cb",
            "http://[::1]:8080/callback",
            "http://localhost:3000/oauth/callback",
            "com.example.app:/oauth2redirect",
            "com.example.app://callback",
            "io.skedcast.desktop-app:/cb",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_dangerous_or_malformed() {
        for (bad, why) in [
            ("", "empty"),
            ("/callback", "absolute"),
            ("app.example.com/cb", "absolute"),
            ("https://app.example.com/cb#frag", "fragment"),
            ("https://app.example.com/cb#", "fragment"),
            ("http://app.example.com/cb", "only on a loopback host"),
            ("http://127.0.0.2/cb", "only on a loopback host"),
            ("http://127.1/cb", "only on a loopback host"),
            ("HTTP://127.0.0.1/cb", "only on a loopback host"),
            ("http://localhost.evil.com/cb", "only on a loopback host"),
            ("javascript:alert(1)", "forbidden"),
            ("data:text/html,hi", "forbidden"),
            ("file:///etc/passwd", "forbidden"),
            ("myapp:/cb", "scheme myapp"),
            ("ftp://example.com/cb", "scheme ftp"),
            ("https://user:pw@app.example.com/cb", "user information"),
            ("https://app.example.com/c b", "whitespace"),
            ("https://app.example.com/cb\n", "whitespace"),
            ("https://evil.example\\@app.example.com/cb", "backslash"),
            ("http://127.0.0.1\\@evil.example/cb", "backslash"),
            ("com.example.app:/cb\\x", "backslash"),
            (" https://app.example.com/cb", "whitespace"),
            ("https://app.example.com/\u{7}", "control"),
        ] {
            let err = validate(bad).expect_err(bad);
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        let long = format!("https://a.example/{}", "x".repeat(MAX_LEN));
        assert!(validate(&long).unwrap_err().contains("longer than"));
    }

    #[test]
    fn loopback_hosts() {
        for h in ["127.0.0.1", "[::1]", "localhost"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "127.0.0.2",
            "::1",
            "[0:0:0:0:0:0:0:1]",
            "LOCALHOST",
            "localhost.",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
        // As the url crate writes hosts.
        let host = |u: &str| url::Url::parse(u).unwrap().host_str().unwrap().to_string();
        assert!(is_loopback(&host("http://[::1]:8080/cb")));
        assert!(is_loopback(&host("http://LOCALHOST/cb")));
        assert!(!is_loopback(&host("http://127.0.0.2/cb")));
    }

    #[test]
    fn matching_is_exact() {
        let r = "https://app.example.com/cb";
        assert!(matches(r, r));
        for other in [
            "https://app.example.com/cb/",
            "https://app.example.com/CB",
            "https://APP.example.com/cb",
            "https://app.example.com/cb?x=1",
            "https://app.example.com:443/cb",
            "http://app.example.com/cb",
            "com.example.app:/cb",
        ] {
            assert!(!matches(r, other), "{other}");
        }
        assert!(matches("com.example.app:/cb", "com.example.app:/cb"));
        assert!(!matches("com.example.app:/cb", "com.example.app:/cb2"));
    }

    #[test]
    fn loopback_port_is_ignored_and_nothing_else() {
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"));
        assert!(matches(
            "http://127.0.0.1:8080/cb",
            "http://127.0.0.1:9090/cb"
        ));
        assert!(matches(
            "http://[::1]:1/cb?a=b",
            "http://[::1]:65535/cb?a=b"
        ));
        assert!(matches("http://localhost/", "http://localhost:3000/"));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:51234/cb2"
        ));
        assert!(!matches("http://127.0.0.1/cb", "http://localhost:51234/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:0/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:99999/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:80x/cb"));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1.evil.com/cb"
        ));
        assert!(!matches("http://127.0.0.1/cb", "https://127.0.0.1:443/cb"));
        // Not loopback: the port matters.
        assert!(!matches(
            "https://a.example/cb",
            "https://a.example:8443/cb"
        ));
    }
}
