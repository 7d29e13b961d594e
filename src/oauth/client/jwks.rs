//! A `private_key_jwt` client's public keys (RFC 7517 JWK Set, RFC 7591 §2
//! `jwks` / `jwks_uri`, issue 14 item 1).
//!
//! [`parse`] (pure) checks a JWK Set, given inline at registration or
//! fetched: public keys only (a private member is refused, whoever sent
//! it, because it means the client leaked its key), each usable by one of
//! the accepted algorithms ([`super::assertion::ALGS`]).
//!
//! [`JwksCache`] keeps what this instance fetched from `jwks_uri`s: the
//! fetch is a metadata document's ([`metadata_document::fetch`]: same URL
//! and address policy, size and time limits, and fetch rate limits), kept
//! as long as its `Cache-Control` says (within the `cimd.*_cache_secs`
//! bounds), and fetched again early when an assertion names an unknown
//! `kid` (key rotation): such early fetches at most once per
//! [`REFETCH_SECS`] per URL, so unknown `kid`s cannot make the server fetch
//! at will.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use josekit::jwk::Jwk;
use serde_json::Value;

use super::metadata_document::{self, fetch};
use crate::AppState;
use crate::oauth::error::OAuthError;
use crate::oauth::params::quote;

/// At most this many keys in a set.
pub const MAX_KEYS: usize = 10;
/// A set is fetched again early for an unknown `kid` at most this often.
pub const REFETCH_SECS: i64 = 10;
/// Bound on remembered sets; beyond it expired ones are dropped first.
pub const MAX_ENTRIES: usize = 1_000;

/// JWK members that hold private or symmetric key material (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The first private member of any key of `set`, if there is one: such a
/// set is refused whatever it is registered for.
pub fn private_member(set: &Value) -> Option<&'static str> {
    let keys = set.get("keys")?.as_array()?;
    keys.iter()
        .filter_map(Value::as_object)
        .find_map(private_member_of)
}

/// The first private member of one key, if it has one.
fn private_member_of(key: &serde_json::Map<String, Value>) -> Option<&'static str> {
    PRIVATE_MEMBERS.into_iter().find(|m| key.contains_key(*m))
}

/// The keys of a JWK Set, or why it is not acceptable (completes "jwks ...").
pub fn parse(set: &Value) -> Result<Vec<Jwk>, String> {
    let Some(keys) = set.as_object().and_then(|o| o.get("keys")) else {
        return Err("must be a JSON object with a \"keys\" array (RFC 7517 §5)".into());
    };
    let Value::Array(keys) = keys else {
        return Err("keys must be an array".into());
    };
    if keys.is_empty() {
        return Err("has no keys".into());
    }
    if keys.len() > MAX_KEYS {
        return Err(format!(
            "has {} keys; at most {MAX_KEYS} are allowed",
            keys.len()
        ));
    }
    keys.iter()
        .enumerate()
        .map(|(i, k)| key(k).map_err(|why| format!("key {i}: {why}")))
        .collect()
}

fn key(value: &Value) -> Result<Jwk, String> {
    let Value::Object(map) = value else {
        return Err("is not a JSON object".into());
    };
    if let Some(m) = private_member_of(map) {
        return Err(format!(
            "contains the private member \"{m}\": a JWK Set here holds public keys only \
             (treat that key as compromised)"
        ));
    }
    let jwk = Jwk::from_map(map.clone()).map_err(|e| format!("is not a JWK ({e})"))?;
    let alg = match (jwk.key_type(), jwk.algorithm()) {
        ("RSA", None) => "RS256",
        ("EC", None) => "ES256",
        (_, Some(alg)) if super::assertion::ALGS.contains(&alg) => alg,
        (_, Some(alg)) => {
            return Err(format!(
                "alg {} is not accepted (accepted: {})",
                quote(alg),
                super::assertion::ALGS.join(", ")
            ));
        }
        (kty, None) => {
            return Err(format!(
                "kty {} is not accepted (RSA or EC P-256)",
                quote(kty)
            ));
        }
    };
    super::assertion::verifier(alg, &jwk).map_err(|e| format!("is not usable with {alg} ({e})"))?;
    Ok(jwk)
}

struct Entry {
    keys: Arc<Vec<Jwk>>,
    expires_at: i64,
    /// The last early fetch for an unknown `kid`.
    refetched_at: Option<i64>,
}

/// See the module documentation.
#[derive(Default)]
pub struct JwksCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl JwksCache {
    fn fresh(&self, uri: &str, now: i64) -> Option<Arc<Vec<Jwk>>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(uri)
            .filter(|e| e.expires_at > now)
            .map(|e| e.keys.clone())
    }

    /// Whether the set at `uri` may be fetched again early (for an unknown
    /// `kid`) at `now`: if so, that fetch is counted from now on.
    fn take_refetch(&self, uri: &str, now: i64) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get_mut(uri) {
            None => true,
            Some(e) if e.refetched_at.is_some_and(|t| now - t < REFETCH_SECS) => false,
            Some(e) => {
                e.refetched_at = Some(now);
                true
            }
        }
    }

    fn store(&self, uri: &str, keys: Arc<Vec<Jwk>>, now: i64, expires_at: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(uri) {
            entries.retain(|_, e| e.expires_at > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let refetched_at = entries.get(uri).and_then(|e| e.refetched_at);
        entries.insert(
            uri.to_string(),
            Entry {
                keys,
                expires_at,
                refetched_at,
            },
        );
    }
}

/// Why keys could not be had: completes "the client's keys ...".
fn unusable(why: impl std::fmt::Display) -> OAuthError {
    OAuthError::invalid_client(
        format!("the client's jwks_uri cannot be used: {why}"),
        false,
    )
}

/// The keys published at `uri`: remembered while fresh, otherwise fetched
/// (`refetch`: fetch now, for an unknown `kid`, unless the last such fetch
/// is less than [`REFETCH_SECS`] old; `None` then means "not again so
/// soon").
pub async fn keys_at(
    state: &AppState,
    ip: Option<IpAddr>,
    uri: &str,
    refetch: bool,
) -> Result<Option<Arc<Vec<Jwk>>>, OAuthError> {
    let now = crate::clock::now();
    let cache = &state.jwks;
    if refetch {
        if !cache.take_refetch(uri, now) {
            return Ok(None);
        }
    } else if let Some(keys) = cache.fresh(uri, now) {
        return Ok(Some(keys));
    }
    let cfg = &state.settings.cimd;
    let url = metadata_document::url::fetchable_url(uri, cfg.allow_loopback, false)
        .map_err(|why| unusable(format!("the URL {why}")))?;
    metadata_document::admit(state, ip, &url, now).await?;
    let fetched = fetch::fetch(&url, cfg)
        .await
        .map_err(|e| unusable(e.description.replace("the document", "the JWK Set")))?;
    let set: Value = serde_json::from_slice(&fetched.body)
        .map_err(|e| unusable(format!("the JWK Set is not valid JSON ({e})")))?;
    let keys = Arc::new(parse(&set).map_err(|why| unusable(format!("the JWK Set {why}")))?);
    let ttl = fetch::cache_secs(
        fetched.cache_control.as_deref(),
        cfg.min_cache_secs,
        cfg.max_cache_secs,
    );
    tracing::info!(jwks_uri = uri, cache_secs = ttl, "client JWK Set fetched");
    cache.store(uri, keys.clone(), now, now + ttl as i64);
    Ok(Some(keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ec_public() -> Value {
        let jwk = Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256)
            .unwrap()
            .to_public_key()
            .unwrap();
        Value::Object(jwk.into())
    }

    #[test]
    fn public_keys_only() {
        let k = ec_public();
        assert_eq!(parse(&json!({ "keys": [k.clone()] })).unwrap().len(), 1);
        let private = Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
        let e = parse(&json!({ "keys": [Value::Object(private.into())] })).unwrap_err();
        assert!(e.contains("private member \"d\""), "{e}");
        for m in ["p", "q", "dp", "dq", "qi", "k"] {
            let mut bad = k.clone();
            bad[m] = json!("AQAB");
            let e = parse(&json!({ "keys": [bad] })).unwrap_err();
            assert!(e.contains(&format!("\"{m}\"")), "{m}: {e}");
        }
    }

    #[test]
    fn shapes() {
        let k = ec_public();
        for (set, why) in [
            (json!([]), "\"keys\" array"),
            (json!({ "keys": {} }), "must be an array"),
            (json!({ "keys": [] }), "no keys"),
            (json!({ "keys": vec![k.clone(); MAX_KEYS + 1] }), "at most"),
            (json!({ "keys": [1] }), "not a JSON object"),
            (json!({ "keys": [{ "kty": "oct" }] }), "kty"),
            (json!({ "keys": [{ "kty": "EC", "alg": "HS256" }] }), "alg"),
            (
                json!({ "keys": [{ "kty": "EC", "crv": "P-256" }] }),
                "not usable",
            ),
        ] {
            let e = parse(&set).unwrap_err();
            assert!(e.contains(why), "{set}: {e}");
        }
        // A key for another use is refused too.
        let mut enc = k.clone();
        enc["use"] = json!("enc");
        assert!(parse(&json!({ "keys": [enc] })).is_err());
    }

    #[test]
    fn early_refetch_at_most_every_ten_seconds() {
        let c = JwksCache::default();
        assert!(c.take_refetch("u", 100));
        c.store("u", Arc::new(vec![]), 100, 400);
        assert!(c.fresh("u", 399).is_some() && c.fresh("u", 400).is_none());
        // Right after the first fetch: one early fetch, then none for 10 s.
        assert!(c.take_refetch("u", 101));
        c.store("u", Arc::new(vec![]), 101, 401);
        assert!(!c.take_refetch("u", 110));
        assert!(c.take_refetch("u", 111));
    }
}
