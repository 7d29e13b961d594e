//! `POST /oauth/par`: pushed authorization requests (RFC 9126, issue 15
//! item 3). The client authenticates exactly as at the token endpoint (a
//! public client sends its `client_id`); the request is validated as
//! `/oauth/authorize` would, errors answered as JSON; a good one is kept
//! under a `request_uri` that `/oauth/authorize?client_id=..&request_uri=..`
//! uses once within `clients.request_uri_ttl_secs` (60 s by default).

use std::sync::Arc;

use poem::web::RemoteAddr;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::AppState;
use crate::http::basic::ClientAuthorization;
use crate::http::form_body::FormBody;
use crate::http::no_store::no_store;
use crate::oauth::TokenTag;
use crate::oauth::authorize::{self, pending, request};
use crate::oauth::client::authentication::{self as client_auth, Rule};
use crate::oauth::error::OAuthError;
use crate::oauth::params;
use crate::rate_limit;

/// A pushed request may carry a `state` of [`request::MAX_STATE_BYTES`],
/// every byte percent-encoded, and a client assertion.
const MAX_PAR_FORM_BYTES: usize = 3 * request::MAX_STATE_BYTES + 16 * 1024;

/// The authorization request's parameters (as at `/oauth/authorize`) and
/// the client's authentication (as at the token endpoint), form-encoded.
#[derive(Object)]
pub struct PushedRequest {
    pub response_type: String,
    /// Required for public clients and client_secret_post; else, if sent,
    /// the authenticated client's id.
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    /// At most 64 kB.
    pub state: Option<String>,
    pub code_challenge: String,
    /// `S256`.
    pub code_challenge_method: String,
    pub resource: Option<String>,
    pub prompt: Option<String>,
    /// client_secret_post.
    pub client_secret: Option<String>,
    /// private_key_jwt: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
    /// private_key_jwt: a JWT signed with one of the client's keys.
    pub client_assertion: Option<String>,
}

/// RFC 9126 §2.2 response.
#[derive(Object, Debug)]
pub struct PushedResponse {
    /// `urn:ietf:params:oauth:request_uri:` and 256 random bits.
    pub request_uri: String,
    /// Seconds the `request_uri` may be used (once).
    pub expires_in: u64,
}

#[derive(ApiResponse)]
pub enum Pushed {
    /// The request is kept: send the member to `/oauth/authorize` with
    /// `client_id` and this `request_uri`.
    #[oai(status = 201)]
    Created(Json<PushedResponse>),
}

pub struct ParApi {
    pub state: Arc<AppState>,
}

#[OpenApi]
impl ParApi {
    /// Pushed authorization request (RFC 9126).
    #[oai(
        path = "/oauth/par",
        method = "post",
        tag = "TokenTag::Tokens",
        transform = "no_store"
    )]
    async fn par(
        &self,
        remote: &RemoteAddr,
        authorization: ClientAuthorization,
        body: FormBody<PushedRequest, MAX_PAR_FORM_BYTES>,
    ) -> Result<Pushed, OAuthError> {
        let params = params::from_body(body)?;
        let ip = rate_limit::client_ip(remote);
        let state = &self.state;
        let client =
            client_auth::authenticate(state, ip, authorization.header(), &params, Rule::Registered)
                .await?;
        if params.get("request_uri").is_some() {
            return Err(OAuthError::invalid_request(
                "request_uri must not be pushed (RFC 9126 §2.1)",
            ));
        }
        let mut pairs = params.pairs().to_vec();
        match params.get("client_id") {
            Some(id) if id != client.client_id => {
                return Err(OAuthError::invalid_request(
                    "client_id is not the authenticated client",
                ));
            }
            Some(_) => {}
            None => pairs.push(("client_id".into(), client.client_id.clone())),
        }
        let request =
            request::Params::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.clone())));
        authorize::validate(state, &request, ip, false)
            .await
            .map_err(|e| e.error)?;
        let ttl = state.settings.clients.request_uri_ttl_secs;
        // i64: the setting is at most 600.
        let request_uri = pending::push(&state.db, &request, crate::clock::now(), ttl as i64)
            .await
            .map_err(|e| OAuthError::db(e, "keeping a pushed authorization request"))?;
        Ok(Pushed::Created(Json(PushedResponse {
            request_uri,
            expires_in: ttl,
        })))
    }
}
