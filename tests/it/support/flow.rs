//! The authorization code flow as a member walks it: a registered public
//! client, sign-in and consent through the real forms, then codes redeemed
//! and refresh tokens rotated at the token endpoint.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::browser::*;
use super::token::{DEFAULT_RESOURCE, create_resource_server};
use super::*;

pub struct Flow {
    pub app: TestApp,
    pub client_id: String,
    pub user_id: String,
    pub b: Browser,
}

pub async fn setup(role: &str, scope: &str) -> Flow {
    setup_on(spawn_app().await, role, scope).await
}

pub async fn setup_on(app: TestApp, role: &str, scope: &str) -> Flow {
    let user_id = member(&app, "ann@example.com", "Acme", role).await;
    let client = public_client(&app, json!({})).await;
    let client_id = client["client_id"].as_str().unwrap().to_string();
    let mut b = Browser::new(&app);
    let resp = authorize_with_consent(
        &app,
        &mut b,
        &client_id,
        "ann@example.com",
        &[("scope", scope)],
    )
    .await;
    assert!(
        location_params(&resp).contains_key("code"),
        "{}",
        location(&resp)
    );
    Flow {
        app,
        client_id,
        user_id,
        b,
    }
}

impl Flow {
    /// A fresh code through the remembered consent (or the page).
    pub async fn code(&mut self, scope: &str) -> String {
        let resp = authorize_with_consent(
            &self.app,
            &mut self.b,
            &self.client_id,
            "ann@example.com",
            &[("scope", scope)],
        )
        .await;
        location_params(&resp)["code"].clone()
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        let mut f: Vec<(&str, &str)> = vec![("client_id", self.client_id.as_str())];
        f.extend_from_slice(form);
        self.app
            .client
            .post(self.app.url("/oauth/token"))
            .form(&f)
            .send()
            .await
            .unwrap()
    }

    pub async fn redeem(&self, code: &str) -> reqwest::Response {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ])
        .await
    }

    pub async fn refresh(&self, rt: &str) -> reqwest::Response {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
            .await
    }
}

pub async fn ok_json(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 200, "{:?}", resp.url());
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
    resp.json().await.unwrap()
}

pub async fn error_code(resp: reqwest::Response) -> (StatusCode, String) {
    let status = resp.status();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let v: Value = resp.json().await.unwrap();
    assert!(
        !v["error_description"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{v}"
    );
    (status, v["error"].as_str().unwrap().to_string())
}

/// A resource server for the default resource (`DEFAULT_RESOURCE`).
pub fn resource_server(app: &TestApp) -> (String, String) {
    create_resource_server(app, "API", DEFAULT_RESOURCE)
}
