//! A client of MCP servers (Model Context Protocol), over the official Rust SDK `rmcp`: a
//! command the master runs with the server on its stdin/stdout, or a streamable HTTP URL with
//! extra headers. One [`McpSession`] is one MCP session (initialize, then requests); every step
//! has a timeout, and a session ends (its process killed) when dropped.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject, Tool};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceError, ServiceExt};

use super::IntegrationError;

/// The service name in errors.
pub const SERVICE: &str = "MCP server";

/// Where an MCP server is, with its secrets opened.
#[derive(Clone)]
pub enum Endpoint {
    /// A command the master runs; the server speaks MCP on its stdin and stdout. The process
    /// gets only `PATH` from the master's environment, plus `env`.
    Stdio {
        command: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
    },
    /// A streamable HTTP endpoint; `headers` go with every request.
    Http {
        url: String,
        headers: Vec<(String, String)>,
    },
}

impl std::fmt::Debug for Endpoint {
    /// Without the env and header values (they are secrets).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stdio { command, args, .. } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", args)
                .finish_non_exhaustive(),
            Self::Http { url, .. } => f
                .debug_struct("Http")
                .field("url", url)
                .finish_non_exhaustive(),
        }
    }
}

/// What the server said about itself when the session began.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub name: Option<String>,
    pub version: Option<String>,
    pub protocol_version: String,
}

/// One open session with an MCP server.
pub struct McpSession {
    service: RunningService<RoleClient, ()>,
}

fn unreachable(reason: impl Into<String>) -> IntegrationError {
    IntegrationError::Unreachable {
        service: SERVICE,
        reason: reason.into(),
    }
}

fn timed_out(what: &str, timeout: Duration) -> IntegrationError {
    unreachable(format!(
        "no answer to {what} within {} ms",
        timeout.as_millis()
    ))
}

/// A failed request after the session began.
fn request_failed(what: &str, err: ServiceError) -> IntegrationError {
    match err {
        // The server refused the request itself (a JSON-RPC error): invalid parameters are the
        // caller's; anything else is the server's.
        ServiceError::McpError(e) => IntegrationError::Remote {
            service: SERVICE,
            status: if e.code.0 == -32602 { 400 } else { 500 },
            message: e.message.to_string(),
        },
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
            IntegrationError::BadAnswer {
                service: SERVICE,
                detail: format!("the server closed the connection during {what}"),
            }
        }
        ServiceError::Timeout { timeout } => timed_out(what, timeout),
        other => IntegrationError::BadAnswer {
            service: SERVICE,
            detail: format!("{what}: {other}"),
        },
    }
}

impl McpSession {
    /// Starts a session: spawns the command or connects to the URL, and initializes, all within
    /// `timeout`.
    pub async fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<Self, IntegrationError> {
        let started = match endpoint {
            Endpoint::Stdio { command, args, env } => {
                let mut cmd = tokio::process::Command::new(command);
                cmd.args(args).env_clear();
                if let Some(path) = std::env::var_os("PATH") {
                    cmd.env("PATH", path);
                }
                cmd.envs(env.iter().map(|(k, v)| (k, v)));
                let (transport, _) = TokioChildProcess::builder(cmd)
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(|e| unreachable(format!("could not run '{command}': {e}")))?;
                tokio::time::timeout(timeout, ().serve(transport)).await
            }
            Endpoint::Http { url, headers } => {
                let mut custom = HashMap::new();
                for (name, value) in headers {
                    let name = HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| unreachable(format!("bad header name '{name}'")))?;
                    let value = HeaderValue::from_str(value)
                        .map_err(|_| unreachable(format!("bad value for header '{name}'")))?;
                    custom.insert(name, value);
                }
                let client = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(timeout)
                    .build()
                    .map_err(|e| unreachable(format!("HTTP client: {e}")))?;
                let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .custom_headers(custom);
                let transport = StreamableHttpClientTransport::with_client(client, config);
                tokio::time::timeout(timeout, ().serve(transport)).await
            }
        };
        match started {
            Err(_) => Err(timed_out("initialize", timeout)),
            Ok(Err(e)) => Err(unreachable(format!("initialize failed: {e}"))),
            Ok(Ok(service)) => Ok(Self { service }),
        }
    }

    pub fn server_info(&self) -> Option<ServerInfo> {
        self.service.peer_info().map(|info| ServerInfo {
            name: info.server_info.as_ref().map(|i| i.name.clone()),
            version: info.server_info.as_ref().map(|i| i.version.clone()),
            protocol_version: info.protocol_version.to_string(),
        })
    }

    /// Every tool the server offers (all pages).
    pub async fn tools(&self, timeout: Duration) -> Result<Vec<Tool>, IntegrationError> {
        match tokio::time::timeout(timeout, self.service.peer().list_all_tools()).await {
            Err(_) => Err(timed_out("tools/list", timeout)),
            Ok(result) => result.map_err(|e| request_failed("tools/list", e)),
        }
    }

    /// Calls one tool. A tool that fails answers `Ok` with `is_error: true` (the MCP way); an
    /// `Err` is a failure of the server or the transport.
    pub async fn call(
        &self,
        tool: &str,
        arguments: JsonObject,
        timeout: Duration,
    ) -> Result<CallToolResult, IntegrationError> {
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        match tokio::time::timeout(timeout, self.service.call_tool(params)).await {
            Err(_) => Err(timed_out("tools/call", timeout)),
            Ok(result) => result.map_err(|e| request_failed("tools/call", e)),
        }
    }

    /// Ends the session (closes the transport; a child process is asked to exit, then killed).
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.service.cancel()).await;
    }
}
