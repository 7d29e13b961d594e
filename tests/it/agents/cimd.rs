//! Client ID Metadata Documents end to end: a document served by a small
//! HTTP server inside the test (on loopback, allowed by the test-only
//! `cimd.allow_loopback` switch), the whole flow with `client_id` = the
//! document URL, every way a document can be refused, the database-shared
//! cache, and the SSRF rules with the switch off (nothing is ever sent).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::browser::*;
use crate::support::*;
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the document server answers on one path.
#[derive(Clone)]
pub(super) struct Answer {
    status: u16,
    content_type: String,
    cache_control: Option<String>,
    location: Option<String>,
    body: Vec<u8>,
    /// Sent without Content-Length (the body ends when the connection does).
    no_length: bool,
    /// Wait before answering.
    delay: Duration,
}

impl Answer {
    pub(super) fn json(v: &Value) -> Answer {
        Answer {
            status: 200,
            content_type: "application/json".into(),
            cache_control: Some("public, max-age=3600".into()),
            location: None,
            body: v.to_string().into_bytes(),
            no_length: false,
            delay: Duration::ZERO,
        }
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 that counts connections and
/// requests per path.
pub(super) struct DocServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DocServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DocServer {
    pub(super) async fn start() -> DocServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let answers: Arc<Mutex<HashMap<String, Answer>>> = Arc::default();
        let (c, h, a) = (connections.clone(), hits.clone(), answers.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                let (h, a) = (h.clone(), a.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                    *h.lock().unwrap().entry(path.clone()).or_default() += 1;
                    let answer = a.lock().unwrap().get(&path).cloned();
                    let Some(ans) = answer else {
                        let _ = sock
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                            .await;
                        return;
                    };
                    tokio::time::sleep(ans.delay).await;
                    let mut out = format!(
                        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nConnection: close\r\n",
                        ans.status, ans.content_type
                    );
                    if let Some(cc) = &ans.cache_control {
                        out.push_str(&format!("Cache-Control: {cc}\r\n"));
                    }
                    if let Some(loc) = &ans.location {
                        out.push_str(&format!("Location: {loc}\r\n"));
                    }
                    if !ans.no_length {
                        out.push_str(&format!("Content-Length: {}\r\n", ans.body.len()));
                    }
                    out.push_str("\r\n");
                    let _ = sock.write_all(out.as_bytes()).await;
                    let _ = sock.write_all(&ans.body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        DocServer {
            addr,
            connections,
            hits,
            answers,
            task,
        }
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn host(&self) -> String {
        self.addr.to_string()
    }

    pub(super) fn serve(&self, path: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(path.into(), answer);
    }

    pub(super) fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A good document for `url`.
fn document(url: &str) -> Value {
    json!({
        "client_id": url,
        "client_name": "Research Agent",
        "client_uri": "https://agent.example",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "agency:read posts:read offline_access",
    })
}

/// What a client is told for every refused address.
const REFUSED: &str = skedcast_auth::oauth::client::metadata_document::address::REFUSED_ADDRESS;

pub(super) const LOOPBACK_ON: &[(&str, &str)] = &[
    ("SKEDCAST__CIMD__ALLOW_LOOPBACK", "true"),
    ("SKEDCAST__CIMD__FETCH_TIMEOUT_SECS", "1"),
];

async fn app_with_loopback() -> TestApp {
    spawn_app_with(Arc::new(fresh_db().await), LOOPBACK_ON).await
}

async fn token(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// A refresh attempt naming a document URL as the client.
async fn refresh_as(app: &TestApp, client_id: &str) -> reqwest::Response {
    token(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", "x"),
        ],
    )
    .await
}

async fn error_of(resp: reqwest::Response) -> (StatusCode, String, String) {
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    (
        status,
        v["error"].as_str().unwrap_or_default().to_string(),
        v["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// An authorization request for a document client must end on an error
/// page (400, HTML, no redirect) that says `needle`.
async fn assert_error_page(app: &TestApp, url: &str, extra: &[(&str, &str)], needle: &str) {
    let resp = app.get(&authorize_url(url, extra)).await;
    assert_eq!(resp.status(), 400, "{url}");
    assert!(resp.headers().get("location").is_none(), "{url}");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = resp.text().await.unwrap();
    let page = page
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'");
    assert!(page.contains(needle), "{url}: {needle:?} not in {page}");
}

async fn client_row(app: &TestApp, id: &str) -> Option<entity::client::Model> {
    entity::client::Entity::find_by_id(id.to_string())
        .one(&app.state.db)
        .await
        .unwrap()
}

/// Redeems `code` for the document client `client_id` with the test's
/// verifier and redirect URI.
async fn redeem_code(app: &TestApp, client_id: &str, code: &str) -> reqwest::Response {
    token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await
}

#[tokio::test]
async fn full_flow_with_a_metadata_document() {
    let docs = DocServer::start().await;
    let app = app_with_loopback().await;
    let user_id = member(&app, "ann@example.com", "Acme", "owner").await;
    let url = docs.url("/clients/agent.json");
    docs.serve("/clients/agent.json", Answer::json(&document(&url)));

    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["client_id_metadata_document_supported"], true);

    // Sign in, then the consent page names the app and, prominently, the
    // host its client_id URL is on.
    let scope = "agency:read posts:read offline_access";
    let mut b = Browser::new(&app);
    let resp = b.get(&authorize_url(&url, &[("scope", scope)])).await;
    assert_eq!(resp.status(), 302);
    let next = location(&resp);
    assert!(next.starts_with("/login"), "{next}");
    let signed = b
        .sign_in("ann@example.com", PASSWORD, Some(&next_param(&next)))
        .await;
    assert_eq!(signed.status(), 303);
    let resp = b.get(&location(&signed)).await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    let host = docs.host();
    assert!(page.contains("Research Agent"), "{page}");
    assert!(
        page.contains(&format!("from <span class=\"host\">{host}</span>")),
        "the host is next to the name: {page}"
    );
    assert!(page.contains("published at"), "{page}");
    // Every redirect URI is loopback: the existing warning shows.
    assert!(page.contains("runs on your own device"), "{page}");
    let mut form = hidden_fields(&page);
    form.push(("decision".into(), "allow".into()));
    let resp = b.post_form("/oauth/authorize", &form).await;
    assert_eq!(resp.status(), 303);
    let params = location_params(&resp);
    assert_eq!(params["iss"], app.base);
    assert_eq!(params["state"], "st-123");
    let code = params["code"].clone();

    // Code → tokens, as a public client named by its URL.
    let resp = redeem_code(&app, &url, &code).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scope"], "agency:read posts:read");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["client_id"], url);
    assert_eq!(claims["sub"], user_id);
    let rt = body["refresh_token"].as_str().unwrap().to_string();

    // Refresh rotates; the client is still the document.
    let resp = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &url),
            ("refresh_token", &rt),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let rt2 = body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt, rt2);

    // A secret is never accepted for such a client.
    let resp = app
        .client
        .post(app.url("/oauth/token"))
        .basic_auth(&url, Some("guess"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &rt2)])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(resp).await.1, "invalid_client");

    // Revocation as that client ends the grant.
    let resp = app
        .client
        .post(app.url("/oauth/revoke"))
        .form(&[("client_id", url.as_str()), ("token", rt2.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &url),
            ("refresh_token", &rt2),
        ],
    )
    .await;
    assert_eq!(error_of(resp).await.1, "invalid_grant");

    // One fetch served the whole flow; the client is stored as public.
    assert_eq!(docs.hits("/clients/agent.json"), 1);
    let row = client_row(&app, &url).await.unwrap();
    assert_eq!(row.kind.as_str(), "cimd");
    assert_eq!(row.token_endpoint_auth_method.as_str(), "none");
    assert!(row.client_secret_hash.is_none() && row.registration_token_hash.is_none());
    // It is not manageable over RFC 7592.
    let resp = app
        .client
        .get(app.url(&format!("/oauth/register/{}", urlencode(&url))))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

/// The `next` parameter of a `/login?next=...` location.
fn next_param(login_location: &str) -> String {
    let u = url::Url::parse(&format!("http://x{login_location}")).unwrap();
    u.query_pairs()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

#[tokio::test]
async fn bad_documents_are_error_pages_and_invalid_client() {
    let docs = DocServer::start().await;
    let app = app_with_loopback().await;
    let u = |p: &str| docs.url(p);

    let mut other = document(&u("/mismatch.json"));
    other["client_id"] = json!(u("/someone-else.json"));
    docs.serve("/mismatch.json", Answer::json(&other));

    docs.serve("/good.json", Answer::json(&document(&u("/good.json"))));

    let big_doc = {
        let mut d = document(&u("/big.json"));
        d["padding"] = json!("x".repeat(100 * 1024));
        d
    };
    docs.serve("/big.json", Answer::json(&big_doc));
    let mut streamed = document(&u("/streamed.json"));
    streamed["padding"] = json!("x".repeat(100 * 1024));
    docs.serve(
        "/streamed.json",
        Answer {
            no_length: true,
            ..Answer::json(&streamed)
        },
    );
    docs.serve(
        "/slow.json",
        Answer {
            delay: Duration::from_secs(60),
            ..Answer::json(&document(&u("/slow.json")))
        },
    );
    docs.serve(
        "/html.json",
        Answer {
            content_type: "text/html".into(),
            ..Answer::json(&document(&u("/html.json")))
        },
    );
    docs.serve(
        "/broken.json",
        Answer {
            body: b"{\"client_id\": ".to_vec(),
            ..Answer::json(&json!({}))
        },
    );
    let mut secret = document(&u("/secret.json"));
    secret["token_endpoint_auth_method"] = json!("client_secret_basic");
    docs.serve("/secret.json", Answer::json(&secret));
    let mut web_loopback = document(&u("/web.json"));
    web_loopback["application_type"] = json!("web");
    docs.serve("/web.json", Answer::json(&web_loopback));
    // Issue 13 item 14: the same validator as registration.
    let mut backslash = document(&u("/backslash.json"));
    backslash["redirect_uris"] = json!([REDIRECT, "http://127.0.0.1\\@evil.example/cb"]);
    docs.serve("/backslash.json", Answer::json(&backslash));
    let mut bidi = document(&u("/bidi.json"));
    bidi["client_name"] = json!("Research \u{202E}tnegA");
    docs.serve("/bidi.json", Answer::json(&bidi));
    docs.serve(
        "/moved.json",
        Answer {
            status: 302,
            location: Some(u("/good.json")),
            ..Answer::json(&json!({}))
        },
    );

    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        ("/mismatch.json", &[], "is not its URL"),
        (
            "/good.json",
            &[("redirect_uri", "http://127.0.0.1/elsewhere")],
            "The redirect_uri is not registered for this client",
        ),
        ("/big.json", &[], "larger than 64 KiB"),
        ("/streamed.json", &[], "larger than 64 KiB"),
        ("/html.json", &[], "is not JSON (Content-Type 'text/html'"),
        ("/broken.json", &[], "the document is not valid JSON"),
        ("/secret.json", &[], "has no secret"),
        ("/web.json", &[], "application_type web"),
        ("/backslash.json", &[], "must not contain a backslash"),
        (
            "/bidi.json",
            &[],
            "client_name must not contain format characters",
        ),
        ("/moved.json", &[], "redirects are not followed"),
        ("/missing.json", &[], "answered HTTP 404"),
    ];
    for (path, extra, needle) in cases {
        assert_error_page(&app, &u(path), extra, needle).await;
    }
    // The redirect was not followed.
    assert_eq!(docs.hits("/good.json"), 1);

    // Too slow: cut at the configured 1 s, without waiting for the server
    // (which would answer after 60 s: the margin is wide, not a race).
    let started = Instant::now();
    assert_error_page(&app, &u("/slow.json"), &[], "did not arrive within 1 s").await;
    assert!(started.elapsed() < Duration::from_secs(30));

    // Nothing was stored for a refused document.
    for (path, _, _) in cases.iter().filter(|(p, _, _)| *p != "/good.json") {
        assert!(client_row(&app, &u(path)).await.is_none(), "{path}");
    }

    // At the token endpoint the same documents are invalid_client (401).
    for path in ["/mismatch.json", "/big.json", "/html.json", "/missing.json"] {
        let resp = token(
            &app,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &u(path)),
                ("code", "x"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
        let (status, error, description) = error_of(resp).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{path}"
        );
        assert!(
            description.contains("client metadata document"),
            "{description}"
        );
    }
}

/// A document client a member authorized is stored with its cache entry
/// in the database, shared by every instance; before that each instance
/// keeps it in memory.
#[tokio::test]
async fn documents_are_cached_in_the_database_for_every_instance() {
    let docs = DocServer::start().await;
    let db = Arc::new(fresh_db().await);
    let one = spawn_app_with(db.clone(), LOOPBACK_ON).await;
    let two = spawn_app_with(db.clone(), LOOPBACK_ON).await;
    member(&one, "ann@example.com", "Acme", "owner").await;
    let path = "/cached.json";
    let url = docs.url(path);
    docs.serve(path, Answer::json(&document(&url)));

    // Signed out: validated (and fetched once, then from memory), then
    // sent to sign in.
    for _ in 0..2 {
        let resp = one.get(&authorize_url(&url, &[])).await;
        assert_eq!(resp.status(), 302);
        assert!(location(&resp).starts_with("/login"));
    }
    assert_eq!(docs.hits(path), 1);
    // A member allows it: stored for every instance.
    let mut b = Browser::new(&one);
    let resp = authorize_with_consent(&one, &mut b, &url, "ann@example.com", &[]).await;
    assert_eq!(resp.status(), 303);
    let resp = two.get(&authorize_url(&url, &[])).await;
    assert_eq!(resp.status(), 302);
    // The token endpoint of the other instance uses the same cache entry.
    let resp = token(
        &two,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &url),
            ("refresh_token", "unknown"),
        ],
    )
    .await;
    assert_eq!(error_of(resp).await.1, "invalid_grant");
    assert_eq!(docs.hits(path), 1, "one fetch for both instances");

    // The lifetime follows Cache-Control (max-age=3600), within the bounds.
    let entry = entity::client_metadata_document::Entity::find_by_id(url.clone())
        .one(&one.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.expires_at - entry.fetched_at, 3600);

    // Once the entry expires the document is fetched again and the stored
    // client follows it.
    let mut changed = document(&url);
    changed["client_name"] = json!("Research Agent 2");
    // Every field follows, the security flags too.
    changed["dpop_bound_access_tokens"] = json!(true);
    changed["require_pushed_authorization_requests"] = json!(true);
    docs.serve(path, Answer::json(&changed));
    entity::client_metadata_document::Entity::update_many()
        .col_expr(
            entity::client_metadata_document::Column::ExpiresAt,
            Expr::value(0i64),
        )
        .filter(entity::client_metadata_document::Column::Url.eq(url.as_str()))
        .exec(&one.state.db)
        .await
        .unwrap();
    let resp = two.get(&authorize_url(&url, &[])).await;
    assert_eq!(resp.status(), 302);
    assert_eq!(docs.hits(path), 2);
    let row = client_row(&one, &url).await.unwrap();
    assert_eq!(row.client_name.as_deref(), Some("Research Agent 2"));
    assert!(
        row.dpop_bound_access_tokens,
        "dpop_bound_access_tokens follows"
    );
    assert!(
        row.require_pushed_authorization_requests,
        "require_pushed_authorization_requests follows"
    );

    // A document that went bad after expiry makes the client unusable.
    docs.serve(path, Answer::json(&json!({"client_id": "nope"})));
    entity::client_metadata_document::Entity::update_many()
        .col_expr(
            entity::client_metadata_document::Column::ExpiresAt,
            Expr::value(0i64),
        )
        .exec(&one.state.db)
        .await
        .unwrap();
    assert_error_page(&one, &url, &[], "is not its URL").await;

    // A short max-age is raised to the 5-minute floor.
    let short = "/short.json";
    let short_url = docs.url(short);
    docs.serve(
        short,
        Answer {
            cache_control: Some("max-age=5".into()),
            ..Answer::json(&document(&short_url))
        },
    );
    let resp = authorize_with_consent(&one, &mut b, &short_url, "ann@example.com", &[]).await;
    assert_eq!(resp.status(), 303);
    let entry = entity::client_metadata_document::Entity::find_by_id(short_url)
        .one(&one.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.expires_at - entry.fetched_at, 300);
}

#[tokio::test]
async fn ssrf_rules_refuse_before_sending_anything() {
    let docs = DocServer::start().await;
    // The default configuration: loopback refused.
    let app = spawn_app().await;
    let port = docs.addr.port();
    docs.serve("/agent.json", Answer::json(&json!({})));
    let cases = [
        (format!("https://127.0.0.1:{port}/agent.json"), REFUSED),
        ("https://10.0.0.1/agent.json".to_string(), REFUSED),
        (
            "https://169.254.169.254/latest/meta-data.json".to_string(),
            REFUSED,
        ),
        (format!("https://[::1]:{port}/agent.json"), REFUSED),
        (format!("https://localhost:{port}/agent.json"), REFUSED),
        (
            format!("http://127.0.0.1:{port}/agent.json"),
            "must use https",
        ),
        ("https://[::ffff:a9fe:a9fe]/agent.json".to_string(), REFUSED),
    ];
    for (url, needle) in &cases {
        assert_error_page(&app, url, &[], needle).await;
        let resp = refresh_as(&app, url).await;
        let (status, error, _) = error_of(resp).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{url}"
        );
    }
    assert_eq!(docs.connections(), 0, "no request reached the server");

    // The test switch admits loopback, and only loopback.
    let lenient = app_with_loopback().await;
    for (url, needle) in [
        ("https://10.0.0.1/agent.json", REFUSED),
        ("https://169.254.169.254/agent.json", REFUSED),
        ("https://[fd00::1]/agent.json", REFUSED),
        ("https://[::ffff:0:7f00:1]/agent.json", REFUSED),
        ("http://10.0.0.1/agent.json", "must use https"),
    ] {
        assert_error_page(&lenient, url, &[], needle).await;
    }
    assert_eq!(docs.connections(), 0);
}

#[tokio::test]
async fn switched_off_url_client_ids_are_unknown() {
    let docs = DocServer::start().await;
    let app = spawn_app_with(
        Arc::new(fresh_db().await),
        &[
            ("SKEDCAST__CIMD__ENABLED", "false"),
            ("SKEDCAST__CIMD__ALLOW_LOOPBACK", "true"),
        ],
    )
    .await;
    let url = docs.url("/agent.json");
    docs.serve("/agent.json", Answer::json(&document(&url)));
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["client_id_metadata_document_supported"], false);
    assert_error_page(&app, &url, &[], "Unknown client").await;
    assert_eq!(docs.connections(), 0);
}

/// With `cimd.enabled` off, a document client that is already stored (it
/// authorized, holds a code, a refresh token and an access token) is
/// unknown everywhere: the authorize page, code and refresh grants and
/// revocation (`invalid_client`), introspection (its tokens inactive). The
/// instance with the switch on still serves the same grant afterwards.
#[tokio::test]
async fn switched_off_stored_document_clients_are_unknown_everywhere() {
    use crate::support::flow::resource_server;
    use crate::support::token::{inactive, introspect};

    let docs = DocServer::start().await;
    let db = Arc::new(fresh_db().await);
    let on = spawn_app_with(db.clone(), LOOPBACK_ON).await;
    // The same issuer, so that each instance accepts the other's tokens.
    let off = spawn_app_with(
        db.clone(),
        &[
            ("SKEDCAST__CIMD__ENABLED", "false"),
            ("SKEDCAST__CIMD__ALLOW_LOOPBACK", "true"),
            ("SKEDCAST__ISSUER", on.base.as_str()),
        ],
    )
    .await;
    member(&on, "ann@example.com", "Acme", "owner").await;
    let url = docs.url("/agent.json");
    docs.serve("/agent.json", Answer::json(&document(&url)));

    // Authorized with the switch on: consent, a code, tokens, and a second
    // code (remembered consent) kept for later.
    let scope = &[("scope", "agency:read posts:read offline_access")];
    let mut b = Browser::new(&on);
    let resp = b.get(&authorize_url(&url, scope)).await;
    let next = next_param(&location(&resp));
    let signed = b.sign_in("ann@example.com", PASSWORD, Some(&next)).await;
    let page = b.get(&location(&signed)).await.text().await.unwrap();
    let mut form = hidden_fields(&page);
    form.push(("decision".into(), "allow".into()));
    let code = location_params(&b.post_form("/oauth/authorize", &form).await)["code"].clone();
    let resp = b.get(&authorize_url(&url, scope)).await;
    assert_eq!(resp.status(), 302);
    let code2 = location_params(&resp)["code"].clone();
    let redeem = |code: String| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", url.clone()),
            ("code", code),
            ("code_verifier", VERIFIER.to_string()),
            ("redirect_uri", REDIRECT.to_string()),
        ]
    };
    let form_of = |f: &[(&'static str, String)]| -> Vec<(&'static str, String)> { f.to_vec() };
    let post = |app: &TestApp, path: &str, form: Vec<(&'static str, String)>| {
        app.client.post(app.url(path)).form(&form).send()
    };
    let resp = post(&on, "/oauth/token", redeem(code)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let at = body["access_token"].as_str().unwrap().to_string();
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    let rs = resource_server(&on);
    assert_eq!(introspect(&on, &rs, &at).await["active"], true);
    // Refresh tokens are never revealed to resource servers (issue 13).
    assert_eq!(introspect(&on, &rs, &rt).await, inactive());
    assert!(client_row(&on, &url).await.is_some());
    let refresh = form_of(&[
        ("grant_type", "refresh_token".into()),
        ("client_id", url.clone()),
        ("refresh_token", rt.clone()),
    ]);

    // Switched off: the authorize page does not know the client...
    assert_error_page(&off, &url, scope, "Unknown client").await;
    // ...nor do the token and revocation endpoints...
    for (path, form) in [
        ("/oauth/token", redeem(code2.clone())),
        ("/oauth/token", refresh.clone()),
        (
            "/oauth/revoke",
            form_of(&[("client_id", url.clone()), ("token", rt.clone())]),
        ),
        (
            "/oauth/introspect",
            form_of(&[("client_id", url.clone()), ("token", at.clone())]),
        ),
    ] {
        let (status, error, _) = error_of(post(&off, path, form).await.unwrap()).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{path}"
        );
    }
    // ...and its tokens are inactive to resource servers (a token of
    // another client is not).
    let other = public_client(&on, json!({})).await;
    let other_id = other["client_id"].as_str().unwrap();
    let resp = authorize_with_consent(&on, &mut b, other_id, "ann@example.com", &[]).await;
    let other_code = location_params(&resp)["code"].clone();
    let resp = redeem_code(&on, other_id, &other_code).await;
    let other_at = resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(introspect(&off, &rs, &other_at).await["active"], true);
    assert_eq!(introspect(&off, &rs, &at).await, inactive());
    assert_eq!(introspect(&off, &rs, &rt).await, inactive());
    assert_eq!(docs.hits("/agent.json"), 1, "nothing fetched while off");

    // Nothing was consumed or revoked: switched on, the grant goes on.
    let resp = post(&on, "/oauth/token", refresh).await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = post(&on, "/oauth/token", redeem(code2)).await.unwrap();
    assert_eq!(resp.status(), 200);
}

/// Every refused address gets the same description, whatever the host
/// resolved to, or whether it resolved at all: no resolved IP, no
/// "does not resolve" (the server's DNS answers are not for the asking).
#[tokio::test]
async fn refused_addresses_get_one_description_whatever_dns_said() {
    let docs = DocServer::start().await;
    let app = spawn_app().await;
    let port = docs.addr.port();
    let urls = [
        // Resolves (hosts file) to loopback.
        format!("https://localhost:{port}/agent.json"),
        // Does not resolve (RFC 6761 .invalid).
        "https://no-such-host.invalid/agent.json".to_string(),
        // Literal addresses.
        "https://10.0.0.1/agent.json".to_string(),
        "https://[::ffff:0:a00:1]/agent.json".to_string(),
    ];
    let mut descriptions = Vec::new();
    for url in &urls {
        assert_error_page(&app, url, &[], REFUSED).await;
        let resp = refresh_as(&app, url).await;
        let (status, error, description) = error_of(resp).await;
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
        descriptions.push(description.replace(url.as_str(), "URL"));
    }
    for d in &descriptions {
        assert_eq!(d, &descriptions[0]);
        for leak in [
            "127.0.0.1",
            "::1",
            "resolve",
            "loopback",
            "private",
            "no address",
        ] {
            assert!(!d.contains(leak), "{leak} in {d}");
        }
    }
    assert!(descriptions[0].contains(REFUSED), "{}", descriptions[0]);
    assert_eq!(docs.connections(), 0);
}

/// The fetches a document server saw, all paths together.
fn all_hits(docs: &DocServer) -> usize {
    docs.hits.lock().unwrap().values().sum()
}

/// A request to `endpoint` naming `client_id` as a public client: a refresh
/// at the token endpoint, a revocation, or an introspection.
async fn use_as_client(app: &TestApp, endpoint: &str, client_id: &str) -> reqwest::Response {
    let form: Vec<(&str, &str)> = match endpoint {
        "/oauth/token" => vec![
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", "x"),
        ],
        _ => vec![("client_id", client_id), ("token", "x")],
    };
    app.client
        .post(app.url(endpoint))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Asserts a `429 too_many_requests` JSON answer with `Retry-After`; its
/// description.
async fn assert_too_many(resp: reqwest::Response) -> String {
    let retry: u64 = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let (status, error, description) = error_of(resp).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
        "{description}"
    );
    description
}

/// Issue 13 item 4: every new document URL used to cost a fetch and a
/// stored client row, without limit. Fetches are now limited per client
/// address (20 a minute by default) at the token, revocation and
/// introspection endpoints and the authorize page alike, and a document
/// nobody authorized is never stored.
#[tokio::test]
async fn document_fetches_are_limited_per_address_and_store_nothing() {
    let docs = DocServer::start().await;
    let app = app_with_loopback().await;
    let rows = client_count(&app).await;
    away_from_window_edge(20).await;
    let endpoints = ["/oauth/token", "/oauth/revoke", "/oauth/introspect"];
    for i in 0..60 {
        let path = format!("/agents/{i}.json");
        let url = docs.url(&path);
        docs.serve(&path, Answer::json(&document(&url)));
        let endpoint = endpoints[i % endpoints.len()];
        let resp = use_as_client(&app, endpoint, &url).await;
        if i < 20 {
            assert!(
                resp.status() != 429 && !resp.status().is_server_error(),
                "{i} {endpoint}: {}",
                resp.status()
            );
        } else {
            let description = assert_too_many(resp).await;
            assert!(description.contains("limit 20 per minute"), "{description}");
        }
    }
    assert_eq!(all_hits(&docs), 20, "one fetch per request under the limit");
    // The authorize page: a 429 page with Retry-After, nothing fetched.
    let path = "/agents/page.json";
    let url = docs.url(path);
    docs.serve(path, Answer::json(&document(&url)));
    let resp = app.get(&authorize_url(&url, &[])).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    assert!(resp.headers().get("location").is_none());
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(docs.hits(path), 0);
    // A document already fetched is answered from memory: no fetch, no 429.
    let resp = use_as_client(&app, "/oauth/token", &docs.url("/agents/0.json")).await;
    assert_eq!(error_of(resp).await.1, "invalid_grant");
    assert_eq!(all_hits(&docs), 20);
    assert_eq!(client_count(&app).await, rows, "no client row was stored");
}

/// The per-host limit holds whoever asks: requests from four client
/// addresses for four documents on one host, with a host limit of 3.
#[tokio::test]
async fn document_fetches_are_limited_per_host() {
    let docs = DocServer::start().await;
    let app = spawn_app_with(
        Arc::new(fresh_db().await),
        &[
            ("SKEDCAST__CIMD__ALLOW_LOOPBACK", "true"),
            ("SKEDCAST__CIMD__FETCHES_PER_MINUTE_PER_HOST", "3"),
        ],
    )
    .await;
    away_from_window_edge(15).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let path = format!("/agents/{i}.json");
        let url = docs.url(&path);
        docs.serve(&path, Answer::json(&document(&url)));
        let b = Browser::from_ip(&app, &format!("127.0.0.{}", i + 2));
        let resp = b
            .client
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", url.as_str()),
                ("refresh_token", "x"),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
        if i == 3 {
            let description = assert_too_many(resp).await;
            assert!(description.contains("limit 3 per minute"), "{description}");
        }
    }
    assert_eq!(statuses[..3], [400, 400, 400], "{statuses:?}");
    assert_eq!(all_hits(&docs), 3);
}

/// A client a member allowed keeps working while its document's host is
/// over the fetch limit: its stored metadata is used past its cache time
/// instead of a 429, so flooding the host with made-up document URLs
/// cannot lock out the clients people use.
#[tokio::test]
async fn an_allowed_client_keeps_working_while_its_host_is_over_the_limit() {
    let docs = DocServer::start().await;
    let app = spawn_app_with(
        Arc::new(fresh_db().await),
        &[
            ("SKEDCAST__CIMD__ALLOW_LOOPBACK", "true"),
            ("SKEDCAST__CIMD__FETCHES_PER_MINUTE_PER_HOST", "2"),
        ],
    )
    .await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    away_from_window_edge(15).await;
    let url = docs.url("/agent.json");
    docs.serve("/agent.json", Answer::json(&document(&url)));
    let mut b = Browser::new(&app);
    let resp = authorize_with_consent(&app, &mut b, &url, "ann@example.com", &[]).await;
    let code = location_params(&resp)["code"].clone();
    let resp = redeem_code(&app, &url, &code).await;
    assert_eq!(resp.status(), 200);
    let rt = resp.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    // Another address spends the host's limit on made-up documents.
    let other = Browser::from_ip(&app, "127.0.0.9");
    for i in 0..2 {
        let path = format!("/made-up/{i}.json");
        let made_up = docs.url(&path);
        docs.serve(&path, Answer::json(&document(&made_up)));
        let resp = other
            .client
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", made_up.as_str()),
                ("refresh_token", "x"),
            ])
            .send()
            .await
            .unwrap();
        let status = resp.status();
        if i == 1 {
            assert_too_many(resp).await;
        } else {
            assert_eq!(status, 400);
        }
    }
    // The allowed client's stored document is past its cache time.
    {
        use entity::client_metadata_document::{Column, Entity};
        use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
        Entity::update_many()
            .col_expr(Column::ExpiresAt, Expr::value(0i64))
            .filter(Column::Url.eq(url.as_str()))
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    let resp = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &url),
            ("refresh_token", &rt),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200, "served from the stored metadata");
    assert_eq!(docs.hits("/agent.json"), 1, "not fetched: the host is over");
}

/// Concurrent requests for one document not yet fetched share one fetch.
#[tokio::test]
async fn concurrent_uses_of_a_new_document_share_one_fetch() {
    let docs = DocServer::start().await;
    let app = spawn_app_with(
        Arc::new(fresh_db().await),
        &[
            ("SKEDCAST__CIMD__ALLOW_LOOPBACK", "true"),
            ("SKEDCAST__CIMD__FETCH_TIMEOUT_SECS", "10"),
        ],
    )
    .await;
    let path = "/slowish.json";
    let url = docs.url(path);
    // Slow enough that every request arrives while the fetch is running
    // (they are sent at once; 3 s is a wide margin even on a loaded machine).
    docs.serve(
        path,
        Answer {
            delay: Duration::from_secs(3),
            ..Answer::json(&document(&url))
        },
    );
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (client, endpoint, url) = (app.client.clone(), app.url("/oauth/token"), url.clone());
        requests.spawn(async move {
            let form = [
                ("grant_type", "refresh_token"),
                ("client_id", url.as_str()),
                ("refresh_token", "x"),
            ];
            client.post(endpoint).form(&form).send().await.unwrap()
        });
    }
    while let Some(resp) = requests.join_next().await {
        assert_eq!(error_of(resp.unwrap()).await.1, "invalid_grant");
    }
    assert_eq!(docs.hits(path), 1);
}

/// A document that could not be used is not fetched again for a while
/// (`cimd.failure_cache_secs`, 30 s by default): the same error is answered.
#[tokio::test]
async fn a_failed_document_is_not_fetched_again_at_once() {
    let docs = DocServer::start().await;
    let app = app_with_loopback().await;
    let url = docs.url("/missing.json");
    let first = error_of(refresh_as(&app, &url).await).await;
    let second = error_of(refresh_as(&app, &url).await).await;
    assert_eq!(first.0, StatusCode::UNAUTHORIZED);
    assert_eq!(first.1, "invalid_client");
    assert!(first.2.contains("answered HTTP 404"), "{}", first.2);
    assert_eq!(first, second);
    assert_error_page(&app, &url, &[], "answered HTTP 404").await;
    assert_eq!(docs.hits("/missing.json"), 1);
}

/// A document client gets a `clients` row only once a member allows it on
/// the consent page; until then its metadata lives in memory.
#[tokio::test]
async fn a_document_client_is_stored_only_once_a_member_consents() {
    let docs = DocServer::start().await;
    let app = app_with_loopback().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let url = docs.url("/agent.json");
    docs.serve("/agent.json", Answer::json(&document(&url)));

    let mut b = Browser::new(&app);
    let resp = b.get(&authorize_url(&url, &[])).await;
    assert_eq!(resp.status(), 302);
    let next = next_param(&location(&resp));
    assert!(client_row(&app, &url).await.is_none(), "signed out");
    let resp = refresh_as(&app, &url).await;
    assert_eq!(error_of(resp).await.1, "invalid_grant");
    assert!(client_row(&app, &url).await.is_none(), "token endpoint");
    let signed = b.sign_in("ann@example.com", PASSWORD, Some(&next)).await;
    let page = b.get(&location(&signed)).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Research Agent"), "{page}");
    assert!(client_row(&app, &url).await.is_none(), "consent page shown");
    let mut form = hidden_fields(&page);
    form.push(("decision".into(), "allow".into()));
    let resp = b.post_form("/oauth/authorize", &form).await;
    assert_eq!(resp.status(), 303);
    let code = location_params(&resp)["code"].clone();
    let row = client_row(&app, &url).await.expect("stored on consent");
    assert_eq!(row.kind.as_str(), "cimd");
    assert!(row.first_authorized_at.is_some());
    assert!(
        entity::client_metadata_document::Entity::find_by_id(url.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .is_some()
    );
    let resp = redeem_code(&app, &url, &code).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(docs.hits("/agent.json"), 1);
}

/// Issue 13 item 14: housekeeping deletes document cache entries past their
/// lifetime, and document clients nobody holds a grant for any more.
#[tokio::test]
async fn housekeeping_prunes_expired_documents_and_ungranted_document_clients() {
    use entity::client_metadata_document as document_entry;
    let docs = DocServer::start().await;
    let app = app_with_loopback().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let url = docs.url("/agent.json");
    docs.serve("/agent.json", Answer::json(&document(&url)));
    let mut b = Browser::new(&app);
    let resp = authorize_with_consent(&app, &mut b, &url, "ann@example.com", &[]).await;
    assert_eq!(resp.status(), 303);
    let db = app.state.db.clone();
    let entry = || document_entry::Entity::find_by_id(url.clone()).one(&db);
    let expires_at = entry().await.unwrap().unwrap().expires_at;

    // Within its lifetime nothing goes.
    skedcast_auth::maintenance::run_once(&app.state, expires_at - 1).await;
    assert!(entry().await.unwrap().is_some());
    // Long past it the cache entry goes; the client, still consented, stays.
    let later = expires_at + 86_400;
    skedcast_auth::maintenance::run_once(&app.state, later).await;
    assert!(entry().await.unwrap().is_none());
    assert!(client_row(&app, &url).await.is_some());
    // Its next use fetches the document again.
    assert_eq!(refresh_as(&app, &url).await.status(), 400);
    assert_eq!(docs.hits("/agent.json"), 2);
    assert!(entry().await.unwrap().is_some());

    // Once no consent, code or refresh token holds it, the client goes too.
    entity::consent::Entity::delete_many()
        .exec(&app.state.db)
        .await
        .unwrap();
    let expires_at = entry().await.unwrap().unwrap().expires_at;
    skedcast_auth::maintenance::run_once(&app.state, expires_at + 86_400).await;
    assert!(client_row(&app, &url).await.is_none());
    assert!(entry().await.unwrap().is_none());
}

/// A member denying a document client stores nothing (only an allow does),
/// and the denial is a page with a link, not a redirect: nobody has allowed
/// the client, so its redirect URI is not trusted (RFC 9700 §4.17).
#[tokio::test]
async fn denying_a_document_client_stores_nothing_and_shows_a_link() {
    let docs = DocServer::start().await;
    let app = app_with_loopback().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let url = docs.url("/agent.json");
    docs.serve("/agent.json", Answer::json(&document(&url)));
    let mut b = Browser::new(&app);
    let resp = b.get(&authorize_url(&url, &[])).await;
    let next = next_param(&location(&resp));
    b.sign_in("ann@example.com", PASSWORD, Some(&next)).await;
    let resp = decide_on_consent(&mut b, &url, "deny").await;
    assert_eq!(resp.status(), 400, "{}", location(&resp));
    let link = continue_link(&resp.text().await.unwrap()).expect("a continue link");
    assert!(link.starts_with(REDIRECT), "{link}");
    assert_eq!(url_params(&link)["error"], "access_denied");
    assert!(client_row(&app, &url).await.is_none(), "nothing stored");
}

/// Issue 17 item 4: a document client the member allowed is a connected
/// app, shown by its verified host (its URL's), and revoking it on
/// `/settings/apps` ends its refresh token.
#[tokio::test]
async fn a_document_client_is_a_connected_app_the_member_can_revoke() {
    let docs = DocServer::start().await;
    let app = app_with_loopback().await;
    member(&app, "ann@example.com", "Acme", "owner").await;
    let url = docs.url("/agent.json");
    docs.serve("/agent.json", Answer::json(&document(&url)));
    let mut b = Browser::new(&app);
    let scope = [("scope", "agency:read offline_access")];
    let resp = authorize_with_consent(&app, &mut b, &url, "ann@example.com", &scope).await;
    let code = location_params(&resp)["code"].clone();
    let resp = redeem_code(&app, &url, &code).await;
    assert_eq!(resp.status(), 200);
    let tokens: Value = resp.json().await.unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();

    let page = b.get("/settings/apps").await.text().await.unwrap();
    let host = url::Url::parse(&url).unwrap();
    let verified = format!(
        r#"<span class="host" title="The app's verified address">127.0.0.1:{}</span>"#,
        host.port().unwrap()
    );
    assert!(page.contains("Research Agent"), "{page}");
    assert!(page.contains(&verified), "{page}");
    assert!(page.contains("Stay connected when you are not using it"));

    let mut form: Vec<(String, String)> = hidden_fields(&page);
    assert!(
        form.contains(&("client_id".into(), url.clone())),
        "{form:?}"
    );
    let resp = b.post_form("/settings/apps", &form).await;
    assert_eq!(resp.status(), 200);
    let resp = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &url),
            ("refresh_token", rt),
        ],
    )
    .await;
    assert_eq!(error_of(resp).await.1, "invalid_grant");
    form.retain(|(k, _)| k != "csrf_token");
    let resp = b.post_form("/settings/apps", &form).await;
    assert_eq!(resp.status(), 403, "no CSRF token");
}
