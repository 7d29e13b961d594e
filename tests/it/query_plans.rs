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
        for table in scanned_tables(&app.state.db, &st).await {
            let name = table.split(' ').next().unwrap_or_default();
            if !SMALL_TABLES.contains(&name) {
                full_scans.push(format!("{table}: {}", st.sql));
            }
        }
    }
    assert!(seen.len() > 20, "the flows ran: {seen:#?}");
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
                // "SEARCH t USING ..." does not. Subqueries and constant rows
                // are not tables.
                .filter_map(|d| {
                    let name = d.strip_prefix("SCAN ")?.split(' ').next()?.to_string();
                    (!name.starts_with('(') && name != "CONSTANT").then_some(name)
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
/// access tokens are all pruned, the live ones stay.
#[tokio::test]
async fn housekeeping_prunes_more_than_one_batch() {
    use entity::revoked_access_token::{Entity, Model};
    use sea_orm::{EntityTrait, IntoActiveModel, PaginatorTrait};
    let app = spawn_app().await;
    let now = skedcast_auth::clock::now();
    let batch = skedcast_auth::db::PRUNE_BATCH;
    let expired = batch * 5 / 2;
    let rows: Vec<_> = (0..expired + 10)
        .map(|i| {
            Model {
                jti: format!("jti-{i}"),
                expires_at: if i < expired { now - 10 } else { now + 600 },
            }
            .into_active_model()
        })
        .collect();
    for chunk in rows.chunks(500) {
        Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.state.db)
            .await
            .unwrap();
    }
    skedcast_auth::maintenance::run_once(&app.state, now).await;
    assert_eq!(Entity::find().count(&app.state.db).await.unwrap(), 10);
}
