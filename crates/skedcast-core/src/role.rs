//! The contract's roles and the scopes each may hold ("Roles and scopes"):
//! the one table both the authorization server (what it grants) and every
//! resource server (effective scopes = granted ∩ role) apply.

use crate::scopes::Scopes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Owner,
    Manager,
    Editor,
    Viewer,
}

impl Role {
    /// Every role, strongest first.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Manager, Role::Editor, Role::Viewer];

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

    /// The part of `granted` this role may hold.
    pub fn limit(self, granted: &Scopes) -> Scopes {
        let mut out = granted.clone();
        out.retain(|s| self.allows(s));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_nest() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert!(Scopes::from_tokens(r.scopes()).is_ok(), "{r:?}");
        }
        // Strongest first: each role holds everything the next one does.
        for w in Role::ALL.windows(2) {
            assert!(w[1].scopes().iter().all(|s| w[0].allows(s)), "{:?}", w);
        }
        assert!(Role::Owner.allows("billing:write") && !Role::Manager.allows("billing:write"));
        assert!(!Role::Viewer.allows("members:read") && Role::Editor.allows("members:read"));
        assert_eq!(Role::parse("admin"), None);
        assert_eq!(Role::parse("Owner"), None);
    }

    #[test]
    fn limit_keeps_what_the_role_allows() {
        let granted = Scopes::parse("agency:read billing:write offline_access").unwrap();
        assert_eq!(Role::Viewer.limit(&granted).to_string(), "agency:read");
        assert_eq!(
            Role::Owner.limit(&granted).to_string(),
            "agency:read billing:write"
        );
    }
}
