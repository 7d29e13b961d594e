//! Key material: P-256 generation with p256 and JWK coordinates.

use p256::ecdsa::SigningKey;
use p256::elliptic_curve::Generate;
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use sha2::{Digest, Sha256};

use crate::crypto::b64url;

/// A freshly generated key pair in the shapes we store.
pub struct NewKey {
    pub kid: String,
    /// PKCS#8 PEM (sealed before storage when a key-encryption key is set).
    pub private_pem: String,
    pub x: String,
    pub y: String,
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
