use sea_orm::entity::prelude::*;

/// A refresh-token family: every rotation of one authorization grant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_families")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub agency_id: String,
    #[sea_orm(column_type = "Text")]
    pub resource: String,
    #[sea_orm(unique)]
    pub code_hash: String,
    pub created_at: i64,
    /// Absolute end of the family.
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    /// The sign-in time of the grant (id_tokens issued on refresh repeat it).
    pub auth_time: Option<i64>,
    /// RFC 9449 §5: the DPoP key a public client's refresh tokens are bound to.
    pub dpop_jkt: Option<String>,
    /// How the member signed in (space-separated; None: `pwd`).
    pub amr: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
