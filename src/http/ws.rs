//! `GET /api/ws`: the live event stream.
//!
//! Each connection is one session (`super::sockets::Socket::run`, registered with the
//! `SessionRegistry`): it holds the subscription, the client's topic filter and its liveness, and
//! is the only writer to the socket. Revocation, a disabled or deleted user, shutdown and role
//! changes are pushed to it by the registry: logged out, disabled, deleted or revoked ends it with
//! close code 1008; a changed role becomes its event filter. The subscription, the registration
//! and the session gauge are drop guards, so every exit path deregisters.
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
use std::time::Duration;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use contextbay_actors::{
    BroadcasterHandle, Delivery, Event, Replay, SessionKind, Subscription, TopicFilter,
};
use serde::Deserialize;
use serde_json::json;

use super::sockets::{self, Ending, Flow, Kind, Out, Socket};
use crate::auth::Principal;
use crate::auth::credentials::{AuthFailure, Presented, authenticate};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::events::required_role;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WsQuery {
    /// Resume after this event id: missed events are replayed, or `lagged` is sent when they are
    /// no longer available.
    pub since: Option<u64>,
    /// Comma-separated topic patterns (`node.*,alert.fired`), at most 64; default all.
    #[param(
        pattern = r"^\s*(\*|[a-z0-9._-]{1,64}(\.\*)?)\s*(,\s*(\*|[a-z0-9._-]{1,64}(\.\*)?)\s*){0,63}$"
    )]
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
    let (response, socket) =
        Socket::accept(&req, body, &state, principal.as_ref(), SessionKind::Events)?;
    let required = sockets::required_role(&req);
    let state = state.into_inner();
    let since = query.since;
    actix_web::rt::spawn(async move {
        start(&state, principal, required, socket, filter, since).await;
    });
    Ok(response)
}

/// Authenticates (by first message when the handshake carried no credentials), subscribes,
/// greets and replays, then runs the session.
async fn start(
    state: &AppState,
    principal: Option<Principal>,
    required: crate::auth::Role,
    mut socket: Socket,
    filter: TopicFilter,
    since: Option<u64>,
) {
    let principal = match principal {
        Some(p) => p,
        None => match first_message_auth(state, &mut socket).await {
            Ok(p) => p,
            Err(message) => {
                socket.refuse(&message, "authentication required").await;
                return;
            }
        },
    };
    // In a cluster, an id the stream never assigned (a local-only one, or from a stream that was
    // recreated) cannot be resumed from: the gap signal.
    let unknown = match (since, &state.cluster) {
        (Some(since), Some(cluster)) => !cluster.since_known(since).await,
        _ => false,
    };
    let since = since.filter(|_| !unknown);
    let (subscription, replay) = match state.bus.subscribe(filter.clone(), since).await {
        Ok((subscription, _)) if unknown => (subscription, Some(Replay::Gap)),
        Ok(subscribed) => subscribed,
        Err(err) => {
            socket.end(Ending::Failed(err.to_string())).await;
            return;
        }
    };
    if let Err(ending) = greet(state, &principal, socket.out(), &filter, replay).await {
        socket.end(ending).await;
        return;
    }
    let events = Events {
        subscription,
        bus: state.bus.clone(),
    };
    socket.run(state, principal, required, events).await;
}

/// `hello`, then the replay of what the client missed (or `lagged` when it is gone).
async fn greet(
    state: &AppState,
    principal: &Principal,
    out: &mut Out,
    filter: &TopicFilter,
    replay: Option<Replay>,
) -> Result<(), Ending> {
    let last_id = state.bus.stats().await.map(|s| s.last_id).unwrap_or(0);
    out.json(&json!({"type": "hello", "last_id": last_id, "topics": filter.patterns(), "user": principal.username}))
        .await?;
    match replay {
        Some(Replay::Events(events)) => {
            for event in events {
                if visible(principal, &event) {
                    send_event(out, &event).await?;
                }
            }
        }
        Some(Replay::Gap) => {
            out.json(&json!({"type": "lagged", "missed": null, "resume_from": last_id}))
                .await?;
        }
        // In a cluster: the part older than this master's ring comes from the stream.
        Some(Replay::Fetch { after, upto, then }) => {
            let older = match &state.cluster {
                Some(cluster) => cluster.replay(after, upto).await,
                None => Err(crate::cluster::Gap),
            };
            match older {
                Ok(older) => {
                    let older = older.into_iter().filter(|e| filter.matches(&e.kind));
                    for event in older.chain(then) {
                        if visible(principal, &event) {
                            send_event(out, &event).await?;
                        }
                    }
                }
                Err(crate::cluster::Gap) => {
                    out.json(&json!({"type": "lagged", "missed": null, "resume_from": last_id}))
                        .await?;
                }
            }
        }
        None => {}
    }
    Ok(())
}

/// The event stream's part of a session: its bus subscription and filter.
struct Events {
    subscription: Subscription,
    bus: BroadcasterHandle,
}

impl Kind for Events {
    type Item = Option<Delivery>;
    const KIND: SessionKind = SessionKind::Events;

    async fn next(&mut self) -> Option<Delivery> {
        self.subscription.recv().await
    }

    async fn on_item(
        &mut self,
        item: Option<Delivery>,
        principal: &Principal,
        out: &mut Out,
    ) -> Flow {
        match item {
            Some(Delivery::Event(event)) => {
                if visible(principal, &event) {
                    send_event(out, &event).await.into()
                } else {
                    Flow::Continue
                }
            }
            Some(Delivery::Lagged { missed }) => {
                let resume_from = self.bus.stats().await.map(|s| s.last_id).unwrap_or(0);
                out.json(&json!({"type": "lagged", "missed": missed, "resume_from": resume_from}))
                    .await
                    .into()
            }
            None => Flow::End(Ending::Failed("event bus closed".into())),
        }
    }

    async fn on_text(&mut self, text: &str, out: &mut Out) -> Flow {
        let reply = handle_client_message(text, &self.subscription);
        out.json(&reply).await.into()
    }

    async fn on_binary(&mut self, _bytes: &[u8], out: &mut Out) -> Flow {
        out.error("binary frames are not accepted; send JSON text")
            .await
            .into()
    }

    /// The role filter follows the role: a demoted admin stops receiving admin events.
    async fn on_role(&mut self, principal: &Principal, out: &mut Out) -> Flow {
        out.json(&json!({"type": "role", "role": principal.role}))
            .await
            .into()
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
async fn first_message_auth(state: &AppState, socket: &mut Socket) -> Result<Principal, String> {
    let wait = Duration::from_secs(state.config.ws.auth_timeout_secs);
    let first = socket.first_text(wait).await?;
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

async fn send_event(out: &mut Out, event: &Event) -> Result<(), Ending> {
    let text = serde_json::to_string(event).map_err(|e| Ending::Failed(e.to_string()))?;
    out.text(text).await
}
