//! Client authentication at the token, revocation and introspection
//! endpoints (RFC 6749 §2.3):
//!
//! - `none`: a public client names itself with `client_id` in the body;
//! - `client_secret_basic`: HTTP Basic, with the client id and secret each
//!   form-urlencoded before the base64 (RFC 6749 §2.3.1);
//! - `client_secret_post`: `client_id` and `client_secret` in the body.
//!
//! [`parse`] reads what the request presents (pure); [`verify`] decides
//! whether it authenticates a stored client (pure); [`authenticate`] does
//! both around the (cached) database lookup.
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
}

impl Presented {
    pub fn client_id(&self) -> &str {
        match self {
            Presented::None { client_id }
            | Presented::Basic { client_id, .. }
            | Presented::Post { client_id, .. } => client_id,
        }
    }

    pub fn secret(&self) -> Option<&str> {
        match self {
            Presented::None { .. } => None,
            Presented::Basic { secret, .. } | Presented::Post { secret, .. } => Some(secret),
        }
    }

    pub fn method(&self) -> AuthMethod {
        match self {
            Presented::None { .. } => AuthMethod::None,
            Presented::Basic { .. } => AuthMethod::ClientSecretBasic,
            Presented::Post { .. } => AuthMethod::ClientSecretPost,
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
    /// Introspection: a confidential client may use either secret method.
    AnySecretMethod,
}

/// Base64 with or without padding (some clients strip it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What the request presents: from the `Authorization` header and the
/// body's `client_id` and `client_secret` (empty values count as absent).
pub fn parse(
    authorization: Option<&str>,
    body_client_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<Presented, OAuthError> {
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
             client_secret in the body (client_secret_post), or client_id alone for a public \
             client",
            false,
        )),
    }
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
/// client.
pub fn verify(
    presented: &Presented,
    client: Option<Arc<ClientRecord>>,
    rule: Rule,
) -> Result<Arc<ClientRecord>, OAuthError> {
    let basic = presented.basic_tried();
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
        Rule::AnySecretMethod => client.auth_method.is_confidential(),
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
    let presented = parse(
        authorization,
        params.get("client_id"),
        params.get("client_secret"),
    )?;
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
    verify(&presented, client, rule)
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

    fn client(method: AuthMethod, secret: Option<&str>) -> Arc<ClientRecord> {
        Arc::new(ClientRecord {
            client_id: "c1".into(),
            kind: ClientKind::Dynamic,
            secret_hash: secret.map(crypto::sha256_hex),
            auth_method: method,
            grant_types: vec![GrantType::ClientCredentials],
            scope: vec![],
            resource: None,
        })
    }

    #[test]
    fn basic_is_form_decoded() {
        let h = basic("my%20client", "s%3Ae+cr%25et");
        assert_eq!(
            parse(Some(&h), None, None).unwrap(),
            Presented::Basic {
                client_id: "my client".into(),
                secret: "s:e cr%et".into()
            }
        );
        // Padding optional, scheme case-insensitive, the secret may hold ':'.
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD.encode("a:b:c");
        assert_eq!(
            parse(Some(&format!("bAsIc {raw}")), None, None).unwrap(),
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
            let e = parse(Some(&h), None, None).unwrap_err();
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
            parse(None, Some("c"), Some("s")).unwrap(),
            Presented::Post {
                client_id: "c".into(),
                secret: "s".into()
            }
        );
        assert_eq!(
            parse(None, Some("c"), None).unwrap(),
            Presented::None {
                client_id: "c".into()
            }
        );
        let e = parse(None, None, Some("s")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        let e = parse(None, None, None).unwrap_err();
        assert_eq!((e.code, e.challenge), (ErrorCode::InvalidClient, None));
    }

    #[test]
    fn two_methods_are_invalid_request() {
        let h = basic("c", "s");
        let e = parse(Some(&h), Some("c"), Some("s")).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.description.contains("two client authentication methods"));
        // The same client_id in the body is harmless; another one is not.
        assert!(parse(Some(&h), Some("c"), None).is_ok());
        assert_eq!(
            parse(Some(&h), Some("d"), None).unwrap_err().code,
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
