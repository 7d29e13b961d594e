//! `private_key_jwt` client authentication (RFC 7523 §2.2, RFC 7521 §4.2;
//! issue 14 items 1 and 2): a Client ID Metadata Document client whose keys
//! are at a `jwks_uri` (RS256, served by the test's loopback document
//! server), a registered client with inline `jwks` (ES256), a machine client
//! from `client create` (PS256), and every refused assertion answering
//! `401 invalid_client` while changing nothing.

use std::sync::Arc;

use josekit::jwk::Jwk;
use josekit::jwk::alg::ec::EcCurve;
use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use super::cimd::{Answer, DocServer, LOOPBACK_ON};
use crate::support::browser::*;
use crate::support::token::*;
use crate::support::*;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client's signing key: the private JWK, its `kid` and algorithm.
struct Key {
    private: Jwk,
    kid: String,
    alg: &'static str,
}

impl Key {
    fn ec(kid: &str) -> Key {
        Key {
            private: Jwk::generate_ec_key(EcCurve::P256).unwrap(),
            kid: kid.into(),
            alg: "ES256",
        }
    }

    /// RSA key generation is slow in debug builds: once per test.
    fn rsa(kid: &str, alg: &'static str) -> Key {
        let pair = josekit::jws::RS256.generate_key_pair(2048).unwrap();
        let mut private = pair.to_jwk_private_key();
        private.set_algorithm(alg);
        Key {
            private,
            kid: kid.into(),
            alg,
        }
    }

    fn public(&self) -> Value {
        let mut jwk = self.private.to_public_key().unwrap();
        jwk.set_key_id(&self.kid);
        Value::Object(jwk.into())
    }

    /// A compact JWS of `claims` with this key (header `kid` = this key's).
    fn sign(&self, claims: &Value) -> String {
        let mut h = josekit::jws::JwsHeader::new();
        h.set_token_type("JWT");
        h.set_key_id(&self.kid);
        let payload = claims.to_string();
        let signer: Box<dyn josekit::jws::JwsSigner> = match self.alg {
            "RS256" => Box::new(josekit::jws::RS256.signer_from_jwk(&self.private).unwrap()),
            "PS256" => Box::new(josekit::jws::PS256.signer_from_jwk(&self.private).unwrap()),
            _ => Box::new(josekit::jws::ES256.signer_from_jwk(&self.private).unwrap()),
        };
        josekit::jws::serialize_compact(payload.as_bytes(), &h, &*signer).unwrap()
    }
}

fn jwks(keys: &[&Key]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.public()).collect::<Vec<_>>() })
}

fn now() -> i64 {
    skedcast_auth::clock::now()
}

/// Good claims for `client_id` at `app`, with a fresh `jti`.
fn claims(app: &TestApp, client_id: &str) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": app.base,
        "exp": now() + 120,
        "iat": now(),
        "jti": skedcast_auth::crypto::random_token(),
    })
}

/// A fresh, good assertion of `client_id` signed by `key`.
fn assertion(app: &TestApp, key: &Key, client_id: &str) -> String {
    key.sign(&claims(app, client_id))
}

/// POST to the token endpoint with `form` and a client assertion.
async fn token_with(
    app: &TestApp,
    client_id: &str,
    assertion: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut pairs: Vec<(&str, &str)> = form.to_vec();
    pairs.extend([
        ("client_id", client_id),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ]);
    app.client
        .post(app.url("/oauth/token"))
        .form(&pairs)
        .send()
        .await
        .unwrap()
}

fn redeem(code: &str) -> [(&'static str, String); 4] {
    [
        ("grant_type", "authorization_code".into()),
        ("code", code.into()),
        ("code_verifier", VERIFIER.into()),
        ("redirect_uri", REDIRECT.into()),
    ]
}

fn pairs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A member allows `client_id`; returns the code.
async fn code_for(app: &TestApp, client_id: &str, email: &str) -> String {
    member(app, email, "Acme", "owner").await;
    let mut b = Browser::new(app);
    let scope = "agency:read posts:read offline_access";
    let resp = authorize_with_consent(app, &mut b, client_id, email, &[("scope", scope)]).await;
    assert_eq!(resp.status(), 303, "consent");
    let params = location_params(&resp);
    params
        .get("code")
        .unwrap_or_else(|| panic!("no code: {params:?}"))
        .clone()
}

/// A 200 answer's JSON (the error, if not).
async fn ok(resp: reqwest::Response) -> Value {
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

async fn assert_invalid_client(resp: reqwest::Response, case: &str) -> String {
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{case}");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client", "{case}: {v}");
    v["error_description"].as_str().unwrap().to_string()
}

/// The server says what it supports (RFC 8414): the method at every
/// endpoint where clients authenticate, and the algorithms.
#[tokio::test]
async fn metadata_advertises_private_key_jwt() {
    let app = spawn_app().await;
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    for endpoint in ["token", "revocation", "introspection"] {
        let methods = &meta[format!("{endpoint}_endpoint_auth_methods_supported")];
        assert!(
            methods
                .as_array()
                .unwrap()
                .contains(&json!("private_key_jwt")),
            "{endpoint}: {methods}"
        );
        assert_eq!(
            meta[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
            json!(["ES256", "PS256", "RS256"]),
            "{endpoint}"
        );
    }
}

/// An RS256 Client ID Metadata Document client with its keys at a
/// `jwks_uri`: code + PKCE, then refresh, each with a fresh assertion; the
/// key set is fetched once, and again (once) when an assertion names a new
/// `kid`; an unknown `kid` right after is refused without another fetch.
#[tokio::test]
async fn document_client_with_jwks_uri_code_pkce_and_refresh() {
    let docs = DocServer::start().await;
    let app = spawn_app_with(Arc::new(fresh_db().await), LOOPBACK_ON).await;
    let rsa = Key::rsa("rsa-1", "RS256");
    let url = docs.url("/clients/signed.json");
    docs.serve("/jwks.json", Answer::json(&jwks(&[&rsa])));
    docs.serve(
        "/clients/signed.json",
        Answer::json(&json!({
            "client_id": url,
            "client_name": "Signed Agent",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": docs.url("/jwks.json"),
            "scope": "agency:read posts:read offline_access",
        })),
    );
    let code = code_for(&app, &url, "ann@example.com").await;

    // Without an assertion the confidential client is refused, and the
    // code is not spent.
    let form = redeem(&code);
    let mut public = pairs(&form);
    public.push(("client_id", &url));
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .form(&public)
        .send()
        .await
        .unwrap();
    assert_invalid_client(resp, "no assertion").await;

    let resp = token_with(&app, &url, &assertion(&app, &rsa, &url), &pairs(&form)).await;
    let body = ok(resp).await;
    let (_, access) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(access["client_id"], url);
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    let row = entity::client::Entity::find_by_id(url.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.token_endpoint_auth_method.as_str(), "private_key_jwt");
    assert_eq!(
        row.jwks_uri.as_deref(),
        Some(docs.url("/jwks.json").as_str())
    );
    assert!(row.client_secret_hash.is_none());

    // The token endpoint URL is an accepted audience too.
    let mut c = claims(&app, &url);
    c["aud"] = json!(app.url("/oauth/token"));
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let resp = token_with(&app, &url, &rsa.sign(&c), &refresh).await;
    let body = ok(resp).await;
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(docs.hits("/jwks.json"), 1, "the key set is cached");

    // The client rotates to a new key: an unknown kid fetches again, once.
    let ec = Key::ec("ec-2");
    docs.serve("/jwks.json", Answer::json(&jwks(&[&rsa, &ec])));
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let resp = token_with(&app, &url, &assertion(&app, &ec, &url), &refresh).await;
    let body = ok(resp).await;
    assert_eq!(docs.hits("/jwks.json"), 2);
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    let stranger = Key::ec("unknown");
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];
    let d = assert_invalid_client(
        token_with(&app, &url, &assertion(&app, &stranger, &url), &refresh).await,
        "unknown kid",
    )
    .await;
    assert!(d.contains("kid"), "{d}");
    assert_eq!(docs.hits("/jwks.json"), 2, "not again within 10 s");
    // The refresh token still works.
    let resp = token_with(&app, &url, &assertion(&app, &rsa, &url), &refresh).await;
    ok(resp).await;
}

/// An ES256 client registered (RFC 7591) with inline `jwks`: no secret is
/// issued; every bad assertion is `401 invalid_client` and changes nothing
/// (the code is redeemed afterwards with a good one); a used assertion is
/// refused, even when the request that used it failed.
#[tokio::test]
async fn registered_client_with_inline_jwks_and_bad_assertions() {
    let app = spawn_app().await;
    let ec = Key::ec("ec-1");
    let rsa = Key::rsa("rsa-1", "RS256");
    let resp = app
        .client
        .post(app.url("/oauth/register"))
        .json(&json!({
            "client_name": "Signed App",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": jwks(&[&ec, &rsa]),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["token_endpoint_auth_method"], "private_key_jwt");
    assert!(info.get("client_secret").is_none(), "{info}");
    assert_eq!(info["jwks"]["keys"][0]["kid"], "ec-1");
    let id = info["client_id"].as_str().unwrap().to_string();
    let code = code_for(&app, &id, "bob@example.com").await;
    let form = redeem(&code);
    let form = pairs(&form);

    let good = || claims(&app, &id);
    let with = |k: &str, v: Value| {
        let mut c = good();
        c[k] = v;
        c
    };
    let mut no_jti = good();
    no_jti.as_object_mut().unwrap().remove("jti");
    let mut no_exp = good();
    no_exp.as_object_mut().unwrap().remove("exp");
    let impostor = Key::ec("ec-1");
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let unsigned = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&good()));
    let hs256 = josekit::jws::serialize_compact(
        good().to_string().as_bytes(),
        &josekit::jws::JwsHeader::new(),
        &josekit::jws::HS256
            .signer_from_bytes(b"0123456789abcdef0123456789abcdef")
            .unwrap(),
    )
    .unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            ec.sign(&with("exp", json!(now() - 120))),
            "expired",
        ),
        (
            "far-future exp",
            ec.sign(&with("exp", json!(now() + 3600))),
            "too far",
        ),
        ("no exp", ec.sign(&no_exp), "no exp"),
        (
            "wrong aud",
            ec.sign(&with("aud", json!("https://other.example"))),
            "aud",
        ),
        (
            "wrong iss",
            ec.sign(&with("iss", json!("someone-else"))),
            "iss",
        ),
        ("no jti", ec.sign(&no_jti), "jti"),
        ("wrong key", impostor.sign(&good()), "signature"),
        (
            "nbf ahead",
            ec.sign(&with("nbf", json!(now() + 600))),
            "nbf",
        ),
        ("alg none", unsigned, "none"),
        ("HS256", hs256, "HS256"),
        ("not a JWT", "abc".into(), "JWT"),
    ];
    for (case, jwt, needle) in &cases {
        let d = assert_invalid_client(token_with(&app, &id, jwt, &form).await, case).await;
        assert!(d.contains(needle), "{case}: {d}");
    }
    // A wrong assertion type, and a secret instead, are refused too.
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .form(
            &[
                form.clone(),
                vec![
                    ("client_id", id.as_str()),
                    ("client_assertion_type", "urn:other"),
                    ("client_assertion", &assertion(&app, &ec, &id)),
                ],
            ]
            .concat(),
        )
        .send()
        .await
        .unwrap();
    assert_invalid_client(resp, "assertion type").await;
    let resp = post_form(&app, "/oauth/token", Some(&basic(&id, "guess")), &form).await;
    assert_invalid_client(resp, "a secret").await;

    // Nothing changed: the code is redeemed now, with an RS256 assertion.
    let good_jwt = assertion(&app, &rsa, &id);
    let resp = token_with(&app, &id, &good_jwt, &form).await;
    let body = ok(resp).await;
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt.as_str()),
    ];

    // The same assertion again: refused, and the refresh token is intact.
    let d = assert_invalid_client(token_with(&app, &id, &good_jwt, &refresh).await, "replay").await;
    assert!(d.contains("used before"), "{d}");
    // A valid assertion spent on a request that fails is spent all the same.
    let spent = assertion(&app, &ec, &id);
    let bad = [("grant_type", "refresh_token"), ("refresh_token", "nope")];
    let resp = token_with(&app, &id, &spent, &bad).await;
    assert_eq!(resp.status(), 400);
    assert_invalid_client(token_with(&app, &id, &spent, &refresh).await, "spent").await;
    // Without client_id the assertion's sub names the client.
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &assertion(&app, &ec, &id)),
        ])
        .send()
        .await
        .unwrap();
    let body = ok(resp).await;
    let rt = body["refresh_token"].as_str().unwrap();

    // Revocation authenticates the same way.
    let resp = app
        .client
        .post(app.url("/oauth/revoke"))
        .form(&[
            ("token", rt),
            ("client_id", id.as_str()),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &assertion(&app, &ec, &id)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", rt)];
    let resp = token_with(&app, &id, &assertion(&app, &ec, &id), &refresh).await;
    assert_eq!(resp.status(), 400, "revoked");
}

/// An assertion is used once across instances: the `jti` is kept in the
/// database, so a replay on another instance is refused too.
#[tokio::test]
async fn a_replay_on_another_instance_is_refused() {
    let db = Arc::new(fresh_db().await);
    let a = spawn_app_with(db.clone(), &[INITIAL_ACCESS_TOKEN_SETTING]).await;
    let b = spawn_app_with(db, &[INITIAL_ACCESS_TOKEN_SETTING]).await;
    let ec = Key::ec("k");
    let c = register_with(
        &a,
        json!({
            "client_name": "Job",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": jwks(&[&ec]),
            "scope": "agency:read",
        }),
        Some(INITIAL_ACCESS_TOKEN),
    )
    .await;
    assert!(c.secret.is_none());
    let cc = [("grant_type", "client_credentials")];
    // One assertion for both instances (each is its own issuer): used on
    // A, it is refused on A and on B.
    let mut both = claims(&a, &c.id);
    both["aud"] = json!([a.base, b.base]);
    let jwt = ec.sign(&both);
    ok(token_with(&a, &c.id, &jwt, &cc).await).await;
    let d = assert_invalid_client(token_with(&a, &c.id, &jwt, &cc).await, "on A").await;
    assert!(d.contains("used before"), "{d}");
    let d = assert_invalid_client(token_with(&b, &c.id, &jwt, &cc).await, "on B").await;
    assert!(d.contains("used before"), "{d}");
    // A fresh one works on B.
    let mut fresh = claims(&b, &c.id);
    fresh["aud"] = json!(b.base);
    ok(token_with(&b, &c.id, &ec.sign(&fresh), &cc).await).await;
}

/// Registration refuses keys it cannot use: `jwks` with `jwks_uri`, a
/// private key in `jwks`, or private_key_jwt without keys.
#[tokio::test]
async fn registration_refuses_unusable_keys() {
    let app = spawn_app().await;
    let ec = Key::ec("k");
    let private = Value::Object(ec.private.clone().into());
    for (case, extra, needle) in [
        (
            "both",
            json!({ "jwks": jwks(&[&ec]), "jwks_uri": "https://app.example/jwks.json" }),
            "must not both be given",
        ),
        (
            "private key",
            json!({ "jwks": { "keys": [private] } }),
            "private member",
        ),
        ("no keys", json!({}), "requires jwks or jwks_uri"),
        (
            "http",
            json!({ "jwks_uri": "http://app.example/jwks.json" }),
            "https",
        ),
    ] {
        let mut body = json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let resp = app
            .client
            .post(app.url("/oauth/register"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let d = expect_error(resp, StatusCode::BAD_REQUEST, "invalid_client_metadata").await;
        assert!(d.contains(needle), "{case}: {d}");
    }
    assert_eq!(client_count(&app).await, 0);
}

/// Issue 14 item 2: `client create --auth-method private_key_jwt
/// --jwks-file F` makes a machine client without a secret that gets a
/// client_credentials token with a PS256 assertion.
#[tokio::test]
async fn client_create_makes_a_private_key_jwt_machine_client() {
    let app = spawn_app().await;
    let key = Key::rsa("ps-1", "PS256");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, jwks(&[&key]).to_string()).unwrap();
    let out = app.cli(&[
        "client",
        "create",
        "--name",
        "Signed job",
        "--grant",
        "client_credentials",
        "--scopes",
        "agency:read",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        file.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "only the client_id: {stdout:?}");
    let id = lines[0];
    let cc = [("grant_type", "client_credentials")];
    let resp = token_with(&app, id, &assertion(&app, &key, id), &cc).await;
    let body = ok(resp).await;
    assert_eq!(body["scope"], "agency:read");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], id);
    // A secret is not a way in.
    let resp = post_form(&app, "/oauth/token", Some(&basic(id, "")), &cc).await;
    assert_invalid_client(resp, "secret").await;

    // Exactly one of the two key flags; a private key is refused.
    let private = dir.path().join("private.json");
    let set = json!({ "keys": [Value::Object(key.private.clone().into())] });
    std::fs::write(&private, set.to_string()).unwrap();
    for (extra, needle) in [
        (vec![], "exactly one"),
        (
            vec!["--jwks-file", private.to_str().unwrap()],
            "private member",
        ),
        (vec!["--jwks-uri", "http://job.example/jwks.json"], "https"),
    ] {
        let mut argv = vec![
            "client",
            "create",
            "--name",
            "Job",
            "--grant",
            "client_credentials",
            "--scopes",
            "agency:read",
            "--auth-method",
            "private_key_jwt",
        ];
        argv.extend(extra);
        let out = app.cli(&argv);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{argv:?}: {stderr}");
        assert!(stderr.contains(needle), "{argv:?}: {stderr}");
        assert!(out.stdout.is_empty());
    }
    assert_eq!(client_count(&app).await, 1);
}
