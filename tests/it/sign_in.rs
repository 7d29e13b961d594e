//! Sign-in throttling (issue 13, items 1 and 2): attempts are counted before
//! the password is checked, so parallel guesses cannot outrun the limit; a
//! burst beyond the password-check queue is refused at once; and the
//! per-account limit is per (account, client IP) below a larger ceiling
//! across all addresses, so failures from elsewhere do not lock the owner out.

use std::sync::Arc;

use entity::rate_limit;
use reqwest::Response;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::support::browser::{Browser, PASSWORD, hidden_fields, member};
use crate::support::{InFlight, TestApp, fresh_db, spawn_app_observed, spawn_app_with};

const ANN: &str = "ann@example.com";
const WRONG: &str = "not the password at all";

/// A browser from `ip` holding the sign-in form filled in with `email` and
/// `password`, ready to be posted.
async fn filled_form(
    app: &TestApp,
    ip: &str,
    email: &str,
    password: &str,
) -> (Browser, Vec<(String, String)>) {
    let mut b = Browser::from_ip(app, ip);
    let page = b.get("/login").await.text().await.unwrap();
    let mut form = hidden_fields(&page);
    form.push(("email".into(), email.into()));
    form.push(("password".into(), password.into()));
    (b, form)
}

/// Post `n` wrong-password sign-ins for `email` from `ip` at once (every
/// request is ready before any is sent); the statuses, each 429 checked for
/// its Retry-After.
async fn parallel_wrong_passwords(
    app: &TestApp,
    in_flight: &InFlight,
    ip: &str,
    email: &str,
    n: usize,
) -> Vec<u16> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (mut b, form) = filled_form(app, ip, email, WRONG).await;
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let resp = b.post_form("/login", &form).await;
            if resp.status() == 429 {
                assert_retry_after(&resp);
            }
            resp.status().as_u16()
        }));
    }
    in_flight.reset();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    // The requests were inside the server together, not one after another.
    assert!(in_flight.max() >= 2, "max in flight {}", in_flight.max());
    statuses
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

fn assert_retry_after(resp: &Response) {
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
}

/// The hits counted in `bucket` (0 when it has no row).
async fn hits(app: &TestApp, bucket: &str) -> i64 {
    rate_limit::Entity::find()
        .filter(rate_limit::Column::Bucket.eq(bucket))
        .all(&app.state.db)
        .await
        .unwrap()
        .iter()
        .map(|r| r.hits)
        .sum()
}

#[tokio::test]
async fn forty_parallel_wrong_passwords_get_only_the_limit_checked() {
    const N: usize = 40;
    let (app, in_flight) = spawn_app_observed(Arc::new(fresh_db().await), &[]).await;
    member(&app, ANN, "Acme", "owner").await;
    let limit = app.state.settings.login.max_failures as usize;
    assert_eq!(limit, 5);

    let statuses = parallel_wrong_passwords(&app, &in_flight, "127.0.0.1", ANN, N).await;
    assert_eq!(statuses.len(), N);
    assert_eq!(count(&statuses, 401), limit, "{statuses:?}");
    assert_eq!(count(&statuses, 429), N - limit, "{statuses:?}");

    // Within the window the right password from the same address is refused
    // too, and no session is made.
    let mut b = Browser::new(&app);
    let resp = b.sign_in(ANN, PASSWORD, None).await;
    assert_eq!(resp.status(), 429);
    assert_retry_after(&resp);
    assert!(!b.cookies.contains_key("skedcast_session"));
    let sessions = entity::session::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(sessions.is_empty());
}

#[tokio::test]
async fn a_burst_beyond_the_password_check_queue_is_refused_at_once() {
    const N: usize = 30;
    // Throttling out of the way (limits far above the burst); one password
    // check at a time.
    let (app, in_flight) = spawn_app_observed(
        Arc::new(fresh_db().await),
        &[
            ("SKEDCAST__LOGIN__MAX_FAILURES", "1000"),
            ("SKEDCAST__LOGIN__MAX_ACCOUNT_FAILURES", "1000"),
            ("SKEDCAST__LOGIN__MAX_QUEUED_CHECKS", "1"),
        ],
    )
    .await;
    member(&app, ANN, "Acme", "owner").await;

    let statuses = parallel_wrong_passwords(&app, &in_flight, "127.0.0.1", ANN, N).await;
    let (checked, refused) = (count(&statuses, 401), count(&statuses, 429));
    assert_eq!(checked + refused, N, "{statuses:?}");
    assert!(checked >= 1, "{statuses:?}");
    assert!(refused >= 1, "the burst overflowed the queue: {statuses:?}");
    // A refused request was turned away before it was counted (and so
    // before any hash): the address's counter holds only the checked ones.
    assert_eq!(hits(&app, "login-ip:127.0.0.1").await, checked as i64);

    // Once the burst is over, the owner signs in.
    let mut b = Browser::new(&app);
    assert_eq!(b.sign_in(ANN, PASSWORD, None).await.status(), 303);
}

#[tokio::test]
async fn failures_from_another_address_do_not_lock_the_owner_out() {
    let app = spawn_app_with(Arc::new(fresh_db().await), &[]).await;
    member(&app, ANN, "Acme", "owner").await;

    // An attacker at another address uses up its own limit for the account.
    let mut attacker = Browser::from_ip(&app, "127.0.0.2");
    for _ in 0..5 {
        let resp = attacker.sign_in(ANN, WRONG, None).await;
        assert_eq!(resp.status(), 401);
    }
    let resp = attacker.sign_in(ANN, PASSWORD, None).await;
    assert_eq!(resp.status(), 429);
    assert_retry_after(&resp);

    // The owner, at their own address, still gets in.
    let mut owner = Browser::new(&app);
    let resp = owner.sign_in(ANN, PASSWORD, None).await;
    assert_eq!(resp.status(), 303);
    assert!(owner.cookies.contains_key("skedcast_session"));
    // ...and the attacker is still refused.
    assert_eq!(attacker.sign_in(ANN, WRONG, None).await.status(), 429);
}

#[tokio::test]
async fn the_account_ceiling_across_addresses_still_applies() {
    let app = spawn_app_with(
        Arc::new(fresh_db().await),
        &[
            ("SKEDCAST__LOGIN__MAX_FAILURES", "2"),
            ("SKEDCAST__LOGIN__MAX_ACCOUNT_FAILURES", "5"),
        ],
    )
    .await;
    member(&app, ANN, "Acme", "owner").await;
    member(&app, "bob@example.com", "Acme", "viewer").await;

    // Five failures from three addresses, none over its own limit of two.
    for (ip, n) in [("127.0.0.51", 2), ("127.0.0.52", 2), ("127.0.0.53", 1)] {
        let mut b = Browser::from_ip(&app, ip);
        for _ in 0..n {
            assert_eq!(b.sign_in(ANN, WRONG, None).await.status(), 401, "{ip}");
        }
    }
    // The ceiling is reached: a fresh address is refused, even the owner's
    // with the right password.
    let mut b = Browser::from_ip(&app, "127.0.0.54");
    let resp = b.sign_in(ANN, WRONG, None).await;
    assert_eq!(resp.status(), 429);
    assert_retry_after(&resp);
    let mut owner = Browser::new(&app);
    let resp = owner.sign_in(ANN, PASSWORD, None).await;
    assert_eq!(resp.status(), 429);
    assert_retry_after(&resp);
    assert!(!owner.cookies.contains_key("skedcast_session"));
    // Another account is not affected.
    assert_eq!(
        owner
            .sign_in("bob@example.com", PASSWORD, None)
            .await
            .status(),
        303
    );
}
