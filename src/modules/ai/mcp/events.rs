//! The MCP part's event kinds.

use serde::Serialize;
use utoipa::ToSchema;

use crate::events::EventDecl;

/// The kinds of the MCP part, for the catalogue.
pub fn declared() -> Vec<EventDecl> {
    vec![
        EventDecl::of::<McpServerRegistered>(),
        EventDecl::of::<McpServerUpdated>(),
        EventDecl::of::<McpServerRemoved>(),
    ]
}

/// Which server changed and who changed it (never its env or headers).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct McpServerRef {
    pub id: String,
    pub name: String,
    /// `stdio` or `http`.
    pub transport: String,
    pub by: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct McpServerRegistered(pub McpServerRef);
crate::event!(
    McpServerRegistered,
    "ai.mcp_server.registered",
    Viewer,
    "an MCP server was registered with the AI module"
);

#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct McpServerUpdated(pub McpServerRef);
crate::event!(
    McpServerUpdated,
    "ai.mcp_server.updated",
    Viewer,
    "an MCP server's configuration changed"
);

#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct McpServerRemoved(pub McpServerRef);
crate::event!(
    McpServerRemoved,
    "ai.mcp_server.removed",
    Viewer,
    "an MCP server was removed"
);
