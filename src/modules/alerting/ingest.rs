//! Alertmanager's webhook notifications (payload version 4) → stored alerts → `alert.fired` /
//! `alert.resolved` events and a `notification` for people.
//!
//! Alertmanager repeats a notification until the alert resolves (`repeat_interval`), and may
//! send a group again when one alert of it changes: an alert instance is its fingerprint plus
//! its start time, so repeats change nothing and publish nothing.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::events::{AlertFired, AlertPayload, AlertResolved};
use super::store::AlertingStore;
use crate::events::Notification;
use crate::modules::alerting::store::alerts::{Alert, Change, IncomingAlert};
use crate::modules::monitoring::prometheus_files::RULE_ID_LABEL;
use crate::state::AppState;

/// Alerts accepted in one notification (Alertmanager's `max_alerts` should stay below it).
pub const MAX_ALERTS: usize = 1000;

/// The webhook body, as Alertmanager documents it for `version: "4"`. Fields ContextBay does not
/// use are accepted and ignored, so newer Alertmanagers keep working.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookPayload {
    /// `4`.
    pub version: String,
    #[serde(default)]
    pub group_key: String,
    #[serde(default)]
    pub truncated_alerts: u64,
    /// `firing` or `resolved`.
    pub status: String,
    #[serde(default)]
    pub receiver: String,
    #[schema(max_items = 1000)]
    pub alerts: Vec<WebhookAlert>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAlert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Needs `alertname`.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub labels: Map<String, Value>,
    #[serde(default)]
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub annotations: Map<String, Value>,
    /// RFC 3339.
    pub starts_at: String,
    #[serde(default)]
    pub ends_at: Option<String>,
    #[serde(rename = "generatorURL", default)]
    pub generator_url: Option<String>,
    pub fingerprint: String,
}

/// What one notification did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct IngestSummary {
    pub received: usize,
    pub fired: usize,
    pub resolved: usize,
    pub unchanged: usize,
}

fn rfc3339_ms(field: &str, text: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MIN))
        .map_err(|_| format!("{field} is not an RFC 3339 time: '{text}'"))
}

fn strings_only(field: &str, map: &Map<String, Value>) -> Result<(), String> {
    match map.iter().find(|(_, v)| !v.is_string()) {
        Some((k, _)) => Err(format!("{field}.{k} must be a string")),
        None => Ok(()),
    }
}

/// Checks the whole payload before anything is stored.
pub fn validate(payload: WebhookPayload) -> Result<Vec<IncomingAlert>, String> {
    if payload.version != "4" {
        return Err(format!(
            "unsupported webhook payload version '{}'; ContextBay reads version 4",
            payload.version
        ));
    }
    if !matches!(payload.status.as_str(), "firing" | "resolved") {
        return Err(format!(
            "status must be firing or resolved, not '{}'",
            payload.status
        ));
    }
    if payload.alerts.len() > MAX_ALERTS {
        return Err(format!("at most {MAX_ALERTS} alerts per notification"));
    }
    let mut out = Vec::with_capacity(payload.alerts.len());
    for (i, a) in payload.alerts.into_iter().enumerate() {
        let at = |msg: String| format!("alerts[{i}]: {msg}");
        let firing = match a.status.as_str() {
            "firing" => true,
            "resolved" => false,
            other => {
                return Err(at(format!(
                    "status must be firing or resolved, not '{other}'"
                )));
            }
        };
        strings_only("labels", &a.labels).map_err(at)?;
        strings_only("annotations", &a.annotations).map_err(at)?;
        let name = a
            .labels
            .get("alertname")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if name.is_empty() {
            return Err(at("labels.alertname is missing".into()));
        }
        if a.fingerprint.is_empty()
            || a.fingerprint.len() > 64
            || !a.fingerprint.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(at("fingerprint must be 1 to 64 letters and digits".into()));
        }
        let starts_at = rfc3339_ms("startsAt", &a.starts_at).map_err(at)?;
        // Firing alerts carry the zero time ("0001-01-01T00:00:00Z") or a future expiry.
        let ends_at = match a.ends_at.as_deref() {
            Some(t) if !t.is_empty() && !t.starts_with("0001-") => {
                Some(rfc3339_ms("endsAt", t).map_err(at)?)
            }
            _ => None,
        };
        let text = |k: &str| a.labels.get(k).and_then(Value::as_str).map(str::to_owned);
        out.push(IncomingAlert {
            name: name.to_owned(),
            severity: text("severity").unwrap_or_else(|| "none".into()),
            rule_id: text(RULE_ID_LABEL),
            fingerprint: a.fingerprint,
            starts_at,
            ends_at,
            firing,
            generator_url: a.generator_url.filter(|u| !u.is_empty()),
            labels: a.labels,
            annotations: a.annotations,
        });
    }
    Ok(out)
}

fn notification_level(severity: &str) -> &'static str {
    match severity {
        "critical" => "error",
        "warning" => "warning",
        _ => "info",
    }
}

fn describe(alert: &Alert) -> String {
    ["summary", "description", "message"]
        .iter()
        .find_map(|k| alert.annotations.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let labels: Vec<String> = alert
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != "alertname" && k.as_str() != RULE_ID_LABEL)
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect();
            labels.join(", ")
        })
}

/// Publishes what changed for people and subscribers.
pub async fn publish(state: &AppState, change: Change, alert: &Alert) {
    let payload = AlertPayload::from(alert);
    let (title, level) = match change {
        Change::Fired => {
            state.events.publish_committed(AlertFired(payload)).await;
            (
                format!("Alert firing: {}", alert.name),
                notification_level(&alert.severity),
            )
        }
        Change::Resolved => {
            state.events.publish_committed(AlertResolved(payload)).await;
            (format!("Alert resolved: {}", alert.name), "info")
        }
        Change::Unchanged => return,
    };
    state
        .events
        .publish_committed(Notification {
            title,
            body: describe(alert),
            level: level.to_owned(),
            alert_id: Some(alert.id.clone()),
        })
        .await;
}

/// Stores a validated notification and publishes its changes.
pub async fn ingest(
    state: &AppState,
    alerts: &[IncomingAlert],
) -> Result<IngestSummary, crate::store::StoreError> {
    let changes = state.store.alerts().ingest(alerts).await?;
    let mut summary = IngestSummary {
        received: alerts.len(),
        ..IngestSummary::default()
    };
    for (change, alert) in &changes {
        match change {
            Change::Fired => summary.fired += 1,
            Change::Resolved => summary.resolved += 1,
            Change::Unchanged => summary.unchanged += 1,
        }
        publish(state, *change, alert).await;
    }
    tracing::debug!(?summary, "alertmanager notification");
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> WebhookPayload {
        serde_json::from_value(v).unwrap()
    }

    fn sample() -> Value {
        json!({
            "version": "4", "groupKey": "{}:{alertname=\"A\"}", "truncatedAlerts": 0,
            "status": "firing", "receiver": "cb", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://am",
            "alerts": [{
                "status": "firing", "labels": {"alertname": "A", "severity": "critical",
                "cb_rule_id": "r1"}, "annotations": {"summary": "s"},
                "startsAt": "2026-11-27T04:14:29.123Z", "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prom/graph", "fingerprint": "a1b2c3d4e5f60718"
            }]
        })
    }

    #[test]
    fn reads_version_4() {
        let alerts = validate(payload(sample())).unwrap();
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert!(a.firing);
        assert_eq!(a.name, "A");
        assert_eq!(a.severity, "critical");
        assert_eq!(a.rule_id.as_deref(), Some("r1"));
        assert_eq!(a.starts_at, 1_795_752_869_123);
        assert_eq!(a.ends_at, None);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let mut v = sample();
        v["version"] = json!("3");
        assert!(validate(payload(v)).unwrap_err().contains("version"));
        let mut v = sample();
        v["alerts"][0]["startsAt"] = json!("yesterday");
        assert!(
            validate(payload(v))
                .unwrap_err()
                .contains("alerts[0]: startsAt")
        );
        let mut v = sample();
        v["alerts"][0]["labels"] = json!({"severity": "x"});
        assert!(validate(payload(v)).unwrap_err().contains("alertname"));
        let mut v = sample();
        v["alerts"][0]["status"] = json!("pending");
        assert!(validate(payload(v)).unwrap_err().contains("status"));
        let mut v = sample();
        v["alerts"][0]["fingerprint"] = json!("../x");
        assert!(validate(payload(v)).unwrap_err().contains("fingerprint"));
    }
}
