//! Migrations: one file per change, never edited once landed.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_signing_keys;
mod m20261127_000002_clients;
mod m20261127_000003_accounts;
mod m20261127_000004_resource_servers;
mod m20261127_000005_api_keys;
mod m20261127_000006_refresh_tokens;
mod m20261127_000007_client_metadata_documents;
mod m20261202_audit_001_audit_events;
mod m20261202_consent_001_consent_resource;
mod m20261202_device_001_device_authorizations;
mod m20261202_device_002_sign_in;
mod m20261202_dpop_001_dpop;
mod m20261202_keys_001_key_changes;
mod m20261202_oidc_001_openid_connect;
mod m20261202_par_001_pending_authorizations;
mod m20261202_par_002_require_pushed_requests;
mod m20261202_pkjwt_001_client_keys;
mod m20261202_scale_001_indexes;
mod m20261202_totp_001_second_factors;
mod m20261203_accounts_001_session_details;
mod m20261203_passkeys_001_passkeys;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_signing_keys::Migration),
            Box::new(m20261127_000002_clients::Migration),
            Box::new(m20261127_000003_accounts::Migration),
            Box::new(m20261127_000004_resource_servers::Migration),
            Box::new(m20261127_000005_api_keys::Migration),
            Box::new(m20261127_000006_refresh_tokens::Migration),
            Box::new(m20261127_000007_client_metadata_documents::Migration),
            Box::new(m20261202_consent_001_consent_resource::Migration),
            Box::new(m20261202_keys_001_key_changes::Migration),
            Box::new(m20261202_pkjwt_001_client_keys::Migration),
            Box::new(m20261202_par_001_pending_authorizations::Migration),
            Box::new(m20261202_par_002_require_pushed_requests::Migration),
            Box::new(m20261202_device_001_device_authorizations::Migration),
            Box::new(m20261202_oidc_001_openid_connect::Migration),
            Box::new(m20261202_scale_001_indexes::Migration),
            Box::new(m20261202_dpop_001_dpop::Migration),
            Box::new(m20261202_totp_001_second_factors::Migration),
            Box::new(m20261202_audit_001_audit_events::Migration),
            Box::new(m20261202_device_002_sign_in::Migration),
            Box::new(m20261203_accounts_001_session_details::Migration),
            Box::new(m20261203_passkeys_001_passkeys::Migration),
        ]
    }
}
