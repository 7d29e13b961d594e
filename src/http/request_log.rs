//! One span per request: method, path (never the query: it may carry codes
//! or state), status, latency and a request id taken from `X-Request-Id`
//! (when it is short and plain) or generated, and echoed back. Headers and
//! bodies are never logged, so no Authorization value, cookie or token can
//! reach a log line.

use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

fn acceptable_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| s.to_string())
}

pub async fn log_requests<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    log_requests_under(next, req, "").await
}

/// [`log_requests`] for a service whose routes are under `issuer_path`
/// (an issuer with a path): the log has the full path, the metrics label
/// the route under the issuer (bounded labels, the same as without a path).
pub async fn log_requests_under<E: Endpoint>(
    next: E,
    req: Request,
    issuer_path: &str,
) -> poem::Result<Response> {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(acceptable_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let path = req.uri().path().to_string();
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %id,
    );
    let start = Instant::now();
    let mut resp = match next.call(req).instrument(span.clone()).await {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    let status = resp.status().as_u16();
    let elapsed = start.elapsed();
    let latency_us = elapsed.as_micros() as u64;
    super::metrics::observe(
        super::issuer_path::relative(&path, issuer_path),
        status,
        elapsed.as_secs_f64(),
    );
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, latency_us, "request failed");
        } else {
            tracing::info!(status, latency_us, "request");
        }
    });
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_plain() {
        let ok = HeaderValue::from_static("abc-123_x.y");
        assert_eq!(acceptable_id(&ok).as_deref(), Some("abc-123_x.y"));
        assert!(acceptable_id(&HeaderValue::from_static("a b")).is_none());
        assert!(acceptable_id(&HeaderValue::from_static("x\"}{")).is_none());
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap();
        assert!(acceptable_id(&long).is_none());
    }
}
