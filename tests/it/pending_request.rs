//! Issue 15 item 4: the pending authorization request is kept by the
//! server; the sign-in and consent pages carry only a short reference, so a
//! long `state` never makes a redirect too long for common clients.

use crate::support::browser::*;
use crate::support::*;
use sea_orm::EntityTrait;
use serde_json::json;

/// Every redirect on the way to the client stays well under the usual
/// 16 kB response-header limit.
const MAX_LOCATION: usize = 8 * 1024;

/// A `state` of `len` bytes with characters that need encoding.
fn long_state(len: usize) -> String {
    "a b&c=d~%/?".chars().cycle().take(len).collect()
}

/// The request of `authorize_url` as form pairs, for a POST (RFC 6749
/// §3.1): a URI cannot be longer than 64 kB for common HTTP stacks, so a
/// 64 kB `state` is sent this way.
fn as_form(url: &str) -> Vec<(String, String)> {
    url_params(&format!("http://x{url}")).into_iter().collect()
}

/// Sign-in then consent for a request with `state` (sent by GET, or POST
/// when `post`); returns the `state` of the final redirect to the client
/// after asserting the size of every other one.
async fn through_sign_in_and_consent(
    app: &TestApp,
    b: &mut Browser,
    state: &str,
    post: bool,
) -> String {
    let client = public_client(app, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    let url = authorize_url(id, &[("state", state)]);
    let resp = if post {
        b.post_form("/oauth/authorize", &as_form(&url)).await
    } else {
        b.get(&url).await
    };
    assert_eq!(resp.status(), if post { 303 } else { 302 });
    let login = location(&resp);
    assert!(
        login.len() < MAX_LOCATION,
        "to sign-in: {} bytes",
        login.len()
    );
    let page = b.get(&login).await;
    assert_eq!(page.status(), 200);
    let mut form = hidden_fields(&page.text().await.unwrap());
    form.push(("email".into(), "ann@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let signed = b.post_form("/login", &form).await;
    assert_eq!(signed.status(), 303);
    let back = location(&signed);
    assert!(
        back.len() < MAX_LOCATION,
        "after sign-in: {} bytes",
        back.len()
    );
    let consent = b.get(&back).await;
    assert_eq!(consent.status(), 200);
    let html = consent.text().await.unwrap();
    assert!(
        html.len() < MAX_LOCATION,
        "the consent form carries a reference"
    );
    let mut form = hidden_fields(&html);
    form.push(("decision".into(), "allow".into()));
    let done = b.post_form("/oauth/authorize", &form).await;
    assert_eq!(done.status(), 303);
    let to_client = location(&done);
    assert!(to_client.starts_with(REDIRECT), "{to_client}");
    assert!(url_params(&to_client).contains_key("code"));
    url_params(&to_client)["state"].clone()
}

#[tokio::test]
async fn a_20_kb_and_a_64_kb_state_go_through_sign_in_and_consent_unchanged() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    for (len, post) in [(20 * 1024, false), (20 * 1024, true), (64 * 1024, true)] {
        let mut b = Browser::new(&app);
        let state = long_state(len);
        let back = through_sign_in_and_consent(&app, &mut b, &state, post).await;
        assert_eq!(back, state, "state of {len} bytes");
    }
}

#[tokio::test]
async fn a_state_over_64_kb_is_invalid_request() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let client = public_client(&app, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);
    // A member acted on the client's page: its errors are redirected.
    b.sign_in("ann@example.com", PASSWORD, None).await;
    decide_on_consent(&mut b, id, "allow").await;
    let url = authorize_url(id, &[("state", &long_state(64 * 1024 + 1))]);
    let resp = b.post_form("/oauth/authorize", &as_form(&url)).await;
    assert_eq!(resp.status(), 303);
    let to_client = location(&resp);
    assert!(to_client.starts_with(REDIRECT), "{to_client}");
    assert!(
        to_client.len() < MAX_LOCATION,
        "the state is not echoed back"
    );
    let p = url_params(&to_client);
    assert_eq!(p["error"], "invalid_request");
    assert!(!p.contains_key("state"));
}

#[tokio::test]
async fn an_unknown_or_expired_reference_is_a_clear_page() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let client = public_client(&app, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);
    b.sign_in("ann@example.com", PASSWORD, None).await;
    let unknown = "/oauth/authorize?pending=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let resp = b.get(unknown).await;
    assert_eq!(resp.status(), 400);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Start again from the app"), "{html}");

    // A consent form whose request expired meanwhile.
    let resp = b.get(&authorize_url(id, &[])).await;
    assert_eq!(resp.status(), 200);
    let mut form = hidden_fields(&resp.text().await.unwrap());
    form.push(("decision".into(), "allow".into()));
    entity::pending_authorization::Entity::update_many()
        .col_expr(
            entity::pending_authorization::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(0i64),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let resp = b.post_form("/oauth/authorize", &form).await;
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Start again from the app")
    );

    // Pruned by the housekeeping.
    skedcast_auth::maintenance::run_once(&app.state, skedcast_auth::clock::now()).await;
    let left = entity::pending_authorization::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(left.is_empty());
}

/// Storing pending requests is limited per address: anyone may start an
/// authorization without signing in, and each kept request holds its
/// parameters for an hour, so one address cannot fill the table.
#[tokio::test]
async fn pending_requests_are_limited_per_address() {
    use sea_orm::PaginatorTrait;
    let app = spawn_app().await;
    let client = public_client(&app, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    away_from_window_edge(15).await;
    let url = authorize_url(id, &[("scope", "agency:read")]);
    for i in 0..60 {
        let resp = app.get(&url).await;
        assert_eq!(resp.status(), 302, "request {i} goes to sign in");
    }
    let resp = app.get(&url).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let kept = entity::pending_authorization::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(kept, 60, "the refused request stored nothing");
}
