//! The MCP part's handlers, one file per resource: [`servers`] (`/api/ai/mcp-servers*`) and
//! [`tools`] (`/api/ai/mcp-tools*`).

pub mod servers;
pub mod tools;
