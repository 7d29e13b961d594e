//! Authorization codes: ≥ 256 random bits, stored only as a SHA-256 with
//! everything the token endpoint needs, valid for 60 seconds.

use entity::authorization_code::{ActiveModel, Column, Entity};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::IntoCondition;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait};

use crate::crypto::{random_token, sha256_hex};

pub const CODE_TTL_SECS: i64 = 60;

/// Used codes are kept this long after expiry, so that a replay is still
/// recognised (and its tokens revoked) rather than looking unknown.
const KEEP_AFTER_EXPIRY_SECS: i64 = 3600;

pub struct NewCode<'a> {
    pub client_id: &'a str,
    pub user_id: &'a str,
    pub agency_id: &'a str,
    pub redirect_uri: &'a str,
    pub redirect_uri_given: bool,
    pub code_challenge: &'a str,
    pub scope: &'a str,
    pub resource: &'a str,
    /// OpenID Connect: the request's `nonce`.
    pub nonce: Option<&'a str>,
    /// When the member signed in.
    pub auth_time: i64,
    /// RFC 9449 §10: the request's `dpop_jkt`.
    pub dpop_jkt: Option<&'a str>,
    /// How (space-separated RFC 8176 values, e.g. `pwd otp`).
    pub amr: &'a str,
}

/// Store a new code and return it (the only time it exists in clear).
pub async fn issue(db: &impl ConnectionTrait, c: NewCode<'_>, now: i64) -> Result<String, DbErr> {
    let code = random_token();
    Entity::insert(ActiveModel {
        code_hash: Set(sha256_hex(&code)),
        client_id: Set(c.client_id.to_string()),
        user_id: Set(c.user_id.to_string()),
        agency_id: Set(c.agency_id.to_string()),
        redirect_uri: Set(c.redirect_uri.to_string()),
        redirect_uri_given: Set(c.redirect_uri_given),
        code_challenge: Set(c.code_challenge.to_string()),
        scope: Set(c.scope.to_string()),
        resource: Set(c.resource.to_string()),
        created_at: Set(now),
        expires_at: Set(now + CODE_TTL_SECS),
        used_at: Set(None),
        access_jti: Set(None),
        access_exp: Set(None),
        nonce: Set(c.nonce.map(str::to_string)),
        auth_time: Set(Some(c.auth_time)),
        dpop_jkt: Set(c.dpop_jkt.map(str::to_string)),
        amr: Set(Some(c.amr.to_string())),
    })
    .exec_without_returning(db)
    .await?;
    Ok(code)
}

/// Delete codes long past their expiry.
pub async fn prune(db: &impl ConnectionTrait, now: i64) -> Result<u64, DbErr> {
    let expired = Column::ExpiresAt.lt(now - KEEP_AFTER_EXPIRY_SECS);
    crate::db::delete_in_batches::<Entity>(db, Column::CodeHash, expired.into_condition()).await
}
