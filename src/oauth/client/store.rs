//! The `clients` table: every query on it. Registration, metadata
//! documents and the CLI (resource servers, machine clients) write here;
//! authorize and token read from here. Secrets arrive already hashed.

use entity::client::{ActiveModel, Column, Entity, Model};
use sea_orm::ActiveValue::NotSet;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, Iterable,
    QueryFilter, QuerySelect,
};

use super::model::{AuthMethod, ClientKind, ClientMetadata};

const DAY_SECS: i64 = 86_400;

fn to_json<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let v: Vec<String> = items.into_iter().map(|s| s.as_ref().to_string()).collect();
    serde_json::Value::from(v).to_string()
}

/// The row for `meta`, as it will be stored.
fn model(
    client_id: &str,
    meta: &ClientMetadata,
    secret_hash: Option<String>,
    registration_token_hash: Option<String>,
    created_at: i64,
    now: i64,
) -> Model {
    Model {
        client_id: client_id.to_string(),
        kind: ClientKind::Dynamic,
        client_secret_hash: secret_hash,
        registration_token_hash,
        token_endpoint_auth_method: meta.token_endpoint_auth_method,
        grant_types: to_json(meta.grant_types.iter().map(|g| g.as_str())),
        response_types: to_json(&meta.response_types),
        redirect_uris: to_json(&meta.redirect_uris),
        contacts: to_json(&meta.contacts),
        scope: meta.scope.clone(),
        client_name: meta.client_name.clone(),
        client_uri: meta.client_uri.clone(),
        logo_uri: meta.logo_uri.clone(),
        tos_uri: meta.tos_uri.clone(),
        policy_uri: meta.policy_uri.clone(),
        software_id: meta.software_id.clone(),
        software_version: meta.software_version.clone(),
        created_at,
        updated_at: now,
        first_authorized_at: None,
        resource: None,
        application_type: meta.application_type,
        jwks: meta.jwks.clone(),
        jwks_uri: meta.jwks_uri.clone(),
        require_pushed_authorization_requests: meta.require_pushed_authorization_requests,
        id_token_signed_response_alg: meta.id_token_signed_response_alg.clone(),
        post_logout_redirect_uris: to_json(&meta.post_logout_redirect_uris),
        dpop_bound_access_tokens: meta.dpop_bound_access_tokens,
    }
}

/// Store a newly registered client.
pub async fn insert(
    db: &impl ConnectionTrait,
    client_id: &str,
    meta: &ClientMetadata,
    secret_hash: Option<String>,
    registration_token_hash: String,
    now: i64,
) -> Result<Model, DbErr> {
    let row = model(
        client_id,
        meta,
        secret_hash,
        Some(registration_token_hash),
        now,
        now,
    );
    insert_row(db, row).await
}

/// Store a machine client made with `skedcast-auth client create`: the
/// validated `meta` of a registration, of kind [`ClientKind::Machine`] and
/// with no registration token, so it is never managed over RFC 7592.
pub async fn insert_machine(
    db: &impl ConnectionTrait,
    client_id: &str,
    meta: &ClientMetadata,
    secret_hash: Option<String>,
    now: i64,
) -> Result<Model, DbErr> {
    let mut row = model(client_id, meta, secret_hash, None, now, now);
    row.kind = ClientKind::Machine;
    insert_row(db, row).await
}

async fn insert_row(db: &impl ConnectionTrait, row: Model) -> Result<Model, DbErr> {
    Entity::insert(row.clone().into_active_model().reset_all())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

pub async fn find(db: &impl ConnectionTrait, client_id: &str) -> Result<Option<Model>, DbErr> {
    crate::db_key::by_key(Entity::find_by_id(client_id.to_string()), db).await
}

/// Whether a client with this id exists (it is not deleted).
pub async fn exists(db: &impl ConnectionTrait, client_id: &str) -> Result<bool, DbErr> {
    let found = Entity::find()
        .select_only()
        .column(Column::ClientId)
        .filter(Column::ClientId.eq(client_id))
        .into_tuple::<String>()
        // No `.one()`: see `db_key`.
        .all(db)
        .await?;
    Ok(!found.is_empty())
}

/// Replace the metadata of `current` wholesale (RFC 7592 §2.2), with its
/// new secret hash and registration token hash, on condition that the
/// registration token has not changed meanwhile. `None`: a concurrent update
/// or delete won.
pub async fn replace(
    db: &impl ConnectionTrait,
    current: &Model,
    meta: &ClientMetadata,
    secret_hash: Option<String>,
    registration_token_hash: String,
    now: i64,
) -> Result<Option<Model>, DbErr> {
    let mut row = model(
        &current.client_id,
        meta,
        secret_hash,
        Some(registration_token_hash),
        current.created_at,
        now,
    );
    row.kind = current.kind;
    row.first_authorized_at = current.first_authorized_at;
    row.resource = current.resource.clone();
    let mut am: ActiveModel = row.clone().into_active_model().reset_all();
    am.client_id = NotSet;
    let res = Entity::update_many()
        .set(am)
        .filter(Column::ClientId.eq(current.client_id.as_str()))
        .filter(
            Column::RegistrationTokenHash
                .eq(current.registration_token_hash.as_deref().unwrap_or("")),
        )
        .exec(db)
        .await?;
    Ok((res.rows_affected == 1).then_some(row))
}

/// Replace the registration token hash of `current`, on condition that it has
/// not changed meanwhile. Returns whether this call did it.
pub async fn rotate_registration_token(
    db: &impl ConnectionTrait,
    current: &Model,
    new_hash: String,
) -> Result<bool, DbErr> {
    let res = Entity::update_many()
        .col_expr(
            Column::RegistrationTokenHash,
            sea_orm::sea_query::Expr::value(new_hash),
        )
        .filter(Column::ClientId.eq(current.client_id.as_str()))
        .filter(
            Column::RegistrationTokenHash
                .eq(current.registration_token_hash.as_deref().unwrap_or("")),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Delete a client whose registration token hash is still
/// `registration_token_hash`. Returns whether it was deleted.
pub async fn delete(
    db: &impl ConnectionTrait,
    client_id: &str,
    registration_token_hash: &str,
) -> Result<bool, DbErr> {
    let res = Entity::delete_many()
        .filter(Column::ClientId.eq(client_id))
        .filter(Column::RegistrationTokenHash.eq(registration_token_hash))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Record the first completed authorization (the authorize endpoint calls
/// this); later calls keep the first time.
pub async fn mark_authorized(
    db: &impl ConnectionTrait,
    client_id: &str,
    now: i64,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(
            Column::FirstAuthorizedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(Column::ClientId.eq(client_id))
        .filter(Column::FirstAuthorizedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The row of the document client `url` describes, as it would be stored
/// at `now` (also what a client not stored yet is served from).
pub fn document_model(url: &str, meta: &ClientMetadata, now: i64) -> Model {
    Model {
        kind: ClientKind::MetadataDocument,
        ..model(url, meta, None, None, now, now)
    }
}

/// The columns a fetched document rewrites: every one but the identity,
/// the creation time, the first authorization and what a document never
/// carries (secrets, registration token, resource). Listed by exclusion so
/// that a new metadata column cannot be left stale by a refetch (issue 17
/// review: `dpop_bound_access_tokens` and
/// `require_pushed_authorization_requests` were).
fn document_columns() -> Vec<Column> {
    Column::iter()
        .filter(|c| {
            !matches!(
                c,
                Column::ClientId
                    | Column::Kind
                    | Column::ClientSecretHash
                    | Column::RegistrationTokenHash
                    | Column::CreatedAt
                    | Column::FirstAuthorizedAt
                    | Column::Resource
            )
        })
        .collect()
}

/// Store (or refresh) the client a metadata document describes, under its
/// URL as `client_id`: kind [`ClientKind::MetadataDocument`], public, no
/// registration token.
/// An existing row keeps its creation time and first authorization, so
/// the codes, consents and refresh families that reference it stay.
pub async fn upsert_document_client(
    db: &impl ConnectionTrait,
    url: &str,
    meta: &ClientMetadata,
    now: i64,
) -> Result<(), DbErr> {
    Entity::insert(
        document_model(url, meta, now)
            .into_active_model()
            .reset_all(),
    )
    .on_conflict(
        OnConflict::column(Column::ClientId)
            .update_columns(document_columns())
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Delete public clients (registered over RFC 7591, or fetched from a
/// metadata document) that never completed an authorization and were
/// created more than `max_age_days` days before `now`, so that spam
/// registrations do not pile up; a document client is fetched again at its
/// next use. Confidential clients are kept: they may only ever use
/// client_credentials. Returns how many were deleted; `max_age_days` 0
/// deletes nothing.
pub async fn delete_unused_public_clients(
    db: &impl ConnectionTrait,
    max_age_days: u32,
    now: i64,
) -> Result<u64, DbErr> {
    if max_age_days == 0 {
        return Ok(0);
    }
    let cutoff = now - i64::from(max_age_days) * DAY_SECS;
    let unused = sea_orm::Condition::all()
        .add(Column::Kind.is_in([ClientKind::Dynamic, ClientKind::MetadataDocument]))
        .add(Column::TokenEndpointAuthMethod.eq(AuthMethod::None))
        .add(Column::FirstAuthorizedAt.is_null())
        .add(Column::CreatedAt.lt(cutoff));
    crate::db::delete_in_batches::<Entity>(db, Column::ClientId, unused).await
}

/// Store a resource server created by the CLI: a confidential client of kind
/// [`ClientKind::ResourceServer`] with no grants, authenticating with its secret
/// (`client_secret_basic` or `client_secret_post` at the introspection
/// endpoint), never managed over RFC 7592.
pub async fn insert_resource_server(
    db: &impl ConnectionTrait,
    client_id: &str,
    name: &str,
    resource: &str,
    secret_hash: String,
    now: i64,
) -> Result<Model, DbErr> {
    let row = Model {
        client_id: client_id.to_string(),
        kind: ClientKind::ResourceServer,
        client_secret_hash: Some(secret_hash),
        registration_token_hash: None,
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        grant_types: to_json(Vec::<String>::new()),
        response_types: to_json(Vec::<String>::new()),
        redirect_uris: to_json(Vec::<String>::new()),
        contacts: to_json(Vec::<String>::new()),
        scope: None,
        client_name: Some(name.to_string()),
        client_uri: None,
        logo_uri: None,
        tos_uri: None,
        policy_uri: None,
        software_id: None,
        software_version: None,
        created_at: now,
        updated_at: now,
        first_authorized_at: None,
        resource: Some(resource.to_string()),
        application_type: None,
        jwks: None,
        jwks_uri: None,
        require_pushed_authorization_requests: false,
        id_token_signed_response_alg: None,
        post_logout_redirect_uris: to_json(Vec::<String>::new()),
        dpop_bound_access_tokens: false,
    };
    Entity::insert(row.clone().into_active_model().reset_all())
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// Every registered resource server's (resource identifier, name): a
/// handful, created by operators with the CLI.
pub async fn resource_servers(
    db: &impl ConnectionTrait,
) -> Result<Vec<(String, Option<String>)>, DbErr> {
    let found = Entity::find()
        .select_only()
        .column(Column::Resource)
        .column(Column::ClientName)
        .filter(Column::Kind.eq(ClientKind::ResourceServer))
        .filter(Column::Resource.is_not_null())
        .into_tuple::<(Option<String>, Option<String>)>()
        .all(db)
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(r, name)| r.map(|r| (r, name)))
        .collect())
}
