//! What the resource service answers, as pure functions: the RFC 9728
//! document, the `/v1/agency` body, and every refusal with its status and
//! `WWW-Authenticate` challenge (RFC 6750 §3, RFC 9728 §5.1).

use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use serde::Serialize;

use crate::oauth::error::ErrorCode;
use crate::verify::{AuthError, Challenge, Forbidden, Principal, dpop_challenge};

pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// RFC 9728 §3.1: the well-known segment goes between the host and the
/// resource's path. Returns (absolute URL, path to serve it at).
pub fn metadata_location(resource: &str) -> (String, String) {
    match url::Url::parse(resource) {
        Ok(u) => {
            let path = format!("{WELL_KNOWN}{}", u.path().trim_end_matches('/'));
            (format!("{}{path}", u.origin().ascii_serialization()), path)
        }
        Err(_) => (format!("{resource}{WELL_KNOWN}"), WELL_KNOWN.to_string()),
    }
}

/// RFC 9728 §2 protected resource metadata.
#[derive(Debug, Serialize)]
pub struct ProtectedResourceMetadata {
    pub resource: String,
    pub authorization_servers: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub bearer_methods_supported: Vec<String>,
    pub resource_name: String,
    /// RFC 9728 §2 / RFC 9449 §5.1: the DPoP proof algorithms accepted.
    pub dpop_signing_alg_values_supported: Vec<String>,
}

/// `scopes_supported` lists the permission scopes of the contract (not
/// `offline_access`, which asks the auth server for a refresh token and
/// grants nothing here).
pub fn protected_resource_metadata(resource: &str, issuer: &str) -> ProtectedResourceMetadata {
    ProtectedResourceMetadata {
        resource: resource.to_string(),
        authorization_servers: vec![issuer.to_string()],
        scopes_supported: crate::scopes::SCOPES
            .iter()
            .map(|(s, _)| s.to_string())
            .collect(),
        bearer_methods_supported: vec!["header".into()],
        resource_name: "SkedCast API".into(),
        dpop_signing_alg_values_supported: crate::verify::dpop::ALGS
            .into_iter()
            .map(str::to_string)
            .collect(),
    }
}

/// `GET /v1/agency`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct AgencyView<'a> {
    pub id: &'a str,
    pub role: Option<&'a str>,
    pub scopes: Vec<&'a str>,
    pub via: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
}

pub fn agency_view(p: &Principal) -> AgencyView<'_> {
    // Sorted, as they always were here (a credential's own order varies).
    let mut scopes: Vec<&str> = p.scopes.iter().collect();
    scopes.sort_unstable();
    AgencyView {
        id: p.agency_id.as_deref().unwrap_or(""),
        role: p.role.as_deref(),
        scopes,
        via: p.via.as_str(),
        client_id: p.client_id.as_deref(),
    }
}

/// Why a request gets no data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// 401: no credential sent.
    NoCredential,
    /// 400 `invalid_request` (token in the query, repeated header).
    BadRequest(&'static str),
    /// 401 `invalid_token`.
    InvalidToken(&'static str),
    /// 401 `invalid_dpop_proof` (RFC 9449 §7.1): the error is in the DPoP
    /// challenge.
    InvalidDpopProof(String),
    /// 403 `insufficient_scope`: the route's scope is missing, or the
    /// credential acts for no agency.
    Forbidden(Forbidden),
    /// 503 with `Retry-After`.
    Unavailable {
        retry_after_secs: u64,
        reason: &'static str,
    },
}

impl From<AuthError> for Denial {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::InvalidToken(d) => Denial::InvalidToken(d),
            AuthError::InvalidDpopProof(d) => Denial::InvalidDpopProof(d),
            AuthError::Unavailable {
                retry_after_secs,
                reason,
            } => Denial::Unavailable {
                retry_after_secs,
                reason,
            },
        }
    }
}

/// Status, `WWW-Authenticate` (if any), `error`, `error_description` of a
/// refusal of a route that needs `scope`: every challenge names that scope
/// (RFC 6750 §3; issue 14, item 4), so a client asks for what the route
/// needs, not for every scope in `scopes_supported`.
pub fn denial_parts<'a>(
    d: &'a Denial,
    scope: &str,
    metadata_url: &str,
) -> (StatusCode, Option<String>, Option<ErrorCode>, &'a str) {
    let challenge = |error: Option<ErrorCode>, desc: Option<&str>| {
        let error = error.map(|e| e.to_string());
        Challenge {
            resource_metadata: metadata_url,
            scope,
            error: error.as_deref(),
            error_description: desc,
        }
        .header_value()
    };
    match d {
        Denial::NoCredential => (
            StatusCode::UNAUTHORIZED,
            // RFC 6750 §3.1: no error code without a credential.
            Some(challenge(None, None)),
            None,
            "send an access token or API key as Authorization: Bearer <token>",
        ),
        Denial::BadRequest(desc) => {
            let code = ErrorCode::InvalidRequest;
            (
                StatusCode::BAD_REQUEST,
                Some(challenge(Some(code), Some(desc))),
                Some(code),
                desc,
            )
        }
        Denial::InvalidToken(desc) => {
            let code = ErrorCode::InvalidToken;
            (
                StatusCode::UNAUTHORIZED,
                Some(challenge(Some(code), Some(desc))),
                Some(code),
                desc,
            )
        }
        Denial::InvalidDpopProof(desc) => (
            StatusCode::UNAUTHORIZED,
            Some(challenge(None, None)),
            Some(ErrorCode::InvalidDpopProof),
            desc,
        ),
        Denial::Forbidden(why) => {
            let code = ErrorCode::InsufficientScope;
            let (desc, say) = match why {
                Forbidden::MissingScope => {
                    ("the credential lacks the scope this request needs", false)
                }
                Forbidden::NoAgency => (
                    "the credential acts for no agency (client_credentials tokens do not)",
                    true,
                ),
            };
            let challenge = challenge(Some(code), say.then_some(desc));
            (StatusCode::FORBIDDEN, Some(challenge), Some(code), desc)
        }
        Denial::Unavailable { reason, .. } => (
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            Some(ErrorCode::TemporarilyUnavailable),
            reason,
        ),
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorCode>,
    error_description: &'a str,
}

/// The response refusing a request to a route that needs `scope`.
pub fn denial_response(d: &Denial, scope: &str, metadata_url: &str) -> Response {
    let (status, challenge, error, description) = denial_parts(d, scope, metadata_url);
    let body = serde_json::to_vec(&ErrorBody {
        error,
        error_description: description,
    })
    .unwrap_or_default();
    let mut resp = json_response(status, body);
    if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        // RFC 9449 §7.1: the DPoP scheme beside Bearer, with the error
        // when the proof was at fault.
        let dpop = match d {
            Denial::InvalidDpopProof(desc) => {
                dpop_challenge(Some(ErrorCode::InvalidDpopProof.as_str()), Some(desc))
            }
            _ => dpop_challenge(None, None),
        };
        if let Ok(v) = HeaderValue::from_str(&dpop) {
            resp.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
    }
    if let Denial::Unavailable {
        retry_after_secs, ..
    } = d
    {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    resp
}

/// A JSON response that no cache keeps.
pub fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(body)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{Scopes, Via};

    const MD: &str = "http://api.example/.well-known/oauth-protected-resource";

    #[test]
    fn rfc9728_location() {
        assert_eq!(
            metadata_location("http://127.0.0.1:8081"),
            (
                "http://127.0.0.1:8081/.well-known/oauth-protected-resource".into(),
                WELL_KNOWN.into()
            )
        );
        assert_eq!(
            metadata_location("https://api.example/").0,
            format!("https://api.example{WELL_KNOWN}")
        );
        assert_eq!(
            metadata_location("https://example.com/api"),
            (
                "https://example.com/.well-known/oauth-protected-resource/api".into(),
                "/.well-known/oauth-protected-resource/api".into()
            )
        );
    }

    #[test]
    fn metadata_document() {
        let m = protected_resource_metadata("http://api", "http://auth");
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["resource"], "http://api");
        assert_eq!(
            v["authorization_servers"],
            serde_json::json!(["http://auth"])
        );
        assert_eq!(v["bearer_methods_supported"], serde_json::json!(["header"]));
        let scopes = v["scopes_supported"].as_array().unwrap();
        assert!(scopes.contains(&"agency:read".into()));
        assert!(!scopes.contains(&"offline_access".into()));
    }

    #[test]
    fn challenges() {
        let (s, c, e, _) = denial_parts(&Denial::NoCredential, "agency:read", MD);
        assert_eq!(s, 401);
        assert_eq!(
            c.unwrap(),
            format!("Bearer resource_metadata=\"{MD}\", scope=\"agency:read\"")
        );
        assert_eq!(e, None, "RFC 6750 §3.1: no error code without a credential");
        let (s, c, e, _) = denial_parts(
            &Denial::InvalidToken("the access token has expired"),
            "agency:read",
            MD,
        );
        assert_eq!(s, 401);
        assert_eq!(
            c.unwrap(),
            format!(
                "Bearer resource_metadata=\"{MD}\", scope=\"agency:read\", error=\"invalid_token\", \
                 error_description=\"the access token has expired\""
            )
        );
        assert_eq!(e, Some(ErrorCode::InvalidToken));
        let (s, c, _, _) = denial_parts(
            &Denial::Forbidden(Forbidden::MissingScope),
            "posts:read",
            MD,
        );
        assert_eq!(s, 403);
        assert_eq!(
            c.unwrap(),
            format!(
                "Bearer resource_metadata=\"{MD}\", scope=\"posts:read\", error=\"insufficient_scope\""
            )
        );
        let (s, c, _, _) = denial_parts(&Denial::BadRequest("x"), "agency:read", MD);
        assert_eq!(s, 400);
        assert!(c.unwrap().contains("error=\"invalid_request\""));
        let d = Denial::Unavailable {
            retry_after_secs: 5,
            reason: "r",
        };
        let resp = denial_response(&d, "agency:read", MD);
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "5");
        assert!(resp.headers().get("www-authenticate").is_none());
    }

    #[tokio::test]
    async fn error_bodies_name_the_rfc_code() {
        async fn body(d: Denial) -> serde_json::Value {
            let bytes = denial_response(&d, "agency:read", MD)
                .into_body()
                .into_vec()
                .await;
            serde_json::from_slice(&bytes.unwrap()).unwrap()
        }
        assert_eq!(
            body(Denial::Forbidden(Forbidden::MissingScope)).await,
            serde_json::json!({"error": "insufficient_scope",
                "error_description": "the credential lacks the scope this request needs"})
        );
        assert_eq!(
            body(Denial::NoCredential).await,
            serde_json::json!({"error_description":
                "send an access token or API key as Authorization: Bearer <token>"})
        );
    }

    #[test]
    fn agency_body() {
        let p = Principal {
            via: Via::OAuth,
            subject: "u".into(),
            client_id: Some("c".into()),
            agency_id: Some("a".into()),
            role: Some("viewer".into()),
            scopes: Scopes::parse("posts:read agency:read").unwrap(),
            expires_at: 0,
            jkt: None,
        };
        assert_eq!(
            serde_json::to_value(agency_view(&p)).unwrap(),
            serde_json::json!({"id":"a","role":"viewer","scopes":["agency:read","posts:read"],"via":"oauth","client_id":"c"})
        );
        let key = Principal {
            via: Via::ApiKey,
            client_id: None,
            ..p
        };
        let v = serde_json::to_value(agency_view(&key)).unwrap();
        assert_eq!(v["via"], "api_key");
        assert!(v.get("client_id").is_none());
    }
}
