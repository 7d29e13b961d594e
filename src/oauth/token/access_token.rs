//! Access tokens: ES256 JWTs in the RFC 9068 profile, as the contract
//! describes them. [`claims`] decides what goes in (pure); [`issue`] signs
//! with the active key and answers the token response; [`verify`] checks one
//! of ours (signature against the published keys, `typ`, `iss`, `exp`) for
//! introspection and revocation. Every grant issues its access tokens here.

use serde::{Deserialize, Serialize};

use super::TokenResponse;
use crate::AppState;
use crate::keys::KeyStore;
use crate::oauth::error::OAuthError;
use crate::scopes::Role;

/// RFC 9068 §2.1 `typ` header.
pub const TYP: &str = "at+jwt";

/// The claims, exactly these; `agency_id` and `role` only when a member is
/// behind the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The member's user id, or the client id for client_credentials.
    pub sub: String,
    /// The resource the token is for (RFC 8707); with `openid` granted,
    /// also this issuer (the UserInfo endpoint's audience).
    pub aud: Audience,
    pub client_id: String,
    /// Space-separated.
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// How the member signed in (RFC 8176: `["pwd"]` or `["pwd","otp"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// RFC 9449 §6.1: the DPoP key the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// RFC 7800 `cnf` with the RFC 9449 §6.1 `jkt` member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

/// RFC 7519 §4.1.3 `aud`: the one type both services read (the resource first).
pub use skedcast_core::claims::Audience;

/// The member a token acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    pub agency_id: &'a str,
    pub role: Role,
    /// How the member signed in (space-separated; None: a password).
    pub amr: Option<&'a str>,
}

/// What a grant decided to issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant<'a> {
    pub subject: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a [&'a str],
    pub audience: &'a str,
    pub member: Option<Member<'a>>,
    /// The thumbprint of the DPoP key of the token request (RFC 9449 §5):
    /// the token is bound to it (`cnf.jkt`, `token_type` DPoP).
    pub jkt: Option<&'a str>,
}

impl Grant<'_> {
    /// Whether `openid` is among the scopes: the token then also admits
    /// the UserInfo endpoint, whose audience is the issuer.
    pub fn openid(&self) -> bool {
        self.scopes.contains(&crate::scopes::OPENID)
    }
}

/// The claims of a token issued at `now` for `ttl_secs`.
pub fn claims(grant: &Grant<'_>, issuer: &str, now: i64, ttl_secs: u64, jti: String) -> Claims {
    Claims {
        iss: issuer.to_string(),
        sub: grant.subject.to_string(),
        aud: Audience::of(grant.audience, grant.openid().then_some(issuer)),
        client_id: grant.client_id.to_string(),
        scope: grant.scopes.join(" "),
        iat: now,
        exp: expiry(now, ttl_secs),
        jti,
        agency_id: grant.member.map(|m| m.agency_id.to_string()),
        role: grant.member.map(|m| m.role.as_str().to_string()),
        cnf: grant.jkt.map(|jkt| Confirmation {
            jkt: jkt.to_string(),
        }),
        amr: grant
            .member
            .map(|m| crate::oauth::oidc::id_token::amr_values(m.amr)),
    }
}

/// When a token issued at `now` for `ttl_secs` expires.
fn expiry(now: i64, ttl_secs: u64) -> i64 {
    now.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX))
}

/// An access token's id and lifetime, fixed before it is signed: a member's
/// grant stores the `jti` and expiry with its code or refresh token first,
/// so that revoking the grant can revoke the access token too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub jti: String,
    pub iat: i64,
    pub ttl_secs: u64,
}

impl Stamp {
    /// A fresh `jti`, issued at `now`, valid `ttl_secs`.
    pub fn new(now: i64, ttl_secs: u64) -> Stamp {
        Stamp {
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            ttl_secs,
        }
    }

    /// The token's `exp`.
    pub fn exp(&self) -> i64 {
        expiry(self.iat, self.ttl_secs)
    }
}

/// The one place an access token is minted: the claims of `grant`, signed
/// with the active key, in an RFC 6749 §5.1 response (with `refresh_token`
/// when the grant issued one).
pub async fn issue(
    state: &AppState,
    grant: &Grant<'_>,
    stamp: Stamp,
    refresh_token: Option<String>,
) -> Result<TokenResponse, OAuthError> {
    let ttl = stamp.ttl_secs;
    let claims = claims(grant, &state.settings.issuer, stamp.iat, ttl, stamp.jti);
    let token = state
        .keys
        .sign(TYP, &claims)
        .await
        .map_err(|e| OAuthError::server_error(e, "sign access token"))?;
    Ok(TokenResponse {
        access_token: token,
        token_type: token_type(grant.jkt.is_some()).into(),
        expires_in: ttl,
        scope: claims.scope,
        refresh_token,
        id_token: None,
    })
}

/// RFC 9449 §5: `DPoP` for a bound token, else `Bearer`.
pub fn token_type(bound: bool) -> &'static str {
    if bound { "DPoP" } else { "Bearer" }
}

/// Whether `token` has the shape of a compact JWS (three base64url parts).
pub fn looks_like_jwt(token: &str) -> bool {
    let b64url = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let mut parts = token.split('.');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(h), Some(p), Some(s), None) if b64url(h) && b64url(p) && b64url(s)
    )
}

/// The claims of an access token this server issued that is still within
/// its lifetime at `now`: signed by a published key (ES256, `typ` at+jwt),
/// with our `iss`. `None` for anything else. Revocation is the caller's
/// business.
pub async fn verify(keys: &KeyStore, issuer: &str, token: &str, now: i64) -> Option<Claims> {
    if !looks_like_jwt(token) {
        return None;
    }
    let payload = keys.verify(TYP, token).await?;
    let claims: Claims = serde_json::from_slice(&payload).ok()?;
    check(&claims, issuer, now).then_some(claims)
}

/// The checks on verified claims: issuer and expiry.
fn check(claims: &Claims, issuer: &str, now: i64) -> bool {
    claims.iss == issuer && now < claims.exp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_without_member_skip_agency_and_role() {
        let scopes = ["agency:read", "posts:read"];
        let grant = Grant {
            subject: "cid",
            client_id: "cid",
            scopes: &scopes,
            audience: "https://api.example",
            member: None,
            jkt: None,
        };
        let c = claims(&grant, "https://as.example", 1000, 900, "j1".into());
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "iss": "https://as.example", "sub": "cid", "aud": "https://api.example",
                "client_id": "cid", "scope": "agency:read posts:read",
                "iat": 1000, "exp": 1900, "jti": "j1",
            })
        );
        assert!(check(&c, "https://as.example", 1899));
        assert!(!check(&c, "https://as.example", 1900), "expired at exp");
        assert!(!check(&c, "https://other.example", 1000));
    }

    #[test]
    fn claims_with_member() {
        let grant = Grant {
            subject: "user-1",
            client_id: "cid",
            scopes: &["agency:read"],
            audience: "https://api.example",
            member: Some(Member {
                agency_id: "ag-1",
                role: Role::Editor,
                amr: Some("pwd otp"),
            }),
            jkt: Some("thumb"),
        };
        let c = claims(&grant, "https://as.example", 0, 60, "j".into());
        assert_eq!(c.agency_id.as_deref(), Some("ag-1"));
        assert_eq!(c.role.as_deref(), Some("editor"));
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["cnf"], serde_json::json!({"jkt": "thumb"}));
        let back: Claims = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn stamp_expiry_is_the_claims_expiry() {
        let stamp = Stamp::new(1000, 900);
        assert_eq!(stamp.exp(), 1900);
        let grant = Grant {
            subject: "cid",
            client_id: "cid",
            scopes: &["agency:read"],
            audience: "https://api.example",
            member: None,
            jkt: None,
        };
        let c = claims(
            &grant,
            "https://as.example",
            stamp.iat,
            stamp.ttl_secs,
            stamp.jti.clone(),
        );
        assert_eq!((c.exp, c.jti), (stamp.exp(), stamp.jti));
        assert_ne!(Stamp::new(0, 1).jti, Stamp::new(0, 1).jti);
        assert_eq!(Stamp::new(i64::MAX - 1, u64::MAX).exp(), i64::MAX);
    }

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt("eyJh.eyJz.c2ln"));
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "a..c",
            "a.b.c=",
            "sked_live_abc",
            "a.b.c d",
        ] {
            assert!(!looks_like_jwt(bad), "{bad}");
        }
    }
}
