//! The `scope` parameter (RFC 6749 §3.3) as one type, [`Scopes`], used by
//! every endpoint that reads or writes a scope string and by the verifier.
//!
//! ```text
//! scope       = scope-token *( SP scope-token )
//! scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
//! ```

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// A set of scope tokens (RFC 6749 §3.3).
///
/// Parsing follows the grammar above strictly:
/// - the empty string is the empty set (no scopes);
/// - only the space (`%x20`) separates tokens: a tab, a newline or any
///   other whitespace is not a separator but an illegal character, which
///   makes the whole string invalid (callers answer `invalid_scope`, or
///   `invalid_request`, as for any malformed scope). Two spaces in a row or
///   a leading or trailing space are tolerated as one separator: every
///   endpoint accepted them before this type, clients send them, and
///   reading them can never widen a grant;
/// - tokens are case-sensitive and made of `%x21 / %x23-5B / %x5D-7E`
///   (printable ASCII but `"` and `\`);
/// - a repeated token is **de-duplicated**, not rejected: §3.3 gives each
///   token one access range, so a repeat adds nothing, and every endpoint
///   already accepted repeats (authorization, token, registration, API
///   keys) before this type existed.
///
/// Order does not matter to meaning (§3.3): two sets are equal when they
/// hold the same tokens, in any order. It is kept for display, though:
/// [`Display`](fmt::Display) (and serde) write the tokens in the order they
/// first appeared, joined by single spaces, so a scope string the server
/// builds in the contract's order, or echoes back to a client, keeps it.
#[derive(Debug, Clone, Default)]
pub struct Scopes(Vec<String>);

/// Why a string is not a valid `scope` (RFC 6749 §3.3). Each has a fixed,
/// wire-safe description (no quote or backslash) for `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeError {
    /// An empty token given alone (a `scope` string's extra spaces are
    /// skipped, not refused).
    EmptyToken,
    /// A tab, newline or other whitespace than a single space.
    Whitespace,
    /// A character outside `%x21 / %x23-5B / %x5D-7E` (`"`, `\`, a
    /// control character, anything non-ASCII).
    IllegalCharacter,
}

impl ScopeError {
    pub fn description(self) -> &'static str {
        match self {
            ScopeError::EmptyToken => "a scope-token is never empty (RFC 6749 section 3.3)",
            ScopeError::Whitespace => {
                "scope-tokens are separated by single spaces: a tab or other whitespace is not \
                 a separator (RFC 6749 section 3.3)"
            }
            ScopeError::IllegalCharacter => {
                "a scope-token holds a character outside %x21 / %x23-5B / %x5D-7E \
                 (RFC 6749 section 3.3)"
            }
        }
    }
}

impl fmt::Display for ScopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for ScopeError {}

/// `%x21 / %x23-5B / %x5D-7E`.
fn is_token_byte(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// Why `token` is not one scope-token, if it is not.
fn check_token(token: &str) -> Result<(), ScopeError> {
    if token.is_empty() {
        return Err(ScopeError::EmptyToken);
    }
    match token.bytes().find(|&b| !is_token_byte(b)) {
        None => Ok(()),
        // Whitespace gets its own description: it is the likely mistake. A
        // space can only be here in a token given alone (parsing splits on
        // it), where it is just illegal.
        Some(b) if b != b' ' && (b.is_ascii_whitespace() || b == 0x0b) => {
            Err(ScopeError::Whitespace)
        }
        Some(_) => Err(ScopeError::IllegalCharacter),
    }
}

/// The tokens of a `scope` string, in order, without repeats, borrowed
/// from it: the one splitting rule, which [`Scopes::parse`] uses too (see
/// [`Scopes`] for the rules).
pub fn split(scope: &str) -> Result<Vec<&str>, ScopeError> {
    let mut out: Vec<&str> = Vec::new();
    let mut seen = HashSet::new();
    // Splitting on the space alone: any other whitespace stays inside a
    // token and fails its check. Empty pieces (doubled, leading or trailing
    // spaces) are skipped, as every endpoint always did.
    for t in scope.split(' ').filter(|t| !t.is_empty()) {
        check_token(t)?;
        if seen.insert(t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Whether `token` is one valid scope-token.
pub fn is_scope_token(token: &str) -> bool {
    check_token(token).is_ok()
}

impl Scopes {
    /// No scopes.
    pub fn new() -> Scopes {
        Scopes::default()
    }

    /// A `scope` string: see the type's documentation for the rules.
    pub fn parse(scope: &str) -> Result<Scopes, ScopeError> {
        Ok(Scopes(
            split(scope)?.into_iter().map(str::to_string).collect(),
        ))
    }

    /// A set of individual tokens, each checked (a token holding a space
    /// is refused: it would print as two).
    pub fn from_tokens<I, S>(tokens: I) -> Result<Scopes, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        // Repeats found by hash: a long hostile scope string stays linear.
        let mut seen = HashSet::new();
        for t in tokens {
            let t = t.as_ref();
            check_token(t)?;
            if seen.insert(t.to_string()) {
                out.push(t.to_string());
            }
        }
        Ok(Scopes(out))
    }

    /// Add one token; `Ok(false)` when it was already there.
    pub fn insert(&mut self, token: &str) -> Result<bool, ScopeError> {
        check_token(token)?;
        if self.contains(token) {
            return Ok(false);
        }
        self.0.push(token.to_string());
        Ok(true)
    }

    /// Exact, case-sensitive membership.
    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    /// The tokens, in the order they first appeared.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens in both sets, in this set's order.
    pub fn intersection(&self, other: &Scopes) -> Scopes {
        Scopes(
            self.0
                .iter()
                .filter(|t| other.contains(t))
                .cloned()
                .collect(),
        )
    }

    /// Whether every token here is also in `other`.
    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.iter().all(|t| other.contains(t))
    }

    /// Keep only the tokens `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.0.retain(|t| keep(t));
    }
}

/// Set equality: the same tokens, whatever their order.
impl PartialEq for Scopes {
    fn eq(&self, other: &Scopes) -> bool {
        self.len() == other.len() && self.is_subset(other)
    }
}

impl Eq for Scopes {}

impl fmt::Display for Scopes {
    /// The `scope` string: tokens in order, joined by single spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(t)?;
        }
        Ok(())
    }
}

impl FromStr for Scopes {
    type Err = ScopeError;

    fn from_str(s: &str) -> Result<Scopes, ScopeError> {
        Scopes::parse(s)
    }
}

impl TryFrom<&str> for Scopes {
    type Error = ScopeError;

    fn try_from(s: &str) -> Result<Scopes, ScopeError> {
        Scopes::parse(s)
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a str;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, String>, fn(&String) -> &str>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(String::as_str)
    }
}

/// Serialized as the `scope` string (space-separated), as on the wire.
impl serde::Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Read from a `scope` string with [`Scopes::parse`]: an invalid one is a
/// deserialization error.
impl<'de> serde::Deserialize<'de> for Scopes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Scopes, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scopes;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a space-separated scope string (RFC 6749 section 3.3)")
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Scopes, E> {
                Scopes::parse(s).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(s: &Scopes) -> Vec<&str> {
        s.iter().collect()
    }

    #[test]
    fn single_spaces_separate() {
        let s = Scopes::parse("posts:read agency:read").unwrap();
        assert_eq!(tokens(&s), ["posts:read", "agency:read"]);
        assert_eq!(s.len(), 2);
        let one = Scopes::parse("agency:read").unwrap();
        assert_eq!(tokens(&one), ["agency:read"]);
    }

    #[test]
    fn empty_string_is_no_scopes() {
        let s = Scopes::parse("").unwrap();
        assert!(s.is_empty());
        assert_eq!(s, Scopes::new());
        assert_eq!(s.to_string(), "");
    }

    #[test]
    fn tab_and_other_whitespace_are_not_separators() {
        for bad in [
            "a\tb", "a \tb", "\ta", "a\t", "a\nb", "a\rb", "a\x0bb", "a\x0cb", "\t",
        ] {
            assert_eq!(Scopes::parse(bad), Err(ScopeError::Whitespace), "{bad:?}");
        }
    }

    #[test]
    fn extra_spaces_are_one_separator() {
        for (loose, tight) in [
            (" ", ""),
            ("  ", ""),
            ("a  b", "a b"),
            (" a", "a"),
            ("a ", "a"),
            (" a b ", "a b"),
            ("a b  c", "a b c"),
        ] {
            assert_eq!(
                Scopes::parse(loose).unwrap().to_string(),
                tight,
                "{loose:?}"
            );
        }
    }

    #[test]
    fn only_scope_token_characters() {
        for bad in [
            "a\"b",
            "a\\b",
            "caf\u{e9}",
            "a\u{a0}b",
            "a\x00",
            "a\x7f",
            "\u{2003}",
        ] {
            assert_eq!(
                Scopes::parse(bad),
                Err(ScopeError::IllegalCharacter),
                "{bad:?}"
            );
        }
        // The edges of the allowed ranges: %x21, %x23, %x5B, %x5D, %x7E.
        let edges = Scopes::parse("! # [ ] ~ a:b/c.d-e_f").unwrap();
        assert_eq!(edges.len(), 6);
        assert!(is_scope_token("openid") && !is_scope_token("") && !is_scope_token("a b"));
    }

    #[test]
    fn repeats_are_deduplicated() {
        let s = Scopes::parse("b a b a").unwrap();
        assert_eq!(tokens(&s), ["b", "a"], "first occurrence kept");
        assert_eq!(s.to_string(), "b a");
        // Case-sensitive: not repeats.
        assert_eq!(Scopes::parse("a A").unwrap().len(), 2);
    }

    #[test]
    fn display_keeps_the_order_and_equality_ignores_it() {
        let s = Scopes::parse("posts:write agency:read billing:read").unwrap();
        assert_eq!(s.to_string(), "posts:write agency:read billing:read");
        assert_eq!(Scopes::parse(&s.to_string()).unwrap(), s);
        let other_order = Scopes::parse("billing:read posts:write agency:read").unwrap();
        assert_eq!(s, other_order);
        assert_eq!(s, "agency:read billing:read posts:write".parse().unwrap());
        assert_ne!(s, Scopes::parse("posts:write agency:read").unwrap());
        assert_ne!(
            s,
            Scopes::parse("posts:write agency:read billing:write").unwrap()
        );
    }

    #[test]
    fn set_operations() {
        let granted = Scopes::parse("agency:read posts:read posts:write").unwrap();
        let allowed = Scopes::parse("agency:read posts:read analytics:read").unwrap();
        let both = granted.intersection(&allowed);
        assert_eq!(both.to_string(), "agency:read posts:read");
        assert!(both.is_subset(&granted) && both.is_subset(&allowed));
        assert!(!granted.is_subset(&allowed));
        assert!(granted.contains("posts:write") && !granted.contains("posts"));
        assert!(!granted.contains("Posts:write"));
        assert!(Scopes::new().intersection(&granted).is_empty());
        let mut g = granted.clone();
        g.retain(|t| t.ends_with(":read"));
        assert_eq!(g.to_string(), "agency:read posts:read");
        assert_eq!((&g).into_iter().count(), 2);
    }

    #[test]
    fn built_from_tokens() {
        let s = Scopes::from_tokens(["b", "a", "b"]).unwrap();
        assert_eq!(s.to_string(), "b a");
        assert_eq!(
            Scopes::from_tokens(["a b"]),
            Err(ScopeError::IllegalCharacter)
        );
        assert_eq!(Scopes::from_tokens(["a\tb"]), Err(ScopeError::Whitespace));
        assert_eq!(Scopes::from_tokens([""]), Err(ScopeError::EmptyToken));
        assert!(
            Scopes::from_tokens(Vec::<String>::new())
                .unwrap()
                .is_empty()
        );
        let mut s = Scopes::new();
        assert_eq!(s.insert("a"), Ok(true));
        assert_eq!(s.insert("a"), Ok(false));
        assert_eq!(s.insert("a b"), Err(ScopeError::IllegalCharacter));
        assert_eq!(s.insert(""), Err(ScopeError::EmptyToken));
        assert_eq!(s.to_string(), "a");
    }

    #[test]
    fn serde_as_a_space_separated_string() {
        let s = Scopes::parse("posts:read agency:read").unwrap();
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!("posts:read agency:read")
        );
        let back: Scopes = serde_json::from_str("\"posts:read agency:read posts:read\"").unwrap();
        assert_eq!(back, s);
        assert!(serde_json::from_str::<Scopes>("\"\"").unwrap().is_empty());
        for bad in ["\"a\\tb\"", "\"a\\\"b\"", "[\"a\"]", "1", "null"] {
            assert!(serde_json::from_str::<Scopes>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn descriptions_are_wire_safe() {
        for e in [
            ScopeError::EmptyToken,
            ScopeError::Whitespace,
            ScopeError::IllegalCharacter,
        ] {
            // OAuth 2.1 §3.2.4 error_description: %x20-21 / %x23-5B / %x5D-7E.
            assert!(
                e.description()
                    .bytes()
                    .all(|b| b == b' ' || is_token_byte(b)),
                "{e:?}"
            );
            assert_eq!(e.to_string(), e.description());
        }
    }
}
