//! Typed configuration, layered with the `config` crate and validated at start.
//!
//! Layers (later wins): the embedded `config/default.toml`, the file given by
//! `--config PATH` (or `SKEDCAST_CONFIG`), then `SKEDCAST__SECTION__KEY`
//! environment variables. Every problem is reported as one line naming the key.

use std::net::SocketAddr;
use std::path::Path;

use serde::Deserialize;

/// The checked-in defaults, embedded so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct SettingsError(pub String);

pub(crate) fn key_error(key: &str, problem: impl std::fmt::Display) -> SettingsError {
    SettingsError(format!("`{key}` {problem}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
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
    pub default_resource: String,
    pub registration: RegistrationSettings,
    pub session: SessionSettings,
    pub login: LoginSettings,
    /// Bearer token for `/metrics`; empty: the endpoint is off.
    pub metrics_token: String,
    pub clients: ClientSettings,
    pub cimd: CimdSettings,
}

/// Client ID Metadata Documents (`client_id` = an https URL).
#[derive(Debug, Clone)]
pub struct CimdSettings {
    /// Whether URL client ids are fetched at all.
    pub enabled: bool,
    /// Whole fetch (DNS, connect, TLS, headers, body) deadline.
    pub fetch_timeout_secs: u64,
    /// Bounds of the cache lifetime taken from the response's Cache-Control.
    pub min_cache_secs: u64,
    pub max_cache_secs: u64,
    /// TEST ONLY: loopback addresses and http://127.0.0.1 documents.
    pub allow_loopback: bool,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    pub sqlite_busy_timeout_ms: u64,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Clone)]
pub struct KeySettings {
    /// 32-byte key-encryption key for private signing keys at rest.
    pub encryption_key: Option<[u8; 32]>,
    pub jwks_max_age_secs: u64,
    pub activation_delay_secs: u64,
    pub refresh_interval_secs: u64,
    pub retirement_leeway_secs: u64,
}

impl std::fmt::Debug for KeySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySettings")
            .field("encryption_key", &self.encryption_key.map(|_| "<redacted>"))
            .field("jwks_max_age_secs", &self.jwks_max_age_secs)
            .field("activation_delay_secs", &self.activation_delay_secs)
            .field("refresh_interval_secs", &self.refresh_interval_secs)
            .field("retirement_leeway_secs", &self.retirement_leeway_secs)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub refresh_token_idle_ttl_secs: u64,
}

#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Seconds a client record stays in each instance's cache; 0 disables it.
    pub cache_ttl_secs: u64,
}

/// Who may register clients over RFC 7591.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationPolicy {
    /// Anyone (MCP clients register themselves).
    Open,
    /// Only callers with one of the configured initial access tokens (RFC 7591 §3).
    InitialAccessToken,
}

#[derive(Debug, Clone)]
pub struct RegistrationSettings {
    pub policy: RegistrationPolicy,
    /// SHA-256 hex of each accepted initial access token (never the tokens).
    pub initial_access_token_hashes: Vec<String>,
    /// Registration requests per client IP per minute; 0 disables the limit.
    pub rate_limit_per_minute: u32,
    /// Public clients never authorized are deleted after this many days; 0 keeps them.
    pub unused_public_client_days: u32,
}

/// Browser sessions of the sign-in and consent pages.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionSettings {
    pub idle_timeout_secs: u64,
    pub absolute_timeout_secs: u64,
}

/// Sign-in throttling.
#[derive(Debug, Clone, Deserialize)]
pub struct LoginSettings {
    pub max_failures: u32,
    pub failure_window_secs: u64,
}

/// Shortest initial access token accepted in the configuration.
pub const MIN_INITIAL_ACCESS_TOKEN_LEN: usize = 32;

// Raw shapes as they come out of the layers; strings are parsed by hand so
// that each error names its key.
#[derive(Deserialize)]
struct Raw {
    issuer: String,
    server: RawServer,
    database: RawDatabase,
    log: RawLog,
    keys: RawKeys,
    tokens: RawTokens,
    resource: RawResource,
    registration: RawRegistration,
    session: SessionSettings,
    login: LoginSettings,
    metrics: RawMetrics,
    clients: RawClients,
    cimd: RawCimd,
}
#[derive(Deserialize)]
struct RawCimd {
    enabled: bool,
    fetch_timeout_secs: u64,
    min_cache_secs: u64,
    max_cache_secs: u64,
    allow_loopback: bool,
}
#[derive(Deserialize)]
struct RawClients {
    cache_ttl_secs: u64,
}
#[derive(Deserialize)]
struct RawMetrics {
    token: String,
}
#[derive(Deserialize)]
struct RawServer {
    bind: String,
}
#[derive(Deserialize)]
struct RawDatabase {
    url: String,
    max_connections: u32,
    acquire_timeout_secs: u64,
    sqlite_busy_timeout_ms: u64,
}
#[derive(Deserialize)]
struct RawLog {
    format: String,
    level: String,
}
#[derive(Deserialize)]
struct RawKeys {
    encryption_key: String,
    jwks_max_age_secs: u64,
    activation_delay_secs: Option<u64>,
    refresh_interval_secs: u64,
    retirement_leeway_secs: u64,
}
#[derive(Deserialize)]
struct RawTokens {
    access_token_ttl_secs: u64,
    refresh_token_ttl_secs: u64,
    refresh_token_idle_ttl_secs: u64,
}
#[derive(Deserialize)]
struct RawResource {
    default: String,
}
#[derive(Deserialize)]
struct RawRegistration {
    policy: String,
    initial_access_tokens: StringList,
    rate_limit_per_minute: u32,
    unused_public_client_days: u32,
}

/// A list from a file (`["a", "b"]`) or from one environment variable
/// (`SKEDCAST__REGISTRATION__INITIAL_ACCESS_TOKENS=a,b`).
#[derive(Deserialize)]
#[serde(untagged)]
enum StringList {
    List(Vec<String>),
    Joined(String),
}

impl StringList {
    fn items(self) -> Vec<String> {
        let items = match self {
            StringList::List(v) => v,
            StringList::Joined(s) => s.split(',').map(str::to_string).collect(),
        };
        items
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
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

    fn validate(raw: Raw) -> Result<Self, SettingsError> {
        let issuer = validate_issuer(&raw.issuer)?;
        let bind: SocketAddr = raw.server.bind.trim().parse().map_err(|_| {
            key_error(
                "server.bind",
                format!(
                    "is not a socket address: {:?} (expected IP:PORT, e.g. 127.0.0.1:8080)",
                    raw.server.bind
                ),
            )
        })?;
        let format = match raw.log.format.as_str() {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(key_error(
                    "log.format",
                    format!("is unknown: {other:?} (expected \"pretty\" or \"json\")"),
                ));
            }
        };
        let url = raw.database.url.trim().to_string();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(key_error(
                "database.url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if raw.database.max_connections < 2 {
            return Err(key_error("database.max_connections", "must be at least 2"));
        }
        let encryption_key = match raw.keys.encryption_key.trim() {
            "" => None,
            b64 => Some(decode_kek(b64)?),
        };
        if raw.keys.refresh_interval_secs > raw.keys.jwks_max_age_secs {
            return Err(key_error(
                "keys.refresh_interval_secs",
                "must not exceed keys.jwks_max_age_secs",
            ));
        }
        if raw.tokens.access_token_ttl_secs == 0 {
            return Err(key_error(
                "tokens.access_token_ttl_secs",
                "must be at least 1",
            ));
        }
        if raw.session.idle_timeout_secs < 60 {
            return Err(key_error(
                "session.idle_timeout_secs",
                "must be at least 60",
            ));
        }
        if raw.session.absolute_timeout_secs < raw.session.idle_timeout_secs {
            return Err(key_error(
                "session.absolute_timeout_secs",
                "must not be shorter than session.idle_timeout_secs",
            ));
        }
        if !(60..=3600).contains(&raw.login.failure_window_secs) {
            return Err(key_error(
                "login.failure_window_secs",
                "must be between 60 and 3600",
            ));
        }
        let default_resource = validate_absolute_url("resource.default", &raw.resource.default)?;
        let registration = validate_registration(raw.registration)?;
        let cimd = validate_cimd(raw.cimd)?;
        Ok(Settings {
            issuer,
            bind,
            database: DatabaseSettings {
                url,
                max_connections: raw.database.max_connections,
                acquire_timeout_secs: raw.database.acquire_timeout_secs.max(1),
                sqlite_busy_timeout_ms: raw.database.sqlite_busy_timeout_ms,
            },
            log: LogSettings {
                format,
                level: raw.log.level,
            },
            keys: KeySettings {
                encryption_key,
                jwks_max_age_secs: raw.keys.jwks_max_age_secs,
                activation_delay_secs: raw
                    .keys
                    .activation_delay_secs
                    .unwrap_or(raw.keys.jwks_max_age_secs),
                refresh_interval_secs: raw.keys.refresh_interval_secs,
                retirement_leeway_secs: raw.keys.retirement_leeway_secs,
            },
            tokens: TokenSettings {
                access_token_ttl_secs: raw.tokens.access_token_ttl_secs,
                refresh_token_ttl_secs: raw.tokens.refresh_token_ttl_secs,
                refresh_token_idle_ttl_secs: raw.tokens.refresh_token_idle_ttl_secs,
            },
            default_resource,
            registration,
            session: raw.session,
            login: raw.login,
            metrics_token: raw.metrics.token.trim().to_string(),
            clients: ClientSettings {
                cache_ttl_secs: raw.clients.cache_ttl_secs,
            },
            cimd,
        })
    }

    /// An absolute URL under the issuer, e.g. `endpoint("/oauth/token")`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer.trim_end_matches('/'), path)
    }

    /// Whether browser cookies must carry `Secure`.
    pub fn issuer_is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

/// The configuration layers shared by both services: embedded `defaults`,
/// the optional file, then `{prefix}__SECTION__KEY` variables from `env`.
pub(crate) fn load_layers<T: serde::de::DeserializeOwned>(
    defaults: &str,
    prefix: &str,
    config_file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<T, SettingsError> {
    let mut builder = config::Config::builder()
        .add_source(config::File::from_str(defaults, config::FileFormat::Toml));
    if let Some(path) = config_file {
        if !path.is_file() {
            return Err(SettingsError(format!(
                "config file {} does not exist",
                path.display()
            )));
        }
        builder = builder.add_source(
            config::File::from(path)
                .format(config::FileFormat::Toml)
                .required(true),
        );
    }
    let wanted = format!("{prefix}__");
    let env: config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(&wanted))
        .collect();
    builder = builder.add_source(
        config::Environment::with_prefix(prefix)
            .separator("__")
            .prefix_separator("__")
            .try_parsing(true)
            .source(Some(env)),
    );
    builder
        .build()
        .and_then(|c| c.try_deserialize())
        .map_err(|e| SettingsError(e.to_string()))
}

fn validate_absolute_url(key: &str, value: &str) -> Result<String, SettingsError> {
    let parsed = url::Url::parse(value)
        .map_err(|e| key_error(key, format!("is not an absolute URL: {value:?} ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(key_error(
            key,
            format!("must be an absolute http(s) URL with a host: {value:?}"),
        ));
    }
    Ok(value.to_string())
}

/// RFC 8414 §2: the issuer is an https URL (http tolerated for local use)
/// with no query and no fragment.
fn validate_issuer(value: &str) -> Result<String, SettingsError> {
    let issuer = validate_absolute_url("issuer", value)?;
    let parsed = url::Url::parse(&issuer).map_err(|e| key_error("issuer", e))?;
    if parsed.query().is_some() || issuer.contains('?') {
        return Err(key_error(
            "issuer",
            format!("must not have a query: {value:?}"),
        ));
    }
    if parsed.fragment().is_some() || issuer.contains('#') {
        return Err(key_error(
            "issuer",
            format!("must not have a fragment: {value:?}"),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(key_error(
            "issuer",
            format!("must not carry credentials: {value:?}"),
        ));
    }
    Ok(issuer)
}

fn validate_registration(raw: RawRegistration) -> Result<RegistrationSettings, SettingsError> {
    let policy = match raw.policy.trim() {
        "open" => RegistrationPolicy::Open,
        "initial_access_token" => RegistrationPolicy::InitialAccessToken,
        other => {
            return Err(key_error(
                "registration.policy",
                format!("is unknown: {other:?} (expected \"open\" or \"initial_access_token\")"),
            ));
        }
    };
    let tokens = raw.initial_access_tokens.items();
    if let Some(short) = tokens
        .iter()
        .position(|t| t.len() < MIN_INITIAL_ACCESS_TOKEN_LEN)
    {
        return Err(key_error(
            "registration.initial_access_tokens",
            format!(
                "entry {} is shorter than {MIN_INITIAL_ACCESS_TOKEN_LEN} characters (use e.g. \
                 `openssl rand -base64 32`)",
                short + 1
            ),
        ));
    }
    if policy == RegistrationPolicy::InitialAccessToken && tokens.is_empty() {
        return Err(key_error(
            "registration.initial_access_tokens",
            "must list at least one token when registration.policy is \"initial_access_token\"",
        ));
    }
    Ok(RegistrationSettings {
        policy,
        initial_access_token_hashes: tokens
            .iter()
            .map(|t| crate::crypto::sha256_hex(t))
            .collect(),
        rate_limit_per_minute: raw.rate_limit_per_minute,
        unused_public_client_days: raw.unused_public_client_days,
    })
}

fn validate_cimd(raw: RawCimd) -> Result<CimdSettings, SettingsError> {
    if !(1..=30).contains(&raw.fetch_timeout_secs) {
        return Err(key_error(
            "cimd.fetch_timeout_secs",
            "must be between 1 and 30",
        ));
    }
    if raw.max_cache_secs > 86_400 {
        return Err(key_error(
            "cimd.max_cache_secs",
            "must not exceed 86400 (24 hours)",
        ));
    }
    if raw.min_cache_secs > raw.max_cache_secs {
        return Err(key_error(
            "cimd.min_cache_secs",
            "must not exceed cimd.max_cache_secs",
        ));
    }
    Ok(CimdSettings {
        enabled: raw.enabled,
        fetch_timeout_secs: raw.fetch_timeout_secs,
        min_cache_secs: raw.min_cache_secs,
        max_cache_secs: raw.max_cache_secs,
        allow_loopback: raw.allow_loopback,
    })
}

fn decode_kek(b64: &str) -> Result<[u8; 32], SettingsError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .map_err(|_| key_error("keys.encryption_key", "is not base64url"))?;
    bytes
        .try_into()
        .map_err(|_| key_error("keys.encryption_key", "must decode to exactly 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
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
        assert_eq!(s.clients.cache_ttl_secs, 5);
        assert!(s.cimd.enabled && !s.cimd.allow_loopback);
        assert_eq!(s.cimd.fetch_timeout_secs, 5);
        assert_eq!(
            (s.cimd.min_cache_secs, s.cimd.max_cache_secs),
            (300, 86_400)
        );
    }

    #[test]
    fn cimd_bounds_name_their_key() {
        for (k, v, want) in [
            (
                "SKEDCAST__CIMD__FETCH_TIMEOUT_SECS",
                "0",
                "`cimd.fetch_timeout_secs`",
            ),
            (
                "SKEDCAST__CIMD__MAX_CACHE_SECS",
                "90000",
                "`cimd.max_cache_secs`",
            ),
            (
                "SKEDCAST__CIMD__MIN_CACHE_SECS",
                "86401",
                "`cimd.min_cache_secs`",
            ),
        ] {
            let err = load(&[(k, v)]).unwrap_err().to_string();
            assert!(err.contains(want), "{k}={v}: {err}");
        }
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
    fn registration_settings() {
        let s = load(&[]).unwrap();
        assert_eq!(s.registration.policy, RegistrationPolicy::Open);
        assert_eq!(s.registration.rate_limit_per_minute, 20);
        assert_eq!(s.registration.unused_public_client_days, 7);
        let a = "a".repeat(32);
        let b = "b".repeat(40);
        let joined = format!("{a}, {b}");
        let s = load(&[
            ("SKEDCAST__REGISTRATION__POLICY", "initial_access_token"),
            ("SKEDCAST__REGISTRATION__INITIAL_ACCESS_TOKENS", &joined),
        ])
        .unwrap();
        assert_eq!(
            s.registration.policy,
            RegistrationPolicy::InitialAccessToken
        );
        assert_eq!(
            s.registration.initial_access_token_hashes,
            vec![crate::crypto::sha256_hex(&a), crate::crypto::sha256_hex(&b)]
        );
        for (env, want) in [
            (
                vec![("SKEDCAST__REGISTRATION__POLICY", "closed")],
                "`registration.policy`",
            ),
            (
                vec![("SKEDCAST__REGISTRATION__POLICY", "initial_access_token")],
                "`registration.initial_access_tokens` must list",
            ),
            (
                vec![("SKEDCAST__REGISTRATION__INITIAL_ACCESS_TOKENS", "short")],
                "`registration.initial_access_tokens` entry 1 is shorter",
            ),
            (
                vec![("SKEDCAST__REGISTRATION__RATE_LIMIT_PER_MINUTE", "-1")],
                "rate_limit_per_minute",
            ),
        ] {
            let err = load(&env).unwrap_err().to_string();
            assert!(err.contains(want), "{env:?}: {err}");
        }
    }

    #[test]
    fn endpoint_does_not_double_slashes() {
        let s = load(&[("SKEDCAST__ISSUER", "https://a.example/")]).unwrap();
        assert_eq!(s.issuer, "https://a.example/");
        assert_eq!(s.endpoint("/oauth/token"), "https://a.example/oauth/token");
    }
}
