//! The authorization_code grant (OAuth 2.1 §4.1.3) from registration
//! through sign-in, consent, code exchange, refresh and revocation; PKCE,
//! redirect URI and code errors; replayed codes; one success among parallel
//! redemptions.

use std::sync::Arc;

use crate::support::browser::*;
use crate::support::flow::*;
use crate::support::token::{DEFAULT_RESOURCE, introspect};
use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;

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
    assert_eq!(claims["aud"], DEFAULT_RESOURCE);
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
    // Refresh tokens are never revealed to resource servers (issue 13).
    assert_eq!(introspect(&f.app, &rs, &rt).await, json!({"active": false}));

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

/// 20 redemptions of one code at once: one wins; every other is
/// `invalid_grant` and, being a second use of the code, revokes what the
/// winner got (its refresh family and its access token).
async fn parallel_code_redemptions(app: TestApp, in_flight: Arc<InFlight>) {
    const N: usize = 20;
    let mut f = setup_on(app, "owner", "agency:read offline_access").await;
    let rs = resource_server(&f.app);
    let code = f.code("agency:read offline_access").await;
    let f = Arc::new(f);
    // Every task is ready before any sends: the requests start together.
    let barrier = Arc::new(tokio::sync::Barrier::new(N));
    in_flight.reset();
    let tasks: Vec<_> = (0..N)
        .map(|_| {
            let (f, code, barrier) = (f.clone(), code.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let resp = f.redeem(&code).await;
                let status = resp.status();
                let body: serde_json::Value = resp.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::OK => winners.push(body),
            StatusCode::BAD_REQUEST => assert_eq!(body["error"], "invalid_grant", "{body}"),
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one redemption succeeds");
    // The requests overlapped inside the server (not one after another).
    let overlap = in_flight.max();
    assert!(
        overlap >= 2,
        "at most {overlap} request(s) in the server at once"
    );

    // The replay rule: the losers' second use of the code revoked what it
    // issued to the winner.
    let won = &winners[0];
    let (at, rt) = (
        won["access_token"].as_str().unwrap(),
        won["refresh_token"].as_str().expect("a refresh token"),
    );
    assert_eq!(introspect(&f.app, &rs, at).await, json!({"active": false}));
    assert_eq!(introspect(&f.app, &rs, rt).await, json!({"active": false}));
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let families = entity::refresh_family::Entity::find()
        .filter(entity::refresh_family::Column::ClientId.eq(f.client_id.as_str()))
        .all(&f.app.state.db)
        .await
        .unwrap();
    assert_eq!(families.len(), 1, "one family, the winner's");
    assert!(families[0].revoked_at.is_some(), "the family is revoked");
    let (_, err) = error_code(f.refresh(rt).await).await;
    assert_eq!(err, "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_redemptions_one_success_on_the_suite_database() {
    let (app, in_flight) = spawn_app_observed(Arc::new(fresh_db().await), &[]).await;
    parallel_code_redemptions(app, in_flight).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_redemptions_one_success_on_postgres() {
    let (app, in_flight) = spawn_app_observed(Arc::new(fresh_pg_db().await), &[]).await;
    parallel_code_redemptions(app, in_flight).await;
}
