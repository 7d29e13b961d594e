//! Sign-in, consent and the authorization endpoint, through the real forms.

use crate::support::browser::*;
use crate::support::*;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

async fn codes(app: &TestApp) -> Vec<entity::authorization_code::Model> {
    entity::authorization_code::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
}

fn assert_page_headers(resp: &reqwest::Response) {
    let h = resp.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    assert!(
        h.get("access-control-allow-origin").is_none(),
        "no CORS on pages"
    );
}

#[tokio::test]
async fn sign_in_consent_and_code_through_the_real_forms() {
    let app = spawn_app().await;
    let user_id = member(&app, "Ann@Example.com", "Acme", "owner").await;
    let client = public_client(&app, json!({})).await;
    let client_id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);

    // Not signed in: off to the sign-in page, the request kept in `next`.
    let url = authorize_url(client_id, &[]);
    let resp = b.get(&url).await;
    assert_eq!(resp.status(), 302);
    let login = location(&resp);
    assert!(
        login.starts_with("/login?next=%2Foauth%2Fauthorize%3F"),
        "{login}"
    );

    let page = b.get(&login).await;
    assert_eq!(page.status(), 200);
    assert_page_headers(&page);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"name="email""#) && html.contains(r#"name="password" type="password""#)
    );
    let mut form = hidden_fields(&html);
    assert!(form.iter().any(|(k, _)| k == "csrf_token"));
    form.push(("email".into(), "ann@example.com".into())); // case-insensitive
    form.push(("password".into(), PASSWORD.into()));
    let signed = b.post_form("/login", &form).await;
    assert_eq!(signed.status(), 303);
    let cookie = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("skedcast_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "http issuer: no Secure");
    // Back to the same request, kept by the server (issue 15 item 4): only
    // its reference travels.
    let back = location(&signed);
    let reference = back
        .strip_prefix("/oauth/authorize?pending=")
        .unwrap_or_else(|| panic!("{back}"));
    assert!(reference.len() >= 22 && !reference.contains('&'), "{back}");

    // Consent page: client name, redirect host, scopes in plain words.
    let consent = b.get(&back).await;
    assert_eq!(consent.status(), 200);
    assert_page_headers(&consent);
    let html = consent.text().await.unwrap();
    assert!(html.contains("Calendar Agent"));
    assert!(html.contains("127.0.0.1"));
    assert!(
        html.contains("See your agency&#39;s profile")
            || html.contains("See your agency's profile"),
        "{html}"
    );
    assert!(
        html.contains(r#"<button class="primary" type="submit" name="decision" value="allow">"#)
    );
    assert!(html.contains(r#"name="decision" value="deny""#));
    assert!(!html.contains("<select"), "one agency: implied");

    let mut form = hidden_fields(&html);
    form.push(("decision".into(), "allow".into()));
    let done = b.post_form("/oauth/authorize", &form).await;
    assert_eq!(done.status(), 303);
    assert!(location(&done).starts_with(REDIRECT));
    let p = location_params(&done);
    assert_eq!(p["state"], "st-123");
    assert_eq!(p["iss"], app.base);
    let code = &p["code"];
    assert!(code.len() >= 43, "≥ 256 bits");

    // Stored as a hash only, with everything the token endpoint needs.
    let rows = codes(&app).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_ne!(&row.code_hash, code);
    assert_eq!(row.code_hash, skedcast_auth::crypto::sha256_hex(code));
    assert_eq!(row.user_id, user_id);
    assert_eq!(row.client_id, client_id);
    assert_eq!(row.redirect_uri, REDIRECT);
    assert_eq!(row.code_challenge, CHALLENGE);
    assert_eq!(row.scope, "agency:read posts:read");
    assert_eq!(row.resource, "http://127.0.0.1:8081");
    assert_eq!(row.expires_at - row.created_at, 60);
}

#[tokio::test]
async fn client_and_redirect_uri_errors_are_pages_never_redirects() {
    let app = spawn_app().await;
    let client = public_client(&app, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);
    for url in [
        authorize_url("no-such-client", &[]),
        authorize_url(id, &[("redirect_uri", "https://evil.example/callback")]),
        authorize_url(id, &[("redirect_uri", "http://127.0.0.1/callback/extra")]),
        authorize_url(id, &[("client_id", "")]),
        format!("{}&client_id=other", authorize_url(id, &[])),
    ] {
        let resp = b.get(&url).await;
        assert_eq!(resp.status(), 400, "{url}");
        assert!(resp.headers().get("location").is_none());
        assert_page_headers(&resp);
    }
    assert!(codes(&app).await.is_empty());
}

#[tokio::test]
async fn request_errors_go_back_to_the_client_with_state_and_iss() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let client = public_client(
        &app,
        json!({"scope": "agency:read posts:read offline_access"}),
    )
    .await;
    let id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);
    // A member has denied this client once, so its errors are redirected at
    // once (before that they are a page with a link, RFC 9700 §4.17: see
    // errors_for_a_client_no_member_acted_on_are_a_page_with_a_link).
    b.sign_in("ann@example.com", PASSWORD, None).await;
    let denied = decide_on_consent(&mut b, id, "deny").await;
    assert_eq!(location_params(&denied)["error"], "access_denied");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("response_type", "")], "invalid_request"),
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("code_challenge", "too-short")], "invalid_request"),
        (&[("scope", "billing:write")], "invalid_scope"),
        (&[("scope", "agency:read nonsense")], "invalid_scope"),
        // RFC 6749 section 3.3: only a space separates scope-tokens; the
        // token endpoint applies the same rule (client_credentials tests).
        (&[("scope", "agency:read\tposts:read")], "invalid_scope"),
        (
            &[("resource", "https://elsewhere.example")],
            "invalid_target",
        ),
        (&[("prompt", "none consent")], "invalid_request"),
    ];
    for (extra, want) in cases {
        let resp = b.get(&authorize_url(id, extra)).await;
        assert_eq!(resp.status(), 302, "{extra:?}");
        let loc = location(&resp);
        assert!(loc.starts_with(REDIRECT), "{loc}");
        let p = location_params(&resp);
        assert_eq!(p["error"], *want, "{extra:?}");
        assert!(!p["error_description"].is_empty());
        assert_eq!(p["state"], "st-123");
        assert_eq!(p["iss"], app.base);
        assert!(!p.contains_key("code"));
    }
    // A repeated parameter is invalid_request.
    let resp = b
        .get(&format!("{}&scope=posts:read", authorize_url(id, &[])))
        .await;
    assert_eq!(location_params(&resp)["error"], "invalid_request");

    // The configured resource is accepted, scheme and host in any case.
    let resp = authorize_with_consent(
        &app,
        &mut b,
        id,
        "ann@example.com",
        &[("resource", "HTTP://127.0.0.1:8081")],
    )
    .await;
    assert!(location_params(&resp).contains_key("code"));

    // Deny at consent.
    let resp = b
        .get(&authorize_url(
            id,
            &[("scope", "posts:read"), ("prompt", "consent")],
        ))
        .await;
    let mut form = hidden_fields(&resp.text().await.unwrap());
    form.push(("decision".into(), "deny".into()));
    let resp = b.post_form("/oauth/authorize", &form).await;
    assert_eq!(resp.status(), 303);
    let p = location_params(&resp);
    assert_eq!(p["error"], "access_denied");
    assert_eq!(p["state"], "st-123");
    assert_eq!(p["iss"], app.base);
    assert_eq!(
        codes(&app).await.len(),
        1,
        "only the allowed request made a code"
    );
}

#[tokio::test]
async fn csrf_missing_or_wrong_is_403_and_changes_nothing() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let client = public_client(&app, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);

    // Sign-in form without / with a wrong token.
    let html = b.get("/login").await.text().await.unwrap();
    let good = hidden_fields(&html);
    for token in [None, Some("x".repeat(43))] {
        let mut form: Vec<(String, String)> = good
            .iter()
            .filter(|(k, _)| k != "csrf_token")
            .cloned()
            .collect();
        if let Some(t) = token {
            form.push(("csrf_token".into(), t));
        }
        form.push(("email".into(), "ann@example.com".into()));
        form.push(("password".into(), PASSWORD.into()));
        let resp = b.post_form("/login", &form).await;
        assert_eq!(resp.status(), 403);
        assert!(!b.cookies.contains_key("skedcast_session"));
    }
    // A token with no matching cookie (another browser's form) fails too.
    let mut other = Browser::new(&app);
    let mut form = good.clone();
    form.push(("email".into(), "ann@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    assert_eq!(other.post_form("/login", &form).await.status(), 403);

    // Consent form without / with a wrong token.
    b.sign_in("ann@example.com", PASSWORD, None).await;
    let html = b.get(&authorize_url(id, &[])).await.text().await.unwrap();
    for token in [None, Some("wrong")] {
        let mut form: Vec<(String, String)> = hidden_fields(&html)
            .into_iter()
            .filter(|(k, _)| k != "csrf_token")
            .collect();
        if let Some(t) = token {
            form.push(("csrf_token".into(), t.into()));
        }
        form.push(("decision".into(), "allow".into()));
        let resp = b.post_form("/oauth/authorize", &form).await;
        assert_eq!(resp.status(), 403);
    }
    assert!(codes(&app).await.is_empty());
    let consents = entity::consent::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(consents, 0);

    // Logout without the token does not end the session.
    assert_eq!(b.post_form("/logout", &[]).await.status(), 403);
    let sessions = entity::session::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(sessions, 1);
    let html = b.get("/login").await.text().await.unwrap();
    let resp = b.post_form("/logout", &hidden_fields(&html)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        entity::session::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
    assert!(!b.cookies.contains_key("skedcast_session"));
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_and_unknown_emails_look_the_same() {
    // The account ceiling across addresses set to the per-address limit, to
    // see it from fresh addresses (`sign_in.rs` tests the default split).
    let app = spawn_app_with(
        std::sync::Arc::new(fresh_db().await),
        &[("SKEDCAST__LOGIN__MAX_ACCOUNT_FAILURES", "5")],
    )
    .await;
    member(&app, "ann@example.com", "Acme", "owner").await;

    // Each attempt from another address: only the account ceiling applies.
    let mut b = Browser::from_ip(&app, "127.0.0.10");
    let wrong = b.sign_in("ann@example.com", "not the password", None).await;
    assert_eq!(wrong.status(), 401);
    let wrong_body = wrong.text().await.unwrap();
    let mut b = Browser::from_ip(&app, "127.0.0.11");
    let unknown = b
        .sign_in("nobody@example.com", "not the password", None)
        .await;
    assert_eq!(unknown.status(), 401);
    let unknown_body = unknown.text().await.unwrap();
    assert!(wrong_body.contains("Incorrect email or password."));
    let strip = |s: &str| {
        s.split("value=\"")
            .map(|p| p.split_once('"').map_or(p, |x| x.1))
            .collect::<String>()
    };
    assert_eq!(
        strip(&wrong_body).replace("ann@example.com", ""),
        strip(&unknown_body).replace("nobody@example.com", ""),
        "the same page for an unknown account and a wrong password"
    );

    // Five failures for the account, then 429 with Retry-After, even with
    // the right password and from a fresh address (the ceiling).
    for i in 0..4 {
        let mut b = Browser::from_ip(&app, &format!("127.0.0.{}", 20 + i));
        assert_eq!(
            b.sign_in("ann@example.com", "not the password", None)
                .await
                .status(),
            401
        );
    }
    let mut b = Browser::from_ip(&app, "127.0.0.30");
    let limited = b.sign_in("ann@example.com", PASSWORD, None).await;
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry));
    assert!(!b.cookies.contains_key("skedcast_session"));
    // Another account is not affected.
    member(&app, "bob@example.com", "Acme", "viewer").await;
    assert_eq!(
        b.sign_in("bob@example.com", PASSWORD, None).await.status(),
        303
    );
}

#[tokio::test]
async fn sign_ins_from_one_ip_are_throttled_across_accounts() {
    let app = spawn_app_with(
        std::sync::Arc::new(fresh_db().await),
        &[("SKEDCAST__LOGIN__MAX_FAILURES", "3")],
    )
    .await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let mut b = Browser::new(&app);
    for i in 0..3 {
        let resp = b
            .sign_in(&format!("guess{i}@example.com"), "nope nope nope", None)
            .await;
        assert_eq!(resp.status(), 401);
    }
    assert_eq!(
        b.sign_in("ann@example.com", PASSWORD, None).await.status(),
        429
    );
}

#[tokio::test]
async fn remembered_consent_and_each_prompt_value() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let client = public_client(&app, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);

    // prompt=none before sign-in: login_required, no sign-in page (a page
    // with a link: no member has acted on this client yet, RFC 9700 §4.17).
    let resp = b.get(&authorize_url(id, &[("prompt", "none")])).await;
    expect_continue_page(&app, resp, "login_required").await;

    b.sign_in("ann@example.com", PASSWORD, None).await;
    // prompt=none signed in but never consented: consent_required.
    let resp = b.get(&authorize_url(id, &[("prompt", "none")])).await;
    expect_continue_page(&app, resp, "consent_required").await;

    let first = authorize_with_consent(&app, &mut b, id, "ann@example.com", &[]).await;
    assert!(location_params(&first).contains_key("code"));

    // Same or fewer scopes: no page, straight back with a code and iss.
    for scope in ["agency:read posts:read", "posts:read"] {
        let resp = b.get(&authorize_url(id, &[("scope", scope)])).await;
        assert_eq!(resp.status(), 302, "{scope}");
        let p = location_params(&resp);
        assert!(p.contains_key("code"));
        assert_eq!(p["iss"], app.base);
        assert_eq!(p["state"], "st-123");
    }
    // prompt=none now answers with a code.
    let resp = b.get(&authorize_url(id, &[("prompt", "none")])).await;
    assert!(location_params(&resp).contains_key("code"));
    // More scopes: the page again.
    let resp = b
        .get(&authorize_url(id, &[("scope", "agency:read posts:write")]))
        .await;
    assert_eq!(resp.status(), 200);
    // prompt=consent forces the page.
    let resp = b.get(&authorize_url(id, &[("prompt", "consent")])).await;
    assert_eq!(resp.status(), 200);
    // prompt=login forces a fresh sign-in, then continues without it.
    let resp = b.get(&authorize_url(id, &[("prompt", "login")])).await;
    assert_eq!(resp.status(), 302);
    let login = location(&resp);
    assert!(
        login.starts_with("/login?next=") && login.ends_with("&force=1"),
        "{login}"
    );
    let old_session = b.cookies["skedcast_session"].clone();
    let html = b.get(&login).await.text().await.unwrap();
    assert!(
        html.contains(r#"name="password""#),
        "the form, although signed in"
    );
    let mut form = hidden_fields(&html);
    form.push(("email".into(), "ann@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let signed = b.post_form("/login", &form).await;
    assert_eq!(signed.status(), 303);
    assert_ne!(b.cookies["skedcast_session"], old_session, "a new session");
    let next = location(&signed);
    assert!(!next.contains("prompt=login"));
    let resp = b.get(&next).await;
    assert!(
        location_params(&resp).contains_key("code"),
        "remembered consent applies"
    );
}

#[tokio::test]
async fn a_viewer_asking_for_posts_write_gets_a_narrowed_grant() {
    let app = spawn_app().await;
    member(&app, "vic@example.com", "Acme", "viewer").await;
    let client = public_client(&app, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);
    b.sign_in("vic@example.com", PASSWORD, None).await;

    let html = b
        .get(&authorize_url(id, &[("scope", "agency:read posts:write")]))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("not available to your role"));
    let mut form = hidden_fields(&html);
    form.push(("decision".into(), "allow".into()));
    let resp = b.post_form("/oauth/authorize", &form).await;
    assert!(location_params(&resp).contains_key("code"));
    let rows = codes(&app).await;
    assert_eq!(rows[0].scope, "agency:read", "narrowed, never widened");

    // Nothing grantable at all: access_denied.
    let html = b
        .get(&authorize_url(id, &[("scope", "posts:write")]))
        .await
        .text()
        .await
        .unwrap();
    let mut form = hidden_fields(&html);
    form.push(("decision".into(), "allow".into()));
    let resp = b.post_form("/oauth/authorize", &form).await;
    assert_eq!(location_params(&resp)["error"], "access_denied");
}

#[tokio::test]
async fn members_of_several_agencies_pick_one() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "viewer").await;
    let globex = skedcast_auth::accounts::create_agency(&app.state.db, "Globex")
        .await
        .unwrap();
    skedcast_auth::accounts::set_role(&app.state.db, "ann@example.com", "Globex", "editor")
        .await
        .unwrap();
    let client = public_client(&app, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);
    b.sign_in("ann@example.com", PASSWORD, None).await;

    let html = b
        .get(&authorize_url(id, &[("scope", "agency:read posts:write")]))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<select id="agency" name="agency">"#));
    assert!(html.contains("Acme (viewer)") && html.contains("Globex (editor)"));
    let mut form: Vec<(String, String)> = hidden_fields(&html);
    form.push(("agency".into(), globex.id.clone()));
    form.push(("decision".into(), "allow".into()));
    let resp = b.post_form("/oauth/authorize", &form).await;
    assert!(location_params(&resp).contains_key("code"));
    let row = &codes(&app).await[0];
    assert_eq!(row.agency_id, globex.id);
    assert_eq!(
        row.scope, "agency:read posts:write",
        "the editor role grants both"
    );

    // An agency the member is not in is refused.
    let mut form: Vec<(String, String)> = hidden_fields(&html);
    form.push(("agency".into(), "not-mine".into()));
    form.push(("decision".into(), "allow".into()));
    assert_eq!(b.post_form("/oauth/authorize", &form).await.status(), 400);
}

#[tokio::test]
async fn sessions_expire_when_idle_and_cookies_are_secure_on_https() {
    let db = std::sync::Arc::new(fresh_db().await);
    let app = spawn_app_with(db, &[("SKEDCAST__SESSION__IDLE_TIMEOUT_SECS", "60")]).await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let mut b = Browser::new(&app);
    assert_eq!(
        b.sign_in("ann@example.com", PASSWORD, None).await.status(),
        303
    );
    assert!(
        b.get("/login")
            .await
            .text()
            .await
            .unwrap()
            .contains("signed in as ann@example.com")
    );
    // Two minutes without a request.
    use sea_orm::sea_query::Expr;
    entity::session::Entity::update_many()
        .col_expr(
            entity::session::Column::LastSeenAt,
            Expr::value(skedcast_auth::clock::now() - 120),
        )
        .filter(entity::session::Column::UserId.is_not_null())
        .exec(&app.state.db)
        .await
        .unwrap();
    let html = b.get("/login").await.text().await.unwrap();
    assert!(
        html.contains(r#"name="password""#),
        "signed out by the idle timeout"
    );

    // With an https issuer every cookie is Secure.
    let https = spawn_app_with(
        std::sync::Arc::new(fresh_db().await),
        &[("SKEDCAST__ISSUER", "https://auth.example.com")],
    )
    .await;
    member(&https, "ann@example.com", "Acme", "owner").await;
    let mut b = Browser::new(&https);
    b.sign_in("ann@example.com", PASSWORD, None).await;
    assert!(!b.set_cookies.is_empty());
    assert!(
        b.set_cookies.iter().all(|c| c.contains("; Secure")),
        "{:?}",
        b.set_cookies
    );
    // Issue 13 item 14: and `__Host-` prefixed (RFC 6265bis §4.1.3.2:
    // Secure, Path=/, no Domain), so a sibling subdomain or an http page
    // cannot plant or shadow them.
    let names = |set: &[String]| -> std::collections::BTreeSet<String> {
        set.iter()
            .map(|c| c.split('=').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&b.set_cookies),
        ["__Host-skedcast_login_csrf", "__Host-skedcast_session"]
            .map(String::from)
            .into(),
        "{:?}",
        b.set_cookies
    );
    assert!(
        b.set_cookies
            .iter()
            .all(|c| c.contains("; Path=/;") && !c.to_ascii_lowercase().contains("domain=")),
        "{:?}",
        b.set_cookies
    );
    // The prefixed cookies are the ones read back.
    let page = b.get("/login").await.text().await.unwrap();
    assert!(page.contains("signed in as ann@example.com"), "{page}");
    // An unprefixed cookie with a valid session id is not read on https.
    let raw = b.cookies["__Host-skedcast_session"].clone();
    let mut plain = Browser::new(&https);
    plain
        .cookies
        .insert("skedcast_session".to_string(), raw.clone());
    let page = plain.get("/login").await.text().await.unwrap();
    assert!(!page.contains("signed in as"), "{page}");
    // Signing out clears the prefixed cookie.
    let html = b.get("/login").await.text().await.unwrap();
    let form = hidden_fields(&html);
    b.set_cookies.clear();
    b.post_form("/logout", &form).await;
    assert!(
        b.set_cookies
            .iter()
            .any(|c| c.starts_with("__Host-skedcast_session=;") && c.contains("Max-Age=0")),
        "{:?}",
        b.set_cookies
    );
    assert!(!b.cookies.contains_key("__Host-skedcast_session"));

    // Over http the names stay as they were.
    let mut b = Browser::new(&app);
    b.set_cookies.clear();
    b.sign_in("ann@example.com", PASSWORD, None).await;
    assert!(
        names(&b.set_cookies).contains("skedcast_session"),
        "{:?}",
        b.set_cookies
    );
    assert!(b.set_cookies.iter().all(|c| !c.starts_with("__Host-")));
}

#[tokio::test]
async fn weaker_password_hashes_are_upgraded_at_sign_in() {
    use argon2::PasswordHasher;
    let app = spawn_app().await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(4096, 1, 1, None).unwrap(),
    )
    .hash_password(PASSWORD.as_bytes())
    .unwrap()
    .to_string();
    skedcast_auth::accounts::create_agency(&app.state.db, "Acme")
        .await
        .unwrap();
    let user = skedcast_auth::accounts::create_user(
        &app.state.db,
        "ann@example.com",
        "Acme",
        "owner",
        Some(weak.clone()),
    )
    .await
    .unwrap();
    let mut b = Browser::new(&app);
    assert_eq!(
        b.sign_in("ann@example.com", PASSWORD, None).await.status(),
        303
    );
    let stored = skedcast_auth::accounts::find_user(&app.state.db, &user.id)
        .await
        .unwrap()
        .unwrap();
    let phc = stored.password_hash.unwrap();
    assert_ne!(phc, weak);
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
}

#[tokio::test]
async fn metadata_advertises_the_authorization_endpoint() {
    let app = spawn_app().await;
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["authorization_endpoint"], app.url("/oauth/authorize"));
}

#[test]
fn cli_creates_agencies_users_and_roles_with_clear_errors() {
    let db = std::sync::Arc::new(fresh_sqlite_db());
    let run = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_skedcast-auth"));
        cmd.args(args)
            .env("SKEDCAST__DATABASE__URL", &db.url)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )
    };
    let (ok, agency_id, _) = run(&["agency", "create", "--name", "Acme"], None);
    assert!(ok);
    assert_eq!(agency_id.len(), 36);
    let (ok, _, err) = run(&["agency", "create", "--name", "Acme"], None);
    assert!(!ok && err.contains("already taken"), "{err}");

    let (ok, user_id, err) = run(
        &[
            "user",
            "create",
            "--email",
            "Ann@Example.com",
            "--agency",
            &agency_id,
            "--role",
            "owner",
            "--password-stdin",
        ],
        Some("correct horse battery\n"),
    );
    assert!(ok, "{err}");
    assert_eq!(user_id.len(), 36);
    let cases: &[(&[&str], Option<&str>, &str)] = &[
        (
            &[
                "user",
                "create",
                "--email",
                "ann@example.COM",
                "--agency",
                "Acme",
                "--role",
                "owner",
            ],
            None,
            "already exists",
        ),
        (
            &[
                "user",
                "create",
                "--email",
                "bob@example.com",
                "--agency",
                "Nope",
                "--role",
                "owner",
            ],
            None,
            "unknown agency: Nope",
        ),
        (
            &[
                "user",
                "create",
                "--email",
                "bob@example.com",
                "--agency",
                "Acme",
                "--role",
                "admin",
            ],
            None,
            "unknown role",
        ),
        (
            &[
                "user",
                "create",
                "--email",
                "bob@example.com",
                "--agency",
                "Acme",
                "--role",
                "viewer",
                "--password-stdin",
            ],
            Some("short\n"),
            "at least 12 characters",
        ),
        (
            &[
                "user",
                "create",
                "--email",
                "not-an-email",
                "--agency",
                "Acme",
                "--role",
                "viewer",
            ],
            None,
            "invalid email",
        ),
        (
            &[
                "member",
                "set-role",
                "--email",
                "nobody@example.com",
                "--agency",
                "Acme",
                "--role",
                "viewer",
            ],
            None,
            "no account",
        ),
        (
            &[
                "member",
                "set-role",
                "--email",
                "ann@example.com",
                "--agency",
                "Acme",
                "--role",
                "boss",
            ],
            None,
            "unknown role",
        ),
    ];
    for (args, stdin, want) in cases {
        let (ok, _, err) = run(args, *stdin);
        assert!(!ok, "{args:?} must fail");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    let (ok, _, err) = run(
        &[
            "member",
            "set-role",
            "--email",
            "ann@example.com",
            "--agency",
            "Acme",
            "--role",
            "viewer",
        ],
        None,
    );
    assert!(ok, "{err}");

    // What the CLI wrote, as the server sees it: the new role reads back,
    // and the password given on stdin signs in through the real form.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let app = spawn_app_with(db.clone(), &[]).await;
        let role = skedcast_auth::accounts::role_in(&app.state.db, &user_id, &agency_id)
            .await
            .unwrap();
        assert_eq!(role, Some(skedcast_auth::scopes::Role::Viewer));
        let mut b = Browser::new(&app);
        let wrong = b
            .sign_in("ann@example.com", "correct horse batterx", None)
            .await;
        assert_eq!(wrong.status(), 401);
        let right = b
            .sign_in("ann@example.com", "correct horse battery", None)
            .await;
        assert_eq!(right.status(), 303);
    });
}

/// An authorization error shown as a page instead of a redirect (RFC 9700
/// §4.17): 400, the page headers, no Location, and a `<a id="continue">`
/// link to the redirect URI with `error`, `error_description`, `state`, `iss`.
async fn expect_continue_page(app: &TestApp, resp: reqwest::Response, error: &str) {
    assert_eq!(resp.status(), 400, "{error}: {}", location(&resp));
    assert!(resp.headers().get("location").is_none(), "{error}");
    assert_page_headers(&resp);
    let html = resp.text().await.unwrap();
    let href = continue_link(&html).unwrap_or_else(|| panic!("{error}: no link in {html}"));
    assert!(href.starts_with(REDIRECT), "{href}");
    let p = url_params(&href);
    assert_eq!(p["error"], error, "{href}");
    assert!(!p["error_description"].is_empty(), "{href}");
    assert_eq!(p["state"], "st-123");
    assert_eq!(p["iss"], app.base);
}

/// Issue 13 item 8: no automatic redirect to a client no member has acted
/// on (RFC 9700 §4.17); after an allow or a deny, errors redirect at once.
#[tokio::test]
async fn errors_for_a_client_no_member_acted_on_are_a_page_with_a_link() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let client = public_client(&app, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    let other = public_client(&app, json!({})).await;
    let other = other["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);

    let bad_scope = authorize_url(id, &[("scope", "agency:read nonsense")]);
    expect_continue_page(&app, b.get(&bad_scope).await, "invalid_scope").await;
    let none = authorize_url(id, &[("prompt", "none")]);
    expect_continue_page(&app, b.get(&none).await, "login_required").await;
    b.sign_in("ann@example.com", PASSWORD, None).await;
    expect_continue_page(&app, b.get(&none).await, "consent_required").await;
    expect_continue_page(
        &app,
        b.get(&authorize_url(id, &[("response_type", "token")]))
            .await,
        "unsupported_response_type",
    )
    .await;

    // The member denies once: the denial itself goes back at once ...
    let html = b.get(&authorize_url(id, &[])).await.text().await.unwrap();
    let mut form = hidden_fields(&html);
    form.push(("decision".into(), "deny".into()));
    let denied = b.post_form("/oauth/authorize", &form).await;
    assert_eq!(denied.status(), 303);
    assert_eq!(location_params(&denied)["error"], "access_denied");
    // ... and so do the same errors from now on.
    let resp = b.get(&bad_scope).await;
    assert_eq!(resp.status(), 302);
    assert!(location(&resp).starts_with(REDIRECT));
    let p = location_params(&resp);
    assert_eq!(p["error"], "invalid_scope");
    assert_eq!(p["state"], "st-123");
    assert_eq!(p["iss"], app.base);
    let resp = b.get(&none).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(location_params(&resp)["error"], "consent_required");

    // Per client: another one nobody acted on still gets the page.
    expect_continue_page(
        &app,
        b.get(&authorize_url(other, &[("scope", "agency:read nonsense")]))
            .await,
        "invalid_scope",
    )
    .await;
    // An allow counts too.
    let resp = authorize_with_consent(&app, &mut b, other, "ann@example.com", &[]).await;
    assert!(location_params(&resp).contains_key("code"));
    let resp = b
        .get(&authorize_url(other, &[("scope", "agency:read nonsense")]))
        .await;
    assert_eq!(resp.status(), 302);
    assert_eq!(location_params(&resp)["error"], "invalid_scope");
}

/// Issue 13 item 6 (RFC 8707 §2): consent given for one resource is not
/// consent for another; the page names the resource.
#[tokio::test]
async fn consent_is_bound_to_the_resource() {
    const REPORTS: &str = "https://reports.example";
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    crate::support::token::create_resource_server(&app, "Reports API", REPORTS);
    let client = public_client(&app, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);
    b.sign_in("ann@example.com", PASSWORD, None).await;

    // The page for the default resource names it.
    let page = b.get(&authorize_url(id, &[])).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(crate::support::token::DEFAULT_RESOURCE),
        "{html}"
    );
    let first = authorize_with_consent(&app, &mut b, id, "ann@example.com", &[]).await;
    assert!(location_params(&first).contains_key("code"));
    let resp = b.get(&authorize_url(id, &[])).await;
    assert_eq!(resp.status(), 302, "remembered for the default resource");

    // Another resource: the page again, naming it, not a silent code.
    let for_reports = authorize_url(id, &[("resource", REPORTS)]);
    let resp = b.get(&for_reports).await;
    assert_eq!(resp.status(), 200, "{}", location(&resp));
    let html = resp.text().await.unwrap();
    assert!(html.contains(REPORTS), "{html}");
    assert!(html.contains("Reports API"), "{html}");
    let mut form = hidden_fields(&html);
    form.push(("decision".into(), "allow".into()));
    let resp = b.post_form("/oauth/authorize", &form).await;
    assert!(location_params(&resp).contains_key("code"));
    let rows = codes(&app).await;
    assert!(rows.iter().any(|r| r.resource == REPORTS));

    // Now each is remembered for itself.
    for url in [for_reports, authorize_url(id, &[])] {
        let resp = b.get(&url).await;
        assert_eq!(resp.status(), 302, "{url}");
        assert!(location_params(&resp).contains_key("code"), "{url}");
    }
    let rows = entity::consent::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    let mut resources: Vec<&str> = rows.iter().map(|r| r.resource.as_str()).collect();
    resources.sort();
    assert_eq!(
        resources,
        [crate::support::token::DEFAULT_RESOURCE, REPORTS]
    );
}

/// Issue 13 item 9: whenever the token endpoint will issue a refresh token
/// the consent page says the app stays connected, and for how long at most.
#[tokio::test]
async fn the_consent_page_says_when_a_refresh_token_will_be_issued() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let with = public_client(&app, json!({})).await;
    let with = with["client_id"].as_str().unwrap();
    let without = public_client(&app, json!({"grant_types": ["authorization_code"]})).await;
    let without = without["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);
    b.sign_in("ann@example.com", PASSWORD, None).await;
    const SENTENCE: &str = "stays connected to your account until you revoke its access";

    // agency:read alone, no offline_access: still a refresh token.
    let scope = [("scope", "agency:read")];
    let html = b
        .get(&authorize_url(with, &scope))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(SENTENCE), "{html}");
    assert!(html.contains("at most 30 days"), "{html}");
    let html = b
        .get(&authorize_url(without, &scope))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains(SENTENCE), "{html}");
    assert!(!html.contains("30 days"), "{html}");

    // The token endpoint agrees with each page.
    for (id, refresh) in [(with, true), (without, false)] {
        let resp = authorize_with_consent(&app, &mut b, id, "ann@example.com", &scope).await;
        let code = location_params(&resp)["code"].clone();
        let resp = app
            .client
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", id),
                ("code", &code),
                ("code_verifier", VERIFIER),
                ("redirect_uri", REDIRECT),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v.get("refresh_token").is_some(), refresh, "{v}");
    }
}

/// Issue 13 item 6, the migration: consents remembered before consent was
/// bound to the resource were for the default resource, and still are
/// after the upgrade (the table is rebuilt, the rows copied, and the start
/// names them with the configured default).
#[tokio::test]
async fn consents_from_before_the_resource_binding_still_cover_the_default_resource() {
    use migration::MigratorTrait;
    let db = std::sync::Arc::new(fresh_db().await);
    let old = spawn_app_with(db.clone(), &[]).await;
    member(&old, "ann@example.com", "Acme", "owner").await;
    let client = public_client(&old, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&old);
    let resp = authorize_with_consent(&old, &mut b, id, "ann@example.com", &[]).await;
    assert!(location_params(&resp).contains_key("code"));
    // Back to the schema before the migration: one consent per (user,
    // client, agency), no resource.
    migration::Migrator::down(&old.state.db, Some(1))
        .await
        .unwrap();
    let count = |app: &TestApp| {
        let db = app.state.db.clone();
        async move {
            use sea_orm::ConnectionTrait;
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    "SELECT COUNT(*) AS n FROM consents",
                ))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };
    assert_eq!(count(&old).await, 1);

    // The upgraded server starts on that database.
    let new = spawn_app_with(db.clone(), &[]).await;
    let rows = entity::consent::Entity::find()
        .all(&new.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].resource, crate::support::token::DEFAULT_RESOURCE);
    assert_eq!(rows[0].scope, "agency:read posts:read");
    let mut b2 = Browser::new(&new);
    b2.cookies = b.cookies.clone();
    let resp = b2.get(&authorize_url(id, &[])).await;
    assert_eq!(resp.status(), 302, "still remembered");
    assert!(location_params(&resp).contains_key("code"));
    // And only for the default resource.
    crate::support::token::create_resource_server(&new, "Reports API", "https://reports.example");
    let resp = b2
        .get(&authorize_url(
            id,
            &[("resource", "https://reports.example")],
        ))
        .await;
    assert_eq!(resp.status(), 200);
}

/// Issue 14, item 7: a client that registered no scope and sends none gets
/// the pre-defined default (RFC 6749 §3.3), `scopes.default` =
/// `agency:read`, instead of `invalid_scope`: the consent page lists it (and
/// nothing else), the code and the access token carry it.
#[tokio::test]
async fn no_scope_anywhere_means_the_default_scope() {
    let app = spawn_app().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let client = public_client(&app, json!({})).await;
    assert!(
        client.get("scope").is_none(),
        "registered no scope: {client}"
    );
    let client_id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&app);
    let url = authorize_url(client_id, &[("scope", "")]);
    assert!(!url.contains("scope"), "{url}");
    let resp = b.get(&url).await;
    assert_eq!(resp.status(), 302, "to sign-in: {}", location(&resp));
    let page = b.get(&location(&resp)).await.text().await.unwrap();
    let mut form = hidden_fields(&page);
    form.push(("email".into(), "ann@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let signed = b.post_form("/login", &form).await;
    assert_eq!(signed.status(), 303, "sign-in");
    let consent = b.get(&location(&signed)).await;
    assert_eq!(
        consent.status(),
        200,
        "the consent page: {}",
        location(&consent)
    );
    let html = consent.text().await.unwrap();
    let listed = html
        .split(r#"<ul class="scopes">"#)
        .nth(1)
        .and_then(|s| s.split("</ul>").next())
        .expect("the scope list");
    assert_eq!(
        listed.matches(r#"<br><span class="muted">"#).count(),
        1,
        "one scope: {listed}"
    );
    assert!(
        listed.contains(r#"<span class="muted">agency:read</span>"#),
        "{listed}"
    );

    let mut form = hidden_fields(&html);
    form.push(("decision".into(), "allow".into()));
    let done = b.post_form("/oauth/authorize", &form).await;
    assert_eq!(done.status(), 303);
    let code = location_params(&done)["code"].clone();
    assert_eq!(codes(&app).await[0].scope, "agency:read");
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "agency:read");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["scope"], "agency:read");
}
