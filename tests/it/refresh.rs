//! The refresh_token grant (OAuth 2.1 §4.3): rotation, reuse of a rotated
//! token revoking the family, one success among parallel refreshes, role
//! changes narrowing the next refresh, and deleted clients.

use std::sync::Arc;

use crate::support::browser::*;
use crate::support::flow::*;
use crate::support::token::{inactive, introspect};
use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn reuse_of_a_rotated_refresh_token_revokes_the_newest_too() {
    let mut f = setup("editor", "agency:read posts:read").await;
    let code = f.code("agency:read posts:read").await;
    let first = ok_json(f.redeem(&code).await).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let second = ok_json(f.refresh(&rt1).await).await;
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    // rt1 again: reuse detected.
    let (status, err) = error_code(f.refresh(&rt1).await).await;
    assert_eq!(
        (status, err.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    // The newest token of the family is dead as well.
    let (_, err) = error_code(f.refresh(&rt2).await).await;
    assert_eq!(err, "invalid_grant");
}

async fn parallel_refreshes(app: TestApp) {
    let mut f = setup_on(app, "owner", "agency:read").await;
    let code = f.code("agency:read").await;
    let rt = ok_json(f.redeem(&code).await).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let f = Arc::new(f);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let f = f.clone();
            let rt = rt.clone();
            tokio::spawn(async move {
                let resp = f.refresh(&rt).await;
                let status = resp.status();
                let body: Value = resp.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::OK => winners.push(body),
            StatusCode::BAD_REQUEST => assert_eq!(body["error"], "invalid_grant"),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one refresh succeeds");
    // The family is consistent: reuse was detected, so the winner's new
    // token is revoked with the rest, and no second branch lives.
    let new_rt = winners[0]["refresh_token"].as_str().unwrap();
    assert_eq!(error_code(f.refresh(new_rt).await).await.1, "invalid_grant");
    use sea_orm::{EntityTrait, PaginatorTrait};
    let fams = entity::refresh_family::Entity::find()
        .all(&f.app.state.db)
        .await
        .unwrap();
    assert_eq!(fams.len(), 1);
    assert!(fams[0].revoked_at.is_some());
    let tokens = entity::refresh_token::Entity::find()
        .count(&f.app.state.db)
        .await
        .unwrap();
    assert_eq!(tokens, 2, "the original and the one rotation that won");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_refreshes_one_success_on_the_suite_database() {
    parallel_refreshes(spawn_app().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_refreshes_one_success_on_postgres() {
    let db = fresh_pg_db().await;
    parallel_refreshes(spawn_app_with(Arc::new(db), &[]).await).await;
}

#[tokio::test]
async fn a_demotion_narrows_the_next_refresh_and_removal_ends_the_family() {
    let mut f = setup("owner", "agency:read members:write posts:write").await;
    let code = f.code("agency:read members:write posts:write").await;
    let body = ok_json(f.redeem(&code).await).await;
    assert_eq!(body["scope"], "agency:read members:write posts:write");
    let rt = body["refresh_token"].as_str().unwrap().to_string();

    skedcast_auth::accounts::set_role(&f.app.state.db, "ann@example.com", "Acme", "editor")
        .await
        .unwrap();
    let body = ok_json(f.refresh(&rt).await).await;
    assert_eq!(
        body["scope"], "agency:read posts:write",
        "members:write is gone with the demotion"
    );
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["role"], "editor");
    let rt = body["refresh_token"].as_str().unwrap().to_string();

    skedcast_auth::accounts::remove_member(&f.app.state.db, "ann@example.com", "Acme")
        .await
        .unwrap();
    let (status, err) = error_code(f.refresh(&rt).await).await;
    assert_eq!(
        (status, err.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    // Coming back does not revive the ended family.
    skedcast_auth::accounts::set_role(&f.app.state.db, "ann@example.com", "Acme", "owner")
        .await
        .unwrap();
    assert_eq!(error_code(f.refresh(&rt).await).await.1, "invalid_grant");
}

#[tokio::test]
async fn a_deleted_client_cannot_refresh_or_redeem() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let client = public_client(&app, json!({})).await;
    let mut f = Flow {
        client_id: client["client_id"].as_str().unwrap().into(),
        user_id: String::new(),
        b: Browser::new(&app),
        app,
    };
    let code = f.code("agency:read").await;
    let rt = ok_json(f.redeem(&code).await).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let code2 = f.code("agency:read").await;

    // RFC 7592 DELETE.
    let del = f
        .app
        .client
        .delete(client["registration_client_uri"].as_str().unwrap())
        .bearer_auth(client["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let (status, err) = error_code(f.refresh(&rt).await).await;
    assert_eq!(
        (status, err.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    let (status, err) = error_code(f.redeem(&code2).await).await;
    assert_eq!(
        (status, err.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    use sea_orm::{EntityTrait, PaginatorTrait};
    let db = &f.app.state.db;
    assert_eq!(
        entity::refresh_family::Entity::find()
            .count(db)
            .await
            .unwrap(),
        0,
        "refresh tokens gone"
    );
    assert_eq!(
        entity::authorization_code::Entity::find()
            .count(db)
            .await
            .unwrap(),
        0,
        "codes gone"
    );
    // And it cannot start a new authorization.
    let resp = f.b.get(&authorize_url(&f.client_id, &[])).await;
    assert_eq!(resp.status(), 400);
}

/// The used RT1 and the current RT2 presented at once (issue 13, item 10):
/// RT1's reuse revokes the family, and if RT2's rotation won too, the access
/// token it got must introspect inactive: the revocation cannot miss a
/// rotation that was committing while the family was revoked.
async fn reuse_racing_a_rotation(app: TestApp) {
    let rs = resource_server(&app);
    let mut f = setup_on(app, "owner", "agency:read").await;
    let (mut rotated, races) = (0, 30);
    for _ in 0..races {
        let code = f.code("agency:read").await;
        let rt1 = ok_json(f.redeem(&code).await).await["refresh_token"]
            .as_str()
            .unwrap()
            .to_string();
        let rt2 = ok_json(f.refresh(&rt1).await).await["refresh_token"]
            .as_str()
            .unwrap()
            .to_string();
        let barrier = tokio::sync::Barrier::new(2);
        let (reuse, current) = tokio::join!(
            async {
                barrier.wait().await;
                f.refresh(&rt1).await
            },
            async {
                barrier.wait().await;
                f.refresh(&rt2).await
            }
        );
        assert_eq!(error_code(reuse).await.1, "invalid_grant");
        match current.status() {
            StatusCode::OK => {
                rotated += 1;
                let body: Value = current.json().await.unwrap();
                let at = body["access_token"].as_str().unwrap();
                assert_eq!(
                    introspect(&f.app, &rs, at).await,
                    inactive(),
                    "an access token from a revoked family is still active"
                );
                let rt3 = body["refresh_token"].as_str().unwrap();
                assert_eq!(error_code(f.refresh(rt3).await).await.1, "invalid_grant");
            }
            _ => assert_eq!(error_code(current).await.1, "invalid_grant"),
        }
    }
    // Both orders happened, or the race proved nothing.
    println!("{rotated} of {races} races let the current token rotate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reuse_racing_a_rotation_leaves_no_active_token_on_the_suite_database() {
    reuse_racing_a_rotation(spawn_app().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reuse_racing_a_rotation_leaves_no_active_token_on_postgres() {
    let db = fresh_pg_db().await;
    reuse_racing_a_rotation(spawn_app_with(Arc::new(db), &[]).await).await;
}

/// Housekeeping deletes what has outlived its use (issue 13, item 14): a
/// family past its absolute lifetime with all its refresh tokens, a revoked
/// family, expired codes and expired sessions; a live family stays. A pass
/// before those times deletes nothing.
#[tokio::test]
async fn housekeeping_prunes_expired_refresh_families_codes_and_sessions() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let mut f = setup("owner", "agency:read").await;
    let db = f.app.state.db.clone();
    let count = |what: &'static str| {
        let db = db.clone();
        async move {
            match what {
                "refresh_tokens" => entity::refresh_token::Entity::find().count(&db).await,
                "refresh_families" => entity::refresh_family::Entity::find().count(&db).await,
                "codes" => entity::authorization_code::Entity::find().count(&db).await,
                _ => entity::session::Entity::find().count(&db).await,
            }
            .unwrap()
        }
    };
    // Family A: two rotations. Family B: revoked. One code left unredeemed.
    let code = f.code("agency:read").await;
    let rt = ok_json(f.redeem(&code).await).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let rt = ok_json(f.refresh(&rt).await).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    ok_json(f.refresh(&rt).await).await;
    let code = f.code("agency:read").await;
    let revoked = ok_json(f.redeem(&code).await).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = f
        .app
        .client
        .post(f.app.url("/oauth/revoke"))
        .form(&[
            ("client_id", f.client_id.as_str()),
            ("token", revoked.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let _unredeemed = f.code("agency:read").await;
    let before = (
        count("refresh_tokens").await,
        count("refresh_families").await,
        count("codes").await,
        count("sessions").await,
    );
    assert_eq!((before.0, before.1), (4, 2), "three of A, one of B");
    assert!(before.2 >= 3 && before.3 >= 1, "{before:?}");

    let now = skedcast_auth::clock::now();
    skedcast_auth::maintenance::run_once(&f.app.state, now).await;
    let same = (
        count("refresh_tokens").await,
        count("refresh_families").await,
        count("codes").await,
        count("sessions").await,
    );
    assert_eq!(same, before, "nothing is due yet");

    // After the access-token lifetime (15 min): the revoked family is gone,
    // the live one and its tokens stay; codes (60 s, kept an hour) are gone.
    skedcast_auth::maintenance::run_once(&f.app.state, now + 2 * 3600).await;
    assert_eq!(
        count("refresh_families").await,
        1,
        "the revoked family goes"
    );
    assert_eq!(count("refresh_tokens").await, 3, "family A stays whole");
    assert_eq!(count("codes").await, 0);

    // After the absolute lifetime (30 days) and the idle session timeout.
    skedcast_auth::maintenance::run_once(&f.app.state, now + 31 * 86_400).await;
    assert_eq!(count("refresh_families").await, 0);
    assert_eq!(count("refresh_tokens").await, 0);
    assert_eq!(count("sessions").await, 0);
}

/// 8 refreshes of one token at once, with `refresh_reuse_grace_secs` =
/// `grace`: each answer (status, body) and the app.
async fn eight_parallel_refreshes(grace: &str) -> (Flow, String, Vec<(StatusCode, Value)>) {
    let db = Arc::new(fresh_db().await);
    let app = spawn_app_with(db, &[("SKEDCAST__TOKENS__REFRESH_REUSE_GRACE_SECS", grace)]).await;
    let mut f = setup_on(app, "owner", "agency:read").await;
    let code = f.code("agency:read").await;
    let rt = ok_json(f.redeem(&code).await).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let f = Arc::new(f);
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (f, rt, barrier) = (f.clone(), rt.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let resp = f.refresh(&rt).await;
                let status = resp.status();
                assert_eq!(resp.headers()["cache-control"], "no-store");
                (status, resp.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let f = Arc::into_inner(f).expect("tasks done");
    (f, rt, answers)
}

async fn family_revoked(f: &Flow) -> bool {
    use sea_orm::EntityTrait;
    let fams = entity::refresh_family::Entity::find()
        .all(&f.app.state.db)
        .await
        .unwrap();
    assert_eq!(fams.len(), 1, "one grant, one family");
    fams[0].revoked_at.is_some()
}

/// Issue 14, item 3: without a grace window (the default, 0) parallel
/// refreshes of one token are reuse: one wins and the family is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_reuse_grace_eight_parallel_refreshes_one_success_and_the_family_revoked() {
    let (f, _, answers) = eight_parallel_refreshes("0").await;
    let mut winners = Vec::new();
    for (status, body) in answers {
        match status {
            StatusCode::OK => winners.push(body),
            StatusCode::BAD_REQUEST => assert_eq!(body["error"], "invalid_grant"),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one refresh succeeds");
    assert!(family_revoked(&f).await, "the reuse revoked the family");
    let rt = winners[0]["refresh_token"].as_str().unwrap();
    assert_eq!(error_code(f.refresh(rt).await).await.1, "invalid_grant");
}

/// Issue 14, item 3: within the grace window the same client's parallel
/// refreshes of one token all succeed, each in the same family, and each
/// new token rotates again; once the window is over (the original token's
/// `used_at` is set back in the database, no sleeping), presenting it again
/// revokes the family with every token issued during the grace, and their
/// access tokens introspect inactive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reuse_grace_eight_parallel_refreshes_all_succeed_and_a_reuse_after_the_window_revokes_all()
{
    let (f, rt, answers) = eight_parallel_refreshes("30").await;
    let rs = resource_server(&f.app);
    let mut next = Vec::new();
    for (status, body) in answers {
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["scope"], "agency:read");
        let rt = body["refresh_token"].as_str().unwrap();
        let again = ok_json(f.refresh(rt).await).await;
        next.push(again);
    }
    assert!(!family_revoked(&f).await);
    let refresh_tokens: std::collections::BTreeSet<_> = next
        .iter()
        .map(|b| b["refresh_token"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refresh_tokens.len(), 8, "eight distinct live tokens");
    {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let tokens = entity::refresh_token::Entity::find()
            .count(&f.app.state.db)
            .await
            .unwrap();
        assert_eq!(tokens, 17, "the original, its 8 grace rotations and theirs");
        // The window is over for the original token: 31 s ago.
        let hash = skedcast_auth::crypto::sha256_hex(&rt);
        let t = entity::refresh_token::Entity::find()
            .filter(entity::refresh_token::Column::TokenHash.eq(hash))
            .one(&f.app.state.db)
            .await
            .unwrap()
            .unwrap();
        let mut t: entity::refresh_token::ActiveModel = t.into();
        let used_at = skedcast_auth::clock::now() - 31;
        t.used_at = sea_orm::ActiveValue::Set(Some(used_at));
        sea_orm::ActiveModelTrait::update(t, &f.app.state.db)
            .await
            .unwrap();
    }
    let (status, err) = error_code(f.refresh(&rt).await).await;
    assert_eq!(
        (status, err.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert!(family_revoked(&f).await, "reuse after the window");
    for body in &next {
        let rt = body["refresh_token"].as_str().unwrap();
        assert_eq!(error_code(f.refresh(rt).await).await.1, "invalid_grant");
        let at = body["access_token"].as_str().unwrap();
        assert_eq!(introspect(&f.app, &rs, at).await, inactive());
    }
}

/// Issue 14, item 3: the grace is for the client the token was issued to.
/// Within the window another client presenting the just-rotated token gets
/// `invalid_grant` (as without grace) and no token; the owner's grace still
/// works afterwards.
#[tokio::test]
async fn reuse_grace_is_only_for_the_same_client() {
    let db = Arc::new(fresh_db().await);
    let app = spawn_app_with(db, &[("SKEDCAST__TOKENS__REFRESH_REUSE_GRACE_SECS", "30")]).await;
    let mut f = setup_on(app, "owner", "agency:read").await;
    let code = f.code("agency:read").await;
    let rt = ok_json(f.redeem(&code).await).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    ok_json(f.refresh(&rt).await).await;
    let other = public_client(&f.app, json!({})).await;
    let resp = f
        .app
        .client
        .post(f.app.url("/oauth/token"))
        .form(&[
            ("client_id", other["client_id"].as_str().unwrap()),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (status, err) = error_code(resp).await;
    assert_eq!(
        (status, err.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    use sea_orm::{EntityTrait, PaginatorTrait};
    let tokens = entity::refresh_token::Entity::find()
        .count(&f.app.state.db)
        .await
        .unwrap();
    assert_eq!(tokens, 2, "no token for the other client");
    ok_json(f.refresh(&rt).await).await;
}
