//! The `Authorization: Bearer <token>` syntax (RFC 6750 §2.1): the scheme
//! case-insensitive, the token a `b64token`.

/// The token of `Bearer <token>`, if well formed.
pub fn parse(header: Option<&str>) -> Option<&str> {
    parse_scheme(header, "bearer")
}

/// The token of `<scheme> <token>` (e.g. `DPoP`, RFC 9449 §7.1, same
/// syntax), if well formed; `scheme` in lowercase.
pub fn parse_scheme<'a>(header: Option<&'a str>, scheme: &str) -> Option<&'a str> {
    let (sent, token) = header?.trim().split_once(' ')?;
    let token = token.trim_start_matches(' ');
    let b64token = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
    (sent.eq_ignore_ascii_case(scheme) && !token.is_empty() && token.bytes().all(b64token))
        .then_some(token)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn bearer_parsing() {
        assert_eq!(parse(Some("Bearer abc-_.~+/=")), Some("abc-_.~+/="));
        assert_eq!(parse(Some("bearer abc")), Some("abc"));
        assert_eq!(parse(Some("BEARER  abc")), Some("abc"));
        for bad in [
            "Basic YTpi",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearerabc",
            "Bearer a\"b",
            "",
        ] {
            assert_eq!(parse(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(parse(None), None);
    }
}
