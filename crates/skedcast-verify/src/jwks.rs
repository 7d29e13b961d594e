//! The JWKS side, pure parts: turning a JWKS document into verifiers, how
//! long a fetched document stays fresh, and the gate that limits refetches
//! on an unknown `kid`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use josekit::jws::alg::ecdsa::EcdsaJwsVerifier;

use crate::checks::Algorithm;

/// Background refreshes happen within the document's `max-age`, bounded.
pub const MIN_REFRESH: Duration = Duration::from_secs(60);
pub const MAX_REFRESH: Duration = Duration::from_secs(3600);
/// Used when the server sends no usable `max-age`.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(300);
/// At most one on-demand refetch (unknown `kid`) per this interval.
pub const UNKNOWN_KID_REFETCH: Duration = Duration::from_secs(10);
/// Largest JWKS document accepted.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Verifiers by `kid`.
pub type Keys = HashMap<String, Arc<EcdsaJwsVerifier>>;

/// The verifiers of one fetched JWKS, by `kid`.
#[derive(Default)]
pub struct KeySet {
    pub keys: Keys,
    /// Bumped whenever the set of `kid`s changes (`kid`s are thumbprints:
    /// the same `kid` is the same key).
    pub generation: u64,
    /// Whether any fetch ever succeeded.
    pub loaded: bool,
}

impl KeySet {
    pub fn same_kids(&self, other: &Keys) -> bool {
        self.keys.len() == other.len() && other.keys().all(|k| self.keys.contains_key(k))
    }
}

/// Verifiers for the usable keys of a JWKS (RFC 7517): `kty` EC on P-256,
/// `alg` absent or the configured one, `use` absent or `sig`, with a `kid`.
/// Other keys are skipped (returned by `kid` for a log line); a document
/// that is not a JWKS is an error.
pub fn parse_jwks(body: &[u8], alg: Algorithm) -> Result<(Keys, Vec<String>), String> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let keys = doc
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or("the JWKS has no `keys` array")?;
    let mut out = HashMap::new();
    let mut skipped = Vec::new();
    for k in keys {
        let kid = k.get("kid").and_then(|v| v.as_str()).unwrap_or("");
        match verifier_for(k, alg) {
            Some(v) if !kid.is_empty() => {
                out.insert(kid.to_string(), Arc::new(v));
            }
            _ => skipped.push(kid.to_string()),
        }
    }
    Ok((out, skipped))
}

fn verifier_for(k: &serde_json::Value, alg: Algorithm) -> Option<EcdsaJwsVerifier> {
    let s = |name: &str| k.get(name).and_then(|v| v.as_str());
    if s("kty") != Some("EC") || s("crv") != Some("P-256") {
        return None;
    }
    if s("alg").is_some_and(|a| a != alg.as_str()) || s("use").is_some_and(|u| u != "sig") {
        return None;
    }
    // Only the public members: a published `d` would be a leak, not a key to use.
    if k.get("d").is_some() {
        return None;
    }
    let map = k.as_object()?.clone();
    let jwk = josekit::jwk::Jwk::from_map(map).ok()?;
    match alg {
        Algorithm::Es256 => josekit::jws::ES256.verifier_from_jwk(&jwk).ok(),
    }
}

/// The `max-age` of a `Cache-Control` header (RFC 9111 §5.2.2.1);
/// `no-store`/`no-cache` count as 0.
pub fn max_age(cache_control: Option<&str>) -> Option<Duration> {
    let mut age = None;
    for directive in cache_control?.split(',') {
        let d = directive.trim();
        let (name, value) = d.split_once('=').unwrap_or((d, ""));
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "no-store" | "no-cache" => return Some(Duration::ZERO),
            "max-age" => {
                age = value
                    .trim()
                    .trim_matches('"')
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs)
            }
            _ => {}
        }
    }
    age
}

/// When to refresh a document fetched with this `Cache-Control`.
pub fn refresh_after(cache_control: Option<&str>) -> Duration {
    max_age(cache_control)
        .unwrap_or(DEFAULT_REFRESH)
        .clamp(MIN_REFRESH, MAX_REFRESH)
}

/// Opens at most once per `interval`: the unknown-`kid` refetch limiter.
#[derive(Debug)]
pub struct RefetchGate {
    interval: Duration,
    last: Option<Instant>,
}

impl RefetchGate {
    pub fn new(interval: Duration) -> Self {
        RefetchGate {
            interval,
            last: None,
        }
    }

    /// Whether a refetch may happen at `now`; if so it is counted.
    pub fn try_open(&mut self, now: Instant) -> bool {
        match self.last {
            Some(t) if now.saturating_duration_since(t) < self.interval => false,
            _ => {
                self.last = Some(now);
                true
            }
        }
    }
}

/// Back-off after failed fetches: 2 s, 4 s, ... up to a minute.
pub fn retry_after_failures(failures: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(failures.clamp(1, 6)).min(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk() -> serde_json::Value {
        crate::test_keys::generate().1
    }

    #[test]
    fn parses_our_keys_and_skips_others() {
        let good = jwk();
        let mut wrong_alg = jwk();
        wrong_alg["alg"] = "ES384".into();
        let mut enc = jwk();
        enc["use"] = "enc".into();
        let mut no_kid = jwk();
        no_kid.as_object_mut().unwrap().remove("kid");
        let mut private = jwk();
        private["d"] = "AAAA".into();
        let rsa = serde_json::json!({"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"});
        let oct = serde_json::json!({"kty":"oct","kid":"h","k":"c2VjcmV0"});
        let doc = serde_json::json!({"keys": [good, wrong_alg, enc, no_kid, private, rsa, oct]});
        let (keys, skipped) = parse_jwks(doc.to_string().as_bytes(), Algorithm::Es256).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(keys.contains_key(good["kid"].as_str().unwrap()));
        assert_eq!(skipped.len(), 6);
        assert!(parse_jwks(b"{}", Algorithm::Es256).is_err());
        assert!(parse_jwks(b"[", Algorithm::Es256).is_err());
    }

    #[test]
    fn max_age_and_bounds() {
        assert_eq!(
            max_age(Some("public, max-age=300")),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age(Some("Max-Age=\"5\"")), Some(Duration::from_secs(5)));
        assert_eq!(max_age(Some("no-store")), Some(Duration::ZERO));
        assert_eq!(max_age(Some("public")), None);
        assert_eq!(max_age(Some("max-age=abc")), None);
        assert_eq!(max_age(None), None);
        assert_eq!(refresh_after(Some("max-age=300")), Duration::from_secs(300));
        assert_eq!(refresh_after(Some("max-age=1")), MIN_REFRESH);
        assert_eq!(refresh_after(Some("no-cache")), MIN_REFRESH);
        assert_eq!(refresh_after(Some("max-age=999999")), MAX_REFRESH);
        assert_eq!(refresh_after(None), DEFAULT_REFRESH);
    }

    #[test]
    fn gate_opens_once_per_interval() {
        let mut g = RefetchGate::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(g.try_open(t0));
        assert!(!g.try_open(t0));
        assert!(!g.try_open(t0 + Duration::from_millis(9_999)));
        assert!(g.try_open(t0 + Duration::from_secs(10)));
        assert!(!g.try_open(t0 + Duration::from_secs(11)));
        let opened = (0..1000)
            .filter(|i| g.try_open(t0 + Duration::from_millis(20_000 + i * 10)))
            .count();
        assert_eq!(opened, 1, "a 10 s burst opens the gate once");
    }

    #[test]
    fn backoff_is_bounded() {
        assert_eq!(retry_after_failures(0), Duration::from_secs(2));
        assert_eq!(retry_after_failures(1), Duration::from_secs(2));
        assert_eq!(retry_after_failures(2), Duration::from_secs(4));
        assert_eq!(retry_after_failures(50), Duration::from_secs(60));
    }
}
