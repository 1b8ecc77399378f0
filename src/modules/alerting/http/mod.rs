//! The alerting module's HTTP face: one file per resource, each declaring its operations with
//! `#[utoipa::path]`. Listed in the module's descriptor (`super`).

pub mod alert_rules;
pub mod alerts;
pub mod silences;
pub mod webhook;
