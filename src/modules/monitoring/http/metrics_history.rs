//! `/api/metrics/history` (monitoring module): each user's saved PromQL queries. Saving the same
//! query again counts a use and moves it to the top; a user keeps at most 200.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::{PageQuery, Paginated, ts};
use crate::modules::monitoring::store::HistoryEntry;
use crate::modules::monitoring::store::MonitoringStore;
use crate::modules::trim_blank;
use crate::state::AppState;

const MAX_QUERY: usize = 4096;

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub id: String,
    pub query: String,
    pub name: Option<String>,
    pub created_at: String,
    pub last_used_at: String,
    pub use_count: i64,
}

impl From<HistoryEntry> for HistoryView {
    fn from(e: HistoryEntry) -> Self {
        Self {
            id: e.id,
            query: e.query,
            name: e.name,
            created_at: ts(e.created_at),
            last_used_at: ts(e.last_used_at),
            use_count: e.use_count,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveQuery {
    /// The PromQL expression (not blank; saved without leading and trailing blanks).
    #[schema(min_length = 1, max_length = 4096, pattern = r"[^ \t\n\r]")]
    pub query: String,
    /// An optional label for it (blank: none).
    #[schema(max_length = 100)]
    pub name: Option<String>,
}

/// Your saved queries, most recently used first (a user keeps at most 200).
#[utoipa::path(get, path = "/api/metrics/history", tag = "monitoring", params(PageQuery),
    responses((status = 200, body = Paginated<HistoryView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<HistoryView>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let items = state
        .store
        .metrics_history()
        .list(&principal.user_id, page)
        .await?;
    Ok(web::Json(Paginated {
        items: items.items.into_iter().map(HistoryView::from).collect(),
        total: items.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Save a query into your history.
#[utoipa::path(post, path = "/api/metrics/history", tag = "monitoring", request_body = SaveQuery,
    responses((status = 201, body = HistoryView), (status = 400, body = ErrorBody)))]
pub async fn save(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<SaveQuery>,
) -> ApiResult<HttpResponse> {
    let SaveQuery { query, name } = body.into_inner();
    if query.chars().count() > MAX_QUERY || trim_blank(&query).is_empty() {
        return Err(ApiError::invalid_field(
            "query",
            format!("query must be 1 to {MAX_QUERY} characters, not blank"),
        ));
    }
    let query = trim_blank(&query);
    if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        return Err(ApiError::invalid_field(
            "name",
            "name must be at most 100 characters",
        ));
    }
    let name = name.as_deref().map(trim_blank).filter(|n| !n.is_empty());
    let entry = state
        .store
        .metrics_history()
        .save(&principal.user_id, query, name)
        .await?;
    Ok(HttpResponse::Created().json(HistoryView::from(entry)))
}
