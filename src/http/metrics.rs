//! `GET /metrics`: Prometheus text exposition (public, outside `/api` by convention).

use actix_web::{HttpResponse, web};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String)))]
pub async fn scrape(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let text = state
        .metrics
        .render(&state)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
