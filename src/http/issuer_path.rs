//! An issuer with a path (`https://example.com/auth`): the whole service is
//! served under `/auth`, exactly as it is served at `/` for an issuer
//! without one (the routes below never see the prefix: `Route::nest`
//! strips it), plus a few paths outside it that stand for routes under it:
//!
//! - `/.well-known/oauth-authorization-server/auth`: where RFC 8414 §3.1
//!   puts the metadata of an issuer with a path (what `skedcast-api` and
//!   other RFC 8414 clients fetch);
//! - `/healthz`, `/readyz`, `/metrics`: operations, so probes and scrapers
//!   need not know the issuer (they answer under `/auth` as well).
//!
//! Everything else outside the path is a 404. The metadata under the path
//! (`/auth/.well-known/oauth-authorization-server`, and
//! `/auth/.well-known/openid-configuration` as OpenID Connect Discovery §4
//! wants) comes with the mounted routes.

use poem::http::Uri;
use poem::{Endpoint, Request, Route};

const AS_METADATA: &str = "/.well-known/oauth-authorization-server";

/// Root paths answered by the route under the issuer they stand for.
fn root_aliases(issuer_path: &str) -> Vec<(String, String)> {
    let mut out = vec![(
        format!("{AS_METADATA}{issuer_path}"),
        format!("{issuer_path}{AS_METADATA}"),
    )];
    for op in ["/healthz", "/readyz", "/metrics"] {
        out.push((op.to_string(), format!("{issuer_path}{op}")));
    }
    out
}

/// `routes` served under `issuer_path` (not empty), with the root aliases.
pub fn mount<E>(issuer_path: &str, routes: E) -> impl Endpoint<Output = poem::Response> + use<E>
where
    E: Endpoint<Output = poem::Response> + 'static,
{
    RootAliases {
        aliases: root_aliases(issuer_path),
        inner: Route::new().nest(issuer_path, routes),
    }
}

/// The route a request path names, relative to the issuer (for metrics
/// labels): `/auth/oauth/token` is `/oauth/token`, an alias is the route it
/// stands for, anything else is itself.
pub fn relative<'a>(path: &'a str, issuer_path: &str) -> &'a str {
    if issuer_path.is_empty() {
        return path;
    }
    match path.strip_prefix(issuer_path) {
        Some(rest) if rest.starts_with('/') => rest,
        _ if path.strip_prefix(AS_METADATA) == Some(issuer_path) => &path[..AS_METADATA.len()],
        _ => path,
    }
}

struct RootAliases<E> {
    aliases: Vec<(String, String)>,
    inner: E,
}

impl<E: Endpoint> Endpoint for RootAliases<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> poem::Result<Self::Output> {
        let path = req.uri().path();
        if let Some((_, to)) = self.aliases.iter().find(|(from, _)| from == path) {
            let target = match req.uri().query() {
                Some(q) => format!("{to}?{q}"),
                None => to.clone(),
            };
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = target.parse().ok();
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
        self.inner.call(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_labels_are_relative_to_the_issuer() {
        assert_eq!(relative("/oauth/token", ""), "/oauth/token");
        assert_eq!(relative("/t1/oauth/token", "/t1"), "/oauth/token");
        assert_eq!(
            relative("/.well-known/oauth-authorization-server/t1", "/t1"),
            "/.well-known/oauth-authorization-server"
        );
        assert_eq!(relative("/healthz", "/t1"), "/healthz");
        assert_eq!(relative("/t1x/login", "/t1"), "/t1x/login");
    }
}
