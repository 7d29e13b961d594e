//! What a client is: its vocabulary as typed enums (RFC 7591 §2 metadata,
//! OpenID Connect Dynamic Client Registration §2 `application_type`), the
//! validated metadata registration and metadata documents produce, and the
//! record the token, revocation and introspection endpoints work with.
//!
//! The vocabularies stored in their own columns (`kind`,
//! `token_endpoint_auth_method`, `application_type`) are sea-orm active
//! enums, so they are defined beside the entity and re-exported here.
//! Grant types are stored as a JSON list and parsed into [`GrantType`] here,
//! at the model boundary.

use entity::client::Model;
pub use entity::client::{ApplicationType, AuthMethod, ClientKind};

/// RFC 7591 §2 `grant_types`: the grants this server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    /// RFC 8628 §3.4: a device polls for the member's approval.
    DeviceCode,
}

impl GrantType {
    /// Every grant this server serves, in the order the metadata
    /// (`grant_types_supported`) lists them.
    pub const ALL: [GrantType; 4] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::DeviceCode,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    pub fn parse(s: &str) -> Option<GrantType> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// The only response type of OAuth 2.1.
pub const RESPONSE_TYPE_CODE: &str = "code";

/// Validated client metadata: what gets stored and echoed. Unknown fields
/// of a request are not here, so they are never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMetadata {
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    pub response_types: Vec<String>,
    /// Space-separated, each a supported scope; `None` when not given.
    pub scope: Option<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub contacts: Vec<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    /// `None` when the client sent none: then every redirect URI form of
    /// [`crate::oauth::redirect_uri::validate`] is accepted (MCP clients
    /// register loopback URIs without saying `native`).
    pub application_type: Option<ApplicationType>,
    /// `private_key_jwt`: the client's JWK Set as JSON text (public keys).
    pub jwks: Option<String>,
    /// `private_key_jwt`: where the client publishes its JWK Set.
    pub jwks_uri: Option<String>,
    /// RFC 9126 §6: its authorization requests must be pushed.
    pub require_pushed_authorization_requests: bool,
    /// OpenID Connect Registration §2: `RS256`, or `None` (ES256).
    pub id_token_signed_response_alg: Option<String>,
    /// OpenID Connect RP-Initiated Logout §3.1.
    pub post_logout_redirect_uris: Vec<String>,
    /// RFC 9449 §5.2: its token requests must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
}

impl ClientMetadata {
    pub fn has_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// The id_token algorithms a client may register
/// (`id_token_signed_response_alg`); the first is the default.
pub const ID_TOKEN_ALGS: [&str; 2] = [crate::keys::material::ES256, crate::keys::material::RS256];

/// The id_token algorithm for a stored `id_token_signed_response_alg`.
pub fn id_token_alg(registered: Option<&str>) -> &'static str {
    ID_TOKEN_ALGS
        .into_iter()
        .find(|a| Some(*a) == registered)
        .unwrap_or(ID_TOKEN_ALGS[0])
}

/// A stored JSON list column as strings (empty if unreadable).
pub fn list(column: &str) -> Vec<String> {
    serde_json::from_str(column).unwrap_or_default()
}

/// The stored `grant_types` column as grants; a name this server does not
/// serve is left out.
pub fn grant_types(column: &str) -> Vec<GrantType> {
    list(column)
        .iter()
        .filter_map(|g| GrantType::parse(g))
        .collect()
}

/// What the token, revocation and introspection endpoints need of a client,
/// parsed once from its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    pub kind: ClientKind,
    /// SHA-256 hex of the secret; `None` for public clients.
    pub secret_hash: Option<String>,
    /// The registered `token_endpoint_auth_method`.
    pub auth_method: AuthMethod,
    pub grant_types: Vec<GrantType>,
    /// The registered scopes, in registration order.
    pub scope: Vec<String>,
    /// The resource identifier of a resource server.
    pub resource: Option<String>,
    /// `private_key_jwt`: the inline JWK Set (JSON text).
    pub jwks: Option<String>,
    /// `private_key_jwt`: where the JWK Set is published.
    pub jwks_uri: Option<String>,
    /// The algorithm of this client's id_tokens (`ES256` unless it
    /// registered `RS256`).
    pub id_token_alg: &'static str,
    /// RFC 9449 §5.2: token requests without a DPoP proof are refused.
    pub dpop_bound_access_tokens: bool,
}

impl ClientRecord {
    pub fn from_model(m: &Model) -> ClientRecord {
        ClientRecord {
            client_id: m.client_id.clone(),
            kind: m.kind,
            secret_hash: m.client_secret_hash.clone(),
            auth_method: m.token_endpoint_auth_method,
            grant_types: grant_types(&m.grant_types),
            scope: m
                .scope
                .as_deref()
                .unwrap_or_default()
                .split_ascii_whitespace()
                .map(str::to_string)
                .collect(),
            resource: m.resource.clone(),
            jwks: m.jwks.clone(),
            jwks_uri: m.jwks_uri.clone(),
            id_token_alg: id_token_alg(m.id_token_signed_response_alg.as_deref()),
            dpop_bound_access_tokens: m.dpop_bound_access_tokens,
        }
    }

    pub fn is_resource_server(&self) -> bool {
        self.kind == ClientKind::ResourceServer
    }

    pub fn has_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether redeeming an authorization code gives this client a refresh
    /// token: exactly when it registered the refresh_token grant (whether or
    /// not it asked for `offline_access`). The token endpoint decides with
    /// this, and the consent page says so from it, so the two cannot drift.
    pub fn gets_refresh_tokens(&self) -> bool {
        self.has_grant(GrantType::RefreshToken)
    }
}

/// A registered client for unit tests of the grants: `secret` makes it
/// confidential (client_secret_basic), otherwise public.
#[cfg(test)]
pub fn test_record(scope: &str, grants: &[GrantType], secret: bool) -> ClientRecord {
    ClientRecord {
        client_id: "c".into(),
        kind: ClientKind::Dynamic,
        secret_hash: secret.then(|| "00".repeat(32)),
        auth_method: if secret {
            AuthMethod::ClientSecretBasic
        } else {
            AuthMethod::None
        },
        grant_types: grants.to_vec(),
        scope: crate::scopes::split(scope)
            .unwrap_or_default()
            .into_iter()
            .map(str::to_string)
            .collect(),
        resource: None,
        jwks: None,
        jwks_uri: None,
        id_token_alg: crate::keys::material::ES256,
        dpop_bound_access_tokens: false,
    }
}

/// A stored public client for unit tests: `c1`, "App", the code and
/// refresh grants, redirect URI `https://app.example/cb`. Tests change what
/// they need with struct update syntax.
#[cfg(test)]
pub fn test_row() -> Model {
    Model {
        client_id: "c1".into(),
        kind: ClientKind::Dynamic,
        client_secret_hash: None,
        registration_token_hash: None,
        token_endpoint_auth_method: AuthMethod::None,
        grant_types: r#"["authorization_code","refresh_token"]"#.into(),
        response_types: r#"["code"]"#.into(),
        redirect_uris: r#"["https://app.example/cb"]"#.into(),
        contacts: "[]".into(),
        scope: None,
        client_name: Some("App".into()),
        client_uri: None,
        logo_uri: None,
        tos_uri: None,
        policy_uri: None,
        software_id: None,
        software_version: None,
        created_at: 0,
        updated_at: 0,
        first_authorized_at: None,
        resource: None,
        application_type: None,
        jwks: None,
        jwks_uri: None,
        require_pushed_authorization_requests: false,
        id_token_signed_response_alg: None,
        post_logout_redirect_uris: "[]".into(),
        dpop_bound_access_tokens: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_names_round_trip() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
        }
        assert_eq!(GrantType::parse("password"), None);
    }

    #[test]
    fn json_list_columns() {
        assert_eq!(list(r#"["a","b"]"#), vec!["a", "b"]);
        assert!(list("not json").is_empty());
        assert_eq!(
            grant_types(r#"["refresh_token","implicit","authorization_code"]"#),
            vec![GrantType::RefreshToken, GrantType::AuthorizationCode]
        );
    }

    #[test]
    fn record_from_row() {
        let row = Model {
            kind: ClientKind::ResourceServer,
            client_secret_hash: Some("00".repeat(32)),
            token_endpoint_auth_method: AuthMethod::ClientSecretPost,
            grant_types: r#"["client_credentials"]"#.into(),
            response_types: "[]".into(),
            redirect_uris: "[]".into(),
            scope: Some("agency:read  posts:read".into()),
            client_name: None,
            resource: Some("https://api.example".into()),
            ..test_row()
        };
        let r = ClientRecord::from_model(&row);
        assert!(r.is_resource_server());
        assert_eq!(r.auth_method, AuthMethod::ClientSecretPost);
        assert!(r.has_grant(GrantType::ClientCredentials));
        assert!(!r.has_grant(GrantType::RefreshToken));
        assert_eq!(r.scope, vec!["agency:read", "posts:read"]);
    }
}
