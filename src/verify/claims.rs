//! What a verified credential says: the access-token claims of the contract
//! (RFC 9068), the audience in either JSON shape, scopes as a set, and the
//! [`Principal`] a resource server acts on.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::scopes::Role;

/// The claims of an access token (contract, "Tokens"). Unknown claims are
/// ignored; a duplicated claim makes the token malformed (serde refuses it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The member's user id (or the client id for client_credentials).
    pub sub: String,
    pub aud: Audience,
    pub client_id: String,
    /// Space-separated; absent means no scope.
    #[serde(default)]
    pub scope: Option<String>,
    pub iat: i64,
    pub exp: i64,
    #[serde(default)]
    pub nbf: Option<i64>,
    pub jti: String,
    #[serde(default)]
    pub agency_id: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
}

/// RFC 7519 §4.1.3: one string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// Exact, case-sensitive match of one member (RFC 7519 §4.1.3).
    pub fn contains(&self, resource: &str) -> bool {
        match self {
            Audience::One(a) => a == resource,
            Audience::Many(all) => all.iter().any(|a| a == resource),
        }
    }
}

/// A set of scope tokens (RFC 6749 §3.3: space-delimited, case-sensitive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// Split on spaces; empty pieces (repeated spaces) are ignored.
    pub fn parse(s: &str) -> ScopeSet {
        ScopeSet(
            s.split(' ')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes a member with `role` may hold: granted ∩ role (contract,
    /// "Roles and scopes"). Without a role (no member behind the credential)
    /// the granted set is returned; an unknown role keeps nothing.
    pub fn effective(&self, role: Option<&str>) -> ScopeSet {
        match role {
            None => self.clone(),
            Some(r) => match Role::parse(r) {
                Some(role) => ScopeSet(self.0.iter().filter(|s| role.allows(s)).cloned().collect()),
                None => ScopeSet::default(),
            },
        }
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An access token (ES256 JWT) verified offline.
    OAuth,
    /// An API key checked through introspection.
    ApiKey,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::OAuth => "oauth",
            Via::ApiKey => "api_key",
        }
    }
}

/// The caller of a request, as established by a verified credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub via: Via,
    pub subject: String,
    /// The OAuth client (access tokens only).
    pub client_id: Option<String>,
    pub agency_id: Option<String>,
    pub role: Option<String>,
    /// Effective scopes: granted ∩ the role's scopes.
    pub scopes: ScopeSet,
    /// Unix time after which the credential is no longer valid.
    pub expires_at: i64,
}

impl Principal {
    pub fn from_access_claims(c: AccessClaims) -> Principal {
        let granted = ScopeSet::parse(c.scope.as_deref().unwrap_or(""));
        Principal {
            via: Via::OAuth,
            scopes: granted.effective(c.role.as_deref()),
            subject: c.sub,
            client_id: Some(c.client_id),
            agency_id: c.agency_id,
            role: c.role,
            expires_at: c.exp,
        }
    }
}

/// Why a verified caller may not do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    /// The scope is not among the effective scopes.
    MissingScope,
    /// The credential acts for no agency (e.g. a client_credentials token),
    /// so no agency-scoped permission can apply.
    NoAgency,
}

/// Whether `p` may use a route that needs `scope` within its agency.
pub fn require_agency_scope(p: &Principal, scope: &str) -> Result<(), Forbidden> {
    if p.agency_id.as_deref().is_none_or(str::is_empty) {
        return Err(Forbidden::NoAgency);
    }
    if !p.scopes.contains(scope) {
        return Err(Forbidden::MissingScope);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: serde_json::Value) -> Result<AccessClaims, serde_json::Error> {
        serde_json::from_value(json)
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "iss": "https://auth.example", "sub": "u1", "aud": "https://api.example",
            "client_id": "c1", "scope": "agency:read posts:read", "iat": 10, "exp": 20,
            "jti": "j1", "agency_id": "a1", "role": "viewer",
        })
    }

    #[test]
    fn audience_string_or_array() {
        let c = claims(base()).unwrap();
        assert!(c.aud.contains("https://api.example"));
        assert!(!c.aud.contains("https://api.example/"));
        let mut j = base();
        j["aud"] = serde_json::json!(["https://other", "https://api.example"]);
        assert!(claims(j).unwrap().aud.contains("https://api.example"));
        let mut j = base();
        j["aud"] = serde_json::json!(["https://other"]);
        assert!(!claims(j).unwrap().aud.contains("https://api.example"));
        let mut j = base();
        j["aud"] = serde_json::json!(42);
        assert!(claims(j).is_err());
    }

    #[test]
    fn required_claims_and_types() {
        for missing in ["iss", "sub", "aud", "client_id", "iat", "exp", "jti"] {
            let mut j = base();
            j.as_object_mut().unwrap().remove(missing);
            assert!(claims(j).is_err(), "{missing}");
        }
        let mut j = base();
        j["exp"] = serde_json::json!("20");
        assert!(claims(j).is_err(), "exp must be a number");
        let mut j = base();
        j.as_object_mut().unwrap().remove("scope");
        assert_eq!(claims(j).unwrap().scope, None);
        // Duplicated claims are refused, not "last one wins".
        let dup = r#"{"iss":"a","iss":"b","sub":"u","aud":"x","client_id":"c","iat":1,"exp":2,"jti":"j"}"#;
        assert!(serde_json::from_str::<AccessClaims>(dup).is_err());
    }

    #[test]
    fn scope_sets() {
        let s = ScopeSet::parse("b a  a c");
        assert_eq!(s.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(s.contains("a") && !s.contains("A"));
        assert!(ScopeSet::parse("").is_empty());
    }

    #[test]
    fn effective_scopes_never_exceed_the_role() {
        let granted = ScopeSet::parse("agency:read billing:write posts:write offline_access");
        let viewer = granted.effective(Some("viewer"));
        assert_eq!(viewer.iter().collect::<Vec<_>>(), ["agency:read"]);
        let owner = granted.effective(Some("owner"));
        assert_eq!(
            owner.iter().collect::<Vec<_>>(),
            ["agency:read", "billing:write", "posts:write"]
        );
        assert!(granted.effective(Some("admin")).is_empty());
        assert_eq!(granted.effective(None), granted);
    }

    #[test]
    fn agency_scope_requirement() {
        let p = Principal::from_access_claims(claims(base()).unwrap());
        assert_eq!(p.via, Via::OAuth);
        assert_eq!(p.client_id.as_deref(), Some("c1"));
        assert_eq!(require_agency_scope(&p, "agency:read"), Ok(()));
        assert_eq!(
            require_agency_scope(&p, "agency:write"),
            Err(Forbidden::MissingScope)
        );
        let mut j = base();
        j.as_object_mut().unwrap().remove("agency_id");
        j.as_object_mut().unwrap().remove("role");
        let p = Principal::from_access_claims(claims(j).unwrap());
        assert_eq!(
            require_agency_scope(&p, "agency:read"),
            Err(Forbidden::NoAgency)
        );
    }
}
