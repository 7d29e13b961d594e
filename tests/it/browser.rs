//! Real-browser runs: headless Chromium driven over WebDriver
//! (chromedriver, spoken to with reqwest), through sign-in and consent to
//! the client's loopback redirect (a screenshot of the consent page at
//! target/consent-page.png), and through the connected-apps page and its
//! Revoke button (target/connected-apps-page.png). Chromium and
//! chromedriver are installed when missing (`support::provision::chromium`);
//! when they cannot be, the test fails saying what to install.

use std::time::Duration;

use crate::support::browser::*;
use crate::support::webdriver::{Driver, redirect_target};
use crate::support::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_signs_in_consents_and_the_code_redeems_for_a_verified_token() {
    let (chromium, chromedriver) = crate::support::provision::chromium();

    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "editor").await;
    let client = public_client(&app, json!({"client_name": "Desk Assistant"})).await;
    let id = client["client_id"].as_str().unwrap();
    // Registered as http://127.0.0.1/callback; any port matches (RFC 8252 §7.3).
    let port = redirect_target().await;
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let url = app.url(&authorize_url(
        id,
        &[
            ("redirect_uri", &redirect),
            ("scope", "agency:read posts:write"),
        ],
    ));

    let profile = tempfile::tempdir().unwrap();
    let mut d = Driver::start(&chromedriver).await;
    d.new_session(&chromium, profile.path()).await;

    d.goto(&url).await;
    assert!(
        d.url_starting_with(&app.url("/login"))
            .await
            .starts_with(&app.url("/login")),
        "sent to sign in"
    );
    d.type_into("input[name=email]", "ann@example.com").await;
    d.type_into("input[name=password]", PASSWORD).await;
    d.click("button[type=submit]").await;

    assert!(
        d.url_starting_with(&app.url("/oauth/authorize"))
            .await
            .starts_with(&app.url("/oauth/authorize")),
        "back at authorize"
    );
    let html = d.page_source().await;
    assert!(html.contains("Desk Assistant"));
    assert!(html.contains("Create, edit and schedule posts"));
    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/consent-page.png");
    d.screenshot(&shot).await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);

    d.click("button[name=decision][value=allow]").await;
    let landed = d.url_starting_with(&redirect).await;
    assert!(landed.starts_with(&redirect), "{landed}");
    let params: std::collections::BTreeMap<String, String> = url::Url::parse(&landed)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert!(params["code"].len() >= 43);
    assert_eq!(params["state"], "st-123");
    assert_eq!(params["iss"], app.base);
    let _ = d.cmd(reqwest::Method::DELETE, "", None).await;

    // The code the browser carried is redeemed with the verifier, and the
    // access token verifies against the JWKS with the member's grant.
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", id),
            ("code", params["code"].as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", redirect.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "agency:read posts:write");
    let at = tokens["access_token"].as_str().unwrap();
    let jwks = app.get_json("/.well-known/jwks.json").await;
    verify_with_p256(at, &jwks).expect("the access token verifies with the JWKS");
    let (header, claims) = jwt_parts(at);
    assert_eq!(header["typ"], "at+jwt");
    let user = skedcast_auth::accounts::find_user_by_email(&app.state.db, "ann@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["client_id"], id);
    assert_eq!(claims["iss"], app.base);
    assert_eq!(claims["role"], "editor");
    assert_eq!(claims["scope"], "agency:read posts:write");
}

/// Issue 17 item 4 in a real browser: the connected-apps page after
/// sign-in (saved at target/connected-apps-page.png), and its Revoke
/// button ending the app's refresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_lists_connected_apps_and_revokes_one() {
    let (chromium, chromedriver) = crate::support::provision::chromium();

    // A grant made through the forms without JavaScript: consent, a code
    // redeemed, a refresh token held by the app.
    let mut f = crate::support::flow::setup("editor", "agency:read posts:write").await;
    let code = f.code("agency:read posts:write").await;
    let tokens = crate::support::flow::ok_json(f.redeem(&code).await).await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    let app = &f.app;

    let profile = tempfile::tempdir().unwrap();
    let mut d = Driver::start(&chromedriver).await;
    d.new_session(&chromium, profile.path()).await;
    d.goto(&app.url("/settings/apps")).await;
    assert!(
        d.url_starting_with(&app.url("/login"))
            .await
            .starts_with(&app.url("/login")),
        "sent to sign in"
    );
    d.type_into("input[name=email]", "ann@example.com").await;
    d.type_into("input[name=password]", PASSWORD).await;
    d.click("button[type=submit]").await;
    let at = d.url_starting_with(&app.url("/settings/apps")).await;
    assert_eq!(at, app.url("/settings/apps"), "back at the page");

    let html = d.page_source().await;
    assert!(html.contains("Calendar Agent"), "{html}");
    assert!(html.contains("Create, edit and schedule posts"));
    let shot =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/connected-apps-page.png");
    d.screenshot(&shot).await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);

    d.click("li.app button[type=submit]").await;
    let mut html = String::new();
    for _ in 0..150 {
        html = d.page_source().await;
        if html.contains("is disconnected") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(html.contains("Calendar Agent is disconnected"), "{html}");
    assert!(html.contains("No app is connected"));
    let _ = d.cmd(reqwest::Method::DELETE, "", None).await;

    let (_, err) = crate::support::flow::error_code(f.refresh(&rt).await).await;
    assert_eq!(err, "invalid_grant");
}
