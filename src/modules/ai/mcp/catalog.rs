//! The tools of the registered MCP servers, as one catalogue: what `GET /api/ai/mcp-tools`
//! lists and `POST /api/ai/mcp-tools/{name}/test` fires, and what the AI task actors offer the
//! model ([`Catalog::tools`], [`Catalog::call`]).
//!
//! A tool is named `<server>__<tool>` (server names have no underscore, so the first `__`
//! splits it). Each server's tool list is cached for [`CACHE_TTL`], keyed by the server's id and
//! `updated_at`, so an update or a removal is seen at once. Every session is opened for one
//! operation and closed after it (a stdio server's process lives as long as the call).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{CallToolResult, JsonObject, Tool};
use serde_json::{Map, Value};

use super::servers::endpoint;
use super::store::{McpServer, McpStore};
use crate::integrations::IntegrationError;
use crate::integrations::mcp::McpSession;
use crate::modules::ModuleError;
use crate::state::AppState;

/// How long a probe (initialize + tools/list) may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one tool call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server's tool list is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Between a server's name and its tool's.
pub const SEPARATOR: &str = "__";

struct Cached {
    updated_at: i64,
    fetched: Instant,
    tools: Arc<Vec<Tool>>,
}

/// This master's tool lists by server id (in `AppState::module_state`).
#[derive(Default)]
pub struct ToolCache(Mutex<HashMap<String, Cached>>);

/// One tool of one enabled server.
#[derive(Debug, Clone)]
pub struct CatalogTool {
    /// `<server>__<tool>`.
    pub name: String,
    pub server_id: String,
    pub server: String,
    /// The tool's own name on its server.
    pub tool: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// The tool's JSON Schema for its arguments.
    pub input_schema: Map<String, Value>,
}

/// What a tool call answered.
#[derive(Debug, Clone)]
pub struct ToolOutcome {
    pub name: String,
    /// The tool reported a failure (its content says why).
    pub is_error: bool,
    /// The MCP content blocks, as JSON.
    pub content: Vec<Value>,
    pub structured_content: Option<Value>,
    pub latency_ms: u64,
}

/// What a probe found.
#[derive(Debug, Clone)]
pub struct Health {
    pub reachable: bool,
    pub server_name: Option<String>,
    pub server_version: Option<String>,
    pub protocol_version: Option<String>,
    pub tool_count: Option<usize>,
    pub latency_ms: u64,
    pub error: Option<String>,
}

/// The same error, naming the server.
fn naming(server: &str, err: IntegrationError) -> ModuleError {
    let err = match err {
        IntegrationError::Unreachable { service, reason } => IntegrationError::Unreachable {
            service,
            reason: format!("'{server}': {reason}"),
        },
        IntegrationError::BadAnswer { service, detail } => IntegrationError::BadAnswer {
            service,
            detail: format!("'{server}': {detail}"),
        },
        IntegrationError::Remote {
            service,
            status,
            message,
        } => IntegrationError::Remote {
            service,
            status,
            message: format!("'{server}': {message}"),
        },
        other => other,
    };
    ModuleError::Integration(err)
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The catalogue of MCP tools, over the registered servers.
pub struct Catalog<'a> {
    state: &'a AppState,
}

impl<'a> Catalog<'a> {
    pub fn new(state: &'a AppState) -> Self {
        Self { state }
    }

    /// Forgets a server's tool list (after an update or a removal).
    pub fn invalidate(&self, server_id: &str) {
        if let Ok(mut cache) = self.cache().0.lock() {
            cache.remove(server_id);
        }
    }

    fn cache(&self) -> Arc<ToolCache> {
        self.state.module_state.get::<ToolCache>()
    }

    fn cached(&self, server: &McpServer) -> Option<Arc<Vec<Tool>>> {
        let cache = self.cache();
        let cache = cache.0.lock().ok()?;
        let hit = cache.get(&server.id)?;
        (hit.updated_at == server.updated_at && hit.fetched.elapsed() < CACHE_TTL)
            .then(|| hit.tools.clone())
    }

    fn remember(&self, server: &McpServer, tools: Arc<Vec<Tool>>) {
        if let Ok(mut cache) = self.cache().0.lock() {
            cache.insert(
                server.id.clone(),
                Cached {
                    updated_at: server.updated_at,
                    fetched: Instant::now(),
                    tools,
                },
            );
        }
    }

    async fn connect(
        &self,
        server: &McpServer,
        timeout: Duration,
    ) -> Result<McpSession, ModuleError> {
        let endpoint = endpoint(self.state, server)?;
        McpSession::connect(&endpoint, timeout)
            .await
            .map_err(|e| naming(&server.name, e))
    }

    /// A server's tools, from the cache or from the server.
    async fn server_tools(&self, server: &McpServer) -> Result<Arc<Vec<Tool>>, ModuleError> {
        if let Some(tools) = self.cached(server) {
            return Ok(tools);
        }
        let session = self.connect(server, PROBE_TIMEOUT).await?;
        let listed = session.tools(PROBE_TIMEOUT).await;
        session.close().await;
        let tools = Arc::new(listed.map_err(|e| naming(&server.name, e))?);
        self.remember(server, tools.clone());
        Ok(tools)
    }

    /// Initializes a session with `server` and lists its tools; never fails (the failure is
    /// in the answer). Refreshes the cached tool list on success.
    pub async fn probe(&self, server: &McpServer) -> Health {
        let started = Instant::now();
        let mut health = Health {
            reachable: false,
            server_name: None,
            server_version: None,
            protocol_version: None,
            tool_count: None,
            latency_ms: 0,
            error: None,
        };
        match self.connect(server, PROBE_TIMEOUT).await {
            Err(e) => health.error = Some(e.to_string()),
            Ok(session) => {
                if let Some(info) = session.server_info() {
                    health.server_name = info.name;
                    health.server_version = info.version;
                    health.protocol_version = Some(info.protocol_version);
                }
                match session.tools(PROBE_TIMEOUT).await {
                    Ok(tools) => {
                        health.reachable = true;
                        health.tool_count = Some(tools.len());
                        self.remember(server, Arc::new(tools));
                    }
                    Err(e) => health.error = Some(naming(&server.name, e).to_string()),
                }
                session.close().await;
            }
        }
        health.latency_ms = elapsed_ms(started);
        health
    }

    /// Every tool of every enabled server, by name. A server that cannot be reached is left
    /// out (its probe says why); the second list names them with the reason.
    pub async fn tools(&self) -> Result<(Vec<CatalogTool>, Vec<(String, String)>), ModuleError> {
        let servers: Vec<McpServer> = self
            .state
            .store
            .mcp_servers()
            .list()
            .await?
            .into_iter()
            .filter(|s| s.enabled)
            .collect();
        let lists =
            futures_util::future::join_all(servers.iter().map(|s| self.server_tools(s))).await;
        let mut tools = Vec::new();
        let mut failed = Vec::new();
        for (server, listed) in servers.iter().zip(lists) {
            match listed {
                Ok(list) => tools.extend(list.iter().map(|t| CatalogTool {
                    name: format!("{}{SEPARATOR}{}", server.name, t.name),
                    server_id: server.id.clone(),
                    server: server.name.clone(),
                    tool: t.name.to_string(),
                    title: t.title.clone(),
                    description: t.description.as_ref().map(|d| d.to_string()),
                    input_schema: (*t.input_schema).clone(),
                })),
                Err(e) => {
                    tracing::warn!(server = %server.name, error = %e, "MCP server left out of the tool list");
                    failed.push((server.name.clone(), e.to_string()));
                }
            }
        }
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((tools, failed))
    }

    /// Calls the tool `name` (`<server>__<tool>`) with `arguments`, checked against its input
    /// schema first. Unknown tool or disabled server: `NotFound`.
    pub async fn call(
        &self,
        name: &str,
        arguments: JsonObject,
    ) -> Result<ToolOutcome, ModuleError> {
        let (server_name, tool_name) = name
            .split_once(SEPARATOR)
            .ok_or(ModuleError::NotFound("MCP tool"))?;
        let server = self
            .state
            .store
            .mcp_servers()
            .by_name(server_name)
            .await?
            .filter(|s| s.enabled)
            .ok_or(ModuleError::NotFound("MCP tool"))?;
        let tools = self.server_tools(&server).await?;
        let tool = tools
            .iter()
            .find(|t| t.name == tool_name)
            .ok_or(ModuleError::NotFound("MCP tool"))?;
        check_arguments(&tool.input_schema, &arguments)?;
        let started = Instant::now();
        let session = self.connect(&server, PROBE_TIMEOUT).await?;
        let called = session.call(tool_name, arguments, CALL_TIMEOUT).await;
        session.close().await;
        let result: CallToolResult = called.map_err(|e| naming(&server.name, e))?;
        Ok(ToolOutcome {
            name: name.to_owned(),
            is_error: result.is_error.unwrap_or(false),
            content: result
                .content
                .iter()
                .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
                .collect(),
            structured_content: result.structured_content,
            latency_ms: elapsed_ms(started),
        })
    }
}

fn invalid(field: String, message: String) -> ModuleError {
    ModuleError::InvalidField { field, message }
}

/// Whether `value` is of the JSON Schema type `ty`.
fn has_type(value: &Value, ty: &str) -> bool {
    match ty {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => {
            value.is_i64()
                || value.is_u64()
                || value
                    .as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.is_finite())
        }
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        // A type this check does not know: the server decides.
        _ => true,
    }
}

/// Checks `arguments` against the top level of a tool's input schema: required properties,
/// declared types, enumerations and `additionalProperties: false`. Deeper constraints are the
/// server's to check (it answers a tool error).
pub fn check_arguments(schema: &JsonObject, arguments: &JsonObject) -> Result<(), ModuleError> {
    let properties = schema.get("properties").and_then(Value::as_object);
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !arguments.contains_key(key) {
                return Err(invalid(
                    format!("arguments.{key}"),
                    format!("arguments.{key} is required by the tool"),
                ));
            }
        }
    }
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    for (key, value) in arguments {
        let field = format!("arguments.{key}");
        let Some(declared) = properties
            .and_then(|p| p.get(key))
            .and_then(Value::as_object)
        else {
            if closed {
                return Err(invalid(
                    field.clone(),
                    format!("{field} is not a parameter of the tool"),
                ));
            }
            continue;
        };
        let types: Vec<&str> = match declared.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
            return Err(invalid(
                field.clone(),
                format!("{field} must be of type {}", types.join(" or ")),
            ));
        }
        if let Some(allowed) = declared.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            return Err(invalid(
                field.clone(),
                format!("{field} must be one of the values the tool lists"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn arguments_are_checked_against_the_top_of_the_schema() {
        let schema = obj(json!({
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "string", "enum": ["x", "y"]}},
            "required": ["a"],
            "additionalProperties": false
        }));
        assert!(check_arguments(&schema, &obj(json!({"a": 3}))).is_ok());
        assert!(check_arguments(&schema, &obj(json!({"a": 3, "b": "y"}))).is_ok());
        for (bad, field) in [
            (json!({}), "arguments.a"),
            (json!({"a": "3"}), "arguments.a"),
            (json!({"a": 1.5}), "arguments.a"),
            (json!({"a": 1, "b": "z"}), "arguments.b"),
            (json!({"a": 1, "c": true}), "arguments.c"),
        ] {
            match check_arguments(&schema, &obj(bad.clone())) {
                Err(ModuleError::InvalidField { field: f, .. }) => assert_eq!(f, field, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
