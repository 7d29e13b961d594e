//! Real `skedcast-auth` processes (for signals and many instances) and a
//! TCP proxy that can cut the database away.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running server process; killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub base: String,
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig}");
    }
}

/// Start `skedcast-auth serve` on port 0 with `env`; waits until it listens.
/// The issuer is set to the real address once known, so the process is
/// started with a placeholder and tests use `base` for requests.
pub fn start(db_url: &str, env: &[(&str, &str)]) -> Server {
    start_with_issuer(db_url, None, env)
}

/// As [`start`], on a fixed port (a restart on the same address).
pub fn start_with_issuer(db_url: &str, bind: Option<&str>, env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_skedcast-auth"));
    cmd.arg("serve")
        .env("SKEDCAST__DATABASE__URL", db_url)
        .env("SKEDCAST__SERVER__BIND", bind.unwrap_or("127.0.0.1:0"))
        .env("SKEDCAST__LOG__FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn skedcast-auth");
    let stderr = child.stderr.take().expect("stderr");
    let logs = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = logs.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["message"] == "skedcast-auth listening"
                && let Some(port) = v["address"]
                    .as_str()
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| p.parse::<u16>().ok())
            {
                let _ = tx.send(port);
            }
            if let Ok(mut l) = sink.lock() {
                l.push(line);
            }
        }
    });
    let port = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(p) => p,
        Err(_) => {
            let _ = child.kill();
            let logs = logs.lock().map(|l| l.join("\n")).unwrap_or_default();
            panic!("skedcast-auth did not start:\n{logs}");
        }
    };
    Server {
        child,
        port,
        base: format!("http://127.0.0.1:{port}"),
        logs,
    }
}

/// A TCP proxy to a database that the test can cut and restore.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(target: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                if let Ok(mut c) = conns2.lock() {
                    c.push(task);
                }
            }
        });
        Proxy { port, up, conns }
    }

    /// A database URL that goes through this proxy.
    pub fn url_for(&self, real: &str) -> String {
        let mut u = url::Url::parse(real).unwrap();
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(self.port)).unwrap();
        u.to_string()
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        if let Ok(mut c) = self.conns.lock() {
            for t in c.drain(..) {
                t.abort();
            }
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }

    /// The `host:port` of a Postgres URL.
    pub fn target_of(real: &str) -> String {
        let u = url::Url::parse(real).unwrap();
        format!("{}:{}", u.host_str().unwrap(), u.port().unwrap_or(5432))
    }
}

/// A member `ann@example.com` of agency Acme with `role` and the test
/// password, created straight in the database the processes share.
pub async fn seed_member(db_url: &str, role: &str) {
    let db = skedcast_auth::db::connect(
        &super::settings(db_url, "http://auth.skedcast.test", &[]).database,
    )
    .await
    .unwrap();
    skedcast_auth::db::migrate(&db).await.unwrap();
    use skedcast_auth::accounts;
    accounts::create_agency(&db, "Acme").await.unwrap();
    let hash = accounts::password::hash(super::browser::PASSWORD.into())
        .await
        .unwrap();
    accounts::create_user(&db, "ann@example.com", "Acme", role, Some(hash))
        .await
        .unwrap();
}
