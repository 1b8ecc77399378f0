//! The AI tasks' event kinds. Payloads name the task and its state, never a tool's result (the
//! transcript, read with the rules of `GET /api/ai/tasks/{id}`, holds those).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::events::EventDecl;

pub fn declared() -> Vec<EventDecl> {
    vec![
        EventDecl::of::<AiTaskCreated>(),
        EventDecl::of::<AiTaskUpdated>(),
        EventDecl::of::<AiTaskAwaitingApproval>(),
        EventDecl::of::<AiTaskStep>(),
        EventDecl::of::<AiTaskDeleted>(),
    ]
}

/// A task's state as events carry it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AiTaskRef {
    #[schema(format = Uuid)]
    pub id: String,
    /// queued, running, awaiting_approval, succeeded, failed, cancelled, interrupted.
    pub status: String,
    pub creator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct AiTaskCreated(pub AiTaskRef);
crate::event!(
    AiTaskCreated,
    "ai.task.created",
    Viewer,
    "an AI task was created"
);

#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct AiTaskUpdated(pub AiTaskRef);
crate::event!(
    AiTaskUpdated,
    "ai.task.updated",
    Viewer,
    "an AI task changed status (running, awaiting approval, finished)"
);

/// The call the model proposed, in full, waiting for `POST /api/ai/tasks/{id}/confirm`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AiTaskAwaitingApproval {
    #[schema(format = Uuid)]
    pub id: String,
    pub creator: String,
    /// The transcript step holding the request.
    pub seq: i64,
    pub tool: String,
    /// `read` or `write`.
    pub effect: String,
    #[schema(value_type = Object)]
    pub arguments: Value,
    pub call_id: String,
}
crate::event!(
    AiTaskAwaitingApproval,
    "ai.task.awaiting_approval",
    Viewer,
    "an AI task waits for a human to approve or reject a tool call"
);

/// A step was added to a task's transcript (read it with `GET /api/ai/tasks/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AiTaskStep {
    #[schema(format = Uuid)]
    pub id: String,
    pub seq: i64,
    pub kind: String,
}
crate::event!(
    AiTaskStep,
    "ai.task.step",
    Viewer,
    "a step was added to an AI task's transcript"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct AiTaskDeleted {
    #[schema(format = Uuid)]
    pub id: String,
    pub by: String,
}
crate::event!(
    AiTaskDeleted,
    "ai.task.deleted",
    Viewer,
    "an AI task and its transcript were deleted"
);
