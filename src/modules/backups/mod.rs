//! The backups module: backup jobs of Docker volumes, their runs (operations in the job
//! framework, streamed end to end: tar from the engine's archive API → zstd → SHA-256 → storage),
//! verification, download and restore.
//!
//! Handlers, in [`http`]: [`http::jobs`] (`/api/backup-jobs*`) and [`http::records`]
//! (`/api/backup-jobs/{id}/records*`). Domain code: [`spec`] (a job's definition and its
//! validation), [`run`] (runs, restores, verifications), [`retention`], [`storage`] (the archive
//! directory), [`tar_check`] (a streaming check of a tar's structure), [`store`] and [`events`].
//! The engine side (helper containers, the archive API) is `crate::docker::archive`.

pub mod crypt;
pub mod database;
pub mod events;
pub mod hooks;
pub mod http;
pub mod retention;
pub mod run;
pub mod scheduler;
pub mod sources;
pub mod spec;
pub mod storage;
pub mod store;
pub mod tar_check;

use http::{jobs, records};
use utoipa::OpenApi;

use super::{Module, ModuleName, StartFuture};
use crate::http::routes::{R, Route, W, delete, get, post, put};
use crate::state::AppState;
use crate::store::StoreError;

pub const MODULE: Module = Module {
    name: ModuleName::Backups,
    description: "Volume backup jobs with verify and restore",
    settings: &[crate::field!(
        "storage_dir",
        Text,
        false,
        "Where archives are written (relative to the data directory unless absolute; default \
         backups)"
    )],
    services: &[],
    routes,
    openapi: <Doc as OpenApi>::openapi,
    events: events::declared,
    start,
};

fn routes() -> Vec<Route> {
    vec![
        get("/api/backup-jobs", R, jobs::list),
        post("/api/backup-jobs", W, jobs::create),
        get("/api/backup-jobs/{id}", R, jobs::get),
        put("/api/backup-jobs/{id}", W, jobs::update),
        delete("/api/backup-jobs/{id}", W, jobs::delete),
        post("/api/backup-jobs/{id}/run", W, jobs::run),
        get("/api/backup-jobs/{id}/records", R, records::list),
        post(
            "/api/backup-jobs/{id}/records/{rid}/restore",
            W,
            records::restore,
        ),
        get(
            "/api/backup-jobs/{id}/records/{rid}/download",
            R,
            records::download,
        ),
        post(
            "/api/backup-jobs/{id}/records/{rid}/verify",
            W,
            records::verify,
        ),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(
    jobs::list,
    jobs::create,
    jobs::get,
    jobs::update,
    jobs::delete,
    jobs::run,
    records::list,
    records::restore,
    records::download,
    records::verify,
))]
struct Doc;

/// At start-up: records left `running` by a master that stopped become `interrupted`, the
/// temporary files of their unfinished objects are removed, and the scheduler starts.
fn start(state: AppState) -> StartFuture {
    Box::pin(async move {
        if let Err(err) = run::reconcile(&state).await {
            tracing::warn!(%err, "reconciling backup records");
        }
        match storage::root(&state).await {
            Ok(root) => storage::remove_partials(&root).await,
            Err(err) => tracing::warn!(%err, "finding the backup storage directory"),
        }
        scheduler::start(&state);
        Ok(())
    })
}

/// Why the backups module's domain code failed; mapped into the error table in [`http`].
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// An input field the module refuses (400 naming it).
    #[error("{message}")]
    InvalidField { field: String, message: String },
    /// The resource is not in a state that allows this (409).
    #[error("{0}")]
    Conflict(String),
    /// Another operation of the job is active, or too many run (409).
    #[error(transparent)]
    Busy(contextbay_actors::SubmitError),
    /// The Docker engine failed or cannot be reached (502).
    #[error("{0}")]
    Engine(String),
    /// The storage failed: full disk, permissions, … (503).
    #[error("{0}")]
    Storage(String),
    /// A record's object is missing from storage (404).
    #[error("the archive '{0}' is missing from storage")]
    ObjectMissing(String),
    /// An archive or a stream is damaged.
    #[error("{0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::docker::DockerError> for BackupError {
    fn from(e: crate::docker::DockerError) -> Self {
        Self::Engine(e.to_string())
    }
}
