//! Tools that read what the fleet reported: Prometheus metrics (monitoring module), alerts
//! (alerting module) and the recent event feed. A tool of a module is offered only while the
//! module is on ([`super::available`]) and refuses to run while it is off.

use serde_json::{Map, Value, json};

use super::fleet::failed;
use super::{Caller, Effect, Tool, ToolError, ToolFuture, text};
use crate::auth::Role;
use crate::events::visible_kinds;
use crate::modules::alerting::store::AlertingStore;
use crate::modules::alerting::store::alerts::AlertFilter;
use crate::modules::{ModuleName, is_enabled, monitoring};
use crate::state::AppState;
use crate::store::Page;

/// The most series a metrics answer keeps (the rest are counted, not sent).
pub const MAX_SERIES: usize = 50;
/// The most alerts or events one call answers.
pub const MAX_ITEMS: u64 = 100;
/// The longest PromQL expression accepted.
const MAX_QUERY_CHARS: usize = 2_000;

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "query_metrics",
        description: "Evaluate a PromQL expression now with the fleet's Prometheus (instant query); answers at most 50 series",
        effect: Effect::Read,
        role: Role::Viewer,
        input_schema: query_schema,
        run: query_metrics,
    },
    Tool {
        name: "list_alerts",
        description: "The latest alerts (newest first): name, severity, status (firing or resolved), labels, annotations, start and end",
        effect: Effect::Read,
        role: Role::Viewer,
        input_schema: alerts_schema,
        run: list_alerts,
    },
    Tool {
        name: "recent_events",
        description: "The latest ContextBay events (newest first): container actions, node status changes, stack updates, …",
        effect: Effect::Read,
        role: Role::Viewer,
        input_schema: events_schema,
        run: recent_events,
    },
];

/// The module a tool needs on, if any.
pub(super) fn module_of(tool: &str) -> Option<ModuleName> {
    match tool {
        "query_metrics" => Some(ModuleName::Monitoring),
        "list_alerts" => Some(ModuleName::Alerting),
        _ => None,
    }
}

fn query_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"query": {"type": "string", "description": "A PromQL expression, e.g. up or rate(container_cpu_usage_seconds_total[5m])"}},
        "required": ["query"],
        "additionalProperties": false
    })
}

fn alerts_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["firing", "resolved"]},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_ITEMS, "description": "Default 20"}
        },
        "additionalProperties": false
    })
}

fn events_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "type": {"type": "string", "description": "An event type (container.action) or a prefix (container.*)"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_ITEMS, "description": "Default 20"}
        },
        "additionalProperties": false
    })
}

/// `limit` as given (1 to [`MAX_ITEMS`]) or 20.
fn limit(args: &Map<String, Value>) -> Result<i64, ToolError> {
    match args.get("limit") {
        None | Some(Value::Null) => Ok(20),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_ITEMS).contains(n))
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| {
                ToolError::BadArguments(format!(
                    "arguments.limit must be an integer from 1 to {MAX_ITEMS}"
                ))
            }),
    }
}

async fn require_module(state: &AppState, module: ModuleName) -> Result<(), ToolError> {
    if is_enabled(state, module).await.map_err(failed)? {
        Ok(())
    } else {
        Err(ToolError::Failed(format!(
            "the {} module is off",
            module.as_str()
        )))
    }
}

/// Prometheus' `data` with at most [`MAX_SERIES`] series of a vector or matrix answer.
fn cap_series(mut data: Value) -> Value {
    if let Some(result) = data.get_mut("result").and_then(Value::as_array_mut)
        && result.len() > MAX_SERIES
    {
        let total = result.len();
        result.truncate(MAX_SERIES);
        data["truncated"] = json!({"kept": MAX_SERIES, "total": total});
    }
    data
}

fn query_metrics<'a>(
    state: &'a AppState,
    _: &'a Caller,
    args: Map<String, Value>,
) -> ToolFuture<'a> {
    Box::pin(async move {
        let query = text(&args, "query")?;
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(ToolError::BadArguments(format!(
                "arguments.query is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        require_module(state, ModuleName::Monitoring).await?;
        let prometheus = monitoring::prometheus(state).await?;
        let data = prometheus
            .api("query", &[("query", query)])
            .await
            .map_err(failed)?;
        Ok(cap_series(data))
    })
}

fn list_alerts<'a>(state: &'a AppState, _: &'a Caller, args: Map<String, Value>) -> ToolFuture<'a> {
    Box::pin(async move {
        let limit = limit(&args)?;
        require_module(state, ModuleName::Alerting).await?;
        let filter = AlertFilter {
            status: args
                .get("status")
                .and_then(Value::as_str)
                .map(str::to_owned),
            ..AlertFilter::default()
        };
        let page = state
            .store
            .alerts()
            .list(&filter, Page { limit, offset: 0 })
            .await
            .map_err(failed)?;
        Ok(json!({
            "total": page.total,
            "items": page.items.into_iter().map(|a| json!({
                "id": a.id,
                "name": a.name,
                "severity": a.severity,
                "status": a.status,
                "labels": a.labels,
                "annotations": a.annotations,
                "starts_at": contextbay_actors::rfc3339_from_millis(a.starts_at),
                "ends_at": a.ends_at.map(contextbay_actors::rfc3339_from_millis),
                "acknowledged_by": a.acknowledged_by,
            })).collect::<Vec<_>>(),
        }))
    })
}

fn recent_events<'a>(
    state: &'a AppState,
    caller: &'a Caller,
    args: Map<String, Value>,
) -> ToolFuture<'a> {
    Box::pin(async move {
        let limit = limit(&args)?;
        let kind = match args.get("type").and_then(Value::as_str) {
            Some(k) => {
                contextbay_actors::TopicFilter::parse([k])
                    .map_err(|e| ToolError::BadArguments(format!("arguments.type: {e}")))?;
                Some(k.trim())
            }
            None => None,
        };
        // What the caller's role may see of the feed, as `GET /api/activity` answers it.
        let visible = visible_kinds(caller.role);
        let page = state
            .store
            .events()
            .page(visible.as_deref(), kind, None, Page { limit, offset: 0 })
            .await
            .map_err(failed)?;
        Ok(Value::Array(
            page.items
                .into_iter()
                .map(|e| {
                    json!({
                        "id": e.id,
                        "type": e.kind,
                        "ts": contextbay_actors::rfc3339_from_millis(e.ts),
                        "payload": e.payload,
                    })
                })
                .collect(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_answer_keeps_fifty_series_and_says_so() {
        let series: Vec<Value> = (0..80).map(|i| json!({"metric": {"i": i}})).collect();
        let out = cap_series(json!({"resultType": "vector", "result": series}));
        assert_eq!(out["result"].as_array().map(Vec::len), Some(MAX_SERIES));
        assert_eq!(out["truncated"]["total"], 80);
        let small = cap_series(json!({"resultType": "vector", "result": [1]}));
        assert!(small.get("truncated").is_none());
    }

    #[test]
    fn limits_are_bounded() {
        let args = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(limit(&args(json!({}))).ok(), Some(20));
        assert!(limit(&args(json!({"limit": 101}))).is_err());
        assert!(limit(&args(json!({"limit": 0}))).is_err());
    }
}
