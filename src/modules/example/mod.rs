//! A tiny module used only by the tests (feature `example-module`, which the integration tests
//! turn on): one route, one event kind, one setting. It is the worked example of
//! `docs/modules.md`: this folder plus its line in [`MODULES`](super::MODULES) is all it takes.

mod http;

use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::{Module, ModuleName, no_start};
use crate::events::EventDecl;
use crate::http::routes::{Route, W, post};

pub const MODULE: Module = Module {
    name: ModuleName::named("example"),
    description: "An example module (tests only)",
    settings: &[crate::field!(
        "greeting",
        Text,
        false,
        "What the ping answers"
    )],
    services: &[],
    routes,
    openapi: <Doc as OpenApi>::openapi,
    events: || vec![EventDecl::of::<ExamplePinged>()],
    start: no_start,
};

fn routes() -> Vec<Route> {
    vec![post("/api/example/ping", W, http::ping)]
}

#[derive(OpenApi)]
#[openapi(paths(http::ping))]
struct Doc;

/// Published on every ping.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExamplePinged {
    pub by: String,
}
crate::event!(
    ExamplePinged,
    "example.pinged",
    Operator,
    "someone pinged the example module"
);
