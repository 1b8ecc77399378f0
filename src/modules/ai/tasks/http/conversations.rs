//! `/api/ai/conversations` (AI module): tasks that share context.

use actix_web::{HttpResponse, web};

use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::{PageQuery, Paginated, parse_path_id};
use crate::modules::ai::tasks::store::AiTaskStore;
use crate::modules::ai::tasks::{self, ConversationView, NewConversation, TaskView};
use crate::modules::ai::tools::Caller;
use crate::state::AppState;

/// Starts a conversation; tasks created with its `conversation_id` see its earlier tasks.
#[utoipa::path(post, path = "/api/ai/conversations", operation_id = "ai_conversations_create", tag = "ai",
    request_body = NewConversation,
    responses((status = 201, body = ConversationView), (status = 400, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<NewConversation>,
) -> ApiResult<HttpResponse> {
    let c =
        tasks::create_conversation(&state, &Caller::from(&principal), body.into_inner()).await?;
    Ok(HttpResponse::Created().json(c))
}

/// The tasks of a conversation, newest first.
#[utoipa::path(get, path = "/api/ai/conversations/{id}/tasks", operation_id = "ai_conversations_tasks", tag = "ai",
    params(("id" = uuid::Uuid, Path, description = "The conversation's id"), PageQuery),
    responses((status = 200, body = Paginated<TaskView>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn tasks(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<TaskView>>> {
    let id = parse_path_id("AI conversation", &id)?;
    let page = PageQuery::page(query.limit, query.offset)?;
    state.store.ai_tasks().conversation(&id).await?;
    let (rows, total) = state
        .store
        .ai_tasks()
        .list(None, Some(&id), page.limit, page.offset)
        .await?;
    let items = rows
        .into_iter()
        .map(TaskView::of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(web::Json(Paginated::new(items, total, page)))
}
