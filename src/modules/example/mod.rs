//! A tiny module used only by the tests (feature `example-module`, which the integration tests
//! turn on): one route, one event kind, one setting. It is the worked example of
//! `docs/modules.md`: this folder plus its line in [`MODULES`](super::MODULES) is all it takes.

use actix_web::web;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::{Module, ModuleName, no_start};
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::events::EventDecl;
use crate::http::routes::{Route, W, post};
use crate::state::AppState;

pub const MODULE: Module = Module {
    name: ModuleName::named("example"),
    description: "An example module (tests only)",
    settings: &[crate::field!(
        "greeting",
        Text,
        false,
        "What the ping answers"
    )],
    services: &[],
    routes,
    openapi: <Doc as OpenApi>::openapi,
    events: || vec![EventDecl::of::<ExamplePinged>()],
    start: no_start,
};

fn routes() -> Vec<Route> {
    vec![post("/api/example/ping", W, ping)]
}

#[derive(OpenApi)]
#[openapi(paths(ping))]
struct Doc;

/// Published on every ping.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExamplePinged {
    pub by: String,
}
crate::event!(
    ExamplePinged,
    "example.pinged",
    Operator,
    "someone pinged the example module"
);

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
