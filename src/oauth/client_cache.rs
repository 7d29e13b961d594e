//! A short-lived in-memory cache of client records, keyed by `client_id`,
//! so that the token endpoint does not read the `clients` table on every
//! request (see the Benchmarks section of the README for what it saves).
//!
//! - Entries live `clients.cache_ttl_secs` (default 5 s; 0 disables the
//!   cache). Only found clients are cached: a new registration is usable at
//!   once on every instance.
//! - An RFC 7592 update or delete on this instance invalidates the entry at
//!   once. **Other instances** sharing the database keep their copy until it
//!   expires: a deleted client, or a client whose metadata changed, may still
//!   obtain tokens there for up to the TTL.
//! - A lookup that raced with an invalidation does not re-insert the stale
//!   row: inserts carry the epoch read before the database query, and every
//!   invalidation bumps the epoch.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbErr};

use crate::oauth::clients::{self, ClientRecord};

/// Bound on cached entries; beyond it expired entries are dropped, and if
/// that is not enough, everything.
const MAX_ENTRIES: usize = 10_000;

pub struct ClientCache {
    ttl: Duration,
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    epoch: u64,
    map: HashMap<String, (Instant, Arc<ClientRecord>)>,
}

impl ClientCache {
    pub fn new(ttl: Duration) -> Self {
        ClientCache {
            ttl,
            inner: RwLock::new(Inner::default()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh cached record.
    pub fn get(&self, client_id: &str) -> Option<Arc<ClientRecord>> {
        if self.ttl.is_zero() {
            return None;
        }
        let inner = self.read();
        let (at, rec) = inner.map.get(client_id)?;
        (at.elapsed() < self.ttl).then(|| rec.clone())
    }

    fn epoch(&self) -> u64 {
        self.read().epoch
    }

    /// Cache `rec` unless an invalidation happened since `epoch` was read.
    fn insert(&self, epoch: u64, rec: Arc<ClientRecord>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut inner = self.write();
        if inner.epoch != epoch {
            return;
        }
        if inner.map.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            inner.map.retain(|_, (at, _)| at.elapsed() < ttl);
            if inner.map.len() >= MAX_ENTRIES {
                inner.map.clear();
            }
        }
        inner
            .map
            .insert(rec.client_id.clone(), (Instant::now(), rec));
    }

    /// Forget `client_id` (its registration changed or is gone).
    pub fn invalidate(&self, client_id: &str) {
        let mut inner = self.write();
        inner.epoch = inner.epoch.wrapping_add(1);
        inner.map.remove(client_id);
    }

    /// The client `client_id`, from the cache or the database.
    pub async fn load(
        &self,
        db: &impl ConnectionTrait,
        client_id: &str,
    ) -> Result<Option<Arc<ClientRecord>>, DbErr> {
        if let Some(hit) = self.get(client_id) {
            return Ok(Some(hit));
        }
        let epoch = self.epoch();
        let Some(row) = clients::find(db, client_id).await? else {
            return Ok(None);
        };
        let rec = Arc::new(ClientRecord::from_model(&row));
        self.insert(epoch, rec.clone());
        Ok(Some(rec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> Arc<ClientRecord> {
        Arc::new(ClientRecord {
            client_id: id.into(),
            kind: "dynamic".into(),
            secret_hash: None,
            auth_method: None,
            grant_types: vec![],
            scope: vec![],
            resource: None,
        })
    }

    #[test]
    fn hits_expire_and_invalidate() {
        let c = ClientCache::new(Duration::from_millis(50));
        c.insert(c.epoch(), rec("a"));
        assert!(c.get("a").is_some());
        assert!(c.get("b").is_none());
        c.invalidate("a");
        assert!(c.get("a").is_none());
        c.insert(c.epoch(), rec("a"));
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.get("a").is_none(), "expired");
    }

    #[test]
    fn a_lookup_racing_an_invalidation_does_not_reinsert() {
        let c = ClientCache::new(Duration::from_secs(5));
        let before = c.epoch();
        c.invalidate("a"); // an RFC 7592 delete lands while the row is read
        c.insert(before, rec("a"));
        assert!(c.get("a").is_none());
    }

    #[test]
    fn zero_ttl_disables() {
        let c = ClientCache::new(Duration::ZERO);
        c.insert(c.epoch(), rec("a"));
        assert!(c.get("a").is_none());
    }

    #[test]
    fn size_is_bounded() {
        let c = ClientCache::new(Duration::from_secs(60));
        for i in 0..=MAX_ENTRIES {
            c.insert(c.epoch(), rec(&i.to_string()));
        }
        assert!(c.read().map.len() <= MAX_ENTRIES);
    }
}
