//! A member signed in with remembered consent, for the benches of the
//! member flows (authorize + code exchange, refresh rotation): an agency, an
//! editor in it, a public client registered over RFC 7591, a browser session
//! and the member's consent to that client, all written straight into the
//! app's database, so `GET /oauth/authorize` with the session cookie answers
//! at once with a code (the remembered-consent path).
#![allow(dead_code)]

use skedcast_auth::AppState;
use skedcast_auth::oauth::authorize::consent;

/// The redirect URI the bench client registers.
pub const REDIRECT: &str = "http://127.0.0.1/callback";
/// The scope every flow asks for (`offline_access`: a refresh token).
pub const SCOPE: &str = "agency:read posts:read offline_access";
/// RFC 7636 appendix B: a verifier and its S256 challenge, the same for
/// every code (each code is redeemed once).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub struct Member {
    pub user_id: String,
    pub agency_id: String,
    pub client_id: String,
    /// `Cookie` header value carrying the session.
    pub cookie: String,
}

impl Member {
    /// Path and query of an authorization request the remembered consent
    /// covers.
    pub fn authorize_path(&self) -> String {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", SCOPE)
            .append_pair("state", "bench")
            .append_pair("code_challenge", CHALLENGE)
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("/oauth/authorize?{q}")
    }

    /// Form body redeeming `code`.
    pub fn code_form(&self, code: &str) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("client_id", &self.client_id)
            .append_pair("code_verifier", VERIFIER)
            .finish()
    }

    /// Form body rotating `refresh_token`.
    pub fn refresh_form(&self, refresh_token: &str) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh_token)
            .append_pair("client_id", &self.client_id)
            .finish()
    }
}

/// Register a public client at `base` (open registration) and sign a new
/// member `email` of a new agency in, with consent to it remembered.
pub async fn signed_in(state: &AppState, base: &str, email: &str) -> anyhow::Result<Member> {
    let db = &state.db;
    let agency = skedcast_auth::accounts::create_agency(db, &format!("Bench {email}")).await?;
    let user = skedcast_auth::accounts::create_user(db, email, &agency.id, "editor", None).await?;
    let info: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/oauth/register"))
        .json(&serde_json::json!({
            "client_name": "bench agent",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": SCOPE,
        }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let client_id = info["client_id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no client_id in {info}"))?
        .to_string();
    let now = skedcast_auth::clock::now();
    let session = skedcast_auth::session::create(db, &user.id, "pwd", now).await?;
    let granted: Vec<String> = SCOPE.split(' ').map(str::to_string).collect();
    consent::remember(
        db,
        &consent::Grant {
            user_id: &user.id,
            client_id: &client_id,
            agency_id: &agency.id,
            resource: &state.settings.default_resource,
        },
        &granted,
        now,
    )
    .await?;
    Ok(Member {
        user_id: user.id,
        agency_id: agency.id,
        client_id,
        cookie: format!(
            "{}={}",
            skedcast_auth::session::SESSION_COOKIE,
            session.raw_id
        ),
    })
}
