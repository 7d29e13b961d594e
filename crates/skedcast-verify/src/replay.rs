//! The DPoP proofs a resource server has accepted (RFC 9449 §11.1), by the
//! SHA-256 of the key thumbprint and `jti`, until their window ends. Per
//! instance, in memory, bounded: a proof replayed to another instance of the
//! same resource is not caught here (the proof is bound to the method, URL,
//! time window and the access token, which limits what a replay can do).
//!
//! Unlike the token cache, eviction here would let a replay through, so a
//! live entry is never dropped: when every slot holds a live proof, new
//! proofs are refused until some expire ([`Outcome::Full`]).

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// First use: recorded.
    First,
    /// Seen before within its window.
    Replayed,
    /// No room: every remembered proof is still within its window.
    Full,
}

pub struct ReplayCache {
    capacity: usize,
    /// Key → Unix time the entry may be forgotten.
    map: Mutex<HashMap<[u8; 32], i64>>,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        ReplayCache {
            capacity: capacity.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Record the proof `jti` of key `jkt`, remembered until `until`;
    /// check and insert are one step under the lock.
    pub fn use_once(&self, jkt: &str, jti: &str, until: i64, now: i64) -> Outcome {
        let mut h = Sha256::new();
        h.update(jkt.as_bytes());
        h.update(b"\n");
        h.update(jti.as_bytes());
        let key: [u8; 32] = h.finalize().into();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&exp) = map.get(&key)
            && exp >= now
        {
            return Outcome::Replayed;
        }
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.retain(|_, exp| *exp >= now);
            if map.len() >= self.capacity {
                return Outcome::Full;
            }
        }
        map.insert(key, until);
        Outcome::First
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_within_the_window_and_never_evicted_while_live() {
        let c = ReplayCache::new(2);
        assert_eq!(c.use_once("k", "a", 100, 0), Outcome::First);
        assert_eq!(c.use_once("k", "a", 100, 50), Outcome::Replayed);
        assert_eq!(c.use_once("other", "a", 100, 50), Outcome::First);
        assert_eq!(c.use_once("k", "b", 100, 50), Outcome::Full);
        assert_eq!(c.use_once("k", "a", 100, 99), Outcome::Replayed);
        // Once the window is over, room is made and old ids may come back
        // (the proof's iat refuses them by then anyway).
        assert_eq!(c.use_once("k", "b", 300, 101), Outcome::First);
        assert_eq!(c.use_once("k", "a", 300, 101), Outcome::First);
    }
}
