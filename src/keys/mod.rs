//! Signing keys: created at first start, rotated by the CLI, published as a
//! JWKS, used to sign JWTs (josekit / OpenSSL on the hot path). ES256 keys
//! sign access tokens and id_tokens; RS256 keys (issue 16) sign only the
//! id_tokens of clients that registered `id_token_signed_response_alg:
//! RS256`. Each algorithm has its own schedule.
//!
//! Each instance caches the key set and reloads it when the key set changes
//! (`signing-key rotate`, `signing-key revoke`): within 2 s on every
//! instance, without restart (issue 14, item 6). On Postgres a listener
//! hears `NOTIFY skedcast_keys`; on SQLite a watcher reads the one-row
//! `key_changes` counter every 500 ms (`PRAGMA data_version` would not do:
//! it ignores the watcher's own connection and differs per connection,
//! while the counter is one cheap indexed read that means the same to every
//! process). The full reload runs only when something changed; besides,
//! the set is reloaded every `keys.refresh_interval_secs`, which moves the
//! JWKS along the schedule (retired keys drop out). The choice of signer is
//! made per signature from the clock, so instances that share one database
//! switch keys at the same moment.

pub mod material;
pub mod schedule;
pub mod seal;
pub mod store;

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use josekit::jws::{JwsHeader, JwsSigner, JwsVerifier};
use sea_orm::DatabaseConnection;

use crate::settings::Settings;

/// A key ready to sign.
pub struct LoadedKey {
    pub kid: String,
    pub alg: String,
    pub generation: i64,
    pub activates_at: i64,
    signer: Box<dyn JwsSigner>,
}

impl schedule::Scheduled for Arc<LoadedKey> {
    fn generation(&self) -> i64 {
        self.generation
    }
    fn activates_at(&self) -> i64 {
        self.activates_at
    }
}

struct Snapshot {
    loaded_at: Instant,
    /// The `key_changes` counter read just before the keys were.
    version: i64,
    keys: Vec<Arc<LoadedKey>>,
    /// The JWKS document, serialised once per load.
    jwks: bytes::Bytes,
    /// One verifier per published key: `kid`, `alg`, verifier.
    verifiers: Vec<(String, String, Box<dyn JwsVerifier>)>,
}

/// How often a SQLite instance checks the key-change counter.
const CHANGE_POLL: Duration = Duration::from_millis(500);
/// Pause before reconnecting a failed Postgres listener.
const RELISTEN_PAUSE: Duration = Duration::from_secs(1);

pub struct KeyStore {
    shared: Arc<Shared>,
    /// The change watcher; it ends with the store.
    watcher: tokio::task::AbortHandle,
}

impl Drop for KeyStore {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

impl std::ops::Deref for KeyStore {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.shared
    }
}

/// What the store and its change watcher share.
pub struct Shared {
    db: DatabaseConnection,
    kek: Option<[u8; 32]>,
    refresh: Duration,
    retention_secs: i64,
    snapshot: RwLock<Arc<Snapshot>>,
    reloading: tokio::sync::Mutex<()>,
}

impl KeyStore {
    /// Make sure a key exists, then load the set and start watching for
    /// changes. Fails when a stored key cannot be read (e.g. sealed and no
    /// or the wrong encryption key).
    pub async fn open(db: DatabaseConnection, settings: &Settings) -> anyhow::Result<Self> {
        let kek = settings.keys.encryption_key;
        store::ensure_first_key(&db, kek.as_ref()).await?;
        let snapshot = load(&db, kek.as_ref(), retention(settings)).await?;
        let postgres = db.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
        let shared = Arc::new(Shared {
            db,
            kek,
            refresh: Duration::from_secs(settings.keys.refresh_interval_secs),
            retention_secs: retention(settings),
            snapshot: RwLock::new(Arc::new(snapshot)),
            reloading: tokio::sync::Mutex::new(()),
        });
        let weak = Arc::downgrade(&shared);
        let watcher = if postgres {
            tokio::spawn(listen(weak, settings.database.url.clone()))
        } else {
            tokio::spawn(poll(weak))
        };
        Ok(KeyStore {
            shared,
            watcher: watcher.abort_handle(),
        })
    }
}

/// Postgres: reload on each `NOTIFY skedcast_keys`. After (re)connecting,
/// notifications may have been missed: the counter tells.
async fn listen(shared: Weak<Shared>, url: String) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let mut listener = match PgListener::connect(&url).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for signing key changes; retrying");
                tokio::time::sleep(RELISTEN_PAUSE).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(store::CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for signing key changes; retrying");
            tokio::time::sleep(RELISTEN_PAUSE).await;
            continue;
        }
        let Some(s) = shared.upgrade() else { return };
        warn_on_error(s.reload_if_changed().await);
        drop(s);
        loop {
            let next = listener.try_recv().await;
            let Some(s) = shared.upgrade() else { return };
            match next {
                Ok(Some(_)) => s.reload("notification").await,
                // The connection was lost and is back: catch up.
                Ok(None) => warn_on_error(s.reload_if_changed().await),
                Err(e) => {
                    tracing::warn!(error = %e, "listening for signing key changes failed; reconnecting");
                    break;
                }
            }
        }
        tokio::time::sleep(RELISTEN_PAUSE).await;
    }
}

/// SQLite: compare the change counter every [`CHANGE_POLL`].
async fn poll(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(CHANGE_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        let Some(s) = shared.upgrade() else { return };
        // Twice a second: log when checks start failing and when they work
        // again, not every failure.
        match s.reload_if_changed().await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("checking for signing key changes works again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                warn_on_error(Err(e));
            }
            Err(_) => {}
        }
    }
}

fn warn_on_error(checked: Result<(), sea_orm::DbErr>) {
    if let Err(e) = checked {
        tracing::warn!(error = %e, "checking for signing key changes failed; using cached keys");
    }
}

impl Shared {
    /// The current snapshot, reloaded from the database when older than
    /// `keys.refresh_interval_secs`. One caller reloads; the others keep
    /// using the previous snapshot meanwhile.
    async fn current(&self) -> Arc<Snapshot> {
        let snap = self.read();
        if snap.loaded_at.elapsed() < self.refresh {
            return snap;
        }
        let Ok(_guard) = self.reloading.try_lock() else {
            return snap;
        };
        self.load_now("interval").await.unwrap_or(snap)
    }

    /// Reload after a change, waiting for a reload already running (it
    /// may have read the keys before the change).
    async fn reload(&self, trigger: &'static str) {
        let _guard = self.reloading.lock().await;
        self.load_now(trigger).await;
    }

    /// Reload if the change counter moved since the last load.
    async fn reload_if_changed(&self) -> Result<(), sea_orm::DbErr> {
        if store::change_version(&self.db).await? != self.read().version {
            self.reload("change").await;
        }
        Ok(())
    }

    /// Load, publish and count a fresh snapshot; `None` (and the cached
    /// keys stay) when the database fails. The caller holds `reloading`.
    async fn load_now(&self, trigger: &'static str) -> Option<Arc<Snapshot>> {
        match load(&self.db, self.kek.as_ref(), self.retention_secs).await {
            Ok(fresh) => {
                // Counted before it is used: whoever sees the new keys sees the count.
                metrics::counter!("signing_key_reloads_total", "trigger" => trigger).increment(1);
                let fresh = Arc::new(fresh);
                if let Ok(mut w) = self.snapshot.write() {
                    *w = fresh.clone();
                }
                Some(fresh)
            }
            Err(e) => {
                // Keep serving with the keys we have; the database may be back soon.
                tracing::warn!(error = %e, trigger, "reloading signing keys failed; using cached keys");
                None
            }
        }
    }

    fn read(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The JWKS document bytes.
    pub async fn jwks(&self) -> bytes::Bytes {
        self.current().await.jwks.clone()
    }

    /// Sign `claims` as a compact JWS (ES256) with header `typ`, returning
    /// the token.
    pub async fn sign<T: serde::Serialize>(&self, typ: &str, claims: &T) -> anyhow::Result<String> {
        self.sign_with(material::ES256, typ, claims).await
    }

    /// Sign `claims` with the active key of `alg` (ES256 or RS256).
    pub async fn sign_with<T: serde::Serialize>(
        &self,
        alg: &str,
        typ: &str,
        claims: &T,
    ) -> anyhow::Result<String> {
        let snap = self.current().await;
        let keys: Vec<&Arc<LoadedKey>> = snap.keys.iter().filter(|k| k.alg == alg).collect();
        let i = schedule::active_index(&keys, crate::clock::now())
            .ok_or_else(|| anyhow::anyhow!("no {alg} signing key"))?;
        let key = keys[i];
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(key.kid.clone());
        let payload = serde_json::to_vec(claims)?;
        Ok(josekit::jws::serialize_compact(
            &payload,
            &header,
            key.signer.as_ref(),
        )?)
    }

    /// Verify a compact JWS made by one of the published keys of either
    /// algorithm (the header's `alg` must be that key's), whatever its
    /// `typ`: for id_tokens this server issued (`id_token_hint`). Access
    /// tokens are checked by [`Shared::verify`], which pins ES256.
    pub async fn verify_own(&self, token: &str) -> Option<Vec<u8>> {
        let snap = self.current().await;
        let selected = josekit::jws::deserialize_compact_with_selector(token, |header| {
            Ok(header.key_id().and_then(|kid| {
                snap.verifiers
                    .iter()
                    .find(|(k, alg, _)| k == kid && header.algorithm() == Some(alg.as_str()))
                    .map(|(_, _, v)| v.as_ref())
            }))
        });
        selected.ok().map(|(payload, _)| payload)
    }

    /// Verify a compact JWS made by one of the published keys and return its
    /// payload. The header must say `alg` ES256 (nothing else is accepted:
    /// no `none`, no HS*/RS*), a published `kid`, and `typ` equal to `typ`
    /// (compared as a media type: case-insensitive, `application/` optional,
    /// RFC 7515 §4.1.9). `None` for anything else.
    pub async fn verify(&self, typ: &str, token: &str) -> Option<Vec<u8>> {
        let snap = self.current().await;
        let selected = josekit::jws::deserialize_compact_with_selector(token, |header| {
            let alg_ok = header.algorithm() == Some("ES256");
            let typ_ok = header.token_type().is_some_and(|t| same_media_type(t, typ));
            let verifier = header.key_id().and_then(|kid| {
                snap.verifiers
                    .iter()
                    .find(|(k, alg, _)| k == kid && alg == material::ES256)
                    .map(|(_, _, v)| v.as_ref())
            });
            Ok(if alg_ok && typ_ok { verifier } else { None })
        });
        selected.ok().map(|(payload, _)| payload)
    }

    /// The `kid` that signs now.
    pub async fn active_kid(&self) -> Option<String> {
        let snap = self.current().await;
        let keys: Vec<&Arc<LoadedKey>> = snap
            .keys
            .iter()
            .filter(|k| k.alg == material::ES256)
            .collect();
        schedule::active_index(&keys, crate::clock::now()).map(|i| keys[i].kid.clone())
    }
}

/// Published keys outlive their last signature by the longest token
/// lifetime (access token or id_token) plus the configured leeway.
pub fn retention(settings: &Settings) -> i64 {
    let longest = settings
        .tokens
        .access_token_ttl_secs
        .max(settings.tokens.id_token_ttl_secs);
    (longest + settings.keys.retirement_leeway_secs) as i64
}

async fn load(
    db: &DatabaseConnection,
    kek: Option<&[u8; 32]>,
    retention_secs: i64,
) -> anyhow::Result<Snapshot> {
    let version = store::change_version(db).await?;
    let rows = store::load_all(db).await?;
    let now = crate::clock::now();
    let mut keys = Vec::with_capacity(rows.len());
    let mut published = Vec::new();
    let mut verifiers = Vec::new();
    // ES256 keys first: the JWKS lists them before the RSA ones.
    for alg in material::ALGS {
        let of_alg = store::of_alg(&rows, alg);
        for (i, row) in of_alg.iter().enumerate() {
            if schedule::is_published(&of_alg, i, now, retention_secs) {
                let jwk = material::public_jwk_for(alg, &row.kid, &row.public_x, &row.public_y);
                verifiers.push((
                    row.kid.clone(),
                    alg.to_string(),
                    verifier(alg, &jwk, &row.kid)?,
                ));
                published.push(jwk);
            }
            let pem = seal::unseal(&row.private_key, kek, &format!("signing key {}", row.kid))?;
            let unreadable = |e| anyhow::anyhow!("signing key {} is unreadable: {e}", row.kid);
            let signer: Box<dyn JwsSigner> = if alg == material::RS256 {
                Box::new(
                    josekit::jws::RS256
                        .signer_from_pem(pem.as_bytes())
                        .map_err(unreadable)?,
                )
            } else {
                Box::new(
                    josekit::jws::ES256
                        .signer_from_pem(pem.as_bytes())
                        .map_err(unreadable)?,
                )
            };
            keys.push(Arc::new(LoadedKey {
                kid: row.kid.clone(),
                alg: alg.to_string(),
                generation: row.generation,
                activates_at: row.activates_at,
                signer,
            }));
        }
    }
    let jwks = serde_json::to_vec(&serde_json::json!({ "keys": published }))?;
    Ok(Snapshot {
        loaded_at: Instant::now(),
        version,
        keys,
        jwks: jwks.into(),
        verifiers,
    })
}

fn verifier(alg: &str, jwk: &serde_json::Value, kid: &str) -> anyhow::Result<Box<dyn JwsVerifier>> {
    let map = match jwk {
        serde_json::Value::Object(m) => m.clone(),
        _ => anyhow::bail!("public key {kid} is not a JSON object"),
    };
    let jwk = josekit::jwk::Jwk::from_map(map)
        .map_err(|e| anyhow::anyhow!("public key {kid} is unreadable: {e}"))?;
    let unreadable = |e| anyhow::anyhow!("public key {kid} is unreadable: {e}");
    Ok(if alg == material::RS256 {
        Box::new(
            josekit::jws::RS256
                .verifier_from_jwk(&jwk)
                .map_err(unreadable)?,
        )
    } else {
        Box::new(
            josekit::jws::ES256
                .verifier_from_jwk(&jwk)
                .map_err(unreadable)?,
        )
    })
}

/// Media types compared as RFC 7515 §4.1.9 says for `typ`: case-insensitive,
/// with the `application/` prefix optional.
fn same_media_type(a: &str, b: &str) -> bool {
    let strip = |s: &str| -> String {
        let s = s.to_ascii_lowercase();
        match s.strip_prefix("application/") {
            Some(rest) => rest.to_string(),
            None => s,
        }
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::same_media_type;

    #[test]
    fn typ_comparison() {
        assert!(same_media_type("at+jwt", "at+jwt"));
        assert!(same_media_type("application/at+JWT", "at+jwt"));
        assert!(!same_media_type("JWT", "at+jwt"));
        assert!(!same_media_type("", "at+jwt"));
    }
}
