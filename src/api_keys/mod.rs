//! API keys: a member's long-lived credential (`Authorization: Bearer
//! sked_live_...`). Power is always the key's scopes ∩ the member's role
//! *now*: a demotion shrinks it, a removal ends it, at the next check.
//!
//! Only `owner` and `manager` create (and rotate) keys, within their own
//! role. Expiry is mandatory (1–365 days). Rotation gives the same record a
//! new secret; the old one keeps working for a grace period (0–7 days).
//! Every create, rotate and revoke writes an audit event (actor, agency,
//! key id; never the secret) in the same transaction, and is logged.

pub mod format;

use entity::api_key::{ActiveModel, Column, Entity, Model};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use crate::accounts;
use crate::audit::{self, At, Event};
use crate::crypto::sha256_hex;
use crate::scopes::{self, Role};

pub const MAX_EXPIRY_DAYS: i64 = 365;
pub const MAX_GRACE_DAYS: i64 = 7;
const DAY: i64 = 86_400;
/// `last_used_at` is written at most this often per key.
const TOUCH_EVERY_SECS: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error("only owners and managers can create API keys (your role is {0})")]
    RoleCannotCreate(&'static str),
    #[error("the scope {0} is not within your role ({1})")]
    ScopeNotInRole(String, &'static str),
    #[error("unknown scope {0:?}")]
    UnknownScope(String),
    #[error("choose at least one scope")]
    NoScopes,
    #[error("expiry must be between 1 and {MAX_EXPIRY_DAYS} days (got {0})")]
    BadExpiry(i64),
    #[error("the grace period must be between 0 and {MAX_GRACE_DAYS} days (got {0})")]
    BadGrace(i64),
    #[error("the name must be 1 to 100 characters")]
    BadName,
    #[error("no API key with id {0}")]
    NotFound(String),
    #[error("the API key {0} is revoked or expired")]
    Inactive(String),
    #[error("not a member of that agency")]
    NotAMember,
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// Pure: what a member with `role` may create. Returns the scopes in the
/// contract's order, deduplicated.
pub fn check_new(
    role: Role,
    scope_list: &[&str],
    days: i64,
    name: &str,
) -> Result<Vec<String>, ApiKeyError> {
    if !matches!(role, Role::Owner | Role::Manager) {
        return Err(ApiKeyError::RoleCannotCreate(role.as_str()));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiKeyError::BadName);
    }
    if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
        return Err(ApiKeyError::BadExpiry(days));
    }
    for s in scope_list {
        if !scopes::SCOPES.iter().any(|(n, _)| n == s) {
            return Err(ApiKeyError::UnknownScope(s.to_string()));
        }
        if !role.allows(s) {
            return Err(ApiKeyError::ScopeNotInRole(s.to_string(), role.as_str()));
        }
    }
    let ordered: Vec<String> = scopes::SCOPES
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| scope_list.contains(n))
        .map(str::to_string)
        .collect();
    if ordered.is_empty() {
        return Err(ApiKeyError::NoScopes);
    }
    Ok(ordered)
}

/// Pure: a key's scopes ∩ the role's, in the key's order.
pub fn effective_scopes(key_scope: &str, role: Role) -> Vec<String> {
    // Stored by this server; unreadable grants nothing (fails closed).
    crate::scopes::split(key_scope)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| role.allows(s))
        .map(str::to_string)
        .collect()
}

/// A key and its secret, which exists in clear only in this value.
pub struct Issued {
    pub key: Model,
    pub secret: String,
}

/// Create a key for `user_id` in `agency_id`, checked against their role now.
pub async fn create(
    db: &sea_orm::DatabaseConnection,
    user_id: &str,
    agency_id: &str,
    name: &str,
    scope_list: &[&str],
    days: i64,
    at: impl Into<At>,
) -> Result<Issued, ApiKeyError> {
    let at = at.into();
    let now = at.ts;
    let role = accounts::role_in(db, user_id, agency_id)
        .await?
        .ok_or(ApiKeyError::NotAMember)?;
    let granted = check_new(role, scope_list, days, name)?;
    let secret = format::generate();
    let key = Model {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.to_string(),
        agency_id: agency_id.to_string(),
        name: name.trim().to_string(),
        prefix: format::display_prefix(&secret),
        secret_hash: sha256_hex(&secret),
        previous_secret_hash: None,
        previous_valid_until: None,
        scope: granted.join(" "),
        created_at: now,
        expires_at: now + days * DAY,
        last_used_at: None,
        revoked_at: None,
    };
    let txn = db.begin().await?;
    Entity::insert(ActiveModel {
        id: Set(key.id.clone()),
        user_id: Set(key.user_id.clone()),
        agency_id: Set(key.agency_id.clone()),
        name: Set(key.name.clone()),
        prefix: Set(key.prefix.clone()),
        secret_hash: Set(key.secret_hash.clone()),
        previous_secret_hash: Set(None),
        previous_valid_until: Set(None),
        scope: Set(key.scope.clone()),
        created_at: Set(now),
        expires_at: Set(key.expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
    })
    .exec_without_returning(&txn)
    .await?;
    audit::record(
        &txn,
        at,
        Event::ApiKeyCreated {
            actor: user_id,
            agency_id,
            key_id: &key.id,
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(target: "audit", action = "api_key.create", actor = %user_id, key_id = %key.id, prefix = %key.prefix, agency_id = %agency_id, scope = %key.scope, "API key created");
    Ok(Issued { key, secret })
}

pub async fn find(db: &impl ConnectionTrait, id: &str) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(id.to_string()).one(db).await
}

/// A member's keys in one agency, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: &str,
    agency_id: &str,
) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::AgencyId.eq(agency_id))
        .order_by_desc(Column::CreatedAt)
        .all(db)
        .await
}

/// Give a key a new secret. The old secret works for `grace_days` more
/// days (0: stops now). The actor must still be owner or manager.
pub async fn rotate(
    db: &sea_orm::DatabaseConnection,
    key: &Model,
    actor: &str,
    grace_days: i64,
    at: impl Into<At>,
) -> Result<Issued, ApiKeyError> {
    let at = at.into();
    let now = at.ts;
    if !(0..=MAX_GRACE_DAYS).contains(&grace_days) {
        return Err(ApiKeyError::BadGrace(grace_days));
    }
    if key.revoked_at.is_some() || key.expires_at <= now {
        return Err(ApiKeyError::Inactive(key.id.clone()));
    }
    let role = accounts::role_in(db, &key.user_id, &key.agency_id)
        .await?
        .ok_or(ApiKeyError::NotAMember)?;
    if !matches!(role, Role::Owner | Role::Manager) {
        return Err(ApiKeyError::RoleCannotCreate(role.as_str()));
    }
    let secret = format::generate();
    let prefix = format::display_prefix(&secret);
    let hash = sha256_hex(&secret);
    let until = (grace_days > 0).then_some(now + grace_days * DAY);
    // Conditional on the secret we read: two concurrent rotations cannot
    // both succeed (the loser would orphan a secret it has shown).
    let txn = db.begin().await?;
    let res = Entity::update_many()
        .col_expr(Column::SecretHash, Expr::value(hash.clone()))
        .col_expr(Column::Prefix, Expr::value(prefix.clone()))
        .col_expr(
            Column::PreviousSecretHash,
            Expr::value(until.map(|_| key.secret_hash.clone())),
        )
        .col_expr(Column::PreviousValidUntil, Expr::value(until))
        .filter(Column::Id.eq(&key.id))
        .filter(Column::SecretHash.eq(&key.secret_hash))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(ApiKeyError::Inactive(key.id.clone()));
    }
    audit::record(
        &txn,
        at,
        Event::ApiKeyRotated {
            actor,
            agency_id: &key.agency_id,
            key_id: &key.id,
        },
    )
    .await?;
    txn.commit().await?;
    tracing::info!(target: "audit", action = "api_key.rotate", actor = %actor, key_id = %key.id, prefix = %prefix, old_prefix = %key.prefix, grace_days, "API key rotated");
    let mut key = key.clone();
    key.previous_secret_hash = until.map(|_| key.secret_hash.clone());
    key.previous_valid_until = until;
    key.secret_hash = hash;
    key.prefix = prefix;
    Ok(Issued { key, secret })
}

/// Revoke at once (idempotent; only the revocation that took effect is
/// audited).
pub async fn revoke(
    db: &sea_orm::DatabaseConnection,
    id: &str,
    actor: &str,
    at: impl Into<At>,
) -> Result<Model, ApiKeyError> {
    let at = at.into();
    let key = find(db, id)
        .await?
        .ok_or_else(|| ApiKeyError::NotFound(id.to_string()))?;
    let txn = db.begin().await?;
    let res = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(at.ts))
        .filter(Column::Id.eq(id))
        .filter(Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if res.rows_affected == 1 {
        audit::record(
            &txn,
            at,
            Event::ApiKeyRevoked {
                actor,
                agency_id: &key.agency_id,
                key_id: &key.id,
            },
        )
        .await?;
    }
    txn.commit().await?;
    tracing::info!(target: "audit", action = "api_key.revoke", actor = %actor, key_id = %key.id, prefix = %key.prefix, "API key revoked");
    Ok(key)
}

/// What an API key may do now.
#[derive(Debug, Clone)]
pub struct Effective {
    pub key_id: String,
    pub user_id: String,
    pub agency_id: String,
    pub role: Role,
    pub scopes: Vec<String>,
    pub expires_at: i64,
}

/// Check a presented key: format and checksum first (no query for a typo),
/// then the record, its expiry and revocation, and the member's role now.
pub async fn check(
    db: &impl ConnectionTrait,
    presented: &str,
    now: i64,
) -> Result<Option<Effective>, DbErr> {
    if !format::is_well_formed(presented) {
        return Ok(None);
    }
    let hash = sha256_hex(presented);
    // `by_key`: a hash is one key's (current, or previous within its window).
    let key = crate::db_key::by_key(
        Entity::find().filter(
            Condition::any()
                .add(Column::SecretHash.eq(hash.clone()))
                .add(
                    Condition::all()
                        .add(Column::PreviousSecretHash.eq(hash))
                        .add(Column::PreviousValidUntil.gt(now)),
                ),
        ),
        db,
    )
    .await?;
    let Some(key) = key else { return Ok(None) };
    if key.revoked_at.is_some() || key.expires_at <= now {
        return Ok(None);
    }
    let Some(role) = accounts::role_in(db, &key.user_id, &key.agency_id).await? else {
        return Ok(None);
    };
    let scopes = effective_scopes(&key.scope, role);
    if key.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_SECS) {
        Entity::update_many()
            .col_expr(Column::LastUsedAt, Expr::value(now))
            .filter(Column::Id.eq(&key.id))
            .filter(
                Condition::any()
                    .add(Column::LastUsedAt.is_null())
                    .add(Column::LastUsedAt.lte(now - TOUCH_EVERY_SECS)),
            )
            .exec(db)
            .await?;
    }
    Ok(Some(Effective {
        key_id: key.id,
        user_id: key.user_id,
        agency_id: key.agency_id,
        role,
        scopes,
        expires_at: key.expires_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_rules() {
        assert!(matches!(
            check_new(Role::Editor, &["agency:read"], 30, "x"),
            Err(ApiKeyError::RoleCannotCreate("editor"))
        ));
        assert!(
            matches!(check_new(Role::Manager, &["billing:write"], 30, "x"), Err(ApiKeyError::ScopeNotInRole(s, "manager")) if s == "billing:write")
        );
        assert!(matches!(
            check_new(Role::Owner, &["nope"], 30, "x"),
            Err(ApiKeyError::UnknownScope(_))
        ));
        assert!(matches!(
            check_new(Role::Owner, &[], 30, "x"),
            Err(ApiKeyError::NoScopes)
        ));
        assert!(matches!(
            check_new(Role::Owner, &["agency:read"], 366, "x"),
            Err(ApiKeyError::BadExpiry(366))
        ));
        assert!(matches!(
            check_new(Role::Owner, &["agency:read"], 0, "x"),
            Err(ApiKeyError::BadExpiry(0))
        ));
        assert!(matches!(
            check_new(Role::Owner, &["agency:read"], 30, " "),
            Err(ApiKeyError::BadName)
        ));
        assert_eq!(
            check_new(
                Role::Owner,
                &["posts:read", "agency:read", "posts:read"],
                365,
                "ci"
            )
            .unwrap(),
            vec!["agency:read", "posts:read"]
        );
    }

    #[test]
    fn effective_scopes_shrink_with_the_role() {
        let s = "agency:read members:write posts:write";
        assert_eq!(
            effective_scopes(s, Role::Owner),
            vec!["agency:read", "members:write", "posts:write"]
        );
        assert_eq!(
            effective_scopes(s, Role::Editor),
            vec!["agency:read", "posts:write"]
        );
        assert_eq!(effective_scopes(s, Role::Viewer), vec!["agency:read"]);
    }
}
