//! The monitoring module: Prometheus metrics and Grafana dashboards.
//!
//! Handlers, in [`http`], one file per resource: [`fleet_metrics`] (`/api/metrics/*`),
//! [`metrics_history`], [`prometheus_proxy`] (`/api/v1/metrics/*`), [`prometheus`]
//! (`/api/prometheus/*`) and [`grafana`] (`/api/grafana/*`). Domain code (no HTTP in it: the
//! layering test allows HTTP only in `http/` and this descriptor):
//!
//! - [`prometheus_files`]: the file_sd targets file and the alert rule file Prometheus reads, and
//!   the reload after every change;
//! - [`fleet_series`]: the fleet's newest samples as the series of `/metrics`, for the cache
//!   routes;
//! - [`container_signals`]: container exits and failing health checks from worker events, as
//!   metrics for the default rules;
//! - [`grafana_annotator`]: an annotation in Grafana for every alert that fires;
//! - [`prober`]: regular calls to each configured service, so `/api/modules` shows one that
//!   cannot be reached;
//! - [`store`]: saved queries (`metrics_history`).
//!
//! The clients of Prometheus, Grafana and Alertmanager stay in `crate::integrations`. How
//! Prometheus is pointed at ContextBay is described in `docs/monitoring.md`.

pub mod container_signals;
pub mod fleet_series;
pub mod grafana_annotator;
pub mod http;
pub mod prober;
pub mod prometheus_files;
pub mod promql_time;
pub mod store;

use http::{fleet_metrics, grafana, metrics_history, prometheus, prometheus_proxy};

use utoipa::OpenApi;

use super::{Module, ModuleError, ModuleName, StartFuture, consume};
use crate::http::routes::{R, Route, W, delete, get, post};
use crate::integrations::grafana::Grafana;
use crate::integrations::prometheus::Prometheus;
use crate::integrations::{IntegrationError, ModuleSettings};
use crate::state::AppState;

pub const MODULE: Module = Module {
    name: ModuleName::Monitoring,
    description: "Prometheus metrics and Grafana dashboards",
    settings: &[
        crate::field!("prometheus_url", Url, true, "Prometheus base URL"),
        crate::field!("grafana_url", Url, false, "Grafana base URL"),
        crate::field!(
            "grafana_token",
            Secret,
            false,
            "Grafana service-account token"
        ),
        crate::field!(
            "scrape_address",
            Text,
            false,
            "host:port Prometheus scrapes this master at (default: bind:http_port)"
        ),
        crate::field!(
            "max_result_bytes",
            Integer,
            false,
            "Largest Prometheus answer the query proxy passes on (default 16 MiB)"
        ),
    ],
    services: &[
        (
            crate::integrations::prometheus::SERVICE,
            "prometheus_url",
            true,
        ),
        (crate::integrations::grafana::SERVICE, "grafana_url", false),
    ],
    routes,
    openapi: <Doc as OpenApi>::openapi,
    events: Vec::new,
    start,
};

fn routes() -> Vec<Route> {
    vec![
        get("/api/metrics/query", R, fleet_metrics::query),
        get("/api/metrics/latest", R, fleet_metrics::latest),
        get("/api/metrics/targets", R, fleet_metrics::targets),
        get("/api/metrics/history", R, metrics_history::list),
        post("/api/metrics/history", R, metrics_history::save),
        get("/api/v1/metrics/query", R, prometheus_proxy::query),
        post("/api/v1/metrics/query", R, prometheus_proxy::query_form),
        get(
            "/api/v1/metrics/query_range",
            R,
            prometheus_proxy::query_range,
        ),
        post(
            "/api/v1/metrics/query_range",
            R,
            prometheus_proxy::query_range_form,
        ),
        get("/api/v1/metrics/series", R, prometheus_proxy::series),
        get("/api/v1/metrics/labels", R, prometheus_proxy::labels),
        get(
            "/api/v1/metrics/label/{name}/values",
            R,
            prometheus_proxy::label_values,
        ),
        get("/api/v1/metrics/metadata", R, prometheus_proxy::metadata),
        get("/api/prometheus/targets", R, prometheus::targets),
        get("/api/prometheus/rules", R, prometheus::rules),
        get("/api/prometheus/status", R, prometheus::status),
        get("/api/grafana/dashboards", R, grafana::list),
        post("/api/grafana/dashboards", W, grafana::save),
        get("/api/grafana/dashboards/{uid}", R, grafana::get),
        delete("/api/grafana/dashboards/{uid}", W, grafana::delete),
        post("/api/grafana/dashboards/{uid}/star", R, grafana::star),
        delete("/api/grafana/dashboards/{uid}/star", R, grafana::unstar),
        post("/api/grafana/annotations", W, grafana::annotate),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(
    fleet_metrics::query,
    fleet_metrics::latest,
    fleet_metrics::targets,
    metrics_history::list,
    metrics_history::save,
    prometheus_proxy::query,
    prometheus_proxy::query_form,
    prometheus_proxy::query_range,
    prometheus_proxy::query_range_form,
    prometheus_proxy::series,
    prometheus_proxy::labels,
    prometheus_proxy::label_values,
    prometheus_proxy::metadata,
    prometheus::targets,
    prometheus::rules,
    prometheus::status,
    grafana::list,
    grafana::save,
    grafana::get,
    grafana::delete,
    grafana::star,
    grafana::unstar,
    grafana::annotate,
))]
struct Doc;

/// Writes Prometheus' files once and starts the bus consumers under `state.tasks`: the file sync
/// on module changes, the container signals, the Grafana annotator and the prober.
fn start(state: AppState) -> StartFuture {
    Box::pin(async move {
        consume(
            &state,
            "monitoring.prometheus_files",
            "module.updated",
            prometheus_files::run_sync,
        )
        .await?;
        let signals = container_signals::ContainerSignals::register(&state)?;
        consume(
            &state,
            "monitoring.container_signals",
            "container.update",
            move |state, sub| container_signals::run(state, signals.clone(), sub),
        )
        .await?;
        consume(
            &state,
            "monitoring.grafana_annotator",
            "alert.fired",
            grafana_annotator::run,
        )
        .await?;
        consume(&state, "monitoring.prober", "module.updated", prober::run).await?;
        Ok(())
    })
}

/// The Prometheus client as the monitoring module is configured now (503 when it is not).
pub async fn prometheus(state: &AppState) -> Result<Prometheus, ModuleError> {
    let settings = ModuleSettings::load(state, ModuleName::Monitoring).await?;
    Ok(Prometheus::from_settings(&state.integrations, &settings)?)
}

/// The Grafana client as the monitoring module is configured now (503 when it is not).
pub async fn grafana(state: &AppState) -> Result<Grafana, ModuleError> {
    let settings = ModuleSettings::load(state, ModuleName::Monitoring).await?;
    Ok(Grafana::from_settings(&state.integrations, &settings)?)
}

/// A client that is optional where it is used: `None` when its service is not configured.
fn if_configured<T>(client: Result<T, IntegrationError>) -> Result<Option<T>, ModuleError> {
    match client {
        Ok(c) => Ok(Some(c)),
        Err(IntegrationError::NotConfigured { .. }) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// The Prometheus client, or `None` while `prometheus_url` is not set.
pub async fn prometheus_if_configured(state: &AppState) -> Result<Option<Prometheus>, ModuleError> {
    let settings = ModuleSettings::load(state, ModuleName::Monitoring).await?;
    if_configured(Prometheus::from_settings(&state.integrations, &settings))
}

/// The Grafana client, or `None` while Grafana is not set up.
pub async fn grafana_if_configured(state: &AppState) -> Result<Option<Grafana>, ModuleError> {
    let settings = ModuleSettings::load(state, ModuleName::Monitoring).await?;
    if_configured(Grafana::from_settings(&state.integrations, &settings))
}
