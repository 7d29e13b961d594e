//! A cookie-keeping HTTP client that walks the HTML forms like a browser
//! without JavaScript, plus the setup most flows need.

use std::collections::BTreeMap;

use reqwest::Response;
use serde_json::{Value, json};

use super::TestApp;

pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    pub cookies: BTreeMap<String, String>,
    /// Raw Set-Cookie headers seen, for attribute checks.
    pub set_cookies: Vec<String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser::from_ip(app, "127.0.0.1")
    }

    /// A browser for a server at `base` (e.g. a separate process).
    pub fn at(base: &str) -> Browser {
        Browser {
            client: super::http_client(),
            base: base.to_string(),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
        }
    }

    /// A browser whose connections come from another loopback address, so
    /// per-IP limits see a different client.
    pub fn from_ip(app: &TestApp, ip: &str) -> Browser {
        skedcast_auth::install_crypto_provider();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        Browser {
            client,
            base: app.base.clone(),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
        }
    }

    /// The path of `base` (an issuer with a path, e.g. `/tenant1`), or "".
    fn base_path(&self) -> &str {
        let after_scheme = self.base.split_once("://").map_or("", |(_, r)| r);
        after_scheme
            .find('/')
            .map_or("", |i| after_scheme[i..].trim_end_matches('/'))
    }

    /// `path` as the server sees it relative to the issuer: a Location
    /// under the issuer's path (`/tenant1/login?..`) loses the path.
    pub fn relative<'a>(&self, path: &'a str) -> &'a str {
        let base = self.base_path();
        match path.strip_prefix(base) {
            Some(rest) if !base.is_empty() && (rest.starts_with('/') || rest.starts_with('?')) => {
                rest
            }
            _ => path,
        }
    }

    /// An absolute URL, a path under the issuer (`/oauth/token`), or a
    /// Location the server sent (already under the issuer's path).
    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.base, self.relative(path_or_url))
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, resp: &Response) {
        for v in resp.headers().get_all("set-cookie") {
            let raw = v.to_str().unwrap().to_string();
            let first = raw.split(';').next().unwrap();
            let (k, val) = first.split_once('=').unwrap();
            if raw.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
            self.set_cookies.push(raw);
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let resp = self
            .client
            .get(self.url(path))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&resp);
        resp
    }

    pub async fn post_form(&mut self, path: &str, pairs: &[(String, String)]) -> Response {
        let resp = self
            .client
            .post(self.url(path))
            .header("cookie", self.cookie_header())
            .form(pairs)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&resp);
        resp
    }

    /// POST a JSON body as the passkey script does (`X-CSRF-Token` when
    /// given), keeping cookies.
    pub async fn post_json(&mut self, path: &str, csrf: Option<&str>, body: &Value) -> Response {
        let mut req = self
            .client
            .post(self.url(path))
            .header("cookie", self.cookie_header())
            .json(body);
        if let Some(token) = csrf {
            req = req.header("x-csrf-token", token);
        }
        let resp = req.send().await.unwrap();
        self.keep_cookies(&resp);
        resp
    }

    /// Sign in through the real form; returns the response to the POST.
    pub async fn sign_in(&mut self, email: &str, password: &str, next: Option<&str>) -> Response {
        let path = match next {
            Some(n) => format!("/login?next={}", urlencode(n)),
            None => "/login".to_string(),
        };
        let page = self.get(&path).await.text().await.unwrap();
        let mut form = hidden_fields(&page);
        form.push(("email".into(), email.into()));
        form.push(("password".into(), password.into()));
        self.post_form("/login", &form).await
    }
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#38;", "&")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every `<input type="hidden" name=".." value="..">` of a page, in order.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<input type=\"hidden\" ").skip(1) {
        let name = part
            .split("name=\"")
            .nth(1)
            .and_then(|s| s.split('"').next());
        let value = part
            .split("value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next());
        if let (Some(n), Some(v)) = (name, value) {
            out.push((unescape(n), unescape(v)));
        }
    }
    out
}

/// The query parameters of a Location header.
pub fn location_params(resp: &Response) -> BTreeMap<String, String> {
    let loc = resp.headers()["location"].to_str().unwrap();
    let url = url::Url::parse(loc).unwrap();
    url.query_pairs().into_owned().collect()
}

/// The `href` of the `<a id="continue">` link of an authorization error
/// page (RFC 9700 §4.17: a redirect the member follows by hand), unescaped.
pub fn continue_link(html: &str) -> Option<String> {
    let rest = html.split(r#"<a id="continue" href=""#).nth(1)?;
    rest.split('"').next().map(unescape)
}

/// The query parameters of an absolute URL.
pub fn url_params(u: &str) -> BTreeMap<String, String> {
    url::Url::parse(u)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

pub fn location(resp: &Response) -> String {
    resp.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub const PASSWORD: &str = "correct horse battery staple";
pub const REDIRECT: &str = "http://127.0.0.1/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// An agency (created if needed) and a member with `role` and PASSWORD.
pub async fn member(app: &TestApp, email: &str, agency: &str, role: &str) -> String {
    use skedcast_auth::accounts;
    if accounts::find_agency(&app.state.db, agency)
        .await
        .unwrap()
        .is_none()
    {
        accounts::create_agency(&app.state.db, agency)
            .await
            .unwrap();
    }
    let hash = accounts::password::hash(PASSWORD.into()).await.unwrap();
    accounts::create_user(&app.state.db, email, agency, role, Some(hash))
        .await
        .unwrap()
        .id
}

/// A public client (MCP-style) registered over RFC 7591; returns its JSON.
pub async fn public_client(app: &TestApp, extra: Value) -> Value {
    let mut body = json!({
        "client_name": "Calendar Agent",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let resp = app
        .client
        .post(app.url("/oauth/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

/// An authorization URL with PKCE; `extra` overrides or adds parameters
/// (an empty value removes one).
pub fn authorize_url(client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = vec![
        ("response_type".into(), "code".into()),
        ("client_id".into(), client_id.into()),
        ("redirect_uri".into(), REDIRECT.into()),
        ("scope".into(), "agency:read posts:read".into()),
        ("state".into(), "st-123".into()),
        ("code_challenge".into(), CHALLENGE.into()),
        ("code_challenge_method".into(), "S256".into()),
    ];
    for (k, v) in extra {
        pairs.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("/oauth/authorize?{q}")
}

/// A signed-in member answers `decision` ("allow" or "deny") on the consent
/// page of `client_id`; returns the response to the form. Either answer
/// makes the client's authorization errors redirect automatically
/// (RFC 9700 §4.17).
pub async fn decide_on_consent(b: &mut Browser, client_id: &str, decision: &str) -> Response {
    let resp = b
        .get(&authorize_url(client_id, &[("prompt", "consent")]))
        .await;
    assert_eq!(resp.status(), 200, "the consent page: {}", location(&resp));
    let mut form = hidden_fields(&resp.text().await.unwrap());
    form.push(("decision".into(), decision.into()));
    b.post_form("/oauth/authorize", &form).await
}

/// Walk sign-in and consent (allow) for `email`; returns the final redirect.
pub async fn authorize_with_consent(
    app: &TestApp,
    b: &mut Browser,
    client_id: &str,
    email: &str,
    extra: &[(&str, &str)],
) -> Response {
    let url = authorize_url(client_id, extra);
    let resp = b.get(&url).await;
    let resp = if resp.status() == 302 && b.relative(&location(&resp)).starts_with("/login") {
        let next = location(&resp);
        let page = b.get(&next).await.text().await.unwrap();
        let mut form = hidden_fields(&page);
        form.push(("email".into(), email.into()));
        form.push(("password".into(), PASSWORD.into()));
        let signed = b.post_form("/login", &form).await;
        assert_eq!(signed.status(), 303, "sign-in");
        b.get(&location(&signed)).await
    } else {
        resp
    };
    if resp.status() != 200 {
        return resp;
    }
    let page = resp.text().await.unwrap();
    let mut form = hidden_fields(&page);
    form.push(("decision".into(), "allow".into()));
    let _ = app;
    b.post_form("/oauth/authorize", &form).await
}
