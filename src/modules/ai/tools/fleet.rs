//! Tools over the fleet's endpoints and containers.

use serde_json::{Map, Value, json};

use super::{Caller, Effect, Tool, ToolError, ToolFuture, text};
use crate::auth::Role;
use crate::docker::containers::{ContainerAction, ContainerInfo};
use crate::docker::ops::DockerOp;
use crate::endpoints;
use crate::state::AppState;

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "list_endpoints",
        description: "List the Docker endpoints (the master's engine, remote engines, worker nodes) with their ids",
        effect: Effect::Read,
        role: Role::Viewer,
        input_schema: no_arguments,
        run: list_endpoints,
    },
    Tool {
        name: "list_containers",
        description: "List the containers of one endpoint: id, name, image, state and status",
        effect: Effect::Read,
        role: Role::Viewer,
        input_schema: endpoint_only,
        run: list_containers,
    },
    Tool {
        name: "restart_container",
        description: "Restart a container on an endpoint",
        effect: Effect::Write,
        role: Role::Operator,
        input_schema: endpoint_and_container,
        run: restart_container,
    },
];

pub(super) fn no_arguments() -> Value {
    json!({"type": "object", "properties": {}, "additionalProperties": false})
}

fn endpoint_only() -> Value {
    json!({
        "type": "object",
        "properties": {"endpoint": {"type": "string", "description": "Endpoint id (list_endpoints)"}},
        "required": ["endpoint"],
        "additionalProperties": false
    })
}

pub(super) fn endpoint_and_container() -> Value {
    json!({
        "type": "object",
        "properties": {
            "endpoint": {"type": "string", "description": "Endpoint id (list_endpoints)"},
            "container": {"type": "string", "description": "Container id or name"}
        },
        "required": ["endpoint", "container"],
        "additionalProperties": false
    })
}

/// The endpoint named by the `endpoint` argument.
pub(super) async fn endpoint_arg(
    state: &AppState,
    args: &Map<String, Value>,
) -> Result<crate::store::endpoints::StoredEndpoint, ToolError> {
    endpoints::get(state, text(args, "endpoint")?)
        .await
        .map_err(failed)
}

pub(super) fn failed(e: impl std::fmt::Display) -> ToolError {
    ToolError::Failed(e.to_string())
}

/// A container id or name as the REST routes accept it.
pub(super) fn container_ref(args: &Map<String, Value>) -> Result<&str, ToolError> {
    let id = text(args, "container")?;
    if id.len() > 128
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(ToolError::BadArguments(format!(
            "arguments.container: invalid container id or name '{id}'"
        )));
    }
    Ok(id)
}

fn list_endpoints<'a>(state: &'a AppState, _: &'a Caller, _: Map<String, Value>) -> ToolFuture<'a> {
    Box::pin(async move {
        let list = endpoints::all(state).await.map_err(failed)?;
        Ok(Value::Array(
            list.into_iter()
                .map(|e| json!({"id": e.id, "name": e.name, "kind": e.kind, "node": e.node_id}))
                .collect(),
        ))
    })
}

fn list_containers<'a>(
    state: &'a AppState,
    _: &'a Caller,
    args: Map<String, Value>,
) -> ToolFuture<'a> {
    Box::pin(async move {
        let e = endpoint_arg(state, &args).await?;
        let list: Vec<ContainerInfo> =
            endpoints::call_as(state, &e, DockerOp::ListContainers { all: true })
                .await
                .map_err(failed)?;
        Ok(Value::Array(
            list.into_iter()
                .map(|c| {
                    json!({"id": c.id, "name": c.name, "image": c.image, "state": c.state, "status": c.status})
                })
                .collect(),
        ))
    })
}

fn restart_container<'a>(
    state: &'a AppState,
    _: &'a Caller,
    args: Map<String, Value>,
) -> ToolFuture<'a> {
    Box::pin(async move {
        let id = container_ref(&args)?.to_string();
        let e = endpoint_arg(state, &args).await?;
        endpoints::call(
            state,
            &e,
            DockerOp::ContainerAction {
                id: id.clone(),
                action: ContainerAction::Restart,
            },
        )
        .await
        .map_err(failed)?;
        state
            .events
            .publish_committed(crate::events::ContainerAction {
                id: id.clone(),
                action: "restart".into(),
                endpoint: e.id.clone(),
            })
            .await;
        Ok(json!({"restarted": id, "endpoint": e.id}))
    })
}
