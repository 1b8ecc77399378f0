//! `/mcp`: ContextBay's MCP server (streamable HTTP). Not a route of the REST table (it speaks
//! MCP's JSON-RPC, has no OpenAPI operation and no contract row), so it admits its requests
//! itself, as the gate does for a route: the AI module's switch (404 while off), then an API key
//! (`X-API-Key: cb_…` or `Authorization: Bearer cb_…`; no key or a bad one: 401). The tools it
//! lists and runs are capped by the key's role (`mcp_server.rs`). The request is then bridged to
//! rmcp's tower service (`http` 1.x request in, its streamed body out).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};

use crate::auth::credentials::{
    API_KEY_HEADER, API_KEY_PREFIX, AuthFailure, Presented, authenticate,
};
use crate::error::{ApiError, ErrorCode};
use crate::modules::ai::mcp_server::{self, McpCaller};
use crate::modules::ai::tools::Caller;
use crate::modules::{ModuleName, is_enabled};
use crate::state::AppState;

/// The API key a request presents: `X-API-Key`, else `Authorization: Bearer <api key>`.
fn presented_key(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(key) = header(API_KEY_HEADER) {
        return Ok(Some(key.trim()));
    }
    match header(actix_web::http::header::AUTHORIZATION.as_str()) {
        None => Ok(None),
        Some(value) => {
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| t.starts_with(API_KEY_PREFIX))
                .ok_or_else(|| {
                    ApiError::unauthenticated(
                        "the MCP server takes an API key: 'Authorization: Bearer cb_…' or 'X-API-Key: cb_…'",
                    )
                })?;
            Ok(Some(token))
        }
    }
}

/// Admits the request: the module is on and the key is live. Answers the caller.
async fn admit(state: &AppState, req: &HttpRequest) -> Result<McpCaller, ApiError> {
    if !is_enabled(state, ModuleName::Ai).await? {
        return Err(ApiError::new(
            ErrorCode::ModuleDisabled,
            "module 'ai' is disabled",
        ));
    }
    let Some(key) = presented_key(req)? else {
        return Err(ApiError::unauthenticated(AuthFailure::Missing.to_string()));
    };
    let presented = Presented {
        api_key: Some(key),
        ..Presented::default()
    };
    match authenticate(&presented, &state.tokens, &state.store).await {
        Ok(Some(principal)) => Ok(McpCaller {
            caller: Caller::from(&principal),
            request_id: crate::request_id::request_id(),
            source_ip: crate::http::peer_ip(req),
        }),
        Ok(None) => Err(ApiError::unauthenticated(AuthFailure::Missing.to_string())),
        Err(AuthFailure::Store(e)) => Err(e.into()),
        Err(failure) => {
            state
                .metrics
                .auth_failures
                .with_label_values(&["api_key"])
                .inc();
            Err(ApiError::unauthenticated(failure.to_string()))
        }
    }
}

/// Every method at `/mcp` (POST for messages; rmcp answers GET and DELETE as a stateless
/// server does: 405).
pub async fn serve(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let who = match admit(&state, &req).await {
        Ok(who) => who,
        Err(err) => return err.error_response(),
    };
    let mut builder = http::Request::builder()
        .method(req.method().as_str())
        .uri(req.uri().to_string());
    for (name, value) in req.headers() {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    let mut request = match builder.body(Full::new(body)) {
        Ok(r) => r,
        Err(err) => {
            return ApiError::bad_request(format!("malformed request: {err}")).error_response();
        }
    };
    request.extensions_mut().insert(who);
    let service = mcp_server::service(state.get_ref().clone());
    let (parts, body) = service.handle(request).await.into_parts();
    let status = StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        out.append_header((name.as_str(), value.as_bytes()));
    }
    out.streaming(
        body.into_data_stream()
            .map(|chunk| chunk.map_err(|never| -> actix_web::Error { match never {} })),
    )
}
