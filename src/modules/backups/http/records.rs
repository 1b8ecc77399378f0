//! `/api/backup-jobs/{id}/records`: the runs of a backup job, and what can be done with a
//! successful one: verify, download (with HTTP range requests) and restore.

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::http::extract::{Body, Query};
use crate::http::stacks::OperationAccepted;
use crate::http::{PageQuery, Paginated, parse_id, parse_path_id, ts};
use crate::modules::backups::crypt as crypto;
use crate::modules::backups::run::{self, RestoreTarget};
use crate::modules::backups::storage;
use crate::modules::backups::store::{BackupRecord, BackupsStore};
use crate::state::AppState;

/// One run of a backup job.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    pub id: String,
    pub job_id: String,
    /// The operation that ran it (`/api/operations/{id}`).
    pub operation_id: Option<String>,
    pub status: RecordStatus,
    /// `manual` or `schedule`.
    pub origin: String,
    /// Bytes of the stored archive.
    pub size_bytes: Option<i64>,
    /// Entries (files, directories, links) in the archive.
    pub files: Option<i64>,
    /// Hex SHA-256 of the stored archive.
    pub sha256: Option<String>,
    /// The archive's key in the storage.
    pub storage_key: Option<String>,
    /// `zstd` or `none`.
    pub compression: String,
    /// Why it failed.
    pub error: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    /// When it was last verified, and what was wrong (null: intact).
    pub verified_at: Option<String>,
    pub verify_error: Option<String>,
}

/// Where a run is.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecordStatus {
    Running,
    Succeeded,
    Failed,
    /// The master stopped while it ran.
    Interrupted,
}

impl From<BackupRecord> for RecordView {
    fn from(r: BackupRecord) -> Self {
        Self {
            status: match r.status.as_str() {
                "running" => RecordStatus::Running,
                "succeeded" => RecordStatus::Succeeded,
                "interrupted" => RecordStatus::Interrupted,
                _ => RecordStatus::Failed,
            },
            duration_ms: r.finished_at.map(|f| f - r.started_at),
            id: r.id,
            job_id: r.job_id,
            operation_id: r.operation_id,
            origin: r.origin,
            size_bytes: r.size_bytes,
            files: r.files,
            sha256: r.sha256,
            storage_key: r.storage_key,
            compression: r.compression,
            error: r.error,
            started_at: ts(r.started_at),
            finished_at: r.finished_at.map(ts),
            verified_at: r.verified_at.map(ts),
            verify_error: r.verify_error,
        }
    }
}

/// Where to restore.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// A new volume to create on the job's endpoint and restore into (it must not exist);
    /// absent: the job's own volume, whose running containers are stopped for the duration and
    /// started again afterwards (files the archive does not hold are kept).
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
    )]
    pub volume: Option<String>,
}

/// The ids of `{id}` and `{rid}`, each a UUID (a 400 naming it).
fn ids(path: &(String, String)) -> Result<(String, String), ApiError> {
    Ok((
        parse_path_id("backup job", &path.0)?,
        parse_id("backup record", &path.1).map_err(|e| e.with_field("rid"))?,
    ))
}

/// The record `rid` of job `id` (404 for either).
async fn record_of(
    state: &AppState,
    path: &(String, String),
) -> ApiResult<(crate::modules::backups::store::BackupJob, BackupRecord)> {
    let (id, rid) = ids(path)?;
    let job = state.store.backup_jobs().get(&id).await?;
    let record = state.store.backup_records().get(&id, &rid).await?;
    Ok((job, record))
}

/// The job's runs, newest first.
#[utoipa::path(get, path = "/api/backup-jobs/{id}/records", operation_id = "list_records", tag = "backups",
    params(("id" = uuid::Uuid, Path, description = "The job's id"), PageQuery),
    responses((status = 200, body = Paginated<RecordView>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<RecordView>>> {
    let id = parse_path_id("backup job", &id)?;
    let page = PageQuery::page(query.limit, query.offset)?;
    state.store.backup_jobs().get(&id).await?;
    run::reconcile(&state).await?;
    let (items, total) = state
        .store
        .backup_records()
        .list(
            &id,
            crate::store::Page {
                limit: page.limit,
                offset: page.offset,
            },
        )
        .await?;
    Ok(web::Json(Paginated {
        items: items.into_iter().map(RecordView::from).collect(),
        total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Restore a successful run into the job's volume or a new one, as an operation (`202`). The
/// archive is verified first; nothing is written from a damaged one.
#[utoipa::path(post, path = "/api/backup-jobs/{id}/records/{rid}/restore", operation_id = "restore_record", tag = "backups",
    params(("id" = uuid::Uuid, Path, description = "The job's id"), ("rid" = uuid::Uuid, Path, description = "The record's id")),
    request_body = RestoreRequest,
    responses((status = 202, body = OperationAccepted, headers(("Location" = String, description = "/api/operations/{operation id}"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The record is not a successful backup, the new volume exists, or an operation of the job is running"),
        (status = 502, body = ErrorBody, description = "The endpoint's engine failed")))]
pub async fn restore(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Body<RestoreRequest>,
) -> ApiResult<HttpResponse> {
    let (job, record) = record_of(&state, &path).await?;
    let target = match body.into_inner().volume {
        Some(v) => RestoreTarget::NewVolume(v),
        None => RestoreTarget::Original,
    };
    let op = run::start_restore(&state, &job, record, target, Some(principal.username)).await?;
    Ok(accepted(op))
}

/// Verify a successful run's archive as an operation (`202`): re-read from storage, its
/// SHA-256 and size compared with the record's and its tar structure decoded. The operation's
/// result is `{ok, files}` or `{ok: false, error}`; the record keeps `verified_at` and
/// `verify_error`.
#[utoipa::path(post, path = "/api/backup-jobs/{id}/records/{rid}/verify", operation_id = "verify_record", tag = "backups",
    params(("id" = uuid::Uuid, Path, description = "The job's id"), ("rid" = uuid::Uuid, Path, description = "The record's id")),
    responses((status = 202, body = OperationAccepted, headers(("Location" = String, description = "/api/operations/{operation id}"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The record is not a successful backup, or an operation of the job is running")))]
pub async fn verify(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (job, record) = record_of(&state, &path).await?;
    let op = run::start_verify(&state, &job, record, Some(principal.username)).await?;
    Ok(accepted(op))
}

fn accepted(op: contextbay_actors::Job) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header(("Location", format!("/api/operations/{}", op.id)))
        .json(OperationAccepted {
            operation: op.into(),
        })
}

/// What a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum Wanted {
    /// The whole object (no header, or one this server ignores: several ranges, other units,
    /// bad syntax — RFC 9110 14.2 allows ignoring it).
    All,
    /// Bytes `start..=end`.
    Part(u64, u64),
    Unsatisfiable,
}

fn wanted(header: Option<&str>, len: u64) -> Wanted {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Wanted::All;
    };
    if spec.contains(',') {
        return Wanted::All;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::All;
    };
    let parse = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.is_empty(), parse(first), parse(last)) {
        // `-n`: the last n bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                Wanted::Unsatisfiable
            } else {
                Wanted::Part(len.saturating_sub(n), len - 1)
            }
        }
        (false, Some(start), end) if last.is_empty() || end.is_some() => {
            if start >= len {
                return Wanted::Unsatisfiable;
            }
            match end {
                Some(end) if end < start => Wanted::All,
                Some(end) => Wanted::Part(start, end.min(len - 1)),
                None => Wanted::Part(start, len - 1),
            }
        }
        _ => Wanted::All,
    }
}

/// Download a successful run's archive (streamed, with `Content-Length`, its SHA-256 in
/// `X-Checksum-Sha256` and `Repr-Digest`, and single HTTP byte ranges: `206`, or `416` for a
/// range past the end).
#[utoipa::path(get, path = "/api/backup-jobs/{id}/records/{rid}/download", operation_id = "download_record", tag = "backups",
    params(("id" = uuid::Uuid, Path, description = "The job's id"), ("rid" = uuid::Uuid, Path, description = "The record's id"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`")),
    responses(
        (status = 200, description = "The archive", content_type = "application/octet-stream", body = Vec<u8>,
            headers(("X-Checksum-Sha256" = String, description = "Hex SHA-256 of the whole archive"), ("Accept-Ranges" = String))),
        (status = 206, description = "Part of the archive", content_type = "application/octet-stream", body = Vec<u8>,
            headers(("Content-Range" = String), ("X-Checksum-Sha256" = String, description = "Hex SHA-256 of the whole archive"))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody, description = "No such job or record, or its archive is missing"),
        (status = 409, body = ErrorBody, description = "The record is not a successful backup"),
        (status = 416, body = ErrorBody, description = "The range starts past the end"),
        (status = 503, body = ErrorBody, description = "The storage failed")))]
pub async fn download(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (job, record) = record_of(&state, &path).await?;
    let (Some(key), Some(sha256), "succeeded") = (
        record.storage_key.as_deref(),
        record.sha256.as_deref(),
        record.status.as_str(),
    ) else {
        return Err(ApiError::conflict(format!(
            "record {} is {}, not a successful backup",
            record.id, record.status
        )));
    };
    let archives = storage::Archives::of(&state, &job.definition.storage).await?;
    let len = archives.len(key).await?;
    let digest = hex::decode(sha256)
        .map(|d| base64::engine::general_purpose::STANDARD.encode(d))
        .unwrap_or_default();
    // An encrypted archive is given as stored (age): the checksum is the stored object's.
    let content_type = if crypto::is_encrypted(key) {
        "application/octet-stream"
    } else if record.compression == "zstd" {
        "application/zstd"
    } else {
        "application/x-tar"
    };
    let extension = key.split_once('.').map_or("tar", |(_, ext)| ext);
    let filename = format!("attachment; filename=\"{}.{extension}\"", record.id);
    let range = wanted(
        req.headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok()),
        len,
    );
    let mut res = match range {
        Wanted::Unsatisfiable => {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{len}")))
                .json(ErrorBody {
                    error: format!("the range starts past the end of the {len}-byte archive"),
                    code: ErrorCode::BadRequest,
                    request_id: crate::request_id::request_id(),
                    field: Some("Range".into()),
                }));
        }
        Wanted::All => {
            let (file, _) = archives.open(key).await?;
            let mut res = HttpResponse::Ok();
            res.body(SizedStream::new(
                len,
                tokio_util::io::ReaderStream::new(file),
            ))
        }
        Wanted::Part(start, end) => {
            let part = end - start + 1;
            let file = archives.open_range(key, start, part).await?;
            let mut res = HttpResponse::PartialContent();
            res.insert_header((header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}")));
            res.body(SizedStream::new(
                part,
                tokio_util::io::ReaderStream::new(file),
            ))
        }
    };
    let headers = res.headers_mut();
    for (name, value) in [
        ("accept-ranges", "bytes".to_owned()),
        ("x-checksum-sha256", sha256.to_owned()),
        ("repr-digest", format!("sha-256=:{digest}:")),
        ("content-type", content_type.to_owned()),
        ("content-disposition", filename),
    ] {
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            headers.insert(header::HeaderName::from_static(name), v);
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(wanted(None, 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=0-9"), 100), Wanted::Part(0, 9));
        assert_eq!(wanted(Some("bytes=90-"), 100), Wanted::Part(90, 99));
        assert_eq!(wanted(Some("bytes=90-500"), 100), Wanted::Part(90, 99));
        assert_eq!(wanted(Some("bytes=-10"), 100), Wanted::Part(90, 99));
        assert_eq!(wanted(Some("bytes=-500"), 100), Wanted::Part(0, 99));
        assert_eq!(wanted(Some("bytes=100-"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-0"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-1,5-6"), 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=5-1"), 100), Wanted::All);
        assert_eq!(wanted(Some("items=0-1"), 100), Wanted::All);
        assert_eq!(wanted(Some("bytes=a-1"), 100), Wanted::All);
    }
}
