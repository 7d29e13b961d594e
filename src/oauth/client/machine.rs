//! Machine clients made by an operator (`skedcast-auth client create`,
//! issue 13 item 5): confidential clients of the client_credentials grant
//! with exactly the scopes the operator gave them. Open registration cannot
//! make these ([`super::metadata::check_machine_grant`]).
//!
//! The request is checked by [`metadata`] (pure: the CLI's flags become the
//! RFC 7591 metadata a registration would send, validated by the same
//! [`super::metadata::validate`]), then [`create`] stores it with the
//! registration's storage and shows the secret once; only its hash is kept.

use sea_orm::{ConnectionTrait, DbErr};

use super::metadata;
use super::model::{AuthMethod, ClientMetadata, GrantType};
use super::store;
use crate::crypto;
use crate::oauth::params::quote;
use crate::scopes::OFFLINE_ACCESS;

/// The flags of `client create`, as given.
#[derive(Debug, Default)]
pub struct Request<'a> {
    pub name: &'a str,
    pub grant: &'a str,
    pub scopes: &'a str,
    /// `None`: client_secret_basic.
    pub auth_method: Option<&'a str>,
    pub jwks_uri: bool,
    pub jwks_file: bool,
}

/// Why a request is refused; the message is one line, for the CLI's stderr.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    /// Part of the contract the server does not serve yet (private_key_jwt,
    /// issue 14).
    #[error("client create: {0} is not supported yet")]
    NotYet(&'static str),
    #[error("client create: {0}")]
    Invalid(String),
}

impl Refused {
    /// The process exit code: 2 for what is not supported yet, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Refused::NotYet(_) => 2,
            Refused::Invalid(_) => 1,
        }
    }
}

fn invalid(msg: impl Into<String>) -> Refused {
    Refused::Invalid(msg.into())
}

/// The metadata of the machine client `req` asks for, validated as a
/// registration would be, or why not.
pub fn metadata(req: &Request) -> Result<ClientMetadata, Refused> {
    let auth_method = match req.auth_method.map(str::trim) {
        None => AuthMethod::ClientSecretBasic,
        Some("private_key_jwt") => {
            return Err(Refused::NotYet("--auth-method private_key_jwt"));
        }
        Some(m) => match AuthMethod::parse(m) {
            Some(AuthMethod::None) => {
                return Err(invalid(
                    "--auth-method none: a machine client authenticates with a secret \
                     (client_secret_basic or client_secret_post)",
                ));
            }
            Some(m) => m,
            None => {
                return Err(invalid(format!(
                    "--auth-method {} is unknown (supported: client_secret_basic, \
                     client_secret_post)",
                    quote(m)
                )));
            }
        },
    };
    if req.jwks_uri {
        return Err(Refused::NotYet(
            "--jwks-uri (it goes with --auth-method private_key_jwt)",
        ));
    }
    if req.jwks_file {
        return Err(Refused::NotYet(
            "--jwks-file (it goes with --auth-method private_key_jwt)",
        ));
    }
    if req.name.trim().is_empty() {
        return Err(invalid("--name must not be empty"));
    }
    match GrantType::parse(req.grant.trim()) {
        Some(GrantType::ClientCredentials) => {}
        Some(g) => {
            return Err(invalid(format!(
                "--grant {} is not for machine clients (only client_credentials; clients \
                 acting for members register at /oauth/register)",
                g.as_str()
            )));
        }
        None => {
            return Err(invalid(format!(
                "--grant {} is unknown (supported: client_credentials)",
                quote(req.grant)
            )));
        }
    }
    let scopes = crate::scopes::split(req.scopes).map_err(|e| invalid(format!("--scopes: {e}")))?;
    if scopes.is_empty() {
        return Err(invalid("--scopes must name at least one scope"));
    }
    if scopes.contains(&OFFLINE_ACCESS) {
        return Err(invalid(
            "--scopes: offline_access is not a permission, and a machine client gets no \
             refresh token",
        ));
    }
    let obj = serde_json::json!({
        "client_name": req.name,
        "grant_types": [GrantType::ClientCredentials.as_str()],
        "token_endpoint_auth_method": auth_method.as_str(),
        "scope": scopes.join(" "),
    });
    let serde_json::Value::Object(obj) = obj else {
        unreachable!("a JSON object literal")
    };
    metadata::validate(&obj).map_err(|e| invalid(e.description))
}

/// The credentials of a new machine client, shown once.
pub struct Created {
    pub client_id: String,
    pub client_secret: String,
}

/// Store a machine client with `meta` (from [`metadata`]).
pub async fn create(
    db: &impl ConnectionTrait,
    meta: &ClientMetadata,
    now: i64,
) -> Result<Created, DbErr> {
    let client_id = crypto::b64url(&crypto::random_bytes::<16>());
    let client_secret = crypto::random_token();
    store::insert_machine(
        db,
        &client_id,
        meta,
        crypto::sha256_hex(&client_secret),
        now,
    )
    .await?;
    Ok(Created {
        client_id,
        client_secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(scopes: &'a str, auth_method: Option<&'a str>) -> Request<'a> {
        Request {
            name: "Job",
            grant: "client_credentials",
            scopes,
            auth_method,
            ..Request::default()
        }
    }

    #[test]
    fn a_machine_client_has_the_operators_scopes() {
        let m = metadata(&req("billing:read  agency:read", None)).unwrap();
        assert_eq!(m.grant_types, vec![GrantType::ClientCredentials]);
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(m.scope.as_deref(), Some("billing:read agency:read"));
        assert_eq!(m.client_name.as_deref(), Some("Job"));
        assert!(m.redirect_uris.is_empty() && m.response_types.is_empty());
        let m = metadata(&req("posts:read", Some("client_secret_post"))).unwrap();
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretPost);
    }

    #[test]
    fn refusals() {
        let not_yet = metadata(&req("agency:read", Some("private_key_jwt"))).unwrap_err();
        assert_eq!(
            not_yet.to_string(),
            "client create: --auth-method private_key_jwt is not supported yet"
        );
        assert_eq!(not_yet.exit_code(), 2);
        let jwks = Request {
            jwks_uri: true,
            ..req("agency:read", None)
        };
        assert_eq!(metadata(&jwks).unwrap_err().exit_code(), 2);
        for (r, needle) in [
            (req("agency:read", Some("none")), "--auth-method none"),
            (req("agency:read", Some("x")), "--auth-method \"x\""),
            (req("", None), "--scopes must name"),
            (req("agency:read root", None), "not a supported scope"),
            (req("offline_access", None), "offline_access"),
            (
                Request {
                    name: " ",
                    ..req("agency:read", None)
                },
                "--name",
            ),
            (
                Request {
                    grant: "refresh_token",
                    ..req("agency:read", None)
                },
                "--grant refresh_token",
            ),
        ] {
            let e = metadata(&r).unwrap_err();
            assert_eq!(e.exit_code(), 1, "{e}");
            assert!(e.to_string().contains(needle), "{e}");
        }
    }
}
