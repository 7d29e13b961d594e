//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
//! MCP 2025-11-25): a `client_id` that is an https URL with a path names a
//! JSON document of client metadata. The server fetches it, validates it like
//! a registration ([`crate::oauth::register::validate`]), and treats the
//! client as public (`token_endpoint_auth_method` `none`).
//!
//! The validated metadata is stored as a `clients` row of kind
//! [`clients::KIND_CIMD`] whose id is the URL, so authorize, token, refresh
//! and revocation work on it like on any client (codes, consents and refresh
//! families reference it). The `client_metadata_documents` row beside it says
//! until when the stored metadata may be used without fetching again: the
//! response's `Cache-Control: max-age`, bounded by `cimd.min_cache_secs` and
//! `cimd.max_cache_secs`. Both live in the database, so every instance shares
//! one cache.
//!
//! Fetching is an SSRF risk: anyone can make the server request a URL of
//! their choice. So (see [`fetch`]):
//! - https only; the URL in canonical form, without user information or
//!   fragment, with a path;
//! - the host is resolved here, and **every** address it resolves to must be
//!   public: loopback, private, shared (CGNAT), link-local, unique-local,
//!   multicast, unspecified, reserved and documentation ranges are refused,
//!   IPv4-mapped, NAT64 and 6to4 forms by the IPv4 address they embed;
//!   nothing is sent to a refused address;
//! - the connection goes to the address that was checked (reqwest's
//!   `resolve` override; any other DNS lookup fails), so a second DNS answer
//!   cannot swap it (DNS rebinding); no proxy;
//! - no redirects; one deadline (`cimd.fetch_timeout_secs`) for everything;
//!   at most 64 KiB read incrementally; `application/json` only.
//!
//! `cimd.allow_loopback` (tests only) admits loopback addresses and plain
//! http on loopback hosts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use entity::client::Model;
use entity::client_metadata_document::{ActiveModel, Column, Entity};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, TransactionTrait};
use serde_json::Value;
use url::{Host, Url};

use crate::AppState;
use crate::oauth::clients::{self, ClientRecord};
use crate::oauth::register::{self, ClientMetadata};
use crate::settings::CimdSettings;

/// Largest document read.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Longest client id URL accepted.
pub const MAX_URL_LEN: usize = 2000;

/// Why a document client id cannot be used. The text completes "the client
/// metadata document cannot be used: ...".
#[derive(Debug, thiserror::Error)]
pub enum CimdError {
    /// The client id is not an acceptable document URL.
    #[error("{0}")]
    Url(String),
    /// The host is (or resolves to) an address documents are never fetched from.
    #[error("{0}")]
    Address(String),
    /// The fetch failed: network, timeout, status, redirect, type or size.
    #[error("{0}")]
    Fetch(String),
    /// The document is not acceptable client metadata.
    #[error("{0}")]
    Document(String),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

/// Whether a `client_id` names a metadata document rather than a registered
/// client. Registered ids are base64url and never contain `:`.
pub fn is_document_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

fn is_loopback_name(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => *d == "localhost",
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// The document URL of a client id (draft §3): https (plain http only on a
/// loopback host when `allow_loopback`), a host, a path other than `/`, no
/// dot segments, no fragment, no user information, and written in canonical
/// form (what is fetched is exactly what the client sent, and the
/// document's `client_id` is compared with it as a string).
pub fn parse_url(client_id: &str, allow_loopback: bool) -> Result<Url, CimdError> {
    let bad = |why: &str| Err(CimdError::Url(format!("the client_id URL {why}")));
    if client_id.len() > MAX_URL_LEN {
        return bad(&format!("is longer than {MAX_URL_LEN} bytes"));
    }
    if client_id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return bad("contains whitespace or control characters");
    }
    if client_id.contains('#') {
        return bad("must not contain a fragment");
    }
    let Ok(url) = Url::parse(client_id) else {
        return bad("is not an absolute URL");
    };
    let Some(host) = url.host() else {
        return bad("has no host");
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_loopback && is_loopback_name(&host) => {}
        _ => return bad("must use https"),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not contain user information");
    }
    let raw_path = client_id
        .split_once("://")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("");
    let raw_path = raw_path.split('?').next().unwrap_or("");
    if raw_path.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".."
    }) {
        return bad("must not contain . or .. path segments");
    }
    if matches!(url.path(), "" | "/") {
        return bad("must have a path (e.g. https://app.example/oauth/client.json)");
    }
    if url.as_str() != client_id {
        return bad(&format!(
            "is not in canonical form (lower-case scheme and host, no default port, \
             percent-encoding where needed): expected {}",
            url.as_str()
        ));
    }
    Ok(url)
}

/// Why documents are never fetched from `ip`, if they are not. Loopback
/// addresses pass when `allow_loopback` (tests only).
pub fn refuse_ip(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refuse_v4(v4, allow_loopback),
        IpAddr::V6(v6) => refuse_v6(v6, allow_loopback),
    }
}

fn refuse_v4(ip: Ipv4Addr, allow_loopback: bool) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return (!allow_loopback).then_some("a loopback address");
    }
    if a == 0 {
        return Some("an unspecified address");
    }
    if ip.is_private() {
        return Some("a private address");
    }
    if ip.is_link_local() {
        return Some("a link-local address");
    }
    if a == 100 && (64..128).contains(&b) {
        return Some("a shared (carrier-grade NAT) address");
    }
    if ip.is_multicast() {
        return Some("a multicast address");
    }
    // 240/4 reserved and the broadcast address; IETF protocol assignments
    // (192.0.0/24), documentation (192.0.2/24, 198.51.100/24, 203.0.113/24),
    // benchmarking (198.18/15).
    if a >= 240
        || (a, b, c) == (192, 0, 0)
        || (a, b, c) == (192, 0, 2)
        || (a, b, c) == (198, 51, 100)
        || (a, b, c) == (203, 0, 113)
        || (a == 198 && (b == 18 || b == 19))
    {
        return Some("a reserved address");
    }
    None
}

fn refuse_v6(ip: Ipv6Addr, allow_loopback: bool) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_loopback() {
        return (!allow_loopback).then_some("a loopback address");
    }
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    // ::ffff:a.b.c.d: the IPv4 address decides.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refuse_v4(v4, allow_loopback);
    }
    // 64:ff9b::/96 (NAT64) embeds an IPv4 address in its last 32 bits.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, hi, lo] = s;
        return refuse_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)), false)
            .map(|_| "a NAT64 form of a non-public IPv4 address");
    }
    // 2002::/16 (6to4) embeds an IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return refuse_v4(
            Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])),
            false,
        )
        .map(|_| "a 6to4 form of a non-public IPv4 address");
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        return Some("an IPv4-compatible address");
    }
    if (s[0] & 0xffc0) == 0xfe80 {
        return Some("a link-local address");
    }
    if (s[0] & 0xffc0) == 0xfec0 {
        return Some("a site-local address");
    }
    if (s[0] & 0xfe00) == 0xfc00 {
        return Some("a unique-local address");
    }
    if (s[0] & 0xff00) == 0xff00 {
        return Some("a multicast address");
    }
    // Documentation (2001:db8::/32), Teredo (2001::/32, reaches IPv4
    // hosts), discard (100::/64), local-use NAT64 (64:ff9b:1::/48).
    if (s[0], s[1]) == (0x2001, 0x0db8)
        || (s[0], s[1]) == (0x2001, 0)
        || s[..4] == [0x100, 0, 0, 0]
        || s[..3] == [0x64, 0xff9b, 1]
    {
        return Some("a reserved address");
    }
    None
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

/// Whether a `Content-Type` is JSON: `application/json` or
/// `application/*+json`, with any parameters.
pub fn is_json(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// The client metadata of a fetched document (draft §4): a JSON object whose
/// `client_id` is exactly `url`, without a client secret, with
/// `token_endpoint_auth_method` `none` (the default here), and otherwise
/// valid as a registration.
pub fn validate_document(url: &str, body: &[u8]) -> Result<ClientMetadata, CimdError> {
    let invalid = |why: String| Err(CimdError::Document(why));
    let mut obj = match register::parse_object(body) {
        Ok(obj) => obj,
        Err(e) => {
            return invalid(format!(
                "the document {}",
                e.description.replacen("the request body ", "", 1)
            ));
        }
    };
    match obj.get("client_id") {
        Some(Value::String(id)) if id == url => {}
        Some(Value::String(id)) => {
            return invalid(format!(
                "the document's client_id ({}) is not its URL ({url}); they must be equal",
                quote(id)
            ));
        }
        Some(_) => return invalid("the document's client_id must be a string".into()),
        None => {
            return invalid(format!(
                "the document has no client_id (it must be the document's URL, {url})"
            ));
        }
    }
    if let Some(field) = ["client_secret", "client_secret_expires_at"]
        .into_iter()
        .find(|f| obj.contains_key(*f))
    {
        return invalid(format!(
            "the document contains {field}: a client identified by a metadata document has no \
             secret"
        ));
    }
    match obj.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => {
            obj.insert(
                "token_endpoint_auth_method".into(),
                Value::String("none".into()),
            );
        }
        Some(Value::String(m)) if m == "none" => {}
        Some(Value::String(m)) => {
            return invalid(format!(
                "token_endpoint_auth_method {} is not accepted: a client identified by a \
                 metadata document is a public client (none)",
                quote(m)
            ));
        }
        Some(_) => {
            return invalid("token_endpoint_auth_method must be a string".into());
        }
    }
    register::validate(&obj)
        .map_err(|e| CimdError::Document(format!("{}: {}", e.code.as_str(), e.description)))
}

fn quote(s: &str) -> String {
    crate::oauth::params::quote(s)
}

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

/// The one address to connect to for `url`, after checking every address
/// its host stands for.
async fn checked_address(url: &Url, allow_loopback: bool) -> Result<SocketAddr, CimdError> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| CimdError::Url("the client_id URL has no port".into()))?;
    let refused = |ip: IpAddr, why: &str, via: Option<&str>| {
        CimdError::Address(match via {
            Some(name) => format!(
                "the host {name} resolves to {ip}, {why}; documents are fetched only from \
                 public addresses"
            ),
            None => format!("{ip} is {why}; documents are fetched only from public addresses"),
        })
    };
    let ip = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(Host::Domain(name)) => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                .await
                .map_err(|e| CimdError::Fetch(format!("the host {name} does not resolve ({e})")))?
                .collect();
            if addrs.is_empty() {
                return Err(CimdError::Fetch(format!("the host {name} has no address")));
            }
            // Every address must pass: a mixed answer is refused whole.
            if let Some((ip, why)) = addrs
                .iter()
                .find_map(|a| refuse_ip(a.ip(), allow_loopback).map(|why| (a.ip(), why)))
            {
                return Err(refused(ip, why, Some(name)));
            }
            return Ok(addrs[0]);
        }
        None => return Err(CimdError::Url("the client_id URL has no host".into())),
    };
    match refuse_ip(ip, allow_loopback) {
        Some(why) => Err(refused(ip, why, None)),
        None => Ok(SocketAddr::new(ip, port)),
    }
}

/// Fetch the document at `url` (already checked by [`parse_url`]) under the
/// rules of this module, within `cimd.fetch_timeout_secs` in all.
pub async fn fetch(url: &Url, cfg: &CimdSettings) -> Result<Fetched, CimdError> {
    let timeout = Duration::from_secs(cfg.fetch_timeout_secs);
    match tokio::time::timeout(timeout, fetch_within(url, cfg, timeout)).await {
        Ok(result) => result,
        Err(_) => Err(too_slow(cfg)),
    }
}

fn too_slow(cfg: &CimdSettings) -> CimdError {
    CimdError::Fetch(format!(
        "the document did not arrive within {} s",
        cfg.fetch_timeout_secs
    ))
}

async fn fetch_within(
    url: &Url,
    cfg: &CimdSettings,
    timeout: Duration,
) -> Result<Fetched, CimdError> {
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
        .map_err(|e| CimdError::Fetch(format!("the fetcher could not start ({e})")))?;
    let mut resp = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                too_slow(cfg)
            } else {
                CimdError::Fetch(format!("the document could not be fetched ({e})"))
            }
        })?;
    let status = resp.status();
    if status.is_redirection() {
        return Err(CimdError::Fetch(format!(
            "the document URL answered with a redirect (HTTP {}); redirects are not followed, \
             so the client_id must be the document's final URL",
            status.as_u16()
        )));
    }
    if status != reqwest::StatusCode::OK {
        return Err(CimdError::Fetch(format!(
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
    if !content_type.as_deref().is_some_and(is_json) {
        return Err(CimdError::Fetch(format!(
            "the document is not JSON (Content-Type {}; expected application/json)",
            content_type.as_deref().map_or("missing".to_string(), quote)
        )));
    }
    let cache_control = header(reqwest::header::CACHE_CONTROL);
    let too_large = || {
        CimdError::Fetch(format!(
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
                CimdError::Fetch(format!("the document could not be read ({e})"))
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

/// The client a document client id names: the stored one while its cache
/// entry is fresh, otherwise fetched, validated and stored again (for every
/// instance). A document that can no longer be fetched or validated makes
/// the client unusable until it can.
pub async fn client(state: &AppState, client_id: &str) -> Result<Model, CimdError> {
    let cfg = &state.settings.cimd;
    let url = parse_url(client_id, cfg.allow_loopback)?;
    let db = &state.db;
    let now = crate::clock::now();
    let row = clients::find(db, client_id).await?;
    if let Some(row) = row {
        // Never overwrite another kind of client (registered ids cannot
        // look like URLs, so this does not happen; make sure of it).
        if row.kind != clients::KIND_CIMD {
            return Err(CimdError::Url(
                "the client_id URL is the id of a client that is not a metadata document".into(),
            ));
        }
        let entry = Entity::find_by_id(client_id.to_string()).one(db).await?;
        if entry.is_some_and(|d| d.expires_at > now) {
            return Ok(row);
        }
    }
    let fetched = fetch(&url, cfg).await?;
    let meta = validate_document(client_id, &fetched.body)?;
    let ttl = cache_secs(
        fetched.cache_control.as_deref(),
        cfg.min_cache_secs,
        cfg.max_cache_secs,
    );
    let document = String::from_utf8_lossy(&fetched.body).into_owned();
    let row = store(db, client_id, &meta, document, now, now + ttl as i64).await?;
    state.client_cache.invalidate(client_id);
    tracing::info!(
        client_id,
        cache_secs = ttl,
        "client metadata document fetched"
    );
    Ok(row)
}

/// The record the token and revocation endpoints authenticate against.
pub async fn record(state: &AppState, client_id: &str) -> Result<Arc<ClientRecord>, CimdError> {
    Ok(Arc::new(ClientRecord::from_model(
        &client(state, client_id).await?,
    )))
}

/// The client row and its cache entry, in one transaction.
async fn store(
    db: &sea_orm::DatabaseConnection,
    url: &str,
    meta: &ClientMetadata,
    document: String,
    now: i64,
    expires_at: i64,
) -> Result<Model, DbErr> {
    let txn = db.begin().await?;
    clients::upsert_document_client(&txn, url, meta, now).await?;
    upsert_entry(&txn, url, document, now, expires_at).await?;
    let row = clients::find(&txn, url)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("client {url} after upsert")))?;
    txn.commit().await?;
    Ok(row)
}

async fn upsert_entry(
    db: &impl ConnectionTrait,
    url: &str,
    document: String,
    now: i64,
    expires_at: i64,
) -> Result<(), DbErr> {
    Entity::insert(ActiveModel {
        url: Set(url.to_string()),
        fetched_at: Set(now),
        expires_at: Set(expires_at),
        document: Set(document),
    })
    .on_conflict(
        OnConflict::column(Column::Url)
            .update_columns([Column::FetchedAt, Column::ExpiresAt, Column::Document])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The host (and port, when not the default) of a document client id, shown
/// on the consent page: the one part of the client's identity it does not
/// assert about itself.
pub fn display_host(client_id: &str) -> Option<String> {
    let url = Url::parse(client_id).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://app.example/oauth/client.json";

    #[test]
    fn document_ids_are_urls() {
        assert!(is_document_id(URL));
        assert!(is_document_id("http://127.0.0.1:3000/c.json"));
        assert!(!is_document_id("Jx0bHc2zW5l1wzKxhd9n8w"));
        assert!(!is_document_id("urn:x"));
    }

    #[test]
    fn url_rules() {
        for ok in [
            URL,
            "https://app.example/c",
            "https://app.example:8443/c.json",
            "https://app.example/c.json?v=2",
            "https://[2606:4700::1111]/c",
        ] {
            assert!(parse_url(ok, false).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("http://app.example/c.json", "https"),
            ("https://app.example", "path"),
            ("https://app.example/", "path"),
            ("https://app.example/a/../c.json", ". or .."),
            ("https://app.example/a/./c.json", ". or .."),
            ("https://app.example/a/%2E%2E/c.json", ". or .."),
            ("https://app.example/c.json#x", "fragment"),
            ("https://u:p@app.example/c.json", "user information"),
            ("https://u@app.example/c.json", "user information"),
            ("https://APP.example/c.json", "canonical"),
            ("https://app.example:443/c.json", "canonical"),
            ("https://app.example/c d", "whitespace"),
            ("ftp://app.example/c", "https"),
        ] {
            let e = parse_url(bad, false).expect_err(bad).to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        let long = format!("https://app.example/{}", "x".repeat(MAX_URL_LEN));
        assert!(parse_url(&long, false).is_err());
        // Plain http only on loopback, and only with the test switch.
        assert!(parse_url("http://127.0.0.1:8000/c.json", false).is_err());
        assert!(parse_url("http://127.0.0.1:8000/c.json", true).is_ok());
        assert!(parse_url("http://localhost:8000/c.json", true).is_ok());
        assert!(parse_url("http://[::1]:8000/c.json", true).is_ok());
        assert!(parse_url("http://app.example/c.json", true).is_err());
    }

    fn refused(ip: &str, allow_loopback: bool) -> Option<&'static str> {
        refuse_ip(ip.parse().unwrap(), allow_loopback)
    }

    #[test]
    fn only_public_addresses() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("127.9.9.9", "loopback"),
            ("::1", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("::", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("192.0.2.1", "reserved"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::127.0.0.1", "IPv4-compatible"),
            ("64:ff9b::a9fe:a9fe", "NAT64"),
            ("2002:a00:1::1", "6to4"),
            ("2001:db8::1", "reserved"),
            ("2001:0:4136:e378::1", "reserved"),
        ] {
            let got = refused(ip, false).unwrap_or_else(|| panic!("{ip} passed"));
            assert!(got.contains(why), "{ip}: {got}");
        }
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(refused(ip, false), None, "{ip}");
        }
        // The test switch admits loopback, and nothing else.
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(refused(ip, true), None, "{ip}");
        }
        for ip in [
            "10.0.0.1",
            "169.254.169.254",
            "fe80::1",
            "fc00::1",
            "0.0.0.0",
        ] {
            assert!(refused(ip, true).is_some(), "{ip}");
        }
    }

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

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/oauth-client-metadata+json",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for bad in ["text/html", "text/json", "application/jsonp", ""] {
            assert!(!is_json(bad), "{bad}");
        }
    }

    fn doc(v: Value) -> Result<ClientMetadata, CimdError> {
        validate_document(URL, v.to_string().as_bytes())
    }

    fn err(v: Value) -> String {
        doc(v).expect_err("refused").to_string()
    }

    #[test]
    fn documents() {
        let good = || {
            json!({
                "client_id": URL,
                "client_name": "Agent",
                "redirect_uris": ["http://127.0.0.1/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
            })
        };
        let m = doc(good()).unwrap();
        assert_eq!(m.token_endpoint_auth_method, register::AuthMethod::None);
        assert_eq!(m.client_name.as_deref(), Some("Agent"));
        let mut explicit = good();
        explicit["token_endpoint_auth_method"] = json!("none");
        assert!(doc(explicit).is_ok());

        let with = |k: &str, v: Value| {
            let mut d = good();
            d[k] = v;
            d
        };
        assert!(
            err(with("client_id", json!("https://evil.example/c.json"))).contains("is not its URL")
        );
        assert!(err(with("client_id", json!(format!("{URL}/")))).contains("is not its URL"));
        assert!(err(with("client_id", json!(1))).contains("must be a string"));
        let mut none = good();
        none.as_object_mut().unwrap().remove("client_id");
        assert!(err(none).contains("has no client_id"));
        for m in [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ] {
            assert!(
                err(with("token_endpoint_auth_method", json!(m))).contains("public client"),
                "{m}"
            );
        }
        assert!(err(with("client_secret", json!("s"))).contains("no secret"));
        assert!(
            err(with("redirect_uris", json!(["http://evil.example/cb"])))
                .starts_with("invalid_redirect_uri")
        );
        assert!(err(with("redirect_uris", json!([]))).contains("redirect_uris is required"));
        assert!(err(with("grant_types", json!(["client_credentials"]))).contains("confidential"));
        assert!(err(with("application_type", json!("web"))).contains("application_type web"));
        for bad in [&b"[]"[..], b"nope", b""] {
            let e = validate_document(URL, bad).unwrap_err().to_string();
            assert!(e.starts_with("the document "), "{e}");
        }
    }

    #[test]
    fn consent_host() {
        assert_eq!(display_host(URL).as_deref(), Some("app.example"));
        assert_eq!(
            display_host("http://127.0.0.1:4000/c.json").as_deref(),
            Some("127.0.0.1:4000")
        );
    }
}
