//! MCP: the MCP servers registered with ContextBay (their tools offered to the model), and
//! ContextBay's own operations served as an MCP server.

use super::super::StartFuture;
use crate::events::EventDecl;
use crate::http::routes::Route;
use crate::state::AppState;

pub fn routes() -> Vec<Route> {
    Vec::new()
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    super::super::empty_openapi()
}

pub fn events() -> Vec<EventDecl> {
    Vec::new()
}

pub fn start(state: AppState) -> StartFuture {
    super::super::no_start(state)
}
