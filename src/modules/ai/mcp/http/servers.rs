//! `/api/ai/mcp-servers` (AI module): the MCP servers whose tools are offered to the model.
//!
//! A `stdio` server is a command the master runs, so creating one, or changing one, takes an
//! admin (the route's role is operator, as the contract says; the handler asks for more when the
//! master would run a command). Env and header values are secrets: sealed at rest, answered as
//! `********`.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::{PageQuery, Paginated, parse_path_id, ts};
use crate::modules::REDACTED;
use crate::modules::ai::mcp::catalog::Catalog;
use crate::modules::ai::mcp::events::{
    McpServerRef, McpServerRegistered, McpServerRemoved, McpServerUpdated,
};
use crate::modules::ai::mcp::servers::{self, ServerInput, TransportKind};
use crate::modules::ai::mcp::store::{McpServer, McpStore, StoredTransport};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct McpServerView {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub transport: TransportKind,
    /// `stdio`: the command the master runs.
    pub command: Option<String>,
    /// `stdio`: its arguments.
    pub args: Vec<String>,
    /// `stdio`: its environment variables, values always `********`.
    pub env: BTreeMap<String, String>,
    /// `http`: the streamable HTTP endpoint.
    pub url: Option<String>,
    /// `http`: the headers sent, values always `********`.
    pub headers: BTreeMap<String, String>,
    pub enabled: bool,
    pub created_at: String,
    pub created_by: Option<String>,
    pub updated_at: String,
    pub updated_by: Option<String>,
}

fn redacted(values: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    values
        .keys()
        .map(|k| (k.clone(), REDACTED.to_owned()))
        .collect()
}

impl From<McpServer> for McpServerView {
    fn from(s: McpServer) -> Self {
        let (transport, command, args, env, url, headers) = match &s.transport {
            StoredTransport::Stdio { command, args, env } => (
                TransportKind::Stdio,
                Some(command.clone()),
                args.clone(),
                redacted(env),
                None,
                BTreeMap::new(),
            ),
            StoredTransport::Http { url, headers } => (
                TransportKind::Http,
                None,
                Vec::new(),
                BTreeMap::new(),
                Some(url.clone()),
                redacted(headers),
            ),
        };
        Self {
            id: s.id,
            name: s.name,
            transport,
            command,
            args,
            env,
            url,
            headers,
            enabled: s.enabled,
            created_at: ts(s.created_at),
            created_by: s.created_by,
            updated_at: ts(s.updated_at),
            updated_by: s.updated_by,
        }
    }
}

/// What a probe found: the server's own description, its tool count and how long the probe
/// took, or why it failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct McpHealthView {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// The server initialized a session and listed its tools.
    pub reachable: bool,
    /// The name the server gave for itself.
    pub server_name: Option<String>,
    pub server_version: Option<String>,
    /// The MCP protocol version agreed on.
    pub protocol_version: Option<String>,
    pub tool_count: Option<usize>,
    /// How long the probe took (initialize + tools/list), in milliseconds.
    pub latency_ms: u64,
    /// Why the probe failed.
    pub error: Option<String>,
}

fn reference(server: &McpServer, by: &Principal) -> McpServerRef {
    McpServerRef {
        id: server.id.clone(),
        name: server.name.clone(),
        transport: server.transport.kind().to_owned(),
        by: by.username.clone(),
    }
}

/// The master runs a stdio server's command: only an admin may register or change one.
fn admin_for_stdio(principal: &Principal, stdio: bool) -> Result<(), ApiError> {
    if stdio && !principal.has(Role::Admin) {
        return Err(ApiError::forbidden(
            "a stdio MCP server runs a command on the master: registering or changing one \
             takes an admin",
        ));
    }
    Ok(())
}

/// Every registered server, by name.
#[utoipa::path(get, path = "/api/ai/mcp-servers", operation_id = "ai_mcp_servers_list", tag = "ai", params(PageQuery),
    responses((status = 200, body = Paginated<McpServerView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<McpServerView>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let servers = state.store.mcp_servers().list().await?;
    Ok(web::Json(Paginated::of_all(
        servers.into_iter().map(McpServerView::from).collect(),
        page,
    )))
}

/// Registers a server. It is not contacted (probe it with its `health`).
#[utoipa::path(post, path = "/api/ai/mcp-servers", operation_id = "ai_mcp_servers_create", tag = "ai", request_body = ServerInput,
    responses((status = 201, body = McpServerView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "A stdio server needs an admin"),
        (status = 409, body = ErrorBody, description = "A server with this name exists")))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<ServerInput>,
) -> ApiResult<HttpResponse> {
    let input = body.into_inner();
    admin_for_stdio(&principal, input.transport == TransportKind::Stdio)?;
    let fields = servers::check(&state, &input, None)?;
    let server = state
        .store
        .mcp_servers()
        .create(&fields, &principal.username)
        .await?;
    state
        .events
        .publish_committed(McpServerRegistered(reference(&server, &principal)))
        .await;
    Ok(HttpResponse::Created().json(McpServerView::from(server)))
}

/// Replaces a server's configuration (`********` keeps a stored env or header value).
#[utoipa::path(put, path = "/api/ai/mcp-servers/{id}", operation_id = "ai_mcp_servers_update", tag = "ai",
    params(("id" = uuid::Uuid, Path, description = "The server's id")), request_body = ServerInput,
    responses((status = 200, body = McpServerView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "A stdio server needs an admin"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "A server with this name exists, or the server changed meanwhile")))]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: Body<ServerInput>,
) -> ApiResult<web::Json<McpServerView>> {
    let id = parse_path_id("MCP server", &id)?;
    let input = body.into_inner();
    let previous = state.store.mcp_servers().get(&id).await?;
    admin_for_stdio(
        &principal,
        input.transport == TransportKind::Stdio
            || matches!(previous.transport, StoredTransport::Stdio { .. }),
    )?;
    let fields = servers::check(&state, &input, Some(&previous))?;
    let server = state
        .store
        .mcp_servers()
        .update(&id, previous.updated_at, &fields, &principal.username)
        .await?;
    Catalog::new(&state).invalidate(&id);
    state
        .events
        .publish_committed(McpServerUpdated(reference(&server, &principal)))
        .await;
    Ok(web::Json(server.into()))
}

/// Removes a server; its tools are no longer offered.
#[utoipa::path(delete, path = "/api/ai/mcp-servers/{id}", operation_id = "ai_mcp_servers_delete", tag = "ai",
    params(("id" = uuid::Uuid, Path, description = "The server's id")),
    responses((status = 204, description = "Removed"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_path_id("MCP server", &id)?;
    let server = state.store.mcp_servers().get(&id).await?;
    state.store.mcp_servers().delete(&id).await?;
    Catalog::new(&state).invalidate(&id);
    state
        .events
        .publish_committed(McpServerRemoved(reference(&server, &principal)))
        .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Probes a server: starts a session (initialize) and lists its tools, within 10 seconds. A
/// server that fails answers 200 with `reachable: false` and the reason.
#[utoipa::path(get, path = "/api/ai/mcp-servers/{id}/health", operation_id = "ai_mcp_servers_health", tag = "ai",
    params(("id" = uuid::Uuid, Path, description = "The server's id")),
    responses((status = 200, body = McpHealthView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn health(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<McpHealthView>> {
    let id = parse_path_id("MCP server", &id)?;
    let server = state.store.mcp_servers().get(&id).await?;
    let h = Catalog::new(&state).probe(&server).await;
    Ok(web::Json(McpHealthView {
        id: server.id,
        name: server.name,
        reachable: h.reachable,
        server_name: h.server_name,
        server_version: h.server_version,
        protocol_version: h.protocol_version,
        tool_count: h.tool_count,
        latency_ms: h.latency_ms,
        error: h.error,
    }))
}
