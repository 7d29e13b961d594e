//! The access-token claims of the contract ("Tokens", RFC 9068 §2.2) as a
//! resource server reads them: the audience in either JSON shape (RFC 7519
//! §4.1.3) and the scope as [`Scopes`].

use serde::{Deserialize, Serialize};

use crate::scopes::Scopes;

/// The claims of an access token. Unknown claims are ignored; a duplicated
/// claim makes the token malformed (serde refuses it), and so does a
/// `scope` that is not a valid RFC 6749 §3.3 scope string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The member's user id (or the client id for client_credentials).
    pub sub: String,
    pub aud: Audience,
    pub client_id: String,
    /// Absent means no scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scopes>,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// RFC 9449 §6.1: the DPoP key the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 `cnf`; only its RFC 9449 `jkt` member is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
}

/// RFC 7519 §4.1.3: one string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// `resource`, plus `also` when given (and different): the authorization
    /// server names itself beside the resource when `openid` is granted.
    pub fn of(resource: &str, also: Option<&str>) -> Audience {
        match also {
            Some(a) if a != resource => Audience::Many(vec![resource.to_string(), a.to_string()]),
            _ => Audience::One(resource.to_string()),
        }
    }

    /// Exact, case-sensitive match of one member (RFC 7519 §4.1.3).
    pub fn contains(&self, resource: &str) -> bool {
        match self {
            Audience::One(a) => a == resource,
            Audience::Many(all) => all.iter().any(|a| a == resource),
        }
    }

    /// The resource the token was issued for (the first audience).
    pub fn resource(&self) -> &str {
        match self {
            Audience::One(a) => a,
            Audience::Many(all) => all.first().map_or("", String::as_str),
        }
    }
}

impl From<&str> for Audience {
    fn from(a: &str) -> Audience {
        Audience::One(a.to_string())
    }
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
    fn scope_is_an_rfc6749_scope_string() {
        let c = claims(base()).unwrap();
        assert_eq!(c.scope.unwrap().to_string(), "agency:read posts:read");
        for bad in [
            "agency:read\tposts:read",
            "agency:read\nposts:read",
            "agency:\"read",
        ] {
            let mut j = base();
            j["scope"] = bad.into();
            assert!(claims(j).is_err(), "{bad:?}");
        }
        let mut j = base();
        j["scope"] = "".into();
        assert!(claims(j).unwrap().scope.unwrap().is_empty());
    }

    #[test]
    fn serializes_back_to_the_same_claims() {
        let c = claims(base()).unwrap();
        let back = claims(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let mut j = base();
        j["aud"] = serde_json::json!(["x", "y"]);
        j.as_object_mut().unwrap().remove("role");
        let c = claims(j).unwrap();
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["aud"], serde_json::json!(["x", "y"]));
        assert!(v.get("role").is_none() && v.get("nbf").is_none());
    }
}
