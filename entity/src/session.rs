use sea_orm::entity::prelude::*;

/// A browser session. The cookie holds a random 256-bit id; only its
/// SHA-256 is stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_hash: String,
    pub user_id: String,
    /// Sign-in time: the absolute timeout counts from here.
    pub created_at: i64,
    /// Updated at most once a minute: the idle timeout counts from here.
    pub last_seen_at: i64,
    /// How the member signed in (RFC 8176, space-separated): `pwd` or
    /// `pwd otp`.
    pub amr: String,
    /// A random handle naming the session on the member's security page
    /// (its per-session sign-out form); unrelated to the cookie value.
    #[sea_orm(unique)]
    pub public_id: String,
    /// What signed in, summarised ("Firefox on Linux"); not the raw header.
    pub user_agent: Option<String>,
    /// The client IP at sign-in.
    pub ip: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
