//! Second factors (issue 17 items 1 to 3): a member's TOTP secret and
//! recovery codes, passkeys ([`passkeys`]), the half-signed-in step between
//! password and second factor ([`challenge`]), and the agencies' MFA policy
//! ([`policy`]).
//!
//! Single use is decided by the database: a TOTP code is accepted by a
//! conditional UPDATE that moves `last_used_step` forward (a code of that
//! step or an earlier one then matches no row), a recovery code by a
//! conditional DELETE; the affected-row count decides.

pub mod challenge;
pub mod passkeys;
pub mod policy;
pub mod recovery;
pub mod totp;

use entity::{recovery_code, user_totp};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, TransactionTrait,
};

use crate::keys::seal;

/// RFC 8176 `amr` of a password-only sign-in, as sessions store it.
pub const AMR_PASSWORD: &str = "pwd";
/// RFC 8176 `amr` of a password plus a one-time code (TOTP or recovery).
pub const AMR_PASSWORD_OTP: &str = "pwd otp";

/// Where a member's TOTP stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Off,
    /// Enrolment started: the secret to show until a first code confirms it.
    Pending {
        secret: String,
    },
    /// A second factor, with how many recovery codes are left.
    On {
        recovery_codes_left: u64,
    },
}

/// Which factor a code was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Totp,
    RecoveryCode,
}

fn what(user_id: &str) -> String {
    format!("the TOTP secret of user {user_id}")
}

/// A secret that cannot be unsealed is a server misconfiguration (the
/// wrong `keys.encryption_key`): an error, never a wrong-code answer.
fn unseal(row: &user_totp::Model, kek: Option<&[u8; 32]>) -> Result<String, DbErr> {
    seal::unseal(&row.secret, kek, &what(&row.user_id)).map_err(|e| DbErr::Custom(e.to_string()))
}

pub async fn status(
    db: &impl ConnectionTrait,
    kek: Option<&[u8; 32]>,
    user_id: &str,
) -> Result<Status, DbErr> {
    let Some(row) = user_totp::Entity::find_by_id(user_id.to_string())
        .one(db)
        .await?
    else {
        return Ok(Status::Off);
    };
    if row.confirmed_at.is_none() {
        return Ok(Status::Pending {
            secret: unseal(&row, kek)?,
        });
    }
    let left = recovery_code::Entity::find()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .count(db)
        .await?;
    Ok(Status::On {
        recovery_codes_left: left,
    })
}

/// Whether the member has a second factor: a confirmed TOTP or a passkey.
pub async fn has_second_factor(db: &impl ConnectionTrait, user_id: &str) -> Result<bool, DbErr> {
    Ok(has_totp(db, user_id).await? || passkeys::any(db, user_id).await?)
}

/// Whether the member's TOTP is on (confirmed).
pub async fn has_totp(db: &impl ConnectionTrait, user_id: &str) -> Result<bool, DbErr> {
    Ok(user_totp::Entity::find_by_id(user_id.to_string())
        .filter(user_totp::Column::ConfirmedAt.is_not_null())
        .one(db)
        .await?
        .is_some())
}

/// Start (or restart) enrolment with a new secret; `None` when TOTP is
/// already on (remove it first).
pub async fn start_enrolment(
    db: &impl ConnectionTrait,
    kek: Option<&[u8; 32]>,
    user_id: &str,
    now: i64,
) -> Result<Option<String>, DbErr> {
    user_totp::Entity::delete_many()
        .filter(user_totp::Column::UserId.eq(user_id))
        .filter(user_totp::Column::ConfirmedAt.is_null())
        .exec(db)
        .await?;
    if has_totp(db, user_id).await? {
        return Ok(None);
    }
    let secret = totp::new_secret();
    let sealed = seal::seal(&secret, kek).map_err(|e| DbErr::Custom(e.to_string()))?;
    user_totp::Entity::insert(user_totp::ActiveModel {
        user_id: Set(user_id.to_string()),
        secret: Set(sealed),
        created_at: Set(now),
        confirmed_at: Set(None),
        last_used_step: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(Some(secret))
}

/// Confirm enrolment with a first code: TOTP on, its step used, and ten new
/// recovery codes (returned: the only time they exist in clear). `None`
/// when there is no pending secret or the code does not match.
pub async fn confirm_enrolment(
    db: &DatabaseConnection,
    kek: Option<&[u8; 32]>,
    user_id: &str,
    code: &str,
    now: i64,
) -> Result<Option<Vec<String>>, DbErr> {
    let Some(row) = user_totp::Entity::find_by_id(user_id.to_string())
        .filter(user_totp::Column::ConfirmedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(step) = totp::matching_step(&unseal(&row, kek)?, code, now) else {
        return Ok(None);
    };
    let txn = db.begin().await?;
    let won = user_totp::Entity::update_many()
        .col_expr(user_totp::Column::ConfirmedAt, Expr::value(now))
        .col_expr(user_totp::Column::LastUsedStep, Expr::value(step))
        .filter(user_totp::Column::UserId.eq(user_id))
        .filter(user_totp::Column::ConfirmedAt.is_null())
        // The secret shown on this page, not one restarted meanwhile.
        .filter(user_totp::Column::Secret.eq(row.secret.clone()))
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    if !won {
        return Ok(None);
    }
    let codes = replace_recovery_codes(&txn, user_id, now).await?;
    txn.commit().await?;
    Ok(Some(codes))
}

async fn replace_recovery_codes(
    txn: &impl ConnectionTrait,
    user_id: &str,
    now: i64,
) -> Result<Vec<String>, DbErr> {
    recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(txn)
        .await?;
    let codes = recovery::generate();
    let rows = codes.iter().map(|c| recovery_code::ActiveModel {
        code_hash: Set(recovery::hash(
            user_id,
            &recovery::normalize(c).unwrap_or_default(),
        )),
        user_id: Set(user_id.to_string()),
        created_at: Set(now),
    });
    recovery_code::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(codes)
}

/// Check a second-factor code: six digits are a TOTP code (its step must be
/// later than the last one used), anything else a recovery code (deleted).
/// `None`: wrong, reused, or no second factor.
pub async fn verify(
    db: &impl ConnectionTrait,
    kek: Option<&[u8; 32]>,
    user_id: &str,
    typed: &str,
    now: i64,
) -> Result<Option<Factor>, DbErr> {
    let typed = typed.trim();
    if typed.len() == 6 && typed.bytes().all(|b| b.is_ascii_digit()) {
        let Some(row) = user_totp::Entity::find_by_id(user_id.to_string())
            .filter(user_totp::Column::ConfirmedAt.is_not_null())
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let Some(step) = totp::matching_step(&unseal(&row, kek)?, typed, now) else {
            return Ok(None);
        };
        let won = user_totp::Entity::update_many()
            .col_expr(user_totp::Column::LastUsedStep, Expr::value(step))
            .filter(user_totp::Column::UserId.eq(user_id))
            .filter(user_totp::Column::ConfirmedAt.is_not_null())
            .filter(
                Condition::any()
                    .add(user_totp::Column::LastUsedStep.is_null())
                    .add(user_totp::Column::LastUsedStep.lt(step)),
            )
            .exec(db)
            .await?
            .rows_affected
            == 1;
        return Ok(won.then_some(Factor::Totp));
    }
    let Some(normalized) = recovery::normalize(typed) else {
        return Ok(None);
    };
    let used = recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::CodeHash.eq(recovery::hash(user_id, &normalized)))
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(db)
        .await?
        .rows_affected
        == 1;
    Ok(used.then_some(Factor::RecoveryCode))
}

/// Remove the member's TOTP, recovery codes and pending second steps
/// (`user reset-mfa`, and the member's own "turn off"). Returns whether
/// there was anything.
pub async fn reset(db: &DatabaseConnection, user_id: &str) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let totp = user_totp::Entity::delete_many()
        .filter(user_totp::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?
        .rows_affected;
    let codes = recovery_code::Entity::delete_many()
        .filter(recovery_code::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?
        .rows_affected;
    challenge::forget_user(&txn, user_id).await?;
    txn.commit().await?;
    Ok(totp + codes > 0)
}
