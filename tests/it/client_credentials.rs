//! The client_credentials grant (RFC 6749 §4.4) and client authentication
//! at the token endpoint (§2.3.1), every token error with its code and
//! no-store, registration changes seen at once, and the metadata that
//! advertises the token endpoints. Access tokens are checked with a second
//! JWT implementation (p256) against the served JWKS.

use crate::support::token::*;
use crate::support::*;
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use skedcast_auth::oauth::client::store as clients;

#[tokio::test]
async fn client_credentials_issues_a_verifiable_access_token_with_basic_and_post() {
    let app = spawn_app().await;
    let c = cc_client(&app, "client_secret_basic", "agency:read posts:read").await;
    let before = skedcast_auth::clock::now();
    let resp = token_basic(&app, &c, &[("grant_type", "client_credentials")]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_no_store(&resp);
    let body: Value = resp.json().await.unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["access_token", "token_type", "expires_in", "scope"],
        "no refresh token: {body}"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "agency:read posts:read");

    let token = body["access_token"].as_str().unwrap();
    let jwks = app.get_json("/.well-known/jwks.json").await;
    let claims = verify_with_p256(token, &jwks).expect("verifies against the served JWKS");
    let (header, _) = jwt_parts(token);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(
        header["kid"].as_str(),
        app.state.keys.active_kid().await.as_deref()
    );
    let names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        names,
        [
            "iss",
            "sub",
            "aud",
            "client_id",
            "scope",
            "iat",
            "exp",
            "jti"
        ],
        "exactly the contract's claims, no agency_id/role"
    );
    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["sub"], c.id.as_str());
    assert_eq!(claims["client_id"], c.id.as_str());
    assert_eq!(claims["aud"], DEFAULT_RESOURCE);
    assert_eq!(claims["scope"], "agency:read posts:read");
    let iat = claims["iat"].as_i64().unwrap();
    assert!(iat >= before && iat <= skedcast_auth::clock::now());
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 900);
    let jti = claims["jti"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(jti).unwrap().get_version_num(), 4);

    // A narrower scope, the default resource named explicitly, and the
    // client_id repeated in the body alongside Basic.
    let resp = token_basic(
        &app,
        &c,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "posts:read"),
            ("resource", DEFAULT_RESOURCE),
            ("client_id", &c.id),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "posts:read");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["scope"], "posts:read");
    assert_ne!(claims["jti"], jti, "a fresh jti per token");

    // RFC 6749 §2.3.1: id and secret are form-urlencoded inside Basic.
    let auth = basic(
        &encode_all(&c.id),
        &encode_all(c.secret.as_deref().unwrap()),
    );
    let resp = post_form(
        &app,
        "/oauth/token",
        Some(&auth),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // client_secret_post.
    let p = cc_client(&app, "client_secret_post", "analytics:read").await;
    let resp = post_form(
        &app,
        "/oauth/token",
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &p.id),
            ("client_secret", p.secret.as_deref().unwrap()),
        ],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_no_store(&resp);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "analytics:read");
    let claims = verify_with_p256(body["access_token"].as_str().unwrap(), &jwks).unwrap();
    assert_eq!(claims["sub"], p.id.as_str());
    assert_eq!(claims["client_id"], p.id.as_str());
}

#[tokio::test]
async fn every_token_error_has_its_code_and_no_store() {
    let app = spawn_app_with(
        std::sync::Arc::new(fresh_db().await),
        &[INITIAL_ACCESS_TOKEN_SETTING],
    )
    .await;
    // Registered (the CLI refuses offline_access for a machine client).
    let c = managed_cc_client(&app, "client_secret_basic", "agency:read offline_access").await;
    let secret = c.secret.clone().unwrap();
    let cc = ("grant_type", "client_credentials");

    // Wrong secret and unknown client: 401, Basic challenge, same answer.
    let resp = post_form(&app, "/oauth/token", Some(&basic(&c.id, "wrong")), &[cc]).await;
    assert_eq!(
        challenge(&resp).as_deref(),
        Some("Basic realm=\"skedcast\"")
    );
    let wrong = expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let resp = post_form(
        &app,
        "/oauth/token",
        Some(&basic("no-such-client", &secret)),
        &[cc],
    )
    .await;
    assert!(challenge(&resp).is_some());
    let unknown = expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert_eq!(wrong, unknown, "unknown client and wrong secret look alike");
    // Unknown client over client_secret_post: 401 without a Basic challenge.
    let resp = post_form(
        &app,
        "/oauth/token",
        None,
        &[cc, ("client_id", "nobody"), ("client_secret", "x")],
    )
    .await;
    assert!(challenge(&resp).is_none());
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // No client authentication at all.
    let resp = post_form(&app, "/oauth/token", None, &[cc]).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // Another Authorization scheme.
    let resp = post_form(&app, "/oauth/token", Some("Bearer abc"), &[cc]).await;
    assert!(challenge(&resp).is_some());
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // Two methods in one request.
    let resp = post_form(
        &app,
        "/oauth/token",
        Some(&basic(&c.id, &secret)),
        &[cc, ("client_id", &c.id), ("client_secret", &secret)],
    )
    .await;
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(d.contains("two client authentication methods"), "{d}");

    // Right secret, but client_secret_post for a client_secret_basic client.
    let resp = post_form(
        &app,
        "/oauth/token",
        None,
        &[cc, ("client_id", &c.id), ("client_secret", &secret)],
    )
    .await;
    let d = expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    assert!(d.contains("client_secret_basic"), "{d}");

    // A public client.
    let public = register(
        &app,
        json!({
            "redirect_uris": ["http://127.0.0.1:9999/cb"],
            "token_endpoint_auth_method": "none",
            "scope": "agency:read",
        }),
    )
    .await;
    let resp = post_form(&app, "/oauth/token", None, &[cc, ("client_id", &public.id)]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    // A confidential client without the client_credentials grant.
    let code_only = register(
        &app,
        json!({"redirect_uris": ["https://app.example/cb"], "scope": "agency:read"}),
    )
    .await;
    let resp = token_basic(&app, &code_only, &[cc]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "unauthorized_client").await;

    // Scope outside the registered scope, named in the description.
    let resp = token_basic(&app, &c, &[cc, ("scope", "agency:read billing:write")]).await;
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(d.contains("billing:write"), "{d}");
    // RFC 6749 section 3.3: a tab is not a separator (the authorization
    // endpoint agrees: authorize tests); extra spaces are one separator.
    let resp = token_basic(&app, &c, &[cc, ("scope", "agency:read\tposts:read")]).await;
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(d.contains("tab"), "{d}");
    let resp = token_basic(&app, &c, &[cc, ("scope", " agency:read  ")]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // offline_access, even though registered.
    let resp = token_basic(&app, &c, &[cc, ("scope", "agency:read offline_access")]).await;
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_scope").await;
    assert!(d.contains("offline_access"), "{d}");

    // Unknown and malformed resources.
    for r in [
        "https://elsewhere.example",
        "not a uri",
        "https://a.example/#f",
    ] {
        let resp = token_basic(&app, &c, &[cc, ("resource", r)]).await;
        expect_error(resp, StatusCode::BAD_REQUEST, "invalid_target").await;
    }
    let resp = token_basic(
        &app,
        &c,
        &[
            cc,
            ("resource", DEFAULT_RESOURCE),
            ("resource", "https://b.example"),
        ],
    )
    .await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_target").await;

    // Not a form.
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .header(AUTHORIZATION, basic(&c.id, &secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(d.contains("application/x-www-form-urlencoded"), "{d}");
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Missing and unsupported grant types.
    let resp = token_basic(&app, &c, &[("scope", "agency:read")]).await;
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(d.contains("grant_type"), "{d}");
    let resp = token_basic(&app, &c, &[("grant_type", "")]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    for g in ["password", "implicit"] {
        let resp = token_basic(&app, &c, &[("grant_type", g)]).await;
        let d = expect_error(resp, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
        assert!(d.contains(g), "{d}");
    }
    // Served grants the client did not register for.
    for g in [
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let resp = token_basic(&app, &c, &[("grant_type", g)]).await;
        let d = expect_error(resp, StatusCode::BAD_REQUEST, "unauthorized_client").await;
        assert!(d.contains(g), "{d}");
    }

    // A repeated parameter.
    let resp = token_basic(
        &app,
        &c,
        &[cc, ("scope", "agency:read"), ("scope", "agency:read")],
    )
    .await;
    let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert!(d.contains("'scope' is repeated"), "{d}");
    let resp = token_basic(&app, &c, &[cc, cc]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn rfc7592_changes_take_effect_at_the_token_endpoint_at_once() {
    let app = spawn_app_with(
        std::sync::Arc::new(fresh_db().await),
        &[INITIAL_ACCESS_TOKEN_SETTING],
    )
    .await;
    let c = managed_cc_client(&app, "client_secret_basic", "agency:read posts:read").await;
    let cc = [("grant_type", "client_credentials")];
    // Cached now.
    assert_eq!(token_basic(&app, &c, &cc).await.status(), StatusCode::OK);

    let manage = |method: reqwest::Method, token: &str, body: Option<Value>| {
        let mut req = app
            .client
            .request(method, app.url(&format!("/oauth/register/{}", c.id)))
            .header(AUTHORIZATION, format!("Bearer {token}"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
    };
    // Narrow the registered scope: the next request sees it.
    let resp = manage(
        reqwest::Method::PUT,
        c.registration_token.as_deref().unwrap(),
        Some(json!({
            "client_id": c.id,
            "grant_types": ["client_credentials"],
            "scope": "agency:read",
        })),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let new_token = resp.json::<Value>().await.unwrap()["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = token_basic(&app, &c, &[cc[0], ("scope", "posts:read")]).await;
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_scope").await;

    // Delete: the client's credentials stop working.
    let resp = manage(reqwest::Method::DELETE, &new_token, None)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = token_basic(&app, &c, &cc).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

#[tokio::test]
async fn metadata_advertises_what_the_token_endpoints_support() {
    let app = spawn_app().await;
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["token_endpoint"], app.url("/oauth/token"));
    assert_eq!(meta["revocation_endpoint"], app.url("/oauth/revoke"));
    assert_eq!(meta["introspection_endpoint"], app.url("/oauth/introspect"));
    assert_eq!(
        meta["grant_types_supported"],
        json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    let all = json!([
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none"
    ]);
    assert_eq!(meta["token_endpoint_auth_methods_supported"], all);
    assert_eq!(meta["revocation_endpoint_auth_methods_supported"], all);
    assert_eq!(
        meta["introspection_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    // The advertised token endpoint answers (an error, but ours).
    let resp = app
        .client
        .post(meta["token_endpoint"].as_str().unwrap())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // And the OpenAPI document lists the three endpoints.
    let spec = app.get_json("/openapi.json").await;
    for path in ["/oauth/token", "/oauth/revoke", "/oauth/introspect"] {
        let op = &spec["paths"][path]["post"];
        assert!(
            op["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object(),
            "{path}: {op}"
        );
        assert!(op["responses"]["401"].is_object(), "{path}");
    }
}

#[tokio::test]
async fn database_faults_are_json_errors_with_no_store() {
    let app = spawn_app().await;
    let c = cc_client(&app, "client_secret_basic", "agency:read").await;
    let cc = [("grant_type", "client_credentials")];
    assert_eq!(token_basic(&app, &c, &cc).await.status(), StatusCode::OK);
    let drop = if app.db.is_postgres() {
        "DROP TABLE clients CASCADE"
    } else {
        "DROP TABLE clients"
    };
    app.state.db.execute_unprepared(drop).await.unwrap();
    // An uncached client needs the table.
    let resp = post_form(
        &app,
        "/oauth/token",
        Some(&basic("uncached", "x")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    expect_error(resp, StatusCode::INTERNAL_SERVER_ERROR, "server_error").await;
    // A named resource needs it too (the client itself is cached).
    let resp = token_basic(
        &app,
        &c,
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://x.example"),
        ],
    )
    .await;
    expect_error(resp, StatusCode::INTERNAL_SERVER_ERROR, "server_error").await;
}

#[tokio::test]
async fn other_instances_see_a_deleted_client_after_the_cache_ttl() {
    use std::time::{Duration, Instant};
    // An entry is served unread for half the TTL, then re-read in the
    // background on use, and never served past the TTL.
    const TTL: Duration = Duration::from_secs(4);
    let db = std::sync::Arc::new(fresh_db().await);
    let a = spawn_app_with(db.clone(), &[INITIAL_ACCESS_TOKEN_SETTING]).await;
    let b = spawn_app_with(db, &[("SKEDCAST__CLIENTS__CACHE_TTL_SECS", "4")]).await;
    let c = managed_cc_client(&a, "client_secret_basic", "agency:read").await;
    let cc = [("grant_type", "client_credentials")];
    // B caches the client.
    let cached = Instant::now();
    assert_eq!(token_basic(&b, &c, &cc).await.status(), StatusCode::OK);
    let resp = a
        .client
        .delete(a.url(&format!("/oauth/register/{}", c.id)))
        .bearer_auth(c.registration_token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // A knows at once.
    let resp = token_basic(&a, &c, &cc).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // B still serves its cached copy within the TTL (the documented stale
    // window: this fails with caching off), and refuses after it.
    assert_eq!(
        token_basic(&b, &c, &cc).await.status(),
        StatusCode::OK,
        "the stale window"
    );
    assert!(
        cached.elapsed() < TTL,
        "the stale check ran inside the window"
    );
    let took = wait_until(
        "B refuses the deleted client",
        cached,
        TTL + TTL,
        || async { token_basic(&b, &c, &cc).await.status() == StatusCode::UNAUTHORIZED },
    )
    .await;
    assert!(took >= TTL / 2, "not before the re-read: {took:?}");
    let resp = token_basic(&b, &c, &cc).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

/// `skedcast-auth client create` with `args`; returns stdout's lines.
fn create_client(app: &TestApp, args: &[&str]) -> Vec<String> {
    let mut argv = vec!["client", "create"];
    argv.extend_from_slice(args);
    let out = app.cli(&argv);
    assert!(
        out.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Issue 13 item 5: a machine client comes from the operator's CLI, with
/// exactly the scopes the operator gave it: the printed id and secret get a
/// token at /oauth/token, a wider request is `invalid_scope`, and
/// introspection reports the token active with those scopes. Only the
/// secret's hash is stored, and the client has no registration access
/// token (it is not managed over RFC 7592).
#[tokio::test]
async fn client_create_cli_makes_a_machine_client_with_the_operators_scopes() {
    let app = spawn_app().await;
    let rs = create_resource_server(&app, "SkedCast API", DEFAULT_RESOURCE);
    let lines = create_client(
        &app,
        &[
            "--name",
            "Nightly billing sync",
            "--grant",
            "client_credentials",
            "--scopes",
            "billing:read agency:read",
        ],
    );
    assert_eq!(lines.len(), 2, "client_id and client_secret: {lines:?}");
    let (id, secret) = (&lines[0], &lines[1]);
    assert!(secret.len() >= 43, "256-bit secret");

    let row = clients::find(&app.state.db, id).await.unwrap().unwrap();
    assert_eq!(row.kind.as_str(), "machine");
    assert_eq!(
        row.token_endpoint_auth_method.as_str(),
        "client_secret_basic"
    );
    assert_eq!(row.grant_types, r#"["client_credentials"]"#);
    assert_eq!(row.scope.as_deref(), Some("billing:read agency:read"));
    assert_eq!(row.client_name.as_deref(), Some("Nightly billing sync"));
    assert_eq!(row.registration_token_hash, None);
    assert_eq!(
        row.client_secret_hash.as_deref(),
        Some(skedcast_auth::crypto::sha256_hex(secret).as_str())
    );
    assert!(!format!("{row:?}").contains(secret.as_str()));

    let cc = ("grant_type", "client_credentials");
    let resp = post_form(&app, "/oauth/token", Some(&basic(id, secret)), &[cc]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "billing:read agency:read");
    let token = body["access_token"].as_str().unwrap();
    let v = introspect(&app, &rs, token).await;
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["scope"], "billing:read agency:read");
    assert_eq!(v["client_id"], id.as_str());
    // More than the operator gave: invalid_scope, naming the extra scope.
    for more in ["billing:read billing:write", "members:write"] {
        let resp = post_form(
            &app,
            "/oauth/token",
            Some(&basic(id, secret)),
            &[cc, ("scope", more)],
        )
        .await;
        let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_scope").await;
        assert!(d.contains(more.split(' ').next_back().unwrap()), "{d}");
    }
    // Not manageable over RFC 7592: there is no registration access token.
    let resp = app
        .client
        .get(app.url(&format!("/oauth/register/{id}")))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // client_secret_post: the secret in the body, and only there.
    let lines = create_client(
        &app,
        &[
            "--name",
            "Poster",
            "--grant",
            "client_credentials",
            "--scopes",
            "posts:write",
            "--auth-method",
            "client_secret_post",
        ],
    );
    let (id, secret) = (&lines[0], &lines[1]);
    let resp = post_form(
        &app,
        "/oauth/token",
        None,
        &[cc, ("client_id", id), ("client_secret", secret)],
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "posts:write");
    let v = introspect(&app, &rs, body["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (&v["active"], &v["scope"]),
        (&json!(true), &json!("posts:write"))
    );
    let resp = post_form(&app, "/oauth/token", Some(&basic(id, secret)), &[cc]).await;
    expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

/// Issue 13 item 5: `client create` refuses bad input with one clear line
/// on stderr, nothing on stdout, a non-zero exit (1), and writes nothing;
/// private_key_jwt (issue 14 item 2) needs exactly one source of keys.
#[tokio::test]
async fn client_create_cli_refuses_bad_input_and_writes_nothing() {
    let app = spawn_app().await;
    let base = |extra: &[&'static str]| {
        let mut v = vec![
            "--name",
            "Job",
            "--grant",
            "client_credentials",
            "--scopes",
            "agency:read",
        ];
        v.extend_from_slice(extra);
        v
    };
    let with = |flag: &'static str, value: &'static str| {
        let mut v = base(&[]);
        let i = v.iter().position(|a| *a == flag).unwrap();
        v[i + 1] = value;
        v
    };
    let cases: Vec<(Vec<&str>, Option<i32>, &str)> = vec![
        (
            base(&["--auth-method", "private_key_jwt"]),
            Some(1),
            "client create: --auth-method private_key_jwt needs exactly one of --jwks-uri URL or \
             --jwks-file F",
        ),
        (
            base(&["--jwks-uri", "https://job.example/jwks.json"]),
            Some(1),
            "--jwks-uri and --jwks-file go with --auth-method private_key_jwt",
        ),
        (
            base(&[
                "--auth-method",
                "private_key_jwt",
                "--jwks-file",
                "/nonexistent/jwks.json",
            ]),
            Some(1),
            "--jwks-file /nonexistent/jwks.json: cannot be read",
        ),
        (base(&["--auth-method", "none"]), None, "--auth-method"),
        (
            base(&["--auth-method", "client_secret_jwt"]),
            None,
            "--auth-method",
        ),
        (with("--name", ""), None, "--name"),
        (with("--name", "  "), None, "--name"),
        (with("--grant", "password"), None, "--grant"),
        (with("--grant", "authorization_code"), None, "--grant"),
        (
            with("--scopes", "agency:read root"),
            None,
            "not a supported scope",
        ),
        (with("--scopes", ""), None, "--scopes"),
        (with("--scopes", "offline_access"), None, "offline_access"),
    ];
    for (args, code, want) in cases {
        let mut argv = vec!["client", "create"];
        argv.extend(args);
        let out = app.cli(&argv);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{argv:?}");
        if let Some(code) = code {
            assert_eq!(out.status.code(), Some(code), "{argv:?}: {stderr}");
        }
        assert!(out.stdout.is_empty(), "{argv:?}");
        assert!(stderr.contains(want), "{argv:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
    use sea_orm::{EntityTrait, PaginatorTrait};
    let count = entity::client::Entity::find().count(&app.state.db).await;
    assert_eq!(count.unwrap(), 0, "nothing written");
}
