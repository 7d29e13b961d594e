//! The scopes of the contract and what each role may hold: the one place in
//! code where role → scopes is decided.

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

/// All scopes a client may name (`scopes_supported`).
pub fn supported() -> Vec<String> {
    SCOPES
        .iter()
        .map(|(s, _)| s.to_string())
        .chain(std::iter::once(OFFLINE_ACCESS.to_string()))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Manager,
    Editor,
    Viewer,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "manager" => Some(Role::Manager),
            "editor" => Some(Role::Editor),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    /// The contract's table.
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Role::Owner => &[
                "agency:read",
                "agency:write",
                "members:read",
                "members:write",
                "posts:read",
                "posts:write",
                "analytics:read",
                "billing:read",
                "billing:write",
                "api_keys:write",
            ],
            Role::Manager => &[
                "agency:read",
                "agency:write",
                "members:read",
                "members:write",
                "posts:read",
                "posts:write",
                "analytics:read",
                "billing:read",
                "api_keys:write",
            ],
            Role::Editor => &[
                "agency:read",
                "members:read",
                "posts:read",
                "posts:write",
                "analytics:read",
            ],
            Role::Viewer => &["agency:read", "posts:read", "analytics:read"],
        }
    }

    pub fn allows(self, scope: &str) -> bool {
        self.scopes().contains(&scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_scope_is_supported_and_roles_nest() {
        let all = supported();
        let roles = [Role::Owner, Role::Manager, Role::Editor, Role::Viewer];
        for r in roles {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            for s in r.scopes() {
                assert!(all.iter().any(|a| a == s), "{s}");
            }
        }
        // Strongest first: each role holds everything the next one does.
        for w in roles.windows(2) {
            assert!(w[1].scopes().iter().all(|s| w[0].allows(s)), "{:?}", w);
        }
        assert!(Role::Owner.allows("billing:write") && !Role::Manager.allows("billing:write"));
        assert!(!Role::Viewer.allows("members:read") && Role::Editor.allows("members:read"));
        assert_eq!(Role::parse("admin"), None);
    }
}
