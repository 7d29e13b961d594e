//! Clients and requests at the token, revocation and introspection
//! endpoints: registration over RFC 7591, client authentication (RFC 6749
//! §2.3.1), resource servers made with the CLI, and the checks every error
//! answer must pass (status, `error`, no-store, wire-safe description).

use base64::Engine;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use super::TestApp;

/// `resource.default` in config/default.toml.
pub const DEFAULT_RESOURCE: &str = "http://127.0.0.1:8081";

/// An initial access token (RFC 7591 §3) the operator handed out: with it,
/// registration may create machine (client_credentials) clients.
pub const INITIAL_ACCESS_TOKEN: &str = "operator-issued-initial-access-token-0123456789";

/// The setting that accepts [`INITIAL_ACCESS_TOKEN`] (the policy stays open).
pub const INITIAL_ACCESS_TOKEN_SETTING: (&str, &str) = (
    "SKEDCAST__REGISTRATION__INITIAL_ACCESS_TOKENS",
    INITIAL_ACCESS_TOKEN,
);

pub fn basic(id: &str, secret: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("Basic {}", b64.encode(format!("{id}:{secret}")))
}

/// Every byte percent-encoded: what RFC 6749 §2.3.1 allows a client to send.
pub fn encode_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

pub struct Client {
    pub id: String,
    pub secret: Option<String>,
    /// `None` for a machine client made with the CLI (not managed over RFC 7592).
    pub registration_token: Option<String>,
}

pub async fn register(app: &TestApp, body: Value) -> Client {
    register_with(app, body, None).await
}

/// Register over RFC 7591, sending `initial_access_token` if given.
pub async fn register_with(
    app: &TestApp,
    body: Value,
    initial_access_token: Option<&str>,
) -> Client {
    let mut req = app.client.post(app.url("/oauth/register")).json(&body);
    if let Some(t) = initial_access_token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED, "register {body}");
    let info: Value = resp.json().await.unwrap();
    Client {
        id: info["client_id"].as_str().unwrap().to_string(),
        secret: info["client_secret"].as_str().map(str::to_string),
        registration_token: info["registration_access_token"]
            .as_str()
            .map(str::to_string),
    }
}

/// A confidential client_credentials client, made by the operator with
/// `skedcast-auth client create` (open registration cannot make one: issue
/// 13 item 5).
pub async fn cc_client(app: &TestApp, method: &str, scope: &str) -> Client {
    let out = app.cli(&[
        "client",
        "create",
        "--name",
        "Reporting job",
        "--grant",
        "client_credentials",
        "--scopes",
        scope,
        "--auth-method",
        method,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "client_id and client_secret: {stdout:?}");
    Client {
        id: lines[0].to_string(),
        secret: Some(lines[1].to_string()),
        registration_token: None,
    }
}

/// A confidential client_credentials client registered over RFC 7591 with
/// [`INITIAL_ACCESS_TOKEN`] (the app must accept it:
/// [`INITIAL_ACCESS_TOKEN_SETTING`]), so it is managed over RFC 7592.
pub async fn managed_cc_client(app: &TestApp, method: &str, scope: &str) -> Client {
    register_with(
        app,
        json!({
            "client_name": "Reporting job",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": method,
            "scope": scope,
        }),
        Some(INITIAL_ACCESS_TOKEN),
    )
    .await
}

/// POST a form to `path` with an optional Authorization header.
pub async fn post_form(
    app: &TestApp,
    path: &str,
    authorization: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app.client.post(app.url(path)).form(form);
    if let Some(a) = authorization {
        req = req.header(AUTHORIZATION, a);
    }
    req.send().await.unwrap()
}

pub async fn token_basic(app: &TestApp, c: &Client, form: &[(&str, &str)]) -> reqwest::Response {
    let auth = basic(&c.id, c.secret.as_deref().unwrap());
    post_form(app, "/oauth/token", Some(&auth), form).await
}

/// A client_credentials access token of a client_secret_basic client.
pub async fn access_token(app: &TestApp, c: &Client, form: &[(&str, &str)]) -> String {
    let mut form = form.to_vec();
    form.push(("grant_type", "client_credentials"));
    let resp = token_basic(app, c, &form).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

pub fn assert_no_store(resp: &reqwest::Response) {
    let h = |name| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        h(CACHE_CONTROL).as_deref(),
        Some("no-store"),
        "{}",
        resp.url()
    );
    assert_eq!(h(PRAGMA).as_deref(), Some("no-cache"), "{}", resp.url());
}

/// Check status, `error`, JSON and no-store; returns the description.
pub async fn expect_error(resp: reqwest::Response, status: StatusCode, error: &str) -> String {
    assert_eq!(resp.status(), status, "{} ({error})", resp.url());
    assert_no_store(&resp);
    let ct = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("application/json"), "content type {ct:?}");
    let body: Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["error"], error, "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(!description.is_empty(), "{body}");
    // OAuth 2.1 §3.2.4: %x20-21 / %x23-5B / %x5D-7E only (the wire characters).
    assert!(
        description
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\'),
        "{body}"
    );
    description.to_string()
}

pub fn challenge(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `skedcast-auth resource-server create`; returns (client_id, secret).
pub fn create_resource_server(app: &TestApp, name: &str, resource: &str) -> (String, String) {
    create_resource_server_in(&app.db.url, name, resource)
}

/// [`create_resource_server`] on the database at `db_url` (an auth server
/// that is not a [`TestApp`]).
pub fn create_resource_server_in(db_url: &str, name: &str, resource: &str) -> (String, String) {
    let out = super::cli(
        db_url,
        &[
            "resource-server",
            "create",
            "--name",
            name,
            "--resource",
            resource,
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "client_id and client_secret: {stdout:?}");
    (lines[0].to_string(), lines[1].to_string())
}

pub async fn introspect(app: &TestApp, rs: &(String, String), token: &str) -> Value {
    let resp = post_form(
        app,
        "/oauth/introspect",
        Some(&basic(&rs.0, &rs.1)),
        &[("token", token)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_no_store(&resp);
    resp.json().await.unwrap()
}

pub fn inactive() -> Value {
    json!({"active": false})
}
