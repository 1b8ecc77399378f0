//! Container exits and failing health checks, from the Docker events workers report
//! (`container.update` on the bus), exported on `/metrics` for the default alert rules:
//!
//! - `contextbay_container_exits_total{node, hostname, container}`: `die` events (a container
//!   in a restart loop dies again and again);
//! - `contextbay_container_unhealthy{node, hostname, container}`: 1 from a
//!   `health_status: unhealthy` event until the container is healthy again, stops or is
//!   removed.
//!
//! The task that consumes the events owns the series. They start empty when the master starts:
//! counters restart at zero (PromQL's `increase` allows for that), and a container that was
//! unhealthy before the restart shows again at its next failing health check.

use std::collections::HashMap;

use contextbay_actors::{Delivery, Subscription};
use prometheus::{IntCounterVec, IntGaugeVec, Opts};

use crate::state::AppState;

/// The two series families.
#[derive(Clone)]
pub struct ContainerSignals {
    exits: IntCounterVec,
    unhealthy: IntGaugeVec,
}

impl ContainerSignals {
    pub fn new() -> prometheus::Result<Self> {
        let labels = ["node", "hostname", "container"];
        Ok(Self {
            exits: IntCounterVec::new(
                Opts::new(
                    "contextbay_container_exits_total",
                    "Container exits (Docker die events) reported by workers",
                ),
                &labels,
            )?,
            unhealthy: IntGaugeVec::new(
                Opts::new(
                    "contextbay_container_unhealthy",
                    "1 while a container's health check fails (absent otherwise)",
                ),
                &labels,
            )?,
        })
    }

    /// Applies one Docker container event.
    pub fn observe(&self, node: &str, hostname: &str, container: &str, action: &str) {
        let labels = [node, hostname, container];
        match action {
            "die" => {
                self.exits.with_label_values(&labels).inc();
                let _ = self.unhealthy.remove_label_values(&labels);
            }
            "health_status: unhealthy" => self.unhealthy.with_label_values(&labels).set(1),
            "health_status: healthy" | "stop" | "kill" => {
                let _ = self.unhealthy.remove_label_values(&labels);
            }
            "destroy" => {
                let _ = self.unhealthy.remove_label_values(&labels);
                let _ = self.exits.remove_label_values(&labels);
            }
            _ => {}
        }
    }
}

impl ContainerSignals {
    /// Creates the series and registers them with the master's `/metrics` (once; the consumer
    /// keeps them across restarts).
    pub fn register(state: &AppState) -> anyhow::Result<Self> {
        let signals = Self::new()?;
        state.metrics.register(Box::new(signals.exits.clone()))?;
        state
            .metrics
            .register(Box::new(signals.unhealthy.clone()))?;
        Ok(signals)
    }
}

/// Consumes `container.update` events into `signals` until the bus closes.
pub async fn run(
    state: AppState,
    signals: ContainerSignals,
    mut sub: Subscription,
) -> Result<(), String> {
    // Node id → hostname, looked up once per node.
    let mut hostnames: HashMap<String, String> = HashMap::new();
    while let Some(delivery) = sub.recv().await {
        let Delivery::Event(event) = delivery else {
            tracing::warn!("container signals lagged; some container exits were not counted");
            continue;
        };
        let p = &event.payload;
        let (Some(node), Some(action)) = (p["node_id"].as_str(), p["action"].as_str()) else {
            continue;
        };
        let container = p["attributes"]["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .or_else(|| p["id"].as_str().map(|id| id.get(..12).unwrap_or(id)))
            .unwrap_or("unknown");
        if !hostnames.contains_key(node) {
            let hostname = match state.nodes.snapshot(node).await {
                Ok(Some(live)) => live.hostname,
                _ => String::new(),
            };
            hostnames.insert(node.to_owned(), hostname);
        }
        let hostname = hostnames.get(node).map_or("", String::as_str);
        signals.observe(node, hostname, container, action);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_count_and_health_comes_and_goes() {
        let s = ContainerSignals::new().unwrap();
        let l = ["n1", "host", "web"];
        s.observe("n1", "host", "web", "die");
        s.observe("n1", "host", "web", "start");
        s.observe("n1", "host", "web", "die");
        assert_eq!(s.exits.with_label_values(&l).get(), 2);
        s.observe("n1", "host", "web", "health_status: unhealthy");
        assert_eq!(s.unhealthy.with_label_values(&l).get(), 1);
        s.observe("n1", "host", "web", "health_status: healthy");
        let registry = prometheus::Registry::new();
        registry.register(Box::new(s.unhealthy.clone())).unwrap();
        assert!(registry.gather().iter().all(|f| f.get_metric().is_empty()));
        s.observe("n1", "host", "web", "destroy");
        assert_eq!(s.exits.with_label_values(&l).get(), 0);
    }
}
