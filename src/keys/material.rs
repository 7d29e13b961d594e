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

    #[test]
    fn rfc7638_example_shape() {
        // Thumbprints depend only on the coordinates.
        assert_eq!(thumbprint("a", "b"), thumbprint("a", "b"));
        assert_ne!(thumbprint("a", "b"), thumbprint("b", "a"));
    }
}
