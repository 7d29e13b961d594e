//! Inputs found by the fuzz targets in `fuzz/` (scripts/fuzz.sh), replayed
//! through the same code paths.

use josekit::jws::{ES256, JwsSigner};
use skedcast_auth::crypto::b64url;
use skedcast_auth::keys::material;
use skedcast_auth::verify::checks::{self, Algorithm, Expected, Reject};

/// The pure pipeline of `Verifier::verify_access_token`, with one key.
fn check(token: &str, verifier: &dyn josekit::jws::JwsVerifier, now: i64) -> Result<(), Reject> {
    let parts = checks::split(token)?;
    let header = checks::parse_header(&parts.header)?;
    checks::check_header(&header, Algorithm::Es256)?;
    checks::check_signature(&parts, verifier, Algorithm::Es256)?;
    let claims = checks::parse_claims(&parts.payload)?;
    let want = Expected {
        issuer: "https://auth.example".into(),
        resource: "https://api.example/".into(),
        leeway_secs: 30,
    };
    checks::check_claims(&claims, &want, now)
}

fn signed(header: &[u8], payload: &[u8]) -> (String, impl josekit::jws::JwsVerifier) {
    let k = material::generate().unwrap();
    let signer = ES256.signer_from_pem(&k.private_pem).unwrap();
    let jwk = josekit::jwk::Jwk::from_bytes(material::public_jwk(&k.kid, &k.x, &k.y).to_string())
        .unwrap();
    let verifier = ES256.verifier_from_jwk(&jwk).unwrap();
    let input = format!("{}.{}", b64url(header), b64url(payload));
    let sig = signer.sign(input.as_bytes()).unwrap();
    (format!("{input}.{}", b64url(&sig)), verifier)
}

/// fuzz/artifacts/jwt_verify/crash-11503376…: a correctly signed token
/// whose claims set is not UTF-8 (byte 0xA7 inside the value of a member
/// the verifier ignores) was accepted: serde_json skips ignored members
/// without validating them. RFC 7519 §7.2 requires the claims set to be
/// UTF-8 JSON; it is now `Malformed`.
#[test]
fn jwt_claims_with_invalid_utf8_in_an_ignored_member_are_malformed() {
    let header = br#"{"alg": "ES256", "typ": "at+jwt", "kid": "fuzz-key"}"#;
    let mut payload = br#"{"iss": "https://auth.example", "sub": "u1", "aud": ["https://other/", "https://api.example/"], "client_id": "app", "reseed_counscope": "rcgna:eyead posts:read"#.to_vec();
    payload.push(0xa7);
    payload.extend_from_slice(br#"", "iat": 1799999999, "exp": 1800000900, "jti": "j1", "agency_id": "a1", "role&": "editor", "nbf": 1800000010}"#);
    let now = 1_800_000_000;
    let (token, verifier) = signed(header, &payload);
    assert_eq!(check(&token, &verifier, now), Err(Reject::Malformed));

    // The same token with the byte replaced by valid UTF-8 is accepted:
    // nothing else about it is wrong.
    let fixed: Vec<u8> = payload
        .iter()
        .map(|b| if *b == 0xa7 { b'x' } else { *b })
        .collect();
    let (token, verifier) = signed(header, &fixed);
    assert_eq!(check(&token, &verifier, now), Ok(()));

    // And a header with invalid UTF-8 in an ignored member.
    let mut header = br#"{"alg": "ES256", "typ": "at+jwt", "kid": "k", "x": ""#.to_vec();
    header.extend_from_slice(&[0xa7, b'"', b'}']);
    let (token, verifier) = signed(&header, &fixed);
    assert_eq!(check(&token, &verifier, now), Err(Reject::Malformed));
}
