//! `GET /api/ws`: the live event stream.
//!
//! Each connection is owned by one session task (see `docs/decisions.md`): it holds the
//! subscription, the client's topic filter and its liveness, and is the only writer to the
//! socket. Every few seconds it re-checks its caller (`super::sockets`): logged out, disabled,
//! deleted or revoked ends it with close code 1008; a changed role becomes its event filter. The
//! subscription and the session gauge are drop guards, so every exit path deregisters.
//!
//! Protocol (JSON text frames):
//! - server → client: events `{id, type, ts, payload}`; `{"type":"hello","last_id","topics"}`;
//!   `{"type":"lagged","missed","resume_from"}` (refetch state, events continue after it);
//!   `{"type":"subscribed","topics"}`; `{"type":"pong"}`; `{"type":"error","error"}`;
//!   `{"type":"role","role"}` (the caller's role changed; events from then on are filtered by it).
//! - client → server: `{"type":"auth","token"}` (first message, when the handshake carried no
//!   cookie or header; an access token or an API key); `{"type":"subscribe","topics":[…]}`;
//!   `{"type":"ping"}`.

use super::extract::Query;
use std::time::{Duration, Instant};

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use contextbay_actors::{Delivery, Event, Replay, TopicFilter};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::sockets::{self, Standing};
use crate::auth::credentials::{AuthFailure, Presented, authenticate};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::events::required_role;
use crate::state::AppState;

const MAX_FRAME_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WsQuery {
    /// Resume after this event id: missed events are replayed, or `lagged` is sent when they are
    /// no longer available.
    pub since: Option<u64>,
    /// Comma-separated topic patterns (`node.*,alert.fired`); default all.
    pub topics: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Auth { token: String },
    Subscribe { topics: Vec<String> },
    Ping,
}

/// Open the event stream (WebSocket upgrade).
#[utoipa::path(get, path = "/api/ws", tag = "events", params(WsQuery),
    responses((status = 101, description = "switching to the WebSocket protocol"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: Query<WsQuery>,
) -> ApiResult<HttpResponse> {
    let filter = match &query.topics {
        Some(t) => TopicFilter::parse(t.split(',')).map_err(ApiError::bad_request)?,
        None => TopicFilter::all(),
    };
    let principal = req.extensions().get::<Principal>().cloned();
    let (response, session, stream) = sockets::handshake(&req, body, &state, principal.as_ref())?;
    let required = sockets::required_role(&req);
    let stream = stream
        .max_frame_size(MAX_FRAME_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_FRAME_BYTES);
    let state = state.into_inner();
    let since = query.since;
    actix_web::rt::spawn(async move {
        let _open = SessionGauge::open(&state);
        if let Err(reason) = run(&state, principal, required, session, stream, filter, since).await
        {
            tracing::debug!(%reason, "websocket session ended");
        }
    });
    Ok(response)
}

/// Counts the session in `/metrics` for as long as it lives.
struct SessionGauge(prometheus::IntGauge);

impl SessionGauge {
    fn open(state: &AppState) -> Self {
        state.metrics.ws_sessions.inc();
        Self(state.metrics.ws_sessions.clone())
    }
}

impl Drop for SessionGauge {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn run(
    state: &AppState,
    principal: Option<Principal>,
    required: Role,
    mut session: Session,
    mut stream: AggregatedMessageStream,
    filter: TopicFilter,
    since: Option<u64>,
) -> Result<(), String> {
    let mut principal = match principal {
        Some(p) => p,
        None => match first_message_auth(state, &mut stream).await {
            Ok(p) => p,
            Err(message) => {
                let _ = send(&mut session, &json!({"type": "error", "error": message})).await;
                let _ = session
                    .close(Some(CloseReason {
                        code: CloseCode::Policy,
                        description: Some("authentication required".into()),
                    }))
                    .await;
                return Err(message);
            }
        },
    };

    let (mut subscription, replay) = state
        .bus
        .subscribe(filter.clone(), since)
        .await
        .map_err(|e| e.to_string())?;
    let last_id = state.bus.stats().await.map(|s| s.last_id).unwrap_or(0);
    send(
        &mut session,
        &json!({"type": "hello", "last_id": last_id, "topics": filter.patterns(), "user": principal.username}),
    )
    .await?;
    match replay {
        Some(Replay::Events(events)) => {
            for event in events {
                if visible(&principal, &event) {
                    send_event(&mut session, &event).await?;
                }
            }
        }
        Some(Replay::Gap) => {
            send(
                &mut session,
                &json!({"type": "lagged", "missed": null, "resume_from": last_id}),
            )
            .await?;
        }
        None => {}
    }

    let ping_every = Duration::from_secs(state.config.ws.ping_interval_secs);
    let timeout = Duration::from_secs(state.config.ws.client_timeout_secs);
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    let mut last_heard = Instant::now();
    let mut shutdown = state.shutdown.clone();
    let mut recheck = sockets::recheck_ticker();
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(Ok(msg)) = msg else { return Ok(()) };
                last_heard = Instant::now();
                match msg {
                    AggregatedMessage::Text(text) => {
                        let reply = handle_client_message(&text, &subscription);
                        send(&mut session, &reply).await?;
                    }
                    AggregatedMessage::Ping(bytes) => {
                        session.pong(&bytes).await.map_err(|e| e.to_string())?;
                    }
                    AggregatedMessage::Pong(_) => {}
                    AggregatedMessage::Binary(_) => {
                        send(&mut session, &json!({"type": "error", "error": "binary frames are not accepted; send JSON text"})).await?;
                    }
                    AggregatedMessage::Close(_) => {
                        let _ = session.close(None).await;
                        return Ok(());
                    }
                }
            }
            delivery = subscription.recv() => match delivery {
                Some(Delivery::Event(event)) => {
                    if visible(&principal, &event) {
                        send_event(&mut session, &event).await?;
                    }
                }
                Some(Delivery::Lagged { missed }) => {
                    let resume_from = state.bus.stats().await.map(|s| s.last_id).unwrap_or(0);
                    send(&mut session, &json!({"type": "lagged", "missed": missed, "resume_from": resume_from})).await?;
                }
                None => return Err("event bus closed".into()),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() > timeout {
                    let _ = session.close(Some(CloseReason { code: CloseCode::Away, description: Some("client timed out".into()) })).await;
                    return Err("client timed out".into());
                }
                session.ping(b"").await.map_err(|e| e.to_string())?;
            }
            _ = recheck.tick() => match sockets::recheck(state, &principal, required).await {
                Standing::Unchanged => {}
                // The role filter follows the role: a demoted admin stops receiving admin events.
                Standing::Changed(now) => {
                    principal = now;
                    send(&mut session, &json!({"type": "role", "role": principal.role})).await?;
                }
                Standing::Ended(reason) => {
                    let _ = send(&mut session, &json!({"type": "error", "error": reason})).await;
                    sockets::close_ended(session, reason).await;
                    return Err(reason.into());
                }
            },
            _ = shutdown.changed() => {
                let _ = session.close(Some(CloseReason { code: CloseCode::Away, description: Some("server shutting down".into()) })).await;
                return Ok(());
            }
        }
    }
}

fn handle_client_message(
    text: &str,
    subscription: &contextbay_actors::Subscription,
) -> serde_json::Value {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage::Subscribe { topics }) => match TopicFilter::parse(&topics) {
            Ok(filter) => {
                let patterns = filter.patterns().to_vec();
                subscription.set_filter(filter);
                json!({"type": "subscribed", "topics": patterns})
            }
            Err(e) => json!({"type": "error", "error": e}),
        },
        Ok(ClientMessage::Ping) => json!({"type": "pong"}),
        Ok(ClientMessage::Auth { .. }) => {
            json!({"type": "error", "error": "already authenticated"})
        }
        Err(e) => json!({"type": "error", "error": format!("invalid message: {e}")}),
    }
}

/// Waits for `{"type":"auth","token":…}` as the first message.
async fn first_message_auth(
    state: &AppState,
    stream: &mut AggregatedMessageStream,
) -> Result<Principal, String> {
    let wait = Duration::from_secs(state.config.ws.auth_timeout_secs);
    let first = tokio::time::timeout(wait, async {
        loop {
            match stream.next().await {
                Some(Ok(AggregatedMessage::Text(text))) => return Some(text),
                Some(Ok(AggregatedMessage::Ping(_) | AggregatedMessage::Pong(_))) => continue,
                _ => return None,
            }
        }
    })
    .await
    .map_err(|_| "authentication required: send {\"type\":\"auth\",\"token\":…} first".to_owned())?
    .ok_or_else(|| "connection closed before authentication".to_owned())?;
    let token = match serde_json::from_str::<ClientMessage>(&first) {
        Ok(ClientMessage::Auth { token }) => token,
        _ => return Err(
            "authentication required: the first message must be {\"type\":\"auth\",\"token\":…}"
                .into(),
        ),
    };
    let bearer = format!("Bearer {token}");
    let presented = if token.starts_with(crate::auth::credentials::API_KEY_PREFIX) {
        Presented {
            api_key: Some(&token),
            ..Presented::default()
        }
    } else {
        Presented {
            authorization: Some(&bearer),
            ..Presented::default()
        }
    };
    match authenticate(&presented, &state.tokens, &state.store).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(AuthFailure::Missing.to_string()),
        Err(AuthFailure::Store(e)) => {
            tracing::error!("websocket authentication: {e}");
            Err("internal error".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn visible(principal: &Principal, event: &Event) -> bool {
    principal.has(required_role(&event.kind))
}

async fn send_event(session: &mut Session, event: &Event) -> Result<(), String> {
    let text = serde_json::to_string(event).map_err(|e| e.to_string())?;
    session.text(text).await.map_err(|e| e.to_string())
}

async fn send(session: &mut Session, value: &serde_json::Value) -> Result<(), String> {
    session
        .text(value.to_string())
        .await
        .map_err(|e| e.to_string())
}
