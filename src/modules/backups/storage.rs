//! Where archives are kept: a directory on the master (the module's `storage_dir` setting,
//! relative to the data directory when not absolute; by default `<data_dir>/backups`). An object
//! is written under a temporary name and renamed when complete, so a failed or interrupted run
//! leaves no object behind (and its temporary file is removed, at once or at the next start).

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWrite;

use super::BackupError;
use crate::integrations::ModuleSettings;
use crate::modules::ModuleName;
use crate::state::AppState;

/// The suffix of objects being written.
const PARTIAL: &str = ".partial";

/// The storage directory as configured now.
pub async fn root(state: &AppState) -> Result<PathBuf, BackupError> {
    let settings = ModuleSettings::load(state, ModuleName::Backups).await?;
    let data = &state.config.storage.data_dir;
    Ok(
        match settings.text("storage_dir").filter(|s| !s.is_empty()) {
            Some(dir) => data.join(dir),
            None => data.join("backups"),
        },
    )
}

/// An object's key: `<job id>/<record id>.<extension>` (both ids are ours, never a client's).
pub fn key_of(job_id: &str, record_id: &str, extension: &str) -> String {
    format!("{job_id}/{record_id}.{extension}")
}

/// The path of a key under `root`; keys are made by [`key_of`], checked again here.
pub fn path_of(root: &Path, key: &str) -> Result<PathBuf, BackupError> {
    let ok = !key.is_empty()
        && key.split('/').count() == 2
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        });
    if !ok {
        return Err(BackupError::Storage(format!("invalid storage key '{key}'")));
    }
    Ok(root.join(key))
}

/// An object being written: a temporary file, removed unless [`Pending::commit`] renamed it.
pub struct Pending {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Pending {
    /// Starts writing the object `key`.
    pub async fn create(root: &Path, key: &str) -> Result<(Self, tokio::fs::File), BackupError> {
        let target = path_of(root, key)?;
        if let Some(dir) = target.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| storage_error("creating the storage directory", dir, &e))?;
        }
        let temp = target.with_extension(format!("{}{PARTIAL}", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .await
            .map_err(|e| storage_error("creating the archive", &temp, &e))?;
        Ok((
            Self {
                temp,
                target,
                committed: false,
            },
            file,
        ))
    }

    /// Makes the object visible under its key (after the file was flushed and synced).
    pub async fn commit(mut self) -> Result<(), BackupError> {
        tokio::fs::rename(&self.temp, &self.target)
            .await
            .map_err(|e| storage_error("storing the archive", &self.target, &e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: a leftover is removed at the next start (`remove_partials`).
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Opens an object for reading, with its length.
pub async fn open(root: &Path, key: &str) -> Result<(tokio::fs::File, u64), BackupError> {
    let path = path_of(root, key)?;
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            BackupError::ObjectMissing(key.to_owned())
        } else {
            storage_error("opening the archive", &path, &e)
        }
    })?;
    let len = file
        .metadata()
        .await
        .map_err(|e| storage_error("reading the archive's size", &path, &e))?
        .len();
    Ok((file, len))
}

/// Deletes an object (already gone is fine).
pub async fn delete(root: &Path, key: &str) -> Result<(), BackupError> {
    let path = path_of(root, key)?;
    match tokio::fs::remove_file(&path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(storage_error("deleting the archive", &path, &e)),
    }
}

/// Removes the temporary files runs of a previous master process left (called at start-up).
pub async fn remove_partials(root: &Path) {
    let Ok(mut jobs) = tokio::fs::read_dir(root).await else {
        return;
    };
    while let Ok(Some(dir)) = jobs.next_entry().await {
        let Ok(mut files) = tokio::fs::read_dir(dir.path()).await else {
            continue;
        };
        while let Ok(Some(f)) = files.next_entry().await {
            if f.file_name().to_string_lossy().ends_with(PARTIAL) {
                tracing::info!(path = %f.path().display(), "removing an unfinished backup object");
                let _ = tokio::fs::remove_file(f.path()).await;
            }
        }
    }
}

fn storage_error(what: &str, path: &Path, e: &std::io::Error) -> BackupError {
    BackupError::Storage(format!("{what} ({}): {e}", path.display()))
}

/// A writer that hashes (SHA-256) and counts what passes through it to `inner`.
pub struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    written: u64,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hash: Sha256::new(),
            written: 0,
        }
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// The inner writer, the hex SHA-256 and the byte count.
    pub fn into_parts(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hash.finalize()), self.written)
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for HashingWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => {
                this.hash.update(&buf[..n]);
                this.written += n as u64;
                Poll::Ready(Ok(n))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A reader that hashes (SHA-256) and counts what is read from `inner`.
pub struct HashingReader<R> {
    inner: R,
    hash: Sha256,
    read: u64,
}

impl<R> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hash: Sha256::new(),
            read: 0,
        }
    }

    /// The hex SHA-256 and the count of what was read.
    pub fn finish(self) -> (String, u64) {
        (hex::encode(self.hash.finalize()), self.read)
    }
}

impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for HashingReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            let new = &buf.filled()[before..];
            this.hash.update(new);
            this.read += new.len() as u64;
        }
        polled
    }
}
