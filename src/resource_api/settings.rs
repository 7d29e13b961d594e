//! Configuration of `skedcast-api`, layered like the auth server's:
//! the embedded `config/api.toml`, then `--config PATH` (or
//! `SKEDCAST_API_CONFIG`), then `SKEDCAST_API__SECTION__KEY` variables.
//! Every problem is one line naming the key.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::settings::{LogFormat, LogSettings, SettingsError, key_error};
use crate::verify::{Algorithm, IntrospectionCredentials, VerifierConfig};

/// The checked-in defaults, embedded so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../../config/api.toml");

/// Environment prefix: `SKEDCAST_API__SERVER__BIND`, ...
pub const ENV_PREFIX: &str = "SKEDCAST_API";

#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub bind: SocketAddr,
    /// This service's resource identifier, exactly as configured.
    pub resource: String,
    /// The trusted issuer, exactly as configured.
    pub issuer: String,
    pub internal_url: Option<String>,
    pub timeout: Duration,
    pub algorithm: Algorithm,
    pub leeway_secs: u64,
    pub token_cache_size: usize,
    pub introspection: Option<IntrospectionCredentials>,
    pub api_key_cache_ttl: Duration,
    pub api_key_negative_cache_ttl: Duration,
    pub api_key_cache_size: usize,
    pub log: LogSettings,
    /// Bearer token for `/metrics`; empty: the endpoint is off.
    pub metrics_token: String,
}

#[derive(Deserialize)]
struct Raw {
    issuer: String,
    resource: String,
    server: RawServer,
    auth_server: RawAuthServer,
    verify: RawVerify,
    introspection: RawIntrospection,
    log: RawLog,
    metrics: RawMetrics,
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
struct RawAuthServer {
    internal_url: String,
    timeout_ms: u64,
}
#[derive(Deserialize)]
struct RawVerify {
    algorithm: String,
    leeway_secs: u64,
    token_cache_size: usize,
}
#[derive(Deserialize)]
struct RawIntrospection {
    client_id: String,
    client_secret: String,
    cache_ttl_secs: u64,
    negative_cache_ttl_secs: u64,
    cache_size: usize,
}
#[derive(Deserialize)]
struct RawLog {
    format: String,
    level: String,
}

impl ApiSettings {
    /// Load the layers from the real environment.
    pub fn load(config_file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_from(config_file, std::env::vars())
    }

    /// Load the layers with an explicit environment (tests pass their own).
    pub fn load_from(
        config_file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let raw: Raw = crate::settings::load_layers(DEFAULT_TOML, ENV_PREFIX, config_file, env)?;
        Self::validate(raw)
    }

    fn validate(raw: Raw) -> Result<Self, SettingsError> {
        let bind: SocketAddr = raw.server.bind.trim().parse().map_err(|_| {
            key_error(
                "server.bind",
                format!(
                    "is not a socket address: {:?} (expected IP:PORT, e.g. 127.0.0.1:8081)",
                    raw.server.bind
                ),
            )
        })?;
        let issuer = base_url("issuer", &raw.issuer)?;
        let resource = base_url("resource", &raw.resource)?;
        let internal_url = match raw.auth_server.internal_url.trim() {
            "" => None,
            u => Some(base_url("auth_server.internal_url", u)?),
        };
        if !(100..=60_000).contains(&raw.auth_server.timeout_ms) {
            return Err(key_error(
                "auth_server.timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        let algorithm = Algorithm::parse(raw.verify.algorithm.trim()).ok_or_else(|| {
            key_error(
                "verify.algorithm",
                format!(
                    "is not supported: {:?} (only \"ES256\")",
                    raw.verify.algorithm
                ),
            )
        })?;
        if raw.verify.leeway_secs > crate::verify::checks::MAX_LEEWAY_SECS {
            return Err(key_error("verify.leeway_secs", "must be at most 60"));
        }
        let (id, secret) = (
            raw.introspection.client_id.trim(),
            raw.introspection.client_secret.trim(),
        );
        let introspection = match (id.is_empty(), secret.is_empty()) {
            (true, true) => None,
            (false, false) => Some(IntrospectionCredentials {
                client_id: id.to_string(),
                client_secret: secret.to_string(),
            }),
            (false, true) => {
                return Err(key_error(
                    "introspection.client_secret",
                    "must be set when introspection.client_id is",
                ));
            }
            (true, false) => {
                return Err(key_error(
                    "introspection.client_id",
                    "must be set when introspection.client_secret is",
                ));
            }
        };
        if !(1..=30).contains(&raw.introspection.cache_ttl_secs) {
            return Err(key_error(
                "introspection.cache_ttl_secs",
                "must be between 1 and 30",
            ));
        }
        if raw.introspection.negative_cache_ttl_secs > 30 {
            return Err(key_error(
                "introspection.negative_cache_ttl_secs",
                "must be at most 30",
            ));
        }
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
        Ok(ApiSettings {
            bind,
            resource,
            issuer,
            internal_url,
            timeout: Duration::from_millis(raw.auth_server.timeout_ms),
            algorithm,
            leeway_secs: raw.verify.leeway_secs,
            token_cache_size: raw.verify.token_cache_size,
            introspection,
            api_key_cache_ttl: Duration::from_secs(raw.introspection.cache_ttl_secs),
            api_key_negative_cache_ttl: Duration::from_secs(
                raw.introspection.negative_cache_ttl_secs,
            ),
            api_key_cache_size: raw.introspection.cache_size,
            log: LogSettings {
                format,
                level: raw.log.level,
            },
            metrics_token: raw.metrics.token.trim().to_string(),
        })
    }

    /// What the embedded verifier needs.
    pub fn verifier_config(&self) -> VerifierConfig {
        VerifierConfig {
            algorithm: self.algorithm,
            leeway_secs: self.leeway_secs,
            internal_url: self.internal_url.clone(),
            http_timeout: self.timeout,
            token_cache_size: self.token_cache_size,
            introspection: self.introspection.clone(),
            api_key_cache_ttl: self.api_key_cache_ttl,
            api_key_negative_cache_ttl: self.api_key_negative_cache_ttl,
            api_key_cache_size: self.api_key_cache_size,
            ..VerifierConfig::new(&self.issuer, &self.resource)
        }
    }
}

/// An absolute http(s) URL with a host and no query, fragment or
/// credentials, kept exactly as written.
fn base_url(key: &str, value: &str) -> Result<String, SettingsError> {
    let parsed = url::Url::parse(value)
        .map_err(|e| key_error(key, format!("is not an absolute URL: {value:?} ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(key_error(
            key,
            format!("must be an absolute http(s) URL with a host: {value:?}"),
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || value.contains(['?', '#']) {
        return Err(key_error(
            key,
            format!("must not have a query or fragment: {value:?}"),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(key_error(
            key,
            format!("must not carry credentials: {value:?}"),
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)]) -> Result<ApiSettings, SettingsError> {
        ApiSettings::load_from(
            None,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn defaults_load() {
        let s = load(&[]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8081");
        assert_eq!(s.resource, "http://127.0.0.1:8081");
        assert_eq!(s.issuer, "http://127.0.0.1:8080");
        assert_eq!(s.algorithm, Algorithm::Es256);
        assert!(s.introspection.is_none());
        assert!(s.internal_url.is_none());
        assert_eq!(s.api_key_cache_ttl, Duration::from_secs(30));
        // The auth server's default resource is this service's default resource.
        let auth = crate::settings::Settings::load_from(None, Vec::new()).unwrap();
        assert_eq!(auth.default_resource, s.resource);
        assert_eq!(auth.issuer, s.issuer);
    }

    #[test]
    fn env_overrides_and_the_auth_servers_variables_do_not_leak_in() {
        let s = load(&[
            ("SKEDCAST_API__SERVER__BIND", "0.0.0.0:9001"),
            ("SKEDCAST_API__ISSUER", "https://auth.example.com"),
            ("SKEDCAST_API__RESOURCE", "https://api.example.com"),
            ("SKEDCAST_API__INTROSPECTION__CLIENT_ID", "rs_1"),
            ("SKEDCAST_API__INTROSPECTION__CLIENT_SECRET", "s3cret"),
            (
                "SKEDCAST_API__AUTH_SERVER__INTERNAL_URL",
                "http://skedcast-auth:8080",
            ),
            ("SKEDCAST__SERVER__BIND", "not an address"),
        ])
        .unwrap();
        assert_eq!(s.bind.to_string(), "0.0.0.0:9001");
        assert_eq!(s.issuer, "https://auth.example.com");
        assert_eq!(s.verifier_config().resource, "https://api.example.com");
        assert_eq!(s.introspection.as_ref().unwrap().client_id, "rs_1");
        assert!(!format!("{s:?}").contains("s3cret"), "secret redacted");
        assert_eq!(s.internal_url.as_deref(), Some("http://skedcast-auth:8080"));
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("SKEDCAST_API__SERVER__BIND", "localhost")],
                "`server.bind`",
            ),
            (&[("SKEDCAST_API__ISSUER", "auth.example.com")], "`issuer`"),
            (
                &[("SKEDCAST_API__RESOURCE", "https://a/?x=1")],
                "`resource`",
            ),
            (&[("SKEDCAST_API__RESOURCE", "ftp://a")], "`resource`"),
            (
                &[("SKEDCAST_API__VERIFY__ALGORITHM", "HS256")],
                "`verify.algorithm`",
            ),
            (
                &[("SKEDCAST_API__VERIFY__ALGORITHM", "none")],
                "`verify.algorithm`",
            ),
            (
                &[("SKEDCAST_API__VERIFY__LEEWAY_SECS", "61")],
                "`verify.leeway_secs`",
            ),
            (
                &[("SKEDCAST_API__INTROSPECTION__CLIENT_ID", "rs")],
                "`introspection.client_secret`",
            ),
            (
                &[("SKEDCAST_API__INTROSPECTION__CLIENT_SECRET", "x")],
                "`introspection.client_id`",
            ),
            (
                &[("SKEDCAST_API__INTROSPECTION__CACHE_TTL_SECS", "31")],
                "`introspection.cache_ttl_secs`",
            ),
            (&[("SKEDCAST_API__LOG__FORMAT", "xml")], "`log.format`"),
            (
                &[("SKEDCAST_API__AUTH_SERVER__TIMEOUT_MS", "0")],
                "`auth_server.timeout_ms`",
            ),
            (
                &[("SKEDCAST_API__AUTH_SERVER__INTERNAL_URL", "skedcast-auth")],
                "`auth_server.internal_url`",
            ),
        ];
        for (env, want) in cases {
            let err = load(env).unwrap_err().to_string();
            assert!(err.contains(want), "{env:?}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }
}
