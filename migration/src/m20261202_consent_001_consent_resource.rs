//! Remembered consent bound to the resource (RFC 8707 §2), and the record
//! that a member acted on a client's consent page (RFC 9700 §4.17).
//!
//! - `consents` gets a `resource` column in its primary key: consent given
//!   for one resource no longer yields a code for another. Neither SQLite nor
//!   Postgres (portably) can change a primary key in place, so the table is
//!   rebuilt: a new table, the rows copied, the old one dropped, the new one
//!   renamed. A migration cannot read the configuration, so copied rows get
//!   the empty resource, a marker that `App::build` replaces with the
//!   configured default resource at start (`consent::adopt_unbound`): the
//!   consents given before all were for the default resource.
//! - `consent_decisions`: one row per client a member allowed or denied on
//!   the consent page. Until it has one, authorization errors are not
//!   redirected automatically to the client's redirect URI.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Consents {
    Table,
    UserId,
    ClientId,
    AgencyId,
    Resource,
    Scope,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ConsentsNew {
    Table,
}

#[derive(DeriveIden)]
enum ConsentDecisions {
    Table,
    ClientId,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    ClientId,
}

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Id,
}

fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// The consents table named `table`, with or without `resource` in its key.
fn consents(table: impl IntoIden + Copy, with_resource: bool) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(table)
        .col(ColumnDef::new(Consents::UserId).string().not_null())
        .col(ColumnDef::new(Consents::ClientId).string().not_null())
        .col(ColumnDef::new(Consents::AgencyId).string().not_null());
    let mut key = Index::create();
    key.col(Consents::UserId)
        .col(Consents::ClientId)
        .col(Consents::AgencyId);
    if with_resource {
        t.col(ColumnDef::new(Consents::Resource).text().not_null());
        key.col(Consents::Resource);
    }
    t.col(ColumnDef::new(Consents::Scope).text().not_null())
        .col(ColumnDef::new(Consents::UpdatedAt).big_integer().not_null())
        .primary_key(&mut key)
        .foreign_key(&mut fk(
            (table, Consents::UserId),
            (Users::Table, Users::Id),
        ))
        .foreign_key(&mut fk(
            (table, Consents::ClientId),
            (Clients::Table, Clients::ClientId),
        ))
        .foreign_key(&mut fk(
            (table, Consents::AgencyId),
            (Agencies::Table, Agencies::Id),
        ))
        .to_owned()
}

/// Copy `from` into `to`, then replace `from` by `to`.
async fn rebuild(
    m: &SchemaManager<'_>,
    from: impl IntoIden + Copy,
    to: impl IntoIden + Copy,
    create: TableCreateStatement,
    select_resource: bool,
) -> Result<(), DbErr> {
    m.create_table(create).await?;
    let mut select = Query::select();
    select
        .columns([Consents::UserId, Consents::ClientId, Consents::AgencyId])
        .from(from);
    let mut columns = vec![Consents::UserId, Consents::ClientId, Consents::AgencyId];
    if select_resource {
        // Into the new table: every old consent was for the default resource.
        select.expr(Expr::val(""));
        columns.push(Consents::Resource);
    }
    select.columns([Consents::Scope, Consents::UpdatedAt]);
    columns.extend([Consents::Scope, Consents::UpdatedAt]);
    let insert = Query::insert()
        .into_table(to)
        .columns(columns)
        .select_from(select)
        .map_err(|e| DbErr::Migration(e.to_string()))?
        .to_owned();
    m.exec_stmt(insert).await?;
    m.drop_table(Table::drop().table(from).to_owned()).await?;
    m.rename_table(Table::rename().table(to, from).to_owned())
        .await?;
    // Postgres keeps the constraint (and key index) names of the new table
    // (`consents_new_pkey`, ...): give them the names a fresh install has.
    if m.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
        m.get_connection()
            .execute_unprepared(
                r"DO $$ DECLARE c record; BEGIN
                  FOR c IN SELECT conname FROM pg_constraint
                           WHERE conrelid = 'consents'::regclass
                             AND conname LIKE 'consents\_new\_%' LOOP
                    EXECUTE format('ALTER TABLE consents RENAME CONSTRAINT %I TO %I',
                                   c.conname, 'consents_' || substr(c.conname, 14));
                  END LOOP; END $$",
            )
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        rebuild(
            m,
            Consents::Table,
            ConsentsNew::Table,
            consents(ConsentsNew::Table, true),
            true,
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ConsentDecisions::Table)
                .col(
                    ColumnDef::new(ConsentDecisions::ClientId)
                        .string()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(ConsentDecisions::DecidedAt)
                        .big_integer()
                        .not_null(),
                )
                .foreign_key(&mut fk(
                    (ConsentDecisions::Table, ConsentDecisions::ClientId),
                    (Clients::Table, Clients::ClientId),
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(ConsentDecisions::Table).to_owned())
            .await?;
        // Back to one consent per (user, client, agency): of the rows for
        // several resources only the newest is kept.
        m.get_connection()
            .execute_unprepared(
                "DELETE FROM consents WHERE EXISTS (SELECT 1 FROM consents c2 \
                 WHERE c2.user_id = consents.user_id AND c2.client_id = consents.client_id \
                 AND c2.agency_id = consents.agency_id AND (c2.updated_at > consents.updated_at \
                 OR (c2.updated_at = consents.updated_at AND c2.resource < consents.resource)))",
            )
            .await?;
        rebuild(
            m,
            Consents::Table,
            ConsentsNew::Table,
            consents(ConsentsNew::Table, false),
            false,
        )
        .await
    }
}
