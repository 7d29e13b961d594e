//! Start-up configuration errors, health and readiness, request ids and
//! logging, the checked-in OpenAPI document.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use serde_json::Value;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_skedcast-auth"));
    cmd.stdin(Stdio::null());
    cmd
}

#[test]
fn bad_config_values_stop_start_up_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("SKEDCAST__SERVER__BIND", "not-an-address", "`server.bind`"),
        ("SKEDCAST__SERVER__BIND", "127.0.0.1:99999", "`server.bind`"),
        ("SKEDCAST__LOG__FORMAT", "xml", "`log.format`"),
        ("SKEDCAST__ISSUER", "/relative/path", "`issuer`"),
        (
            "SKEDCAST__ISSUER",
            "https://auth.example.com/?tenant=1",
            "`issuer` must not have a query",
        ),
        (
            "SKEDCAST__ISSUER",
            "https://auth.example.com/#x",
            "`issuer` must not have a fragment",
        ),
        ("SKEDCAST__DATABASE__URL", "mysql://x/y", "`database.url`"),
    ];
    for (key, value, want) in cases {
        let out = bin()
            .current_dir(dir.path())
            .env(key, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key}={value} must fail");
        assert!(stderr.contains(want), "{key}={value}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
    // Nothing was created by a refused start.
    assert!(!dir.path().join("data").exists());

    // A --config file layers over the defaults, and its errors name the key too.
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[log]\nformat = \"yaml\"\n").unwrap();
    let out = bin()
        .arg("--config")
        .arg(&file)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`log.format`"));
    let out = bin()
        .args(["--config", "/nonexistent.toml", "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.toml"));
}

/// The tables `migrate` leaves on `db`, from the database's own catalogue.
async fn tables(db: &TestDb) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = sea_orm::Database::connect(&db.url).await.unwrap();
    let sql = if db.is_postgres() {
        "SELECT table_name AS name FROM information_schema.tables \
         WHERE table_schema = 'public' ORDER BY 1"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
    };
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await
        .unwrap();
    let names = rows
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect();
    conn.close().await.unwrap();
    names
}

/// `skedcast-auth migrate` on a fresh database (the suite's: SQLite, or
/// Postgres under `SKEDCAST_TEST_DATABASE=postgres`) exits 0 and leaves the
/// schema; a second run changes nothing and exits 0 too.
#[tokio::test]
async fn migrate_applies_the_schema_and_exits() {
    let db = fresh_db().await;
    assert!(tables(&db).await.is_empty(), "the database starts empty");
    let out = cli(&db.url, &["migrate"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = tables(&db).await;
    for want in [
        "clients",
        "refresh_tokens",
        "signing_keys",
        "authorization_codes",
        "seaql_migrations",
    ] {
        assert!(after.iter().any(|t| t == want), "no {want} in {after:?}");
    }
    // Twice is fine, and changes nothing.
    let again = cli(&db.url, &["migrate"], &[]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(tables(&db).await, after);
}

/// The README's regeneration step, `skedcast-auth openapi >
/// openapi/openapi.json`, run as is in an empty folder: it prints the
/// checked-in file byte for byte and leaves nothing behind.
#[test]
fn the_openapi_command_prints_the_checked_in_file_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("openapi")
        .current_dir(dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked_in =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json")).unwrap();
    assert!(
        out.stdout == checked_in,
        "`skedcast-auth openapi` differs from openapi/openapi.json \
         ({} bytes printed, {} checked in)",
        out.stdout.len(),
        checked_in.len()
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// `skedcast-auth serve` as `cargo run` starts it: in a fresh folder, on the
/// embedded default database, with JSON logs; returns the child and its port.
fn start_server(dir: &std::path::Path) -> (Child, u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let mut child = bin()
        .current_dir(dir)
        .env("SKEDCAST__SERVER__BIND", "127.0.0.1:0")
        .env("SKEDCAST__LOG__FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["message"] == "skedcast-auth listening"
            {
                let addr = v["address"].as_str().unwrap_or_default().to_string();
                let port = addr.rsplit(':').next().unwrap().parse::<u16>().unwrap();
                let _ = tx.send(port);
            }
            sink.lock().unwrap().push(line);
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server listening");
    (child, port, lines)
}

#[tokio::test]
async fn fresh_start_creates_the_sqlite_file_and_logs_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port, lines) = start_server(dir.path());
    assert!(
        dir.path().join("data/skedcast.db").is_file(),
        "data/skedcast.db created"
    );
    let client = http_client();
    let base = format!("http://127.0.0.1:{port}");

    // A request id is echoed when given, generated when not.
    let resp = client
        .get(format!("{base}/healthz?code=SECRET-IN-QUERY"))
        .header("X-Request-Id", "req-42")
        .header("Authorization", "Bearer SECRET-BEARER")
        .header("Cookie", "sid=SECRET-COOKIE")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "req-42");
    let resp = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let generated = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(generated.len() >= 16);
    // A hostile request id is replaced, not echoed.
    let resp = client
        .get(format!("{base}/healthz"))
        .header("X-Request-Id", "x\"} injected")
        .send()
        .await
        .unwrap();
    assert_ne!(resp.headers()["x-request-id"], "x\"} injected");

    // Every request's log line is written before the process stops.
    let logged = lines.clone();
    wait_until(
        "three request log lines",
        std::time::Instant::now(),
        Duration::from_secs(30),
        || {
            let logged = logged.clone();
            async move {
                let n = logged
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|l| l.contains(r#""message":"request""#))
                    .count();
                n >= 3
            }
        },
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let logs = lines.lock().unwrap().join("\n");
    let span_line = lines
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["span"]["request_id"] == "req-42")
        .expect("a JSON log line for the request");
    assert_eq!(span_line["span"]["method"], "GET");
    assert_eq!(span_line["span"]["path"], "/healthz");
    assert_eq!(span_line["status"], 200);
    assert!(span_line["latency_us"].is_number());
    for secret in ["SECRET-IN-QUERY", "SECRET-BEARER", "SECRET-COOKIE"] {
        assert!(!logs.contains(secret), "{secret} leaked into logs");
    }
}

#[tokio::test]
async fn served_openapi_matches_the_checked_in_file() {
    let app = spawn_app().await;
    let served = app.get_json("/openapi.json").await;
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    assert!(
        served == file,
        "openapi/openapi.json is stale: run `cargo run -q -- openapi > openapi/openapi.json`"
    );
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
}

/// The dummy hash that unknown-email sign-ins are checked against is made
/// at start (`password::warm_up`, called by `App::build`), so the first such
/// sign-in after start is not slower than a wrong password.
#[tokio::test]
async fn start_up_warms_up_the_password_hasher() {
    let before = skedcast_auth::accounts::password::warm_ups();
    let _app = spawn_app().await;
    assert!(
        skedcast_auth::accounts::password::warm_ups() > before,
        "App::build did not call password::warm_up"
    );
}
