//! The authorization request (RFC 6749 §4.1.1 + PKCE + RFC 8707), validated
//! as a pure function of the parameters and the registered client.
//!
//! Order matters: until the client and its redirect URI are known to be
//! good, errors are shown on a page and never redirected (RFC 6749 §4.1.2.1),
//! so the endpoint cannot be used as an open redirector.

use std::collections::BTreeMap;

use entity::client::Model as Client;

use super::error::AuthorizeError;
use crate::oauth::client::model;
use crate::oauth::error::ErrorCode;
use crate::oauth::pkce;
use crate::oauth::redirect_uri;
use crate::scopes::{self, OFFLINE_ACCESS};

/// Parameters that belong to the authorization request (others, like the
/// consent form's `csrf_token`, are not part of it).
pub const REQUEST_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
    "prompt",
    // OpenID Connect Core §3.1.2.1.
    "nonce",
    "max_age",
    "login_hint",
    // RFC 9449 §10.
    "dpop_jkt",
];

/// The longest `nonce` and `login_hint` accepted.
pub const MAX_NONCE_BYTES: usize = 512;

/// The longest `state` accepted (64 kB): the request is kept by the server
/// while the member signs in, so only the final redirect to the client
/// carries it.
pub const MAX_STATE_BYTES: usize = 64 * 1024;

/// Raw parameters, with the names that appeared more than once.
#[derive(Debug, Default, Clone)]
pub struct Params {
    values: BTreeMap<String, String>,
    repeated: Vec<String>,
}

impl Params {
    /// From decoded pairs (query string or form body). Only request
    /// parameters are kept; RFC 6749 §3.1 forbids repeating any of them.
    pub fn from_pairs<I, K, V>(pairs: I) -> Params
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut p = Params::default();
        for (k, v) in pairs {
            let k = k.as_ref();
            if !REQUEST_PARAMS.contains(&k) {
                continue;
            }
            if p.values.insert(k.to_string(), v.into()).is_some()
                && !p.repeated.iter().any(|r| r == k)
            {
                p.repeated.push(k.to_string());
            }
        }
        p
    }

    /// Whether `k` appeared more than once.
    pub fn is_repeated(&self, k: &str) -> bool {
        self.repeated.iter().any(|r| r == k)
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.values
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The request as pairs.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The query string of `/oauth/authorize` for these parameters.
    pub fn to_query(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.values.iter())
            .finish()
    }

    /// A copy for after a forced sign-in: `login` removed from `prompt`,
    /// and `max_age` (the sign-in it asks for is the one about to happen),
    /// so that coming back does not force another.
    pub fn without_prompt_login(&self) -> Params {
        let mut p = self.clone();
        p.values.remove("max_age");
        if let Some(prompt) = p.values.get("prompt") {
            let rest: Vec<&str> = prompt
                .split(' ')
                .filter(|v| !v.is_empty() && *v != "login")
                .collect();
            if rest.is_empty() {
                p.values.remove("prompt");
            } else {
                p.values.insert("prompt".into(), rest.join(" "));
            }
        }
        p
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    /// OpenID Connect: the member picks the agency on the consent page
    /// (the account here is one member; its agencies are what is chosen).
    pub select_account: bool,
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub client_id: String,
    /// Where the response goes: the URI as presented (loopback ports may
    /// differ from the registered one), or the single registered one.
    pub redirect_uri: String,
    /// The request named `redirect_uri` (the token request must repeat it).
    pub redirect_uri_given: bool,
    pub state: Option<String>,
    pub code_challenge: String,
    /// Requested permission scopes (without `offline_access`), in the
    /// contract's order.
    pub scopes: Vec<String>,
    /// `offline_access` was asked for (a refresh token).
    pub offline: bool,
    /// Identity scopes asked for (`openid`, `email`, `profile`), in that order.
    pub identity: Vec<String>,
    /// The RFC 8707 resource: the access token's audience.
    pub resource: String,
    pub prompt: Prompt,
    /// OpenID Connect: echoed in the id_token.
    pub nonce: Option<String>,
    /// OpenID Connect: the longest time since sign-in the client accepts.
    pub max_age: Option<i64>,
    /// OpenID Connect: pre-fills the sign-in page's email.
    pub login_hint: Option<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to.
    pub dpop_jkt: Option<String>,
    /// The client's row, as read for this request, says it completed an
    /// authorization before: a code needs no `mark_authorized` write (which
    /// would change nothing: the first time is kept).
    pub authorized_before: bool,
}

impl ValidRequest {
    /// The scopes a grant records beside the granted permissions: identity
    /// scopes and `offline_access`, as asked for.
    pub fn extras(&self) -> Vec<String> {
        let mut all = self.identity.clone();
        if self.offline {
            all.push(OFFLINE_ACCESS.to_string());
        }
        all
    }

    /// An error about this (valid) request: it goes back to the client.
    pub fn refuse(&self, code: ErrorCode, description: impl Into<String>) -> AuthorizeError {
        AuthorizeError::redirect(
            code,
            description,
            &self.client_id,
            &self.redirect_uri,
            self.state.as_deref(),
        )
    }
}

/// The server's defaults for what a request leaves out.
pub struct Defaults<'a> {
    /// The resource when none is named (`resource.default`).
    pub resource: &'a str,
    /// The scope when neither the request nor the client names one
    /// (`scopes.default`).
    pub scope: &'a [String],
}

/// Check the request against the registered client. `resource_ok` maps a
/// presented `resource` to its canonical form when it is one we serve.
pub fn validate(
    params: &Params,
    client: Option<&Client>,
    defaults: &Defaults<'_>,
    resource_ok: impl Fn(&str) -> Option<String>,
) -> Result<ValidRequest, AuthorizeError> {
    // 1. Client and redirect URI: errors here go to a page.
    if params
        .repeated
        .iter()
        .any(|r| r == "client_id" || r == "redirect_uri")
    {
        return Err(AuthorizeError::page(
            ErrorCode::InvalidRequest,
            "The request repeats client_id or redirect_uri.",
        ));
    }
    let Some(client_id) = params.get("client_id") else {
        return Err(AuthorizeError::page(
            ErrorCode::InvalidRequest,
            "The request has no client_id.",
        ));
    };
    let Some(client) = client else {
        return Err(AuthorizeError::page(
            ErrorCode::InvalidClient,
            format!("Unknown client: {client_id}."),
        ));
    };
    let registered = model::list(&client.redirect_uris);
    let redirect_uri = match params.get("redirect_uri") {
        Some(presented) => {
            if !registered
                .iter()
                .any(|r| redirect_uri::matches(r, presented))
            {
                return Err(AuthorizeError::page(
                    ErrorCode::InvalidRequest,
                    "The redirect_uri is not registered for this client.",
                ));
            }
            presented.to_string()
        }
        None if registered.len() == 1 => registered[0].clone(),
        None => {
            return Err(AuthorizeError::page(
                ErrorCode::InvalidRequest,
                "The request has no redirect_uri and the client registered several.",
            ));
        }
    };

    // 2. Everything else goes back to the client.
    let state = params.get("state").map(str::to_string);
    // Issue 15 item 4: a longer state is refused, and not echoed back.
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE_BYTES) {
        return Err(AuthorizeError::redirect(
            ErrorCode::InvalidRequest,
            format!("state is longer than {MAX_STATE_BYTES} bytes"),
            &client.client_id,
            &redirect_uri,
            None,
        ));
    }
    let fail = |code: ErrorCode, description: String| {
        AuthorizeError::redirect(
            code,
            description,
            &client.client_id,
            &redirect_uri,
            state.as_deref(),
        )
    };
    if params.is_repeated("resource") {
        return Err(fail(
            ErrorCode::InvalidTarget,
            "more than one resource was requested; this server issues a token for one resource \
             at a time (RFC 8707 §2)"
                .into(),
        ));
    }
    if let Some(r) = params.repeated.first() {
        return Err(fail(
            ErrorCode::InvalidRequest,
            format!("the parameter {r} is repeated"),
        ));
    }
    match params.get("response_type") {
        None => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "response_type is required".into(),
            ));
        }
        Some("code") => {}
        Some(other) => {
            return Err(fail(
                ErrorCode::UnsupportedResponseType,
                format!("response_type {other:?} is not supported; use \"code\""),
            ));
        }
    }
    let grants = model::list(&client.grant_types);
    if !grants.iter().any(|g| g == "authorization_code") {
        return Err(fail(
            ErrorCode::UnauthorizedClient,
            "the client is not registered for the authorization_code grant".into(),
        ));
    }
    match params.get("code_challenge_method") {
        Some("S256") => {}
        None => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge_method is required and must be S256 (PKCE)".into(),
            ));
        }
        Some(other) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                format!("code_challenge_method {other:?} is not supported; use S256"),
            ));
        }
    }
    let code_challenge = match params.get("code_challenge") {
        Some(c) if pkce::is_valid_challenge(c) => c.to_string(),
        Some(_) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge must be the 43-character base64url SHA-256 of the code_verifier"
                    .into(),
            ));
        }
        None => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "code_challenge is required (PKCE)".into(),
            ));
        }
    };
    let (scopes, identity, offline) =
        requested_scopes(params.get("scope"), client, &grants, defaults.scope)
            .map_err(|d| fail(ErrorCode::InvalidScope, d))?;
    let resource = match params.get("resource") {
        None => defaults.resource.to_string(),
        Some(r) => resource_ok(r).ok_or_else(|| {
            fail(
                ErrorCode::InvalidTarget,
                format!("the resource {r:?} is not served by this authorization server"),
            )
        })?,
    };
    let prompt =
        parse_prompt(params.get("prompt")).map_err(|d| fail(ErrorCode::InvalidRequest, d))?;
    let nonce = bounded(params, "nonce").map_err(|d| fail(ErrorCode::InvalidRequest, d))?;
    let login_hint =
        bounded(params, "login_hint").map_err(|d| fail(ErrorCode::InvalidRequest, d))?;
    let max_age = match params.get("max_age") {
        None => None,
        Some(s) => Some(s.parse::<u32>().map(i64::from).map_err(|_| {
            fail(
                ErrorCode::InvalidRequest,
                "max_age must be a non-negative number of seconds".into(),
            )
        })?),
    };
    let dpop_jkt = match params.get("dpop_jkt") {
        None => None,
        Some(j) if pkce::is_valid_challenge(j) => Some(j.to_string()),
        Some(_) => {
            return Err(fail(
                ErrorCode::InvalidRequest,
                "dpop_jkt must be the 43-character base64url SHA-256 thumbprint of the DPoP key \
                 (RFC 7638)"
                    .into(),
            ));
        }
    };
    Ok(ValidRequest {
        client_id: client.client_id.clone(),
        redirect_uri_given: params.get("redirect_uri").is_some(),
        redirect_uri,
        state,
        code_challenge,
        scopes,
        offline,
        identity,
        resource,
        prompt,
        nonce,
        max_age,
        login_hint,
        dpop_jkt,
        authorized_before: client.first_authorized_at.is_some(),
    })
}

/// An optional text parameter of at most [`MAX_NONCE_BYTES`].
fn bounded(params: &Params, name: &str) -> Result<Option<String>, String> {
    match params.get(name) {
        Some(v) if v.len() > MAX_NONCE_BYTES => {
            Err(format!("{name} is longer than {MAX_NONCE_BYTES} bytes"))
        }
        v => Ok(v.map(str::to_string)),
    }
}

/// The scopes asked for, checked against the client's registration. An
/// empty registered scope means any supported scope (the member's role and
/// consent are the limit). No `scope` means the registered scope, or
/// `default_scope` when the client registered none (RFC 6749 §3.3's
/// pre-defined default; issue 14, item 7).
pub fn requested_scopes<'a>(
    scope: Option<&'a str>,
    client: &'a Client,
    grants: &[String],
    default_scope: &'a [String],
) -> Result<(Vec<String>, Vec<String>, bool), String> {
    let registered: Vec<&str> =
        scopes::split(client.scope.as_deref().unwrap_or_default()).unwrap_or_default();
    let asked: Vec<&str> = match scope {
        Some(s) => scopes::split(s).map_err(|e| e.description().to_string())?,
        None if registered.is_empty() => default_scope.iter().map(String::as_str).collect(),
        None => registered.clone(),
    };
    if asked.is_empty() {
        return Err("scope is required: the client registered no default scope".into());
    }
    let supported = scopes::supported();
    let mut offline = false;
    for s in &asked {
        if !supported.iter().any(|x| x == s) {
            return Err(format!("unknown scope {s:?}"));
        }
        if !registered.is_empty() && !registered.contains(s) {
            return Err(format!(
                "the scope {s:?} is not in the client's registered scope"
            ));
        }
        if *s == OFFLINE_ACCESS {
            if !grants.iter().any(|g| g == "refresh_token") {
                return Err(
                    "offline_access needs a client registered for the refresh_token grant".into(),
                );
            }
            offline = true;
        }
    }
    let perms: Vec<String> = scopes::SCOPES
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| asked.contains(s))
        .map(str::to_string)
        .collect();
    if perms.is_empty() {
        return Err(
            "ask for at least one permission scope besides offline_access, openid, email and \
             profile"
                .into(),
        );
    }
    let identity: Vec<String> = scopes::IDENTITY
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| asked.contains(s))
        .map(str::to_string)
        .collect();
    Ok((perms, identity, offline))
}

fn parse_prompt(prompt: Option<&str>) -> Result<Prompt, String> {
    let mut p = Prompt::default();
    for v in prompt
        .unwrap_or_default()
        .split(' ')
        .filter(|v| !v.is_empty())
    {
        match v {
            "none" => p.none = true,
            "login" => p.login = true,
            "consent" => p.consent = true,
            "select_account" => p.select_account = true,
            other => {
                return Err(format!(
                    "prompt value {other:?} is not supported (none, login, consent, \
                     select_account)"
                ));
            }
        }
    }
    if p.none && (p.login || p.consent || p.select_account) {
        return Err("prompt=none cannot be combined with other values".into());
    }
    Ok(p)
}

/// The redirect URI with the response parameters appended (RFC 9207 `iss`
/// always), keeping any query it already has.
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Option<String> {
    let mut url = url::Url::parse(redirect_uri).ok()?;
    url.query_pairs_mut().extend_pairs(params);
    Some(url.into())
}

/// The host shown on the consent page (the scheme for private-use URIs).
pub fn display_host(redirect_uri: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(u) => match u.host_str() {
            Some(h) => h.to_string(),
            None => format!("{}: (an app on the device)", u.scheme()),
        },
        Err(_) => redirect_uri.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::authorize::error::Destination;

    fn is_page(r: Result<ValidRequest, AuthorizeError>) -> bool {
        matches!(
            r,
            Err(AuthorizeError {
                to: Destination::Page,
                ..
            })
        )
    }

    fn client(grants: &str, scope: Option<&str>) -> Client {
        Client {
            grant_types: grants.into(),
            redirect_uris: r#"["https://app.example/cb","http://127.0.0.1/cb"]"#.into(),
            scope: scope.map(str::to_string),
            ..crate::oauth::client::model::test_row()
        }
    }

    const CH: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn params(extra: &[(&str, &str)]) -> Params {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", "c1"),
            ("redirect_uri", "https://app.example/cb"),
            ("scope", "agency:read"),
            ("state", "xyz"),
            ("code_challenge", CH),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in extra {
            pairs.retain(|(pk, _)| pk != k);
            if !v.is_empty() {
                pairs.push((k, v));
            }
        }
        Params::from_pairs(pairs)
    }

    fn run(p: &Params, c: &Client) -> Result<ValidRequest, AuthorizeError> {
        let scope = ["agency:read".to_string()];
        let defaults = Defaults {
            resource: "http://api",
            scope: &scope,
        };
        validate(p, Some(c), &defaults, |r| {
            (r == "http://api").then(|| r.to_string())
        })
    }

    fn redirect_error(r: Result<ValidRequest, AuthorizeError>) -> ErrorCode {
        match r {
            Err(AuthorizeError {
                error,
                to: Destination::Redirect(back),
            }) => {
                assert_eq!(back.state.as_deref(), Some("xyz"));
                error.code
            }
            other => panic!("expected a redirect error, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_passes() {
        let c = client(r#"["authorization_code","refresh_token"]"#, None);
        let v = run(
            &params(&[("scope", "posts:read offline_access agency:read")]),
            &c,
        )
        .unwrap();
        assert_eq!(v.scopes, vec!["agency:read", "posts:read"]);
        assert!(v.offline);
        assert_eq!(v.resource, "http://api");
        // Loopback: another port matches, and the presented URI is used.
        let v = run(&params(&[("redirect_uri", "http://127.0.0.1:5555/cb")]), &c).unwrap();
        assert_eq!(v.redirect_uri, "http://127.0.0.1:5555/cb");
    }

    #[test]
    fn client_and_redirect_errors_are_pages() {
        let c = client(r#"["authorization_code"]"#, None);
        let defaults = Defaults {
            resource: "x",
            scope: &[],
        };
        let unknown = validate(&params(&[]), None, &defaults, |_| None);
        assert_eq!(
            unknown.as_ref().map_err(|e| e.error.code).err(),
            Some(ErrorCode::InvalidClient)
        );
        assert!(is_page(unknown));
        for bad in [
            "https://evil.example/cb",
            "https://app.example/cb/",
            "https://app.example/cb?x=1",
        ] {
            assert!(is_page(run(&params(&[("redirect_uri", bad)]), &c)), "{bad}");
        }
        // Omitted redirect_uri with two registered.
        assert!(is_page(run(&params(&[("redirect_uri", "")]), &c)));
        let dup = Params::from_pairs([("client_id", "c1"), ("client_id", "c2")]);
        assert!(is_page(run(&dup, &c)));
    }

    #[test]
    fn other_errors_redirect_with_their_codes() {
        let c = client(r#"["authorization_code"]"#, Some("agency:read posts:read"));
        assert_eq!(
            redirect_error(run(&params(&[("response_type", "token")]), &c)),
            ErrorCode::UnsupportedResponseType
        );
        assert_eq!(
            redirect_error(run(&params(&[("code_challenge", "")]), &c)),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            redirect_error(run(&params(&[("code_challenge_method", "plain")]), &c)),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            redirect_error(run(&params(&[("code_challenge_method", "")]), &c)),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            redirect_error(run(&params(&[("scope", "billing:write")]), &c)),
            ErrorCode::InvalidScope
        );
        assert_eq!(
            redirect_error(run(&params(&[("scope", "nope")]), &c)),
            ErrorCode::InvalidScope
        );
        assert_eq!(
            redirect_error(run(&params(&[("scope", "offline_access agency:read")]), &c)),
            ErrorCode::InvalidScope
        );
        assert_eq!(
            redirect_error(run(&params(&[("resource", "http://other")]), &c)),
            ErrorCode::InvalidTarget
        );
        let mut two = params(&[]).pairs();
        two.push(("resource".into(), "http://api".into()));
        two.push(("resource".into(), "http://api".into()));
        assert_eq!(
            redirect_error(run(&Params::from_pairs(two), &c)),
            ErrorCode::InvalidTarget
        );
        assert_eq!(
            redirect_error(run(&params(&[("prompt", "none login")]), &c)),
            ErrorCode::InvalidRequest
        );
        let cc = client(r#"["client_credentials"]"#, None);
        assert_eq!(
            redirect_error(run(&params(&[]), &cc)),
            ErrorCode::UnauthorizedClient
        );
    }

    #[test]
    fn no_scope_means_the_registered_scope_else_the_default() {
        let grants = r#"["authorization_code","refresh_token"]"#;
        let none = client(grants, None);
        let v = run(&params(&[("scope", "")]), &none).unwrap();
        assert_eq!(v.scopes, ["agency:read"], "scopes.default");
        assert!(!v.offline);
        let registered = client(grants, Some("posts:read offline_access"));
        let v = run(&params(&[("scope", "")]), &registered).unwrap();
        assert_eq!(v.scopes, ["posts:read"], "the registered scope");
        assert!(v.offline);
    }

    #[test]
    fn prompt_login_is_removed_after_sign_in() {
        let p = params(&[("prompt", "login consent")]).without_prompt_login();
        assert_eq!(p.get("prompt"), Some("consent"));
        let p = params(&[("prompt", "login")]).without_prompt_login();
        assert_eq!(p.get("prompt"), None);
        // max_age is answered by the sign-in about to happen.
        let p = params(&[("max_age", "0")]).without_prompt_login();
        assert_eq!(p.get("max_age"), None);
    }

    #[test]
    fn openid_parameters_are_read_and_checked() {
        let c = client(r#"["authorization_code"]"#, None);
        let v = run(
            &params(&[
                ("scope", "profile agency:read openid"),
                ("nonce", "n-1"),
                ("max_age", "600"),
                ("login_hint", "ann@example.com"),
                ("prompt", "select_account consent"),
            ]),
            &c,
        )
        .unwrap();
        assert_eq!(v.scopes, ["agency:read"]);
        assert_eq!(v.identity, ["openid", "profile"], "in the contract's order");
        assert_eq!(v.extras(), ["openid", "profile"]);
        assert_eq!(v.nonce.as_deref(), Some("n-1"));
        assert_eq!(v.max_age, Some(600));
        assert_eq!(v.login_hint.as_deref(), Some("ann@example.com"));
        assert!(v.prompt.select_account && v.prompt.consent);
        let long = "n".repeat(MAX_NONCE_BYTES + 1);
        for bad in [
            ("max_age", "-1"),
            ("max_age", "soon"),
            ("nonce", long.as_str()),
            ("prompt", "none select_account"),
            ("prompt", "create"),
        ] {
            assert_eq!(
                redirect_error(run(&params(&[bad]), &c)),
                ErrorCode::InvalidRequest,
                "{bad:?}"
            );
        }
        // Identity scopes alone grant nothing: an agency grant needs a permission.
        assert_eq!(
            redirect_error(run(&params(&[("scope", "openid email")]), &c)),
            ErrorCode::InvalidScope
        );
    }

    #[test]
    fn redirects_keep_existing_query() {
        let u = redirect_with(
            "https://a.example/cb?x=1",
            &[("code", "c"), ("iss", "https://i")],
        )
        .unwrap();
        assert_eq!(u, "https://a.example/cb?x=1&code=c&iss=https%3A%2F%2Fi");
        let u = redirect_with("com.example.app:/cb", &[("code", "c")]).unwrap();
        assert_eq!(u, "com.example.app:/cb?code=c");
    }
}
