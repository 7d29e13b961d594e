//! The pure checks of an access token (RFC 9068 §4, RFC 8725): shape,
//! header, signature against a given key, claims against the expected
//! issuer, audience and clock. No I/O here; [`crate::Verifier`] strings
//! these together with the key lookup.

use josekit::jws::JwsVerifier;
use serde::Deserialize;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use skedcast_core::claims::AccessClaims;

/// Unpadded base64url (RFC 7515 §2); padding or `+`/`/` fail.
fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// The one signature algorithm of this system. The algorithm comes from
/// configuration, never from the token: a header naming anything else is
/// refused before any key is touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Es256,
}

impl Algorithm {
    pub fn parse(s: &str) -> Option<Algorithm> {
        match s {
            "ES256" => Some(Algorithm::Es256),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
        }
    }

    /// Length of a raw (r || s) signature.
    fn signature_len(self) -> usize {
        match self {
            Algorithm::Es256 => 64,
        }
    }
}

/// Largest token accepted (ours are ≈ 600 bytes).
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Most clock skew tolerated on `exp`, `nbf` and `iat`.
pub const MAX_LEEWAY_SECS: u64 = 60;

/// Why a token was refused. Each maps to a fixed, quote-free
/// `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    Malformed,
    Algorithm,
    Type,
    Critical,
    NoKeyId,
    UnknownKey,
    Signature,
    Issuer,
    Audience,
    Expired,
    NotYetValid,
    IssuedInFuture,
}

impl Reject {
    pub fn description(self) -> &'static str {
        match self {
            Reject::Malformed => "the access token is malformed",
            Reject::Algorithm => "the access token is not signed with ES256",
            Reject::Type => "the access token is not of type at+jwt",
            Reject::Critical => "the access token has critical header parameters",
            Reject::NoKeyId => "the access token names no signing key",
            Reject::UnknownKey => "the access token is signed by an unknown key",
            Reject::Signature => "the access token signature is invalid",
            Reject::Issuer => "the access token is from another issuer",
            Reject::Audience => "the access token is not meant for this resource",
            Reject::Expired => "the access token has expired",
            Reject::NotYetValid => "the access token is not valid yet",
            Reject::IssuedInFuture => "the access token is issued in the future",
        }
    }
}

/// The three segments of a compact JWS, decoded.
#[derive(Debug)]
pub struct Parts<'a> {
    /// `base64url(header) "." base64url(payload)`: what is signed.
    pub signing_input: &'a str,
    pub header: Vec<u8>,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

/// Split a compact JWS (RFC 7515 §7.1): exactly three non-empty segments of
/// unpadded base64url. `none` tokens (empty signature) fail here already.
pub fn split(token: &str) -> Result<Parts<'_>, Reject> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Reject::Malformed);
    }
    let (signing_input, sig) = token.rsplit_once('.').ok_or(Reject::Malformed)?;
    let (h, p) = signing_input.split_once('.').ok_or(Reject::Malformed)?;
    if h.is_empty() || p.is_empty() || sig.is_empty() || p.contains('.') {
        return Err(Reject::Malformed);
    }
    Ok(Parts {
        signing_input,
        header: b64url_decode(h).ok_or(Reject::Malformed)?,
        payload: b64url_decode(p).ok_or(Reject::Malformed)?,
        signature: b64url_decode(sig).ok_or(Reject::Malformed)?,
    })
}

/// The JOSE header members we look at.
#[derive(Debug, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub typ: Option<String>,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub crit: Option<serde_json::Value>,
}

/// The JOSE header: UTF-8 JSON (RFC 7515 §5.2 step 3). The UTF-8 check is
/// explicit: serde skips the members it ignores without validating them.
pub fn parse_header(bytes: &[u8]) -> Result<Header, Reject> {
    let text = std::str::from_utf8(bytes).map_err(|_| Reject::Malformed)?;
    serde_json::from_str(text).map_err(|_| Reject::Malformed)
}

/// RFC 9068 §4: `typ` is `at+jwt` or `application/at+jwt` (media types
/// compare case-insensitively, RFC 7515 §4.1.9).
pub fn is_access_token_type(typ: &str) -> bool {
    let t = typ.strip_prefix("application/").unwrap_or(typ);
    t.eq_ignore_ascii_case("at+jwt")
}

/// The header is acceptable for `alg`: returns the `kid` to look up.
pub fn check_header(h: &Header, alg: Algorithm) -> Result<&str, Reject> {
    if h.alg != alg.as_str() {
        return Err(Reject::Algorithm);
    }
    if !h.typ.as_deref().is_some_and(is_access_token_type) {
        return Err(Reject::Type);
    }
    // RFC 7515 §4.1.11: we understand no extension, so any `crit` is fatal.
    if h.crit.is_some() {
        return Err(Reject::Critical);
    }
    match h.kid.as_deref() {
        Some(kid) if !kid.is_empty() => Ok(kid),
        _ => Err(Reject::NoKeyId),
    }
}

/// The signature over `signing_input` verifies with `key`.
pub fn check_signature(
    parts: &Parts<'_>,
    key: &dyn JwsVerifier,
    alg: Algorithm,
) -> Result<(), Reject> {
    if parts.signature.len() != alg.signature_len() || key.algorithm().name() != alg.as_str() {
        return Err(Reject::Signature);
    }
    key.verify(parts.signing_input.as_bytes(), &parts.signature)
        .map_err(|_| Reject::Signature)
}

/// What a token must say to be accepted here.
#[derive(Debug, Clone)]
pub struct Expected {
    pub issuer: String,
    pub resource: String,
    /// Clock skew allowed, at most [`MAX_LEEWAY_SECS`].
    pub leeway_secs: i64,
}

/// `iss` exact, `aud` contains this resource, `exp`/`nbf`/`iat` against
/// `now` with the leeway.
pub fn check_claims(c: &AccessClaims, want: &Expected, now: i64) -> Result<(), Reject> {
    let leeway = want.leeway_secs.clamp(0, MAX_LEEWAY_SECS as i64);
    if c.iss != want.issuer {
        return Err(Reject::Issuer);
    }
    if !c.aud.contains(&want.resource) {
        return Err(Reject::Audience);
    }
    if now >= c.exp.saturating_add(leeway) {
        return Err(Reject::Expired);
    }
    if c.nbf.is_some_and(|nbf| now.saturating_add(leeway) < nbf) {
        return Err(Reject::NotYetValid);
    }
    if now.saturating_add(leeway) < c.iat {
        return Err(Reject::IssuedInFuture);
    }
    Ok(())
}

/// The claims set: a UTF-8 JSON object (RFC 7519 §7.2 step 10), checked
/// as a whole, including members this verifier ignores (found by fuzzing:
/// `serde_json::from_slice` let invalid UTF-8 through in ignored members).
pub fn parse_claims(bytes: &[u8]) -> Result<AccessClaims, Reject> {
    let text = std::str::from_utf8(bytes).map_err(|_| Reject::Malformed)?;
    serde_json::from_str(text).map_err(|_| Reject::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::{JwsHeader, JwsSigner};

    fn b64url(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn keypair() -> (impl JwsSigner, impl JwsVerifier) {
        let (signer, jwk) = crate::test_keys::generate();
        let jwk = josekit::jwk::Jwk::from_bytes(jwk.to_string()).unwrap();
        (signer, josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap())
    }

    fn header(json: &str) -> Header {
        parse_header(json.as_bytes()).unwrap()
    }

    #[test]
    fn header_and_claims_must_be_utf8_even_in_ignored_members() {
        assert!(parse_header(b"{\"alg\":\"ES256\",\"x\":\"\xa7\"}").is_err());
        let claims = b"{\"iss\":\"i\",\"sub\":\"s\",\"aud\":\"a\",\"client_id\":\"c\",\"iat\":1,\"exp\":2,\"jti\":\"j\"";
        let mut ok = claims.to_vec();
        ok.extend_from_slice(b"}");
        assert!(parse_claims(&ok).is_ok());
        let mut bad = claims.to_vec();
        bad.extend_from_slice(b",\"ignored\":\"\xa7\"}");
        assert_eq!(parse_claims(&bad).unwrap_err(), Reject::Malformed);
    }

    #[test]
    fn split_requires_three_unpadded_segments() {
        let p = split("eyJh.eyJi.c2ln").unwrap();
        assert_eq!(p.signing_input, "eyJh.eyJi");
        assert_eq!(p.signature, b"sig");
        for bad in [
            "", "a", "a.b", "a.b.", ".b.c", "a..c", "a.b.c.d", "a.b.c=", "a.b.c+",
        ] {
            assert!(split(bad).is_err(), "{bad:?}");
        }
        assert!(split(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
    }

    #[test]
    fn header_pins_algorithm_type_and_kid() {
        let ok = header(r#"{"alg":"ES256","typ":"at+jwt","kid":"k1"}"#);
        assert_eq!(check_header(&ok, Algorithm::Es256), Ok("k1"));
        let media = header(r#"{"alg":"ES256","typ":"application/AT+JWT","kid":"k1"}"#);
        assert_eq!(check_header(&media, Algorithm::Es256), Ok("k1"));
        for (json, want) in [
            (
                r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#,
                Reject::Algorithm,
            ),
            (
                r#"{"alg":"HS256","typ":"at+jwt","kid":"k1"}"#,
                Reject::Algorithm,
            ),
            (
                r#"{"alg":"RS256","typ":"at+jwt","kid":"k1"}"#,
                Reject::Algorithm,
            ),
            (
                r#"{"alg":"es256","typ":"at+jwt","kid":"k1"}"#,
                Reject::Algorithm,
            ),
            (r#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#, Reject::Type),
            (r#"{"alg":"ES256","kid":"k1"}"#, Reject::Type),
            (r#"{"alg":"ES256","typ":"at+jwt"}"#, Reject::NoKeyId),
            (
                r#"{"alg":"ES256","typ":"at+jwt","kid":""}"#,
                Reject::NoKeyId,
            ),
            (
                r#"{"alg":"ES256","typ":"at+jwt","kid":"k1","crit":["exp"]}"#,
                Reject::Critical,
            ),
        ] {
            assert_eq!(
                check_header(&header(json), Algorithm::Es256),
                Err(want),
                "{json}"
            );
        }
        assert!(
            parse_header(b"{\"typ\":\"at+jwt\"}").is_err(),
            "alg required"
        );
        assert!(parse_header(b"not json").is_err());
        assert_eq!(Algorithm::parse("ES256"), Some(Algorithm::Es256));
        assert_eq!(Algorithm::parse("HS256"), None);
    }

    #[test]
    fn signatures_verify_only_with_the_right_key_and_bytes() {
        let (signer, verifier) = keypair();
        let (_, other) = keypair();
        let mut h = JwsHeader::new();
        h.set_token_type("at+jwt");
        h.set_key_id("k");
        let token = josekit::jws::serialize_compact(b"{\"a\":1}", &h, &signer).unwrap();
        let parts = split(&token).unwrap();
        assert_eq!(check_signature(&parts, &verifier, Algorithm::Es256), Ok(()));
        assert_eq!(
            check_signature(&parts, &other, Algorithm::Es256),
            Err(Reject::Signature)
        );
        // Tampered payload, same signature.
        let (hb, _) = token.split_once('.').unwrap();
        let sig = token.rsplit_once('.').unwrap().1;
        let forged = format!("{hb}.{}.{sig}", b64url(b"{\"a\":2}"));
        let parts = split(&forged).unwrap();
        assert_eq!(
            check_signature(&parts, &verifier, Algorithm::Es256),
            Err(Reject::Signature)
        );
        // A DER or truncated signature is refused by length.
        let short = format!("{hb}.{}.{}", b64url(b"{\"a\":1}"), b64url(&[1u8; 63]));
        assert_eq!(
            check_signature(&split(&short).unwrap(), &verifier, Algorithm::Es256),
            Err(Reject::Signature)
        );
    }

    fn claims(iat: i64, exp: i64, nbf: Option<i64>, aud: serde_json::Value) -> AccessClaims {
        serde_json::from_value(serde_json::json!({
            "iss": "https://auth.example", "sub": "u", "aud": aud, "client_id": "c",
            "scope": "agency:read", "iat": iat, "exp": exp, "nbf": nbf, "jti": "j",
        }))
        .unwrap()
    }

    #[test]
    fn claims_checks_with_leeway() {
        let want = Expected {
            issuer: "https://auth.example".into(),
            resource: "https://api.example".into(),
            leeway_secs: 30,
        };
        let aud = serde_json::json!("https://api.example");
        let now = 1_000;
        let ok = claims(now - 10, now + 100, None, aud.clone());
        assert_eq!(check_claims(&ok, &want, now), Ok(()));
        // Expiry: tolerated up to the leeway, not beyond.
        assert_eq!(
            check_claims(&claims(0, now - 29, None, aud.clone()), &want, now),
            Ok(())
        );
        assert_eq!(
            check_claims(&claims(0, now - 30, None, aud.clone()), &want, now),
            Err(Reject::Expired)
        );
        // nbf and iat in the future.
        assert_eq!(
            check_claims(
                &claims(now, now + 100, Some(now + 30), aud.clone()),
                &want,
                now
            ),
            Ok(())
        );
        assert_eq!(
            check_claims(
                &claims(now, now + 100, Some(now + 31), aud.clone()),
                &want,
                now
            ),
            Err(Reject::NotYetValid)
        );
        assert_eq!(
            check_claims(&claims(now + 31, now + 100, None, aud.clone()), &want, now),
            Err(Reject::IssuedInFuture)
        );
        // The leeway is capped at 60 s whatever is configured.
        let lax = Expected {
            leeway_secs: 3600,
            ..want.clone()
        };
        assert_eq!(
            check_claims(&claims(0, now - 61, None, aud.clone()), &lax, now),
            Err(Reject::Expired)
        );
        // Issuer exact, audience membership.
        let mut c = ok.clone();
        c.iss = "https://auth.example/".into();
        assert_eq!(check_claims(&c, &want, now), Err(Reject::Issuer));
        let many = claims(
            now,
            now + 100,
            None,
            serde_json::json!(["x", "https://api.example"]),
        );
        assert_eq!(check_claims(&many, &want, now), Ok(()));
        let other = claims(
            now,
            now + 100,
            None,
            serde_json::json!(["https://api.example/v2"]),
        );
        assert_eq!(check_claims(&other, &want, now), Err(Reject::Audience));
    }

    #[test]
    fn descriptions_fit_in_a_quoted_string() {
        for r in [
            Reject::Malformed,
            Reject::Algorithm,
            Reject::Type,
            Reject::Critical,
            Reject::NoKeyId,
            Reject::UnknownKey,
            Reject::Signature,
            Reject::Issuer,
            Reject::Audience,
            Reject::Expired,
            Reject::NotYetValid,
            Reject::IssuedInFuture,
        ] {
            // RFC 6750 §3: %x20-21 / %x23-5B / %x5D-7E.
            assert!(
                r.description()
                    .bytes()
                    .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
            );
        }
    }
}
