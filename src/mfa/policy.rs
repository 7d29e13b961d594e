//! The agencies' MFA policy (`agency set-policy --require-mfa`): a member
//! of such an agency without a second factor is sent to enrol before any
//! consent or API-key page. A member of several agencies is sent if any of
//! them requires it (the consent page lets them pick any of their agencies).

use entity::agency;
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::scopes::Role;

/// Whether the member (of `memberships`) must add a second factor first.
pub async fn must_enrol(
    db: &impl ConnectionTrait,
    user_id: &str,
    memberships: &[(agency::Model, Role)],
) -> Result<bool, DbErr> {
    if !memberships.iter().any(|(a, _)| a.require_mfa) {
        return Ok(false);
    }
    Ok(!super::has_second_factor(db, user_id).await?)
}

pub async fn set(
    db: &impl ConnectionTrait,
    agency_id: &str,
    require_mfa: bool,
) -> Result<(), DbErr> {
    agency::Entity::update(agency::ActiveModel {
        id: Set(agency_id.to_string()),
        require_mfa: Set(require_mfa),
        ..Default::default()
    })
    .exec(db)
    .await
    .map(|_| ())
}

/// The security page, to enrol and come back to `next` (a local path).
pub fn enrol_first(base: &str, next: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("next", next)
        .finish();
    format!("{base}/settings/security?{q}#totp")
}
