//! The request-path queries use indexes (issue 19 item 2). The app runs the
//! main flows while every SQL statement it issues is recorded; each one is
//! then explained on the same database with its own parameters (SQLite
//! `EXPLAIN QUERY PLAN`; Postgres `EXPLAIN (FORMAT JSON)` with sequential
//! scans, merge and hash joins off, so a sequential scan or an index read
//! without a condition left in the plan means no index could serve it). A full scan of a table that grows with use fails.
//! Housekeeping's statements are checked too: they run beside requests.

use std::collections::BTreeSet;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};
use serde_json::{Value, json};

use crate::support::browser::*;
use crate::support::flow::{self, ok_json, resource_server};
use crate::support::token::*;
use crate::support::*;

/// Tables a request may read whole: a handful of rows whatever the traffic
/// (the keys the rotation schedule keeps).
const SMALL_TABLES: &[&str] = &["signing_keys"];

#[tokio::test]
async fn request_path_queries_use_indexes() {
    let db = Arc::new(fresh_db().await);
    let (app, log) = spawn_app_recording_sql(db).await;
    let rs = resource_server(&app);

    // Sign-in, consent, code exchange; remembered consent; refresh;
    // introspection and revocation.
    let mut f = flow::setup_on(app, "owner", "agency:read offline_access").await;
    let code = f.code("agency:read offline_access").await;
    let t = ok_json(f.redeem(&code).await).await;
    let code = f.code("agency:read offline_access").await;
    let t2 = ok_json(f.redeem(&code).await).await;
    let rotated = ok_json(f.refresh(t["refresh_token"].as_str().unwrap()).await).await;
    // A replayed refresh token ends its family.
    let _ = f.refresh(t["refresh_token"].as_str().unwrap()).await;
    let app = &f.app;
    for token in [
        rotated["access_token"].as_str().unwrap(),
        t2["refresh_token"].as_str().unwrap(),
    ] {
        let resp = post_form(
            app,
            "/oauth/introspect",
            Some(&basic(&rs.0, &rs.1)),
            &[("token", token)],
        )
        .await;
        assert_eq!(resp.status(), 200);
    }
    let resp = post_form(
        app,
        "/oauth/revoke",
        None,
        &[
            ("token", t2["refresh_token"].as_str().unwrap()),
            ("client_id", &f.client_id),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);

    // client_credentials.
    let c = cc_client(app, "client_secret_basic", "agency:read").await;
    let _ = access_token(app, &c, &[]).await;

    // An API key at introspection.
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
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let resp = post_form(
        app,
        "/oauth/introspect",
        Some(&basic(&rs.0, &rs.1)),
        &[("token", &key)],
    )
    .await;
    assert_eq!(ok_json(resp).await["active"], true);

    // A pushed request, used by the signed-in member.
    let pc = register(
        app,
        json!({
            "client_name": "Pusher",
            "redirect_uris": ["https://app.example/cb"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }),
    )
    .await;
    let form = url_params(&format!(
        "http://x{}",
        authorize_url(&pc.id, &[("redirect_uri", "https://app.example/cb")])
    ));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let resp = post_form(
        app,
        "/oauth/par",
        Some(&basic(&pc.id, pc.secret.as_deref().unwrap())),
        &pairs,
    )
    .await;
    assert_eq!(resp.status(), 201);
    let uri = resp.json::<Value>().await.unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_string();
    let page =
        f.b.get(&format!(
            "/oauth/authorize?client_id={}&request_uri={}",
            urlencode(&pc.id),
            urlencode(&uri)
        ))
        .await;
    assert_eq!(page.status(), 200, "the consent page");

    // The JWKS and a wrong password.
    assert_eq!(app.get("/.well-known/jwks.json").await.status(), 200);
    let mut other = Browser::new(app);
    let resp = other
        .sign_in("ann@example.com", "not the password", None)
        .await;
    assert_eq!(resp.status(), 401, "the form again");

    // The owner's audit trail, a later page too (issue 17 item 5).
    assert_eq!(f.b.get("/settings/audit").await.status(), 200);
    assert_eq!(f.b.get("/settings/audit?page=1").await.status(), 200);

    // Housekeeping, which runs beside the requests.
    skedcast_auth::maintenance::run_once(&app.state, skedcast_auth::clock::now()).await;

    assert_indexed(&app.state.db, &log, 20).await;
}

/// The request paths of the second wave (issues 14 to 18): the device
/// grant (start, pending polls, the device page, approval, redemption,
/// refresh), OpenID Connect (id_token, userinfo, refresh, RP-initiated
/// logout with and without a hint), DPoP (proofs used once, a bound
/// refresh), second factors (enrolment, a TOTP code, a recovery code, a
/// wrong code, the agency policy), the audit trail, and housekeeping.
#[tokio::test]
async fn second_wave_request_paths_use_indexes() {
    use crate::device;
    use skedcast_auth::verify::dpop::testing::ProofKey;

    let db = Arc::new(fresh_db().await);
    let (app, log) = spawn_app_recording_sql(db).await;

    // The device grant through its pages; an early poll is pending.
    let mut s = device::started(app, "owner", "agency:read offline_access").await;
    let (client_id, device_code) = (s.client_id.clone(), s.device_code().to_string());
    assert_eq!(
        device::poll_error(&s.app, &client_id, &device_code).await,
        "authorization_pending"
    );
    let (status, _) = device::answer(&mut s.b, &s.consent, "allow").await;
    assert_eq!(status, 200);
    let t = ok_json(device::poll(&s.app, &client_id, &device_code).await).await;
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id.as_str()),
        ("refresh_token", t["refresh_token"].as_str().unwrap()),
    ];
    let resp = s.app.client.post(s.app.url("/oauth/token")).form(&form);
    assert_eq!(resp.send().await.unwrap().status(), 200);
    let app = &s.app;
    let mut b = s.b;

    // OpenID Connect: a code flow with a DPoP-bound token (the code bound by
    // dpop_jkt), userinfo with a proof, a bound refresh with a new id_token.
    let oidc = public_client(
        app,
        json!({ "post_logout_redirect_uris": ["http://127.0.0.1/bye"] }),
    )
    .await;
    let oidc = oidc["client_id"].as_str().unwrap().to_string();
    let key = ProofKey::es256();
    let token_url = app.url("/oauth/token");
    let now = skedcast_auth::clock::now;
    let resp = authorize_with_consent(
        app,
        &mut b,
        &oidc,
        "ann@example.com",
        &[
            ("scope", "openid email profile agency:read offline_access"),
            ("dpop_jkt", &key.jkt()),
        ],
    )
    .await;
    let code = location_params(&resp)["code"].clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", oidc.as_str()),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", REDIRECT),
    ];
    let proof = key.proof("POST", &token_url, now(), None, None);
    let resp = app
        .client
        .post(&token_url)
        .header("DPoP", &proof)
        .form(&form);
    let t = ok_json(resp.send().await.unwrap()).await;
    assert_eq!(t["token_type"], "DPoP");
    let at = t["access_token"].as_str().unwrap();
    let info_url = app.url("/oauth/userinfo");
    let info_proof = key.proof("GET", &info_url, now(), Some(at), None);
    let resp = app
        .client
        .get(&info_url)
        .header("authorization", format!("DPoP {at}"))
        .header("DPoP", info_proof)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "userinfo");
    // The token-endpoint proof again: used before.
    let replay = app.client.post(&token_url).header("DPoP", &proof).form(&[
        ("grant_type", "refresh_token"),
        ("client_id", oidc.as_str()),
        ("refresh_token", t["refresh_token"].as_str().unwrap()),
    ]);
    assert_eq!(
        replay.send().await.unwrap().status(),
        400,
        "a replayed proof"
    );
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", oidc.as_str()),
        ("refresh_token", t["refresh_token"].as_str().unwrap()),
    ];
    let proof = key.proof("POST", &token_url, now(), None, None);
    let resp = app
        .client
        .post(&token_url)
        .header("DPoP", &proof)
        .form(&form);
    let refreshed = ok_json(resp.send().await.unwrap()).await;
    assert!(refreshed["id_token"].is_string());

    // client_credentials with a proof.
    let c = cc_client(app, "client_secret_basic", "agency:read").await;
    let resp = app
        .client
        .post(&token_url)
        .header("authorization", basic(&c.id, c.secret.as_deref().unwrap()))
        .header("DPoP", key.proof("POST", &token_url, now(), None, None))
        .form(&[("grant_type", "client_credentials")]);
    assert_eq!(resp.send().await.unwrap().status(), 200);

    // RP-initiated logout: without a hint the member confirms on a page,
    // with one the session ends at once.
    let page = b.get("/oauth/logout").await;
    assert_eq!(page.status(), 200, "the confirmation page");
    let hint = refreshed["id_token"].as_str().unwrap();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", "http://127.0.0.1/bye"),
        ])
        .finish();
    assert_eq!(b.get(&format!("/oauth/logout?{q}")).await.status(), 302);

    // Second factors: enrolment, the agency policy, a wrong code, a TOTP
    // code and a recovery code at the second step.
    let mut b = Browser::new(app);
    assert_eq!(
        b.sign_in("ann@example.com", PASSWORD, None).await.status(),
        303
    );
    let (secret, recovery) = crate::mfa::enrol(&mut b, None).await;
    let out = app.cli(&[
        "agency",
        "set-policy",
        "--agency",
        "Acme",
        "--require-mfa",
        "true",
    ]);
    assert!(out.status.success());
    let resp = crate::mfa::sign_in_with(&mut Browser::new(app), "000000").await;
    assert_eq!(resp.status(), 401, "a wrong code");
    let mut b = Browser::new(app);
    let otp = crate::mfa::code_of(&secret, 1);
    assert_eq!(crate::mfa::sign_in_with(&mut b, &otp).await.status(), 303);
    let resp = crate::mfa::sign_in_with(&mut Browser::new(app), &recovery[0]).await;
    assert_eq!(resp.status(), 303, "a recovery code");
    // A consent under the policy, and the owner's audit trail.
    let resp = authorize_with_consent(app, &mut b, &oidc, "ann@example.com", &[]).await;
    assert!(location_params(&resp).contains_key("code"));
    assert_eq!(b.get("/settings/audit").await.status(), 200);

    skedcast_auth::maintenance::run_once(&app.state, skedcast_auth::clock::now()).await;
    assert_indexed(&app.state.db, &log, 40).await;
}

/// Every distinct statement in `log` is explained; none may read a table
/// other than [`SMALL_TABLES`] whole. `at_least` distinct statements must
/// have run (the flows did run).
async fn assert_indexed(db: &sea_orm::DatabaseConnection, log: &SqlLog, at_least: usize) {
    let statements = log.lock().unwrap().clone();
    let mut seen = BTreeSet::new();
    let mut full_scans = Vec::new();
    for st in statements {
        let head = st.sql.trim_start().to_ascii_uppercase();
        let explainable = ["SELECT", "UPDATE", "DELETE", "INSERT", "WITH"]
            .iter()
            .any(|k| head.starts_with(k));
        if !explainable || !seen.insert(st.sql.clone()) {
            continue;
        }
        for table in scanned_tables(db, &st).await {
            let name = table.split(' ').next().unwrap_or_default();
            if !SMALL_TABLES.contains(&name) {
                full_scans.push(format!("{table}: {}", st.sql));
            }
        }
    }
    assert!(seen.len() > at_least, "the flows ran: {seen:#?}");
    assert!(
        full_scans.is_empty(),
        "full scans on a request path:\n{}",
        full_scans.join("\n")
    );
}

/// The tables `st` reads whole (not through an index condition).
async fn scanned_tables(db: &sea_orm::DatabaseConnection, st: &Statement) -> Vec<String> {
    let explain = |prefix: &str| Statement {
        sql: format!("{prefix} {}", st.sql),
        values: st.values.clone(),
        db_backend: st.db_backend,
    };
    match st.db_backend {
        DatabaseBackend::Sqlite => {
            let rows = db
                .query_all_raw(explain("EXPLAIN QUERY PLAN"))
                .await
                .unwrap_or_else(|e| panic!("explain {}: {e}", st.sql));
            rows.iter()
                .filter_map(|r| r.try_get::<String>("", "detail").ok())
                // "SCAN t" and "SCAN t USING [COVERING] INDEX i" read all of t;
                // "SEARCH t USING ..." does not. Subqueries, constant rows and
                // a multi-row INSERT's "N-ROW VALUES CLAUSE" are not tables.
                .filter_map(|d| {
                    let name = d.strip_prefix("SCAN ")?.split(' ').next()?.to_string();
                    let values = d.ends_with("-ROW VALUES CLAUSE");
                    (!name.starts_with('(') && name != "CONSTANT" && !values).then_some(name)
                })
                .collect()
        }
        _ => {
            let txn = db.begin().await.unwrap();
            // On near-empty tables the planner may prefer reading all rows;
            // with these off it picks index lookups wherever an index can
            // serve the statement, so what is left has no index.
            txn.execute_unprepared(
                "SET LOCAL enable_seqscan = off; SET LOCAL enable_mergejoin = off; \
                 SET LOCAL enable_hashjoin = off",
            )
            .await
            .unwrap();
            let row = txn
                .query_one_raw(explain("EXPLAIN (FORMAT JSON)"))
                .await
                .unwrap_or_else(|e| panic!("explain {}: {e}", st.sql))
                .unwrap();
            txn.rollback().await.unwrap();
            let plan: Value = row.try_get("", "QUERY PLAN").unwrap();
            let mut out = Vec::new();
            pg_scans(&plan[0]["Plan"], &mut out);
            out
        }
    }
}

/// Sequential scans, and index scans without an index condition (a whole
/// index read in order), in a Postgres plan tree.
fn pg_scans(node: &Value, out: &mut Vec<String>) {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    let table = node["Relation Name"].as_str().unwrap_or("?").to_string();
    match kind {
        "Seq Scan" => out.push(format!("{table} (Seq Scan)")),
        "Index Scan" | "Index Only Scan" if node.get("Index Cond").is_none() => {
            out.push(format!("{table} ({kind} without a condition)"))
        }
        "Bitmap Index Scan" if node.get("Index Cond").is_none() => {
            out.push(node["Index Name"].as_str().unwrap_or("?").to_string())
        }
        _ => {}
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        pg_scans(child, out);
    }
}

/// Housekeeping deletes in batches (`db::PRUNE_BATCH` rows a statement) and
/// goes on until nothing expired is left: 2.5 batches of expired revoked
/// access tokens, DPoP proof ids and rate-limit counters (a two-column key)
/// are all pruned, the live ones stay.
#[tokio::test]
async fn housekeeping_prunes_more_than_one_batch() {
    use entity::{dpop_proof_jti, rate_limit, revoked_access_token};
    use sea_orm::{EntityTrait, IntoActiveModel, PaginatorTrait};
    let app = spawn_app().await;
    let db = &app.state.db;
    let now = skedcast_auth::clock::now();
    let batch = skedcast_auth::db::PRUNE_BATCH;
    let expired = batch * 5 / 2;
    let ended = |i: u64| {
        if i < expired {
            now - 3 * 3600
        } else {
            now + 600
        }
    };
    let (mut jtis, mut proofs, mut counters) = (vec![], vec![], vec![]);
    for i in 0..expired + 10 {
        jtis.push(
            revoked_access_token::Model {
                jti: format!("jti-{i}"),
                expires_at: ended(i),
            }
            .into_active_model(),
        );
        proofs.push(
            dpop_proof_jti::Model {
                key: format!("proof-{i}"),
                expires_at: ended(i),
            }
            .into_active_model(),
        );
        // Seven buckets with expired and live windows each: the key is
        // (bucket, window_start), neither alone.
        counters.push(
            rate_limit::Model {
                bucket: format!("login:{}", i % 7),
                window_start: ended(i) + i as i64,
                hits: 1,
            }
            .into_active_model(),
        );
    }
    for chunk in jtis.chunks(300) {
        revoked_access_token::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await
            .unwrap();
    }
    for chunk in proofs.chunks(300) {
        dpop_proof_jti::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await
            .unwrap();
    }
    for chunk in counters.chunks(300) {
        rate_limit::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await
            .unwrap();
    }
    let deleted = skedcast_auth::maintenance::run_once(&app.state, now).await;
    assert_eq!(deleted, 3 * expired, "every expired row, nothing else");
    assert_eq!(
        revoked_access_token::Entity::find()
            .count(db)
            .await
            .unwrap(),
        10
    );
    assert_eq!(dpop_proof_jti::Entity::find().count(db).await.unwrap(), 10);
    assert_eq!(rate_limit::Entity::find().count(db).await.unwrap(), 10);
}
