//! The token request (RFC 6749 §3.2, §4.1.3, §4.4.2, §6), typed per grant.
//!
//! The form is parsed once into [`Params`] (each parameter at most once,
//! except `resource`), then read here in the order clients see the errors:
//! the `grant_type` first ([`grant_type`]: missing or unsupported, before
//! any client authentication), then whether the authenticated client may
//! use that grant ([`admit`]), then the grant's own parameters
//! ([`TokenRequest::parse`]). Each grant file receives only its variant.
//! Unknown parameters are ignored (RFC 6749 §3.2).

use poem_openapi::Object;

use crate::oauth::client::{ClientRecord, GrantType};
use crate::oauth::error::OAuthError;
use crate::oauth::params::{Params, quote};
use crate::oauth::pkce;

// The OpenAPI document's shape of the form, for the documentation only:
// requests are read by `TokenRequest::parse`. Keep its text: it is the
// published `TokenRequest` schema.
/// Token request (RFC 6749 §4.4.2), form-encoded. Each parameter at most
/// once (except `resource`); unknown parameters are ignored.
#[derive(Object)]
#[oai(rename = "TokenRequest")]
pub struct TokenRequestDoc {
    /// `authorization_code`, `refresh_token`, `client_credentials` or
    /// `urn:ietf:params:oauth:grant-type:device_code`.
    pub grant_type: String,
    /// authorization_code: the code from the authorization response.
    pub code: Option<String>,
    /// authorization_code: the PKCE verifier (43–128 characters).
    pub code_verifier: Option<String>,
    /// authorization_code: required when the authorization request had one.
    pub redirect_uri: Option<String>,
    /// refresh_token: the refresh token (rotated on every use).
    pub refresh_token: Option<String>,
    /// device_code (RFC 8628 §3.4): the `device_code` of the device
    /// authorization response.
    pub device_code: Option<String>,
    /// Space-separated scopes, within the client's registered scope; omitted:
    /// the registered scope.
    pub scope: Option<String>,
    /// RFC 8707 resource the token is for (its `aud`); omitted: the default
    /// resource.
    pub resource: Option<String>,
    /// client_secret_post and public clients.
    pub client_id: Option<String>,
    /// client_secret_post.
    pub client_secret: Option<String>,
    /// private_key_jwt: `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    pub client_assertion_type: Option<String>,
    /// private_key_jwt: a JWT signed with one of the client's keys (RFC 7523
    /// §2.2), used once.
    pub client_assertion: Option<String>,
}

/// A token request, by grant. Client credentials (`client_id`,
/// `client_secret`) are not here: the client is authenticated before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    AuthorizationCode(CodeRequest),
    RefreshToken(RefreshRequest),
    ClientCredentials(ClientCredentialsRequest),
    DeviceCode(DeviceCodeRequest),
}

/// `grant_type=authorization_code` (OAuth 2.1 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRequest {
    pub code: String,
    /// Already of the RFC 7636 §4.1 shape.
    pub code_verifier: String,
    pub redirect_uri: Option<String>,
    /// Every `resource` sent (RFC 8707 allows repeats; the grant decides).
    pub resource: Vec<String>,
}

/// `grant_type=refresh_token` (RFC 6749 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRequest {
    pub refresh_token: String,
    pub scope: Option<String>,
    pub resource: Vec<String>,
}

/// `grant_type=client_credentials` (RFC 6749 §4.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentialsRequest {
    pub scope: Option<String>,
    pub resource: Vec<String>,
}

/// `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCodeRequest {
    pub device_code: String,
}

/// The grant a request asks for, or why there is none this server serves.
/// The only place a `grant_type` value is read.
pub fn grant_type(params: &Params) -> Result<GrantType, OAuthError> {
    let Some(name) = params.get("grant_type") else {
        return Err(OAuthError::invalid_request(format!(
            "grant_type is required (supported: {})",
            supported()
        )));
    };
    GrantType::parse(name).ok_or_else(|| unsupported(name))
}

fn unsupported(grant_type: &str) -> OAuthError {
    OAuthError::unsupported_grant_type(format!(
        "grant_type {} is not supported by this server (supported: {})",
        quote(grant_type),
        supported()
    ))
}

/// Every grant type served (all a client can register), for descriptions.
fn supported() -> String {
    GrantType::ALL.map(GrantType::as_str).join(", ")
}

/// What a grant asks of the client using it.
struct ClientRule {
    /// Why a public client (`none`) may not use the grant; `None`: it may.
    public_refused: Option<&'static str>,
    /// Why a client not registered for the grant may not use it.
    unregistered: &'static str,
}

const fn rule(grant: GrantType) -> ClientRule {
    match grant {
        GrantType::AuthorizationCode => ClientRule {
            public_refused: None,
            unregistered: "the client is not registered for the authorization_code grant",
        },
        GrantType::RefreshToken => ClientRule {
            public_refused: None,
            unregistered: "the client is not registered for the refresh_token grant",
        },
        // OAuth 2.1 §4.2: a client acting for itself must prove who it is.
        GrantType::ClientCredentials => ClientRule {
            public_refused: Some(
                "client_credentials is for confidential clients; a public client (\
                 token_endpoint_auth_method none) cannot use it",
            ),
            unregistered: "the client is not registered for the client_credentials grant \
                           (machine clients come from `skedcast-auth client create` or a \
                           registration with an initial access token)",
        },
        GrantType::DeviceCode => ClientRule {
            public_refused: None,
            unregistered: "the client is not registered for the \
                           urn:ietf:params:oauth:grant-type:device_code grant",
        },
    }
}

/// Whether the authenticated `client` may use `grant`, or the
/// `unauthorized_client` that says why not.
pub fn admit(grant: GrantType, client: &ClientRecord) -> Result<(), OAuthError> {
    let rule = rule(grant);
    if !client.auth_method.is_confidential()
        && let Some(why) = rule.public_refused
    {
        return Err(OAuthError::unauthorized_client(why));
    }
    if !client.has_grant(grant) {
        return Err(OAuthError::unauthorized_client(rule.unregistered));
    }
    Ok(())
}

impl TokenRequest {
    /// The parameters of `grant` in `params`, or the `invalid_request` that
    /// names the missing or malformed one.
    pub fn parse(grant: GrantType, params: &Params) -> Result<TokenRequest, OAuthError> {
        let owned = |name: &str| params.get(name).map(str::to_string);
        let resource = || params.all("resource").map(str::to_string).collect();
        Ok(match grant {
            GrantType::AuthorizationCode => {
                let code =
                    owned("code").ok_or_else(|| OAuthError::invalid_request("code is required"))?;
                let code_verifier = owned("code_verifier").ok_or_else(|| {
                    OAuthError::invalid_request("code_verifier is required (PKCE)")
                })?;
                if !pkce::is_valid_verifier(&code_verifier) {
                    return Err(OAuthError::invalid_request(
                        "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ \
                         (RFC 7636 §4.1)",
                    ));
                }
                TokenRequest::AuthorizationCode(CodeRequest {
                    code,
                    code_verifier,
                    redirect_uri: owned("redirect_uri"),
                    resource: resource(),
                })
            }
            GrantType::RefreshToken => TokenRequest::RefreshToken(RefreshRequest {
                refresh_token: owned("refresh_token")
                    .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?,
                scope: owned("scope"),
                resource: resource(),
            }),
            GrantType::ClientCredentials => {
                TokenRequest::ClientCredentials(ClientCredentialsRequest {
                    scope: owned("scope"),
                    resource: resource(),
                })
            }
            GrantType::DeviceCode => TokenRequest::DeviceCode(DeviceCodeRequest {
                device_code: owned("device_code")
                    .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?,
            }),
        })
    }

    pub fn grant_type(&self) -> GrantType {
        match self {
            TokenRequest::AuthorizationCode(_) => GrantType::AuthorizationCode,
            TokenRequest::RefreshToken(_) => GrantType::RefreshToken,
            TokenRequest::ClientCredentials(_) => GrantType::ClientCredentials,
            TokenRequest::DeviceCode(_) => GrantType::DeviceCode,
        }
    }

    /// The `grant_type` value, also the metrics label.
    pub fn as_str(&self) -> &'static str {
        self.grant_type().as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::error::ErrorCode;
    use crate::oauth::params::parse;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    /// The whole path a body takes: form, grant type, grant parameters.
    fn request(body: &str) -> Result<TokenRequest, OAuthError> {
        let params = parse(body.as_bytes())?;
        TokenRequest::parse(grant_type(&params)?, &params)
    }

    fn error(body: &str) -> (ErrorCode, String) {
        let e = request(body).unwrap_err();
        (e.code, e.description)
    }

    #[test]
    fn authorization_code() {
        let r = request(&format!(
            "grant_type=authorization_code&code=c1&code_verifier={VERIFIER}\
             &redirect_uri=https%3A%2F%2Fapp.example%2Fcb&resource=https%3A%2F%2Fapi&scope=x\
             &client_id=app"
        ))
        .unwrap();
        assert_eq!(r.as_str(), "authorization_code");
        assert_eq!(
            r,
            TokenRequest::AuthorizationCode(CodeRequest {
                code: "c1".into(),
                code_verifier: VERIFIER.into(),
                redirect_uri: Some("https://app.example/cb".into()),
                resource: vec!["https://api".into()],
            })
        );
        // redirect_uri and resource are optional; empty counts as omitted.
        let r = request(&format!(
            "grant_type=authorization_code&code=c1&code_verifier={VERIFIER}&redirect_uri="
        ))
        .unwrap();
        let TokenRequest::AuthorizationCode(r) = r else {
            panic!("{r:?}")
        };
        assert_eq!((r.redirect_uri, r.resource), (None, vec![]));
    }

    #[test]
    fn authorization_code_missing_or_bad_parameters() {
        let code = "grant_type=authorization_code";
        assert_eq!(
            error(&format!("{code}&code_verifier={VERIFIER}")),
            (ErrorCode::InvalidRequest, "code is required".into())
        );
        assert_eq!(
            error(&format!("{code}&code=&code_verifier={VERIFIER}")),
            (ErrorCode::InvalidRequest, "code is required".into())
        );
        assert_eq!(
            error(&format!("{code}&code=c1")),
            (
                ErrorCode::InvalidRequest,
                "code_verifier is required (PKCE)".into()
            )
        );
        let (c, d) = error(&format!("{code}&code=c1&code_verifier=short"));
        assert_eq!(c, ErrorCode::InvalidRequest);
        assert!(d.contains("43 to 128 characters"), "{d}");
    }

    #[test]
    fn refresh_token() {
        let r = request(
            "grant_type=refresh_token&refresh_token=rt&scope=a+b&resource=https%3A%2F%2Fa\
             &resource=https%3A%2F%2Fb",
        )
        .unwrap();
        assert_eq!(r.as_str(), "refresh_token");
        assert_eq!(
            r,
            TokenRequest::RefreshToken(RefreshRequest {
                refresh_token: "rt".into(),
                scope: Some("a b".into()),
                resource: vec!["https://a".into(), "https://b".into()],
            })
        );
        assert_eq!(
            error("grant_type=refresh_token&scope=a"),
            (
                ErrorCode::InvalidRequest,
                "refresh_token is required".into()
            )
        );
    }

    #[test]
    fn client_credentials() {
        let r = request("grant_type=client_credentials").unwrap();
        assert_eq!(r.as_str(), "client_credentials");
        assert_eq!(
            r,
            TokenRequest::ClientCredentials(ClientCredentialsRequest {
                scope: None,
                resource: vec![],
            })
        );
        let r = request("grant_type=client_credentials&scope=agency%3Aread&code=ignored").unwrap();
        assert_eq!(
            r,
            TokenRequest::ClientCredentials(ClientCredentialsRequest {
                scope: Some("agency:read".into()),
                resource: vec![],
            })
        );
    }

    #[test]
    fn grant_type_missing_or_unknown() {
        for body in ["", "grant_type=", "code=c1"] {
            let (c, d) = error(body);
            assert_eq!(c, ErrorCode::InvalidRequest, "{body}");
            assert_eq!(
                d,
                "grant_type is required (supported: authorization_code, refresh_token, \
                 client_credentials, urn:ietf:params:oauth:grant-type:device_code)"
            );
        }
        let (c, d) = error("grant_type=password&username=u");
        assert_eq!(c, ErrorCode::UnsupportedGrantType);
        assert!(d.contains("'password'"), "{d}");
        assert!(d.contains("client_credentials"), "{d}");
        // Exact match only.
        let (c, _) = error("grant_type=Client_Credentials");
        assert_eq!(c, ErrorCode::UnsupportedGrantType);
    }

    #[test]
    fn repeated_parameters_are_refused_except_resource() {
        let (c, d) = error("grant_type=refresh_token&refresh_token=a&refresh_token=b");
        assert_eq!(c, ErrorCode::InvalidRequest);
        assert!(d.contains("'refresh_token' is repeated"), "{d}");
        let (c, d) = error("grant_type=client_credentials&grant_type=client_credentials");
        assert_eq!(c, ErrorCode::InvalidRequest);
        assert!(d.contains("'grant_type' is repeated"), "{d}");
    }

    #[test]
    fn every_grant_type_is_served() {
        assert_eq!(
            supported(),
            "authorization_code, refresh_token, client_credentials, \
             urn:ietf:params:oauth:grant-type:device_code"
        );
    }

    fn client(grants: &[GrantType], secret: bool) -> ClientRecord {
        crate::oauth::client::model::test_record("", grants, secret)
    }

    #[test]
    fn admission() {
        use GrantType::*;
        let all = &GrantType::ALL;
        for g in GrantType::ALL {
            assert!(admit(g, &client(all, true)).is_ok(), "{g:?}");
            let e = admit(g, &client(&[], true)).unwrap_err();
            assert_eq!(e.code, ErrorCode::UnauthorizedClient);
            assert!(e.description.contains(g.as_str()), "{e}");
        }
        // Public clients: the member grants, never client_credentials (and
        // that is said before the missing registration).
        assert!(admit(AuthorizationCode, &client(all, false)).is_ok());
        assert!(admit(RefreshToken, &client(all, false)).is_ok());
        assert!(admit(DeviceCode, &client(all, false)).is_ok());
        for grants in [&all[..], &[]] {
            let e = admit(ClientCredentials, &client(grants, false)).unwrap_err();
            assert_eq!(e.code, ErrorCode::UnauthorizedClient);
            assert!(e.description.contains("confidential clients"), "{e}");
        }
    }
}
