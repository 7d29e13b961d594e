//! CORS for browser-based clients: preflights answered and
//! `Access-Control-Allow-Origin: *` (never with credentials) on the metadata
//! documents, JWKS, registration, token and revocation, errors included;
//! nothing on the authorization endpoint, introspection or the HTML pages.

use crate::support::browser::*;
use crate::support::*;
use reqwest::{Method, Response};
use serde_json::json;

const ORIGIN: &str = "https://agent.example";

async fn preflight(app: &TestApp, path: &str, method: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", ORIGIN)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .send()
        .await
        .unwrap()
}

fn header<'a>(resp: &'a Response, name: &str) -> Option<&'a str> {
    resp.headers().get(name).map(|v| v.to_str().unwrap())
}

fn assert_cors(resp: &Response, what: &str) {
    assert_eq!(
        header(resp, "access-control-allow-origin"),
        Some("*"),
        "{what}"
    );
    assert_eq!(
        header(resp, "access-control-allow-credentials"),
        None,
        "{what}"
    );
}

fn assert_no_cors(resp: &Response, what: &str) {
    for h in [
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
    ] {
        assert_eq!(header(resp, h), None, "{what}: {h}");
    }
}

#[tokio::test]
async fn preflights_are_answered_on_the_client_facing_endpoints() {
    let app = spawn_app().await;
    for (path, method) in [
        ("/.well-known/oauth-authorization-server", "GET"),
        ("/.well-known/openid-configuration", "GET"),
        ("/.well-known/jwks.json", "GET"),
        ("/oauth/register", "POST"),
        ("/oauth/register/some-client", "GET"),
        ("/oauth/register/some-client", "PUT"),
        ("/oauth/register/some-client", "DELETE"),
        ("/oauth/token", "POST"),
        ("/oauth/revoke", "POST"),
    ] {
        let what = format!("OPTIONS {path} ({method})");
        let resp = preflight(&app, path, method).await;
        assert_eq!(resp.status(), 204, "{what}");
        assert_cors(&resp, &what);
        let methods = header(&resp, "access-control-allow-methods").unwrap();
        assert!(
            methods.split(", ").any(|m| m == method),
            "{what}: {methods}"
        );
        let allowed = header(&resp, "access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        for h in ["authorization", "content-type", "mcp-protocol-version"] {
            assert!(allowed.split(", ").any(|a| a == h), "{what}: {allowed}");
        }
        let max_age: u64 = header(&resp, "access-control-max-age")
            .unwrap()
            .parse()
            .unwrap();
        assert!(max_age > 0, "{what}");
    }
}

#[tokio::test]
async fn responses_and_errors_carry_the_origin_wildcard() {
    let app = spawn_app().await;
    let get = |path: &'static str| {
        app.client
            .get(app.url(path))
            .header("Origin", ORIGIN)
            .send()
    };
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
    ] {
        let resp = get(path).await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_cors(&resp, path);
    }

    // Registration: success, and errors (415, 400).
    let post = |path: &str| {
        app.client
            .post(app.url(path))
            .header("Origin", ORIGIN)
            .header("MCP-Protocol-Version", "2025-11-25")
    };
    let resp = post("/oauth/register")
        .json(&json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_cors(&resp, "register");
    let client: serde_json::Value = resp.json().await.unwrap();
    let client_id = client["client_id"].as_str().unwrap();
    let resp = post("/oauth/register").body("x").send().await.unwrap();
    assert_eq!(resp.status(), 415);
    assert_cors(&resp, "register 415");
    let resp = post("/oauth/register")
        .json(&json!({"redirect_uris": ["http://evil.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_cors(&resp, "register 400");

    // Management: a 401 whose challenge the page may read.
    let resp = app
        .client
        .get(app.url(&format!("/oauth/register/{client_id}")))
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_cors(&resp, "register/{id} 401");
    assert!(
        header(&resp, "access-control-expose-headers")
            .unwrap()
            .contains("WWW-Authenticate")
    );
    let resp = app
        .client
        .get(app.url(&format!("/oauth/register/{client_id}")))
        .header("Origin", ORIGIN)
        .bearer_auth(client["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_cors(&resp, "register/{id} 200");

    // Token and revocation errors.
    let resp = post("/oauth/token")
        .form(&[("grant_type", "password"), ("client_id", client_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_cors(&resp, "token 400");
    let resp = post("/oauth/token")
        .form(&[("grant_type", "authorization_code"), ("client_id", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_cors(&resp, "token 401");
    let resp = post("/oauth/revoke")
        .form(&[("client_id", client_id), ("token", "whatever")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_cors(&resp, "revoke 200");
    let resp = post("/oauth/revoke")
        .form(&[("token", "whatever")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_cors(&resp, "revoke 401");
}

#[tokio::test]
async fn no_cors_on_authorize_introspection_and_pages() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let client = public_client(&app, json!({})).await;
    let client_id = client["client_id"].as_str().unwrap();

    let authorize = authorize_url(client_id, &[]);
    for path in [
        authorize.as_str(),
        "/oauth/authorize?client_id=unknown",
        "/login",
        "/settings/developer",
        "/healthz",
    ] {
        let resp = app
            .client
            .get(app.url(path))
            .header("Origin", ORIGIN)
            .send()
            .await
            .unwrap();
        assert_no_cors(&resp, path);
        let resp = preflight(&app, path, "GET").await;
        assert_ne!(resp.status(), 204, "OPTIONS {path}");
        assert_no_cors(&resp, &format!("OPTIONS {path}"));
    }
    // A signed-in member's consent page.
    let mut b = Browser::new(&app);
    b.sign_in("ann@example.com", PASSWORD, None).await;
    let resp = b.get(&authorize).await;
    assert_eq!(resp.status(), 200);
    assert_no_cors(&resp, "consent page");

    let resp = app
        .client
        .post(app.url("/oauth/introspect"))
        .header("Origin", ORIGIN)
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_no_cors(&resp, "introspect");
    let resp = preflight(&app, "/oauth/introspect", "POST").await;
    assert_no_cors(&resp, "OPTIONS /oauth/introspect");
}
