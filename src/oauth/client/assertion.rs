//! `private_key_jwt` client assertions (RFC 7523 §2.2 and §3, RFC 7521
//! §4.2), checked without I/O: [`header`] reads what the assertion says
//! about its signature (to find the key); [`verify`] checks the signature
//! with the client's keys and the claims against the client and the clock.
//! Whether its `jti` was used before is the caller's question
//! ([`super::assertion_jti`]), asked only of a valid assertion.
//!
//! A failure is a sentence for the `invalid_client` description (it
//! completes "the client assertion ...").

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::JwsVerifier;
use serde_json::Value;

use crate::oauth::params::quote;

/// RFC 7523 §2.2 `client_assertion_type`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Accepted signature algorithms, as the metadata lists them
/// (`token_endpoint_auth_signing_alg_values_supported`). Never `none`, never
/// a MAC (HS*): the client has no shared secret.
pub const ALGS: [&str; 3] = ["ES256", "PS256", "RS256"];
/// `exp` at most this far ahead: an assertion is for one request.
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Clock skew allowed for `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: i64 = 30;
/// Longer assertions are refused unread.
pub const MAX_LEN: usize = 16 * 1024;
/// Longest `jti`.
pub const MAX_JTI_LEN: usize = 256;

/// What an assertion says about its signature.
#[derive(Debug, PartialEq, Eq)]
pub struct Header {
    pub alg: &'static str,
    pub kid: Option<String>,
}

/// A valid assertion: its `jti`, usable once until `exp`.
#[derive(Debug, PartialEq, Eq)]
pub struct Valid {
    pub jti: String,
    pub exp: i64,
}

/// Why an assertion is not valid.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// It names a `kid` the client's keys do not have (the caller may fetch
    /// a `jwks_uri` again, once).
    UnknownKid(String),
    Invalid(String),
}

fn invalid(why: impl Into<String>) -> Failure {
    Failure::Invalid(why.into())
}

/// A verifier for `alg` from `jwk` (josekit refuses an RSA key under 2048
/// bits, an EC key not on P-256 for ES256, and a key whose `alg` or `use`
/// says otherwise).
pub fn verifier(alg: &str, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, josekit::JoseError> {
    Ok(match alg {
        "RS256" => Box::new(josekit::jws::RS256.verifier_from_jwk(jwk)?),
        "PS256" => Box::new(josekit::jws::PS256.verifier_from_jwk(jwk)?),
        _ => Box::new(josekit::jws::ES256.verifier_from_jwk(jwk)?),
    })
}

/// `jwk` without its `kid`: the key was already chosen by its `kid`, and
/// josekit would otherwise demand one in an assertion's header (RFC 7515
/// makes it optional).
fn without_kid(jwk: &Jwk) -> Jwk {
    let mut map = jwk.as_ref().clone();
    map.remove("kid");
    Jwk::from_map(map).unwrap_or_else(|_| jwk.clone())
}

/// The JOSE header of a compact JWS, unverified: `alg` one of [`ALGS`], no
/// `crit` (no extension is understood).
pub fn header(assertion: &str) -> Result<Header, Failure> {
    if assertion.len() > MAX_LEN {
        return Err(invalid(format!("is longer than {MAX_LEN} bytes")));
    }
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 {
        return Err(invalid(
            "is not a signed JWT (compact serialization: three base64url parts)",
        ));
    }
    let header = URL_SAFE_NO_PAD
        .decode(parts[0])
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .ok_or_else(|| invalid("has a header that is not base64url JSON"))?;
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let Some(alg) = ALGS.into_iter().find(|a| *a == alg) else {
        return Err(invalid(format!(
            "is signed with alg {}; accepted: {}",
            quote(alg),
            ALGS.join(", ")
        )));
    };
    if header.get("crit").is_some() {
        return Err(invalid(
            "has a crit header parameter; no extension is understood",
        ));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(invalid("has a kid that is not a string")),
    };
    Ok(Header { alg, kid })
}

/// The `sub` of an assertion, unverified: the client it claims to be, for
/// a request without `client_id` (RFC 7521 §4.2 makes it optional).
pub fn claimed_client(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("sub")?.as_str().map(str::to_string)
}

/// Check `assertion` (whose header is `h`) as an authentication of
/// `client_id` with `keys`, at `now`: signed by one of the keys that fit
/// `alg` (the one named by `kid`, if any); `iss` = `sub` = `client_id`;
/// `aud` one of `audiences`; `exp` present, not past, at most
/// [`MAX_LIFETIME_SECS`] ahead; `nbf` and `iat` not in the future; `jti`
/// present. Clock comparisons allow [`LEEWAY_SECS`].
pub fn verify(
    assertion: &str,
    h: &Header,
    client_id: &str,
    audiences: &[String],
    keys: &[Jwk],
    now: i64,
) -> Result<Valid, Failure> {
    let candidates: Vec<&Jwk> = keys
        .iter()
        .filter(|k| h.kid.is_none() || k.key_id() == h.kid.as_deref())
        .collect();
    if candidates.is_empty()
        && let Some(kid) = &h.kid
    {
        return Err(Failure::UnknownKid(kid.clone()));
    }
    let payload = candidates
        .iter()
        .filter_map(|k| verifier(h.alg, &without_kid(k)).ok())
        .find_map(|v| josekit::jws::deserialize_compact(assertion, &*v).ok())
        .map(|(payload, _)| payload)
        .ok_or_else(|| {
            invalid(format!(
                "signature does not verify with the client's {} keys{}",
                h.alg,
                h.kid
                    .as_deref()
                    .map(|k| format!(" (kid {})", quote(k)))
                    .unwrap_or_default()
            ))
        })?;
    let claims: Value = serde_json::from_slice(&payload)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| invalid("has a payload that is not a JSON object"))?;
    check_claims(&claims, client_id, audiences, now)
}

/// The claims of a correctly signed assertion (RFC 7523 §3).
pub fn check_claims(
    claims: &Value,
    client_id: &str,
    audiences: &[String],
    now: i64,
) -> Result<Valid, Failure> {
    for claim in ["iss", "sub"] {
        match claims.get(claim).and_then(Value::as_str) {
            Some(v) if v == client_id => {}
            Some(v) => {
                return Err(invalid(format!(
                    "has {claim} {} but must have the client_id {}",
                    quote(v),
                    quote(client_id)
                )));
            }
            None => {
                return Err(invalid(format!(
                    "has no {claim} (it must be the client_id)"
                )));
            }
        }
    }
    let aud: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !aud.iter().any(|a| audiences.iter().any(|x| x == a)) {
        return Err(invalid(format!(
            "has aud {} but must name this server: the issuer {}",
            claims.get("aud").map_or("(none)".into(), Value::to_string),
            quote(audiences.first().map_or("", String::as_str))
        )));
    }
    let time = |claim: &str| -> Result<Option<i64>, Failure> {
        match claims.get(claim) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| invalid(format!("has a {claim} that is not a number"))),
        }
    };
    let Some(exp) = time("exp")? else {
        return Err(invalid("has no exp (required, RFC 7523 §3)"));
    };
    if exp + LEEWAY_SECS <= now {
        return Err(invalid("has expired (exp is in the past)"));
    }
    if exp > now + MAX_LIFETIME_SECS + LEEWAY_SECS {
        return Err(invalid(format!(
            "expires too far ahead: exp may be at most {MAX_LIFETIME_SECS} s from now"
        )));
    }
    if time("nbf")?.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
        return Err(invalid("is not valid yet (nbf is in the future)"));
    }
    if time("iat")?.is_some_and(|iat| iat > now + LEEWAY_SECS) {
        return Err(invalid("was issued in the future (iat)"));
    }
    let jti = match claims.get("jti").and_then(Value::as_str) {
        Some(j) if !j.is_empty() && j.len() <= MAX_JTI_LEN => j.to_string(),
        Some(_) => {
            return Err(invalid(format!(
                "has a jti that is empty or longer than {MAX_JTI_LEN} bytes"
            )));
        }
        None => return Err(invalid("has no jti (required: an assertion is used once)")),
    };
    Ok(Valid { jti, exp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jwk::alg::ec::EcCurve;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const CLIENT: &str = "c1";

    fn aud() -> Vec<String> {
        vec![
            "https://auth.example".into(),
            "https://auth.example/oauth/token".into(),
        ]
    }

    fn claims() -> Value {
        json!({
            "iss": CLIENT, "sub": CLIENT, "aud": "https://auth.example",
            "exp": NOW + 60, "iat": NOW, "jti": "j1",
        })
    }

    fn sign(key: &Jwk, kid: Option<&str>, claims: &Value) -> String {
        let mut h = josekit::jws::JwsHeader::new();
        h.set_token_type("JWT");
        if let Some(k) = kid {
            h.set_key_id(k);
        }
        let signer = josekit::jws::ES256.signer_from_jwk(key).unwrap();
        josekit::jws::serialize_compact(claims.to_string().as_bytes(), &h, &signer).unwrap()
    }

    fn public(key: &Jwk, kid: &str) -> Jwk {
        let mut p = key.to_public_key().unwrap();
        p.set_key_id(kid);
        p
    }

    fn check(jwt: &str, keys: &[Jwk]) -> Result<Valid, Failure> {
        let h = header(jwt)?;
        verify(jwt, &h, CLIENT, &aud(), keys, NOW)
    }

    fn reason(r: Result<Valid, Failure>) -> String {
        match r {
            Err(Failure::Invalid(why)) => why,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_good_assertion_and_its_keys() {
        let key = Jwk::generate_ec_key(EcCurve::P256).unwrap();
        let keys = [public(&key, "k1")];
        let ok = check(&sign(&key, Some("k1"), &claims()), &keys).unwrap();
        assert_eq!(
            ok,
            Valid {
                jti: "j1".into(),
                exp: NOW + 60
            }
        );
        // No kid: every key that fits is tried.
        assert!(check(&sign(&key, None, &claims()), &keys).is_ok());
        // An unknown kid is said so (the caller may fetch the keys again).
        assert_eq!(
            check(&sign(&key, Some("k2"), &claims()), &keys),
            Err(Failure::UnknownKid("k2".into()))
        );
        // Another key under the right kid does not verify.
        let other = Jwk::generate_ec_key(EcCurve::P256).unwrap();
        assert!(reason(check(&sign(&other, Some("k1"), &claims()), &keys)).contains("signature"));
        // The token endpoint URL is an accepted audience, in an array too.
        let mut c = claims();
        c["aud"] = json!(["x", "https://auth.example/oauth/token"]);
        assert!(check(&sign(&key, Some("k1"), &c), &keys).is_ok());
    }

    #[test]
    fn algorithms() {
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(claims().to_string())
        );
        assert!(reason(header(&none).map(|_| unreachable!())).contains("\"none\""));
        let hs = josekit::jws::HS256
            .signer_from_bytes(b"0123456789abcdef0123456789abcdef")
            .unwrap();
        let jwt = josekit::jws::serialize_compact(
            claims().to_string().as_bytes(),
            &josekit::jws::JwsHeader::new(),
            &hs,
        )
        .unwrap();
        assert!(reason(header(&jwt).map(|_| unreachable!())).contains("HS256"));
        let crit = format!(
            "{}.e30.x",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","crit":["x"]}"#)
        );
        assert!(reason(header(&crit).map(|_| unreachable!())).contains("crit"));
        assert!(reason(header("a.b").map(|_| unreachable!())).contains("compact"));
        // An EC key cannot check an RS256 signature.
        let key = Jwk::generate_ec_key(EcCurve::P256).unwrap();
        let h = Header {
            alg: "RS256",
            kid: None,
        };
        let jwt = sign(&key, None, &claims());
        assert!(matches!(
            verify(&jwt, &h, CLIENT, &aud(), &[public(&key, "k")], NOW),
            Err(Failure::Invalid(_))
        ));
    }

    #[test]
    fn claims_rules() {
        let ok = |c: Value| check_claims(&c, CLIENT, &aud(), NOW);
        let why = |c: Value| reason(ok(c));
        let with = |k: &str, v: Value| {
            let mut c = claims();
            c[k] = v;
            c
        };
        let without = |k: &str| {
            let mut c = claims();
            c.as_object_mut().unwrap().remove(k);
            c
        };
        assert!(ok(claims()).is_ok());
        assert!(why(with("iss", json!("c2"))).contains("iss"));
        assert!(why(without("sub")).contains("no sub"));
        assert!(why(with("aud", json!("https://evil.example"))).contains("aud"));
        assert!(why(without("aud")).contains("aud"));
        assert!(why(without("exp")).contains("no exp"));
        assert!(why(with("exp", json!(NOW - LEEWAY_SECS))).contains("expired"));
        assert!(ok(with("exp", json!(NOW - LEEWAY_SECS + 1))).is_ok());
        assert!(ok(with("exp", json!(NOW + MAX_LIFETIME_SECS))).is_ok());
        assert!(why(with("exp", json!(NOW + 3600))).contains("too far"));
        assert!(why(with("exp", json!("soon"))).contains("not a number"));
        assert!(why(with("nbf", json!(NOW + 120))).contains("nbf"));
        assert!(ok(with("nbf", json!(NOW + 5))).is_ok());
        assert!(why(with("iat", json!(NOW + 120))).contains("iat"));
        assert!(why(without("jti")).contains("no jti"));
        assert!(why(with("jti", json!(""))).contains("jti"));
        assert!(why(with("jti", json!("x".repeat(MAX_JTI_LEN + 1)))).contains("jti"));
    }

    #[test]
    fn claimed_client_is_the_sub() {
        let key = Jwk::generate_ec_key(EcCurve::P256).unwrap();
        let jwt = sign(&key, None, &claims());
        assert_eq!(claimed_client(&jwt).as_deref(), Some(CLIENT));
        assert_eq!(claimed_client("x"), None);
    }
}
