//! What a verified credential says: the [`Principal`] a resource server
//! acts on, with its effective scopes (granted ∩ role). The access-token
//! claims themselves (RFC 9068) are shared with the server in
//! `skedcast-core` and re-exported here.

pub use skedcast_core::claims::{AccessClaims, Audience};
use skedcast_core::{Role, Scopes};

/// The scopes a member with `role` may hold: granted ∩ role (contract,
/// "Roles and scopes"). Without a role (no member behind the credential)
/// the granted set is returned; an unknown role keeps nothing.
pub fn effective(granted: &Scopes, role: Option<&str>) -> Scopes {
    match role {
        None => granted.clone(),
        Some(r) => Role::parse(r).map_or_else(Scopes::new, |role| role.limit(granted)),
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
    pub scopes: Scopes,
    /// Unix time after which the credential is no longer valid.
    pub expires_at: i64,
    /// RFC 9449: the thumbprint of the DPoP key a bound access token is
    /// for; every request with it must carry a proof by that key.
    pub jkt: Option<String>,
}

impl Principal {
    pub fn from_access_claims(c: AccessClaims) -> Principal {
        let granted = c.scope.unwrap_or_default();
        Principal {
            via: Via::OAuth,
            scopes: effective(&granted, c.role.as_deref()),
            subject: c.sub,
            client_id: Some(c.client_id),
            agency_id: c.agency_id,
            role: c.role,
            expires_at: c.exp,
            jkt: c.cnf.and_then(|c| c.jkt),
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

    fn claims(json: serde_json::Value) -> AccessClaims {
        serde_json::from_value(json).unwrap()
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "iss": "https://auth.example", "sub": "u1", "aud": "https://api.example",
            "client_id": "c1", "scope": "agency:read posts:read", "iat": 10, "exp": 20,
            "jti": "j1", "agency_id": "a1", "role": "viewer",
        })
    }

    fn tokens(s: &Scopes) -> Vec<&str> {
        s.iter().collect()
    }

    #[test]
    fn effective_scopes_never_exceed_the_role() {
        let granted =
            Scopes::parse("agency:read billing:write posts:write offline_access").unwrap();
        let viewer = effective(&granted, Some("viewer"));
        assert_eq!(tokens(&viewer), ["agency:read"]);
        let owner = effective(&granted, Some("owner"));
        assert_eq!(
            tokens(&owner),
            ["agency:read", "billing:write", "posts:write"]
        );
        assert!(effective(&granted, Some("admin")).is_empty());
        assert_eq!(effective(&granted, None), granted);
    }

    #[test]
    fn principal_of_access_claims() {
        let p = Principal::from_access_claims(claims(base()));
        assert_eq!(p.via, Via::OAuth);
        assert_eq!(p.subject, "u1");
        assert_eq!(p.expires_at, 20);
        assert_eq!(tokens(&p.scopes), ["agency:read", "posts:read"]);
        // No scope claim: no scopes.
        let mut j = base();
        j.as_object_mut().unwrap().remove("scope");
        assert!(Principal::from_access_claims(claims(j)).scopes.is_empty());
    }

    #[test]
    fn agency_scope_requirement() {
        let p = Principal::from_access_claims(claims(base()));
        assert_eq!(p.client_id.as_deref(), Some("c1"));
        assert_eq!(require_agency_scope(&p, "agency:read"), Ok(()));
        assert_eq!(
            require_agency_scope(&p, "agency:write"),
            Err(Forbidden::MissingScope)
        );
        let mut j = base();
        j.as_object_mut().unwrap().remove("agency_id");
        j.as_object_mut().unwrap().remove("role");
        let p = Principal::from_access_claims(claims(j));
        assert_eq!(
            require_agency_scope(&p, "agency:read"),
            Err(Forbidden::NoAgency)
        );
    }
}
