//! RFC 8414 metadata, JWKS and health endpoints over real HTTP.

use crate::support::*;

#[tokio::test]
async fn metadata_urls_derive_from_the_issuer() {
    let app = spawn_app().await;
    let meta = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        meta["issuer"],
        app.base.as_str(),
        "issuer echoes config exactly"
    );
    let mut urls = 0;
    for (k, v) in meta.as_object().unwrap() {
        if k.ends_with("_endpoint") || k.ends_with("_uri") {
            let v = v.as_str().unwrap();
            assert!(v.starts_with(&app.base), "{k} = {v}");
            urls += 1;
        }
    }
    assert!(urls >= 1);
    assert_eq!(
        meta["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        meta["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    let scopes: Vec<&str> = meta["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for s in [
        "agency:read",
        "agency:write",
        "members:read",
        "members:write",
        "posts:read",
        "posts:write",
        "analytics:read",
        "billing:read",
        "billing:write",
        "api_keys:write",
    ] {
        assert!(scopes.contains(&s), "{s}");
    }
    // The OIDC discovery path serves the same document.
    let oidc = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(oidc, meta);
    // Each advertised URL answers as its endpoint: the JWKS with keys, the
    // authorization endpoint with its error page for a request without a
    // client, and each POST endpoint with an RFC error for an empty request.
    let jwks: serde_json::Value = app
        .client
        .get(meta["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!jwks["keys"].as_array().unwrap().is_empty(), "{jwks}");
    let page = app
        .client
        .get(meta["authorization_endpoint"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("client_id"));
    for (key, want) in [
        ("token_endpoint", "invalid_request"),
        ("revocation_endpoint", "invalid_client"),
        ("introspection_endpoint", "invalid_client"),
        ("pushed_authorization_request_endpoint", "invalid_client"),
        ("device_authorization_endpoint", "invalid_client"),
        ("registration_endpoint", "invalid_redirect_uri"),
        ("userinfo_endpoint", "invalid_token"),
    ] {
        let url = meta[key].as_str().unwrap();
        let req = app.client.post(url);
        let req = if key == "registration_endpoint" {
            req.json(&serde_json::json!({}))
        } else {
            req.form(&[("x", "y")])
        };
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap();
        assert!(matches!(status, 400 | 401), "{key}: {status} {body}");
        assert_eq!(body["error"], want, "{key}: {body}");
    }
    // The end-session endpoint (a page) is tested in oidc::.
    assert_eq!(urls, 10, "jwks_uri and nine endpoints");
}
