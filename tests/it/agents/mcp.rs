//! What MCP clients rely on: the exact RFC error code (and status) of every
//! client-visible failure (`invalid_client` makes them re-register,
//! `invalid_grant` makes them drop their tokens), `iss` on every
//! authorization response, `offline_access`, `prompt=consent`, RFC 8707
//! `resource` compared case-insensitively in scheme and host, and
//! `application_type` at registration.

use crate::support::browser::*;
use crate::support::*;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use sea_orm::sea_query::Expr;
use serde_json::{Value, json};

const API: &str = "http://127.0.0.1:8081";

async fn token(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Status and `error` of an RFC 6749 §5.2 response (with no-store and a
/// description).
async fn error(resp: reqwest::Response) -> (StatusCode, String) {
    let status = resp.status();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let v: Value = resp.json().await.unwrap();
    assert!(
        !v["error_description"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{v}"
    );
    (status, v["error"].as_str().unwrap_or_default().to_string())
}

fn expect(got: (StatusCode, String), status: u16, code: &str, what: &str) {
    assert_eq!((got.0.as_u16(), got.1.as_str()), (status, code), "{what}");
}

/// An authorization error sent back to the client: `error`, `state` and
/// `iss` (RFC 9207) on the redirect URI.
fn expect_redirect_error(app: &TestApp, resp: &reqwest::Response, code: &str, what: &str) {
    assert!(
        resp.status() == 302 || resp.status() == 303,
        "{what}: {}",
        resp.status()
    );
    let loc = location(resp);
    assert!(loc.starts_with(REDIRECT), "{what}: {loc}");
    let p = location_params(resp);
    assert_eq!(p.get("error").map(String::as_str), Some(code), "{what}");
    assert!(p.contains_key("error_description"), "{what}");
    assert_eq!(p.get("state").map(String::as_str), Some("st-123"), "{what}");
    assert_eq!(p.get("iss"), Some(&app.base), "{what}");
}

/// The same for a client no member has acted on yet (RFC 9700 §4.17): a
/// page whose `<a id="continue">` link carries `error`, `state` and `iss`.
async fn expect_linked_error(app: &TestApp, resp: reqwest::Response, code: &str, what: &str) {
    assert_eq!(resp.status(), 400, "{what}");
    assert!(resp.headers().get("location").is_none(), "{what}");
    let html = resp.text().await.unwrap();
    let href = continue_link(&html).unwrap_or_else(|| panic!("{what}: {html}"));
    assert!(href.starts_with(REDIRECT), "{what}: {href}");
    let p = url_params(&href);
    assert_eq!(p.get("error").map(String::as_str), Some(code), "{what}");
    assert!(p.contains_key("error_description"), "{what}");
    assert_eq!(p.get("state").map(String::as_str), Some("st-123"), "{what}");
    assert_eq!(p.get("iss"), Some(&app.base), "{what}");
}

struct Client {
    id: String,
}

impl Client {
    async fn code(&self, app: &TestApp, b: &mut Browser, extra: &[(&str, &str)]) -> String {
        let resp = authorize_with_consent(app, b, &self.id, "ann@example.com", extra).await;
        let p = location_params(&resp);
        assert_eq!(p.get("iss"), Some(&app.base));
        p.get("code")
            .unwrap_or_else(|| panic!("no code: {}", location(&resp)))
            .clone()
    }

    async fn redeem(&self, app: &TestApp, code: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", self.id.as_str()),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ];
        form.extend_from_slice(extra);
        token(app, &form).await
    }

    async fn refresh(&self, app: &TestApp, rt: &str, extra: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("client_id", self.id.as_str()),
            ("refresh_token", rt),
        ];
        form.extend_from_slice(extra);
        token(app, &form).await
    }

    /// A fresh grant: (access token response).
    async fn tokens(&self, app: &TestApp, b: &mut Browser, extra: &[(&str, &str)]) -> Value {
        let code = self.code(app, b, extra).await;
        let resp = self.redeem(app, &code, &[]).await;
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }
}

async fn client(app: &TestApp, extra: Value) -> Client {
    let v = public_client(app, extra).await;
    Client {
        id: v["client_id"].as_str().unwrap().to_string(),
    }
}

/// The errors MCP clients act on. Cases sent exactly so elsewhere are not
/// repeated here: authorization request errors
/// (`authorize::request_errors_go_back_to_the_client_with_state_and_iss`),
/// code exchange errors and replays (`code::pkce_redirect_and_code_errors`,
/// `code::a_replayed_code_is_refused_and_revokes_what_it_issued`), and
/// `client_credentials` for a public client
/// (`client_credentials::every_token_error_has_its_code_and_no_store`).
#[tokio::test]
async fn every_client_visible_error_has_its_rfc_code() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let c = client(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let scope = [("scope", "agency:read offline_access")];

    // --- Token endpoint -------------------------------------------------
    // invalid_client: unknown client, and a deleted one.
    expect(
        error(
            token(
                &app,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", "no-such-client"),
                    ("code", "x"),
                    ("code_verifier", VERIFIER),
                ],
            )
            .await,
        )
        .await,
        401,
        "invalid_client",
        "unknown client",
    );
    let doomed = public_client(&app, json!({})).await;
    let doomed_id = doomed["client_id"].as_str().unwrap();
    let doomed_code = Client {
        id: doomed_id.to_string(),
    }
    .code(&app, &mut b, &scope)
    .await;
    let resp = app
        .client
        .delete(app.url(&format!("/oauth/register/{doomed_id}")))
        .bearer_auth(doomed["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let gone = Client {
        id: doomed_id.to_string(),
    };
    expect(
        error(gone.redeem(&app, &doomed_code, &[]).await).await,
        401,
        "invalid_client",
        "deleted client",
    );
    expect(
        error(gone.refresh(&app, "anything", &[]).await).await,
        401,
        "invalid_client",
        "deleted client refreshing",
    );

    // unsupported_grant_type, invalid_request.
    expect(
        error(
            token(
                &app,
                &[("grant_type", "password"), ("client_id", c.id.as_str())],
            )
            .await,
        )
        .await,
        400,
        "unsupported_grant_type",
        "password grant",
    );
    expect(
        error(token(&app, &[("client_id", c.id.as_str())]).await).await,
        400,
        "invalid_request",
        "no grant_type",
    );
    let code = c.code(&app, &mut b, &scope).await;
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=authorization_code&client_id={}&code=a&code=b",
            c.id
        ))
        .send()
        .await
        .unwrap();
    expect(error(resp).await, 400, "invalid_request", "repeated code");

    // The code's grant (its refresh token expires below), then an expired
    // code: invalid_grant.
    let first = c.redeem(&app, &code, &[]).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let late = c.code(&app, &mut b, &scope).await;
    entity::authorization_code::Entity::update_many()
        .col_expr(
            entity::authorization_code::Column::ExpiresAt,
            Expr::value(0i64),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    expect(
        error(c.redeem(&app, &late, &[]).await).await,
        400,
        "invalid_grant",
        "expired code",
    );

    // Refresh tokens: invalid_scope, invalid_target, invalid_grant.
    let grant = c.tokens(&app, &mut b, &scope).await;
    let rt = grant["refresh_token"].as_str().unwrap();
    expect(
        error(c.refresh(&app, rt, &[("scope", "billing:write")]).await).await,
        400,
        "invalid_scope",
        "widening refresh",
    );
    expect(
        error(
            c.refresh(&app, rt, &[("resource", "https://elsewhere.example")])
                .await,
        )
        .await,
        400,
        "invalid_target",
        "refresh for another resource",
    );
    expect(
        error(c.refresh(&app, "not-a-refresh-token", &[]).await).await,
        400,
        "invalid_grant",
        "unknown refresh token",
    );
    let rotated = c.refresh(&app, rt, &[]).await;
    assert_eq!(rotated.status(), 200);
    expect(
        error(c.refresh(&app, rt, &[]).await).await,
        400,
        "invalid_grant",
        "used refresh token",
    );
    let other = first["refresh_token"].as_str().unwrap();
    entity::refresh_token::Entity::update_many()
        .col_expr(entity::refresh_token::Column::ExpiresAt, Expr::value(0i64))
        .exec(&app.state.db)
        .await
        .unwrap();
    expect(
        error(c.refresh(&app, other, &[]).await).await,
        400,
        "invalid_grant",
        "expired refresh token",
    );

    // unauthorized_client: a grant the client is not registered for.
    let code_only = client(
        &app,
        json!({"grant_types": ["authorization_code"], "client_name": "Code only"}),
    )
    .await;
    expect(
        error(code_only.refresh(&app, "x", &[]).await).await,
        400,
        "unauthorized_client",
        "refresh without the refresh_token grant",
    );

    // --- Authorization endpoint ------------------------------------------
    let code_only_offline = b
        .get(&authorize_url(
            &code_only.id,
            &[("scope", "agency:read offline_access")],
        ))
        .await;
    expect_linked_error(
        &app,
        code_only_offline,
        "invalid_scope",
        "offline_access without the refresh_token grant",
    )
    .await;

    // login_required: prompt=none while signed out.
    let mut anonymous = Browser::new(&app);
    let resp = anonymous
        .get(&authorize_url(&c.id, &[("prompt", "none")]))
        .await;
    expect_redirect_error(&app, &resp, "login_required", "prompt=none signed out");
    // consent_required: prompt=none, signed in, never consented.
    let fresh = client(&app, json!({"client_name": "Fresh"})).await;
    let resp = b
        .get(&authorize_url(&fresh.id, &[("prompt", "none")]))
        .await;
    expect_linked_error(&app, resp, "consent_required", "prompt=none no consent").await;
    // Once a member has acted on its page, the same errors redirect.
    decide_on_consent(&mut b, &fresh.id, "deny").await;
    let resp = b
        .get(&authorize_url(&fresh.id, &[("prompt", "none")]))
        .await;
    expect_redirect_error(
        &app,
        &resp,
        "consent_required",
        "prompt=none after a denial",
    );
}

#[tokio::test]
async fn iss_offline_access_and_prompt_consent() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert!(
        meta["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("offline_access"))
    );
    let c = client(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let scope = [("scope", "agency:read posts:read offline_access")];

    // The consent page names offline_access; the code carries iss.
    let grant = c.tokens(&app, &mut b, &scope).await;
    assert_eq!(grant["scope"], "agency:read posts:read");
    let rt = grant["refresh_token"].as_str().unwrap();

    // Remembered consent: the shortcut answers at once, with iss.
    let resp = b.get(&authorize_url(&c.id, &scope)).await;
    assert_eq!(resp.status(), 302);
    let p = location_params(&resp);
    assert!(p.contains_key("code"));
    assert_eq!(p["iss"], app.base);
    assert_eq!(p["state"], "st-123");

    // prompt=consent shows the page again anyway.
    let resp = b
        .get(&authorize_url(&c.id, &[scope[0], ("prompt", "consent")]))
        .await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(page.contains("offline_access"), "{page}");

    // offline_access on the token request: a refresh repeats it.
    let resp = c
        .refresh(&app, rt, &[("scope", "agency:read offline_access")])
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "agency:read");
    assert!(body["refresh_token"].is_string());
}

#[tokio::test]
async fn resource_scheme_and_host_compare_case_insensitively() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let c = client(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let code = c
        .code(
            &app,
            &mut b,
            &[("scope", "agency:read offline_access"), ("resource", API)],
        )
        .await;
    let resp = c
        .redeem(&app, &code, &[("resource", "HTTP://127.0.0.1:8081")])
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], API, "the configured spelling");
    let rt = body["refresh_token"].as_str().unwrap();
    let resp = c
        .refresh(&app, rt, &[("resource", "http://127.0.0.1:8081/")])
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], API);
    let rt = body["refresh_token"].as_str().unwrap();
    // The path still counts, and so does the port.
    for other in ["http://127.0.0.1:8081/v2", "http://127.0.0.1:8082"] {
        expect(
            error(c.refresh(&app, rt, &[("resource", other)]).await).await,
            400,
            "invalid_target",
            other,
        );
    }
    // At authorize, upper case is accepted and the token names the
    // configured spelling.
    let code = c
        .code(
            &app,
            &mut b,
            &[
                ("scope", "agency:read"),
                ("resource", "HTTP://127.0.0.1:8081/"),
            ],
        )
        .await;
    let resp = c.redeem(&app, &code, &[("resource", API)]).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        jwt_parts(body["access_token"].as_str().unwrap()).1["aud"],
        API
    );
}

#[tokio::test]
async fn registration_accepts_application_type() {
    let app = spawn_app().await;
    let register = |body: Value| {
        app.client
            .post(app.url("/oauth/register"))
            .json(&body)
            .send()
    };
    let loopback = "http://127.0.0.1:33418/callback";
    // native: loopback http and private-use schemes.
    let resp = register(json!({
        "application_type": "native",
        "redirect_uris": [loopback, "com.example.agent:/cb"],
        "token_endpoint_auth_method": "none",
    }))
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["application_type"], "native");
    let read = app
        .client
        .get(app.url(&format!(
            "/oauth/register/{}",
            v["client_id"].as_str().unwrap()
        )))
        .bearer_auth(v["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["application_type"], "native");
    // web: https only.
    let resp = register(json!({
        "application_type": "web",
        "redirect_uris": ["https://agent.example/cb"],
    }))
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    for bad in [loopback, "com.example.agent:/cb"] {
        let resp = register(json!({
            "application_type": "web",
            "redirect_uris": [bad],
        }))
        .await
        .unwrap();
        assert_eq!(resp.status(), 400);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"], "invalid_redirect_uri", "{v}");
    }
    let resp = register(json!({"application_type": "desktop", "redirect_uris": [loopback]}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client_metadata");
    // Absent: loopback accepted as before (MCP clients rarely send it), and
    // nothing echoed.
    let resp = register(json!({"redirect_uris": [loopback], "token_endpoint_auth_method": "none"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    assert!(v.get("application_type").is_none(), "{v}");
}
