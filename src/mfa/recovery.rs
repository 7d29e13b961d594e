//! Recovery codes: ten random codes shown once, stored as SHA-256 of the
//! member's id and the code (high-entropy machine-made secrets: no argon2,
//! see stack.md), each deleted when used.

use crate::crypto::{random_bytes, sha256_hex};

/// Codes made per enrolment.
pub const COUNT: usize = 10;

/// Lower-case letters and digits without look-alikes (0/o, 1/l/i).
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Pure-ish: ten new codes `xxxxx-xxxxx` (10 symbols of 31: ≈ 49 bits each).
pub fn generate() -> Vec<String> {
    (0..COUNT)
        .map(|_| {
            let bytes = random_bytes::<10>();
            // 256 % 31 = 8: reject nothing, the bias (< 4%) is immaterial
            // for a throttled, single-use 49-bit code.
            let s: String = bytes
                .iter()
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &s[..5], &s[5..])
        })
        .collect()
}

/// Pure: what is hashed for a typed code (case, spaces and dashes ignored);
/// `None` when it cannot be one.
pub fn normalize(typed: &str) -> Option<String> {
    let s: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    (s.len() == 10 && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

/// The stored hash of `code` (normalised) for `user_id`.
pub fn hash(user_id: &str, normalized: &str) -> String {
    sha256_hex(&format!("skedcast-recovery:{user_id}:{normalized}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_normalise_and_hash_per_member() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        for c in &codes {
            let n = normalize(c).unwrap();
            assert_eq!(normalize(&c.to_uppercase()), Some(n.clone()));
            assert_eq!(normalize(&format!(" {} ", n)), Some(n.clone()));
            assert_ne!(hash("u1", &n), hash("u2", &n));
        }
        assert_eq!(normalize("123456"), None);
        assert_eq!(normalize("abcde-fghj0"), None, "0 is not in the alphabet");
    }
}
