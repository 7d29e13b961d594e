//! What some tests need beyond Rust, provisioned by the test command itself
//! so that `cargo test --workspace` passes on a fresh Debian machine:
//! Chromium and chromedriver (the browser test), the official MCP Python
//! SDK in `target/venv-mcp` (the MCP SDK tests), Python authlib in
//! `target/venv-oidc` (the OpenID Connect relying-party test), oauthlib in
//! `target/venv-oauthlib` (the device CLI test), and the local Postgres
//! started when it is installed but stopped.
//!
//! Each tool is made at most once, under a lock held both within this
//! process (tests run in parallel threads) and across processes (a file
//! lock in the target dir: two `cargo test` runs may share it). A tool that
//! cannot be had fails the test saying how to get it: nothing skips.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The MCP SDK release the tests drive (tests/mcp_sdk/oauth_client.py).
pub const MCP_SDK: &str = "mcp==2.3.0";

static CHROMIUM: Mutex<()> = Mutex::new(());
static MCP_VENV: Mutex<()> = Mutex::new(());
static OIDC_VENV: Mutex<()> = Mutex::new(());
static OAUTHLIB_VENV: Mutex<()> = Mutex::new(());

/// The oauthlib release the device CLI test drives
/// (tests/device_cli/device_login.py): `DeviceClient` since 3.2.
pub const OAUTHLIB: &str = "oauthlib==3.2.2";

/// The OpenID Connect relying party the tests drive
/// (tests/oidc_client/authlib_flow.py) and its HTTP client, pinned.
pub const AUTHLIB: &[&str] = &["authlib==1.9.6", "requests==2.34.2"];
static POSTGRES: Mutex<()> = Mutex::new(());

/// Run `make` holding the in-process `mutex` and the file lock
/// `target/tmp/NAME.lock` (released when the file closes).
fn locked<T>(mutex: &Mutex<()>, name: &str, make: impl FnOnce() -> T) -> T {
    // A test that panicked while provisioning leaves the mutex poisoned;
    // the next one re-checks the tool anyway.
    let _guard = mutex.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(dir).expect("create the target tmp dir");
    let path = dir.join(format!("{name}.lock"));
    let file = File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
    make()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Run `sh -c SCRIPT`; on failure, the last lines of its output.
fn sh(script: &str) -> Result<(), String> {
    let out = Command::new("sh")
        .args(["-c", script])
        .output()
        .map_err(|e| format!("sh: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "`{script}` failed ({}):\n{}",
        out.status,
        tail.join("\n")
    ))
}

/// `$VAR` if set, else the first of `candidates` that exists.
fn find(var: &str, candidates: &[&str]) -> Option<String> {
    if let Ok(p) = std::env::var(var) {
        return Some(p);
    }
    candidates
        .iter()
        .find(|p| Path::new(p).exists())
        .map(|p| p.to_string())
}

/// The paths of Chromium and chromedriver (`CHROMIUM` / `CHROMEDRIVER`
/// override them). When missing and running as root, Debian's packages are
/// installed once; otherwise the test fails saying what to install.
pub fn chromium() -> (String, String) {
    let found = || {
        Some((
            find(
                "CHROMIUM",
                &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
            )?,
            find("CHROMEDRIVER", &["/usr/bin/chromedriver"])?,
        ))
    };
    if let Some(paths) = found() {
        return paths;
    }
    const HOW: &str = "the browser test needs Chromium and chromedriver: \
        `apt-get install chromium chromium-driver` (Debian), \
        or set CHROMIUM and CHROMEDRIVER to their paths";
    locked(&CHROMIUM, "chromium", || {
        if let Some(paths) = found() {
            return paths;
        }
        assert!(
            is_root(),
            "{HOW} (not root here, so not installed by the test)"
        );
        eprintln!("installing Debian's chromium and chromium-driver for the browser test");
        if let Err(e) = sh("apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y -qq chromium chromium-driver")
        {
            panic!("{HOW}; installing them failed: {e}");
        }
        found().unwrap_or_else(|| panic!("{HOW}; installed, yet not found"))
    })
}

/// The Python of `target/venv-mcp` with [`MCP_SDK`] installed, created
/// once. A marker written last tells a finished venv from one cut short.
pub fn mcp_python() -> PathBuf {
    python_venv(&MCP_VENV, "venv-mcp", &[MCP_SDK])
}

/// The Python of `target/venv-oidc` with [`AUTHLIB`] installed, created once.
pub fn oidc_python() -> PathBuf {
    python_venv(&OIDC_VENV, "venv-oidc", AUTHLIB)
}

/// The Python of `target/venv-oauthlib` with [`OAUTHLIB`] installed.
pub fn oauthlib_python() -> PathBuf {
    python_venv(&OAUTHLIB_VENV, "venv-oauthlib", &[OAUTHLIB])
}

/// The Python of `target/NAME` with the pinned `packages`, created once.
fn python_venv(mutex: &Mutex<()>, name: &str, packages: &[&str]) -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(name);
    let python = venv.join("bin/python");
    let marker = venv.join(".skedcast-ready");
    let pins = packages.join(" ");
    let ready = || std::fs::read_to_string(&marker).is_ok_and(|s| s.trim() == pins);
    if ready() {
        return python;
    }
    locked(mutex, name, || {
        if ready() {
            return;
        }
        let quoted: Vec<String> = packages.iter().map(|p| format!("'{p}'")).collect();
        let quoted = quoted.join(" ");
        let how = format!(
            "these tests need python3 with venv and pip (Debian: `apt-get install \
             python3-venv`) and access to PyPI: `python3 -m venv target/{name} && \
             target/{name}/bin/pip install {quoted}`"
        );
        // A venv without the marker is unfinished or an older version.
        if venv.exists() {
            std::fs::remove_dir_all(&venv)
                .unwrap_or_else(|e| panic!("remove {}: {e}", venv.display()));
        }
        let dir = venv.display();
        sh(&format!(
            "python3 -m venv '{dir}' && '{dir}/bin/python' -m pip install -q {quoted}"
        ))
        .unwrap_or_else(|e| panic!("{how}; creating it failed: {e}"));
        std::fs::write(&marker, &pins).expect("write the venv marker");
    });
    python
}

/// A connection to the Postgres at `admin`. When nothing answers there and
/// it is this machine's default cluster (127.0.0.1:5432), the installed
/// cluster is started once and waited for; a Postgres that cannot be had
/// fails the test saying how to get one.
pub async fn postgres(admin: &str) -> sea_orm::DatabaseConnection {
    let url = url::Url::parse(admin).expect("SKEDCAST_TEST_PG_URL is a URL");
    let host = url.host_str().unwrap_or("localhost").to_string();
    let port = url.port().unwrap_or(5432);
    let local = matches!(host.as_str(), "127.0.0.1" | "localhost") && port == 5432;
    let probe = (host.clone(), port);
    let up = tokio::task::spawn_blocking(move || {
        answers(&probe.0, probe.1) || (local && start_local_postgres())
    })
    .await
    .expect("probe Postgres");
    // sqlx retries while a just-started server is still starting up.
    let connected = if up {
        sea_orm::Database::connect(admin)
            .await
            .map_err(|e| e.to_string())
    } else {
        Err(format!("nothing answers at {host}:{port}"))
    };
    connected.unwrap_or_else(|e| {
        panic!(
            "Postgres at {admin} is not reachable ({e}). The Postgres tests need one: install \
             it (`apt-get install postgresql`, with `trust` for 127.0.0.1 in pg_hba.conf) and \
             start it (`pg_ctlcluster <version> main start`), or set SKEDCAST_TEST_PG_URL"
        )
    })
}

/// Whether a TCP connection to `host:port` opens within a second.
fn answers(host: &str, port: u16) -> bool {
    use std::net::ToSocketAddrs;
    (host, port).to_socket_addrs().is_ok_and(|mut addrs| {
        addrs.any(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(1)).is_ok())
    })
}

/// `pg_ctlcluster --skip-systemctl-redirect VERSION main start` for the
/// installed cluster, unless 127.0.0.1:5432 answers by now; true once it
/// answers (waits at most 30 s).
fn start_local_postgres() -> bool {
    let up = || answers("127.0.0.1", 5432);
    locked(&POSTGRES, "postgres", || {
        if up() {
            return true;
        }
        let Some(version) = std::fs::read_dir("/etc/postgresql")
            .ok()
            .and_then(|d| d.filter_map(Result::ok).next())
            .map(|e| e.file_name().to_string_lossy().into_owned())
        else {
            return false; // Not installed: the caller says how to get it.
        };
        eprintln!("starting the local Postgres {version} cluster");
        if let Err(e) = sh(&format!(
            "pg_ctlcluster --skip-systemctl-redirect {version} main start"
        )) {
            eprintln!("{e}");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !up() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        true
    })
}
