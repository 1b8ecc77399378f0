//! The alerting module's event kinds.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::store::alerts::Alert;
use crate::events::EventDecl;

/// One matcher of a silence, as the API and the `silence.*` events show it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatcherView {
    /// A label name, e.g. `alertname`.
    #[schema(pattern = "^[a-zA-Z_][a-zA-Z0-9_]*$")]
    pub name: String,
    #[schema(max_length = 1024)]
    pub value: String,
    /// `value` is a regular expression (RE2, anchored).
    #[serde(default)]
    pub is_regex: bool,
    /// `false` for a negative matcher (`!=`, `!~`).
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

/// The kinds of this module, for the catalogue.
pub fn declared() -> Vec<EventDecl> {
    vec![
        EventDecl::of::<AlertFired>(),
        EventDecl::of::<AlertResolved>(),
        EventDecl::of::<AlertAcknowledged>(),
        EventDecl::of::<AlertRuleCreated>(),
        EventDecl::of::<AlertRuleUpdated>(),
        EventDecl::of::<AlertRuleDeleted>(),
        EventDecl::of::<SilenceCreated>(),
        EventDecl::of::<SilenceDeleted>(),
    ]
}

/// The payload of every `alert.*` event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertPayload {
    pub id: String,
    pub name: String,
    pub severity: String,
    /// `firing` or `resolved`.
    pub status: String,
    #[schema(value_type = Object)]
    pub labels: Map<String, Value>,
    #[schema(value_type = Object)]
    pub annotations: Map<String, Value>,
    /// RFC 3339.
    pub starts_at: String,
    pub ends_at: Option<String>,
    pub fingerprint: String,
    pub rule_id: Option<String>,
    pub acknowledged_by: Option<String>,
    /// `None`: resolved by Alertmanager (or not resolved).
    pub resolved_by: Option<String>,
}

impl From<&Alert> for AlertPayload {
    fn from(alert: &Alert) -> Self {
        Self {
            id: alert.id.clone(),
            name: alert.name.clone(),
            severity: alert.severity.clone(),
            status: alert.status.clone(),
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at: contextbay_actors::rfc3339_from_millis(alert.starts_at),
            ends_at: alert.ends_at.map(contextbay_actors::rfc3339_from_millis),
            fingerprint: alert.fingerprint.clone(),
            rule_id: alert.rule_id.clone(),
            acknowledged_by: alert.acknowledged_by.clone(),
            resolved_by: alert.resolved_by.clone(),
        }
    }
}

/// Alertmanager reported a new firing alert: an [`AlertPayload`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct AlertFired(pub AlertPayload);
crate::event!(
    AlertFired,
    "alert.fired",
    Viewer,
    "Alertmanager reported a new firing alert"
);

/// An [`AlertPayload`]; `resolved_by` null: by Alertmanager, else by that user.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct AlertResolved(pub AlertPayload);
crate::event!(AlertResolved, "alert.resolved", Viewer, "an alert resolved");

#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct AlertAcknowledged(pub AlertPayload);
crate::event!(
    AlertAcknowledged,
    "alert.acknowledged",
    Viewer,
    "someone acknowledged an alert"
);

/// `{id, name}` of an alert rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRuleRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct AlertRuleCreated(pub AlertRuleRef);
crate::event!(
    AlertRuleCreated,
    "alert_rule.created",
    Viewer,
    "an alert rule was created"
);

#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct AlertRuleUpdated(pub AlertRuleRef);
crate::event!(
    AlertRuleUpdated,
    "alert_rule.updated",
    Viewer,
    "an alert rule was changed"
);

#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct AlertRuleDeleted(pub AlertRuleRef);
crate::event!(
    AlertRuleDeleted,
    "alert_rule.deleted",
    Viewer,
    "an alert rule was deleted"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct SilenceCreated {
    pub id: String,
    pub matchers: Vec<MatcherView>,
    /// RFC 3339.
    pub ends_at: String,
    pub created_by: String,
}
crate::event!(
    SilenceCreated,
    "silence.created",
    Viewer,
    "an Alertmanager silence was created"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct SilenceDeleted {
    pub id: String,
}
crate::event!(
    SilenceDeleted,
    "silence.deleted",
    Viewer,
    "an Alertmanager silence was expired"
);
