//! `/api/ai/sessions` (AI module): long-lived conversations whose turns are AI tasks.

use actix_web::{HttpResponse, web};

use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::{PageQuery, Paginated, parse_path_id};
use crate::modules::ai::tasks::sessions::{
    self, NewSession, SessionDetail, SessionUpdate, SessionView,
};
use crate::modules::ai::tools::Caller;
use crate::state::AppState;

/// Starts a session; its turns are tasks created with its `session_id`.
#[utoipa::path(post, path = "/api/ai/sessions", operation_id = "ai_sessions_create", tag = "ai",
    request_body = NewSession,
    responses((status = 201, body = SessionView), (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "A provider failed while the model was checked"),
        (status = 503, body = ErrorBody, description = "No AI provider is configured")))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<NewSession>,
) -> ApiResult<HttpResponse> {
    let s = sessions::create(&state, &Caller::from(&principal), body.into_inner()).await?;
    Ok(HttpResponse::Created().json(s))
}

/// Every session: pinned first, then the most recently active, with usage over their turns.
#[utoipa::path(get, path = "/api/ai/sessions", operation_id = "ai_sessions_list", tag = "ai",
    params(PageQuery),
    responses((status = 200, body = Paginated<SessionView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<SessionView>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let (items, total) = sessions::list(&state, page.limit, page.offset).await?;
    Ok(web::Json(Paginated::new(items, total, page)))
}

/// A session with its turns: each a task with its transcript, token usage and cost (tool
/// arguments and results shown as `GET /api/ai/tasks/{id}` shows them).
#[utoipa::path(get, path = "/api/ai/sessions/{id}", operation_id = "ai_sessions_get", tag = "ai",
    params(("id" = uuid::Uuid, Path, description = "The session's id")),
    responses((status = 200, body = SessionDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<web::Json<SessionDetail>> {
    let id = parse_path_id("AI session", &id)?;
    Ok(web::Json(
        sessions::detail(&state, &id, principal.role).await?,
    ))
}

/// Changes a session's title, pin or tags (its creator or an admin).
#[utoipa::path(put, path = "/api/ai/sessions/{id}", operation_id = "ai_sessions_update", tag = "ai",
    params(("id" = uuid::Uuid, Path, description = "The session's id")),
    request_body = SessionUpdate,
    responses((status = 200, body = SessionView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "Neither the session's creator nor an admin"),
        (status = 404, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: Body<SessionUpdate>,
) -> ApiResult<web::Json<SessionView>> {
    let id = parse_path_id("AI session", &id)?;
    Ok(web::Json(
        sessions::update(&state, &id, &Caller::from(&principal), body.into_inner()).await?,
    ))
}

/// Ends a session (its creator or an admin): it takes no new turns and its live turns are
/// cancelled. It stays readable.
#[utoipa::path(delete, path = "/api/ai/sessions/{id}", operation_id = "ai_sessions_delete", tag = "ai",
    params(("id" = uuid::Uuid, Path, description = "The session's id")),
    responses((status = 200, body = SessionView, description = "The ended session"), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "Neither the session's creator nor an admin"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The session has ended already")))]
pub async fn end(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<web::Json<SessionView>> {
    let id = parse_path_id("AI session", &id)?;
    Ok(web::Json(
        sessions::end(&state, &id, &Caller::from(&principal)).await?,
    ))
}
