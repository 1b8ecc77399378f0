//! ContextBay: a self-hosted control plane for fleets of Docker hosts.
//!
//! The master serves the REST API (`http`), the live event stream, `/metrics` and the dashboard;
//! durable state lives in `store`, live state in the actors of the `contextbay-actors` crate.

pub mod admin;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod docker;
pub mod endpoint_streams;
pub mod endpoints;
pub mod error;
pub mod events;
pub mod fleet;
pub mod grpc;
pub mod http;
pub mod integrations;
pub mod jobs;
pub mod metrics;
pub mod modules;
pub mod policy;
pub mod request_id;
pub mod retention;
pub mod secrets;
pub mod server;
pub mod stacks;
pub mod state;
pub mod store;
pub mod users;
pub mod worker;

pub use config::Config;
pub use server::{RunningServer, start, start_on};
