//! `GET /metrics`: off by default, protected by a bearer token, Prometheus
//! text with request and security counters.

use crate::support::browser::*;
use crate::support::process::{self, seed_member};
use crate::support::*;

const TOKEN: &str = "metrics-token-0123456789abcdef";

#[tokio::test]
async fn metrics_are_off_unless_a_token_is_configured() {
    let app = spawn_app().await;
    assert_eq!(app.get("/metrics").await.status(), 404);
}

/// The value of the series `series` (name and labels exactly as printed)
/// in Prometheus text.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(name, _)| *name == series)
        .and_then(|(_, v)| v.parse().ok())
}

/// A real process, so the recorder is its own (in the test process it is
/// shared by every app of every test): the counters have exact values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_and_count_what_happens() {
    let db = fresh_db().await;
    seed_member(&db.url, "owner").await;
    let out = cli(
        &db.url,
        &[
            "client",
            "create",
            "--name",
            "m",
            "--grant",
            "client_credentials",
            "--scopes",
            "agency:read",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (id, secret) = stdout.trim().split_once('\n').unwrap();
    let server = process::start(&db.url, &[("SKEDCAST__METRICS__TOKEN", TOKEN)]);
    let c = http_client();
    let metrics = |bearer: Option<&'static str>| {
        let mut req = c.get(server.url("/metrics"));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        req.send()
    };
    assert_eq!(metrics(None).await.unwrap().status(), 401);
    assert_eq!(metrics(Some("nope")).await.unwrap().status(), 401);

    // Traffic: two client_credentials tokens, one refused, a failed sign-in,
    // a path with a parameter.
    for (secret, status) in [(secret, 200), (secret, 200), ("wrong", 401)] {
        let resp = c
            .post(server.url("/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status);
    }
    let mut b = Browser::at(&server.base);
    assert_eq!(
        b.sign_in("ann@example.com", "wrong password!", None)
            .await
            .status(),
        401
    );
    c.get(server.url("/oauth/register/some-client-id"))
        .send()
        .await
        .unwrap();

    let resp = metrics(Some(TOKEN)).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    for (series, want) in [
        (
            r#"http_requests_total{route="/oauth/token",status="200"}"#,
            2.0,
        ),
        (
            r#"http_requests_total{route="/oauth/token",status="401"}"#,
            1.0,
        ),
        (r#"tokens_issued_total{grant="client_credentials"}"#, 2.0),
        ("sign_in_failures_total", 1.0),
        (
            r#"http_request_duration_seconds_count{route="/oauth/token"}"#,
            3.0,
        ),
        (
            r#"http_requests_total{route="/oauth/register/{client_id}",status="401"}"#,
            1.0,
        ),
    ] {
        assert_eq!(value(&text, series), Some(want), "{series} in:\n{text}");
    }
    assert!(!text.contains("some-client-id"), "parameters folded");
}
