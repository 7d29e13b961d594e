//! Prometheus metrics at `GET /metrics`: requests by route and status,
//! latency histograms, and counters the handlers bump (tokens issued by
//! grant, refresh reuse, code replays, sign-in failures, rate-limit hits).
//!
//! The endpoint is off unless `metrics.token` is set, and then it needs
//! `Authorization: Bearer <token>`: it is never public.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::http::StatusCode;
use poem::{Request, Response};

use crate::crypto::ct_eq;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets in seconds: 0.5 ms .. 5 s.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Install the process-wide recorder once (several apps in one test process
/// share it).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    BUCKETS,
                )
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// A route label with bounded cardinality: known paths as they are,
/// parameters folded, anything else `other`.
pub fn route_label(path: &str) -> &'static str {
    match path {
        "/.well-known/oauth-authorization-server" => "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration" => "/.well-known/openid-configuration",
        "/.well-known/jwks.json" => "/.well-known/jwks.json",
        "/oauth/register" => "/oauth/register",
        "/oauth/authorize" => "/oauth/authorize",
        "/oauth/token" => "/oauth/token",
        "/oauth/revoke" => "/oauth/revoke",
        "/oauth/introspect" => "/oauth/introspect",
        "/oauth/userinfo" => "/oauth/userinfo",
        "/oauth/logout" => "/oauth/logout",
        "/oauth/par" => "/oauth/par",
        "/oauth/device_authorization" => "/oauth/device_authorization",
        "/device" => "/device",
        "/login" => "/login",
        "/logout" => "/logout",
        "/settings/developer" => "/settings/developer",
        "/settings/security" => "/settings/security",
        "/settings/apps" => "/settings/apps",
        "/settings/audit" => "/settings/audit",
        "/settings/security/passkeys/register/start" => {
            "/settings/security/passkeys/register/start"
        }
        "/settings/security/passkeys/register/finish" => {
            "/settings/security/passkeys/register/finish"
        }
        "/login/passkey/start" => "/login/passkey/start",
        "/login/passkey/finish" => "/login/passkey/finish",
        "/login/second-factor/passkey/start" => "/login/second-factor/passkey/start",
        "/login/second-factor/passkey/finish" => "/login/second-factor/passkey/finish",
        "/static/passkeys.js" => "/static/passkeys.js",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/openapi.json" => "/openapi.json",
        "/v1/agency" => "/v1/agency",
        "/.well-known/oauth-protected-resource" => "/.well-known/oauth-protected-resource",
        p if p.starts_with("/oauth/register/") => "/oauth/register/{client_id}",
        p if p.starts_with("/docs") => "/docs",
        _ => "other",
    }
}

/// Record one request.
pub fn observe(path: &str, status: u16, seconds: f64) {
    let route = route_label(path);
    metrics::counter!("http_requests_total", "route" => route, "status" => status.to_string())
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route).record(seconds);
}

/// `GET /metrics` of the auth server.
#[poem::handler]
pub fn endpoint(
    req: &Request,
    state: poem::web::Data<&std::sync::Arc<crate::AppState>>,
) -> Response {
    render(req, &state.settings.metrics_token)
}

/// The metrics for a request presenting `token` (empty: off, 404).
pub fn render(req: &Request, token: &str) -> Response {
    if token.is_empty() {
        return Response::builder().status(StatusCode::NOT_FOUND).finish();
    }
    let presented = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !ct_eq(presented.as_bytes(), token.as_bytes()) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("WWW-Authenticate", "Bearer realm=\"metrics\"")
            .finish();
    }
    match install() {
        Some(h) => Response::builder()
            .content_type("text/plain; version=0.0.4")
            .header("Cache-Control", "no-store")
            .body(h.render()),
        None => Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn routes_have_bounded_labels() {
        assert_eq!(route_label("/oauth/token"), "/oauth/token");
        assert_eq!(
            route_label("/oauth/register/abc"),
            "/oauth/register/{client_id}"
        );
        assert_eq!(route_label("/docs/index.css"), "/docs");
        assert_eq!(
            route_label("/login/passkey/finish"),
            "/login/passkey/finish"
        );
        assert_eq!(route_label("/settings/apps"), "/settings/apps");
        assert_eq!(route_label("/oauth/par"), "/oauth/par");
        assert_eq!(route_label("/random/1234"), "other");
    }
}
