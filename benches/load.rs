//! Load generator: N keep-alive HTTP/1.1 connections, each sending one
//! request after the other for D seconds, against
//! - `POST /oauth/token` (client_credentials, client_secret_basic),
//! - the same with a DPoP proof (RFC 9449; a fresh proof per request, all
//!   signed before the run so the generator does no signing while measured),
//! - `GET /.well-known/jwks.json`,
//!
//! with the app spawned in-process on port 0, on SQLite and on Postgres.
//! Prints requests/s, p50/p99 latency, and the CPU time per request of the
//! server and of the load generator (Linux), per scenario.
//!
//! Run: `cargo bench --bench load`
//!
//! Environment (all optional):
//! - `LOAD_CONNECTIONS` (64), `LOAD_SECONDS` (10), `LOAD_WARMUP_SECONDS` (1)
//! - `LOAD_DATABASES` (`sqlite,postgres`), `LOAD_SCENARIOS` (`token,dpop,jwks`)
//! - `LOAD_DPOP_PROOFS` (200000): proofs prepared for the DPoP scenario; a
//!   connection stops when they run out (reported)
//! - `LOAD_SERVER_THREADS` (2) / `LOAD_CLIENT_THREADS` (2): worker threads
//!   of the server's and the load generator's Tokio runtimes
//! - `LOAD_TARGET=http://host:port`: load an already running server instead
//!   (the database list is then ignored); `LOAD_INITIAL_ACCESS_TOKEN`: one of
//!   its `registration.initial_access_tokens`, needed to register the
//!   client_credentials client (open registration cannot)
//! - `SKEDCAST_TEST_PG_URL`: the Postgres server to create a scratch
//!   database on (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! - any `SKEDCAST__...` setting for the in-process app, e.g.
//!   `SKEDCAST__CLIENTS__CACHE_TTL_SECS=0` to measure without the client cache

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use poem::listener::{Acceptor, Listener, TcpListener};
use sea_orm::ConnectionTrait;
use skedcast_auth::App;
use skedcast_auth::settings::Settings;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// One request shape, sent again and again.
#[derive(Clone)]
struct Scenario {
    name: &'static str,
    method: hyper::Method,
    path: &'static str,
    authorization: Option<String>,
    body: Option<Bytes>,
    /// A `DPoP` header per request, each used once.
    proofs: Option<Arc<std::sync::Mutex<Vec<String>>>>,
}

struct Outcome {
    requests: u64,
    errors: u64,
    /// Microseconds, sorted.
    latencies: Vec<u32>,
    elapsed: Duration,
    /// CPU seconds spent during the measurement by the server's threads
    /// (Tokio workers, SQLite workers) and by the load generator's.
    cpu: Cpu,
}

/// CPU seconds per group of threads of this process.
#[derive(Clone, Copy, Default)]
struct Cpu {
    server: f64,
    generator: f64,
}

const SERVER_THREAD: &str = "srv-worker";
const GENERATOR_THREAD: &str = "gen-worker";

/// User + system time of this process's threads, by group, from
/// /proc/self/task/*/stat (Linux; zero elsewhere).
fn cpu_now() -> Cpu {
    let mut cpu = Cpu::default();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return cpu;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ..." with utime, stime the 14th and 15th fields.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // Fields after the comm start at field 3 (state): utime is field 14.
        let secs = (ticks(11) + ticks(12)) / 100.0;
        if comm.starts_with(GENERATOR_THREAD) {
            cpu.generator += secs;
        } else if comm.starts_with(SERVER_THREAD) || comm.starts_with("sqlx") {
            cpu.server += secs;
        }
    }
    cpu
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// One keep-alive connection sending `scenario` until `stop`; latencies
/// are recorded from `measure_from`.
async fn connection(
    addr: SocketAddr,
    scenario: Arc<Scenario>,
    measure_from: Instant,
    stop: Instant,
) -> anyhow::Result<(u64, u64, Vec<u32>)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let host = addr.to_string();
    let (mut ok, mut errors) = (0u64, 0u64);
    let mut latencies = Vec::with_capacity(200_000);
    loop {
        let start = Instant::now();
        if start >= stop {
            break;
        }
        let mut req = Request::builder()
            .method(scenario.method.clone())
            .uri(scenario.path)
            .header(HOST, host.as_str());
        if let Some(a) = &scenario.authorization {
            req = req.header(AUTHORIZATION, a.as_str());
        }
        if let Some(pool) = &scenario.proofs {
            let Some(p) = pool.lock().expect("pool").pop() else {
                eprintln!("out of DPoP proofs: raise LOAD_DPOP_PROOFS");
                break;
            };
            req = req.header("dpop", p);
        }
        if scenario.body.is_some() {
            req = req.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let req = req.body(Full::new(scenario.body.clone().unwrap_or_default()))?;
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        resp.into_body().collect().await?;
        if start >= measure_from {
            latencies.push(start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
            if status.is_success() {
                ok += 1;
            } else {
                errors += 1;
            }
        }
    }
    Ok((ok, errors, latencies))
}

async fn run(addr: SocketAddr, scenario: Scenario, connections: usize, secs: u64) -> Outcome {
    let warmup = Duration::from_secs(env_or("LOAD_WARMUP_SECONDS", 1));
    let scenario = Arc::new(scenario);
    let measure_from = Instant::now() + warmup;
    let stop = measure_from + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(connection(addr, scenario.clone(), measure_from, stop)))
        .collect();
    tokio::time::sleep_until(measure_from.into()).await;
    let cpu_start = cpu_now();
    let mut out = Outcome {
        requests: 0,
        errors: 0,
        latencies: Vec::new(),
        elapsed: Duration::from_secs(secs),
        cpu: Cpu::default(),
    };
    for t in tasks {
        match t.await {
            Ok(Ok((ok, errors, lat))) => {
                out.requests += ok + errors;
                out.errors += errors;
                out.latencies.extend(lat);
            }
            Ok(Err(e)) => eprintln!("connection failed: {e}"),
            Err(e) => eprintln!("connection task failed: {e}"),
        }
    }
    let cpu_end = cpu_now();
    out.cpu = Cpu {
        server: cpu_end.server - cpu_start.server,
        generator: cpu_end.generator - cpu_start.generator,
    };
    out.latencies.sort_unstable();
    out
}

/// One line per run. `cpu/req` is the CPU time per request of the server's
/// threads (`srv`) and of the load generator's (`gen`), measured from
/// /proc: unlike req/s it does not depend on what else runs on the box.
fn report(db: &str, name: &str, connections: usize, o: &Outcome) {
    let rps = o.requests as f64 / o.elapsed.as_secs_f64();
    let per_req = |secs: f64| secs * 1e6 / (o.requests.max(1) as f64);
    println!(
        "{db:<9} {name:<18} {connections:>3} conns {:>3.0} s {:>8} req {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  errors {}  cpu/req srv {:>5.1} us gen {:>5.1} us",
        o.elapsed.as_secs_f64(),
        o.requests,
        rps,
        percentile(&o.latencies, 0.50),
        percentile(&o.latencies, 0.99),
        percentile(&o.latencies, 1.0),
        o.errors,
        per_req(o.cpu.server),
        per_req(o.cpu.generator),
    );
}

/// Register a client_credentials client at `base` with an initial access
/// token and return the Basic Authorization value; check that one token
/// request works.
async fn client_credentials_auth(base: &str, initial_access_token: &str) -> anyhow::Result<String> {
    skedcast_auth::install_crypto_provider();
    let http = reqwest::Client::new();
    let info: serde_json::Value = http
        .post(format!("{base}/oauth/register"))
        .bearer_auth(initial_access_token)
        .json(&serde_json::json!({
            "client_name": "load generator",
            "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_basic",
            "scope": "agency:read posts:read analytics:read",
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = info["client_id"].as_str().unwrap_or_default();
    let secret = info["client_secret"].as_str().unwrap_or_default();
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    );
    let resp = http
        .post(format!("{base}/oauth/token"))
        .header("authorization", &auth)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "token request failed: {}",
        resp.text().await?
    );
    Ok(auth)
}

fn scenarios(auth: &str, base: &str) -> Vec<Scenario> {
    let wanted = env_list("LOAD_SCENARIOS", "token,dpop,jwks");
    // Signed only when the scenario runs.
    let proofs = wanted.iter().any(|w| w == "dpop").then(|| {
        let key = skedcast_auth::verify::dpop::testing::ProofKey::es256();
        let (htu, now) = (format!("{base}/oauth/token"), skedcast_auth::clock::now());
        let n: usize = env_or("LOAD_DPOP_PROOFS", 200_000);
        let pool = (0..n)
            .map(|_| key.proof("POST", &htu, now, None, None))
            .collect();
        Arc::new(std::sync::Mutex::new(pool))
    });
    let all = [
        Scenario {
            name: "client_credentials",
            method: hyper::Method::POST,
            path: "/oauth/token",
            authorization: Some(auth.to_string()),
            body: Some(Bytes::from_static(b"grant_type=client_credentials")),
            proofs: None,
        },
        Scenario {
            name: "client_credentials+dpop",
            method: hyper::Method::POST,
            path: "/oauth/token",
            authorization: Some(auth.to_string()),
            body: Some(Bytes::from_static(b"grant_type=client_credentials")),
            proofs,
        },
        Scenario {
            name: "jwks",
            method: hyper::Method::GET,
            path: "/.well-known/jwks.json",
            authorization: None,
            body: None,
            proofs: None,
        },
    ];
    all.into_iter()
        .filter(|s| {
            wanted.iter().any(|w| {
                (w == "token" && s.name == "client_credentials")
                    || (w == "dpop" && s.name == "client_credentials+dpop")
                    || w == s.name
            })
        })
        .collect()
}

/// A scratch database: (url, cleanup).
async fn scratch_db(
    kind: &str,
) -> anyhow::Result<(String, Option<tempfile::TempDir>, Option<String>)> {
    match kind {
        "sqlite" => {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}/load.db?mode=rwc", dir.path().display());
            Ok((url, Some(dir), None))
        }
        "postgres" => {
            let admin = std::env::var("SKEDCAST_TEST_PG_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let db = sea_orm::Database::connect(admin.clone()).await?;
            let name = format!("skedcast_load_{}", uuid::Uuid::new_v4().simple());
            db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await?;
            let mut url = url::Url::parse(&admin)?;
            url.set_path(&format!("/{name}"));
            Ok((url.to_string(), None, Some(name)))
        }
        other => anyhow::bail!("unknown database {other:?} (sqlite or postgres)"),
    }
}

async fn drop_pg(name: &str) {
    let admin = std::env::var("SKEDCAST_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    if let Ok(db) = sea_orm::Database::connect(admin).await {
        let _ = db
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
    }
}

/// Start the app on `db_url` in `server_rt`; returns its address.
/// `initial_access_token`: accepted by the app for registration.
fn spawn_app(
    server_rt: &tokio::runtime::Runtime,
    db_url: &str,
    initial_access_token: &str,
) -> anyhow::Result<SocketAddr> {
    server_rt.block_on(async {
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
        let addr = *acceptor.local_addr()[0]
            .as_socket_addr()
            .ok_or_else(|| anyhow::anyhow!("no socket address"))?;
        let mut env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("SKEDCAST__"))
            .collect();
        env.push(("SKEDCAST__DATABASE__URL".into(), db_url.into()));
        env.push(("SKEDCAST__ISSUER".into(), format!("http://{addr}")));
        env.push(("SKEDCAST__SERVER__BIND".into(), addr.to_string()));
        env.push((
            "SKEDCAST__REGISTRATION__INITIAL_ACCESS_TOKENS".into(),
            initial_access_token.into(),
        ));
        let settings = Settings::load_from(None, env)?;
        let app = App::build(settings).await?;
        let endpoint = app.endpoint();
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run(endpoint)
                .await;
        });
        Ok(addr)
    })
}

fn runtime(threads: usize, name: &str) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name(name)
        .enable_all()
        .build()?)
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; nothing else is understood.
    let connections: usize = env_or("LOAD_CONNECTIONS", 64);
    let secs: u64 = env_or("LOAD_SECONDS", 10);
    let client_rt = runtime(env_or("LOAD_CLIENT_THREADS", 2), GENERATOR_THREAD)?;

    if let Ok(target) = std::env::var("LOAD_TARGET") {
        let url = url::Url::parse(&target)?;
        let addr = url
            .socket_addrs(|| Some(80))?
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("LOAD_TARGET has no address"))?;
        let base = target.trim_end_matches('/').to_string();
        let token = std::env::var("LOAD_INITIAL_ACCESS_TOKEN").map_err(|_| {
            anyhow::anyhow!("LOAD_TARGET needs LOAD_INITIAL_ACCESS_TOKEN (see the module docs)")
        })?;
        let auth = client_rt.block_on(client_credentials_auth(&base, &token))?;
        for s in scenarios(&auth, &base) {
            let name = s.name;
            let o = client_rt.block_on(run(addr, s, connections, secs));
            report("target", name, connections, &o);
        }
        return Ok(());
    }

    for kind in env_list("LOAD_DATABASES", "sqlite,postgres") {
        let (url, _dir, pg_name) = match client_rt.block_on(scratch_db(&kind)) {
            Ok(db) => db,
            Err(e) => {
                println!("{kind:<9} SKIPPED: {e}");
                continue;
            }
        };
        let server_rt = runtime(env_or("LOAD_SERVER_THREADS", 2), SERVER_THREAD)?;
        let result = (|| -> anyhow::Result<()> {
            let token = skedcast_auth::crypto::random_token();
            let addr = spawn_app(&server_rt, &url, &token)?;
            let base = format!("http://{addr}");
            let auth = client_rt.block_on(client_credentials_auth(&base, &token))?;
            for s in scenarios(&auth, &base) {
                let name = s.name;
                let o = client_rt.block_on(run(addr, s, connections, secs));
                report(&kind, name, connections, &o);
            }
            Ok(())
        })();
        server_rt.shutdown_timeout(Duration::from_secs(2));
        if let Some(name) = pg_name {
            client_rt.block_on(drop_pg(&name));
        }
        result?;
    }
    Ok(())
}
