//! Connecting to the database (SQLite by default, Postgres by URL) and
//! applying migrations.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    Statement, TransactionTrait,
};

use crate::settings::DatabaseSettings;

/// Arbitrary but fixed: the Postgres advisory lock that serialises
/// migrations when several instances start at once.
const MIGRATION_LOCK_ID: i64 = 0x736b_6564_6361_7374; // "skedcast"

/// Open a pool. For SQLite the file's folder is created, WAL is on,
/// writers wait `sqlite_busy_timeout_ms` for the lock instead of failing,
/// and each connection gets the configured page cache and mmap size.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    if let Some(path) = sqlite_path(&settings.url)
        && let Some(parent) = std::path::Path::new(&path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            DbErr::Custom(format!("cannot create folder {}: {e}", parent.display()))
        })?;
    }
    let busy = Duration::from_millis(settings.sqlite_busy_timeout_ms);
    let cache_size = format!("-{}", settings.sqlite_cache_kib);
    let mmap_size = (u64::from(settings.sqlite_mmap_mib) << 20).to_string();
    let mut opts = ConnectOptions::new(settings.url.clone());
    opts.max_connections(settings.max_connections)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(settings.acquire_timeout_secs))
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
        .sqlx_logging(false)
        // sqlx pings a pooled connection before every use: on SQLite a
        // round trip to the connection's worker thread for each statement,
        // checking a link that cannot drop (the file is local). Postgres
        // connections can, and keep the check.
        .test_before_acquire(!settings.url.starts_with("sqlite:"))
        .map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(busy)
                .foreign_keys(true)
                .pragma("cache_size", cache_size.clone())
                .pragma("mmap_size", mmap_size.clone())
        });
    // Switching a new SQLite file to WAL needs an exclusive lock that the
    // busy timeout does not cover: processes opening the same new file at
    // the same instant can get SQLITE_BUSY once. Retry briefly.
    let sqlite = settings.url.starts_with("sqlite:");
    let mut attempt = 0;
    loop {
        match Database::connect(opts.clone()).await {
            Err(e) if sqlite && attempt < 40 && e.to_string().contains("database is locked") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

/// The file path of a `sqlite:` URL, if it names a file.
fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_string())
}

/// Apply pending migrations. On Postgres the whole run holds a
/// transaction-scoped advisory lock, so concurrent starts apply them once.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let txn = db.begin().await?;
            txn.execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})"
            ))
            .await?;
            Migrator::up(&txn, None).await?;
            txn.commit().await
        }
        _ => {
            // SQLite has no advisory locks: several processes on one file
            // serialise on an OS file lock beside it.
            let _lock = match sqlite_file(db).await? {
                Some(path) => Some(lock_file(format!("{path}.migrate-lock")).await?),
                None => None,
            };
            Migrator::up(db, None).await
        }
    }
}

/// The file of a SQLite database as SQLite reports it; `None` for an
/// in-memory one (sqlx names those `file:sqlx-in-memory-N`: a lock "beside"
/// that name would be a file in the working directory).
async fn sqlite_file(db: &DatabaseConnection) -> Result<Option<String>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            "SELECT file FROM pragma_database_list WHERE name = 'main'",
        ))
        .await?;
    let file: String = match row {
        Some(row) => row.try_get("", "file")?,
        None => String::new(),
    };
    Ok((!file.is_empty()).then_some(file))
}

/// An exclusive lock on `path`, held until the file handle is dropped.
async fn lock_file(path: String) -> Result<std::fs::File, DbErr> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| DbErr::Custom(format!("migration lock: {e}")))?
    .map_err(|e| DbErr::Custom(format!("migration lock: {e}")))
}

/// Whether `e` says the database cannot take the request now (unreachable,
/// read-only, full, locked past the busy timeout, shutting down, a
/// serialisation conflict) rather than a fault of ours: such errors are
/// answered `503 temporarily_unavailable`, the others `500 server_error`.
pub fn is_unavailable(e: &DbErr) -> bool {
    use sea_orm::RuntimeErr::SqlxError;
    use sea_orm::sqlx::Error;
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(SqlxError(e)) | DbErr::Query(SqlxError(e)) => match &**e {
            Error::Database(d) => {
                let code = d.code().unwrap_or_default();
                if d.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                    .is_some()
                {
                    code.parse().is_ok_and(sqlite_unavailable)
                } else {
                    postgres_unavailable(&code)
                }
            }
            Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
            _ => false,
        },
        _ => false,
    }
}

/// Pure: SQLite (extended) result codes whose primary code is BUSY (5),
/// LOCKED (6), READONLY (8), IOERR (10), FULL (13) or CANTOPEN (14).
pub fn sqlite_unavailable(extended_code: i32) -> bool {
    matches!(extended_code & 0xff, 5 | 6 | 8 | 10 | 13 | 14)
}

/// Pure: Postgres SQLSTATEs of the same kind: connection exceptions (08),
/// insufficient resources (53: disk full, out of memory, too many
/// connections), operator intervention (57P: shutdown, cannot connect now),
/// a read-only transaction (25006), a lock not available (55P03),
/// serialisation failure and deadlock (40001, 40P01), an I/O error (58030).
pub fn postgres_unavailable(sqlstate: &str) -> bool {
    ["08", "53", "57P"]
        .iter()
        .any(|class| sqlstate.starts_with(class))
        || matches!(sqlstate, "25006" | "55P03" | "40001" | "40P01" | "58030")
}

/// Readiness: the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// The most rows housekeeping deletes in one statement (the first batch's
/// size; later ones follow [`next_batch`]).
pub const PRUNE_BATCH: u64 = 500;

/// The fewest rows a batch is cut down to.
const PRUNE_BATCH_MIN: u64 = 20;

/// How long a batch should hold the write lock: SQLite has one writer, so a
/// request's write waits up to one batch (and SQLite's busy handler sleeps
/// 1, 2, 5, 10 ms... between its tries).
const PRUNE_BATCH_TARGET: Duration = Duration::from_millis(5);

/// After each batch housekeeping pauses this many times as long as the
/// batch took: at most a third of the time in batches, so the requests'
/// writes and CPU (2 cores shared) come first.
const PRUNE_PAUSE_RATIO: u32 = 2;

/// Pure: the next batch's size after `size` rows took `took`, scaled
/// towards [`PRUNE_BATCH_TARGET`] (at most doubled or halved at once) within
/// [`PRUNE_BATCH_MIN`]..=[`PRUNE_BATCH`]. Index depth, cache and a busy
/// machine make a row cost 10 µs or 100 µs: the time decides, not a count.
pub fn next_batch(size: u64, took: Duration) -> u64 {
    let target = PRUNE_BATCH_TARGET.as_micros() as u64;
    let took = (took.as_micros() as u64).max(1);
    let scaled = size.saturating_mul(target) / took;
    scaled
        .clamp(size / 2, size.saturating_mul(2))
        .clamp(PRUNE_BATCH_MIN, PRUNE_BATCH)
}

/// The pause after a batch that took `took`: [`PRUNE_PAUSE_RATIO`] times
/// it, at least 1 ms (a yield to the requests waiting), at most 1 s (a
/// batch slowed down by a busy machine must not stall the prune).
pub fn prune_pause(took: Duration) -> Duration {
    (took * PRUNE_PAUSE_RATIO).clamp(Duration::from_millis(1), Duration::from_secs(1))
}

/// Delete the rows of `E` matching `cond` in batches: at most
/// [`PRUNE_BATCH`] rows a statement (`key` IN (the first ones matching)),
/// fewer when a batch takes longer than [`PRUNE_BATCH_TARGET`]
/// ([`next_batch`]), with a pause after each ([`prune_pause`]). `key` is the primary key; `cond` should be served by
/// an index (tests/it/query_plans.rs checks). Returns the rows deleted.
pub async fn delete_in_batches<E: sea_orm::EntityTrait>(
    db: &impl ConnectionTrait,
    key: E::Column,
    cond: sea_orm::Condition,
) -> Result<u64, DbErr> {
    delete_in_batches_by::<E>(db, &[key], cond).await
}

/// [`delete_in_batches`] for a table whose primary key has several columns
/// (`(a, b) IN (SELECT a, b ...)`: row values, SQLite 3.15+ and Postgres).
pub async fn delete_in_batches_by<E: sea_orm::EntityTrait>(
    db: &impl ConnectionTrait,
    key: &[E::Column],
    cond: sea_orm::Condition,
) -> Result<u64, DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    use sea_orm::{QueryFilter, QuerySelect, QueryTrait};
    let mut total = 0;
    let mut size = PRUNE_BATCH;
    loop {
        let started = std::time::Instant::now();
        let batch = E::find()
            .select_only()
            .columns(key.iter().copied())
            .filter(cond.clone())
            .limit(size)
            .into_query();
        let target = match key {
            [one] => Expr::col(*one),
            many => Expr::tuple(many.iter().map(|c| Expr::col(*c))),
        };
        let deleted = E::delete_many()
            .filter(target.in_subquery(batch))
            .exec(db)
            .await?
            .rows_affected;
        total += deleted;
        if deleted < size {
            return Ok(total);
        }
        let took = started.elapsed();
        size = next_batch(size, took);
        tokio::time::sleep(prune_pause(took)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::{
        next_batch, postgres_unavailable, prune_pause, sqlite_file, sqlite_path, sqlite_unavailable,
    };
    use std::time::Duration;

    #[test]
    fn batches_are_sized_to_take_a_few_milliseconds() {
        let ms = Duration::from_millis;
        assert_eq!(next_batch(500, ms(5)), 500, "on target");
        assert_eq!(next_batch(500, ms(7)), 357);
        assert_eq!(next_batch(500, ms(40)), 250, "at most halved at once");
        assert_eq!(next_batch(40, ms(40)), 20, "never below the minimum");
        assert_eq!(next_batch(100, ms(1)), 200, "at most doubled at once");
        assert_eq!(
            next_batch(400, Duration::ZERO),
            500,
            "never above the maximum"
        );
    }

    #[test]
    fn the_pause_follows_the_batch_within_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(prune_pause(ms(8)), ms(16));
        assert_eq!(prune_pause(Duration::ZERO), ms(1), "always a yield");
        assert_eq!(prune_pause(ms(800)), ms(1000), "never a stall");
    }

    #[test]
    fn unavailable_codes() {
        // SQLITE_READONLY, SQLITE_READONLY_DBMOVED, SQLITE_FULL, SQLITE_BUSY,
        // SQLITE_IOERR_WRITE; not SQLITE_CONSTRAINT_UNIQUE nor SQLITE_ERROR.
        for c in [8, 1032, 13, 5, 778, 6, 14] {
            assert!(sqlite_unavailable(c), "{c}");
        }
        for c in [2067, 1, 19, 787] {
            assert!(!sqlite_unavailable(c), "{c}");
        }
        for s in [
            "25006", "53100", "53300", "57P01", "57P03", "08006", "55P03", "40001",
        ] {
            assert!(postgres_unavailable(s), "{s}");
        }
        for s in ["23505", "23503", "42P01", "42601", "22001", ""] {
            assert!(!postgres_unavailable(s), "{s}");
        }
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://data/skedcast.db?mode=rwc").as_deref(),
            Some("data/skedcast.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }

    #[tokio::test]
    async fn sqlite_connections_get_the_configured_cache_and_mmap() {
        use sea_orm::{ConnectionTrait, Statement};
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::settings::DatabaseSettings {
            url: format!("sqlite://{}/c.db?mode=rwc", dir.path().display()),
            max_connections: 2,
            acquire_timeout_secs: 5,
            sqlite_busy_timeout_ms: 5000,
            sqlite_cache_kib: 4096,
            sqlite_mmap_mib: 8,
        };
        let db = super::connect(&settings).await.unwrap();
        for (pragma, want) in [("cache_size", -4096), ("mmap_size", 8 << 20)] {
            let row = db
                .query_one_raw(Statement::from_string(
                    db.get_database_backend(),
                    format!("PRAGMA {pragma}"),
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), want, "{pragma}");
        }
    }

    #[tokio::test]
    async fn only_file_databases_get_a_migration_lock_file() {
        let memory = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        assert_eq!(sqlite_file(&memory).await.unwrap(), None);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.db");
        let url = format!("sqlite://{}?mode=rwc", file.display());
        let db = sea_orm::Database::connect(url).await.unwrap();
        assert_eq!(
            sqlite_file(&db).await.unwrap(),
            Some(file.display().to_string())
        );
    }
}
