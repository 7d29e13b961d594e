//! A member's own account (issue 17 item 4), through the real pages and
//! their CSRF tokens: connected apps (`/settings/apps`) and revoking one
//! (its refresh token then fails with `invalid_grant`, its access token
//! introspects inactive, its consent is asked again), signed-in sessions
//! and signing them out, the password change, turning TOTP off only with
//! the password or a code, and the audit rows of each (searched for
//! secrets column by column).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::support::audit::audit_text;
use crate::support::browser::*;
use crate::support::flow::*;
use crate::support::token::{inactive, introspect};
use crate::support::*;

const EMAIL: &str = "ann@example.com";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// The hidden fields of the form containing `marker`, plus `extra`.
fn form_with(html: &str, marker: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let form_start = html[..start].rfind("<form").unwrap();
    let form_end = start + html[start..].find("</form>").unwrap();
    let mut f = hidden_fields(&html[form_start..form_end]);
    for (k, v) in extra {
        f.push((k.to_string(), v.to_string()));
    }
    f
}

/// `form` without its CSRF token.
fn without_csrf(form: &[(String, String)]) -> Vec<(String, String)> {
    form.iter()
        .filter(|(k, _)| k != "csrf_token")
        .cloned()
        .collect()
}

async fn text(b: &mut Browser, path: &str) -> String {
    let resp = b.get(path).await;
    assert_eq!(resp.status(), 200, "GET {path}: {}", location(&resp));
    resp.text().await.unwrap()
}

/// Whether the browser's session still opens the security page.
async fn signed_in(b: &mut Browser) -> bool {
    b.get("/settings/security").await.status() == 200
}

/// A browser announcing `user_agent`, signed in as EMAIL.
async fn browser_signed_in(app: &TestApp, user_agent: Option<&str>) -> Browser {
    let mut b = Browser::new(app);
    if let Some(ua) = user_agent {
        skedcast_auth::install_crypto_provider();
        b.client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(ua)
            .build()
            .unwrap();
    }
    let resp = b.sign_in(EMAIL, PASSWORD, None).await;
    assert_eq!(resp.status(), 303, "signed in");
    b
}

/// The session cookie's value of a signed-in browser.
fn cookie(b: &Browser) -> String {
    b.cookies["skedcast_session"].clone()
}

/// The public handle of the session behind `raw` (a cookie value).
async fn public_id(app: &TestApp, raw: &str) -> String {
    entity::session::Entity::find_by_id(sha256_hex(raw))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("the session")
        .public_id
}

fn sha256_hex(s: &str) -> String {
    skedcast_auth::crypto::sha256_hex(s)
}

/// The audit rows of `event`: (actor, agency_id, target).
async fn audit_rows(app: &TestApp, event: &str) -> Vec<(String, String, String)> {
    entity::audit_event::Entity::find()
        .filter(entity::audit_event::Column::Event.eq(event))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.actor.unwrap_or_default(),
                r.agency_id.unwrap_or_default(),
                r.target.unwrap_or_default(),
            )
        })
        .collect()
}

fn assert_no_secret(stored: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!stored.contains(s), "a secret in the audit trail: {s}");
    }
}

async fn agency_id(app: &TestApp) -> String {
    skedcast_auth::accounts::find_agency(&app.state.db, "Acme")
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn revoking_a_connected_app_ends_its_tokens_and_its_consent() {
    let mut f = setup("editor", "agency:read posts:read").await;
    let rs = resource_server(&f.app);
    let code = f.code("agency:read posts:read").await;
    let tokens = ok_json(f.redeem(&code).await).await;
    let at = tokens["access_token"].as_str().unwrap().to_string();
    let rt = tokens["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(introspect(&f.app, &rs, &at).await["active"], true);

    // The page: the app, its host, agency, scopes in words, first and last use.
    let page = text(&mut f.b, "/settings/apps").await;
    assert!(page.contains("Calendar Agent"), "{page}");
    assert!(
        page.contains(r#"<span class="host">127.0.0.1</span>"#),
        "{page}"
    );
    assert!(page.contains("<strong>Acme</strong>"), "{page}");
    assert!(page.contains("See posts and schedules"), "{page}");
    assert!(page.contains("First used ") && page.contains("last used "));
    assert!(page.contains(&format!(r#"data-client-id="{}""#, f.client_id)));
    assert!(
        page.contains("/settings/security"),
        "links the security page"
    );

    // Without the CSRF token: 403, and nothing changes.
    let form = form_with(&page, r#"value="revoke""#, &[]);
    let resp = f.b.post_form("/settings/apps", &without_csrf(&form)).await;
    assert_eq!(resp.status(), 403);
    let rotated = ok_json(f.refresh(&rt).await).await;
    let rt = rotated["refresh_token"].as_str().unwrap().to_string();
    let at2 = rotated["access_token"].as_str().unwrap().to_string();

    // Revoke.
    let resp = f.b.post_form("/settings/apps", &form).await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(page.contains("Calendar Agent is disconnected"), "{page}");
    assert!(page.contains(r#"id="no-apps""#), "{page}");
    let (status, err) = error_code(f.refresh(&rt).await).await;
    assert_eq!((status.as_u16(), err.as_str()), (400, "invalid_grant"));
    for token in [&at, &at2] {
        assert_eq!(introspect(&f.app, &rs, token).await, inactive());
    }
    // Revoking again: nothing left.
    let resp = f.b.post_form("/settings/apps", &form).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("not connected"));

    // The consent is forgotten: the next authorization asks again.
    let resp =
        f.b.get(&authorize_url(&f.client_id, &[("scope", "agency:read")]))
            .await;
    assert_eq!(resp.status(), 200, "the consent page: {}", location(&resp));
    assert!(resp.text().await.unwrap().contains(r#"value="allow""#));

    let agency = agency_id(&f.app).await;
    assert_eq!(
        audit_rows(&f.app, "consent.revoked").await,
        [(f.user_id.clone(), agency, f.client_id.clone())]
    );
    assert_no_secret(
        &audit_text(&f.app).await,
        &[&at, &at2, &rt, &code, PASSWORD],
    );
}

#[tokio::test]
async fn a_code_issued_before_the_revocation_is_not_redeemed_after_it() {
    let mut f = setup("editor", "agency:read").await;
    let code = f.code("agency:read").await;
    let page = text(&mut f.b, "/settings/apps").await;
    let form = form_with(&page, r#"value="revoke""#, &[]);
    assert_eq!(f.b.post_form("/settings/apps", &form).await.status(), 200);
    let (_, err) = error_code(f.redeem(&code).await).await;
    assert_eq!(err, "invalid_grant");
}

#[tokio::test]
async fn the_apps_page_needs_a_session_and_a_well_formed_form() {
    let mut f = setup("editor", "agency:read").await;
    let mut stranger = Browser::new(&f.app);
    let resp = stranger.get("/settings/apps").await;
    assert_eq!(resp.status(), 302);
    assert!(location(&resp).starts_with("/login?next=%2Fsettings%2Fapps"));

    let page = text(&mut f.b, "/settings/apps").await;
    let csrf = form_with(&page, r#"value="revoke""#, &[])
        .into_iter()
        .find(|(k, _)| k == "csrf_token")
        .unwrap();
    for (form, status) in [
        (vec![csrf.clone()], 400),
        (
            vec![
                csrf.clone(),
                ("action".into(), "revoke".into()),
                ("client_id".into(), f.client_id.clone()),
            ],
            400,
        ),
        (
            vec![
                csrf.clone(),
                ("action".into(), "revoke".into()),
                ("client_id".into(), "someone-else".into()),
                ("agency".into(), "nowhere".into()),
            ],
            400,
        ),
    ] {
        let resp = f.b.post_form("/settings/apps", &form).await;
        assert_eq!(resp.status(), status, "{form:?}");
    }
    // Another member's grant is not this member's to revoke: Bob posts
    // Ann's form with his own token.
    member(&f.app, "bob@example.com", "Acme", "editor").await;
    let mut bob = Browser::new(&f.app);
    let resp = bob.sign_in("bob@example.com", PASSWORD, None).await;
    assert_eq!(resp.status(), 303);
    let bob_page = text(&mut bob, "/settings/apps").await;
    assert!(bob_page.contains(r#"id="no-apps""#), "bob has none");
    let bob_sec = text(&mut bob, "/settings/security").await;
    let bob_csrf = form_with(&bob_sec, r#"value="name""#, &[])
        .into_iter()
        .find(|(k, _)| k == "csrf_token")
        .unwrap();
    let mut forged = without_csrf(&form_with(&page, r#"value="revoke""#, &[]));
    forged.push(bob_csrf);
    let resp = bob.post_form("/settings/apps", &forged).await;
    assert_eq!(resp.status(), 400, "bob revokes nothing of ann's");
    let page = text(&mut f.b, "/settings/apps").await;
    assert!(page.contains("Calendar Agent"), "ann's app is still there");
}

#[tokio::test]
async fn sessions_are_listed_and_signed_out_one_by_one_or_all_else() {
    let app = spawn_app().await;
    let user_id = member(&app, EMAIL, "Acme", "editor").await;
    let mut b1 = browser_signed_in(&app, Some(FIREFOX)).await;
    let mut b2 = browser_signed_in(&app, None).await;
    let mut b3 = browser_signed_in(&app, None).await;

    let page = text(&mut b1, "/settings/security").await;
    assert_eq!(page.matches(r#"<li class="session""#).count(), 3, "{page}");
    assert_eq!(page.matches("data-current").count(), 1);
    assert!(page.contains("Firefox on Linux"), "{page}");
    assert!(page.contains("Unknown browser"));
    assert!(page.contains(r#"<span class="host">127.0.0.1</span>"#));
    assert!(page.contains("/settings/apps"), "links the apps page");
    // Sessions are named by their handle only: no cookie, no hash.
    for b in [&b1, &b2, &b3] {
        let raw = cookie(b);
        assert!(!page.contains(&raw) && !page.contains(&sha256_hex(&raw)));
    }

    // One other session: not without the CSRF token, then signed out.
    let id2 = public_id(&app, &cookie(&b2)).await;
    let form = form_with(&page, &format!(r#"value="{id2}""#), &[]);
    let resp = b1
        .post_form("/settings/security", &without_csrf(&form))
        .await;
    assert_eq!(resp.status(), 403);
    assert!(signed_in(&mut b2).await);
    let resp = b1.post_form("/settings/security", &form).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("That session is signed out.")
    );
    assert!(!signed_in(&mut b2).await, "b2 is out");
    assert!(signed_in(&mut b3).await && signed_in(&mut b1).await);

    // Not this browser's own (that is Sign out), nor one already gone.
    let id1 = public_id(&app, &cookie(&b1)).await;
    for id in [&id1, &id2] {
        let mut f = form.clone();
        f.retain(|(k, _)| k != "session");
        f.push(("session".into(), id.clone()));
        let resp = b1.post_form("/settings/security", &f).await;
        assert_eq!(resp.status(), 400);
    }
    assert!(signed_in(&mut b1).await);

    // Everywhere else.
    let page = text(&mut b1, "/settings/security").await;
    let form = form_with(&page, r#"value="sessions_end_others""#, &[]);
    let resp = b1
        .post_form("/settings/security", &without_csrf(&form))
        .await;
    assert_eq!(resp.status(), 403);
    assert!(signed_in(&mut b3).await);
    let resp = b1.post_form("/settings/security", &form).await;
    assert_eq!(resp.status(), 200);
    assert!(!signed_in(&mut b3).await, "b3 is out");
    assert!(signed_in(&mut b1).await, "this browser stays");
    let page = text(&mut b1, "/settings/security").await;
    assert_eq!(page.matches(r#"<li class="session""#).count(), 1);

    let agency = agency_id(&app).await;
    assert_eq!(
        audit_rows(&app, "session.signed_out").await,
        [
            (user_id.clone(), agency.clone(), format!("session:{id2}")),
            (user_id.clone(), agency, "other_sessions".into()),
        ]
    );
    let stored = audit_text(&app).await;
    assert_no_secret(
        &stored,
        &[&cookie(&b1), &sha256_hex(&cookie(&b1)), PASSWORD],
    );
}

#[tokio::test]
async fn last_seen_is_written_at_most_once_a_minute() {
    let (app, log) = spawn_app_recording_sql(std::sync::Arc::new(fresh_db().await)).await;
    member(&app, EMAIL, "Acme", "editor").await;
    let mut b = browser_signed_in(&app, None).await;
    let touches = || {
        log.lock()
            .unwrap()
            .iter()
            .filter(|st| {
                let sql = st.to_string();
                sql.starts_with("UPDATE")
                    && sql.contains("sessions")
                    && sql.contains("last_seen_at")
            })
            .count()
    };
    for _ in 0..3 {
        assert!(signed_in(&mut b).await);
    }
    assert_eq!(touches(), 0, "seen just now: no write");
    entity::session::Entity::update_many()
        .col_expr(
            entity::session::Column::LastSeenAt,
            sea_orm::sea_query::Expr::value(skedcast_auth::clock::now() - 61),
        )
        .filter(entity::session::Column::UserId.is_not_null())
        .exec(&app.state.db)
        .await
        .unwrap();
    let before = touches();
    for _ in 0..3 {
        assert!(signed_in(&mut b).await);
    }
    assert_eq!(touches() - before, 1, "one write for three requests");
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_ends_the_other_sessions() {
    let mut f = setup("editor", "agency:read").await;
    let code = f.code("agency:read").await;
    let rt = ok_json(f.redeem(&code).await).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let app = &f.app;
    let mut other = browser_signed_in(app, None).await;
    let old_cookie = cookie(&f.b);
    let new_password = "a brand new passphrase";

    let page = text(&mut f.b, "/settings/security").await;
    let change = |current: &str, new: &str, again: &str| {
        form_with(
            &page,
            r#"value="password""#,
            &[
                ("current_password", current),
                ("new_password", new),
                ("new_password_again", again),
            ],
        )
    };
    let resp =
        f.b.post_form(
            "/settings/security",
            &without_csrf(&change(PASSWORD, new_password, new_password)),
        )
        .await;
    assert_eq!(resp.status(), 403);
    for (form, says) in [
        (
            change("wrong horse", new_password, new_password),
            "Your current password is not correct.",
        ),
        (
            change(PASSWORD, new_password, "a brand new passphrasE"),
            "The two new passwords differ.",
        ),
        (
            change(PASSWORD, "too short", "too short"),
            "at least 12 characters",
        ),
        (
            change("", new_password, new_password),
            "Enter your current password.",
        ),
    ] {
        let resp = f.b.post_form("/settings/security", &form).await;
        assert_eq!(resp.status(), 400);
        let body = resp.text().await.unwrap();
        assert!(body.contains(says), "{says}: {body}");
    }
    assert!(signed_in(&mut other).await, "nothing changed yet");

    let resp =
        f.b.post_form(
            "/settings/security",
            &change(PASSWORD, new_password, new_password),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("Your password is changed")
    );
    assert_ne!(cookie(&f.b), old_cookie, "this browser got a fresh session");
    assert!(signed_in(&mut f.b).await, "and stays signed in");
    assert!(!signed_in(&mut other).await, "the other browser is out");
    let mut copied = Browser::new(app);
    copied
        .cookies
        .insert("skedcast_session".into(), old_cookie.clone());
    assert!(!signed_in(&mut copied).await, "the old cookie is dead");

    let mut b = Browser::new(app);
    assert_eq!(b.sign_in(EMAIL, PASSWORD, None).await.status(), 401);
    assert_eq!(b.sign_in(EMAIL, new_password, None).await.status(), 303);

    // Connected apps keep their access unless the member asks.
    let rt = ok_json(f.refresh(&rt).await).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let page = text(&mut f.b, "/settings/security").await;
    let newer = "an even newer passphrase";
    let form = form_with(
        &page,
        r#"value="password""#,
        &[
            ("current_password", new_password),
            ("new_password", newer),
            ("new_password_again", newer),
            ("disconnect_apps", "1"),
        ],
    );
    let resp = f.b.post_form("/settings/security", &form).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("1 connected app is disconnected")
    );
    let (_, err) = error_code(f.refresh(&rt).await).await;
    assert_eq!(err, "invalid_grant");

    let agency = agency_id(app).await;
    let rows = audit_rows(app, "password.changed").await;
    assert_eq!(
        rows,
        vec![(f.user_id.clone(), agency.clone(), f.user_id.clone()); 2]
    );
    assert_eq!(audit_rows(app, "consent.revoked").await.len(), 1);
    assert_no_secret(
        &audit_text(app).await,
        &[PASSWORD, new_password, newer, &rt, &old_cookie],
    );
    // No password in clear at rest either.
    let user = skedcast_auth::accounts::find_user(&app.state.db, &f.user_id)
        .await
        .unwrap()
        .unwrap();
    assert!(user.password_hash.unwrap().starts_with("$argon2id$"));
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled_like_sign_in() {
    let app = spawn_app().await;
    member(&app, EMAIL, "Acme", "editor").await;
    let mut b = browser_signed_in(&app, None).await;
    let page = text(&mut b, "/settings/security").await;
    let form = form_with(
        &page,
        r#"value="password""#,
        &[
            ("current_password", "a wrong guess"),
            ("new_password", "a brand new passphrase"),
            ("new_password_again", "a brand new passphrase"),
        ],
    );
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            b.post_form("/settings/security", &form)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        statuses,
        [400, 400, 400, 400, 400, 429],
        "login.max_failures = 5"
    );
}

/// The TOTP code of `secret` (base32) for the step `steps_ahead` after now.
fn totp_code(secret: &str, steps_ahead: u64) -> String {
    let t = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    t.generate(now + 30 * steps_ahead).to_string()
}

/// Turn TOTP on through the page: the secret and the recovery codes.
async fn enrol(b: &mut Browser) -> (String, Vec<String>) {
    let page = text(b, "/settings/security").await;
    let resp = b
        .post_form(
            "/settings/security",
            &form_with(&page, r#"value="totp_start""#, &[]),
        )
        .await;
    let page = resp.text().await.unwrap();
    let secret = page
        .split(r#"data-totp-secret=""#)
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the secret")
        .to_string();
    let code = totp_code(&secret, 0);
    let form = form_with(&page, r#"value="totp_confirm""#, &[("otp", &code)]);
    let page = b
        .post_form("/settings/security", &form)
        .await
        .text()
        .await
        .unwrap();
    let codes: Vec<String> = page
        .split("<code data-recovery-code>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10, "{page}");
    (secret, codes)
}

async fn totp_remove(b: &mut Browser, proof: &[(&str, &str)]) -> (u16, String) {
    let page = text(b, "/settings/security").await;
    let form = form_with(&page, r#"value="totp_remove""#, proof);
    let resp = b.post_form("/settings/security", &form).await;
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn totp_on(b: &mut Browser) -> bool {
    text(b, "/settings/security")
        .await
        .contains(r#"value="totp_remove""#)
}

#[tokio::test]
async fn turning_totp_off_needs_the_password_or_a_code_and_each_change_is_audited() {
    let app = spawn_app().await;
    let user_id = member(&app, EMAIL, "Acme", "editor").await;
    let mut b = browser_signed_in(&app, None).await;
    let (secret, recovery) = enrol(&mut b).await;

    // Without CSRF: 403; without a proof, or a wrong one: 400, still on.
    let page = text(&mut b, "/settings/security").await;
    let form = form_with(
        &page,
        r#"value="totp_remove""#,
        &[("current_password", PASSWORD)],
    );
    let resp = b
        .post_form("/settings/security", &without_csrf(&form))
        .await;
    assert_eq!(resp.status(), 403);
    for (proof, says) in [
        (vec![], "Enter your current password, or a code"),
        (vec![("current_password", "wrong horse")], "not correct"),
        (vec![("otp", "000000")], "does not match"),
    ] {
        let (status, body) = totp_remove(&mut b, &proof).await;
        assert_eq!(status, 400, "{proof:?}");
        assert!(body.contains(says), "{says}: {body}");
        assert!(totp_on(&mut b).await);
    }
    // A code from the app turns it off.
    let (status, body) = totp_remove(&mut b, &[("otp", &totp_code(&secret, 1))]).await;
    assert_eq!(status, 200, "{body}");
    assert!(!totp_on(&mut b).await);

    // On again; the password turns it off too.
    let (secret2, recovery2) = enrol(&mut b).await;
    let (status, _) = totp_remove(&mut b, &[("current_password", PASSWORD)]).await;
    assert_eq!(status, 200);
    assert!(!totp_on(&mut b).await);

    // On again; a recovery code signs in (audited), the CLI removes it.
    let (secret3, recovery3) = enrol(&mut b).await;
    let mut b2 = Browser::new(&app);
    let resp = b2.sign_in(EMAIL, PASSWORD, None).await;
    let page = resp.text().await.unwrap();
    let mut form = hidden_fields(&page);
    form.push(("otp".into(), recovery3[0].clone()));
    assert_eq!(b2.post_form("/login", &form).await.status(), 303);
    let out = app.cli(&["user", "reset-mfa", "--email", EMAIL]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let agency = agency_id(&app).await;
    let mine = |n: usize| vec![(user_id.clone(), agency.clone(), user_id.clone()); n];
    assert_eq!(audit_rows(&app, "mfa.totp_enabled").await, mine(3));
    assert_eq!(audit_rows(&app, "mfa.recovery_code_used").await, mine(1));
    let mut removed = mine(2);
    removed.push(("cli".into(), agency.clone(), user_id.clone()));
    assert_eq!(audit_rows(&app, "mfa.totp_removed").await, removed);

    let stored = audit_text(&app).await;
    let mut secrets: Vec<&str> = vec![PASSWORD, &secret, &secret2, &secret3];
    secrets.extend(
        recovery
            .iter()
            .chain(&recovery2)
            .chain(&recovery3)
            .map(String::as_str),
    );
    assert_no_secret(&stored, &secrets);
}

/// The migration: sessions signed in before the upgrade get a handle of
/// their own (distinct, not empty), are listed, and can be signed out.
#[tokio::test]
async fn sessions_from_before_the_upgrade_get_a_handle() {
    use migration::MigratorTrait;
    let db = std::sync::Arc::new(fresh_db().await);
    let old = spawn_app_with(db.clone(), &[]).await;
    member(&old, EMAIL, "Acme", "editor").await;
    let b1 = browser_signed_in(&old, None).await;
    let b2 = browser_signed_in(&old, None).await;
    // Back to the schema before this migration (and any after it).
    let all = migration::Migrator::migrations();
    let ours = all
        .iter()
        .position(|m| m.name() == "m20261203_accounts_001_session_details")
        .expect("the migration is registered");
    migration::Migrator::down(&old.state.db, Some((all.len() - ours) as u32))
        .await
        .unwrap();

    let new = spawn_app_with(db.clone(), &[]).await;
    let rows = entity::session::Entity::find()
        .all(&new.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.public_id.len() >= 32), "{rows:?}");
    assert_ne!(rows[0].public_id, rows[1].public_id);
    let mut b1 = Browser {
        cookies: b1.cookies.clone(),
        ..Browser::new(&new)
    };
    let mut b2 = Browser {
        cookies: b2.cookies.clone(),
        ..Browser::new(&new)
    };
    let page = text(&mut b1, "/settings/security").await;
    assert_eq!(page.matches(r#"<li class="session""#).count(), 2, "{page}");
    let id2 = public_id(&new, &cookie(&b2)).await;
    let form = form_with(&page, &format!(r#"value="{id2}""#), &[]);
    assert_eq!(
        b1.post_form("/settings/security", &form).await.status(),
        200
    );
    assert!(!signed_in(&mut b2).await);
    assert!(signed_in(&mut b1).await);
}
