//! Filling a database with production-sized tables (issue 19 item 2), for
//! measuring the request paths at scale: `skedcast-auth seed-scale` (hidden)
//! and `scripts/seed-scale.sh`. Rows are deterministic (user `i` is
//! `user{i}@seed.example`, API key `i` is [`api_key`]) so a load test can
//! use them; every user has the password given. Multi-row inserts, 1000 rows
//! a statement and 20 statements a transaction.

use entity::client::{AuthMethod, ClientKind};
use entity::{
    agency, api_key, authorization_code, client, consent, membership, refresh_family,
    refresh_token, user,
};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, IntoActiveModel,
    TransactionTrait,
};

use crate::crypto::{b64url, sha256_hex};

/// How many rows of each kind.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub agencies: u64,
    pub users: u64,
    pub clients: u64,
    pub families: u64,
    pub refresh_tokens: u64,
    pub codes: u64,
    pub api_keys: u64,
}

impl Sizes {
    /// The issue's figures, times `scale`.
    pub fn scaled(scale: f64) -> Sizes {
        let n = |v: f64| ((v * scale).round() as u64).max(1);
        Sizes {
            agencies: n(10_000.0),
            users: n(100_000.0),
            clients: n(100_000.0),
            families: n(300_000.0),
            refresh_tokens: n(1_000_000.0),
            codes: n(1_000_000.0),
            api_keys: n(100_000.0),
        }
    }
}

pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";
const ROWS: usize = 1000;
const STATEMENTS_PER_TXN: usize = 20;

pub fn email(i: u64) -> String {
    format!("user{i}@seed.example")
}

pub fn client_id(i: u64) -> String {
    format!("seed-client-{i}")
}

/// The secret of seeded API key `i` (well-formed: prefix and checksum).
pub fn api_key(i: u64) -> String {
    skedcast_core::api_key::from_random(&format!("seed{i:026}"))
}

/// The refresh token of the live head of seeded family `f`.
pub fn refresh_token(f: u64) -> String {
    b64url(&sha2::Digest::finalize(
        <sha2::Sha256 as sha2::Digest>::new_with_prefix(format!("seed-refresh-{f}")),
    ))
}

/// Insert `n` rows made by `row`, in batches.
async fn fill<A, F>(db: &DatabaseConnection, what: &str, n: u64, row: F) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
    F: Fn(u64) -> A,
{
    let started = std::time::Instant::now();
    let mut i = 0;
    while i < n {
        let txn = db.begin().await?;
        for _ in 0..STATEMENTS_PER_TXN {
            if i >= n {
                break;
            }
            let end = (i + ROWS as u64).min(n);
            A::Entity::insert_many((i..end).map(&row))
                .exec_without_returning(&txn)
                .await?;
            i = end;
        }
        txn.commit().await?;
    }
    eprintln!(
        "seeded {n} {what} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Fill `db` (migrated, with no seeded rows yet). `password_hash` is every
/// user's (one argon2 hash, made once by the caller).
pub async fn run(db: &DatabaseConnection, sizes: &Sizes, password_hash: &str) -> Result<(), DbErr> {
    let now = crate::clock::now();
    let later = now + 30 * 86_400;
    let s = sizes.clone();
    let agency_id = |i: u64| format!("seed-agency-{}", i % s.agencies);
    let user_id = |i: u64| format!("seed-user-{}", i % s.users);
    let resource = "http://127.0.0.1:8081".to_string();

    fill(db, "agencies", s.agencies, |i| {
        agency::Model {
            id: agency_id(i),
            name: format!("Seed agency {i}"),
            created_at: now,
            require_mfa: false,
        }
        .into_active_model()
    })
    .await?;
    fill(db, "users", s.users, |i| {
        user::Model {
            id: user_id(i),
            email: email(i),
            password_hash: Some(password_hash.to_string()),
            name: None,
            created_at: now,
        }
        .into_active_model()
    })
    .await?;
    fill(db, "memberships", s.users, |i| {
        membership::Model {
            user_id: user_id(i),
            agency_id: agency_id(i),
            role: "owner".into(),
            created_at: now,
        }
        .into_active_model()
    })
    .await?;
    fill(db, "clients", s.clients, |i| {
        client::Model {
            client_id: client_id(i),
            kind: ClientKind::Dynamic,
            client_secret_hash: None,
            registration_token_hash: Some(sha256_hex(&format!("seed-registration-{i}"))),
            token_endpoint_auth_method: AuthMethod::None,
            grant_types: r#"["authorization_code","refresh_token"]"#.into(),
            response_types: r#"["code"]"#.into(),
            redirect_uris: format!(r#"["{REDIRECT_URI}"]"#),
            contacts: "[]".into(),
            scope: Some("agency:read posts:read offline_access".into()),
            client_name: Some(format!("Seed client {i}")),
            client_uri: None,
            logo_uri: None,
            tos_uri: None,
            policy_uri: None,
            software_id: None,
            software_version: None,
            created_at: now,
            updated_at: now,
            first_authorized_at: Some(now),
            resource: None,
            application_type: None,
            jwks: None,
            jwks_uri: None,
            require_pushed_authorization_requests: false,
            id_token_signed_response_alg: None,
            post_logout_redirect_uris: "[]".into(),
            dpop_bound_access_tokens: false,
        }
        .into_active_model()
    })
    .await?;
    // Each user consented to one client (the one its families belong to).
    fill(db, "consents", s.users, |i| {
        consent::Model {
            user_id: user_id(i),
            client_id: client_id(i % s.clients),
            agency_id: agency_id(i),
            resource: resource.clone(),
            scope: "agency:read posts:read offline_access".into(),
            updated_at: now,
        }
        .into_active_model()
    })
    .await?;
    let code_hash = |i: u64| sha256_hex(&format!("seed-code-{i}"));
    fill(db, "consumed codes", s.codes, |i| {
        authorization_code::Model {
            code_hash: code_hash(i),
            client_id: client_id(i % s.clients),
            user_id: user_id(i),
            agency_id: agency_id(i % s.users),
            redirect_uri: REDIRECT_URI.into(),
            redirect_uri_given: true,
            code_challenge: b64url(&[0u8; 32]),
            scope: "agency:read offline_access".into(),
            resource: resource.clone(),
            created_at: now - 60,
            expires_at: now + 3600,
            used_at: Some(now - 30),
            access_jti: Some(format!("seed-jti-{i}")),
            access_exp: Some(now + 600),
            nonce: None,
            auth_time: None,
            dpop_jkt: None,
            amr: None,
        }
        .into_active_model()
    })
    .await?;
    // Family f was issued from code f, to user f's client.
    fill(db, "refresh families", s.families, |f| {
        refresh_family::Model {
            id: format!("seed-family-{f}"),
            client_id: client_id(f % s.users % s.clients),
            user_id: user_id(f),
            agency_id: agency_id(f % s.users),
            resource: resource.clone(),
            code_hash: code_hash(f),
            created_at: now,
            expires_at: later,
            revoked_at: None,
            auth_time: None,
            dpop_jkt: None,
            amr: None,
        }
        .into_active_model()
    })
    .await?;
    // Token t belongs to family t % families; the first of each family is
    // its live head ([`refresh_token`]), the others were rotated away.
    fill(db, "refresh tokens", s.refresh_tokens, |t| {
        let f = t % s.families;
        refresh_token::Model {
            token_hash: if t < s.families {
                sha256_hex(&refresh_token(f))
            } else {
                sha256_hex(&format!("seed-rotated-{t}"))
            },
            family_id: format!("seed-family-{f}"),
            scope: "agency:read offline_access".into(),
            created_at: now,
            expires_at: later,
            used_at: (t >= s.families).then_some(now),
            access_jti: None,
            access_exp: None,
        }
        .into_active_model()
    })
    .await?;
    fill(db, "API keys", s.api_keys, |i| {
        let key = api_key(i);
        api_key::Model {
            id: format!("seed-key-{i}"),
            user_id: user_id(i),
            agency_id: agency_id(i % s.users),
            name: format!("seed {i}"),
            prefix: crate::api_keys::format::display_prefix(&key),
            secret_hash: sha256_hex(&key),
            previous_secret_hash: None,
            previous_valid_until: None,
            scope: "agency:read".into(),
            created_at: now,
            expires_at: later,
            last_used_at: None,
            revoked_at: None,
        }
        .into_active_model()
    })
    .await?;
    // Planner statistics for the new sizes (Postgres autovacuum would get
    // there later; SQLite has none until asked).
    db.execute_unprepared("ANALYZE").await?;
    Ok(())
}
