//! The one error type of the OAuth endpoints (token, revocation,
//! introspection): an RFC 6749 §5.2 JSON body `{"error", "error_description"}`
//! with `Cache-Control: no-store` and `Pragma: no-cache`, and for a 401 after
//! an `Authorization` header a `WWW-Authenticate` challenge.
//!
//! Descriptions tell the client what to fix; they never contain a secret.

use poem::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use poem::http::{HeaderValue, StatusCode};
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};
use sea_orm::DbErr;

/// Every RFC error code this server sends: RFC 6749 §4.1.2.1 / §5.2, RFC 6750
/// §3.1, RFC 7591 §3.2.2, RFC 8707 §2, OpenID Connect Core §3.1.2.6. One enum
/// so no code is spelled twice and a typo cannot reach the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    UnsupportedTokenType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    /// RFC 8707 §2.
    InvalidTarget,
    /// RFC 6750 §3.1.
    InvalidToken,
    InsufficientScope,
    /// RFC 7591 §3.2.2.
    InvalidRedirectUri,
    InvalidClientMetadata,
    /// OpenID Connect Core §3.1.2.6 (answers to `prompt=none`).
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    /// RFC 8628 §3.5 (device access token polling).
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    /// RFC 9449 §5, §8.
    InvalidDpopProof,
    UseDpopNonce,
    /// Not an RFC code: the registration rate limit (sent with `429` and
    /// `Retry-After`).
    TooManyRequests,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::TooManyRequests => "too_many_requests",
        }
    }

    /// The HTTP status a JSON endpoint answers this code with (RFC 6749
    /// §5.2: 400, and 401 for `invalid_client`; RFC 6750 §3.1).
    pub const fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The challenge sent with `401 invalid_client` when the client tried HTTP
/// Basic (RFC 6749 §5.2).
pub const BASIC_CHALLENGE: &str = "Basic realm=\"skedcast\"";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    /// The RFC 6749 / 7009 / 7662 / 8707 `error` code.
    pub code: ErrorCode,
    pub description: String,
    /// `WWW-Authenticate` value, for 401 after an `Authorization` header.
    pub challenge: Option<&'static str>,
    /// `Retry-After` seconds (RFC 9110 §10.2.3), for a rate limit.
    pub retry_after: Option<u64>,
    /// `DPoP-Nonce` (RFC 9449 §8), with `use_dpop_nonce`.
    pub dpop_nonce: Option<String>,
}

/// RFC 6749 §5.2 error response (documentation shape).
#[derive(Object)]
#[oai(rename = "OAuthError")]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`,
    /// `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`,
    /// `invalid_target`, `invalid_dpop_proof`, `use_dpop_nonce` (with a
    /// `DPoP-Nonce` header), `too_many_requests`, `server_error` or
    /// `temporarily_unavailable`.
    pub error: String,
    /// What is wrong and what to change.
    pub error_description: String,
}

#[derive(serde::Serialize)]
struct Wire<'a> {
    error: ErrorCode,
    error_description: &'a str,
}

/// An `error_description` in the characters OAuth allows on the wire
/// (OAuth 2.1 §3.2.4, RFC 6749 §5.2, RFC 6750 §3: %x20-21 / %x23-5B /
/// %x5D-7E): double quotes become single quotes, a backslash a slash, `§`
/// the word "section", typographic punctuation its ASCII form, anything
/// else `?`.
pub fn wire_safe(description: &str) -> String {
    let mut out = String::with_capacity(description.len());
    for c in description.chars() {
        match c {
            '"' | '\u{201c}' | '\u{201d}' | '\u{2018}' | '\u{2019}' => out.push('\''),
            '\\' => out.push('/'),
            '\u{a7}' => out.push_str("section "),
            '\u{2026}' => out.push_str("..."),
            '\u{2013}' | '\u{2014}' | '\u{2212}' => out.push('-'),
            '\u{2192}' => out.push_str("->"),
            '\u{2229}' => out.push_str("intersect"),
            '\u{2264}' => out.push_str("<="),
            '\u{2265}' => out.push_str(">="),
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

impl OAuthError {
    /// `code` with its usual status ([`ErrorCode::status`]).
    pub fn of(code: ErrorCode, description: impl Into<String>) -> Self {
        Self::new(code.status(), code, description)
    }

    pub fn new(status: StatusCode, code: ErrorCode, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            code,
            description: wire_safe(&description.into()),
            challenge: None,
            retry_after: None,
            dpop_nonce: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            description,
        )
    }

    /// `401 invalid_client`; with a Basic challenge when `basic_tried`.
    pub fn invalid_client(description: impl Into<String>, basic_tried: bool) -> Self {
        OAuthError {
            challenge: basic_tried.then_some(BASIC_CHALLENGE),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidClient,
                description,
            )
        }
    }

    /// RFC 9449 §5: `400 invalid_dpop_proof` with a DPoP challenge.
    pub fn invalid_dpop_proof(description: impl Into<String>) -> Self {
        OAuthError {
            challenge: Some("DPoP error=\"invalid_dpop_proof\""),
            ..Self::of(ErrorCode::InvalidDpopProof, description)
        }
    }

    /// RFC 9449 §8: `400 use_dpop_nonce`, with the nonce to put in the
    /// next proof.
    pub fn use_dpop_nonce(nonce: String) -> Self {
        OAuthError {
            challenge: Some("DPoP error=\"use_dpop_nonce\""),
            dpop_nonce: Some(nonce),
            ..Self::of(
                ErrorCode::UseDpopNonce,
                "the DPoP proof must carry the nonce of the DPoP-Nonce header; make a new proof",
            )
        }
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidGrant,
            description,
        )
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::UnauthorizedClient,
            description,
        )
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::UnsupportedGrantType,
            description,
        )
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidScope,
            description,
        )
    }

    /// RFC 8707 §2: the requested resource is unknown or not allowed.
    pub fn invalid_target(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidTarget,
            description,
        )
    }

    /// An unexpected fault: logged with its cause, answered without it.
    pub fn server_error(cause: impl std::fmt::Display, during: &'static str) -> Self {
        tracing::error!(error = %cause, during, "oauth: server error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerError,
            "unexpected server error; retry later",
        )
    }

    /// A database fault: 503 when the database cannot take the request now
    /// (unreachable, read-only, full, locked: [`crate::db::is_unavailable`]),
    /// 500 otherwise. The cause is logged, never sent.
    pub fn db(e: DbErr, during: &'static str) -> Self {
        tracing::error!(error = %e, during, "oauth: database error");
        if crate::db::is_unavailable(&e) {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::TemporarilyUnavailable,
                "the database is unavailable; retry later",
            )
        } else {
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ServerError,
                "unexpected database error; retry later",
            )
        }
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&Wire {
            error: self.code,
            error_description: &self.description,
        })
        .unwrap_or_default()
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut resp = Response::builder()
            .status(self.status)
            .header(CONTENT_TYPE, "application/json")
            .header(CACHE_CONTROL, "no-store")
            .header(PRAGMA, "no-cache")
            .body(self.body());
        if let Some(challenge) = self.challenge {
            resp.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(v) = self
            .dpop_nonce
            .as_deref()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            resp.headers_mut()
                .insert(crate::oauth::dpop::NONCE_HEADER, v);
        }
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// A database fault on a JSON endpoint (see [`OAuthError::db`]); the
/// operation is logged as "database".
impl From<DbErr> for OAuthError {
    fn from(e: DbErr) -> Self {
        OAuthError::db(e, "database")
    }
}

impl From<OAuthError> for poem::Error {
    fn from(e: OAuthError) -> poem::Error {
        poem::Error::from_response(e.into_response())
    }
}

impl ApiResponse for OAuthError {
    fn meta() -> MetaResponses {
        let response = |status: u16, description: &'static str, challenge: bool| MetaResponse {
            description,
            status: Some(status),
            status_range: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: OAuthErrorBody::schema_ref(),
            }],
            headers: if challenge {
                vec![MetaHeader {
                    name: "WWW-Authenticate".into(),
                    description: Some(
                        "`Basic realm=\"skedcast\"` when HTTP Basic was tried".into(),
                    ),
                    required: false,
                    deprecated: false,
                    schema: String::schema_ref(),
                }]
            } else {
                Vec::new()
            },
        };
        MetaResponses {
            responses: vec![
                response(400, "The request is invalid (RFC 6749 §5.2 error).", false),
                response(
                    401,
                    "Client authentication failed (`invalid_client`).",
                    true,
                ),
                response(
                    413,
                    "The request body is too large (`invalid_request`).",
                    false,
                ),
                MetaResponse {
                    headers: vec![MetaHeader {
                        name: "Retry-After".into(),
                        description: Some("Seconds until the limit's window ends".into()),
                        required: true,
                        deprecated: false,
                        schema: u64::schema_ref(),
                    }],
                    ..response(
                        429,
                        "A `client_id` metadata document would have to be fetched, but too \
                         many were fetched for this address or the document's host this \
                         minute (`too_many_requests`).",
                        false,
                    )
                },
                response(500, "Unexpected server fault (`server_error`).", false),
                response(
                    503,
                    "The database is unavailable, read-only, full or locked \
                     (`temporarily_unavailable`).",
                    false,
                ),
            ],
        }
    }

    fn register(registry: &mut Registry) {
        OAuthErrorBody::register(registry);
    }
}

#[cfg(test)]
mod wire_tests {
    use super::wire_safe;

    #[test]
    fn descriptions_use_only_the_allowed_characters() {
        let d = wire_safe("scope \"x\" is not allowed (RFC 9700 \u{a7}4.14.2)\u{2026} \\ \u{e9}");
        assert_eq!(
            d,
            "scope 'x' is not allowed (RFC 9700 section 4.14.2)... / ?"
        );
        assert!(
            d.bytes()
                .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_and_headers() {
        let e = OAuthError::invalid_client("client authentication failed", true);
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": "invalid_client", "error_description": "client authentication failed"})
        );
        let resp = e.into_response();
        assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(resp.headers()[PRAGMA], "no-cache");
        assert_eq!(resp.headers()[WWW_AUTHENTICATE], BASIC_CHALLENGE);
        let resp = OAuthError::invalid_client("x", false).into_response();
        assert!(resp.headers().get(WWW_AUTHENTICATE).is_none());
        assert!(resp.headers().get(RETRY_AFTER).is_none());
    }

    #[test]
    fn rate_limit_says_when_to_retry() {
        let e = OAuthError {
            retry_after: Some(42),
            ..OAuthError::of(ErrorCode::TooManyRequests, "slow down")
        };
        let resp = e.into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()[RETRY_AFTER], "42");
    }

    #[test]
    fn database_faults() {
        let e = OAuthError::db(DbErr::Custom("boom".into()), "test");
        assert_eq!(
            (e.status, e.code),
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::ServerError)
        );
        assert!(!e.description.contains("boom"));
    }
}
