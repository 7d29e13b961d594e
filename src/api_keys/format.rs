//! Making API keys. The format itself (`sked_live_` + 30 random base62
//! characters + a 6-character base62 CRC32, the prefix constant, the shape
//! and checksum test) is shared with the verifier in
//! `skedcast_core::api_key` and re-exported here; only the randomness is
//! the server's.

use rand::RngExt;
use skedcast_core::api_key::{ALPHABET, RANDOM_LEN, from_random};
pub use skedcast_core::api_key::{PREFIX, display_prefix, is_well_formed};

/// A new secret key.
pub fn generate() -> String {
    let mut rng = rand::rng();
    let random: String = (0..RANDOM_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    from_random(&random)
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
}
