//! The thin network part: RFC 8414 discovery of the issuer's `jwks_uri` and
//! introspection endpoint, the JWKS GET, and the RFC 7662 POST. Each call is
//! bounded in time and size; nothing here decides validity.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;

use crate::jwks::MAX_JWKS_BYTES;

/// Largest metadata or introspection document accepted.
const MAX_DOC_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{url} is unreachable: {cause}")]
    Unreachable { url: String, cause: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {problem}")]
    Invalid { url: String, problem: String },
}

/// Where the auth server's keys and introspection live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub jwks_uri: String,
    pub introspection_endpoint: String,
}

/// RFC 8414 §3.1: `/.well-known/oauth-authorization-server` goes between
/// the host and the issuer's path.
pub fn metadata_url(issuer: &str) -> Result<String, String> {
    let url = url::Url::parse(issuer).map_err(|e| format!("issuer {issuer:?}: {e}"))?;
    let path = url.path().trim_end_matches('/');
    let origin = url.origin().ascii_serialization();
    Ok(format!(
        "{origin}/.well-known/oauth-authorization-server{path}"
    ))
}

/// A URL published under the issuer, rewritten to `internal` (the address
/// this service reaches the auth server at, e.g. inside docker-compose).
pub fn rebase(url: &str, issuer: &str, internal: Option<&str>) -> String {
    let Some(internal) = internal else {
        return url.to_string();
    };
    let issuer = issuer.trim_end_matches('/');
    match url.strip_prefix(issuer) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            format!("{}{rest}", internal.trim_end_matches('/'))
        }
        _ => url.to_string(),
    }
}

/// The endpoints of a metadata document, which must name our issuer
/// exactly (RFC 8414 §3.3). Without `introspection_endpoint` the contract's
/// `/oauth/introspect` is used.
pub fn endpoints_from_metadata(
    doc: &serde_json::Value,
    issuer: &str,
    internal: Option<&str>,
) -> Result<Endpoints, String> {
    let got = doc.get("issuer").and_then(|v| v.as_str());
    if got != Some(issuer) {
        return Err(format!(
            "the metadata names issuer {got:?}, not the configured {issuer:?}"
        ));
    }
    let jwks_uri = doc
        .get("jwks_uri")
        .and_then(|v| v.as_str())
        .ok_or("the metadata has no jwks_uri")?;
    let introspection = doc
        .get("introspection_endpoint")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}/oauth/introspect", issuer.trim_end_matches('/')));
    for u in [jwks_uri, introspection.as_str()] {
        let parsed = url::Url::parse(u).map_err(|e| format!("{u:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("{u:?} is not an http(s) URL"));
        }
    }
    Ok(Endpoints {
        jwks_uri: rebase(jwks_uri, issuer, internal),
        introspection_endpoint: rebase(&introspection, issuer, internal),
    })
}

/// `client_secret_basic` (RFC 6749 §2.3.1): id and secret form-encoded,
/// then base64.
pub fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(client_id), enc(client_secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// reqwest is built without a default rustls provider: install ring once
/// (a no-op when the embedding service installed one already).
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub struct AuthServer {
    http: reqwest::Client,
    issuer: String,
    internal: Option<String>,
    endpoints: RwLock<Option<Arc<Endpoints>>>,
    discovering: tokio::sync::Mutex<()>,
    jwks_fetches: AtomicU64,
}

impl AuthServer {
    pub fn new(issuer: &str, internal: Option<&str>, timeout: Duration) -> anyhow::Result<Self> {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("skedcast-verify/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(AuthServer {
            http,
            issuer: issuer.to_string(),
            internal: internal.map(str::to_string),
            endpoints: RwLock::new(None),
            discovering: tokio::sync::Mutex::new(()),
            jwks_fetches: AtomicU64::new(0),
        })
    }

    /// JWKS GETs attempted so far (a metric; tests count refetches with it).
    pub fn jwks_fetches(&self) -> u64 {
        self.jwks_fetches.load(Ordering::Relaxed)
    }

    fn cached_endpoints(&self) -> Option<Arc<Endpoints>> {
        self.endpoints
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn forget_endpoints(&self) {
        *self.endpoints.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The endpoints, discovered once (again after a failed JWKS fetch).
    pub async fn endpoints(&self) -> Result<Arc<Endpoints>, FetchError> {
        if let Some(e) = self.cached_endpoints() {
            return Ok(e);
        }
        let _one = self.discovering.lock().await;
        if let Some(e) = self.cached_endpoints() {
            return Ok(e);
        }
        // The internal URL stands for the issuer as seen from here, so the
        // metadata is looked up under it the same way.
        let base = self.internal.as_deref().unwrap_or(&self.issuer);
        let url = metadata_url(base).map_err(|problem| FetchError::Invalid {
            url: base.to_string(),
            problem,
        })?;
        let (body, _) = self.get(&url, MAX_DOC_BYTES).await?;
        let doc: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| FetchError::Invalid {
                url: url.clone(),
                problem: format!("not JSON: {e}"),
            })?;
        let endpoints = endpoints_from_metadata(&doc, &self.issuer, self.internal.as_deref())
            .map_err(|problem| FetchError::Invalid { url, problem })?;
        let endpoints = Arc::new(endpoints);
        *self.endpoints.write().unwrap_or_else(|p| p.into_inner()) = Some(endpoints.clone());
        Ok(endpoints)
    }

    /// The JWKS document and its `Cache-Control`.
    pub async fn fetch_jwks(&self) -> Result<(Vec<u8>, Option<String>), FetchError> {
        let endpoints = self.endpoints().await?;
        self.jwks_fetches.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("jwks_fetches_total").increment(1);
        let result = self.get(&endpoints.jwks_uri, MAX_JWKS_BYTES).await;
        if result.is_err() {
            // The next attempt rediscovers, in case the jwks_uri moved.
            self.forget_endpoints();
        }
        result
    }

    async fn get(&self, url: &str, limit: usize) -> Result<(Vec<u8>, Option<String>), FetchError> {
        let resp = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| unreachable(url, e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(FetchError::Status {
                url: url.to_string(),
                status,
            });
        }
        let cache_control = resp
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok((read_limited(url, resp, limit).await?, cache_control))
    }

    /// POST `token` to the introspection endpoint with `authorization`
    /// (see [`basic_authorization`]); the JSON answer when HTTP 200.
    pub async fn introspect(
        &self,
        token: &str,
        authorization: &str,
    ) -> Result<serde_json::Value, FetchError> {
        let endpoints = self.endpoints().await?;
        let url = endpoints.introspection_endpoint.as_str();
        let resp = self
            .http
            .post(url)
            .header("authorization", authorization)
            .header("accept", "application/json")
            .form(&[("token", token)])
            .send()
            .await
            .map_err(|e| unreachable(url, e))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(FetchError::Status {
                url: url.to_string(),
                status,
            });
        }
        let body = read_limited(url, resp, MAX_DOC_BYTES).await?;
        serde_json::from_slice(&body).map_err(|e| FetchError::Invalid {
            url: url.to_string(),
            problem: format!("not JSON: {e}"),
        })
    }
}

fn unreachable(url: &str, e: reqwest::Error) -> FetchError {
    let cause = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        e.to_string()
    };
    FetchError::Unreachable {
        url: url.to_string(),
        cause,
    }
}

async fn read_limited(
    url: &str,
    mut resp: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, FetchError> {
    let too_big = || FetchError::Invalid {
        url: url.to_string(),
        problem: format!("larger than {limit} bytes"),
    };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| unreachable(url, e))? {
        if body.len() + chunk.len() > limit {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8414_metadata_url() {
        assert_eq!(
            metadata_url("https://auth.example").unwrap(),
            "https://auth.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            metadata_url("https://auth.example/").unwrap(),
            "https://auth.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            metadata_url("https://example.com/issuer1").unwrap(),
            "https://example.com/.well-known/oauth-authorization-server/issuer1"
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server"
        );
        assert!(metadata_url("not a url").is_err());
    }

    #[test]
    fn rebasing_to_an_internal_address() {
        let iss = "http://localhost:8080";
        let int = Some("http://skedcast-auth:8080/");
        assert_eq!(
            rebase("http://localhost:8080/.well-known/jwks.json", iss, int),
            "http://skedcast-auth:8080/.well-known/jwks.json"
        );
        assert_eq!(
            rebase("http://localhost:8080/x", iss, None),
            "http://localhost:8080/x"
        );
        // Only URLs under the issuer move; a look-alike host does not.
        assert_eq!(
            rebase("http://localhost:80800/x", iss, int),
            "http://localhost:80800/x"
        );
    }

    #[test]
    fn endpoints_need_our_issuer() {
        let iss = "http://localhost:8080";
        let doc = serde_json::json!({
            "issuer": iss, "jwks_uri": "http://localhost:8080/.well-known/jwks.json",
        });
        let e = endpoints_from_metadata(&doc, iss, None).unwrap();
        assert_eq!(e.jwks_uri, "http://localhost:8080/.well-known/jwks.json");
        assert_eq!(
            e.introspection_endpoint,
            "http://localhost:8080/oauth/introspect"
        );
        let mut with = doc.clone();
        with["introspection_endpoint"] = "http://localhost:8080/introspect2".into();
        let e = endpoints_from_metadata(&with, iss, Some("http://auth:1")).unwrap();
        assert_eq!(e.introspection_endpoint, "http://auth:1/introspect2");
        assert_eq!(e.jwks_uri, "http://auth:1/.well-known/jwks.json");
        let mut other = doc.clone();
        other["issuer"] = "http://localhost:8080/".into();
        assert!(endpoints_from_metadata(&other, iss, None).is_err());
        let mut no_jwks = doc.clone();
        no_jwks.as_object_mut().unwrap().remove("jwks_uri");
        assert!(endpoints_from_metadata(&no_jwks, iss, None).is_err());
        let mut file = doc;
        file["jwks_uri"] = "file:///etc/passwd".into();
        assert!(endpoints_from_metadata(&file, iss, None).is_err());
    }

    #[test]
    fn an_issuer_with_a_path_keeps_it() {
        let iss = "https://example.com/auth";
        let doc = serde_json::json!({
            "issuer": iss,
            "jwks_uri": "https://example.com/auth/.well-known/jwks.json",
            "introspection_endpoint": "https://example.com/auth/oauth/introspect",
        });
        let e = endpoints_from_metadata(&doc, iss, None).unwrap();
        assert_eq!(e.jwks_uri, "https://example.com/auth/.well-known/jwks.json");
        // The internal URL stands for the issuer, path included.
        let internal = "http://skedcast-auth:8080/auth";
        assert_eq!(
            metadata_url(internal).unwrap(),
            "http://skedcast-auth:8080/.well-known/oauth-authorization-server/auth"
        );
        let e = endpoints_from_metadata(&doc, iss, Some(internal)).unwrap();
        assert_eq!(
            e.introspection_endpoint,
            "http://skedcast-auth:8080/auth/oauth/introspect"
        );
        // RFC 8414 §3.3: the issuer must match exactly, path included.
        for other in [
            "https://example.com",
            "https://example.com/auth/",
            "https://example.com/auth2",
        ] {
            assert!(
                endpoints_from_metadata(&doc, other, None).is_err(),
                "{other}"
            );
        }
        let mut without_introspection = doc;
        without_introspection
            .as_object_mut()
            .unwrap()
            .remove("introspection_endpoint");
        let e = endpoints_from_metadata(&without_introspection, iss, None).unwrap();
        assert_eq!(
            e.introspection_endpoint,
            "https://example.com/auth/oauth/introspect"
        );
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        use base64::Engine;
        let h = basic_authorization("rs:1", "a b+c");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(h.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(String::from_utf8(raw).unwrap(), "rs%3A1:a+b%2Bc");
    }
}
