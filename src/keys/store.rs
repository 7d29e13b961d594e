//! Signing keys in the database: the first key, rotation, revocation,
//! pruning, and the announcement of every change to the running instances.
//! Each algorithm (ES256, RS256) has its own sequence of keys and its own
//! schedule; generations are unique across both.
//!
//! A change bumps the one-row `key_changes` counter and, on Postgres, sends
//! `NOTIFY skedcast_keys`, in the transaction that makes the change: a
//! listener never hears of a change it cannot read yet, and a change that
//! rolls back is never announced. (The first key is announced just after
//! its insert: instances racing to make it must not hold a write lock
//! across the "is there a key?" check, which SQLite could not upgrade.)

use entity::signing_key::{self, Column, Entity};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};

use super::{material, schedule, seal};

/// The Postgres channel key changes are announced on.
pub const CHANNEL: &str = "skedcast_keys";

/// The keys that may sign or be published: every key but revoked ones.
pub async fn load_all(db: &impl ConnectionTrait) -> Result<Vec<signing_key::Model>, DbErr> {
    Entity::find()
        .filter(Column::RevokedAt.is_null())
        .order_by_asc(Column::Generation)
        .all(db)
        .await
}

/// The key-change counter: it moves with every change to the key set.
pub async fn change_version(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM key_changes WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("key_changes".into()))?;
    row.try_get::<i64>("", "version")
}

/// Tell every instance the key set changed: bump the counter (SQLite
/// instances poll it) and, on Postgres, NOTIFY (delivered at commit when
/// `db` is a transaction). Run first in a transaction, it also takes the
/// write lock, so concurrent key changes queue instead of colliding.
async fn announce(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    db.execute_unprepared("UPDATE key_changes SET version = version + 1 WHERE id = 1")
        .await?;
    if db.get_database_backend() == DatabaseBackend::Postgres {
        db.execute_unprepared(&format!("SELECT pg_notify('{CHANNEL}', '')"))
            .await?;
    }
    Ok(())
}

/// The highest generation ever used, revoked keys included (generations
/// are unique and never reused).
async fn max_generation(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(Entity::find()
        .select_only()
        .column_as(Column::Generation.max(), "max")
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?
        .flatten()
        .unwrap_or(0))
}

/// Insert `generation` unless that generation already exists. Returns whether
/// this call created it: of several racing instances exactly one wins,
/// thanks to the unique index on `generation`.
async fn insert_generation(
    db: &impl ConnectionTrait,
    alg: &str,
    generation: i64,
    activates_at: i64,
    kek: Option<&[u8; 32]>,
) -> anyhow::Result<Option<String>> {
    let key = material::generate_for(alg)?;
    let model = signing_key::ActiveModel {
        kid: Set(key.kid.clone()),
        generation: Set(generation),
        private_key: Set(seal::seal(&key.private_pem, kek)?),
        public_x: Set(key.x),
        public_y: Set(key.y),
        created_at: Set(crate::clock::now()),
        activates_at: Set(activates_at),
        revoked_at: Set(None),
        alg: Set(alg.to_string()),
    };
    let inserted = Entity::insert(model)
        .on_conflict(
            OnConflict::column(Column::Generation)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok((inserted == 1).then_some(key.kid))
}

/// At start: create the first key of each algorithm when there is none
/// that may sign. Instances starting at once read the keys in one
/// statement (one snapshot), so they all try the same generation, and one
/// wins; a generation taken by the other algorithm is retried.
pub async fn ensure_first_key(
    db: &DatabaseConnection,
    kek: Option<&[u8; 32]>,
) -> anyhow::Result<()> {
    for alg in material::ALGS {
        for _ in 0..5 {
            let all: Vec<(i64, Option<i64>, String)> = Entity::find()
                .select_only()
                .column(Column::Generation)
                .column(Column::RevokedAt)
                .column(Column::Alg)
                .into_tuple()
                .all(db)
                .await?;
            if all
                .iter()
                .any(|(_, revoked_at, a)| a == alg && revoked_at.is_none())
            {
                break;
            }
            let next = all.iter().map(|(g, _, _)| *g).max().unwrap_or(0) + 1;
            if let Some(kid) = insert_generation(db, alg, next, crate::clock::now(), kek).await? {
                announce(db).await?;
                tracing::info!(%kid, alg, "created the first signing key");
                break;
            }
        }
    }
    Ok(())
}

/// The keys of `alg` among `keys` (sorted by generation: so are these).
pub fn of_alg<'a>(keys: &'a [signing_key::Model], alg: &str) -> Vec<&'a signing_key::Model> {
    keys.iter().filter(|k| k.alg == alg).collect()
}

/// The outcome of a rotation, for the CLI to print.
pub struct Rotated {
    pub kid: String,
    pub activates_at: i64,
}

/// Publish a new key of `alg` now; it signs from `now + delay_secs`. Also
/// drops keys that no longer belong in the JWKS (their private halves are
/// not needed).
pub async fn rotate(
    db: &DatabaseConnection,
    alg: &str,
    delay_secs: u64,
    retention_secs: i64,
    kek: Option<&[u8; 32]>,
) -> anyhow::Result<Rotated> {
    let activates_at = crate::clock::now().saturating_add(delay_secs as i64);
    for _ in 0..5 {
        let txn = db.begin().await?;
        announce(&txn).await?;
        let next = max_generation(&txn).await? + 1;
        if let Some(kid) = insert_generation(&txn, alg, next, activates_at, kek).await? {
            prune(&txn, retention_secs).await?;
            let at = crate::audit::At::no_ip(crate::clock::now());
            crate::audit::record(
                &txn,
                at,
                crate::audit::Event::SigningKeyRotated { kid: &kid },
            )
            .await?;
            txn.commit().await?;
            return Ok(Rotated { kid, activates_at });
        }
        // A first key took this generation at the same moment: retry.
    }
    anyhow::bail!("signing key rotation kept colliding with concurrent rotations; try again")
}

/// The outcome of a revocation, for the CLI to print.
pub struct Revoked {
    /// The key that signs from now on.
    pub signing_kid: String,
    /// Whether it was made by this revocation (the revoked key was signing).
    pub created: bool,
}

/// Revoke a compromised key: it leaves the JWKS, verifies nothing and never
/// signs again; its private half is erased and the row kept as the record.
/// When no other key can sign now, a new one is made that signs at once.
/// An unknown or already revoked `kid` is an error and changes nothing.
pub async fn revoke(
    db: &DatabaseConnection,
    kid: &str,
    kek: Option<&[u8; 32]>,
) -> anyhow::Result<Revoked> {
    let now = crate::clock::now();
    let txn = db.begin().await?;
    announce(&txn).await?;
    let marked = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .col_expr(Column::PrivateKey, Expr::value(""))
        .filter(Column::Kid.eq(kid))
        .filter(Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if marked.rows_affected == 0 {
        // Dropping `txn` rolls back the announcement too.
        let known = Entity::find_by_id(kid.to_string()).one(&txn).await?;
        match known {
            Some(_) => anyhow::bail!("signing key {kid:?} is already revoked; nothing changed"),
            None => anyhow::bail!("there is no signing key with kid {kid:?}; nothing changed"),
        }
    }
    // The revoked key's algorithm needs a key that signs now.
    let alg = Entity::find_by_id(kid.to_string())
        .one(&txn)
        .await?
        .map_or_else(|| material::ES256.to_string(), |k| k.alg);
    let all = load_all(&txn).await?;
    let rest = of_alg(&all, &alg);
    let revoked = match schedule::signer_at(&rest, now) {
        Some(i) => Revoked {
            signing_kid: rest[i].kid.clone(),
            created: false,
        },
        None => {
            let next = max_generation(&txn).await? + 1;
            let Some(kid) = insert_generation(&txn, &alg, next, now, kek).await? else {
                anyhow::bail!("a concurrent key change took generation {next}; try again");
            };
            Revoked {
                signing_kid: kid,
                created: true,
            }
        }
    };
    crate::audit::record(
        &txn,
        crate::audit::At::no_ip(now),
        crate::audit::Event::SigningKeyRevoked { kid },
    )
    .await?;
    txn.commit().await?;
    Ok(revoked)
}

impl<K: schedule::Scheduled> schedule::Scheduled for &K {
    fn generation(&self) -> i64 {
        (*self).generation()
    }
    fn activates_at(&self) -> i64 {
        (*self).activates_at()
    }
}

impl schedule::Scheduled for signing_key::Model {
    fn generation(&self) -> i64 {
        self.generation
    }
    fn activates_at(&self) -> i64 {
        self.activates_at
    }
}

/// Delete keys that are neither signing nor published any more, by the
/// schedule of their algorithm.
async fn prune(db: &impl ConnectionTrait, retention_secs: i64) -> Result<(), DbErr> {
    let all = load_all(db).await?;
    let t = crate::clock::now();
    let mut gone: Vec<String> = Vec::new();
    for alg in material::ALGS {
        let keys = of_alg(&all, alg);
        let active = schedule::active_index(&keys, t);
        gone.extend(
            keys.iter()
                .enumerate()
                .filter(|(i, _)| {
                    Some(*i) != active && !schedule::is_published(&keys, *i, t, retention_secs)
                })
                .map(|(_, k)| k.kid.clone()),
        );
    }
    if !gone.is_empty() {
        Entity::delete_many()
            .filter(Column::Kid.is_in(gone.clone()))
            .exec(db)
            .await?;
        tracing::info!(count = gone.len(), "pruned retired signing keys");
    }
    Ok(())
}
