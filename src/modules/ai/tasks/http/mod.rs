//! The AI tasks' handlers: `/api/ai/tasks`, `/api/ai/conversations` and `/api/ai/sessions`.

pub mod conversations;
pub mod sessions;
pub mod tasks;

use crate::error::ApiError;
use crate::modules::ai::tasks::TaskError;

impl From<TaskError> for ApiError {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::Conflict(m) => ApiError::conflict(m),
            TaskError::Forbidden(m) => ApiError::forbidden(m),
            TaskError::Module(m) => m.into(),
        }
    }
}
