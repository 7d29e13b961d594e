//! Issue 17 item 5: the audit trail. One row per security-relevant change,
//! written in the same transaction as the change it records.
//!
//! - `(agency_id, ts)`: the owners' page reads one agency newest first.
//! - `(ts)`: export since a time and the retention prune.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    Ts,
    Event,
    Actor,
    AgencyId,
    Ip,
    Target,
    Outcome,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditEvents::Table)
                .col(
                    ColumnDef::new(AuditEvents::Id)
                        .big_integer()
                        .not_null()
                        .auto_increment()
                        .primary_key(),
                )
                .col(ColumnDef::new(AuditEvents::Ts).big_integer().not_null())
                .col(ColumnDef::new(AuditEvents::Event).string().not_null())
                .col(ColumnDef::new(AuditEvents::Actor).string().null())
                .col(ColumnDef::new(AuditEvents::AgencyId).string().null())
                .col(ColumnDef::new(AuditEvents::Ip).string().null())
                .col(ColumnDef::new(AuditEvents::Target).string().null())
                .col(ColumnDef::new(AuditEvents::Outcome).string().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_events_agency_ts")
                .table(AuditEvents::Table)
                .col(AuditEvents::AgencyId)
                .col(AuditEvents::Ts)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_events_ts")
                .table(AuditEvents::Table)
                .col(AuditEvents::Ts)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}
