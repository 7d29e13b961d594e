//! Machine clients made by an operator (`skedcast-auth client create`,
//! issue 13 item 5): confidential clients of the client_credentials grant
//! with exactly the scopes the operator gave them. Open registration cannot
//! make these ([`super::metadata::check_machine_grant`]).
//!
//! The request is checked by [`metadata`] (pure: the CLI's flags become the
//! RFC 7591 metadata a registration would send, validated by the same
//! [`super::metadata::validate`]), then [`create`] stores it with the
//! registration's storage and shows the secret once; only its hash is kept.
//! A `private_key_jwt` machine client (issue 14 item 2) has no secret: it
//! signs assertions with a key whose public half is in `--jwks-file` or
//! published at `--jwks-uri`.

use sea_orm::DbErr;

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
    /// `--jwks-uri`.
    pub jwks_uri: Option<&'a str>,
    /// The contents of `--jwks-file`.
    pub jwks: Option<&'a str>,
    /// The test-only `cimd.allow_loopback`: a plain-http loopback `--jwks-uri`.
    pub allow_loopback: bool,
}

/// Why a request is refused; the message is one line, for the CLI's stderr.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("client create: {0}")]
    Invalid(String),
}

impl Refused {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        1
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
        Some(m) => match AuthMethod::parse(m) {
            Some(AuthMethod::None) => {
                return Err(invalid(
                    "--auth-method none: a machine client authenticates (client_secret_basic, \
                     client_secret_post or private_key_jwt)",
                ));
            }
            Some(m) => m,
            None => {
                return Err(invalid(format!(
                    "--auth-method {} is unknown (supported: client_secret_basic, \
                     client_secret_post, private_key_jwt)",
                    quote(m)
                )));
            }
        },
    };
    let keys_given = req.jwks_uri.is_some() as u8 + req.jwks.is_some() as u8;
    if auth_method == AuthMethod::PrivateKeyJwt && keys_given != 1 {
        return Err(invalid(
            "--auth-method private_key_jwt needs exactly one of --jwks-uri URL or --jwks-file F \
             (the client's public keys)",
        ));
    }
    if auth_method != AuthMethod::PrivateKeyJwt && keys_given != 0 {
        return Err(invalid(
            "--jwks-uri and --jwks-file go with --auth-method private_key_jwt",
        ));
    }
    let jwks = match req.jwks {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<serde_json::Value>(text)
                .map_err(|e| invalid(format!("--jwks-file is not JSON ({e})")))?,
        ),
    };
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
    let serde_json::Value::Object(mut obj) = obj else {
        unreachable!("a JSON object literal")
    };
    if let Some(jwks) = jwks {
        obj.insert("jwks".into(), jwks);
    }
    if let Some(uri) = req.jwks_uri {
        obj.insert("jwks_uri".into(), uri.into());
    }
    metadata::validate_with(&obj, req.allow_loopback).map_err(|e| invalid(e.description))
}

/// The credentials of a new machine client, shown once.
pub struct Created {
    pub client_id: String,
    /// `None` for `private_key_jwt`.
    pub client_secret: Option<String>,
}

/// Store a machine client with `meta` (from [`metadata`]), with its audit
/// event (actor `cli`) in the same transaction.
pub async fn create(
    db: &sea_orm::DatabaseConnection,
    meta: &ClientMetadata,
    now: i64,
) -> Result<Created, DbErr> {
    let client_id = crypto::b64url(&crypto::random_bytes::<16>());
    let client_secret = meta
        .token_endpoint_auth_method
        .uses_secret()
        .then(crypto::random_token);
    let txn = sea_orm::TransactionTrait::begin(db).await?;
    store::insert_machine(
        &txn,
        &client_id,
        meta,
        client_secret.as_deref().map(crypto::sha256_hex),
        now,
    )
    .await?;
    let event = crate::audit::Event::ClientRegistered {
        actor: crate::audit::CLI,
        agency_id: None,
        client_id: &client_id,
    };
    crate::audit::record(&txn, crate::audit::At::no_ip(now), event).await?;
    txn.commit().await?;
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
    fn private_key_jwt_takes_exactly_one_key_source() {
        let uri = Request {
            jwks_uri: Some("https://job.example/jwks.json"),
            ..req("agency:read", Some("private_key_jwt"))
        };
        let m = metadata(&uri).unwrap();
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::PrivateKeyJwt);
        assert_eq!(m.jwks_uri.as_deref(), Some("https://job.example/jwks.json"));
        let key = josekit::jwk::Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256)
            .unwrap()
            .to_public_key()
            .unwrap();
        let set = serde_json::json!({ "keys": [serde_json::Value::Object(key.into())] });
        let text = set.to_string();
        let file = Request {
            jwks: Some(&text),
            ..req("agency:read", Some("private_key_jwt"))
        };
        assert!(metadata(&file).unwrap().jwks.is_some());
        for (r, needle) in [
            (req("agency:read", Some("private_key_jwt")), "exactly one"),
            (
                Request {
                    jwks: Some(&text),
                    ..uri
                },
                "exactly one",
            ),
            (
                Request {
                    jwks_uri: Some("https://job.example/jwks.json"),
                    ..req("agency:read", None)
                },
                "go with --auth-method private_key_jwt",
            ),
            (
                Request {
                    jwks: Some("nope"),
                    ..req("agency:read", Some("private_key_jwt"))
                },
                "not JSON",
            ),
            (
                Request {
                    jwks_uri: Some("http://job.example/jwks.json"),
                    ..req("agency:read", Some("private_key_jwt"))
                },
                "https",
            ),
        ] {
            let e = metadata(&r).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn refusals() {
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
