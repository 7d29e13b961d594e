//! The `device_authorizations` table (RFC 8628): every state change is one
//! conditional UPDATE or DELETE whose affected-row count decides, so that
//! instances sharing the database agree (a member's answer lands once, the
//! polling interval is one per device code, the grant is redeemed once).

use entity::device_authorization::{ActiveModel, Column, Entity, Model};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::user_code;
use crate::crypto::{random_token, sha256_hex};

pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const DENIED: &str = "denied";

/// Seconds added to a device code's interval at each `slow_down`
/// (RFC 8628 §3.5).
pub const SLOW_DOWN_SECS: i64 = 5;

/// What a device asked for, checked as the authorization endpoint checks it.
pub struct NewDevice<'a> {
    pub client_id: &'a str,
    /// Permission scopes, space separated.
    pub scope: &'a str,
    pub offline: bool,
    pub resource: &'a str,
}

/// The codes of a new device authorization, the only time the device code
/// exists in clear.
pub struct Codes {
    pub device_code: String,
    /// Normalised.
    pub user_code: String,
}

/// Store a new pending device authorization. A user code already taken by
/// a live row is drawn again.
pub async fn create(
    db: &impl ConnectionTrait,
    d: &NewDevice<'_>,
    now: i64,
    ttl_secs: i64,
    interval_secs: i64,
) -> Result<Codes, DbErr> {
    let mut attempts = 0;
    loop {
        let device_code = random_token();
        let user_code = user_code::generate();
        let row = ActiveModel {
            device_code_hash: Set(sha256_hex(&device_code)),
            user_code: Set(user_code.clone()),
            client_id: Set(d.client_id.to_string()),
            scope: Set(d.scope.to_string()),
            offline: Set(d.offline),
            resource: Set(d.resource.to_string()),
            status: Set(PENDING.into()),
            user_id: Set(None),
            agency_id: Set(None),
            granted_scope: Set(None),
            interval_secs: Set(interval_secs),
            last_poll_at: Set(None),
            created_at: Set(now),
            expires_at: Set(now + ttl_secs),
            auth_time: Set(None),
            amr: Set(None),
        };
        match Entity::insert(row).exec_without_returning(db).await {
            Ok(_) => {
                return Ok(Codes {
                    device_code,
                    user_code,
                });
            }
            Err(e)
                if attempts < 3
                    && matches!(
                        e.sql_err(),
                        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                    ) =>
            {
                attempts += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The device authorization of `device_code_hash`, whatever its state.
pub async fn find(
    db: &impl ConnectionTrait,
    device_code_hash: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(device_code_hash.to_string())
        .one(db)
        .await
}

/// The pending, unexpired device authorization of a normalised user code.
pub async fn pending_by_user_code(
    db: &impl ConnectionTrait,
    user_code: &str,
    now: i64,
) -> Result<Option<Model>, DbErr> {
    Entity::find()
        .filter(Column::UserCode.eq(user_code))
        .filter(Column::Status.eq(PENDING))
        .filter(Column::ExpiresAt.gt(now))
        .one(db)
        .await
}

/// What the member granted.
pub struct Approval<'a> {
    pub user_id: &'a str,
    pub agency_id: &'a str,
    /// As an authorization code stores it (with `offline_access`).
    pub granted_scope: &'a str,
    /// The approving session's start and sign-in methods, for the
    /// id_token's `auth_time` and the tokens' `amr`.
    pub auth_time: i64,
    pub amr: &'a str,
}

/// Approve the pending authorization of `user_code`; false when it was
/// answered meanwhile or expired.
pub async fn approve(
    db: &impl ConnectionTrait,
    user_code: &str,
    a: &Approval<'_>,
    now: i64,
) -> Result<bool, DbErr> {
    let res = Entity::update_many()
        .col_expr(Column::Status, Expr::value(APPROVED))
        .col_expr(Column::UserId, Expr::value(a.user_id))
        .col_expr(Column::AgencyId, Expr::value(a.agency_id))
        .col_expr(Column::GrantedScope, Expr::value(a.granted_scope))
        .col_expr(Column::AuthTime, Expr::value(a.auth_time))
        .col_expr(Column::Amr, Expr::value(a.amr))
        .filter(Column::UserCode.eq(user_code))
        .filter(Column::Status.eq(PENDING))
        .filter(Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deny the pending authorization of `user_code`; false when it was
/// answered meanwhile or expired.
pub async fn deny(db: &impl ConnectionTrait, user_code: &str, now: i64) -> Result<bool, DbErr> {
    let res = Entity::update_many()
        .col_expr(Column::Status, Expr::value(DENIED))
        .filter(Column::UserCode.eq(user_code))
        .filter(Column::Status.eq(PENDING))
        .filter(Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Record a poll at `now` if it comes at least the device code's interval
/// after the previous one; false: too early (the caller slows it down).
pub async fn poll_on_time(
    db: &impl ConnectionTrait,
    device_code_hash: &str,
    now: i64,
) -> Result<bool, DbErr> {
    let res = Entity::update_many()
        .col_expr(Column::LastPollAt, Expr::value(now))
        .filter(Column::DeviceCodeHash.eq(device_code_hash))
        .filter(
            Condition::any().add(Column::LastPollAt.is_null()).add(
                Expr::col(Column::LastPollAt)
                    .add(Expr::col(Column::IntervalSecs))
                    .lte(now),
            ),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// A poll came too early: the interval grows by [`SLOW_DOWN_SECS`] for
/// this and every later poll, counted from now.
pub async fn slow_down(
    db: &impl ConnectionTrait,
    device_code_hash: &str,
    now: i64,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(
            Column::IntervalSecs,
            Expr::col(Column::IntervalSecs).add(SLOW_DOWN_SECS),
        )
        .col_expr(Column::LastPollAt, Expr::value(now))
        .filter(Column::DeviceCodeHash.eq(device_code_hash))
        .exec(db)
        .await
        .map(|_| ())
}

/// Consume an approved, unexpired authorization: only the caller whose
/// DELETE removed the row may issue tokens.
pub async fn consume(
    db: &impl ConnectionTrait,
    device_code_hash: &str,
    now: i64,
) -> Result<bool, DbErr> {
    let res = Entity::delete_many()
        .filter(Column::DeviceCodeHash.eq(device_code_hash))
        .filter(Column::Status.eq(APPROVED))
        .filter(Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Expired authorizations are kept this long, so that a late poll still
/// gets `expired_token` rather than `invalid_grant`.
const KEEP_AFTER_EXPIRY_SECS: i64 = 3600;

/// Delete device authorizations long past their expiry, in batches.
pub async fn prune(db: &impl ConnectionTrait, now: i64) -> Result<u64, DbErr> {
    let expired = sea_orm::Condition::all().add(Column::ExpiresAt.lt(now - KEEP_AFTER_EXPIRY_SECS));
    crate::db::delete_in_batches::<Entity>(db, Column::DeviceCodeHash, expired).await
}
