//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
//! MCP 2025-11-25): a `client_id` that is an https URL with a path names a
//! JSON document of client metadata. The server fetches it, validates it like
//! a registration ([`crate::oauth::client::metadata::validate`]), and treats the
//! client as public (`token_endpoint_auth_method` `none`), unless the
//! document says `private_key_jwt` with its keys (issue 14 item 1).
//!
//! A document no member has authorized lives only in this instance's
//! memory ([`memory`]): the token, revocation and introspection endpoints
//! and the authorization request use it from there, and it is never stored
//! for them (anyone can name any URL). Once a member allows the client on
//! the consent page ([`keep`]), the validated metadata is stored as a
//! `clients` row of kind [`ClientKind::MetadataDocument`] whose id is the
//! URL, so codes, consents and refresh families reference it like any
//! other client. The `client_metadata_documents` row beside it ([`store`])
//! says until when the stored metadata may be used without fetching again;
//! after that it is fetched again and stored again, for every instance. A
//! document's lifetime is the response's `Cache-Control: max-age`, bounded
//! by `cimd.min_cache_secs` and `cimd.max_cache_secs`; a refusal is
//! remembered `cimd.failure_cache_secs`. Housekeeping deletes expired
//! entries and stored document clients no grant holds any more
//! ([`store::prune`]).
//!
//! Fetching is an SSRF risk: anyone can make the server request a URL of
//! their choice. So the URL must be acceptable ([`self::url`]), every
//! address its host resolves to public ([`address`]), and the fetch
//! bounded ([`fetch`]). Fetches are limited per requesting address and per
//! document host (`cimd.fetches_per_minute_per_*`, `429 too_many_requests`
//! over a limit; only actual fetches count), and concurrent requests for
//! one URL share one fetch.
//! `cimd.allow_loopback` (tests only) admits loopback addresses and plain
//! http on loopback hosts.
//!
//! A document that cannot be used is an `invalid_client` [`OAuthError`]
//! whose description says why (it completes "the client metadata document
//! cannot be used: ..."); a database fault is the usual database error.

pub mod address;
pub mod fetch;
pub mod memory;
pub mod store;
pub mod url;

use std::net::IpAddr;
use std::sync::Arc;

use ::url::Url;
use entity::client::Model;
use sea_orm::DbErr;
use serde_json::Value;

use self::memory::{Document, Lookup, Outcome};

pub use self::fetch::MAX_DOCUMENT_BYTES;
pub use self::url::{MAX_URL_LEN, display_host, is_document_id, parse_url};
use crate::AppState;
use crate::oauth::client::metadata;
use crate::oauth::client::model::{AuthMethod, ClientKind, ClientMetadata, ClientRecord};
use crate::oauth::client::store as clients;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::quote;
use crate::rate_limit::{self, Decision};
use crate::settings::CimdSettings;

/// Whether `client_id` names a document client while `cimd.enabled` is
/// off: such a client is unknown everywhere (authorize, token, revocation,
/// introspection), stored rows included, and tokens issued to it introspect
/// as inactive.
pub fn switched_off(cfg: &CimdSettings, client_id: &str) -> bool {
    !cfg.enabled && is_document_id(client_id)
}

/// Whether a stored client may be used: not a document client while
/// `cimd.enabled` is off.
pub fn usable_row(cfg: &CimdSettings, row: &Model) -> bool {
    cfg.enabled || (row.kind != ClientKind::MetadataDocument && !is_document_id(&row.client_id))
}

/// A document client id that cannot be used, and why.
fn unusable(why: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client(why, false)
}

/// The client metadata of a fetched document (draft §4): a JSON object whose
/// `client_id` is exactly `url`, without a client secret, with
/// `token_endpoint_auth_method` `none` (the default here) or
/// `private_key_jwt` (a document cannot hold a secret, but can name public
/// keys), and otherwise valid as a registration (`allow_loopback`: see
/// [`metadata::validate_with`]).
pub fn validate_document(
    url: &str,
    body: &[u8],
    allow_loopback: bool,
) -> Result<ClientMetadata, OAuthError> {
    let invalid = |why: String| Err(unusable(why));
    let mut obj = match metadata::parse_object(body) {
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
                Value::String(AuthMethod::None.as_str().into()),
            );
        }
        Some(Value::String(m))
            if m == AuthMethod::None.as_str() || m == AuthMethod::PrivateKeyJwt.as_str() => {}
        Some(Value::String(m)) => {
            return invalid(format!(
                "token_endpoint_auth_method {} is not accepted: a client identified by a \
                 metadata document has no secret (it is a public client, none, or signs \
                 assertions with its keys, private_key_jwt)",
                quote(m)
            ));
        }
        Some(_) => {
            return invalid("token_endpoint_auth_method must be a string".into());
        }
    }
    metadata::validate_with(&obj, allow_loopback)
        .map_err(|e| unusable(format!("{}: {}", e.code, e.description)))
}

/// A document client id, resolved: stored (a member authorized it), or
/// only in this instance's memory.
enum Resolved {
    Stored(Box<Model>),
    Unstored(Arc<Document>),
}

/// The client a document client id names: the stored one while its cache
/// entry is fresh (a stale one is fetched again and stored again, for every
/// instance); a client no member authorized from memory or fetched, never
/// stored here (see [`keep`]). A document that can no longer be fetched or
/// validated makes the client unusable until it can. `ip` is the requesting
/// client's address, for the fetch limits.
pub async fn client(
    state: &AppState,
    ip: Option<IpAddr>,
    client_id: &str,
) -> Result<Model, OAuthError> {
    Ok(match resolve(state, ip, client_id).await? {
        Resolved::Stored(row) => *row,
        Resolved::Unstored(doc) => clients::document_model(client_id, &doc.meta, doc.fetched_at),
    })
}

/// The record the token and revocation endpoints authenticate against.
pub async fn record(
    state: &AppState,
    ip: Option<IpAddr>,
    client_id: &str,
) -> Result<Arc<ClientRecord>, OAuthError> {
    Ok(Arc::new(ClientRecord::from_model(
        &client(state, ip, client_id).await?,
    )))
}

/// Store the document client `client_id` (with its cache entry) if it is
/// not stored yet: a member is authorizing it, and its consent, codes and
/// refresh families reference the row. Other client ids are left alone.
pub async fn keep(state: &AppState, ip: Option<IpAddr>, client_id: &str) -> Result<(), OAuthError> {
    if !is_document_id(client_id) || !state.settings.cimd.enabled {
        return Ok(());
    }
    let Resolved::Unstored(doc) = resolve(state, ip, client_id).await? else {
        return Ok(());
    };
    save(state, client_id, &doc).await?;
    // From now on the database entry rules, for every instance.
    state.documents.forget(client_id);
    tracing::info!(client_id, "document client stored on authorization");
    Ok(())
}

/// The client `client_id` names as far as storage and this instance's
/// memory know, without fetching: for the consent page, whose request was
/// just validated (so a document client is in memory if not stored).
pub async fn find(state: &AppState, client_id: &str) -> Result<Option<Model>, DbErr> {
    if let Some(row) = clients::find(&state.db, client_id).await? {
        return Ok(Some(row));
    }
    if !is_document_id(client_id) || !state.settings.cimd.enabled {
        return Ok(None);
    }
    Ok(state
        .documents
        .document(client_id)
        .map(|doc| clients::document_model(client_id, &doc.meta, doc.fetched_at)))
}

async fn resolve(
    state: &AppState,
    ip: Option<IpAddr>,
    client_id: &str,
) -> Result<Resolved, OAuthError> {
    let cfg = &state.settings.cimd;
    let url = parse_url(client_id, cfg.allow_loopback)?;
    let db = &state.db;
    let now = crate::clock::now();
    let row = clients::find(db, client_id)
        .await
        .map_err(|e| OAuthError::db(e, "find document client"))?;
    let Some(row) = row else {
        return Ok(Resolved::Unstored(
            document(state, ip, &url, client_id, true, now).await?,
        ));
    };
    // Never overwrite another kind of client (registered ids cannot look
    // like URLs, so this does not happen; make sure of it).
    if row.kind != ClientKind::MetadataDocument {
        return Err(unusable(
            "the client_id URL is the id of a client that is not a metadata document",
        ));
    }
    if store::is_fresh(db, client_id, now)
        .await
        .map_err(|e| OAuthError::db(e, "find metadata document"))?
    {
        return Ok(Resolved::Stored(Box::new(row)));
    }
    let doc = match document(state, ip, &url, client_id, false, now).await {
        Ok(doc) => doc,
        // Over a fetch limit: a client a member already allowed keeps its
        // stored metadata until the limit's window ends, so flooding its
        // host with made-up document URLs cannot lock it out. It is
        // refreshed on the first request after that.
        Err(e) if e.code == ErrorCode::TooManyRequests => {
            return Ok(Resolved::Stored(Box::new(row)));
        }
        Err(e) => return Err(e),
    };
    Ok(Resolved::Stored(Box::new(
        save(state, client_id, &doc).await?,
    )))
}

/// Store `doc` as the client row and cache entry of `client_id`, and drop
/// this instance's cached record of it.
async fn save(state: &AppState, client_id: &str, doc: &Document) -> Result<Model, OAuthError> {
    let row = store::save(
        &state.db,
        client_id,
        &doc.meta,
        doc.body.clone(),
        doc.fetched_at,
        doc.expires_at,
    )
    .await
    .map_err(|e| OAuthError::db(e, "store document client"))?;
    state.client_cache.invalidate(client_id);
    Ok(row)
}

/// The document at `url`: remembered, or fetched once however many
/// requests want it meanwhile (the first to ask fetches; the others await
/// the same flight). A remembered document is used only if `use_document`;
/// a remembered refusal always.
async fn document(
    state: &AppState,
    ip: Option<IpAddr>,
    url: &Url,
    client_id: &str,
    use_document: bool,
    now: i64,
) -> Outcome {
    let flight = match state.documents.lookup(client_id, now, use_document) {
        Lookup::Known(outcome) => return outcome,
        Lookup::Fetch(flight) => flight,
    };
    flight
        .get_or_init(|| async {
            let (outcome, until) = fetch_once(state, ip, url, client_id).await;
            state
                .documents
                .land(client_id, &flight, &outcome, until, crate::clock::now());
            outcome
        })
        .await
        .clone()
}

/// One fetch, if the limits allow it: the outcome, and until when to
/// remember it (a refusal over a limit or a database fault is not
/// remembered).
async fn fetch_once(
    state: &AppState,
    ip: Option<IpAddr>,
    url: &Url,
    client_id: &str,
) -> (Outcome, Option<i64>) {
    let cfg = &state.settings.cimd;
    let now = crate::clock::now();
    if let Err(e) = admit(state, ip, url, now).await {
        return (Err(e), None);
    }
    let fetched = fetch::fetch(url, cfg).await.and_then(|f| {
        Ok((
            validate_document(client_id, &f.body, cfg.allow_loopback)?,
            f,
        ))
    });
    match fetched {
        Ok((meta, fetched)) => {
            let ttl = fetch::cache_secs(
                fetched.cache_control.as_deref(),
                cfg.min_cache_secs,
                cfg.max_cache_secs,
            );
            tracing::info!(
                client_id,
                cache_secs = ttl,
                "client metadata document fetched"
            );
            let expires_at = now + ttl as i64;
            let doc = Document {
                meta,
                body: String::from_utf8_lossy(&fetched.body).into_owned(),
                fetched_at: now,
                expires_at,
            };
            (Ok(Arc::new(doc)), Some(expires_at))
        }
        Err(e) if e.code == ErrorCode::InvalidClient => {
            let until = now + cfg.failure_cache_secs as i64;
            (Err(e), (cfg.failure_cache_secs > 0).then_some(until))
        }
        Err(e) => (Err(e), None),
    }
}

/// Count a fetch against the requesting address and the document's host;
/// over either limit, `429 too_many_requests` with `Retry-After`. (A
/// client's `jwks_uri` fetches count too, [`super::jwks`].)
pub(crate) async fn admit(
    state: &AppState,
    ip: Option<IpAddr>,
    url: &Url,
    now: i64,
) -> Result<(), OAuthError> {
    let cfg = &state.settings.cimd;
    let limits = [
        (
            ip.map_or_else(
                || "cimd-ip:unknown".to_string(),
                |ip| rate_limit::ip_bucket("cimd-ip", ip),
            ),
            cfg.fetches_per_minute_per_ip,
            "from this address",
        ),
        (
            format!("cimd-host:{}", url.host_str().unwrap_or_default()),
            cfg.fetches_per_minute_per_host,
            "of documents on this host",
        ),
    ];
    for (bucket, limit, whose) in limits {
        let decision = rate_limit::hit(&state.db, &bucket, limit, now)
            .await
            .map_err(|e| OAuthError::db(e, "rate limit"))?;
        if let Decision::Limited { retry_after_secs } = decision {
            metrics::counter!("rate_limit_hits_total", "limit" => "cimd_fetch").increment(1);
            tracing::info!(%bucket, "client metadata document fetch limit reached");
            return Err(OAuthError {
                retry_after: Some(retry_after_secs),
                ..OAuthError::of(
                    ErrorCode::TooManyRequests,
                    format!(
                        "too many client metadata document fetches {whose} (limit {limit} per \
                         minute); retry after {retry_after_secs} s"
                    ),
                )
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://app.example/oauth/client.json";

    fn doc(v: Value) -> Result<ClientMetadata, OAuthError> {
        validate_document(URL, v.to_string().as_bytes(), false)
    }

    fn err(v: Value) -> String {
        doc(v).expect_err("refused").description
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
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::None);
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
        for m in ["client_secret_basic", "client_secret_post"] {
            assert!(
                err(with("token_endpoint_auth_method", json!(m))).contains("no secret"),
                "{m}"
            );
        }
        // private_key_jwt, with its keys.
        let pk = with("token_endpoint_auth_method", json!("private_key_jwt"));
        assert!(err(pk.clone()).contains("requires jwks or jwks_uri"));
        let mut pk = pk;
        pk["jwks_uri"] = json!("https://app.example/jwks.json");
        assert_eq!(
            doc(pk).unwrap().token_endpoint_auth_method,
            AuthMethod::PrivateKeyJwt
        );
        assert!(err(with("client_secret", json!("s"))).contains("no secret"));
        assert!(
            err(with("redirect_uris", json!(["http://evil.example/cb"])))
                .starts_with(ErrorCode::InvalidRedirectUri.as_str())
        );
        assert!(err(with("redirect_uris", json!([]))).contains("redirect_uris is required"));
        assert!(err(with("grant_types", json!(["client_credentials"]))).contains("confidential"));
        assert!(err(with("application_type", json!("web"))).contains("application_type web"));
        for bad in [&b"[]"[..], b"nope", b""] {
            let e = validate_document(URL, bad, false).unwrap_err().description;
            assert!(e.starts_with("the document "), "{e}");
        }
    }
}
