//! Revocation (RFC 7009): a client revokes only its own tokens, unknown
//! tokens answer 200, the jti is kept until the token would have expired,
//! and the client authenticates as at the token endpoint.

use crate::support::token::*;
use crate::support::*;
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

#[tokio::test]
async fn revocation_records_the_jti_of_the_clients_own_tokens_only() {
    let app = spawn_app().await;
    let rs = create_resource_server(&app, "SkedCast API", DEFAULT_RESOURCE);
    let a = cc_client(&app, "client_secret_basic", "agency:read").await;
    let b = cc_client(&app, "client_secret_post", "agency:read").await;
    let token = access_token(&app, &a, &[]).await;
    let revoke_as_b = |t: &str| {
        let t = t.to_string();
        let (id, secret) = (b.id.clone(), b.secret.clone().unwrap());
        let app = &app;
        async move {
            post_form(
                app,
                "/oauth/revoke",
                None,
                &[
                    ("token", &t),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ],
            )
            .await
        }
    };

    // Another client's token: 200 and nothing happens.
    let resp = revoke_as_b(&token).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_no_store(&resp);
    assert_eq!(introspect(&app, &rs, &token).await["active"], true);

    // Unknown tokens: 200.
    for t in ["garbage", "a.b.c", "sked_live_x"] {
        assert_eq!(revoke_as_b(t).await.status(), StatusCode::OK, "{t}");
    }

    // The owner revokes (an unknown hint value is ignored): inactive.
    let auth = basic(&a.id, a.secret.as_deref().unwrap());
    let resp = post_form(
        &app,
        "/oauth/revoke",
        Some(&auth),
        &[("token", &token), ("token_type_hint", "something_else")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_no_store(&resp);
    assert!(resp.text().await.unwrap().is_empty());
    assert_eq!(introspect(&app, &rs, &token).await, inactive());
    // Again, with the right hint: still 200.
    let resp = post_form(
        &app,
        "/oauth/revoke",
        Some(&auth),
        &[("token", &token), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    // Other tokens of the same client stay active.
    let other = access_token(&app, &a, &[]).await;
    assert_eq!(introspect(&app, &rs, &other).await["active"], true);

    // The jti is kept until exp, then pruned.
    let exp = jwt_parts(&token).1["exp"].as_i64().unwrap();
    let rows = entity::revoked_access_token::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].jti, jwt_parts(&token).1["jti"].as_str().unwrap());
    assert_eq!(rows[0].expires_at, exp);
    skedcast_auth::maintenance::run_once(&app.state, exp - 1).await;
    assert_eq!(
        entity::revoked_access_token::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        1
    );
    skedcast_auth::maintenance::run_once(&app.state, exp + 1).await;
    assert_eq!(
        entity::revoked_access_token::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );

    // Client authentication as at the token endpoint.
    let resp = post_form(
        &app,
        "/oauth/revoke",
        Some(&basic(&a.id, "wrong")),
        &[("token", &other)],
    )
    .await;
    assert!(challenge(&resp).is_some());
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = post_form(&app, "/oauth/revoke", None, &[("token", &other)]).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = post_form(&app, "/oauth/revoke", Some(&auth), &[]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    let resp = app
        .client
        .post(app.url("/oauth/revoke"))
        .header(AUTHORIZATION, &auth)
        .json(&json!({"token": other}))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(introspect(&app, &rs, &other).await["active"], true);

    // A public client authenticates with its client_id alone.
    let public = register(
        &app,
        json!({
            "redirect_uris": ["http://127.0.0.1:9999/cb"],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    let resp = post_form(
        &app,
        "/oauth/revoke",
        None,
        &[("token", &other), ("client_id", &public.id)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &rs, &other).await["active"], true);
}
