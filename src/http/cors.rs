//! CORS for browser-based clients (MCP clients running in a web page), on
//! exactly the endpoints such a client calls: the metadata documents, the
//! JWKS, registration (RFC 7591/7592), token, revocation, pushed
//! authorization requests (RFC 9126), device authorization (RFC 8628) and
//! OpenID Connect UserInfo.
//!
//! - A preflight (`OPTIONS`) on one of them is answered here, `204`, with
//!   `Access-Control-Allow-Origin: *`, the endpoint's methods, the request
//!   headers a client sends (`Authorization`, `Content-Type`,
//!   `MCP-Protocol-Version`, `DPoP`) and a max-age.
//! - Every other response of those endpoints, errors included, carries
//!   `Access-Control-Allow-Origin: *` and exposes `WWW-Authenticate`,
//!   `Retry-After` and `DPoP-Nonce` (RFC 9449 §8). The answer never depends on `Origin` (no `Vary`).
//! - Never `Access-Control-Allow-Credentials`: these endpoints do not use
//!   cookies, and `*` with credentials is refused by browsers anyway.
//!
//! `/oauth/authorize`, `/oauth/introspect` (resource servers only) and the
//! HTML pages send no CORS headers: a page's answer must not be readable by
//! another origin.

use poem::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
};
use poem::http::{HeaderValue, Method, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};

/// Request headers a browser-based client may send.
pub const ALLOW_HEADERS: &str = "Authorization, Content-Type, MCP-Protocol-Version, DPoP";
/// Response headers a client may read besides the CORS-safelisted ones.
pub const EXPOSE_HEADERS: &str = "WWW-Authenticate, Retry-After, DPoP-Nonce";
/// Seconds a browser may cache a preflight answer.
pub const MAX_AGE_SECS: &str = "86400";

/// The methods `path` allows cross-origin, or `None`: no CORS there.
pub fn methods_for(path: &str) -> Option<&'static str> {
    match path {
        "/.well-known/oauth-authorization-server"
        | "/.well-known/openid-configuration"
        | "/.well-known/jwks.json" => Some("GET, OPTIONS"),
        "/oauth/register"
        | "/oauth/token"
        | "/oauth/revoke"
        | "/oauth/par"
        | "/oauth/device_authorization" => Some("POST, OPTIONS"),
        "/oauth/userinfo" => Some("GET, POST, OPTIONS"),
        _ => {
            let id = path.strip_prefix("/oauth/register/")?;
            (!id.is_empty() && !id.contains('/')).then_some("GET, PUT, DELETE, OPTIONS")
        }
    }
}

/// Wraps the whole app; only the paths of [`methods_for`] are touched.
pub async fn cors<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let Some(methods) = methods_for(req.uri().path()) else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    if req.method() == Method::OPTIONS {
        return Ok(Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header(ACCESS_CONTROL_ALLOW_ORIGIN, "*")
            .header(ACCESS_CONTROL_ALLOW_METHODS, methods)
            .header(ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS)
            .header(ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECS)
            .finish());
    }
    let mut resp = match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    let headers = resp.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_client_facing_endpoints() {
        for p in [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
            "/.well-known/jwks.json",
            "/oauth/register",
            "/oauth/register/abc",
            "/oauth/token",
            "/oauth/revoke",
        ] {
            assert!(methods_for(p).is_some(), "{p}");
        }
        for p in [
            "/oauth/authorize",
            "/oauth/introspect",
            "/login",
            "/logout",
            "/settings/developer",
            "/oauth/register/",
            "/oauth/register/a/b",
            "/oauth/token/",
            "/healthz",
            "/openapi.json",
            "/docs",
        ] {
            assert_eq!(methods_for(p), None, "{p}");
        }
        assert!(
            methods_for("/oauth/register/abc")
                .unwrap()
                .contains("DELETE")
        );
        assert!(!methods_for("/oauth/token").unwrap().contains("GET"));
    }
}
