//! Passkeys (issue 17 item 2), as a browser and an operator see them: a
//! real Chromium with a WebDriver virtual authenticator registers a passkey
//! on /settings/security, signs out, signs in with the passkey alone and
//! consents; over plain HTTP a software authenticator
//! (`support::authenticator`) drives the same JSON endpoints: sign-in alone
//! and as the second step (`amr`), CSRF refusals, single-use and expiring
//! ceremonies, rename and remove, `user reset-mfa`, the agency MFA policy,
//! audit rows, and the script with its CSP. The apps run with their issuer
//! at `http://localhost:PORT` (an IP address cannot be an RP ID).

use std::sync::Arc;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::authenticator::SoftPasskey;
use crate::support::browser::*;
use crate::support::webdriver::{Driver, redirect_target};
use crate::support::*;

const EMAIL: &str = "ann@example.com";
const LOGIN_CSRF: &str = "skedcast_login_csrf";

async fn localhost_app() -> TestApp {
    spawn_app_on_localhost(Arc::new(fresh_db().await), &[]).await
}

/// The origin browsers send in client data: the issuer without its path.
fn origin(app: &TestApp) -> String {
    let u = url::Url::parse(&app.base).unwrap();
    u.origin().ascii_serialization()
}

fn csrf_of(html: &str) -> String {
    hidden_fields(html)
        .into_iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v)
        .expect("a csrf_token")
}

async fn json_of(resp: reqwest::Response, status: u16) -> Value {
    let got = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

/// A browser signed in with the password (no second factor yet).
async fn signed_in(app: &TestApp) -> Browser {
    let mut b = Browser::at(&app.base);
    let resp = b.sign_in(EMAIL, PASSWORD, None).await;
    assert_eq!(resp.status(), 303, "signed in");
    b
}

/// Add a passkey named `name` through the security page's ceremony.
async fn add_passkey(app: &TestApp, b: &mut Browser, name: &str) -> (SoftPasskey, Value) {
    let page = b.get("/settings/security").await.text().await.unwrap();
    let csrf = csrf_of(&page);
    let started = json_of(
        b.post_json(
            "/settings/security/passkeys/register/start",
            Some(&csrf),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let (pk, credential) = SoftPasskey::create(&started["options"], &origin(app));
    let added = json_of(
        b.post_json(
            "/settings/security/passkeys/register/finish",
            Some(&csrf),
            &json!({"ceremony": started["ceremony"], "name": name, "credential": credential}),
        )
        .await,
        201,
    )
    .await;
    (pk, added)
}

/// Start a passkey sign-in (alone) on the sign-in page: its CSRF token and
/// the start's answer.
async fn start_sign_in(b: &mut Browser) -> (String, Value) {
    let page = b.get("/login").await.text().await.unwrap();
    assert!(page.contains("data-passkey-sign-in"), "{page}");
    let csrf = b.cookies[LOGIN_CSRF].clone();
    let started = json_of(
        b.post_json("/login/passkey/start", Some(&csrf), &json!({}))
            .await,
        200,
    )
    .await;
    (csrf, started)
}

/// Sign in with `pk` alone, going on to `next`; the finish response.
async fn passkey_sign_in(
    app: &TestApp,
    b: &mut Browser,
    pk: &mut SoftPasskey,
    next: Option<&str>,
) -> reqwest::Response {
    let (csrf, started) = start_sign_in(b).await;
    let credential = pk.get(&started["options"], &origin(app));
    b.post_json(
        "/login/passkey/finish",
        Some(&csrf),
        &json!({"ceremony": started["ceremony"], "credential": credential, "next": next}),
    )
    .await
}

/// Consent to `client_id` with the browser's session and redeem the code:
/// the token response.
async fn consent_and_redeem(app: &TestApp, b: &mut Browser, client_id: &str) -> Value {
    let resp = b
        .get(&authorize_url(
            client_id,
            &[("scope", "openid agency:read"), ("prompt", "consent")],
        ))
        .await;
    assert_eq!(resp.status(), 200, "the consent page: {}", location(&resp));
    let mut form = hidden_fields(&resp.text().await.unwrap());
    form.push(("decision".into(), "allow".into()));
    let resp = b.post_form("/oauth/authorize", &form).await;
    let code = location_params(&resp)["code"].clone();
    redeem(app, client_id, &code, REDIRECT).await
}

async fn redeem(app: &TestApp, client_id: &str, code: &str, redirect: &str) -> Value {
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", redirect),
        ])
        .send()
        .await
        .unwrap();
    json_of(resp, 200).await
}

/// `amr` of the access token and of the id_token of a token response.
fn amrs(tokens: &Value) -> (Value, Value) {
    let (_, at) = jwt_parts(tokens["access_token"].as_str().unwrap());
    let (_, id) = jwt_parts(tokens["id_token"].as_str().unwrap());
    (at["amr"].clone(), id["amr"].clone())
}

async fn passkey_rows(app: &TestApp, user_id: &str) -> Vec<entity::passkey::Model> {
    entity::passkey::Entity::find()
        .filter(entity::passkey::Column::UserId.eq(user_id))
        .all(&app.state.db)
        .await
        .unwrap()
}

async fn audit_rows(app: &TestApp, event: &str) -> Vec<entity::audit_event::Model> {
    entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Event.eq(event))
        .all(&app.state.db)
        .await
        .unwrap()
}

// ---- the real browser ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_registers_a_passkey_signs_out_and_signs_in_with_it_alone() {
    // ...then, signed out again, uses it as the second step after the password.
    let (chromium, chromedriver) = crate::support::provision::chromium();
    let app = localhost_app().await;
    let user_id = member(&app, EMAIL, "Acme", "editor").await;
    let client = public_client(&app, json!({"client_name": "Desk Assistant"})).await;
    let client_id = client["client_id"].as_str().unwrap();
    let port = redirect_target().await;
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let authorize = app.url(&authorize_url(
        client_id,
        &[("redirect_uri", &redirect), ("scope", "openid agency:read")],
    ));

    let profile = tempfile::tempdir().unwrap();
    let mut d = Driver::start(&chromedriver).await;
    d.new_session(&chromium, profile.path()).await;
    let authenticator = d.add_virtual_authenticator().await;

    // Password sign-in, then add a passkey on the security page.
    d.goto(&app.url("/login?next=%2Fsettings%2Fsecurity")).await;
    d.type_into("input[name=email]", EMAIL).await;
    d.type_into("input[name=password]", PASSWORD).await;
    d.click("button[type=submit]").await;
    let at = d.url_starting_with(&app.url("/settings/security")).await;
    assert!(at.starts_with(&app.url("/settings/security")), "{at}");
    d.type_into("#passkey-name", "Work laptop").await;
    d.click("#passkey-add").await;
    let html = d.source_containing("Work laptop</strong>").await;
    assert!(html.contains("Work laptop</strong>"), "listed: {html}");
    assert!(html.contains("never used"), "{html}");
    assert!(html.contains("Passkey added."), "{html}");
    let at = d.url().await;
    assert!(
        at.ends_with("/settings/security?passkey=added#passkeys"),
        "{at}"
    );
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/security-page.png");
    d.screenshot(&shot).await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);

    // The authenticator holds one discoverable credential, the server one row.
    let creds = d.virtual_credentials(&authenticator).await;
    assert_eq!(creds.len(), 1, "{creds:?}");
    assert_eq!(creds[0]["isResidentCredential"], true, "{creds:?}");
    let rows = passkey_rows(&app, &user_id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name, "Work laptop");
    assert_eq!(
        rows[0].credential_id,
        creds[0]["credentialId"]
            .as_str()
            .unwrap()
            .trim_end_matches('=')
    );

    // Sign out through the page.
    d.goto(&app.url("/login")).await;
    d.click("form[action$='/logout'] button").await;
    let html = d.source_containing("You are signed out").await;
    assert!(html.contains("You are signed out"), "{html}");

    // The app sends the member to sign in: the passkey alone, then consent.
    d.goto(&authorize).await;
    let at = d.url_starting_with(&app.url("/login")).await;
    assert!(at.starts_with(&app.url("/login")), "{at}");
    d.click("#passkey-sign-in").await;
    let at = d.url_starting_with(&app.url("/oauth/authorize")).await;
    assert!(
        at.starts_with(&app.url("/oauth/authorize")),
        "back at authorize: {at} {}",
        d.page_source().await
    );
    let html = d.page_source().await;
    assert!(html.contains("Desk Assistant"), "{html}");
    d.click("button[name=decision][value=allow]").await;
    let landed = d.url_starting_with(&redirect).await;
    assert!(landed.starts_with(&redirect), "{landed}");

    // Signed out again, the password now asks for the passkey as the
    // second step (no TOTP: no code form).
    d.goto(&app.url("/login")).await;
    d.click("form[action$='/logout'] button").await;
    d.source_containing("You are signed out").await;
    d.goto(&app.url("/login?next=%2Fsettings%2Fsecurity")).await;
    d.type_into("input[name=email]", EMAIL).await;
    d.type_into("input[name=password]", PASSWORD).await;
    d.click("button[type=submit]").await;
    let html = d.source_containing("Use a passkey").await;
    assert!(html.contains("Two-step sign-in"), "{html}");
    assert!(!html.contains(r#"name="otp""#), "{html}");
    d.click("#passkey-second-factor").await;
    let at = d.url_starting_with(&app.url("/settings/security")).await;
    assert!(at.starts_with(&app.url("/settings/security")), "{at}");
    let sessions = entity::session::Entity::find()
        .filter(entity::session::Column::UserId.eq(user_id.as_str()))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        sessions.iter().map(|s| s.amr.as_str()).collect::<Vec<_>>(),
        ["pwd hwk"]
    );
    let _ = d.cmd(reqwest::Method::DELETE, "", None).await;

    let params: std::collections::BTreeMap<String, String> = url::Url::parse(&landed)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let tokens = redeem(&app, client_id, &params["code"], &redirect).await;
    let (at_amr, id_amr) = amrs(&tokens);
    assert_eq!(at_amr, json!(["hwk", "user"]), "a passkey alone");
    assert_eq!(id_amr, json!(["hwk", "user"]));
    let (_, claims) = jwt_parts(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], user_id.as_str());

    let rows = passkey_rows(&app, &user_id).await;
    assert!(rows[0].last_used_at.is_some(), "its use is recorded");
    let added = audit_rows(&app, "passkey.added").await;
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].actor.as_deref(), Some(user_id.as_str()));
}

// ---- the JSON endpoints over HTTP ------------------------------------------

#[tokio::test]
async fn a_passkey_signs_in_alone_or_as_the_second_step_and_amr_says_which() {
    let app = localhost_app().await;
    let user_id = member(&app, EMAIL, "Acme", "editor").await;
    let client = public_client(&app, json!({})).await;
    let client_id = client["client_id"].as_str().unwrap();
    let mut b = signed_in(&app).await;
    let (mut pk, added) = add_passkey(&app, &mut b, "  Phone  ").await;
    assert_eq!(added["name"], "Phone");
    assert_eq!(
        pk.user_handle,
        uuid::Uuid::parse_str(&user_id).unwrap().as_bytes()
    );

    // Alone: the finish answers where to go, with a session cookie.
    let mut alone = Browser::at(&app.base);
    let resp = passkey_sign_in(&app, &mut alone, &mut pk, Some("/settings/security")).await;
    let set_cookie: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let done = json_of(resp, 200).await;
    assert_eq!(done["redirect"], "/settings/security");
    assert!(
        set_cookie
            .iter()
            .any(|c| c.starts_with("skedcast_session=") && c.contains("HttpOnly")),
        "{set_cookie:?}"
    );
    let tokens = consent_and_redeem(&app, &mut alone, client_id).await;
    assert_eq!(
        amrs(&tokens),
        (json!(["hwk", "user"]), json!(["hwk", "user"]))
    );

    // A `next` off the site is not followed.
    let mut elsewhere = Browser::at(&app.base);
    let resp = passkey_sign_in(&app, &mut elsewhere, &mut pk, Some("https://evil.example/")).await;
    assert_eq!(json_of(resp, 200).await["redirect"], "/login");

    // After the password, the passkey is the second step (no TOTP: no code
    // form, only the passkey).
    let mut two = Browser::at(&app.base);
    let resp = two.sign_in(EMAIL, PASSWORD, None).await;
    assert_eq!(resp.status(), 200, "the second step, not a session");
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let page = resp.text().await.unwrap();
    assert!(page.contains("data-passkey-second-factor"), "{page}");
    assert!(!page.contains(r#"name="otp""#), "{page}");
    let csrf = two.cookies[LOGIN_CSRF].clone();
    let started = json_of(
        two.post_json(
            "/login/second-factor/passkey/start",
            Some(&csrf),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let allowed = &started["options"]["publicKey"]["allowCredentials"];
    assert_eq!(allowed.as_array().unwrap().len(), 1, "{allowed}");
    let credential = pk.get(&started["options"], &origin(&app));
    let done = json_of(
        two.post_json(
            "/login/second-factor/passkey/finish",
            Some(&csrf),
            &json!({"ceremony": started["ceremony"], "credential": credential}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(done["redirect"], "/login");
    assert!(
        !two.cookies.contains_key("skedcast_mfa"),
        "the challenge ends"
    );
    let tokens = consent_and_redeem(&app, &mut two, client_id).await;
    assert_eq!(
        amrs(&tokens),
        (json!(["pwd", "hwk"]), json!(["pwd", "hwk"]))
    );

    // An authenticator that did not verify the user is refused.
    let mut lax = Browser::at(&app.base);
    pk.verify_user = false;
    let resp = passkey_sign_in(&app, &mut lax, &mut pk, None).await;
    assert_eq!(json_of(resp, 401).await["error"], "passkey_rejected");
    assert!(!lax.cookies.contains_key("skedcast_session"));
}

#[tokio::test]
async fn the_ceremony_endpoints_refuse_requests_without_the_csrf_header() {
    let app = localhost_app().await;
    member(&app, EMAIL, "Acme", "editor").await;
    let mut b = signed_in(&app).await;
    let (mut pk, _) = add_passkey(&app, &mut b, "Laptop").await;
    let page = b.get("/settings/security").await.text().await.unwrap();
    let session_csrf = csrf_of(&page);
    for path in [
        "/settings/security/passkeys/register/start",
        "/settings/security/passkeys/register/finish",
    ] {
        for header in [None, Some("wrong"), Some("")] {
            let resp = b.post_json(path, header, &json!({})).await;
            assert_eq!(resp.headers()["cache-control"], "no-store");
            let v = json_of(resp, 403).await;
            assert_eq!(v["error"], "csrf_failed", "{path} {header:?}");
        }
    }
    // Signed out, a settings ceremony is 401 whatever it carries.
    let mut stranger = Browser::at(&app.base);
    let resp = stranger
        .post_json(
            "/settings/security/passkeys/register/start",
            Some(&session_csrf),
            &json!({}),
        )
        .await;
    assert_eq!(json_of(resp, 401).await["error"], "sign_in_required");

    // The sign-in ceremonies want the sign-in form's token, equal to its cookie.
    let mut s = Browser::at(&app.base);
    s.get("/login").await;
    let login_csrf = s.cookies[LOGIN_CSRF].clone();
    for path in [
        "/login/passkey/start",
        "/login/passkey/finish",
        "/login/second-factor/passkey/start",
        "/login/second-factor/passkey/finish",
    ] {
        for header in [None, Some(session_csrf.as_str()), Some("")] {
            let resp = s.post_json(path, header, &json!({})).await;
            let v = json_of(resp, 403).await;
            assert_eq!(v["error"], "csrf_failed", "{path} {header:?}");
        }
    }
    // A cookie-less request cannot match any header.
    let mut bare = Browser::at(&app.base);
    let resp = bare
        .post_json("/login/passkey/start", Some(&login_csrf), &json!({}))
        .await;
    assert_eq!(json_of(resp, 403).await["error"], "csrf_failed");
    // A refused finish consumed nothing: the member's passkey still signs in.
    let mut again = Browser::at(&app.base);
    let resp = passkey_sign_in(&app, &mut again, &mut pk, None).await;
    json_of(resp, 200).await;

    // A form post (what another site could make a browser send) is not JSON.
    let (csrf, started) = start_sign_in(&mut s).await;
    let resp = s
        .client
        .post(s.base.clone() + "/login/passkey/finish")
        .header(
            "cookie",
            format!("{LOGIN_CSRF}={}", s.cookies[LOGIN_CSRF].clone()),
        )
        .header("x-csrf-token", csrf)
        .form(&[("ceremony", started["ceremony"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(resp, 415).await["error"], "invalid_request");
}

#[tokio::test]
async fn a_finished_or_expired_ceremony_cannot_be_used_again() {
    let app = localhost_app().await;
    member(&app, EMAIL, "Acme", "editor").await;
    let mut b = signed_in(&app).await;
    let (mut pk, _) = add_passkey(&app, &mut b, "Laptop").await;

    // A valid answer, replayed as it was: the ceremony is gone.
    let mut s = Browser::at(&app.base);
    let (csrf, started) = start_sign_in(&mut s).await;
    let credential = pk.get(&started["options"], &origin(&app));
    let body = json!({"ceremony": started["ceremony"], "credential": credential});
    json_of(
        s.post_json("/login/passkey/finish", Some(&csrf), &body)
            .await,
        200,
    )
    .await;
    let mut replayer = Browser::at(&app.base);
    replayer.get("/login").await;
    let csrf2 = replayer.cookies[LOGIN_CSRF].clone();
    let resp = replayer
        .post_json("/login/passkey/finish", Some(&csrf2), &body)
        .await;
    assert_eq!(json_of(resp, 400).await["error"], "ceremony_expired");
    assert!(!replayer.cookies.contains_key("skedcast_session"));

    // The same answer under a new ceremony: signed over another challenge.
    let (csrf3, fresh) = start_sign_in(&mut replayer).await;
    let resp = replayer
        .post_json(
            "/login/passkey/finish",
            Some(&csrf3),
            &json!({"ceremony": fresh["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(json_of(resp, 401).await["error"], "passkey_rejected");

    // An expired ceremony: refused even with a right answer.
    let (csrf4, late) = start_sign_in(&mut replayer).await;
    let hash = skedcast_auth::crypto::sha256_hex(late["ceremony"].as_str().unwrap());
    entity::webauthn_ceremony::Entity::update_many()
        .col_expr(
            entity::webauthn_ceremony::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(skedcast_auth::clock::now() - 1),
        )
        .filter(entity::webauthn_ceremony::Column::IdHash.eq(hash))
        .exec(&app.state.db)
        .await
        .unwrap();
    let credential = pk.get(&late["options"], &origin(&app));
    let resp = replayer
        .post_json(
            "/login/passkey/finish",
            Some(&csrf4),
            &json!({"ceremony": late["ceremony"], "credential": credential}),
        )
        .await;
    assert_eq!(json_of(resp, 400).await["error"], "ceremony_expired");

    // A registration's ceremony cannot finish a sign-in, nor an unknown id.
    let page = b.get("/settings/security").await.text().await.unwrap();
    let reg = json_of(
        b.post_json(
            "/settings/security/passkeys/register/start",
            Some(&csrf_of(&page)),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let (csrf5, other) = start_sign_in(&mut replayer).await;
    let credential = pk.get(&other["options"], &origin(&app));
    for ceremony in [reg["ceremony"].clone(), json!("not-a-ceremony")] {
        let resp = replayer
            .post_json(
                "/login/passkey/finish",
                Some(&csrf5),
                &json!({"ceremony": ceremony, "credential": credential}),
            )
            .await;
        assert_eq!(json_of(resp, 400).await["error"], "ceremony_expired");
    }
    // A body that is no credential is a precise 400, never a 500.
    let resp = replayer
        .post_json(
            "/login/passkey/finish",
            Some(&csrf5),
            &json!({"ceremony": other["ceremony"], "credential": {"id": 1}}),
        )
        .await;
    let v = json_of(resp, 400).await;
    assert_eq!(v["error"], "invalid_request");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("credential"),
        "{v}"
    );
}

#[tokio::test]
async fn passkeys_are_renamed_and_removed_on_the_security_page_and_audited() {
    let app = localhost_app().await;
    let user_id = member(&app, EMAIL, "Acme", "editor").await;
    let mut b = signed_in(&app).await;
    let (mut laptop, _) = add_passkey(&app, &mut b, "Laptop").await;
    let (_phone, _) = add_passkey(&app, &mut b, "").await;
    let rows = passkey_rows(&app, &user_id).await;
    let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["Laptop", "Passkey"], "no name: the default");
    let page = b.get("/settings/security").await.text().await.unwrap();
    assert!(page.contains("Laptop</strong>") && page.contains("Passkey</strong>"));
    let csrf = csrf_of(&page);
    let laptop_row = rows.iter().find(|r| r.name == "Laptop").unwrap().clone();
    let phone_row = rows.iter().find(|r| r.name == "Passkey").unwrap().clone();

    let form = |action: &str, id: &str, extra: &[(&str, &str)], csrf: &str| {
        let mut f = vec![
            ("csrf_token".to_string(), csrf.to_string()),
            ("action".to_string(), action.to_string()),
            ("passkey_id".to_string(), id.to_string()),
        ];
        f.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        f
    };
    let resp = b
        .post_form(
            "/settings/security",
            &form("passkey_rename", &phone_row.id, &[("name", "Phone")], &csrf),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("Phone</strong>"));
    let resp = b
        .post_form(
            "/settings/security",
            &form(
                "passkey_rename",
                &phone_row.id,
                &[("name", &"x".repeat(65))],
                &csrf,
            ),
        )
        .await;
    assert_eq!(resp.status(), 400);

    // Without the form's token nothing is removed.
    let resp = b
        .post_form(
            "/settings/security",
            &form("passkey_remove", &laptop_row.id, &[], "forged"),
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(passkey_rows(&app, &user_id).await.len(), 2);
    // Another member cannot remove it either.
    member(&app, "bob@example.com", "Acme", "editor").await;
    let mut bob = Browser::at(&app.base);
    bob.sign_in("bob@example.com", PASSWORD, None).await;
    let bob_page = bob.get("/settings/security").await.text().await.unwrap();
    let resp = bob
        .post_form(
            "/settings/security",
            &form("passkey_remove", &laptop_row.id, &[], &csrf_of(&bob_page)),
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(passkey_rows(&app, &user_id).await.len(), 2);

    let resp = b
        .post_form(
            "/settings/security",
            &form("passkey_remove", &laptop_row.id, &[], &csrf),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(page.contains("Passkey removed"), "{page}");
    assert!(!page.contains("Laptop</strong>"));
    assert_eq!(passkey_rows(&app, &user_id).await.len(), 1);

    // The removed passkey no longer signs in.
    let mut s = Browser::at(&app.base);
    let resp = passkey_sign_in(&app, &mut s, &mut laptop, None).await;
    assert_eq!(json_of(resp, 401).await["error"], "passkey_rejected");

    // Audit: two added, one removed, by the member, ids only.
    let added = audit_rows(&app, "passkey.added").await;
    let removed = audit_rows(&app, "passkey.removed").await;
    assert_eq!(added.len(), 2);
    assert_eq!(removed.len(), 1);
    let acme = skedcast_auth::accounts::find_agency(&app.state.db, "Acme")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(removed[0].actor.as_deref(), Some(user_id.as_str()));
    assert_eq!(removed[0].agency_id.as_deref(), Some(acme.as_str()));
    assert_eq!(
        removed[0].target.as_deref(),
        Some(format!("user:{user_id} passkey:{}", laptop_row.id).as_str())
    );
    assert_eq!(removed[0].ip.as_deref(), Some("127.0.0.1"));
    let credential_ids = [
        laptop_row.credential_id.clone(),
        phone_row.credential_id.clone(),
    ];
    let all = entity::audit_event::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    for row in &all {
        let text = format!("{row:?}");
        for secret in credential_ids.iter().chain([&laptop_row.passkey]) {
            assert!(!text.contains(secret.as_str()), "{text}");
        }
    }
}

#[tokio::test]
async fn reset_mfa_removes_passkeys_and_the_agency_policy_counts_them() {
    let app = localhost_app().await;
    let user_id = member(&app, EMAIL, "Acme", "editor").await;
    let client = public_client(&app, json!({})).await;
    let client_id = client["client_id"].as_str().unwrap();
    let out = app.cli(&[
        "agency",
        "set-policy",
        "--agency",
        "Acme",
        "--require-mfa",
        "true",
    ]);
    assert!(out.status.success());

    // Without a second factor the policy sends the member to enrol...
    let mut b = signed_in(&app).await;
    let url = authorize_url(client_id, &[("scope", "openid agency:read")]);
    let resp = b.get(&url).await;
    assert_eq!(resp.status(), 302);
    let to = location(&resp);
    assert!(b.relative(&to).starts_with("/settings/security?"), "{to}");
    let page = b.get(&to).await.text().await.unwrap();
    assert!(page.contains("or add a passkey to continue"), "{page}");
    assert!(!page.contains(r#"id="continue""#));
    // ...and a passkey is one: the page offers the way back, and consent.
    let (mut pk, _) = add_passkey(&app, &mut b, "Laptop").await;
    let page = b.get(&to).await.text().await.unwrap();
    assert!(page.contains(r#"<a id="continue""#), "{page}");
    let resp = b.get(&url).await;
    assert_eq!(resp.status(), 200, "the consent page: {}", location(&resp));
    // The password alone no longer signs in: the passkey is asked for.
    let mut b2 = Browser::at(&app.base);
    assert_eq!(b2.sign_in(EMAIL, PASSWORD, None).await.status(), 200);

    let out = app.cli(&["user", "reset-mfa", "--email", EMAIL]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 passkeys"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(passkey_rows(&app, &user_id).await.is_empty());
    let removed = audit_rows(&app, "passkey.removed").await;
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].actor.as_deref(), Some("cli"));
    assert_eq!(removed[0].ip, None);

    // The password signs in alone again, the passkey not at all, and the
    // policy sends the member to enrol again.
    let mut b3 = Browser::at(&app.base);
    assert_eq!(b3.sign_in(EMAIL, PASSWORD, None).await.status(), 303);
    let mut s = Browser::at(&app.base);
    let resp = passkey_sign_in(&app, &mut s, &mut pk, None).await;
    assert_eq!(json_of(resp, 401).await["error"], "passkey_rejected");
    let resp = b3.get(&url).await;
    assert_eq!(resp.status(), 302);
    assert!(
        b3.relative(&location(&resp))
            .starts_with("/settings/security?")
    );
}

#[tokio::test]
async fn the_script_is_same_origin_and_only_passkey_pages_may_run_it() {
    let app = localhost_app().await;
    member(&app, EMAIL, "Acme", "editor").await;
    let resp = app.get("/static/passkeys.js").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(resp.headers()["cache-control"], "public, max-age=3600");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert!(resp.text().await.unwrap().contains("navigator.credentials"));
    let resp = app
        .client
        .get(app.url("/static/passkeys.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);

    let mut b = Browser::at(&app.base);
    let resp = b.get("/login").await;
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let page = resp.text().await.unwrap();
    assert!(page.contains(r#"<script src="/static/passkeys.js" defer></script>"#));
    assert_eq!(page.matches("<script").count(), 1, "no inline script");
    for handler in ["onclick=", "onload=", "onsubmit=", "javascript:"] {
        assert!(!page.contains(handler), "no inline handlers: {page}");
    }
    assert!(page.contains("Sign in with a passkey"));

    b.sign_in(EMAIL, PASSWORD, None).await;
    let resp = b.get("/settings/security").await;
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self';")
    );
    let page = resp.text().await.unwrap();
    assert!(page.contains("id=\"passkey-add\""), "{page}");
    assert_eq!(page.matches("<script").count(), 1);

    // Pages without passkeys keep the strict policy: no script at all.
    let client = public_client(&app, json!({})).await;
    let resp = b
        .get(&authorize_url(client["client_id"].as_str().unwrap(), &[]))
        .await;
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(!csp.contains("script-src"), "{csp}");
}

#[tokio::test]
async fn an_issuer_on_an_ip_address_offers_no_passkeys() {
    let app = spawn_app().await;
    member(&app, EMAIL, "Acme", "editor").await;
    let mut b = Browser::new(&app);
    let page = b.get("/login").await.text().await.unwrap();
    assert!(!page.contains("passkey"), "{page}");
    let csrf = b.cookies[LOGIN_CSRF].clone();
    let resp = b
        .post_json("/login/passkey/start", Some(&csrf), &json!({}))
        .await;
    assert_eq!(json_of(resp, 404).await["error"], "passkeys_unavailable");
    b.sign_in(EMAIL, PASSWORD, None).await;
    let page = b.get("/settings/security").await.text().await.unwrap();
    assert!(
        page.contains("Passkeys need this server at a domain name"),
        "{page}"
    );
    assert!(!page.contains("<script"), "{page}");
}

#[tokio::test]
async fn passkey_sign_in_starts_are_limited_per_address() {
    let app = localhost_app().await;
    let mut s = Browser::at(&app.base);
    s.get("/login").await;
    let csrf = s.cookies[LOGIN_CSRF].clone();
    away_from_window_edge(15).await;
    for i in 0..30 {
        let resp = s
            .post_json("/login/passkey/start", Some(&csrf), &json!({}))
            .await;
        assert_eq!(resp.status(), 200, "start {i}");
    }
    let resp = s
        .post_json("/login/passkey/start", Some(&csrf), &json!({}))
        .await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(json_of(resp, 429).await["error"], "too_many_requests");
}
