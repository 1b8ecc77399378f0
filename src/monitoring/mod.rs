//! The monitoring and alerting modules: what sits between the HTTP handlers and the Prometheus,
//! Alertmanager and Grafana clients.
//!
//! - [`prometheus_files`]: the file_sd targets file and the alert rule file Prometheus reads, and
//!   the reload after every change;
//! - [`alert_rules`]: validating rules and applying a change with Prometheus' verdict;
//! - [`alerts`]: Alertmanager's webhook notifications → stored alerts → `alert.*` events;
//! - [`container_signals`]: container exits and failing health checks from worker events, as
//!   metrics for the default rules;
//! - [`grafana_annotator`]: an annotation in Grafana for every alert that fires.
//!
//! How Prometheus is pointed at ContextBay is described in `docs/monitoring.md`.

pub mod alert_rules;
pub mod alerts;
pub mod container_signals;
pub mod grafana_annotator;
pub mod prometheus_files;
pub mod promql_time;

use contextbay_actors::TopicFilter;
use tokio::task::JoinHandle;

use crate::error::ApiError;
use crate::integrations::ModuleSettings;
use crate::integrations::alertmanager::Alertmanager;
use crate::integrations::grafana::Grafana;
use crate::integrations::prometheus::Prometheus;
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
    Ok(crate::http::modules::status(state, module, stored.as_ref()).enabled)
}

/// Whether `err` means "the service is not set up" (as opposed to failing).
pub fn is_not_configured(err: &ApiError) -> bool {
    err.code == crate::error::ErrorCode::ServiceUnavailable
        && err.message.contains("not configured")
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
/// the container signals and the Grafana annotator. Call inside the actix System.
pub async fn start(state: &AppState) -> anyhow::Result<Background> {
    let subscribe = |topics: &[&str]| TopicFilter::parse(topics).map_err(anyhow::Error::msg);
    let files = {
        let (sub, _) = state
            .bus
            .subscribe(subscribe(&["module.updated"])?, None)
            .await?;
        prometheus_files::spawn_sync(state.clone(), sub)
    };
    let signals = {
        let (sub, _) = state
            .bus
            .subscribe(subscribe(&["container.update"])?, None)
            .await?;
        container_signals::spawn(state, sub)?
    };
    let annotator = {
        let (sub, _) = state
            .bus
            .subscribe(subscribe(&["alert.fired"])?, None)
            .await?;
        grafana_annotator::spawn(state.clone(), sub)
    };
    Ok(Background {
        tasks: vec![files, signals, annotator],
    })
}
