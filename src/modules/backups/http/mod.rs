//! The backups module's handlers, one file per resource, and the mapping of its domain error
//! into the error table.

pub mod jobs;
pub mod records;

use crate::error::{ApiError, ErrorCode};
use crate::modules::backups::BackupError;

impl From<BackupError> for ApiError {
    fn from(err: BackupError) -> Self {
        match err {
            BackupError::InvalidField { field, message } => Self::invalid_field(field, message),
            BackupError::Conflict(m) => Self::conflict(m),
            BackupError::Busy(e) => e.into(),
            BackupError::Engine(m) => Self::new(ErrorCode::RemoteFailed, m),
            BackupError::Storage(m) => {
                tracing::error!("backup storage: {m}");
                Self::new(
                    ErrorCode::ServiceUnavailable,
                    "the backup storage failed; see the server log",
                )
            }
            e @ BackupError::ObjectMissing(_) => Self::not_found(e.to_string()),
            BackupError::Corrupt(m) => Self::conflict(m),
            BackupError::Store(e) => e.into(),
        }
    }
}
