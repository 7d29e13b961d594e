//! API keys (`sked_live_...`): a cheap shape check first, then RFC 7662
//! introspection at the auth server with this resource server's
//! credentials, cached briefly by the key's SHA-256.
//!
//! - Positive answers are cached at most the configured TTL (≤ 30 s) and
//!   never past the key's `exp`; negative ones a few seconds. So a revoked
//!   key or a demoted member is seen within the TTL.
//! - Fail closed: when the auth server cannot answer, the caller gets
//!   [`AuthError::Unavailable`] (503 + `Retry-After`), never access.
//! - At most [`MAX_IN_FLIGHT`] introspections run at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use skedcast_core::Scopes;
use skedcast_core::api_key;

use crate::AuthError;
use crate::auth_server::{AuthServer, FetchError, basic_authorization};
use crate::cache::{TtlCache, key_of};
use crate::claims::{Principal, Via, effective};

/// Contract: `sked_live_` + base62 random + checksum (the one constant is
/// `skedcast_core::api_key::PREFIX`).
pub use skedcast_core::api_key::PREFIX as API_KEY_PREFIX;

/// Concurrent introspection calls, at most.
pub const MAX_IN_FLIGHT: usize = 32;

/// Seconds a client is told to wait when the auth server cannot answer.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Whether `token` is a well-formed API key (`skedcast_core::api_key`).
pub fn looks_like_api_key(token: &str) -> bool {
    // Prefix, alphabet, length and CRC32 checksum: a typo never costs an
    // introspection round trip.
    api_key::is_well_formed(token)
}

/// The members of an RFC 7662 answer that matter for an API key.
#[derive(Debug, Deserialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(default)]
    pub token_type: Option<String>,
    /// An invalid scope string makes the whole answer unusable (the key
    /// is then refused: fail closed).
    #[serde(default)]
    pub scope: Option<Scopes>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub agency_id: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub exp: Option<i64>,
}

/// The caller an introspection answer describes, or `None` when it does not
/// describe a live API key: inactive, another token type, no `sub`, no or a
/// past `exp` (API keys always expire).
pub fn principal_from_introspection(i: &Introspection, now: i64) -> Option<Principal> {
    if !i.active || i.token_type.as_deref() != Some("api_key") {
        return None;
    }
    let exp = i.exp.filter(|&e| e > now)?;
    let sub = i.sub.clone().filter(|s| !s.is_empty())?;
    let granted = i.scope.clone().unwrap_or_default();
    Some(Principal {
        via: Via::ApiKey,
        subject: sub,
        client_id: None,
        agency_id: i.agency_id.clone(),
        role: i.role.clone(),
        scopes: effective(&granted, i.role.as_deref()),
        expires_at: exp,
        jkt: None,
    })
}

/// How long an answer may be reused.
pub fn cache_ttl(
    principal: Option<&Principal>,
    positive: Duration,
    negative: Duration,
) -> Duration {
    match principal {
        Some(_) => positive,
        None => negative,
    }
}

/// This resource server's credentials at `/oauth/introspect`.
#[derive(Clone)]
pub struct IntrospectionCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for IntrospectionCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

#[derive(Clone)]
enum Outcome {
    Active(Arc<Principal>),
    Inactive,
}

pub struct ApiKeys {
    authorization: Option<String>,
    cache: TtlCache<Outcome>,
    positive_ttl: Duration,
    negative_ttl: Duration,
    wait: Duration,
    in_flight: tokio::sync::Semaphore,
}

impl ApiKeys {
    pub fn new(
        credentials: Option<&IntrospectionCredentials>,
        cache_size: usize,
        positive_ttl: Duration,
        negative_ttl: Duration,
        wait: Duration,
    ) -> Self {
        ApiKeys {
            authorization: credentials.map(|c| basic_authorization(&c.client_id, &c.client_secret)),
            cache: TtlCache::new(cache_size),
            positive_ttl,
            negative_ttl,
            wait,
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
        }
    }

    pub fn configured(&self) -> bool {
        self.authorization.is_some()
    }

    /// The caller behind `key`, from the cache or the auth server.
    pub async fn check(&self, auth: &AuthServer, key: &str) -> Result<Arc<Principal>, AuthError> {
        let hash = key_of(key);
        let (now, now_unix) = (Instant::now(), crate::now_unix());
        match self.cache.get(&hash, now, now_unix, 0) {
            Some(Outcome::Active(p)) => return Ok(p),
            Some(Outcome::Inactive) => return Err(AuthError::InvalidToken(INACTIVE)),
            None => {}
        }
        let Some(authorization) = self.authorization.as_deref() else {
            tracing::warn!(
                "an API key was presented but introspection.client_id/client_secret are not \
                 configured: answering 503 (create them with `skedcast-auth resource-server create`)"
            );
            return Err(unavailable());
        };
        let Ok(Ok(_permit)) = tokio::time::timeout(self.wait, self.in_flight.acquire()).await
        else {
            tracing::warn!("too many API-key introspections in flight: answering 503");
            return Err(unavailable());
        };
        let answer = match auth.introspect(key, authorization).await {
            Ok(v) => v,
            Err(FetchError::Status { status, url }) if status == 400 || status == 401 => {
                tracing::error!(
                    %url, status,
                    "the auth server refused this service's introspection credentials \
                     (introspection.client_id/client_secret): API keys answer 503"
                );
                return Err(unavailable());
            }
            Err(e) => {
                tracing::warn!(error = %e, "API-key introspection failed: answering 503");
                return Err(unavailable());
            }
        };
        let principal = serde_json::from_value::<Introspection>(answer)
            .ok()
            .and_then(|i| principal_from_introspection(&i, crate::now_unix()))
            .map(Arc::new);
        let ttl = cache_ttl(principal.as_deref(), self.positive_ttl, self.negative_ttl);
        let now = Instant::now();
        match principal {
            Some(p) => {
                let exp = Some(p.expires_at);
                self.cache
                    .insert(hash, Outcome::Active(p.clone()), now + ttl, exp, 0, now);
                Ok(p)
            }
            None => {
                self.cache
                    .insert(hash, Outcome::Inactive, now + ttl, None, 0, now);
                Err(AuthError::InvalidToken(INACTIVE))
            }
        }
    }
}

const INACTIVE: &str = "the API key is invalid, expired or revoked";

fn unavailable() -> AuthError {
    AuthError::Unavailable {
        retry_after_secs: RETRY_AFTER_SECS,
        reason: "the API key cannot be checked right now",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intro(json: serde_json::Value) -> Introspection {
        serde_json::from_value(json).unwrap()
    }

    fn live() -> serde_json::Value {
        serde_json::json!({
            "active": true, "token_type": "api_key", "scope": "agency:read billing:write",
            "sub": "u1", "agency_id": "a1", "role": "manager", "exp": 2_000,
        })
    }

    #[test]
    fn shape_check_is_a_prefix_and_base62() {
        assert!(looks_like_api_key(&api_key::from_random(
            "0123456789ABCDEFGHIJabcdefghij"
        )));
        assert!(!looks_like_api_key("sked_live_abcXYZ019"), "no checksum");
        for bad in [
            "sked_live_",
            "sked_test_abc",
            "eyJ.a.b",
            "sked_live_ab-c",
            "SKED_LIVE_abc",
        ] {
            assert!(!looks_like_api_key(bad), "{bad}");
        }
    }

    #[test]
    fn introspection_answers() {
        let p = principal_from_introspection(&intro(live()), 1_000).unwrap();
        assert_eq!(p.via, Via::ApiKey);
        assert_eq!(p.agency_id.as_deref(), Some("a1"));
        assert_eq!(p.client_id, None);
        // A manager cannot hold billing:write, whatever the key was granted.
        assert_eq!(p.scopes.iter().collect::<Vec<_>>(), ["agency:read"]);
        assert_eq!(p.expires_at, 2_000);
        assert!(
            principal_from_introspection(&intro(live()), 2_000).is_none(),
            "expired"
        );
        for (k, v) in [
            ("active", serde_json::json!(false)),
            ("token_type", serde_json::json!("Bearer")),
            ("exp", serde_json::Value::Null),
            ("sub", serde_json::json!("")),
        ] {
            let mut j = live();
            j[k] = v;
            assert!(
                principal_from_introspection(&intro(j), 1_000).is_none(),
                "{k}"
            );
        }
        assert!(
            principal_from_introspection(&intro(serde_json::json!({"active": false})), 0).is_none()
        );
        // A scope string that breaks RFC 6749 section 3.3 is no answer.
        let mut j = live();
        j["scope"] = "agency:read\tbilling:write".into();
        assert!(serde_json::from_value::<Introspection>(j).is_err());
    }

    #[test]
    fn ttls() {
        let p = principal_from_introspection(&intro(live()), 1_000).unwrap();
        let (pos, neg) = (Duration::from_secs(30), Duration::from_secs(3));
        assert_eq!(cache_ttl(Some(&p), pos, neg), pos);
        assert_eq!(cache_ttl(None, pos, neg), neg);
    }

    #[tokio::test]
    async fn answers_are_cached_and_unconfigured_or_unreachable_fails_closed() {
        // Nothing listens on port 9 of the loopback: connection refused.
        let auth = AuthServer::new("http://127.0.0.1:9", None, Duration::from_secs(1)).unwrap();
        let creds = IntrospectionCredentials {
            client_id: "rs".into(),
            client_secret: "s".into(),
        };
        let keys = ApiKeys::new(
            Some(&creds),
            16,
            Duration::from_secs(30),
            Duration::from_secs(3),
            Duration::from_secs(1),
        );
        let err = keys.check(&auth, "sked_live_abc").await.unwrap_err();
        assert!(matches!(
            err,
            AuthError::Unavailable {
                retry_after_secs: 5,
                ..
            }
        ));
        // Failures are not cached.
        assert!(keys.cache.is_empty());

        // A cached answer is served without the auth server, for its TTL only.
        let now = Instant::now();
        let p = Arc::new(principal_from_introspection(&intro(live()), 1_000).unwrap());
        let mut p2 = (*p).clone();
        p2.expires_at = crate::now_unix() + 3600;
        let p2 = Arc::new(p2);
        keys.cache.insert(
            key_of("sked_live_good"),
            Outcome::Active(p2.clone()),
            now + Duration::from_secs(30),
            Some(p2.expires_at),
            0,
            now,
        );
        keys.cache.insert(
            key_of("sked_live_revoked"),
            Outcome::Inactive,
            now + Duration::from_secs(3),
            None,
            0,
            now,
        );
        assert_eq!(keys.check(&auth, "sked_live_good").await.unwrap(), p2);
        assert!(matches!(
            keys.check(&auth, "sked_live_revoked").await,
            Err(AuthError::InvalidToken(_))
        ));
        // A cached key past its exp is not served.
        keys.cache.insert(
            key_of("sked_live_old"),
            Outcome::Active(p),
            now + Duration::from_secs(30),
            Some(1_000),
            0,
            now,
        );
        assert!(matches!(
            keys.check(&auth, "sked_live_old").await,
            Err(AuthError::Unavailable { .. })
        ));

        let unconfigured = ApiKeys::new(
            None,
            16,
            Duration::from_secs(30),
            Duration::from_secs(3),
            Duration::from_secs(1),
        );
        assert!(!unconfigured.configured());
        assert!(matches!(
            unconfigured.check(&auth, "sked_live_abc").await,
            Err(AuthError::Unavailable { .. })
        ));
    }
}
