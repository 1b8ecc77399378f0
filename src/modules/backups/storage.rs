//! Where archives are kept, behind one interface ([`Archives`]): a directory on the master (the
//! module's `storage_dir` setting, relative to the data directory when not absolute; by default
//! `<data_dir>/backups`) or an S3-compatible bucket (`object_store`'s S3 client: SigV4, multipart
//! uploads). Objects stream both ways, never whole in memory.
//!
//! An object is never visible half-written: on a directory it is written under a temporary name
//! and renamed when complete (a leftover is removed at once or at the next start); in a bucket it
//! is a single PUT (under 10 MiB) or a multipart upload completed only by [`Pending::commit`], and
//! aborted when the write fails or is dropped.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWrite, AsyncWriteExt};

use super::{BackupError, spec};
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
    check_key(key)?;
    Ok(root.join(key))
}

fn check_key(key: &str) -> Result<(), BackupError> {
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
    Ok(())
}

/// What a read of an object gives: a stream of its bytes.
pub type Reader = Box<dyn AsyncRead + Send + Unpin>;

/// Retries of a failed S3 request (then the operation fails, naming the cause).
const S3_RETRIES: usize = 2;
/// How long an S3 request may retry in total.
const S3_RETRY_TIMEOUT: Duration = Duration::from_secs(20);
/// The size of an S3 upload's parts (and of the single PUT below it).
const S3_PART: usize = 10 * 1024 * 1024;

/// A job's storage, opened.
#[derive(Clone)]
pub enum Archives {
    /// A directory on the master.
    Local(PathBuf),
    /// A bucket: the client, the bucket's name and the key prefix.
    S3 {
        store: Arc<dyn ObjectStore>,
        bucket: String,
        prefix: Option<String>,
    },
}

impl Archives {
    /// The storage of a job's definition.
    pub async fn of(state: &AppState, storage: &spec::Storage) -> Result<Self, BackupError> {
        match storage {
            spec::Storage::Local => Ok(Self::Local(root(state).await?)),
            spec::Storage::S3(c) => {
                let secret = state
                    .secret_box
                    .open(&c.secret_access_key_sealed)
                    .map_err(|e| BackupError::Storage(format!("unsealing the S3 secret: {e}")))?;
                Self::s3(c, &secret)
            }
        }
    }

    /// A bucket's storage, with the secret access key in clear.
    pub fn s3(c: &spec::S3Storage, secret_access_key: &str) -> Result<Self, BackupError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&c.bucket)
            .with_region(c.region.as_deref().unwrap_or("us-east-1"))
            .with_access_key_id(&c.access_key_id)
            .with_secret_access_key(secret_access_key)
            .with_virtual_hosted_style_request(!c.path_style)
            .with_retry(RetryConfig {
                max_retries: S3_RETRIES,
                retry_timeout: S3_RETRY_TIMEOUT,
                backoff: BackoffConfig::default(),
            });
        builder = builder.with_http_connector(S3Connector);
        if let Some(endpoint) = &c.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder
            .build()
            .map_err(|e| BackupError::Storage(format!("configuring the S3 storage: {e}")))?;
        Ok(Self::S3 {
            store: Arc::new(store),
            bucket: c.bucket.clone(),
            prefix: c.prefix.clone(),
        })
    }

    /// The path of a key in the bucket (checked as [`path_of`] checks it).
    fn object(prefix: Option<&str>, key: &str) -> Result<ObjectPath, BackupError> {
        check_key(key)?;
        let full = match prefix {
            Some(p) => format!("{p}/{key}"),
            None => key.to_owned(),
        };
        ObjectPath::parse(&full)
            .map_err(|e| BackupError::Storage(format!("invalid storage key '{full}': {e}")))
    }

    fn s3_error(bucket: &str, what: &str, key: &str, e: object_store::Error) -> BackupError {
        match e {
            object_store::Error::NotFound { .. } => BackupError::ObjectMissing(key.to_owned()),
            other => BackupError::Storage(format!("S3 bucket '{bucket}': {what} '{key}': {other}")),
        }
    }

    /// Starts writing the object `key`; it is visible only once [`Pending::commit`] returned.
    pub async fn create(&self, key: &str) -> Result<Pending, BackupError> {
        match self {
            Self::Local(root) => {
                let target = path_of(root, key)?;
                if let Some(dir) = target.parent() {
                    tokio::fs::create_dir_all(dir)
                        .await
                        .map_err(|e| storage_error("creating the storage directory", dir, &e))?;
                }
                let temp =
                    target.with_extension(format!("{}{PARTIAL}", uuid::Uuid::new_v4().simple()));
                let file = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&temp)
                    .await
                    .map_err(|e| storage_error("creating the archive", &temp, &e))?;
                Ok(Pending {
                    inner: PendingInner::Local { temp, target, file },
                    committed: false,
                })
            }
            Self::S3 {
                store,
                bucket,
                prefix,
            } => {
                let path = Self::object(prefix.as_deref(), key)?;
                let writer = object_store::buffered::BufWriter::with_capacity(
                    Arc::clone(store),
                    path,
                    S3_PART,
                );
                Ok(Pending {
                    inner: PendingInner::S3 {
                        writer: Some(writer),
                        what: format!("S3 bucket '{bucket}': writing '{key}'"),
                    },
                    committed: false,
                })
            }
        }
    }

    /// Opens an object for reading, with its length.
    pub async fn open(&self, key: &str) -> Result<(Reader, u64), BackupError> {
        match self {
            Self::Local(root) => {
                let path = path_of(root, key)?;
                let file = open_file(&path, key).await?;
                let len = file
                    .metadata()
                    .await
                    .map_err(|e| storage_error("reading the archive's size", &path, &e))?
                    .len();
                Ok((Box::new(file), len))
            }
            Self::S3 {
                store,
                bucket,
                prefix,
            } => {
                let path = Self::object(prefix.as_deref(), key)?;
                let got = store
                    .get_opts(&path, GetOptions::default())
                    .await
                    .map_err(|e| Self::s3_error(bucket, "reading", key, e))?;
                let len = got.meta.size;
                Ok((Box::new(s3_reader(got)), len))
            }
        }
    }

    /// The object's length.
    pub async fn len(&self, key: &str) -> Result<u64, BackupError> {
        match self {
            Self::Local(_) => Ok(self.open(key).await?.1),
            Self::S3 {
                store,
                bucket,
                prefix,
            } => {
                let path = Self::object(prefix.as_deref(), key)?;
                Ok(store
                    .head(&path)
                    .await
                    .map_err(|e| Self::s3_error(bucket, "reading", key, e))?
                    .size)
            }
        }
    }

    /// Opens `len` bytes of an object from `start` (within its length).
    pub async fn open_range(&self, key: &str, start: u64, len: u64) -> Result<Reader, BackupError> {
        match self {
            Self::Local(root) => {
                let path = path_of(root, key)?;
                let mut file = open_file(&path, key).await?;
                file.seek(std::io::SeekFrom::Start(start))
                    .await
                    .map_err(|e| storage_error("seeking in the archive", &path, &e))?;
                Ok(Box::new(file.take(len)))
            }
            Self::S3 {
                store,
                bucket,
                prefix,
            } => {
                let path = Self::object(prefix.as_deref(), key)?;
                let got = store
                    .get_opts(
                        &path,
                        GetOptions {
                            range: Some(GetRange::Bounded(start..start + len)),
                            ..GetOptions::default()
                        },
                    )
                    .await
                    .map_err(|e| Self::s3_error(bucket, "reading", key, e))?;
                Ok(Box::new(s3_reader(got).take(len)))
            }
        }
    }

    /// Deletes an object (already gone is fine).
    pub async fn delete(&self, key: &str) -> Result<(), BackupError> {
        match self {
            Self::Local(root) => {
                let path = path_of(root, key)?;
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(storage_error("deleting the archive", &path, &e)),
                }
            }
            Self::S3 {
                store,
                bucket,
                prefix,
            } => {
                let path = Self::object(prefix.as_deref(), key)?;
                match store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(Self::s3_error(bucket, "deleting", key, e)),
                }
            }
        }
    }

    /// Removes what is left of a job once its objects are deleted (its empty directory).
    pub async fn remove_job(&self, job_id: &str) {
        if let Self::Local(root) = self {
            let _ = tokio::fs::remove_dir(root.join(job_id)).await;
        }
    }
}

fn s3_reader(got: object_store::GetResult) -> impl AsyncRead + Send + Unpin {
    tokio_util::io::StreamReader::new(
        got.into_stream()
            .map(|chunk| chunk.map_err(std::io::Error::other)),
    )
}

async fn open_file(path: &Path, key: &str) -> Result<tokio::fs::File, BackupError> {
    tokio::fs::File::open(path).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            BackupError::ObjectMissing(key.to_owned())
        } else {
            storage_error("opening the archive", path, &e)
        }
    })
}

/// An object being written (an [`AsyncWrite`]): shutting it down only flushes it; it becomes
/// visible with [`Pending::commit`]. Dropped before that, it leaves nothing: the temporary file
/// is removed, the multipart upload aborted.
pub struct Pending {
    inner: PendingInner,
    committed: bool,
}

enum PendingInner {
    Local {
        temp: PathBuf,
        target: PathBuf,
        file: tokio::fs::File,
    },
    S3 {
        writer: Option<object_store::buffered::BufWriter>,
        what: String,
    },
}

impl Pending {
    /// Makes the object visible under its key: the file synced and renamed, or the upload
    /// completed (a failed completion aborts the upload).
    pub async fn commit(mut self) -> Result<(), BackupError> {
        match &mut self.inner {
            PendingInner::Local { temp, target, file } => {
                file.flush()
                    .await
                    .map_err(|e| storage_error("writing the archive", temp, &e))?;
                file.sync_all()
                    .await
                    .map_err(|e| storage_error("syncing the archive", temp, &e))?;
                tokio::fs::rename(&temp, &target)
                    .await
                    .map_err(|e| storage_error("storing the archive", target, &e))?;
            }
            PendingInner::S3 { writer, what } => {
                // Taken first: a failed completion aborts the upload itself.
                let Some(mut w) = writer.take() else {
                    return Err(BackupError::Storage(format!("{what}: already completed")));
                };
                w.shutdown()
                    .await
                    .map_err(|e| BackupError::Storage(format!("{what}: {e}")))?;
            }
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        match &mut self.inner {
            // Best effort: a leftover is removed at the next start (`remove_partials`).
            PendingInner::Local { temp, .. } => {
                let _ = std::fs::remove_file(&*temp);
            }
            PendingInner::S3 { writer, what } => {
                if let (Some(mut w), Ok(rt)) =
                    (writer.take(), tokio::runtime::Handle::try_current())
                {
                    let what = what.clone();
                    rt.spawn(async move {
                        if let Err(e) = w.abort().await {
                            tracing::warn!(%e, "{what}: aborting the unfinished upload");
                        }
                    });
                }
            }
        }
    }
}

fn s3_io(what: &str, e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("{what}: {e}"))
}

impl AsyncWrite for Pending {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match &mut self.inner {
            PendingInner::Local { file, .. } => Pin::new(file).poll_write(cx, buf),
            PendingInner::S3 { writer, what } => match writer {
                Some(w) => Pin::new(w).poll_write(cx, buf).map_err(|e| s3_io(what, e)),
                None => Poll::Ready(Err(s3_io(what, "the upload is closed"))),
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.inner {
            PendingInner::Local { file, .. } => Pin::new(file).poll_flush(cx),
            PendingInner::S3 { writer, what } => match writer {
                Some(w) => Pin::new(w).poll_flush(cx).map_err(|e| s3_io(what, e)),
                None => Poll::Ready(Ok(())),
            },
        }
    }

    /// Only flushes: the object is completed by [`Pending::commit`].
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_flush(cx)
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
    counter: Arc<AtomicU64>,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hash: Sha256::new(),
            written: 0,
            counter: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// The count of bytes written, readable while the writer is borrowed by the layers above.
    pub fn counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.counter)
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
                this.counter.store(this.written, Ordering::Relaxed);
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

/// How long connecting to an S3 server may take.
const S3_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client of S3 storages: hyper with rustls (ring, the system's roots), for `http://`
/// and `https://` endpoints.
#[derive(Debug)]
struct S3Connector;

impl object_store::client::HttpConnector for S3Connector {
    fn connect(&self, _: &ClientOptions) -> object_store::Result<object_store::client::HttpClient> {
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(S3_CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https);
        Ok(object_store::client::HttpClient::new(S3Http(client)))
    }
}

type HyperClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    object_store::client::HttpRequestBody,
>;

#[derive(Debug)]
struct S3Http(HyperClient);

#[async_trait::async_trait]
impl object_store::client::HttpService for S3Http {
    async fn call(
        &self,
        req: object_store::client::HttpRequest,
    ) -> Result<object_store::client::HttpResponse, object_store::client::HttpError> {
        use object_store::client::{HttpError, HttpErrorKind, HttpResponseBody};
        let res = self.0.request(req).await.map_err(|e| {
            let kind = if e.is_connect() {
                HttpErrorKind::Connect
            } else {
                HttpErrorKind::Request
            };
            HttpError::new(kind, e)
        })?;
        Ok(res.map(|body| {
            HttpResponseBody::new(http_body_util::BodyExt::map_err(body, |e| {
                HttpError::new(HttpErrorKind::Interrupted, e)
            }))
        }))
    }
}
