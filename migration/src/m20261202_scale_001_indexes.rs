//! Issue 19 item 2: indexes for queries that read whole tables once those
//! hold millions of rows (tests/it/query_plans.rs finds them).
//!
//! - `clients (kind, resource)`: the resource servers, read on every
//!   authorization request, among 100k clients.
//! - the `client_id` of consents, codes and refresh families: deleting a
//!   client (housekeeping of unused registrations) checks its foreign keys
//!   there, and the pruning of unused clients asks whether any row names it.
//! - the expiry columns housekeeping deletes by: sessions, refresh tokens
//!   and families, metadata documents.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index, table, columns)
const INDEXES: &[(&str, &str, &[&str])] = &[
    (
        "idx_clients_kind_resource",
        "clients",
        &["kind", "resource"],
    ),
    ("idx_consents_client", "consents", &["client_id"]),
    (
        "idx_authorization_codes_client",
        "authorization_codes",
        &["client_id"],
    ),
    (
        "idx_refresh_families_client",
        "refresh_families",
        &["client_id"],
    ),
    (
        "idx_refresh_families_expires_at",
        "refresh_families",
        &["expires_at"],
    ),
    (
        "idx_refresh_families_revoked_at",
        "refresh_families",
        &["revoked_at"],
    ),
    (
        "idx_refresh_tokens_expires_at",
        "refresh_tokens",
        &["expires_at"],
    ),
    ("idx_sessions_created_at", "sessions", &["created_at"]),
    ("idx_sessions_last_seen_at", "sessions", &["last_seen_at"]),
    (
        "idx_client_metadata_documents_expires_at",
        "client_metadata_documents",
        &["expires_at"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table(Alias::new(*table)).if_not_exists();
            for col in *cols {
                index.col(Alias::new(*col));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager
                .drop_index(
                    Index::drop()
                        .name(*name)
                        .table(Alias::new(*table))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
