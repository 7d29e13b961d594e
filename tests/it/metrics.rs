//! `GET /metrics`: off by default, protected by a bearer token, Prometheus
//! text with request and security counters.

use std::sync::Arc;

use crate::support::browser::*;
use crate::support::*;

const TOKEN: &str = "metrics-token-0123456789abcdef";

#[tokio::test]
async fn metrics_are_off_unless_a_token_is_configured() {
    let app = spawn_app().await;
    assert_eq!(app.get("/metrics").await.status(), 404);
}

#[tokio::test]
async fn metrics_need_the_token_and_count_what_happens() {
    let app = spawn_app_with(
        Arc::new(fresh_db().await),
        &[("SKEDCAST__METRICS__TOKEN", TOKEN)],
    )
    .await;
    assert_eq!(app.get("/metrics").await.status(), 401);
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // Some traffic: a client_credentials token, a failed sign-in.
    let c = crate::support::token::cc_client(&app, "client_secret_post", "agency:read").await;
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", c.id.as_str()),
            ("client_secret", c.secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    member(&app, "ann@example.com", "Acme", "owner").await;
    let mut b = Browser::new(&app);
    assert_eq!(
        b.sign_in("ann@example.com", "wrong password!", None)
            .await
            .status(),
        401
    );
    app.get("/oauth/register/some-client-id").await;

    let resp = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{route="/oauth/token",status="200"}"#),
        "{text}"
    );
    assert!(
        text.contains(r#"tokens_issued_total{grant="client_credentials"}"#),
        "{text}"
    );
    assert!(text.contains("sign_in_failures_total"), "{text}");
    assert!(
        text.contains(r#"http_request_duration_seconds_bucket{route="/oauth/token""#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/oauth/register/{client_id}""#),
        "parameters folded: {text}"
    );
    assert!(!text.contains("some-client-id"));
}
