//! Dynamic Client Registration over real HTTP: RFC 7591 registration,
//! RFC 7592 management, abuse controls. Every rejected request is checked
//! for its exact status and `error`, and for having stored nothing.

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use skedcast_auth::crypto::sha256_hex;
use skedcast_auth::oauth::client::model;
use skedcast_auth::oauth::client::store as clients;

const UNLIMITED: (&str, &str) = ("SKEDCAST__REGISTRATION__RATE_LIMIT_PER_MINUTE", "0");

/// The app with the rate limit off, for tests that send many requests.
async fn spawn_unlimited() -> TestApp {
    spawn_app_with(Arc::new(fresh_db().await), &[UNLIMITED]).await
}

fn mcp_client() -> Value {
    json!({
        "client_name": "Agent CLI",
        "redirect_uris": ["http://127.0.0.1:33418/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "agency:read posts:read offline_access",
    })
}

async fn post(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/oauth/register"))
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn post_raw(app: &TestApp, content_type: Option<&str>, body: Vec<u8>) -> reqwest::Response {
    let mut req = app.client.post(app.url("/oauth/register")).body(body);
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    req.send().await.expect("request")
}

/// Register, expecting success; returns the client information.
async fn register_ok(app: &TestApp, body: &Value) -> Value {
    let resp = post(app, body).await;
    assert_eq!(resp.status(), StatusCode::CREATED, "register {body}");
    assert_no_store(&resp);
    resp.json().await.expect("json")
}

async fn manage(
    app: &TestApp,
    method: reqwest::Method,
    client_id: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, app.url(&format!("/oauth/register/{client_id}")));
    if let Some(t) = token {
        req = req.header(AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.expect("request")
}

fn assert_no_store(resp: &reqwest::Response) {
    assert_eq!(
        resp.headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "Cache-Control on {} {}",
        resp.status(),
        resp.url()
    );
}

/// Check status, `error` and no-store; returns the description.
async fn expect_error(resp: reqwest::Response, status: StatusCode, error: &str) -> String {
    assert_eq!(resp.status(), status, "{}", resp.url());
    assert_no_store(&resp);
    let ct = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(ct.starts_with("application/json"), "content type {ct:?}");
    let body: Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["error"], error, "{body}");
    // OAuth 2.1 §3.2.4: %x20-21 / %x23-5B / %x5D-7E only (the wire characters).
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\'),
        "{body}"
    );
    body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn stored(app: &TestApp, client_id: &str) -> Option<entity::client::Model> {
    clients::find(&app.state.db, client_id).await.expect("find")
}

#[tokio::test]
async fn registers_a_public_client_and_echoes_what_it_stored() {
    let app = spawn_app().await;
    let mut body = mcp_client();
    body["software_statement"] = json!("eyJ...");
    body["jwks_uri"] = json!("https://agent.example/jwks.json");
    body["client_name#fr"] = json!("Agent");
    let before = skedcast_auth::clock::now();
    let info = register_ok(&app, &body).await;

    let id = info["client_id"].as_str().unwrap();
    assert!(id.len() >= 22, "client_id {id}");
    assert!(
        info.get("client_secret").is_none(),
        "public clients get no secret"
    );
    assert!(info.get("client_secret_expires_at").is_none());
    let issued = info["client_id_issued_at"].as_i64().unwrap();
    assert!(issued >= before && issued <= skedcast_auth::clock::now());
    let rat = info["registration_access_token"].as_str().unwrap();
    assert!(rat.len() >= 43, "256-bit registration access token");
    assert_eq!(
        info["registration_client_uri"],
        app.url(&format!("/oauth/register/{id}"))
    );
    assert_eq!(
        info["redirect_uris"],
        json!(["http://127.0.0.1:33418/callback"])
    );
    assert_eq!(
        info["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(info["response_types"], json!(["code"]));
    assert_eq!(info["token_endpoint_auth_method"], "none");
    assert_eq!(info["scope"], "agency:read posts:read offline_access");
    assert_eq!(info["client_name"], "Agent CLI");
    // Unknown fields are neither echoed nor stored.
    for k in ["software_statement", "jwks_uri", "client_name#fr"] {
        assert!(info.get(k).is_none(), "{k} echoed");
    }

    let row = stored(&app, id).await.expect("stored");
    assert_eq!(row.kind.as_str(), "dynamic");
    assert_eq!(row.client_secret_hash, None);
    assert_eq!(
        row.registration_token_hash.as_deref(),
        Some(sha256_hex(rat).as_str())
    );
    assert_eq!(row.first_authorized_at, None);
    let row_text = format!("{row:?}");
    assert!(!row_text.contains(rat), "token stored in clear");
    for k in ["eyJ", "jwks.json", "Agent\""] {
        assert!(!row_text.contains(k), "{k} stored: {row_text}");
    }
}

#[tokio::test]
async fn registers_a_confidential_client_with_the_rfc_defaults() {
    let app = spawn_app().await;
    let info = register_ok(&app, &json!({"redirect_uris": ["https://app.example/cb"]})).await;
    assert_eq!(info["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(info["grant_types"], json!(["authorization_code"]));
    assert_eq!(info["response_types"], json!(["code"]));
    assert!(info.get("scope").is_none());
    let secret = info["client_secret"].as_str().unwrap();
    // 32 random bytes, base64url: 43 characters.
    assert!(secret.len() >= 43, "secret {secret}");
    assert_eq!(info["client_secret_expires_at"], 0);
    let row = stored(&app, info["client_id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        row.client_secret_hash.as_deref(),
        Some(sha256_hex(secret).as_str())
    );
    assert!(!format!("{row:?}").contains(secret));

    // A second registration gets different credentials.
    let again = register_ok(&app, &json!({"redirect_uris": ["https://app.example/cb"]})).await;
    assert_ne!(again["client_id"], info["client_id"]);
    assert_ne!(again["client_secret"], info["client_secret"]);
}

/// Issue 13 item 5: open registration (no initial access token) cannot
/// register the client_credentials grant, which would let anyone mint
/// tokens with any scope; nor can an RFC 7592 update add it to an
/// open-registered client. Refused requests store and change nothing. With
/// an initial access token the operator handed out, a machine client is
/// registered (no redirect URIs) and keeps its grant through updates.
#[tokio::test]
async fn open_registration_cannot_register_client_credentials() {
    let app = spawn_app_with(
        Arc::new(fresh_db().await),
        &[UNLIMITED, token::INITIAL_ACCESS_TOKEN_SETTING],
    )
    .await;
    let machine = json!({
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_post",
        "scope": "billing:write members:write agency:read",
    });
    let mixed = json!({
        "redirect_uris": ["https://app.example/cb"],
        "grant_types": ["authorization_code", "client_credentials"],
        "scope": "agency:read",
    });
    // No bearer, and a wrong one (the open policy ignores it): open.
    for (body, bearer) in [
        (&machine, None),
        (&machine, Some("not-the-initial-access-token-0123456789")),
        (&mixed, None),
    ] {
        let mut req = app.client.post(app.url("/oauth/register")).json(body);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let desc = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
        assert!(
            desc.contains("client_credentials")
                && desc.contains("skedcast-auth client create")
                && desc.contains("initial access token"),
            "{desc}"
        );
    }
    assert_eq!(client_count(&app).await, 0);

    // An update of an open-registered client cannot add the grant.
    let info = register_ok(
        &app,
        &json!({"redirect_uris": ["https://app.example/cb"], "scope": "agency:read"}),
    )
    .await;
    let id = info["client_id"].as_str().unwrap();
    let reg_token = info["registration_access_token"].as_str().unwrap();
    let before = stored(&app, id).await.unwrap();
    let only = json!({
        "client_id": id,
        "grant_types": ["client_credentials"],
        "scope": "billing:write members:write",
    });
    let added = json!({
        "client_id": id,
        "redirect_uris": ["https://app.example/cb"],
        "grant_types": ["authorization_code", "client_credentials"],
        "scope": "agency:read",
    });
    for update in [only, added] {
        let resp = manage(
            &app,
            reqwest::Method::PUT,
            id,
            Some(reg_token),
            Some(&update),
        )
        .await;
        let desc = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
        assert!(
            desc.contains("skedcast-auth client create"),
            "{update}: {desc}"
        );
    }
    assert_eq!(stored(&app, id).await.unwrap(), before, "nothing changed");

    // With an initial access token: a machine client, without redirect URIs.
    let resp = app
        .client
        .post(app.url("/oauth/register"))
        .bearer_auth(token::INITIAL_ACCESS_TOKEN)
        .json(&machine)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["grant_types"], json!(["client_credentials"]));
    assert_eq!(info["response_types"], json!([]));
    assert_eq!(info["redirect_uris"], json!([]));
    assert!(info["client_secret"].is_string());
    // It keeps the grant through an update (here narrowing its scope).
    let id = info["client_id"].as_str().unwrap();
    let update = json!({
        "client_id": id,
        "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_post",
        "scope": "agency:read",
    });
    let reg_token = info["registration_access_token"].as_str().unwrap();
    let resp = manage(
        &app,
        reqwest::Method::PUT,
        id,
        Some(reg_token),
        Some(&update),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["grant_types"], json!(["client_credentials"]));
    assert_eq!(updated["scope"], "agency:read");
}

#[tokio::test]
async fn each_metadata_rule_rejects_and_stores_nothing() {
    let app = spawn_unlimited().await;
    let cb = || json!(["https://app.example/cb"]);
    let with = |k: &str, v: Value| {
        let mut b = json!({"redirect_uris": ["https://app.example/cb"]});
        b[k] = v;
        b
    };
    let eleven: Vec<String> = (0..11)
        .map(|i| format!("https://app.example/{i}"))
        .collect();
    let cases: Vec<(Value, &str, &str)> = vec![
        // redirect_uris
        (
            json!({}),
            "invalid_redirect_uri",
            "redirect_uris is required",
        ),
        (
            json!({"redirect_uris": []}),
            "invalid_redirect_uri",
            "redirect_uris is required",
        ),
        (
            json!({"redirect_uris": "https://app.example/cb"}),
            "invalid_redirect_uri",
            "array of strings",
        ),
        (
            json!({"redirect_uris": ["http://app.example/cb"]}),
            "invalid_redirect_uri",
            "\"http://app.example/cb\"",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
            "\"javascript:alert(1)\"",
        ),
        (
            json!({"redirect_uris": ["data:text/html,x"]}),
            "invalid_redirect_uri",
            "forbidden scheme",
        ),
        (
            json!({"redirect_uris": ["file:///etc/passwd"]}),
            "invalid_redirect_uri",
            "forbidden scheme",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb#top"]}),
            "invalid_redirect_uri",
            "fragment",
        ),
        (
            json!({"redirect_uris": ["/cb"]}),
            "invalid_redirect_uri",
            "absolute",
        ),
        (
            json!({"redirect_uris": ["myapp:/cb"]}),
            "invalid_redirect_uri",
            "reverse-domain",
        ),
        (
            json!({"redirect_uris": ["https://u:p@app.example/cb"]}),
            "invalid_redirect_uri",
            "user information",
        ),
        (
            json!({"redirect_uris": eleven}),
            "invalid_redirect_uri",
            "at most 10",
        ),
        // grant_types / response_types / auth method
        (
            with("grant_types", json!(["password"])),
            "invalid_client_metadata",
            "grant_types: \"password\"",
        ),
        (
            with("grant_types", json!([])),
            "invalid_client_metadata",
            "grant_types must not be empty",
        ),
        (
            with("response_types", json!(["token"])),
            "invalid_client_metadata",
            "response_types: \"token\"",
        ),
        (
            with("response_types", json!([])),
            "invalid_client_metadata",
            "RFC 7591 §2.1",
        ),
        (
            json!({"grant_types": ["client_credentials"], "response_types": ["code"], "redirect_uris": cb()}),
            "invalid_client_metadata",
            "RFC 7591 §2.1",
        ),
        (
            json!({"grant_types": ["refresh_token"]}),
            "invalid_client_metadata",
            "refresh_token requires authorization_code",
        ),
        (
            with("token_endpoint_auth_method", json!("client_secret_jwt")),
            "invalid_client_metadata",
            "token_endpoint_auth_method: \"client_secret_jwt\"",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            "invalid_client_metadata",
            "client_credentials requires a confidential client",
        ),
        // scope
        (
            with("scope", json!("posts:read admin")),
            "invalid_client_metadata",
            "scope: \"admin\"",
        ),
        (
            with("scope", json!(42)),
            "invalid_client_metadata",
            "scope must be a string",
        ),
        // human-facing metadata
        (
            with("logo_uri", json!("http://cdn.example/logo.png")),
            "invalid_client_metadata",
            "logo_uri: ",
        ),
        (
            with("client_uri", json!("javascript:alert(1)")),
            "invalid_client_metadata",
            "client_uri: ",
        ),
        (
            with("tos_uri", json!("not a url")),
            "invalid_client_metadata",
            "tos_uri: ",
        ),
        (
            with("policy_uri", json!("https://bank.example@evil.example/")),
            "invalid_client_metadata",
            "policy_uri: ",
        ),
        (
            with("client_name", json!("n".repeat(201))),
            "invalid_client_metadata",
            "client_name is longer than 200",
        ),
        (
            with("client_name", json!(7)),
            "invalid_client_metadata",
            "client_name must be a string",
        ),
        (
            with("contacts", json!(vec!["ops@app.example"; 11])),
            "invalid_client_metadata",
            "contacts has 11 entries",
        ),
        (
            with("software_version", json!("v".repeat(201))),
            "invalid_client_metadata",
            "software_version",
        ),
        // the body itself
        (json!([]), "invalid_client_metadata", "JSON object"),
        (
            json!("register me"),
            "invalid_client_metadata",
            "JSON object",
        ),
    ];
    for (body, error, needle) in cases {
        let desc = expect_error(post(&app, &body).await, StatusCode::BAD_REQUEST, error).await;
        // Descriptions go out in OAuth's wire characters (quotes become ').
        let needle = skedcast_auth::oauth::error::wire_safe(needle);
        assert!(desc.contains(&needle), "{body}: {desc:?} lacks {needle:?}");
    }
    for raw in [&b"{"[..], b"", b"{\"redirect_uris\": [}", b"\xff"] {
        let resp = post_raw(&app, Some("application/json"), raw.to_vec()).await;
        let desc = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
        assert!(desc.contains("JSON"), "{desc}");
    }
    assert_eq!(
        client_count(&app).await,
        0,
        "a rejected registration stored a client"
    );
}

#[tokio::test]
async fn only_json_is_accepted() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&mcp_client()).unwrap();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let resp = post_raw(&app, ct, body.clone()).await;
        expect_error(
            resp,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_client_metadata",
        )
        .await;
    }
    // Parameters and +json are fine.
    let resp = post_raw(&app, Some("application/json; charset=utf-8"), body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(client_count(&app).await, 1);
}

#[tokio::test]
async fn the_body_is_capped_at_64_kib() {
    let app = spawn_unlimited().await;
    let limit = skedcast_auth::oauth::client::metadata::MAX_BODY_BYTES;
    // Pad an ignored field so the JSON is exactly `len` bytes long.
    let sized = |len: usize| {
        let base =
            serde_json::to_vec(&json!({"redirect_uris": ["https://app.example/cb"], "pad": ""}))
                .unwrap();
        let pad = "x".repeat(len - base.len());
        let v =
            serde_json::to_vec(&json!({"redirect_uris": ["https://app.example/cb"], "pad": pad}))
                .unwrap();
        assert_eq!(v.len(), len);
        v
    };
    let resp = post_raw(&app, Some("application/json"), sized(limit + 1)).await;
    let desc = expect_error(
        resp,
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_client_metadata",
    )
    .await;
    assert!(desc.contains("65536"), "{desc}");
    assert_eq!(client_count(&app).await, 0);

    // Without Content-Length (chunked), the read itself stops at the cap.
    let status = chunked_post(&app, &sized(limit + 4096)).await;
    assert_eq!(status, 413);
    assert_eq!(client_count(&app).await, 0);

    // Exactly at the cap is accepted.
    let resp = post_raw(&app, Some("application/json"), sized(limit)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

/// POST a chunked body over a raw socket; returns the status code.
async fn chunked_post(app: &TestApp, body: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = "POST /oauth/register HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    sock.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(4096) {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        // The server may answer and stop reading before the end.
        if sock.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = sock.write_all(b"0\r\n\r\n").await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn rfc7592_lifecycle_end_to_end() {
    let app = spawn_app().await;
    let info = register_ok(
        &app,
        &json!({
            "redirect_uris": ["https://app.example/cb"],
            "client_name": "Scheduler",
            "logo_uri": "https://app.example/logo.png",
            "contacts": ["ops@app.example"],
            "scope": "posts:read",
        }),
    )
    .await;
    let id = info["client_id"].as_str().unwrap();
    let secret = info["client_secret"].as_str().unwrap();
    let token = info["registration_access_token"].as_str().unwrap();
    let uri = info["registration_client_uri"].as_str().unwrap();
    assert_eq!(uri, app.url(&format!("/oauth/register/{id}")));

    // Read: the stored metadata; the client secret is not echoed (only its
    // hash is kept); the registration access token, required in the
    // response (RFC 7592 §3), is a new one: the read rotated it.
    let resp = app.client.get(uri).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_no_store(&resp);
    let read: Value = resp.json().await.unwrap();
    for k in [
        "client_id",
        "client_id_issued_at",
        "registration_client_uri",
        "redirect_uris",
        "grant_types",
        "response_types",
        "token_endpoint_auth_method",
        "scope",
        "client_name",
        "logo_uri",
        "contacts",
        "client_secret_expires_at",
    ] {
        assert_eq!(read[k], info[k], "{k}");
    }
    assert!(read.get("client_secret").is_none());
    let read_token = read["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(read_token, token);
    let resp = manage(&app, reqwest::Method::GET, id, Some(token), None).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let token = read_token.as_str();

    // Update: wholesale replacement; omitted fields are removed; the
    // registration access token rotates.
    let update = json!({
        "client_id": id,
        "client_secret": secret,
        "redirect_uris": ["https://app.example/cb2", "com.example.app:/cb"],
        "client_name": "Scheduler 2",
        "grant_types": ["authorization_code", "refresh_token"],
        // Echoed read-only fields are ignored.
        "client_id_issued_at": 1,
        "registration_client_uri": "https://elsewhere.example/",
    });
    let resp = manage(&app, reqwest::Method::PUT, id, Some(token), Some(&update)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_no_store(&resp);
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["client_id"], id);
    assert_eq!(updated["client_name"], "Scheduler 2");
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://app.example/cb2", "com.example.app:/cb"])
    );
    assert_eq!(
        updated["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(updated["client_id_issued_at"], info["client_id_issued_at"]);
    assert_eq!(updated["registration_client_uri"], uri);
    for gone in ["logo_uri", "contacts", "scope", "client_secret"] {
        assert!(
            updated.get(gone).is_none(),
            "{gone} should be gone: {updated}"
        );
    }
    assert_eq!(updated["client_secret_expires_at"], 0);
    let new_token = updated["registration_access_token"].as_str().unwrap();
    assert_ne!(new_token, token);
    // The secret is unchanged.
    let row = stored(&app, id).await.unwrap();
    assert_eq!(
        row.client_secret_hash.as_deref(),
        Some(sha256_hex(secret).as_str())
    );

    // The old token no longer works; the new one does.
    let resp = manage(&app, reqwest::Method::GET, id, Some(token), None).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let read: Value = manage(&app, reqwest::Method::GET, id, Some(new_token), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["client_name"], "Scheduler 2");
    let new_token = read["registration_access_token"].as_str().unwrap();

    // Delete, then the client is gone and its token is useless.
    let resp = manage(&app, reqwest::Method::DELETE, id, Some(new_token), None).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_no_store(&resp);
    assert!(stored(&app, id).await.is_none());
    let resp = manage(&app, reqwest::Method::GET, id, Some(new_token), None).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let resp = manage(&app, reqwest::Method::DELETE, id, Some(new_token), None).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_eq!(client_count(&app).await, 0);
}

#[tokio::test]
async fn management_needs_the_clients_own_token() {
    let app = spawn_app().await;
    let a = register_ok(&app, &mcp_client()).await;
    let b = register_ok(&app, &mcp_client()).await;
    let a_id = a["client_id"].as_str().unwrap();
    let b_token = b["registration_access_token"].as_str().unwrap();
    let update = json!({"client_id": a_id, "redirect_uris": ["https://evil.example/cb"], "token_endpoint_auth_method": "none"});

    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let body = (method == reqwest::Method::PUT).then_some(&update);
        // (client, token, expected challenge)
        let cases = [
            (a_id, None, "Bearer"),
            (a_id, Some(b_token), "Bearer error=\"invalid_token\""),
            (
                a_id,
                Some("not-the-token"),
                "Bearer error=\"invalid_token\"",
            ),
            ("no-such-client", None, "Bearer"),
            (
                "no-such-client",
                Some(b_token),
                "Bearer error=\"invalid_token\"",
            ),
        ];
        for (id, token, challenge) in cases {
            let resp = manage(&app, method.clone(), id, token, body).await;
            assert_eq!(
                resp.headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok()),
                Some(challenge),
                "{method} {id} {token:?}"
            );
            expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
        }
        // A Basic header is not a bearer token.
        let resp = app
            .client
            .request(method.clone(), app.url(&format!("/oauth/register/{a_id}")))
            .basic_auth(a_id, Some("x"))
            .send()
            .await
            .unwrap();
        expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // Nothing changed.
    let row = stored(&app, a_id).await.expect("a still exists");
    assert_eq!(
        model::list(&row.redirect_uris),
        vec!["http://127.0.0.1:33418/callback"]
    );
    assert_eq!(client_count(&app).await, 2);
}

#[tokio::test]
async fn update_rules_reject_and_change_nothing() {
    let app = spawn_unlimited().await;
    let info = register_ok(
        &app,
        &json!({"redirect_uris": ["https://app.example/cb"], "client_name": "Before"}),
    )
    .await;
    let id = info["client_id"].as_str().unwrap();
    let token = info["registration_access_token"].as_str().unwrap();
    let before = stored(&app, id).await.unwrap();

    let put = |body: Value| {
        let app = &app;
        async move { manage(app, reqwest::Method::PUT, id, Some(token), Some(&body)).await }
    };
    let good = || json!({"client_id": id, "redirect_uris": ["https://app.example/cb"], "client_name": "After"});
    let with = |k: &str, v: Value| {
        let mut b = good();
        b[k] = v;
        b
    };
    let mut no_id = good();
    no_id.as_object_mut().unwrap().remove("client_id");
    let cases = [
        (no_id, "invalid_client_metadata", "client_id is required"),
        (
            with("client_id", json!("someone-else")),
            "invalid_client_metadata",
            "client_id does not match",
        ),
        (
            with("client_secret", json!("chosen-by-the-client")),
            "invalid_client_metadata",
            "client_secret does not match",
        ),
        (
            with("redirect_uris", json!(["http://evil.example/cb"])),
            "invalid_redirect_uri",
            "\"http://evil.example/cb\"",
        ),
        (
            with("scope", json!("root")),
            "invalid_client_metadata",
            "scope: \"root\"",
        ),
        (
            with("grant_types", json!(["implicit"])),
            "invalid_client_metadata",
            "grant_types",
        ),
    ];
    for (body, error, needle) in cases {
        let desc = expect_error(put(body.clone()).await, StatusCode::BAD_REQUEST, error).await;
        let needle = skedcast_auth::oauth::error::wire_safe(needle);
        assert!(desc.contains(&needle), "{body}: {desc}");
    }
    let resp = app
        .client
        .put(app.url(&format!("/oauth/register/{id}")))
        .bearer_auth(token)
        .header(CONTENT_TYPE, "text/plain")
        .body(good().to_string())
        .send()
        .await
        .unwrap();
    expect_error(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "invalid_client_metadata",
    )
    .await;
    // Rejected updates change nothing, not even the token.
    assert_eq!(stored(&app, id).await.unwrap(), before);

    // Public → confidential: a secret is issued and shown once.
    let public = register_ok(&app, &mcp_client()).await;
    let pid = public["client_id"].as_str().unwrap();
    let ptoken = public["registration_access_token"].as_str().unwrap();
    let body = json!({"client_id": pid, "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_post"});
    let resp = manage(&app, reqwest::Method::PUT, pid, Some(ptoken), Some(&body)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let out: Value = resp.json().await.unwrap();
    let secret = out["client_secret"].as_str().expect("a new secret");
    assert_eq!(out["client_secret_expires_at"], 0);
    let row = stored(&app, pid).await.unwrap();
    assert_eq!(
        row.client_secret_hash.as_deref(),
        Some(sha256_hex(secret).as_str())
    );

    // Confidential → public: the secret is dropped.
    let ptoken = out["registration_access_token"].as_str().unwrap();
    let body = json!({"client_id": pid, "client_secret": secret, "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"});
    let resp = manage(&app, reqwest::Method::PUT, pid, Some(ptoken), Some(&body)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let out: Value = resp.json().await.unwrap();
    assert!(out.get("client_secret").is_none() && out.get("client_secret_expires_at").is_none());
    assert_eq!(stored(&app, pid).await.unwrap().client_secret_hash, None);
}

/// Issue 13 item 14: a backslash in a redirect URI (browsers read it as
/// `/`, RFC 3986 does not) and invisible format characters (Unicode Cf:
/// bidi controls, zero-width characters...) in displayed text are refused,
/// at registration and in an RFC 7592 update, and nothing is stored.
#[tokio::test]
async fn backslashes_and_format_characters_are_refused() {
    let app = spawn_unlimited().await;
    let info = register_ok(
        &app,
        &json!({"redirect_uris": ["https://app.example/cb"], "client_name": "Before"}),
    )
    .await;
    let id = info["client_id"].as_str().unwrap();
    let token = info["registration_access_token"].as_str().unwrap();
    let before = stored(&app, id).await.unwrap();
    let count = client_count(&app).await;

    let mut cases: Vec<(&str, Value, &str, String)> = Vec::new();
    for uri in [
        "https://app.example\\@evil.example/cb",
        "http://127.0.0.1\\@evil.example/cb",
        "https://app.example/cb\\..\\other",
        "com.example.app:/cb\\x",
    ] {
        cases.push((
            "redirect_uris",
            json!([uri]),
            "invalid_redirect_uri",
            "must not contain a backslash".into(),
        ));
    }
    for (field, c) in [
        ("client_name", '\u{202E}'),
        ("client_name", '\u{2066}'),
        ("client_name", '\u{200B}'),
        ("client_name", '\u{FEFF}'),
        ("client_name", '\u{00AD}'),
        ("client_name", '\u{061C}'),
        ("client_name", '\u{180E}'),
        ("client_name", '\u{E0041}'),
        ("software_id", '\u{202B}'),
        ("software_version", '\u{2060}'),
    ] {
        cases.push((
            field,
            json!(format!("Safe{c}App")),
            "invalid_client_metadata",
            format!("{field} must not contain format characters"),
        ));
    }
    cases.push((
        "contacts",
        json!(["ops@app.example", "\u{202E}moc.live@ops"]),
        "invalid_client_metadata",
        "contacts must not contain format characters".into(),
    ));

    for (field, value, error, needle) in &cases {
        let mut body = json!({"redirect_uris": ["https://app.example/cb"]});
        body[*field] = value.clone();
        let desc = expect_error(post(&app, &body).await, StatusCode::BAD_REQUEST, error).await;
        assert!(desc.contains(needle.as_str()), "POST {body}: {desc}");

        body["client_id"] = json!(id);
        let resp = manage(&app, reqwest::Method::PUT, id, Some(token), Some(&body)).await;
        let desc = expect_error(resp, StatusCode::BAD_REQUEST, error).await;
        assert!(desc.contains(needle.as_str()), "PUT {body}: {desc}");
    }
    assert_eq!(client_count(&app).await, count);
    assert_eq!(stored(&app, id).await.unwrap(), before);

    // Ordinary non-ASCII text is still fine (the check is not "ASCII only").
    let ok = register_ok(
        &app,
        &json!({"redirect_uris": ["https://app.example/cb"], "client_name": "Agenda Ωmega ‑ 日程 עברית"}),
    )
    .await;
    assert_eq!(ok["client_name"], "Agenda Ωmega ‑ 日程 עברית");
}

#[tokio::test]
async fn registration_is_rate_limited_per_ip_across_instances() {
    let db = Arc::new(fresh_db().await);
    let env = [("SKEDCAST__REGISTRATION__RATE_LIMIT_PER_MINUTE", "3")];
    let one = spawn_app_with(db.clone(), &env).await;
    let two = spawn_app_with(db.clone(), &env).await;
    away_from_window_edge(15).await;

    // Failed attempts count too.
    register_ok(&one, &mcp_client()).await;
    expect_error(
        post(&two, &json!({})).await,
        StatusCode::BAD_REQUEST,
        "invalid_redirect_uri",
    )
    .await;
    register_ok(&one, &mcp_client()).await;
    // The fourth request, on the other instance: over the shared limit.
    for app in [&two, &one] {
        let resp = post(app, &mcp_client()).await;
        let retry: u64 = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("Retry-After seconds");
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
        let desc = expect_error(resp, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
        assert!(desc.contains("limit 3 per minute"), "{desc}");
    }
    assert_eq!(client_count(&one).await, 2);
}

#[tokio::test]
async fn initial_access_token_policy() {
    let good = "k3y-0f-the-operator-k3y-0f-the-operator";
    let other = "another-initial-access-token-0123456789";
    let tokens = format!("{good},{other}");
    let app = spawn_app_with(
        Arc::new(fresh_db().await),
        &[
            ("SKEDCAST__REGISTRATION__POLICY", "initial_access_token"),
            ("SKEDCAST__REGISTRATION__INITIAL_ACCESS_TOKENS", &tokens),
        ],
    )
    .await;
    let send = |token: Option<&str>| {
        let mut req = app
            .client
            .post(app.url("/oauth/register"))
            .json(&mcp_client());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let resp = send(None).await.unwrap();
    assert_eq!(resp.headers().get(WWW_AUTHENTICATE).unwrap(), "Bearer");
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    for wrong in ["wrong", &good[1..], &format!("{good}x")] {
        let resp = send(Some(wrong)).await.unwrap();
        assert_eq!(
            resp.headers().get(WWW_AUTHENTICATE).unwrap(),
            "Bearer error=\"invalid_token\""
        );
        expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    assert_eq!(client_count(&app).await, 0);
    for ok in [good, other] {
        let resp = send(Some(ok)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    assert_eq!(client_count(&app).await, 2);

    // The open policy (default) ignores an Authorization header.
    let open = spawn_app().await;
    let resp = open
        .client
        .post(open.url("/oauth/register"))
        .bearer_auth("anything")
        .json(&mcp_client())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn never_authorized_public_clients_are_cleaned_up() {
    let app = spawn_app().await;
    let unused = register_ok(&app, &mcp_client()).await;
    let used = register_ok(&app, &mcp_client()).await;
    let confidential =
        register_ok(&app, &json!({"redirect_uris": ["https://app.example/cb"]})).await;
    let id = |v: &Value| v["client_id"].as_str().unwrap().to_string();
    let now = skedcast_auth::clock::now();
    clients::mark_authorized(&app.state.db, &id(&used), now)
        .await
        .unwrap();
    // A second authorization keeps the first time.
    clients::mark_authorized(&app.state.db, &id(&used), now + 5)
        .await
        .unwrap();
    assert_eq!(
        stored(&app, &id(&used)).await.unwrap().first_authorized_at,
        Some(now)
    );

    let day = 86_400;
    let deleted = clients::delete_unused_public_clients(&app.state.db, 7, now + 6 * day)
        .await
        .unwrap();
    assert_eq!(deleted, 0, "younger than 7 days");
    assert_eq!(
        clients::delete_unused_public_clients(&app.state.db, 0, now + 100 * day)
            .await
            .unwrap(),
        0,
        "0 disables"
    );

    // The maintenance pass uses registration.unused_public_client_days (7).
    skedcast_auth::maintenance::run_once(&app.state, now + 8 * day).await;
    assert!(stored(&app, &id(&unused)).await.is_none());
    assert!(stored(&app, &id(&used)).await.is_some());
    assert!(stored(&app, &id(&confidential)).await.is_some());
    let resp = manage(
        &app,
        reqwest::Method::GET,
        &id(&unused),
        unused["registration_access_token"].as_str(),
        None,
    )
    .await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn stale_rate_limit_counters_are_pruned() {
    let app = spawn_app().await;
    register_ok(&app, &mcp_client()).await;
    let count = || entity::rate_limit::Entity::find().count(&app.state.db);
    assert_eq!(count().await.unwrap(), 1);
    skedcast_auth::maintenance::run_once(&app.state, skedcast_auth::clock::now()).await;
    assert_eq!(count().await.unwrap(), 1, "the current window stays");
    // Counters outlive the longest window (an hour), then go.
    skedcast_auth::maintenance::run_once(&app.state, skedcast_auth::clock::now() + 2 * 3600 + 120)
        .await;
    assert_eq!(count().await.unwrap(), 0);
}

#[tokio::test]
async fn metadata_advertises_the_registration_endpoint() {
    let app = spawn_app().await;
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["registration_endpoint"], app.url("/oauth/register"));
    let resp = app
        .client
        .post(meta["registration_endpoint"].as_str().unwrap())
        .json(&mcp_client())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn openapi_documents_the_registration_endpoints() {
    let app = spawn_app().await;
    let spec = app.get_json("/openapi.json").await;
    let post = &spec["paths"]["/oauth/register"]["post"];
    assert!(post["responses"]["201"].is_object(), "{post}");
    assert!(post["responses"]["400"].is_object());
    assert!(post["responses"]["429"].is_object());
    let item = &spec["paths"]["/oauth/register/{client_id}"];
    for m in ["get", "put", "delete"] {
        assert!(item[m].is_object(), "{m}");
    }
    assert!(spec["components"]["securitySchemes"]["RegistrationAccessToken"].is_object());
}

#[tokio::test]
async fn database_faults_are_json_errors_not_panics() {
    let app = spawn_app().await;
    let drop = if app.db.is_postgres() {
        "DROP TABLE clients CASCADE"
    } else {
        "DROP TABLE clients"
    };
    app.state.db.execute_unprepared(drop).await.unwrap();
    let resp = post(&app, &mcp_client()).await;
    expect_error(resp, StatusCode::INTERNAL_SERVER_ERROR, "server_error").await;
    let resp = manage(&app, reqwest::Method::GET, "x", Some("y"), None).await;
    expect_error(resp, StatusCode::INTERNAL_SERVER_ERROR, "server_error").await;
}

/// Issue 13 item 7: an RFC 7592 update that changes what the consent page
/// showed (name, redirect URIs, ...) ends remembered consent for the client
/// and the trust of item 8; one that changes nothing shown keeps both.
#[tokio::test]
async fn an_update_changing_what_members_saw_asks_for_consent_again() {
    use crate::support::browser::{
        Browser, authorize_url, authorize_with_consent, continue_link, location, location_params,
        member, public_client,
    };
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let info = public_client(&app, json!({})).await;
    let id = info["client_id"].as_str().unwrap();
    let mut token = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b = Browser::new(&app);
    let resp = authorize_with_consent(&app, &mut b, id, "ann@example.com", &[]).await;
    assert!(location_params(&resp).contains_key("code"));

    let body = |name: &str, uris: &[&str], contacts: &[&str]| {
        json!({
            "client_id": id,
            "client_name": name,
            "redirect_uris": uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "contacts": contacts,
        })
    };
    let redirect = crate::support::browser::REDIRECT;
    let cases = [
        // (update, asks again)
        (
            body("Calendar Agent", &[redirect], &["ops@app.example"]),
            false,
        ),
        (
            body("Calendar Agent Pro", &[redirect], &["ops@app.example"]),
            true,
        ),
        (
            body(
                "Calendar Agent Pro",
                &[redirect, "http://127.0.0.1/other"],
                &["ops@app.example"],
            ),
            true,
        ),
    ];
    for (update, asks) in cases {
        let resp = manage(&app, reqwest::Method::PUT, id, Some(&token), Some(&update)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{update}");
        let v: Value = resp.json().await.unwrap();
        token = v["registration_access_token"].as_str().unwrap().to_string();

        let resp = b.get(&authorize_url(id, &[])).await;
        if !asks {
            assert_eq!(resp.status(), StatusCode::FOUND, "{update}");
            assert!(location_params(&resp).contains_key("code"), "{update}");
            continue;
        }
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{update}: {}",
            location(&resp)
        );
        let html = resp.text().await.unwrap();
        assert!(html.contains("Calendar Agent Pro"), "{html}");
        // Item 8's trust went with it: an error is a page with a link again.
        let resp = b
            .get(&authorize_url(id, &[("scope", "agency:read nonsense")]))
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{update}");
        assert!(continue_link(&resp.text().await.unwrap()).is_some());
        // Consent again for the next case.
        let resp = authorize_with_consent(&app, &mut b, id, "ann@example.com", &[]).await;
        assert!(location_params(&resp).contains_key("code"));
    }
}
