//! `POST /oauth/device_authorization`: the device authorization grant
//! (RFC 8628, issue 18) for devices that cannot receive a redirect (a CLI,
//! a headless agent, a TV app).
//!
//! The client authenticates exactly as at the token endpoint (a public
//! client sends its `client_id`) and must have registered the grant
//! `urn:ietf:params:oauth:grant-type:device_code`; `scope` and `resource`
//! are checked as at `/oauth/authorize`. The answer: a `device_code`
//! (256 random bits, stored as its SHA-256), a `user_code` the member
//! enters at `/device` ([`user_code`]), both valid
//! `clients.device_code_ttl_secs`, and the polling `interval`. The member's
//! answer and the token endpoint's polling are in [`store`]; the page in
//! `web::device`, the grant in `oauth::token::device_code`.

pub mod store;
pub mod user_code;

use std::sync::Arc;

use poem::web::RemoteAddr;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use crate::AppState;
use crate::http::basic::ClientAuthorization;
use crate::http::form_body::FormBody;
use crate::http::no_store::no_store;
use crate::oauth::TokenTag;
use crate::oauth::authorize::request::requested_scopes;
use crate::oauth::client::authentication::{self as client_auth, Rule};
use crate::oauth::client::metadata_document;
use crate::oauth::client::model::{self, GrantType};
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::{self, MAX_FORM_BYTES};
use crate::oauth::resource;
use crate::rate_limit;

/// Seconds a device waits between polls (RFC 8628 §3.2 `interval`).
pub const INTERVAL_SECS: u64 = 5;

/// The page where a member enters the user code.
pub const PAGE: &str = "/device";

/// New device authorizations one address may start per minute: each row
/// lives up to an hour; a person starts a handful.
const PER_MINUTE_PER_IP: u32 = 30;

/// RFC 8628 §3.1 request, form-encoded, with the client's authentication
/// (as at the token endpoint).
#[derive(Object)]
pub struct DeviceAuthorizationRequest {
    /// Required for public clients and client_secret_post; else, if sent,
    /// the authenticated client's id.
    pub client_id: Option<String>,
    /// Space-separated scopes, within the client's registered scope;
    /// omitted: the registered scope (or the server's default).
    pub scope: Option<String>,
    /// RFC 8707 resource the tokens are for; omitted: the default resource.
    pub resource: Option<String>,
    /// client_secret_post.
    pub client_secret: Option<String>,
    /// private_key_jwt: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
    /// private_key_jwt: a JWT signed with one of the client's keys.
    pub client_assertion: Option<String>,
}

/// RFC 8628 §3.2 response.
#[derive(Object, Debug)]
pub struct DeviceAuthorizationResponse {
    /// For the token endpoint (`grant_type=urn:ietf:params:oauth:grant-type:device_code`).
    pub device_code: String,
    /// For the member to enter at `verification_uri`: 8 letters, `XXXX-XXXX`.
    pub user_code: String,
    /// The page where the member signs in and enters `user_code`.
    pub verification_uri: String,
    /// `verification_uri` with the code filled in (the member still
    /// confirms it).
    pub verification_uri_complete: String,
    /// Seconds both codes are valid.
    pub expires_in: u64,
    /// Seconds to wait between token requests.
    pub interval: u64,
}

#[derive(ApiResponse)]
pub enum DeviceAuthorized {
    /// Show `user_code` and `verification_uri` to the member, then poll
    /// the token endpoint.
    #[oai(status = 200)]
    Ok(Json<DeviceAuthorizationResponse>),
}

pub struct DeviceApi {
    pub state: Arc<AppState>,
}

#[OpenApi]
impl DeviceApi {
    /// Device authorization request (RFC 8628).
    #[oai(
        path = "/oauth/device_authorization",
        method = "post",
        tag = "TokenTag::Tokens",
        transform = "no_store"
    )]
    async fn device_authorization(
        &self,
        remote: &RemoteAddr,
        authorization: ClientAuthorization,
        body: FormBody<DeviceAuthorizationRequest, MAX_FORM_BYTES>,
    ) -> Result<DeviceAuthorized, OAuthError> {
        let params = params::from_body(body)?;
        let ip = rate_limit::client_ip(remote);
        let state = &self.state;
        let client =
            client_auth::authenticate(state, ip, authorization.header(), &params, Rule::Registered)
                .await?;
        if !client.has_grant(GrantType::DeviceCode) {
            return Err(OAuthError::unauthorized_client(
                "the client is not registered for the \
                 urn:ietf:params:oauth:grant-type:device_code grant",
            ));
        }
        // The checks of the authorization endpoint, on the stored client.
        let row = metadata_document::find(state, &client.client_id)
            .await
            .map_err(|e| OAuthError::db(e, "find client"))?
            .ok_or_else(|| OAuthError::invalid_client("unknown client", false))?;
        let (scopes, identity, offline) = requested_scopes(
            params.get("scope"),
            &row,
            &model::list(&row.grant_types),
            &state.settings.scopes.default,
        )
        .map_err(OAuthError::invalid_scope)?;
        let requested: Vec<String> = params.all("resource").map(str::to_string).collect();
        let resource =
            resource::audience(&state.db, &state.settings.default_resource, &requested).await?;

        let now = crate::clock::now();
        if let Some(ip) = ip
            && let rate_limit::Decision::Limited { retry_after_secs } = rate_limit::hit(
                &state.db,
                &rate_limit::ip_bucket("device-authorization", ip),
                PER_MINUTE_PER_IP,
                now,
            )
            .await
            .map_err(|e| OAuthError::db(e, "count device authorizations"))?
        {
            return Err(OAuthError {
                retry_after: Some(retry_after_secs),
                ..OAuthError::of(
                    ErrorCode::TooManyRequests,
                    "too many device authorizations from this address; retry later",
                )
            });
        }
        let ttl = state.settings.clients.device_code_ttl_secs;
        // Identity scopes ride with the permissions; the page tells them apart.
        let scope = [scopes, identity].concat().join(" ");
        let codes = store::create(
            &state.db,
            &store::NewDevice {
                client_id: &client.client_id,
                scope: &scope,
                offline,
                resource: &resource,
            },
            now,
            // Both at most an hour: no overflow.
            ttl as i64,
            INTERVAL_SECS as i64,
        )
        .await
        .map_err(|e| OAuthError::db(e, "store device authorization"))?;
        tracing::info!(client_id = %client.client_id, "device authorization started");
        let verification_uri = state.settings.endpoint(PAGE);
        let user_code = user_code::display(&codes.user_code);
        let verification_uri_complete = format!("{verification_uri}?user_code={user_code}");
        Ok(DeviceAuthorized::Ok(Json(DeviceAuthorizationResponse {
            device_code: codes.device_code,
            user_code,
            verification_uri,
            verification_uri_complete,
            expires_in: ttl,
            interval: INTERVAL_SECS,
        })))
    }
}
