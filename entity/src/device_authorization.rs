use sea_orm::entity::prelude::*;

/// A device authorization (RFC 8628): keyed by the SHA-256 of its
/// `device_code`; the short `user_code` is stored normalised (8 letters, no
/// dash), unique. `status` is `pending`, then `approved` (with the member,
/// agency and granted scope) or `denied`; the row is deleted when the
/// approved grant is redeemed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "device_authorizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub device_code_hash: String,
    #[sea_orm(unique)]
    pub user_code: String,
    pub client_id: String,
    /// Requested permission scopes, space separated (`offline_access` is
    /// in `offline`).
    #[sea_orm(column_type = "Text")]
    pub scope: String,
    pub offline: bool,
    /// The RFC 8707 resource: the access token's `aud`.
    #[sea_orm(column_type = "Text")]
    pub resource: String,
    pub status: String,
    pub user_id: Option<String>,
    pub agency_id: Option<String>,
    /// The scope granted on approval (as an authorization code stores it).
    #[sea_orm(column_type = "Text", nullable)]
    pub granted_scope: Option<String>,
    /// Seconds the client must wait between polls (grows by 5 at each
    /// `slow_down`).
    pub interval_secs: i64,
    pub last_poll_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    /// When the approving member signed in (the session's start): the
    /// id_token's `auth_time`.
    pub auth_time: Option<i64>,
    /// How the approving member signed in (RFC 8176, space-separated).
    #[sea_orm(column_type = "Text", nullable)]
    pub amr: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
