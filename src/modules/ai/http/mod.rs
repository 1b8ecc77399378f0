//! The AI module's handlers, one file per resource.

pub mod chat;
pub mod context;
pub mod mcp_server;
pub mod models;
pub mod modes;
pub mod skills;
pub mod status;
