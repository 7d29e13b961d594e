//! Periodic housekeeping, run by `serve` at start and then hourly. Every
//! step is idempotent, so several instances may run it at once.

use std::sync::Arc;
use std::time::Duration;

use crate::AppState;
use crate::oauth::client::metadata_document;
use crate::oauth::client::store as clients;

const PERIOD: Duration = Duration::from_secs(3600);

/// One pass at time `now` (Unix seconds): delete never-used public clients
/// older than `registration.unused_public_client_days`, stale rate-limit
/// counters, expired sessions, second-factor challenges and passkey ceremonies,
/// codes and pending authorization requests, ended refresh-token families and
/// expired refresh tokens, revoked access tokens past their expiry, expired
/// metadata documents and the document clients no grant holds any more,
/// used client assertion and DPoP proof ids past their windows, and
/// audit events older than `audit.retention_days`.
/// Each step deletes in bounded batches with pauses between them
/// (`db::delete_in_batches`), so requests keep being served however much
/// has expired. Failures are logged; the next pass retries. Returns the
/// rows deleted.
pub async fn run_once(state: &AppState, now: i64) -> u64 {
    let started = std::time::Instant::now();
    let db = &state.db;
    let days = state.settings.registration.unused_public_client_days;
    let access_ttl = state.settings.tokens.access_token_ttl_secs;
    let mut total = 0;
    let mut step = |what: &'static str, r: Result<u64, sea_orm::DbErr>| match r {
        Ok(0) => {}
        Ok(n) => {
            total += n;
            tracing::info!(deleted = n, "housekeeping: {what}");
        }
        Err(e) => tracing::warn!(error = %e, "housekeeping: {what} failed"),
    };
    step(
        "never-used public clients",
        clients::delete_unused_public_clients(db, days, now).await,
    );
    step(
        "rate-limit counters",
        crate::rate_limit::prune(db, now).await,
    );
    step(
        "expired sessions",
        crate::session::prune(db, now, &state.settings.session).await,
    );
    step(
        "expired second-factor challenges",
        crate::mfa::challenge::prune(db, now).await,
    );
    step(
        "expired passkey ceremonies",
        crate::mfa::passkeys::ceremony::prune(db, now).await,
    );
    step(
        "expired authorization codes",
        crate::oauth::authorize::codes::prune(db, now).await,
    );
    step(
        "expired pending authorization requests",
        crate::oauth::authorize::pending::prune(db, now).await,
    );
    step(
        "expired device authorizations",
        crate::oauth::device::store::prune(db, now).await,
    );
    step(
        "ended refresh tokens and families",
        crate::oauth::token::families::prune(db, now, access_ttl).await,
    );
    step(
        "expired revoked access tokens",
        crate::oauth::revoked_tokens::prune(db, now).await,
    );
    step(
        "used client assertion ids",
        crate::oauth::client::assertion_jti::prune(db, now).await,
    );
    step(
        "used DPoP proof ids",
        crate::oauth::dpop::prune(db, now).await,
    );
    step(
        "audit events past retention",
        crate::audit::prune(db, now, state.settings.audit.retention_days).await,
    );
    // An access-token lifetime of grace: every token issued while a document
    // was fresh has expired by then.
    match metadata_document::store::prune(db, now, access_ttl).await {
        Ok((0, 0)) => {}
        Ok((clients, documents)) => {
            total += clients + documents;
            tracing::info!(
                clients,
                documents,
                "housekeeping: expired metadata documents"
            )
        }
        Err(e) => tracing::warn!(error = %e, "housekeeping: metadata documents failed"),
    }
    if total > 0 {
        tracing::info!(
            deleted = total,
            secs = started.elapsed().as_secs_f64(),
            "housekeeping pass done"
        );
    }
    total
}

/// Run [`run_once`] now and every hour until the runtime stops.
pub fn spawn(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            run_once(&state, crate::clock::now()).await;
        }
    })
}
