//! `[scopes]`: the default scope of an authorization request that names
//! none from a client that registered none (RFC 6749 §3.3).

use serde::Deserialize;

use super::{SettingsError, key_error};
use crate::scopes::{SCOPES, split};

#[derive(Deserialize)]
pub(crate) struct RawScopes {
    default: String,
}

#[derive(Debug, Clone)]
pub struct ScopeSettings {
    /// Permission scopes granted when neither the request nor the client's
    /// registration names any; at least one, each in `scopes_supported`.
    pub default: Vec<String>,
}

impl RawScopes {
    pub(crate) fn validate(self) -> Result<ScopeSettings, SettingsError> {
        let key = "scopes.default";
        let tokens = split(&self.default).map_err(|e| key_error(key, e.description()))?;
        if tokens.is_empty() {
            return Err(key_error(key, "must name at least one scope"));
        }
        let mut default: Vec<String> = Vec::new();
        // `split` already dropped repeats.
        for s in tokens {
            // offline_access asks for a refresh token and is refused to
            // clients without the grant: never a default.
            if !SCOPES.iter().any(|(p, _)| *p == s) {
                return Err(key_error(
                    key,
                    format!("names {s:?}, which is not a permission scope of scopes_supported"),
                ));
            }
            default.push(s.to_string());
        }
        Ok(ScopeSettings { default })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(default: &str) -> Result<Vec<String>, String> {
        RawScopes {
            default: default.into(),
        }
        .validate()
        .map(|s| s.default)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn known_permission_scopes_only() {
        assert_eq!(check("agency:read").unwrap(), ["agency:read"]);
        assert_eq!(
            check("agency:read posts:read agency:read").unwrap(),
            ["agency:read", "posts:read"]
        );
        assert_eq!(
            check("").unwrap_err(),
            "configuration: `scopes.default` must name at least one scope"
        );
        assert!(check("agency:read nope").unwrap_err().contains("\"nope\""));
        assert!(
            check("offline_access")
                .unwrap_err()
                .contains("not a permission scope")
        );
        assert!(check("agency:read\"").is_err());
    }
}
