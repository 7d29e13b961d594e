//! Shared by the benches: a real skedcast-auth (temporary SQLite) and a
//! skedcast-api trusting it, both on loopback port 0, plus a valid token.
#![allow(dead_code)]

use std::sync::Arc;

use poem::listener::{Acceptor, Listener, TcpListener};
use skedcast_auth::resource_api::{self, settings::ApiSettings};
use skedcast_auth::settings::Settings;
use skedcast_auth::verify::Verifier;

pub struct Services {
    pub auth_base: String,
    pub api_base: String,
    pub api_addr: std::net::SocketAddr,
    pub auth: Arc<skedcast_auth::AppState>,
    pub verifier: Arc<Verifier>,
    _dir: tempfile::TempDir,
}

async fn bind() -> (poem::listener::TcpAcceptor, std::net::SocketAddr) {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind");
    let addr = *acceptor.local_addr()[0].as_socket_addr().expect("addr");
    (acceptor, addr)
}

/// Start both services on the current runtime; `api_env` adds
/// `SKEDCAST_API__...` settings.
pub async fn start(api_env: &[(&str, &str)]) -> Services {
    let dir = tempfile::tempdir().expect("tempdir");
    let (auth_acc, auth_addr) = bind().await;
    let (api_acc, api_addr) = bind().await;
    let auth_base = format!("http://{auth_addr}");
    let api_base = format!("http://{api_addr}");
    let env = vec![
        (
            "SKEDCAST__DATABASE__URL".to_string(),
            format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()),
        ),
        ("SKEDCAST__ISSUER".to_string(), auth_base.clone()),
        ("SKEDCAST__RESOURCE__DEFAULT".to_string(), api_base.clone()),
    ];
    let app = skedcast_auth::App::build(Settings::load_from(None, env).expect("settings"))
        .await
        .expect("auth builds");
    let auth = app.state.clone();
    let endpoint = app.endpoint();
    tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(auth_acc)
            .run(endpoint)
            .await;
    });

    let mut vars = vec![
        ("SKEDCAST_API__ISSUER".to_string(), auth_base.clone()),
        ("SKEDCAST_API__RESOURCE".to_string(), api_base.clone()),
    ];
    vars.extend(api_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let api = resource_api::build(ApiSettings::load_from(None, vars).expect("api settings"))
        .await
        .expect("api builds");
    let verifier = api.verifier().clone();
    let endpoint = api.endpoint();
    tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(api_acc).run(endpoint).await;
    });
    Services {
        auth_base,
        api_base,
        api_addr,
        auth,
        verifier,
        _dir: dir,
    }
}

impl Services {
    /// An access token as the auth server issues them (contract claims).
    pub async fn token(&self, ttl_secs: i64) -> String {
        self.token_bound(ttl_secs, None).await
    }

    /// The same, bound to the DPoP key `jkt` when given (`cnf.jkt`).
    pub async fn token_bound(&self, ttl_secs: i64, jkt: Option<&str>) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let claims = serde_json::json!({
            "iss": self.auth_base, "sub": uuid::Uuid::new_v4().to_string(),
            "aud": self.api_base, "client_id": "dyn_7h3kq9x2m4p8r1t6",
            "scope": "agency:read posts:read posts:write analytics:read",
            "iat": now, "exp": now + ttl_secs, "jti": uuid::Uuid::new_v4().to_string(),
            "agency_id": uuid::Uuid::new_v4().to_string(), "role": "editor",
        });
        let mut claims = claims;
        if let Some(jkt) = jkt {
            claims["cnf"] = serde_json::json!({ "jkt": jkt });
        }
        self.auth.keys.sign("at+jwt", &claims).await.expect("sign")
    }
}
