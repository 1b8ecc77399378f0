//! The backups module's event kinds.

use serde::Serialize;
use utoipa::ToSchema;

use crate::events::EventDecl;

pub fn declared() -> Vec<EventDecl> {
    vec![
        EventDecl::of::<BackupProgress>(),
        EventDecl::of::<BackupFinished>(),
    ]
}

/// How far a run is: bytes read from the source and bytes written to storage so far.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackupProgress {
    pub job_id: String,
    pub record_id: String,
    /// Bytes of the tar stream read from the source.
    pub bytes: u64,
    /// Bytes of the (compressed) archive written to storage.
    pub written: u64,
}
crate::event!(
    BackupProgress,
    "backup.progress",
    Viewer,
    "a backup run's progress in bytes"
);

/// A run ended (its record as it is now: `succeeded` or `failed`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackupFinished {
    pub job_id: String,
    pub record_id: String,
    pub status: String,
    pub size_bytes: Option<i64>,
    pub error: Option<String>,
}
crate::event!(
    BackupFinished,
    "backup.finished",
    Viewer,
    "a backup run ended"
);
