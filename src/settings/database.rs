//! `[database]`: SQLite (the embedded default) or Postgres, and the pool.

use serde::Deserialize;

use super::{SettingsError, key_error};

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    pub sqlite_busy_timeout_ms: u64,
    /// `PRAGMA cache_size = -KiB` on each SQLite connection.
    pub sqlite_cache_kib: u32,
    /// `PRAGMA mmap_size` (in MiB) on each SQLite connection; 0 is off.
    pub sqlite_mmap_mib: u32,
}

impl DatabaseSettings {
    /// The URL trimmed, the acquire timeout at least 1 s.
    pub(crate) fn validate(self) -> Result<Self, SettingsError> {
        let url = self.url.trim().to_string();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(key_error(
                "database.url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if self.max_connections < 2 {
            return Err(key_error("database.max_connections", "must be at least 2"));
        }
        if self.sqlite_cache_kib < 64 {
            return Err(key_error(
                "database.sqlite_cache_kib",
                "must be at least 64",
            ));
        }
        Ok(DatabaseSettings {
            url,
            acquire_timeout_secs: self.acquire_timeout_secs.max(1),
            ..self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(url: &str, max_connections: u32) -> DatabaseSettings {
        DatabaseSettings {
            url: url.into(),
            max_connections,
            acquire_timeout_secs: 0,
            sqlite_busy_timeout_ms: 5000,
            sqlite_cache_kib: 2000,
            sqlite_mmap_mib: 0,
        }
    }

    #[test]
    fn good_values_are_normalised() {
        let s = db(" postgres://u@h/db ", 2).validate().unwrap();
        assert_eq!(s.url, "postgres://u@h/db");
        assert_eq!(s.acquire_timeout_secs, 1);
        assert!(db("sqlite::memory:", 16).validate().is_ok());
        assert!(db("postgresql://h/db", 16).validate().is_ok());
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(
            db("mysql://x/y", 16).validate().unwrap_err().to_string(),
            "configuration: `database.url` must start with sqlite:, postgres:// or postgresql://"
        );
        assert_eq!(
            db("sqlite::memory:", 1).validate().unwrap_err().to_string(),
            "configuration: `database.max_connections` must be at least 2"
        );
        let tiny = DatabaseSettings {
            sqlite_cache_kib: 10,
            ..db("sqlite::memory:", 16)
        };
        assert_eq!(
            tiny.validate().unwrap_err().to_string(),
            "configuration: `database.sqlite_cache_kib` must be at least 64"
        );
    }
}
