//! TOTP second factor and the agency MFA policy (issue 17 items 1 and 3),
//! through the real forms with their CSRF tokens: enrolment on
//! /settings/security with the secret the page shows (codes computed here
//! with totp-rs at the current time, ±1 step as the server allows), the
//! second sign-in step, recovery codes, throttling, `user reset-mfa`,
//! `agency set-policy`, and `amr` in the id_token and the access token.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::browser::*;
use crate::support::flow::ok_json;
use crate::support::*;

const EMAIL: &str = "ann@example.com";

/// The code of `secret` (base32) for the step `steps_ahead` after now.
pub(crate) fn code_of(secret: &str, steps_ahead: u64) -> String {
    let t = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    t.generate(now + 30 * steps_ahead).to_string()
}

/// The value of attribute `attr` (its first occurrence) in a page.
fn attr(html: &str, attr: &str) -> Option<String> {
    let rest = html.split(&format!("{attr}=\"")).nth(1)?;
    rest.split('"').next().map(str::to_string)
}

fn csrf_of(html: &str) -> String {
    hidden_fields(html)
        .into_iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v)
        .expect("a csrf_token")
}

/// POST one action of the security page, with the page's CSRF token.
async fn security_action(
    b: &mut Browser,
    action: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let page = b.get("/settings/security").await.text().await.unwrap();
    let mut form = vec![
        ("csrf_token".to_string(), csrf_of(&page)),
        ("action".to_string(), action.to_string()),
    ];
    form.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    b.post_form("/settings/security", &form).await
}

/// Turn TOTP on for the signed-in browser: the secret shown and the
/// recovery codes shown once.
pub(crate) async fn enrol(b: &mut Browser, next: Option<&str>) -> (String, Vec<String>) {
    let next: Vec<(&str, &str)> = next.map(|n| ("next", n)).into_iter().collect();
    let resp = security_action(b, "totp_start", &next).await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    let secret = attr(&page, "data-totp-secret").expect("the secret as text");
    assert!(
        page.contains(r#"<img src="data:image/svg+xml;base64,"#),
        "the QR code, inline"
    );
    let mut with_code = next.clone();
    let code = code_of(&secret, 0);
    with_code.push(("otp", &code));
    let resp = security_action(b, "totp_confirm", &with_code).await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    let codes: Vec<String> = page
        .split("<code data-recovery-code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10, "ten recovery codes: {page}");
    assert!(page.contains("10 recovery codes left"));
    (secret, codes)
}

/// The password step: the second step's form (200), or a session (303).
async fn password_step(b: &mut Browser, next: Option<&str>) -> reqwest::Response {
    b.sign_in(EMAIL, PASSWORD, next).await
}

/// Sign in with the password then `otp` on the second step's form.
pub(crate) async fn sign_in_with(b: &mut Browser, otp: &str) -> reqwest::Response {
    let resp = password_step(b, None).await;
    assert_eq!(resp.status(), 200, "the second step");
    second_step(b, &resp.text().await.unwrap(), otp).await
}

async fn second_step(b: &mut Browser, page: &str, otp: &str) -> reqwest::Response {
    assert!(page.contains(r#"name="otp""#), "{page}");
    let mut form = hidden_fields(page);
    form.push(("otp".into(), otp.into()));
    b.post_form("/login", &form).await
}

/// A member signed in with the password alone, on a fresh browser.
async fn signed_in(app: &TestApp) -> Browser {
    let mut b = Browser::new(app);
    let resp = password_step(&mut b, None).await;
    assert_eq!(resp.status(), 303);
    b
}

/// The page behind a signed-in browser is reachable (a session), or not.
async fn has_session(b: &mut Browser) -> bool {
    b.get("/settings/security").await.status() == 200
}

#[tokio::test]
async fn enrolment_then_each_code_signs_in_once() {
    let app = spawn_app().await;
    member(&app, EMAIL, "Acme", "editor").await;
    let mut b = signed_in(&app).await;
    let (secret, recovery) = enrol(&mut b, None).await;

    // The half-signed-in state is no session.
    let mut b2 = Browser::new(&app);
    let resp = password_step(&mut b2, None).await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(!has_session(&mut b2).await, "no session before the code");
    // The code used to confirm enrolment cannot sign in.
    let resp = second_step(&mut b2, &page, &code_of(&secret, 0)).await;
    assert_eq!(resp.status(), 401, "the enrolment code again");
    // The next step's code signs in, once.
    let next_code = code_of(&secret, 1);
    let resp = second_step(&mut b2, &page, &next_code).await;
    assert_eq!(resp.status(), 303);
    assert!(
        !b2.cookies.contains_key("skedcast_mfa"),
        "the challenge cookie is cleared"
    );
    assert!(has_session(&mut b2).await);
    let mut b3 = Browser::new(&app);
    let resp = sign_in_with(&mut b3, &next_code).await;
    assert_eq!(resp.status(), 401, "a reused code");
    assert!(!has_session(&mut b3).await);

    // A recovery code works once (any case, with or without its dash).
    let mut b4 = Browser::new(&app);
    let resp = sign_in_with(&mut b4, &recovery[3].to_uppercase().replace('-', "")).await;
    assert_eq!(resp.status(), 303);
    assert!(has_session(&mut b4).await);
    let page = b4.get("/settings/security").await.text().await.unwrap();
    assert!(page.contains("9 recovery codes left"), "{page}");
    let mut b5 = Browser::new(&app);
    let resp = sign_in_with(&mut b5, &recovery[3]).await;
    assert_eq!(resp.status(), 401, "a used recovery code");

    // Recovery codes at rest are hashes only (the TOTP secret, which the
    // server needs back, is sealed when an encryption key is set: below).
    let dump = table_text(&app, "recovery_codes").await;
    for c in &recovery {
        assert!(!dump.contains(c.as_str()) && !dump.contains(&c.replace('-', "")));
    }
}

/// Every row of the second-factor table `table`, as text.
async fn table_text(app: &TestApp, table: &str) -> String {
    use sea_orm::EntityTrait;
    let db = &app.state.db;
    let text = match table {
        "user_totp" => format!(
            "{:?}",
            entity::user_totp::Entity::find().all(db).await.unwrap()
        ),
        "recovery_codes" => format!(
            "{:?}",
            entity::recovery_code::Entity::find().all(db).await.unwrap()
        ),
        other => panic!("{other}"),
    };
    assert!(text.contains("user_id"), "rows were read: {text}");
    text
}

#[tokio::test]
async fn the_forms_need_their_csrf_token() {
    let app = spawn_app().await;
    member(&app, EMAIL, "Acme", "editor").await;
    let mut b = signed_in(&app).await;
    let resp = b
        .post_form(
            "/settings/security",
            &[("action".into(), "totp_start".into())],
        )
        .await;
    assert_eq!(resp.status(), 403, "enrolment without csrf_token");
    let (secret, _) = enrol(&mut b, None).await;

    let mut b2 = Browser::new(&app);
    let resp = password_step(&mut b2, None).await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    let form: Vec<(String, String)> = hidden_fields(&page)
        .into_iter()
        .filter(|(k, _)| k != "csrf_token")
        .chain([("otp".to_string(), code_of(&secret, 1))])
        .collect();
    let resp = b2.post_form("/login", &form).await;
    assert_eq!(resp.status(), 403, "the second step without csrf_token");
    assert!(!has_session(&mut b2).await);
    // The code was not spent by the refused form.
    let resp = second_step(&mut b2, &page, &code_of(&secret, 1)).await;
    assert_eq!(resp.status(), 303);
}

#[tokio::test]
async fn wrong_codes_are_throttled() {
    let app = spawn_app_with(
        std::sync::Arc::new(fresh_db().await),
        &[("SKEDCAST__LOGIN__MAX_FAILURES", "3")],
    )
    .await;
    member(&app, EMAIL, "Acme", "editor").await;
    let mut b = signed_in(&app).await;
    let (secret, _) = enrol(&mut b, None).await;
    let mut b2 = Browser::new(&app);
    let resp = password_step(&mut b2, None).await;
    let page = resp.text().await.unwrap();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(second_step(&mut b2, &page, "000000").await.status());
    }
    assert_eq!(statuses[..3], [401, 401, 401], "{statuses:?}");
    assert_eq!(statuses[3], 429, "{statuses:?}");
    // Throttled means throttled: the right code is refused too, and a
    // correct password again does not clear the count.
    let resp = second_step(&mut b2, &page, &code_of(&secret, 1)).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let resp = password_step(&mut b2, None).await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    let resp = second_step(&mut b2, &page, &code_of(&secret, 1)).await;
    assert_eq!(resp.status(), 429);
}

#[tokio::test]
async fn reset_mfa_by_the_cli_signs_in_with_the_password_again() {
    let app = spawn_app().await;
    member(&app, EMAIL, "Acme", "editor").await;
    let mut b = signed_in(&app).await;
    enrol(&mut b, None).await;
    let mut b2 = Browser::new(&app);
    assert_eq!(password_step(&mut b2, None).await.status(), 200);

    let out = app.cli(&["user", "reset-mfa", "--email", EMAIL]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut b3 = Browser::new(&app);
    assert_eq!(password_step(&mut b3, None).await.status(), 303);
    let page = b3.get("/settings/security").await.text().await.unwrap();
    assert!(page.contains(r#"value="totp_start""#), "TOTP is off");

    let out = app.cli(&["user", "reset-mfa", "--email", "nobody@example.com"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody@example.com"));
}

/// Follow a consent page to its code and redeem it; the token response.
async fn consent_and_redeem(app: &TestApp, b: &mut Browser, client_id: &str, page: &str) -> Value {
    let mut form = hidden_fields(page);
    form.push(("decision".into(), "allow".into()));
    let resp = b.post_form("/oauth/authorize", &form).await;
    redeem(app, client_id, &resp).await
}

/// Redeem the code of a redirect to the client; the token response.
async fn redeem(app: &TestApp, client_id: &str, resp: &reqwest::Response) -> Value {
    let code = location_params(resp)
        .get("code")
        .cloned()
        .unwrap_or_else(|| panic!("{}", location(resp)));
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("client_id", client_id),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    ok_json(resp).await
}

#[tokio::test]
async fn amr_says_how_the_member_signed_in() {
    let app = spawn_app().await;
    member(&app, EMAIL, "Acme", "editor").await;
    let client = public_client(&app, json!({})).await;
    let client_id = client["client_id"].as_str().unwrap();
    let url = authorize_url(client_id, &[("scope", "openid agency:read")]);

    // Password alone: ["pwd"].
    let mut b = signed_in(&app).await;
    let resp = b.get(&url).await;
    assert_eq!(resp.status(), 200, "{}", location(&resp));
    let t = consent_and_redeem(&app, &mut b, client_id, &resp.text().await.unwrap()).await;
    let (_, id) = jwt_parts(t["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["pwd"]));
    let (_, at) = jwt_parts(t["access_token"].as_str().unwrap());
    assert_eq!(at["amr"], json!(["pwd"]));

    // With the second factor: ["pwd","otp"], in the refreshed tokens too.
    let (secret, _) = enrol(&mut b, None).await;
    let mut b2 = Browser::new(&app);
    let resp = b2.get(&url).await;
    let to_login = location(&resp);
    let resp = password_step(
        &mut b2,
        url_params(&format!("http://x{to_login}"))
            .get("next")
            .map(String::as_str),
    )
    .await;
    let resp = second_step(&mut b2, &resp.text().await.unwrap(), &code_of(&secret, 1)).await;
    assert_eq!(resp.status(), 303);
    // Consent is remembered from the first grant: straight to the client.
    let resp = b2.get(&location(&resp)).await;
    let t = redeem(&app, client_id, &resp).await;
    let (_, id) = jwt_parts(t["id_token"].as_str().unwrap());
    assert_eq!(id["amr"], json!(["pwd", "otp"]));
    let (_, at) = jwt_parts(t["access_token"].as_str().unwrap());
    assert_eq!(at["amr"], json!(["pwd", "otp"]));
    if let Some(rt) = t["refresh_token"].as_str() {
        let resp = app
            .client
            .post(app.url("/oauth/token"))
            .form(&[
                ("client_id", client_id),
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
            ])
            .send()
            .await
            .unwrap();
        let t = ok_json(resp).await;
        let (_, at) = jwt_parts(t["access_token"].as_str().unwrap());
        assert_eq!(at["amr"], json!(["pwd", "otp"]));
    }
}

#[tokio::test]
async fn the_agency_policy_sends_members_to_enrol_before_consent() {
    let app = spawn_app().await;
    member(&app, EMAIL, "Acme", "editor").await;
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = app.cli(&[
        "agency",
        "set-policy",
        "--agency",
        "Nope",
        "--require-mfa",
        "true",
    ]);
    assert!(!out.status.success(), "an unknown agency");

    let mut b = signed_in(&app).await;
    let url = authorize_url(client_id, &[("scope", "openid agency:read")]);
    let resp = b.get(&url).await;
    assert_eq!(resp.status(), 302);
    let to = location(&resp);
    assert!(b.relative(&to).starts_with("/settings/security?"), "{to}");
    // No way around it: the API-key page sends there too, and prompt=none
    // says interaction_required.
    let resp = b.get("/settings/developer").await;
    assert_eq!(resp.status(), 302);
    assert!(location(&resp).contains("/settings/security?"));
    let resp = b
        .get(&authorize_url(client_id, &[("prompt", "none")]))
        .await;
    // No member acted on this client yet: the error is a page with a link.
    let page = resp.text().await.unwrap();
    let back = continue_link(&page).unwrap_or_else(|| panic!("{page}"));
    assert_eq!(url_params(&back)["error"], "interaction_required");

    let next = url_params(&format!("http://x{}", b.relative(&to)))["next"].clone();
    let page = b.get(&to).await.text().await.unwrap();
    assert!(page.contains("requires two-step sign-in"), "{page}");
    enrol(&mut b, Some(&next)).await;
    let page = b
        .get(&format!("/settings/security?next={}", urlencode(&next)))
        .await
        .text()
        .await
        .unwrap();
    let cont = continue_link(&page).expect("a link back to the request");
    let resp = b.get(&cont).await;
    assert_eq!(resp.status(), 200, "the consent page: {}", location(&resp));
    let t = consent_and_redeem(&app, &mut b, client_id, &resp.text().await.unwrap()).await;
    let (_, id) = jwt_parts(t["id_token"].as_str().unwrap());
    assert_eq!(
        id["amr"],
        json!(["pwd", "otp"]),
        "enrolling proved the code"
    );

    // Policy off again: a member without a factor goes straight on.
    let out = app.cli(&[
        "agency",
        "set-policy",
        "--agency",
        "Acme",
        "--require-mfa",
        "false",
    ]);
    assert!(out.status.success());
    let out = app.cli(&["user", "reset-mfa", "--email", EMAIL]);
    assert!(out.status.success());
    let mut b2 = signed_in(&app).await;
    let resp = b2.get(&url).await;
    assert!(
        location_params(&resp).contains_key("code"),
        "{}",
        location(&resp)
    );
}

#[tokio::test]
async fn totp_secrets_are_sealed_with_the_encryption_key() {
    let kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"; // 32 bytes
    let app = spawn_app_with(
        std::sync::Arc::new(fresh_db().await),
        &[("SKEDCAST__KEYS__ENCRYPTION_KEY", kek)],
    )
    .await;
    member(&app, EMAIL, "Acme", "editor").await;
    let mut b = signed_in(&app).await;
    let (secret, _) = enrol(&mut b, None).await;
    let stored = table_text(&app, "user_totp").await;
    assert!(stored.contains("jwe:"), "sealed: {stored}");
    assert!(!stored.contains(&secret));
    // And it still signs in.
    let mut b2 = Browser::new(&app);
    assert_eq!(
        sign_in_with(&mut b2, &code_of(&secret, 1)).await.status(),
        303
    );
}
