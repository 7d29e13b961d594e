//! JWT verification (crates/skedcast-verify/): arbitrary compact tokens through the pure
//! check pipeline of `Verifier::verify_access_token` (split, header, key
//! lookup, signature, claims) with a fixed key set parsed from a JWKS.
//!
//! The first byte picks the mode:
//! - 0: the rest is a compact token, checked as is;
//! - 1: the rest is `header JSON` NUL `payload JSON`, signed with the fixed
//!   key, then checked (reaches the claim checks past the signature);
//! - 2: the rest is a JWKS document (`jwks::parse_jwks`) and a
//!   Cache-Control value (`jwks::max_age`).
#![no_main]

use std::sync::OnceLock;

use josekit::jws::{ES256, JwsSigner};
use libfuzzer_sys::fuzz_target;
use skedcast_auth::crypto::b64url;
use skedcast_auth::verify::checks::{self, Algorithm, Expected, Reject};
use skedcast_auth::verify::claims::Principal;
use skedcast_auth::verify::jwks::{self, Keys};

const PEM: &str = include_str!("fixed_es256_key.pem");
const KID: &str = "fuzz-key";
const ISS: &str = "https://auth.example";
const RESOURCE: &str = "https://api.example/";
const NOW: i64 = 1_800_000_000;

struct Fixed {
    keys: Keys,
    signer: Box<dyn JwsSigner + Send + Sync>,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let pair = ES256.key_pair_from_pem(PEM).unwrap();
        let mut jwk = pair.to_jwk_public_key();
        jwk.set_key_id(KID);
        let jwks = format!(r#"{{"keys":[{jwk}]}}"#);
        let (keys, skipped) = jwks::parse_jwks(jwks.as_bytes(), Algorithm::Es256).unwrap();
        assert!(skipped.is_empty() && keys.len() == 1);
        Fixed {
            keys,
            signer: Box::new(ES256.signer_from_pem(PEM).unwrap()),
        }
    })
}

/// `Verifier::verify_access_token` without the cache and the JWKS fetch.
fn check(token: &str) -> Result<Principal, Reject> {
    let f = fixed();
    let parts = checks::split(token)?;
    let header = checks::parse_header(&parts.header)?;
    let kid = checks::check_header(&header, Algorithm::Es256)?;
    let key = f.keys.get(kid).ok_or(Reject::UnknownKey)?;
    checks::check_signature(&parts, key.as_ref(), Algorithm::Es256)?;
    let claims = checks::parse_claims(&parts.payload)?;
    let want = Expected {
        issuer: ISS.into(),
        resource: RESOURCE.into(),
        leeway_secs: 30,
    };
    checks::check_claims(&claims, &want, NOW)?;
    Ok(Principal::from_access_claims(claims))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let Ok(token) = std::str::from_utf8(rest) else {
                return;
            };
            // Unsigned input cannot carry a valid ES256 signature.
            if let Ok(p) = check(token) {
                panic!("forged token accepted: {token:?} -> {p:?}");
            }
        }
        1 => {
            let Some(i) = rest.iter().position(|b| *b == 0) else {
                return;
            };
            let (h, p) = (&rest[..i], &rest[i + 1..]);
            let input = format!("{}.{}", b64url(h), b64url(p));
            let sig = fixed().signer.sign(input.as_bytes()).unwrap();
            let token = format!("{input}.{}", b64url(&sig));
            if let Ok(principal) = check(&token) {
                let h: serde_json::Value = serde_json::from_slice(h).unwrap();
                assert_eq!(h["alg"], "ES256");
                assert_eq!(h["kid"], KID);
                assert!(h.get("crit").is_none());
                let c: serde_json::Value = serde_json::from_slice(p).unwrap();
                assert_eq!(c["iss"], ISS);
                let exp = c["exp"].as_i64().unwrap();
                assert!(exp + 30 > NOW, "expired token accepted");
                let _ = principal;
            }
        }
        _ => {
            let (doc, cc) = match rest.iter().position(|b| *b == 0) {
                Some(i) => (&rest[..i], std::str::from_utf8(&rest[i + 1..]).ok()),
                None => (rest, None),
            };
            let _ = jwks::parse_jwks(doc, Algorithm::Es256);
            let _ = jwks::max_age(cc);
            let _ = jwks::refresh_after(cc);
        }
    }
});
