//! The AI module's handlers, one file per resource.

pub mod chat;
pub mod models;
pub mod modes;
pub mod status;
