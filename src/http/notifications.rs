//! `/api/notifications`: notifications are `notification` events, kept by the event log.

use super::extract::Query;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ts;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    pub ts: String,
    pub title: String,
    pub body: String,
    /// `info`, `warning` or `error`.
    pub level: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationList {
    pub items: Vec<NotificationView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListNotifications {
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Only notifications older than this id.
    pub before: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    /// The id of the published event.
    pub id: u64,
}

#[utoipa::path(get, path = "/api/notifications", tag = "notifications", params(ListNotifications),
    responses((status = 200, body = NotificationList)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListNotifications>,
) -> ApiResult<web::Json<NotificationList>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be between 1 and 500"));
    }
    let events = state
        .store
        .events()
        .list(Some("notification"), query.before, limit)
        .await?;
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
    Ok(web::Json(NotificationList {
        items: events
            .into_iter()
            .map(|e| NotificationView {
                id: e.id,
                ts: ts(e.ts),
                title: text(&e.payload, "title"),
                body: text(&e.payload, "body"),
                level: text(&e.payload, "level"),
            })
            .collect(),
    }))
}

/// Send a test notification through the dispatcher (it reaches `/api/ws` clients and the list).
#[utoipa::path(post, path = "/api/notifications/test", tag = "notifications",
    responses((status = 202, body = Queued), (status = 403, body = ErrorBody)))]
pub async fn test(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let event = state
        .events
        .publish(crate::events::Notification {
            title: "Test notification".into(),
            body: format!(
                "Sent by {} to check that notifications arrive",
                principal.username
            ),
            level: "info".into(),
            alert_id: None,
        })
        .await
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Accepted().json(Queued { id: event.id }))
}
