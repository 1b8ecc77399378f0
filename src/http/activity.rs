//! `GET /api/activity`: the recent event feed, filtered to what the caller may see.

use super::extract::Query;
use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{PageQuery, Paginated, ts};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::events::visible_kinds;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub ts: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListActivity {
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<i64>,
    /// Only events older than this id: a stable cursor for paging back while new events arrive.
    #[param(minimum = 0)]
    pub before: Option<i64>,
    /// An event type (`user.created`) or a prefix (`user.*`).
    #[param(pattern = r"^\s*(\*|[a-z0-9._-]{1,64}(\.\*)?)\s*$")]
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// Newest first, only the kinds the caller's role may see (the event catalogue's roles; an
/// undeclared kind is admin-only), as a page object whose `total` counts what the caller sees.
#[utoipa::path(get, path = "/api/activity", tag = "events", params(ListActivity),
    responses((status = 200, body = Paginated<EventView>)))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: Query<ListActivity>,
) -> ApiResult<web::Json<Paginated<EventView>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    if let Some(kind) = &query.kind {
        contextbay_actors::TopicFilter::parse([kind])
            .map_err(|e| ApiError::invalid_field("type", e))?;
    }
    if query.before.is_some_and(|b| b < 0) {
        return Err(ApiError::invalid_field(
            "before",
            "before must be an event id (0 or more)",
        ));
    }
    let visible = visible_kinds(principal.role);
    let events = state
        .store
        .events()
        .page(
            visible.as_deref(),
            query.kind.as_deref().map(str::trim),
            query.before,
            page,
        )
        .await?;
    Ok(web::Json(Paginated {
        items: events
            .items
            .into_iter()
            .map(|e| EventView {
                id: e.id,
                kind: e.kind,
                ts: ts(e.ts),
                payload: e.payload,
            })
            .collect(),
        total: events.total,
        limit: page.limit,
        offset: page.offset,
    }))
}
