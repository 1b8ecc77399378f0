//! ContextBay as an MCP server: its own operations ([`super::tools`]) offered to external agents
//! over MCP's streamable HTTP transport at `/mcp`, with rmcp's server.
//!
//! The HTTP face (`http/mcp_server.rs`) admits a request (module switch, API key) and hands it to
//! [`service`] with a [`McpCaller`] in the request's extensions; rmcp passes the request's parts
//! to the handler below, which lists and runs tools as that caller: `tools/list` is
//! [`tools::available_to`] (a viewer's key lists only read tools), `tools/call` is
//! [`tools::call`] (the role check runs there, so a write tool called with a viewer's key answers
//! a tool error and never runs). Every `tools/call` is audited like a REST mutation.
//!
//! The service is stateless (no MCP session is kept between requests: each request carries its
//! key, and is authorized on its own), and answers plain JSON when a tool call sends no
//! notification.

use std::sync::Arc;

use rmcp::ErrorData;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::Value;

use super::tools::{self, Caller, Effect, Tool, ToolError};
use crate::state::AppState;
use crate::store::audit::AuditEntry;
use crate::store::now_ms;

/// The path ContextBay's MCP server answers at (outside `/api`: it speaks MCP, not the REST
/// contract).
pub const PATH: &str = "/mcp";

/// Who sent an MCP request, as the HTTP face admitted it; put in the request's extensions.
#[derive(Debug, Clone)]
pub struct McpCaller {
    pub caller: Caller,
    pub request_id: String,
    pub source_ip: Option<String>,
}

/// The MCP handler: one per request (the service is stateless).
#[derive(Clone)]
pub struct ContextBayMcp {
    state: AppState,
}

/// The streamable HTTP service for one request; the handler it builds runs as the
/// [`McpCaller`] found in each request.
pub fn service(state: AppState) -> StreamableHttpService<ContextBayMcp, NeverSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        // Requests are authorized by an API key in a header, never by an ambient credential
        // (cookie), so a DNS-rebound page cannot use the server: the Host check, which only
        // admits loopback names by default, would only refuse legitimate deployments.
        .disable_allowed_hosts();
    StreamableHttpService::new(
        move || {
            Ok(ContextBayMcp {
                state: state.clone(),
            })
        },
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// The caller rmcp carried from the HTTP request; none means the request did not come through
/// the HTTP face, which never happens — refused rather than run as anyone.
fn caller_of(ctx: &RequestContext<RoleServer>) -> Result<McpCaller, ErrorData> {
    ctx.extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<McpCaller>())
        .cloned()
        .ok_or_else(|| ErrorData::invalid_request("unauthenticated MCP request", None))
}

/// A tool as MCP lists it, with its effect as annotations.
pub fn describe(tool: &Tool) -> rmcp::model::Tool {
    let schema = match (tool.input_schema)() {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    let read = tool.effect == Effect::Read;
    rmcp::model::Tool::new(tool.name, tool.description, Arc::new(schema))
        .annotate(ToolAnnotations::new().read_only(read).destructive(!read))
}

/// The audit status of a tool call's outcome.
fn audit_status(result: &Result<Value, ToolError>) -> i64 {
    match result {
        Ok(_) => 200,
        Err(ToolError::Forbidden { .. }) => 403,
        Err(ToolError::Unknown(_)) => 404,
        Err(ToolError::BadArguments(_)) => 400,
        Err(ToolError::Failed(_)) => 500,
    }
}

impl ContextBayMcp {
    async fn audit(&self, who: &McpCaller, tool: &str, status: i64) {
        let entry = AuditEntry {
            id: String::new(),
            ts: now_ms(),
            actor: who.caller.username.clone(),
            actor_id: Some(who.caller.user_id.clone()),
            action: format!("MCP tools/call {tool}"),
            target: PATH.to_owned(),
            result: if status == 200 { "success" } else { "failure" }.to_owned(),
            status,
            request_id: who.request_id.clone(),
            source_ip: who.source_ip.clone(),
        };
        if let Err(err) = self.state.store.audit().record(&entry).await {
            tracing::error!(request_id = %who.request_id, "writing audit entry: {err}");
        }
    }
}

impl ServerHandler for ContextBayMcp {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("contextbay", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "ContextBay's operations on its Docker fleet, run with the role of the API key's \
                 owner (capped by the key's role).",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let who = caller_of(&context)?;
        let tools = tools::available_to(&self.state, &who.caller).await;
        Ok(ListToolsResult::with_all_items(
            tools.into_iter().map(describe).collect(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let who = caller_of(&context)?;
        let name = request.name.as_ref();
        let arguments = request.arguments.map_or(Value::Null, Value::Object);
        // A tool of a module that is off is not offered, so it is unknown here too.
        let offered = tools::available(&self.state)
            .await
            .iter()
            .any(|t| t.name == name);
        let result = if offered {
            tools::call(&self.state, &who.caller, name, arguments).await
        } else {
            Err(ToolError::Unknown(name.to_owned()))
        };
        self.audit(&who, name, audit_status(&result)).await;
        Ok(match result {
            Ok(value) => CallToolResult::success(vec![ContentBlock::text(value.to_string())]),
            Err(err) => CallToolResult::error(vec![ContentBlock::text(err.to_string())]),
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_are_described_with_their_effect() {
        let restart = tools::find("restart_container").map(describe);
        let annotations = restart.and_then(|t| t.annotations);
        assert_eq!(
            annotations.as_ref().and_then(|a| a.destructive_hint),
            Some(true)
        );
        assert_eq!(annotations.and_then(|a| a.read_only_hint), Some(false));
        let list = tools::find("list_nodes").map(describe);
        assert_eq!(
            list.and_then(|t| t.annotations)
                .and_then(|a| a.read_only_hint),
            Some(true)
        );
    }

    #[test]
    fn a_refusal_is_audited_as_forbidden() {
        let refused: Result<Value, ToolError> = Err(ToolError::Forbidden {
            tool: "restart_container",
            needs: "operator",
            has: "viewer",
        });
        assert_eq!(audit_status(&refused), 403);
        assert_eq!(audit_status(&Ok(Value::Null)), 200);
    }
}
