use sea_orm::entity::prelude::*;

/// An authorization code, stored as the SHA-256 of the code.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authorization_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub redirect_uri: String,
    /// The authorization request named `redirect_uri` explicitly.
    pub redirect_uri_given: bool,
    /// S256 code challenge (base64url of SHA-256 of the verifier).
    pub code_challenge: String,
    /// Space-separated granted scopes (after narrowing to the role).
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    /// The RFC 8707 resource: the access token's `aud`.
    #[sea_orm(column_type = "Text")]
    pub resource: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The access token issued for this code (revoked on a replay).
    pub access_jti: Option<String>,
    pub access_exp: Option<i64>,
    /// OpenID Connect: the request's `nonce`, echoed in the id_token.
    #[sea_orm(column_type = "Text", nullable)]
    pub nonce: Option<String>,
    /// When the member signed in (the session's start): the id_token's `auth_time`.
    pub auth_time: Option<i64>,
    /// RFC 9449 §10: the `dpop_jkt` of the authorization request; the code
    /// is redeemed only with a proof by that key.
    pub dpop_jkt: Option<String>,
    /// How the member signed in (space-separated; None: `pwd`).
    pub amr: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
