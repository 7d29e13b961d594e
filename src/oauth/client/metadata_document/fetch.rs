//! The fetch of a metadata document, under limits: the connection goes to
//! the address [`super::address`] checked (reqwest's `resolve` override;
//! any other DNS lookup fails), so a second DNS answer cannot swap it (DNS
//! rebinding); no proxy; no redirects; one deadline
//! (`cimd.fetch_timeout_secs`) for everything; at most 64 KiB read
//! incrementally; JSON only. Also how long a fetched document may be used.

use std::sync::Arc;
use std::time::Duration;

use url::{Host, Url};

use super::address::checked_address;
use super::unusable;
use crate::http::json_body::is_json_media_type;
use crate::oauth::error::OAuthError;
use crate::oauth::params::quote;
use crate::settings::CimdSettings;

/// Largest document read.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// A fetched document.
#[derive(Debug)]
pub struct Fetched {
    pub body: Vec<u8>,
    pub cache_control: Option<String>,
}

/// Refuses every DNS lookup: the only name a fetch may reach is the one
/// resolved and checked beforehand, given to reqwest as an override.
struct NoDns;

impl reqwest::dns::Resolve for NoDns {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_string();
        Box::pin(async move {
            Err(format!("no lookup of {name}: only the checked address is used").into())
        })
    }
}

/// Fetch the document at `url` (already checked by
/// [`super::url::parse_url`]) under the rules of this module, within
/// `cimd.fetch_timeout_secs` in all.
pub async fn fetch(url: &Url, cfg: &CimdSettings) -> Result<Fetched, OAuthError> {
    let timeout = Duration::from_secs(cfg.fetch_timeout_secs);
    match tokio::time::timeout(timeout, fetch_within(url, cfg, timeout)).await {
        Ok(result) => result,
        Err(_) => Err(too_slow(cfg)),
    }
}

fn too_slow(cfg: &CimdSettings) -> OAuthError {
    unusable(format!(
        "the document did not arrive within {} s",
        cfg.fetch_timeout_secs
    ))
}

async fn fetch_within(
    url: &Url,
    cfg: &CimdSettings,
    timeout: Duration,
) -> Result<Fetched, OAuthError> {
    let addr = checked_address(url, cfg.allow_loopback).await?;
    crate::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .https_only(!cfg.allow_loopback)
        .timeout(timeout)
        .pool_max_idle_per_host(0)
        .dns_resolver(Arc::new(NoDns))
        .user_agent(concat!(
            "skedcast-auth/",
            env!("CARGO_PKG_VERSION"),
            " (client metadata document fetcher)"
        ));
    if let Some(Host::Domain(name)) = url.host() {
        builder = builder.resolve(name, addr);
    }
    let client = builder
        .build()
        .map_err(|e| unusable(format!("the fetcher could not start ({e})")))?;
    let mut resp = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                too_slow(cfg)
            } else {
                // The client learns the kind of failure, never the
                // underlying error (it could name the address connected to).
                tracing::info!(url = %url, error = %e, "client metadata document fetch failed");
                unusable(if e.is_connect() {
                    "the document could not be fetched (no connection to its host)"
                } else {
                    "the document could not be fetched (the request failed)"
                })
            }
        })?;
    let status = resp.status();
    if status.is_redirection() {
        return Err(unusable(format!(
            "the document URL answered with a redirect (HTTP {}); redirects are not followed, \
             so the client_id must be the document's final URL",
            status.as_u16()
        )));
    }
    if status != reqwest::StatusCode::OK {
        return Err(unusable(format!(
            "the document URL answered HTTP {} instead of 200",
            status.as_u16()
        )));
    }
    let header = |name: reqwest::header::HeaderName| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let content_type = header(reqwest::header::CONTENT_TYPE);
    if !content_type.as_deref().is_some_and(is_json_media_type) {
        return Err(unusable(format!(
            "the document is not JSON (Content-Type {}; expected application/json)",
            content_type.as_deref().map_or("missing".to_string(), quote)
        )));
    }
    let cache_control = header(reqwest::header::CACHE_CONTROL);
    let too_large = || {
        unusable(format!(
            "the document is larger than {} KiB",
            MAX_DOCUMENT_BYTES / 1024
        ))
    };
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        let chunk = resp.chunk().await.map_err(|e| {
            if e.is_timeout() {
                too_slow(cfg)
            } else {
                tracing::info!(url = %url, error = %e, "client metadata document read failed");
                unusable("the document could not be read (the connection failed)")
            }
        })?;
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        body,
        cache_control,
    })
}

/// Seconds a fetched document may be used: the response's `max-age`
/// within `[min, max]`; `min` without one, or with `no-cache` / `no-store`.
pub fn cache_secs(cache_control: Option<&str>, min: u64, max: u64) -> u64 {
    let mut max_age = None;
    for directive in cache_control.unwrap_or_default().split(',') {
        let directive = directive.trim();
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "no-store" | "no-cache" => return min,
            "max-age" => max_age = value.trim().trim_matches('"').parse::<u64>().ok(),
            _ => {}
        }
    }
    max_age.unwrap_or(min).clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lifetime_is_bounded() {
        let c = |h: Option<&str>| cache_secs(h, 300, 86_400);
        assert_eq!(c(None), 300);
        assert_eq!(c(Some("public, max-age=3600")), 3600);
        assert_eq!(c(Some("max-age=10")), 300);
        assert_eq!(c(Some("max-age=31536000, immutable")), 86_400);
        assert_eq!(c(Some("no-cache")), 300);
        assert_eq!(c(Some("max-age=3600, no-store")), 300);
        assert_eq!(c(Some("Max-Age=\"600\"")), 600);
        assert_eq!(c(Some("max-age=abc")), 300);
    }
}
