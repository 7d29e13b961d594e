//! A short-lived in-memory cache of client records, keyed by `client_id`,
//! so that the token endpoint does not read the `clients` table on every
//! request (see the Benchmarks section of the README for what it saves).
//!
//! - An entry is served for at most `clients.cache_ttl_secs` (default 5 s;
//!   0 disables the cache) after it was read from the database. Only found
//!   clients are cached: a new registration is usable at once everywhere.
//! - Refresh ahead: the first request that finds an entry older than half
//!   the TTL starts one background re-read and is served from the cache, so
//!   a busy client is re-read about once per half TTL and no request waits
//!   for the database while its entry is fresh. If the re-read fails, the
//!   entry simply expires at the TTL.
//! - An RFC 7592 update or delete on this instance invalidates the entry at
//!   once. **Other instances** sharing the database keep their copy until it
//!   expires: a deleted client, or a client whose metadata changed, may still
//!   obtain tokens there for up to the TTL.
//! - A read that raced with an invalidation does not re-insert the stale
//!   row: inserts carry the epoch read before the database query, and every
//!   invalidation bumps the epoch.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, DbErr};

use super::model::ClientRecord;
use super::store;

/// Bound on cached entries; beyond it expired entries are dropped, and if
/// that is not enough, everything.
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone)]
pub struct ClientCache {
    ttl: Duration,
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default)]
struct Inner {
    epoch: u64,
    map: HashMap<String, Entry>,
}

struct Entry {
    loaded_at: Instant,
    record: Arc<ClientRecord>,
    refreshing: bool,
}

/// What a lookup found.
enum Lookup {
    Fresh(Arc<ClientRecord>),
    /// Fresh, and this caller should re-read it (epoch before the read).
    RefreshAhead(Arc<ClientRecord>, u64),
    /// Absent or expired (epoch before the read).
    Miss(u64),
}

impl ClientCache {
    pub fn new(ttl: Duration) -> Self {
        ClientCache {
            ttl,
            inner: Arc::new(RwLock::new(Inner::default())),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    fn lookup(&self, client_id: &str) -> Lookup {
        {
            let inner = self.read();
            match inner.map.get(client_id) {
                Some(e) if e.loaded_at.elapsed() >= self.ttl => return Lookup::Miss(inner.epoch),
                None => return Lookup::Miss(inner.epoch),
                Some(e) if e.refreshing || e.loaded_at.elapsed() < self.ttl / 2 => {
                    return Lookup::Fresh(e.record.clone());
                }
                Some(_) => {}
            }
        }
        // Old enough to refresh: exactly one caller gets to.
        let mut inner = self.write();
        let epoch = inner.epoch;
        match inner.map.get_mut(client_id) {
            Some(e) if e.loaded_at.elapsed() < self.ttl => {
                if e.refreshing {
                    Lookup::Fresh(e.record.clone())
                } else {
                    e.refreshing = true;
                    Lookup::RefreshAhead(e.record.clone(), epoch)
                }
            }
            _ => Lookup::Miss(epoch),
        }
    }

    /// A cached record that may still be served.
    pub fn get(&self, client_id: &str) -> Option<Arc<ClientRecord>> {
        if self.ttl.is_zero() {
            return None;
        }
        let inner = self.read();
        let e = inner.map.get(client_id)?;
        (e.loaded_at.elapsed() < self.ttl).then(|| e.record.clone())
    }

    /// Store what the database said about `client_id` (`None`: no such
    /// client), unless an invalidation happened since `epoch` was read.
    fn store(&self, epoch: u64, client_id: &str, record: Option<Arc<ClientRecord>>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut inner = self.write();
        if inner.epoch != epoch {
            return;
        }
        let Some(record) = record else {
            inner.map.remove(client_id);
            return;
        };
        if inner.map.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            inner.map.retain(|_, e| e.loaded_at.elapsed() < ttl);
            if inner.map.len() >= MAX_ENTRIES {
                inner.map.clear();
            }
        }
        inner.map.insert(
            client_id.to_string(),
            Entry {
                loaded_at: Instant::now(),
                record,
                refreshing: false,
            },
        );
    }

    /// A refresh that failed: let another caller try.
    fn refresh_failed(&self, client_id: &str) {
        if let Some(e) = self.write().map.get_mut(client_id) {
            e.refreshing = false;
        }
    }

    /// Forget `client_id` (its registration changed or is gone).
    pub fn invalidate(&self, client_id: &str) {
        let mut inner = self.write();
        inner.epoch = inner.epoch.wrapping_add(1);
        inner.map.remove(client_id);
    }

    async fn read_through(
        &self,
        db: &DatabaseConnection,
        client_id: &str,
        epoch: u64,
    ) -> Result<Option<Arc<ClientRecord>>, DbErr> {
        let record = store::find(db, client_id)
            .await?
            .map(|row| Arc::new(ClientRecord::from_model(&row)));
        self.store(epoch, client_id, record.clone());
        Ok(record)
    }

    /// The client `client_id`, from the cache or the database.
    pub async fn load(
        &self,
        db: &DatabaseConnection,
        client_id: &str,
    ) -> Result<Option<Arc<ClientRecord>>, DbErr> {
        if self.ttl.is_zero() {
            return Ok(store::find(db, client_id)
                .await?
                .map(|row| Arc::new(ClientRecord::from_model(&row))));
        }
        match self.lookup(client_id) {
            Lookup::Fresh(record) => Ok(Some(record)),
            Lookup::RefreshAhead(record, epoch) => {
                let (cache, db, id) = (self.clone(), db.clone(), client_id.to_string());
                tokio::spawn(async move {
                    if let Err(e) = cache.read_through(&db, &id, epoch).await {
                        tracing::warn!(error = %e, "refreshing a cached client failed");
                        cache.refresh_failed(&id);
                    }
                });
                Ok(Some(record))
            }
            Lookup::Miss(epoch) => self.read_through(db, client_id, epoch).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client::model::{AuthMethod, ClientKind};

    fn rec(id: &str) -> Arc<ClientRecord> {
        Arc::new(ClientRecord {
            client_id: id.into(),
            kind: ClientKind::Dynamic,
            secret_hash: None,
            auth_method: AuthMethod::None,
            grant_types: vec![],
            scope: vec![],
            resource: None,
            jwks: None,
            jwks_uri: None,
            id_token_alg: crate::keys::material::ES256,
            dpop_bound_access_tokens: false,
        })
    }

    fn epoch(c: &ClientCache) -> u64 {
        c.read().epoch
    }

    #[test]
    fn hits_expire_and_invalidate() {
        let c = ClientCache::new(Duration::from_millis(80));
        c.store(epoch(&c), "a", Some(rec("a")));
        assert!(c.get("a").is_some());
        assert!(c.get("b").is_none());
        c.invalidate("a");
        assert!(c.get("a").is_none());
        c.store(epoch(&c), "a", Some(rec("a")));
        std::thread::sleep(Duration::from_millis(90));
        assert!(c.get("a").is_none(), "expired");
        assert!(matches!(c.lookup("a"), Lookup::Miss(_)));
    }

    #[test]
    fn one_caller_refreshes_ahead_the_others_are_served() {
        let c = ClientCache::new(Duration::from_millis(200));
        c.store(epoch(&c), "a", Some(rec("a")));
        assert!(matches!(c.lookup("a"), Lookup::Fresh(_)));
        std::thread::sleep(Duration::from_millis(110));
        assert!(matches!(c.lookup("a"), Lookup::RefreshAhead(..)));
        assert!(
            matches!(c.lookup("a"), Lookup::Fresh(_)),
            "only one refresher"
        );
        // The refresh found the client gone.
        let e = epoch(&c);
        c.store(e, "a", None);
        assert!(matches!(c.lookup("a"), Lookup::Miss(_)));
        // A failed refresh lets the next caller try again.
        c.store(epoch(&c), "b", Some(rec("b")));
        std::thread::sleep(Duration::from_millis(110));
        assert!(matches!(c.lookup("b"), Lookup::RefreshAhead(..)));
        c.refresh_failed("b");
        assert!(matches!(c.lookup("b"), Lookup::RefreshAhead(..)));
    }

    #[test]
    fn a_read_racing_an_invalidation_does_not_reinsert() {
        let c = ClientCache::new(Duration::from_secs(5));
        let before = epoch(&c);
        c.invalidate("a"); // an RFC 7592 delete lands while the row is read
        c.store(before, "a", Some(rec("a")));
        assert!(c.get("a").is_none());
    }

    #[test]
    fn zero_ttl_disables() {
        let c = ClientCache::new(Duration::ZERO);
        c.store(epoch(&c), "a", Some(rec("a")));
        assert!(c.get("a").is_none());
    }

    #[test]
    fn size_is_bounded() {
        let c = ClientCache::new(Duration::from_secs(60));
        for i in 0..=MAX_ENTRIES {
            let id = i.to_string();
            c.store(epoch(&c), &id, Some(rec(&id)));
        }
        assert!(c.read().map.len() <= MAX_ENTRIES);
    }
}
