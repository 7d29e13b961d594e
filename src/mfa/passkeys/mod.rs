//! Passkeys (issue 17 item 2): a member's WebAuthn credentials, added, named,
//! listed and removed on `/settings/security`, signing in alone
//! (discoverable credentials, `amr` `hwk user`) or as the second step after
//! the password (`pwd hwk`). A passkey is a second factor for an agency's
//! MFA policy.
//!
//! Invariants:
//! - A credential id belongs to one member (unique index): a discoverable
//!   sign-in finds the member from it, and checks the user handle the
//!   authenticator returned against that member's.
//! - Adding and removing write their audit rows in the same transaction.
//! - The stored `Passkey` is public material (public key, signature
//!   counter, flags); its counter is updated after each use so a cloned
//!   authenticator shows (webauthn-rs refuses a counter that goes back).
//! - Ceremonies live in the database ([`ceremony`]), single use.

pub mod ceremony;
pub mod relying_party;

use entity::passkey::{ActiveModel, Column, Entity, Model};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};
use webauthn_rs::prelude::{AuthenticationResult, Passkey};

use crate::audit::{self, At, Event};
use crate::crypto::b64url;

/// RFC 8176 `amr` of a sign-in with a passkey alone: hardware-bound key
/// plus the authenticator's user verification.
pub const AMR_PASSKEY: &str = "hwk user";
/// RFC 8176 `amr` of a password and then a passkey.
pub const AMR_PASSWORD_PASSKEY: &str = "pwd hwk";

/// Passkeys one member may hold (each is a row and a credential id to
/// exclude at the next registration).
pub const MAX_PER_MEMBER: u64 = 20;

/// The longest name a member may give a passkey, in characters.
pub const NAME_MAX_CHARS: usize = 64;

/// The name used when the member gives none.
pub const DEFAULT_NAME: &str = "Passkey";

/// A member's name for a passkey: trimmed, inner whitespace collapsed,
/// [`DEFAULT_NAME`] when empty. Pure.
pub fn normalize_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.chars().any(char::is_control) {
        return Err("A passkey's name cannot contain control characters.");
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err("A passkey's name is at most 64 characters.");
    }
    Ok(if name.is_empty() {
        DEFAULT_NAME.to_string()
    } else {
        name
    })
}

/// How a credential id is stored and looked up: unpadded base64url. Pure.
pub fn credential_key(credential_id: &[u8]) -> String {
    b64url(credential_id)
}

fn parse(row: &Model) -> Result<Passkey, DbErr> {
    serde_json::from_str(&row.passkey)
        .map_err(|e| DbErr::Custom(format!("stored passkey {} does not parse: {e}", row.id)))
}

fn serialise(passkey: &Passkey) -> Result<String, DbErr> {
    serde_json::to_string(passkey).map_err(|e| DbErr::Custom(format!("serialising a passkey: {e}")))
}

/// A member's passkeys, oldest first.
pub async fn list(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// A member's passkeys as webauthn-rs takes them.
pub async fn credentials(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<Passkey>, DbErr> {
    list(db, user_id).await?.iter().map(parse).collect()
}

/// Whether the member has a passkey (a second factor).
pub async fn any(db: &impl ConnectionTrait, user_id: &str) -> Result<bool, DbErr> {
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .count(db)
        .await?
        > 0)
}

/// The passkey with this credential id, and its parsed form.
pub async fn find_by_credential(
    db: &impl ConnectionTrait,
    credential_id: &[u8],
) -> Result<Option<(Model, Passkey)>, DbErr> {
    let Some(row) = Entity::find()
        .filter(Column::CredentialId.eq(credential_key(credential_id)))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let passkey = parse(&row)?;
    Ok(Some((row, passkey)))
}

/// What adding a passkey did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// Stored under this id.
    Yes { id: String },
    /// The credential id is already registered (to this or another member).
    AlreadyRegistered,
    /// The member holds [`MAX_PER_MEMBER`] already.
    TooMany,
}

/// Store `passkey` for `user_id` under `name`, with its audit rows, in one
/// transaction.
pub async fn add(
    db: &DatabaseConnection,
    at: At,
    user_id: &str,
    name: &str,
    passkey: &Passkey,
) -> Result<Added, DbErr> {
    let credential_id = credential_key(passkey.cred_id());
    let txn = db.begin().await?;
    let held = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .count(&txn)
        .await?;
    if held >= MAX_PER_MEMBER {
        return Ok(Added::TooMany);
    }
    if Entity::find()
        .filter(Column::CredentialId.eq(credential_id.clone()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Ok(Added::AlreadyRegistered);
    }
    let id = uuid::Uuid::new_v4().to_string();
    let inserted = Entity::insert(ActiveModel {
        id: Set(id.clone()),
        user_id: Set(user_id.to_string()),
        credential_id: Set(credential_id),
        name: Set(name.to_string()),
        passkey: Set(serialise(passkey)?),
        created_at: Set(at.ts),
        last_used_at: Set(None),
    })
    .exec_without_returning(&txn)
    .await;
    // Two registrations of one credential at once: the unique index decides.
    if let Err(e) = inserted {
        return match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Ok(Added::AlreadyRegistered),
            _ => Err(e),
        };
    }
    let event = Event::PasskeyAdded {
        actor: user_id,
        user_id,
        passkey_id: &id,
    };
    audit::record_for_member(&txn, at, user_id, event).await?;
    txn.commit().await?;
    Ok(Added::Yes { id })
}

/// Rename the member's passkey `id`; `false` when they have none such.
pub async fn rename(
    db: &impl ConnectionTrait,
    user_id: &str,
    id: &str,
    name: &str,
) -> Result<bool, DbErr> {
    Ok(Entity::update_many()
        .col_expr(Column::Name, Expr::value(name))
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await?
        .rows_affected
        == 1)
}

/// Delete `rows` of `user_id` and write a `passkey.removed` row for each
/// one actually deleted, by `actor`. Returns how many went.
async fn delete_recorded(
    txn: &impl ConnectionTrait,
    at: At,
    actor: &str,
    user_id: &str,
    rows: &[Model],
) -> Result<u64, DbErr> {
    let mut removed = 0;
    for row in rows {
        let gone = Entity::delete_many()
            .filter(Column::Id.eq(row.id.clone()))
            .filter(Column::UserId.eq(user_id))
            .exec(txn)
            .await?
            .rows_affected;
        if gone == 0 {
            continue;
        }
        removed += gone;
        let event = Event::PasskeyRemoved {
            actor,
            user_id,
            passkey_id: &row.id,
        };
        audit::record_for_member(txn, at, user_id, event).await?;
    }
    Ok(removed)
}

/// Remove the member's passkey `id` (the member acting); `false` when they
/// have none such.
pub async fn remove(
    db: &DatabaseConnection,
    at: At,
    user_id: &str,
    id: &str,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let rows = Entity::find()
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .all(&txn)
        .await?;
    let removed = delete_recorded(&txn, at, user_id, user_id, &rows).await?;
    txn.commit().await?;
    Ok(removed == 1)
}

/// Remove every passkey of the member and their open ceremonies, by
/// `actor` (`user reset-mfa`: `cli`). Returns how many passkeys went.
pub async fn remove_all(
    db: &DatabaseConnection,
    at: At,
    actor: &str,
    user_id: &str,
) -> Result<u64, DbErr> {
    let txn = db.begin().await?;
    let rows = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .all(&txn)
        .await?;
    let removed = delete_recorded(&txn, at, actor, user_id, &rows).await?;
    ceremony::forget_user(&txn, user_id).await?;
    txn.commit().await?;
    Ok(removed)
}

/// A successful authentication with `row`: its use time, and the passkey's
/// new counter and flags when webauthn-rs says they changed.
pub async fn record_use(
    db: &impl ConnectionTrait,
    row: &Model,
    mut passkey: Passkey,
    result: &AuthenticationResult,
    now: i64,
) -> Result<(), DbErr> {
    let mut update = Entity::update_many()
        .col_expr(Column::LastUsedAt, Expr::value(now))
        .filter(Column::Id.eq(row.id.clone()));
    if passkey.update_credential(result) == Some(true) {
        update = update.col_expr(Column::Passkey, Expr::value(serialise(&passkey)?));
    }
    update.exec(db).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_tidied_bounded_and_defaulted() {
        assert_eq!(normalize_name("  My   laptop "), Ok("My laptop".into()));
        assert_eq!(normalize_name(""), Ok(DEFAULT_NAME.into()));
        assert_eq!(normalize_name("   "), Ok(DEFAULT_NAME.into()));
        assert_eq!(normalize_name("Téléphone 📱"), Ok("Téléphone 📱".into()));
        assert_eq!(
            normalize_name(&"é".repeat(64)).map(|n| n.chars().count()),
            Ok(64)
        );
        assert!(normalize_name(&"a".repeat(65)).is_err());
        assert!(normalize_name("a\u{0}b").is_err());
        assert!(normalize_name("a\u{7f}b").is_err());
        // Tabs and newlines are whitespace: collapsed, not refused.
        assert_eq!(normalize_name("a\tb\nc"), Ok("a b c".into()));
    }

    #[test]
    fn credential_ids_are_unpadded_base64url() {
        assert_eq!(credential_key(&[0xfb, 0xff, 0x01]), "-_8B");
    }
}
