//! The member claims identity scopes release (OpenID Connect Core §5.4),
//! the same in the id_token and at the UserInfo endpoint: `email` and
//! `email_verified` with `email`, `name` with `profile` (when the member
//! has one). `email_verified` is false: accounts are made by operators and
//! this server never proves that a member controls the address.

use serde_json::{Map, Value, json};

/// Pure: the claims of `user` released by `scopes` (besides `sub`).
pub fn released(user: &entity::user::Model, scopes: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    if scopes.contains(&"email") {
        m.insert("email".into(), json!(user.email));
        m.insert("email_verified".into(), json!(false));
    }
    if scopes.contains(&"profile")
        && let Some(name) = &user.name
    {
        m.insert("name".into(), json!(name));
    }
    m
}

/// Every claim this server may release (`claims_supported`).
pub const SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "amr",
    "azp",
    "email",
    "email_verified",
    "name",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: Option<&str>) -> entity::user::Model {
        entity::user::Model {
            id: "u1".into(),
            email: "ann@example.com".into(),
            password_hash: None,
            created_at: 0,
            name: name.map(str::to_string),
        }
    }

    #[test]
    fn claims_follow_the_scopes() {
        assert!(released(&user(Some("Ann")), &["openid"]).is_empty());
        let m = released(&user(Some("Ann")), &["openid", "email", "profile"]);
        assert_eq!(m["email"], "ann@example.com");
        assert_eq!(m["email_verified"], false);
        assert_eq!(m["name"], "Ann");
        assert!(!released(&user(None), &["profile"]).contains_key("name"));
    }
}
