//! `GET /api/ai/models`: the models the configured providers offer.

use actix_web::web;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::Query;
use crate::http::{PageQuery, Paginated};
use crate::integrations::llm::ModelInfo;
use crate::modules::ai::router::{self, RouterConfig};
use crate::state::AppState;

/// Every model of every configured provider that answered, sorted by provider then id. A provider
/// that does not answer is left out (`/api/ai/status` says why); when none answers: 503.
#[utoipa::path(get, path = "/api/ai/models", tag = "ai", params(PageQuery),
    responses((status = 200, body = Paginated<ModelInfo>),
        (status = 503, body = ErrorBody, description = "No provider is configured, or none answered")))]
pub async fn models_list(
    state: web::Data<AppState>,
    q: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<ModelInfo>>> {
    let q = q.into_inner();
    let page = PageQuery::page(q.limit, q.offset)?;
    let cfg = RouterConfig::load(&state).await?;
    if cfg.providers.is_empty() {
        return Err(router::RouteError::NoProvider.into());
    }
    let router = router::of(&state);
    let mut all = Vec::new();
    let mut failures = Vec::new();
    for p in &cfg.providers {
        match router.models_of(p).await {
            Ok(ids) => all.extend(ids.into_iter().map(|id| ModelInfo {
                id,
                provider: p.provider.kind(),
            })),
            Err(e) => failures.push(e.to_string()),
        }
    }
    if all.is_empty() && !failures.is_empty() {
        return Err(ApiError::new(
            crate::error::ErrorCode::ServiceUnavailable,
            format!("no provider listed its models: {}", failures.join("; ")),
        ));
    }
    all.sort_by(|a, b| (a.provider.as_str(), &a.id).cmp(&(b.provider.as_str(), &b.id)));
    Ok(web::Json(Paginated::of_all(all, page)))
}
