//! ES256 signing keys: created at first start, rotated by the CLI, published
//! as a JWKS, used to sign JWTs (josekit / OpenSSL on the hot path).
//!
//! Each instance caches the key set for `keys.refresh_interval_secs`; the
//! choice of signer is made per signature from the clock, so instances that
//! share one database switch keys at the same moment.

pub mod material;
pub mod schedule;
pub mod seal;
pub mod store;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use josekit::jws::alg::ecdsa::{EcdsaJwsSigner, EcdsaJwsVerifier};
use josekit::jws::{JwsHeader, JwsVerifier};
use sea_orm::DatabaseConnection;

use crate::settings::Settings;

/// A key ready to sign.
pub struct LoadedKey {
    pub kid: String,
    pub generation: i64,
    pub activates_at: i64,
    signer: EcdsaJwsSigner,
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
    keys: Vec<Arc<LoadedKey>>,
    /// The JWKS document, serialised once per load.
    jwks: bytes::Bytes,
    /// One verifier per published key, by `kid`.
    verifiers: Vec<(String, EcdsaJwsVerifier)>,
}

pub struct KeyStore {
    db: DatabaseConnection,
    kek: Option<[u8; 32]>,
    refresh: Duration,
    retention_secs: i64,
    snapshot: RwLock<Arc<Snapshot>>,
    reloading: tokio::sync::Mutex<()>,
}

impl KeyStore {
    /// Make sure a key exists, then load the set. Fails when a stored key
    /// cannot be read (e.g. sealed and no or the wrong encryption key).
    pub async fn open(db: DatabaseConnection, settings: &Settings) -> anyhow::Result<Self> {
        let kek = settings.keys.encryption_key;
        store::ensure_first_key(&db, kek.as_ref()).await?;
        let snapshot = load(&db, kek.as_ref(), retention(settings)).await?;
        Ok(KeyStore {
            db,
            kek,
            refresh: Duration::from_secs(settings.keys.refresh_interval_secs),
            retention_secs: retention(settings),
            snapshot: RwLock::new(Arc::new(snapshot)),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// The current snapshot, reloaded from the database when stale. One
    /// caller reloads; the others keep using the previous snapshot meanwhile.
    async fn current(&self) -> Arc<Snapshot> {
        let snap = self.read();
        if snap.loaded_at.elapsed() < self.refresh {
            return snap;
        }
        let Ok(_guard) = self.reloading.try_lock() else {
            return snap;
        };
        match load(&self.db, self.kek.as_ref(), self.retention_secs).await {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                if let Ok(mut w) = self.snapshot.write() {
                    *w = fresh.clone();
                }
                fresh
            }
            Err(e) => {
                // Keep serving with the keys we have; the database may be back soon.
                tracing::warn!(error = %e, "reloading signing keys failed; using cached keys");
                snap
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

    /// Sign `claims` as a compact JWS with header `typ`, returning the token.
    pub async fn sign<T: serde::Serialize>(&self, typ: &str, claims: &T) -> anyhow::Result<String> {
        let snap = self.current().await;
        let i = schedule::active_index(&snap.keys, crate::clock::now())
            .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        let key = &snap.keys[i];
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(key.kid.clone());
        let payload = serde_json::to_vec(claims)?;
        Ok(josekit::jws::serialize_compact(
            &payload,
            &header,
            &key.signer,
        )?)
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
                    .find(|(k, _)| k == kid)
                    .map(|(_, v)| v as &dyn JwsVerifier)
            });
            Ok(if alg_ok && typ_ok { verifier } else { None })
        });
        selected.ok().map(|(payload, _)| payload)
    }

    /// The `kid` that signs now.
    pub async fn active_kid(&self) -> Option<String> {
        let snap = self.current().await;
        schedule::active_index(&snap.keys, crate::clock::now()).map(|i| snap.keys[i].kid.clone())
    }
}

/// Published keys outlive their last signature by the longest access-token
/// lifetime plus the configured leeway.
pub fn retention(settings: &Settings) -> i64 {
    (settings.tokens.access_token_ttl_secs + settings.keys.retirement_leeway_secs) as i64
}

async fn load(
    db: &DatabaseConnection,
    kek: Option<&[u8; 32]>,
    retention_secs: i64,
) -> anyhow::Result<Snapshot> {
    let rows = store::load_all(db).await?;
    let now = crate::clock::now();
    let mut keys = Vec::with_capacity(rows.len());
    let mut published = Vec::new();
    let mut verifiers = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if schedule::is_published(&rows, i, now, retention_secs) {
            let jwk = material::public_jwk(&row.kid, &row.public_x, &row.public_y);
            verifiers.push((row.kid.clone(), verifier(&jwk, &row.kid)?));
            published.push(jwk);
        }
        let pem = seal::unseal(&row.private_key, kek, &row.kid)?;
        let signer = josekit::jws::ES256
            .signer_from_pem(pem.as_bytes())
            .map_err(|e| anyhow::anyhow!("signing key {} is unreadable: {e}", row.kid))?;
        keys.push(Arc::new(LoadedKey {
            kid: row.kid.clone(),
            generation: row.generation,
            activates_at: row.activates_at,
            signer,
        }));
    }
    let jwks = serde_json::to_vec(&serde_json::json!({ "keys": published }))?;
    Ok(Snapshot {
        loaded_at: Instant::now(),
        keys,
        jwks: jwks.into(),
        verifiers,
    })
}

fn verifier(jwk: &serde_json::Value, kid: &str) -> anyhow::Result<EcdsaJwsVerifier> {
    let map = match jwk {
        serde_json::Value::Object(m) => m.clone(),
        _ => anyhow::bail!("public key {kid} is not a JSON object"),
    };
    let jwk = josekit::jwk::Jwk::from_map(map)
        .map_err(|e| anyhow::anyhow!("public key {kid} is unreadable: {e}"))?;
    josekit::jws::ES256
        .verifier_from_jwk(&jwk)
        .map_err(|e| anyhow::anyhow!("public key {kid} is unreadable: {e}"))
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
