//! Typed configuration, layered with the `config` crate and validated at start.
//!
//! Layers (later wins): the embedded `config/default.toml`, the file given by
//! `--config PATH` (or `SKEDCAST_CONFIG`), then `SKEDCAST__SECTION__KEY`
//! environment variables. Every problem is reported as one line naming the key.
//!
//! One file per section of the TOML, each with its own `validate()`. A
//! section deserializes straight into its typed struct unless a value must
//! be parsed by hand (so that its error names the key); then a `Raw*` form
//! is validated into the typed one. `server`, `log`, `metrics`, the URL
//! rules and the layered loading are shared with `skedcast-api`
//! (`crate::resource_api::settings`).

mod audit;
mod cimd;
mod clients;
mod database;
mod dpop;
mod issuer;
mod keys;
mod layers;
mod log;
mod login;
mod metrics;
mod registration;
mod resource;
mod scopes;
mod server;
mod session;
mod tokens;
pub(crate) mod url;

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

pub use audit::AuditSettings;
pub use cimd::CimdSettings;
pub use clients::ClientSettings;
pub use database::DatabaseSettings;
pub use dpop::DpopSettings;
pub use keys::KeySettings;
pub(crate) use layers::load_layers;
pub(crate) use log::RawLog;
pub use log::{LogFormat, LogSettings};
pub use login::LoginSettings;
pub(crate) use metrics::RawMetrics;
pub use registration::{MIN_INITIAL_ACCESS_TOKEN_LEN, RegistrationPolicy, RegistrationSettings};
pub use scopes::ScopeSettings;
pub(crate) use server::RawServer;
pub use session::SessionSettings;
pub use tokens::TokenSettings;

/// The checked-in defaults, embedded so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct SettingsError(pub String);

pub(crate) fn key_error(key: &str, problem: impl std::fmt::Display) -> SettingsError {
    SettingsError(format!("`{key}` {problem}"))
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer exactly as configured (compared byte for byte by clients).
    pub issuer: String,
    pub bind: SocketAddr,
    pub database: DatabaseSettings,
    pub log: LogSettings,
    pub keys: KeySettings,
    pub tokens: TokenSettings,
    pub scopes: ScopeSettings,
    pub default_resource: String,
    pub registration: RegistrationSettings,
    pub session: SessionSettings,
    pub login: LoginSettings,
    /// Bearer token for `/metrics`; empty: the endpoint is off.
    pub metrics_token: String,
    pub clients: ClientSettings,
    pub cimd: CimdSettings,
    pub dpop: DpopSettings,
    pub audit: AuditSettings,
}

/// The document as it comes out of the layers, one field per TOML section.
#[derive(Deserialize)]
struct Raw {
    issuer: String,
    server: RawServer,
    database: DatabaseSettings,
    log: RawLog,
    keys: keys::RawKeys,
    tokens: TokenSettings,
    scopes: scopes::RawScopes,
    resource: resource::RawResource,
    registration: registration::RawRegistration,
    session: SessionSettings,
    login: LoginSettings,
    metrics: RawMetrics,
    clients: ClientSettings,
    cimd: CimdSettings,
    dpop: DpopSettings,
    audit: AuditSettings,
}

impl Settings {
    /// Load the layers from the real environment.
    pub fn load(config_file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_from(config_file, std::env::vars())
    }

    /// Load the layers with an explicit environment (tests pass their own).
    pub fn load_from(
        config_file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let raw: Raw = load_layers(DEFAULT_TOML, "SKEDCAST", config_file, env)?;
        Self::validate(raw)
    }

    /// Each section's own validation; with several bad keys the first in
    /// this order is the one reported.
    fn validate(raw: Raw) -> Result<Self, SettingsError> {
        Ok(Settings {
            issuer: issuer::validate(&raw.issuer)?,
            bind: raw.server.validate("127.0.0.1:8080")?,
            log: raw.log.validate()?,
            database: raw.database.validate()?,
            keys: raw.keys.validate()?,
            tokens: raw.tokens.validate()?,
            scopes: raw.scopes.validate()?,
            session: raw.session.validate()?,
            login: raw.login.validate()?,
            default_resource: raw.resource.validate()?,
            registration: raw.registration.validate()?,
            cimd: raw.cimd.validate()?,
            clients: raw.clients.validate()?,
            metrics_token: raw.metrics.validate()?,
            dpop: raw.dpop.validate()?,
            audit: raw.audit.validate()?,
        })
    }

    /// An absolute URL under the issuer, e.g. `endpoint("/oauth/token")`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer.trim_end_matches('/'), path)
    }

    /// The issuer's path (`""`, or e.g. `/tenant1`): every route is served
    /// under it, so a path the server sends a browser to (a `Location`, a
    /// form `action`, a `next`) is `format!("{}/login", s.issuer_path())`.
    pub fn issuer_path(&self) -> &str {
        issuer::path(&self.issuer)
    }

    /// An absolute path under the issuer, e.g. `/tenant1/login`.
    pub fn local_path(&self, path: &str) -> String {
        format!("{}{path}", self.issuer_path())
    }

    /// Whether browser cookies must carry `Secure`.
    pub fn issuer_is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layers over the defaults with `env` as the only variables.
    pub(super) fn load(env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::load_from(
            None,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn defaults_load() {
        let s = load(&[]).unwrap();
        assert_eq!(s.issuer, "http://127.0.0.1:8080");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.keys.activation_delay_secs, s.keys.jwks_max_age_secs);
        assert_eq!(s.tokens.access_token_ttl_secs, 900);
        assert_eq!(s.tokens.refresh_reuse_grace_secs, 0);
        assert_eq!(s.scopes.default, ["agency:read"]);
        assert_eq!(s.clients.cache_ttl_secs, 5);
        assert!(s.cimd.enabled && !s.cimd.allow_loopback);
        assert_eq!(s.cimd.fetch_timeout_secs, 5);
        assert_eq!(
            (s.cimd.min_cache_secs, s.cimd.max_cache_secs),
            (300, 86_400)
        );
        assert_eq!(
            (
                s.cimd.fetches_per_minute_per_ip,
                s.cimd.fetches_per_minute_per_host,
                s.cimd.failure_cache_secs
            ),
            (20, 60, 30)
        );
    }

    #[test]
    fn env_overrides() {
        let s = load(&[
            ("SKEDCAST__SERVER__BIND", "0.0.0.0:9000"),
            ("SKEDCAST__ISSUER", "https://auth.example.com"),
            ("SKEDCAST__KEYS__ACTIVATION_DELAY_SECS", "7"),
        ])
        .unwrap();
        assert_eq!(s.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(s.issuer, "https://auth.example.com");
        assert_eq!(s.keys.activation_delay_secs, 7);
        assert!(s.issuer_is_https());
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("SKEDCAST__SERVER__BIND", "localhost", "`server.bind`"),
            ("SKEDCAST__LOG__FORMAT", "xml", "`log.format`"),
            ("SKEDCAST__ISSUER", "auth.example.com", "`issuer`"),
            (
                "SKEDCAST__ISSUER",
                "https://a.example/?x=1",
                "must not have a query",
            ),
            (
                "SKEDCAST__ISSUER",
                "https://a.example/#f",
                "must not have a fragment",
            ),
            (
                "SKEDCAST__KEYS__ENCRYPTION_KEY",
                "c2hvcnQ",
                "`keys.encryption_key`",
            ),
        ];
        for (k, v, want) in cases {
            let err = load(&[(k, v)]).unwrap_err().to_string();
            assert!(err.contains(want), "{k}={v}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn endpoint_does_not_double_slashes() {
        let s = load(&[("SKEDCAST__ISSUER", "https://a.example/")]).unwrap();
        assert_eq!(s.issuer, "https://a.example/");
        assert_eq!(s.endpoint("/oauth/token"), "https://a.example/oauth/token");
    }
}
