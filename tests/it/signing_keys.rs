//! ES256 signing keys: first key, independent verification, rotation through
//! the CLI, concurrent first starts, encryption at rest. (The RS256 keys of
//! id_tokens follow the same schedule on their own: `kids` reads the ES256
//! keys only; see oidc:: for RS256.)

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["alg"] == "ES256")
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

async fn sign_sample(app: &TestApp) -> String {
    let claims = json!({
        "iss": app.base, "sub": "user-1", "aud": "http://127.0.0.1:8081",
        "client_id": "c1", "scope": "agency:read posts:read",
        "iat": 1_700_000_000, "exp": 4_000_000_000u64, "jti": "j1",
        "agency_id": "a1", "role": "viewer",
    });
    app.state.keys.sign("at+jwt", &claims).await.unwrap()
}

#[tokio::test]
async fn first_start_publishes_one_p256_key_and_tokens_verify_with_p256() {
    let app = spawn_app().await;
    let resp = app.get("/.well-known/jwks.json").await;
    assert_eq!(resp.status(), 200);
    let cc = resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cc.contains("max-age=300"), "{cc}");
    let jwks: Value = resp.json().await.unwrap();
    let all = jwks["keys"].as_array().unwrap();
    assert_eq!(all.len(), 2, "one EC key, one RSA key (id_tokens)");
    assert_eq!(all[1]["kty"], "RSA");
    assert_eq!(all[1]["alg"], "RS256");
    let keys: Vec<&Value> = all.iter().filter(|k| k["kty"] == "EC").collect();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k["kty"], "EC");
    assert_eq!(k["crv"], "P-256");
    assert_eq!(k["alg"], "ES256");
    assert_eq!(k["use"], "sig");
    assert!(k.get("d").is_none(), "no private part");

    // Signed by josekit (OpenSSL), verified by p256 (RustCrypto).
    let token = sign_sample(&app).await;
    let (header, _) = jwt_parts(&token);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["kid"], k["kid"]);
    let claims = verify_with_p256(&token, &jwks).expect("verifies");
    assert_eq!(claims["sub"], "user-1");

    // A tampered token does not verify.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = jwt_parts(&token).1;
    claims["role"] = json!("owner");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    assert!(verify_with_p256(&forged, &jwks).is_err());

    // A restart keeps the same key.
    let again = spawn_app_with(app.db.clone(), &[]).await;
    assert_eq!(
        kids(&again.get_json("/.well-known/jwks.json").await),
        kids(&jwks)
    );
}

#[tokio::test]
async fn rotation_publishes_at_once_and_signs_after_the_delay() {
    // refresh 0: the instance rereads keys on every use, so the test sees
    // what another instance sees after keys.refresh_interval_secs.
    let db = Arc::new(fresh_db().await);
    let app = spawn_app_with(
        db.clone(),
        &[("SKEDCAST__KEYS__REFRESH_INTERVAL_SECS", "0")],
    )
    .await;
    let first = kids(&app.get_json("/.well-known/jwks.json").await);
    assert_eq!(first.len(), 1);

    // Rotate with a 5 s activation delay: published now, signing later.
    // The delay counts whole seconds, so the switch comes 4 to 5 s after
    // the rotation: the "before" check has seconds of margin, and the
    // switch is waited for, not slept for.
    let rotated = std::time::Instant::now();
    let out = cli(
        &db.url,
        &["signing-key", "rotate"],
        &[("SKEDCAST__KEYS__ACTIVATION_DELAY_SECS", "5")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let published = kids(&app.get_json("/.well-known/jwks.json").await);
    assert_eq!(published.len(), 2);
    assert!(published.contains(&first[0]) && published.contains(&second));
    let (h, _) = jwt_parts(&sign_sample(&app).await);
    assert_eq!(
        h["kid"],
        first[0].as_str(),
        "still the old key before the delay"
    );
    assert!(
        rotated.elapsed() < Duration::from_secs(4),
        "checked in time"
    );

    let took = wait_until(
        "the new key signs",
        rotated,
        Duration::from_secs(30),
        || async { jwt_parts(&sign_sample(&app).await).0["kid"] == second.as_str() },
    )
    .await;
    assert!(
        took >= Duration::from_secs(4),
        "not before the delay: {took:?}"
    );
    let token = sign_sample(&app).await;
    let jwks = app.get_json("/.well-known/jwks.json").await;
    verify_with_p256(&token, &jwks).unwrap();
    assert!(
        kids(&jwks).contains(&first[0]),
        "the old key stays published"
    );

    // --now: signs at once; both earlier keys stay published.
    let out = app.cli(&["signing-key", "rotate", "--now"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let third = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let token = sign_sample(&app).await;
    assert_eq!(jwt_parts(&token).0["kid"], third.as_str());
    let jwks = app.get_json("/.well-known/jwks.json").await;
    assert_eq!(kids(&jwks).len(), 3);
    verify_with_p256(&token, &jwks).unwrap();
}

#[tokio::test]
async fn retired_keys_drop_out_after_token_lifetime_plus_leeway() {
    let db = Arc::new(fresh_db().await);
    let env = [
        ("SKEDCAST__KEYS__REFRESH_INTERVAL_SECS", "0"),
        ("SKEDCAST__TOKENS__ACCESS_TOKEN_TTL_SECS", "8"),
        // ES256 keys sign id_tokens too: retention counts the longer lifetime.
        ("SKEDCAST__TOKENS__ID_TOKEN_TTL_SECS", "8"),
        ("SKEDCAST__KEYS__RETIREMENT_LEEWAY_SECS", "0"),
    ];
    let app = spawn_app_with(db.clone(), &env).await;
    let first = kids(&app.get_json("/.well-known/jwks.json").await);
    let rotated = std::time::Instant::now();
    let out = cli(&db.url, &["signing-key", "rotate", "--now"], &env);
    assert!(out.status.success());
    // Retention is the 8 s token lifetime (whole seconds on the clock, so
    // 7 to 8 s): the old key is still there now, and gone after it. (8 s,
    // not less: the CLI's start alone took seconds on a loaded CI machine.)
    assert_eq!(kids(&app.get_json("/.well-known/jwks.json").await).len(), 2);
    assert!(
        rotated.elapsed() < Duration::from_secs(7),
        "checked in time"
    );
    let took = wait_until(
        "the old key drops out",
        rotated,
        Duration::from_secs(30),
        || async { !kids(&app.get_json("/.well-known/jwks.json").await).contains(&first[0]) },
    )
    .await;
    assert!(
        took >= Duration::from_secs(7),
        "not before retention: {took:?}"
    );
    assert_eq!(kids(&app.get_json("/.well-known/jwks.json").await).len(), 1);
}

async fn two_instances_start_at_once(db: TestDb) {
    let db = Arc::new(db);
    let s1 = settings(&db.url, "http://127.0.0.1:1", &[]);
    let s2 = settings(&db.url, "http://127.0.0.1:2", &[]);
    let (a, b) = tokio::join!(
        tokio::spawn(skedcast_auth::App::build(s1)),
        tokio::spawn(skedcast_auth::App::build(s2))
    );
    let (a, b) = (
        a.unwrap().expect("first instance"),
        b.unwrap().expect("second instance"),
    );
    let count = entity::signing_key::Entity::find()
        .count(&a.state.db)
        .await
        .unwrap();
    assert_eq!(count, 2, "exactly one key of each algorithm");
    assert_eq!(a.state.keys.jwks().await, b.state.keys.jwks().await);
    assert_eq!(
        a.state.keys.active_kid().await,
        b.state.keys.active_kid().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_starts_on_postgres_make_one_key() {
    let db = fresh_pg_db().await;
    two_instances_start_at_once(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_starts_on_the_suite_database_make_one_key() {
    two_instances_start_at_once(fresh_db().await).await;
}

#[tokio::test]
async fn private_keys_are_sealed_with_the_encryption_key() {
    let kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"; // 32 bytes
    let db = Arc::new(fresh_db().await);
    let app = spawn_app_with(db.clone(), &[("SKEDCAST__KEYS__ENCRYPTION_KEY", kek)]).await;
    let stored = app
        .state
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT private_key FROM signing_keys",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "private_key")
        .unwrap();
    assert!(stored.starts_with("jwe:"), "sealed at rest");
    assert!(!stored.contains("PRIVATE KEY"));
    let token = sign_sample(&app).await;
    verify_with_p256(&token, &app.get_json("/.well-known/jwks.json").await).unwrap();

    // Without the key, or with another one, the CLI refuses with one clear line.
    let out = cli(&db.url, &["signing-key", "rotate"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("keys.encryption_key"), "{err}");
    let wrong = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1-f4CBgoM";
    let out = cli(
        &db.url,
        &["signing-key", "rotate"],
        &[("SKEDCAST__KEYS__ENCRYPTION_KEY", wrong)],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot be decrypted"), "{err}");
}

// Issue 14, item 6: `signing-key rotate --now` and `signing-key revoke`
// reach every running instance within 2 s. The instances cache keys for
// 300 s here, so only the change notification (LISTEN/NOTIFY on Postgres,
// the polled change counter on SQLite) can explain a switch in time.

const METRICS_TOKEN: &str = "keys-metrics-token-0123456789";
const LONG_CACHE: [(&str, &str); 2] = [
    ("SKEDCAST__KEYS__REFRESH_INTERVAL_SECS", "300"),
    ("SKEDCAST__METRICS__TOKEN", METRICS_TOKEN),
];
const PROPAGATION: Duration = Duration::from_secs(2);

/// `signing_key_reloads_total` (all triggers) as `/metrics` shows it. The
/// recorder is process-wide: only increases mean anything.
async fn key_reloads(app: &TestApp) -> f64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("signing_key_reloads_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn signing_kid(app: &TestApp) -> String {
    jwt_parts(&sign_sample(app).await).0["kid"]
        .as_str()
        .unwrap()
        .to_string()
}

fn ok_stdout(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

async fn rotate_now_reaches_every_instance(db: TestDb) {
    let db = Arc::new(db);
    let a = spawn_app_with(db.clone(), &LONG_CACHE).await;
    let b = spawn_app_with(db.clone(), &LONG_CACHE).await;
    let first = signing_kid(&b).await;
    let reloads = key_reloads(&b).await;

    let second = ok_stdout(cli(&db.url, &["signing-key", "rotate", "--now"], &[]));
    let done = std::time::Instant::now();
    for app in [&a, &b] {
        wait_until("the new key signs", done, PROPAGATION, || async {
            signing_kid(app).await == second
        })
        .await;
    }
    let jwks = b.get_json("/.well-known/jwks.json").await;
    assert!(kids(&jwks).contains(&first), "the old key stays published");
    verify_with_p256(&sign_sample(&b).await, &jwks).unwrap();
    assert!(key_reloads(&b).await > reloads, "the reload is counted");

    // Revoking the retired key: out of the JWKS everywhere, the signer stays.
    ok_stdout(cli(
        &db.url,
        &["signing-key", "revoke", "--kid", &first],
        &[],
    ));
    let done = std::time::Instant::now();
    wait_until(
        "the retired key leaves the JWKS",
        done,
        PROPAGATION,
        || async { !kids(&b.get_json("/.well-known/jwks.json").await).contains(&first) },
    )
    .await;
    assert_eq!(
        kids(&b.get_json("/.well-known/jwks.json").await),
        std::slice::from_ref(&second)
    );
    assert_eq!(signing_kid(&b).await, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_now_reaches_every_instance_within_two_seconds() {
    rotate_now_reaches_every_instance(fresh_db().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_now_reaches_every_instance_within_two_seconds_on_postgres() {
    rotate_now_reaches_every_instance(fresh_pg_db().await).await;
}

async fn revoke_reaches_every_instance(db: TestDb) {
    use crate::support::token::*;
    let db = Arc::new(db);
    let a = spawn_app_with(db.clone(), &LONG_CACHE).await;
    // One service behind two addresses: the same issuer.
    let env = [LONG_CACHE[0], LONG_CACHE[1], ("SKEDCAST__ISSUER", &a.base)];
    let b = spawn_app_with(db.clone(), &env).await;
    assert_eq!(b.state.settings.issuer, a.state.settings.issuer);
    let rs = create_resource_server(&a, "SkedCast API", DEFAULT_RESOURCE);
    let c = cc_client(&a, "client_secret_basic", "agency:read").await;
    let token = access_token(&a, &c, &[]).await;
    let compromised = jwt_parts(&token).0["kid"].as_str().unwrap().to_string();
    assert_eq!(introspect(&b, &rs, &token).await["active"], true);
    let before = b.get_json("/.well-known/jwks.json").await;
    assert_eq!(
        kids(&before),
        std::slice::from_ref(&compromised),
        "the only key"
    );

    // An unknown kid: a clear error, non-zero exit, nothing changed.
    let out = cli(
        &db.url,
        &["signing-key", "revoke", "--kid", "no-such-kid"],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no signing key") && err.contains("no-such-kid"),
        "{err}"
    );
    // Kids are base64url and may start with `-`: still read as the kid.
    let out = cli(
        &db.url,
        &["signing-key", "revoke", "--kid", "-dash-kid"],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no signing key") && err.contains("-dash-kid"),
        "{err}"
    );
    let rows: Vec<_> = entity::signing_key::Entity::find()
        .all(&b.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.alg == "ES256")
        .collect();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].revoked_at.is_none());

    let reloads = key_reloads(&b).await;
    let out = cli(
        &db.url,
        &["signing-key", "revoke", "--kid", &compromised],
        &[],
    );
    let done = std::time::Instant::now();
    ok_stdout(out);
    for app in [&b, &a] {
        wait_until("the revoked key is refused", done, PROPAGATION, || async {
            !kids(&app.get_json("/.well-known/jwks.json").await).contains(&compromised)
                && introspect(app, &rs, &token).await == inactive()
        })
        .await;
    }
    assert!(key_reloads(&b).await > reloads, "the reload is counted");

    // The only key was revoked: a new one was made, signs, and verifies.
    let fresh = access_token(&b, &c, &[]).await;
    let kid = jwt_parts(&fresh).0["kid"].as_str().unwrap().to_string();
    assert_ne!(kid, compromised);
    let jwks = a.get_json("/.well-known/jwks.json").await;
    assert_eq!(kids(&jwks), [kid]);
    verify_with_p256(&fresh, &jwks).unwrap();
    assert_eq!(introspect(&a, &rs, &fresh).await["active"], true);
    let revoked = entity::signing_key::Entity::find_by_id(compromised.clone())
        .one(&b.state.db)
        .await
        .unwrap()
        .expect("the revoked key is kept, marked");
    assert!(revoked.revoked_at.is_some());

    // Revoking it again changes nothing and says so.
    let out = cli(
        &db.url,
        &["signing-key", "revoke", "--kid", &compromised],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_reaches_every_instance_within_two_seconds() {
    revoke_reaches_every_instance(fresh_db().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_reaches_every_instance_within_two_seconds_on_postgres() {
    revoke_reaches_every_instance(fresh_pg_db().await).await;
}
