//! The JSON endpoints, declared with poem-openapi so that `/openapi.json`
//! documents exactly what is served.

use std::sync::Arc;
use std::time::Duration;

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::AppState;
use crate::http::json_bytes::JsonBytes;
use crate::oauth::metadata::ServerMetadata;

#[derive(Tags)]
enum Tag {
    /// Discovery: metadata and keys
    Discovery,
    /// Operations: liveness and readiness
    Operations,
}

/// One public key of the JWKS (RFC 7517): EC P-256 (`ES256`: access
/// tokens and id_tokens) or RSA (`RS256`: id_tokens of clients that
/// registered it).
#[derive(Object)]
pub struct Jwk {
    /// `EC` or `RSA`.
    pub kty: String,
    /// EC: `P-256`.
    pub crv: Option<String>,
    /// EC: the point's coordinates.
    pub x: Option<String>,
    pub y: Option<String>,
    /// RSA: modulus and exponent.
    pub n: Option<String>,
    pub e: Option<String>,
    pub kid: String,
    #[oai(rename = "use")]
    pub use_: String,
    pub alg: String,
}

/// The JSON Web Key Set.
#[derive(Object)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// Health state.
#[derive(Object)]
pub struct Status {
    /// `ok`, `ready` or `unavailable`.
    pub status: String,
}

#[derive(ApiResponse)]
pub enum MetadataResponse {
    /// The RFC 8414 metadata document.
    #[oai(status = 200)]
    Ok(
        JsonBytes<ServerMetadata>,
        #[oai(header = "Cache-Control")] String,
    ),
}

#[derive(ApiResponse)]
pub enum JwksResponse {
    /// The public signing keys.
    #[oai(status = 200)]
    Ok(JsonBytes<Jwks>, #[oai(header = "Cache-Control")] String),
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// The database answers.
    #[oai(status = 200)]
    Ready(Json<Status>),
    /// The database does not answer.
    #[oai(status = 503)]
    Unavailable(Json<Status>),
}

pub struct Api {
    pub state: Arc<AppState>,
}

#[OpenApi]
impl Api {
    /// Authorization server metadata (RFC 8414).
    #[oai(
        path = "/.well-known/oauth-authorization-server",
        method = "get",
        tag = "Tag::Discovery"
    )]
    async fn metadata(&self) -> MetadataResponse {
        self.metadata_response()
    }

    /// The same metadata, for clients that only try OpenID discovery.
    #[oai(
        path = "/.well-known/openid-configuration",
        method = "get",
        tag = "Tag::Discovery"
    )]
    async fn openid_configuration(&self) -> MetadataResponse {
        self.metadata_response()
    }

    /// The public ES256 keys that verify access tokens.
    #[oai(
        path = "/.well-known/jwks.json",
        method = "get",
        tag = "Tag::Discovery"
    )]
    async fn jwks(&self) -> JwksResponse {
        let max_age = self.state.settings.keys.jwks_max_age_secs;
        JwksResponse::Ok(
            JsonBytes::new(self.state.keys.jwks().await),
            format!("public, max-age={max_age}"),
        )
    }

    /// Liveness: the process answers.
    #[oai(path = "/healthz", method = "get", tag = "Tag::Operations")]
    async fn healthz(&self) -> Json<Status> {
        Json(Status {
            status: "ok".into(),
        })
    }

    /// Readiness: the database answers within two seconds.
    #[oai(path = "/readyz", method = "get", tag = "Tag::Operations")]
    async fn readyz(&self) -> ReadyResponse {
        let ping = tokio::time::timeout(Duration::from_secs(2), crate::db::ping(&self.state.db));
        match ping.await {
            Ok(Ok(())) => ReadyResponse::Ready(Json(Status {
                status: "ready".into(),
            })),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: database error");
                unavailable()
            }
            Err(_) => {
                tracing::warn!("readiness: database timed out");
                unavailable()
            }
        }
    }
}

fn unavailable() -> ReadyResponse {
    ReadyResponse::Unavailable(Json(Status {
        status: "unavailable".into(),
    }))
}

impl Api {
    fn metadata_response(&self) -> MetadataResponse {
        MetadataResponse::Ok(
            JsonBytes::new(self.state.metadata.clone()),
            "public, max-age=3600".into(),
        )
    }
}
