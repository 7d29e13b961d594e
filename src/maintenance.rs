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
/// counters, expired sessions, codes and pending authorization requests, ended refresh-token families and
/// expired refresh tokens, revoked access tokens past their expiry, expired
/// metadata documents and the document clients no grant holds any more,
/// used client assertion and DPoP proof ids past their windows, and
/// audit events older than `audit.retention_days`.
/// Failures are logged; the next pass retries.
pub async fn run_once(state: &AppState, now: i64) {
    let days = state.settings.registration.unused_public_client_days;
    match clients::delete_unused_public_clients(&state.db, days, now).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, days, "deleted never-used public clients"),
        Err(e) => tracing::warn!(error = %e, "cleanup of unused public clients failed"),
    }
    if let Err(e) = crate::rate_limit::prune(&state.db, now).await {
        tracing::warn!(error = %e, "pruning rate-limit counters failed");
    }
    if let Err(e) = crate::session::prune(&state.db, now, &state.settings.session).await {
        tracing::warn!(error = %e, "pruning expired sessions failed");
    }
    if let Err(e) = crate::mfa::challenge::prune(&state.db, now).await {
        tracing::warn!(error = %e, "pruning expired second-factor challenges failed");
    }
    if let Err(e) = crate::mfa::passkeys::ceremony::prune(&state.db, now).await {
        tracing::warn!(error = %e, "pruning expired passkey ceremonies failed");
    }
    if let Err(e) = crate::oauth::authorize::codes::prune(&state.db, now).await {
        tracing::warn!(error = %e, "pruning expired authorization codes failed");
    }
    if let Err(e) = crate::oauth::authorize::pending::prune(&state.db, now).await {
        tracing::warn!(error = %e, "pruning expired pending authorization requests failed");
    }
    if let Err(e) = crate::oauth::device::store::prune(&state.db, now).await {
        tracing::warn!(error = %e, "pruning expired device authorizations failed");
    }
    let access_ttl = state.settings.tokens.access_token_ttl_secs;
    match crate::oauth::token::families::prune(&state.db, now, access_ttl).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "pruned ended refresh tokens and families"),
        Err(e) => tracing::warn!(error = %e, "pruning refresh tokens failed"),
    }
    match crate::oauth::revoked_tokens::prune(&state.db, now).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "pruned expired revoked access tokens"),
        Err(e) => tracing::warn!(error = %e, "pruning revoked access tokens failed"),
    }
    match crate::oauth::client::assertion_jti::prune(&state.db, now).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "pruned used client assertion ids"),
        Err(e) => tracing::warn!(error = %e, "pruning client assertion ids failed"),
    }
    match crate::oauth::dpop::prune(&state.db, now).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "pruned used DPoP proof ids"),
        Err(e) => tracing::warn!(error = %e, "pruning DPoP proof ids failed"),
    }
    match crate::audit::prune(&state.db, now, state.settings.audit.retention_days).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "pruned audit events past retention"),
        Err(e) => tracing::warn!(error = %e, "pruning audit events failed"),
    }
    let grace = state.settings.tokens.access_token_ttl_secs;
    match metadata_document::store::prune(&state.db, now, grace).await {
        Ok((0, 0)) => {}
        Ok((clients, documents)) => {
            tracing::info!(clients, documents, "pruned expired metadata documents")
        }
        Err(e) => tracing::warn!(error = %e, "pruning metadata documents failed"),
    }
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
