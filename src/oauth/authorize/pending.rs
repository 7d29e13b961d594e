//! The pending authorization request (issue 15 item 4): kept by the server
//! while the member signs in and consents, so that the sign-in page's `next`
//! and the consent form carry only a short reference (`pending=<ref>`,
//! 256 random bits, base64url), never the whole request: a long `state`
//! cannot make a redirect too long for common HTTP clients and proxies.
//!
//! Only the reference's SHA-256 is stored. A row lives as long as an idle
//! session (`session.idle_timeout_secs`): the time a member has to sign in
//! and answer the consent page. It is forgotten once the member decided, and
//! pruned by the housekeeping after it expired.

use entity::pending_authorization::{ActiveModel, Column, Entity};
use poem::http::StatusCode;
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait};

use super::request::Params;
use crate::crypto::{random_token, sha256_hex};
use crate::web::PageError;

/// The parameter that carries the reference through `/login` and the
/// consent form.
pub const PARAM: &str = "pending";

/// Keep `params` until `now + ttl_secs`; returns the reference.
pub async fn keep(
    db: &impl ConnectionTrait,
    params: &Params,
    now: i64,
    ttl_secs: i64,
) -> Result<String, DbErr> {
    let reference = random_token();
    Entity::insert(ActiveModel {
        ref_hash: Set(sha256_hex(&reference)),
        params: Set(params.to_query()),
        created_at: Set(now),
        expires_at: Set(now + ttl_secs),
    })
    .exec_without_returning(db)
    .await?;
    Ok(reference)
}

/// The request kept under `reference`, unless unknown or expired.
pub async fn load(
    db: &impl ConnectionTrait,
    reference: &str,
    now: i64,
) -> Result<Option<Params>, DbErr> {
    // A pushed request is used once, by its `request_uri` only.
    if reference.contains(':') {
        return Ok(None);
    }
    Ok(Entity::find_by_id(sha256_hex(reference))
        .one(db)
        .await?
        .filter(|row| row.expires_at > now)
        .map(|row| Params::from_pairs(url::form_urlencoded::parse(row.params.as_bytes()))))
}

/// Forget the request once the member decided (a reused form then gets
/// [`gone`]).
pub async fn forget(db: &impl ConnectionTrait, reference: &str) -> Result<(), DbErr> {
    Entity::delete_by_id(sha256_hex(reference))
        .exec(db)
        .await
        .map(|_| ())
}

/// Delete expired requests, in batches.
pub async fn prune(db: &impl ConnectionTrait, now: i64) -> Result<u64, DbErr> {
    let expired = sea_orm::Condition::all().add(Column::ExpiresAt.lte(now));
    crate::db::delete_in_batches::<Entity>(db, Column::RefHash, expired).await
}

/// The page for an unknown, expired or already answered reference: the
/// client and its redirect URI are unknown, so nothing is redirected.
pub fn gone() -> PageError {
    PageError::Message {
        status: StatusCode::BAD_REQUEST,
        title: "Request expired",
        message: "This authorization request has expired or was already answered. \
                  Start again from the app."
            .into(),
    }
}

/// The prefix of a pushed request's `request_uri` (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Keep a pushed authorization request (RFC 9126) for `ttl_secs`; returns
/// its `request_uri`. Stored by the SHA-256 of the whole URI, so that it
/// cannot be used as a `pending` reference (those have no `:`).
pub async fn push(
    db: &impl ConnectionTrait,
    params: &Params,
    now: i64,
    ttl_secs: i64,
) -> Result<String, DbErr> {
    let uri = format!("{REQUEST_URI_PREFIX}{}", random_token());
    Entity::insert(ActiveModel {
        ref_hash: Set(sha256_hex(&uri)),
        params: Set(params.to_query()),
        created_at: Set(now),
        expires_at: Set(now + ttl_secs),
    })
    .exec_without_returning(db)
    .await?;
    Ok(uri)
}

/// The pushed request of `request_uri`, at most once: the row is deleted,
/// and only the caller whose delete removed it gets the request.
pub async fn take_pushed(
    db: &impl ConnectionTrait,
    request_uri: &str,
    now: i64,
) -> Result<Option<Params>, DbErr> {
    if !request_uri.starts_with(REQUEST_URI_PREFIX) {
        return Ok(None);
    }
    let key = sha256_hex(request_uri);
    let Some(row) = Entity::find_by_id(key.clone()).one(db).await? else {
        return Ok(None);
    };
    let deleted = Entity::delete_by_id(key).exec(db).await?.rows_affected;
    Ok((deleted == 1 && row.expires_at > now)
        .then(|| Params::from_pairs(url::form_urlencoded::parse(row.params.as_bytes()))))
}
