//! The scopes of the contract: their names and consent-page descriptions,
//! and `scopes_supported`. The [`Scopes`] type (RFC 6749 §3.3 parsing) and
//! the role → scopes table ([`Role`]) live in `skedcast-core`, shared with
//! the verifier resource servers embed, and are re-exported here.

pub use skedcast_core::role::Role;
pub use skedcast_core::scopes::{ScopeError, Scopes, is_scope_token, split};

/// Every permission scope, in the contract's order, with the plain-language
/// description shown on the consent page.
pub const SCOPES: &[(&str, &str)] = &[
    ("agency:read", "See your agency's profile"),
    ("agency:write", "Change your agency's profile"),
    ("members:read", "See who is in your agency"),
    ("members:write", "Invite, change and remove members"),
    ("posts:read", "See posts and schedules"),
    ("posts:write", "Create, edit and schedule posts"),
    ("analytics:read", "See analytics"),
    ("billing:read", "See billing and invoices"),
    ("billing:write", "Change billing and plans"),
    ("api_keys:write", "Create and revoke API keys"),
];

/// Not a permission: asks for a refresh token (MCP clients send it).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// OpenID Connect: asks for an id_token (and the UserInfo endpoint).
pub const OPENID: &str = "openid";

/// OpenID Connect identity scopes (Core §5.4): like `offline_access`, not
/// permissions: they say what the app learns about the member, with the
/// consent page's description. `openid` itself names nothing about the
/// member beyond the user id.
pub const IDENTITY: &[(&str, &str)] = &[
    (OPENID, "Know who you are (your account id)"),
    ("email", "Your email address"),
    ("profile", "Your name"),
];

/// Whether `s` is an identity scope (`openid`, `email`, `profile`).
pub fn is_identity(s: &str) -> bool {
    IDENTITY.iter().any(|(n, _)| *n == s)
}

/// The plain-language description of any scope a grant can hold.
pub fn describe(s: &str) -> Option<&'static str> {
    if s == OFFLINE_ACCESS {
        return Some("Stay connected when you are not using it");
    }
    SCOPES
        .iter()
        .chain(IDENTITY)
        .find(|(n, _)| *n == s)
        .map(|(_, d)| *d)
}

/// All scopes a client may name (`scopes_supported`).
pub fn supported() -> Vec<String> {
    SCOPES
        .iter()
        .chain(IDENTITY)
        .map(|(s, _)| s.to_string())
        .chain(std::iter::once(OFFLINE_ACCESS.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_scope_is_supported_and_every_scope_a_token() {
        let all = supported();
        for r in Role::ALL {
            for s in r.scopes() {
                assert!(all.iter().any(|a| a == s), "{s}");
            }
        }
        // The owner holds every permission scope.
        assert!(SCOPES.iter().all(|(s, _)| Role::Owner.allows(s)));
        assert!(all.iter().all(|s| is_scope_token(s)), "{all:?}");
        assert_eq!(Scopes::from_tokens(&all).unwrap().len(), all.len());
    }
}
