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
use super::events::{BackupFinished, BackupProgress};
use super::sources;
use super::spec::{self, Compression, Source};
use super::storage::{self, HashingReader, HashingWriter, Pending};
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

fn volume_of(job: &BackupJob) -> (&str, &str) {
    match &job.definition.source {
        Source::Volume { endpoint, volume } => (endpoint.as_str(), volume.as_str()),
    }
}

async fn backup(
    state: &AppState,
    job: &BackupJob,
    record: &BackupRecord,
    ctx: &JobContext,
) -> Result<RunResult, BackupError> {
    let (endpoint, volume) = volume_of(job);
    let place = sources::place_of(state, endpoint).await?;
    if !place.volume_exists(volume).await? {
        return Err(BackupError::Engine(format!(
            "volume '{volume}' no longer exists on endpoint '{endpoint}'"
        )));
    }
    let root = storage::root(state).await?;
    let compression = job.definition.compression;
    let key = storage::key_of(&job.id, &record.id, compression.extension());
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
        let (pending, file) = Pending::create(&root, &key).await?;
        let tar = &mut source.tar;
        let progress = Progress {
            state,
            job_id: &job.id,
            record_id: &record.id,
            ctx,
        };
        let sink = HashingWriter::new(BufWriter::with_capacity(WRITE_BUFFER, file));
        let (sink, read, files) = match compression {
            Compression::Zstd => {
                let mut enc = ZstdEncoder::new(sink);
                let (read, files) =
                    pump(tar, &mut enc, |w| w.get_ref().written(), &progress).await?;
                enc.shutdown().await.map_err(write_error)?;
                (enc.into_inner(), read, files)
            }
            Compression::None => {
                let mut sink = sink;
                let (read, files) = pump(tar, &mut sink, HashingWriter::written, &progress).await?;
                sink.shutdown().await.map_err(write_error)?;
                (sink, read, files)
            }
        };
        let (buffered, sha256, size) = sink.into_parts();
        buffered
            .into_inner()
            .sync_all()
            .await
            .map_err(write_error)?;
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
async fn pump<W: AsyncWrite + Unpin>(
    tar: impl Stream<Item = Result<Bytes, String>>,
    w: &mut W,
    written: impl Fn(&W) -> u64,
    progress: &Progress<'_>,
) -> Result<(u64, u64), BackupError> {
    let mut tar = std::pin::pin!(tar);
    let mut check = TarCheck::new();
    let (mut read, mut next) = (0u64, PROGRESS_STEP);
    while let Some(chunk) = tar.next().await {
        let chunk = chunk.map_err(|e| BackupError::Engine(format!("reading the volume: {e}")))?;
        check
            .feed(&chunk)
            .map_err(|e| BackupError::Corrupt(format!("the engine's tar stream: {e}")))?;
        w.write_all(&chunk).await.map_err(write_error)?;
        read += chunk.len() as u64;
        if read >= next {
            progress.report(read, written(w));
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
pub async fn verify_object(state: &AppState, record: &BackupRecord) -> Result<u64, BackupError> {
    let key = record
        .storage_key
        .as_deref()
        .ok_or_else(|| BackupError::Conflict("the record has no archive".into()))?;
    let root = storage::root(state).await?;
    let (file, len) = storage::open(&root, key).await?;
    if record.size_bytes.and_then(|s| u64::try_from(s).ok()) != Some(len) {
        return Err(BackupError::Corrupt(format!(
            "the archive is {len} bytes, the record says {}",
            record.size_bytes.unwrap_or(0)
        )));
    }
    let mut reader = HashingReader::new(file);
    let mut check = TarCheck::new();
    let decoded = match record.compression.as_str() {
        "zstd" => {
            let mut dec = ZstdDecoder::new(BufReader::new(&mut reader));
            feed_all(&mut dec, &mut check).await
        }
        _ => feed_all(&mut reader, &mut check).await,
    };
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
    let st = state.clone();
    state
        .jobs
        .submit(spec, move |_ctx| async move {
            let verdict = verify_object(&st, &record).await;
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
    let (endpoint, volume) = volume_of(job);
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
    let st = state.clone();
    state
        .jobs
        .submit(spec, move |ctx| async move {
            restore(&st, place, record, &volume, new, &ctx)
                .await
                .map_err(|e| JobFailure::from(e.to_string()))
        })
        .await
        .map_err(BackupError::Busy)
}

async fn restore(
    state: &AppState,
    place: sources::VolumePlace,
    record: BackupRecord,
    volume: &str,
    new: bool,
    ctx: &JobContext,
) -> Result<Value, BackupError> {
    ctx.progress(Some(0), "verifying the archive");
    let files = verify_object(state, &record)
        .await
        .map_err(|e| BackupError::Corrupt(format!("the archive failed verification: {e}")))?;
    ctx.progress(
        Some(50),
        format!("restoring {files} entries into '{volume}'"),
    );
    let root = storage::root(state).await?;
    let key = record.storage_key.clone().unwrap_or_default();
    let (file, _) = storage::open(&root, &key).await?;
    let reader = BufReader::with_capacity(WRITE_BUFFER, file);
    let tar: std::pin::Pin<Box<dyn AsyncRead + Send>> = match record.compression.as_str() {
        "zstd" => Box::pin(ZstdDecoder::new(reader)),
        _ => Box::pin(reader),
    };
    place.write(volume, new, tar).await?;
    Ok(json!({"record_id": record.id, "volume": volume, "files": files}))
}

/// Records still `running` whose operation ended without finishing them (the master stopped or
/// the operation was cancelled) take the operation's end: `interrupted`, or `failed` with its
/// error. Called at start-up and before records are listed.
pub async fn reconcile(state: &AppState) -> Result<(), BackupError> {
    for r in state.store.backup_records().running().await? {
        let Some(op) = r.operation_id.as_deref() else {
            continue;
        };
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
    let root = storage::root(state).await?;
    for r in state.store.backup_records().all_of(&job.id).await? {
        if let Some(key) = &r.storage_key {
            storage::delete(&root, key).await?;
        }
    }
    state.store.backup_jobs().delete(&job.id).await?;
    let _ = tokio::fs::remove_dir(root.join(&job.id)).await;
    Ok(())
}
