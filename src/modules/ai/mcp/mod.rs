//! MCP: the MCP servers registered with ContextBay (their tools offered to the model), and
//! ContextBay's own operations served as an MCP server.
//!
//! Handlers in [`http`] ([`http::servers`], [`http::tools`]); domain code: [`servers`]
//! (validating a registration, sealing its secrets), [`catalog`] (the tool catalogue the AI
//! tasks use: [`catalog::Catalog::tools`] and [`catalog::Catalog::call`]), [`store`] and
//! [`events`]. The MCP client itself is `crate::integrations::mcp` (over `rmcp`).

pub mod catalog;
pub mod events;
pub mod http;
pub mod servers;
pub mod store;

use http::{servers as srv, tools};
use utoipa::OpenApi;

use super::super::StartFuture;
use crate::events::EventDecl;
use crate::http::routes::{R, Route, W, delete, get, post, put};
use crate::state::AppState;

pub fn routes() -> Vec<Route> {
    vec![
        get("/api/ai/mcp-servers", R, srv::list),
        post("/api/ai/mcp-servers", W, srv::create),
        get("/api/ai/mcp-servers/{id}/health", R, srv::health),
        put("/api/ai/mcp-servers/{id}", W, srv::update),
        delete("/api/ai/mcp-servers/{id}", W, srv::delete),
        get("/api/ai/mcp-tools", R, tools::list),
        post("/api/ai/mcp-tools/{name}/test", W, tools::test),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(
    srv::list,
    srv::create,
    srv::health,
    srv::update,
    srv::delete,
    tools::list,
    tools::test,
))]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    <Doc as OpenApi>::openapi()
}

pub fn events() -> Vec<EventDecl> {
    events::declared()
}

pub fn start(state: AppState) -> StartFuture {
    super::super::no_start(state)
}
