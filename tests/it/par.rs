//! Issue 15 item 3: pushed authorization requests (RFC 9126).

use crate::support::browser::*;
use crate::support::flow::error_code;
use crate::support::token::{Client, basic, register};
use crate::support::*;
use serde_json::{Value, json};

const URN: &str = "urn:ietf:params:oauth:request_uri:";

/// A confidential code client (client_secret_basic).
async fn confidential(app: &TestApp, extra: Value) -> Client {
    let mut body = json!({
        "client_name": "Calendar Agent",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    register(app, body).await
}

/// The authorization request of `authorize_url` as form pairs.
fn request(client_id: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    url_params(&format!("http://x{}", authorize_url(client_id, extra)))
        .into_iter()
        .collect()
}

async fn push(app: &TestApp, c: &Client, form: &[(String, String)]) -> reqwest::Response {
    app.client
        .post(app.url("/oauth/par"))
        .header("authorization", basic(&c.id, c.secret.as_deref().unwrap()))
        .form(form)
        .send()
        .await
        .unwrap()
}

fn authorize_with(client_id: &str, request_uri: &str) -> String {
    format!(
        "/oauth/authorize?client_id={}&request_uri={}",
        urlencode(client_id),
        urlencode(request_uri)
    )
}

#[tokio::test]
async fn a_pushed_request_is_used_once_through_sign_in_and_consent() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let c = confidential(&app, json!({})).await;
    let state = "x".repeat(64 * 1024);
    let resp = push(&app, &c, &request(&c.id, &[("state", &state)])).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"].as_str().unwrap();
    let reference = uri.strip_prefix(URN).unwrap();
    assert!(reference.len() >= 22, "≥ 128 bits: {uri}");

    // Other parameters of the authorization request are ignored.
    let mut b = Browser::new(&app);
    let url = format!("{}&state=other&scope=nonsense", authorize_with(&c.id, uri));
    let resp = b.get(&url).await;
    assert_eq!(resp.status(), 302);
    let login = location(&resp);
    assert!(login.len() < 8 * 1024);
    let page = b.get(&login).await.text().await.unwrap();
    let mut form = hidden_fields(&page);
    form.push(("email".into(), "ann@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let signed = b.post_form("/login", &form).await;
    let consent = b.get(&location(&signed)).await;
    assert_eq!(consent.status(), 200);
    let mut form = hidden_fields(&consent.text().await.unwrap());
    form.push(("decision".into(), "allow".into()));
    let done = b.post_form("/oauth/authorize", &form).await;
    assert_eq!(done.status(), 303);
    let p = location_params(&done);
    assert_eq!(p["state"], state);
    assert!(p.contains_key("code"));

    // Used once.
    let again = b.get(&authorize_with(&c.id, uri)).await;
    assert_eq!(again.status(), 400);
    assert!(location(&again).is_empty());
}

#[tokio::test]
async fn the_push_authenticates_and_validates_like_the_endpoints_it_joins() {
    let app = spawn_app().await;
    let c = confidential(&app, json!({})).await;
    let other = confidential(&app, json!({})).await;

    // Client authentication as at the token endpoint.
    let resp = app
        .client
        .post(app.url("/oauth/par"))
        .header("authorization", basic(&c.id, "wrong"))
        .form(&request(&c.id, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(resp).await,
        (reqwest::StatusCode::UNAUTHORIZED, "invalid_client".into())
    );

    // The authorization request's checks, as JSON.
    for (extra, code) in [
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (
            vec![("redirect_uri", "https://evil.example/cb")],
            "invalid_request",
        ),
        (vec![("scope", "nonsense")], "invalid_scope"),
        (vec![("request_uri", "urn:x")], "invalid_request"),
        (vec![("client_id", other.id.as_str())], "invalid_request"),
    ] {
        let resp = push(&app, &c, &request(&c.id, &extra)).await;
        assert_eq!(
            error_code(resp).await,
            (reqwest::StatusCode::BAD_REQUEST, code.to_string()),
            "{extra:?}"
        );
    }

    // The request_uri belongs to its client.
    let resp = push(&app, &c, &request(&c.id, &[])).await;
    let uri = resp.json::<Value>().await.unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_string();
    let mut b = Browser::new(&app);
    let resp = b.get(&authorize_with(&other.id, &uri)).await;
    assert_eq!(resp.status(), 400);
    let resp = b
        .get(&authorize_with(&c.id, &format!("{URN}unknown")))
        .await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn a_client_or_the_server_may_require_pushed_requests() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let free = confidential(&app, json!({})).await;
    let bound = confidential(&app, json!({"require_pushed_authorization_requests": true})).await;
    let info = app
        .client
        .get(app.url(&format!("/oauth/register/{}", bound.id)))
        .bearer_auth(bound.registration_token.as_deref().unwrap())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(info["require_pushed_authorization_requests"], true);

    let mut b = Browser::new(&app);
    b.sign_in("ann@example.com", PASSWORD, None).await;
    let resp = b.get(&authorize_url(&free.id, &[])).await;
    assert_eq!(resp.status(), 200, "not required: the consent page");
    let resp = b.get(&authorize_url(&bound.id, &[])).await;
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("invalid_request") && html.contains("pushed"),
        "{html}"
    );
    let resp = push(&app, &bound, &request(&bound.id, &[])).await;
    let uri = resp.json::<Value>().await.unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = b.get(&authorize_with(&bound.id, &uri)).await;
    assert_eq!(resp.status(), 200, "pushed: the consent page");

    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        app.url("/oauth/par")
    );
    assert_eq!(meta["require_pushed_authorization_requests"], false);

    // Every client, by configuration; the lifetime is configurable.
    let app = spawn_app_with(
        std::sync::Arc::new(fresh_db().await),
        &[
            (
                "SKEDCAST__CLIENTS__REQUIRE_PUSHED_AUTHORIZATION_REQUESTS",
                "true",
            ),
            ("SKEDCAST__CLIENTS__REQUEST_URI_TTL_SECS", "90"),
        ],
    )
    .await;
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    let c = confidential(&app, json!({})).await;
    let resp = Browser::new(&app).get(&authorize_url(&c.id, &[])).await;
    assert_eq!(resp.status(), 400, "not pushed: a page");
    let resp = push(&app, &c, &request(&c.id, &[])).await;
    assert_eq!(resp.json::<Value>().await.unwrap()["expires_in"], 90);
}

#[tokio::test]
async fn par_has_cors_like_the_token_endpoint() {
    let app = spawn_app().await;
    let resp = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/oauth/par"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        resp.headers()["access-control-allow-methods"],
        "POST, OPTIONS"
    );
}
