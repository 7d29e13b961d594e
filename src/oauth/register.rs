//! The HTTP side of registration: `POST /oauth/register` (RFC 7591) and
//! `GET / PUT / DELETE /oauth/register/{client_id}` (RFC 7592).
//!
//! Handlers only sequence the steps: rate limit, policy, body, validation
//! (the pure functions of [`crate::oauth::client::metadata`]), storage ([`crate::oauth::client::store`]).
//! Every response carries `Cache-Control: no-store`; errors are
//! [`OAuthError`]s.
//!
//! Secrets are stored as SHA-256 only, so a read (GET) cannot echo the client
//! secret or the registration access token; an update (PUT) rotates the
//! registration access token and returns the new one.

use std::sync::Arc;

use entity::client::Model;
use poem::http::header::CONTENT_TYPE;
use poem::http::{HeaderValue, StatusCode};
use poem::web::RemoteAddr;
use poem::{IntoResponse, Response};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use sea_orm::TransactionTrait;
use serde_json::{Map, Value};

use crate::AppState;
use crate::audit::{self, At, Event};
use crate::crypto;
use crate::http::bearer::{self, Bearer};
use crate::http::json_body::{BodyProblem, JsonBody};
use crate::http::no_store::no_store;
use crate::oauth::client::metadata::{self, MAX_BODY_BYTES};
use crate::oauth::client::model::{self, ClientMetadata, GrantType};
use crate::oauth::client::store;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::rate_limit::{self, Decision};
use crate::settings::{RegistrationPolicy, Settings};

#[derive(Tags)]
enum Tag {
    /// Dynamic Client Registration (RFC 7591, RFC 7592)
    Registration,
}

/// RFC 7591 §3: the optional initial access token.
pub struct InitialAccess;
impl bearer::Scheme for InitialAccess {
    const NAME: &'static str = "InitialAccessToken";
    const DESCRIPTION: &'static str = "RFC 7591 initial access token; required only when the \
        server's registration policy is `initial_access_token`.";
    const OPTIONAL: bool = true;
}

/// RFC 7592: the registration access token issued at registration.
pub struct RegistrationAccess;
impl bearer::Scheme for RegistrationAccess {
    const NAME: &'static str = "RegistrationAccessToken";
    const DESCRIPTION: &'static str =
        "The registration_access_token returned by registration (or by the last update).";
    const OPTIONAL: bool = false;
}

/// Client metadata (RFC 7591 §2). Other fields are ignored and not stored.
#[derive(Object)]
#[oai(rename = "ClientMetadata")]
pub struct ClientMetadataRequest {
    /// Required for the authorization_code grant: https, http on a loopback
    /// host (any port matches at authorize time), or a private-use scheme in
    /// reverse-domain form. At most 10.
    pub redirect_uris: Option<Vec<String>>,
    /// `none`, `client_secret_basic` (default), `client_secret_post` or
    /// `private_key_jwt` (with `jwks` or `jwks_uri`).
    pub token_endpoint_auth_method: Option<String>,
    /// Subset of authorization_code (default), refresh_token,
    /// client_credentials (only with an initial access token).
    pub grant_types: Option<Vec<String>>,
    /// `["code"]` (default with authorization_code) or `[]`.
    pub response_types: Option<Vec<String>>,
    /// Space-separated supported scopes.
    pub scope: Option<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    /// `web` (redirect URIs https only) or `native` (https, loopback http,
    /// private-use schemes). Absent: every form is accepted.
    pub application_type: Option<String>,
    /// The client's public keys (RFC 7517 JWK Set; RSA or EC P-256, no
    /// private members), for `private_key_jwt`. Not with `jwks_uri`.
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its JWK Set (https), for `private_key_jwt`.
    /// Not with `jwks`.
    pub jwks_uri: Option<String>,
    /// RFC 9126 §6: the client's authorization requests must be pushed to
    /// `/oauth/par` (default false).
    pub require_pushed_authorization_requests: Option<bool>,
    /// OpenID Connect: `ES256` (default) or `RS256`.
    pub id_token_signed_response_alg: Option<String>,
    /// OpenID Connect RP-Initiated Logout: where the member may be sent
    /// after logout (matched exactly).
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// RFC 9449 §5.2: the client's token requests must carry a DPoP proof
    /// (default false).
    pub dpop_bound_access_tokens: Option<bool>,
    /// Update (RFC 7592) only: must equal the client's client_id.
    pub client_id: Option<String>,
    /// Update (RFC 7592) only: if present, must equal the issued secret.
    pub client_secret: Option<String>,
}

/// Client information response (RFC 7591 §3.2.1, RFC 7592 §3).
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ClientInformation {
    pub client_id: String,
    /// Clients of a secret method only, shown once (at registration, or when
    /// an update moves a client to a secret method).
    pub client_secret: Option<String>,
    pub client_id_issued_at: i64,
    /// 0: the secret does not expire. Present for confidential clients.
    pub client_secret_expires_at: Option<i64>,
    /// Returned by registration and by each update (which rotates it).
    pub registration_access_token: Option<String>,
    pub registration_client_uri: String,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub scope: Option<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    /// Present when the client registered one.
    pub application_type: Option<String>,
    /// The registered JWK Set (`private_key_jwt`).
    pub jwks: Option<serde_json::Value>,
    /// The registered JWK Set URL (`private_key_jwt`).
    pub jwks_uri: Option<String>,
    /// RFC 9126 §6.
    pub require_pushed_authorization_requests: bool,
    /// OpenID Connect: the id_token algorithm (`ES256` unless `RS256` was registered).
    pub id_token_signed_response_alg: String,
    /// OpenID Connect RP-Initiated Logout; present when registered.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// RFC 9449 §5.2.
    pub dpop_bound_access_tokens: bool,
}

/// RFC 7591 §3.2.2 / RFC 6750 §3 error.
#[derive(Object, Debug)]
pub struct ErrorBody {
    /// `invalid_client_metadata`, `invalid_redirect_uri`, `invalid_token`,
    /// `too_many_requests`, `temporarily_unavailable` or `server_error`.
    pub error: String,
    #[oai(skip_serializing_if_is_none)]
    pub error_description: Option<String>,
}

/// The statuses the registration endpoints answer an error with, for the
/// OpenAPI document only: what is sent is a [`RegistrationError`].
#[derive(ApiResponse, Debug)]
pub enum RegistrationErrorDoc {
    /// Invalid metadata or body (`invalid_client_metadata`, `invalid_redirect_uri`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing or wrong bearer token.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The body exceeds 64 KiB.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// Too many registrations from this address; retry after the given seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// Unexpected server fault.
    #[oai(status = 500)]
    ServerError(Json<ErrorBody>),
    /// The database is unavailable.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

/// An [`OAuthError`] as the registration endpoints send it: the same JSON
/// body, status and headers, with the `application/json; charset=utf-8`
/// content type of their other responses, and documented with their
/// statuses ([`RegistrationErrorDoc`]).
#[derive(Debug)]
pub struct RegistrationError(pub OAuthError);

impl From<OAuthError> for RegistrationError {
    fn from(e: OAuthError) -> Self {
        RegistrationError(e)
    }
}

impl IntoResponse for RegistrationError {
    fn into_response(self) -> Response {
        let mut resp = self.0.into_response();
        resp.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        resp
    }
}

impl From<RegistrationError> for poem::Error {
    fn from(e: RegistrationError) -> poem::Error {
        poem::Error::from_response(e.into_response())
    }
}

impl ApiResponse for RegistrationError {
    fn meta() -> MetaResponses {
        RegistrationErrorDoc::meta()
    }

    fn register(registry: &mut Registry) {
        RegistrationErrorDoc::register(registry);
    }
}

/// `invalid_client_metadata` for a body that is not there to parse.
fn body_problem(problem: BodyProblem) -> OAuthError {
    let (status, description) = match problem {
        BodyProblem::UnsupportedMediaType(ct) => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            match ct {
                Some(ct) => format!("the request body must be application/json, not {ct:?}"),
                None => "the request body must be application/json (no Content-Type)".into(),
            },
        ),
        BodyProblem::TooLarge(limit) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body exceeds {limit} bytes"),
        ),
        BodyProblem::Unreadable => (
            StatusCode::BAD_REQUEST,
            "the request body could not be read".into(),
        ),
    };
    OAuthError::new(status, ErrorCode::InvalidClientMetadata, description)
}

/// RFC 6750 §3: no error code in the challenge when no token was sent.
fn invalid_token(sent: bool, what: &str) -> OAuthError {
    let (challenge, description) = if sent {
        (
            "Bearer error=\"invalid_token\"",
            format!("the {what} is not valid"),
        )
    } else {
        (
            "Bearer",
            format!("a {what} is required (Authorization: Bearer)"),
        )
    };
    OAuthError {
        challenge: Some(challenge),
        ..OAuthError::of(ErrorCode::InvalidToken, description)
    }
}

#[derive(ApiResponse)]
pub enum Registered {
    /// The client is registered; secrets are shown this once.
    #[oai(status = 201)]
    Created(Json<ClientInformation>),
}

#[derive(ApiResponse)]
pub enum Current {
    /// The client's current registration.
    #[oai(status = 200)]
    Ok(Json<ClientInformation>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    /// The client is deleted.
    #[oai(status = 204)]
    NoContent,
}

type Body = JsonBody<ClientMetadataRequest, MAX_BODY_BYTES>;

pub struct RegistrationApi {
    pub state: Arc<AppState>,
}

#[OpenApi]
impl RegistrationApi {
    /// Register a client (RFC 7591).
    #[oai(
        path = "/oauth/register",
        method = "post",
        tag = "Tag::Registration",
        transform = "no_store"
    )]
    async fn register(
        &self,
        remote: &RemoteAddr,
        token: Bearer<InitialAccess>,
        body: Body,
    ) -> Result<Registered, RegistrationError> {
        let now = crate::clock::now();
        self.rate_limit(remote, now).await?;
        let with_initial_access_token = self.check_policy(&token)?;
        let meta =
            metadata::validate_with(&object(body)?, self.state.settings.cimd.allow_loopback)?;
        metadata::check_machine_grant(&meta, with_initial_access_token)?;

        let client_id = crypto::b64url(&crypto::random_bytes::<16>());
        let secret = meta
            .token_endpoint_auth_method
            .uses_secret()
            .then(crypto::random_token);
        let registration_token = crypto::random_token();
        let at = At::of_addr(remote, now);
        let registered = async {
            let txn = self.state.db.begin().await?;
            let row = store::insert(
                &txn,
                &client_id,
                &meta,
                secret.as_deref().map(crypto::sha256_hex),
                crypto::sha256_hex(&registration_token),
                now,
            )
            .await?;
            let event = Event::ClientRegistered {
                actor: &client_id,
                agency_id: None,
                client_id: &client_id,
            };
            audit::record(&txn, at, event).await?;
            txn.commit().await.map(|_| row)
        };
        let row = registered
            .await
            .map_err(|e| OAuthError::db(e, "insert client"))?;
        tracing::info!(
            %client_id,
            auth_method = meta.token_endpoint_auth_method.as_str(),
            "client registered"
        );
        let info = information(&row, &self.state.settings, secret, Some(registration_token));
        Ok(Registered::Created(Json(info)))
    }

    /// Read a client's registration (RFC 7592 §2.1). The response must carry
    /// a registration access token (RFC 7592 §3) and only its hash is
    /// stored, so a read rotates it: use the one in the response from now on.
    #[oai(
        path = "/oauth/register/:client_id",
        method = "get",
        tag = "Tag::Registration",
        transform = "no_store"
    )]
    async fn read(
        &self,
        client_id: Path<String>,
        token: Bearer<RegistrationAccess>,
    ) -> Result<Current, RegistrationError> {
        let row = self.authenticate(&client_id, &token).await?;
        let registration_token = crypto::random_token();
        let rotated = store::rotate_registration_token(
            &self.state.db,
            &row,
            crypto::sha256_hex(&registration_token),
        )
        .await
        .map_err(|e| OAuthError::db(e, "rotate registration token"))?;
        if !rotated {
            // A concurrent read, update or delete won.
            return Err(invalid_token(true, "registration access token").into());
        }
        Ok(Current::Ok(Json(information(
            &row,
            &self.state.settings,
            None,
            Some(registration_token),
        ))))
    }

    /// Replace a client's metadata (RFC 7592 §2.2). Rotates the registration
    /// access token.
    #[oai(
        path = "/oauth/register/:client_id",
        method = "put",
        tag = "Tag::Registration",
        transform = "no_store"
    )]
    async fn update(
        &self,
        remote: &RemoteAddr,
        client_id: Path<String>,
        token: Bearer<RegistrationAccess>,
        body: Body,
    ) -> Result<Current, RegistrationError> {
        let current = self.authenticate(&client_id, &token).await?;
        let obj = object(body)?;
        metadata::check_update_identity(&obj, &current.client_id, |presented| {
            current
                .client_secret_hash
                .as_deref()
                .is_some_and(|h| crypto::matches_hash(presented, h))
        })?;
        let meta = metadata::validate_with(&obj, self.state.settings.cimd.allow_loopback)?;
        let machine =
            model::grant_types(&current.grant_types).contains(&GrantType::ClientCredentials);
        metadata::check_machine_grant(&meta, machine)?;

        let (secret_hash, new_secret) = secret_after_update(&meta, &current);
        let registration_token = crypto::random_token();
        let at = At::of_addr(remote, crate::clock::now());
        // The new metadata, the consents it voids and their audit events
        // land together or not at all.
        let updated = async {
            let txn = self.state.db.begin().await?;
            let row = store::replace(
                &txn,
                &current,
                &meta,
                secret_hash,
                crypto::sha256_hex(&registration_token),
                at.ts,
            )
            .await?;
            if let Some(row) = &row {
                let event = Event::ClientUpdated {
                    actor: &row.client_id,
                    client_id: &row.client_id,
                };
                audit::record(&txn, at, event).await?;
                // What members consented to changed: ask them again (issue 13, item 7).
                crate::oauth::authorize::consent::forget_client_if_changed(&txn, &current, row, at)
                    .await?;
            }
            txn.commit().await.map(|_| row)
        };
        let row = updated
            .await
            .map_err(|e| OAuthError::db(e, "update client"))?
            // A concurrent update rotated the token or a delete won.
            .ok_or_else(|| invalid_token(true, "registration access token"))?;
        self.state.client_cache.invalidate(&row.client_id);
        tracing::info!(client_id = %row.client_id, "client updated");
        let info = information(
            &row,
            &self.state.settings,
            new_secret,
            Some(registration_token),
        );
        Ok(Current::Ok(Json(info)))
    }

    /// Delete a client (RFC 7592 §2.3).
    #[oai(
        path = "/oauth/register/:client_id",
        method = "delete",
        tag = "Tag::Registration",
        transform = "no_store"
    )]
    async fn delete(
        &self,
        remote: &RemoteAddr,
        client_id: Path<String>,
        token: Bearer<RegistrationAccess>,
    ) -> Result<Deleted, RegistrationError> {
        let current = self.authenticate(&client_id, &token).await?;
        let hash = current
            .registration_token_hash
            .as_deref()
            .unwrap_or_default();
        let at = At::of_addr(remote, crate::clock::now());
        let deleted = async {
            let txn = self.state.db.begin().await?;
            let deleted = store::delete(&txn, &current.client_id, hash).await?;
            if deleted {
                let event = Event::ClientDeleted {
                    actor: &current.client_id,
                    client_id: &current.client_id,
                };
                audit::record(&txn, at, event).await?;
            }
            txn.commit().await.map(|_| deleted)
        };
        let deleted = deleted
            .await
            .map_err(|e| OAuthError::db(e, "delete client"))?;
        if !deleted {
            return Err(invalid_token(true, "registration access token").into());
        }
        self.state.client_cache.invalidate(&current.client_id);
        tracing::info!(client_id = %current.client_id, "client deleted");
        Ok(Deleted::NoContent)
    }
}

impl RegistrationApi {
    /// Count this request against its address; refuse over the limit.
    async fn rate_limit(&self, remote: &RemoteAddr, now: i64) -> Result<(), OAuthError> {
        let limit = self.state.settings.registration.rate_limit_per_minute;
        let bucket = match remote.as_socket_addr() {
            Some(addr) => rate_limit::ip_bucket("register", addr.ip()),
            None => "register:unknown".to_string(),
        };
        match rate_limit::hit(&self.state.db, &bucket, limit, now)
            .await
            .map_err(|e| OAuthError::db(e, "rate limit"))?
        {
            Decision::Allowed => Ok(()),
            Decision::Limited { retry_after_secs } => {
                metrics::counter!("rate_limit_hits_total", "limit" => "register").increment(1);
                tracing::info!(%bucket, "registration rate limit reached");
                Err(OAuthError {
                    retry_after: Some(retry_after_secs),
                    ..OAuthError::of(
                        ErrorCode::TooManyRequests,
                        format!(
                            "too many registration requests from this address (limit {limit} \
                             per minute); retry after {retry_after_secs} s"
                        ),
                    )
                })
            }
        }
    }

    /// RFC 7591 §3: whether the request carries one of the configured
    /// initial access tokens. The `initial_access_token` policy requires
    /// one; with `open`, a missing or unknown token is an open registration.
    fn check_policy(&self, token: &Bearer<InitialAccess>) -> Result<bool, OAuthError> {
        let reg = &self.state.settings.registration;
        // Check every configured token: the time does not depend on which matched.
        let accepted = token.token().is_some_and(|presented| {
            reg.initial_access_token_hashes
                .iter()
                .fold(false, |ok, h| crypto::matches_hash(presented, h) | ok)
        });
        match (accepted, reg.policy, token.token()) {
            (true, _, _) => Ok(true),
            (false, RegistrationPolicy::Open, _) => Ok(false),
            (false, _, None) => Err(invalid_token(false, "initial access token")),
            (false, _, Some(_)) => Err(invalid_token(true, "initial access token")),
        }
    }

    /// The client whose registration access token this is. Unknown client
    /// and wrong token look the same: 401 (RFC 7592 §2.1).
    async fn authenticate(
        &self,
        client_id: &str,
        token: &Bearer<RegistrationAccess>,
    ) -> Result<Model, OAuthError> {
        const WHAT: &str = "registration access token";
        let Some(presented) = token.token() else {
            return Err(invalid_token(false, WHAT));
        };
        let row = store::find(&self.state.db, client_id)
            .await
            .map_err(|e| OAuthError::db(e, "find client"))?;
        let stored = row
            .as_ref()
            .and_then(|r| r.registration_token_hash.as_deref());
        // Hash and compare even for an unknown client, to keep timing flat.
        let matched = crypto::matches_hash(presented, stored.unwrap_or(UNUSABLE_HASH));
        match row {
            Some(row) if matched && stored.is_some() => Ok(row),
            _ => Err(invalid_token(true, WHAT)),
        }
    }
}

/// Not the hex of any SHA-256 (`x` is not hex).
const UNUSABLE_HASH: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// The body as a JSON object, or the error that explains why not.
fn object(body: Body) -> Result<Map<String, Value>, OAuthError> {
    let bytes = body.bytes.map_err(body_problem)?;
    metadata::parse_object(&bytes)
}

/// The secret hash after an update, and a new secret to show when the
/// client starts using a secret method. A client of a secret method keeps
/// its secret; a public or `private_key_jwt` one has none.
fn secret_after_update(meta: &ClientMetadata, current: &Model) -> (Option<String>, Option<String>) {
    match (
        meta.token_endpoint_auth_method.uses_secret(),
        &current.client_secret_hash,
    ) {
        (false, _) => (None, None),
        (true, Some(hash)) => (Some(hash.clone()), None),
        (true, None) => {
            let secret = crypto::random_token();
            (Some(crypto::sha256_hex(&secret)), Some(secret))
        }
    }
}

/// The client information response for a stored client.
fn information(
    row: &Model,
    settings: &Settings,
    client_secret: Option<String>,
    registration_access_token: Option<String>,
) -> ClientInformation {
    let contacts = model::list(&row.contacts);
    ClientInformation {
        client_id: row.client_id.clone(),
        client_secret,
        client_id_issued_at: row.created_at,
        client_secret_expires_at: row.client_secret_hash.is_some().then_some(0),
        registration_access_token,
        registration_client_uri: settings.endpoint(&format!("/oauth/register/{}", row.client_id)),
        redirect_uris: model::list(&row.redirect_uris),
        token_endpoint_auth_method: row.token_endpoint_auth_method.as_str().to_string(),
        grant_types: model::list(&row.grant_types),
        response_types: model::list(&row.response_types),
        scope: row.scope.clone(),
        client_name: row.client_name.clone(),
        client_uri: row.client_uri.clone(),
        logo_uri: row.logo_uri.clone(),
        tos_uri: row.tos_uri.clone(),
        policy_uri: row.policy_uri.clone(),
        contacts: (!contacts.is_empty()).then_some(contacts),
        software_id: row.software_id.clone(),
        software_version: row.software_version.clone(),
        application_type: row.application_type.map(|t| t.as_str().to_string()),
        jwks: row
            .jwks
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok()),
        jwks_uri: row.jwks_uri.clone(),
        require_pushed_authorization_requests: row.require_pushed_authorization_requests,
        id_token_signed_response_alg: model::id_token_alg(
            row.id_token_signed_response_alg.as_deref(),
        )
        .to_string(),
        post_logout_redirect_uris: Some(model::list(&row.post_logout_redirect_uris))
            .filter(|l| !l.is_empty()),
        dpop_bound_access_tokens: row.dpop_bound_access_tokens,
    }
}

#[cfg(test)]
mod tests {
    use poem::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};

    use super::*;

    fn sent(e: OAuthError) -> (StatusCode, Response) {
        let resp = RegistrationError(e).into_response();
        (resp.status(), resp)
    }

    #[test]
    fn errors_are_sent_as_before() {
        let (status, resp) = sent(body_problem(BodyProblem::TooLarge(MAX_BODY_BYTES)));
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            resp.headers()[CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        let (status, _) = sent(body_problem(BodyProblem::UnsupportedMediaType(None)));
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

        let (status, resp) = sent(invalid_token(false, "registration access token"));
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(resp.headers()[WWW_AUTHENTICATE], "Bearer");
        let (_, resp) = sent(invalid_token(true, "registration access token"));
        assert_eq!(
            resp.headers()[WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );

        let limited = OAuthError {
            retry_after: Some(7),
            ..OAuthError::of(ErrorCode::TooManyRequests, "slow down")
        };
        let (status, resp) = sent(limited);
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()[RETRY_AFTER], "7");
    }
}
