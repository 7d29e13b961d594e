//! WebAuthn ceremonies between their two requests: the options went to the
//! browser, the authenticator's answer is awaited. The state (the
//! challenge) is kept in the database under the SHA-256 of a random 256-bit
//! id the browser sends back, so any instance can finish a ceremony another
//! started. A ceremony is used once: [`take`] deletes it with a conditional
//! DELETE and only the request that deleted it gets the state (a replayed
//! answer finds nothing); it lasts [`TTL_SECS`].

use entity::webauthn_ceremony::{ActiveModel, Column, Entity};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::IntoCondition;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, QueryFilter};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crypto::{random_token, sha256_hex};

/// Time to find the authenticator and touch it (WebAuthn's recommended
/// timeout for user verification is 300 s).
pub const TTL_SECS: i64 = 300;

/// What a ceremony is for: an answer made for one cannot finish another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A signed-in member adds a passkey.
    Register,
    /// A passkey alone signs in (discoverable credential).
    SignIn,
    /// A passkey as the second step after the password.
    SecondFactor,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "sign_in",
            Purpose::SecondFactor => "second_factor",
        }
    }
}

/// A finished ceremony's member (None for a discoverable sign-in) and state.
pub struct Taken<S> {
    pub user_id: Option<String>,
    pub state: S,
}

/// Keep `state` for `purpose`; returns the id to hand to the browser.
pub async fn begin<S: Serialize>(
    db: &impl ConnectionTrait,
    purpose: Purpose,
    user_id: Option<&str>,
    state: &S,
    now: i64,
) -> Result<String, DbErr> {
    let json = serde_json::to_string(state)
        .map_err(|e| DbErr::Custom(format!("serialising a WebAuthn ceremony: {e}")))?;
    let raw = random_token();
    Entity::insert(ActiveModel {
        id_hash: Set(sha256_hex(&raw)),
        purpose: Set(purpose.as_str().to_string()),
        user_id: Set(user_id.map(str::to_string)),
        state: Set(json),
        created_at: Set(now),
        expires_at: Set(now + TTL_SECS),
    })
    .exec_without_returning(db)
    .await?;
    Ok(raw)
}

/// The live ceremony `raw` for `purpose`, deleted as it is read: `None`
/// when unknown, expired, for another purpose, or already taken.
pub async fn take<S: DeserializeOwned>(
    db: &impl ConnectionTrait,
    raw: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<Taken<S>>, DbErr> {
    if raw.len() != 43 {
        return Ok(None);
    }
    let id_hash = sha256_hex(raw);
    let live = || {
        Column::IdHash
            .eq(id_hash.clone())
            .and(Column::Purpose.eq(purpose.as_str()))
            .and(Column::ExpiresAt.gt(now))
    };
    let Some(row) = Entity::find().filter(live()).one(db).await? else {
        return Ok(None);
    };
    // Of two requests finishing the same ceremony, one deletes the row.
    let won = Entity::delete_many()
        .filter(live())
        .exec(db)
        .await?
        .rows_affected
        == 1;
    if !won {
        return Ok(None);
    }
    let state = serde_json::from_str(&row.state)
        .map_err(|e| DbErr::Custom(format!("a stored WebAuthn ceremony does not parse: {e}")))?;
    Ok(Some(Taken {
        user_id: row.user_id,
        state,
    }))
}

/// Forget a member's open ceremonies (`user reset-mfa`).
pub async fn forget_user(db: &impl ConnectionTrait, user_id: &str) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Delete expired ceremonies (housekeeping).
pub async fn prune(db: &impl ConnectionTrait, now: i64) -> Result<u64, DbErr> {
    let expired = Column::ExpiresAt.lte(now);
    crate::db::delete_in_batches::<Entity>(db, Column::IdHash, expired.into_condition()).await
}
