//! `skedcast-api`: the thin resource service of the contract, built on
//! [`crate::verify`]. It has no database: access tokens are verified
//! offline against the issuer's JWKS, API keys through introspection.
//!
//! | route | what |
//! |---|---|
//! | `GET /v1/agency` | the caller's agency, role, effective scopes, `via` (scope `agency:read`) |
//! | `GET /.well-known/oauth-protected-resource` | RFC 9728 metadata |
//! | `GET /healthz`, `GET /readyz` | liveness; readiness = signing keys loaded |
//!
//! [`build`] assembles it (the binary and the tests both go through it).

pub mod responses;
pub mod settings;

use std::sync::Arc;

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{Endpoint, EndpointExt, Request, Response, Route, get, handler};

use crate::verify::{Presented, Principal, Verifier, presented, require_agency_scope};
use responses::{Denial, denial_response, json_response};
use settings::ApiSettings;

pub struct ApiState {
    pub settings: ApiSettings,
    pub verifier: Arc<Verifier>,
    /// The RFC 9728 document, serialised once.
    pub metadata: Vec<u8>,
    /// Its absolute URL (the `resource_metadata` of challenges).
    pub metadata_url: String,
    /// The path it is served at.
    pub metadata_path: String,
}

pub struct ResourceApi {
    pub state: Arc<ApiState>,
}

/// Start the verifier (first JWKS fetch, background refresh) and assemble
/// the service. An unreachable auth server is not fatal: keys are fetched
/// as soon as it answers, and `/readyz` says 503 until then.
pub async fn build(settings: ApiSettings) -> anyhow::Result<ResourceApi> {
    crate::http::metrics::install();
    let verifier = Verifier::start(settings.verifier_config()).await?;
    let (metadata_url, metadata_path) = responses::metadata_location(&settings.resource);
    let metadata = serde_json::to_vec(&responses::protected_resource_metadata(
        &settings.resource,
        &settings.issuer,
    ))?;
    Ok(ResourceApi {
        state: Arc::new(ApiState {
            settings,
            verifier,
            metadata,
            metadata_url,
            metadata_path,
        }),
    })
}

impl ResourceApi {
    pub fn verifier(&self) -> &Arc<Verifier> {
        &self.state.verifier
    }

    /// Every route of the service.
    pub fn endpoint(&self) -> impl Endpoint + 'static {
        let mut route = Route::new()
            .at("/v1/agency", get(agency))
            .at(responses::WELL_KNOWN, get(protected_resource))
            .at("/healthz", get(healthz))
            .at("/readyz", get(readyz))
            .at("/metrics", get(metrics));
        if self.state.metadata_path != responses::WELL_KNOWN {
            route = route.at(&self.state.metadata_path, get(protected_resource));
        }
        route
            .data(self.state.clone())
            .around(crate::http::request_log::log_requests)
    }
}

/// The caller of `req`, allowed `scope` within its agency, or why not.
pub async fn authorize(
    state: &ApiState,
    req: &Request,
    scope: &'static str,
) -> Result<Arc<Principal>, Denial> {
    let token = match presented(req.headers(), req.uri().query()) {
        Presented::Bearer(t) => t,
        Presented::Dpop(t) => {
            let proof = match crate::verify::dpop::proof_header(req.headers()) {
                Ok(p) => p,
                Err(why) => return Err(Denial::InvalidDpopProof(why.into())),
            };
            let principal = state
                .verifier
                .authenticate_dpop(t, proof, req.method().as_str(), req.uri().path())
                .await?;
            require_agency_scope(&principal, scope).map_err(Denial::Forbidden)?;
            return Ok(principal);
        }
        Presented::Nothing => return Err(Denial::NoCredential),
        Presented::Malformed => {
            return Err(Denial::InvalidToken(
                "the Authorization header is malformed",
            ));
        }
        Presented::BadRequest(why) => return Err(Denial::BadRequest(why)),
    };
    let principal = state.verifier.authenticate(token).await?;
    require_agency_scope(&principal, scope).map_err(Denial::Forbidden)?;
    Ok(principal)
}

/// The scope `GET /v1/agency` needs (named in its every challenge too).
pub const AGENCY_SCOPE: &str = "agency:read";

#[handler]
async fn agency(req: &Request, state: Data<&Arc<ApiState>>) -> Response {
    match authorize(&state, req, AGENCY_SCOPE).await {
        Ok(p) => match serde_json::to_vec(&responses::agency_view(&p)) {
            Ok(body) => json_response(StatusCode::OK, body),
            Err(e) => {
                tracing::error!(error = %e, "serialising /v1/agency");
                StatusCode::INTERNAL_SERVER_ERROR.into()
            }
        },
        Err(d) => denial_response(&d, AGENCY_SCOPE, &state.metadata_url),
    }
}

#[handler]
async fn protected_resource(state: Data<&Arc<ApiState>>) -> Response {
    Response::builder()
        .header("content-type", "application/json")
        .header("cache-control", "public, max-age=300")
        .header("access-control-allow-origin", "*")
        .body(state.metadata.clone())
}

/// Prometheus metrics (requests, latency, JWKS fetches), behind
/// `metrics.token`.
#[handler]
async fn metrics(req: &Request, state: Data<&Arc<ApiState>>) -> Response {
    crate::http::metrics::render(req, &state.settings.metrics_token)
}

#[handler]
async fn healthz() -> Response {
    json_response(StatusCode::OK, br#"{"status":"ok"}"#.to_vec())
}

#[handler]
async fn readyz(state: Data<&Arc<ApiState>>) -> Response {
    if state.verifier.keys_loaded() {
        json_response(StatusCode::OK, br#"{"status":"ready"}"#.to_vec())
    } else {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            br#"{"status":"unavailable"}"#.to_vec(),
        )
    }
}

/// Serve until SIGINT/SIGTERM (what `skedcast-api` runs).
pub async fn serve(settings: ApiSettings) -> anyhow::Result<()> {
    let bind = settings.bind;
    let api = build(settings).await?;
    // Before the address is announced: a SIGTERM from then on drains.
    let shutdown = crate::http::shutdown::signal();
    let acceptor = TcpListener::bind(bind)
        .into_acceptor()
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    for addr in acceptor.local_addr() {
        tracing::info!(
            address = %addr,
            resource = %api.state.settings.resource,
            issuer = %api.state.settings.issuer,
            "skedcast-api listening"
        );
    }
    poem::Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(
            api.endpoint(),
            shutdown,
            Some(std::time::Duration::from_secs(10)),
        )
        .await?;
    Ok(())
}
