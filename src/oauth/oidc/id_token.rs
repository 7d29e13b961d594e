//! The id_token (OpenID Connect Core §2, §3.1.3.6): a JWT about the
//! member's sign-in for the client, issued with the access token when the
//! grant holds `openid`. Signed ES256 with the access-token keys, or RS256
//! for a client that registered `id_token_signed_response_alg: RS256`; header
//! `typ` `JWT` (never `at+jwt`, so it cannot pass as an access token).
//! Short-lived (`tokens.id_token_ttl_secs`). On refresh (§12.2) it is issued
//! again when the refreshed scope holds `openid`, with the same `auth_time`
//! and without `nonce`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::AppState;
use crate::accounts;
use crate::oauth::error::OAuthError;

/// The `typ` header of id_tokens.
pub const TYP: &str = "JWT";

/// How the member authenticated (RFC 8176): a password.
pub const AMR_PASSWORD: &str = "pwd";

/// The `amr` values of a grant's stored sign-in method (space-separated,
/// e.g. `pwd otp`); grants stored before it was recorded: a password.
pub fn amr_values(stored: Option<&str>) -> Vec<String> {
    match stored.map(str::split_whitespace) {
        Some(v) if stored.is_some_and(|s| !s.trim().is_empty()) => v.map(str::to_string).collect(),
        _ => vec![AMR_PASSWORD.to_string()],
    }
}

/// What an id_token is about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub user_id: &'a str,
    pub client_id: &'a str,
    /// `ES256` or `RS256`.
    pub alg: &'a str,
    /// The identity scopes of the grant (`openid`, `email`, `profile`).
    pub scopes: &'a [&'a str],
    /// Echoed when the authorization request had one (never on refresh).
    pub nonce: Option<&'a str>,
    /// When the member signed in.
    pub auth_time: Option<i64>,
    /// How (space-separated; None: a password).
    pub amr: Option<&'a str>,
}

/// The claims of an id_token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    /// The client (one audience, so `azp` is the same client).
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub amr: Vec<String>,
    pub azp: String,
    /// `email`, `email_verified`, `name` by scope.
    #[serde(flatten)]
    pub member: Map<String, Value>,
}

/// Pure: the claims for `s` issued at `now` for `ttl_secs`.
pub fn claims(
    s: &Subject<'_>,
    issuer: &str,
    member: Map<String, Value>,
    now: i64,
    ttl_secs: u64,
) -> Claims {
    Claims {
        iss: issuer.to_string(),
        sub: s.user_id.to_string(),
        aud: s.client_id.to_string(),
        exp: now.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
        iat: now,
        auth_time: s.auth_time,
        nonce: s.nonce.map(str::to_string),
        amr: amr_values(s.amr),
        azp: s.client_id.to_string(),
        member,
    }
}

/// Sign an id_token for `s` at `now`.
pub async fn issue(state: &AppState, s: &Subject<'_>, now: i64) -> Result<String, OAuthError> {
    let user = accounts::find_user(&state.db, s.user_id)
        .await
        .map_err(|e| OAuthError::db(e, "find user"))?
        .ok_or_else(|| OAuthError::invalid_grant("the member's account no longer exists"))?;
    let member = super::claims::released(&user, s.scopes);
    let c = claims(
        s,
        &state.settings.issuer,
        member,
        now,
        state.settings.tokens.id_token_ttl_secs,
    );
    state
        .keys
        .sign_with(s.alg, TYP, &c)
        .await
        .map_err(|e| OAuthError::server_error(e, "sign id_token"))
}

/// The claims of an id_token this server signed (any published key, its
/// own algorithm) with our `iss`, whatever its `exp` (an `id_token_hint`
/// may have expired, OpenID Connect RP-Initiated Logout §2). `None` else.
pub async fn verify_hint(state: &AppState, token: &str) -> Option<Claims> {
    let payload = state.keys.verify_own(token).await?;
    let c: Claims = serde_json::from_slice(&payload).ok()?;
    (c.iss == state.settings.issuer).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_name_the_client_and_the_sign_in() {
        let s = Subject {
            user_id: "u1",
            client_id: "c1",
            alg: "ES256",
            scopes: &["openid"],
            nonce: Some("n-1"),
            auth_time: Some(900),
            amr: None,
        };
        let c = claims(&s, "https://as.example", Map::new(), 1000, 300);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "iss": "https://as.example", "sub": "u1", "aud": "c1", "azp": "c1",
                "exp": 1300, "iat": 1000, "auth_time": 900, "nonce": "n-1", "amr": ["pwd"],
            })
        );
        let without = claims(
            &Subject { nonce: None, ..s },
            "https://as.example",
            Map::new(),
            1000,
            300,
        );
        assert!(
            serde_json::to_value(&without)
                .unwrap()
                .get("nonce")
                .is_none()
        );
    }
}
