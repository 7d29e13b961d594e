//! The API key format: `sked_live_` + 30 random base62 characters (≈ 178
//! bits) + a 6-character base62 CRC32 of them, as GitHub's tokens do. The
//! checksum lets a typo or a truncated key be rejected without a database
//! lookup, and secret scanners recognise the shape.

use rand::RngExt;

pub const PREFIX: &str = "sked_live_";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
/// Characters of the random part shown in lists (with the prefix).
const DISPLAY_LEN: usize = 8;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The CRC32 of the random part in 6 base62 digits (62^6 > 2^32).
fn checksum(random: &str) -> String {
    let mut n = crc32fast::hash(random.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A new secret key.
pub fn generate() -> String {
    let mut rng = rand::rng();
    let random: String = (0..RANDOM_LEN)
        .map(|_| ALPHABET[rng.random_range(0..62)] as char)
        .collect();
    let sum = checksum(&random);
    format!("{PREFIX}{random}{sum}")
}

/// Shape and checksum, without any lookup.
pub fn is_well_formed(key: &str) -> bool {
    let Some(body) = key.strip_prefix(PREFIX) else {
        return false;
    };
    if body.len() != RANDOM_LEN + CHECKSUM_LEN || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, sum) = body.split_at(RANDOM_LEN);
    checksum(random) == sum
}

/// The public part shown in lists: `sked_live_` + the first 8 characters.
pub fn display_prefix(key: &str) -> String {
    key.chars().take(PREFIX.len() + DISPLAY_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let k = generate();
        assert!(k.starts_with(PREFIX));
        assert_eq!(k.len(), PREFIX.len() + 36);
        assert!(is_well_formed(&k));
        assert_ne!(k, generate());
        assert_eq!(display_prefix(&k).len(), PREFIX.len() + 8);
    }

    #[test]
    fn typos_fail_the_checksum() {
        let k = generate();
        // Change one character of the random part.
        let mut chars: Vec<char> = k.chars().collect();
        let i = PREFIX.len() + 5;
        chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        assert!(!is_well_formed(&typo));
        assert!(!is_well_formed(&k[..k.len() - 1]));
        assert!(!is_well_formed(&format!("{k}x")));
        assert!(!is_well_formed(&k.replace(PREFIX, "sked_test_")));
        assert!(!is_well_formed("sked_live_"));
    }
}
