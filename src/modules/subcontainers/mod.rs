//! Sub-containers: the `cb-*` service fleet (Prometheus, Alertmanager, Grafana, Loki, Tempo,
//! Pyroscope, Headscale, n8n, Wazuh, Ollama) that ContextBay deploys and keeps running for its
//! own modules, under `/api/admin/subcontainers` (admin).
//!
//! A core part built on the module seam: its routes answer whatever the module switches say
//! (see [`super::Module::is_core`]). Parts:
//!
//! - [`catalogue`]: the services as data, and their compose files rendered from a validated
//!   configuration;
//! - [`service`]: deploy, reconfigure, restart and remove as jobs (one at a time per service)
//!   through ContextBay's own stacks, status with drift, probe, logs, and wiring the module a
//!   service serves;
//! - [`actor`]: the `SubcontainerRegistry` and one `SubcontainerActor` per deployed service,
//!   which restarts it with backoff and reports it when it flaps;
//! - [`store`]: desired and observed state (`subcontainers` table);
//! - [`events`]: `subcontainer.update` and `subcontainer.flapping`.
//!
//! Handlers in [`http`].

pub mod actor;
pub mod catalogue;
pub mod error;
pub mod events;
pub mod http;
pub mod service;
pub mod store;

use utoipa::OpenApi;

use super::{Module, ModuleName, StartFuture};
use crate::events::EventDecl;
use crate::http::routes::{A, Route, delete, get, post, put};
use crate::state::AppState;

pub const MODULE: Module = Module {
    name: ModuleName::named("subcontainers"),
    description: "The cb-* service fleet (core: cannot be switched off)",
    settings: &[],
    services: &[],
    routes,
    openapi: <Doc as OpenApi>::openapi,
    events: || {
        vec![
            EventDecl::of::<events::SubcontainerUpdate>(),
            EventDecl::of::<events::SubcontainerFlapping>(),
        ]
    },
    start,
};

fn routes() -> Vec<Route> {
    vec![
        get("/api/admin/subcontainers", A, http::list),
        get("/api/admin/subcontainers/{name}", A, http::get),
        get("/api/admin/subcontainers/{name}/health", A, http::health),
        get("/api/admin/subcontainers/{name}/logs", A, http::logs),
        post("/api/admin/subcontainers/{name}/restart", A, http::restart),
        post("/api/admin/subcontainers/{name}/deploy", A, http::deploy),
        put("/api/admin/subcontainers/{name}/config", A, http::config),
        delete("/api/admin/subcontainers/{name}", A, http::remove),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(
    http::list,
    http::get,
    http::health,
    http::logs,
    http::restart,
    http::deploy,
    http::config,
    http::remove,
))]
struct Doc;

/// Starts the registry: an actor for every deployed service.
fn start(state: AppState) -> StartFuture {
    Box::pin(async move { actor::start_registry(&state).await })
}
