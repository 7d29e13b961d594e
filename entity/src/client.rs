//! The `clients` table, and the vocabularies stored in its string columns
//! as sea-orm active enums (`kind`, `token_endpoint_auth_method`,
//! `application_type`). The enums live here because a column's type must;
//! the server uses them through `skedcast_auth::oauth::client::model`.
//! Their `string_value`s are what the rows hold: changing one needs a
//! migration.

use sea_orm::entity::prelude::*;

/// Who made a client, which decides how it is managed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ClientKind {
    /// Registered over RFC 7591, managed over RFC 7592.
    #[sea_orm(string_value = "dynamic")]
    Dynamic,
    /// Named by a Client ID Metadata Document: the `client_id` is the
    /// document's URL. Public, never managed over RFC 7592.
    #[sea_orm(string_value = "cimd")]
    MetadataDocument,
    /// Created with `skedcast-auth resource-server create`: confidential, no
    /// grants, allowed to call the introspection endpoint.
    #[sea_orm(string_value = "resource_server")]
    ResourceServer,
    /// Created with `skedcast-auth client create`: a confidential machine
    /// client (client_credentials) with the scopes the operator gave it;
    /// never managed over RFC 7592 (issue 13, item 5).
    #[sea_orm(string_value = "machine")]
    Machine,
}

impl ClientKind {
    pub const ALL: [ClientKind; 4] = [
        ClientKind::Dynamic,
        ClientKind::MetadataDocument,
        ClientKind::ResourceServer,
        ClientKind::Machine,
    ];

    /// The stored value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ClientKind::Dynamic => "dynamic",
            ClientKind::MetadataDocument => "cimd",
            ClientKind::ResourceServer => "resource_server",
            ClientKind::Machine => "machine",
        }
    }
}

/// RFC 7591 §2 `token_endpoint_auth_method`: how a client authenticates at
/// the token, revocation and introspection endpoints (RFC 6749 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum AuthMethod {
    /// HTTP Basic (RFC 6749 §2.3.1); the RFC 7591 default.
    #[sea_orm(string_value = "client_secret_basic")]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    #[sea_orm(string_value = "client_secret_post")]
    ClientSecretPost,
    /// A JWT signed with one of the client's keys (`jwks` or `jwks_uri`),
    /// RFC 7523 §2.2.
    #[sea_orm(string_value = "private_key_jwt")]
    PrivateKeyJwt,
    /// A public client: `client_id` alone.
    #[sea_orm(string_value = "none")]
    None,
}

impl AuthMethod {
    /// Every method this server supports, in the order the metadata
    /// (`token_endpoint_auth_methods_supported`) lists them.
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::None,
    ];

    /// The RFC 7591 name, which is also the stored value.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn parse(s: &str) -> Option<AuthMethod> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// Confidential clients authenticate at the token endpoint, with a
    /// secret or a signed assertion.
    pub fn is_confidential(self) -> bool {
        self != AuthMethod::None
    }

    /// Whether the server issues the client a secret.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
    }
}

/// OpenID Connect Dynamic Client Registration §2 `application_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum ApplicationType {
    /// Runs on a server or in a browser: redirect URIs are https only.
    #[sea_orm(string_value = "web")]
    Web,
    /// Runs on the user's device: https, http on a loopback host (RFC 8252
    /// §7.3) and private-use schemes (RFC 8252 §7.1).
    #[sea_orm(string_value = "native")]
    Native,
}

impl ApplicationType {
    pub const ALL: [ApplicationType; 2] = [ApplicationType::Web, ApplicationType::Native];

    /// The registration value, which is also the stored value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ApplicationType::Web => "web",
            ApplicationType::Native => "native",
        }
    }

    pub fn parse(s: &str) -> Option<ApplicationType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// An OAuth client. Secrets are SHA-256 hex only. List fields hold JSON
/// arrays of strings as text.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: String,
    pub kind: ClientKind,
    pub client_secret_hash: Option<String>,
    pub registration_token_hash: Option<String>,
    pub token_endpoint_auth_method: AuthMethod,
    #[sea_orm(column_type = "Text")]
    pub grant_types: String,
    #[sea_orm(column_type = "Text")]
    pub response_types: String,
    #[sea_orm(column_type = "Text")]
    pub redirect_uris: String,
    #[sea_orm(column_type = "Text")]
    pub contacts: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub scope: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub client_name: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub client_uri: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub logo_uri: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub tos_uri: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub policy_uri: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub software_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub software_version: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub first_authorized_at: Option<i64>,
    /// RFC 8707 resource identifier of a `resource_server` client; NULL otherwise.
    #[sea_orm(column_type = "Text", nullable)]
    pub resource: Option<String>,
    /// Set when the client sent `application_type`; NULL otherwise.
    pub application_type: Option<ApplicationType>,
    /// `private_key_jwt`: the client's JWK Set (JSON text), public keys only.
    #[sea_orm(column_type = "Text", nullable)]
    pub jwks: Option<String>,
    /// `private_key_jwt`: where the client publishes its JWK Set (https).
    #[sea_orm(column_type = "Text", nullable)]
    pub jwks_uri: Option<String>,
    /// RFC 9126 §6: this client's authorization requests must be pushed.
    pub require_pushed_authorization_requests: bool,
    /// OpenID Connect Registration §2: `RS256`, or NULL for the default ES256.
    pub id_token_signed_response_alg: Option<String>,
    /// OpenID Connect RP-Initiated Logout §3.1: JSON array of URIs.
    #[sea_orm(column_type = "Text")]
    pub post_logout_redirect_uris: String,
    /// RFC 9449 §5.2: this client's token requests must carry a DPoP proof.
    pub dpop_bound_access_tokens: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::strum::IntoEnumIterator;

    /// `as_str` is the stored value, so the names on the wire and in the
    /// rows cannot drift apart; `ALL` lists every variant.
    #[test]
    fn names_are_the_stored_values() {
        assert_eq!(ClientKind::ALL.len(), ClientKind::iter().count());
        for k in ClientKind::iter() {
            assert_eq!(k.as_str(), k.to_value());
        }
        assert_eq!(AuthMethod::ALL.len(), AuthMethod::iter().count());
        for m in AuthMethod::iter() {
            assert_eq!(m.as_str(), m.to_value());
            assert_eq!(AuthMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(ApplicationType::ALL.len(), ApplicationType::iter().count());
        for t in ApplicationType::iter() {
            assert_eq!(t.as_str(), t.to_value());
            assert_eq!(ApplicationType::parse(t.as_str()), Some(t));
        }
        assert_eq!(
            AuthMethod::parse("private_key_jwt"),
            Some(AuthMethod::PrivateKeyJwt)
        );
        assert!(
            AuthMethod::PrivateKeyJwt.is_confidential() && !AuthMethod::PrivateKeyJwt.uses_secret()
        );
    }
}
