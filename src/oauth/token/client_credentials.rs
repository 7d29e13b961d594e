//! The client_credentials grant (RFC 6749 §4.4): a confidential client gets
//! an access token for itself. `sub` is the client id; no member, so no
//! `agency_id`/`role`; no refresh token.

use crate::AppState;
use crate::oauth::client::ClientRecord;
use crate::oauth::error::OAuthError;
use crate::oauth::params::quote;
use crate::oauth::resource;
use crate::scopes::OFFLINE_ACCESS;

use super::access_token::{self, Grant, Stamp};
use super::request::ClientCredentialsRequest;
use super::{TokenResponse, split_scope};

/// The scopes to grant `client` for a `scope` parameter (`None`: omitted),
/// or why not. The client is confidential and registered for the grant
/// ([`super::request::admit`]).
pub fn decide<'a>(
    client: &'a ClientRecord,
    requested: Option<&'a str>,
) -> Result<Vec<&'a str>, OAuthError> {
    let registered = || client.scope.iter().map(String::as_str);
    let scopes = match requested {
        Some(requested) => {
            let scopes = split_scope(requested)?;
            if scopes.contains(&OFFLINE_ACCESS) {
                return Err(OAuthError::invalid_scope(
                    "offline_access cannot be requested with client_credentials (no refresh \
                     token is issued); remove it",
                ));
            }
            // No member is behind the token: nothing to identify (OpenID
            // Connect identity scopes need the code flow).
            if let Some(identity) = scopes.iter().find(|s| crate::scopes::is_identity(s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "{} cannot be requested with client_credentials (it is about a member; \
                     use the authorization code flow); remove it",
                    quote(identity)
                )));
            }
            if let Some(outside) = scopes.iter().find(|s| !registered().any(|r| r == **s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {} is not within the client's registered scope ({})",
                    quote(outside),
                    show_registered(client)
                )));
            }
            scopes
        }
        None => registered()
            .filter(|s| *s != OFFLINE_ACCESS && !crate::scopes::is_identity(s))
            .collect(),
    };
    if scopes.is_empty() {
        return Err(OAuthError::invalid_scope(
            "no scope to grant: the client has no registered scope usable with \
             client_credentials and requested none",
        ));
    }
    Ok(scopes)
}

fn show_registered(client: &ClientRecord) -> String {
    if client.scope.is_empty() {
        "none".to_string()
    } else {
        client.scope.join(" ")
    }
}

/// Serve a client_credentials request of an authenticated client admitted
/// to the grant.
pub async fn exchange(
    state: &AppState,
    client: &ClientRecord,
    request: ClientCredentialsRequest,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let scopes = decide(client, request.scope.as_deref())?;
    let settings = &state.settings;
    let audience =
        resource::audience(&state.db, &settings.default_resource, &request.resource).await?;
    let grant = Grant {
        subject: &client.client_id,
        client_id: &client.client_id,
        scopes: &scopes,
        audience: &audience,
        member: None,
        jkt,
    };
    let stamp = Stamp::new(crate::clock::now(), settings.tokens.access_token_ttl_secs);
    let jti = stamp.jti.clone();
    let response = access_token::issue(state, &grant, stamp, None).await?;
    tracing::debug!(client_id = %client.client_id, %jti, "client_credentials token issued");
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client::GrantType;
    use crate::oauth::error::ErrorCode;

    fn client(scope: &str, grants: &[GrantType], secret: bool) -> ClientRecord {
        crate::oauth::client::model::test_record(scope, grants, secret)
    }

    const CC: &[GrantType] = &[GrantType::ClientCredentials];

    #[test]
    fn identity_scopes_are_never_granted_to_a_machine() {
        let c = client("agency:read openid email", CC, true);
        assert_eq!(decide(&c, None).unwrap(), vec!["agency:read"]);
        let e = decide(&c, Some("agency:read openid")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        assert!(e.description.contains("openid"), "{}", e.description);
    }

    #[test]
    fn scope_defaults_to_registered_without_offline_access() {
        let c = client("agency:read posts:read offline_access", CC, true);
        assert_eq!(decide(&c, None).unwrap(), ["agency:read", "posts:read"]);
        assert_eq!(
            decide(&c, Some("posts:read posts:read")).unwrap(),
            ["posts:read"]
        );
    }

    #[test]
    fn refusals() {
        let c = client("agency:read", CC, true);
        let e = decide(&c, Some("agency:read billing:write")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        assert!(e.description.contains("'billing:write'"), "{e}");
        let c = client("agency:read offline_access", CC, true);
        let e = decide(&c, Some("agency:read offline_access")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        assert!(e.description.contains("offline_access"));
        let e = decide(&client("", CC, true), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidScope);
        // Public and unregistered clients are refused before: request::admit.
    }
}
