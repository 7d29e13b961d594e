//! A small bounded cache keyed by the SHA-256 of a credential (the
//! credential itself is never kept), each entry valid until a monotonic
//! deadline and, when the credential carries one, strictly before its `exp`.
//!
//! Bounded: when full, expired entries are purged first, then an arbitrary
//! eighth of the entries (the map's random order) is dropped. Eviction is not
//! security-relevant: an evicted entry only costs one more full check.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Instant;

use sha2::{Digest, Sha256};

/// SHA-256 of a credential: the cache key.
pub type Key = [u8; 32];

pub fn key_of(credential: &str) -> Key {
    Sha256::digest(credential.as_bytes()).into()
}

struct Entry<V> {
    value: V,
    /// Monotonic end of validity (the cache TTL).
    until: Instant,
    /// Unix time the credential stops being valid, if it has one.
    exp: Option<i64>,
    /// The generation the entry was made under (e.g. of the key set).
    generation: u64,
}

pub struct TtlCache<V> {
    capacity: usize,
    map: RwLock<HashMap<Key, Entry<V>>>,
}

impl<V: Clone> TtlCache<V> {
    /// `capacity` 0 disables the cache.
    pub fn new(capacity: usize) -> Self {
        TtlCache {
            capacity,
            map: RwLock::new(HashMap::new()),
        }
    }

    /// The value, if still valid at (`now`, `now_unix`) and made under `generation`.
    pub fn get(&self, key: &Key, now: Instant, now_unix: i64, generation: u64) -> Option<V> {
        if self.capacity == 0 {
            return None;
        }
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        let e = map.get(key)?;
        let fresh =
            now < e.until && e.exp.is_none_or(|exp| now_unix < exp) && e.generation == generation;
        fresh.then(|| e.value.clone())
    }

    pub fn insert(
        &self,
        key: Key,
        value: V,
        until: Instant,
        exp: Option<i64>,
        generation: u64,
        now: Instant,
    ) {
        if self.capacity == 0 {
            return;
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity && !map.contains_key(&key) {
            map.retain(|_, e| e.until > now);
            if map.len() >= self.capacity {
                let drop: Vec<Key> = map
                    .keys()
                    .take((self.capacity / 8).max(1))
                    .copied()
                    .collect();
                for k in drop {
                    map.remove(&k);
                }
            }
        }
        map.insert(
            key,
            Entry {
                value,
                until,
                exp,
                generation,
            },
        );
    }

    pub fn remove(&self, key: &Key) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }

    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_expire_by_ttl_exp_and_generation() {
        let c = TtlCache::new(10);
        let t0 = Instant::now();
        let k = key_of("tok");
        c.insert(k, 1, t0 + Duration::from_secs(30), Some(1_000), 7, t0);
        assert_eq!(c.get(&k, t0, 999, 7), Some(1));
        assert_eq!(c.get(&k, t0, 1_000, 7), None, "never at or past exp");
        assert_eq!(c.get(&k, t0 + Duration::from_secs(30), 0, 7), None, "ttl");
        assert_eq!(c.get(&k, t0, 0, 8), None, "another generation");
        assert_eq!(c.get(&key_of("other"), t0, 0, 7), None);
        c.remove(&k);
        assert_eq!(c.get(&k, t0, 0, 7), None);
    }

    #[test]
    fn size_stays_bounded() {
        let c = TtlCache::new(64);
        let t0 = Instant::now();
        for i in 0..10_000 {
            c.insert(
                key_of(&i.to_string()),
                i,
                t0 + Duration::from_secs(60),
                None,
                0,
                t0,
            );
            assert!(c.len() <= 64);
        }
        // The newest entry is always there.
        assert_eq!(c.get(&key_of("9999"), t0, 0, 0), Some(9999));
        // Expired entries go first when full.
        let c = TtlCache::new(4);
        for i in 0..4 {
            c.insert(key_of(&i.to_string()), i, t0, None, 0, t0);
        }
        c.insert(key_of("live"), 9, t0 + Duration::from_secs(5), None, 0, t0);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn capacity_zero_disables() {
        let c = TtlCache::new(0);
        let t0 = Instant::now();
        c.insert(key_of("a"), 1, t0 + Duration::from_secs(5), None, 0, t0);
        assert_eq!(c.get(&key_of("a"), t0, 0, 0), None);
        assert!(c.is_empty());
    }
}
