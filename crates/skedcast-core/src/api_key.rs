//! The API key format (contract): `sked_live_` + 30 random base62
//! characters (≈ 178 bits) + a 6-character base62 CRC32 of them, as
//! GitHub's tokens do. The checksum lets a typo or a truncated key be
//! rejected without a lookup (by the server) or an introspection round
//! trip (by a resource server), and secret scanners recognise the shape.
//! Generating keys (randomness) is the server's part.

/// The one prefix of every API key.
pub const PREFIX: &str = "sked_live_";
/// Random base62 characters after the prefix.
pub const RANDOM_LEN: usize = 30;
/// Base62 digits of the CRC32 that end a key (62^6 > 2^32).
pub const CHECKSUM_LEN: usize = 6;
/// Total length of a key.
pub const KEY_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;
/// Characters of the random part shown in lists (with the prefix).
const DISPLAY_LEN: usize = 8;
/// The base62 alphabet of the random part and the checksum.
pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The CRC32 of the random part in 6 base62 digits.
pub fn checksum(random: &str) -> String {
    let mut n = u64::from(crc32fast::hash(random.as_bytes()));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The key made of `random` (expected: [`RANDOM_LEN`] base62 characters).
pub fn from_random(random: &str) -> String {
    format!("{PREFIX}{random}{}", checksum(random))
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

    const RANDOM: &str = "0123456789ABCDEFGHIJabcdefghij";

    #[test]
    fn keys_from_random_are_well_formed() {
        let k = from_random(RANDOM);
        assert_eq!(k.len(), KEY_LEN);
        assert!(k.starts_with(PREFIX) && is_well_formed(&k));
        assert_eq!(display_prefix(&k), "sked_live_01234567");
        assert_eq!(checksum(RANDOM).len(), CHECKSUM_LEN);
    }

    /// Known answers, computed independently: Python's `zlib.crc32` of the
    /// random part in 6 base62 digits, most significant first.
    #[test]
    fn checksum_known_answers() {
        assert_eq!(checksum(RANDOM), "4Us3aw"); // CRC32 0xf59cf7ae
        assert_eq!(checksum(&"z".repeat(RANDOM_LEN)), "4IlJEz"); // 0xeaf2cd15
        assert_eq!(
            from_random(RANDOM),
            "sked_live_0123456789ABCDEFGHIJabcdefghij4Us3aw"
        );
    }

    #[test]
    fn typos_fail_the_checksum() {
        let k = from_random(RANDOM);
        let mut chars: Vec<char> = k.chars().collect();
        let i = PREFIX.len() + 5;
        chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
        let typo: String = chars.into_iter().collect();
        assert!(!is_well_formed(&typo));
        assert!(!is_well_formed(&k[..k.len() - 1]));
        assert!(!is_well_formed(&format!("{k}x")));
        assert!(!is_well_formed(&k.replace(PREFIX, "sked_test_")));
        assert!(!is_well_formed(&k.to_uppercase()));
        assert!(!is_well_formed("sked_live_"));
        assert!(!is_well_formed(&from_random(
            "0123456789ABCDEFGHIJabcdefghi-"
        )));
    }
}
