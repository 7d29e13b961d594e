//! Agencies, users and memberships. Roles and their scopes live in
//! [`crate::scopes`]; passwords in [`password`].

mod hash_memory;
pub mod password;

use entity::{agency, membership, user};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, SqlErr,
    TransactionTrait,
};

use crate::scopes::Role;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("unknown agency: {0}")]
    UnknownAgency(String),
    #[error("the agency name {0:?} is already taken")]
    DuplicateAgency(String),
    #[error("an account with the email {0} already exists")]
    DuplicateEmail(String),
    #[error("no account has the email {0}")]
    UnknownUser(String),
    #[error("{0} is not a member of agency {1}")]
    NotAMember(String, String),
    #[error("unknown role {0:?} (expected owner, manager, editor or viewer)")]
    BadRole(String),
    #[error("invalid email address {0:?}")]
    BadEmail(String),
    #[error("invalid display name: {0}")]
    InvalidName(String),
    #[error("invalid agency name: {0}")]
    BadName(String),
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// Trimmed and lower-cased, so that uniqueness is case-insensitive. A light
/// shape check: one `@`, something on each side, no spaces, ≤ 254 bytes.
pub fn normalize_email(raw: &str) -> Result<String, AccountError> {
    let e = raw.trim().to_lowercase();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(e.split_once('@'), Some((l, d)) if !l.is_empty() && !d.is_empty() && !d.contains('@'));
    if ok {
        Ok(e)
    } else {
        Err(AccountError::BadEmail(raw.trim().to_string()))
    }
}

pub fn parse_role(s: &str) -> Result<Role, AccountError> {
    Role::parse(s.trim()).ok_or_else(|| AccountError::BadRole(s.trim().to_string()))
}

fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

pub async fn create_agency(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<agency::Model, AccountError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AccountError::BadName("1 to 200 characters".into()));
    }
    if find_agency(db, name).await?.is_some() {
        return Err(AccountError::DuplicateAgency(name.into()));
    }
    let model = agency::Model {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        created_at: crate::clock::now(),
        require_mfa: false,
    };
    agency::Entity::insert(agency::ActiveModel {
        id: Set(model.id.clone()),
        name: Set(model.name.clone()),
        created_at: Set(model.created_at),
        require_mfa: Set(false),
    })
    .exec_without_returning(db)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            AccountError::DuplicateAgency(name.into())
        } else {
            e.into()
        }
    })?;
    Ok(model)
}

/// By id, or by its unique name.
pub async fn find_agency(
    db: &impl ConnectionTrait,
    id_or_name: &str,
) -> Result<Option<agency::Model>, DbErr> {
    let key = id_or_name.trim();
    if let Some(a) = agency::Entity::find_by_id(key.to_string()).one(db).await? {
        return Ok(Some(a));
    }
    agency::Entity::find()
        .filter(agency::Column::Name.eq(key))
        .one(db)
        .await
}

async fn require_agency(
    db: &impl ConnectionTrait,
    id_or_name: &str,
) -> Result<agency::Model, AccountError> {
    find_agency(db, id_or_name)
        .await?
        .ok_or_else(|| AccountError::UnknownAgency(id_or_name.trim().into()))
}

pub async fn find_user_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<user::Model>, DbErr> {
    let Ok(email) = normalize_email(email) else {
        return Ok(None);
    };
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await
}

pub async fn find_user(db: &impl ConnectionTrait, id: &str) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id.to_string()).one(db).await
}

/// A user and their first membership, in one transaction.
pub async fn create_user(
    db: &sea_orm::DatabaseConnection,
    email: &str,
    agency: &str,
    role: &str,
    password_hash: Option<String>,
) -> Result<user::Model, AccountError> {
    create_user_named(db, email, agency, role, password_hash, None).await
}

/// The longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A display name as stored: trimmed, at most [`MAX_NAME_CHARS`], no
/// control or format characters; empty means none.
pub fn normalize_name(raw: &str) -> Result<Option<String>, AccountError> {
    let name = raw.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AccountError::InvalidName(format!(
            "at most {MAX_NAME_CHARS} characters"
        )));
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'))
    {
        return Err(AccountError::InvalidName(
            "control and formatting characters are not allowed".into(),
        ));
    }
    Ok((!name.is_empty()).then(|| name.to_string()))
}

/// Set (or, with `None`, clear) a user's display name.
pub async fn set_name(
    db: &impl ConnectionTrait,
    user_id: &str,
    name: Option<&str>,
) -> Result<(), DbErr> {
    user::Entity::update_many()
        .col_expr(
            user::Column::Name,
            sea_orm::sea_query::Expr::value(name.map(str::to_string)),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// [`create_user`] with an optional display name (`user create --name`).
pub async fn create_user_named(
    db: &sea_orm::DatabaseConnection,
    email: &str,
    agency: &str,
    role: &str,
    password_hash: Option<String>,
    name: Option<&str>,
) -> Result<user::Model, AccountError> {
    let name = match name {
        Some(n) => normalize_name(n)?,
        None => None,
    };
    let email = normalize_email(email)?;
    let role = parse_role(role)?;
    let agency = require_agency(db, agency).await?;
    if find_user_by_email(db, &email).await?.is_some() {
        return Err(AccountError::DuplicateEmail(email));
    }
    let user = user::Model {
        id: uuid::Uuid::new_v4().to_string(),
        email: email.clone(),
        password_hash,
        created_at: crate::clock::now(),
        name,
    };
    let txn = db.begin().await?;
    user::Entity::insert(user::ActiveModel {
        id: Set(user.id.clone()),
        email: Set(user.email.clone()),
        password_hash: Set(user.password_hash.clone()),
        created_at: Set(user.created_at),
        name: Set(user.name.clone()),
    })
    .exec_without_returning(&txn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            AccountError::DuplicateEmail(email.clone())
        } else {
            e.into()
        }
    })?;
    upsert_membership(&txn, &user.id, &agency.id, role).await?;
    audit_role(&txn, &user.id, &agency.id, Some(role)).await?;
    txn.commit().await?;
    Ok(user)
}

async fn upsert_membership(
    db: &impl ConnectionTrait,
    user_id: &str,
    agency_id: &str,
    role: Role,
) -> Result<(), DbErr> {
    membership::Entity::insert(membership::ActiveModel {
        user_id: Set(user_id.to_string()),
        agency_id: Set(agency_id.to_string()),
        role: Set(role.as_str().to_string()),
        created_at: Set(crate::clock::now()),
    })
    .on_conflict(
        OnConflict::columns([membership::Column::UserId, membership::Column::AgencyId])
            .update_column(membership::Column::Role)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// Set a member's role in an agency, adding the membership if needed
/// (audited as done from the CLI).
pub async fn set_role(
    db: &sea_orm::DatabaseConnection,
    email: &str,
    agency: &str,
    role: &str,
) -> Result<(user::Model, agency::Model, Role), AccountError> {
    let role = parse_role(role)?;
    let agency = require_agency(db, agency).await?;
    let user = find_user_by_email(db, email)
        .await?
        .ok_or_else(|| AccountError::UnknownUser(email.trim().into()))?;
    let txn = db.begin().await?;
    upsert_membership(&txn, &user.id, &agency.id, role).await?;
    audit_role(&txn, &user.id, &agency.id, Some(role)).await?;
    txn.commit().await?;
    Ok((user, agency, role))
}

async fn audit_role(
    txn: &impl ConnectionTrait,
    user_id: &str,
    agency_id: &str,
    role: Option<Role>,
) -> Result<(), DbErr> {
    let event = crate::audit::Event::RoleChanged {
        actor: crate::audit::CLI,
        user_id,
        agency_id,
        role,
    };
    crate::audit::record(txn, crate::audit::At::no_ip(crate::clock::now()), event).await
}

/// Remove a member from an agency (audited as a role change to none).
pub async fn remove_member(
    db: &sea_orm::DatabaseConnection,
    email: &str,
    agency: &str,
) -> Result<(), AccountError> {
    let agency = require_agency(db, agency).await?;
    let user = find_user_by_email(db, email)
        .await?
        .ok_or_else(|| AccountError::UnknownUser(email.trim().into()))?;
    let txn = db.begin().await?;
    let res = membership::Entity::delete_many()
        .filter(membership::Column::UserId.eq(&user.id))
        .filter(membership::Column::AgencyId.eq(&agency.id))
        .exec(&txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(AccountError::NotAMember(user.email, agency.name));
    }
    audit_role(&txn, &user.id, &agency.id, None).await?;
    txn.commit().await?;
    Ok(())
}

/// The user's agencies with their role, by agency name.
pub async fn memberships(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<(agency::Model, Role)>, DbErr> {
    let rows = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .all(db)
        .await?;
    let ids: Vec<String> = rows.iter().map(|m| m.agency_id.clone()).collect();
    let agencies = agency::Entity::find()
        .filter(agency::Column::Id.is_in(ids))
        .order_by_asc(agency::Column::Name)
        .all(db)
        .await?;
    Ok(agencies
        .into_iter()
        .filter_map(|a| {
            let role = rows
                .iter()
                .find(|m| m.agency_id == a.id)
                .and_then(|m| Role::parse(&m.role))?;
            Some((a, role))
        })
        .collect())
}

/// The member's role in one agency now, if any.
pub async fn role_in(
    db: &impl ConnectionTrait,
    user_id: &str,
    agency_id: &str,
) -> Result<Option<Role>, DbErr> {
    Ok(crate::db_key::by_key(
        membership::Entity::find_by_id((user_id.to_string(), agency_id.to_string())),
        db,
    )
    .await?
    .and_then(|m| Role::parse(&m.role)))
}

pub async fn set_password_hash(
    db: &impl ConnectionTrait,
    user_id: &str,
    hash: String,
) -> Result<(), DbErr> {
    user::Entity::update_many()
        .col_expr(
            user::Column::PasswordHash,
            sea_orm::sea_query::Expr::value(hash),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            normalize_email("  Ann@Example.COM ").unwrap(),
            "ann@example.com"
        );
        for bad in ["", "ann", "@x", "ann@", "a b@x", "a@b@c"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_parse() {
        assert_eq!(parse_role("owner").unwrap(), Role::Owner);
        assert!(
            parse_role("admin")
                .unwrap_err()
                .to_string()
                .contains("owner, manager")
        );
    }
}
