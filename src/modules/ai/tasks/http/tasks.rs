//! `/api/ai/tasks` (AI module): background AI tasks, their transcripts, and the human decisions
//! they wait for.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::{PageQuery, Paginated, parse_path_id};
use crate::modules::ai::tasks::store::AiTaskStore;
use crate::modules::ai::tasks::{self, NewTask, Status, TaskView};
use crate::modules::ai::tools::Caller;
use crate::state::AppState;

/// Creates a task: it starts at once (`queued`, then `running`); follow it with
/// `GET /api/ai/tasks/{id}` or the `ai.task.*` events.
#[utoipa::path(post, path = "/api/ai/tasks", operation_id = "ai_tasks_create", tag = "ai",
    request_body = NewTask,
    responses((status = 201, body = TaskView), (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "A provider failed while the model was checked"),
        (status = 503, body = ErrorBody, description = "No AI provider is configured")))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<NewTask>,
) -> ApiResult<HttpResponse> {
    let task = tasks::create(&state, &Caller::from(&principal), body.into_inner()).await?;
    Ok(HttpResponse::Created().json(task))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TaskListQuery {
    /// Only tasks in this status.
    pub status: Option<Status>,
    /// Only the tasks of this conversation.
    pub conversation: Option<uuid::Uuid>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<i64>,
}

/// Every task, newest first (without transcripts).
#[utoipa::path(get, path = "/api/ai/tasks", operation_id = "ai_tasks_list", tag = "ai",
    params(TaskListQuery),
    responses((status = 200, body = Paginated<TaskView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<TaskListQuery>,
) -> ApiResult<web::Json<Paginated<TaskView>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let conversation = query.conversation.map(|c| c.to_string());
    let (rows, total) = state
        .store
        .ai_tasks()
        .list(
            query.status.map(Status::as_str),
            conversation.as_deref(),
            page.limit,
            page.offset,
        )
        .await?;
    let items = rows
        .into_iter()
        .map(TaskView::of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(web::Json(Paginated::new(items, total, page)))
}

/// A task with its transcript. A tool call's arguments and result are shown only to a reader
/// whose role may run that tool.
#[utoipa::path(get, path = "/api/ai/tasks/{id}", operation_id = "ai_tasks_get", tag = "ai",
    params(("id" = uuid::Uuid, Path, description = "The task's id")),
    responses((status = 200, body = TaskView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<web::Json<TaskView>> {
    let id = parse_path_id("AI task", &id)?;
    Ok(web::Json(tasks::detail(&state, &id, principal.role).await?))
}

/// Cancels a live task (any operator may): the model's stream and any running tool stop.
#[utoipa::path(post, path = "/api/ai/tasks/{id}/cancel", operation_id = "ai_tasks_cancel", tag = "ai",
    params(("id" = uuid::Uuid, Path, description = "The task's id")),
    responses((status = 200, body = TaskView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The task has ended")))]
pub async fn cancel(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<web::Json<TaskView>> {
    let id = parse_path_id("AI task", &id)?;
    Ok(web::Json(
        tasks::cancel(&state, &id, &Caller::from(&principal)).await?,
    ))
}

/// Re-runs a failed, interrupted or cancelled task as a new task (`retry_of` names this one,
/// whose transcript is kept). Its creator or an admin may.
#[utoipa::path(post, path = "/api/ai/tasks/{id}/retry", operation_id = "ai_tasks_retry", tag = "ai",
    params(("id" = uuid::Uuid, Path, description = "The task's id")),
    responses((status = 201, body = TaskView, description = "The new task"), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "Neither the task's creator nor an admin"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The task is live or succeeded"),
        (status = 503, body = ErrorBody, description = "No AI provider is configured")))]
pub async fn retry(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_path_id("AI task", &id)?;
    let task = tasks::retry(&state, &id, &Caller::from(&principal)).await?;
    Ok(HttpResponse::Created().json(task))
}

/// A human's answer to the tool call a task waits on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiTaskConfirmBody)]
pub struct ConfirmBody {
    /// Run the proposed call (`true`) or reject it (`false`; the rejection is the model's
    /// answer from the tool).
    pub approve: bool,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
}

/// Approves or rejects the call a task waits on (`awaiting_approval`). Takes an operator whose
/// role may run the proposed tool; who answered is kept in the transcript.
#[utoipa::path(post, path = "/api/ai/tasks/{id}/confirm", operation_id = "ai_tasks_confirm", tag = "ai",
    params(("id" = uuid::Uuid, Path, description = "The task's id")),
    request_body = ConfirmBody,
    responses((status = 200, body = TaskView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "The role may not run the proposed tool"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The task is not awaiting approval")))]
pub async fn confirm(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: Body<ConfirmBody>,
) -> ApiResult<web::Json<TaskView>> {
    let id = parse_path_id("AI task", &id)?;
    let body = body.into_inner();
    if body
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > 2000)
    {
        return Err(crate::error::ApiError::invalid_field(
            "reason",
            "reason is at most 2000 characters",
        ));
    }
    Ok(web::Json(
        tasks::confirm(
            &state,
            &id,
            &Caller::from(&principal),
            body.approve,
            body.reason,
        )
        .await?,
    ))
}

/// Deletes a task and its transcript (cancelling it first when it is live). Its creator or an
/// admin may.
#[utoipa::path(delete, path = "/api/ai/tasks/{id}", operation_id = "ai_tasks_delete", tag = "ai",
    params(("id" = uuid::Uuid, Path, description = "The task's id")),
    responses((status = 204, description = "Deleted"), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "Neither the task's creator nor an admin"),
        (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_path_id("AI task", &id)?;
    tasks::delete(&state, &id, &Caller::from(&principal)).await?;
    Ok(HttpResponse::NoContent().finish())
}
