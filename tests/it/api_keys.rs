//! API keys: the CLI, the developer page through real forms, storage.

use crate::support::browser::*;
use crate::support::*;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};

fn cli_out(db: &str, args: &[&str]) -> (bool, String, String) {
    let out = cli(db, args, &[]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

/// Every text value stored in the api_keys table, to look for secrets.
async fn stored_text(app: &TestApp) -> String {
    let rows = app
        .state
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT id, user_id, agency_id, name, prefix, secret_hash, COALESCE(previous_secret_hash, '') AS p, scope FROM api_keys",
        ))
        .await
        .unwrap();
    let mut all = String::new();
    for r in rows {
        for c in [
            "id",
            "user_id",
            "agency_id",
            "name",
            "prefix",
            "secret_hash",
            "p",
            "scope",
        ] {
            all.push_str(&r.try_get::<String>("", c).unwrap());
            all.push('|');
        }
    }
    all
}

#[tokio::test]
async fn cli_creates_keys_within_the_role_and_prints_the_secret_alone() {
    let app = spawn_app().await;
    member(&app, "owner@example.com", "Acme", "owner").await;
    member(&app, "mgr@example.com", "Acme", "manager").await;
    member(&app, "ed@example.com", "Acme", "editor").await;
    let db = app.db.url.clone();

    let (ok, out, err) = cli_out(
        &db,
        &[
            "api-key",
            "create",
            "--email",
            "owner@example.com",
            "--agency",
            "Acme",
            "--name",
            "CI",
            "--scopes",
            "agency:read posts:write",
            "--expires-in-days",
            "30",
        ],
    );
    assert!(ok, "{err}");
    let secret = out.trim_end_matches('\n');
    assert_eq!(out.lines().count(), 1, "the secret alone on stdout");
    assert!(
        secret.starts_with("sked_live_") && secret.len() == 46,
        "{secret}"
    );
    assert!(skedcast_auth::api_keys::format::is_well_formed(secret));
    assert!(
        !err.contains(secret),
        "the secret is not repeated on stderr"
    );

    // Only hashes at rest: the plaintext appears nowhere in the table.
    let stored = stored_text(&app).await;
    assert!(
        !stored.contains(&secret["sked_live_".len()..]),
        "no plaintext stored"
    );
    assert!(stored.contains(&skedcast_auth::crypto::sha256_hex(secret)));

    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--email",
                "ed@example.com",
                "--scopes",
                "agency:read",
                "--expires-in-days",
                "30",
            ],
            "only owners and managers",
        ),
        (
            &[
                "--email",
                "mgr@example.com",
                "--scopes",
                "agency:read billing:write",
                "--expires-in-days",
                "30",
            ],
            "billing:write",
        ),
        (
            &[
                "--email",
                "owner@example.com",
                "--scopes",
                "agency:read",
                "--expires-in-days",
                "366",
            ],
            "between 1 and 365",
        ),
        (
            &[
                "--email",
                "owner@example.com",
                "--scopes",
                "agency:read",
                "--expires-in-days",
                "0",
            ],
            "between 1 and 365",
        ),
        (
            &[
                "--email",
                "owner@example.com",
                "--scopes",
                "agency:read nope:nope",
                "--expires-in-days",
                "5",
            ],
            "unknown scope",
        ),
        (
            &[
                "--email",
                "nobody@example.com",
                "--scopes",
                "agency:read",
                "--expires-in-days",
                "5",
            ],
            "no account",
        ),
    ];
    for (args, want) in cases {
        let mut full = vec!["api-key", "create", "--agency", "Acme", "--name", "x"];
        full.extend_from_slice(args);
        let (ok, out, err) = cli_out(&db, &full);
        assert!(!ok, "{args:?} must fail");
        assert!(out.is_empty());
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let count = entity::api_key::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(count, 1, "refused requests stored nothing");

    // Revoke by id.
    let key = entity::api_key::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let (ok, _, err) = cli_out(&db, &["api-key", "revoke", "--id", &key.id]);
    assert!(ok, "{err}");
    let key = entity::api_key::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(key.revoked_at.is_some());
    let (ok, _, err) = cli_out(&db, &["api-key", "revoke", "--id", "no-such-key"]);
    assert!(!ok && err.contains("no API key"), "{err}");
}

fn form_with(html: &str, marker: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    // The hidden fields of the form that contains `marker`.
    let start = html.find(marker).expect("marker");
    let form_start = html[..start].rfind("<form").unwrap();
    let form_end = start + html[start..].find("</form>").unwrap();
    let mut f = hidden_fields(&html[form_start..form_end]);
    for (k, v) in extra {
        f.push((k.to_string(), v.to_string()));
    }
    f
}

#[tokio::test]
async fn the_developer_page_creates_rotates_and_revokes_through_real_forms() {
    let app = spawn_app().await;
    member(&app, "owner@example.com", "Acme", "owner").await;
    let mut b = Browser::new(&app);

    // Signed out: to the sign-in page and back.
    let resp = b.get("/settings/developer").await;
    assert_eq!(resp.status(), 302);
    assert!(location(&resp).starts_with("/login?next=%2Fsettings%2Fdeveloper"));
    let signed = b
        .sign_in("owner@example.com", PASSWORD, Some("/settings/developer"))
        .await;
    assert_eq!(location(&signed), "/settings/developer");

    let page = b.get("/settings/developer").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(html.contains("No API keys yet."));
    assert!(
        html.contains(r#"value="billing:write""#),
        "owner may grant billing:write"
    );

    // Without the CSRF token: 403, nothing created.
    let mut no_csrf: Vec<(String, String)> = form_with(
        &html,
        r#"value="create""#,
        &[
            ("name", "Script"),
            ("scope", "agency:read"),
            ("expires_in_days", "30"),
        ],
    )
    .into_iter()
    .filter(|(k, _)| k != "csrf_token")
    .collect();
    assert_eq!(
        b.post_form("/settings/developer", &no_csrf).await.status(),
        403
    );
    no_csrf.push(("csrf_token".into(), "forged".into()));
    assert_eq!(
        b.post_form("/settings/developer", &no_csrf).await.status(),
        403
    );
    assert_eq!(
        entity::api_key::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );

    // Create: the secret is shown once.
    let form = form_with(
        &html,
        r#"value="create""#,
        &[
            ("name", "Reporting"),
            ("scope", "agency:read"),
            ("scope", "posts:read"),
            ("expires_in_days", "90"),
        ],
    );
    let created = b.post_form("/settings/developer", &form).await;
    assert_eq!(created.status(), 200);
    let html = created.text().await.unwrap();
    assert!(html.contains("it will not be shown again"));
    let secret = html
        .split("value=\"sked_live_")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let secret = format!("sked_live_{secret}");
    assert!(skedcast_auth::api_keys::format::is_well_formed(&secret));
    let listed = b.get("/settings/developer").await.text().await.unwrap();
    assert!(!listed.contains(&secret), "never shown again");
    assert!(listed.contains(&secret[..18]), "the prefix is listed");
    assert!(listed.contains("agency:read posts:read") && listed.contains("last used never"));

    // A scope beyond the role is refused with its name; a year and a day too.
    let form = form_with(
        &listed,
        r#"value="create""#,
        &[
            ("name", "Too long"),
            ("scope", "agency:read"),
            ("expires_in_days", "366"),
        ],
    );
    let resp = b.post_form("/settings/developer", &form).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("between 1 and 365"));

    // Rotate with a grace period: a new secret, shown once.
    let form = form_with(&listed, r#"value="rotate""#, &[("action", "rotate")]);
    let mut form: Vec<(String, String)> = form
        .into_iter()
        .filter(|(k, _)| k != "grace_days")
        .collect();
    form.push(("grace_days".into(), "1".into()));
    let rotated = b
        .post_form("/settings/developer", &form)
        .await
        .text()
        .await
        .unwrap();
    let new_secret = format!(
        "sked_live_{}",
        rotated
            .split("value=\"sked_live_")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
    );
    assert_ne!(new_secret, secret);
    let key = entity::api_key::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        key.secret_hash,
        skedcast_auth::crypto::sha256_hex(&new_secret)
    );
    assert_eq!(
        key.previous_secret_hash.as_deref(),
        Some(skedcast_auth::crypto::sha256_hex(&secret).as_str())
    );
    assert!(key.previous_valid_until.unwrap() > skedcast_auth::clock::now() + 86_000);

    // Revoke.
    let listed = b.get("/settings/developer").await.text().await.unwrap();
    let form = form_with(
        &listed,
        r#"value="revoke""#,
        &[("action", "revoke"), ("grace_days", "0")],
    );
    let revoked = b
        .post_form("/settings/developer", &form)
        .await
        .text()
        .await
        .unwrap();
    assert!(revoked.contains("revoked"));
    let key = entity::api_key::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(key.revoked_at.is_some());
}

#[tokio::test]
async fn editors_and_viewers_get_a_page_that_explains_why() {
    let app = spawn_app().await;
    member(&app, "ed@example.com", "Acme", "editor").await;
    let mut b = Browser::new(&app);
    b.sign_in("ed@example.com", PASSWORD, None).await;
    let resp = b.get("/settings/developer").await;
    assert_eq!(resp.status(), 403);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Only owners and managers can create API keys"));
    assert!(html.contains("Your role in Acme is editor"));
    assert!(!html.contains("Create key"));
}
