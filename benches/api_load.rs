//! Load on `GET /v1/agency` with a valid access token: N keep-alive
//! connections over loopback for D seconds, each sending one request at a
//! time (like `wrk -c N`), through a minimal HTTP/1.1 client so the
//! generator costs as little CPU as possible. Prints requests/s and
//! latency percentiles.
//!
//! Run: `cargo bench --bench api_load`
//! Knobs (environment): API_LOAD_CONNECTIONS (64), API_LOAD_SECS (10),
//! API_LOAD_SERVER_THREADS (2), API_LOAD_CLIENT_THREADS (1),
//! API_LOAD_TOKEN_CACHE (10000; 0 = full ES256 check on every request),
//! API_LOAD_DPOP (0; 1 = a DPoP-bound token sent as `Authorization: DPoP`
//! with a fresh proof per request), API_LOAD_DPOP_PROOFS (300000: proofs
//! signed before the run, so the generator does no signing while measured;
//! a connection stops when they run out, which is reported).
//!
//! The auth server and the API run in this process on their own runtime;
//! the generator on another. On a 2-core machine both share the cores.

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use skedcast_auth::verify::dpop::testing::ProofKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let connections = env_or("API_LOAD_CONNECTIONS", 64);
    let secs = env_or("API_LOAD_SECS", 10) as u64;
    let server_threads = env_or("API_LOAD_SERVER_THREADS", 2);
    let client_threads = env_or("API_LOAD_CLIENT_THREADS", 1);
    let token_cache = env_or("API_LOAD_TOKEN_CACHE", 10_000).to_string();
    let dpop = env_or("API_LOAD_DPOP", 0) == 1;
    let proofs = env_or("API_LOAD_DPOP_PROOFS", 300_000);
    let replay_size = proofs.to_string();

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .enable_all()
        .build()
        .expect("server runtime");
    let key = ProofKey::es256();
    let (services, token) = server_rt.block_on(async {
        let s = support::start(&[
            ("SKEDCAST_API__VERIFY__TOKEN_CACHE_SIZE", &token_cache),
            // Every proof of the run is remembered within its window.
            ("SKEDCAST_API__DPOP__REPLAY_CACHE_SIZE", &replay_size),
        ])
        .await;
        let jkt = key.jkt();
        let t = s.token_bound(3600, dpop.then_some(jkt.as_str())).await;
        (s, t)
    });
    let addr = services.api_addr;
    let requests = if dpop {
        let htu = format!("{}/v1/agency", services.api_base);
        let now = skedcast_auth::clock::now();
        let started = Instant::now();
        let all: Vec<Vec<u8>> = (0..proofs)
            .map(|_| {
                let p = key.proof("GET", &htu, now, Some(&token), None);
                format!(
                    "GET /v1/agency HTTP/1.1\r\nHost: {addr}\r\nAuthorization: DPoP {token}\r\nDPoP: {p}\r\n\r\n"
                )
                .into_bytes()
            })
            .collect();
        println!(
            "  ({proofs} proofs signed in {:.1} s)",
            started.elapsed().as_secs_f64()
        );
        Requests::Each(Arc::new(std::sync::Mutex::new(all)))
    } else {
        Requests::Same(Arc::new(
            format!(
                "GET /v1/agency HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            .into_bytes(),
        ))
    };

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .enable_all()
        .build()
        .expect("client runtime");
    let (count, errors, mut latencies, elapsed) = client_rt.block_on(async move {
        // Warm up (connections, caches) for one second, then measure.
        run(addr, requests.clone(), connections, Duration::from_secs(1)).await;
        run(addr, requests, connections, Duration::from_secs(secs)).await
    });
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map(|us| *us as f64 / 1000.0)
            .unwrap_or(f64::NAN)
    };
    let how = if dpop {
        "DPoP-bound ES256 JWT + ES256 proof"
    } else {
        "valid ES256 JWT, Bearer"
    };
    println!(
        "GET /v1/agency ({how}, token cache {token_cache}): {connections} connections, \
         {:.1} s, server threads {server_threads}, client threads {client_threads}",
        elapsed.as_secs_f64()
    );
    println!(
        "  {count} requests, {errors} errors, {:.0} req/s",
        count as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0)
    );
    drop(services);
    server_rt.shutdown_timeout(Duration::from_secs(1));
}

/// What each connection sends: one request again and again, or each of a
/// pool once (DPoP: a fresh proof per request).
#[derive(Clone)]
enum Requests {
    Same(Arc<Vec<u8>>),
    Each(Arc<std::sync::Mutex<Vec<Vec<u8>>>>),
}

impl Requests {
    fn next(&self) -> Option<Arc<Vec<u8>>> {
        match self {
            Requests::Same(r) => Some(r.clone()),
            Requests::Each(pool) => pool.lock().unwrap().pop().map(Arc::new),
        }
    }
}

/// Requests completed, non-200 answers, latencies (µs), elapsed time (until
/// the stop, or until the last connection ran out of requests).
async fn run(
    addr: std::net::SocketAddr,
    requests: Requests,
    connections: usize,
    duration: Duration,
) -> (u64, u64, Vec<u32>, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (requests, stop) = (requests.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = TcpStream::connect(addr).await.expect("connect");
            conn.set_nodelay(true).ok();
            let mut buf = vec![0u8; 16 * 1024];
            let (mut n, mut errors, mut lat) = (0u64, 0u64, Vec::with_capacity(1 << 16));
            while !stop.load(Ordering::Relaxed) {
                let Some(request) = requests.next() else {
                    eprintln!("  out of prepared requests: raise API_LOAD_DPOP_PROOFS");
                    break;
                };
                let t = Instant::now();
                conn.write_all(&request).await.expect("write");
                let status = read_response(&mut conn, &mut buf).await.expect("read");
                lat.push(t.elapsed().as_micros() as u32);
                n += 1;
                if status != 200 {
                    errors += 1;
                }
            }
            (n, errors, lat, Instant::now())
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let (mut count, mut errors, mut all, mut end) = (0, 0, Vec::new(), start);
    for t in tasks {
        let (n, e, lat, ended) = t.await.expect("task");
        end = end.max(ended);
        count += n;
        errors += e;
        all.extend(lat);
    }
    (count, errors, all, end - start)
}

/// Read one HTTP/1.1 response with a Content-Length body; its status.
async fn read_response(conn: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<u16> {
    let mut len = 0;
    loop {
        let n = conn.read(&mut buf[len..]).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        len += n;
        let Some(end) = buf[..len].windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buf[..end]).unwrap_or("");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body_len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let total = end + 4 + body_len;
        while len < total {
            let n = conn.read(&mut buf[len..]).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            len += n;
        }
        return Ok(status);
    }
}
