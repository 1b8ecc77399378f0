//! `/api/backup-jobs`: backup jobs (create, list, read, change, delete) and `…/run`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::records::RecordView;
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::operations::OperationView;
use crate::http::{PageQuery, Paginated, parse_path_id, ts};
use crate::modules::backups::run;
use crate::modules::backups::spec::{
    self, Compression, Definition, Encryption, Hooks, Retention, Schedule, Source, StorageInput,
    StorageView,
};
use crate::modules::backups::store::{BackupJob, BackupsStore};
use crate::state::AppState;

/// A backup job.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupJobView {
    pub id: String,
    pub name: String,
    pub source: Source,
    pub storage: StorageView,
    pub compression: Compression,
    /// `null`: archives are stored in clear.
    pub encryption: Option<Encryption>,
    pub retention: Retention,
    pub hooks: Hooks,
    /// `null`: it runs only when asked.
    pub schedule: Option<Schedule>,
    /// When the schedule fires next (RFC 3339).
    pub next_run_at: Option<String>,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<BackupJob> for BackupJobView {
    fn from(j: BackupJob) -> Self {
        Self {
            id: j.id,
            name: j.name,
            source: j.definition.source,
            storage: StorageView::from(&j.definition.storage),
            compression: j.definition.compression,
            encryption: j.definition.encryption,
            retention: j.definition.retention,
            hooks: j.definition.hooks,
            next_run_at: j
                .definition
                .schedule
                .as_ref()
                .and_then(|s| s.next_after(crate::store::now_ms()))
                .map(ts),
            schedule: j.definition.schedule,
            created_by: j.created_by,
            created_at: ts(j.created_at),
            updated_at: ts(j.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBackupJob {
    /// Unique; not blank (saved without leading and trailing blanks).
    #[schema(min_length = 1, max_length = 128, pattern = r"[^ \t\n\r]")]
    pub name: String,
    pub source: Source,
    /// Default `{"kind": "local"}`.
    pub storage: Option<StorageInput>,
    /// Default `zstd`.
    pub compression: Option<Compression>,
    /// Default: none (archives stored in clear).
    pub encryption: Option<Encryption>,
    /// Default `{"keep_last": 7}`.
    pub retention: Option<Retention>,
    /// Default: none.
    pub hooks: Option<Hooks>,
    /// Default: none (runs only when asked).
    pub schedule: Option<Schedule>,
}

/// Fields to change; the others keep their values.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBackupJob {
    #[schema(min_length = 1, max_length = 128, pattern = r"[^ \t\n\r]")]
    pub name: Option<String>,
    pub source: Option<Source>,
    /// An S3 storage sent without `secret_access_key` keeps the job's current secret.
    pub storage: Option<StorageInput>,
    pub compression: Option<Compression>,
    /// An encryption, or `null` to store new archives in clear (older ones stay readable).
    #[serde(default, deserialize_with = "present_encryption")]
    #[schema(value_type = Option<Encryption>)]
    pub encryption: Option<Option<Encryption>>,
    pub retention: Option<Retention>,
    pub hooks: Option<Hooks>,
    /// A schedule, or `null` to remove it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Schedule>)]
    pub schedule: Option<Option<Schedule>>,
}

/// A field that may be sent as `null` (`Some(None)`) or left out (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Schedule>>, D::Error> {
    Option::<Schedule>::deserialize(d).map(Some)
}

/// A job whose source is ContextBay's own database is created and changed by administrators
/// only (a copy of every user, key and secret of the installation, even sealed).
fn database_needs_admin(principal: &Principal, source: &Source) -> Result<(), ApiError> {
    if matches!(source, Source::Database) && principal.role != Role::Admin {
        return Err(ApiError::forbidden(
            "only administrators may create or change a backup job of ContextBay's own database",
        ));
    }
    Ok(())
}

fn present_encryption<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Encryption>>, D::Error> {
    Option::<Encryption>::deserialize(d).map(Some)
}

/// A run, started: its operation and its record.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunAccepted {
    pub operation: OperationView,
    pub record: RecordView,
}

/// Backup jobs, by name.
#[utoipa::path(get, path = "/api/backup-jobs", tag = "backups", params(PageQuery),
    responses((status = 200, body = Paginated<BackupJobView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<BackupJobView>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let (jobs, total) = state
        .store
        .backup_jobs()
        .list(crate::store::Page {
            limit: page.limit,
            offset: page.offset,
        })
        .await?;
    Ok(web::Json(Paginated {
        items: jobs.into_iter().map(BackupJobView::from).collect(),
        total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Create a backup job; the endpoint and the volume must exist.
#[utoipa::path(post, path = "/api/backup-jobs", tag = "backups", request_body = CreateBackupJob,
    responses((status = 201, body = BackupJobView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "A database source, asked by a non-administrator"),
        (status = 409, body = ErrorBody, description = "A job with this name exists"),
        (status = 502, body = ErrorBody, description = "The endpoint's engine failed")))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<CreateBackupJob>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    database_needs_admin(&principal, &b.source)?;
    let name = spec::check_name(&b.name)?;
    if b.hooks.as_ref().is_some_and(|h| h.exec.is_some()) {
        exec_hook_needs_admin(&principal)?;
    }
    let storage = spec::resolve_storage(&state, b.storage.unwrap_or(StorageInput::Local), None)?;
    let mut def = Definition {
        source: b.source,
        storage,
        compression: b.compression.unwrap_or_default(),
        retention: b.retention.unwrap_or_default(),
        hooks: b.hooks.unwrap_or_default(),
        schedule: b.schedule,
        encryption: None,
        age_identity_sealed: None,
    };
    spec::resolve_encryption(&state, b.encryption, &mut def)?;
    spec::check(&state, &def).await?;
    let job = state
        .store
        .backup_jobs()
        .create(&name, &def, &principal.username)
        .await?;
    Ok(HttpResponse::Created().json(BackupJobView::from(job)))
}

/// Commands in containers are the admin's (as the exec WebSocket is): an exec hook is set or
/// changed by an admin only.
fn exec_hook_needs_admin(principal: &Principal) -> Result<(), crate::error::ApiError> {
    if principal.has(crate::auth::Role::Admin) {
        return Ok(());
    }
    Err(crate::error::ApiError::forbidden(
        "hooks.exec runs a command in a container: only an admin may set or change it",
    ))
}

/// A backup job.
#[utoipa::path(get, path = "/api/backup-jobs/{id}", tag = "backups",
    params(("id" = uuid::Uuid, Path, description = "The job's id")),
    responses((status = 200, body = BackupJobView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<BackupJobView>> {
    let id = parse_path_id("backup job", &id)?;
    Ok(web::Json(state.store.backup_jobs().get(&id).await?.into()))
}

/// Change a backup job; the fields not sent keep their values.
#[utoipa::path(put, path = "/api/backup-jobs/{id}", tag = "backups",
    params(("id" = uuid::Uuid, Path, description = "The job's id")), request_body = UpdateBackupJob,
    responses((status = 200, body = BackupJobView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "A database source, changed by a non-administrator"),
        (status = 409, body = ErrorBody, description = "A job with this name exists"),
        (status = 502, body = ErrorBody, description = "The endpoint's engine failed")))]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: Body<UpdateBackupJob>,
) -> ApiResult<web::Json<BackupJobView>> {
    let id = parse_path_id("backup job", &id)?;
    let b = body.into_inner();
    let current = state.store.backup_jobs().get(&id).await?;
    database_needs_admin(&principal, &current.definition.source)?;
    if let Some(source) = &b.source {
        database_needs_admin(&principal, source)?;
    }
    let name = match &b.name {
        Some(n) => spec::check_name(n)?,
        None => current.name.clone(),
    };
    let d = current.definition;
    let storage = match b.storage {
        Some(input) => spec::resolve_storage(&state, input, Some(&d.storage))?,
        None => d.storage,
    };
    let wanted_encryption = b.encryption.unwrap_or(d.encryption);
    let old_exec = d.hooks.exec.clone();
    let old_source = d.source.clone();
    let mut def = Definition {
        source: b.source.unwrap_or(d.source),
        storage,
        compression: b.compression.unwrap_or(d.compression),
        retention: b.retention.unwrap_or(d.retention),
        hooks: b.hooks.unwrap_or(d.hooks),
        schedule: b.schedule.unwrap_or(d.schedule),
        encryption: d.encryption,
        age_identity_sealed: d.age_identity_sealed,
    };
    spec::resolve_encryption(&state, wanted_encryption, &mut def)?;
    // An exec hook set, changed, or pointed at another source takes the admin role.
    if def.hooks.exec.is_some() && (def.hooks.exec != old_exec || def.source != old_source) {
        exec_hook_needs_admin(&principal)?;
    }
    spec::check(&state, &def).await?;
    Ok(web::Json(
        state
            .store
            .backup_jobs()
            .update(&id, &name, &def)
            .await?
            .into(),
    ))
}

/// Delete a backup job with its records and their archives.
#[utoipa::path(delete, path = "/api/backup-jobs/{id}", tag = "backups",
    params(("id" = uuid::Uuid, Path, description = "The job's id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "An operation of the job is running"),
        (status = 503, body = ErrorBody, description = "The storage failed")))]
pub async fn delete(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = parse_path_id("backup job", &id)?;
    let job = state.store.backup_jobs().get(&id).await?;
    run::delete_job(&state, &job).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Run the job now: answers `202` with the operation (its address in `Location`) and the
/// record. Progress is published as `backup.progress`, the end as `backup.finished` (and a
/// `notification` when it failed).
#[utoipa::path(post, path = "/api/backup-jobs/{id}/run", tag = "backups",
    params(("id" = uuid::Uuid, Path, description = "The job's id")),
    responses((status = 202, body = RunAccepted, headers(("Location" = String, description = "/api/operations/{operation id}"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "An operation of the job is running (named in the message)")))]
pub async fn run(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_path_id("backup job", &id)?;
    let job = state.store.backup_jobs().get(&id).await?;
    let (op, record) = run::start_run(&state, job, "manual", Some(principal.username)).await?;
    Ok(HttpResponse::Accepted()
        .insert_header(("Location", format!("/api/operations/{}", op.id)))
        .json(RunAccepted {
            operation: op.into(),
            record: record.into(),
        }))
}
