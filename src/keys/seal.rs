//! Protection of private signing keys at rest.
//!
//! With `keys.encryption_key` set, a private key is stored as `jwe:` followed
//! by a compact JWE (`alg` dir, `enc` A256GCM) of its PEM: the database alone
//! does not reveal it, and tampering is detected by the GCM tag. Without it,
//! the PEM is stored as is and the database is the boundary to protect.
//! Members' TOTP secrets are sealed the same way (`what` names the secret
//! in errors).

use josekit::jwe::{Dir, JweHeader};

const SEALED_PREFIX: &str = "jwe:";

pub fn seal(pem: &str, kek: Option<&[u8; 32]>) -> anyhow::Result<String> {
    let Some(kek) = kek else {
        return Ok(pem.to_string());
    };
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    let encrypter = Dir.encrypter_from_bytes(kek)?;
    let jwe = josekit::jwe::serialize_compact(pem.as_bytes(), &header, &encrypter)?;
    Ok(format!("{SEALED_PREFIX}{jwe}"))
}

pub fn unseal(stored: &str, kek: Option<&[u8; 32]>, what: &str) -> anyhow::Result<String> {
    let Some(jwe) = stored.strip_prefix(SEALED_PREFIX) else {
        return Ok(stored.to_string());
    };
    let kek = kek.ok_or_else(|| {
        anyhow::anyhow!("{what} is encrypted but `keys.encryption_key` is not set")
    })?;
    let decrypter = Dir.decrypter_from_bytes(kek)?;
    let (pem, _) = josekit::jwe::deserialize_compact(jwe, &decrypter).map_err(|_| {
        anyhow::anyhow!("{what} cannot be decrypted with `keys.encryption_key` (wrong key?)")
    })?;
    String::from_utf8(pem).map_err(|_| anyhow::anyhow!("{what} is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_key() {
        let kek = [7u8; 32];
        let sealed = seal("PEM", Some(&kek)).unwrap();
        assert!(sealed.starts_with("jwe:"));
        assert!(!sealed.contains("PEM"));
        assert_eq!(unseal(&sealed, Some(&kek), "k").unwrap(), "PEM");
        assert!(unseal(&sealed, Some(&[8u8; 32]), "k").is_err());
        assert!(
            unseal(&sealed, None, "k")
                .unwrap_err()
                .to_string()
                .contains("encryption_key")
        );
        assert_eq!(seal("PEM", None).unwrap(), "PEM");
        assert_eq!(unseal("PEM", Some(&kek), "k").unwrap(), "PEM");
    }
}
