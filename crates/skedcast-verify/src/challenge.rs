//! The `WWW-Authenticate` challenges of a refused request: `Bearer` (RFC
//! 6750 §3, RFC 9728 §5.1), one format for every refusal of a route, and
//! beside it `DPoP` (RFC 9449 §7.1) with the accepted proof algorithms.

/// What a refusal tells the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The absolute URL of this resource's RFC 9728 metadata.
    pub resource_metadata: &'a str,
    /// The scope(s) the route needs, space separated (RFC 6750 §3). An MCP
    /// client asks the authorization server for these, not for every scope
    /// of `scopes_supported`, so every challenge of a route names them.
    pub scope: &'a str,
    /// The RFC 6750 §3.1 error code; none when no credential was sent.
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
}

impl Challenge<'_> {
    /// The header value:
    /// `Bearer resource_metadata="...", scope="...", error="...", error_description="..."`.
    pub fn header_value(&self) -> String {
        let mut v = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\"",
            quotable(self.resource_metadata),
            quotable(self.scope)
        );
        if let Some(e) = self.error {
            v.push_str(&format!(", error=\"{}\"", quotable(e)));
        }
        if let Some(d) = self.error_description {
            v.push_str(&format!(", error_description=\"{}\"", quotable(d)));
        }
        v
    }
}

/// The `DPoP` challenge (RFC 9449 §7.1): `DPoP algs="ES256 RS256 PS256"`,
/// with `error` and `error_description` when the DPoP request failed.
pub fn dpop_challenge(error: Option<&str>, error_description: Option<&str>) -> String {
    let mut v = format!("DPoP algs=\"{}\"", crate::dpop::ALGS.join(" "));
    if let Some(e) = error {
        v.push_str(&format!(", error=\"{}\"", quotable(e)));
    }
    if let Some(d) = error_description {
        v.push_str(&format!(", error_description=\"{}\"", quotable(d)));
    }
    v
}

/// RFC 6750 §3: attribute values are printable ASCII without `"` and `\`;
/// anything else is dropped rather than breaking the header.
fn quotable(s: &str) -> String {
    s.chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_challenge_names_the_scope() {
        let c = Challenge {
            resource_metadata: "https://api.example/.well-known/oauth-protected-resource",
            scope: "agency:read",
            error: None,
            error_description: None,
        };
        assert_eq!(
            c.header_value(),
            "Bearer resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\", scope=\"agency:read\""
        );
        let c = Challenge {
            error: Some("invalid_token"),
            error_description: Some("the \"token\" has expired\u{e9}"),
            scope: "posts:read posts:write",
            ..c
        };
        assert!(c.header_value().ends_with(
            "scope=\"posts:read posts:write\", error=\"invalid_token\", error_description=\"the token has expired\""
        ));
    }
}
