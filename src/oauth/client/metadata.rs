//! Client metadata (RFC 7591 §2): what a registration (RFC 7591/7592) or a
//! Client ID Metadata Document may declare.
//!
//! Plain functions from the parsed JSON to a [`ClientMetadata`] or an RFC
//! 7591 §3.2.2 error (`invalid_client_metadata` or `invalid_redirect_uri`)
//! whose description names the field and what is wrong. The endpoints are in
//! [`crate::oauth::register`], documents in [`super::metadata_document`].

use serde_json::{Map, Value};

use crate::oauth::client::model::RESPONSE_TYPE_CODE;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::redirect_uri;

use crate::oauth::client::model::{ApplicationType, AuthMethod, ClientMetadata, GrantType};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_REDIRECT_URIS: usize = 10;
pub const MAX_CONTACTS: usize = 10;
/// `client_name`, `software_id`, `software_version`; these and `contacts`
/// refuse control and format (Cf) characters.
pub const MAX_TEXT_LEN: usize = 200;
/// `client_uri`, `logo_uri`, `tos_uri`, `policy_uri`.
pub const MAX_URL_LEN: usize = 2000;
pub const MAX_CONTACT_LEN: usize = 254;
pub const MAX_SCOPE_LEN: usize = 1000;

fn metadata_err(description: impl Into<String>) -> OAuthError {
    OAuthError::of(ErrorCode::InvalidClientMetadata, description)
}

fn redirect_err(description: impl Into<String>) -> OAuthError {
    OAuthError::of(ErrorCode::InvalidRedirectUri, description)
}

/// Why `uri` (already valid for registration) is not allowed for a client
/// of `application_type`, if it is not.
fn refused_for(application_type: ApplicationType, uri: &str) -> Option<&'static str> {
    match application_type {
        ApplicationType::Native => None,
        ApplicationType::Web => (!uri.starts_with("https://")).then_some(
            "is not allowed for application_type web, whose redirect URIs must be https \
             (use application_type native for loopback http or private-use schemes)",
        ),
    }
}

/// Every name of `all`, for an error description.
fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> String {
    all.iter().map(|x| name(*x)).collect::<Vec<_>>().join(", ")
}

/// The request body as a JSON object.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, OAuthError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(metadata_err("the request body must be a JSON object")),
        Err(e) => Err(metadata_err(format!(
            "the request body is not valid JSON ({e})"
        ))),
    }
}

/// RFC 7591 §2 metadata, with the defaults of the RFC, checked field by
/// field. Fields this server does not know are ignored. A `jwks_uri` must
/// be https.
pub fn validate(obj: &Map<String, Value>) -> Result<ClientMetadata, OAuthError> {
    validate_with(obj, false)
}

/// [`validate`], where `allow_loopback` (the test-only `cimd.allow_loopback`)
/// also admits a `jwks_uri` of plain http on a loopback host.
pub fn validate_with(
    obj: &Map<String, Value>,
    allow_loopback: bool,
) -> Result<ClientMetadata, OAuthError> {
    let token_endpoint_auth_method = match opt_string(obj, "token_endpoint_auth_method", 64)? {
        None => AuthMethod::ClientSecretBasic,
        Some(s) => AuthMethod::parse(&s).ok_or_else(|| {
            metadata_err(format!(
                "token_endpoint_auth_method: {} is not supported (supported: {})",
                show(&s),
                names(&AuthMethod::ALL, AuthMethod::as_str)
            ))
        })?,
    };

    let grant_types = match string_list(obj, "grant_types", 8, 64)? {
        None => vec![GrantType::AuthorizationCode],
        Some(list) => {
            let mut out = Vec::new();
            for s in &list {
                let g = GrantType::parse(s).ok_or_else(|| {
                    metadata_err(format!(
                        "grant_types: {} is not supported (supported: {})",
                        show(s),
                        names(&GrantType::ALL, GrantType::as_str)
                    ))
                })?;
                if !out.contains(&g) {
                    out.push(g);
                }
            }
            if out.is_empty() {
                return Err(metadata_err("grant_types must not be empty"));
            }
            out
        }
    };
    let code_grant = grant_types.contains(&GrantType::AuthorizationCode);

    let response_types = match string_list(obj, "response_types", 8, 64)? {
        // RFC 7591 §2: the default is `code`; it only applies to a client
        // that has the grant `code` goes with.
        None if code_grant => vec![RESPONSE_TYPE_CODE.to_string()],
        None => Vec::new(),
        Some(list) => {
            if let Some(bad) = list.iter().find(|s| *s != RESPONSE_TYPE_CODE) {
                return Err(metadata_err(format!(
                    "response_types: {} is not supported (supported: code)",
                    show(bad)
                )));
            }
            if list.is_empty() {
                Vec::new()
            } else {
                vec![RESPONSE_TYPE_CODE.to_string()]
            }
        }
    };
    // RFC 7591 §2.1: `code` ⇔ `authorization_code`.
    let code_response = !response_types.is_empty();
    if code_grant != code_response {
        return Err(metadata_err(if code_grant {
            "response_types must include \"code\" when grant_types includes \
             \"authorization_code\" (RFC 7591 §2.1)"
        } else {
            "response_types \"code\" requires \"authorization_code\" in grant_types \
             (RFC 7591 §2.1)"
        }));
    }
    if grant_types.contains(&GrantType::RefreshToken)
        && !code_grant
        && !grant_types.contains(&GrantType::DeviceCode)
    {
        return Err(metadata_err(
            "grant_types: refresh_token requires authorization_code or \
             urn:ietf:params:oauth:grant-type:device_code (refresh tokens are issued only with \
             a member's grant)",
        ));
    }
    if grant_types.contains(&GrantType::ClientCredentials)
        && !token_endpoint_auth_method.is_confidential()
    {
        return Err(metadata_err(
            "grant_types: client_credentials requires a confidential client \
             (token_endpoint_auth_method client_secret_basic, client_secret_post or \
             private_key_jwt, not none)",
        ));
    }
    let (jwks, jwks_uri) = client_keys(obj, token_endpoint_auth_method, allow_loopback)?;

    let application_type = match opt_string(obj, "application_type", 64)? {
        None => None,
        Some(s) => Some(ApplicationType::parse(&s).ok_or_else(|| {
            metadata_err(format!(
                "application_type: {} is not supported (supported: {})",
                show(&s),
                names(&ApplicationType::ALL, ApplicationType::as_str)
            ))
        })?),
    };
    let redirect_uris = redirect_uris(obj, code_grant)?;
    if let Some(t) = application_type
        && let Some((uri, why)) = redirect_uris
            .iter()
            .find_map(|u| refused_for(t, u).map(|why| (u, why)))
    {
        return Err(redirect_err(format!("redirect_uris: {} {why}", show(uri))));
    }
    let scope = scope(obj)?;

    Ok(ClientMetadata {
        redirect_uris,
        token_endpoint_auth_method,
        grant_types,
        response_types,
        scope,
        client_name: opt_text(obj, "client_name", MAX_TEXT_LEN)?,
        client_uri: opt_url(obj, "client_uri")?,
        logo_uri: opt_url(obj, "logo_uri")?,
        tos_uri: opt_url(obj, "tos_uri")?,
        policy_uri: opt_url(obj, "policy_uri")?,
        contacts: contacts(obj)?,
        software_id: opt_text(obj, "software_id", MAX_TEXT_LEN)?,
        software_version: opt_text(obj, "software_version", MAX_TEXT_LEN)?,
        application_type,
        jwks,
        jwks_uri,
        require_pushed_authorization_requests: opt_bool(
            obj,
            "require_pushed_authorization_requests",
        )?
        .unwrap_or(false),
        id_token_signed_response_alg: id_token_alg(obj)?,
        post_logout_redirect_uris: post_logout_redirect_uris(obj)?,
        dpop_bound_access_tokens: opt_bool(obj, "dpop_bound_access_tokens")?.unwrap_or(false),
    })
}

/// OpenID Connect Registration §2 `id_token_signed_response_alg`: one of
/// [`model::ID_TOKEN_ALGS`] (`none` and HS* never); stored only when not
/// the default.
fn id_token_alg(obj: &Map<String, Value>) -> Result<Option<String>, OAuthError> {
    use crate::oauth::client::model::ID_TOKEN_ALGS;
    match opt_string(obj, "id_token_signed_response_alg", 16)? {
        None => Ok(None),
        Some(a) if a == ID_TOKEN_ALGS[0] => Ok(None),
        Some(a) if ID_TOKEN_ALGS.contains(&a.as_str()) => Ok(Some(a)),
        Some(a) => Err(metadata_err(format!(
            "id_token_signed_response_alg: {} is not supported (supported: {})",
            show(&a),
            ID_TOKEN_ALGS.join(", ")
        ))),
    }
}

/// OpenID Connect RP-Initiated Logout §3.1 `post_logout_redirect_uris`:
/// where a client may send the member after logout, each a URI a redirect
/// URI could be ([`redirect_uri::validate`]), matched exactly.
fn post_logout_redirect_uris(obj: &Map<String, Value>) -> Result<Vec<String>, OAuthError> {
    const FIELD: &str = "post_logout_redirect_uris";
    let items = match obj.get(FIELD) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(metadata_err(format!("{FIELD} must be an array of strings"))),
    };
    if items.len() > MAX_REDIRECT_URIS {
        return Err(metadata_err(format!(
            "{FIELD} has {} entries; at most {MAX_REDIRECT_URIS} are allowed",
            items.len()
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(uri) = item else {
            return Err(metadata_err(format!("{FIELD} must be an array of strings")));
        };
        redirect_uri::validate(uri)
            .map_err(|why| metadata_err(format!("{FIELD}: {} {why}", show(uri))))?;
        if !out.contains(uri) {
            out.push(uri.clone());
        }
    }
    Ok(out)
}

/// `jwks` and `jwks_uri` (RFC 7591 §2): never both. Only a
/// `private_key_jwt` client uses (and so stores) them: exactly one, public
/// keys only ([`super::jwks::parse`]), `jwks_uri` a URL this server may
/// fetch ([`super::metadata_document::url::fetchable_url`]); for other
/// methods they are ignored like unknown fields. Returned as stored: the
/// set as JSON text, the URL.
fn client_keys(
    obj: &Map<String, Value>,
    method: AuthMethod,
    allow_loopback: bool,
) -> Result<(Option<String>, Option<String>), OAuthError> {
    let given = |f: &str| !matches!(obj.get(f), None | Some(Value::Null));
    if given("jwks") && given("jwks_uri") {
        return Err(metadata_err(
            "jwks and jwks_uri must not both be given (RFC 7591 §2): send the keys inline or \
             where they are published, not both",
        ));
    }
    if let Some(m) = obj.get("jwks").and_then(super::jwks::private_member) {
        return Err(metadata_err(format!(
            "jwks contains the private member \"{m}\": a JWK Set here holds public keys only \
             (treat that key as compromised)"
        )));
    }
    if method != AuthMethod::PrivateKeyJwt {
        return Ok((None, None));
    }
    let jwks = match obj.get("jwks") {
        None | Some(Value::Null) => None,
        Some(set) => {
            super::jwks::parse(set).map_err(|why| metadata_err(format!("jwks {why}")))?;
            Some(set.to_string())
        }
    };
    let jwks_uri = match opt_string(obj, "jwks_uri", MAX_URL_LEN)? {
        None => None,
        Some(uri) => {
            super::metadata_document::url::fetchable_url(&uri, allow_loopback, false)
                .map_err(|why| metadata_err(format!("jwks_uri: {} {why}", show(&uri))))?;
            Some(uri)
        }
    };

    if jwks.is_none() && jwks_uri.is_none() {
        return Err(metadata_err(
            "token_endpoint_auth_method private_key_jwt requires jwks or jwks_uri (the public \
             keys that check the client's assertions)",
        ));
    }
    Ok((jwks, jwks_uri))
}

/// Issue 13 item 5: the client_credentials grant mints tokens with every
/// registered scope and no member behind them, so only an operator hands it
/// out: `skedcast-auth client create`, or a registration carrying an initial
/// access token (RFC 7591 §3). `allowed`: the registration carried one, or
/// (an RFC 7592 update) the client already has the grant: an update keeps
/// it, never adds it.
pub fn check_machine_grant(meta: &ClientMetadata, allowed: bool) -> Result<(), OAuthError> {
    if allowed || !meta.has_grant(GrantType::ClientCredentials) {
        return Ok(());
    }
    Err(metadata_err(
        "grant_types: client_credentials is not available to open registration or added by an \
         update: machine clients come from `skedcast-auth client create` or a registration with \
         an initial access token",
    ))
}

/// RFC 7592 §2.2: an update names the client it updates, and may repeat
/// the issued secret but never choose a new one. `secret_matches` checks a
/// presented secret against the stored hash.
pub fn check_update_identity(
    obj: &Map<String, Value>,
    client_id: &str,
    secret_matches: impl FnOnce(&str) -> bool,
) -> Result<(), OAuthError> {
    match obj.get("client_id") {
        Some(Value::String(id)) if id == client_id => {}
        Some(Value::String(_)) => {
            return Err(metadata_err(
                "client_id does not match the client being updated",
            ));
        }
        Some(_) => return Err(metadata_err("client_id must be a string")),
        None => {
            return Err(metadata_err(
                "client_id is required in an update and must equal the client's client_id",
            ));
        }
    }
    match obj.get("client_secret") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if secret_matches(s) => Ok(()),
        Some(_) => Err(metadata_err(
            "client_secret does not match the issued secret (a client cannot choose its secret; \
             omit the field)",
        )),
    }
}

fn redirect_uris(obj: &Map<String, Value>, required: bool) -> Result<Vec<String>, OAuthError> {
    let list = match obj.get("redirect_uris") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > MAX_REDIRECT_URIS {
                return Err(redirect_err(format!(
                    "redirect_uris has {} entries; at most {MAX_REDIRECT_URIS} are allowed",
                    items.len()
                )));
            }
            let mut out: Vec<String> = Vec::with_capacity(items.len());
            for item in items {
                let Value::String(uri) = item else {
                    return Err(redirect_err("redirect_uris must be an array of strings"));
                };
                redirect_uri::validate(uri)
                    .map_err(|why| redirect_err(format!("redirect_uris: {} {why}", show(uri))))?;
                if !out.contains(uri) {
                    out.push(uri.clone());
                }
            }
            out
        }
        Some(_) => return Err(redirect_err("redirect_uris must be an array of strings")),
    };
    if required && list.is_empty() {
        return Err(redirect_err(
            "redirect_uris is required (at least one URI) for the authorization_code grant",
        ));
    }
    Ok(list)
}

fn scope(obj: &Map<String, Value>) -> Result<Option<String>, OAuthError> {
    let Some(raw) = opt_string(obj, "scope", MAX_SCOPE_LEN)? else {
        return Ok(None);
    };
    let supported = crate::scopes::supported();
    let mut out: Vec<&str> = Vec::new();
    for s in raw.split_ascii_whitespace() {
        if !supported.iter().any(|x| x == s) {
            return Err(metadata_err(format!(
                "scope: {} is not a supported scope (supported: {})",
                show(s),
                supported.join(" ")
            )));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok((!out.is_empty()).then(|| out.join(" ")))
}

fn contacts(obj: &Map<String, Value>) -> Result<Vec<String>, OAuthError> {
    let Some(list) = string_list(obj, "contacts", MAX_CONTACTS, MAX_CONTACT_LEN)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for c in list {
        if c.is_empty() {
            return Err(metadata_err("contacts must not contain empty strings"));
        }
        if c.chars().any(char::is_control) {
            return Err(metadata_err("contacts must not contain control characters"));
        }
        if let Some(f) = c.chars().find(|c| is_format_char(*c)) {
            return Err(format_err("contacts", f));
        }
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// A boolean field; absent or `null` is `None`.
fn opt_bool(obj: &Map<String, Value>, field: &str) -> Result<Option<bool>, OAuthError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(metadata_err(format!("{field} must be true or false"))),
    }
}

/// A string field; absent or `null` is `None`; over `max_chars` is an error.
fn opt_string(
    obj: &Map<String, Value>,
    field: &str,
    max_chars: usize,
) -> Result<Option<String>, OAuthError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            if s.chars().count() > max_chars {
                Err(metadata_err(format!(
                    "{field} is longer than {max_chars} characters"
                )))
            } else {
                Ok(Some(s.clone()))
            }
        }
        Some(_) => Err(metadata_err(format!("{field} must be a string"))),
    }
}

/// Human-readable text: no control characters; empty counts as absent.
fn opt_text(
    obj: &Map<String, Value>,
    field: &str,
    max_chars: usize,
) -> Result<Option<String>, OAuthError> {
    let Some(s) = opt_string(obj, field, max_chars)? else {
        return Ok(None);
    };
    if s.chars().any(char::is_control) {
        return Err(metadata_err(format!(
            "{field} must not contain control characters"
        )));
    }
    if let Some(f) = s.chars().find(|c| is_format_char(*c)) {
        return Err(format_err(field, f));
    }
    Ok((!s.trim().is_empty()).then_some(s))
}

fn format_err(field: &str, c: char) -> OAuthError {
    metadata_err(format!(
        "{field} must not contain format characters such as bidi controls \
         (found U+{:04X})",
        u32::from(c)
    ))
}

/// Unicode General Category Cf (format characters), Unicode 15.1: bidi
/// embeddings, overrides and isolates, zero-width characters, soft hyphen,
/// tag characters... They are invisible, and the bidi ones reorder the text
/// around them, so a displayed name could read as something it is not.
const FORMAT_CHARS: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

/// Whether `c` is a format character (General Category Cf).
pub fn is_format_char(c: char) -> bool {
    let c = u32::from(c);
    FORMAT_CHARS.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// A URL shown to people: https, or http on a loopback host (local
/// development); no user information (`https://bank.example@evil.example`).
fn opt_url(obj: &Map<String, Value>, field: &str) -> Result<Option<String>, OAuthError> {
    let Some(s) = opt_string(obj, field, MAX_URL_LEN)? else {
        return Ok(None);
    };
    if s.is_empty() {
        return Ok(None);
    }
    let bad = |why: &str| Err(metadata_err(format!("{field}: {} {why}", show(&s))));
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("contains whitespace or control characters");
    }
    let Ok(url) = url::Url::parse(&s) else {
        return bad("is not an absolute URL");
    };
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not contain user information");
    }
    let loopback = url.host_str().is_some_and(redirect_uri::is_loopback);
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(Some(s)),
        "http" if loopback => Ok(Some(s)),
        _ => bad("must be an https URL (http only on a loopback host)"),
    }
}

/// An array of strings; absent or `null` is `None`.
fn string_list(
    obj: &Map<String, Value>,
    field: &str,
    max_items: usize,
    max_chars: usize,
) -> Result<Option<Vec<String>>, OAuthError> {
    let items = match obj.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(metadata_err(format!("{field} must be an array of strings"))),
    };
    if items.len() > max_items {
        return Err(metadata_err(format!(
            "{field} has {} entries; at most {max_items} are allowed",
            items.len()
        )));
    }
    items
        .iter()
        .map(|v| match v {
            Value::String(s) if s.chars().count() <= max_chars => Ok(s.clone()),
            Value::String(_) => Err(metadata_err(format!(
                "{field} has an entry longer than {max_chars} characters"
            ))),
            _ => Err(metadata_err(format!("{field} must be an array of strings"))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A client-supplied value quoted in an error description: escaped, and
/// cut short so that a description stays readable.
fn show(s: &str) -> String {
    const MAX: usize = 100;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Result<ClientMetadata, OAuthError> {
        match v {
            Value::Object(m) => validate(&m),
            _ => panic!("test input must be an object"),
        }
    }

    fn err(v: Value) -> OAuthError {
        check(v).expect_err("should be rejected")
    }

    fn assert_err(v: Value, code: ErrorCode, needle: &str) {
        let e = err(v.clone());
        assert_eq!(e.code, code, "{v}: {}", e.description);
        assert!(
            e.description.contains(needle),
            "{v}: {:?} lacks {needle:?}",
            e.description
        );
    }

    #[test]
    fn private_key_jwt_keys() {
        let jwk = josekit::jwk::Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
        let public = Value::Object(jwk.to_public_key().unwrap().into());
        let private = Value::Object(jwk.into());
        let base = || {
            json!({
                "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "private_key_jwt",
            })
        };
        let with = |k: &str, v: Value| {
            let mut o = base();
            o[k] = v;
            o
        };
        let m = check(with("jwks", json!({ "keys": [public.clone()] }))).unwrap();
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::PrivateKeyJwt);
        assert!(m.jwks.as_deref().unwrap().contains("\"keys\""));
        let m = check(with("jwks_uri", json!("https://app.example/jwks.json"))).unwrap();
        assert_eq!(m.jwks_uri.as_deref(), Some("https://app.example/jwks.json"));
        let code = ErrorCode::InvalidClientMetadata;
        assert_err(base(), code, "requires jwks or jwks_uri");
        let mut both = with("jwks", json!({ "keys": [public] }));
        both["jwks_uri"] = json!("https://app.example/jwks.json");
        assert_err(both, code, "must not both be given");
        assert_err(
            with("jwks", json!({ "keys": [private] })),
            code,
            "private member",
        );
        assert_err(
            with("jwks_uri", json!("http://app.example/j")),
            code,
            "https",
        );
        // Plain http on loopback only with the test switch.
        let Value::Object(loopback) = with("jwks_uri", json!("http://127.0.0.1:9/j")) else {
            unreachable!()
        };
        assert!(validate(&loopback).is_err());
        assert!(validate_with(&loopback, true).is_ok());
        // Other methods ignore the keys, but never accept both or a private key.
        let public_client = |k: &str, v: Value| json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none", k: v});
        let m = check(public_client("jwks_uri", json!("http://x.example/j"))).unwrap();
        assert_eq!((m.jwks, m.jwks_uri), (None, None));
        let private = Value::Object(
            josekit::jwk::Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256)
                .unwrap()
                .into(),
        );
        assert_err(
            public_client("jwks", json!({ "keys": [private] })),
            code,
            "private member",
        );
    }

    #[test]
    fn defaults_follow_rfc_7591() {
        let m = check(json!({"redirect_uris": ["https://app.example/cb"]})).unwrap();
        assert_eq!(m.grant_types, vec![GrantType::AuthorizationCode]);
        assert_eq!(m.response_types, vec!["code"]);
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(m.scope, None);
        assert!(m.contacts.is_empty());
    }

    #[test]
    fn typical_mcp_public_client() {
        let m = check(json!({
            "client_name": "Claude",
            "redirect_uris": ["http://127.0.0.1:33418/callback", "https://claude.ai/api/mcp/auth_callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "agency:read posts:read offline_access",
            "unknown_field": {"nested": true},
        }))
        .unwrap();
        assert_eq!(m.token_endpoint_auth_method, AuthMethod::None);
        assert_eq!(m.redirect_uris.len(), 2);
        assert_eq!(
            m.scope.as_deref(),
            Some("agency:read posts:read offline_access")
        );
        assert_eq!(m.client_name.as_deref(), Some("Claude"));
    }

    #[test]
    fn client_credentials_needs_the_operator() {
        let machine = check(json!({"grant_types": ["client_credentials"]})).unwrap();
        let e = check_machine_grant(&machine, false).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        assert!(
            e.description.contains("skedcast-auth client create"),
            "{e:?}"
        );
        assert!(check_machine_grant(&machine, true).is_ok());
        let member = check(json!({"redirect_uris": ["https://a.example/cb"]})).unwrap();
        assert!(check_machine_grant(&member, false).is_ok());
    }

    #[test]
    fn client_credentials_only_confidential_client() {
        let m = check(json!({"grant_types": ["client_credentials"]})).unwrap();
        assert!(m.response_types.is_empty() && m.redirect_uris.is_empty());
        assert_err(
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            ErrorCode::InvalidClientMetadata,
            "client_credentials requires a confidential client",
        );
    }

    #[test]
    fn grant_and_response_types() {
        use ErrorCode::InvalidClientMetadata as M;
        assert_err(
            json!({"grant_types": ["password"]}),
            M,
            "grant_types: 'password'",
        );
        assert_err(json!({"grant_types": ["implicit"]}), M, "not supported");
        assert_err(
            json!({"grant_types": []}),
            M,
            "grant_types must not be empty",
        );
        assert_err(
            json!({"grant_types": "authorization_code"}),
            M,
            "grant_types must be an array",
        );
        assert_err(
            json!({"grant_types": [1]}),
            M,
            "grant_types must be an array of strings",
        );
        assert_err(
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            M,
            "response_types: 'token'",
        );
        assert_err(
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["code id_token"]}),
            M,
            "not supported",
        );
        assert_err(
            json!({"redirect_uris": ["https://a.example/cb"], "response_types": []}),
            M,
            "must include 'code'",
        );
        assert_err(
            json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
            M,
            "requires 'authorization_code'",
        );
        assert_err(
            json!({"grant_types": ["refresh_token"], "response_types": []}),
            M,
            "refresh_token requires authorization_code",
        );
        assert_err(
            json!({"token_endpoint_auth_method": "client_secret_jwt"}),
            M,
            "token_endpoint_auth_method: 'client_secret_jwt' is not supported",
        );
        // Duplicates collapse.
        let m = check(json!({
            "redirect_uris": ["https://a.example/cb", "https://a.example/cb"],
            "grant_types": ["authorization_code", "authorization_code"],
            "response_types": ["code", "code"],
        }))
        .unwrap();
        assert_eq!(m.grant_types.len(), 1);
        assert_eq!(m.response_types.len(), 1);
        assert_eq!(m.redirect_uris.len(), 1);
    }

    #[test]
    fn redirect_uris_rules() {
        use ErrorCode::InvalidRedirectUri as R;
        assert_err(json!({}), R, "redirect_uris is required");
        assert_err(json!({"redirect_uris": []}), R, "redirect_uris is required");
        assert_err(
            json!({"redirect_uris": "https://a.example/cb"}),
            R,
            "array of strings",
        );
        assert_err(json!({"redirect_uris": [42]}), R, "array of strings");
        assert_err(
            json!({"redirect_uris": ["https://a.example/cb", "http://evil.example/cb"]}),
            R,
            "'http://evil.example/cb'",
        );
        assert_err(
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            R,
            "forbidden scheme",
        );
        assert_err(
            json!({"redirect_uris": ["https://a.example/cb#x"]}),
            R,
            "fragment",
        );
        let many: Vec<String> = (0..11).map(|i| format!("https://a.example/{i}")).collect();
        assert_err(json!({"redirect_uris": many}), R, "at most 10");
    }

    #[test]
    fn application_type() {
        let loopback = "http://127.0.0.1:33418/callback";
        let private = "com.example.app:/cb";
        let https = "https://app.example/cb";
        // Absent: every registrable form, as before.
        let m = check(json!({"redirect_uris": [loopback, private, https]})).unwrap();
        assert_eq!(m.application_type, None);
        let m = check(
            json!({"application_type": "native", "redirect_uris": [loopback, private, https]}),
        )
        .unwrap();
        assert_eq!(m.application_type, Some(ApplicationType::Native));
        let m = check(json!({"application_type": "web", "redirect_uris": [https]})).unwrap();
        assert_eq!(m.application_type, Some(ApplicationType::Web));
        for bad in [loopback, private] {
            assert_err(
                json!({"application_type": "web", "redirect_uris": [https, bad]}),
                ErrorCode::InvalidRedirectUri,
                "application_type web",
            );
        }
        assert_err(
            json!({"application_type": "desktop", "redirect_uris": [https]}),
            ErrorCode::InvalidClientMetadata,
            "application_type: 'desktop' is not supported",
        );
        assert_err(
            json!({"application_type": 1, "redirect_uris": [https]}),
            ErrorCode::InvalidClientMetadata,
            "application_type must be a string",
        );
    }

    #[test]
    fn scope_must_be_supported() {
        let m = check(json!({"redirect_uris": ["https://a.example/cb"], "scope": "posts:read  posts:read agency:read"}))
            .unwrap();
        assert_eq!(m.scope.as_deref(), Some("posts:read agency:read"));
        assert_err(
            json!({"redirect_uris": ["https://a.example/cb"], "scope": "posts:read admin"}),
            ErrorCode::InvalidClientMetadata,
            "scope: 'admin' is not a supported scope",
        );
        assert_err(
            json!({"redirect_uris": ["https://a.example/cb"], "scope": ["posts:read"]}),
            ErrorCode::InvalidClientMetadata,
            "scope must be a string",
        );
    }

    #[test]
    fn human_metadata() {
        use ErrorCode::InvalidClientMetadata as M;
        let base = || json!({"redirect_uris": ["https://a.example/cb"]});
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            b
        };
        let m = check(with("logo_uri", json!("http://localhost:3000/logo.png"))).unwrap();
        assert_eq!(
            m.logo_uri.as_deref(),
            Some("http://localhost:3000/logo.png")
        );
        for f in ["client_uri", "logo_uri", "tos_uri", "policy_uri"] {
            assert_err(with(f, json!("http://app.example/x")), M, &format!("{f}: "));
            assert_err(
                with(f, json!("javascript:alert(1)")),
                M,
                "must be an https URL",
            );
            assert_err(with(f, json!("/relative")), M, "not an absolute URL");
            assert_err(
                with(f, json!("https://bank.example@evil.example/")),
                M,
                "user information",
            );
            assert_err(with(f, json!(5)), M, &format!("{f} must be a string"));
            let long = format!("https://a.example/{}", "x".repeat(MAX_URL_LEN));
            assert_err(with(f, json!(long)), M, "longer than");
        }
        assert_err(
            with("client_name", json!("x".repeat(MAX_TEXT_LEN + 1))),
            M,
            "client_name is longer",
        );
        assert_err(
            with("client_name", json!("a\u{0}b")),
            M,
            "client_name must not contain control",
        );
        assert_err(
            with("software_id", json!({})),
            M,
            "software_id must be a string",
        );
        assert_err(
            with("software_version", json!("v".repeat(MAX_TEXT_LEN + 1))),
            M,
            "software_version",
        );
        assert_err(
            with("contacts", json!("ops@app.example")),
            M,
            "contacts must be an array",
        );
        assert_err(
            with("contacts", json!(vec!["a@b.example"; 11])),
            M,
            "contacts has 11 entries",
        );
        assert_err(
            with("contacts", json!([""])),
            M,
            "contacts must not contain empty",
        );
        let m = check(with("contacts", json!(["ops@app.example"]))).unwrap();
        assert_eq!(m.contacts, vec!["ops@app.example"]);
        // Empty strings count as absent; null too.
        let m = check(with("client_uri", json!(""))).unwrap();
        assert_eq!(m.client_uri, None);
        let m = check(with("client_name", Value::Null)).unwrap();
        assert_eq!(m.client_name, None);
    }

    #[test]
    fn format_characters_match_unicode_cf() {
        // Every range end is Cf, the characters just outside are not.
        for (lo, hi) in FORMAT_CHARS {
            for c in [*lo, *hi] {
                assert!(is_format_char(char::from_u32(c).unwrap()), "{c:X}");
            }
        }
        for c in [
            'a',
            ' ',
            '\u{00AC}',
            '\u{00AE}',
            '\u{200A}',
            '\u{2010}',
            '\u{2065}',
            '\u{FEFE}',
            'Ω',
            '日',
            'ע',
            '\u{E0000}',
            '\u{E0080}',
        ] {
            assert!(!is_format_char(c), "{:X}", u32::from(c));
        }
        use ErrorCode::InvalidClientMetadata as M;
        let with = |k: &str, v: Value| {
            let mut b = json!({"redirect_uris": ["https://app.example/cb"]});
            b[k] = v;
            b
        };
        for f in ["client_name", "software_id", "software_version"] {
            assert_err(
                with(f, json!("a\u{202E}b")),
                M,
                &format!("{f} must not contain format characters"),
            );
        }
        assert_err(
            with("contacts", json!(["a\u{200B}@b.example"])),
            M,
            "contacts must not contain format characters",
        );
    }

    #[test]
    fn body_must_be_a_json_object() {
        assert!(parse_object(br#"{"a":1}"#).is_ok());
        for bad in [&b"[]"[..], b"\"x\"", b"", b"{", b"\xff\xfe", b"null"] {
            let e = parse_object(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        }
    }

    #[test]
    fn update_identity() {
        let obj = |v: Value| v.as_object().cloned().unwrap();
        let ok_secret = |s: &str| s == "s3cret";
        assert!(check_update_identity(&obj(json!({"client_id": "c1"})), "c1", ok_secret).is_ok());
        assert!(
            check_update_identity(
                &obj(json!({"client_id": "c1", "client_secret": "s3cret"})),
                "c1",
                ok_secret
            )
            .is_ok()
        );
        for (v, needle) in [
            (json!({}), "client_id is required"),
            (json!({"client_id": "c2"}), "does not match"),
            (json!({"client_id": 1}), "must be a string"),
            (
                json!({"client_id": "c1", "client_secret": "mine"}),
                "client_secret does not match",
            ),
            (
                json!({"client_id": "c1", "client_secret": 7}),
                "client_secret does not match",
            ),
        ] {
            let e = check_update_identity(&obj(v), "c1", ok_secret).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
            assert!(e.description.contains(needle), "{}", e.description);
        }
    }

    #[test]
    fn refusals_name_every_supported_value() {
        let e = err(json!({"token_endpoint_auth_method": "client_secret_jwt"}));
        for m in AuthMethod::ALL {
            assert!(
                e.description.contains(m.as_str()),
                "{m:?}: {}",
                e.description
            );
        }
        let e = err(json!({"grant_types": ["password"]}));
        for g in GrantType::ALL {
            assert!(
                e.description.contains(g.as_str()),
                "{g:?}: {}",
                e.description
            );
        }
        let e = err(json!({"application_type": "tv", "redirect_uris": ["https://a.example/cb"]}));
        assert!(
            e.description.contains("(supported: web, native)"),
            "{}",
            e.description
        );
    }

    #[test]
    fn long_values_are_cut_in_descriptions() {
        let long = format!("http://evil.example/{}", "x".repeat(5000));
        let e = err(json!({"redirect_uris": [long]}));
        assert!(e.description.len() < 400, "{}", e.description.len());
    }
}
