//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
//! MCP 2025-11-25): a `client_id` that is an https URL with a path names a
//! JSON document of client metadata. The server fetches it, validates it like
//! a registration ([`crate::oauth::client::metadata::validate`]), and treats the
//! client as public (`token_endpoint_auth_method` `none`).
//!
//! The validated metadata is stored as a `clients` row of kind
//! [`ClientKind::MetadataDocument`] whose id is the URL, so authorize, token,
//! refresh and revocation work on it like on any client (codes, consents and
//! refresh families reference it). The `client_metadata_documents` row
//! beside it ([`store`]) says until when the stored metadata may be used
//! without fetching again: the response's `Cache-Control: max-age`, bounded
//! by `cimd.min_cache_secs` and `cimd.max_cache_secs`.
//!
//! Fetching is an SSRF risk: anyone can make the server request a URL of
//! their choice. So the URL must be acceptable ([`self::url`]), every
//! address its host resolves to public ([`address`]), and the fetch
//! bounded ([`fetch`]).
//! `cimd.allow_loopback` (tests only) admits loopback addresses and plain
//! http on loopback hosts.
//!
//! A document that cannot be used is an `invalid_client` [`OAuthError`]
//! whose description says why (it completes "the client metadata document
//! cannot be used: ..."); a database fault is the usual database error.

pub mod address;
pub mod fetch;
pub mod store;
pub mod url;

use std::sync::Arc;

use entity::client::Model;
use serde_json::Value;

pub use self::fetch::MAX_DOCUMENT_BYTES;
pub use self::url::{MAX_URL_LEN, display_host, is_document_id, parse_url};
use crate::AppState;
use crate::oauth::client::metadata;
use crate::oauth::client::model::{AuthMethod, ClientKind, ClientMetadata, ClientRecord};
use crate::oauth::client::store as clients;
use crate::oauth::error::OAuthError;
use crate::oauth::params::quote;
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
/// `token_endpoint_auth_method` `none` (the default here), and otherwise
/// valid as a registration.
pub fn validate_document(url: &str, body: &[u8]) -> Result<ClientMetadata, OAuthError> {
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
        Some(Value::String(m)) if m == AuthMethod::None.as_str() => {}
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
    metadata::validate(&obj).map_err(|e| unusable(format!("{}: {}", e.code, e.description)))
}

/// The client a document client id names: the stored one while its cache
/// entry is fresh, otherwise fetched, validated and stored again (for every
/// instance). A document that can no longer be fetched or validated makes
/// the client unusable until it can.
pub async fn client(state: &AppState, client_id: &str) -> Result<Model, OAuthError> {
    let cfg = &state.settings.cimd;
    let url = parse_url(client_id, cfg.allow_loopback)?;
    let db = &state.db;
    let now = crate::clock::now();
    let row = clients::find(db, client_id)
        .await
        .map_err(|e| OAuthError::db(e, "find document client"))?;
    if let Some(row) = row {
        // Never overwrite another kind of client (registered ids cannot
        // look like URLs, so this does not happen; make sure of it).
        if row.kind != ClientKind::MetadataDocument {
            return Err(unusable(
                "the client_id URL is the id of a client that is not a metadata document",
            ));
        }
        if store::is_fresh(db, client_id, now)
            .await
            .map_err(|e| OAuthError::db(e, "find metadata document"))?
        {
            return Ok(row);
        }
    }
    let fetched = fetch::fetch(&url, cfg).await?;
    let meta = validate_document(client_id, &fetched.body)?;
    let ttl = fetch::cache_secs(
        fetched.cache_control.as_deref(),
        cfg.min_cache_secs,
        cfg.max_cache_secs,
    );
    let document = String::from_utf8_lossy(&fetched.body).into_owned();
    let row = store::save(db, client_id, &meta, document, now, now + ttl as i64)
        .await
        .map_err(|e| OAuthError::db(e, "store document client"))?;
    state.client_cache.invalidate(client_id);
    tracing::info!(
        client_id,
        cache_secs = ttl,
        "client metadata document fetched"
    );
    Ok(row)
}

/// The record the token and revocation endpoints authenticate against.
pub async fn record(state: &AppState, client_id: &str) -> Result<Arc<ClientRecord>, OAuthError> {
    Ok(Arc::new(ClientRecord::from_model(
        &client(state, client_id).await?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;
    use serde_json::json;

    const URL: &str = "https://app.example/oauth/client.json";

    fn doc(v: Value) -> Result<ClientMetadata, OAuthError> {
        validate_document(URL, v.to_string().as_bytes())
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
                .starts_with(ErrorCode::InvalidRedirectUri.as_str())
        );
        assert!(err(with("redirect_uris", json!([]))).contains("redirect_uris is required"));
        assert!(err(with("grant_types", json!(["client_credentials"]))).contains("confidential"));
        assert!(err(with("application_type", json!("web"))).contains("application_type web"));
        for bad in [&b"[]"[..], b"nope", b""] {
            let e = validate_document(URL, bad).unwrap_err().description;
            assert!(e.starts_with("the document "), "{e}");
        }
    }
}
