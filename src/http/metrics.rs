//! `GET /metrics`: Prometheus text exposition (outside `/api` by convention). Public, as the API
//! contract says, unless `metrics.bearer_token` is set: then only a scraper presenting
//! `Authorization: Bearer <token>` is answered (401 otherwise). The route stays public in the
//! route table (a scraper has no user account); the token is checked here.

use actix_web::http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::secrets::{constant_time_eq, sha256_hex};
use crate::state::AppState;

#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, content_type = "text/plain; version=0.0.4", body = String, description = "Prometheus text exposition of the master's metrics"),
              (status = 401, body = ErrorBody, description = "metrics.bearer_token is set and the request does not carry it")))]
pub async fn scrape(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let expected = &state.config.metrics.bearer_token;
    if !expected.is_empty() && !bearer_matches(&req, expected) {
        let mut res = actix_web::ResponseError::error_response(&ApiError::unauthenticated(
            "/metrics requires Authorization: Bearer <metrics.bearer_token>",
        ));
        res.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return Ok(res);
    }
    let text = state
        .metrics
        .render(&state)
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

/// The request carries `Authorization: Bearer <expected>`. Digests are compared, in constant
/// time, so neither the content nor the length of the token shows in the timing.
fn bearer_matches(req: &HttpRequest, expected: &str) -> bool {
    req.headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .is_some_and(|token| {
            constant_time_eq(
                sha256_hex(token.trim().as_bytes()).as_bytes(),
                sha256_hex(expected.as_bytes()).as_bytes(),
            )
        })
}
