//! The audit trail (issue 17 item 5): a row for each recorded action done
//! through its real HTTP or CLI path, no secret in any column, `audit
//! export` and its filters, the owners' page, and pruning by retention.

use entity::audit_event::{Column, Entity, Model};
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use skedcast_auth::audit::{self, At, Event};

use crate::support::audit::audit_text;
use crate::support::browser::*;
use crate::support::flow::*;
use crate::support::*;

async fn events(app: &TestApp) -> Vec<Model> {
    Entity::find()
        .order_by_asc(Column::Id)
        .all(&app.state.db)
        .await
        .unwrap()
}

fn ok_cli(app: &TestApp, args: &[&str]) -> String {
    let out = app.cli(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The hidden fields of the form containing `marker`, plus `extra`.
fn form_with(html: &str, marker: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let start = html.find(marker).expect("marker");
    let form_start = html[..start].rfind("<form").unwrap();
    let form_end = start + html[start..].find("</form>").unwrap();
    let mut f = hidden_fields(&html[form_start..form_end]);
    for (k, v) in extra {
        f.push((k.to_string(), v.to_string()));
    }
    f
}

fn shown_api_key(html: &str) -> String {
    let rest = html.split("value=\"sked_live_").nth(1).expect("a new key");
    format!("sked_live_{}", rest.split('"').next().unwrap())
}

#[tokio::test]
async fn every_recorded_action_leaves_its_row_and_no_secret() {
    // Sign-in, consent and code through the real forms.
    let mut f = setup("owner", "agency:read posts:read").await;
    let user_id = f.user_id.clone();
    let agency_id = skedcast_auth::accounts::find_agency(&f.app.state.db, "Acme")
        .await
        .unwrap()
        .unwrap()
        .id;
    let mut secrets: Vec<String> = vec![PASSWORD.into(), "wrong horse".into()];

    // Failed sign-ins: a known email is written, an unknown one is not.
    let mut other = Browser::new(&f.app);
    let resp = other.sign_in("ann@example.com", "wrong horse", None).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = other
        .sign_in("nobody@example.com", "wrong horse", None)
        .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Refresh-token reuse.
    let code = f.code("agency:read posts:read").await;
    let first = ok_json(f.redeem(&code).await).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_string();
    let second = ok_json(f.refresh(&rt1).await).await;
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    let (_, err) = error_code(f.refresh(&rt1).await).await;
    assert_eq!(err, "invalid_grant");
    secrets.extend([
        rt1,
        rt2,
        first["access_token"].as_str().unwrap().into(),
        code,
    ]);

    // A confidential client: registered (RFC 7591), consented to, updated
    // in what members saw (RFC 7592: consent revoked), deleted.
    let app = &f.app;
    let reg = app
        .client
        .post(app.url("/oauth/register"))
        .json(&json!({
            "client_name": "Reports",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.status(), StatusCode::CREATED);
    let info: Value = reg.json().await.unwrap();
    let conf_id = info["client_id"].as_str().unwrap().to_string();
    let client_secret = info["client_secret"].as_str().unwrap().to_string();
    let rat = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let resp = authorize_with_consent(app, &mut f.b, &conf_id, "ann@example.com", &[]).await;
    assert!(location_params(&resp).contains_key("code"));
    let put = app
        .client
        .put(app.url(&format!("/oauth/register/{conf_id}")))
        .header(AUTHORIZATION, format!("Bearer {rat}"))
        .json(&json!({
            "client_id": conf_id,
            "client_secret": client_secret,
            "client_name": "Reports 2",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let rat2 = put.json::<Value>().await.unwrap()["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let del = app
        .client
        .delete(app.url(&format!("/oauth/register/{conf_id}")))
        .header(AUTHORIZATION, format!("Bearer {rat2}"))
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::NO_CONTENT);
    secrets.extend([client_secret, rat, rat2]);

    // API keys: created and rotated on the developer page, revoked by the CLI.
    let html = f.b.get("/settings/developer").await.text().await.unwrap();
    let form = form_with(
        &html,
        r#"value="create""#,
        &[
            ("name", "Reporting"),
            ("scope", "agency:read"),
            ("expires_in_days", "30"),
        ],
    );
    let created = f.b.post_form("/settings/developer", &form).await;
    assert_eq!(created.status(), 200);
    secrets.push(shown_api_key(&created.text().await.unwrap()));
    let listed = f.b.get("/settings/developer").await.text().await.unwrap();
    let form = form_with(
        &listed,
        r#"value="rotate""#,
        &[("action", "rotate"), ("grace_days", "0")],
    );
    let rotated = f.b.post_form("/settings/developer", &form).await;
    assert_eq!(rotated.status(), 200);
    secrets.push(shown_api_key(&rotated.text().await.unwrap()));
    let key_id = entity::api_key::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    ok_cli(app, &["api-key", "revoke", "--id", &key_id]);

    // Signing keys, a role change and a machine client from the CLI.
    let kid = ok_cli(app, &["signing-key", "rotate"]).trim().to_string();
    ok_cli(app, &["signing-key", "revoke", "--kid", &kid]);
    let bob = member(app, "bob@example.com", "Acme", "viewer").await;
    ok_cli(
        app,
        &[
            "member",
            "set-role",
            "--email",
            "bob@example.com",
            "--agency",
            "Acme",
            "--role",
            "editor",
        ],
    );
    let machine = ok_cli(
        app,
        &[
            "client",
            "create",
            "--name",
            "Sync",
            "--grant",
            "client_credentials",
            "--scopes",
            "agency:read",
        ],
    );
    let mut lines = machine.lines();
    let machine_id = lines.next().unwrap().to_string();
    secrets.push(lines.next().unwrap().to_string());

    // One row per action, with who, where, what and how it ended.
    let all = events(app).await;
    let one = |event: &str, outcome: &str| {
        let rows: Vec<&Model> = all
            .iter()
            .filter(|e| e.event == event && e.outcome == outcome)
            .collect();
        assert!(!rows.is_empty(), "no {event}/{outcome} in {all:#?}");
        rows
    };
    let ok = one("sign_in", "success");
    assert!(
        ok.iter()
            .all(|e| e.actor.as_deref() == Some(user_id.as_str())
                && e.agency_id.as_deref() == Some(agency_id.as_str()))
    );
    assert_eq!(ok[0].ip.as_deref(), Some("127.0.0.1"));
    let failed = one("sign_in", "failure");
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].target.as_deref(), Some("ann@example.com"));
    assert_eq!(failed[0].actor.as_deref(), Some(user_id.as_str()));
    assert_eq!(failed[0].agency_id.as_deref(), Some(agency_id.as_str()));
    assert_eq!(
        (failed[1].actor.as_deref(), failed[1].target.as_deref()),
        (None, None)
    );
    assert!(!audit_text(app).await.contains("nobody@example.com"));

    let granted = one("consent.granted", "success");
    assert!(
        granted
            .iter()
            .any(|e| e.target.as_deref() == Some(f.client_id.as_str())
                && e.agency_id.as_deref() == Some(agency_id.as_str()))
    );
    assert!(
        granted
            .iter()
            .any(|e| e.target.as_deref() == Some(conf_id.as_str()))
    );
    let revoked = one("consent.revoked", "success");
    assert_eq!(
        (
            revoked[0].target.as_deref(),
            revoked[0].agency_id.as_deref()
        ),
        (Some(conf_id.as_str()), Some(agency_id.as_str()))
    );
    for event in ["client.registered", "client.updated", "client.deleted"] {
        assert!(
            one(event, "success")
                .iter()
                .any(|e| e.target.as_deref() == Some(conf_id.as_str())
                    && e.ip.as_deref() == Some("127.0.0.1")),
            "{event}"
        );
    }
    assert!(
        one("client.registered", "success")
            .iter()
            .any(|e| e.target.as_deref() == Some(machine_id.as_str())
                && e.actor.as_deref() == Some("cli"))
    );
    let reuse = one("refresh_token.reuse_detected", "family_revoked");
    let family = entity::refresh_family::Entity::find()
        .filter(entity::refresh_family::Column::ClientId.eq(&f.client_id))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(family.revoked_at.is_some());
    assert!(reuse[0].target.as_deref().unwrap().contains(&family.id));
    assert_eq!(reuse[0].agency_id.as_deref(), Some(agency_id.as_str()));
    for event in ["api_key.created", "api_key.rotated", "api_key.revoked"] {
        let row = one(event, "success")[0];
        assert_eq!(row.target.as_deref(), Some(key_id.as_str()), "{event}");
        assert_eq!(
            row.agency_id.as_deref(),
            Some(agency_id.as_str()),
            "{event}"
        );
    }
    assert_eq!(
        one("api_key.rotated", "success")[0].actor.as_deref(),
        Some(user_id.as_str())
    );
    assert_eq!(
        one("api_key.revoked", "success")[0].actor.as_deref(),
        Some("cli")
    );
    assert_eq!(
        one("signing_key.rotated", "success")[0].target.as_deref(),
        Some(kid.as_str())
    );
    assert_eq!(
        one("signing_key.revoked", "success")[0].target.as_deref(),
        Some(kid.as_str())
    );
    let roles = one("member.role_changed", "success");
    assert!(roles.iter().any(
        |e| e.target.as_deref() == Some(&*format!("user:{bob} role:editor"))
            && e.agency_id.as_deref() == Some(agency_id.as_str())
    ));

    // No secret in any column.
    let text = audit_text(app).await;
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret is in the audit table: {s}"
        );
    }
}

/// Seed `n` events of `agency` at `ts`, `ts + 1`, ...
async fn seed(app: &TestApp, agency: &str, ts: i64, n: i64) {
    for i in 0..n {
        let event = Event::ApiKeyCreated {
            actor: "u",
            agency_id: agency,
            key_id: &format!("key-{i}"),
        };
        audit::record(&app.state.db, At::no_ip(ts + i), event)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn export_prints_json_lines_filtered_by_time_and_agency() {
    let app = spawn_app().await;
    let acme = skedcast_auth::accounts::create_agency(&app.state.db, "Acme")
        .await
        .unwrap()
        .id;
    let globex = skedcast_auth::accounts::create_agency(&app.state.db, "Globex")
        .await
        .unwrap()
        .id;
    let day = 86_400;
    let t0 = 1_796_000_000; // 2026-11-29T...
    seed(&app, &acme, t0, 2).await;
    seed(&app, &globex, t0 + day, 3).await;
    seed(&app, &acme, t0 + 2 * day, 1).await;

    let lines = |args: &[&str]| -> Vec<Value> {
        let mut argv = vec!["audit", "export"];
        argv.extend_from_slice(args);
        ok_cli(&app, &argv)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let all = lines(&[]);
    assert_eq!(all.len(), 6);
    let first = all[0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "actor",
            "agency_id",
            "event",
            "ip",
            "outcome",
            "target",
            "ts"
        ]
    );
    assert_eq!(first["ts"], audit::rfc3339(t0));
    assert_eq!(first["event"], "api_key.created");

    let acme_only = lines(&["--agency", "Acme"]);
    assert_eq!(acme_only.len(), 3);
    assert!(acme_only.iter().all(|e| e["agency_id"] == acme.as_str()));
    assert_eq!(lines(&["--agency", &globex]).len(), 3, "by id too");

    let since = audit::rfc3339(t0 + day);
    assert_eq!(lines(&["--since", &since]).len(), 4);
    assert_eq!(lines(&["--since", &since, "--agency", "Acme"]).len(), 1);

    for (args, want) in [
        (&["--since", "yesterday"][..], "RFC 3339"),
        (&["--agency", "Initech"][..], "Initech"),
    ] {
        let mut argv = vec!["audit", "export"];
        argv.extend_from_slice(args);
        let out = app.cli(&argv);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn the_audit_page_shows_owners_their_agency_newest_first_in_pages() {
    let app = spawn_app().await;
    member(&app, "owner@example.com", "Acme", "owner").await;
    member(&app, "ed@example.com", "Acme", "editor").await;
    member(&app, "other@example.com", "Globex", "owner").await;
    let acme = skedcast_auth::accounts::find_agency(&app.state.db, "Acme")
        .await
        .unwrap()
        .unwrap()
        .id;
    let globex = skedcast_auth::accounts::find_agency(&app.state.db, "Globex")
        .await
        .unwrap()
        .unwrap()
        .id;
    // 60 key events in Acme after its two role events, 1 in Globex.
    let t0 = skedcast_auth::clock::now() + 1000;
    seed(&app, &acme, t0, 60).await;
    seed(&app, &globex, t0, 1).await;

    // Signed out: to the sign-in page and back.
    let mut b = Browser::new(&app);
    let resp = b.get("/settings/audit").await;
    assert_eq!(resp.status(), 302);
    assert!(location(&resp).starts_with("/login?next=%2Fsettings%2Faudit"));

    // A member who is not an owner: 403, also when naming the agency.
    let mut ed = Browser::new(&app);
    ed.sign_in("ed@example.com", PASSWORD, None).await;
    assert_eq!(ed.get("/settings/audit").await.status(), 403);
    let resp = ed.get(&format!("/settings/audit?agency={acme}")).await;
    assert_eq!(resp.status(), 403);
    assert!(!resp.text().await.unwrap().contains("key-59"));

    // The owner: newest first, 50 a page, then the rest.
    b.sign_in("owner@example.com", PASSWORD, None).await;
    let resp = b.get("/settings/audit").await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    let rows = html.matches("<tr data-event=").count();
    assert_eq!(rows, 50);
    let newest = html.find("key-59").unwrap();
    assert!(newest < html.find("key-58").unwrap());
    assert!(
        !html.contains("key-9<"),
        "older events are on the next page"
    );
    assert!(html.contains(&format!("/settings/audit?agency={acme}&amp;page=1")));
    assert!(!html.contains("rel=\"prev\""));
    // Another agency's events never show.
    assert!(!html.contains(&globex));
    let next = b
        .get(&format!("/settings/audit?agency={acme}&page=1"))
        .await;
    let html = next.text().await.unwrap();
    // 10 older key events, the two role changes and the two members'
    // sign-ins (recorded for each agency of the member).
    assert!(html.contains("key-9<") && html.contains("key-0<"));
    assert!(html.contains("member.role_changed"));
    assert_eq!(html.matches(r#"<tr data-event="sign_in">"#).count(), 2);
    assert!(html.contains("rel=\"prev\"") && !html.contains("rel=\"next\""));
    assert_eq!(html.matches("<tr data-event=").count(), 14);
    // Past the end: an empty page, not an error.
    let far = b.get("/settings/audit?page=18446744073709551615").await;
    assert_eq!(far.status(), 200);
    assert!(far.text().await.unwrap().contains("No events."));
    // An owner of another agency cannot ask for Acme's.
    let mut other = Browser::new(&app);
    other.sign_in("other@example.com", PASSWORD, None).await;
    assert_eq!(
        other
            .get(&format!("/settings/audit?agency={acme}"))
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn housekeeping_prunes_events_past_the_retention() {
    let db = std::sync::Arc::new(fresh_db().await);
    let app = spawn_app_with(db, &[("SKEDCAST__AUDIT__RETENTION_DAYS", "30")]).await;
    let now = skedcast_auth::clock::now();
    let day = 86_400;
    // 2.5 batches past the retention, and a few within it.
    seed(&app, "a", now - 31 * day, 2_500).await;
    seed(&app, "a", now - 29 * day, 3).await;
    skedcast_auth::maintenance::run_once(&app.state, now).await;
    let left = events(&app).await;
    assert_eq!(left.len(), 3);
    assert!(left.iter().all(|e| e.ts >= now - 30 * day));
}
