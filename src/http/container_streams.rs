//! `/api/containers/{id}/logs/ws` (follow a container's log) and `/api/containers/{id}/exec/ws`
//! (an interactive shell, admin only). Both authenticate at the handshake (session cookie from the
//! dashboard, or a bearer token / API key header).
//!
//! Frames, server → client: `{"type":"log","stream","ts","line"}`; `{"type":"output","data"}`;
//! `{"type":"exit","code"}`; `{"type":"end"}` (the log stream ended); `{"type":"error","error"}`.
//! Client → server (exec): `{"type":"input","data"}` (or a binary frame), `{"type":"resize","rows","cols"}`.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::containers::locate;
use super::extract::Query;
use crate::auth::Principal;
use crate::docker::containers::LogQuery;
use crate::endpoint_streams::{self, ExecEvent};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

const MAX_FRAME_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogsWsQuery {
    pub endpoint: Option<String>,
    /// Lines of history before following (default 100).
    pub tail: Option<u32>,
    #[serde(default)]
    pub timestamps: bool,
    pub stdout: Option<bool>,
    pub stderr: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExecQuery {
    pub endpoint: Option<String>,
    /// The command, space-separated (default `/bin/sh`).
    pub cmd: Option<String>,
    /// Allocate a TTY (default true).
    pub tty: Option<bool>,
    pub rows: Option<u16>,
    pub cols: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ExecInput {
    Input { data: String },
    Resize { rows: u16, cols: u16 },
}

async fn send(session: &mut Session, v: serde_json::Value) -> Result<(), ()> {
    session.text(v.to_string()).await.map_err(|_| ())
}

/// Follow a container's log over a WebSocket.
#[utoipa::path(get, path = "/api/containers/{id}/logs/ws", tag = "containers", params(("id" = String, Path), LogsWsQuery),
    responses((status = 101, description = "switching to the WebSocket protocol"), (status = 404, body = ErrorBody)))]
pub async fn logs_ws(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Query<LogsWsQuery>,
) -> ApiResult<HttpResponse> {
    super::check_docker_ref("container", &id)?;
    let q = query.into_inner();
    let e = locate(&state, &id, q.endpoint.as_deref()).await?;
    let log_query = LogQuery {
        tail: q.tail.or(Some(100)),
        since: None,
        timestamps: q.timestamps,
        stdout: q.stdout,
        stderr: q.stderr,
    };
    let mut lines = endpoint_streams::logs(&state, &e, &id, &log_query, true).await?;
    let (response, mut session, stream) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request(format!("WebSocket handshake failed: {e}")))?;
    let mut inbound = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations();
    let mut shutdown = state.shutdown.clone();
    let ping_every = Duration::from_secs(state.config.ws.ping_interval_secs);
    actix_web::rt::spawn(async move {
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        loop {
            tokio::select! {
                line = lines.next() => match line {
                    Some(Ok(l)) => {
                        if send(&mut session, json!({"type": "log", "stream": l.stream, "ts": l.ts, "line": l.line})).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(err)) => {
                        let _ = send(&mut session, json!({"type": "error", "error": err})).await;
                        break;
                    }
                    None => {
                        let _ = send(&mut session, json!({"type": "end"})).await;
                        break;
                    }
                },
                msg = inbound.next() => match msg {
                    Some(Ok(AggregatedMessage::Ping(b))) => { let _ = session.pong(&b).await; }
                    Some(Ok(AggregatedMessage::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                },
                _ = ping.tick() => { if session.ping(b"").await.is_err() { return; } }
                _ = shutdown.changed() => {
                    let _ = session.close(Some(CloseReason { code: CloseCode::Away, description: Some("server shutting down".into()) })).await;
                    return;
                }
            }
        }
        let _ = session
            .close(Some(CloseReason {
                code: CloseCode::Normal,
                description: None,
            }))
            .await;
    });
    Ok(response)
}

/// An interactive shell in the container (admin; the node's policy must allow exec).
#[utoipa::path(get, path = "/api/containers/{id}/exec/ws", tag = "containers", params(("id" = String, Path), ExecQuery),
    responses((status = 101, description = "switching to the WebSocket protocol"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn exec_ws(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    query: Query<ExecQuery>,
) -> ApiResult<HttpResponse> {
    super::check_docker_ref("container", &id)?;
    let q = query.into_inner();
    let e = locate(&state, &id, q.endpoint.as_deref()).await?;
    if let Some(policy) = super::containers::policy_for(&state, &e).await?
        && !policy.allow_exec
    {
        return Err(ApiError::forbidden(
            "exec is not allowed on this node (security policy)",
        ));
    }
    let cmd: Vec<String> = q
        .cmd
        .as_deref()
        .unwrap_or("/bin/sh")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if cmd.is_empty() || cmd.len() > 64 {
        return Err(ApiError::bad_request("cmd must be 1 to 64 words"));
    }
    let tty = q.tty.unwrap_or(true);
    let size = q.rows.zip(q.cols);
    let mut exec = endpoint_streams::exec(&state, &e, &id, cmd.clone(), tty, size).await?;
    let (response, mut session, stream) = actix_ws::handle(&req, body)
        .map_err(|err| ApiError::bad_request(format!("WebSocket handshake failed: {err}")))?;
    state
        .events
        .record_committed(
            "container.exec",
            json!({"id": id.as_str(), "endpoint": e.id, "user": principal.username, "cmd": cmd}),
        )
        .await;
    let mut inbound = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations();
    let mut shutdown = state.shutdown.clone();
    actix_web::rt::spawn(async move {
        let code = loop {
            tokio::select! {
                out = exec.next() => match out {
                    ExecEvent::Output(bytes) => {
                        let data = String::from_utf8_lossy(&bytes).into_owned();
                        if send(&mut session, json!({"type": "output", "data": data})).await.is_err() { return; }
                    }
                    ExecEvent::Exit(code) => break code,
                    ExecEvent::Failed(err) => {
                        let _ = send(&mut session, json!({"type": "error", "error": err})).await;
                        break None;
                    }
                },
                msg = inbound.next() => match msg {
                    Some(Ok(AggregatedMessage::Text(text))) => match serde_json::from_str::<ExecInput>(&text) {
                        Ok(ExecInput::Input { data }) => { if exec.write(data.as_bytes()).await.is_err() { break None; } }
                        Ok(ExecInput::Resize { rows, cols }) => exec.resize(rows, cols).await,
                        Err(err) => { let _ = send(&mut session, json!({"type": "error", "error": format!("invalid message: {err}")})).await; }
                    },
                    Some(Ok(AggregatedMessage::Binary(bytes))) => { if exec.write(&bytes).await.is_err() { break None; } }
                    Some(Ok(AggregatedMessage::Ping(b))) => { let _ = session.pong(&b).await; }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                    Some(Ok(AggregatedMessage::Close(_))) | None | Some(Err(_)) => return,
                },
                _ = shutdown.changed() => {
                    let _ = session.close(Some(CloseReason { code: CloseCode::Away, description: Some("server shutting down".into()) })).await;
                    return;
                }
            }
        };
        let _ = send(&mut session, json!({"type": "exit", "code": code})).await;
        let _ = session
            .close(Some(CloseReason {
                code: CloseCode::Normal,
                description: None,
            }))
            .await;
    });
    Ok(response)
}
