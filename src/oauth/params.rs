//! Request parameters of the form-encoded OAuth endpoints (token,
//! revocation, introspection), parsed once and checked against
//! RFC 6749 §3.1/§3.2: a parameter sent without a value counts as omitted,
//! and a parameter sent twice is an `invalid_request`. The only exception is
//! `resource`, which RFC 8707 §2 allows to repeat.

use poem::http::StatusCode;
use std::borrow::Cow;

use crate::http::form_body::FormBody;
use crate::http::json_body::BodyProblem;
use crate::oauth::error::OAuthError;

/// Largest accepted form body: OAuth requests are a few hundred bytes.
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// More parameters than this is not an OAuth request.
pub const MAX_PARAMS: usize = 64;
/// Parameters that may appear more than once.
const REPEATABLE: &[&str] = &["resource"];

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params {
    /// In request order; names unique except for [`REPEATABLE`] ones.
    pairs: Vec<(String, String)>,
}

impl Params {
    /// The value of `name`; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every pair, in request order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Every non-empty value of a repeatable parameter.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// Parse a form body (`application/x-www-form-urlencoded`).
pub fn parse(body: &[u8]) -> Result<Params, OAuthError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if pairs.len() == MAX_PARAMS {
            return Err(OAuthError::invalid_request(format!(
                "too many parameters (at most {MAX_PARAMS})"
            )));
        }
        if !REPEATABLE.contains(&k.as_ref()) && pairs.iter().any(|(seen, _)| *seen == k) {
            return Err(OAuthError::invalid_request(format!(
                "the parameter {} is repeated; send each parameter once (RFC 6749 §3.2)",
                quote(&k)
            )));
        }
        pairs.push((k.into_owned(), v.into_owned()));
    }
    Ok(Params { pairs })
}

/// The parameters of a request body, or the `invalid_request` that says why
/// there are none.
pub fn from_body<T, const LIMIT: usize>(body: FormBody<T, LIMIT>) -> Result<Params, OAuthError> {
    match body.bytes {
        Ok(bytes) => parse(&bytes),
        Err(BodyProblem::UnsupportedMediaType(ct)) => Err(OAuthError::invalid_request(match ct {
            Some(ct) => format!(
                "the request body must be application/x-www-form-urlencoded, not {}",
                quote(&ct)
            ),
            None => "the request body must be application/x-www-form-urlencoded (no \
                     Content-Type was sent)"
                .to_string(),
        })),
        Err(BodyProblem::TooLarge(limit)) => Err(OAuthError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..OAuthError::invalid_request(format!("the request body exceeds {limit} bytes"))
        }),
        Err(BodyProblem::Unreadable) => Err(OAuthError::invalid_request(
            "the request body could not be read",
        )),
    }
}

/// A client-supplied value quoted in an error description: escaped and cut
/// short.
pub fn quote(s: &str) -> String {
    const MAX: usize = 100;
    let s: Cow<str> = if s.chars().count() <= MAX {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().take(MAX).collect::<String>() + "…")
    };
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;

    #[test]
    fn values_are_form_decoded_and_empty_means_absent() {
        let p = parse(b"grant_type=client_credentials&scope=a%3Aread+b&client_id=&x=1").unwrap();
        assert_eq!(p.get("grant_type"), Some("client_credentials"));
        assert_eq!(p.get("scope"), Some("a:read b"));
        assert_eq!(p.get("client_id"), None);
        assert_eq!(p.get("missing"), None);
        assert_eq!(parse(b"").unwrap(), Params::default());
    }

    #[test]
    fn repeated_parameters_are_refused_except_resource() {
        let e = parse(b"scope=a&grant_type=x&scope=b").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.description.contains("'scope' is repeated"), "{e}");
        // Repeated even when one is empty.
        assert!(parse(b"scope=&scope=b").is_err());
        let p = parse(b"resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb&resource=").unwrap();
        assert_eq!(
            p.all("resource").collect::<Vec<_>>(),
            ["https://a", "https://b"]
        );
    }

    #[test]
    fn parameter_count_is_bounded() {
        let body: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        let e = parse(body.join("&").as_bytes()).unwrap_err();
        assert!(e.description.contains("too many parameters"));
    }

    #[test]
    fn quoting_is_escaped_and_short() {
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(quote(&"x".repeat(500)).chars().count(), 100 + 3);
    }
}
