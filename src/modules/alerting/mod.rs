//! The alerting module: alert rules (loaded into Prometheus), the alerts Alertmanager reports
//! and its silences.
//!
//! Handlers, in [`http`], one file per resource: [`alerts`] (`/api/alerts*`), [`alert_rules`]
//! (`/api/alert-rules*`), [`silences`] (`/api/alertmanager/silences*`) and [`webhook`]
//! (`POST /api/webhooks/alertmanager`). Domain code (no HTTP in it; the layering test allows
//! HTTP only in `http/` and this descriptor): [`rules`] (validating a
//! rule and applying a change with Prometheus' verdict), [`ingest`] (Alertmanager's webhook
//! notifications → stored alerts → `alert.*` events), [`store`] and [`events`].

pub mod events;
pub mod http;
pub mod ingest;
pub mod rules;
pub mod store;

use http::{alert_rules, alerts, silences, webhook};

use utoipa::OpenApi;

use super::{Module, ModuleError, ModuleName, no_start};
use crate::http::routes::{PUBLIC, R, Route, W, delete, get, post, put};
use crate::integrations::ModuleSettings;
use crate::integrations::alertmanager::Alertmanager;
use crate::state::AppState;

pub const MODULE: Module = Module {
    name: ModuleName::Alerting,
    description: "Alert rules, Alertmanager alerts and silences",
    settings: &[
        crate::field!("alertmanager_url", Url, true, "Alertmanager base URL"),
        crate::field!(
            "webhook_token",
            Secret,
            false,
            "Bearer token Alertmanager sends"
        ),
        crate::field!(
            "webhook_hmac_secret",
            Secret,
            false,
            "HMAC-SHA256 secret for X-ContextBay-Signature on the webhook"
        ),
    ],
    services: &[(
        crate::integrations::alertmanager::SERVICE,
        "alertmanager_url",
        true,
    )],
    routes,
    openapi: <Doc as OpenApi>::openapi,
    events: events::declared,
    start: no_start,
};

fn routes() -> Vec<Route> {
    vec![
        get("/api/alerts", R, alerts::list),
        post("/api/alerts/{id}/acknowledge", W, alerts::acknowledge),
        post("/api/alerts/{id}/resolve", W, alerts::resolve),
        get("/api/alert-rules", R, alert_rules::list),
        post("/api/alert-rules", W, alert_rules::create),
        put("/api/alert-rules/{id}", W, alert_rules::update),
        delete("/api/alert-rules/{id}", W, alert_rules::delete),
        get("/api/alertmanager/silences", R, silences::list),
        post("/api/alertmanager/silences", W, silences::create),
        delete("/api/alertmanager/silences/{id}", W, silences::delete),
        post("/api/webhooks/alertmanager", PUBLIC, webhook::receive),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(
    alerts::list,
    alerts::acknowledge,
    alerts::resolve,
    alert_rules::list,
    alert_rules::create,
    alert_rules::update,
    alert_rules::delete,
    silences::list,
    silences::create,
    silences::delete,
    webhook::receive,
))]
struct Doc;

/// The Alertmanager client as the alerting module is configured now (503 when it is not).
pub async fn alertmanager(state: &AppState) -> Result<Alertmanager, ModuleError> {
    let settings = ModuleSettings::load(state, ModuleName::Alerting).await?;
    Ok(Alertmanager::from_settings(&state.integrations, &settings)?)
}
