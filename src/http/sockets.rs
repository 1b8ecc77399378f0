//! What the long-lived sockets (`/api/ws`, container logs, container exec) share: the handshake,
//! checked before a handler does anything with side effects, and the standing of the caller,
//! re-checked every [`RECHECK_INTERVAL`] while the socket is open.
//!
//! A request is authenticated once, at its start; a socket lives for hours. So each socket asks
//! again, every few seconds, whether its credentials still hold (the session is not logged out or
//! revoked, the API key is not revoked or expired, the user is not disabled or deleted) and what
//! role they carry now. The lookups are the ones every request makes (the session and key caches,
//! invalidated by every write to users, sessions and keys), so a check costs a map lookup. A
//! socket whose caller no longer passes, or whose role fell below what its route requires, is
//! closed with code 1008 (policy violation) and a reason; `/api/ws` takes a changed role that
//! still passes as its new event filter.

use std::time::Duration;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use actix_ws::{CloseCode, CloseReason, MessageStream, Session};

use super::gate::{MatchedRoute, same_origin};
use super::routes::Access;
use crate::auth::{AuthMethod, Principal, Role};
use crate::error::ApiError;
use crate::state::AppState;

/// How often an open socket re-checks its caller.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(2);

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

/// Closes a socket whose caller no longer passes: 1008 (policy violation) with the reason.
pub async fn close_ended(session: Session, reason: &str) {
    let _ = session
        .close(Some(CloseReason {
            code: CloseCode::Policy,
            description: Some(reason.to_owned()),
        }))
        .await;
}

/// A ticker for [`recheck`], first firing one interval from now.
pub fn recheck_ticker() -> tokio::time::Interval {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + RECHECK_INTERVAL,
        RECHECK_INTERVAL,
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}
