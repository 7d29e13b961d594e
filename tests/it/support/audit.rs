//! What the audit trail holds, read straight from the table: tests grep it
//! for secrets that must never be written there.

use sea_orm::ConnectionTrait;

use super::TestApp;

/// Every column of every audit row, as text, to look for secrets.
pub async fn audit_text(app: &TestApp) -> String {
    let rows = app
        .state
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT CAST(id AS TEXT) AS id, CAST(ts AS TEXT) AS ts, event, \
             COALESCE(actor, '') AS actor, COALESCE(agency_id, '') AS agency_id, \
             COALESCE(ip, '') AS ip, COALESCE(target, '') AS target, outcome \
             FROM audit_events",
        ))
        .await
        .unwrap();
    let mut all = String::new();
    for r in rows {
        for c in [
            "id",
            "ts",
            "event",
            "actor",
            "agency_id",
            "ip",
            "target",
            "outcome",
        ] {
            all.push_str(&r.try_get::<String>("", c).unwrap());
            all.push('|');
        }
        all.push('\n');
    }
    all
}
