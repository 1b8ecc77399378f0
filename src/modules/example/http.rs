//! The example module's one handler.

use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ExamplePinged, MODULE};
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Pong {
    pub greeting: String,
}

/// Answers with the configured greeting and publishes `example.pinged`.
#[utoipa::path(post, path = "/api/example/ping", tag = "example", responses((status = 200, body = Pong)))]
pub async fn ping(state: web::Data<AppState>, principal: Principal) -> ApiResult<web::Json<Pong>> {
    let stored = state.store.modules().get(MODULE.name).await?;
    let greeting = stored
        .as_ref()
        .and_then(|m| m.config.get("greeting"))
        .and_then(|v| v.as_str())
        .unwrap_or("pong")
        .to_owned();
    state
        .events
        .publish_committed(ExamplePinged {
            by: principal.username.clone(),
        })
        .await;
    Ok(web::Json(Pong { greeting }))
}
