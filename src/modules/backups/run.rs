//! Runs, restores and verifications: each is an operation in the job framework (`state.jobs`),
//! one at a time per backup job (the operation's resource is `backup-job:<id>`).
//!
//! A run streams end to end: the engine's tar stream of the volume (read through a helper
//! container that is never started) → a structure check → zstd → SHA-256 → a temporary file,
//! renamed into place once complete. Nothing is held whole in memory.

use async_compression::tokio::bufread::ZstdDecoder;
use async_compression::tokio::write::ZstdEncoder;
use bytes::Bytes;
use contextbay_actors::{Job, JobContext, JobFailure, JobSpec, JobState};
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use utoipa::ToSchema;

use super::BackupError;
use super::crypt;
use super::events::{BackupFinished, BackupProgress};
use super::sources;
use super::spec::{self, Compression, Source};
use super::storage::{self, Archives, HashingReader, HashingWriter};
use super::store::{BackupJob, BackupRecord, BackupsStore, RunOutcome};
use super::tar_check::TarCheck;
use super::{hooks, retention};
use crate::events::Notification;
use crate::state::AppState;
use crate::store::StoreError;

/// Progress is published every this many bytes read.
const PROGRESS_STEP: u64 = 8 * 1024 * 1024;
/// The write buffer in front of the archive file.
const WRITE_BUFFER: usize = 256 * 1024;

/// The resource of a backup job's operations: one at a time per job.
pub fn resource_of(job_id: &str) -> String {
    format!("backup-job:{job_id}")
}

/// What a successful run produced (the operation's result).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunResult {
    pub record_id: String,
    pub size_bytes: u64,
    /// Bytes of the tar stream read from the volume.
    pub source_bytes: u64,
    pub files: u64,
    pub sha256: String,
    pub storage_key: String,
}

/// Starts a run of `job` as an operation, with its record (`running`). `origin`: `manual` or
/// `schedule`. Refused (busy) while another operation of the job is active.
pub async fn start_run(
    state: &AppState,
    job: BackupJob,
    origin: &'static str,
    by: Option<String>,
) -> Result<(Job, BackupRecord), BackupError> {
    let (tx, rx) = tokio::sync::oneshot::channel::<BackupRecord>();
    let spec = JobSpec {
        kind: "backup.run".into(),
        resource: resource_of(&job.id),
        created_by: by,
    };
    let compression = match job.definition.compression {
        Compression::Zstd => "zstd",
        Compression::None => "none",
    };
    let (st, job2) = (state.clone(), job.clone());
    let op = state
        .jobs
        .submit(spec, move |ctx| async move {
            let Ok(record) = rx.await else {
                return Err(JobFailure::from(
                    "the run's record could not be written".to_owned(),
                ));
            };
            run_backup(st, job2, record, ctx).await
        })
        .await
        .map_err(BackupError::Busy)?;
    let record = state
        .store
        .backup_records()
        .start(&job.id, &op.id, origin, compression)
        .await?;
    // The work waits for its record; if it is gone (cancelled), the record is reconciled.
    let _ = tx.send(record.clone());
    Ok((op, record))
}

async fn run_backup(
    state: AppState,
    job: BackupJob,
    record: BackupRecord,
    ctx: JobContext,
) -> Result<Value, JobFailure> {
    let result = backup(&state, &job, &record, &ctx).await;
    let outcome = match &result {
        Ok(done) => RunOutcome {
            status: "succeeded",
            size_bytes: i64::try_from(done.size_bytes).ok(),
            files: i64::try_from(done.files).ok(),
            sha256: Some(done.sha256.clone()),
            storage_key: Some(done.storage_key.clone()),
            error: None,
        },
        Err(e) => RunOutcome {
            status: "failed",
            size_bytes: None,
            files: None,
            sha256: None,
            storage_key: None,
            error: Some(e.to_string()),
        },
    };
    if let Err(err) = state
        .store
        .backup_records()
        .finish(&record.id, &outcome)
        .await
    {
        tracing::error!(record = %record.id, %err, "writing a backup record");
    }
    state
        .events
        .publish_committed(BackupFinished {
            job_id: job.id.clone(),
            record_id: record.id.clone(),
            status: outcome.status.into(),
            size_bytes: outcome.size_bytes,
            error: outcome.error.clone(),
        })
        .await;
    match result {
        Ok(done) => {
            if let Err(err) = retention::apply(&state, &job).await {
                tracing::warn!(job = %job.id, %err, "applying a backup job's retention");
            }
            Ok(serde_json::to_value(done).unwrap_or(Value::Null))
        }
        Err(e) => {
            state
                .events
                .publish_committed(Notification {
                    title: "Backup failed".into(),
                    body: format!("backup job '{}' failed: {e}", job.name),
                    level: "error".into(),
                    alert_id: None,
                })
                .await;
            Err(JobFailure::from(e.to_string()))
        }
    }
}

/// The endpoint and volume of a volume job; a database job is not restored through the API.
fn volume_of(job: &BackupJob) -> Result<(&str, &str), BackupError> {
    match &job.definition.source {
        Source::Volume { endpoint, volume } => Ok((endpoint.as_str(), volume.as_str())),
        Source::Database => Err(BackupError::InvalidField {
            field: "record".into(),
            message: super::database::RESTORE_REFUSED.into(),
        }),
    }
}

async fn backup(
    state: &AppState,
    job: &BackupJob,
    record: &BackupRecord,
    ctx: &JobContext,
) -> Result<RunResult, BackupError> {
    if let Source::Database = job.definition.source {
        return backup_database(state, job, record, ctx).await;
    }
    let (endpoint, volume) = volume_of(job)?;
    let place = sources::place_of(state, endpoint).await?;
    if !place.volume_exists(volume).await? {
        return Err(BackupError::Engine(format!(
            "volume '{volume}' no longer exists on endpoint '{endpoint}'"
        )));
    }
    let (archives, key, identity) = sink_of(state, job, record).await?;
    let compression = job.definition.compression;
    if let Some(exec) = &job.definition.hooks.exec {
        ctx.progress(
            None,
            format!("running the exec hook in '{}'", exec.container),
        );
        hooks::run_exec(state, endpoint, exec).await?;
    }
    let mut source = place
        .open_read(volume, job.definition.hooks.stop_containers)
        .await?;
    let copied = async {
        let pending = archives.create(&key).await?;
        let tar = &mut source.tar;
        let progress = Progress {
            state,
            job_id: &job.id,
            record_id: &record.id,
            ctx,
        };
        let mut sink = HashingWriter::new(BufWriter::with_capacity(WRITE_BUFFER, pending));
        let written = sink.counter();
        let (read, files) = {
            let mut w = layers(&mut sink, compression, identity.as_ref()).await?;
            let counted = pump(tar, &mut w, &written, &progress).await?;
            w.shutdown().await.map_err(write_error)?;
            counted
        };
        let (buffered, sha256, size) = sink.into_parts();
        let pending = buffered.into_inner();
        progress.report(read, size);
        Ok::<_, BackupError>((pending, read, files, sha256, size))
    }
    .await;
    let problems = source.finish(copied.is_err()).await;
    let (pending, read, files, sha256, size) = copied?;
    if !problems.is_empty() {
        // The pending object is dropped (deleted): a run that could not restore the
        // containers' state is not reported as a success.
        return Err(BackupError::Engine(problems.join("; ")));
    }
    pending.commit().await?;
    Ok(RunResult {
        record_id: record.id.clone(),
        size_bytes: size,
        source_bytes: read,
        files,
        sha256,
        storage_key: key,
    })
}

/// A run of a database job: a consistent copy of the database (removed afterwards), archived
/// through the same pipeline.
async fn backup_database(
    state: &AppState,
    job: &BackupJob,
    record: &BackupRecord,
    ctx: &JobContext,
) -> Result<RunResult, BackupError> {
    ctx.progress(None, "copying the database");
    let snapshot = super::database::snapshot(state).await?;
    let tar = super::database::tar_stream(&snapshot).await?;
    let (archives, key, identity) = sink_of(state, job, record).await?;
    let progress = Progress {
        state,
        job_id: &job.id,
        record_id: &record.id,
        ctx,
    };
    let pending = archives.create(&key).await?;
    let mut sink = HashingWriter::new(BufWriter::with_capacity(WRITE_BUFFER, pending));
    let written = sink.counter();
    let (read, files) = {
        let mut w = layers(&mut sink, job.definition.compression, identity.as_ref()).await?;
        let counted = pump(tar, &mut w, &written, &progress).await?;
        w.shutdown().await.map_err(write_error)?;
        counted
    };
    let (buffered, sha256, size) = sink.into_parts();
    progress.report(read, size);
    buffered.into_inner().commit().await?;
    drop(snapshot);
    Ok(RunResult {
        record_id: record.id.clone(),
        size_bytes: size,
        source_bytes: read,
        files,
        sha256,
        storage_key: key,
    })
}

/// Where a run of `job` writes: the job's storage, the object's key (`….age` when encrypted) and
/// the job's age identity when it encrypts.
async fn sink_of(
    state: &AppState,
    job: &BackupJob,
    record: &BackupRecord,
) -> Result<(Archives, String, Option<age::pq::Identity>), BackupError> {
    let archives = Archives::of(state, &job.definition.storage).await?;
    let extension = job.definition.compression.extension();
    Ok(match job.definition.encryption {
        Some(spec::Encryption::Age) => (
            archives,
            storage::key_of(
                &job.id,
                &record.id,
                &format!("{extension}.{}", crypt::EXTENSION),
            ),
            Some(crypt::identity_of(
                state,
                job.definition.age_identity_sealed.as_deref(),
            )?),
        ),
        None => (
            archives,
            storage::key_of(&job.id, &record.id, extension),
            None,
        ),
    })
}

/// The writers in front of the stored object: `zstd → age → base` (each optional).
async fn layers<'a, W: AsyncWrite + Unpin + Send + 'a>(
    base: W,
    compression: Compression,
    identity: Option<&age::pq::Identity>,
) -> Result<std::pin::Pin<Box<dyn AsyncWrite + Send + 'a>>, BackupError> {
    let sealed: std::pin::Pin<Box<dyn AsyncWrite + Send + 'a>> = match identity {
        Some(id) => Box::pin(crypt::encrypt(id, base).await?),
        None => Box::pin(base),
    };
    Ok(match compression {
        Compression::Zstd => Box::pin(ZstdEncoder::new(sealed)),
        Compression::None => sealed,
    })
}

/// The readers behind a stored object: `base → age → zstd` (each as the record's object has
/// them), giving the tar stream.
async fn plain<'a, R: AsyncRead + Unpin + Send + 'a>(
    state: &AppState,
    job: &BackupJob,
    record: &BackupRecord,
    key: &str,
    base: R,
) -> Result<std::pin::Pin<Box<dyn AsyncRead + Send + 'a>>, BackupError> {
    let opened: std::pin::Pin<Box<dyn AsyncRead + Send + 'a>> = if crypt::is_encrypted(key) {
        let id = crypt::identity_of(state, job.definition.age_identity_sealed.as_deref())?;
        Box::pin(crypt::decrypt(&id, base).await?)
    } else {
        Box::pin(base)
    };
    Ok(match record.compression.as_str() {
        "zstd" => Box::pin(ZstdDecoder::new(BufReader::with_capacity(
            WRITE_BUFFER,
            opened,
        ))),
        _ => opened,
    })
}

fn write_error(e: std::io::Error) -> BackupError {
    BackupError::Storage(format!("writing the archive: {e}"))
}

struct Progress<'a> {
    state: &'a AppState,
    job_id: &'a str,
    record_id: &'a str,
    ctx: &'a JobContext,
}

impl Progress<'_> {
    fn report(&self, read: u64, written: u64) {
        self.ctx
            .progress(None, format!("{read} bytes read, {written} bytes written"));
        self.state.events.emit(BackupProgress {
            job_id: self.job_id.to_owned(),
            record_id: self.record_id.to_owned(),
            bytes: read,
            written,
        });
    }
}

/// Copies the tar stream into `w`, checking its structure on the way; (bytes read, entries).
async fn pump<W: AsyncWrite + Unpin, E: std::fmt::Display>(
    tar: impl Stream<Item = Result<Bytes, E>>,
    w: &mut W,
    written: &std::sync::atomic::AtomicU64,
    progress: &Progress<'_>,
) -> Result<(u64, u64), BackupError> {
    let mut tar = std::pin::pin!(tar);
    let mut check = TarCheck::new();
    let (mut read, mut next) = (0u64, PROGRESS_STEP);
    while let Some(chunk) = tar.next().await {
        let chunk = chunk.map_err(|e| BackupError::Engine(format!("reading the source: {e}")))?;
        check
            .feed(&chunk)
            .map_err(|e| BackupError::Corrupt(format!("the engine's tar stream: {e}")))?;
        w.write_all(&chunk).await.map_err(write_error)?;
        read += chunk.len() as u64;
        if read >= next {
            progress.report(read, written.load(std::sync::atomic::Ordering::Relaxed));
            next = read + PROGRESS_STEP;
        }
    }
    let files = check
        .finish()
        .map_err(|e| BackupError::Corrupt(format!("the engine's tar stream: {e}")))?;
    Ok((read, files))
}

/// Re-reads a record's object: its size and SHA-256 against the record, and its tar structure
/// (after decompression). Answers the number of entries.
pub async fn verify_object(
    state: &AppState,
    job: &BackupJob,
    record: &BackupRecord,
) -> Result<u64, BackupError> {
    let key = record
        .storage_key
        .as_deref()
        .ok_or_else(|| BackupError::Conflict("the record has no archive".into()))?;
    let archives = Archives::of(state, &job.definition.storage).await?;
    let (file, len) = archives.open(key).await?;
    if record.size_bytes.and_then(|s| u64::try_from(s).ok()) != Some(len) {
        return Err(BackupError::Corrupt(format!(
            "the archive is {len} bytes, the record says {}",
            record.size_bytes.unwrap_or(0)
        )));
    }
    let mut reader = HashingReader::new(file);
    let mut check = TarCheck::new();
    let decoded = async {
        let mut tar = plain(state, job, record, key, &mut reader).await?;
        feed_all(&mut tar, &mut check).await
    }
    .await;
    // Hash what the decoder did not need too: the checksum covers the whole object.
    tokio::io::copy(&mut reader, &mut tokio::io::sink())
        .await
        .map_err(|e| BackupError::Storage(format!("reading the archive: {e}")))?;
    let (sha256, _) = reader.finish();
    if record.sha256.as_deref() != Some(sha256.as_str()) {
        return Err(BackupError::Corrupt(format!(
            "checksum mismatch: the archive's SHA-256 is {sha256}, the record says {}",
            record.sha256.as_deref().unwrap_or("nothing")
        )));
    }
    decoded?;
    check
        .finish()
        .map_err(|e| BackupError::Corrupt(format!("the archive: {e}")))
}

async fn feed_all<R: AsyncRead + Unpin>(
    r: &mut R,
    check: &mut TarCheck,
) -> Result<(), BackupError> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r
            .read(&mut buf)
            .await
            .map_err(|e| BackupError::Corrupt(format!("the archive does not decode: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        check
            .feed(&buf[..n])
            .map_err(|e| BackupError::Corrupt(format!("the archive: {e}")))?;
    }
}

/// Starts verifying a record as an operation; its result is `{ok, files, error}` and the record
/// keeps `verified_at` and `verify_error`.
pub async fn start_verify(
    state: &AppState,
    job: &BackupJob,
    record: BackupRecord,
    by: Option<String>,
) -> Result<Job, BackupError> {
    succeeded(&record)?;
    let spec = JobSpec {
        kind: "backup.verify".into(),
        resource: resource_of(&job.id),
        created_by: by,
    };
    let (st, job) = (state.clone(), job.clone());
    state
        .jobs
        .submit(spec, move |_ctx| async move {
            let verdict = verify_object(&st, &job, &record).await;
            let error = verdict.as_ref().err().map(ToString::to_string);
            st.store
                .backup_records()
                .verified(&record.id, error.as_deref())
                .await
                .map_err(|e| JobFailure::from(e.to_string()))?;
            match verdict {
                Ok(files) => Ok(json!({"ok": true, "files": files, "record_id": record.id})),
                Err(e) => Err(JobFailure {
                    message: e.to_string(),
                    result: Some(
                        json!({"ok": false, "error": e.to_string(), "record_id": record.id}),
                    ),
                }),
            }
        })
        .await
        .map_err(BackupError::Busy)
}

fn succeeded(record: &BackupRecord) -> Result<(), BackupError> {
    if record.status != "succeeded" || record.storage_key.is_none() {
        return Err(BackupError::Conflict(format!(
            "record {} is {}, not a successful backup",
            record.id, record.status
        )));
    }
    Ok(())
}

/// Where a restore writes: the job's own volume, or a new one.
pub enum RestoreTarget {
    Original,
    NewVolume(String),
}

/// Starts restoring a record as an operation: the archive is verified first (nothing is written
/// from a damaged archive), then extracted into the volume through a helper container. Into the
/// original volume, its running users are stopped for the duration and started again whatever
/// happens; into a new volume, the volume is created, and removed again if the restore fails.
pub async fn start_restore(
    state: &AppState,
    job: &BackupJob,
    record: BackupRecord,
    target: RestoreTarget,
    by: Option<String>,
) -> Result<Job, BackupError> {
    succeeded(&record)?;
    let (endpoint, volume) = volume_of(job)?;
    let place = sources::place_of(state, endpoint).await?;
    let (volume, new) = match target {
        RestoreTarget::Original => {
            if !place.volume_exists(volume).await? {
                return Err(BackupError::Conflict(format!(
                    "volume '{volume}' no longer exists on endpoint '{endpoint}'; restore into \
                     a new volume"
                )));
            }
            (volume.to_owned(), false)
        }
        RestoreTarget::NewVolume(name) => {
            spec::check_volume_name("volume", &name)?;
            if place.volume_exists(&name).await? {
                return Err(BackupError::Conflict(format!(
                    "volume '{name}' already exists on endpoint '{endpoint}'"
                )));
            }
            (name, true)
        }
    };
    let spec = JobSpec {
        kind: "backup.restore".into(),
        resource: resource_of(&job.id),
        created_by: by,
    };
    let (st, job) = (state.clone(), job.clone());
    state
        .jobs
        .submit(spec, move |ctx| async move {
            restore(&st, place, &job, record, &volume, new, &ctx)
                .await
                .map_err(|e| JobFailure::from(e.to_string()))
        })
        .await
        .map_err(BackupError::Busy)
}

async fn restore(
    state: &AppState,
    place: sources::VolumePlace,
    job: &BackupJob,
    record: BackupRecord,
    volume: &str,
    new: bool,
    ctx: &JobContext,
) -> Result<Value, BackupError> {
    ctx.progress(Some(0), "verifying the archive");
    let files = verify_object(state, job, &record)
        .await
        .map_err(|e| BackupError::Corrupt(format!("the archive failed verification: {e}")))?;
    ctx.progress(
        Some(50),
        format!("restoring {files} entries into '{volume}'"),
    );
    let archives = Archives::of(state, &job.definition.storage).await?;
    let key = record.storage_key.clone().unwrap_or_default();
    let (file, _) = archives.open(&key).await?;
    let tar = plain(state, job, &record, &key, file).await?;
    place.write(volume, new, tar).await?;
    Ok(json!({"record_id": record.id, "volume": volume, "files": files}))
}

/// Records still `running` whose operation ended without finishing them (the master stopped or
/// the operation was cancelled) take the operation's end: `interrupted`, or `failed` with its
/// error. Called at start-up and before records are listed.
pub async fn reconcile(state: &AppState) -> Result<(), BackupError> {
    let running = state.store.backup_records().running().await?;
    if running.is_empty() {
        return Ok(());
    }
    // An operation just submitted may not be in the store yet: the registry knows it.
    let active: Vec<String> = state
        .jobs
        .active()
        .await
        .map(|jobs| jobs.into_iter().map(|j| j.id).collect())
        .unwrap_or_default();
    for r in running {
        let Some(op) = r.operation_id.as_deref() else {
            continue;
        };
        if active.iter().any(|id| id == op) {
            continue;
        }
        let (status, error) = match state.store.jobs().get(op).await {
            Ok(j) if j.state == JobState::Interrupted => (
                "interrupted",
                "the master stopped while the backup ran".to_owned(),
            ),
            Ok(j) if j.state.is_terminal() => (
                "failed",
                j.error
                    .unwrap_or_else(|| format!("the operation ended {}", j.state.as_str())),
            ),
            Ok(_) => continue,
            Err(StoreError::NotFound(_)) => ("interrupted", "the operation is gone".to_owned()),
            Err(e) => return Err(e.into()),
        };
        state
            .store
            .backup_records()
            .finish(
                &r.id,
                &RunOutcome {
                    status,
                    size_bytes: None,
                    files: None,
                    sha256: None,
                    storage_key: None,
                    error: Some(error),
                },
            )
            .await?;
    }
    Ok(())
}

/// Deletes a job with its records and their objects (refused while an operation of the job
/// runs).
pub async fn delete_job(state: &AppState, job: &BackupJob) -> Result<(), BackupError> {
    let active = state
        .jobs
        .active()
        .await
        .map_err(|e| BackupError::Engine(format!("the job registry did not answer: {e}")))?;
    let resource = resource_of(&job.id);
    if let Some(op) = active.iter().find(|j| j.resource == resource) {
        return Err(BackupError::Conflict(format!(
            "operation {} ({}) is running on this backup job",
            op.id, op.kind
        )));
    }
    let archives = Archives::of(state, &job.definition.storage).await?;
    for r in state.store.backup_records().all_of(&job.id).await? {
        if let Some(key) = &r.storage_key {
            archives.delete(key).await?;
        }
    }
    state.store.backup_jobs().delete(&job.id).await?;
    archives.remove_job(&job.id).await;
    Ok(())
}
