//! DPoP (RFC 9449) at the token endpoint: bound tokens for every grant,
//! each proof check refusing without changing anything, proofs used once,
//! codes bound by `dpop_jkt`, public clients' refresh tokens bound to the
//! key, clients that must use DPoP, server nonces, and two instances sharing
//! replay state and nonces.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};
use skedcast_auth::verify::dpop::testing::ProofKey;

use crate::support::browser::*;
use crate::support::flow::{self, ok_json};
use crate::support::token::*;
use crate::support::*;

fn now() -> i64 {
    skedcast_auth::clock::now()
}

/// POST /oauth/token with optional client Basic auth and DPoP proof.
async fn token(
    app: &TestApp,
    auth: Option<&str>,
    proof: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app.client.post(app.url("/oauth/token")).form(form);
    if let Some(a) = auth {
        req = req.header(AUTHORIZATION, a);
    }
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await.unwrap()
}

fn proof(app: &TestApp, key: &ProofKey) -> String {
    key.proof("POST", &app.url("/oauth/token"), now(), None, None)
}

async fn cc(app: &TestApp, c: &Client, proof: Option<&str>) -> reqwest::Response {
    let auth = basic(&c.id, c.secret.as_deref().unwrap());
    token(
        app,
        Some(&auth),
        proof,
        &[("grant_type", "client_credentials")],
    )
    .await
}

/// A refusal of the proof: 400 `invalid_dpop_proof` with the DPoP challenge.
async fn refused(resp: reqwest::Response) -> String {
    assert_eq!(
        challenge(&resp).as_deref(),
        Some("DPoP error=\"invalid_dpop_proof\"")
    );
    expect_error(resp, StatusCode::BAD_REQUEST, "invalid_dpop_proof").await
}

#[tokio::test]
async fn client_credentials_with_a_proof_gets_a_bound_token_and_a_proof_is_used_once() {
    let app = spawn_app().await;
    let rs = flow::resource_server(&app);
    let c = cc_client(&app, "client_secret_basic", "agency:read").await;
    let key = ProofKey::es256();
    let p = proof(&app, &key);
    let body = ok_json(cc(&app, &c, Some(&p)).await).await;
    assert_eq!(body["token_type"], "DPoP");
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_parts(at).1["cnf"], json!({"jkt": key.jkt()}));
    let info = introspect(&app, &rs, at).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["token_type"], "DPoP");
    assert_eq!(info["cnf"], json!({"jkt": key.jkt()}));

    // The same proof again: refused, whichever grant.
    let why = refused(cc(&app, &c, Some(&p)).await).await;
    assert!(why.contains("used before"), "{why}");

    // RSA keys too; without a proof a plain Bearer token.
    let rsa = ProofKey::rs256();
    let body = ok_json(cc(&app, &c, Some(&proof(&app, &rsa))).await).await;
    assert_eq!(
        jwt_parts(body["access_token"].as_str().unwrap()).1["cnf"]["jkt"],
        rsa.jkt()
    );
    let body = ok_json(cc(&app, &c, None).await).await;
    assert_eq!(body["token_type"], "Bearer");
    let claims = jwt_parts(body["access_token"].as_str().unwrap()).1;
    assert!(claims.get("cnf").is_none(), "{claims}");
    let info = introspect(&app, &rs, body["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (info["token_type"].as_str(), info.get("cnf")),
        (Some("Bearer"), None)
    );
}

/// Every way a proof can be wrong, each with a word its description says.
fn bad_proofs(app: &TestApp, key: &ProofKey) -> Vec<(String, &'static str)> {
    let htu = app.url("/oauth/token");
    let claims = || json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": "POST", "htu": htu, "iat": now()});
    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = claims();
        f(&mut c);
        key.sign_raw(key.header(), &c)
    };
    let header = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut h = key.header();
        f(&mut h);
        key.sign_raw(h, &claims())
    };
    let other = ProofKey::es256();
    let mut with_private = key.header();
    with_private["jwk"]["d"] = "AAAA".into();
    let good = key.sign_raw(key.header(), &claims());
    let forged_header = format!(
        "{}.{}",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(&with_private).unwrap()
        ),
        good.split_once('.').unwrap().1
    );
    vec![
        (
            header(&|h| drop(h.insert("typ".into(), "JWT".into()))),
            "typ",
        ),
        (header(&|h| drop(h.remove("jwk"))), "jwk"),
        (forged_header, "private member"),
        (other.sign_raw(key.header(), &claims()), "signature"),
        (with(&|c| c["htm"] = "GET".into()), "htm"),
        (
            with(&|c| c["htu"] = "https://elsewhere.example/oauth/token".into()),
            "htu",
        ),
        (with(&|c| c["iat"] = (now() - 3600).into()), "iat"),
        (
            with(&|c| drop(c.as_object_mut().unwrap().remove("jti"))),
            "jti",
        ),
        ("not-a-jwt".to_string(), "JWT"),
    ]
}

#[tokio::test]
async fn each_bad_proof_is_refused_and_the_code_is_not_consumed() {
    let mut f = flow::setup("owner", "agency:read").await;
    let code = f.code("agency:read").await;
    let key = ProofKey::es256();
    let form = |code: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("code_verifier", VERIFIER.to_string()),
            ("redirect_uri", REDIRECT.to_string()),
            ("client_id", f.client_id.clone()),
        ]
    };
    let send = |p: Option<String>| {
        let form = form(&code);
        let app = &f.app;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            token(app, None, p.as_deref(), &form).await
        }
    };
    for (bad, says) in bad_proofs(&f.app, &key) {
        let why = refused(send(Some(bad)).await).await;
        assert!(why.contains(says), "{why} / {says}");
    }
    // Two DPoP headers.
    let form2 = form(&code);
    let form2: Vec<(&str, &str)> = form2.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let resp = f
        .app
        .client
        .post(f.app.url("/oauth/token"))
        .header("DPoP", proof(&f.app, &key))
        .header("DPoP", proof(&f.app, &key))
        .form(&form2)
        .send()
        .await
        .unwrap();
    assert!(refused(resp).await.contains("exactly one"));
    // A header that is not visible ASCII.
    let resp = f
        .app
        .client
        .post(f.app.url("/oauth/token"))
        .header(
            "DPoP",
            reqwest::header::HeaderValue::from_bytes(b"a.\xffb.c").unwrap(),
        )
        .form(&form2)
        .send()
        .await
        .unwrap();
    assert!(refused(resp).await.contains("visible ASCII"));
    // Nothing was consumed: the same code works with a good proof.
    let body = ok_json(send(Some(proof(&f.app, &key))).await).await;
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        jwt_parts(body["access_token"].as_str().unwrap()).1["cnf"]["jkt"],
        key.jkt()
    );
}

#[tokio::test]
async fn dpop_jkt_binds_the_code_to_the_key() {
    let mut f = flow::setup("owner", "agency:read").await;
    let key = ProofKey::es256();
    let jkt = key.jkt();
    let resp = authorize_with_consent(
        &f.app,
        &mut f.b,
        &f.client_id,
        "ann@example.com",
        &[("scope", "agency:read"), ("dpop_jkt", &jkt)],
    )
    .await;
    let code = location_params(&resp)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", REDIRECT),
        ("client_id", f.client_id.as_str()),
    ];
    let why = expect_error(
        token(&f.app, None, None, &form).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert!(why.contains("dpop_jkt"), "{why}");
    let other = proof(&f.app, &ProofKey::es256());
    expect_error(
        token(&f.app, None, Some(&other), &form).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    // Still unused: the right key redeems it.
    let body = ok_json(token(&f.app, None, Some(&proof(&f.app, &key)), &form).await).await;
    assert_eq!(
        jwt_parts(body["access_token"].as_str().unwrap()).1["cnf"]["jkt"],
        jkt
    );

    // A malformed dpop_jkt is refused to the client.
    let resp =
        f.b.get(&authorize_url(
            &f.client_id,
            &[("scope", "agency:read"), ("dpop_jkt", "short")],
        ))
        .await;
    let params = location_params(&resp);
    assert_eq!(params["error"], "invalid_request", "{params:?}");
    assert!(params["error_description"].contains("dpop_jkt"));
}

#[tokio::test]
async fn dpop_jkt_of_a_pushed_request_binds_the_code() {
    let mut f = flow::setup("owner", "agency:read").await;
    let key = ProofKey::es256();
    let jkt = key.jkt();
    let url = authorize_url(
        &f.client_id,
        &[("scope", "agency:read"), ("dpop_jkt", &jkt)],
    );
    let form: Vec<(String, String)> = url_params(&format!("http://x{url}")).into_iter().collect();
    let resp = f
        .app
        .client
        .post(f.app.url("/oauth/par"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let uri = resp.json::<Value>().await.unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_string();
    let resp =
        f.b.get(&format!(
            "/oauth/authorize?client_id={}&request_uri={}",
            urlencode(&f.client_id),
            urlencode(&uri)
        ))
        .await;
    let code = location_params(&resp)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", REDIRECT),
        ("client_id", f.client_id.as_str()),
    ];
    expect_error(
        token(&f.app, None, None, &form).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let body = ok_json(token(&f.app, None, Some(&proof(&f.app, &key)), &form).await).await;
    assert_eq!(
        jwt_parts(body["access_token"].as_str().unwrap()).1["cnf"]["jkt"],
        jkt
    );
}

#[tokio::test]
async fn a_public_clients_refresh_tokens_are_bound_to_its_key() {
    let mut f = flow::setup("owner", "agency:read offline_access").await;
    let code = f.code("agency:read offline_access").await;
    let key = ProofKey::es256();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", REDIRECT),
        ("client_id", f.client_id.as_str()),
    ];
    let body = ok_json(token(&f.app, None, Some(&proof(&f.app, &key)), &form).await).await;
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
        ("client_id", f.client_id.as_str()),
    ];
    let why = expect_error(
        token(&f.app, None, None, &refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert!(why.contains("DPoP"), "{why}");
    let other = proof(&f.app, &ProofKey::es256());
    let why = expect_error(
        token(&f.app, None, Some(&other), &refresh).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert!(why.contains("another DPoP key"), "{why}");
    // Not rotated by those: the key refreshes it, bound again.
    let body = ok_json(token(&f.app, None, Some(&proof(&f.app, &key)), &refresh).await).await;
    assert_eq!(body["token_type"], "DPoP");
    let rt2 = body["refresh_token"].as_str().unwrap();
    let refresh2 = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt2),
        ("client_id", f.client_id.as_str()),
    ];
    expect_error(
        token(&f.app, None, None, &refresh2).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn a_client_registered_with_dpop_bound_access_tokens_must_send_a_proof() {
    let app = spawn_app_with(Arc::new(fresh_db().await), &[INITIAL_ACCESS_TOKEN_SETTING]).await;
    let c = register_with(
        &app,
        json!({
            "client_name": "Bound job",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "agency:read",
            "dpop_bound_access_tokens": true,
        }),
        Some(INITIAL_ACCESS_TOKEN),
    )
    .await;
    let info: Value = app
        .client
        .get(app.url(&format!("/oauth/register/{}", c.id)))
        .bearer_auth(c.registration_token.as_deref().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["dpop_bound_access_tokens"], true);
    let why = refused(cc(&app, &c, None).await).await;
    assert!(why.contains("dpop_bound_access_tokens"), "{why}");
    let body = ok_json(cc(&app, &c, Some(&proof(&app, &ProofKey::es256()))).await).await;
    assert_eq!(body["token_type"], "DPoP");
}

#[tokio::test]
async fn metadata_and_cors_announce_dpop() {
    let app = spawn_app().await;
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["ES256", "RS256", "PS256"])
    );
    let resp = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/oauth/token"))
        .header("Origin", "https://agent.example")
        .header("Access-Control-Request-Headers", "dpop")
        .send()
        .await
        .unwrap();
    let allow = resp.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allow.contains("DPoP"), "{allow}");
    let c = cc_client(&app, "client_secret_basic", "agency:read").await;
    let resp = cc(&app, &c, None).await;
    let expose = resp.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(expose.contains("DPoP-Nonce"), "{expose}");
}

const NONCES_ON: (&str, &str) = ("SKEDCAST__DPOP__USE_NONCE", "true");

/// The nonce a `use_dpop_nonce` answer hands out.
async fn nonce_of(resp: reqwest::Response) -> String {
    assert_eq!(
        challenge(&resp).as_deref(),
        Some("DPoP error=\"use_dpop_nonce\"")
    );
    let nonce = resp.headers()["dpop-nonce"].to_str().unwrap().to_string();
    expect_error(resp, StatusCode::BAD_REQUEST, "use_dpop_nonce").await;
    nonce
}

#[tokio::test]
async fn with_nonces_on_a_proof_must_carry_the_servers_nonce() {
    let app = spawn_app_with(Arc::new(fresh_db().await), &[NONCES_ON]).await;
    let c = cc_client(&app, "client_secret_basic", "agency:read").await;
    let key = ProofKey::es256();
    let nonce = nonce_of(cc(&app, &c, Some(&proof(&app, &key))).await).await;
    let htu = app.url("/oauth/token");
    let wrong = key.proof("POST", &htu, now(), None, Some("bm9wZQ"));
    nonce_of(cc(&app, &c, Some(&wrong)).await).await;
    let good = key.proof("POST", &htu, now(), None, Some(&nonce));
    let body = ok_json(cc(&app, &c, Some(&good)).await).await;
    assert_eq!(body["token_type"], "DPoP");
    // Without a proof the nonce is not asked for.
    assert_eq!(
        ok_json(cc(&app, &c, None).await).await["token_type"],
        "Bearer"
    );
}

/// Two instances on one database: a proof used on one is refused on the
/// other, and a nonce one hands out is good on the other.
async fn instances_share_replay_state_and_nonces(db: TestDb) {
    let db = Arc::new(db);
    let a = spawn_app_with(db.clone(), &[NONCES_ON]).await;
    let env = [NONCES_ON, ("SKEDCAST__ISSUER", &a.base)];
    let b = spawn_app_with(db.clone(), &env).await;
    let c = cc_client(&a, "client_secret_basic", "agency:read").await;
    let key = ProofKey::es256();
    let htu = a.url("/oauth/token");
    let nonce = nonce_of(cc(&a, &c, Some(&proof(&a, &key))).await).await;
    let p = key.proof("POST", &htu, now(), None, Some(&nonce));
    assert_eq!(
        ok_json(cc(&b, &c, Some(&p)).await).await["token_type"],
        "DPoP"
    );
    assert!(
        refused(cc(&a, &c, Some(&p)).await)
            .await
            .contains("used before")
    );
    // And the other way round.
    let nonce = nonce_of(cc(&b, &c, Some(&proof(&a, &key))).await).await;
    let p = key.proof("POST", &htu, now(), None, Some(&nonce));
    assert_eq!(
        ok_json(cc(&a, &c, Some(&p)).await).await["token_type"],
        "DPoP"
    );
}

#[tokio::test]
async fn two_instances_share_dpop_replay_state_and_nonces() {
    instances_share_replay_state_and_nonces(fresh_db().await).await;
}

#[tokio::test]
async fn two_instances_share_dpop_replay_state_and_nonces_on_postgres() {
    instances_share_replay_state_and_nonces(fresh_pg_db().await).await;
}

// ---- At the resource (skedcast-api) ----

use crate::resource::{bind_port0, spawn_pair, start_api};

/// GET /v1/agency with `Authorization: <scheme> <token>` and the proofs.
async fn agency(base: &str, scheme: &str, token: &str, proofs: &[&str]) -> reqwest::Response {
    let mut req = http_client()
        .get(format!("{base}/v1/agency"))
        .header(AUTHORIZATION, format!("{scheme} {token}"));
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    req.send().await.unwrap()
}

fn api_proof(base: &str, key: &ProofKey, token: &str) -> String {
    key.proof(
        "GET",
        &format!("{base}/v1/agency"),
        now(),
        Some(token),
        None,
    )
}

/// Every `WWW-Authenticate` value of a response.
fn challenges(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// A 401 naming the DPoP proof: both schemes challenged, the error in DPoP's.
async fn proof_refused(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let c = challenges(&resp);
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(c[0].starts_with("Bearer resource_metadata="), "{c:?}");
    assert!(
        c[1].starts_with("DPoP algs=\"ES256 RS256 PS256\", error=\"invalid_dpop_proof\""),
        "{c:?}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");
    body["error_description"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_member_flow_with_dpop_through_skedcast_api() {
    let (acceptor, api_base) = bind_port0().await;
    let env = [("SKEDCAST__RESOURCE__DEFAULT", api_base.as_str())];
    let app = spawn_app_with(Arc::new(fresh_db().await), &env).await;
    let api = start_api(acceptor, api_base.clone(), &app.base, &[]).await;
    let mut f = flow::setup_on(app, "owner", "agency:read").await;
    let code = f.code("agency:read").await;
    let key = ProofKey::es256();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", REDIRECT),
        ("client_id", f.client_id.as_str()),
    ];
    let body = ok_json(token(&f.app, None, Some(&proof(&f.app, &key)), &form).await).await;
    let at = body["access_token"].as_str().unwrap();

    let resp = agency(&api.base, "DPoP", at, &[&api_proof(&api.base, &key, at)]).await;
    assert_eq!(resp.status(), 200);
    let view: Value = resp.json().await.unwrap();
    assert_eq!(
        (view["via"].as_str(), view["role"].as_str()),
        (Some("oauth"), Some("owner"))
    );

    // The bound token as Bearer: refused, with both challenges.
    let resp = agency(&api.base, "Bearer", at, &[]).await;
    assert_eq!(resp.status(), 401);
    let c = challenges(&resp);
    assert!(c[0].contains("error=\"invalid_token\""), "{c:?}");
    assert_eq!(c[1], "DPoP algs=\"ES256 RS256 PS256\"");
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("bound to a DPoP key")
    );

    // RFC 9728 metadata lists the algorithms.
    let meta: Value = http_client()
        .get(format!("{}/.well-known/oauth-protected-resource", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["ES256", "RS256", "PS256"])
    );
}

#[tokio::test]
async fn the_verified_token_cache_never_skips_the_proof() {
    let (auth, api) = spawn_pair(&[], &[]).await;
    let c = cc_client(&auth, "client_secret_basic", "agency:read").await;
    let key = ProofKey::es256();
    let body = ok_json(cc(&auth, &c, Some(&proof(&auth, &key))).await).await;
    let at = body["access_token"].as_str().unwrap();
    let base = api.base.as_str();
    // client_credentials tokens act for no agency: 403 after a good proof
    // (the proof passed), which is what this test needs of them.
    let first = agency(base, "DPoP", at, &[&api_proof(base, &key, at)]).await;
    assert_eq!(first.status(), 403, "the proof was accepted");
    // The token is in the cache now: no proof, a bad proof, a replay, a
    // proof by another key, a proof for another token: each 401.
    assert!(
        proof_refused(agency(base, "DPoP", at, &[]).await)
            .await
            .contains("required")
    );
    let other = ProofKey::es256();
    assert!(
        proof_refused(agency(base, "DPoP", at, &[&api_proof(base, &other, at)]).await)
            .await
            .contains("another key")
    );
    let p = api_proof(base, &key, at);
    assert_eq!(agency(base, "DPoP", at, &[&p]).await.status(), 403);
    assert!(
        proof_refused(agency(base, "DPoP", at, &[&p]).await)
            .await
            .contains("used before")
    );
    let wrong_ath = key.proof(
        "GET",
        &format!("{base}/v1/agency"),
        now(),
        Some("another"),
        None,
    );
    assert!(
        proof_refused(agency(base, "DPoP", at, &[&wrong_ath]).await)
            .await
            .contains("ath")
    );
    let wrong_htu = key.proof("GET", &format!("{base}/v1/other"), now(), Some(at), None);
    assert!(
        proof_refused(agency(base, "DPoP", at, &[&wrong_htu]).await)
            .await
            .contains("htu")
    );
    let wrong_htm = key.proof("POST", &format!("{base}/v1/agency"), now(), Some(at), None);
    assert!(
        proof_refused(agency(base, "DPoP", at, &[&wrong_htm]).await)
            .await
            .contains("htm")
    );
    let two = [api_proof(base, &key, at), api_proof(base, &key, at)];
    assert!(
        proof_refused(agency(base, "DPoP", at, &[&two[0], &two[1]]).await)
            .await
            .contains("exactly one")
    );
    // An unbound token as DPoP: invalid_token.
    let bearer = ok_json(cc(&auth, &c, None).await).await;
    let bt = bearer["access_token"].as_str().unwrap();
    let resp = agency(base, "DPoP", bt, &[&api_proof(base, &key, bt)]).await;
    assert_eq!(resp.status(), 401);
    assert!(challenges(&resp)[0].contains("invalid_token"));
}

#[tokio::test]
async fn htu_is_the_configured_public_url_behind_a_proxy() {
    let public = "https://api.example.test/base";
    let (auth, api) = spawn_pair(&[], &[("SKEDCAST_API__DPOP__PUBLIC_URL", public)]).await;
    let c = cc_client(&auth, "client_secret_basic", "agency:read").await;
    let key = ProofKey::es256();
    let at = ok_json(cc(&auth, &c, Some(&proof(&auth, &key))).await).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // The URL the client used (the proxy's), not the listener's.
    let direct = api_proof(&api.base, &key, &at);
    assert!(
        proof_refused(agency(&api.base, "DPoP", &at, &[&direct]).await)
            .await
            .contains("htu")
    );
    let proxied = key.proof(
        "GET",
        &format!("{public}/v1/agency"),
        now(),
        Some(&at),
        None,
    );
    assert_eq!(
        agency(&api.base, "DPoP", &at, &[&proxied]).await.status(),
        403
    );
}
