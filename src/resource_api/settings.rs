//! Configuration of `skedcast-api`, layered like the auth server's:
//! the embedded `config/api.toml`, then `--config PATH` (or
//! `SKEDCAST_API_CONFIG`), then `SKEDCAST_API__SECTION__KEY` variables.
//! Every problem is one line naming the key.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::settings::url::{http_url, without_credentials};
use crate::settings::{LogSettings, RawLog, RawMetrics, RawServer, SettingsError, key_error};
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
    /// `[dpop]`: where clients reach this service (`None`: the resource's
    /// origin), the proof window, the replay cache's size.
    pub dpop_public_url: Option<String>,
    pub dpop_proof_window_secs: u64,
    pub dpop_replay_cache_size: usize,
}

/// The document as it comes out of the layers. `server`, `log` and
/// `metrics` are the auth server's sections; the others are this service's.
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
    dpop: RawDpop,
}

/// `[dpop]`: DPoP proofs (RFC 9449 §7) sent with bound access tokens.
#[derive(Deserialize)]
struct RawDpop {
    public_url: String,
    proof_window_secs: u64,
    replay_cache_size: usize,
}

impl RawDpop {
    fn validate(self) -> Result<(Option<String>, u64, usize), SettingsError> {
        let public_url = match self.public_url.trim() {
            "" => None,
            u => Some(base_url("dpop.public_url", u)?),
        };
        if !(5..=600).contains(&self.proof_window_secs) {
            return Err(key_error(
                "dpop.proof_window_secs",
                "must be between 5 and 600",
            ));
        }
        if self.replay_cache_size == 0 {
            return Err(key_error("dpop.replay_cache_size", "must be at least 1"));
        }
        Ok((public_url, self.proof_window_secs, self.replay_cache_size))
    }
}

/// `[auth_server]`: how this service reaches the issuer.
#[derive(Deserialize)]
struct RawAuthServer {
    internal_url: String,
    timeout_ms: u64,
}

impl RawAuthServer {
    /// The internal URL (empty: none) and the bound of every call.
    fn validate(self) -> Result<(Option<String>, Duration), SettingsError> {
        let internal_url = match self.internal_url.trim() {
            "" => None,
            u => Some(base_url("auth_server.internal_url", u)?),
        };
        if !(100..=60_000).contains(&self.timeout_ms) {
            return Err(key_error(
                "auth_server.timeout_ms",
                "must be between 100 and 60000",
            ));
        }
        Ok((internal_url, Duration::from_millis(self.timeout_ms)))
    }
}

/// `[verify]`: how access tokens are checked.
#[derive(Deserialize)]
struct RawVerify {
    algorithm: String,
    leeway_secs: u64,
    token_cache_size: usize,
}

/// `[verify]` validated.
#[derive(Debug)]
struct Verify {
    algorithm: Algorithm,
    leeway_secs: u64,
    token_cache_size: usize,
}

impl RawVerify {
    fn validate(self) -> Result<Verify, SettingsError> {
        let algorithm = Algorithm::parse(self.algorithm.trim()).ok_or_else(|| {
            key_error(
                "verify.algorithm",
                format!("is not supported: {:?} (only \"ES256\")", self.algorithm),
            )
        })?;
        if self.leeway_secs > crate::verify::checks::MAX_LEEWAY_SECS {
            return Err(key_error("verify.leeway_secs", "must be at most 60"));
        }
        Ok(Verify {
            algorithm,
            leeway_secs: self.leeway_secs,
            token_cache_size: self.token_cache_size,
        })
    }
}

/// `[introspection]`: this service's credentials for API keys, and their cache.
#[derive(Deserialize)]
struct RawIntrospection {
    client_id: String,
    client_secret: String,
    cache_ttl_secs: u64,
    negative_cache_ttl_secs: u64,
    cache_size: usize,
}

/// `[introspection]` validated.
#[derive(Debug)]
struct Introspection {
    credentials: Option<IntrospectionCredentials>,
    cache_ttl: Duration,
    negative_cache_ttl: Duration,
    cache_size: usize,
}

impl RawIntrospection {
    fn validate(self) -> Result<Introspection, SettingsError> {
        let (id, secret) = (self.client_id.trim(), self.client_secret.trim());
        let credentials = match (id.is_empty(), secret.is_empty()) {
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
        if !(1..=30).contains(&self.cache_ttl_secs) {
            return Err(key_error(
                "introspection.cache_ttl_secs",
                "must be between 1 and 30",
            ));
        }
        if self.negative_cache_ttl_secs > 30 {
            return Err(key_error(
                "introspection.negative_cache_ttl_secs",
                "must be at most 30",
            ));
        }
        Ok(Introspection {
            credentials,
            cache_ttl: Duration::from_secs(self.cache_ttl_secs),
            negative_cache_ttl: Duration::from_secs(self.negative_cache_ttl_secs),
            cache_size: self.cache_size,
        })
    }
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

    /// Each section's own validation; with several bad keys the first in
    /// this order is the one reported.
    fn validate(raw: Raw) -> Result<Self, SettingsError> {
        let bind = raw.server.validate("127.0.0.1:8081")?;
        let issuer = base_url("issuer", &raw.issuer)?;
        let resource = base_url("resource", &raw.resource)?;
        let (internal_url, timeout) = raw.auth_server.validate()?;
        let verify = raw.verify.validate()?;
        let introspection = raw.introspection.validate()?;
        let (dpop_public_url, dpop_proof_window_secs, dpop_replay_cache_size) =
            raw.dpop.validate()?;
        Ok(ApiSettings {
            dpop_public_url,
            dpop_proof_window_secs,
            dpop_replay_cache_size,
            bind,
            resource,
            issuer,
            internal_url,
            timeout,
            algorithm: verify.algorithm,
            leeway_secs: verify.leeway_secs,
            token_cache_size: verify.token_cache_size,
            introspection: introspection.credentials,
            api_key_cache_ttl: introspection.cache_ttl,
            api_key_negative_cache_ttl: introspection.negative_cache_ttl,
            api_key_cache_size: introspection.cache_size,
            log: raw.log.validate()?,
            metrics_token: raw.metrics.validate()?,
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
            public_url: self.dpop_public_url.clone(),
            dpop_window_secs: self.dpop_proof_window_secs,
            dpop_replay_cache_size: self.dpop_replay_cache_size,
            ..VerifierConfig::new(&self.issuer, &self.resource)
        }
    }
}

/// An absolute http(s) URL with a host and no query, fragment or
/// credentials, kept exactly as written.
fn base_url(key: &str, value: &str) -> Result<String, SettingsError> {
    let parsed = http_url(key, value)?;
    if parsed.query().is_some() || parsed.fragment().is_some() || value.contains(['?', '#']) {
        return Err(key_error(
            key,
            format!("must not have a query or fragment: {value:?}"),
        ));
    }
    without_credentials(key, value, &parsed)?;
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

    #[test]
    fn base_url_good_and_bad() {
        assert_eq!(
            base_url("resource", "https://api.example.com/v1").unwrap(),
            "https://api.example.com/v1"
        );
        for (value, want) in [
            ("https://a/?x=1", "must not have a query or fragment"),
            ("https://a/#f", "must not have a query or fragment"),
            ("https://u:p@a/", "must not carry credentials"),
            ("ftp://a", "must be an absolute http(s) URL with a host"),
        ] {
            let err = base_url("resource", value).unwrap_err().to_string();
            assert!(err.starts_with("configuration: `resource` "), "{err}");
            assert!(err.contains(want), "{value}: {err}");
        }
    }

    #[test]
    fn auth_server_good_and_bad() {
        let raw = |internal_url: &str, timeout_ms| RawAuthServer {
            internal_url: internal_url.into(),
            timeout_ms,
        };
        let (url, timeout) = raw(" ", 3000).validate().unwrap();
        assert_eq!((url, timeout), (None, Duration::from_secs(3)));
        let (url, _) = raw("http://auth:8080", 100).validate().unwrap();
        assert_eq!(url.as_deref(), Some("http://auth:8080"));
        assert_eq!(
            raw("", 60_001).validate().unwrap_err().to_string(),
            "configuration: `auth_server.timeout_ms` must be between 100 and 60000"
        );
        let err = raw("auth", 3000).validate().unwrap_err().to_string();
        assert!(err.contains("`auth_server.internal_url`"), "{err}");
    }

    #[test]
    fn verify_good_and_bad() {
        let raw = |algorithm: &str, leeway_secs| RawVerify {
            algorithm: algorithm.into(),
            leeway_secs,
            token_cache_size: 10,
        };
        let v = raw(" ES256 ", 60).validate().unwrap();
        assert_eq!((v.algorithm, v.leeway_secs), (Algorithm::Es256, 60));
        assert!(raw("ES256", 61).validate().is_err());
        assert_eq!(
            raw("none", 0).validate().unwrap_err().to_string(),
            "configuration: `verify.algorithm` is not supported: \"none\" (only \"ES256\")"
        );
    }

    #[test]
    fn introspection_good_and_bad() {
        let raw = |client_id: &str, client_secret: &str, cache_ttl_secs| RawIntrospection {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            cache_ttl_secs,
            negative_cache_ttl_secs: 5,
            cache_size: 10,
        };
        let i = raw(" rs_1 ", " s ", 30).validate().unwrap();
        let creds = i.credentials.unwrap();
        assert_eq!(
            (creds.client_id.as_str(), creds.client_secret.as_str()),
            ("rs_1", "s")
        );
        assert_eq!(i.cache_ttl, Duration::from_secs(30));
        assert!(raw("", "", 1).validate().unwrap().credentials.is_none());
        assert_eq!(
            raw("", "", 0).validate().unwrap_err().to_string(),
            "configuration: `introspection.cache_ttl_secs` must be between 1 and 30"
        );
        let too_long = RawIntrospection {
            negative_cache_ttl_secs: 31,
            ..raw("", "", 1)
        };
        assert_eq!(
            too_long.validate().unwrap_err().to_string(),
            "configuration: `introspection.negative_cache_ttl_secs` must be at most 30"
        );
    }
}
