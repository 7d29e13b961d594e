//! Introspection (RFC 7662) by resource servers made with the CLI: access
//! tokens in every state, API keys following role changes, rotation and
//! revocation, and keys with a broken checksum refused without a lookup.

use crate::support::browser::*;
use crate::support::flow::resource_server;
use crate::support::token::*;
use crate::support::*;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use skedcast_auth::oauth::client::store as clients;
use skedcast_auth::oauth::token::access_token::Claims;

#[tokio::test]
async fn resource_servers_introspect_access_tokens() {
    let app = spawn_app().await;
    let rs = create_resource_server(&app, "SkedCast API", DEFAULT_RESOURCE);
    let c = cc_client(&app, "client_secret_basic", "agency:read posts:read").await;
    let token = access_token(&app, &c, &[]).await;
    let (_, claims) = jwt_parts(&token);

    // Active: every field.
    let v = introspect(&app, &rs, &token).await;
    assert_eq!(
        v,
        json!({
            "active": true,
            "scope": "agency:read posts:read",
            "client_id": c.id,
            "sub": c.id,
            "exp": claims["exp"],
            "iat": claims["iat"],
            "iss": app.base,
            "aud": DEFAULT_RESOURCE,
            "token_type": "Bearer",
        })
    );
    // client_secret_post works for resource servers too.
    let resp = post_form(
        &app,
        "/oauth/introspect",
        None,
        &[
            ("token", &token),
            ("client_id", &rs.0),
            ("client_secret", &rs.1),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["active"], true);

    // Garbage, API keys and opaque strings: exactly {"active": false}.
    for t in [
        "garbage",
        "sked_live_0123456789abcdef",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    ] {
        let resp = post_form(
            &app,
            "/oauth/introspect",
            Some(&basic(&rs.0, &rs.1)),
            &[("token", t)],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.text().await.unwrap(), r#"{"active":false}"#, "{t}");
    }
    // A token whose signature was tampered with.
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(introspect(&app, &rs, &tampered).await, inactive());

    // Expired: our key, our claims, exp in the past.
    let now = skedcast_auth::clock::now();
    let mut expired = Claims {
        iss: app.base.clone(),
        sub: c.id.clone(),
        aud: DEFAULT_RESOURCE.into(),
        client_id: c.id.clone(),
        scope: "agency:read".into(),
        iat: now - 1000,
        exp: now - 100,
        jti: uuid::Uuid::new_v4().to_string(),
        agency_id: None,
        role: None,
        cnf: None,
        amr: None,
    };
    let t = app.state.keys.sign("at+jwt", &expired).await.unwrap();
    assert_eq!(introspect(&app, &rs, &t).await, inactive());
    // The same claims, still valid, with agency_id and role: active, and both reported.
    expired.exp = now + 100;
    expired.agency_id = Some("ag-1".into());
    expired.role = Some("editor".into());
    let t = app.state.keys.sign("at+jwt", &expired).await.unwrap();
    let v = introspect(&app, &rs, &t).await;
    assert_eq!(
        (v["agency_id"].as_str(), v["role"].as_str()),
        (Some("ag-1"), Some("editor"))
    );
    // Another typ, another issuer: inactive.
    let t = app.state.keys.sign("JWT", &expired).await.unwrap();
    assert_eq!(introspect(&app, &rs, &t).await, inactive());
    let mut other_iss = expired.clone();
    other_iss.iss = "https://evil.example".into();
    let t = app.state.keys.sign("at+jwt", &other_iss).await.unwrap();
    assert_eq!(introspect(&app, &rs, &t).await, inactive());
    // Signed by a key that is not ours (same kid even): inactive.
    let foreign = skedcast_auth::keys::material::generate().unwrap();
    let signer = josekit::jws::ES256
        .signer_from_pem(&foreign.private_pem)
        .unwrap();
    let mut header = josekit::jws::JwsHeader::new();
    header.set_token_type("at+jwt");
    header.set_key_id(app.state.keys.active_kid().await.unwrap());
    let payload = serde_json::to_vec(&expired).unwrap();
    let t = josekit::jws::serialize_compact(&payload, &header, &signer).unwrap();
    assert_eq!(introspect(&app, &rs, &t).await, inactive());

    // A resource server for another resource learns nothing about tokens
    // for this one, and sees tokens issued for it.
    let other_url = "https://reports.example";
    let other = create_resource_server(&app, "Reports", other_url);
    assert_eq!(introspect(&app, &other, &token).await, inactive());
    let for_other = access_token(&app, &c, &[("resource", other_url)]).await;
    assert_eq!(jwt_parts(&for_other).1["aud"], other_url);
    let v = introspect(&app, &other, &for_other).await;
    assert_eq!(
        (v["active"].as_bool(), v["aud"].as_str()),
        (Some(true), Some(other_url))
    );
    assert_eq!(introspect(&app, &rs, &for_other).await, inactive());

    // Only resource servers may call; missing token is invalid_request.
    let resp = post_form(
        &app,
        "/oauth/introspect",
        Some(&basic(&c.id, c.secret.as_deref().unwrap())),
        &[("token", &token)],
    )
    .await;
    assert!(challenge(&resp).is_some());
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = post_form(&app, "/oauth/introspect", None, &[("token", &token)]).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = post_form(
        &app,
        "/oauth/introspect",
        Some(&basic(&rs.0, "wrong")),
        &[("token", &token)],
    )
    .await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = post_form(&app, "/oauth/introspect", Some(&basic(&rs.0, &rs.1)), &[]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;

    // A resource server cannot obtain tokens.
    let resp = post_form(
        &app,
        "/oauth/token",
        Some(&basic(&rs.0, &rs.1)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    expect_error(resp, StatusCode::BAD_REQUEST, "unauthorized_client").await;
}

#[tokio::test]
async fn resource_server_cli_rejects_bad_input_in_one_line() {
    let app = spawn_app().await;
    for (args, want) in [
        (
            ["--name", "API", "--resource", "not-a-url"],
            "--resource \"not-a-url\"",
        ),
        (
            ["--name", "API", "--resource", "https://api.example/#x"],
            "fragment",
        ),
        (
            ["--name", "API", "--resource", "ftp://api.example"],
            "http(s)",
        ),
        (
            ["--name", "", "--resource", "https://api.example"],
            "--name",
        ),
    ] {
        let mut argv = vec!["resource-server", "create"];
        argv.extend(args);
        let out = app.cli(&argv);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{argv:?}");
        assert!(out.stdout.is_empty(), "{argv:?}");
        assert!(stderr.contains(want), "{argv:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
    // Nothing was stored; a good call stores a resource server.
    let count = || entity::client::Entity::find().count(&app.state.db);
    assert_eq!(count().await.unwrap(), 0);
    let (id, secret) = create_resource_server(&app, "API", "https://api.example");
    let row = clients::find(&app.state.db, &id).await.unwrap().unwrap();
    assert_eq!(row.kind.as_str(), "resource_server");
    assert_eq!(row.resource.as_deref(), Some("https://api.example"));
    assert_eq!(row.client_name.as_deref(), Some("API"));
    assert_eq!(row.registration_token_hash, None);
    assert_eq!(
        row.client_secret_hash.as_deref(),
        Some(skedcast_auth::crypto::sha256_hex(&secret).as_str())
    );
    assert_eq!(secret.len(), 43, "256-bit secret");
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

/// Issue 13 item 14: refresh tokens are never revealed to resource servers
/// (RFC 7662 §2.2 lets the server answer inactive): a live refresh token,
/// with or without the hint, is `{"active": false}`, even to the resource
/// server it was granted for, while its access token is active.
#[tokio::test]
async fn refresh_tokens_are_inactive_to_resource_servers() {
    let mut f = crate::support::flow::setup("owner", "agency:read offline_access").await;
    let rs = resource_server(&f.app);
    let code = f.code("agency:read offline_access").await;
    let body = f.redeem(&code).await.json::<Value>().await.unwrap();
    let at = body["access_token"].as_str().unwrap();
    let rt = body["refresh_token"].as_str().unwrap().to_string();

    assert_eq!(introspect(&f.app, &rs, at).await["active"], true);
    assert_eq!(introspect(&f.app, &rs, &rt).await, json!({"active": false}));
    for hint in ["refresh_token", "access_token"] {
        let resp = post_form(
            &f.app,
            "/oauth/introspect",
            None,
            &[
                ("token", &rt),
                ("token_type_hint", hint),
                ("client_id", &rs.0),
                ("client_secret", &rs.1),
            ],
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"active": false})
        );
    }
    // The refresh token was live all along.
    let resp = f.refresh(&rt).await;
    assert_eq!(resp.status(), StatusCode::OK);
}

/// Issue 13 item 14: an RFC 7592 DELETE ends the client's outstanding
/// tokens: introspection then reports its access token inactive, and its
/// refresh token no longer works.
#[tokio::test]
async fn deleting_a_client_makes_its_access_tokens_inactive() {
    let app = spawn_app().await;
    let rs = resource_server(&app);
    member(&app, "ann@example.com", "Acme", "owner").await;
    let client = public_client(&app, json!({"scope": "agency:read offline_access"})).await;
    let id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);
    let resp = authorize_with_consent(
        &app,
        &mut b,
        id,
        "ann@example.com",
        &[("scope", "agency:read offline_access")],
    )
    .await;
    let code = location_params(&resp)["code"].clone();
    let resp = post_form(
        &app,
        "/oauth/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", id),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let tokens: Value = resp.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&app, &rs, access).await["active"], true);

    let resp = app
        .client
        .delete(app.url(&format!("/oauth/register/{id}")))
        .bearer_auth(client["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    assert_eq!(introspect(&app, &rs, access).await, inactive());
    let resp = post_form(
        &app,
        "/oauth/token",
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", id),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert!(resp.status().is_client_error(), "{}", resp.status());
}
