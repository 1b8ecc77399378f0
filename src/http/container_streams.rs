//! `/api/containers/{id}/logs/ws` (follow a container's log) and `/api/containers/{id}/exec/ws`
//! (an interactive shell, admin only). Both authenticate at the handshake (session cookie from the
//! dashboard, or a bearer token / API key header).
//!
//! Frames, server → client: `{"type":"log","stream","ts","line"}`; `{"type":"output","data"}`;
//! `{"type":"exit","code"}`; `{"type":"end"}` (the log stream ended); `{"type":"error","error"}`.
//! Client → server (exec): `{"type":"input","data"}` (or a binary frame), `{"type":"resize","rows","cols"}`.
//!
//! Each socket is one session (`super::sockets::Socket::run`): revocation, demotion below the
//! route's role, a disabled user and shutdown close it, pushed by the `SessionRegistry`.

use actix_web::{HttpRequest, HttpResponse, web};
use contextbay_actors::SessionKind;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::containers::locate;
use super::extract::Query;
use super::sockets::{self, Ending, Flow, Kind, Out, Socket};
use crate::auth::Principal;
use crate::docker::containers::{LogLine, LogQuery};
use crate::endpoint_streams::{self, ExecEvent, LogLines};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::store::audit::AuditEntry;
use crate::store::now_ms;

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

/// Follow a container's log over a WebSocket.
#[utoipa::path(get, path = "/api/containers/{id}/logs/ws", tag = "containers", params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.-]{1,128}$"), LogsWsQuery),
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
    let (response, socket) =
        Socket::accept(&req, body, &state, Some(&principal), SessionKind::Logs)?;
    let required = sockets::required_role(&req);
    let e = locate(&state, &id, q.endpoint.as_deref()).await?;
    let log_query = LogQuery {
        tail: q.tail.or(Some(100)),
        since: None,
        timestamps: q.timestamps,
        stdout: q.stdout,
        stderr: q.stderr,
    };
    let lines = endpoint_streams::logs(&state, &e, &id, &log_query, true).await?;
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        socket
            .run(&state, principal, required, Logs { lines })
            .await;
    });
    Ok(response)
}

/// A followed log's part of a session: the lines, until the stream ends.
struct Logs {
    lines: LogLines,
}

impl Kind for Logs {
    type Item = Option<Result<LogLine, String>>;
    const KIND: SessionKind = SessionKind::Logs;

    async fn next(&mut self) -> Self::Item {
        self.lines.next().await
    }

    async fn on_item(&mut self, item: Self::Item, _: &Principal, out: &mut Out) -> Flow {
        match item {
            Some(Ok(l)) => out
                .json(&json!({"type": "log", "stream": l.stream, "ts": l.ts, "line": l.line}))
                .await
                .into(),
            Some(Err(err)) => {
                let _ = out.error(&err).await;
                Flow::End(Ending::Failed(err))
            }
            None => {
                let _ = out.json(&json!({"type": "end"})).await;
                Flow::End(Ending::Finished("the log stream ended"))
            }
        }
    }

    /// The client has nothing to say on a log socket: text and binary frames are ignored.
    async fn on_text(&mut self, _: &str, _: &mut Out) -> Flow {
        Flow::Continue
    }

    async fn on_binary(&mut self, _: &[u8], _: &mut Out) -> Flow {
        Flow::Continue
    }
}

/// How an exec session ended, for its audit entry.
enum ExecEnd {
    /// The process exited (with its code when the engine reported one).
    Exited(Option<i64>),
    /// The stream to the process broke off.
    Failed(String),
    ClientClosed,
    /// The client stopped answering pings.
    TimedOut,
    /// The caller's credentials or role no longer allow exec.
    Revoked(String),
    ShuttingDown,
}

impl ExecEnd {
    /// How the exec ended, from how its session ended (`exit`: the exit code, once it exited).
    fn of(end: &Ending, exit: Option<Option<i64>>) -> Self {
        match end {
            Ending::Finished(_) => Self::Exited(exit.flatten()),
            Ending::Failed(err) => Self::Failed(err.clone()),
            Ending::ClientClosed | Ending::Broken => Self::ClientClosed,
            Ending::TimedOut => Self::TimedOut,
            Ending::Policy(why) => Self::Revoked(why.clone()),
            Ending::Shutdown => Self::ShuttingDown,
        }
    }
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
            ExecEnd::TimedOut => (
                "no exit code: the client stopped answering".to_owned(),
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
#[utoipa::path(get, path = "/api/containers/{id}/exec/ws", tag = "containers", params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.-]{1,128}$"), ExecQuery),
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
    let (response, socket) =
        Socket::accept(&req, body, &state, Some(&principal), SessionKind::Exec)?;
    let required = sockets::required_role(&req);
    let mut audit = ExecAudit {
        actor: principal.clone(),
        subject: format!("container {}", id.as_str()),
        request_id: super::request_id(),
        source_ip: super::peer_ip(&req),
    };
    let tty = q.tty.unwrap_or(true);
    let size = q.rows.zip(q.cols);
    let (e, exec) = match open_exec(
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
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        let kind = ExecSession {
            exec,
            audit,
            exit: None,
        };
        socket.run(&state, principal, required, kind).await;
    });
    Ok(response)
}

/// An exec's part of a session: the process, its audit and how it exited.
struct ExecSession {
    exec: endpoint_streams::Exec,
    audit: ExecAudit,
    /// Set when the process exited (with its code when the engine reported one).
    exit: Option<Option<i64>>,
}

impl ExecSession {
    async fn write(&mut self, data: &[u8]) -> Flow {
        match self.exec.write(data).await {
            Ok(()) => Flow::Continue,
            Err(err) => Flow::End(Ending::Failed(err)),
        }
    }
}

impl Kind for ExecSession {
    type Item = ExecEvent;
    const KIND: SessionKind = SessionKind::Exec;

    async fn next(&mut self) -> ExecEvent {
        self.exec.next().await
    }

    async fn on_item(&mut self, item: ExecEvent, _: &Principal, out: &mut Out) -> Flow {
        match item {
            ExecEvent::Output(bytes) => {
                let data = String::from_utf8_lossy(&bytes).into_owned();
                out.json(&json!({"type": "output", "data": data}))
                    .await
                    .into()
            }
            ExecEvent::Exit(code) => {
                self.exit = Some(code);
                Flow::End(Ending::Finished("the process exited"))
            }
            ExecEvent::Failed(err) => {
                let _ = out.error(&err).await;
                Flow::End(Ending::Failed(err))
            }
        }
    }

    async fn on_text(&mut self, text: &str, out: &mut Out) -> Flow {
        match serde_json::from_str::<ExecInput>(text) {
            Ok(ExecInput::Input { data }) => self.write(data.as_bytes()).await,
            Ok(ExecInput::Resize { rows, cols }) => {
                self.exec.resize(rows, cols).await;
                Flow::Continue
            }
            Err(err) => out.error(&format!("invalid message: {err}")).await.into(),
        }
    }

    async fn on_binary(&mut self, bytes: &[u8], _: &mut Out) -> Flow {
        self.write(bytes).await
    }

    /// Audits the end; a process that exited (or whose stream failed) reports its code.
    async fn on_end(&mut self, end: &Ending, state: &AppState, out: &mut Out) {
        self.audit.ended(state, &ExecEnd::of(end, self.exit)).await;
        match end {
            Ending::Finished(_) => {
                let _ = out
                    .json(&json!({"type": "exit", "code": self.exit.flatten()}))
                    .await;
            }
            Ending::Failed(_) => {
                let _ = out.json(&json!({"type": "exit", "code": null})).await;
            }
            _ => {}
        }
    }
}
