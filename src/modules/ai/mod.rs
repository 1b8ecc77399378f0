//! The AI module (`modules.ai`): the tiered model router, chat, supervised AI tasks with human
//! approval, sessions, modes, skills and MCP.
//!
//! The module's parts plug into this one descriptor: each part (`mcp`, …) gives its routes, its
//! OpenAPI paths, its event kinds and its start-up, and the functions below concatenate them.

pub mod mcp;

use utoipa::OpenApi;

use super::{Module, ModuleName, StartFuture};
use crate::events::EventDecl;
use crate::http::routes::Route;
use crate::state::AppState;

pub const MODULE: Module = Module {
    name: ModuleName::Ai,
    description: "AI chat and background tasks (Ollama, Claude)",
    settings: SETTINGS,
    services: &[],
    routes,
    openapi,
    events,
    start,
};

const SETTINGS: &[super::Field] = &[
    crate::field!("ollama_url", Url, false, "Ollama base URL"),
    crate::field!("anthropic_api_key", Secret, false, "Anthropic API key"),
    crate::field!(
        "default_model",
        Text,
        false,
        "Model used when none is named"
    ),
];

fn routes() -> Vec<Route> {
    let mut routes = Vec::new();
    routes.extend(mcp::routes());
    routes
}

fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = <Doc as OpenApi>::openapi();
    doc.merge(mcp::openapi());
    doc
}

fn events() -> Vec<EventDecl> {
    let mut events = Vec::new();
    events.extend(mcp::events());
    events
}

fn start(state: AppState) -> StartFuture {
    Box::pin(async move {
        mcp::start(state).await?;
        Ok(())
    })
}

#[derive(OpenApi)]
#[openapi()]
struct Doc;
