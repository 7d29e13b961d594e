//! OpenID Connect (issue 16) over real HTTP: id_tokens from the code flow
//! (ES256, and RS256 for clients that registered it), UserInfo, refresh,
//! `prompt`, `max_age`, `login_hint`, RP-initiated logout, the display name
//! on `/settings/security`, discovery; and the full flow through a real
//! OpenID Connect relying party from another ecosystem (Python authlib).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::browser::*;
use crate::support::flow::ok_json;
use crate::support::token::DEFAULT_RESOURCE;
use crate::support::*;

const EMAIL: &str = "ann@example.com";
const OIDC_SCOPE: &str = "openid email profile agency:read";
const LOGOUT_TO: &str = "http://127.0.0.1/signed-out";

/// A member (named "Ann Example") of Acme and a public client registered
/// with `extra`.
async fn setup(app: &TestApp, extra: Value) -> (String, String) {
    let user_id = member(app, EMAIL, "Acme", "owner").await;
    skedcast_auth::accounts::set_name(&app.state.db, &user_id, Some("Ann Example"))
        .await
        .unwrap();
    let mut body = json!({ "post_logout_redirect_uris": [LOGOUT_TO] });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let client = public_client(app, body).await;
    (user_id, client["client_id"].as_str().unwrap().to_string())
}

async fn redeem(app: &TestApp, client_id: &str, code: &str) -> reqwest::Response {
    app.client
        .post(app.url("/oauth/token"))
        .form(&[
            ("client_id", client_id),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap()
}

/// Sign in, consent and redeem the code for `params`; the token response.
async fn tokens(app: &TestApp, b: &mut Browser, client_id: &str, params: &[(&str, &str)]) -> Value {
    let resp = authorize_with_consent(app, b, client_id, EMAIL, params).await;
    let p = location_params(&resp);
    let code = p
        .get("code")
        .unwrap_or_else(|| panic!("{}", location(&resp)));
    ok_json(redeem(app, client_id, code).await).await
}

async fn userinfo(app: &TestApp, method: &str, token: Option<&str>) -> reqwest::Response {
    let url = app.url("/oauth/userinfo");
    let mut req = if method == "GET" {
        app.client.get(url)
    } else {
        app.client.post(url).form(&[("x", "y")])
    };
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    req.send().await.unwrap()
}

/// The claims of an RS256 id_token, verified with the RSA key of the JWKS.
fn verify_rs256(token: &str, jwks: &Value) -> Value {
    let (header, _) = jwt_parts(token);
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid published");
    let jwk = josekit::jwk::Jwk::from_map(jwk.as_object().unwrap().clone()).unwrap();
    let verifier = josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap();
    let (payload, _) = josekit::jws::deserialize_compact(token, &verifier).expect("verifies");
    serde_json::from_slice(&payload).unwrap()
}

#[tokio::test]
async fn the_code_flow_issues_an_id_token_and_userinfo_answers_the_same_claims() {
    let app = spawn_app().await;
    let (user_id, client_id) = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let t = tokens(
        &app,
        &mut b,
        &client_id,
        &[("scope", OIDC_SCOPE), ("nonce", "n-0S6_WzA2Mj")],
    )
    .await;
    assert_eq!(t["scope"], "agency:read openid email profile");
    let id_token = t["id_token"].as_str().expect("an id_token");
    let (header, _) = jwt_parts(id_token);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "JWT");
    let jwks = app.get_json("/.well-known/jwks.json").await;
    let c = verify_with_p256(id_token, &jwks).expect("signed by a published key");
    assert_eq!(c["iss"], app.base.as_str());
    assert_eq!(c["sub"], user_id.as_str());
    assert_eq!(c["aud"], client_id.as_str());
    assert_eq!(c["azp"], client_id.as_str());
    assert_eq!(c["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(c["amr"], json!(["pwd"]));
    assert_eq!(c["email"], EMAIL);
    assert_eq!(c["email_verified"], false);
    assert_eq!(c["name"], "Ann Example");
    let iat = c["iat"].as_i64().unwrap();
    assert_eq!(c["exp"].as_i64().unwrap() - iat, 300, "short-lived");
    assert!(c["auth_time"].as_i64().unwrap() <= iat);

    // The access token admits UserInfo (the issuer is an audience) and
    // still names its resource.
    let at = t["access_token"].as_str().unwrap();
    let (ah, ac) = jwt_parts(at);
    assert_eq!(ah["alg"], "ES256");
    assert_eq!(ac["aud"], json!([DEFAULT_RESOURCE, app.base]));
    for method in ["GET", "POST"] {
        let resp = userinfo(&app, method, Some(at)).await;
        assert_eq!(resp.status(), 200, "{method}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        assert_eq!(resp.headers()["access-control-allow-origin"], "*");
        let u: Value = resp.json().await.unwrap();
        assert_eq!(
            u,
            json!({"sub": user_id, "email": EMAIL, "email_verified": false, "name": "Ann Example"}),
            "{method}"
        );
    }
}

#[tokio::test]
async fn without_openid_there_is_no_id_token_and_userinfo_refuses() {
    let app = spawn_app().await;
    let (_, client_id) = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let t = tokens(&app, &mut b, &client_id, &[("scope", "agency:read email")]).await;
    assert!(t.get("id_token").is_none(), "{t}");
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        jwt_parts(at).1["aud"],
        DEFAULT_RESOURCE,
        "the resource only"
    );
    let resp = userinfo(&app, "GET", Some(at)).await;
    assert_eq!(resp.status(), 403);
    let ch = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(ch.contains("error=\"insufficient_scope\""), "{ch}");
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "insufficient_scope"
    );

    // Granted openid but not for this issuer's audience (one of our keys,
    // a resource server's audience only): refused, so UserInfo never
    // takes a token minted for someone else.
    let now = jwt_parts(at).1["iat"].as_i64().unwrap();
    let narrow = json!({
        "iss": app.base, "sub": "u", "aud": DEFAULT_RESOURCE, "client_id": client_id,
        "scope": "agency:read openid", "iat": now, "exp": now + 60, "jti": "j-aud",
    });
    let narrow = app.state.keys.sign("at+jwt", &narrow).await.unwrap();
    let resp = userinfo(&app, "GET", Some(&narrow)).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_token"
    );

    let resp = userinfo(&app, "GET", None).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    let resp = userinfo(&app, "POST", Some("not.a.token")).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_token"
    );
    // A preflight is answered like the token endpoint's.
    let pre = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/oauth/userinfo"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn refresh_issues_an_id_token_only_with_openid_and_never_a_nonce() {
    let app = spawn_app().await;
    let (user_id, client_id) = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let t = tokens(
        &app,
        &mut b,
        &client_id,
        &[
            ("scope", "openid agency:read offline_access"),
            ("nonce", "n-1"),
        ],
    )
    .await;
    let first = jwt_parts(t["id_token"].as_str().unwrap()).1;
    let refresh = |rt: String, scope: Option<&'static str>| {
        let app = &app;
        let client_id = client_id.clone();
        async move {
            let mut form = vec![
                ("client_id", client_id),
                ("grant_type", "refresh_token".to_string()),
                ("refresh_token", rt),
            ];
            if let Some(s) = scope {
                form.push(("scope", s.to_string()));
            }
            let resp = app
                .client
                .post(app.url("/oauth/token"))
                .form(&form)
                .send()
                .await
                .unwrap();
            ok_json(resp).await
        }
    };
    let r = refresh(t["refresh_token"].as_str().unwrap().into(), None).await;
    let jwks = app.get_json("/.well-known/jwks.json").await;
    let again = verify_with_p256(r["id_token"].as_str().expect("openid kept"), &jwks).unwrap();
    assert_eq!(again["sub"], user_id.as_str());
    assert_eq!(again["aud"], client_id.as_str());
    assert_eq!(again["auth_time"], first["auth_time"], "the same sign-in");
    assert!(again.get("nonce").is_none(), "{again}");
    // Narrowed without openid: no id_token, and no UserInfo audience.
    let r2 = refresh(
        r["refresh_token"].as_str().unwrap().into(),
        Some("agency:read"),
    )
    .await;
    assert!(r2.get("id_token").is_none(), "{r2}");
    assert_eq!(
        jwt_parts(r2["access_token"].as_str().unwrap()).1["aud"],
        DEFAULT_RESOURCE
    );
}

#[tokio::test]
async fn a_client_that_registered_rs256_gets_rs256_id_tokens() {
    let app = spawn_app().await;
    let (user_id, client_id) = setup(&app, json!({"id_token_signed_response_alg": "RS256"})).await;
    let info = app
        .client
        .post(app.url("/oauth/register"))
        .json(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(info["id_token_signed_response_alg"], "ES256", "the default");
    for bad in [json!("HS256"), json!("none"), json!(256)] {
        let resp = app
            .client
            .post(app.url("/oauth/register"))
            .json(&json!({"redirect_uris": [REDIRECT], "id_token_signed_response_alg": bad}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"], "invalid_client_metadata", "{bad}");
    }
    let mut b = Browser::new(&app);
    let t = tokens(&app, &mut b, &client_id, &[("scope", OIDC_SCOPE)]).await;
    let id_token = t["id_token"].as_str().unwrap();
    assert_eq!(jwt_parts(id_token).0["alg"], "RS256");
    let jwks = app.get_json("/.well-known/jwks.json").await;
    let c = verify_rs256(id_token, &jwks);
    assert_eq!(
        (c["sub"].as_str(), c["aud"].as_str()),
        (Some(user_id.as_str()), Some(client_id.as_str()))
    );
    assert!(c.get("nonce").is_none(), "none was sent");
    // The access token stays ES256.
    assert_eq!(
        jwt_parts(t["access_token"].as_str().unwrap()).0["alg"],
        "ES256"
    );
}

/// Ages every session's sign-in by `secs`.
async fn age_sessions(app: &TestApp, secs: i64) {
    use sea_orm::ConnectionTrait;
    app.state
        .db
        .execute_unprepared(&format!(
            "UPDATE sessions SET created_at = created_at - {secs}"
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn max_age_forces_a_fresh_sign_in_and_auth_time_shows_it() {
    let app = spawn_app().await;
    let (_, client_id) = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let first = tokens(&app, &mut b, &client_id, &[("scope", OIDC_SCOPE)]).await;
    let signed_in = jwt_parts(first["id_token"].as_str().unwrap()).1["auth_time"]
        .as_i64()
        .unwrap();
    age_sessions(&app, 100).await;
    // Within max_age: no sign-in, the code at once (remembered consent).
    let resp = b
        .get(&authorize_url(
            &client_id,
            &[("scope", OIDC_SCOPE), ("max_age", "3600")],
        ))
        .await;
    assert!(
        location_params(&resp).contains_key("code"),
        "{}",
        location(&resp)
    );
    // prompt=none with a sign-in older than max_age: login_required.
    let resp = b
        .get(&authorize_url(
            &client_id,
            &[("scope", OIDC_SCOPE), ("max_age", "0"), ("prompt", "none")],
        ))
        .await;
    assert_eq!(location_params(&resp)["error"], "login_required");
    // max_age=0: the sign-in form even though signed in, then a code whose
    // id_token has the new auth_time.
    let resp = b
        .get(&authorize_url(
            &client_id,
            &[("scope", OIDC_SCOPE), ("max_age", "0")],
        ))
        .await;
    assert_eq!(resp.status(), 302);
    let login = location(&resp);
    assert!(
        b.relative(&login).starts_with("/login?") && login.contains("force=1"),
        "{login}"
    );
    let t = tokens(
        &app,
        &mut b,
        &client_id,
        &[("scope", OIDC_SCOPE), ("max_age", "0")],
    )
    .await;
    let again = jwt_parts(t["id_token"].as_str().unwrap()).1;
    assert!(again["auth_time"].as_i64().unwrap() >= signed_in, "{again}");
    assert!(
        again["auth_time"].as_i64().unwrap() > signed_in - 100,
        "a fresh sign-in: {again}"
    );
}

#[tokio::test]
async fn prompt_none_login_hint_select_account_and_unknown_prompts() {
    let app = spawn_app().await;
    let (_, client_id) = setup(&app, json!({})).await;
    // A member acted on the client's consent page once: errors redirect.
    let mut first = Browser::new(&app);
    let _ = tokens(&app, &mut first, &client_id, &[("scope", OIDC_SCOPE)]).await;

    // prompt=none without a session: login_required, redirected with state and iss.
    let mut b = Browser::new(&app);
    let resp = b
        .get(&authorize_url(
            &client_id,
            &[("scope", OIDC_SCOPE), ("prompt", "none")],
        ))
        .await;
    assert_eq!(resp.status(), 302);
    let p = location_params(&resp);
    assert_eq!(p["error"], "login_required");
    assert_eq!(p["state"], "st-123");
    assert_eq!(p["iss"], app.base.as_str());

    // An unknown prompt value: invalid_request.
    let resp = first
        .get(&authorize_url(&client_id, &[("prompt", "sideways")]))
        .await;
    let p = location_params(&resp);
    assert_eq!(p["error"], "invalid_request");
    assert!(p["error_description"].contains("sideways"), "{p:?}");

    // Signed in, but no consent for posts:read yet: consent_required.
    let resp = first
        .get(&authorize_url(
            &client_id,
            &[
                ("scope", "openid agency:read posts:read"),
                ("prompt", "none"),
            ],
        ))
        .await;
    assert_eq!(location_params(&resp)["error"], "consent_required");

    // select_account: the consent page (the agency picker) despite the
    // remembered consent.
    let resp = first
        .get(&authorize_url(
            &client_id,
            &[("scope", OIDC_SCOPE), ("prompt", "select_account")],
        ))
        .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("name=\"agency\""), "{html}");
    assert!(
        html.contains("Your email address") && html.contains("Your name"),
        "{html}"
    );

    // login_hint pre-fills the sign-in form's email.
    let resp = b
        .get(&authorize_url(
            &client_id,
            &[("scope", OIDC_SCOPE), ("login_hint", "ann@example.com")],
        ))
        .await;
    let login = b.get(&location(&resp)).await.text().await.unwrap();
    assert!(login.contains("value=\"ann@example.com\""), "{login}");
}

/// Whether `b` is still signed in (the security page shows, not a redirect).
async fn signed_in(b: &mut Browser) -> bool {
    b.get("/settings/security").await.status() == 200
}

#[tokio::test]
async fn logout_with_a_hint_ends_the_session_and_returns_to_the_client() {
    let app = spawn_app().await;
    let (_, client_id) = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let t = tokens(&app, &mut b, &client_id, &[("scope", OIDC_SCOPE)]).await;
    let hint = t["id_token"].as_str().unwrap();
    let meta = app.get_json("/.well-known/openid-configuration").await;
    let end = meta["end_session_endpoint"].as_str().unwrap().to_string();
    assert_eq!(end, app.url("/oauth/logout"));
    let q = |pairs: &[(&str, &str)]| {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("/oauth/logout?{q}")
    };
    // A post_logout_redirect_uri that is not registered: a page, no redirect.
    let resp = b
        .get(&q(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", "http://127.0.0.1/elsewhere"),
        ]))
        .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers().get("location").is_none());
    // A hint not signed by us: a page.
    let mut forged = hint.to_string();
    forged.push('x');
    let resp = b.get(&q(&[("id_token_hint", &forged)])).await;
    assert_eq!(resp.status(), 400);
    assert!(signed_in(&mut b).await, "nothing ended yet");
    // The real thing.
    let resp = b
        .get(&q(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", LOGOUT_TO),
            ("state", "bye-1"),
        ]))
        .await;
    assert_eq!(resp.status(), 302);
    assert_eq!(location(&resp), format!("{LOGOUT_TO}?state=bye-1"));
    assert!(!signed_in(&mut b).await, "signed out");
}

#[tokio::test]
async fn logout_without_a_hint_asks_the_member_first() {
    let app = spawn_app().await;
    let (_, client_id) = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let _ = tokens(&app, &mut b, &client_id, &[("scope", OIDC_SCOPE)]).await;
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", client_id.as_str()),
            ("post_logout_redirect_uri", LOGOUT_TO),
            ("state", "s-2"),
        ])
        .finish();
    let resp = b.get(&format!("/oauth/logout?{q}")).await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Calendar Agent"), "{html}");
    assert!(signed_in(&mut b).await, "a link alone signs nobody out");
    let mut form = hidden_fields(&html);
    // Without the session's CSRF token: refused.
    let forged: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| {
            if k == "csrf_token" {
                (k.clone(), "x".into())
            } else {
                (k.clone(), v.clone())
            }
        })
        .chain([("decision".to_string(), "logout".to_string())])
        .collect();
    assert_eq!(
        b.post_form("/oauth/logout", &forged).await.status(),
        StatusCode::FORBIDDEN
    );
    assert!(signed_in(&mut b).await);
    form.push(("decision".into(), "logout".into()));
    let resp = b.post_form("/oauth/logout", &form).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), format!("{LOGOUT_TO}?state=s-2"));
    assert!(!signed_in(&mut b).await, "signed out");
}

#[tokio::test]
async fn the_display_name_is_set_by_the_cli_and_edited_on_the_security_page() {
    let app = spawn_app().await;
    skedcast_auth::accounts::create_agency(&app.state.db, "Acme")
        .await
        .unwrap();
    let out = app.cli(&[
        "user",
        "create",
        "--email",
        "bo@example.com",
        "--agency",
        "Acme",
        "--role",
        "viewer",
        "--name",
        "Bo Builder",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = app.cli(&[
        "user",
        "create",
        "--email",
        "cy@example.com",
        "--agency",
        "Acme",
        "--role",
        "viewer",
        "--name",
        "Cy\u{7}",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("display name"));
    let user = skedcast_auth::accounts::find_user_by_email(&app.state.db, "bo@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.name.as_deref(), Some("Bo Builder"));

    let mut b = Browser::new(&app);
    // Signed out: to the sign-in page, coming back here.
    let resp = b.get("/settings/security").await;
    assert_eq!(resp.status(), 302);
    assert!(location(&resp).contains("next="), "{}", location(&resp));
    member(&app, EMAIL, "Acme", "editor").await;
    assert_eq!(b.sign_in(EMAIL, PASSWORD, None).await.status(), 303);
    let html = b.get("/settings/security").await.text().await.unwrap();
    assert!(html.contains(EMAIL));
    // The name form's fields (the page has one form per section).
    let name_form = html
        .split(r#"<section id="name">"#)
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap();
    let mut form = hidden_fields(name_form);
    form.retain(|(k, _)| k != "name");
    let with = |name: &str, csrf: bool| {
        let mut f: Vec<(String, String)> = form.clone();
        if !csrf {
            f.retain(|(k, _)| k != "csrf_token");
        }
        f.push(("name".into(), name.into()));
        f
    };
    assert_eq!(
        b.post_form("/settings/security", &with("Mallory", false))
            .await
            .status(),
        403
    );
    let resp = b
        .post_form("/settings/security", &with("  Ann Example ", true))
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("value=\"Ann Example\""));
    let ann = skedcast_auth::accounts::find_user_by_email(&app.state.db, EMAIL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ann.name.as_deref(), Some("Ann Example"));
    let resp = b
        .post_form("/settings/security", &with(&"x".repeat(201), true))
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        b.post_form("/settings/security", &with("", true))
            .await
            .status(),
        200
    );
    let ann = skedcast_auth::accounts::find_user_by_email(&app.state.db, EMAIL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ann.name, None, "cleared");
}

#[tokio::test]
async fn discovery_carries_every_required_openid_field_and_rfc8414_stays_valid() {
    let app = spawn_app().await;
    let oidc = app.get_json("/.well-known/openid-configuration").await;
    // OpenID Connect Discovery 1.0 §3, REQUIRED.
    for f in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        assert!(oidc.get(f).is_some(), "{f}");
    }
    assert_eq!(oidc["userinfo_endpoint"], app.url("/oauth/userinfo"));
    assert_eq!(oidc["subject_types_supported"], json!(["public"]));
    assert_eq!(
        oidc["id_token_signing_alg_values_supported"],
        json!(["ES256", "RS256"])
    );
    let scopes = oidc["scopes_supported"].as_array().unwrap();
    for s in [
        "openid",
        "email",
        "profile",
        "offline_access",
        "agency:read",
    ] {
        assert!(scopes.contains(&json!(s)), "{s}");
    }
    let claims = oidc["claims_supported"].as_array().unwrap();
    for c in [
        "sub",
        "email",
        "email_verified",
        "name",
        "auth_time",
        "nonce",
    ] {
        assert!(claims.contains(&json!(c)), "{c}");
    }
    // RFC 8414: the same document, its issuer the configured one.
    let oauth = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(oauth, oidc);
    assert_eq!(oauth["issuer"], app.base.as_str());
    assert_eq!(oauth["code_challenge_methods_supported"], json!(["S256"]));
    // The RSA key RS256 needs is published beside the EC key.
    let jwks = app.get_json("/.well-known/jwks.json").await;
    let rsa: Vec<&Value> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["kty"] == "RSA")
        .collect();
    assert_eq!(rsa.len(), 1);
    assert_eq!(
        (rsa[0]["alg"].as_str(), rsa[0]["use"].as_str()),
        (Some("RS256"), Some("sig"))
    );
    assert!(rsa[0].get("d").is_none());
}

/// Python authlib (tests/oidc_client/authlib_flow.py) discovers, registers,
/// walks the code flow with PKCE and a nonce, validates the id_token
/// (signature via the JWKS, iss, aud, nonce, exp) and calls UserInfo; it
/// also refuses the same id_token for another nonce, after its expiry and
/// for another audience.
async fn authlib_flow(alg: &str) {
    let python = crate::support::provision::oidc_python();
    let app = spawn_app().await;
    let user_id = member(&app, EMAIL, "Acme", "viewer").await;
    skedcast_auth::accounts::set_name(&app.state.db, &user_id, Some("Ann Example"))
        .await
        .unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/oidc_client/authlib_flow.py"
    );
    let out = tokio::process::Command::new(&python)
        .arg(script)
        .env("ISSUER", &app.base)
        .env("EMAIL", EMAIL)
        .env("PASSWORD", PASSWORD)
        .env("REDIRECT_URI", REDIRECT)
        .env("ID_TOKEN_ALG", alg)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "authlib failed:\n{stdout}\n{stderr}");
    let r: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let pinned = crate::support::provision::AUTHLIB[0].trim_start_matches("authlib==");
    assert_eq!(r["authlib"], pinned, "the venv has the pinned authlib");
    assert_eq!(r["alg"], alg);
    let c = &r["claims"];
    assert_eq!(c["iss"], app.base.as_str());
    assert_eq!(c["sub"], user_id.as_str());
    assert_eq!(c["aud"], r["client_id"]);
    assert_eq!(c["nonce"], r["nonce_sent"]);
    assert_eq!(c["email"], EMAIL);
    assert_eq!(c["name"], "Ann Example");
    assert_eq!(r["iss_param"], app.base.as_str(), "RFC 9207");
    assert_eq!(
        r["userinfo"],
        json!({"sub": user_id, "email": EMAIL, "email_verified": false, "name": "Ann Example"})
    );
    assert_eq!(r["nonce_mismatch"], "InvalidClaimError", "{r}");
    assert_eq!(r["expired"], "ExpiredTokenError", "{r}");
    assert_eq!(r["other_audience"], "InvalidClaimError", "{r}");
}

#[tokio::test]
async fn authlib_validates_an_es256_id_token_and_reads_userinfo() {
    authlib_flow("ES256").await;
}

#[tokio::test]
async fn authlib_validates_an_rs256_id_token_and_reads_userinfo() {
    authlib_flow("RS256").await;
}

/// The nonce travels with a pushed request (RFC 9126), through sign-in and
/// consent (the pending request) and the code, to the id_token.
#[tokio::test]
async fn a_pushed_request_carries_its_nonce_to_the_id_token() {
    use crate::support::token::{basic, register};
    let app = spawn_app().await;
    member(&app, EMAIL, "Acme", "owner").await;
    let c = register(
        &app,
        json!({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code"], "response_types": ["code"]}),
    )
    .await;
    let auth = basic(&c.id, c.secret.as_deref().unwrap());
    let form: Vec<(String, String)> = url_params(&format!(
        "http://x{}",
        authorize_url(&c.id, &[("scope", OIDC_SCOPE), ("nonce", "pushed-nonce-7")])
    ))
    .into_iter()
    .collect();
    let pushed: Value = app
        .client
        .post(app.url("/oauth/par"))
        .header("authorization", &auth)
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uri = pushed["request_uri"].as_str().expect("pushed");
    let mut b = Browser::new(&app);
    let start = format!(
        "/oauth/authorize?client_id={}&request_uri={}",
        urlencode(&c.id),
        urlencode(uri)
    );
    let resp = b.get(&start).await;
    let page = b.get(&location(&resp)).await.text().await.unwrap();
    let mut login = hidden_fields(&page);
    login.push(("email".into(), EMAIL.into()));
    login.push(("password".into(), PASSWORD.into()));
    let signed = b.post_form("/login", &login).await;
    let consent = b.get(&location(&signed)).await.text().await.unwrap();
    let mut allow = hidden_fields(&consent);
    allow.push(("decision".into(), "allow".into()));
    let done = b.post_form("/oauth/authorize", &allow).await;
    let code = location_params(&done)["code"].clone();
    let t = ok_json(
        app.client
            .post(app.url("/oauth/token"))
            .header("authorization", &auth)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", VERIFIER),
                ("redirect_uri", REDIRECT),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let c = jwt_parts(t["id_token"].as_str().unwrap()).1;
    assert_eq!(c["nonce"], "pushed-nonce-7");
}

/// `signing-key rotate --alg RS256` publishes a new RSA key that signs the
/// RS256 id_tokens at once with `--now`; `signing-key revoke` of the RSA key
/// takes it out and makes a new one. The ES256 key is untouched.
#[tokio::test]
async fn the_rsa_key_rotates_and_revokes_like_the_ec_key() {
    let db = std::sync::Arc::new(fresh_db().await);
    let app = spawn_app_with(
        db.clone(),
        &[("SKEDCAST__KEYS__REFRESH_INTERVAL_SECS", "0")],
    )
    .await;
    let of = |jwks: &Value, kty: &str| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["kty"] == kty)
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    let before = app.get_json("/.well-known/jwks.json").await;
    let (ec, rsa) = (of(&before, "EC"), of(&before, "RSA"));
    assert_eq!((ec.len(), rsa.len()), (1, 1));
    let out = cli(
        &db.url,
        &["signing-key", "rotate", "--now", "--alg", "RS256"],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_rsa = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // Every instance sees a key change within 2 s (the contract), not at once.
    let within = std::time::Duration::from_secs(2);
    let done = std::time::Instant::now();
    wait_until("the new RSA key is published", done, within, || async {
        of(&app.get_json("/.well-known/jwks.json").await, "RSA").contains(&new_rsa)
    })
    .await;
    let after = app.get_json("/.well-known/jwks.json").await;
    assert_eq!(of(&after, "EC"), ec, "the EC key is untouched");
    assert_eq!(of(&after, "RSA"), vec![rsa[0].clone(), new_rsa.clone()]);
    let signed = app
        .state
        .keys
        .sign_with("RS256", "JWT", &json!({"a": 1}))
        .await
        .unwrap();
    assert_eq!(jwt_parts(&signed).0["kid"], new_rsa.as_str());
    let out = cli(&db.url, &["signing-key", "revoke", "--kid", &new_rsa], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let done = std::time::Instant::now();
    wait_until(
        "the revoked RSA key leaves the JWKS",
        done,
        within,
        || async { !of(&app.get_json("/.well-known/jwks.json").await, "RSA").contains(&new_rsa) },
    )
    .await;
    let last = app.get_json("/.well-known/jwks.json").await;
    assert!(
        !of(&last, "RSA").contains(&new_rsa),
        "revoked: out of the JWKS"
    );
    assert!(
        of(&last, "RSA").contains(&made),
        "an RSA key still signs: {made}"
    );
    assert_eq!(of(&last, "EC"), ec);
    let bad = cli(&db.url, &["signing-key", "rotate", "--alg", "HS256"], &[]);
    assert!(!bad.status.success());
}

/// UserInfo with a DPoP-bound access token (RFC 9449 §7): only as
/// `Authorization: DPoP` with a fresh proof by the bound key for this
/// request (`htm`, `htu`, `ath`); as Bearer, with another key, a replayed
/// proof or a proof for the token endpoint it is refused.
#[tokio::test]
async fn userinfo_wants_a_dpop_bound_token_with_a_proof_by_its_key() {
    use skedcast_auth::verify::dpop::testing::ProofKey;
    let app = spawn_app().await;
    let (user_id, client_id) = setup(&app, json!({})).await;
    let mut b = Browser::new(&app);
    let resp =
        authorize_with_consent(&app, &mut b, &client_id, EMAIL, &[("scope", OIDC_SCOPE)]).await;
    let code = location_params(&resp)["code"].clone();
    let key = ProofKey::es256();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    };
    let t = ok_json(
        app.client
            .post(app.url("/oauth/token"))
            .header(
                "DPoP",
                key.proof("POST", &app.url("/oauth/token"), now(), None, None),
            )
            .form(&[
                ("client_id", client_id.as_str()),
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("code_verifier", VERIFIER),
                ("redirect_uri", REDIRECT),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(t["token_type"], "DPoP");
    let token = t["access_token"].as_str().unwrap();
    let url = app.url("/oauth/userinfo");
    let dpop = |proof: String| {
        app.client
            .get(&url)
            .header("authorization", format!("DPoP {token}"))
            .header("DPoP", proof)
            .send()
    };

    // Bearer: refused, though the token is valid.
    let resp = userinfo(&app, "GET", Some(token)).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token", "{body}");

    // A proof by another key, and one made for the token endpoint.
    let other = ProofKey::es256().proof("GET", &url, now(), Some(token), None);
    let resp = dpop(other).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("DPoP ")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof", "{body}");
    let wrong_htu = key.proof("GET", &app.url("/oauth/token"), now(), Some(token), None);
    let resp = dpop(wrong_htu).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // No proof header at all.
    let resp = app
        .client
        .get(&url)
        .header("authorization", format!("DPoP {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // The right proof answers the claims; the same proof again does not.
    let good = key.proof("GET", &url, now(), Some(token), None);
    let resp = dpop(good.clone()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["sub"], user_id.as_str());
    assert_eq!(body["email"], EMAIL);
    let resp = dpop(good).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof", "{body}");
}
