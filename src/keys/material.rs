//! Key material: P-256 generation with p256 and JWK coordinates; RSA 2048
//! generation with josekit (OpenSSL) for RS256 id_tokens (OpenID Connect
//! Discovery requires RS256 among the id_token algorithms).

use p256::ecdsa::SigningKey;
use p256::elliptic_curve::Generate;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use sha2::{Digest, Sha256};

use crate::crypto::b64url;

/// The algorithm of access tokens and, by default, id_tokens.
pub const ES256: &str = "ES256";
/// The algorithm of id_tokens for clients that registered it.
pub const RS256: &str = "RS256";
/// Every key algorithm, each with its own schedule.
pub const ALGS: [&str; 2] = [ES256, RS256];
/// RSA modulus size.
const RSA_BITS: u32 = 2048;

/// A freshly generated key pair in the shapes we store.
pub struct NewKey {
    pub kid: String,
    /// PKCS#8 PEM (sealed before storage when a key-encryption key is set).
    pub private_pem: String,
    /// EC: `x`, `y`; RSA: `n`, `e`.
    pub x: String,
    pub y: String,
}

/// A new key for `alg` ([`ES256`] or [`RS256`]).
pub fn generate_for(alg: &str) -> anyhow::Result<NewKey> {
    match alg {
        ES256 => generate(),
        RS256 => generate_rsa(),
        other => anyhow::bail!("unsupported signing key algorithm {other:?}"),
    }
}

/// An RSA 2048 key pair (josekit / OpenSSL).
pub fn generate_rsa() -> anyhow::Result<NewKey> {
    use josekit::jwk::KeyPair;
    let pair = josekit::jws::RS256
        .generate_key_pair(RSA_BITS)
        .map_err(|e| anyhow::anyhow!("generating an RSA key: {e}"))?;
    let jwk = pair.to_jwk_public_key();
    let part = |name: &str| {
        jwk.parameter(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("RSA public key without {name}"))
    };
    let (n, e) = (part("n")?, part("e")?);
    let pem = String::from_utf8(pair.to_pem_private_key())
        .map_err(|e| anyhow::anyhow!("encoding the private key: {e}"))?;
    Ok(NewKey {
        kid: rsa_thumbprint(&n, &e),
        private_pem: pem,
        x: n,
        y: e,
    })
}

/// RFC 7638 JWK thumbprint of an RSA public key.
pub fn rsa_thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    b64url(&Sha256::digest(canonical.as_bytes()))
}

/// The public JWK of a stored key of `alg` (`a`, `b`: EC x/y or RSA n/e).
pub fn public_jwk_for(alg: &str, kid: &str, a: &str, b: &str) -> serde_json::Value {
    if alg == RS256 {
        serde_json::json!({
            "kty": "RSA",
            "n": a,
            "e": b,
            "kid": kid,
            "use": "sig",
            "alg": RS256,
        })
    } else {
        public_jwk(kid, a, b)
    }
}

pub fn generate() -> anyhow::Result<NewKey> {
    let sk = SigningKey::generate_from_rng(&mut rand::rng());
    let point = sk.verifying_key().to_sec1_point(false);
    let (x, y) = (
        point.x().ok_or_else(|| anyhow::anyhow!("identity point"))?,
        point.y().ok_or_else(|| anyhow::anyhow!("identity point"))?,
    );
    let (x, y) = (b64url(x), b64url(y));
    let pem = sk
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding the private key: {e}"))?;
    Ok(NewKey {
        kid: thumbprint(&x, &y),
        private_pem: pem.to_string(),
        x,
        y,
    })
}

/// RFC 7638 JWK thumbprint of an EC P-256 public key: a stable, collision-free `kid`.
pub fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    b64url(&Sha256::digest(canonical.as_bytes()))
}

/// The public JWK as published in the JWKS.
pub fn public_jwk(kid: &str, x: &str, y: &str) -> serde_json::Value {
    serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": x,
        "y": y,
        "kid": kid,
        "use": "sig",
        "alg": "ES256",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_has_32_byte_coordinates_and_thumbprint_kid() {
        let k = generate().unwrap();
        assert_eq!(k.x.len(), 43);
        assert_eq!(k.y.len(), 43);
        assert_eq!(k.kid, thumbprint(&k.x, &k.y));
        assert!(k.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        // josekit (OpenSSL) accepts what p256 produced.
        josekit::jws::ES256.signer_from_pem(&k.private_pem).unwrap();
    }

    #[test]
    fn generated_rsa_key_signs_and_has_thumbprint_kid() {
        let k = generate_rsa().unwrap();
        assert_eq!(k.y, "AQAB");
        assert_eq!(k.kid, rsa_thumbprint(&k.x, &k.y));
        let signer = josekit::jws::RS256.signer_from_pem(&k.private_pem).unwrap();
        let jwk = public_jwk_for(RS256, &k.kid, &k.x, &k.y);
        let jwk = josekit::jwk::Jwk::from_map(jwk.as_object().unwrap().clone()).unwrap();
        let verifier = josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap();
        let mut h = josekit::jws::JwsHeader::new();
        h.set_token_type("JWT");
        h.set_key_id(k.kid.clone());
        let t = josekit::jws::serialize_compact(b"{}", &h, &signer).unwrap();
        assert!(josekit::jws::deserialize_compact(&t, &verifier).is_ok());
    }

    /// RFC 7638 §3.1's own RSA example.
    #[test]
    fn rfc7638_rsa_thumbprint_known_answer() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            rsa_thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    /// A known answer. RFC 7638 §3.1's own example is an RSA key and this
    /// function takes EC P-256 keys only, so the key is RFC 7517 Appendix
    /// A.1's EC P-256 public key, and the answer was computed independently
    /// (Python `hashlib` + `base64` over the canonical JSON
    /// `{"crv":"P-256","kty":"EC","x":"MKBC…","y":"4Etl…"}`; the same script
    /// gives `NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs` for RFC 7638
    /// §3.1's RSA key, the RFC's answer).
    #[test]
    fn rfc7638_thumbprint_known_answer() {
        assert_eq!(
            thumbprint(
                "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
                "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"
            ),
            "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s"
        );
    }
}
