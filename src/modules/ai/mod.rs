//! The AI module (`modules.ai`): the tiered model router, chat, supervised AI tasks with human
//! approval, sessions, modes, skills and MCP.
//!
//! The module's parts plug into this one descriptor: each part (`mcp`, …) gives its routes, its
//! OpenAPI paths, its event kinds and its start-up, and the functions below concatenate them.

pub mod chat;
pub mod context;
mod http;
pub mod mcp;
pub mod mcp_server;
pub mod modes;
pub mod router;
pub mod skills;
pub mod store;
pub mod tasks;
pub mod tools;

use utoipa::OpenApi;

use super::{Module, ModuleName, StartFuture};
use crate::events::EventDecl;
use crate::http::routes::{R, Route, W, delete, get, post, put};
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
    crate::field!(
        "ollama_model",
        Text,
        false,
        "Ollama's model when the router picks Ollama"
    ),
    crate::field!(
        "openai_url",
        Url,
        false,
        "OpenAI-compatible server's base URL (llama.cpp, vLLM, LM Studio)"
    ),
    crate::field!(
        "openai_api_key",
        Secret,
        false,
        "Bearer key of the OpenAI-compatible server"
    ),
    crate::field!(
        "openai_model",
        Text,
        false,
        "The OpenAI-compatible server's model when the router picks it"
    ),
    crate::field!(
        "anthropic_url",
        Url,
        false,
        "Anthropic API base URL (default https://api.anthropic.com)"
    ),
    crate::field!(
        "anthropic_model",
        Text,
        false,
        "Anthropic's model when the router picks it"
    ),
    crate::field!(
        "routing_rules",
        Text,
        false,
        "Routing rules, a JSON array of {name, task_kind?, min_context_tokens?, tools?, mode?, provider, model?}"
    ),
    crate::field!(
        "prices",
        Text,
        false,
        "Price table, JSON {\"model\": {\"input\": USD per million tokens, \"output\": …}}"
    ),
    crate::field!(
        "daily_budget_cents",
        Integer,
        false,
        "Daily spending limit for paid providers, in US cents"
    ),
    crate::field!(
        "skills_dir",
        Text,
        false,
        "Directory of skill folders (Agent Skills layout: <id>/SKILL.md)"
    ),
    crate::field!(
        "max_prompt_chars",
        Integer,
        false,
        "Largest prompt accepted, in characters (default 200000)"
    ),
    crate::field!(
        "task_max_steps",
        Integer,
        false,
        "AI tasks: most model turns a task may take, the default and the ceiling of a task's own limit (default 20)"
    ),
    crate::field!(
        "task_max_tokens",
        Integer,
        false,
        "AI tasks: most tokens (input and output) a task may use (default 200000)"
    ),
    crate::field!(
        "task_max_seconds",
        Integer,
        false,
        "AI tasks: longest a task may run, waits for approval included, in seconds (default 900)"
    ),
    crate::field!(
        "task_max_cost_cents",
        Integer,
        false,
        "AI tasks: most a task may spend on priced models, in US cents (default 100)"
    ),
];

/// ContextBay's MCP server at [`mcp_server::PATH`], outside the route table (it speaks MCP,
/// not the REST contract) and admitting its requests itself: module switch, API key, the key's
/// role per tool, audit (`http/mcp_server.rs`).
pub fn mount(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.service(actix_web::web::resource(mcp_server::PATH).to(http::mcp_server::serve));
}

fn routes() -> Vec<Route> {
    let mut routes = vec![
        post("/api/ai/chat", R, http::chat::chat),
        get("/api/ai/models", R, http::models::models_list),
        get("/api/ai/status", R, http::status::status),
        get("/api/ai/router/status", R, http::status::router_status),
        get("/api/ai/claude/status", R, http::status::claude_status),
        get("/api/ai/modes", R, http::modes::modes_list),
        post("/api/ai/modes", W, http::modes::modes_create),
        put("/api/ai/modes/{id}", W, http::modes::modes_update),
        delete("/api/ai/modes/{id}", W, http::modes::modes_delete),
    ];
    routes.extend(mcp::routes());
    routes.extend(tasks::routes());
    routes.extend([
        get("/api/ai/context-preview", R, http::context::preview),
        get("/api/ai/skills", R, http::skills::skills_list),
        get("/api/ai/skills/{id}", R, http::skills::skills_get),
        post("/api/ai/skills/{id}/run", W, http::skills::skills_run),
    ]);
    routes
}

fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = <Doc as OpenApi>::openapi();
    doc.merge(mcp::openapi());
    doc.merge(tasks::openapi());
    doc
}

fn events() -> Vec<EventDecl> {
    let mut events = Vec::new();
    events.extend(mcp::events());
    events.extend(tasks::events());
    events
}

fn start(state: AppState) -> StartFuture {
    Box::pin(async move {
        mcp::start(state.clone()).await?;
        tasks::start(state).await?;
        Ok(())
    })
}

#[derive(OpenApi)]
#[openapi(paths(
    http::chat::chat,
    http::models::models_list,
    http::status::status,
    http::status::router_status,
    http::status::claude_status,
    http::modes::modes_list,
    http::modes::modes_create,
    http::modes::modes_update,
    http::modes::modes_delete,
    http::context::preview,
    http::skills::skills_list,
    http::skills::skills_get,
    http::skills::skills_run,
))]
struct Doc;
