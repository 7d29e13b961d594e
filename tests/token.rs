//! The token endpoint (client_credentials), client authentication,
//! revocation (RFC 7009), introspection (RFC 7662) and resource servers,
//! over real HTTP against the real app. Access tokens are checked with a
//! second JWT implementation (p256) against the served JWKS.

mod common;

use base64::Engine;
use common::*;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use skedcast_auth::oauth::client::store as clients;
use skedcast_auth::oauth::token::access_token::Claims;

/// `resource.default` in config/default.toml.
const DEFAULT_RESOURCE: &str = "http://127.0.0.1:8081";

fn basic(id: &str, secret: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    format!("Basic {}", b64.encode(format!("{id}:{secret}")))
}

/// Every byte percent-encoded: what RFC 6749 §2.3.1 allows a client to send.
fn encode_all(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

struct Client {
    id: String,
    secret: Option<String>,
    registration_token: String,
}

async fn register(app: &TestApp, body: Value) -> Client {
    let resp = app
        .client
        .post(app.url("/oauth/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED, "register {body}");
    let info: Value = resp.json().await.unwrap();
    Client {
        id: info["client_id"].as_str().unwrap().to_string(),
        secret: info["client_secret"].as_str().map(str::to_string),
        registration_token: info["registration_access_token"]
            .as_str()
            .unwrap()
            .to_string(),
    }
}

/// A confidential client_credentials client.
async fn cc_client(app: &TestApp, method: &str, scope: &str) -> Client {
    register(
        app,
        json!({
            "client_name": "Reporting job",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": method,
            "scope": scope,
        }),
    )
    .await
}

/// POST a form to `path` with an optional Authorization header.
async fn post_form(
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

async fn token_basic(app: &TestApp, c: &Client, form: &[(&str, &str)]) -> reqwest::Response {
    let auth = basic(&c.id, c.secret.as_deref().unwrap());
    post_form(app, "/oauth/token", Some(&auth), form).await
}

/// A client_credentials access token of a client_secret_basic client.
async fn access_token(app: &TestApp, c: &Client, form: &[(&str, &str)]) -> String {
    let mut form = form.to_vec();
    form.push(("grant_type", "client_credentials"));
    let resp = token_basic(app, c, &form).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

fn assert_no_store(resp: &reqwest::Response) {
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
async fn expect_error(resp: reqwest::Response, status: StatusCode, error: &str) -> String {
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

fn challenge(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `skedcast-auth resource-server create`; returns (client_id, secret).
fn create_resource_server(app: &TestApp, name: &str, resource: &str) -> (String, String) {
    let out = app.cli(&[
        "resource-server",
        "create",
        "--name",
        name,
        "--resource",
        resource,
    ]);
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

async fn introspect(app: &TestApp, rs: &(String, String), token: &str) -> Value {
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

fn inactive() -> Value {
    json!({"active": false})
}

#[tokio::test]
async fn client_credentials_issues_a_verifiable_access_token_with_basic_and_post() {
    let app = spawn_app().await;
    let c = cc_client(&app, "client_secret_basic", "agency:read posts:read").await;
    let before = skedcast_auth::clock::now();
    let resp = token_basic(&app, &c, &[("grant_type", "client_credentials")]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_no_store(&resp);
    let body: Value = resp.json().await.unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["access_token", "token_type", "expires_in", "scope"],
        "no refresh token: {body}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "agency:read posts:read");

    let token = body["access_token"].as_str().unwrap();
    let jwks = app.get_json("/.well-known/jwks.json").await;
    let claims = verify_with_p256(token, &jwks).expect("verifies against the served JWKS");
    let (header, _) = jwt_parts(token);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(
        header["kid"].as_str(),
        app.state.keys.active_kid().await.as_deref()
    );
    let names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        [
            "iss",
            "sub",
            "aud",
            "client_id",
            "scope",
            "iat",
            "exp",
            "jti"
        ],
        "exactly the contract's claims, no agency_id/role"
    );
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["sub"], c.id.as_str());
    assert_eq!(claims["client_id"], c.id.as_str());
    assert_eq!(claims["aud"], DEFAULT_RESOURCE);
    assert_eq!(claims["scope"], "agency:read posts:read");
    let iat = claims["iat"].as_i64().unwrap();
    assert!(iat >= before && iat <= skedcast_auth::clock::now());
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 900);
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(jti).unwrap().get_version_num(), 4);

    // A narrower scope, the default resource named explicitly, and the
    // client_id repeated in the body alongside Basic.
    let resp = token_basic(
        &app,
        &c,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "posts:read"),
            ("resource", DEFAULT_RESOURCE),
            ("client_id", &c.id),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "posts:read");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["scope"], "posts:read");
    assert_ne!(claims["jti"], jti, "a fresh jti per token");

    // RFC 6749 §2.3.1: id and secret are form-urlencoded inside Basic.
    let auth = basic(
        &encode_all(&c.id),
        &encode_all(c.secret.as_deref().unwrap()),
    );
    let resp = post_form(
        &app,
        "/oauth/token",
        Some(&auth),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // client_secret_post.
    let p = cc_client(&app, "client_secret_post", "analytics:read").await;
    let resp = post_form(
        &app,
        "/oauth/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &p.id),
            ("client_secret", p.secret.as_deref().unwrap()),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_no_store(&resp);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "analytics:read");
    let claims = verify_with_p256(body["access_token"].as_str().unwrap(), &jwks).unwrap();
    assert_eq!(claims["sub"], p.id.as_str());
    assert_eq!(claims["client_id"], p.id.as_str());
}

#[tokio::test]
async fn every_token_error_has_its_code_and_no_store() {
    let app = spawn_app().await;
    let c = cc_client(&app, "client_secret_basic", "agency:read offline_access").await;
    let secret = c.secret.clone().unwrap();
    let cc = ("grant_type", "client_credentials");

    // Wrong secret and unknown client: 401, Basic challenge, same answer.
    let resp = post_form(&app, "/oauth/token", Some(&basic(&c.id, "wrong")), &[cc]).await;
    assert_eq!(
        challenge(&resp).as_deref(),
        Some("Basic realm=\"skedcast\"")
    );
    let wrong = expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = post_form(
        &app,
        "/oauth/token",
        Some(&basic("no-such-client", &secret)),
        &[cc],
    )
    .await;
    assert!(challenge(&resp).is_some());
    let unknown = expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(wrong, unknown, "unknown client and wrong secret look alike");
    // Unknown client over client_secret_post: 401 without a Basic challenge.
    let resp = post_form(
        &app,
        "/oauth/token",
        None,
        &[cc, ("client_id", "nobody"), ("client_secret", "x")],
    )
    .await;
    assert!(challenge(&resp).is_none());
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // No client authentication at all.
    let resp = post_form(&app, "/oauth/token", None, &[cc]).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // Another Authorization scheme.
    let resp = post_form(&app, "/oauth/token", Some("Bearer abc"), &[cc]).await;
    assert!(challenge(&resp).is_some());
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // Two methods in one request.
    let resp = post_form(
        &app,
        "/oauth/token",
        Some(&basic(&c.id, &secret)),
        &[cc, ("client_id", &c.id), ("client_secret", &secret)],
    )
    .await;
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(d.contains("two client authentication methods"), "{d}");

    // Right secret, but client_secret_post for a client_secret_basic client.
    let resp = post_form(
        &app,
        "/oauth/token",
        None,
        &[cc, ("client_id", &c.id), ("client_secret", &secret)],
    )
    .await;
    let d = expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(d.contains("client_secret_basic"), "{d}");

    // A public client.
    let public = register(
        &app,
        json!({
            "redirect_uris": ["http://127.0.0.1:9999/cb"],
            "token_endpoint_auth_method": "none",
            "scope": "agency:read",
        }),
    )
    .await;
    let resp = post_form(&app, "/oauth/token", None, &[cc, ("client_id", &public.id)]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    // A confidential client without the client_credentials grant.
    let code_only = register(
        &app,
        json!({"redirect_uris": ["https://app.example/cb"], "scope": "agency:read"}),
    )
    .await;
    let resp = token_basic(&app, &code_only, &[cc]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "unauthorized_client").await;

    // Scope outside the registered scope, named in the description.
    let resp = token_basic(&app, &c, &[cc, ("scope", "agency:read billing:write")]).await;
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(d.contains("billing:write"), "{d}");
    // offline_access, even though registered.
    let resp = token_basic(&app, &c, &[cc, ("scope", "agency:read offline_access")]).await;
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(d.contains("offline_access"), "{d}");

    // Unknown and malformed resources.
    for r in [
        "https://elsewhere.example",
        "not a uri",
        "https://a.example/#f",
    ] {
        let resp = token_basic(&app, &c, &[cc, ("resource", r)]).await;
        expect_error(resp, StatusCode::BAD_REQUEST, "invalid_target").await;
    }
    let resp = token_basic(
        &app,
        &c,
        &[
            cc,
            ("resource", DEFAULT_RESOURCE),
            ("resource", "https://b.example"),
        ],
    )
    .await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_target").await;

    // Not a form.
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .header(AUTHORIZATION, basic(&c.id, &secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(d.contains("application/x-www-form-urlencoded"), "{d}");
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Missing and unsupported grant types.
    let resp = token_basic(&app, &c, &[("scope", "agency:read")]).await;
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(d.contains("grant_type"), "{d}");
    let resp = token_basic(&app, &c, &[("grant_type", "")]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    for g in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let resp = token_basic(&app, &c, &[("grant_type", g)]).await;
        let d = expect_error(resp, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
        assert!(d.contains(g), "{d}");
    }
    // Served grants the client did not register for.
    for g in ["authorization_code", "refresh_token"] {
        let resp = token_basic(&app, &c, &[("grant_type", g)]).await;
        let d = expect_error(resp, StatusCode::BAD_REQUEST, "unauthorized_client").await;
        assert!(d.contains(g), "{d}");
    }

    // A repeated parameter.
    let resp = token_basic(
        &app,
        &c,
        &[cc, ("scope", "agency:read"), ("scope", "agency:read")],
    )
    .await;
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(d.contains("'scope' is repeated"), "{d}");
    let resp = token_basic(&app, &c, &[cc, cc]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn resource_servers_introspect_access_tokens() {
    let app = spawn_app().await;
    let rs = create_resource_server(&app, "SkedCast API", DEFAULT_RESOURCE);
    let c = cc_client(&app, "client_secret_basic", "agency:read posts:read").await;
    let token = access_token(&app, &c, &[]).await;
    let (_, claims) = jwt_parts(&token);

    // Active: every field.
    let v = introspect(&app, &rs, &token).await;
    assert_eq!(
        v,
        json!({
            "active": true,
            "scope": "agency:read posts:read",
            "client_id": c.id,
            "sub": c.id,
            "exp": claims["exp"],
            "iat": claims["iat"],
            "iss": app.base,
            "aud": DEFAULT_RESOURCE,
            "token_type": "Bearer",
        })
    );
    // client_secret_post works for resource servers too.
    let resp = post_form(
        &app,
        "/oauth/introspect",
        None,
        &[
            ("token", &token),
            ("client_id", &rs.0),
            ("client_secret", &rs.1),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["active"], true);

    // Garbage, API keys and opaque strings: exactly {"active": false}.
    for t in [
        "garbage",
        "sked_live_0123456789abcdef",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ] {
        let resp = post_form(
            &app,
            "/oauth/introspect",
            Some(&basic(&rs.0, &rs.1)),
            &[("token", t)],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.text().await.unwrap(), r#"{"active":false}"#, "{t}");
    }
    // A token whose signature was tampered with.
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(introspect(&app, &rs, &tampered).await, inactive());

    // Expired: our key, our claims, exp in the past.
    let now = skedcast_auth::clock::now();
    let mut expired = Claims {
        iss: app.base.clone(),
        sub: c.id.clone(),
        aud: DEFAULT_RESOURCE.into(),
        client_id: c.id.clone(),
        scope: "agency:read".into(),
        iat: now - 1000,
        exp: now - 100,
        jti: uuid::Uuid::new_v4().to_string(),
        agency_id: None,
        role: None,
    };
    let t = app.state.keys.sign("at+jwt", &expired).await.unwrap();
    assert_eq!(introspect(&app, &rs, &t).await, inactive());
    // The same claims, still valid, with agency_id and role: active, and both reported.
    expired.exp = now + 100;
    expired.agency_id = Some("ag-1".into());
    expired.role = Some("editor".into());
    let t = app.state.keys.sign("at+jwt", &expired).await.unwrap();
    let v = introspect(&app, &rs, &t).await;
    assert_eq!(
        (v["agency_id"].as_str(), v["role"].as_str()),
        (Some("ag-1"), Some("editor"))
    );
    // Another typ, another issuer: inactive.
    let t = app.state.keys.sign("JWT", &expired).await.unwrap();
    assert_eq!(introspect(&app, &rs, &t).await, inactive());
    let mut other_iss = expired.clone();
    other_iss.iss = "https://evil.example".into();
    let t = app.state.keys.sign("at+jwt", &other_iss).await.unwrap();
    assert_eq!(introspect(&app, &rs, &t).await, inactive());
    // Signed by a key that is not ours (same kid even): inactive.
    let foreign = skedcast_auth::keys::material::generate().unwrap();
    let signer = josekit::jws::ES256
        .signer_from_pem(&foreign.private_pem)
        .unwrap();
    let mut header = josekit::jws::JwsHeader::new();
    header.set_token_type("at+jwt");
    header.set_key_id(app.state.keys.active_kid().await.unwrap());
    let payload = serde_json::to_vec(&expired).unwrap();
    let t = josekit::jws::serialize_compact(&payload, &header, &signer).unwrap();
    assert_eq!(introspect(&app, &rs, &t).await, inactive());

    // A resource server for another resource learns nothing about tokens
    // for this one, and sees tokens issued for it.
    let other_url = "https://reports.example";
    let other = create_resource_server(&app, "Reports", other_url);
    assert_eq!(introspect(&app, &other, &token).await, inactive());
    let for_other = access_token(&app, &c, &[("resource", other_url)]).await;
    assert_eq!(jwt_parts(&for_other).1["aud"], other_url);
    let v = introspect(&app, &other, &for_other).await;
    assert_eq!(
        (v["active"].as_bool(), v["aud"].as_str()),
        (Some(true), Some(other_url))
    );
    assert_eq!(introspect(&app, &rs, &for_other).await, inactive());

    // Only resource servers may call; missing token is invalid_request.
    let resp = post_form(
        &app,
        "/oauth/introspect",
        Some(&basic(&c.id, c.secret.as_deref().unwrap())),
        &[("token", &token)],
    )
    .await;
    assert!(challenge(&resp).is_some());
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = post_form(&app, "/oauth/introspect", None, &[("token", &token)]).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = post_form(
        &app,
        "/oauth/introspect",
        Some(&basic(&rs.0, "wrong")),
        &[("token", &token)],
    )
    .await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = post_form(&app, "/oauth/introspect", Some(&basic(&rs.0, &rs.1)), &[]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;

    // A resource server cannot obtain tokens.
    let resp = post_form(
        &app,
        "/oauth/token",
        Some(&basic(&rs.0, &rs.1)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    expect_error(resp, StatusCode::BAD_REQUEST, "unauthorized_client").await;
}

#[tokio::test]
async fn resource_server_cli_rejects_bad_input_in_one_line() {
    let app = spawn_app().await;
    for (args, want) in [
        (
            ["--name", "API", "--resource", "not-a-url"],
            "--resource \"not-a-url\"",
        ),
        (
            ["--name", "API", "--resource", "https://api.example/#x"],
            "fragment",
        ),
        (
            ["--name", "API", "--resource", "ftp://api.example"],
            "http(s)",
        ),
        (
            ["--name", "", "--resource", "https://api.example"],
            "--name",
        ),
    ] {
        let mut argv = vec!["resource-server", "create"];
        argv.extend(args);
        let out = app.cli(&argv);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{argv:?}");
        assert!(out.stdout.is_empty(), "{argv:?}");
        assert!(stderr.contains(want), "{argv:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
    // Nothing was stored; a good call stores a resource server.
    let count = || entity::client::Entity::find().count(&app.state.db);
    assert_eq!(count().await.unwrap(), 0);
    let (id, secret) = create_resource_server(&app, "API", "https://api.example");
    let row = clients::find(&app.state.db, &id).await.unwrap().unwrap();
    assert_eq!(row.kind.as_str(), "resource_server");
    assert_eq!(row.resource.as_deref(), Some("https://api.example"));
    assert_eq!(row.client_name.as_deref(), Some("API"));
    assert_eq!(row.registration_token_hash, None);
    assert_eq!(
        row.client_secret_hash.as_deref(),
        Some(skedcast_auth::crypto::sha256_hex(&secret).as_str())
    );
    assert_eq!(secret.len(), 43, "256-bit secret");
}

#[tokio::test]
async fn revocation_records_the_jti_of_the_clients_own_tokens_only() {
    let app = spawn_app().await;
    let rs = create_resource_server(&app, "SkedCast API", DEFAULT_RESOURCE);
    let a = cc_client(&app, "client_secret_basic", "agency:read").await;
    let b = cc_client(&app, "client_secret_post", "agency:read").await;
    let token = access_token(&app, &a, &[]).await;
    let revoke_as_b = |t: &str| {
        let t = t.to_string();
        let (id, secret) = (b.id.clone(), b.secret.clone().unwrap());
        let app = &app;
        async move {
            post_form(
                app,
                "/oauth/revoke",
                None,
                &[
                    ("token", &t),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
            )
            .await
        }
    };

    // Another client's token: 200 and nothing happens.
    let resp = revoke_as_b(&token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_no_store(&resp);
    assert_eq!(introspect(&app, &rs, &token).await["active"], true);

    // Unknown tokens: 200.
    for t in ["garbage", "a.b.c", "sked_live_x"] {
        assert_eq!(revoke_as_b(t).await.status(), StatusCode::OK, "{t}");
    }

    // The owner revokes (an unknown hint value is ignored): inactive.
    let auth = basic(&a.id, a.secret.as_deref().unwrap());
    let resp = post_form(
        &app,
        "/oauth/revoke",
        Some(&auth),
        &[("token", &token), ("token_type_hint", "something_else")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_no_store(&resp);
    assert!(resp.text().await.unwrap().is_empty());
    assert_eq!(introspect(&app, &rs, &token).await, inactive());
    // Again, with the right hint: still 200.
    let resp = post_form(
        &app,
        "/oauth/revoke",
        Some(&auth),
        &[("token", &token), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Other tokens of the same client stay active.
    let other = access_token(&app, &a, &[]).await;
    assert_eq!(introspect(&app, &rs, &other).await["active"], true);

    // The jti is kept until exp, then pruned.
    let exp = jwt_parts(&token).1["exp"].as_i64().unwrap();
    let rows = entity::revoked_access_token::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].jti, jwt_parts(&token).1["jti"].as_str().unwrap());
    assert_eq!(rows[0].expires_at, exp);
    skedcast_auth::maintenance::run_once(&app.state, exp - 1).await;
    assert_eq!(
        entity::revoked_access_token::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        1
    );
    skedcast_auth::maintenance::run_once(&app.state, exp + 1).await;
    assert_eq!(
        entity::revoked_access_token::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );

    // Client authentication as at the token endpoint.
    let resp = post_form(
        &app,
        "/oauth/revoke",
        Some(&basic(&a.id, "wrong")),
        &[("token", &other)],
    )
    .await;
    assert!(challenge(&resp).is_some());
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = post_form(&app, "/oauth/revoke", None, &[("token", &other)]).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = post_form(&app, "/oauth/revoke", Some(&auth), &[]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    let resp = app
        .client
        .post(app.url("/oauth/revoke"))
        .header(AUTHORIZATION, &auth)
        .json(&json!({"token": other}))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(introspect(&app, &rs, &other).await["active"], true);

    // A public client authenticates with its client_id alone.
    let public = register(
        &app,
        json!({
            "redirect_uris": ["http://127.0.0.1:9999/cb"],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    let resp = post_form(
        &app,
        "/oauth/revoke",
        None,
        &[("token", &other), ("client_id", &public.id)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &rs, &other).await["active"], true);
}

#[tokio::test]
async fn rfc7592_changes_take_effect_at_the_token_endpoint_at_once() {
    let app = spawn_app().await;
    let c = cc_client(&app, "client_secret_basic", "agency:read posts:read").await;
    let cc = [("grant_type", "client_credentials")];
    // Cached now.
    assert_eq!(token_basic(&app, &c, &cc).await.status(), StatusCode::OK);

    let manage = |method: reqwest::Method, token: &str, body: Option<Value>| {
        let mut req = app
            .client
            .request(method, app.url(&format!("/oauth/register/{}", c.id)))
            .header(AUTHORIZATION, format!("Bearer {token}"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };
    // Narrow the registered scope: the next request sees it.
    let resp = manage(
        reqwest::Method::PUT,
        &c.registration_token,
        Some(json!({
            "client_id": c.id,
            "grant_types": ["client_credentials"],
            "scope": "agency:read",
        })),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let new_token = resp.json::<Value>().await.unwrap()["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = token_basic(&app, &c, &[cc[0], ("scope", "posts:read")]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_scope").await;

    // Delete: the client's credentials stop working.
    let resp = manage(reqwest::Method::DELETE, &new_token, None)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = token_basic(&app, &c, &cc).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

#[tokio::test]
async fn metadata_advertises_what_the_token_endpoints_support() {
    let app = spawn_app().await;
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["token_endpoint"], app.url("/oauth/token"));
    assert_eq!(meta["revocation_endpoint"], app.url("/oauth/revoke"));
    assert_eq!(meta["introspection_endpoint"], app.url("/oauth/introspect"));
    assert_eq!(
        meta["grant_types_supported"],
        json!(["authorization_code", "refresh_token", "client_credentials"])
    );
    let all = json!(["client_secret_basic", "client_secret_post", "none"]);
    assert_eq!(meta["token_endpoint_auth_methods_supported"], all);
    assert_eq!(meta["revocation_endpoint_auth_methods_supported"], all);
    assert_eq!(
        meta["introspection_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    // The advertised token endpoint answers (an error, but ours).
    let resp = app
        .client
        .post(meta["token_endpoint"].as_str().unwrap())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // And the OpenAPI document lists the three endpoints.
    let spec = app.get_json("/openapi.json").await;
    for path in ["/oauth/token", "/oauth/revoke", "/oauth/introspect"] {
        let op = &spec["paths"][path]["post"];
        assert!(
            op["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object(),
            "{path}: {op}"
        );
        assert!(op["responses"]["401"].is_object(), "{path}");
    }
}

#[tokio::test]
async fn database_faults_are_json_errors_with_no_store() {
    let app = spawn_app().await;
    let c = cc_client(&app, "client_secret_basic", "agency:read").await;
    let cc = [("grant_type", "client_credentials")];
    assert_eq!(token_basic(&app, &c, &cc).await.status(), StatusCode::OK);
    let drop = if app.db.is_postgres() {
        "DROP TABLE clients CASCADE"
    } else {
        "DROP TABLE clients"
    };
    app.state.db.execute_unprepared(drop).await.unwrap();
    // An uncached client needs the table.
    let resp = post_form(
        &app,
        "/oauth/token",
        Some(&basic("uncached", "x")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    expect_error(resp, StatusCode::INTERNAL_SERVER_ERROR, "server_error").await;
    // A named resource needs it too (the client itself is cached).
    let resp = token_basic(
        &app,
        &c,
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://x.example"),
        ],
    )
    .await;
    expect_error(resp, StatusCode::INTERNAL_SERVER_ERROR, "server_error").await;
}

#[tokio::test]
async fn other_instances_see_a_deleted_client_within_the_cache_ttl() {
    let db = std::sync::Arc::new(fresh_db().await);
    let a = spawn_app_with(db.clone(), &[]).await;
    let b = spawn_app_with(db, &[("SKEDCAST__CLIENTS__CACHE_TTL_SECS", "1")]).await;
    let c = cc_client(&a, "client_secret_basic", "agency:read").await;
    let cc = [("grant_type", "client_credentials")];
    // B caches the client.
    assert_eq!(token_basic(&b, &c, &cc).await.status(), StatusCode::OK);
    let resp = a
        .client
        .delete(a.url(&format!("/oauth/register/{}", c.id)))
        .header(AUTHORIZATION, format!("Bearer {}", c.registration_token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // A knows at once; B within its TTL (1 s).
    let resp = token_basic(&a, &c, &cc).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let resp = token_basic(&b, &c, &cc).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
}
