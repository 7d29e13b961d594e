//! The device authorization grant (RFC 8628, issue 18): a device starts at
//! `/oauth/device_authorization`, the member signs in at `/device`, enters
//! (or confirms) the user code and answers the consent page, and the device
//! polls the token endpoint: `authorization_pending`, `slow_down`,
//! `access_denied`, `expired_token`, then the code grant's tokens, once.

use std::sync::Arc;

use reqwest::{Response, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::support::browser::*;
use crate::support::flow::{error_code, ok_json};
use crate::support::*;

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public device client (a CLI) registered over RFC 7591: the device and
/// refresh grants, no redirect URI.
pub async fn device_client(app: &TestApp, extra: Value) -> String {
    let mut body = json!({
        "client_name": "TV App",
        "grant_types": [DEVICE_GRANT, "refresh_token"],
        "token_endpoint_auth_method": "none",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let resp = app
        .client
        .post(app.url("/oauth/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let reg: Value = resp.json().await.unwrap();
    assert_eq!(
        reg["grant_types"], body["grant_types"],
        "DCR accepts the grant"
    );
    reg["client_id"].as_str().unwrap().to_string()
}

async fn start_raw(app: &TestApp, form: &[(&str, &str)]) -> Response {
    app.client
        .post(app.url("/oauth/device_authorization"))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A device authorization of `client_id` for `scope`.
async fn start(app: &TestApp, client_id: &str, scope: &str) -> Value {
    ok_json(start_raw(app, &[("client_id", client_id), ("scope", scope)]).await).await
}

pub(crate) async fn poll(app: &TestApp, client_id: &str, device_code: &str) -> Response {
    app.client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", DEVICE_GRANT),
            ("client_id", client_id),
            ("device_code", device_code),
        ])
        .send()
        .await
        .unwrap()
}

pub(crate) async fn poll_error(app: &TestApp, client_id: &str, device_code: &str) -> String {
    let (status, error) = error_code(poll(app, client_id, device_code).await).await;
    assert_eq!(status, 400, "{error}");
    error
}

async fn sql(app: &TestApp, statement: &str) {
    let db = &app.state.db;
    db.execute_raw(Statement::from_string(db.get_database_backend(), statement))
        .await
        .unwrap();
}

/// The member opens `verification_uri_complete`, signs in (the sign-in page
/// comes back to the device page), and gets the code form with the code
/// filled in; returns that form's page.
async fn open_signed_in(b: &mut Browser, complete: &str, email: &str) -> String {
    let resp = b.get(complete).await;
    assert_eq!(resp.status(), 302, "signed out: to the sign-in page");
    let login = location(&resp);
    assert!(b.relative(&login).starts_with("/login?next="), "{login}");
    let page = b.get(&login).await.text().await.unwrap();
    let mut form = hidden_fields(&page);
    form.push(("email".into(), email.into()));
    form.push(("password".into(), PASSWORD.into()));
    let signed = b.post_form("/login", &form).await;
    assert_eq!(signed.status(), 303, "sign-in");
    let back = location(&signed);
    assert!(b.relative(&back).starts_with("/device"), "{back}");
    let resp = b.get(&back).await;
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// The value of the code form's `user_code` input.
fn filled_in(page: &str) -> String {
    let input = page.split("name=\"user_code\"").nth(1).unwrap();
    input
        .split("value=\"")
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap()
        .to_string()
}

/// Submit the code form with `typed`.
async fn enter_code(b: &mut Browser, page: &str, typed: &str) -> Response {
    let mut form = hidden_fields(page);
    form.push(("user_code".into(), typed.into()));
    b.post_form("/device", &form).await
}

/// Answer a consent page with `decision`; returns the final page.
pub(crate) async fn answer(b: &mut Browser, consent: &str, decision: &str) -> (StatusCode, String) {
    let mut form = hidden_fields(consent);
    form.push(("decision".into(), decision.into()));
    let resp = b.post_form("/device", &form).await;
    (resp.status(), resp.text().await.unwrap())
}

/// A member "ann" (`role` in Acme), a device client, a started device
/// authorization for `scope`, and the consent page reached through the
/// device page with the pre-filled code confirmed.
pub(crate) struct Started {
    pub app: TestApp,
    pub client_id: String,
    pub user_id: String,
    pub device: Value,
    pub b: Browser,
    pub consent: String,
}

pub(crate) async fn started(app: TestApp, role: &str, scope: &str) -> Started {
    let user_id = member(&app, "ann@example.com", "Acme", role).await;
    let client_id = device_client(&app, json!({})).await;
    let device = start(&app, &client_id, scope).await;
    let mut b = Browser::new(&app);
    let complete = device["verification_uri_complete"].as_str().unwrap();
    let page = open_signed_in(&mut b, complete, "ann@example.com").await;
    let code = filled_in(&page);
    assert_eq!(code, device["user_code"].as_str().unwrap(), "pre-filled");
    let resp = enter_code(&mut b, &page, &code).await;
    assert_eq!(resp.status(), 200, "the consent page");
    let consent = resp.text().await.unwrap();
    Started {
        app,
        client_id,
        user_id,
        device,
        b,
        consent,
    }
}

impl Started {
    pub(crate) fn device_code(&self) -> &str {
        self.device["device_code"].as_str().unwrap()
    }
}

#[tokio::test]
async fn a_device_is_connected_through_the_pages() {
    let app = spawn_app().await;
    let user_id = member(&app, "ann@example.com", "Acme", "editor").await;
    let client_id = device_client(&app, json!({})).await;
    let device = start(&app, &client_id, "agency:read posts:write offline_access").await;

    // RFC 8628 §3.2.
    let device_code = device["device_code"].as_str().unwrap();
    assert!(device_code.len() >= 43, "256 bits: {device_code}");
    let user_code = device["user_code"].as_str().unwrap();
    let (a, b_) = user_code.split_once('-').unwrap();
    for half in [a, b_] {
        assert_eq!(half.len(), 4, "{user_code}");
        assert!(
            half.bytes().all(|c| b"BCDFGHJKLMNPQRSTVWXZ".contains(&c)),
            "{user_code}"
        );
    }
    assert_eq!(device["verification_uri"], app.url("/device"));
    assert_eq!(
        device["verification_uri_complete"],
        format!("{}?user_code={user_code}", app.url("/device"))
    );
    assert_eq!(device["expires_in"], 600);
    assert_eq!(device["interval"], 5);

    assert_eq!(
        poll_error(&app, &client_id, device_code).await,
        "authorization_pending"
    );

    // The member: sign-in, the code form with the code filled in, which
    // they confirm (typed in lower case without the dash: the same code).
    let mut b = Browser::new(&app);
    let complete = device["verification_uri_complete"].as_str().unwrap();
    let page = open_signed_in(&mut b, complete, "ann@example.com").await;
    assert!(
        page.contains("<input id=\"user_code\" name=\"user_code\""),
        "{page}"
    );
    assert_eq!(filled_in(&page), user_code);
    let typed = user_code.replace('-', "").to_lowercase();
    let resp = enter_code(&mut b, &page, &typed).await;
    assert_eq!(resp.status(), 200);
    let consent = resp.text().await.unwrap();
    assert!(consent.contains("TV App"), "{consent}");
    assert!(consent.contains("on a device"), "{consent}");
    assert!(consent.contains(user_code), "the code is shown: {consent}");
    assert!(consent.contains("action=\"/device\""), "{consent}");
    assert!(consent.contains("name=\"csrf_token\""), "{consent}");

    // A consent form without its CSRF token changes nothing.
    let forged: Vec<(String, String)> = hidden_fields(&consent)
        .into_iter()
        .filter(|(k, _)| k != "csrf_token")
        .chain([("decision".to_string(), "allow".to_string())])
        .collect();
    assert_eq!(b.post_form("/device", &forged).await.status(), 403);

    let (status, done) = answer(&mut b, &consent, "allow").await;
    assert_eq!(status, 200);
    assert!(done.contains("Device connected"), "{done}");
    // An authorized client: housekeeping keeps it (unused public
    // registrations are deleted).
    let row = skedcast_auth::oauth::client::store::find(&app.state.db, &client_id)
        .await
        .unwrap()
        .unwrap();
    assert!(row.first_authorized_at.is_some());

    // The device gets the code grant's tokens, at once (the member's
    // answer is not held back by the polling interval), once.
    let tokens = ok_json(poll(&app, &client_id, device_code).await).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "agency:read posts:write");
    let (header, claims) = jwt_parts(tokens["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["client_id"], client_id.as_str());
    assert_eq!(claims["role"], "editor");
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["aud"], app.state.settings.default_resource.as_str());
    let jwks = app.get_json("/.well-known/jwks.json").await;
    verify_with_p256(tokens["access_token"].as_str().unwrap(), &jwks).unwrap();
    assert_eq!(
        poll_error(&app, &client_id, device_code).await,
        "invalid_grant",
        "used once"
    );

    // The refresh token rotates like the code grant's.
    let refreshed = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id.as_str()),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let refreshed = ok_json(refreshed).await;
    assert_eq!(refreshed["scope"], "agency:read posts:write");
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);

    // The code cannot be entered again.
    let page = b.get("/device").await.text().await.unwrap();
    let resp = enter_code(&mut b, &page, user_code).await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("That code is not valid")
    );
}

#[tokio::test]
async fn offline_access_needs_the_refresh_token_grant() {
    // Like the code grant: a refresh token exactly when the client has the
    // refresh_token grant; a client without it cannot ask offline_access.
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "viewer").await;
    let client_id = device_client(&app, json!({"grant_types": [DEVICE_GRANT]})).await;
    let resp = start_raw(
        &app,
        &[
            ("client_id", &client_id),
            ("scope", "agency:read offline_access"),
        ],
    )
    .await;
    assert_eq!(
        error_code(resp).await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
}

#[tokio::test]
async fn the_endpoint_authenticates_and_checks_like_the_endpoints_it_joins() {
    let app = spawn_app().await;
    let device = device_client(&app, json!({})).await;
    // Scope and resource as at /oauth/authorize.
    for (form, error) in [
        (vec![("scope", "agency:read nope")], "invalid_scope"),
        (vec![("scope", "offline_access")], "invalid_scope"),
        (
            vec![
                ("scope", "agency:read"),
                ("resource", "https://elsewhere.example"),
            ],
            "invalid_target",
        ),
        (
            vec![("scope", "agency:read"), ("scope", "posts:read")],
            "invalid_request",
        ),
    ] {
        let mut f = vec![("client_id", device.as_str())];
        f.extend(form.iter().copied());
        let (status, e) = error_code(start_raw(&app, &f).await).await;
        assert_eq!(
            (status, e.as_str()),
            (StatusCode::BAD_REQUEST, error),
            "{form:?}"
        );
    }
    // Client authentication as at the token endpoint.
    let (status, e) = error_code(start_raw(&app, &[("client_id", "nobody")]).await).await;
    assert_eq!(
        (status, e.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    let (status, e) = error_code(start_raw(&app, &[("scope", "agency:read")]).await).await;
    assert_eq!(
        (status, e.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    // A client that did not register the grant.
    let web = public_client(&app, json!({})).await;
    let web = web["client_id"].as_str().unwrap();
    let (status, e) = error_code(start_raw(&app, &[("client_id", web)]).await).await;
    assert_eq!(
        (status, e.as_str()),
        (StatusCode::BAD_REQUEST, "unauthorized_client")
    );
    // ... nor poll with it.
    let (status, e) = error_code(poll(&app, web, "whatever").await).await;
    assert_eq!(
        (status, e.as_str()),
        (StatusCode::BAD_REQUEST, "unauthorized_client")
    );
    // A device code is bound to its client; a made-up one is unknown.
    let other = device_client(&app, json!({})).await;
    let d = start(&app, &device, "agency:read").await;
    let code = d["device_code"].as_str().unwrap();
    assert_eq!(poll_error(&app, &other, code).await, "invalid_grant");
    assert_eq!(poll_error(&app, &device, "made-up").await, "invalid_grant");
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[("grant_type", DEVICE_GRANT), ("client_id", device.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await.1, "invalid_request");
    // A confidential device client authenticates with its secret.
    let resp = app
        .client
        .post(app.url("/oauth/register"))
        .json(&json!({"client_name": "Box", "grant_types": [DEVICE_GRANT]}))
        .send()
        .await
        .unwrap();
    let reg: Value = resp.json().await.unwrap();
    let (id, secret) = (
        reg["client_id"].as_str().unwrap(),
        reg["client_secret"].as_str().unwrap(),
    );
    let resp = app
        .client
        .post(app.url("/oauth/device_authorization"))
        .basic_auth(id, Some(secret))
        .form(&[("scope", "agency:read")])
        .send()
        .await
        .unwrap();
    ok_json(resp).await;
    let resp = app
        .client
        .post(app.url("/oauth/device_authorization"))
        .basic_auth(id, Some("wrong"))
        .form(&[("scope", "agency:read")])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await.1, "invalid_client");
}

#[tokio::test]
async fn metadata_registration_and_cors_name_the_device_grant() {
    let app = spawn_app().await;
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        meta["device_authorization_endpoint"],
        app.url("/oauth/device_authorization")
    );
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(DEVICE_GRANT)),
        "{meta}"
    );
    let resp = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            app.url("/oauth/device_authorization"),
        )
        .header("Origin", "https://agent.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    let resp = start_raw(&app, &[("client_id", "nobody")]).await;
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    // The page itself sends none.
    let resp = app.get("/device").await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
}

#[tokio::test]
async fn polling_too_fast_slows_the_device_down_on_every_instance() {
    let app = spawn_app().await;
    // A second instance on the same database.
    let other = spawn_app_with(app.db.clone(), &[]).await;
    let client_id = device_client(&app, json!({})).await;
    let device = start(&app, &client_id, "agency:read").await;
    let code = device["device_code"].as_str().unwrap();
    assert_eq!(
        poll_error(&app, &client_id, code).await,
        "authorization_pending"
    );
    // At once again, on the other instance: too fast.
    assert_eq!(poll_error(&other, &client_id, code).await, "slow_down");
    // 6 s later is enough for the first interval (5 s) but not for the
    // slowed-down one (10 s): the device code remembers it.
    sql(
        &app,
        "UPDATE device_authorizations SET last_poll_at = last_poll_at - 6",
    )
    .await;
    assert_eq!(poll_error(&app, &client_id, code).await, "slow_down");
    // Now 15 s, counted from that last poll.
    sql(
        &app,
        "UPDATE device_authorizations SET last_poll_at = last_poll_at - 15",
    )
    .await;
    assert_eq!(
        poll_error(&other, &client_id, code).await,
        "authorization_pending"
    );
}

#[tokio::test]
async fn a_denied_device_gets_access_denied() {
    let mut s = started(spawn_app().await, "viewer", "agency:read").await;
    let (status, page) = answer(&mut s.b, &s.consent.clone(), "deny").await;
    assert_eq!(status, 200);
    assert!(page.contains("You denied the request"), "{page}");
    let code = s.device_code().to_string();
    assert_eq!(
        poll_error(&s.app, &s.client_id, &code).await,
        "access_denied"
    );
    // The answer stands: the consent form cannot be sent again.
    let (status, page) = answer(&mut s.b, &s.consent.clone(), "allow").await;
    assert_eq!(status, 400);
    assert!(page.contains("That code is not valid"), "{page}");
    assert_eq!(
        poll_error(&s.app, &s.client_id, &code).await,
        "access_denied"
    );
}

#[tokio::test]
async fn the_tokens_say_when_and_how_the_approving_member_signed_in() {
    let mut s = started(spawn_app().await, "editor", "agency:read openid").await;
    // As if the session had started 100 s ago with a second factor: what
    // the device's tokens must repeat.
    let signed_in_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 100;
    sql(
        &s.app,
        &format!("UPDATE sessions SET amr = 'pwd otp', created_at = {signed_in_at}"),
    )
    .await;
    let (status, page) = answer(&mut s.b, &s.consent.clone(), "allow").await;
    assert_eq!(status, 200, "{page}");
    let code = s.device_code().to_string();
    let tokens: Value = poll(&s.app, &s.client_id, &code)
        .await
        .json()
        .await
        .unwrap();
    let (_, id_token) = jwt_parts(tokens["id_token"].as_str().expect("an id_token"));
    assert_eq!(id_token["auth_time"], signed_in_at, "{id_token}");
    assert_eq!(id_token["amr"], json!(["pwd", "otp"]), "{id_token}");
    let (_, access) = jwt_parts(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["amr"], json!(["pwd", "otp"]), "{access}");
}

#[tokio::test]
async fn a_role_without_the_scopes_refuses_the_device() {
    let mut s = started(spawn_app().await, "viewer", "billing:write").await;
    let (status, page) = answer(&mut s.b, &s.consent.clone(), "allow").await;
    assert_eq!(status, 403, "{page}");
    let code = s.device_code().to_string();
    assert_eq!(
        poll_error(&s.app, &s.client_id, &code).await,
        "access_denied"
    );
}

#[tokio::test]
async fn an_expired_device_code_gets_expired_token() {
    let app = spawn_app_with(
        Arc::new(fresh_db().await),
        &[("SKEDCAST__CLIENTS__DEVICE_CODE_TTL_SECS", "120")],
    )
    .await;
    member(&app, "ann@example.com", "Acme", "viewer").await;
    let client_id = device_client(&app, json!({})).await;
    let device = start(&app, &client_id, "agency:read").await;
    assert_eq!(device["expires_in"], 120, "clients.device_code_ttl_secs");
    let code = device["device_code"].as_str().unwrap();
    assert_eq!(
        poll_error(&app, &client_id, code).await,
        "authorization_pending"
    );
    // The app has no test clock: the row ages by its whole lifetime.
    sql(
        &app,
        "UPDATE device_authorizations SET expires_at = expires_at - 120",
    )
    .await;
    assert_eq!(poll_error(&app, &client_id, code).await, "expired_token");
    // The member can no longer enter its code.
    let mut b = Browser::new(&app);
    let complete = device["verification_uri_complete"].as_str().unwrap();
    let page = open_signed_in(&mut b, complete, "ann@example.com").await;
    let resp = enter_code(&mut b, &page, &filled_in(&page)).await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("That code is not valid")
    );
    // An approval that expired before the device came back.
    let mut s = started(spawn_app().await, "viewer", "agency:read").await;
    answer(&mut s.b, &s.consent.clone(), "allow").await;
    sql(
        &s.app,
        "UPDATE device_authorizations SET expires_at = expires_at - 600",
    )
    .await;
    let code = s.device_code().to_string();
    assert_eq!(
        poll_error(&s.app, &s.client_id, &code).await,
        "expired_token"
    );
}

#[tokio::test]
async fn concurrent_polls_of_an_approved_device_redeem_it_once() {
    let mut s = started(spawn_app().await, "owner", "agency:read offline_access").await;
    let (status, _) = answer(&mut s.b, &s.consent.clone(), "allow").await;
    assert_eq!(status, 200);
    let app = Arc::new(s.app);
    let polls = (0..8).map(|_| {
        let app = app.clone();
        let (client_id, code) = (s.client_id.clone(), s.device["device_code"].clone());
        tokio::spawn(async move {
            let resp = poll(&app, &client_id, code.as_str().unwrap()).await;
            let status = resp.status();
            let body: Value = resp.json().await.unwrap();
            (status, body)
        })
    });
    let results: Vec<(StatusCode, Value)> = futures_join(polls).await;
    let won: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(won[0]["refresh_token"].is_string());
    let (_, claims) = jwt_parts(won[0]["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], s.user_id.as_str());
    for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 400, "{body}");
        assert_eq!(body["error"], "invalid_grant", "{body}");
    }
}

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let handles: Vec<_> = handles.collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn wrong_codes_are_throttled_per_session() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "viewer").await;
    let client_id = device_client(&app, json!({})).await;
    let device = start(&app, &client_id, "agency:read").await;
    let right = device["user_code"].as_str().unwrap();
    let mut b = Browser::new(&app);
    let page = open_signed_in(&mut b, &app.url("/device?user_code=x"), "ann@example.com").await;
    // A near miss and unrelated codes get the same answer.
    let near = format!(
        "{}{}",
        &right[..8],
        if right.ends_with('B') { 'C' } else { 'B' }
    );
    let mut answers = Vec::new();
    for typed in [
        near.as_str(),
        "BBBB-BBBB",
        "CCCC-CCCC",
        "DDDD-DDDD",
        "FFFF-FFFF",
    ] {
        if typed == right {
            continue;
        }
        let resp = enter_code(&mut b, &page, typed).await;
        assert_eq!(resp.status(), 400, "{typed}");
        let text = resp.text().await.unwrap();
        answers.push(
            text.split("role=\"alert\">")
                .nth(1)
                .unwrap()
                .split('<')
                .next()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(answers.len(), 5);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    // The sixth attempt is refused before it is looked up, even the right code.
    let resp = enter_code(&mut b, &page, right).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    // Another session (another member's browser) is not held back.
    member(&app, "bob@example.com", "Acme", "viewer").await;
    let mut other = Browser::new(&app);
    let complete = device["verification_uri_complete"].as_str().unwrap();
    let page = open_signed_in(&mut other, complete, "bob@example.com").await;
    let resp = enter_code(&mut other, &page, right).await;
    assert_eq!(resp.status(), 200, "the consent page");
}

/// A CLI written with another ecosystem's OAuth library (Python oauthlib's
/// `DeviceClient`, pinned in `support::provision::OAUTHLIB`) signs in:
/// it shows the code, the member answers in a browser, the CLI's polling
/// gets tokens and refreshes them.
#[tokio::test]
async fn a_cli_built_on_oauthlib_signs_in_with_the_device_grant() {
    use tokio::io::AsyncBufReadExt;
    let python = crate::support::provision::oauthlib_python();
    let app = spawn_app().await;
    let user_id = member(&app, "ann@example.com", "Acme", "viewer").await;
    let client_id = device_client(&app, json!({"client_name": "skedcast-cli"})).await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/device_cli/device_login.py"
    );
    let mut cli = tokio::process::Command::new(&python)
        .arg(script)
        .env("ISSUER", &app.base)
        .env("CLIENT_ID", &client_id)
        .env("SCOPE", "agency:read offline_access")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(cli.stdout.take().unwrap()).lines();
    let first = lines
        .next_line()
        .await
        .unwrap()
        .expect("the CLI's first line");
    let start: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(start["event"], "start", "{start}");
    assert_eq!(
        start["oauthlib"],
        crate::support::provision::OAUTHLIB.trim_start_matches("oauthlib=="),
        "the venv has the pinned oauthlib"
    );
    assert_eq!(start["verification_uri"], app.url("/device"));

    // The member types the code the CLI printed.
    let mut b = Browser::new(&app);
    let page = open_signed_in(&mut b, &app.url("/device"), "ann@example.com").await;
    let resp = enter_code(&mut b, &page, start["user_code"].as_str().unwrap()).await;
    assert_eq!(resp.status(), 200);
    let consent = resp.text().await.unwrap();
    assert!(consent.contains("skedcast-cli"), "{consent}");
    let (status, _) = answer(&mut b, &consent, "allow").await;
    assert_eq!(status, 200);

    let mut last = String::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        last = line;
    }
    let exit = cli.wait().await.unwrap();
    let result: Value = serde_json::from_str(&last).unwrap_or_else(|_| json!({"raw": last}));
    assert!(exit.success(), "the CLI failed: {result}");
    assert_eq!(result["event"], "tokens", "{result}");
    assert_eq!(result["token_type"], "Bearer");
    // As the code grant: the access token's permissions (oauthlib splits them).
    assert_eq!(result["scope"], json!(["agency:read"]), "{result}");
    assert_eq!(result["refreshed"], true, "{result}");
    let (_, claims) = jwt_parts(result["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["client_id"], client_id.as_str());
}

#[tokio::test]
async fn the_device_flow_works_under_an_issuer_with_a_path() {
    let app = spawn_app_at_path(Arc::new(fresh_db().await), "/tenant1", &[]).await;
    let mut s = started(app, "viewer", "agency:read").await;
    assert_eq!(
        s.device["verification_uri"],
        format!("http://{}/tenant1/device", s.app.addr)
    );
    assert!(
        s.consent.contains("action=\"/tenant1/device\""),
        "{}",
        s.consent
    );
    let (status, _) = answer(&mut s.b, &s.consent.clone(), "allow").await;
    assert_eq!(status, 200);
    let code = s.device_code().to_string();
    let tokens = ok_json(poll(&s.app, &s.client_id, &code).await).await;
    let (_, claims) = jwt_parts(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["iss"], s.app.base.as_str());
}
