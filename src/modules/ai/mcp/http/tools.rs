//! `/api/ai/mcp-tools` (AI module): the tools of the enabled MCP servers, as the model sees them,
//! and test-firing one.

use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::{PageQuery, Paginated};
use crate::modules::ai::mcp::catalog::{Catalog, CatalogTool};
use crate::state::AppState;

/// Longest tool name accepted in the path (server name, `__`, the tool's name).
const MAX_TOOL_NAME: usize = 200;

#[derive(Debug, Serialize, ToSchema)]
pub struct McpToolView {
    /// `<server>__<tool>`: the name the model calls it by.
    pub name: String,
    #[schema(format = Uuid)]
    pub server_id: String,
    pub server: String,
    /// The tool's own name on its server.
    pub tool: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// JSON Schema of its arguments.
    #[schema(value_type = Object)]
    pub input_schema: Map<String, Value>,
}

impl From<CatalogTool> for McpToolView {
    fn from(t: CatalogTool) -> Self {
        Self {
            name: t.name,
            server_id: t.server_id,
            server: t.server,
            tool: t.tool,
            title: t.title,
            description: t.description,
            input_schema: t.input_schema,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestTool {
    /// The tool's arguments (checked against its input schema first); default `{}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub arguments: Map<String, Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ToolTestView {
    pub name: String,
    /// The tool itself reported a failure (`content` says why).
    pub is_error: bool,
    /// The MCP content blocks it answered (`{"type": "text", "text": …}`, …).
    #[schema(value_type = Vec<Object>)]
    pub content: Vec<Value>,
    /// Its structured result, when it gives one.
    #[schema(value_type = Option<Object>)]
    pub structured_content: Option<Value>,
    /// Milliseconds from connecting to the answer.
    pub latency_ms: u64,
}

/// Every tool of every enabled server, by name. A server that cannot be reached is left out
/// (its `health` says why).
#[utoipa::path(get, path = "/api/ai/mcp-tools", operation_id = "ai_mcp_tools_list", tag = "ai", params(PageQuery),
    responses((status = 200, body = Paginated<McpToolView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<McpToolView>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let (tools, _failed) = Catalog::new(&state).tools().await?;
    Ok(web::Json(Paginated::of_all(
        tools.into_iter().map(McpToolView::from).collect(),
        page,
    )))
}

/// Calls a tool with `arguments` and answers its result (or the tool's error, `is_error`).
/// The call may take 30 seconds.
#[utoipa::path(post, path = "/api/ai/mcp-tools/{name}/test", operation_id = "ai_mcp_tools_test", tag = "ai",
    params(("name" = String, Path, description = "The tool's name, `<server>__<tool>`", max_length = 200)),
    request_body = TestTool,
    responses((status = 200, body = ToolTestView), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such tool on an enabled server"),
        (status = 502, body = ErrorBody, description = "The server failed or broke off the call"),
        (status = 503, body = ErrorBody, description = "The server could not be reached or did not answer in time")))]
pub async fn test(
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: Body<TestTool>,
) -> ApiResult<web::Json<ToolTestView>> {
    let name = name.into_inner();
    if name.is_empty() || name.chars().count() > MAX_TOOL_NAME {
        return Err(ApiError::invalid_field(
            "name",
            format!("name must be 1 to {MAX_TOOL_NAME} characters"),
        ));
    }
    let out = Catalog::new(&state)
        .call(&name, body.into_inner().arguments)
        .await?;
    Ok(web::Json(ToolTestView {
        name: out.name,
        is_error: out.is_error,
        content: out.content,
        structured_content: out.structured_content,
        latency_ms: out.latency_ms,
    }))
}
