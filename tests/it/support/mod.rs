//! The shared test harness: each test gets a fresh database (SQLite file in
//! a temp dir, or a fresh Postgres database with
//! `SKEDCAST_TEST_DATABASE=postgres`) and the real app on a port-0 listener.
//! Submodules: a form-walking browser, the code flow, token-endpoint
//! clients, real processes, and the provisioning of outside tools.

pub mod audit;
pub mod authenticator;
pub mod browser;
pub mod flow;
pub mod process;
pub mod provision;
pub mod token;
pub mod webdriver;

use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use poem::listener::{Acceptor, Listener, TcpListener};
use skedcast_auth::settings::Settings;
use skedcast_auth::{App, AppState};

/// The Postgres server tests create their databases on.
pub fn pg_admin_url() -> String {
    std::env::var("SKEDCAST_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether the suite runs on Postgres: `SKEDCAST_TEST_DATABASE` unset,
/// empty or `sqlite` means SQLite, `postgres` or `pg` means Postgres, and
/// anything else (a typo such as `postgress`) fails the test.
pub fn use_postgres() -> bool {
    let value = std::env::var_os("SKEDCAST_TEST_DATABASE");
    let value = value.as_ref().map(|v| v.to_string_lossy());
    test_database_is_postgres(value.as_deref()).unwrap_or_else(|e| panic!("{e}"))
}

/// The choice `use_postgres` makes from a `SKEDCAST_TEST_DATABASE` value.
pub fn test_database_is_postgres(value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("") | Some("sqlite") => Ok(false),
        Some("postgres") | Some("pg") => Ok(true),
        Some(other) => Err(format!(
            "SKEDCAST_TEST_DATABASE={other:?} is not a test database: \
             allowed values are `sqlite` (or unset) and `postgres` (or `pg`)"
        )),
    }
}

#[test]
fn an_unknown_test_database_is_an_error_not_sqlite() {
    for typo in ["postgress", "Postgres", "sqlite3", "mysql", " pg"] {
        let err = test_database_is_postgres(Some(typo)).expect_err(typo);
        assert!(
            err.contains("allowed values are `sqlite`") && err.contains("`postgres`"),
            "{err}"
        );
    }
    for (value, pg) in [
        (None, false),
        (Some(""), false),
        (Some("sqlite"), false),
        (Some("postgres"), true),
        (Some("pg"), true),
    ] {
        assert_eq!(test_database_is_postgres(value), Ok(pg), "{value:?}");
    }
}

/// The suite's own binary run with the typo: a test on `fresh_db` fails
/// saying the allowed values instead of quietly running on SQLite.
#[test]
fn a_misspelt_test_database_fails_the_tests_that_use_it() {
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "operations::start_up_warms_up_the_password_hasher",
            "--test-threads=1",
        ])
        .env("SKEDCAST_TEST_DATABASE", "postgress")
        .stdin(Stdio::null())
        .output()
        .expect("run the test binary");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "passed on a misspelt database: {all}"
    );
    assert!(all.contains("1 failed"), "{all}");
    assert!(
        all.contains("SKEDCAST_TEST_DATABASE=\"postgress\"")
            && all.contains("allowed values are `sqlite`"),
        "{all}"
    );
}

/// A database that disappears with the value.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn is_postgres(&self) -> bool {
        self.pg_name.is_some()
    }

    /// The same database under another URL (e.g. SQLite's `mode=ro`). The
    /// view owns nothing: the database goes with `self`.
    pub fn view(&self, url: String) -> TestDb {
        TestDb {
            url,
            pg_name: None,
            _dir: None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            // Drop runs outside async context guarantees: use a private runtime.
            let admin = pg_admin_url();
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(db) = sea_orm::Database::connect(admin).await {
                        use sea_orm::ConnectionTrait;
                        let _ = db
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// The suite's database: SQLite unless `SKEDCAST_TEST_DATABASE=postgres`.
pub async fn fresh_db() -> TestDb {
    if use_postgres() {
        fresh_pg_db().await
    } else {
        fresh_sqlite_db()
    }
}

pub fn fresh_sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/skedcast.db?mode=rwc", dir.path().display());
    TestDb {
        url,
        pg_name: None,
        _dir: Some(dir),
    }
}

/// A fresh Postgres database. The local server is started when it is
/// installed but not running; a Postgres that cannot be had fails the test
/// saying how to get one (never a silent skip).
pub async fn fresh_pg_db() -> TestDb {
    let admin = pg_admin_url();
    let db = provision::postgres(&admin).await;
    let name = format!("skedcast_t_{}", uuid::Uuid::new_v4().simple());
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
    let mut url = url::Url::parse(&admin).expect("admin url");
    url.set_path(&format!("/{name}"));
    TestDb {
        url: url.to_string(),
        pg_name: Some(name),
        _dir: None,
    }
}

/// Settings as the binary would load them, with `env` overrides
/// (`SKEDCAST__...` names).
pub fn settings(db_url: &str, issuer: &str, env: &[(&str, &str)]) -> Settings {
    let mut vars: Vec<(String, String)> = vec![
        ("SKEDCAST__DATABASE__URL".into(), db_url.into()),
        ("SKEDCAST__ISSUER".into(), issuer.into()),
        ("SKEDCAST__SERVER__BIND".into(), "127.0.0.1:0".into()),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::load_from(None, vars).expect("test settings")
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// The issuer: `http://127.0.0.1:PORT` (`http://localhost:PORT` from
    /// [`spawn_app_on_localhost`]), plus its path for an app from
    /// [`spawn_app_at_path`].
    pub base: String,
    pub state: Arc<AppState>,
    pub client: reqwest::Client,
    pub db: Arc<TestDb>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApp {
    /// `http://127.0.0.1:PORT`, without the issuer's path.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.json().await.expect("json")
    }

    /// Run the CLI against this app's database.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli(&self.db.url, args, &[])
    }
}

pub fn http_client() -> reqwest::Client {
    skedcast_auth::install_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The app on a fresh database of the suite's backend.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(Arc::new(fresh_db().await), &[]).await
}

/// The app on `db` with extra settings.
pub async fn spawn_app_with(db: Arc<TestDb>, env: &[(&str, &str)]) -> TestApp {
    spawn_app_observed(db, env).await.0
}

/// Requests the app is serving at once: now, and the most seen since the
/// last [`InFlight::reset`]. Counted around the whole endpoint, so a count
/// above one means requests were inside the server together.
#[derive(Default)]
pub struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
    total: AtomicUsize,
}

impl InFlight {
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    /// Requests that reached the app since it started.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.max
            .store(self.now.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    fn enter(self: &Arc<Self>) -> impl Drop {
        self.total.fetch_add(1, Ordering::SeqCst);
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
        struct Leave(Arc<InFlight>);
        impl Drop for Leave {
            fn drop(&mut self) {
                self.0.now.fetch_sub(1, Ordering::SeqCst);
            }
        }
        Leave(self.clone())
    }
}

/// An endpoint counted by an [`InFlight`].
struct Observed<E> {
    inner: E,
    in_flight: Arc<InFlight>,
}

impl<E: poem::Endpoint> poem::Endpoint for Observed<E> {
    type Output = E::Output;

    async fn call(&self, req: poem::Request) -> poem::Result<Self::Output> {
        let _inside = self.in_flight.enter();
        self.inner.call(req).await
    }
}

/// [`spawn_app_with`], and the count of requests in flight in it.
pub async fn spawn_app_observed(db: Arc<TestDb>, env: &[(&str, &str)]) -> (TestApp, Arc<InFlight>) {
    spawn_observed_at_path(db, "", env).await
}

/// The app with an issuer that has a path: `http://127.0.0.1:PORT{path}`
/// (e.g. `/tenant1`); `app.url(..)` and [`browser::Browser`] resolve
/// issuer-relative paths under it.
pub async fn spawn_app_at_path(db: Arc<TestDb>, path: &str, env: &[(&str, &str)]) -> TestApp {
    spawn_observed_at_path(db, path, env).await.0
}

/// Every SQL statement an app ran after its migrations, in order.
pub type SqlLog = Arc<std::sync::Mutex<Vec<sea_orm::Statement>>>;

/// The app on `db`, recording the SQL statements it runs into the log.
pub async fn spawn_app_recording_sql(db: Arc<TestDb>) -> (TestApp, SqlLog) {
    let log = SqlLog::default();
    let sink = log.clone();
    let on_query = Box::new(move |st: &sea_orm::Statement| {
        sink.lock().unwrap().push(st.clone());
    });
    let (app, _) = spawn_app_full(db, LOOPBACK, "", &[], Some(on_query)).await;
    (app, log)
}

async fn spawn_observed_at_path(
    db: Arc<TestDb>,
    path: &str,
    env: &[(&str, &str)],
) -> (TestApp, Arc<InFlight>) {
    spawn_app_full(db, LOOPBACK, path, env, None).await
}

/// The host of a test app's issuer: its listening address.
const LOOPBACK: &str = "127.0.0.1";

/// The app with its issuer at `http://localhost:PORT` (listening on
/// 127.0.0.1): a secure context with a domain name, which passkeys need
/// (an IP address cannot be a WebAuthn RP ID).
pub async fn spawn_app_on_localhost(db: Arc<TestDb>, env: &[(&str, &str)]) -> TestApp {
    spawn_app_full(db, "localhost", "", env, None).await.0
}

async fn spawn_app_full(
    db: Arc<TestDb>,
    issuer_host: &str,
    path: &str,
    env: &[(&str, &str)],
    on_query: Option<skedcast_auth::OnQuery>,
) -> (TestApp, Arc<InFlight>) {
    let in_flight = Arc::new(InFlight::default());
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind port 0");
    let addr = acceptor.local_addr()[0]
        .as_socket_addr()
        .copied()
        .expect("socket addr");
    let base = format!("http://{issuer_host}:{}{path}", addr.port());
    let app = App::build_observed(settings(&db.url, &base, env), on_query)
        .await
        .expect("app builds");
    let state = app.state.clone();
    let endpoint = Observed {
        inner: app.endpoint(),
        in_flight: in_flight.clone(),
    };
    let server = tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor)
            .run(endpoint)
            .await;
    });
    let app = TestApp {
        addr,
        base,
        state,
        client: http_client(),
        db,
        server,
    };
    (app, in_flight)
}

/// Run `skedcast-auth ARGS` with the database URL and extra environment.
pub fn cli(db_url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_skedcast-auth"));
    cmd.args(args)
        .env("SKEDCAST__DATABASE__URL", db_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run skedcast-auth")
}

/// Decode a JWT's header and claims without verifying (for assertions).
pub fn jwt_parts(token: &str) -> (serde_json::Value, serde_json::Value) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let header = b64.decode(parts.next().unwrap()).unwrap();
    let claims = b64.decode(parts.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&header).unwrap(),
        serde_json::from_slice(&claims).unwrap(),
    )
}

/// Verify an ES256 JWS against a JWKS with p256 (RustCrypto), independently
/// of the josekit/OpenSSL signer. Returns the claims.
pub fn verify_with_p256(
    token: &str,
    jwks: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    use base64::Engine;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (header, claims) = jwt_parts(token);
    if header["alg"] != "ES256" {
        return Err(format!("alg {}", header["alg"]));
    }
    let kid = header["kid"].as_str().ok_or("no kid")?;
    let jwk = jwks["keys"]
        .as_array()
        .ok_or("no keys")?
        .iter()
        .find(|k| k["kid"] == kid)
        .ok_or("kid not published")?;
    let x = b64
        .decode(jwk["x"].as_str().ok_or("x")?)
        .map_err(|e| e.to_string())?;
    let y = b64
        .decode(jwk["y"].as_str().ok_or("y")?)
        .map_err(|e| e.to_string())?;
    let mut sec1 = vec![0x04];
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    let vk = VerifyingKey::from_sec1_bytes(&sec1).map_err(|e| e.to_string())?;
    let (signing_input, sig) = token.rsplit_once('.').ok_or("no signature")?;
    let sig = b64.decode(sig).map_err(|e| e.to_string())?;
    let sig = Signature::from_slice(&sig).map_err(|e| e.to_string())?;
    vk.verify(signing_input.as_bytes(), &sig)
        .map_err(|e| e.to_string())?;
    Ok(claims)
}

/// Poll `check` every 50 ms until it holds, and return how long that took
/// since `since`; after `limit` the test fails naming `what`. For changes
/// that show after a cache or clock window: assert the window first, then
/// wait for the change with a margin far wider than the window.
pub async fn wait_until<F, Fut>(
    what: &str,
    since: std::time::Instant,
    limit: std::time::Duration,
    mut check: F,
) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    loop {
        if check().await {
            return since.elapsed();
        }
        assert!(since.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// How many `clients` rows the app's database holds.
pub async fn client_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::client::Entity::find()
        .count(&app.state.db)
        .await
        .expect("count")
}

/// Wait until at least `margin` seconds are left in the current one-minute
/// rate-limit window, so a test's requests fall into one window.
pub async fn away_from_window_edge(margin: i64) {
    let left = 60 - skedcast_auth::clock::now().rem_euclid(60);
    if left < margin {
        tokio::time::sleep(std::time::Duration::from_secs(left as u64 + 1)).await;
    }
}
