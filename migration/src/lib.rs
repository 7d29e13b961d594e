//! Migrations: one file per change, never edited once landed.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_signing_keys;
mod m20261127_000002_clients;
mod m20261127_000004_resource_servers;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_signing_keys::Migration),
            Box::new(m20261127_000002_clients::Migration),
            Box::new(m20261127_000004_resource_servers::Migration),
        ]
    }
}
