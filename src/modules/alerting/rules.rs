//! Alert rules: validation, and applying a change so that the answer says what Prometheus made
//! of it. A change Prometheus refuses (it reloads with an error because of it) is undone.

use serde_json::{Map, Value};

use crate::modules::ModuleError;
use crate::modules::alerting::store::AlertingStore;
use crate::modules::alerting::store::rules::{AlertRule, RuleFields};
use crate::modules::monitoring::prometheus_files::{PrometheusApply, RULE_ID_LABEL};
use crate::modules::monitoring::promql_time::parse_duration;
use crate::state::AppState;

pub const SEVERITIES: [&str; 3] = ["critical", "warning", "info"];
pub const MAX_NAME: usize = 128;
pub const MAX_EXPR: usize = 4096;
pub const MAX_ENTRIES: usize = 32;
pub const MAX_LABEL_VALUE: usize = 1024;
pub const MAX_ANNOTATION_VALUE: usize = 4096;
/// Label names ContextBay sets on a rule's alerts itself.
pub const RESERVED_LABELS: [&str; 3] = ["alertname", "severity", RULE_ID_LABEL];
/// Longest `for:` accepted (Prometheus has no limit; a week is beyond any useful alert).
const MAX_FOR_MS: u64 = 7 * 86_400_000;

/// A rule as submitted, before validation.
#[derive(Debug, Clone, Default)]
pub struct RuleDraft {
    pub name: String,
    pub expr: String,
    pub for_duration: Option<String>,
    pub severity: Option<String>,
    pub labels: Option<Map<String, Value>>,
    pub annotations: Option<Map<String, Value>>,
    pub enabled: Option<bool>,
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`: Prometheus label names; ContextBay also holds alert names to it.
pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Why a draft is refused, and the field at fault (a dotted path such as `labels.team`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    fn at(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

fn string_map(
    field: &str,
    map: Map<String, Value>,
    max_value: usize,
    reserved: &[&str],
) -> Result<Map<String, Value>, Invalid> {
    if map.len() > MAX_ENTRIES {
        return Err(Invalid::at(
            field,
            format!("'{field}' may have at most {MAX_ENTRIES} entries"),
        ));
    }
    for (k, v) in &map {
        if !is_label_name(k) || k.starts_with("__") {
            return Err(Invalid::at(
                format!("{field}.{k}"),
                format!(
                    "'{field}.{k}': names must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __"
                ),
            ));
        }
        if reserved.contains(&k.as_str()) {
            return Err(Invalid::at(
                format!("{field}.{k}"),
                format!("'{field}.{k}' is set by ContextBay and cannot be given"),
            ));
        }
        let Some(s) = v.as_str() else {
            return Err(Invalid::at(
                format!("{field}.{k}"),
                format!("'{field}.{k}' must be a string"),
            ));
        };
        if s.chars().count() > max_value {
            return Err(Invalid::at(
                format!("{field}.{k}"),
                format!("'{field}.{k}' is longer than {max_value} characters"),
            ));
        }
    }
    Ok(map)
}

/// Checks everything that can be checked without Prometheus.
pub fn validate(draft: RuleDraft) -> Result<RuleFields, Invalid> {
    let name = draft.name;
    if name.is_empty() || name.len() > MAX_NAME || !is_label_name(&name) {
        return Err(Invalid::at(
            "name",
            format!(
                "'name' must be 1 to {MAX_NAME} characters of [a-zA-Z0-9_], not starting with a \
                 digit"
            ),
        ));
    }
    if draft.expr.chars().count() > MAX_EXPR || crate::modules::trim_blank(&draft.expr).is_empty() {
        return Err(Invalid::at(
            "expr",
            format!("'expr' must be a PromQL expression of 1 to {MAX_EXPR} characters, not blank"),
        ));
    }
    let expr = crate::modules::trim_blank(&draft.expr).to_owned();
    let for_duration = draft.for_duration.unwrap_or_else(|| "0s".into());
    let ms =
        parse_duration(&for_duration).map_err(|e| Invalid::at("for", format!("'for': {e}")))?;
    if ms > MAX_FOR_MS {
        return Err(Invalid::at("for", "'for' must be at most 7d"));
    }
    let severity = draft.severity.unwrap_or_else(|| "warning".into());
    if !SEVERITIES.contains(&severity.as_str()) {
        return Err(Invalid::at(
            "severity",
            format!(
                "'severity' must be one of {}, not '{severity}'",
                SEVERITIES.join(", ")
            ),
        ));
    }
    let labels = string_map(
        "labels",
        draft.labels.unwrap_or_default(),
        MAX_LABEL_VALUE,
        &RESERVED_LABELS,
    )?;
    let annotations = string_map(
        "annotations",
        draft.annotations.unwrap_or_default(),
        MAX_ANNOTATION_VALUE,
        &[],
    )?;
    Ok(RuleFields {
        name,
        expr,
        for_duration,
        severity,
        labels,
        annotations,
        enabled: draft.enabled.unwrap_or(true),
    })
}

/// Validates a draft completely: the local checks, then PromQL by Prometheus itself (which must
/// therefore be configured and reachable).
pub async fn check(state: &AppState, draft: RuleDraft) -> Result<RuleFields, ModuleError> {
    let fields = validate(draft).map_err(|e| ModuleError::InvalidField {
        field: e.field,
        message: e.message,
    })?;
    let prom = crate::modules::monitoring::prometheus(state).await?;
    prom.check_expr(&fields.expr)
        .await?
        .map_err(|e| ModuleError::InvalidField {
            field: "expr".into(),
            message: format!("'expr' is not valid PromQL: {e}"),
        })?;
    Ok(fields)
}

/// Whether Prometheus refused the rule files because of this change: the reload failed with this
/// change and succeeds without it.
async fn refused_because_of_change(
    state: &AppState,
    applied: &PrometheusApply,
    undo: impl std::future::Future<Output = Result<(), ModuleError>>,
) -> Result<bool, ModuleError> {
    if !applied.refused {
        return Ok(false);
    }
    undo.await?;
    let without = state.prometheus_files.sync_rules(state, None).await;
    Ok(without.reloaded)
}

fn refused_error(applied: &PrometheusApply) -> ModuleError {
    ModuleError::Invalid(format!(
        "prometheus refused the rule file with this rule ({}); nothing was changed. Check the \
         annotation and label templates",
        applied
            .error
            .as_deref()
            .unwrap_or("see Prometheus' log for the reason")
    ))
}

/// Stores a new rule and has Prometheus load it.
pub async fn create(
    state: &AppState,
    fields: &RuleFields,
    by: &str,
) -> Result<(AlertRule, PrometheusApply), ModuleError> {
    let rule = state.store.alert_rules().create(fields, by).await?;
    let applied = state
        .prometheus_files
        .sync_rules(state, Some(&rule.id))
        .await;
    let undo = async { Ok(state.store.alert_rules().delete(&rule.id).await?) };
    if refused_because_of_change(state, &applied, undo).await? {
        return Err(refused_error(&applied));
    }
    if applied.refused {
        // Prometheus refuses its files even without this rule: the fault is elsewhere (its
        // configuration); keep the rule and say so.
        state.store.alert_rules().restore(&rule).await?;
        let again = state
            .prometheus_files
            .sync_rules(state, Some(&rule.id))
            .await;
        return Ok((rule, again));
    }
    Ok((rule, applied))
}

/// Replaces a rule's fields and has Prometheus load the new version.
pub async fn update(
    state: &AppState,
    id: &str,
    fields: &RuleFields,
    by: &str,
) -> Result<(AlertRule, PrometheusApply), ModuleError> {
    let before = state.store.alert_rules().get(id).await?;
    let rule = state.store.alert_rules().update(id, fields, by).await?;
    let applied = state.prometheus_files.sync_rules(state, Some(id)).await;
    let undo = async { Ok(state.store.alert_rules().restore(&before).await?) };
    if refused_because_of_change(state, &applied, undo).await? {
        return Err(refused_error(&applied));
    }
    if applied.refused {
        state.store.alert_rules().restore(&rule).await?;
        let again = state.prometheus_files.sync_rules(state, Some(id)).await;
        return Ok((rule, again));
    }
    Ok((rule, applied))
}

/// Deletes a rule and has Prometheus drop it.
pub async fn delete(
    state: &AppState,
    id: &str,
) -> Result<(AlertRule, PrometheusApply), ModuleError> {
    let rule = state.store.alert_rules().get(id).await?;
    state.store.alert_rules().delete(id).await?;
    let applied = state.prometheus_files.sync_rules(state, Some(id)).await;
    Ok((rule, applied))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft() -> RuleDraft {
        RuleDraft {
            name: "HighLoad".into(),
            expr: "contextbay_node_load1 > 4".into(),
            ..RuleDraft::default()
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn defaults_and_limits() {
        let f = validate(draft()).unwrap();
        assert_eq!(f.for_duration, "0s");
        assert_eq!(f.severity, "warning");
        assert!(f.enabled);
        let bad = |d: RuleDraft| validate(d).unwrap_err().message;
        assert!(
            bad(RuleDraft {
                name: "1x".into(),
                ..draft()
            })
            .contains("'name'")
        );
        assert!(
            bad(RuleDraft {
                name: "a b".into(),
                ..draft()
            })
            .contains("'name'")
        );
        assert!(
            bad(RuleDraft {
                expr: " ".into(),
                ..draft()
            })
            .contains("'expr'")
        );
        assert!(
            bad(RuleDraft {
                for_duration: Some("5 minutes".into()),
                ..draft()
            })
            .contains("'for'")
        );
        assert!(
            bad(RuleDraft {
                for_duration: Some("8d".into()),
                ..draft()
            })
            .contains("7d")
        );
        assert!(
            bad(RuleDraft {
                severity: Some("fatal".into()),
                ..draft()
            })
            .contains("severity")
        );
        let labels = |v| RuleDraft {
            labels: Some(obj(v)),
            ..draft()
        };
        assert!(bad(labels(json!({"severity": "x"}))).contains("set by ContextBay"));
        assert!(bad(labels(json!({"__x": "y"}))).contains("labels.__x"));
        assert_eq!(
            validate(labels(json!({"__x": "y"}))).unwrap_err().field,
            "labels.__x"
        );
        assert!(bad(labels(json!({"team": 1}))).contains("must be a string"));
        assert!(bad(labels(json!({"bad-name": "x"}))).contains("labels.bad-name"));
        let ok = validate(RuleDraft {
            annotations: Some(obj(json!({"summary": "{{ $value }}"}))),
            for_duration: Some("1h30m".into()),
            severity: Some("critical".into()),
            ..draft()
        })
        .unwrap();
        assert_eq!(ok.annotations["summary"], "{{ $value }}");
    }
}
