//! An organization annotation in Grafana for every alert that fires (tags `contextbay`, `alert`,
//! the alert name and severity), while the monitoring module is on and Grafana is configured.
//!
//! It consumes `alert.fired` from the bus, so the webhook answers Alertmanager without waiting
//! for Grafana; a failed annotation is logged and not retried (the alert itself is stored).

use contextbay_actors::{Delivery, Subscription};
use serde_json::Value;

use crate::integrations::grafana::NewAnnotation;
use crate::modules::ModuleName;
use crate::state::AppState;

/// The annotation for an `alert.fired` payload.
pub fn annotation(payload: &Value, fallback_ms: i64) -> NewAnnotation {
    let name = payload["name"].as_str().unwrap_or("alert");
    let severity = payload["severity"].as_str().unwrap_or("none");
    let summary = ["summary", "description"]
        .iter()
        .find_map(|k| payload["annotations"][*k].as_str());
    let time = payload["starts_at"]
        .as_str()
        .and_then(|t| super::promql_time::parse_timestamp("starts_at", t).ok())
        .unwrap_or(fallback_ms);
    NewAnnotation {
        dashboard_uid: None,
        panel_id: None,
        time,
        time_end: None,
        tags: vec![
            "contextbay".into(),
            "alert".into(),
            name.to_owned(),
            severity.to_owned(),
        ],
        text: match summary {
            Some(s) => format!("{name} ({severity}): {s}"),
            None => format!("{name} ({severity}) fired"),
        },
    }
}

pub async fn run(state: AppState, mut sub: Subscription) -> Result<(), String> {
    while let Some(delivery) = sub.recv().await {
        let Delivery::Event(event) = delivery else {
            tracing::warn!("grafana annotator lagged; some alerts have no annotation");
            continue;
        };
        match crate::modules::is_enabled(&state, ModuleName::Monitoring).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(err) => {
                tracing::warn!("grafana annotator: {err}");
                continue;
            }
        }
        let grafana = match super::grafana_if_configured(&state).await {
            Ok(Some(g)) => g,
            // Grafana is optional: without it there is nothing to annotate.
            Ok(None) => continue,
            Err(err) => {
                tracing::warn!("grafana annotator: {err}");
                continue;
            }
        };
        let note = annotation(&event.payload, event.ts_ms);
        if let Err(err) = grafana.annotate(&note).await {
            tracing::warn!(alert = %event.payload["id"], "grafana annotation failed: {err}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn annotation_carries_name_severity_and_summary() {
        let a = annotation(
            &json!({"name": "DiskFull", "severity": "warning",
                    "annotations": {"summary": "disk / at 95%"},
                    "starts_at": "2026-11-27T04:14:29.123Z"}),
            1,
        );
        assert_eq!(a.time, 1_795_752_869_123);
        assert_eq!(a.tags, ["contextbay", "alert", "DiskFull", "warning"]);
        assert_eq!(a.text, "DiskFull (warning): disk / at 95%");
        assert_eq!(annotation(&json!({}), 7).time, 7);
    }
}
