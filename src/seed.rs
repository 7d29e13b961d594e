//! Filling a database with production-sized tables (issue 19 item 2), for
//! measuring the request paths at scale: `skedcast-auth seed-scale` (hidden)
//! and `scripts/seed-scale.sh`. Rows are deterministic (user `i` is
//! `user{i}@seed.example`, API key `i` is [`api_key`]) so a load test can
//! use them; every user has the password given. Multi-row inserts, 1000 rows
//! a statement and 20 statements a transaction.
//!
//! [`run_expired`] adds about a million rows housekeeping deletes at its next
//! pass (expired codes, ended refresh families and their tokens, expired
//! revoked access tokens, audit events past the retention), to measure a
//! prune beside requests (scripts/scale-latency.sh).

use entity::client::{AuthMethod, ClientKind};
use entity::{
    agency, api_key, audit_event, authorization_code, client, consent, membership, refresh_family,
    refresh_token, revoked_access_token, user,
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

/// How many expired rows [`run_expired`] adds, times `scale`: 400k codes,
/// 100k ended families with 300k tokens, 150k revoked access tokens and
/// 50k audit events, a million rows to delete in all.
#[derive(Debug, Clone)]
pub struct Expired {
    pub codes: u64,
    pub families: u64,
    pub refresh_tokens: u64,
    pub revoked_access_tokens: u64,
    pub audit_events: u64,
}

impl Expired {
    pub fn scaled(scale: f64) -> Expired {
        let n = |v: f64| ((v * scale).round() as u64).max(1);
        Expired {
            codes: n(400_000.0),
            families: n(100_000.0),
            refresh_tokens: n(300_000.0),
            revoked_access_tokens: n(150_000.0),
            audit_events: n(50_000.0),
        }
    }

    pub fn total(&self) -> u64 {
        self.codes
            + self.families
            + self.refresh_tokens
            + self.revoked_access_tokens
            + self.audit_events
    }
}

/// Add rows that ended long ago (`e`), each past what housekeeping keeps
/// (a day, `audit.retention_days` + 1 day for the events): its next pass
/// deletes them all. Rows point at seeded users and clients when `live`
/// has them, at `seed-*-0` otherwise (which [`run`] creates). Ids start at
/// the current second times 10^7, so the command can run again after a
/// prune.
pub async fn run_expired(
    db: &DatabaseConnection,
    live: &Sizes,
    e: &Expired,
    retention_days: u32,
) -> Result<(), DbErr> {
    let now = crate::clock::now();
    let offset = now.unsigned_abs() * 10_000_000;
    let long_ago = now - 86_400;
    let resource = "http://127.0.0.1:8081".to_string();
    let user_id = |i: u64| format!("seed-user-{}", i % live.users);
    let agency_id = |i: u64| format!("seed-agency-{}", i % live.agencies);
    let client_of = |i: u64| client_id(i % live.clients);
    let code_hash = |i: u64| sha256_hex(&format!("seed-expired-code-{i}"));
    fill(db, "expired codes", e.codes, |i| {
        let i = i + offset;
        authorization_code::Model {
            code_hash: code_hash(i),
            client_id: client_of(i),
            user_id: user_id(i),
            agency_id: agency_id(i % live.users),
            redirect_uri: REDIRECT_URI.into(),
            redirect_uri_given: true,
            code_challenge: b64url(&[0u8; 32]),
            scope: "agency:read offline_access".into(),
            resource: resource.clone(),
            created_at: long_ago - 60,
            expires_at: long_ago,
            used_at: None,
            access_jti: None,
            access_exp: None,
            nonce: None,
            auth_time: None,
            dpop_jkt: None,
            amr: None,
        }
        .into_active_model()
    })
    .await?;
    let family = |f: u64| format!("seed-expired-family-{f}");
    fill(db, "ended refresh families", e.families, |f| {
        let f = f + offset;
        refresh_family::Model {
            id: family(f),
            client_id: client_of(f % live.users),
            user_id: user_id(f),
            agency_id: agency_id(f % live.users),
            resource: resource.clone(),
            code_hash: code_hash(f),
            created_at: long_ago - 86_400,
            expires_at: long_ago,
            revoked_at: None,
            auth_time: None,
            dpop_jkt: None,
            amr: None,
        }
        .into_active_model()
    })
    .await?;
    fill(db, "expired refresh tokens", e.refresh_tokens, |t| {
        let f = t % e.families + offset;
        refresh_token::Model {
            token_hash: sha256_hex(&format!("seed-expired-refresh-{}", t + offset)),
            family_id: family(f),
            scope: "agency:read offline_access".into(),
            created_at: long_ago - 86_400,
            expires_at: long_ago,
            used_at: Some(long_ago - 3600),
            access_jti: None,
            access_exp: None,
        }
        .into_active_model()
    })
    .await?;
    fill(
        db,
        "expired revoked access tokens",
        e.revoked_access_tokens,
        |i| {
            revoked_access_token::Model {
                jti: format!("seed-expired-jti-{}", i + offset),
                expires_at: long_ago,
            }
            .into_active_model()
        },
    )
    .await?;
    let old = now - (i64::from(retention_days) + 1) * 86_400;
    fill(db, "audit events past retention", e.audit_events, |i| {
        let i = i + offset;
        audit_event::ActiveModel {
            ts: sea_orm::Set(old - (i % 86_400) as i64),
            event: sea_orm::Set("sign_in".into()),
            actor: sea_orm::Set(Some(user_id(i))),
            agency_id: sea_orm::Set(Some(agency_id(i % live.users))),
            ip: sea_orm::Set(Some("192.0.2.1".into())),
            target: sea_orm::Set(None),
            outcome: sea_orm::Set("success".into()),
            ..Default::default()
        }
    })
    .await?;
    db.execute_unprepared("ANALYZE").await?;
    Ok(())
}
