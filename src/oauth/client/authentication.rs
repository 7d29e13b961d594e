//! Client authentication at the token, revocation and introspection
//! endpoints (RFC 6749 §2.3):
//!
//! - `none`: a public client names itself with `client_id` in the body;
//! - `client_secret_basic`: HTTP Basic, with the client id and secret each
//!   form-urlencoded before the base64 (RFC 6749 §2.3.1);
//! - `client_secret_post`: `client_id` and `client_secret` in the body;
//! - `private_key_jwt` (RFC 7523 §2.2, RFC 7521 §4.2): a JWT signed with one
//!   of the client's keys, in `client_assertion` (checked by
//!   [`super::assertion`], keys from [`super::jwks`], used once:
//!   [`super::assertion_jti`]).
//!
//! [`parse`] reads what the request presents (pure); [`verify`] decides
//! whether it authenticates a stored client (pure); [`authenticate`] does
//! both around the (cached) database lookup, and checks an assertion
//! (which needs the client's keys, perhaps fetched, and the database).
//!
//! Secrets are high-entropy and server-generated, so they are compared as
//! SHA-256 digests in constant time; an unknown client and a wrong secret
//! get the same answer, after the same work.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::metadata_document;
use super::model::{AuthMethod, ClientKind, ClientRecord};
use crate::AppState;
use crate::crypto;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::params::Params;

/// Longer client ids are never issued: refused without a database read
/// (metadata document URLs have their own bound,
/// [`metadata_document::MAX_URL_LEN`]).
const MAX_CLIENT_ID_LEN: usize = 256;

/// Not the hex of any SHA-256 (`x` is not hex): compared against when the
/// client is unknown, so that the work done does not depend on it.
const UNUSABLE_HASH: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

const FAILED_SECRET: &str =
    "client authentication failed: unknown client_id or wrong client_secret";

/// The credentials a request presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// `none`: only a client id, in the body.
    None { client_id: String },
    /// `client_secret_basic`.
    Basic { client_id: String, secret: String },
    /// `client_secret_post`.
    Post { client_id: String, secret: String },
    /// `private_key_jwt`: the client id (from the body, or else the
    /// assertion's unverified `sub`) and the assertion.
    Jwt {
        client_id: String,
        assertion: String,
    },
}

impl Presented {
    pub fn client_id(&self) -> &str {
        match self {
            Presented::None { client_id }
            | Presented::Basic { client_id, .. }
            | Presented::Post { client_id, .. }
            | Presented::Jwt { client_id, .. } => client_id,
        }
    }

    pub fn secret(&self) -> Option<&str> {
        match self {
            Presented::None { .. } | Presented::Jwt { .. } => None,
            Presented::Basic { secret, .. } | Presented::Post { secret, .. } => Some(secret),
        }
    }

    pub fn method(&self) -> AuthMethod {
        match self {
            Presented::None { .. } => AuthMethod::None,
            Presented::Basic { .. } => AuthMethod::ClientSecretBasic,
            Presented::Post { .. } => AuthMethod::ClientSecretPost,
            Presented::Jwt { .. } => AuthMethod::PrivateKeyJwt,
        }
    }

    /// Whether a failure must carry the Basic challenge.
    pub fn basic_tried(&self) -> bool {
        matches!(self, Presented::Basic { .. })
    }
}

/// Which registered methods an endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Token and revocation endpoints: exactly the registered method.
    Registered,
    /// Introspection: a client with a secret may use either secret method
    /// (a `private_key_jwt` client uses its method).
    AnySecretMethod,
}

/// Base64 with or without padding (some clients strip it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The body's client authentication parameters (empty values count as
/// absent).
#[derive(Debug, Default, Clone, Copy)]
pub struct Body<'a> {
    pub client_id: Option<&'a str>,
    pub client_secret: Option<&'a str>,
    pub client_assertion_type: Option<&'a str>,
    pub client_assertion: Option<&'a str>,
}

impl<'a> Body<'a> {
    pub fn of(params: &'a Params) -> Body<'a> {
        Body {
            client_id: params.get("client_id"),
            client_secret: params.get("client_secret"),
            client_assertion_type: params.get("client_assertion_type"),
            client_assertion: params.get("client_assertion"),
        }
    }
}

/// What the request presents: from the `Authorization` header and the
/// body's parameters.
pub fn parse(authorization: Option<&str>, body: Body) -> Result<Presented, OAuthError> {
    let (body_client_id, body_secret) = (body.client_id, body.client_secret);
    if body.client_assertion_type.is_some() || body.client_assertion.is_some() {
        return parse_assertion(authorization, body);
    }
    if let Some(header) = authorization {
        let (client_id, secret) = parse_basic(header)?;
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "two client authentication methods in one request: client_secret in the body \
                 and HTTP Basic; use only the method the client is registered with (RFC 6749 \
                 §2.3)",
            ));
        }
        if body_client_id.is_some_and(|id| id != client_id) {
            return Err(OAuthError::invalid_request(
                "client_id in the body differs from the client id in the Authorization header",
            ));
        }
        return Ok(Presented::Basic { client_id, secret });
    }
    match (body_client_id, body_secret) {
        (Some(id), Some(secret)) => Ok(Presented::Post {
            client_id: id.to_string(),
            secret: secret.to_string(),
        }),
        (None, Some(_)) => Err(OAuthError::invalid_request(
            "client_secret was sent without client_id (client_secret_post needs both)",
        )),
        (Some(id), None) => Ok(Presented::None {
            client_id: id.to_string(),
        }),
        (None, None) => Err(OAuthError::invalid_client(
            "client authentication is required: HTTP Basic (client_secret_basic), client_id and \
             client_secret in the body (client_secret_post), client_assertion_type and \
             client_assertion (private_key_jwt), or client_id alone for a public client",
            false,
        )),
    }
}

/// RFC 7521 §4.2: `client_assertion_type` (the JWT bearer type) and
/// `client_assertion`, and no other method beside them.
fn parse_assertion(authorization: Option<&str>, body: Body) -> Result<Presented, OAuthError> {
    if authorization.is_some() || body.client_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "two client authentication methods in one request: client_assertion and a \
             client_secret (HTTP Basic or in the body); use only the method the client is \
             registered with (RFC 6749 §2.3)",
        ));
    }
    let (Some(kind), Some(assertion)) = (body.client_assertion_type, body.client_assertion) else {
        return Err(OAuthError::invalid_request(
            "client_assertion_type and client_assertion go together (RFC 7521 §4.2)",
        ));
    };
    if kind != super::assertion::ASSERTION_TYPE {
        return Err(OAuthError::invalid_client(
            format!(
                "client_assertion_type {} is not supported (supported: {})",
                crate::oauth::params::quote(kind),
                super::assertion::ASSERTION_TYPE
            ),
            false,
        ));
    }
    let client_id = match body.client_id {
        Some(id) => id.to_string(),
        None => super::assertion::claimed_client(assertion).ok_or_else(|| {
            OAuthError::invalid_client(
                "the client assertion names no client (no client_id in the body, no sub in the \
                 assertion)",
                false,
            )
        })?,
    };
    Ok(Presented::Jwt {
        client_id,
        assertion: assertion.to_string(),
    })
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let malformed = |what: &str| {
        OAuthError::invalid_client(
            format!(
                "malformed HTTP Basic credentials: {what} (expected Basic \
                 base64(form-urlencoded client_id \":\" form-urlencoded client_secret), RFC 6749 \
                 §2.3.1)"
            ),
            true,
        )
    };
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "unsupported Authorization scheme: clients authenticate with HTTP Basic \
             (client_secret_basic) or in the body (client_secret_post, none)",
            true,
        ));
    }
    let decoded = BASE64
        .decode(rest.trim())
        .map_err(|_| malformed("not base64"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed("not UTF-8"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| malformed("no ':' between client id and secret"))?;
    let id = form_decode(id).ok_or_else(|| malformed("bad percent-encoding in the client id"))?;
    let secret =
        form_decode(secret).ok_or_else(|| malformed("bad percent-encoding in the secret"))?;
    if id.is_empty() {
        return Err(malformed("empty client id"));
    }
    Ok((id, secret))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a
/// space, `%XX` a byte; the result must be UTF-8. Malformed escapes fail.
fn form_decode(s: &str) -> Option<String> {
    if !s.contains(['%', '+']) {
        return Some(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Whether `presented` authenticates `client` (`None`: no such client)
/// under `rule`. The secret is hashed and compared even for an unknown
/// client. For `private_key_jwt` this only checks that the client is
/// registered with it: the assertion is [`authenticate`]'s to check.
pub fn verify(
    presented: &Presented,
    client: Option<Arc<ClientRecord>>,
    rule: Rule,
) -> Result<Arc<ClientRecord>, OAuthError> {
    let basic = presented.basic_tried();
    if let Presented::Jwt { .. } = presented {
        return match client {
            Some(c) if c.auth_method == AuthMethod::PrivateKeyJwt => Ok(c),
            Some(c) => Err(OAuthError::invalid_client(
                format!(
                    "the client is registered with token_endpoint_auth_method {} but this \
                     request used private_key_jwt; authenticate with the registered method",
                    c.auth_method.as_str()
                ),
                false,
            )),
            None => Err(OAuthError::invalid_client(
                "client authentication failed: unknown client_id",
                false,
            )),
        };
    }
    let Some(secret) = presented.secret() else {
        // `none`: only a registered public client, only where the registered
        // method is what counts.
        return match client {
            Some(c) if rule == Rule::Registered && c.auth_method == AuthMethod::None => Ok(c),
            _ => Err(OAuthError::invalid_client(
                "client authentication failed: unknown client_id, or the client is confidential \
                 and must authenticate with its client_secret",
                false,
            )),
        };
    };
    let stored = client.as_ref().and_then(|c| c.secret_hash.as_deref());
    let matched = crypto::matches_hash(secret, stored.unwrap_or(UNUSABLE_HASH));
    let client = match client {
        Some(c) if matched && stored.is_some() => c,
        _ => return Err(OAuthError::invalid_client(FAILED_SECRET, basic)),
    };
    let used = presented.method();
    let allowed = match rule {
        Rule::Registered => client.auth_method == used,
        Rule::AnySecretMethod => client.auth_method.uses_secret(),
    };
    if !allowed {
        let registered = client.auth_method.as_str();
        return Err(OAuthError::invalid_client(
            format!(
                "the client is registered with token_endpoint_auth_method {registered} but this \
                 request used {}; authenticate with the registered method",
                used.as_str()
            ),
            basic,
        ));
    }
    Ok(client)
}

/// Authenticate the client of a request from `ip` (the address counts
/// against the metadata-document fetch limit if a document is fetched).
pub async fn authenticate(
    state: &AppState,
    ip: Option<IpAddr>,
    authorization: Option<&str>,
    params: &Params,
    rule: Rule,
) -> Result<Arc<ClientRecord>, OAuthError> {
    let presented = parse(authorization, Body::of(params))?;
    let id = presented.client_id();
    let client = if metadata_document::is_document_id(id) && state.settings.cimd.enabled {
        // A metadata document client: fresh from the shared cache, or fetched.
        Some(
            metadata_document::record(state, ip, id)
                .await
                .map_err(|e| match e.code {
                    ErrorCode::InvalidClient => OAuthError::invalid_client(
                        format!(
                            "the client metadata document {} cannot be used: {}",
                            crate::oauth::params::quote(id),
                            e.description
                        ),
                        presented.basic_tried(),
                    ),
                    _ => e,
                })?,
        )
    } else if id.len() > MAX_CLIENT_ID_LEN
        || metadata_document::switched_off(&state.settings.cimd, id)
    {
        // Document clients are switched off: a URL client_id is unknown,
        // stored rows included.
        None
    } else {
        state
            .client_cache
            .load(&state.db, presented.client_id())
            .await
            .map_err(|e| OAuthError::db(e, "load client"))?
            .filter(|c| state.settings.cimd.enabled || c.kind != ClientKind::MetadataDocument)
    };
    let client = verify(&presented, client, rule)?;
    if let Presented::Jwt { assertion, .. } = &presented {
        check_assertion(state, ip, &client, assertion).await?;
    }
    Ok(client)
}

/// The audiences an assertion may name: the issuer identifier, and the URLs
/// of the endpoints where clients authenticate (RFC 7523 §3 allows the
/// token endpoint's; the same assertion rule serves every endpoint).
fn audiences(settings: &crate::settings::Settings) -> Vec<String> {
    let mut out = vec![settings.issuer.clone()];
    for path in [
        "/oauth/token",
        "/oauth/revoke",
        "/oauth/introspect",
        "/oauth/par",
        "/oauth/device_authorization",
    ] {
        out.push(settings.endpoint(path));
    }
    out
}

fn bad_assertion(why: impl std::fmt::Display) -> OAuthError {
    OAuthError::invalid_client(format!("the client assertion {why}"), false)
}

/// Check a `private_key_jwt` assertion of `client` (registered with it):
/// valid with the client's keys (a `jwks_uri` fetched again, at most once,
/// for an unknown `kid`), then its `jti` used once, for every instance.
async fn check_assertion(
    state: &AppState,
    ip: Option<IpAddr>,
    client: &ClientRecord,
    assertion: &str,
) -> Result<(), OAuthError> {
    use super::assertion::{self, Failure};
    let header = assertion::header(assertion).map_err(|f| match f {
        Failure::Invalid(why) | Failure::UnknownKid(why) => bad_assertion(why),
    })?;
    let audiences = audiences(&state.settings);
    let check = |keys: &[josekit::jwk::Jwk]| {
        assertion::verify(
            assertion,
            &header,
            &client.client_id,
            &audiences,
            keys,
            crate::clock::now(),
        )
    };
    let result = match (&client.jwks, &client.jwks_uri) {
        (Some(set), _) => {
            let set: serde_json::Value = serde_json::from_str(set).unwrap_or_default();
            let keys = super::jwks::parse(&set).map_err(|why| {
                OAuthError::invalid_client(format!("the client's jwks {why}"), false)
            })?;
            check(&keys)
        }
        (None, Some(uri)) => {
            let keys = super::jwks::keys_at(state, ip, uri, false).await?;
            match check(keys.as_deref().map_or(&[], |k| k.as_slice())) {
                Err(Failure::UnknownKid(kid)) => {
                    // Perhaps the client rotated its keys since the fetch.
                    match super::jwks::keys_at(state, ip, uri, true).await? {
                        Some(keys) => check(&keys),
                        None => Err(Failure::UnknownKid(kid)),
                    }
                }
                other => other,
            }
        }
        (None, None) => Err(Failure::Invalid(
            "cannot be checked: the client has no keys (jwks or jwks_uri)".into(),
        )),
    };
    let valid = result.map_err(|f| match f {
        Failure::Invalid(why) => bad_assertion(why),
        Failure::UnknownKid(kid) => bad_assertion(format!(
            "names kid {}, which is not among the client's keys",
            crate::oauth::params::quote(&kid)
        )),
    })?;
    let fresh = super::assertion_jti::use_once(&state.db, &client.client_id, &valid.jti, valid.exp)
        .await
        .map_err(|e| OAuthError::db(e, "record client assertion"))?;
    if !fresh {
        tracing::warn!(client_id = %client.client_id, "client assertion replayed");
        return Err(bad_assertion(
            "was used before (its jti is used once; sign a new assertion for each request)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client::model::GrantType;

    fn basic(id: &str, secret: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    }

    fn body<'a>(id: Option<&'a str>, secret: Option<&'a str>) -> Body<'a> {
        Body {
            client_id: id,
            client_secret: secret,
            ..Body::default()
        }
    }

    #[test]
    fn assertions() {
        let jwt = Body {
            client_assertion_type: Some(super::super::assertion::ASSERTION_TYPE),
            client_assertion: Some("a.b.c"),
            ..body(Some("c1"), None)
        };
        assert_eq!(
            parse(None, jwt).unwrap(),
            Presented::Jwt {
                client_id: "c1".into(),
                assertion: "a.b.c".into()
            }
        );
        let e = parse(
            None,
            Body {
                client_assertion_type: Some("urn:x"),
                ..jwt
            },
        )
        .unwrap_err();
        assert_eq!((e.code, e.status.as_u16()), (ErrorCode::InvalidClient, 401));
        let e = parse(
            None,
            Body {
                client_assertion: None,
                ..jwt
            },
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let e = parse(
            None,
            Body {
                client_secret: Some("s"),
                ..jwt
            },
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(parse(Some("Basic x"), jwt).is_err());
        // No client_id and no readable sub: nobody to authenticate.
        let e = parse(
            None,
            Body {
                client_id: None,
                ..jwt
            },
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClient);

        // Only a client registered with private_key_jwt may use it.
        let presented = parse(None, jwt).unwrap();
        let secret_client = client(AuthMethod::ClientSecretBasic, Some("s"));
        let e = verify(&presented, Some(secret_client), Rule::Registered).unwrap_err();
        assert!(e.description.contains("client_secret_basic"), "{e}");
        let pk = client(AuthMethod::PrivateKeyJwt, None);
        assert!(verify(&presented, Some(pk.clone()), Rule::Registered).is_ok());
        assert!(verify(&presented, Some(pk.clone()), Rule::AnySecretMethod).is_ok());
        assert!(verify(&presented, None, Rule::Registered).is_err());
        // And it has no secret to present instead.
        let post = Presented::Post {
            client_id: "c1".into(),
            secret: "s".into(),
        };
        assert!(verify(&post, Some(pk.clone()), Rule::Registered).is_err());
        assert!(verify(&post, Some(pk), Rule::AnySecretMethod).is_err());
    }

    fn client(method: AuthMethod, secret: Option<&str>) -> Arc<ClientRecord> {
        Arc::new(ClientRecord {
            client_id: "c1".into(),
            kind: ClientKind::Dynamic,
            secret_hash: secret.map(crypto::sha256_hex),
            auth_method: method,
            grant_types: vec![GrantType::ClientCredentials],
            scope: vec![],
            resource: None,
            jwks: None,
            jwks_uri: None,
            id_token_alg: crate::keys::material::ES256,
            dpop_bound_access_tokens: false,
        })
    }

    #[test]
    fn basic_is_form_decoded() {
        let h = basic("my%20client", "s%3Ae+cr%25et");
        assert_eq!(
            parse(Some(&h), Body::default()).unwrap(),
            Presented::Basic {
                client_id: "my client".into(),
                secret: "s:e cr%et".into()
            }
        );
        // Padding optional, scheme case-insensitive, the secret may hold ':'.
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD.encode("a:b:c");
        assert_eq!(
            parse(Some(&format!("bAsIc {raw}")), Body::default()).unwrap(),
            Presented::Basic {
                client_id: "a".into(),
                secret: "b:c".into()
            }
        );
    }

    #[test]
    fn malformed_basic_is_invalid_client_with_challenge() {
        for h in [
            "Basic !!!".to_string(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("nocolon")
            ),
            basic("a%zz", "b"),
            basic("a", "%e9"),
            basic("", "secret"),
            "Bearer abc".to_string(),
            "Basic".to_string(),
        ] {
            let e = parse(Some(&h), Body::default()).unwrap_err();
            assert_eq!(
                (e.code, e.challenge.is_some()),
                (ErrorCode::InvalidClient, true),
                "{h}"
            );
            assert_eq!(e.status, 401);
        }
    }

    #[test]
    fn body_methods() {
        assert_eq!(
            parse(None, body(Some("c"), Some("s"))).unwrap(),
            Presented::Post {
                client_id: "c".into(),
                secret: "s".into()
            }
        );
        assert_eq!(
            parse(None, body(Some("c"), None)).unwrap(),
            Presented::None {
                client_id: "c".into()
            }
        );
        let e = parse(None, body(None, Some("s"))).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let e = parse(None, Body::default()).unwrap_err();
        assert_eq!((e.code, e.challenge), (ErrorCode::InvalidClient, None));
    }

    #[test]
    fn two_methods_are_invalid_request() {
        let h = basic("c", "s");
        let e = parse(Some(&h), body(Some("c"), Some("s"))).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.description.contains("two client authentication methods"));
        // The same client_id in the body is harmless; another one is not.
        assert!(parse(Some(&h), body(Some("c"), None)).is_ok());
        assert_eq!(
            parse(Some(&h), body(Some("d"), None)).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn secrets_and_methods() {
        let c = client(AuthMethod::ClientSecretBasic, Some("s3cret"));
        let ok = Presented::Basic {
            client_id: "c1".into(),
            secret: "s3cret".into(),
        };
        assert!(verify(&ok, Some(c.clone()), Rule::Registered).is_ok());

        let wrong = Presented::Basic {
            client_id: "c1".into(),
            secret: "nope".into(),
        };
        let unknown = verify(&ok, None, Rule::Registered).unwrap_err();
        let bad = verify(&wrong, Some(c.clone()), Rule::Registered).unwrap_err();
        assert_eq!(
            unknown, bad,
            "unknown client and wrong secret look the same"
        );
        assert_eq!(bad.challenge, Some(crate::oauth::error::BASIC_CHALLENGE));

        // Right secret, wrong method: says which method to use.
        let post = Presented::Post {
            client_id: "c1".into(),
            secret: "s3cret".into(),
        };
        let e = verify(&post, Some(c.clone()), Rule::Registered).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClient);
        assert!(e.description.contains("client_secret_basic"), "{e}");
        assert_eq!(e.challenge, None);
        // Introspection takes either secret method.
        assert!(verify(&post, Some(c.clone()), Rule::AnySecretMethod).is_ok());

        // `none` for a confidential client fails; for a public one it works,
        // but not where a secret method is required.
        let none = Presented::None {
            client_id: "c1".into(),
        };
        assert!(verify(&none, Some(c), Rule::Registered).is_err());
        let public = client(AuthMethod::None, None);
        assert!(verify(&none, Some(public.clone()), Rule::Registered).is_ok());
        assert!(verify(&none, Some(public.clone()), Rule::AnySecretMethod).is_err());
        // A public client has no secret to match.
        assert!(verify(&post, Some(public), Rule::Registered).is_err());
    }

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a+b%2Bc").as_deref(), Some("a b+c"));
        assert_eq!(form_decode("plain").as_deref(), Some("plain"));
        assert_eq!(form_decode("%"), None);
        assert_eq!(form_decode("%4"), None);
        assert_eq!(form_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(form_decode("%FF"), None);
    }
}
