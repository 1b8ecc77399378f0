//! Tools that look into one container: its inspect document (env values masked, for every role:
//! a model's context is no place for a secret) and the tail of its log.

use serde_json::{Map, Value, json};

use super::fleet::{container_ref, endpoint_arg, failed};
use super::{Caller, Effect, Tool, ToolError, ToolFuture};
use crate::auth::Role;
use crate::docker::containers::{LogLine, LogQuery, mask_env};
use crate::docker::ops::DockerOp;
use crate::endpoints;
use crate::state::AppState;

/// The most log lines one call answers.
pub const MAX_LOG_LINES: u64 = 500;
/// The default tail.
const DEFAULT_LOG_LINES: u64 = 100;
/// A longer log line is cut to this many characters.
const MAX_LINE_CHARS: usize = 2_000;

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "inspect_container",
        description: "Docker's inspect document of a container (configuration, state, mounts, network); env values are masked",
        effect: Effect::Read,
        role: Role::Viewer,
        input_schema: endpoint_and_container,
        run: inspect_container,
    },
    Tool {
        name: "container_logs",
        description: "The last lines of a container's log (stdout and stderr), at most 500",
        effect: Effect::Read,
        role: Role::Viewer,
        input_schema: logs_schema,
        run: container_logs,
    },
];

fn endpoint_and_container() -> Value {
    super::fleet::endpoint_and_container()
}

fn logs_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "endpoint": {"type": "string", "description": "Endpoint id (list_endpoints)"},
            "container": {"type": "string", "description": "Container id or name"},
            "tail": {"type": "integer", "minimum": 1, "maximum": MAX_LOG_LINES,
                     "description": "How many lines from the end (default 100, at most 500)"}
        },
        "required": ["endpoint", "container"],
        "additionalProperties": false
    })
}

/// `tail` as given (1 to [`MAX_LOG_LINES`]) or the default.
fn tail(args: &Map<String, Value>) -> Result<u32, ToolError> {
    match args.get("tail") {
        None | Some(Value::Null) => Ok(DEFAULT_LOG_LINES as u32),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_LOG_LINES).contains(n))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                ToolError::BadArguments(format!(
                    "arguments.tail must be an integer from 1 to {MAX_LOG_LINES}"
                ))
            }),
    }
}

fn inspect_container<'a>(
    state: &'a AppState,
    _: &'a Caller,
    args: Map<String, Value>,
) -> ToolFuture<'a> {
    Box::pin(async move {
        let id = container_ref(&args)?.to_string();
        let e = endpoint_arg(state, &args).await?;
        let mut doc = endpoints::call(state, &e, DockerOp::InspectContainer { id })
            .await
            .map_err(failed)?;
        mask_env(&mut doc);
        Ok(doc)
    })
}

fn container_logs<'a>(
    state: &'a AppState,
    _: &'a Caller,
    args: Map<String, Value>,
) -> ToolFuture<'a> {
    Box::pin(async move {
        let id = container_ref(&args)?.to_string();
        let tail = tail(&args)?;
        let e = endpoint_arg(state, &args).await?;
        let lines: Vec<LogLine> = endpoints::call_as(
            state,
            &e,
            DockerOp::ContainerLogs {
                id: id.clone(),
                query: LogQuery {
                    tail: Some(tail),
                    timestamps: true,
                    ..LogQuery::default()
                },
            },
        )
        .await
        .map_err(failed)?;
        let lines: Vec<Value> = lines
            .into_iter()
            .rev()
            .take(tail as usize)
            .rev()
            .map(|l| {
                let line: String = l.line.chars().take(MAX_LINE_CHARS).collect();
                json!({"stream": l.stream, "ts": l.ts, "line": line})
            })
            .collect();
        Ok(json!({"container": id, "endpoint": e.id, "lines": lines}))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_is_bounded() {
        let args = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(tail(&args(json!({}))).ok(), Some(100));
        assert_eq!(tail(&args(json!({"tail": 500}))).ok(), Some(500));
        assert!(tail(&args(json!({"tail": 501}))).is_err());
        assert!(tail(&args(json!({"tail": 0}))).is_err());
        assert!(tail(&args(json!({"tail": -3}))).is_err());
    }
}
