//! What the long-lived sockets (`/api/ws`, container logs, container exec) share: the handshake,
//! checked before a handler does anything with side effects, and one session implementation
//! ([`Socket::run`]) that every kind plugs into with a [`Kind`].
//!
//! A session is a task that owns its socket and is the only writer to it, so frames leave in
//! order. It registers with the `SessionRegistry` (who it serves, by login session or API key,
//! user and role), which pushes what concerns it: its login session or API key was revoked
//! (logout, refresh-token reuse, key revocation), its user changed (role, password, disabled,
//! deleted, an import), the server stops. On a user change the session asks again where its
//! caller stands ([`recheck`], the session and key caches that every request uses); a caller who
//! no longer passes, or whose role fell below what the route requires, is closed with 1008
//! (policy violation) and a reason; a changed role that still passes is handed to the kind
//! (`/api/ws` takes it as its new event filter). Changes the master is not told about (a
//! password reset by the `contextbay admin` CLI, a separate process; a key expiring) are caught
//! by a slow re-check every `ws.recheck_interval_secs` (30 s). Every session pings every
//! `ws.ping_interval_secs` and closes a client silent for `ws.client_timeout_secs` with 1001, is
//! counted in `contextbay_ws_sessions` (and `_by_kind`) while open, and ends with a close frame
//! carrying a reason, whatever ended it.

use std::time::{Duration, Instant};

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use actix_ws::{
    AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, MessageStream, Session,
};
use contextbay_actors::{SessionCommand, SessionInfo, SessionKind};
use futures_util::StreamExt;

use super::gate::{MatchedRoute, same_origin};
use super::routes::Access;
use crate::auth::{AuthMethod, Principal, Role};
use crate::error::ApiError;
use crate::state::AppState;

/// The largest client frame (and aggregated continuation) a session accepts.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Where the caller of an open socket stands now.
#[derive(Debug)]
pub enum Standing {
    /// Credentials and role as when the socket opened.
    Unchanged,
    /// Still allowed here, with another role: the caller's current principal.
    Changed(Principal),
    /// No longer allowed: close the socket with this reason.
    Ended(&'static str),
}

/// Validates the WebSocket handshake (and, for a cookie session, the `Origin`, which the gate
/// has checked already: a handler must not rely on how the gate recognised the upgrade). Call it
/// before anything with side effects: nothing is started for a request that is not a valid
/// same-origin WebSocket handshake. The response is only sent when the handler returns it, so a
/// later failure still answers with its own HTTP status.
pub fn handshake(
    req: &HttpRequest,
    body: web::Payload,
    state: &AppState,
    principal: Option<&Principal>,
) -> Result<(HttpResponse, Session, MessageStream), ApiError> {
    if principal.is_some_and(|p| p.method == AuthMethod::Cookie)
        && !same_origin(req, &state.config.server.public_url)
    {
        return Err(ApiError::forbidden(
            "cross-origin request refused: a cookie-authenticated WebSocket must come from this \
             server's own origin",
        ));
    }
    actix_ws::handle(req, body)
        .map_err(|e| ApiError::bad_request(format!("WebSocket handshake failed: {e}")))
}

/// The role the route the request was dispatched to requires, from the declaration its guard
/// recorded (admin when it cannot be told: fail closed).
pub fn required_role(req: &HttpRequest) -> Role {
    req.extensions()
        .get::<MatchedRoute>()
        .map_or(Role::Admin, |m| match m.0.access {
            Access::Public => Role::Viewer,
            Access::Role(r) => r,
        })
}

/// Asks again whether `principal` may keep a socket that requires `required` open. A store
/// error keeps the socket (the next check asks again) rather than dropping every socket on a
/// database hiccup.
pub async fn recheck(state: &AppState, principal: &Principal, required: Role) -> Standing {
    let role = match (
        principal.method,
        &principal.session_id,
        &principal.api_key_id,
    ) {
        (AuthMethod::Jwt | AuthMethod::Cookie, Some(sid), _) => {
            match state.store.sessions().live_user(sid).await {
                Ok(Some(user)) if user.id == principal.user_id => user.role,
                Ok(_) => return Standing::Ended("the session has ended; log in again"),
                Err(err) => {
                    tracing::warn!(%err, "re-checking a socket's session");
                    return Standing::Unchanged;
                }
            }
        }
        (AuthMethod::ApiKey, _, Some(key_id)) => {
            match state.store.api_keys().find_live_by_id(key_id).await {
                // A key never grants more than its owner has now.
                Ok(Some(owner)) if !owner.user_disabled => owner.key.role.min(owner.user_role),
                Ok(_) => return Standing::Ended("the API key was revoked or its user disabled"),
                Err(err) => {
                    tracing::warn!(%err, "re-checking a socket's API key");
                    return Standing::Unchanged;
                }
            }
        }
        _ => return Standing::Ended("the credentials cannot be checked again"),
    };
    if role < required {
        return Standing::Ended("your role no longer allows this");
    }
    if role == principal.role {
        Standing::Unchanged
    } else {
        Standing::Changed(Principal {
            role,
            ..principal.clone()
        })
    }
}

/// How a session ends. Each ending has its close frame (code and reason).
#[derive(Debug)]
pub enum Ending {
    /// The client closed the socket, or it broke off.
    ClientClosed,
    /// Writing to the socket failed: nothing more can be sent.
    Broken,
    /// The client sent nothing, not even a pong, for `ws.client_timeout_secs`: 1001.
    TimedOut,
    /// The caller may no longer keep the socket: `{"type":"error"}` with the reason, then 1008.
    Policy(String),
    /// The server stops: 1001.
    Shutdown,
    /// The kind's work ended by itself (the log ended, the process exited): 1000.
    Finished(&'static str),
    /// The kind's work failed (the stream broke off): 1000 with the reason.
    Failed(String),
}

/// What a session does after a frame or an item.
pub enum Flow {
    Continue,
    End(Ending),
}

impl From<Result<(), Ending>> for Flow {
    fn from(r: Result<(), Ending>) -> Self {
        match r {
            Ok(()) => Flow::Continue,
            Err(end) => Flow::End(end),
        }
    }
}

/// The writing end of a session's socket; only its session holds it.
pub struct Out {
    session: Session,
}

impl Out {
    /// Sends a JSON text frame.
    pub async fn json(&mut self, value: &serde_json::Value) -> Result<(), Ending> {
        self.text(value.to_string()).await
    }

    /// Sends a text frame.
    pub async fn text(&mut self, text: String) -> Result<(), Ending> {
        self.session.text(text).await.map_err(|_| Ending::Broken)
    }

    /// Sends `{"type":"error","error":…}`.
    pub async fn error(&mut self, message: &str) -> Result<(), Ending> {
        self.json(&serde_json::json!({"type": "error", "error": message}))
            .await
    }

    async fn close(self, code: CloseCode, reason: &str) {
        let _ = self
            .session
            .close(Some(CloseReason {
                code,
                description: Some(close_reason(reason)),
            }))
            .await;
    }
}

/// A close frame's reason is at most 123 bytes (a control frame carries 125, the code takes 2).
fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

/// The part of a session that differs by kind: its own source of items (the event bus, a log
/// stream, a process) and what client frames mean to it. [`Socket::run`] does the rest.
pub(crate) trait Kind {
    type Item;
    const KIND: SessionKind;

    /// The next item from the kind's source. Raced against client frames and registry commands,
    /// so it must be cancel-safe.
    async fn next(&mut self) -> Self::Item;

    async fn on_item(&mut self, item: Self::Item, principal: &Principal, out: &mut Out) -> Flow;

    async fn on_text(&mut self, text: &str, out: &mut Out) -> Flow;

    async fn on_binary(&mut self, bytes: &[u8], out: &mut Out) -> Flow;

    /// The caller's role changed and still allows the session.
    async fn on_role(&mut self, _principal: &Principal, _out: &mut Out) -> Flow {
        Flow::Continue
    }

    /// Last frames and bookkeeping, before the close frame.
    async fn on_end(&mut self, _end: &Ending, _state: &AppState, _out: &mut Out) {}
}

/// Counts an open session in `contextbay_ws_sessions` and `contextbay_ws_sessions_by_kind` for
/// as long as it lives.
struct Gauge {
    total: prometheus::IntGauge,
    by_kind: prometheus::IntGauge,
}

impl Gauge {
    fn open(state: &AppState, kind: SessionKind) -> Self {
        let total = state.metrics.ws_sessions.clone();
        let by_kind = state
            .metrics
            .ws_sessions_by_kind
            .with_label_values(&[kind.as_str()]);
        total.inc();
        by_kind.inc();
        Self { total, by_kind }
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.total.dec();
        self.by_kind.dec();
    }
}

/// An accepted WebSocket, before or while its session runs.
pub struct Socket {
    out: Out,
    stream: AggregatedMessageStream,
    kind: SessionKind,
    _gauge: Gauge,
}

impl Socket {
    /// Validates the handshake ([`handshake`]) and accepts the socket for a session of `kind`.
    /// Send the response only when the handler returns it: a later failure still answers with
    /// its own HTTP status (and drops the socket).
    pub fn accept(
        req: &HttpRequest,
        body: web::Payload,
        state: &AppState,
        principal: Option<&Principal>,
        kind: SessionKind,
    ) -> Result<(HttpResponse, Socket), ApiError> {
        let (response, session, stream) = handshake(req, body, state, principal)?;
        let stream = stream
            .max_frame_size(MAX_FRAME_BYTES)
            .aggregate_continuations()
            .max_continuation_size(MAX_FRAME_BYTES);
        Ok((
            response,
            Socket {
                out: Out { session },
                stream,
                kind,
                _gauge: Gauge::open(state, kind),
            },
        ))
    }

    /// The writing end, for what a kind sends before its session runs (a greeting, a replay).
    pub fn out(&mut self) -> &mut Out {
        &mut self.out
    }

    /// The first text frame from the client, within `wait` (pings and pongs are skipped).
    pub async fn first_text(&mut self, wait: Duration) -> Result<String, &'static str> {
        let stream = &mut self.stream;
        tokio::time::timeout(wait, async {
            loop {
                match stream.next().await {
                    Some(Ok(AggregatedMessage::Text(text))) => return Ok(text.to_string()),
                    Some(Ok(AggregatedMessage::Ping(_) | AggregatedMessage::Pong(_))) => continue,
                    _ => return Err("connection closed before authentication"),
                }
            }
        })
        .await
        .unwrap_or(Err(
            "authentication required: send {\"type\":\"auth\",\"token\":…} first",
        ))
    }

    /// Refuses a socket whose session never started: `{"type":"error"}` with `message`, then 1008
    /// with `reason`.
    pub async fn refuse(mut self, message: &str, reason: &str) {
        let _ = self.out.error(message).await;
        self.out.close(CloseCode::Policy, reason).await;
    }

    /// Ends a socket whose session never started, with the ending's frames.
    pub async fn end(self, ending: Ending) {
        finish(self.out, ending).await;
    }

    /// Runs the session of `principal` on a route that requires `required` until it ends, then
    /// sends its last frames and the close frame. Registered with the `SessionRegistry` for as
    /// long as it runs.
    pub(crate) async fn run<K: Kind>(
        self,
        state: &AppState,
        mut principal: Principal,
        required: Role,
        mut kind: K,
    ) {
        debug_assert_eq!(self.kind, K::KIND);
        let Socket {
            mut out,
            mut stream,
            _gauge,
            ..
        } = self;
        let (_ticket, mut mailbox) = state.sessions.register(SessionInfo {
            kind: K::KIND,
            user_id: principal.user_id.clone(),
            auth_session: principal.session_id.clone(),
            api_key: principal.api_key_id.clone(),
            role: principal.role.as_str().to_owned(),
        });
        let mut registered = true;
        let ping_every = Duration::from_secs(state.config.ws.ping_interval_secs.max(1));
        let timeout = Duration::from_secs(state.config.ws.client_timeout_secs);
        let mut ping = ticker(ping_every);
        let mut backstop = ticker(Duration::from_secs(
            state.config.ws.recheck_interval_secs.max(1),
        ));
        let mut last_heard = Instant::now();
        let ending = loop {
            let flow = tokio::select! {
                command = mailbox.recv(), if registered => match command {
                    Some(SessionCommand::Shutdown) => Flow::End(Ending::Shutdown),
                    Some(SessionCommand::Revoked) => {
                        Flow::End(Ending::Policy(revoked(&principal).to_owned()))
                    }
                    Some(SessionCommand::UserChanged { ended: true }) => Flow::End(Ending::Policy(
                        "your account was disabled or deleted".to_owned(),
                    )),
                    Some(SessionCommand::UserChanged { ended: false }) => {
                        standing(state, &mut principal, required, &mut kind, &mut out).await
                    }
                    // The registry is gone (the system is stopping); the backstop still runs.
                    None => {
                        registered = false;
                        Flow::Continue
                    }
                },
                msg = stream.next() => {
                    last_heard = Instant::now();
                    match msg {
                        Some(Ok(AggregatedMessage::Text(text))) => kind.on_text(&text, &mut out).await,
                        Some(Ok(AggregatedMessage::Binary(bytes))) => {
                            kind.on_binary(&bytes, &mut out).await
                        }
                        Some(Ok(AggregatedMessage::Ping(bytes))) => {
                            out.session.pong(&bytes).await.map_err(|_| Ending::Broken).into()
                        }
                        Some(Ok(AggregatedMessage::Pong(_))) => Flow::Continue,
                        Some(Ok(AggregatedMessage::Close(_))) | Some(Err(_)) | None => {
                            Flow::End(Ending::ClientClosed)
                        }
                    }
                }
                item = kind.next() => kind.on_item(item, &principal, &mut out).await,
                _ = ping.tick() => {
                    if last_heard.elapsed() > timeout {
                        Flow::End(Ending::TimedOut)
                    } else {
                        out.session.ping(b"").await.map_err(|_| Ending::Broken).into()
                    }
                }
                _ = backstop.tick() => {
                    standing(state, &mut principal, required, &mut kind, &mut out).await
                }
            };
            if let Flow::End(ending) = flow {
                break ending;
            }
        };
        tracing::debug!(kind = K::KIND.as_str(), ?ending, "WebSocket session ended");
        kind.on_end(&ending, state, &mut out).await;
        finish(out, ending).await;
    }
}

/// Asks where the caller stands now and applies it.
async fn standing<K: Kind>(
    state: &AppState,
    principal: &mut Principal,
    required: Role,
    kind: &mut K,
    out: &mut Out,
) -> Flow {
    match recheck(state, principal, required).await {
        Standing::Unchanged => Flow::Continue,
        Standing::Changed(now) => {
            *principal = now;
            kind.on_role(principal, out).await
        }
        Standing::Ended(reason) => Flow::End(Ending::Policy(reason.to_owned())),
    }
}

/// Why a revoked caller's socket closes.
fn revoked(principal: &Principal) -> &'static str {
    match principal.method {
        AuthMethod::ApiKey => "the API key was revoked",
        _ => "the session has ended; log in again",
    }
}

/// The ending's last frames: an error frame for a policy close, then the close frame.
async fn finish(mut out: Out, ending: Ending) {
    match ending {
        Ending::ClientClosed => out.close(CloseCode::Normal, "closed by the client").await,
        Ending::Broken => {}
        Ending::TimedOut => out.close(CloseCode::Away, "client timed out").await,
        Ending::Policy(reason) => {
            let _ = out.error(&reason).await;
            out.close(CloseCode::Policy, &reason).await;
        }
        Ending::Shutdown => out.close(CloseCode::Away, "server shutting down").await,
        Ending::Finished(reason) => out.close(CloseCode::Normal, reason).await,
        Ending::Failed(reason) => out.close(CloseCode::Normal, &reason).await,
    }
}

/// An interval first firing one period from now; a late tick is not caught up.
fn ticker(period: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}
