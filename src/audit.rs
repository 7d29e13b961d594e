//! The audit trail (issue 17 item 5): what happened to accounts, consents,
//! clients and keys, for owners (`/settings/audit`) and operators (`audit
//! export`).
//!
//! Invariants:
//! - [`record`] takes the connection or transaction of the change it
//!   records, so the row exists exactly when the change does.
//! - No secret ever reaches a row: events carry ids (users, agencies,
//!   clients, API keys, signing keys, refresh families, a session's public
//!   handle) and the email of a known user only; the enum below has no
//!   field that could hold a password, token, code or client secret.
//! - Second-factor events (`mfa.*`) are the exception to the first rule:
//!   `mfa::confirm_enrolment`, `mfa::reset` and `mfa::verify` own their
//!   statements, so their rows are written right after the change commits
//!   (a crash in between loses the row; it never records a change that did
//!   not happen).
//! - Rows older than `audit.retention_days` are pruned in batches by
//!   housekeeping.

use entity::audit_event::{self, Column, Entity};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use crate::scopes::Role;

/// Who acted, when no member did.
pub const CLI: &str = "cli";

/// One recordable event. Ids only; see the module invariants.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// `user_id` signed in with their password. `agency_id`: one row per
    /// agency of the member (see [`record_sign_in`]).
    SignInSucceeded {
        user_id: &'a str,
        agency_id: Option<&'a str>,
    },
    /// A sign-in was refused. `user` is `(id, email)` when the email names
    /// an account; an unknown email is not written down.
    SignInFailed {
        user: Option<(&'a str, &'a str)>,
        agency_id: Option<&'a str>,
    },
    ConsentGranted {
        user_id: &'a str,
        agency_id: &'a str,
        client_id: &'a str,
    },
    /// Remembered consents to `client_id` forgotten, by `actor` (a member,
    /// or the client's own registration update).
    ConsentRevoked {
        actor: &'a str,
        agency_id: Option<&'a str>,
        client_id: &'a str,
    },
    /// `actor`: `"cli"`, a member's id, or the client itself (RFC 7591/7592).
    ClientRegistered {
        actor: &'a str,
        agency_id: Option<&'a str>,
        client_id: &'a str,
    },
    ClientUpdated {
        actor: &'a str,
        client_id: &'a str,
    },
    ClientDeleted {
        actor: &'a str,
        client_id: &'a str,
    },
    /// A used refresh token came back: `family_id` is revoked.
    RefreshReuseDetected {
        client_id: &'a str,
        user_id: Option<&'a str>,
        agency_id: Option<&'a str>,
        family_id: &'a str,
    },
    ApiKeyCreated {
        actor: &'a str,
        agency_id: &'a str,
        key_id: &'a str,
    },
    ApiKeyRotated {
        actor: &'a str,
        agency_id: &'a str,
        key_id: &'a str,
    },
    ApiKeyRevoked {
        actor: &'a str,
        agency_id: &'a str,
        key_id: &'a str,
    },
    SigningKeyRotated {
        kid: &'a str,
    },
    SigningKeyRevoked {
        kid: &'a str,
    },
    /// `user_id`'s role in `agency_id` set to `role` (`None`: removed).
    RoleChanged {
        actor: &'a str,
        user_id: &'a str,
        agency_id: &'a str,
        role: Option<Role>,
    },
    /// The member signed out one of their other sessions (named by its
    /// public handle), or every other one (`session: None`). This event and
    /// the four below are about the member's own account: written by
    /// [`record_for_member`], once per agency of the member.
    SessionSignedOut {
        user_id: &'a str,
        session: Option<&'a str>,
    },
    /// The member changed their password (never the password itself).
    PasswordChanged {
        user_id: &'a str,
    },
    /// The member turned TOTP on (confirmed with a first code).
    TotpEnabled {
        user_id: &'a str,
    },
    /// `user_id`'s TOTP and recovery codes removed, by `actor` (the member,
    /// or `"cli"`: `user reset-mfa`).
    TotpRemoved {
        actor: &'a str,
        user_id: &'a str,
    },
    /// The member signed in with a recovery code (which is now used up).
    RecoveryCodeUsed {
        user_id: &'a str,
    },
    /// `user_id` added passkey `passkey_id` (written by
    /// [`record_for_member`]). Ids only: no credential material.
    PasskeyAdded {
        actor: &'a str,
        user_id: &'a str,
        passkey_id: &'a str,
    },
    /// Passkey `passkey_id` of `user_id` removed by `actor` (the member, or
    /// `cli` for `user reset-mfa`).
    PasskeyRemoved {
        actor: &'a str,
        user_id: &'a str,
        passkey_id: &'a str,
    },
}

/// The columns an event fills.
struct Row {
    event: &'static str,
    actor: Option<String>,
    agency_id: Option<String>,
    target: Option<String>,
    outcome: &'static str,
}

impl Event<'_> {
    fn row(&self) -> Row {
        let s = |v: &str| Some(v.to_string());
        let o = |v: Option<&str>| v.map(str::to_string);
        let (event, actor, agency_id, target, outcome) = match *self {
            Event::SignInSucceeded { user_id, agency_id } => {
                ("sign_in", s(user_id), o(agency_id), None, "success")
            }
            Event::SignInFailed { user, agency_id } => (
                "sign_in",
                user.map(|u| u.0.to_string()),
                o(agency_id),
                user.map(|u| u.1.to_string()),
                "failure",
            ),
            Event::ConsentGranted {
                user_id,
                agency_id,
                client_id,
            } => (
                "consent.granted",
                s(user_id),
                s(agency_id),
                s(client_id),
                "success",
            ),
            Event::ConsentRevoked {
                actor,
                agency_id,
                client_id,
            } => (
                "consent.revoked",
                s(actor),
                o(agency_id),
                s(client_id),
                "success",
            ),
            Event::ClientRegistered {
                actor,
                agency_id,
                client_id,
            } => (
                "client.registered",
                s(actor),
                o(agency_id),
                s(client_id),
                "success",
            ),
            Event::ClientUpdated { actor, client_id } => {
                ("client.updated", s(actor), None, s(client_id), "success")
            }
            Event::ClientDeleted { actor, client_id } => {
                ("client.deleted", s(actor), None, s(client_id), "success")
            }
            Event::RefreshReuseDetected {
                client_id,
                user_id,
                agency_id,
                family_id,
            } => (
                "refresh_token.reuse_detected",
                s(client_id),
                o(agency_id),
                Some(format!(
                    "family:{family_id} user:{}",
                    user_id.unwrap_or("-")
                )),
                "family_revoked",
            ),
            Event::ApiKeyCreated {
                actor,
                agency_id,
                key_id,
            } => (
                "api_key.created",
                s(actor),
                s(agency_id),
                s(key_id),
                "success",
            ),
            Event::ApiKeyRotated {
                actor,
                agency_id,
                key_id,
            } => (
                "api_key.rotated",
                s(actor),
                s(agency_id),
                s(key_id),
                "success",
            ),
            Event::ApiKeyRevoked {
                actor,
                agency_id,
                key_id,
            } => (
                "api_key.revoked",
                s(actor),
                s(agency_id),
                s(key_id),
                "success",
            ),
            Event::SigningKeyRotated { kid } => {
                ("signing_key.rotated", s(CLI), None, s(kid), "success")
            }
            Event::SigningKeyRevoked { kid } => {
                ("signing_key.revoked", s(CLI), None, s(kid), "success")
            }
            Event::RoleChanged {
                actor,
                user_id,
                agency_id,
                role,
            } => (
                "member.role_changed",
                s(actor),
                s(agency_id),
                Some(format!(
                    "user:{user_id} role:{}",
                    role.map_or("none", |r| r.as_str())
                )),
                "success",
            ),
            Event::SessionSignedOut { user_id, session } => (
                "session.signed_out",
                s(user_id),
                None,
                Some(session.map_or_else(
                    || "other_sessions".to_string(),
                    |id| format!("session:{id}"),
                )),
                "success",
            ),
            Event::PasswordChanged { user_id } => {
                ("password.changed", s(user_id), None, s(user_id), "success")
            }
            Event::TotpEnabled { user_id } => {
                ("mfa.totp_enabled", s(user_id), None, s(user_id), "success")
            }
            Event::TotpRemoved { actor, user_id } => {
                ("mfa.totp_removed", s(actor), None, s(user_id), "success")
            }
            Event::RecoveryCodeUsed { user_id } => (
                "mfa.recovery_code_used",
                s(user_id),
                None,
                s(user_id),
                "success",
            ),
            Event::PasskeyAdded {
                actor,
                user_id,
                passkey_id,
            } => (
                "passkey.added",
                s(actor),
                None,
                Some(format!("user:{user_id} passkey:{passkey_id}")),
                "success",
            ),
            Event::PasskeyRemoved {
                actor,
                user_id,
                passkey_id,
            } => (
                "passkey.removed",
                s(actor),
                None,
                Some(format!("user:{user_id} passkey:{passkey_id}")),
                "success",
            ),
        };
        Row {
            event,
            actor,
            agency_id,
            target,
            outcome,
        }
    }
}

/// Where and when: the time (Unix seconds) and the client IP of an HTTP
/// request (`None` from the CLI).
#[derive(Debug, Clone, Copy)]
pub struct At {
    pub ts: i64,
    pub ip: Option<std::net::IpAddr>,
}

impl At {
    pub fn no_ip(ts: i64) -> At {
        At { ts, ip: None }
    }

    pub fn of(req: &poem::Request, ts: i64) -> At {
        At::of_addr(req.remote_addr(), ts)
    }

    pub fn of_addr(remote: &poem::web::RemoteAddr, ts: i64) -> At {
        At {
            ts,
            ip: remote.as_socket_addr().map(|a| a.ip()),
        }
    }
}

/// A time alone (the CLI, and callers that predate the audit trail).
impl From<i64> for At {
    fn from(ts: i64) -> At {
        At::no_ip(ts)
    }
}

/// Write `event`, in the caller's transaction (or connection, when the
/// change is itself one statement).
pub async fn record(db: &impl ConnectionTrait, at: At, event: Event<'_>) -> Result<(), DbErr> {
    insert(db, at, event.row()).await
}

async fn insert(db: &impl ConnectionTrait, at: At, r: Row) -> Result<(), DbErr> {
    Entity::insert(audit_event::ActiveModel {
        id: NotSet,
        ts: Set(at.ts),
        event: Set(r.event.to_string()),
        actor: Set(r.actor),
        agency_id: Set(r.agency_id),
        ip: Set(at.ip.map(|ip| ip.to_string())),
        target: Set(r.target),
        outcome: Set(r.outcome.to_string()),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// A sign-in attempt by `user` (`None`: the email names no account), once
/// per agency the member belongs to so that each agency's owners see it
/// (once, without an agency, for an account in none).
pub async fn record_sign_in(
    db: &impl ConnectionTrait,
    at: At,
    user: Option<&entity::user::Model>,
    ok: bool,
) -> Result<(), DbErr> {
    let agencies = match user {
        Some(u) => member_agencies(db, &u.id).await?,
        None => vec![None],
    };
    for agency_id in agencies.iter().map(Option::as_deref) {
        let event = match (user, ok) {
            (Some(u), true) => Event::SignInSucceeded {
                user_id: &u.id,
                agency_id,
            },
            (u, _) => Event::SignInFailed {
                user: u.map(|u| (u.id.as_str(), u.email.as_str())),
                agency_id,
            },
        };
        record(db, at, event).await?;
    }
    Ok(())
}

/// The agencies an event about member `user_id` is written for, one row
/// each so that each agency's owners see it: every agency of the member,
/// or none (`[None]`) for a member of none.
pub async fn member_agencies(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<Option<String>>, DbErr> {
    let agencies: Vec<String> = entity::membership::Entity::find()
        .select_only()
        .column(entity::membership::Column::AgencyId)
        .filter(entity::membership::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    Ok(if agencies.is_empty() {
        vec![None]
    } else {
        agencies.into_iter().map(Some).collect()
    })
}

/// Write `event`, about member `user_id`'s own account, once for each of
/// [`member_agencies`].
pub async fn record_for_member(
    db: &impl ConnectionTrait,
    at: At,
    user_id: &str,
    event: Event<'_>,
) -> Result<(), DbErr> {
    for agency_id in member_agencies(db, user_id).await? {
        insert(
            db,
            at,
            Row {
                agency_id,
                ..event.row()
            },
        )
        .await?;
    }
    Ok(())
}

/// One event as exported and shown (`ts` in RFC 3339).
#[derive(Debug, Serialize)]
pub struct Exported {
    pub ts: String,
    pub event: String,
    pub actor: Option<String>,
    pub agency_id: Option<String>,
    pub ip: Option<String>,
    pub target: Option<String>,
    pub outcome: String,
}

impl From<audit_event::Model> for Exported {
    fn from(m: audit_event::Model) -> Self {
        Exported {
            ts: rfc3339(m.ts),
            event: m.event,
            actor: m.actor,
            agency_id: m.agency_id,
            ip: m.ip,
            target: m.target,
            outcome: m.outcome,
        }
    }
}

pub fn rfc3339(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ts.to_string())
}

/// Parse `--since` (RFC 3339) into Unix seconds.
pub fn parse_since(s: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| format!("--since {s:?} is not an RFC 3339 time (e.g. 2026-12-01T00:00:00Z)"))
}

const EXPORT_BATCH: u64 = 1000;

/// Every event at or after `since` (of `agency_id` if given), oldest first,
/// read in batches and passed to `each`.
pub async fn export(
    db: &impl ConnectionTrait,
    since: Option<i64>,
    agency_id: Option<&str>,
    mut each: impl FnMut(Exported) -> std::io::Result<()>,
) -> anyhow::Result<u64> {
    let mut after = i64::MIN;
    let mut n = 0;
    loop {
        let mut q = Entity::find().filter(Column::Id.gt(after));
        if let Some(s) = since {
            q = q.filter(Column::Ts.gte(s));
        }
        if let Some(a) = agency_id {
            q = q.filter(Column::AgencyId.eq(a));
        }
        let rows = q
            .order_by_asc(Column::Id)
            .limit(EXPORT_BATCH)
            .all(db)
            .await?;
        let done = (rows.len() as u64) < EXPORT_BATCH;
        for r in rows {
            after = r.id;
            n += 1;
            each(r.into())?;
        }
        if done {
            return Ok(n);
        }
    }
}

/// Events shown per page of `/settings/audit`.
pub const PAGE_SIZE: u64 = 50;
const MAX_PAGE: u64 = 1 << 32;

/// Page `page` (from 0) of an agency's events, newest first, and whether
/// an older page exists.
pub async fn page(
    db: &impl ConnectionTrait,
    agency_id: &str,
    page: u64,
) -> Result<(Vec<Exported>, bool), DbErr> {
    let mut rows = Entity::find()
        .filter(Column::AgencyId.eq(agency_id))
        .order_by_desc(Column::Ts)
        .order_by_desc(Column::Id)
        // Any page number is a valid (possibly empty) page: an offset past
        // i64 would panic in the driver's binding.
        .offset(page.min(MAX_PAGE).saturating_mul(PAGE_SIZE))
        .limit(PAGE_SIZE + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    Ok((rows.into_iter().map(Into::into).collect(), more))
}

/// Delete events older than `retention_days` before `now`, in batches.
pub async fn prune(db: &impl ConnectionTrait, now: i64, retention_days: u32) -> Result<u64, DbErr> {
    let cutoff = now - i64::from(retention_days) * 86_400;
    crate::db::delete_in_batches::<Entity>(
        db,
        Column::Id,
        sea_orm::Condition::all().add(Column::Ts.lt(cutoff)),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_emails_are_not_written() {
        let r = Event::SignInFailed {
            user: None,
            agency_id: None,
        }
        .row();
        assert_eq!((r.actor, r.target, r.outcome), (None, None, "failure"));
        let r = Event::SignInFailed {
            user: Some(("u1", "a@example.com")),
            agency_id: None,
        }
        .row();
        assert_eq!(r.target.as_deref(), Some("a@example.com"));
    }

    #[test]
    fn account_events_name_the_member_and_a_handle_only() {
        let row = |e: Event| {
            let r = e.row();
            (r.event, r.actor, r.agency_id, r.target)
        };
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            row(Event::SessionSignedOut {
                user_id: "u1",
                session: Some("h1"),
            }),
            ("session.signed_out", some("u1"), None, some("session:h1"))
        );
        assert_eq!(
            row(Event::SessionSignedOut {
                user_id: "u1",
                session: None,
            })
            .3,
            some("other_sessions")
        );
        assert_eq!(
            row(Event::PasswordChanged { user_id: "u1" }),
            ("password.changed", some("u1"), None, some("u1"))
        );
        assert_eq!(
            row(Event::TotpRemoved {
                actor: CLI,
                user_id: "u1",
            }),
            ("mfa.totp_removed", some("cli"), None, some("u1"))
        );
        assert_eq!(
            row(Event::TotpEnabled { user_id: "u1" }).0,
            "mfa.totp_enabled"
        );
        assert_eq!(
            row(Event::RecoveryCodeUsed { user_id: "u1" }).0,
            "mfa.recovery_code_used"
        );
    }

    #[test]
    fn since_is_rfc3339() {
        assert_eq!(parse_since("1970-01-01T00:01:00Z"), Ok(60));
        assert!(parse_since("yesterday").is_err());
        assert_eq!(rfc3339(60), "1970-01-01T00:01:00Z");
    }
}
