//! SkedCast auth: an OAuth 2.1 authorization server, the verifier resource
//! servers embed ([`verify`]) and the resource service ([`resource_api`]).
//!
//! [`App::build`] is the one place where state is assembled and routes are
//! mounted; `main.rs` and the tests both go through it.

pub mod accounts;
pub mod api;
pub mod api_keys;
pub mod audit;
pub mod clock;
pub mod crypto;
pub mod db;
pub mod db_key;
pub mod http;
pub mod keys;
pub mod maintenance;
pub mod mfa;
pub mod oauth;
pub mod rate_limit;
pub mod resource_api;
pub mod scopes;
pub mod seed;
pub mod session;
pub mod settings;
pub mod telemetry;
/// The verifier is its own crate (no database, templates or password
/// hashing); this path keeps `skedcast_auth::verify::...` working.
pub use skedcast_verify as verify;
pub mod web;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route, get, post};
use poem_openapi::OpenApiService;
use sea_orm::DatabaseConnection;

use crate::keys::KeyStore;
use crate::settings::Settings;

/// Shared state of one instance. Nothing here is needed by another instance:
/// what instances share lives in the database.
pub struct AppState {
    pub settings: Settings,
    pub db: DatabaseConnection,
    pub keys: KeyStore,
    /// The RFC 8414 document, serialised once.
    pub metadata: bytes::Bytes,
    /// Client records read at the token, revocation and introspection
    /// endpoints, kept `clients.cache_ttl_secs`.
    pub client_cache: oauth::client::cache::ClientCache,
    /// Sign-ins waiting for or running a password check in this instance,
    /// at most `login.max_queued_checks` (a burst beyond is refused at once
    /// instead of queueing a hash each).
    pub sign_in_checks: tokio::sync::Semaphore,
    /// Metadata documents fetched by this instance and fetches running now
    /// (clients no member authorized are only here).
    pub documents: oauth::client::metadata_document::memory::Documents,
    /// `private_key_jwt` clients' key sets fetched from their `jwks_uri`.
    pub jwks: oauth::client::jwks::JwksCache,
    /// The `DPoP-Nonce` key shared in the database, once read.
    pub dpop_nonce_key: tokio::sync::OnceCell<[u8; 32]>,
    /// Verifiers of DPoP proof keys seen by this instance.
    pub dpop_keys: skedcast_verify::dpop::KeyCache,
}

/// Called with every SQL statement the app runs (see [`App::build_observed`]).
pub type OnQuery = Box<dyn Fn(&sea_orm::Statement) + Send + Sync>;

pub struct App {
    pub state: Arc<AppState>,
}

impl App {
    /// Connect, migrate, make sure a signing key exists, and assemble state.
    pub async fn build(settings: Settings) -> anyhow::Result<App> {
        App::build_observed(settings, None).await
    }

    /// [`App::build`], with `on_query` called for every SQL statement the
    /// app runs after migrations (the query-plan test collects them).
    pub async fn build_observed(
        settings: Settings,
        on_query: Option<OnQuery>,
    ) -> anyhow::Result<App> {
        install_crypto_provider();
        http::metrics::install();
        let mut db = db::connect(&settings.database)
            .await
            .map_err(|e| anyhow::anyhow!("database {}: {e}", redact_url(&settings.database.url)))?;
        db::migrate(&db)
            .await
            .map_err(|e| anyhow::anyhow!("migrations failed: {e}"))?;
        // Consents remembered before they were bound to a resource were for
        // the default one, which only the configuration names.
        oauth::authorize::consent::adopt_unbound(&db, &settings.default_resource)
            .await
            .map_err(|e| anyhow::anyhow!("binding consents to the default resource: {e}"))?;
        // Before any clone of the pool: clones made earlier would not call it.
        if let Some(on_query) = on_query {
            db.set_metric_callback(move |info| on_query(info.statement));
        }
        let keys = KeyStore::open(db.clone(), &settings).await?;
        let metadata = oauth::metadata::to_bytes(&oauth::metadata::build(&settings)).into();
        // The dummy hash of unknown-account sign-ins, made now rather than
        // on the first one.
        tokio::task::spawn_blocking(accounts::password::warm_up).await??;
        let client_cache = oauth::client::cache::ClientCache::new(std::time::Duration::from_secs(
            settings.clients.cache_ttl_secs,
        ));
        let sign_in_checks = tokio::sync::Semaphore::new(settings.login.max_queued_checks as usize);
        Ok(App {
            state: Arc::new(AppState {
                sign_in_checks,
                settings,
                db,
                keys,
                metadata,
                client_cache,
                documents: Default::default(),
                jwks: Default::default(),
                dpop_nonce_key: Default::default(),
                dpop_keys: Default::default(),
            }),
        })
    }

    /// Every route of the service, under the issuer's path when it has one
    /// (see [`http::issuer_path`]).
    pub fn endpoint(&self) -> impl Endpoint + 'static {
        let issuer_path = self.state.settings.issuer_path().to_string();
        let mut api = openapi_service(self.state.clone());
        if !issuer_path.is_empty() {
            // The document's paths are relative to the issuer: say where.
            api = api.server(self.state.settings.issuer.clone());
        }
        let spec = api.spec_endpoint();
        let docs = api.swagger_ui();
        let routes = web::passkeys::mount(Route::new())
            .nest("/", api)
            .at("/openapi.json", spec)
            .nest("/docs", docs)
            // HTML pages (plain poem handlers: forms, cookies, redirects).
            .at("/login", get(web::login::show).post(web::login::submit))
            .at("/logout", post(web::login::logout))
            .at("/metrics", get(http::metrics::endpoint))
            .at(
                "/settings/developer",
                get(web::developer::show).post(web::developer::submit),
            )
            .at("/settings/audit", get(web::audit::show))
            .at(
                "/settings/apps",
                get(web::apps::show).post(web::apps::submit),
            )
            .at("/device", get(web::device::show).post(web::device::submit))
            .at(
                "/oauth/authorize",
                get(oauth::authorize::get).post(oauth::authorize::post),
            )
            .at(
                "/oauth/userinfo",
                get(oauth::oidc::userinfo::get).post(oauth::oidc::userinfo::post),
            )
            .at(
                oauth::oidc::logout::PATH,
                get(oauth::oidc::logout::get).post(oauth::oidc::logout::post),
            )
            .at(
                "/settings/security",
                get(web::security::show).post(web::security::submit),
            )
            .data(self.state.clone())
            .around(http::cors::cors);
        let served = if issuer_path.is_empty() {
            routes.boxed()
        } else {
            http::issuer_path::mount(&issuer_path, routes).boxed()
        };
        served.around(move |next, req| {
            let issuer_path = issuer_path.clone();
            async move { http::request_log::log_requests_under(next, req, &issuer_path).await }
        })
    }
}

type Apis = (
    api::Api,
    oauth::register::RegistrationApi,
    oauth::token::TokenApi,
    oauth::revoke::RevocationApi,
    oauth::introspect::IntrospectionApi,
    oauth::par::ParApi,
    oauth::device::DeviceApi,
);

fn openapi_service(state: Arc<AppState>) -> OpenApiService<Apis, ()> {
    let apis = (
        api::Api {
            state: state.clone(),
        },
        oauth::register::RegistrationApi {
            state: state.clone(),
        },
        oauth::token::TokenApi {
            state: state.clone(),
        },
        oauth::revoke::RevocationApi {
            state: state.clone(),
        },
        oauth::introspect::IntrospectionApi {
            state: state.clone(),
        },
        oauth::par::ParApi {
            state: state.clone(),
        },
        oauth::device::DeviceApi { state },
    );
    OpenApiService::new(apis, "SkedCast auth", env!("CARGO_PKG_VERSION"))
        .description("OAuth 2.1 authorization server for SkedCast agencies, apps and AI agents.")
}

/// The OpenAPI document, independent of configuration (no `servers`), as
/// checked in at `openapi/openapi.json`.
pub fn openapi_json(state: Arc<AppState>) -> String {
    openapi_service(state).spec()
}

/// reqwest is built without a default rustls provider: install ring once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A database URL fit for an error message: the password is masked.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
