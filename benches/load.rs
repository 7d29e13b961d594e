//! Load generator: N keep-alive HTTP/1.1 connections, each sending one
//! request (or one flow) after the other for D seconds, against
//! - `token`: `POST /oauth/token` (client_credentials, client_secret_basic),
//! - `dpop`: the same with a DPoP proof (RFC 9449; a fresh proof per
//!   request, all signed before the run so the generator does no signing
//!   while measured),
//! - `jwks`: `GET /.well-known/jwks.json`,
//! - `refresh`: refresh-token rotation, each connection rotating its own
//!   family (the answer's refresh token is the next request's),
//! - `code`: one flow = `GET /oauth/authorize` by a signed-in member whose
//!   consent is remembered (a 302 with a code) + the code exchange with
//!   PKCE (a public client; the answer starts a refresh family),
//! - `register`: `POST /oauth/register` (RFC 7591, a public client; the
//!   per-address limit raised so it does not answer 429),
//! - `apikey-cold` / `apikey-warm`: `GET /v1/agency` of an in-process
//!   skedcast-api with an API key, its introspection cache off (every
//!   request introspects at the auth server) or on (the default),
//!
//! with the app spawned in-process on port 0, on SQLite and on Postgres.
//! Prints operations/s (requests, or flows for `code`), p50/p99 latency,
//! and the CPU time per operation of the server and of the load generator
//! (Linux), per scenario.
//!
//! Run: `cargo bench --bench load`
//!
//! Environment (all optional):
//! - `LOAD_CONNECTIONS` (64), `LOAD_SECONDS` (10), `LOAD_WARMUP_SECONDS` (1)
//! - `LOAD_DATABASES` (`sqlite,postgres`), `LOAD_SCENARIOS`
//!   (`token,dpop,jwks,refresh,code,register,apikey-cold,apikey-warm`)
//! - `LOAD_DPOP_PROOFS` (200000): proofs prepared for the DPoP scenario; a
//!   connection stops when they run out (reported)
//! - `LOAD_SERVER_THREADS` (2) / `LOAD_CLIENT_THREADS` (2): worker threads
//!   of the server's and the load generator's Tokio runtimes
//! - `LOAD_TARGET=http://host:port`: load an already running server instead
//!   (the database list is then ignored; only `token`, `dpop` and `jwks`,
//!   which need no database access); `LOAD_INITIAL_ACCESS_TOKEN`: one of
//!   its `registration.initial_access_tokens`, needed to register the
//!   client_credentials client (open registration cannot)
//! - `SKEDCAST_TEST_PG_URL`: the Postgres server to create a scratch
//!   database on (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! - any `SKEDCAST__...` setting for the in-process app, e.g.
//!   `SKEDCAST__CLIENTS__CACHE_TTL_SECS=0` to measure without the client cache

#[path = "support/member.rs"]
mod member;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, LOCATION};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use poem::listener::{Acceptor, Listener, TcpListener};
use sea_orm::ConnectionTrait;
use skedcast_auth::settings::Settings;
use skedcast_auth::{App, AppState};

use member::Member;

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

const ALL_SCENARIOS: &str = "token,dpop,jwks,refresh,code,register,apikey-cold,apikey-warm";
const FORM: &str = "application/x-www-form-urlencoded";

/// One request shape, sent again and again.
struct Scenario {
    method: hyper::Method,
    path: String,
    authorization: Option<String>,
    body: Option<Bytes>,
    /// A `DPoP` header per request, each used once.
    proofs: Option<Arc<std::sync::Mutex<Vec<String>>>>,
}

/// What one connection does again and again; one iteration is one measured
/// operation.
enum Work {
    /// The same request.
    Same(Arc<Scenario>),
    /// Rotate this connection's own refresh family: each answer's refresh
    /// token is presented next.
    Refresh { member: Arc<Member>, token: String },
    /// Authorize (remembered consent), then redeem the code: two requests.
    Flow { member: Arc<Member>, path: String },
    /// Register a new public client.
    Register,
}

/// A scenario: where its connections go and what each does.
struct Plan {
    name: &'static str,
    addr: SocketAddr,
    works: Vec<Work>,
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

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

/// A response: status, `Location`, body.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    body: Bytes,
}

impl Conn {
    async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        Ok(Conn {
            sender,
            host: addr.to_string(),
        })
    }

    async fn send(
        &mut self,
        method: hyper::Method,
        path: &str,
        headers: &[(hyper::header::HeaderName, &str)],
        body: Option<(&'static str, Bytes)>,
    ) -> anyhow::Result<Answer> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.as_str());
        for (k, v) in headers {
            req = req.header(k, *v);
        }
        let body = match body {
            Some((content_type, b)) => {
                req = req.header(CONTENT_TYPE, content_type);
                b
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(body))?;
        self.sender.ready().await?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            location,
            body,
        })
    }
}

/// One flow of `member`: authorize (remembered consent) and redeem the
/// code. `Ok(None)`: a step failed; else the refresh token issued.
async fn flow(conn: &mut Conn, member: &Member, path: &str) -> anyhow::Result<Option<String>> {
    let cookie = [(COOKIE, member.cookie.as_str())];
    let a = conn.send(hyper::Method::GET, path, &cookie, None).await?;
    let code = a.location.as_deref().and_then(|l| {
        let u = url::Url::parse(l).ok()?;
        u.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
    });
    let Some(code) = code.filter(|_| a.status == StatusCode::FOUND) else {
        return Ok(None);
    };
    let body = Bytes::from(member.code_form(&code));
    let a = conn
        .send(hyper::Method::POST, "/oauth/token", &[], Some((FORM, body)))
        .await?;
    if a.status != StatusCode::OK {
        return Ok(None);
    }
    Ok(refresh_token_of(&a.body))
}

fn refresh_token_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v["refresh_token"].as_str().map(str::to_string)
}

/// One operation of `work`; `Ok(None)`: nothing left to send.
async fn step(conn: &mut Conn, work: &mut Work) -> anyhow::Result<Option<bool>> {
    match work {
        Work::Same(s) => {
            let mut headers = Vec::new();
            if let Some(a) = &s.authorization {
                headers.push((AUTHORIZATION, a.as_str()));
            }
            let proof;
            if let Some(pool) = &s.proofs {
                let Some(p) = pool.lock().ok().and_then(|mut p| p.pop()) else {
                    eprintln!("out of DPoP proofs: raise LOAD_DPOP_PROOFS");
                    return Ok(None);
                };
                proof = p;
                headers.push((hyper::header::HeaderName::from_static("dpop"), &proof));
            }
            let body = s.body.clone().map(|b| (FORM, b));
            let a = conn.send(s.method.clone(), &s.path, &headers, body).await?;
            Ok(Some(a.status.is_success()))
        }
        Work::Refresh { member, token } => {
            let body = Bytes::from(member.refresh_form(token));
            let a = conn
                .send(hyper::Method::POST, "/oauth/token", &[], Some((FORM, body)))
                .await?;
            match refresh_token_of(&a.body).filter(|_| a.status == StatusCode::OK) {
                Some(next) => {
                    *token = next;
                    Ok(Some(true))
                }
                None => {
                    // Counted as an error; a new family keeps the run going.
                    eprintln!(
                        "refresh failed: {} {}",
                        a.status,
                        String::from_utf8_lossy(&a.body)
                    );
                    let path = member.authorize_path();
                    if let Some(t) = flow(conn, member, &path).await? {
                        *token = t;
                    }
                    Ok(Some(false))
                }
            }
        }
        Work::Flow { member, path } => Ok(Some(flow(conn, member, path).await?.is_some())),
        Work::Register => {
            let body = serde_json::json!({
                "client_name": "bench registration",
                "redirect_uris": [member::REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "scope": member::SCOPE,
            });
            let body = Bytes::from(serde_json::to_vec(&body)?);
            let a = conn
                .send(
                    hyper::Method::POST,
                    "/oauth/register",
                    &[],
                    Some(("application/json", body)),
                )
                .await?;
            Ok(Some(a.status == StatusCode::CREATED))
        }
    }
}

/// One connection doing `work` until `stop`; latencies are recorded from
/// `measure_from`.
async fn connection(
    addr: SocketAddr,
    mut work: Work,
    measure_from: Instant,
    stop: Instant,
) -> anyhow::Result<(u64, u64, Vec<u32>)> {
    let mut conn = Conn::open(addr).await?;
    let (mut ok, mut errors) = (0u64, 0u64);
    let mut latencies = Vec::with_capacity(200_000);
    loop {
        let start = Instant::now();
        if start >= stop {
            break;
        }
        let Some(good) = step(&mut conn, &mut work).await? else {
            break;
        };
        if start >= measure_from {
            latencies.push(start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
            if good {
                ok += 1;
            } else {
                errors += 1;
            }
        }
    }
    Ok((ok, errors, latencies))
}

async fn run(plan: Plan, secs: u64) -> Outcome {
    let warmup = Duration::from_secs(env_or("LOAD_WARMUP_SECONDS", 1));
    let measure_from = Instant::now() + warmup;
    let stop = measure_from + Duration::from_secs(secs);
    let addr = plan.addr;
    let tasks: Vec<_> = plan
        .works
        .into_iter()
        .map(|w| tokio::spawn(connection(addr, w, measure_from, stop)))
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

/// The 1-minute load average, so that each figure says how busy the box was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split(' ').next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// One line per run. `cpu/op` is the CPU time per operation of the server's
/// threads (`srv`) and of the load generator's (`gen`), measured from
/// /proc: unlike op/s it does not depend on what else runs on the box.
fn report(db: &str, name: &str, connections: usize, o: &Outcome) {
    let rps = o.requests as f64 / o.elapsed.as_secs_f64();
    let per_req = |secs: f64| secs * 1e6 / (o.requests.max(1) as f64);
    println!(
        "{db:<9} {name:<23} {connections:>3} conns {:>3.0} s {:>8} ops {:>8.0} op/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  errors {}  cpu/op srv {:>5.1} us gen {:>5.1} us  load {}",
        o.elapsed.as_secs_f64(),
        o.requests,
        rps,
        percentile(&o.latencies, 0.50),
        percentile(&o.latencies, 0.99),
        percentile(&o.latencies, 1.0),
        o.errors,
        per_req(o.cpu.server),
        per_req(o.cpu.generator),
        load_average(),
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

/// The scenarios that need only HTTP (also against `LOAD_TARGET`).
fn http_plan(
    name: &str,
    auth: &str,
    base: &str,
    addr: SocketAddr,
    connections: usize,
) -> Option<Plan> {
    let same = |name: &'static str, s: Scenario| {
        let s = Arc::new(s);
        Plan {
            name,
            addr,
            works: (0..connections).map(|_| Work::Same(s.clone())).collect(),
        }
    };
    let token = |proofs| Scenario {
        method: hyper::Method::POST,
        path: "/oauth/token".into(),
        authorization: Some(auth.to_string()),
        body: Some(Bytes::from_static(b"grant_type=client_credentials")),
        proofs,
    };
    Some(match name {
        "token" => same("client_credentials", token(None)),
        "dpop" => {
            // Signed before the run.
            let key = skedcast_auth::verify::dpop::testing::ProofKey::es256();
            let (htu, now) = (format!("{base}/oauth/token"), skedcast_auth::clock::now());
            let n: usize = env_or("LOAD_DPOP_PROOFS", 200_000);
            let pool = (0..n)
                .map(|_| key.proof("POST", &htu, now, None, None))
                .collect();
            same(
                "client_credentials+dpop",
                token(Some(Arc::new(std::sync::Mutex::new(pool)))),
            )
        }
        "jwks" => same(
            "jwks",
            Scenario {
                method: hyper::Method::GET,
                path: "/.well-known/jwks.json".into(),
                authorization: None,
                body: None,
                proofs: None,
            },
        ),
        _ => return None,
    })
}

/// The in-process app and what the database-backed scenarios share.
struct Target {
    addr: SocketAddr,
    base: String,
    state: Arc<AppState>,
}

/// A scenario that needs the app's database (a member, an API key) or a
/// skedcast-api beside the app.
async fn app_plan(
    name: &str,
    t: &Target,
    server_rt: &tokio::runtime::Handle,
    connections: usize,
) -> anyhow::Result<Option<Plan>> {
    // Database work runs on the server's runtime: the pool's connections
    // then belong to it, as when it serves.
    let signed_in = |what: &str| {
        let (state, base) = (t.state.clone(), t.base.clone());
        let email = format!("{what}-{}@bench.example", uuid::Uuid::new_v4().simple());
        let task = server_rt.spawn(async move { member::signed_in(&state, &base, &email).await });
        async move { anyhow::Ok(Arc::new(task.await??)) }
    };
    Ok(Some(match name {
        "refresh" => {
            let m = signed_in("refresh").await?;
            // A family per connection, started by one flow each.
            let path = m.authorize_path();
            let mut conn = Conn::open(t.addr).await?;
            let mut works = Vec::with_capacity(connections);
            for _ in 0..connections {
                let token = flow(&mut conn, &m, &path)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("the flow starting a family failed"))?;
                works.push(Work::Refresh {
                    member: m.clone(),
                    token,
                });
            }
            Plan {
                name: "refresh_token",
                addr: t.addr,
                works,
            }
        }
        "code" => {
            let m = signed_in("code").await?;
            let path = m.authorize_path();
            let mut conn = Conn::open(t.addr).await?;
            anyhow::ensure!(
                flow(&mut conn, &m, &path).await?.is_some(),
                "the authorization flow failed"
            );
            Plan {
                name: "authorize+code (flows)",
                addr: t.addr,
                works: (0..connections)
                    .map(|_| Work::Flow {
                        member: m.clone(),
                        path: path.clone(),
                    })
                    .collect(),
            }
        }
        "register" => Plan {
            name: "register",
            addr: t.addr,
            works: (0..connections).map(|_| Work::Register).collect(),
        },
        "apikey-cold" | "apikey-warm" => {
            let cold = name == "apikey-cold";
            let api = server_rt
                .spawn(spawn_api(t.state.clone(), t.base.clone(), cold))
                .await??;
            let key = server_rt.spawn(api_key(t.state.clone())).await??;
            // One request first: the API has fetched the metadata and JWKS.
            let mut conn = Conn::open(api).await?;
            let auth = format!("Bearer {key}");
            let a = conn
                .send(
                    hyper::Method::GET,
                    "/v1/agency",
                    &[(AUTHORIZATION, &auth)],
                    None,
                )
                .await?;
            anyhow::ensure!(
                a.status == StatusCode::OK,
                "GET /v1/agency with an API key: {} {}",
                a.status,
                String::from_utf8_lossy(&a.body)
            );
            let s = Arc::new(Scenario {
                method: hyper::Method::GET,
                path: "/v1/agency".into(),
                authorization: Some(auth),
                body: None,
                proofs: None,
            });
            Plan {
                name: if cold {
                    "apikey (cache off)"
                } else {
                    "apikey (cache on)"
                },
                addr: api,
                works: (0..connections).map(|_| Work::Same(s.clone())).collect(),
            }
        }
        _ => return Ok(None),
    }))
}

/// A member's API key (agency:read), created in the app's database.
async fn api_key(state: Arc<AppState>) -> anyhow::Result<String> {
    let email = format!("apikey-{}@bench.example", uuid::Uuid::new_v4().simple());
    let db = &state.db;
    let agency = skedcast_auth::accounts::create_agency(db, &format!("Bench {email}")).await?;
    // Only owners and managers create API keys.
    let user =
        skedcast_auth::accounts::create_user(db, &email, &agency.id, "manager", None).await?;
    let now = skedcast_auth::clock::now();
    let issued = skedcast_auth::api_keys::create(
        db,
        &user.id,
        &agency.id,
        "bench",
        &["agency:read"],
        30,
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!("API key: {e}"))?;
    Ok(issued.secret)
}

/// A skedcast-api on port 0 (run on the server's runtime), trusting the
/// app at `base` and introspecting API keys there with a new resource
/// server's credentials; `cold`: its API-key cache off, so every request
/// introspects.
async fn spawn_api(state: Arc<AppState>, base: String, cold: bool) -> anyhow::Result<SocketAddr> {
    use skedcast_auth::resource_api::{self, settings::ApiSettings};
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
    let addr = *acceptor.local_addr()[0]
        .as_socket_addr()
        .ok_or_else(|| anyhow::anyhow!("no socket address"))?;
    let resource = format!("http://{addr}");
    let rs = skedcast_auth::oauth::resource::create_resource_server(
        &state.db,
        &format!("bench api {addr}"),
        &resource,
    )
    .await?;
    let mut vars = vec![
        ("SKEDCAST_API__ISSUER".to_string(), base),
        ("SKEDCAST_API__RESOURCE".to_string(), resource),
        (
            "SKEDCAST_API__INTROSPECTION__CLIENT_ID".to_string(),
            rs.client_id,
        ),
        (
            "SKEDCAST_API__INTROSPECTION__CLIENT_SECRET".to_string(),
            rs.client_secret,
        ),
    ];
    if cold {
        vars.push((
            "SKEDCAST_API__INTROSPECTION__CACHE_SIZE".to_string(),
            "0".into(),
        ));
    }
    let api = resource_api::build(ApiSettings::load_from(None, vars)?).await?;
    let endpoint = api.endpoint();
    tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor)
            .run(endpoint)
            .await;
    });
    Ok(addr)
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

/// Start the app on `db_url` in `server_rt`.
/// `initial_access_token`: accepted by the app for registration.
fn spawn_app(
    server_rt: &tokio::runtime::Runtime,
    db_url: &str,
    initial_access_token: &str,
) -> anyhow::Result<Target> {
    server_rt.block_on(async {
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
        let addr = *acceptor.local_addr()[0]
            .as_socket_addr()
            .ok_or_else(|| anyhow::anyhow!("no socket address"))?;
        // The registration scenario comes from one address: its per-address
        // limit raised (still counted in the database, as in production).
        let mut env = vec![(
            "SKEDCAST__REGISTRATION__RATE_LIMIT_PER_MINUTE".to_string(),
            "100000000".to_string(),
        )];
        env.extend(std::env::vars().filter(|(k, _)| k.starts_with("SKEDCAST__")));
        env.push(("SKEDCAST__DATABASE__URL".into(), db_url.into()));
        env.push(("SKEDCAST__ISSUER".into(), format!("http://{addr}")));
        env.push(("SKEDCAST__SERVER__BIND".into(), addr.to_string()));
        env.push((
            "SKEDCAST__REGISTRATION__INITIAL_ACCESS_TOKENS".into(),
            initial_access_token.into(),
        ));
        let settings = Settings::load_from(None, env)?;
        let app = App::build(settings).await?;
        let state = app.state.clone();
        let endpoint = app.endpoint();
        tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run(endpoint)
                .await;
        });
        Ok(Target {
            addr,
            base: format!("http://{addr}"),
            state,
        })
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
    let wanted = env_list("LOAD_SCENARIOS", ALL_SCENARIOS);
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
        for w in &wanted {
            let Some(plan) = http_plan(w, &auth, &base, addr, connections) else {
                println!("target    {w}: needs the in-process app, skipped");
                continue;
            };
            let name = plan.name;
            let o = client_rt.block_on(run(plan, secs));
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
            let target = spawn_app(&server_rt, &url, &token)?;
            let auth = client_rt.block_on(client_credentials_auth(&target.base, &token))?;
            for w in &wanted {
                let plan = match http_plan(w, &auth, &target.base, target.addr, connections) {
                    Some(p) => p,
                    None => client_rt
                        .block_on(app_plan(w, &target, server_rt.handle(), connections))?
                        .ok_or_else(|| {
                            anyhow::anyhow!("unknown scenario {w:?} (known: {ALL_SCENARIOS})")
                        })?,
                };
                let name = plan.name;
                let o = client_rt.block_on(run(plan, secs));
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
