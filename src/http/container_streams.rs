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
use super::sockets::{self, Standing};
use crate::auth::Principal;
use crate::docker::containers::LogQuery;
use crate::endpoint_streams::{self, ExecEvent};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::store::audit::AuditEntry;
use crate::store::now_ms;

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
    principal: Principal,
    id: web::Path<String>,
    query: Query<LogsWsQuery>,
) -> ApiResult<HttpResponse> {
    super::check_docker_ref("container", &id)?;
    let q = query.into_inner();
    let (response, mut session, stream) = sockets::handshake(&req, body, &state, Some(&principal))?;
    let required = sockets::required_role(&req);
    let e = locate(&state, &id, q.endpoint.as_deref()).await?;
    let log_query = LogQuery {
        tail: q.tail.or(Some(100)),
        since: None,
        timestamps: q.timestamps,
        stdout: q.stdout,
        stderr: q.stderr,
    };
    let mut lines = endpoint_streams::logs(&state, &e, &id, &log_query, true).await?;
    let mut inbound = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations();
    let mut shutdown = state.shutdown.clone();
    let ping_every = Duration::from_secs(state.config.ws.ping_interval_secs);
    actix_web::rt::spawn(async move {
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        let mut recheck = sockets::recheck_ticker();
        let mut principal = principal;
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
                _ = recheck.tick() => match sockets::recheck(&state, &principal, required).await {
                    Standing::Unchanged => {}
                    Standing::Changed(now) => principal = now,
                    Standing::Ended(reason) => {
                        let _ = send(&mut session, json!({"type": "error", "error": reason})).await;
                        sockets::close_ended(session, reason).await;
                        return;
                    }
                },
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

/// How an exec session ended, for its audit entry.
enum ExecEnd {
    /// The process exited (with its code when the engine reported one).
    Exited(Option<i64>),
    /// The stream to the process broke off.
    Failed(String),
    ClientClosed,
    /// The caller's credentials or role no longer allow exec.
    Revoked(&'static str),
    ShuttingDown,
}

/// Who opened an exec session on what, for its two audit entries.
struct ExecAudit {
    actor: Principal,
    subject: String,
    request_id: String,
    source_ip: Option<String>,
}

impl ExecAudit {
    /// `status`: the HTTP status of the request (101 once the socket was opened).
    async fn record(&self, state: &AppState, action: &str, detail: &str, ok: bool, status: u16) {
        let entry = AuditEntry {
            id: String::new(),
            ts: now_ms(),
            actor: self.actor.username.clone(),
            actor_id: Some(self.actor.user_id.clone()),
            action: action.to_owned(),
            target: format!("{}: {detail}", self.subject),
            result: if ok { "success" } else { "failure" }.to_owned(),
            status: i64::from(status),
            request_id: self.request_id.clone(),
            source_ip: self.source_ip.clone(),
        };
        if let Err(err) = state.store.audit().record(&entry).await {
            tracing::error!(request_id = %self.request_id, "writing the exec audit entry: {err}");
        }
    }

    async fn refused(&self, state: &AppState, cmd: &[String], err: &ApiError) {
        let detail = format!("cmd {}: not started ({})", cmd.join(" "), err.message);
        let status = err.code.status().as_u16();
        self.record(state, "exec.open", &detail, false, status)
            .await;
    }

    async fn opened(&self, state: &AppState, cmd: &[String]) {
        let detail = format!("cmd {}", cmd.join(" "));
        self.record(state, "exec.open", &detail, true, 101).await;
    }

    async fn ended(&self, state: &AppState, end: &ExecEnd) {
        let (detail, ok) = match end {
            ExecEnd::Exited(Some(code)) => (format!("exit code {code}"), true),
            ExecEnd::Exited(None) => ("exited, no exit code reported".to_owned(), true),
            ExecEnd::Failed(err) => (format!("no exit code: the stream failed ({err})"), false),
            ExecEnd::ClientClosed => (
                "no exit code: the client closed the socket".to_owned(),
                true,
            ),
            ExecEnd::Revoked(why) => (format!("no exit code: closed by the server ({why})"), false),
            ExecEnd::ShuttingDown => ("no exit code: the server shut down".to_owned(), false),
        };
        self.record(state, "exec.end", &detail, ok, 101).await;
    }
}

/// Finds the container's endpoint, checks its node's policy and starts `cmd`; `audit` learns the
/// endpoint.
async fn open_exec(
    state: &AppState,
    id: &str,
    endpoint: Option<&str>,
    cmd: &[String],
    tty: bool,
    size: Option<(u16, u16)>,
    audit: &mut ExecAudit,
) -> ApiResult<(
    crate::store::endpoints::StoredEndpoint,
    endpoint_streams::Exec,
)> {
    let e = locate(state, id, endpoint).await?;
    audit.subject = format!("container {id} on endpoint {}", e.id);
    if !crate::endpoints::security_policy(state, &e)
        .await?
        .allow_exec
    {
        return Err(ApiError::forbidden(
            "exec is not allowed on this node (security policy)",
        ));
    }
    let exec = endpoint_streams::exec(state, &e, id, cmd.to_vec(), tty, size).await?;
    Ok((e, exec))
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
    // Nothing reaches the engine before this: a plain GET, or an upgrade from another origin,
    // must not start a process.
    let (response, mut session, stream) = sockets::handshake(&req, body, &state, Some(&principal))?;
    let required = sockets::required_role(&req);
    let mut audit = ExecAudit {
        actor: principal.clone(),
        subject: format!("container {}", id.as_str()),
        request_id: super::request_id(),
        source_ip: super::peer_ip(&req),
    };
    let tty = q.tty.unwrap_or(true);
    let size = q.rows.zip(q.cols);
    let (e, mut exec) = match open_exec(
        &state,
        &id,
        q.endpoint.as_deref(),
        &cmd,
        tty,
        size,
        &mut audit,
    )
    .await
    {
        Ok(opened) => opened,
        Err(err) => {
            // A refused or failed attempt is audited too (a GET is not audited by the gate).
            audit.refused(&state, &cmd, &err).await;
            return Err(err);
        }
    };
    audit.opened(&state, &cmd).await;
    state
        .events
        .publish_committed(crate::events::ContainerExec {
            id: id.as_str().to_owned(),
            endpoint: e.id.clone(),
            user: principal.username.clone(),
            cmd: cmd.clone(),
        })
        .await;
    let mut inbound = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations();
    let mut shutdown = state.shutdown.clone();
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        let mut recheck = sockets::recheck_ticker();
        let mut principal = principal;
        let end = loop {
            tokio::select! {
                out = exec.next() => match out {
                    ExecEvent::Output(bytes) => {
                        let data = String::from_utf8_lossy(&bytes).into_owned();
                        if send(&mut session, json!({"type": "output", "data": data})).await.is_err() {
                            break ExecEnd::ClientClosed;
                        }
                    }
                    ExecEvent::Exit(code) => break ExecEnd::Exited(code),
                    ExecEvent::Failed(err) => {
                        let _ = send(&mut session, json!({"type": "error", "error": err})).await;
                        break ExecEnd::Failed(err);
                    }
                },
                msg = inbound.next() => match msg {
                    Some(Ok(AggregatedMessage::Text(text))) => match serde_json::from_str::<ExecInput>(&text) {
                        Ok(ExecInput::Input { data }) => {
                            if let Err(err) = exec.write(data.as_bytes()).await {
                                break ExecEnd::Failed(err.to_string());
                            }
                        }
                        Ok(ExecInput::Resize { rows, cols }) => exec.resize(rows, cols).await,
                        Err(err) => { let _ = send(&mut session, json!({"type": "error", "error": format!("invalid message: {err}")})).await; }
                    },
                    Some(Ok(AggregatedMessage::Binary(bytes))) => {
                        if let Err(err) = exec.write(&bytes).await {
                            break ExecEnd::Failed(err.to_string());
                        }
                    }
                    Some(Ok(AggregatedMessage::Ping(b))) => { let _ = session.pong(&b).await; }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                    Some(Ok(AggregatedMessage::Close(_))) | None | Some(Err(_)) => break ExecEnd::ClientClosed,
                },
                _ = recheck.tick() => match sockets::recheck(&state, &principal, required).await {
                    Standing::Unchanged => {}
                    Standing::Changed(now) => principal = now,
                    Standing::Ended(reason) => break ExecEnd::Revoked(reason),
                },
                _ = shutdown.changed() => break ExecEnd::ShuttingDown,
            }
        };
        audit.ended(&state, &end).await;
        match end {
            ExecEnd::Exited(code) => {
                let _ = send(&mut session, json!({"type": "exit", "code": code})).await;
                let _ = session
                    .close(Some(CloseReason {
                        code: CloseCode::Normal,
                        description: None,
                    }))
                    .await;
            }
            ExecEnd::Failed(_) => {
                let _ = send(&mut session, json!({"type": "exit", "code": null})).await;
                let _ = session
                    .close(Some(CloseReason {
                        code: CloseCode::Normal,
                        description: None,
                    }))
                    .await;
            }
            ExecEnd::ClientClosed => {}
            ExecEnd::Revoked(reason) => {
                let _ = send(&mut session, json!({"type": "error", "error": reason})).await;
                sockets::close_ended(session, reason).await;
            }
            ExecEnd::ShuttingDown => {
                let _ = session
                    .close(Some(CloseReason {
                        code: CloseCode::Away,
                        description: Some("server shutting down".into()),
                    }))
                    .await;
            }
        }
    });
    Ok(response)
}
