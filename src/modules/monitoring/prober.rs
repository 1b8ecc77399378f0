//! Calls each configured service of the monitoring and alerting modules every
//! [`PROBE_INTERVAL`], and at once after a module's settings change, so that `GET /api/modules`
//! shows an unreachable Prometheus, Grafana or Alertmanager even while nobody uses their routes.
//! Every call records what it found in [`crate::integrations::Reachability`]; so do the probes.

use std::time::Duration;

use contextbay_actors::Subscription;
use tokio::time::MissedTickBehavior;

use super::{grafana_if_configured, prometheus_if_configured};
use crate::modules::ModuleName;
use crate::modules::alerting::alertmanager;
use crate::modules::is_enabled as module_enabled;
use crate::state::AppState;

/// How often the services are probed without a module change.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(30);

/// Starts the prober; `sub` delivers `module.updated` events.
pub async fn run(state: AppState, mut sub: Subscription) -> Result<(), String> {
    let mut every = tokio::time::interval(PROBE_INTERVAL);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            delivery = sub.recv() => {
                if delivery.is_none() {
                    break;
                }
            }
        }
        probe(&state).await;
    }
    Ok(())
}

/// Probes the services of the modules that are on and configured; the outcome is recorded by
/// the clients themselves.
async fn probe(state: &AppState) {
    if module_enabled(state, ModuleName::Monitoring)
        .await
        .unwrap_or(false)
    {
        if let Ok(Some(prometheus)) = prometheus_if_configured(state).await {
            prometheus.health().await;
        }
        if let Ok(Some(grafana)) = grafana_if_configured(state).await {
            grafana.health().await;
        }
    }
    if module_enabled(state, ModuleName::Alerting)
        .await
        .unwrap_or(false)
        && let Ok(alertmanager) = alertmanager(state).await
    {
        alertmanager.health().await;
    }
}
