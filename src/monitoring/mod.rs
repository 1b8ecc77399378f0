//! The monitoring and alerting modules: what sits between the HTTP handlers and the Prometheus,
//! Alertmanager and Grafana clients.
//!
//! - [`prometheus_files`]: the file_sd targets file and the alert rule file Prometheus reads, and
//!   the reload after every change;
//! - [`alert_rules`]: validating rules and applying a change with Prometheus' verdict;
//! - [`alerts`]: Alertmanager's webhook notifications → stored alerts → `alert.*` events;
//! - [`container_signals`]: container exits and failing health checks from worker events, as
//!   metrics for the default rules;
//! - [`grafana_annotator`]: an annotation in Grafana for every alert that fires;
//! - [`prober`]: regular calls to each configured service, so `/api/modules` shows one that
//!   cannot be reached.
//!
//! How Prometheus is pointed at ContextBay is described in `docs/monitoring.md`.

pub mod alert_rules;
pub mod alerts;
pub mod container_signals;
pub mod grafana_annotator;
pub mod prober;
pub mod prometheus_files;
pub mod promql_time;

use contextbay_actors::{Subscription, TopicFilter};
use tokio::task::JoinHandle;

use crate::error::ApiError;
use crate::integrations::alertmanager::Alertmanager;
use crate::integrations::grafana::Grafana;
use crate::integrations::prometheus::Prometheus;
use crate::integrations::{IntegrationError, ModuleSettings};
use crate::modules::ModuleName;
use crate::state::AppState;

/// The Prometheus client as the monitoring module is configured now (503 when it is not).
pub async fn prometheus(state: &AppState) -> Result<Prometheus, ApiError> {
    let settings = ModuleSettings::load(state, ModuleName::Monitoring).await?;
    Ok(Prometheus::from_settings(&state.integrations, &settings)?)
}

/// The Grafana client as the monitoring module is configured now (503 when it is not).
pub async fn grafana(state: &AppState) -> Result<Grafana, ApiError> {
    let settings = ModuleSettings::load(state, ModuleName::Monitoring).await?;
    Ok(Grafana::from_settings(&state.integrations, &settings)?)
}

/// The Alertmanager client as the alerting module is configured now (503 when it is not).
pub async fn alertmanager(state: &AppState) -> Result<Alertmanager, ApiError> {
    let settings = ModuleSettings::load(state, ModuleName::Alerting).await?;
    Ok(Alertmanager::from_settings(&state.integrations, &settings)?)
}

/// Whether a module is switched on: the live override, else the configuration file.
pub async fn module_enabled(state: &AppState, module: ModuleName) -> Result<bool, ApiError> {
    let stored = state.store.modules().get(module).await?;
    Ok(crate::http::modules::enabled(
        state,
        module,
        stored.as_ref(),
    ))
}

/// A client that is optional where it is used: `None` when its service is not configured.
fn if_configured<T>(client: Result<T, IntegrationError>) -> Result<Option<T>, ApiError> {
    match client {
        Ok(c) => Ok(Some(c)),
        Err(IntegrationError::NotConfigured { .. }) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// The Prometheus client, or `None` while `prometheus_url` is not set.
pub async fn prometheus_if_configured(state: &AppState) -> Result<Option<Prometheus>, ApiError> {
    let settings = ModuleSettings::load(state, ModuleName::Monitoring).await?;
    if_configured(Prometheus::from_settings(&state.integrations, &settings))
}

/// The Grafana client, or `None` while Grafana is not set up.
pub async fn grafana_if_configured(state: &AppState) -> Result<Option<Grafana>, ApiError> {
    let settings = ModuleSettings::load(state, ModuleName::Monitoring).await?;
    if_configured(Grafana::from_settings(&state.integrations, &settings))
}

/// The module's background tasks; dropping this stops them.
pub struct Background {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Writes Prometheus' files once and starts the bus consumers: the file sync on module changes,
/// the container signals, the Grafana annotator and the prober. Call inside the actix System.
pub async fn start(state: &AppState) -> anyhow::Result<Background> {
    let files =
        prometheus_files::spawn_sync(state.clone(), subscribe(state, "module.updated").await?);
    let signals = container_signals::spawn(state, subscribe(state, "container.update").await?)?;
    let annotator = grafana_annotator::spawn(state.clone(), subscribe(state, "alert.fired").await?);
    let prober = prober::spawn(state.clone(), subscribe(state, "module.updated").await?);
    Ok(Background {
        tasks: vec![files, signals, annotator, prober],
    })
}

/// A bus subscription to one topic, from now on.
async fn subscribe(state: &AppState, topic: &str) -> anyhow::Result<Subscription> {
    let filter = TopicFilter::parse([topic]).map_err(anyhow::Error::msg)?;
    let (sub, _) = state.bus.subscribe(filter, None).await?;
    Ok(sub)
}
