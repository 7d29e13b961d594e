//! The whole flow from registration through sign-in, consent, code
//! exchange, refresh and revocation; PKCE and code errors; concurrency;
//! role changes between refreshes; API keys at introspection.

mod common;

use std::sync::Arc;

use common::browser::*;
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const API: &str = "http://127.0.0.1:8081";

struct Flow {
    app: TestApp,
    client_id: String,
    user_id: String,
    b: Browser,
}

async fn setup(role: &str, scope: &str) -> Flow {
    setup_on(spawn_app().await, role, scope).await
}

async fn setup_on(app: TestApp, role: &str, scope: &str) -> Flow {
    let user_id = member(&app, "ann@example.com", "Acme", role).await;
    let client = public_client(&app, json!({})).await;
    let client_id = client["client_id"].as_str().unwrap().to_string();
    let mut b = Browser::new(&app);
    let resp = authorize_with_consent(
        &app,
        &mut b,
        &client_id,
        "ann@example.com",
        &[("scope", scope)],
    )
    .await;
    assert!(
        location_params(&resp).contains_key("code"),
        "{}",
        location(&resp)
    );
    Flow {
        app,
        client_id,
        user_id,
        b,
    }
}

impl Flow {
    /// A fresh code through the remembered consent (or the page).
    async fn code(&mut self, scope: &str) -> String {
        let resp = authorize_with_consent(
            &self.app,
            &mut self.b,
            &self.client_id,
            "ann@example.com",
            &[("scope", scope)],
        )
        .await;
        location_params(&resp)["code"].clone()
    }

    async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        let mut f: Vec<(&str, &str)> = vec![("client_id", self.client_id.as_str())];
        f.extend_from_slice(form);
        self.app
            .client
            .post(self.app.url("/oauth/token"))
            .form(&f)
            .send()
            .await
            .unwrap()
    }

    async fn redeem(&self, code: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ])
        .await
    }

    async fn refresh(&self, rt: &str) -> reqwest::Response {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
            .await
    }
}

async fn ok_json(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 200, "{:?}", resp.url());
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
    resp.json().await.unwrap()
}

async fn error_code(resp: reqwest::Response) -> (StatusCode, String) {
    let status = resp.status();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let v: Value = resp.json().await.unwrap();
    assert!(
        !v["error_description"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{v}"
    );
    (status, v["error"].as_str().unwrap().to_string())
}

/// A resource server for the default resource, and an introspection helper.
fn resource_server(app: &TestApp) -> (String, String) {
    let out = app.cli(&[
        "resource-server",
        "create",
        "--name",
        "API",
        "--resource",
        API,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    let mut l = s.lines();
    (l.next().unwrap().into(), l.next().unwrap().into())
}

async fn introspect(app: &TestApp, rs: &(String, String), token: &str) -> Value {
    let resp = app
        .client
        .post(app.url("/oauth/introspect"))
        .basic_auth(&rs.0, Some(&rs.1))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn registration_to_revocation_end_to_end() {
    let mut f = setup("owner", "agency:read posts:write offline_access").await;
    let rs = resource_server(&f.app);
    let code = f.code("agency:read posts:write offline_access").await;
    let body = ok_json(f.redeem(&code).await).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "agency:read posts:write");
    let at = body["access_token"].as_str().unwrap();
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    assert!(rt.len() >= 43);

    // The access token, checked with a second JWT implementation.
    let jwks = f.app.get_json("/.well-known/jwks.json").await;
    let claims = verify_with_p256(at, &jwks).expect("p256 verifies the josekit signature");
    let (header, _) = jwt_parts(at);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(claims["iss"], f.app.base);
    assert_eq!(claims["sub"], f.user_id);
    assert_eq!(claims["aud"], API);
    assert_eq!(claims["client_id"], f.client_id);
    assert_eq!(claims["scope"], "agency:read posts:write");
    assert_eq!(claims["role"], "owner");
    assert!(claims["agency_id"].as_str().unwrap().len() == 36);
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );

    let i = introspect(&f.app, &rs, at).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["sub"], f.user_id);
    assert_eq!(i["role"], "owner");
    let i = introspect(&f.app, &rs, &rt).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["token_type"], "refresh_token");

    // Refresh rotates.
    let body2 = ok_json(f.refresh(&rt).await).await;
    let rt2 = body2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt2, rt);
    assert_eq!(body2["scope"], "agency:read posts:write");
    // Narrowing is allowed, widening is not.
    let narrowed = ok_json(
        f.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt2),
            ("scope", "agency:read"),
        ])
        .await,
    )
    .await;
    assert_eq!(narrowed["scope"], "agency:read");
    let rt3 = narrowed["refresh_token"].as_str().unwrap().to_string();
    let (status, err) = error_code(
        f.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt3),
            ("scope", "billing:read"),
        ])
        .await,
    )
    .await;
    assert_eq!(
        (status, err.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_scope")
    );

    // Revoking the access token: introspection says inactive.
    let at3 = narrowed["access_token"].as_str().unwrap();
    let resp = f
        .app
        .client
        .post(f.app.url("/oauth/revoke"))
        .form(&[("client_id", f.client_id.as_str()), ("token", at3)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(introspect(&f.app, &rs, at3).await, json!({"active": false}));

    // Revoking the refresh token ends the family.
    let resp = f
        .app
        .client
        .post(f.app.url("/oauth/revoke"))
        .form(&[
            ("client_id", f.client_id.as_str()),
            ("token", rt3.as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, err) = error_code(f.refresh(&rt3).await).await;
    assert_eq!(err, "invalid_grant");
    assert_eq!(
        introspect(&f.app, &rs, &rt3).await,
        json!({"active": false})
    );
    // Access tokens issued by the family are reported inactive too.
    assert_eq!(
        introspect(&f.app, &rs, body2["access_token"].as_str().unwrap()).await,
        json!({"active": false})
    );
}

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

#[tokio::test]
async fn pkce_redirect_and_code_errors() {
    let mut f = setup("owner", "agency:read").await;
    let code = f.code("agency:read").await;
    type Case<'a> = (&'a [(&'a str, &'a str)], StatusCode, &'a str);
    let bad: &[Case] = &[
        (
            &[(
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            )],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            &[("code_verifier", "short")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &[("code_verifier", &"a".repeat(129))],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &[(
                "code_verifier",
                "dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk",
            )],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &[("code_verifier", "")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &[("redirect_uri", "http://127.0.0.1/other")],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (
            &[("redirect_uri", "")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            &[("resource", "https://elsewhere.example")],
            StatusCode::BAD_REQUEST,
            "invalid_target",
        ),
        (
            &[("code", "not-a-code")],
            StatusCode::BAD_REQUEST,
            "invalid_grant",
        ),
        (&[("code", "")], StatusCode::BAD_REQUEST, "invalid_request"),
    ];
    for (over, status, want) in bad {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ];
        for (k, v) in *over {
            form.retain(|(fk, _)| fk != k);
            if !v.is_empty() {
                form.push((k, v));
            }
        }
        let (s, e) = error_code(f.token(&form).await).await;
        assert_eq!((s, e.as_str()), (*status, *want), "{over:?}");
    }
    // None of those consumed the code: the right request still works.
    ok_json(f.redeem(&code).await).await;

    // Another client cannot redeem a code.
    let code = f.code("agency:read").await;
    let other = public_client(&f.app, json!({})).await;
    let resp = f
        .app
        .client
        .post(f.app.url("/oauth/token"))
        .form(&[
            ("client_id", other["client_id"].as_str().unwrap()),
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await.1, "invalid_grant");

    // An expired code.
    let code = f.code("agency:read").await;
    use sea_orm::{ConnectionTrait, Statement};
    f.app
        .state
        .db
        .execute_raw(Statement::from_string(
            f.app.state.db.get_database_backend(),
            "UPDATE authorization_codes SET expires_at = expires_at - 120",
        ))
        .await
        .unwrap();
    assert_eq!(error_code(f.redeem(&code).await).await.1, "invalid_grant");
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
    let mut f = setup("owner", "agency:read offline_access").await;
    let rs = resource_server(&f.app);
    let code = f.code("agency:read offline_access").await;
    let first = ok_json(f.redeem(&code).await).await;
    let (status, err) = error_code(f.redeem(&code).await).await;
    assert_eq!(
        (status, err.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(
        introspect(&f.app, &rs, first["access_token"].as_str().unwrap()).await,
        json!({"active": false})
    );
    let (_, err) = error_code(f.refresh(first["refresh_token"].as_str().unwrap()).await).await;
    assert_eq!(err, "invalid_grant");
}

async fn parallel_code_redemptions(app: TestApp) {
    let mut f = setup_on(app, "owner", "agency:read").await;
    let code = f.code("agency:read").await;
    let f = Arc::new(f);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let f = f.clone();
            let code = code.clone();
            tokio::spawn(async move { f.redeem(&code).await.status() })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::BAD_REQUEST => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 1, "exactly one redemption succeeds");
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
async fn twenty_parallel_redemptions_one_success_on_the_suite_database() {
    parallel_code_redemptions(spawn_app().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_redemptions_one_success_on_postgres() {
    let Some(db) = fresh_pg_db().await else {
        return;
    };
    parallel_code_redemptions(spawn_app_with(Arc::new(db), &[]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_refreshes_one_success_on_the_suite_database() {
    parallel_refreshes(spawn_app().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_refreshes_one_success_on_postgres() {
    let Some(db) = fresh_pg_db().await else {
        return;
    };
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

#[tokio::test]
async fn api_keys_at_introspection_follow_the_role_rotation_and_revocation() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let rs = resource_server(&app);
    let out = app.cli(&[
        "api-key",
        "create",
        "--email",
        "ann@example.com",
        "--agency",
        "Acme",
        "--name",
        "ci",
        "--scopes",
        "agency:read members:write posts:write",
        "--expires-in-days",
        "30",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();

    let i = introspect(&app, &rs, &key).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["token_type"], "api_key");
    assert_eq!(i["scope"], "agency:read members:write posts:write");
    assert_eq!(i["role"], "owner");
    assert!(i["agency_id"].is_string() && i["sub"].is_string() && i["exp"].is_i64());
    // last_used_at is written once, not on every check within a minute.
    let used = || async {
        use sea_orm::EntityTrait;
        entity::api_key::Entity::find()
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
            .last_used_at
    };
    let first_use = used().await.expect("last_used_at set");
    use sea_orm::{ConnectionTrait, Statement};
    app.state
        .db
        .execute_raw(Statement::from_string(
            app.state.db.get_database_backend(),
            format!("UPDATE api_keys SET last_used_at = {}", first_use - 30),
        ))
        .await
        .unwrap();
    introspect(&app, &rs, &key).await;
    assert_eq!(
        used().await,
        Some(first_use - 30),
        "no write within a minute"
    );
    app.state
        .db
        .execute_raw(Statement::from_string(
            app.state.db.get_database_backend(),
            format!("UPDATE api_keys SET last_used_at = {}", first_use - 61),
        ))
        .await
        .unwrap();
    introspect(&app, &rs, &key).await;
    assert!(
        used().await.unwrap() >= first_use,
        "written again after a minute"
    );

    // Demoted: the scopes shrink at once.
    skedcast_auth::accounts::set_role(&app.state.db, "ann@example.com", "Acme", "viewer")
        .await
        .unwrap();
    let i = introspect(&app, &rs, &key).await;
    assert_eq!(i["scope"], "agency:read");
    assert_eq!(i["role"], "viewer");
    skedcast_auth::accounts::set_role(&app.state.db, "ann@example.com", "Acme", "owner")
        .await
        .unwrap();

    // Rotation with a grace period: both work; without: the old one stops.
    let now = skedcast_auth::clock::now();
    let row = skedcast_auth::api_keys::find(&app.state.db, &{
        use sea_orm::EntityTrait;
        entity::api_key::Entity::find()
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
            .id
    })
    .await
    .unwrap()
    .unwrap();
    let rotated = skedcast_auth::api_keys::rotate(&app.state.db, &row, "test", 1, now)
        .await
        .unwrap();
    assert_eq!(
        introspect(&app, &rs, &key).await["active"],
        true,
        "old secret in its grace period"
    );
    assert_eq!(introspect(&app, &rs, &rotated.secret).await["active"], true);
    let again = skedcast_auth::api_keys::rotate(&app.state.db, &rotated.key, "test", 0, now)
        .await
        .unwrap();
    assert_eq!(
        introspect(&app, &rs, &rotated.secret).await,
        json!({"active": false}),
        "no grace: stops now"
    );
    assert_eq!(
        introspect(&app, &rs, &key).await,
        json!({"active": false}),
        "the first secret is long gone"
    );
    assert_eq!(introspect(&app, &rs, &again.secret).await["active"], true);

    // Removed from the agency: inactive.
    skedcast_auth::accounts::remove_member(&app.state.db, "ann@example.com", "Acme")
        .await
        .unwrap();
    assert_eq!(
        introspect(&app, &rs, &again.secret).await,
        json!({"active": false})
    );
    skedcast_auth::accounts::set_role(&app.state.db, "ann@example.com", "Acme", "owner")
        .await
        .unwrap();
    assert_eq!(introspect(&app, &rs, &again.secret).await["active"], true);

    // Revoked: inactive at once.
    let out = app.cli(&["api-key", "revoke", "--id", &again.key.id]);
    assert!(out.status.success());
    assert_eq!(
        introspect(&app, &rs, &again.secret).await,
        json!({"active": false})
    );

    // Expired: inactive.
    let out = app.cli(&[
        "api-key",
        "create",
        "--email",
        "ann@example.com",
        "--agency",
        "Acme",
        "--name",
        "old",
        "--scopes",
        "agency:read",
        "--expires-in-days",
        "1",
    ]);
    let old = String::from_utf8(out.stdout).unwrap().trim().to_string();
    app.state
        .db
        .execute_raw(Statement::from_string(
            app.state.db.get_database_backend(),
            "UPDATE api_keys SET expires_at = 0",
        ))
        .await
        .unwrap();
    assert_eq!(introspect(&app, &rs, &old).await, json!({"active": false}));
}

#[tokio::test]
async fn a_key_with_a_broken_checksum_is_refused_without_a_lookup() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let rs = resource_server(&app);
    let out = app.cli(&[
        "api-key",
        "create",
        "--email",
        "ann@example.com",
        "--agency",
        "Acme",
        "--name",
        "ci",
        "--scopes",
        "agency:read",
        "--expires-in-days",
        "30",
    ]);
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let mut typo: Vec<char> = key.chars().collect();
    typo[12] = if typo[12] == 'x' { 'y' } else { 'x' };
    let typo: String = typo.into_iter().collect();
    // With the table gone, any lookup would fail with a server error: the
    // typo is answered from the checksum alone.
    use sea_orm::ConnectionTrait;
    app.state
        .db
        .execute_unprepared("DROP TABLE api_keys")
        .await
        .unwrap();
    assert_eq!(introspect(&app, &rs, &typo).await, json!({"active": false}));
    let resp = app
        .client
        .post(app.url("/oauth/introspect"))
        .basic_auth(&rs.0, Some(&rs.1))
        .form(&[("token", key.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_server_error(),
        "a well-formed key does query the table"
    );
}
