//! Token-request parsing: the form body through `params::parse`, then the
//! pure deciders of the token endpoint that need no database: client
//! authentication (`client::authentication::parse`), PKCE, the stored-code check, the
//! refresh and client_credentials scope decisions.
//!
//! Input: `authorization header` NUL `form body` (no NUL: body only).
#![no_main]

use libfuzzer_sys::fuzz_target;
use skedcast_auth::oauth::client::authentication as client_auth;
use skedcast_auth::oauth::client::{AuthMethod, ClientKind, ClientRecord, GrantType};
use skedcast_auth::oauth::token::{client_credentials, code, refresh};
use skedcast_auth::oauth::{params, pkce};
use skedcast_auth::scopes::Role;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn stored_code() -> entity::authorization_code::Model {
    entity::authorization_code::Model {
        code_hash: "h".into(),
        client_id: "app".into(),
        user_id: "u".into(),
        agency_id: "a".into(),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_given: true,
        code_challenge: CHALLENGE.into(),
        scope: "schedules:read offline_access".into(),
        resource: "https://api.example/".into(),
        created_at: 0,
        expires_at: 100,
        used_at: None,
        access_jti: None,
        access_exp: None,
    }
}

fn client() -> ClientRecord {
    ClientRecord {
        client_id: "svc".into(),
        kind: ClientKind::Dynamic,
        secret_hash: Some("00".repeat(32)),
        auth_method: AuthMethod::ClientSecretBasic,
        grant_types: vec![GrantType::ClientCredentials],
        scope: vec!["schedules:read".into(), "agency:read".into()],
        resource: None,
        jwks: None,
        jwks_uri: None,
        id_token_alg: "ES256",
    }
}

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == 0) {
        Some(i) => (std::str::from_utf8(&data[..i]).ok(), &data[i + 1..]),
        None => (None, data),
    };
    let Ok(p) = params::parse(body) else {
        return;
    };
    let _ = params::quote(p.get("grant_type").unwrap_or_default());
    let _ = client_auth::parse(header, p.get("client_id"), p.get("client_secret"));
    let verifier = p.get("code_verifier").unwrap_or_default();
    let ok = pkce::verify(verifier, CHALLENGE);
    assert!(!ok || pkce::is_valid_verifier(verifier));
    if let Some(c) = p.get("code_challenge") {
        let _ = pkce::is_valid_challenge(c);
    }
    let stored = stored_code();
    let _ = code::check(
        &stored,
        p.get("client_id").unwrap_or("app"),
        &p,
        verifier,
        50,
    );
    for role in [Role::Owner, Role::Manager, Role::Editor, Role::Viewer] {
        let _ = code::effective(&stored.scope, role);
        if let Ok(scopes) = refresh::decide(&stored.scope, p.get("scope"), role) {
            // Never wider than the grant, never offline_access, never empty.
            assert!(!scopes.is_empty());
            for s in scopes {
                assert!(stored.scope.split(' ').any(|g| g == s), "{s:?} widened");
                assert_ne!(s, "offline_access");
            }
        }
    }
    let c = client();
    if let Ok(scopes) = client_credentials::decide(&c, p.get("scope")) {
        assert!(!scopes.is_empty());
        for s in scopes {
            assert!(c.scope.iter().any(|r| r == s), "{s:?} not registered");
        }
    }
});
