use sea_orm::entity::prelude::*;

/// A member's TOTP secret (RFC 6238), sealed like private signing keys.
/// Unconfirmed (`confirmed_at` None) until a first code proves the
/// authenticator app holds it; only a confirmed one is a second factor.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_totp")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// The base32 secret, sealed (`jwe:`…) when `keys.encryption_key` is set.
    #[sea_orm(column_type = "Text")]
    pub secret: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
    /// The last time step whose code was accepted: a code is accepted only
    /// for a later step (each code once).
    pub last_used_step: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
