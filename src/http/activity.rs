//! `GET /api/activity`: the recent event feed, filtered to what the caller may see.

use super::extract::Query;
use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ts;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::events::required_role;
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

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub items: Vec<EventView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListActivity {
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Only events older than this id (paging back).
    pub before: Option<i64>,
    /// An event type (`user.created`) or a prefix (`user.*`).
    #[param(pattern = r"^\s*(\*|[a-z0-9._-]{1,64}(\.\*)?)\s*$")]
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[utoipa::path(get, path = "/api/activity", tag = "events", params(ListActivity),
    responses((status = 200, body = EventList)))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: Query<ListActivity>,
) -> ApiResult<web::Json<EventList>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 500"));
    }
    if let Some(kind) = &query.kind {
        contextbay_actors::TopicFilter::parse([kind]).map_err(ApiError::bad_request)?;
    }
    // Over-fetch so that filtering by role still fills a page in the common case.
    let events = state
        .store
        .events()
        .list(query.kind.as_deref(), query.before, (limit * 4).min(2000))
        .await?;
    let items = events
        .into_iter()
        .filter(|e| principal.has(required_role(&e.kind)))
        .take(usize::try_from(limit).unwrap_or(50))
        .map(|e| EventView {
            id: e.id,
            kind: e.kind,
            ts: ts(e.ts),
            payload: e.payload,
        })
        .collect();
    Ok(web::Json(EventList { items }))
}
