//! `Cache-Control: no-store` (and `Pragma: no-cache`) on every response of
//! an operation, errors included: responses that carry or concern secrets
//! must not be cached (RFC 6749 §5.1, RFC 7591 §3.2).

use poem::http::HeaderValue;
use poem::http::header::{CACHE_CONTROL, PRAGMA};
use poem::{Endpoint, EndpointExt, IntoResponse};

/// For poem-openapi's `#[oai(transform = "no_store")]`.
pub fn no_store<E: Endpoint + 'static>(ep: E) -> impl Endpoint {
    ep.around(|ep, req| async move {
        let mut resp = match ep.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        let headers = resp.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
        Ok(resp)
    })
}
