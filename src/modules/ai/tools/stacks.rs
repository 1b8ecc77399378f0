//! Tools over the stored stacks: list them, deploy one (as an operation of the job framework,
//! exactly as `POST /api/stacks/{id}/deploy` does).

use serde_json::{Map, Value, json};

use super::fleet::{failed, no_arguments};
use super::{Caller, Effect, Tool, ToolError, ToolFuture, text};
use crate::auth::Role;
use crate::endpoints;
use crate::stacks::{self, StackError};
use crate::state::AppState;

pub(super) static TOOLS: &[Tool] = &[
    Tool {
        name: "list_stacks",
        description: "List the stored compose stacks: id, name, endpoint, last seen status, whether adopted, the names (never the values) of their env variables",
        effect: Effect::Read,
        role: Role::Viewer,
        input_schema: no_arguments,
        run: list_stacks,
    },
    Tool {
        name: "deploy_stack",
        description: "Deploy a stored stack (docker compose up -d --remove-orphans on its endpoint) as an operation; answers the operation id to follow",
        effect: Effect::Write,
        role: Role::Operator,
        input_schema: stack_only,
        run: deploy_stack,
    },
];

fn stack_only() -> Value {
    json!({
        "type": "object",
        "properties": {"stack": {"type": "string", "description": "Stack id (list_stacks)"}},
        "required": ["stack"],
        "additionalProperties": false
    })
}

fn stack_error(e: StackError) -> ToolError {
    match e {
        StackError::NotFound(_) | StackError::Discovered { .. } | StackError::Invalid(_) => {
            ToolError::BadArguments(e.to_string())
        }
        other => ToolError::Failed(other.to_string()),
    }
}

fn list_stacks<'a>(state: &'a AppState, _: &'a Caller, _: Map<String, Value>) -> ToolFuture<'a> {
    Box::pin(async move {
        let list = state.store.stacks().list().await.map_err(failed)?;
        Ok(Value::Array(
            list.into_iter()
                .map(|s| {
                    json!({
                        "id": s.id,
                        "name": s.name,
                        "endpoint": s.endpoint,
                        "status": s.status,
                        "adopted": s.adopted,
                        "env_names": s.env.into_keys().collect::<Vec<_>>(),
                    })
                })
                .collect(),
        ))
    })
}

fn deploy_stack<'a>(
    state: &'a AppState,
    caller: &'a Caller,
    args: Map<String, Value>,
) -> ToolFuture<'a> {
    Box::pin(async move {
        let id = text(&args, "stack")?;
        let action = stacks::parse_action("deploy", false).map_err(stack_error)?;
        let s = stacks::stored(state, id).await.map_err(stack_error)?;
        let e = endpoints::get(state, &s.endpoint).await.map_err(failed)?;
        let job =
            stacks::start_action(state, s, e, "deploy", action, Some(caller.username.clone()))
                .await
                .map_err(stack_error)?;
        Ok(json!({"operation": job.id, "state": job.state.as_str(), "stack": id}))
    })
}
