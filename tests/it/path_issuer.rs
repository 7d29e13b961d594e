//! An issuer with a path (contract, "More routes"; issue 14 item 5):
//! `issuer = http://127.0.0.1:PORT/tenant1`. Every route is served under
//! `/tenant1`, every URL the server produces carries it, the metadata is
//! also at the RFC 8414 §3.1 location, and `skedcast-api` trusting that
//! issuer verifies its tokens and API keys.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::resource::{bind_port0, start_api};
use crate::support::browser::*;
use crate::support::flow::{ok_json, resource_server};
use crate::support::token::{create_resource_server, introspect};
use crate::support::*;

const PATH: &str = "/tenant1";

async fn spawn() -> TestApp {
    spawn_app_at_path(Arc::new(fresh_db().await), PATH, &[]).await
}

/// Every URL-valued field of a metadata document.
fn advertised_urls(doc: &Value) -> Vec<(String, String)> {
    doc.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.ends_with("_endpoint") || k.ends_with("_uri"))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn the_metadata_is_at_the_rfc8414_location_and_under_the_path() {
    let app = spawn().await;
    assert_eq!(app.base, format!("{}{PATH}", app.origin()));
    let locations = [
        // RFC 8414 §3.1: the well-known string between host and path.
        format!(
            "{}/.well-known/oauth-authorization-server{PATH}",
            app.origin()
        ),
        // What many clients try: the well-known document under the issuer.
        app.url("/.well-known/oauth-authorization-server"),
        // The contract: OpenID discovery under the issuer (OIDC §4).
        app.url("/.well-known/openid-configuration"),
    ];
    let mut docs = Vec::new();
    for url in &locations {
        let resp = app.client.get(url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "GET {url}");
        // Browser-based clients read it cross-origin at every location.
        assert_eq!(resp.headers()["access-control-allow-origin"], "*", "{url}");
        docs.push(resp.json::<Value>().await.unwrap());
    }
    assert!(docs.iter().all(|d| *d == docs[0]), "one document: {docs:?}");
    let doc = &docs[0];
    assert_eq!(doc["issuer"], app.base);
    let urls = advertised_urls(doc);
    assert!(urls.len() >= 6, "{urls:?}");
    for (field, url) in &urls {
        assert!(url.starts_with(&format!("{}/", app.base)), "{field}: {url}");
    }
    assert_eq!(doc["token_endpoint"], app.url("/oauth/token"));
    assert_eq!(doc["authorization_endpoint"], app.url("/oauth/authorize"));

    // Each advertised endpoint is served there: the JWKS answers keys, the
    // POST endpoints answer an OAuth error (not a 404) to an empty form.
    let jwks: Value = app
        .client
        .get(doc["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!jwks["keys"].as_array().unwrap().is_empty(), "{jwks}");
    for field in [
        "token_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let resp = app
            .client
            .post(doc[field].as_str().unwrap())
            .form(&[("x", "y")])
            .send()
            .await
            .unwrap();
        assert!(
            matches!(resp.status().as_u16(), 400 | 401),
            "{field}: {}",
            resp.status()
        );
    }
    let resp = app
        .client
        .get(doc["authorization_endpoint"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "no client: an error page, not a 404");

    // The OpenAPI document under the path says where its paths are.
    let spec = app.get_json("/openapi.json").await;
    assert_eq!(spec["servers"][0]["url"], app.base, "{}", spec["servers"]);
    assert!(spec["paths"]["/oauth/token"].is_object());
}

#[tokio::test]
async fn nothing_of_the_issuer_is_served_outside_its_path() {
    const METRICS_TOKEN: &str = "metrics-token-for-the-path-issuer-test";
    let app = spawn_app_at_path(
        Arc::new(fresh_db().await),
        PATH,
        &[("SKEDCAST__METRICS__TOKEN", METRICS_TOKEN)],
    )
    .await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/jwks.json",
        "/oauth/authorize",
        "/login",
        "/tenant1x/login",
    ] {
        let resp = app
            .client
            .get(format!("{}{path}", app.origin()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "GET {path}");
    }
    let resp = app
        .client
        .post(format!("{}/oauth/token", app.origin()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // Operations stay at the root too (probes and scrapers need no issuer),
    // and answer under the issuer as well.
    for url in [format!("{}/healthz", app.origin()), app.url("/healthz")] {
        assert_eq!(
            app.client.get(&url).send().await.unwrap().status(),
            200,
            "{url}"
        );
    }
    for url in [format!("{}/readyz", app.origin()), app.url("/readyz")] {
        assert_eq!(
            app.client.get(&url).send().await.unwrap().status(),
            200,
            "{url}"
        );
    }
    for url in [format!("{}/metrics", app.origin()), app.url("/metrics")] {
        let resp = app
            .client
            .get(&url)
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{url}");
    }
}

/// Registration, authorize → sign-in → consent → code → token → refresh →
/// introspect → revoke, every step under `/tenant1`, every page's form and
/// every Location under it too.
#[tokio::test]
async fn the_code_flow_runs_under_the_path() {
    let app = spawn().await;
    member(&app, "ann@example.com", "Acme", "editor").await;
    let client = public_client(&app, json!({})).await;
    let client_id = client["client_id"].as_str().unwrap();
    assert_eq!(
        client["registration_client_uri"],
        app.url(&format!("/oauth/register/{client_id}"))
    );
    let got = app
        .client
        .get(client["registration_client_uri"].as_str().unwrap())
        .bearer_auth(client["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200, "RFC 7592 read under the path");

    let mut b = Browser::new(&app);
    let resp = b.get(&authorize_url(client_id, &[])).await;
    assert_eq!(resp.status(), 302);
    let to_login = location(&resp);
    assert!(to_login.starts_with("/tenant1/login?next="), "{to_login}");
    let next = url_params(&format!("{}{to_login}", app.origin()))["next"].clone();
    assert!(
        next.starts_with("/tenant1/oauth/authorize?pending="),
        "only the reference travels: {next}"
    );

    let page = b.get(&to_login).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"action="/tenant1/login""#), "{html}");
    let mut form = hidden_fields(&html);
    assert!(
        form.contains(&("next".to_string(), next.clone())),
        "{form:?}"
    );
    form.push(("email".into(), "ann@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let signed = b.post_form("/login", &form).await;
    assert_eq!(signed.status(), 303);
    assert_eq!(location(&signed), next);
    for c in &b.set_cookies {
        assert!(c.contains("Path=/;") || c.ends_with("Path=/"), "{c}");
    }

    let consent = b.get(&next).await;
    assert_eq!(consent.status(), 200);
    let html = consent.text().await.unwrap();
    assert!(
        html.contains(r#"action="/tenant1/oauth/authorize""#),
        "{html}"
    );
    let mut form = hidden_fields(&html);
    form.push(("decision".into(), "allow".into()));
    let done = b.post_form("/oauth/authorize", &form).await;
    assert_eq!(done.status(), 303);
    let params = location_params(&done);
    assert_eq!(params["iss"], app.base, "RFC 9207 iss is the issuer");
    let code = params["code"].clone();

    let redeem = |form: Vec<(&'static str, String)>| {
        let mut f = vec![("client_id", client_id.to_string())];
        f.extend(form);
        app.client.post(app.url("/oauth/token")).form(&f).send()
    };
    let tokens = ok_json(
        redeem(vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("code_verifier", VERIFIER.into()),
            ("redirect_uri", REDIRECT.into()),
        ])
        .await
        .unwrap(),
    )
    .await;
    let (_, claims) = jwt_parts(tokens["access_token"].as_str().unwrap());
    assert_eq!(claims["iss"], app.base);
    let refreshed = ok_json(
        redeem(vec![
            ("grant_type", "refresh_token".into()),
            (
                "refresh_token",
                tokens["refresh_token"].as_str().unwrap().into(),
            ),
        ])
        .await
        .unwrap(),
    )
    .await;
    let access = refreshed["access_token"].as_str().unwrap();
    let rs = resource_server(&app);
    let answer = introspect(&app, &rs, access).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["iss"], app.base, "{answer}");

    let revoke = |token: String| {
        app.client
            .post(app.url("/oauth/revoke"))
            .form(&[("client_id", client_id.to_string()), ("token", token)])
            .send()
    };
    let rt = refreshed["refresh_token"].as_str().unwrap();
    assert_eq!(revoke(rt.into()).await.unwrap().status(), 200);
    let again = redeem(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", rt.into()),
    ])
    .await
    .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(revoke(access.into()).await.unwrap().status(), 200);
    let answer = introspect(&app, &rs, access).await;
    assert_eq!(answer["active"], false, "revoked: {answer}");
}

/// The signed-in page's sign-out form, the developer page's redirect to
/// sign-in and its forms: all under the path.
#[tokio::test]
async fn pages_and_their_redirects_stay_under_the_path() {
    let app = spawn().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let mut b = Browser::new(&app);
    let resp = b.get("/settings/developer").await;
    assert_eq!(resp.status(), 302);
    assert_eq!(
        location(&resp),
        "/tenant1/login?next=%2Ftenant1%2Fsettings%2Fdeveloper"
    );
    let signed = b
        .sign_in(
            "ann@example.com",
            PASSWORD,
            Some("/tenant1/settings/developer"),
        )
        .await;
    assert_eq!(signed.status(), 303);
    assert_eq!(location(&signed), "/tenant1/settings/developer");
    let page = b.get(&location(&signed)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"action="/tenant1/settings/developer""#),
        "{html}"
    );
    assert!(!html.contains(r#"action="/settings"#), "{html}");

    // A `next` outside the issuer's routes falls back to its sign-in page.
    let resp = b.get("/login?next=%2Fsettings%2Fdeveloper").await;
    let html = resp.text().await.unwrap();
    assert!(html.contains("signed in"), "{html}");
    assert!(html.contains(r#"action="/tenant1/logout""#), "{html}");
    let mut form = hidden_fields(&html);
    form.retain(|(k, _)| k == "csrf_token");
    let out = b.post_form("/logout", &form).await;
    assert_eq!(out.status(), 200);
    let resp = b.post_form("/logout", &[]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/tenant1/login");
}

/// `skedcast-api` configured with the path issuer discovers the metadata
/// at the RFC 8414 §3.1 location, verifies a token from the real flow, and
/// checks an API key through the introspection endpoint under the path.
#[tokio::test]
async fn skedcast_api_trusts_a_path_issuer() {
    let (acceptor, api_base) = bind_port0().await;
    let auth = spawn_app_at_path(
        Arc::new(fresh_db().await),
        PATH,
        &[("SKEDCAST__RESOURCE__DEFAULT", api_base.as_str())],
    )
    .await;
    let (id, secret) = create_resource_server(&auth, "api", &api_base);
    let api = start_api(
        acceptor,
        api_base,
        &auth.base,
        &[
            ("SKEDCAST_API__INTROSPECTION__CLIENT_ID", id.as_str()),
            (
                "SKEDCAST_API__INTROSPECTION__CLIENT_SECRET",
                secret.as_str(),
            ),
        ],
    )
    .await;
    let prm: Value = reqwest::get(format!("{}/.well-known/oauth-protected-resource", api.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["authorization_servers"], json!([auth.base]));

    member(&auth, "ann@example.com", "Acme", "owner").await;
    let client = public_client(&auth, json!({})).await;
    let client_id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&auth);
    let resp = authorize_with_consent(
        &auth,
        &mut b,
        client_id,
        "ann@example.com",
        &[("scope", "agency:read")],
    )
    .await;
    let code = location_params(&resp)["code"].clone();
    let tokens = ok_json(
        auth.client
            .post(auth.url("/oauth/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", client_id),
                ("code", code.as_str()),
                ("code_verifier", VERIFIER),
                ("redirect_uri", REDIRECT),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let resp = api.agency(tokens["access_token"].as_str()).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["via"], "oauth");
    assert_eq!(body["client_id"], client_id);

    let out = auth.cli(&[
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let resp = api.agency(Some(&key)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["via"], "api_key");
}
