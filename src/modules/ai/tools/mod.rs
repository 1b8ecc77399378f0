//! ContextBay's own operations as tools a model may call (AI tasks, sessions, and ContextBay's
//! own MCP server). Each tool declares its effect (it only reads, or it changes the fleet: the
//! mode decides what happens with each class) and the least role that may run it. A call runs
//! with the caller's role — the person who created the task, or the API key's owner — never
//! more: the role check here is the same rule the REST route of the operation applies.
//!
//! The catalogue is one static list ([`all`]); a tool is a plain `fn` taking the state, the
//! caller and its JSON arguments, checked against its input schema before it runs.

mod containers;
mod fleet;
mod nodes;
mod observe;
mod stacks;

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::mcp::catalog::check_arguments;
use crate::auth::Role;
use crate::modules::ModuleError;
use crate::state::AppState;

/// What a tool does to the fleet; a mode maps each class to run / ask / refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AiToolEffect)]
pub enum Effect {
    /// Only reads.
    Read,
    /// Changes something (a container, a stack, a setting).
    Write,
}

/// Who a tool call runs as.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub username: String,
    pub role: Role,
}

impl From<&crate::auth::Principal> for Caller {
    fn from(p: &crate::auth::Principal) -> Self {
        Self {
            user_id: p.user_id.clone(),
            username: p.username.clone(),
            role: p.role,
        }
    }
}

pub type ToolFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, ToolError>> + Send + 'a>>;

/// One operation offered to models.
pub struct Tool {
    pub name: &'static str,
    pub description: &'static str,
    pub effect: Effect,
    /// The least role that may run it: the role of the REST route doing the same.
    pub role: Role,
    /// JSON Schema of the arguments (an object schema).
    pub input_schema: fn() -> Value,
    pub run: for<'a> fn(&'a AppState, &'a Caller, Map<String, Value>) -> ToolFuture<'a>,
}

/// Why a tool call did not produce a result. Every variant is fed back to the model as the
/// tool's answer; none of them is a failure of the task by itself.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("no tool named '{0}'")]
    Unknown(String),
    #[error("the tool '{tool}' needs the {needs} role; this task runs as {has}")]
    Forbidden {
        tool: &'static str,
        needs: &'static str,
        has: &'static str,
    },
    #[error("{0}")]
    BadArguments(String),
    #[error("{0}")]
    Failed(String),
}

impl From<ModuleError> for ToolError {
    fn from(e: ModuleError) -> Self {
        match e {
            ModuleError::Invalid(m) | ModuleError::InvalidField { message: m, .. } => {
                Self::BadArguments(m)
            }
            other => Self::Failed(other.to_string()),
        }
    }
}

/// Every built-in tool, in a stable order (by area, as listed).
static ALL: std::sync::LazyLock<Vec<Tool>> = std::sync::LazyLock::new(|| {
    [
        fleet::TOOLS,
        nodes::TOOLS,
        containers::TOOLS,
        stacks::TOOLS,
        observe::TOOLS,
    ]
    .iter()
    .flat_map(|tools| tools.iter())
    .map(|t| Tool {
        name: t.name,
        description: t.description,
        effect: t.effect,
        role: t.role,
        input_schema: t.input_schema,
        run: t.run,
    })
    .collect()
});

/// Every built-in tool.
pub fn all() -> &'static [Tool] {
    &ALL
}

/// The module a tool belongs to, which must be on for the tool to be offered (`query_metrics`:
/// monitoring, `list_alerts`: alerting); `None`: always offered with the AI module.
pub fn module_of(name: &str) -> Option<crate::modules::ModuleName> {
    observe::module_of(name)
}

/// The tools this master offers now: [`all`] without those whose module is off. A store error
/// reading a module's switch counts as off (the tool is not offered, never run blind).
pub async fn available(state: &AppState) -> Vec<&'static Tool> {
    let mut out = Vec::with_capacity(all().len());
    for t in all() {
        let on = match module_of(t.name) {
            None => true,
            Some(m) => crate::modules::is_enabled(state, m).await.unwrap_or(false),
        };
        if on {
            out.push(t);
        }
    }
    out
}

/// [`available`] tools `caller`'s role may run (what an MCP client with that key lists).
pub async fn available_to(state: &AppState, caller: &Caller) -> Vec<&'static Tool> {
    available(state)
        .await
        .into_iter()
        .filter(|t| caller.role >= t.role)
        .collect()
}

pub fn find(name: &str) -> Option<&'static Tool> {
    all().iter().find(|t| t.name == name)
}

/// Runs the tool `name` as `caller`: the role is checked first, then the arguments against the
/// tool's schema; nothing runs unless both pass.
pub async fn call(
    state: &AppState,
    caller: &Caller,
    name: &str,
    arguments: Value,
) -> Result<Value, ToolError> {
    let tool = find(name).ok_or_else(|| ToolError::Unknown(name.to_string()))?;
    if caller.role < tool.role {
        return Err(ToolError::Forbidden {
            tool: tool.name,
            needs: tool.role.as_str(),
            has: caller.role.as_str(),
        });
    }
    let arguments = match arguments {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        _ => {
            return Err(ToolError::BadArguments(
                "arguments must be a JSON object".into(),
            ));
        }
    };
    let schema = (tool.input_schema)();
    if let Some(schema) = schema.as_object() {
        check_arguments(schema, &arguments)?;
    }
    (tool.run)(state, caller, arguments).await
}

/// A required string argument (present: the schema check ran).
fn text<'a>(args: &'a Map<String, Value>, key: &str) -> Result<&'a str, ToolError> {
    args.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ToolError::BadArguments(format!("arguments.{key} must be a non-empty string"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_are_unique_and_schemas_are_objects() {
        let mut names: Vec<&str> = all().iter().map(|t| t.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
        for t in all() {
            assert_eq!((t.input_schema)()["type"], "object", "{}", t.name);
            if t.effect == Effect::Write {
                assert!(t.role >= Role::Operator, "{} writes as a viewer", t.name);
            }
        }
    }

    #[test]
    fn the_catalogue_has_every_tool_of_the_issue() {
        for name in [
            "list_endpoints",
            "list_containers",
            "restart_container",
            "list_nodes",
            "inspect_container",
            "container_logs",
            "list_stacks",
            "deploy_stack",
            "query_metrics",
            "list_alerts",
            "recent_events",
        ] {
            assert!(find(name).is_some(), "{name}");
        }
        assert_eq!(find("deploy_stack").map(|t| t.effect), Some(Effect::Write));
        assert_eq!(
            module_of("query_metrics"),
            Some(crate::modules::ModuleName::Monitoring)
        );
        assert_eq!(module_of("list_nodes"), None);
    }
}
