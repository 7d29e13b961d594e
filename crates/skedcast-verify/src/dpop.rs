//! DPoP proofs (RFC 9449 §4.3), checked without I/O, one implementation for
//! the authorization server's token endpoint and every resource server.
//!
//! [`verify`] checks one proof against what the request was (`htm`, `htu`),
//! the clock, and, at a resource, the access token (`ath`). It returns what
//! only the caller can judge: the `jti` (used once within the window: the
//! authorization server keeps it in its database, a resource in memory), the
//! `nonce` (when the server asks for one) and the key's RFC 7638 thumbprint
//! (`jkt`, bound into tokens as `cnf.jkt`).
//!
//! A failure is a sentence completing "the DPoP proof ...", sent as the
//! `error_description` of `invalid_dpop_proof`.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::JwsVerifier;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// RFC 9449 §4.2 `typ`.
pub const TYP: &str = "dpop+jwt";
/// Accepted proof algorithms, in the order metadata lists them
/// (`dpop_signing_alg_values_supported`). Asymmetric only (§4.2).
pub const ALGS: [&str; 3] = ["ES256", "RS256", "PS256"];
/// Longer proofs are refused unread.
pub const MAX_LEN: usize = 8 * 1024;
/// Longest `jti` (a UUID or 128+ random bits fits many times over).
pub const MAX_JTI_LEN: usize = 256;
/// Longest `nonce` read.
pub const MAX_NONCE_LEN: usize = 256;

/// JWK members holding private or symmetric material (RFC 7518 §6).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What the proof must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's method (`POST`, `GET`).
    pub htm: &'a str,
    /// The request's URL, as the client addressed it (query ignored).
    pub htu: &'a str,
    /// Unix seconds now.
    pub now: i64,
    /// `iat` may be this far in the past or the future.
    pub window_secs: i64,
    /// The access token sent with the proof, at a resource: `ath` must be
    /// its hash ([`ath`]). `None` at the token endpoint (no `ath` checked).
    pub access_token: Option<&'a str>,
}

/// A valid proof: what the caller still has to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// RFC 7638 SHA-256 thumbprint of the proof's key, base64url.
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
    pub nonce: Option<String>,
    pub ath: Option<String>,
}

/// The one `DPoP` header of a request, if any; more than one, or one that
/// is not visible ASCII, is an invalid proof (RFC 9449 §4.3 step 1).
pub fn proof_header(headers: &http::HeaderMap) -> Result<Option<&str>, &'static str> {
    let mut values = headers.get_all("dpop").iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err("send exactly one DPoP header");
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| "the DPoP header is not visible ASCII")
}

/// `ath` of an access token (RFC 9449 §4.2): its SHA-256, base64url.
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// RFC 7638 thumbprint of a public EC or RSA JWK: SHA-256 of the required
/// members in lexicographic order, no whitespace; base64url. `None` for
/// another key type or a missing member.
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    let canonical = match member("kty")? {
        "EC" => serde_json::json!({
            "crv": member("crv")?, "kty": "EC", "x": member("x")?, "y": member("y")?,
        }),
        "RSA" => serde_json::json!({ "e": member("e")?, "kty": "RSA", "n": member("n")? }),
        _ => return None,
    };
    // serde_json writes objects without whitespace; `json!` keeps the
    // members in the order written (preserve_order) and that order is sorted.
    let bytes = serde_json::to_vec(&canonical).ok()?;
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(&bytes)))
}

/// RFC 9449 §4.3 step 9 (RFC 3986 §6.2.2, §6.2.3): `htu` without query and
/// fragment, scheme and host lowercased, default port dropped, dot segments
/// and percent-encoding case normalised. `None` when it is not an absolute
/// http(s) URL.
pub fn normalize_htu(htu: &str) -> Option<String> {
    let mut url = url::Url::parse(htu).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    // `url` already lowercases the scheme and host, drops the default port,
    // removes dot segments and gives an empty path as "/"; what is left is
    // the case of percent-encodings (RFC 3986 §6.2.2.1).
    let s = url.as_str();
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for h in chars.by_ref().take(2) {
                out.push(h.to_ascii_uppercase());
            }
        }
    }
    Some(out)
}

/// Verifiers made from proof keys, by algorithm and RFC 7638 thumbprint: a
/// client signs its proofs with one key, and making an OpenSSL key from a
/// JWK costs twice the signature check. The thumbprint covers every member
/// that defines the public key, so an equal thumbprint is the same key.
/// Bounded; when full it is emptied (a miss only costs one import).
pub struct KeyCache {
    capacity: usize,
    map: std::sync::RwLock<std::collections::HashMap<KeyId, Arc<dyn JwsVerifier>>>,
}

/// A proof key: its algorithm and thumbprint.
type KeyId = (&'static str, String);

/// Keys remembered by default.
pub const KEY_CACHE_SIZE: usize = 10_000;

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache::new(KEY_CACHE_SIZE)
    }
}

impl KeyCache {
    /// `capacity` 0 disables it.
    pub fn new(capacity: usize) -> Self {
        KeyCache {
            capacity,
            map: Default::default(),
        }
    }

    fn get(&self, alg: &'static str, jkt: &str) -> Option<Arc<dyn JwsVerifier>> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(&(alg, jkt.to_string())).cloned()
    }

    fn insert(&self, alg: &'static str, jkt: &str, v: Arc<dyn JwsVerifier>) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert((alg, jkt.to_string()), v);
    }
}

/// Check a DPoP proof (the `DPoP` header's value) against `expected`.
/// The `jti` and `nonce` are the caller's to judge.
pub fn verify(proof: &str, expected: &Expected<'_>) -> Result<Proof, String> {
    verify_with(proof, expected, &KeyCache::new(0))
}

/// [`verify`], reusing the verifier of a key seen before.
pub fn verify_with(proof: &str, expected: &Expected<'_>, keys: &KeyCache) -> Result<Proof, String> {
    if proof.len() > MAX_LEN {
        return Err(format!("is longer than {MAX_LEN} bytes"));
    }
    let parts: Vec<&str> = proof.split('.').collect();
    if parts.len() != 3 {
        return Err("is not a signed JWT (compact serialization: three base64url parts)".into());
    }
    let header = decode_object(parts[0]).ok_or("has a header that is not base64url JSON")?;
    if header.get("typ").and_then(Value::as_str) != Some(TYP) {
        return Err(format!("must have typ {TYP}"));
    }
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let Some(alg) = ALGS.into_iter().find(|a| *a == alg) else {
        return Err(format!(
            "is signed with an alg that is not accepted (accepted: {})",
            ALGS.join(", ")
        ));
    };
    if header.contains_key("crit") {
        return Err("has a crit header parameter; no extension is understood".into());
    }
    let Some(Value::Object(jwk)) = header.get("jwk") else {
        return Err("has no jwk header parameter (the public key)".into());
    };
    if let Some(m) = PRIVATE_MEMBERS.into_iter().find(|m| jwk.contains_key(*m)) {
        return Err(format!(
            "has a jwk with the private member {m}; send the public key only"
        ));
    }
    let jkt = thumbprint(jwk).ok_or("has a jwk that is not an EC or RSA public key")?;
    let verifier = match keys.get(alg, &jkt) {
        Some(v) => v,
        None => {
            let v = import(alg, jwk)?;
            keys.insert(alg, &jkt, v.clone());
            v
        }
    };
    let (payload, _) = josekit::jws::deserialize_compact(proof, &*verifier)
        .map_err(|_| "has a signature that does not verify with its jwk".to_string())?;
    let claims: Map<String, Value> = serde_json::from_slice::<Value>(&payload)
        .ok()
        .and_then(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .ok_or("has a payload that is not a JSON object")?;
    check_claims(&claims, jkt, expected)
}

/// A verifier for `alg` from the proof's public `jwk`.
fn import(alg: &str, jwk: &Map<String, Value>) -> Result<Arc<dyn JwsVerifier>, String> {
    // The key's own kid, alg and use say nothing here: it is chosen by the
    // proof, and josekit would otherwise ask for a matching kid header.
    let mut key = jwk.clone();
    key.remove("kid");
    key.remove("use");
    key.remove("alg");
    key.remove("key_ops");
    let key = Jwk::from_map(key).map_err(|_| "has a jwk that is not a valid JWK")?;
    Ok(match alg {
        "RS256" => Arc::new(
            josekit::jws::RS256
                .verifier_from_jwk(&key)
                .map_err(unusable)?,
        ),
        "PS256" => Arc::new(
            josekit::jws::PS256
                .verifier_from_jwk(&key)
                .map_err(unusable)?,
        ),
        _ => Arc::new(
            josekit::jws::ES256
                .verifier_from_jwk(&key)
                .map_err(unusable)?,
        ),
    })
}

fn unusable(_: josekit::JoseError) -> String {
    "has a jwk that does not fit its alg (ES256: EC P-256; RS256, PS256: RSA of 2048 bits or more)"
        .into()
}

fn decode_object(part: &str) -> Option<Map<String, Value>> {
    match serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The claims of a correctly signed proof (RFC 9449 §4.2, §4.3 steps 8-12).
fn check_claims(
    claims: &Map<String, Value>,
    jkt: String,
    expected: &Expected<'_>,
) -> Result<Proof, String> {
    let string = |name: &str| claims.get(name).and_then(Value::as_str);
    let jti = match string("jti") {
        Some(j) if !j.is_empty() && j.len() <= MAX_JTI_LEN => j.to_string(),
        Some(_) => {
            return Err(format!(
                "has a jti that is empty or over {MAX_JTI_LEN} bytes"
            ));
        }
        None => return Err("has no jti".into()),
    };
    match string("htm") {
        Some(m) if m == expected.htm => {}
        Some(_) => return Err(format!("has an htm that is not {}", expected.htm)),
        None => return Err("has no htm".into()),
    }
    let Some(htu) = string("htu") else {
        return Err("has no htu".into());
    };
    let want = normalize_htu(expected.htu);
    if want.is_none() || normalize_htu(htu) != want {
        return Err(format!(
            "has an htu that is not this endpoint's URL ({})",
            want.as_deref().unwrap_or(expected.htu)
        ));
    }
    let iat = match claims.get("iat") {
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .ok_or("has an iat that is not a number")?,
        None => return Err("has no iat".into()),
    };
    if iat < expected.now.saturating_sub(expected.window_secs)
        || iat > expected.now.saturating_add(expected.window_secs)
    {
        return Err(format!(
            "has an iat more than {} s from the server's time; make a fresh proof",
            expected.window_secs
        ));
    }
    let ath_claim = string("ath").map(str::to_string);
    if let Some(token) = expected.access_token {
        match &ath_claim {
            Some(a) if *a == ath(token) => {}
            Some(_) => return Err("has an ath that is not the hash of the access token".into()),
            None => return Err("has no ath (required with an access token)".into()),
        }
    }
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(n)) if n.len() <= MAX_NONCE_LEN => Some(n.clone()),
        Some(_) => return Err("has a nonce that is not a short string".into()),
    };
    Ok(Proof {
        jkt,
        jti,
        iat,
        nonce,
        ath: ath_claim,
    })
}

/// Test proofs: a key pair and a signer, for this crate's tests and for
/// clients in tests and benchmarks.
pub mod testing {
    use std::sync::atomic::{AtomicU64, Ordering};

    use josekit::jwk::alg::ec::EcCurve;
    use josekit::jws::JwsHeader;
    use serde_json::{Map, Value};

    /// A client's DPoP key (ES256 by default).
    pub struct ProofKey {
        pub alg: &'static str,
        signer: Box<dyn josekit::jws::JwsSigner>,
        pub public: Map<String, Value>,
    }

    impl ProofKey {
        pub fn es256() -> ProofKey {
            let pair = josekit::jwk::Jwk::generate_ec_key(EcCurve::P256).expect("EC key");
            let signer = josekit::jws::ES256.signer_from_jwk(&pair).expect("signer");
            let public = pair.to_public_key().expect("public").as_ref().clone();
            ProofKey {
                alg: "ES256",
                signer: Box::new(signer),
                public,
            }
        }

        pub fn rs256() -> ProofKey {
            let pair = josekit::jwk::Jwk::generate_rsa_key(2048).expect("RSA key");
            let signer = josekit::jws::RS256.signer_from_jwk(&pair).expect("signer");
            let public = pair.to_public_key().expect("public").as_ref().clone();
            ProofKey {
                alg: "RS256",
                signer: Box::new(signer),
                public,
            }
        }

        /// The key's RFC 7638 thumbprint.
        pub fn jkt(&self) -> String {
            super::thumbprint(&self.public).expect("thumbprint")
        }

        /// A proof with these header members and claims, signed.
        pub fn sign_raw(&self, header: Map<String, Value>, claims: &Value) -> String {
            let header = JwsHeader::from_map(header).expect("header");
            let payload = serde_json::to_vec(claims).expect("claims");
            josekit::jws::serialize_compact(&payload, &header, &*self.signer).expect("sign")
        }

        /// The usual header: typ, alg, the public jwk.
        pub fn header(&self) -> Map<String, Value> {
            let mut h = Map::new();
            h.insert("typ".into(), super::TYP.into());
            h.insert("alg".into(), self.alg.into());
            h.insert("jwk".into(), Value::Object(self.public.clone()));
            h
        }

        /// A fresh proof for `htm` `htu` at `iat`, with `ath` of
        /// `access_token` and `nonce` when given.
        pub fn proof(
            &self,
            htm: &str,
            htu: &str,
            iat: i64,
            access_token: Option<&str>,
            nonce: Option<&str>,
        ) -> String {
            let mut claims = serde_json::json!({
                "jti": fresh_jti(),
                "htm": htm, "htu": htu, "iat": iat,
            });
            if let Some(t) = access_token {
                claims["ath"] = super::ath(t).into();
            }
            if let Some(n) = nonce {
                claims["nonce"] = n.into();
            }
            self.sign_raw(self.header(), &claims)
        }
    }

    /// Unique within the process and across runs: the time and a counter.
    fn fresh_jti() -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{nanos:x}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::ProofKey;
    use super::*;
    use serde_json::json;

    const HTU: &str = "https://as.example/oauth/token";
    const NOW: i64 = 1_000_000;

    fn expected() -> Expected<'static> {
        Expected {
            htm: "POST",
            htu: HTU,
            now: NOW,
            window_secs: 60,
            access_token: None,
        }
    }

    fn claims() -> Value {
        json!({"jti": "j-1", "htm": "POST", "htu": HTU, "iat": NOW})
    }

    fn err(proof: &str, e: &Expected<'_>) -> String {
        verify(proof, e).unwrap_err()
    }

    #[test]
    fn a_good_proof_gives_its_key_thumbprint_and_claims() {
        for key in [ProofKey::es256(), ProofKey::rs256()] {
            let mut c = claims();
            c["nonce"] = "n1".into();
            let p = verify(&key.sign_raw(key.header(), &c), &expected()).unwrap();
            assert_eq!(p.jkt, key.jkt());
            assert_eq!((p.jti.as_str(), p.iat), ("j-1", NOW));
            assert_eq!((p.nonce.as_deref(), p.ath), (Some("n1"), None));
        }
    }

    #[test]
    fn a_cached_key_checks_the_same() {
        let keys = KeyCache::new(1);
        let (key, other) = (ProofKey::es256(), ProofKey::es256());
        for _ in 0..2 {
            let p = key.sign_raw(key.header(), &claims());
            assert_eq!(verify_with(&p, &expected(), &keys).unwrap().jkt, key.jkt());
            // Signed by another key while naming the cached one: refused.
            let forged = other.sign_raw(key.header(), &claims());
            assert!(
                verify_with(&forged, &expected(), &keys)
                    .unwrap_err()
                    .contains("signature")
            );
        }
        // Full: emptied, still correct.
        let p = other.sign_raw(other.header(), &claims());
        assert_eq!(
            verify_with(&p, &expected(), &keys).unwrap().jkt,
            other.jkt()
        );
    }

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 §3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(jwk.as_object().unwrap()).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn header_checks() {
        let key = ProofKey::es256();
        let mut h = key.header();
        h.insert("typ".into(), "JWT".into());
        assert!(err(&key.sign_raw(h, &claims()), &expected()).contains("typ"));
        let mut h = key.header();
        h.remove("jwk");
        assert!(err(&key.sign_raw(h, &claims()), &expected()).contains("no jwk"));
        // josekit refuses to sign an unknown crit: craft the header by hand.
        let mut h2 = key.header();
        h2.insert("crit".into(), json!(["x"]));
        let proof = key.sign_raw(key.header(), &claims());
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h2).unwrap()),
            proof.split_once('.').unwrap().1
        );
        assert!(err(&forged, &expected()).contains("crit"));
        // A private member in the jwk.
        let mut h = key.header();
        h.get_mut("jwk").unwrap()["d"] = "AAAA".into();
        let proof = key.sign_raw(key.header(), &claims());
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h).unwrap()),
            proof.split_once('.').unwrap().1
        );
        assert!(err(&forged, &expected()).contains("private member d"));
        // alg none / HS256 / an unlisted alg.
        for alg in ["none", "HS256", "ES384"] {
            let mut h = key.header();
            h.insert("alg".into(), alg.into());
            let forged = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h).unwrap()),
                proof.split_once('.').unwrap().1
            );
            assert!(err(&forged, &expected()).contains("alg"), "{alg}");
        }
        for bad in ["", "a.b", "a.b.c.d", "!.!.!"] {
            assert!(verify(bad, &expected()).is_err(), "{bad}");
        }
        assert!(err(&"a".repeat(MAX_LEN + 1), &expected()).contains("longer"));
    }

    #[test]
    fn the_signature_must_be_the_jwks_key() {
        let (key, other) = (ProofKey::es256(), ProofKey::es256());
        // Signed by `other`, naming `key`'s public key.
        let proof = other.sign_raw(key.header(), &claims());
        assert!(err(&proof, &expected()).contains("signature"));
        // An RSA key under ES256.
        let rsa = ProofKey::rs256();
        let mut h = rsa.header();
        h.insert("alg".into(), "ES256".into());
        let proof = key.sign_raw(key.header(), &claims());
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h).unwrap()),
            proof.split_once('.').unwrap().1
        );
        assert!(err(&forged, &expected()).contains("does not fit"));
    }

    #[test]
    fn claim_checks() {
        let key = ProofKey::es256();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut c = claims();
            f(&mut c);
            key.sign_raw(key.header(), &c)
        };
        let e = expected();
        type Change = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|c| drop(c.as_object_mut().unwrap().remove("jti"))),
                "no jti",
            ),
            (Box::new(|c| c["jti"] = "".into()), "jti"),
            (Box::new(|c| c["htm"] = "GET".into()), "htm"),
            (
                Box::new(|c| drop(c.as_object_mut().unwrap().remove("htm"))),
                "no htm",
            ),
            (
                Box::new(|c| c["htu"] = "https://as.example/oauth/par".into()),
                "htu",
            ),
            (
                Box::new(|c| c["htu"] = "https://evil.example/oauth/token".into()),
                "htu",
            ),
            (
                Box::new(|c| c["htu"] = "http://as.example/oauth/token".into()),
                "htu",
            ),
            (
                Box::new(|c| drop(c.as_object_mut().unwrap().remove("htu"))),
                "no htu",
            ),
            (Box::new(|c| c["iat"] = (NOW - 61).into()), "iat"),
            (Box::new(|c| c["iat"] = (NOW + 61).into()), "iat"),
            (Box::new(|c| c["iat"] = "now".into()), "iat"),
            (
                Box::new(|c| drop(c.as_object_mut().unwrap().remove("iat"))),
                "no iat",
            ),
            (Box::new(|c| c["nonce"] = 5.into()), "nonce"),
        ];
        for (change, says) in cases {
            let proof = with(&*change);
            let why = err(&proof, &e);
            assert!(why.contains(says), "{why} / {says}");
        }
        // Within the window either way.
        assert!(verify(&with(&|c| c["iat"] = (NOW - 60).into()), &e).is_ok());
        assert!(verify(&with(&|c| c["iat"] = (NOW + 60).into()), &e).is_ok());
    }

    #[test]
    fn htu_is_compared_normalised_without_query_and_fragment() {
        let key = ProofKey::es256();
        for htu in [
            "https://AS.example:443/oauth/token",
            "https://as.example/oauth/./token?x=1#f",
            "HTTPS://as.example/oauth/token",
        ] {
            let mut c = claims();
            c["htu"] = htu.into();
            assert!(
                verify(&key.sign_raw(key.header(), &c), &expected()).is_ok(),
                "{htu}"
            );
        }
        // The request URL's query is ignored too.
        let e = Expected {
            htu: "https://as.example/oauth/token?a=b",
            ..expected()
        };
        assert!(verify(&key.sign_raw(key.header(), &claims()), &e).is_ok());
        assert_eq!(
            normalize_htu("https://a.example/%7e%2fx?q").as_deref(),
            Some("https://a.example/%7E%2Fx")
        );
        assert_eq!(normalize_htu("urn:x:y"), None);
        assert_eq!(normalize_htu("/relative"), None);
    }

    #[test]
    fn ath_is_required_with_an_access_token() {
        let key = ProofKey::es256();
        let e = Expected {
            htm: "GET",
            htu: "https://api.example/v1/agency",
            access_token: Some("tok"),
            ..expected()
        };
        let good = key.proof("GET", e.htu, NOW, Some("tok"), None);
        assert_eq!(verify(&good, &e).unwrap().ath, Some(ath("tok")));
        let none = key.proof("GET", e.htu, NOW, None, None);
        assert!(err(&none, &e).contains("no ath"));
        let other = key.proof("GET", e.htu, NOW, Some("another"), None);
        assert!(err(&other, &e).contains("ath"));
    }
}
