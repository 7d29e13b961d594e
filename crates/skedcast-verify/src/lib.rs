// The crate documentation is the README: its example compiles as a doc test.
#![doc = include_str!("../README.md")]

pub mod api_key;
pub mod auth_server;
pub mod cache;
pub mod challenge;
pub mod checks;
pub mod claims;
pub mod credential;
pub mod dpop;
pub mod jwks;
pub mod replay;

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use josekit::jws::alg::ecdsa::EcdsaJwsVerifier;

pub use api_key::{IntrospectionCredentials, looks_like_api_key};
pub use challenge::{Challenge, dpop_challenge};
pub use checks::{Algorithm, Reject};
pub use claims::{AccessClaims, Audience, Forbidden, Principal, Via, require_agency_scope};
pub use credential::{Presented, presented};
/// The shared vocabulary (scopes, roles, API-key format), so a resource
/// server needs no second dependency.
pub use skedcast_core::{self, Role, ScopeError, Scopes};

use api_key::ApiKeys;
use auth_server::{AuthServer, FetchError};
use cache::TtlCache;
use checks::Expected;
use jwks::{KeySet, RefetchGate};

/// Longest a verified token is reused without a full check.
const TOKEN_CACHE_MAX_SECS: i64 = 3600;

/// Seconds a client is told to wait when keys cannot be had.
const KEYS_RETRY_AFTER_SECS: u64 = 5;

/// How a resource server trusts its authorization server.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The issuer, compared byte for byte with `iss`.
    pub issuer: String,
    /// This resource's identifier: must be in `aud`.
    pub resource: String,
    pub algorithm: Algorithm,
    /// Clock skew allowed on `exp`/`nbf`/`iat` (capped at 60).
    pub leeway_secs: u64,
    /// The issuer's base URL as reachable from here, when the public one is
    /// not (URLs under the issuer are rewritten to it).
    pub internal_url: Option<String>,
    /// Bound of every call to the auth server.
    pub http_timeout: Duration,
    /// Verified access tokens kept (by SHA-256), 0 to disable.
    pub token_cache_size: usize,
    pub introspection: Option<IntrospectionCredentials>,
    pub api_key_cache_ttl: Duration,
    pub api_key_negative_cache_ttl: Duration,
    pub api_key_cache_size: usize,
    /// Least time between two refetches caused by unknown `kid`s.
    pub unknown_kid_refetch: Duration,
    /// The URL this service's root is reached at by clients (RFC 9449 `htu`
    /// of DPoP proofs is this plus the request's path). `None`: the origin
    /// of `resource`. Set it behind a proxy that changes the host or path.
    pub public_url: Option<String>,
    /// A DPoP proof's `iat` may be this many seconds from now either way.
    pub dpop_window_secs: u64,
    /// DPoP proofs remembered (their `jti`) within their window.
    pub dpop_replay_cache_size: usize,
}

impl VerifierConfig {
    /// The defaults of everything but who to trust.
    pub fn new(issuer: &str, resource: &str) -> Self {
        VerifierConfig {
            issuer: issuer.to_string(),
            resource: resource.to_string(),
            algorithm: Algorithm::Es256,
            leeway_secs: 30,
            internal_url: None,
            http_timeout: Duration::from_secs(3),
            token_cache_size: 10_000,
            introspection: None,
            api_key_cache_ttl: Duration::from_secs(30),
            api_key_negative_cache_ttl: Duration::from_secs(5),
            api_key_cache_size: 10_000,
            unknown_kid_refetch: jwks::UNKNOWN_KID_REFETCH,
            public_url: None,
            dpop_window_secs: 60,
            dpop_replay_cache_size: 100_000,
        }
    }
}

/// Why a credential gives no access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// 401 `invalid_token` with this description.
    InvalidToken(&'static str),
    /// 401 `invalid_dpop_proof` (RFC 9449 §7.1) with this description.
    InvalidDpopProof(String),
    /// 503 with `Retry-After`: the credential cannot be checked now.
    Unavailable {
        retry_after_secs: u64,
        reason: &'static str,
    },
}

impl From<Reject> for AuthError {
    fn from(r: Reject) -> Self {
        AuthError::InvalidToken(r.description())
    }
}

struct FetchState {
    gate: RefetchGate,
    /// Whether the last fetch succeeded.
    last_ok: bool,
    /// Consecutive failures (back-off of the background refresh).
    failures: u32,
}

/// The verifier: one per resource server, shared (`Arc`) by all requests.
pub struct Verifier {
    expected: Expected,
    algorithm: Algorithm,
    auth: AuthServer,
    keys: RwLock<Arc<KeySet>>,
    fetch: tokio::sync::Mutex<FetchState>,
    tokens: TtlCache<Arc<Principal>>,
    api_keys: ApiKeys,
    /// Where clients reach this service's root (`htu` base), no trailing `/`.
    public_url: String,
    dpop_window_secs: i64,
    proofs: replay::ReplayCache,
    proof_keys: dpop::KeyCache,
}

/// What a bound token sent as `Bearer` is told (RFC 9449 §7.2).
const BOUND_AS_BEARER: &str =
    "the access token is bound to a DPoP key: send it as Authorization: DPoP with a DPoP proof";

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Verifier {
    /// A verifier with no keys yet (see [`Verifier::start`]).
    pub fn new(config: VerifierConfig) -> anyhow::Result<Verifier> {
        let auth = AuthServer::new(
            &config.issuer,
            config.internal_url.as_deref(),
            config.http_timeout,
        )?;
        let public_url = match &config.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => url::Url::parse(&config.resource)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_else(|_| config.resource.trim_end_matches('/').to_string()),
        };
        Ok(Verifier {
            public_url,
            dpop_window_secs: config.dpop_window_secs.clamp(1, 600) as i64,
            proofs: replay::ReplayCache::new(config.dpop_replay_cache_size),
            proof_keys: dpop::KeyCache::default(),
            expected: Expected {
                issuer: config.issuer.clone(),
                resource: config.resource.clone(),
                leeway_secs: config.leeway_secs.min(checks::MAX_LEEWAY_SECS) as i64,
            },
            algorithm: config.algorithm,
            auth,
            keys: RwLock::new(Arc::new(KeySet::default())),
            fetch: tokio::sync::Mutex::new(FetchState {
                gate: RefetchGate::new(config.unknown_kid_refetch),
                last_ok: false,
                failures: 0,
            }),
            tokens: TtlCache::new(config.token_cache_size),
            api_keys: ApiKeys::new(
                config.introspection.as_ref(),
                config.api_key_cache_size,
                config.api_key_cache_ttl,
                config.api_key_negative_cache_ttl,
                config.http_timeout,
            ),
        })
    }

    /// Fetch the keys once (a failure is logged, not fatal: the background
    /// task keeps trying) and start the background refresh, which ends when
    /// the verifier is dropped.
    pub async fn start(config: VerifierConfig) -> anyhow::Result<Arc<Verifier>> {
        let v = Arc::new(Verifier::new(config)?);
        if v.api_keys.configured() {
            tracing::info!("API keys are checked through introspection");
        } else {
            tracing::warn!(
                "introspection credentials are not configured: API keys (sked_live_...) will be \
                 answered 503"
            );
        }
        let first = v.refresh().await;
        tokio::spawn(refresh_loop(Arc::downgrade(&v), first));
        Ok(v)
    }

    /// JWKS GETs so far (a metric).
    pub fn jwks_fetches(&self) -> u64 {
        self.auth.jwks_fetches()
    }

    /// Whether keys were ever loaded (readiness).
    pub fn keys_loaded(&self) -> bool {
        self.key_set().loaded
    }

    /// The resource this verifier accepts tokens for.
    pub fn resource(&self) -> &str {
        &self.expected.resource
    }

    fn key_set(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Fetch the JWKS now (background refresh and start-up); returns when to
    /// refresh next.
    pub async fn refresh(&self) -> Duration {
        let mut st = self.fetch.lock().await;
        match self.fetch_keys(&mut st).await {
            Ok(next) => next,
            Err(e) => {
                if self.keys_loaded() {
                    tracing::warn!(error = %e, "fetching the JWKS failed; verifying with cached keys");
                } else {
                    tracing::warn!(
                        error = %e,
                        "fetching the JWKS failed; no keys yet: access tokens are answered 503 \
                         until it succeeds"
                    );
                }
                jwks::retry_after_failures(st.failures)
            }
        }
    }

    /// One JWKS fetch under the fetch lock; installs the keys when usable.
    async fn fetch_keys(&self, st: &mut FetchState) -> Result<Duration, FetchError> {
        let result = self.auth.fetch_jwks().await.and_then(|(body, cc)| {
            let (keys, skipped) =
                jwks::parse_jwks(&body, self.algorithm).map_err(|problem| FetchError::Invalid {
                    url: "jwks_uri".into(),
                    problem,
                })?;
            if keys.is_empty() {
                return Err(FetchError::Invalid {
                    url: "jwks_uri".into(),
                    problem: "the JWKS holds no usable ES256 key".into(),
                });
            }
            if !skipped.is_empty() {
                tracing::debug!(
                    ?skipped,
                    "JWKS keys skipped (not EC P-256 ES256 signing keys)"
                );
            }
            Ok((keys, jwks::refresh_after(cc.as_deref())))
        });
        match result {
            Ok((keys, next)) => {
                let mut slot = self.keys.write().unwrap_or_else(|p| p.into_inner());
                let generation = if slot.same_kids(&keys) {
                    slot.generation
                } else {
                    tracing::info!(kids = ?keys.keys().collect::<Vec<_>>(), "signing keys updated");
                    slot.generation + 1
                };
                *slot = Arc::new(KeySet {
                    keys,
                    generation,
                    loaded: true,
                });
                st.last_ok = true;
                st.failures = 0;
                Ok(next)
            }
            Err(e) => {
                st.last_ok = false;
                st.failures = st.failures.saturating_add(1);
                Err(e)
            }
        }
    }

    /// The key for `kid` and the key-set generation it belongs to; an
    /// unknown `kid` refetches the JWKS at most once per interval.
    async fn key(&self, kid: &str) -> Result<(Arc<EcdsaJwsVerifier>, u64), AuthError> {
        let set = self.key_set();
        if let Some(k) = set.keys.get(kid) {
            return Ok((k.clone(), set.generation));
        }
        // Wait for a fetch in flight: it may bring this kid.
        let mut st = self.fetch.lock().await;
        let set = self.key_set();
        if let Some(k) = set.keys.get(kid) {
            return Ok((k.clone(), set.generation));
        }
        let unavailable = AuthError::Unavailable {
            retry_after_secs: KEYS_RETRY_AFTER_SECS,
            reason: "the signing keys cannot be fetched right now",
        };
        if !st.gate.try_open(Instant::now()) {
            return Err(if set.loaded && st.last_ok {
                Reject::UnknownKey.into()
            } else {
                unavailable
            });
        }
        if let Err(e) = self.fetch_keys(&mut st).await {
            tracing::warn!(error = %e, "refetching the JWKS for an unknown kid failed");
            return Err(unavailable);
        }
        let set = self.key_set();
        match set.keys.get(kid) {
            Some(k) => Ok((k.clone(), set.generation)),
            None => Err(Reject::UnknownKey.into()),
        }
    }

    /// The caller behind a bearer credential: an API key or an access token
    /// not bound to a DPoP key (a bound one needs [`Verifier::authenticate_dpop`]).
    pub async fn authenticate(&self, credential: &str) -> Result<Arc<Principal>, AuthError> {
        if looks_like_api_key(credential) {
            return self.api_keys.check(&self.auth, credential).await;
        }
        let principal = self.verify_access_token(credential).await?;
        if principal.jkt.is_some() {
            return Err(AuthError::InvalidToken(BOUND_AS_BEARER));
        }
        Ok(principal)
    }

    /// The caller behind `Authorization: DPoP <token>` (RFC 9449 §7.1) of a
    /// `method` request to `path` with the `DPoP` header `proof`: a token
    /// bound to a key, and a fresh proof by that key for this request and
    /// this token, used once. The token may come from the cache of verified
    /// tokens; the proof is checked on every request.
    pub async fn authenticate_dpop(
        &self,
        token: &str,
        proof: Option<&str>,
        method: &str,
        path: &str,
    ) -> Result<Arc<Principal>, AuthError> {
        if looks_like_api_key(token) {
            return Err(AuthError::InvalidToken(
                "API keys are sent as Authorization: Bearer",
            ));
        }
        let principal = self.verify_access_token(token).await?;
        let Some(jkt) = principal.jkt.as_deref() else {
            return Err(AuthError::InvalidToken(
                "the access token is not bound to a DPoP key: send it as Authorization: Bearer",
            ));
        };
        let Some(proof) = proof else {
            return Err(AuthError::InvalidDpopProof(
                "a DPoP proof (the DPoP header) is required with Authorization: DPoP".into(),
            ));
        };
        let now = now_unix();
        let htu = format!("{}{path}", self.public_url);
        let expected = dpop::Expected {
            htm: method,
            htu: &htu,
            now,
            window_secs: self.dpop_window_secs,
            access_token: Some(token),
        };
        let valid = dpop::verify_with(proof, &expected, &self.proof_keys)
            .map_err(|why| AuthError::InvalidDpopProof(format!("the DPoP proof {why}")))?;
        if valid.jkt != jkt {
            return Err(AuthError::InvalidDpopProof(
                "the DPoP proof is signed by another key than the one the token is bound to \
                 (cnf.jkt)"
                    .into(),
            ));
        }
        let until = valid.iat.saturating_add(self.dpop_window_secs).max(now);
        match self.proofs.use_once(jkt, &valid.jti, until, now) {
            replay::Outcome::First => Ok(principal),
            replay::Outcome::Replayed => Err(AuthError::InvalidDpopProof(
                "the DPoP proof was used before (its jti); make a fresh proof for each request"
                    .into(),
            )),
            replay::Outcome::Full => Err(AuthError::Unavailable {
                retry_after_secs: 1,
                reason: "too many DPoP proofs within their window to remember; retry",
            }),
        }
    }

    /// Verify an ES256 access token (RFC 9068) and return its caller.
    pub async fn verify_access_token(&self, token: &str) -> Result<Arc<Principal>, AuthError> {
        let hash = cache::key_of(token);
        let generation = self.key_set().generation;
        let (now, now_unix) = (Instant::now(), now_unix());
        if let Some(p) = self.tokens.get(&hash, now, now_unix, generation) {
            return Ok(p);
        }
        let parts = checks::split(token)?;
        let header = checks::parse_header(&parts.header)?;
        let kid = checks::check_header(&header, self.algorithm)?;
        let (key, generation) = self.key(kid).await?;
        checks::check_signature(&parts, key.as_ref(), self.algorithm)?;
        let claims = checks::parse_claims(&parts.payload)?;
        let now_unix = self::now_unix();
        checks::check_claims(&claims, &self.expected, now_unix)?;
        let principal = Arc::new(Principal::from_access_claims(claims));
        // Kept until exp at the latest (an hour at most), and only for this key set.
        let ttl = principal
            .expires_at
            .saturating_sub(now_unix)
            .clamp(0, TOKEN_CACHE_MAX_SECS);
        let ttl = Duration::from_secs(ttl as u64);
        let now = Instant::now();
        self.tokens.insert(
            hash,
            principal.clone(),
            now + ttl,
            Some(principal.expires_at),
            generation,
            now,
        );
        Ok(principal)
    }
}

async fn refresh_loop(verifier: Weak<Verifier>, mut next: Duration) {
    loop {
        tokio::time::sleep(next).await;
        let Some(v) = verifier.upgrade() else {
            return;
        };
        next = v.refresh().await;
    }
}

/// Test keys: an ES256 signer and its public JWK (`kid`, `alg`, `use` set).
#[cfg(test)]
pub(crate) mod test_keys {
    use josekit::jwk::KeyPair;
    use josekit::jws::ES256;
    use josekit::jws::alg::ecdsa::EcdsaJwsSigner;

    pub fn generate() -> (EcdsaJwsSigner, serde_json::Value) {
        let pair = ES256.generate_key_pair().unwrap();
        let signer = ES256.signer_from_pem(pair.to_pem_private_key()).unwrap();
        let mut jwk = pair.to_jwk_public_key();
        // Distinct per key, like the server's thumbprint kids.
        let kid = format!("k-{}", jwk.parameter("x").and_then(|x| x.as_str()).unwrap());
        jwk.set_key_id(kid);
        jwk.set_algorithm("ES256");
        jwk.set_key_use("sig");
        (signer, serde_json::Value::Object(jwk.as_ref().clone()))
    }
}
