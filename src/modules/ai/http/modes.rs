//! `/api/ai/modes`: the agent modes (built-in and custom).

use actix_web::{HttpResponse, web};

use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::{PageQuery, Paginated};
use crate::modules::ai::modes::{self, ModeBody, ModeView};
use crate::state::AppState;

/// Every mode: the built-in ones (`autonomous`, `supervised`, `read-only`), then the custom ones
/// by name.
#[utoipa::path(get, path = "/api/ai/modes", tag = "ai", params(PageQuery),
    responses((status = 200, body = Paginated<ModeView>)))]
pub async fn modes_list(
    state: web::Data<AppState>,
    q: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<ModeView>>> {
    let q = q.into_inner();
    let page = PageQuery::page(q.limit, q.offset)?;
    Ok(web::Json(Paginated::of_all(
        modes::list(&state).await?,
        page,
    )))
}

/// Create a custom mode.
#[utoipa::path(post, path = "/api/ai/modes", tag = "ai", request_body = ModeBody,
    responses((status = 201, body = ModeView),
        (status = 409, body = ErrorBody, description = "A mode with this name exists")))]
pub async fn modes_create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<ModeBody>,
) -> ApiResult<HttpResponse> {
    let mode = modes::create(&state, body.into_inner(), &principal.username).await?;
    Ok(HttpResponse::Created().json(mode))
}

/// Replace a custom mode's fields; built-in modes cannot be changed (409).
#[utoipa::path(put, path = "/api/ai/modes/{id}", tag = "ai", request_body = ModeBody,
    params(("id" = String, Path, description = "The mode's id: a custom mode's UUID")),
    responses((status = 200, body = ModeView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "A built-in mode, or a mode with this name exists")))]
pub async fn modes_update(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: Body<ModeBody>,
) -> ApiResult<web::Json<ModeView>> {
    let mode = modes::update(&state, &id, body.into_inner(), &principal.username).await?;
    Ok(web::Json(mode))
}

/// Delete a custom mode (answers it as it was); built-in modes cannot be deleted (409).
#[utoipa::path(delete, path = "/api/ai/modes/{id}", tag = "ai",
    params(("id" = String, Path, description = "The mode's id: a custom mode's UUID")),
    responses((status = 200, body = ModeView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "A built-in mode")))]
pub async fn modes_delete(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<ModeView>> {
    Ok(web::Json(modes::delete(&state, &id).await?))
}

impl From<modes::ModeError> for crate::error::ApiError {
    fn from(e: modes::ModeError) -> Self {
        match e {
            modes::ModeError::Builtin(_) => Self::conflict(e.to_string()),
            modes::ModeError::Module(m) => m.into(),
        }
    }
}
