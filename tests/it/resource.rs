//! skedcast-api against a real skedcast-auth, both on port 0 in this
//! process: valid tokens, every refusal with its exact status and
//! challenge, key rotation without a restart, the auth server going down,
//! unknown-kid floods, RFC 9728 metadata, and the binary itself.
//!
//! Most tests sign their access tokens with the auth server's real signing
//! key ([`access_token_for`]) so that they can pick the agency and role and
//! vary one claim at a time; tokens from the real token endpoint are used by
//! `a_token_from_the_real_flow_reads_the_agency` and the MCP SDK flows.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::support::token::create_resource_server_in;
use crate::support::*;
use poem::listener::{Acceptor, Listener, TcpListener};
use reqwest::StatusCode;
use serde_json::{Value, json};
use skedcast_auth::crypto::b64url;
use skedcast_auth::resource_api::{self, ResourceApi, settings::ApiSettings};
use skedcast_auth::verify::Verifier;

/// The resource service on its own port-0 listener.
pub(crate) struct TestApi {
    pub(crate) base: String,
    api: ResourceApi,
    client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApi {
    fn verifier(&self) -> &Arc<Verifier> {
        self.api.verifier()
    }

    fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource", self.base)
    }

    pub(crate) async fn agency(&self, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(format!("{}/v1/agency", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req.send().await.expect("request")
    }
}

pub(crate) async fn bind_port0() -> (poem::listener::TcpAcceptor, String) {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind port 0");
    let addr: SocketAddr = *acceptor.local_addr()[0].as_socket_addr().expect("addr");
    (acceptor, format!("http://{addr}"))
}

fn api_settings(issuer: &str, resource: &str, env: &[(&str, &str)]) -> ApiSettings {
    let mut vars: Vec<(String, String)> = vec![
        ("SKEDCAST_API__ISSUER".into(), issuer.into()),
        ("SKEDCAST_API__RESOURCE".into(), resource.into()),
        ("SKEDCAST_API__SERVER__BIND".into(), "127.0.0.1:0".into()),
    ];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ApiSettings::load_from(None, vars).expect("api settings")
}

/// Start the API on `acceptor` (its base URL is `base`), trusting `issuer`.
pub(crate) async fn start_api(
    acceptor: poem::listener::TcpAcceptor,
    base: String,
    issuer: &str,
    env: &[(&str, &str)],
) -> TestApi {
    let api = resource_api::build(api_settings(issuer, &base, env))
        .await
        .expect("api builds");
    let endpoint = api.endpoint();
    let server = tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor)
            .run(endpoint)
            .await;
    });
    TestApi {
        base,
        api,
        client: http_client(),
        server,
    }
}

/// Both services: the API's port is bound first so the auth server's
/// `resource.default` (the `aud` of its tokens) can be the API's base URL.
pub(crate) async fn spawn_pair(
    auth_env: &[(&str, &str)],
    api_env: &[(&str, &str)],
) -> (TestApp, TestApi) {
    let (acceptor, api_base) = bind_port0().await;
    let mut env = vec![("SKEDCAST__RESOURCE__DEFAULT", api_base.as_str())];
    env.extend_from_slice(auth_env);
    let auth = spawn_app_with(Arc::new(fresh_db().await), &env).await;
    let api = start_api(acceptor, api_base, &auth.base, api_env).await;
    (auth, api)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The claims the auth server puts in an access token (contract, "Tokens").
fn contract_claims(auth: &TestApp, agency_id: &str, role: &str, scope: &str) -> Value {
    let now = now();
    json!({
        "iss": auth.state.settings.issuer,
        "sub": uuid::Uuid::new_v4().to_string(),
        "aud": auth.state.settings.default_resource,
        "client_id": "test-client",
        "scope": scope,
        "iat": now,
        "exp": now + 900,
        "jti": uuid::Uuid::new_v4().to_string(),
        "agency_id": agency_id,
        "role": role,
    })
}

/// An access token for a member of `agency_id` with `role` and `scope`,
/// signed with the auth server's real key (the claims of the contract).
async fn access_token_for(auth: &TestApp, agency_id: &str, role: &str, scope: &str) -> String {
    sign(
        auth,
        "at+jwt",
        &contract_claims(auth, agency_id, role, scope),
    )
    .await
}

async fn sign(auth: &TestApp, typ: &str, claims: &Value) -> String {
    auth.state.keys.sign(typ, claims).await.expect("sign")
}

/// A token with an arbitrary header and payload and the given signature bytes.
fn forge(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes()),
        b64url(signature)
    )
}

fn hs256(key: &[u8], header: &Value, claims: &Value) -> String {
    use josekit::jws::JwsSigner;
    let signer = josekit::jws::HS256.signer_from_bytes(key).unwrap();
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let sig = signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64url(&sig))
}

fn www_authenticate(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_valid_access_token_reads_the_agency() {
    let (auth, api) = spawn_pair(&[], &[]).await;
    let agency = uuid::Uuid::new_v4().to_string();
    let token = access_token_for(
        &auth,
        &agency,
        "editor",
        "agency:read posts:write billing:read",
    )
    .await;
    let resp = api.agency(Some(&token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.headers().contains_key("x-request-id"));
    let body: Value = resp.json().await.unwrap();
    // billing:read is beyond an editor: not an effective scope.
    assert_eq!(
        body,
        json!({
            "id": agency, "role": "editor", "scopes": ["agency:read", "posts:write"],
            "via": "oauth", "client_id": "test-client",
        })
    );

    // `aud` as an array that contains this resource; the same token again
    // (served from the verified-token cache) still answers the same.
    let mut claims = contract_claims(&auth, &agency, "viewer", "agency:read");
    claims["aud"] = json!(["https://other.example", api.base]);
    let token = sign(&auth, "at+jwt", &claims).await;
    for _ in 0..2 {
        let resp = api.agency(Some(&token)).await;
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["role"], "viewer");
    }
    // RFC 9068 §4 also allows the full media type.
    let claims = contract_claims(&auth, &agency, "viewer", "agency:read");
    let token = sign(&auth, "application/at+jwt", &claims).await;
    assert_eq!(api.agency(Some(&token)).await.status(), 200);
}

/// The auth-params of a `Bearer` challenge; a repeated one fails the test.
fn challenge_params(challenge: &str) -> std::collections::BTreeMap<String, String> {
    let mut rest = challenge
        .strip_prefix("Bearer ")
        .unwrap_or_else(|| panic!("not a Bearer challenge: {challenge:?}"));
    let mut params = std::collections::BTreeMap::new();
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].trim_start_matches([',', ' ']).to_string();
        let value = &rest[eq + 2..];
        let end = value.find('"').expect("closing quote");
        let repeated = params.insert(name.clone(), value[..end].to_string());
        assert!(repeated.is_none(), "{name} twice in {challenge:?}");
        rest = &value[end + 1..];
    }
    params
}

/// Issue 14, item 4: every challenge of `/v1/agency` names exactly the
/// scope the route needs (RFC 6750 §3), so an MCP client asks for
/// `agency:read` rather than for every scope in `scopes_supported`: with no
/// credential (no `error`), an invalid token and a token lacking the scope.
#[tokio::test]
async fn the_challenge_of_a_route_names_exactly_its_scope() {
    let (auth, api) = spawn_pair(&[], &[]).await;
    let md = api.metadata_url();
    let agency = uuid::Uuid::new_v4().to_string();
    let no_read = access_token_for(&auth, &agency, "owner", "posts:read agency:write").await;
    let cases = [
        ("no credential", None, 401, None),
        (
            "invalid token",
            Some("not-a-token"),
            401,
            Some("invalid_token"),
        ),
        (
            "insufficient scope",
            Some(no_read.as_str()),
            403,
            Some("insufficient_scope"),
        ),
    ];
    for (name, token, status, error) in cases {
        let resp = api.agency(token).await;
        assert_eq!(resp.status(), status, "{name}");
        let challenge = www_authenticate(&resp);
        let params = challenge_params(&challenge);
        assert_eq!(
            params.get("scope").map(String::as_str),
            Some("agency:read"),
            "{name}: {challenge}"
        );
        assert_eq!(
            params.get("resource_metadata"),
            Some(&md),
            "{name}: {challenge}"
        );
        assert_eq!(
            params.get("error").map(String::as_str),
            error,
            "{name}: {challenge}"
        );
    }
}

/// Issue 16: the JWKS also carries an RSA key (RS256 id_tokens); an access
/// token signed with it, published kid and all, is still refused: the
/// verifier pins ES256. The same claims signed ES256 pass.
#[tokio::test]
async fn an_access_token_signed_with_the_published_rsa_key_is_refused() {
    let (auth, api) = spawn_pair(&[], &[]).await;
    let agency = uuid::Uuid::new_v4().to_string();
    let claims = contract_claims(&auth, &agency, "owner", "agency:read");
    let rs256 = auth
        .state
        .keys
        .sign_with("RS256", "at+jwt", &claims)
        .await
        .expect("sign");
    let (header, _) = jwt_parts(&rs256);
    assert_eq!(header["alg"], "RS256");
    let jwks = auth.get_json("/.well-known/jwks.json").await;
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header["kid"] && k["kty"] == "RSA"),
        "the RSA key is published: {jwks}"
    );
    let resp = api.agency(Some(&rs256)).await;
    assert_eq!(resp.status(), 401);
    assert!(www_authenticate(&resp).contains("error=\"invalid_token\""));
    let es256 = sign(&auth, "at+jwt", &claims).await;
    assert_eq!(api.agency(Some(&es256)).await.status(), 200);
}

#[tokio::test]
async fn refusals_have_the_exact_status_and_challenge() {
    let (auth, api) = spawn_pair(&[], &[]).await;
    let md = api.metadata_url();
    let agency = uuid::Uuid::new_v4().to_string();
    let good = contract_claims(&auth, &agency, "owner", "agency:read");
    let valid = sign(&auth, "at+jwt", &good).await;
    let (header, _) = jwt_parts(&valid);
    let kid = header["kid"].as_str().unwrap().to_string();
    let jwks = auth.get_json("/.well-known/jwks.json").await;
    let jwk = jwks["keys"][0].clone();

    let invalid = |desc: &str| {
        format!(
            "Bearer resource_metadata=\"{md}\", scope=\"agency:read\", error=\"invalid_token\", error_description=\"{desc}\""
        )
    };
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let parts: Vec<&str> = valid.split('.').collect();
    let tampered_payload = format!(
        "{}.{}.{}",
        parts[0],
        b64url(
            with("agency_id", json!("another-agency"))
                .to_string()
                .as_bytes()
        ),
        parts[2]
    );
    let mut sig = parts[2].as_bytes().to_vec();
    sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
    let tampered_sig = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(sig).unwrap()
    );
    let h = |alg: &str| json!({"alg": alg, "typ": "at+jwt", "kid": kid});
    let sec1 = {
        let x = skedcast_auth::crypto::b64url_decode(jwk["x"].as_str().unwrap()).unwrap();
        let y = skedcast_auth::crypto::b64url_decode(jwk["y"].as_str().unwrap()).unwrap();
        [vec![4u8], x, y].concat()
    };
    let now = now();

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "tampered payload",
            tampered_payload,
            "the access token signature is invalid",
        ),
        (
            "tampered signature",
            tampered_sig,
            "the access token signature is invalid",
        ),
        (
            "alg none, empty signature",
            format!("{}.{}.", b64url(h("none").to_string().as_bytes()), parts[1]),
            "the access token is malformed",
        ),
        (
            "alg none, any signature",
            forge(&h("none"), &good, b"x"),
            "the access token is not signed with ES256",
        ),
        (
            "HS256 keyed with the JWK",
            hs256(jwk.to_string().as_bytes(), &h("HS256"), &good),
            "the access token is not signed with ES256",
        ),
        (
            "HS256 keyed with the public point",
            hs256(&sec1, &h("HS256"), &good),
            "the access token is not signed with ES256",
        ),
        (
            "RS256",
            forge(&h("RS256"), &good, &[7u8; 256]),
            "the access token is not signed with ES256",
        ),
        (
            "wrong typ",
            sign(&auth, "JWT", &good).await,
            "the access token is not of type at+jwt",
        ),
        (
            "wrong iss",
            sign(&auth, "at+jwt", &with("iss", json!("http://evil.example"))).await,
            "the access token is from another issuer",
        ),
        (
            "wrong aud",
            sign(&auth, "at+jwt", &with("aud", json!("http://127.0.0.1:1"))).await,
            "the access token is not meant for this resource",
        ),
        (
            "expired",
            sign(&auth, "at+jwt", &with("exp", json!(now - 120))).await,
            "the access token has expired",
        ),
        (
            "nbf in the future",
            sign(&auth, "at+jwt", &with("nbf", json!(now + 120))).await,
            "the access token is not valid yet",
        ),
        (
            "iat in the future",
            sign(&auth, "at+jwt", &with("iat", json!(now + 120))).await,
            "the access token is issued in the future",
        ),
        (
            "garbage",
            "not-a-token".to_string(),
            "the access token is malformed",
        ),
    ];
    for (name, token, desc) in &cases {
        let resp = api.agency(Some(token)).await;
        assert_eq!(resp.status(), 401, "{name}");
        assert_eq!(www_authenticate(&resp), invalid(desc), "{name}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token", "{name}");
    }

    // No credential: the challenge without an error code.
    let resp = api.agency(None).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        www_authenticate(&resp),
        format!("Bearer resource_metadata=\"{md}\", scope=\"agency:read\"")
    );
    let resp = api
        .client
        .get(format!("{}/v1/agency", api.base))
        .basic_auth("user", Some("pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "Basic is not a bearer credential");
    assert_eq!(
        www_authenticate(&resp),
        format!("Bearer resource_metadata=\"{md}\", scope=\"agency:read\"")
    );
    let resp = api
        .client
        .get(format!("{}/v1/agency", api.base))
        .header("authorization", "Bearer a b")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        www_authenticate(&resp),
        invalid("the Authorization header is malformed")
    );

    // Missing scope, and a token acting for no agency (client_credentials).
    let forbidden = format!(
        "Bearer resource_metadata=\"{md}\", scope=\"agency:read\", error=\"insufficient_scope\""
    );
    let no_read = access_token_for(&auth, &agency, "owner", "posts:read agency:write").await;
    let resp = api.agency(Some(&no_read)).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(www_authenticate(&resp), forbidden);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    // A role that cannot hold the scope loses it even if the token lists it.
    let unknown_role = access_token_for(&auth, &agency, "intern", "agency:read").await;
    let resp = api.agency(Some(&unknown_role)).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(www_authenticate(&resp), forbidden);
    let mut cc = with("scope", json!("agency:read"));
    cc.as_object_mut().unwrap().remove("agency_id");
    cc.as_object_mut().unwrap().remove("role");
    let cc = sign(&auth, "at+jwt", &cc).await;
    let resp = api.agency(Some(&cc)).await;
    assert_eq!(resp.status(), 403);
    let challenge = www_authenticate(&resp);
    assert!(challenge.starts_with(&forbidden), "{challenge}");
    assert!(challenge.contains("error_description=\"the credential acts for no agency"));

    // The token only counts in the Authorization header (RFC 6750 §2.1).
    let resp = api
        .client
        .get(format!("{}/v1/agency?access_token={valid}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let challenge = www_authenticate(&resp);
    assert!(
        challenge.starts_with(&format!(
            "Bearer resource_metadata=\"{md}\", scope=\"agency:read\", error=\"invalid_request\""
        )),
        "{challenge}"
    );
    let resp = api
        .client
        .get(format!("{}/v1/agency", api.base))
        .form(&[("access_token", valid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a form body is never read");
    // A repeated Authorization header.
    let resp = api
        .client
        .get(format!("{}/v1/agency", api.base))
        .header("authorization", format!("Bearer {valid}"))
        .header("authorization", format!("Bearer {valid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // And the valid one still works.
    assert_eq!(api.agency(Some(&valid)).await.status(), 200);
}

#[tokio::test]
async fn a_rotated_key_is_accepted_without_a_restart() {
    // refresh 0: the auth instance rereads its keys at once after the CLI.
    let (auth, api) = spawn_pair(&[("SKEDCAST__KEYS__REFRESH_INTERVAL_SECS", "0")], &[]).await;
    let agency = uuid::Uuid::new_v4().to_string();
    let old = access_token_for(&auth, &agency, "viewer", "agency:read").await;
    assert_eq!(api.agency(Some(&old)).await.status(), 200);
    let fetches = api.verifier().jwks_fetches();

    let out = auth.cli(&["signing-key", "rotate", "--now"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_kid = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let new = access_token_for(&auth, &agency, "viewer", "agency:read").await;
    assert_eq!(jwt_parts(&new).0["kid"], new_kid.as_str());
    assert_ne!(jwt_parts(&old).0["kid"], new_kid.as_str());

    let resp = api.agency(Some(&new)).await;
    assert_eq!(resp.status(), 200, "{}", www_authenticate(&resp));
    assert_eq!(api.verifier().jwks_fetches(), fetches + 1, "one refetch");
    // The old key is still published: its tokens still verify.
    assert_eq!(api.agency(Some(&old)).await.status(), 200);
    let again = access_token_for(&auth, &agency, "viewer", "agency:read").await;
    assert_eq!(api.agency(Some(&again)).await.status(), 200);
    assert_eq!(api.verifier().jwks_fetches(), fetches + 1);
}

/// The auth server on a listener that can be shut down, closing its
/// keep-alive connections too (aborting the accept loop alone would leave
/// them serving).
struct StoppableAuth {
    base: String,
    state: Arc<skedcast_auth::AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    db: Arc<TestDb>,
}

impl StoppableAuth {
    async fn start(env: &[(&str, &str)]) -> StoppableAuth {
        let db = Arc::new(fresh_db().await);
        let (acceptor, base) = bind_port0().await;
        let app = skedcast_auth::App::build(settings(&db.url, &base, env))
            .await
            .expect("auth builds");
        let state = app.state.clone();
        let endpoint = app.endpoint();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = poem::Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(
                    endpoint,
                    async {
                        let _ = rx.await;
                    },
                    Some(Duration::ZERO),
                )
                .await;
        });
        StoppableAuth {
            base,
            state,
            stop: Some(tx),
            server,
            db,
        }
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.server).await;
    }
}

/// A real API key of a new owner of `agency` (the CLI, as an operator
/// would), on the auth server's database at `db_url`.
async fn real_api_key(
    db: &sea_orm::DatabaseConnection,
    db_url: &str,
    email: &str,
    agency: &str,
) -> String {
    use skedcast_auth::accounts;
    if accounts::find_agency(db, agency).await.unwrap().is_none() {
        accounts::create_agency(db, agency).await.unwrap();
    }
    accounts::create_user(db, email, agency, "owner", None)
        .await
        .unwrap();
    let out = cli(
        db_url,
        &[
            "api-key",
            "create",
            "--email",
            email,
            "--agency",
            agency,
            "--name",
            "ci",
            "--scopes",
            "agency:read",
            "--expires-in-days",
            "30",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(skedcast_auth::api_keys::format::is_well_formed(&key));
    key
}

#[tokio::test]
async fn with_the_auth_server_down_tokens_verify_and_api_keys_fail_closed() {
    let (acceptor, api_base) = bind_port0().await;
    let mut auth =
        StoppableAuth::start(&[("SKEDCAST__RESOURCE__DEFAULT", api_base.as_str())]).await;
    // Real introspection credentials and two real keys: `seen` is presented
    // while the auth server is up, `unseen` only once it is down (so no
    // cached answer can stand in for the auth server).
    let (rs_id, rs_secret) = create_resource_server_in(&auth.db.url, "api", &api_base);
    let seen = real_api_key(&auth.state.db, &auth.db.url, "ann@example.com", "Acme").await;
    let unseen = real_api_key(&auth.state.db, &auth.db.url, "bob@example.com", "Acme").await;
    let api = start_api(
        acceptor,
        api_base,
        &auth.base,
        &[
            ("SKEDCAST_API__INTROSPECTION__CLIENT_ID", rs_id.as_str()),
            (
                "SKEDCAST_API__INTROSPECTION__CLIENT_SECRET",
                rs_secret.as_str(),
            ),
            ("SKEDCAST_API__AUTH_SERVER__TIMEOUT_MS", "1000"),
        ],
    )
    .await;

    // Up: the credentials work and a real key reads the agency.
    let resp = api.agency(Some(&seen)).await;
    assert_eq!(resp.status(), 200, "{}", www_authenticate(&resp));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["via"], "api_key");
    assert_eq!(body["role"], "owner");
    // The other key is live for these same credentials, asked at the auth
    // server directly (the API has not seen it, so it has nothing cached).
    let answer: Value = api
        .client
        .post(format!("{}/oauth/introspect", auth.base))
        .header(
            "authorization",
            crate::support::token::basic(&rs_id, &rs_secret),
        )
        .form(&[("token", unseen.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "api_key", "{answer}");
    let agency = uuid::Uuid::new_v4().to_string();
    let issuer = auth.base.clone();
    let claims = |role: &str| {
        let now = now();
        json!({
            "iss": issuer, "sub": "u1", "aud": api.base, "client_id": "c1",
            "scope": "agency:read", "iat": now, "exp": now + 900,
            "jti": uuid::Uuid::new_v4().to_string(), "agency_id": agency, "role": role,
        })
    };
    let first = auth
        .state
        .keys
        .sign("at+jwt", &claims("viewer"))
        .await
        .unwrap();
    // Signed now, presented only once the auth server is gone: verified
    // with the cached keys, not served from the token cache.
    let later = auth
        .state
        .keys
        .sign("at+jwt", &claims("owner"))
        .await
        .unwrap();
    assert_eq!(api.agency(Some(&first)).await.status(), 200);

    auth.stop().await;
    let port = auth.base.trim_start_matches("http://").to_string();
    assert!(
        std::net::TcpStream::connect(&port).is_err(),
        "the auth server is down"
    );

    let resp = api.agency(Some(&later)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["role"], "owner");
    assert_eq!(api.agency(Some(&first)).await.status(), 200);

    // A kid we do not know cannot be checked now: 503, not 401.
    let (header, _) = jwt_parts(&first);
    let mut h = header.clone();
    h["kid"] = json!("unknown-kid");
    let resp = api
        .agency(Some(&forge(&h, &claims("owner"), &[1u8; 64])))
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");

    // API keys fail closed: the live key the API has not seen, with the
    // credentials that worked a moment ago, cannot be checked now.
    let resp = api.agency(Some(&unseen)).await;
    assert_eq!(resp.status(), 503, "{}", www_authenticate(&resp));
    assert_eq!(resp.headers()["retry-after"], "5");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // Readiness still holds: keys are loaded.
    let ready = api
        .client
        .get(format!("{}/readyz", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn api_keys_without_introspection_credentials_answer_503() {
    let (_auth, api) = spawn_pair(&[], &[]).await;
    let resp = api
        .agency(Some(&skedcast_auth::api_keys::format::generate()))
        .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "5");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_kids_causes_at_most_a_couple_of_jwks_fetches() {
    let (auth, api) = spawn_pair(&[], &[]).await;
    let agency = uuid::Uuid::new_v4().to_string();
    let valid = access_token_for(&auth, &agency, "viewer", "agency:read").await;
    let claims = contract_claims(&auth, &agency, "owner", "agency:read");
    let before = api.verifier().jwks_fetches();
    assert_eq!(before, 1, "one fetch at start");

    let api = Arc::new(api);
    let mut tasks = Vec::new();
    for worker in 0..20 {
        let api = api.clone();
        let claims = claims.clone();
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..10 {
                let header = json!({
                    "alg": "ES256", "typ": "at+jwt",
                    "kid": format!("{}-{worker}-{i}", uuid::Uuid::new_v4()),
                });
                let token = forge(&header, &claims, &[9u8; 64]);
                statuses.push(api.agency(Some(&token)).await.status());
            }
            statuses
        }));
    }
    let mut refused = 0;
    for t in tasks {
        for s in t.await.unwrap() {
            assert_eq!(s, StatusCode::UNAUTHORIZED);
            refused += 1;
        }
    }
    assert_eq!(refused, 200);
    let fetches = api.verifier().jwks_fetches() - before;
    assert!(fetches <= 2, "{fetches} JWKS fetches for 200 random kids");
    // Real tokens are not affected.
    assert_eq!(api.agency(Some(&valid)).await.status(), 200);
}

#[tokio::test]
async fn protected_resource_metadata_rfc9728() {
    let (auth, api) = spawn_pair(&[], &[]).await;
    // The challenge points at the document.
    let resp = api.agency(None).await;
    let challenge = www_authenticate(&resp);
    let url = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    assert_eq!(url, api.metadata_url());
    let resp = api.client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let doc: Value = resp.json().await.unwrap();
    assert_eq!(doc["resource"], api.base.as_str());
    assert_eq!(doc["authorization_servers"], json!([auth.base]));
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    let scopes: Vec<&str> = doc["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let expected: Vec<&str> = skedcast_auth::scopes::SCOPES
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(scopes, expected);
    // The authorization server it names is the one whose metadata works.
    let meta = auth
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["issuer"], doc["authorization_servers"][0]);

    for (path, status) in [("/healthz", 200), ("/readyz", 200)] {
        let resp = api
            .client
            .get(format!("{}{path}", api.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), status, "{path}");
    }
}

#[tokio::test]
async fn the_binary_serves_and_refuses_bad_configuration() {
    let bin = env!("CARGO_BIN_EXE_skedcast-api");
    let out = std::process::Command::new(bin)
        .env("SKEDCAST_API__VERIFY__ALGORITHM", "HS256")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("`verify.algorithm`"), "{err}");

    // A free port for the binary (bound and released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api_base = format!("http://127.0.0.1:{port}");
    let auth = spawn_app_with(
        Arc::new(fresh_db().await),
        &[("SKEDCAST__RESOURCE__DEFAULT", api_base.as_str())],
    )
    .await;
    let mut child = tokio::process::Command::new(bin)
        .env("SKEDCAST_API__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("SKEDCAST_API__ISSUER", &auth.base)
        .env("SKEDCAST_API__RESOURCE", &api_base)
        .env("RUST_LOG", "error")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = http_client();
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{api_base}/readyz")).send().await
            && r.status() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "skedcast-api became ready");
    let token = access_token_for(&auth, "agency-1", "manager", "agency:read agency:write").await;
    let resp = client
        .get(format!("{api_base}/v1/agency"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["scopes"], json!(["agency:read", "agency:write"]));
    let _ = child.kill().await;
}

/// Both services, the API holding resource-server credentials for
/// introspection with a short positive cache.
async fn spawn_pair_with_introspection(ttl: &str) -> (TestApp, TestApi, Arc<InFlight>) {
    let (acceptor, api_base) = bind_port0().await;
    let (auth, served) = spawn_app_observed(
        Arc::new(fresh_db().await),
        &[("SKEDCAST__RESOURCE__DEFAULT", api_base.as_str())],
    )
    .await;
    let out = auth.cli(&[
        "resource-server",
        "create",
        "--name",
        "api",
        "--resource",
        &api_base,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines = stdout.lines();
    let (id, secret) = (
        lines.next().unwrap().to_string(),
        lines.next().unwrap().to_string(),
    );
    let api = start_api(
        acceptor,
        api_base,
        &auth.base,
        &[
            ("SKEDCAST_API__INTROSPECTION__CLIENT_ID", id.as_str()),
            (
                "SKEDCAST_API__INTROSPECTION__CLIENT_SECRET",
                secret.as_str(),
            ),
            ("SKEDCAST_API__INTROSPECTION__CACHE_TTL_SECS", ttl),
            ("SKEDCAST_API__INTROSPECTION__NEGATIVE_CACHE_TTL_SECS", "1"),
        ],
    )
    .await;
    (auth, api, served)
}

#[tokio::test]
async fn a_token_from_the_real_flow_reads_the_agency() {
    use crate::support::browser::*;
    let (auth, api, _) = spawn_pair_with_introspection("1").await;
    member(&auth, "ann@example.com", "Acme", "editor").await;
    let client = public_client(&auth, json!({})).await;
    let id = client["client_id"].as_str().unwrap();
    let mut b = Browser::new(&auth);
    let resp = authorize_with_consent(
        &auth,
        &mut b,
        id,
        "ann@example.com",
        &[("scope", "agency:read posts:write")],
    )
    .await;
    let code = location_params(&resp)["code"].clone();
    let tokens: Value = auth
        .client
        .post(auth.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", id),
            ("code", code.as_str()),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = api
        .agency(Some(tokens["access_token"].as_str().unwrap()))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["via"], "oauth");
    assert_eq!(body["client_id"], id);
    assert_eq!(body["role"], "editor");
    assert_eq!(body["scopes"], json!(["agency:read", "posts:write"]));
    let agency = skedcast_auth::accounts::find_agency(&auth.state.db, "Acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body["id"], agency.id);
}

/// The API's introspection cache: a demotion and a revocation are not seen
/// within the cache lifetime (the documented stale window, asserted first,
/// so the test fails with caching off) and are seen after it; a mistyped key
/// is refused by its checksum without asking the auth server (the requests
/// reaching the auth server are counted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_work_and_demotion_and_revocation_show_after_the_cache_ttl() {
    use std::time::{Duration, Instant};
    const TTL: Duration = Duration::from_secs(2);
    let (auth, api, served) = spawn_pair_with_introspection("2").await;
    crate::support::browser::member(&auth, "ann@example.com", "Acme", "owner").await;
    let create = |name: &str, scopes: &str| {
        let out = auth.cli(&[
            "api-key",
            "create",
            "--email",
            "ann@example.com",
            "--agency",
            "Acme",
            "--name",
            name,
            "--scopes",
            scopes,
            "--expires-in-days",
            "30",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let key = create("ci", "agency:read members:write");
    // A second key for the revocation, first presented when that part
    // starts, so its cache entry is no older than the clock started there.
    let other = create("ci-2", "agency:read");
    let scopes = |key: String| {
        let api = &api;
        async move {
            let body: Value = api.agency(Some(&key)).await.json().await.unwrap();
            body["scopes"].clone()
        }
    };

    let cached = Instant::now();
    let resp = api.agency(Some(&key)).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["via"], "api_key");
    assert_eq!(body["role"], "owner");
    assert_eq!(body["scopes"], json!(["agency:read", "members:write"]));

    // Demoted: still the cached answer, then members:write goes.
    skedcast_auth::accounts::set_role(&auth.state.db, "ann@example.com", "Acme", "viewer")
        .await
        .unwrap();
    assert_eq!(
        scopes(key.clone()).await,
        json!(["agency:read", "members:write"]),
        "within the cache lifetime the old answer stands"
    );
    assert!(
        cached.elapsed() < TTL,
        "the stale check ran inside the window"
    );
    let took = wait_until("the demotion shows", cached, TTL * 10, || async {
        scopes(key.clone()).await == json!(["agency:read"])
    })
    .await;
    assert!(took >= TTL, "not before the cache lifetime: {took:?}");

    // Revoked: still accepted from the cache, then refused.
    let cached = Instant::now();
    assert_eq!(api.agency(Some(&other)).await.status(), 200);
    let id = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::api_key::Entity::find()
            .filter(entity::api_key::Column::Name.eq("ci-2"))
            .one(&auth.state.db)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    assert!(
        auth.cli(&["api-key", "revoke", "--id", &id])
            .status
            .success()
    );
    assert_eq!(api.agency(Some(&other)).await.status(), 200, "stale window");
    assert!(
        cached.elapsed() < TTL,
        "the stale check ran inside the window"
    );
    let took = wait_until("the revocation shows", cached, TTL * 10, || async {
        api.agency(Some(&other)).await.status() == 401
    })
    .await;
    assert!(took >= TTL, "not before the cache lifetime: {took:?}");
    let resp = api.agency(Some(&other)).await;
    assert!(www_authenticate(&resp).contains("invalid_token"));

    // A well-formed unknown key is asked about (one request reaches the
    // auth server); a mistyped one is refused by its checksum alone.
    let before = served.total();
    let unknown = skedcast_auth::api_keys::format::generate();
    assert_eq!(api.agency(Some(&unknown)).await.status(), 401);
    assert_eq!(
        served.total(),
        before + 1,
        "the unknown key was introspected"
    );
    let mut typo: Vec<char> = key.chars().collect();
    typo[15] = if typo[15] == 'q' { 'r' } else { 'q' };
    let typo: String = typo.into_iter().collect();
    let resp = api.agency(Some(&typo)).await;
    assert_eq!(resp.status(), 401);
    assert!(www_authenticate(&resp).contains("invalid_token"));
    assert_eq!(served.total(), before + 1, "the typo was not introspected");
}

/// A Client ID Metadata Document served on loopback at `/client.json`.
async fn serve_client_document(redirect: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/client.json",
        listener.local_addr().unwrap().port()
    );
    let doc = json!({
        "client_id": url,
        "client_name": "MCP SDK via metadata document",
        "redirect_uris": [redirect],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
    .to_string();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let doc = doc.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{doc}",
                    doc.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            });
        }
    });
    url
}

async fn mcp_sdk_flow(cimd: bool) {
    let python = crate::support::provision::mcp_python();
    let (acceptor, api_base) = bind_port0().await;
    let auth = spawn_app_with(
        Arc::new(fresh_db().await),
        &[
            ("SKEDCAST__RESOURCE__DEFAULT", api_base.as_str()),
            ("SKEDCAST__CIMD__ALLOW_LOOPBACK", "true"),
        ],
    )
    .await;
    let api = start_api(acceptor, api_base.clone(), &auth.base, &[]).await;
    crate::support::browser::member(&auth, "ann@example.com", "Acme", "viewer").await;
    let redirect = "http://127.0.0.1:53682/callback";
    let cimd_url = if cimd {
        serve_client_document(redirect).await
    } else {
        String::new()
    };

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_sdk/oauth_client.py");
    let out = tokio::process::Command::new(&python)
        .arg(script)
        .env("API_URL", &api.base)
        .env("EMAIL", "ann@example.com")
        .env("PASSWORD", crate::support::browser::PASSWORD)
        .env("REDIRECT_URI", redirect)
        .env("CIMD_URL", &cimd_url)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "MCP SDK client failed:\n{stdout}\n{stderr}"
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    println!("{result}");
    assert_eq!(
        result["sdk"],
        crate::support::provision::MCP_SDK.trim_start_matches("mcp=="),
        "the venv has the pinned SDK"
    );
    assert_eq!(result["status"], 200, "{result}");
    assert_eq!(result["again"], 200, "{result}");
    // Told its access token expired, the SDK refreshed (a new access and
    // refresh token) and called again, with no second sign-in.
    assert_eq!(result["after_refresh"], 200, "{result}");
    assert_eq!(result["refreshed"], true, "{result}");
    assert_eq!(result["sign_ins"], 1, "{result}");
    assert_eq!(result["body"]["via"], "oauth");
    assert_eq!(result["body"]["role"], "viewer");
    // The SDK asks for the scope the 401 challenge names (issue 14, item
    // 4), not for everything in `scopes_supported`; a refresh keeps it.
    assert_eq!(result["scope"], "agency:read", "{result}");
    assert_eq!(result["scope_after_refresh"], "agency:read", "{result}");
    assert_eq!(result["body"]["scopes"], json!(["agency:read"]));
    assert_eq!(
        result["refresh_token"], true,
        "offline_access: a refresh token"
    );
    if cimd {
        assert_eq!(
            result["client_id"],
            cimd_url.as_str(),
            "the document URL is the client_id"
        );
    } else {
        assert!(
            result["client_id"].as_str().unwrap().len() >= 16,
            "registered over DCR"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_mcp_sdk_signs_in_with_dcr_and_calls_the_api() {
    mcp_sdk_flow(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_mcp_sdk_signs_in_with_a_metadata_document_and_calls_the_api() {
    mcp_sdk_flow(true).await;
}

#[tokio::test]
async fn the_api_exposes_jwks_fetches_and_requests_as_metrics() {
    let token = "api-metrics-token-0123456789";
    let (_auth, api) = spawn_pair(&[], &[("SKEDCAST_API__METRICS__TOKEN", token)]).await;
    let metrics = |bearer: Option<&str>| {
        let mut req = api.client.get(format!("{}/metrics", api.base));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        req.send()
    };
    assert_eq!(metrics(None).await.unwrap().status(), 401);
    api.agency(None).await;
    let text = metrics(Some(token)).await.unwrap().text().await.unwrap();
    assert!(text.contains("jwks_fetches_total"), "{text}");
    assert!(
        text.contains(r#"http_requests_total{route="/v1/agency",status="401"}"#),
        "{text}"
    );
}
