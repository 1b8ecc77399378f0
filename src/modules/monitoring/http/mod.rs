//! The monitoring module's HTTP face: one file per resource, each declaring its operations with
//! `#[utoipa::path]`. Listed in the module's descriptor (`super`).

pub mod fleet_metrics;
pub mod grafana;
pub mod metrics_history;
pub mod prometheus;
pub mod prometheus_proxy;
