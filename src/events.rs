//! Publishing events: the [`Broadcaster`](contextbay_actors::Broadcaster) delivers them live, and
//! the kinds worth keeping are written to the store for `/api/activity` and `/api/notifications`.
//!
//! Every event type the master publishes is listed in [`KNOWN_EVENTS`] with the role a client
//! needs to receive it.

use std::sync::Arc;

use contextbay_actors::{BroadcasterHandle, Event};

use crate::auth::Role;
use crate::store::Store;
use crate::store::events::StoredEvent;

/// Every event type, who may receive it, and what it means. The one place they are documented.
pub const KNOWN_EVENTS: &[(&str, Role, &str)] = &[
    (
        "user.created",
        Role::Admin,
        "a user was created: {id, username, role}",
    ),
    (
        "user.updated",
        Role::Admin,
        "a user's role, state or password changed: {id, username, role, disabled}",
    ),
    (
        "user.deleted",
        Role::Admin,
        "a user was deleted: {id, username}",
    ),
    (
        "apikey.created",
        Role::Admin,
        "an API key was created: {id, user_id, name, role}",
    ),
    (
        "apikey.revoked",
        Role::Admin,
        "an API key was revoked: {id, user_id}",
    ),
    (
        "auth.login",
        Role::Admin,
        "a user logged in: {user_id, username}",
    ),
    (
        "auth.refresh_reuse",
        Role::Admin,
        "a used refresh token was presented again; its session was revoked: {user_id, session_id}",
    ),
    (
        "auth.jwt_rotated",
        Role::Admin,
        "the JWT signing key was rotated: {kid, previous_kid}",
    ),
    ("setting.updated", Role::Admin, "a setting changed: {key}"),
    (
        "module.updated",
        Role::Admin,
        "a module was switched or reconfigured: {name, enabled, configured}",
    ),
    (
        "config.imported",
        Role::Admin,
        "a configuration import was applied: {report}",
    ),
    (
        "notification",
        Role::Viewer,
        "a notification for people: {title, body, level}",
    ),
    (
        "alert.fired",
        Role::Viewer,
        "Alertmanager reported a new firing alert: {id, name, severity, status, labels, \
         annotations, starts_at, ends_at, fingerprint, rule_id, acknowledged_by, resolved_by}",
    ),
    (
        "alert.resolved",
        Role::Viewer,
        "an alert resolved (resolved_by null: by Alertmanager; else by that user): same payload \
         as alert.fired",
    ),
    (
        "alert.acknowledged",
        Role::Viewer,
        "someone acknowledged an alert: same payload as alert.fired",
    ),
    (
        "alert_rule.created",
        Role::Viewer,
        "an alert rule was created: {id, name}",
    ),
    (
        "alert_rule.updated",
        Role::Viewer,
        "an alert rule was changed: {id, name}",
    ),
    (
        "alert_rule.deleted",
        Role::Viewer,
        "an alert rule was deleted: {id, name}",
    ),
    (
        "silence.created",
        Role::Viewer,
        "an Alertmanager silence was created: {id, matchers, ends_at, created_by}",
    ),
    (
        "silence.deleted",
        Role::Viewer,
        "an Alertmanager silence was expired: {id}",
    ),
    (
        "stack.progress",
        Role::Viewer,
        "a line of compose output during a stack action: {id, action, line, stream}; the last \
         one of an action is {id, action, done: true, ok, exit_code}",
    ),
    (
        "stack.update",
        Role::Viewer,
        "a stack was created, changed, deleted (status 'deleted') or its status changed: \
         {id, name, endpoint, status}",
    ),
    (
        "service.health",
        Role::Viewer,
        "CB's health snapshot of a service was stored: {id, endpoint, status, detail}",
    ),
];

/// The role needed to receive an event type. Unknown types (from later modules) need `viewer`.
pub fn required_role(kind: &str) -> Role {
    KNOWN_EVENTS
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map_or(Role::Viewer, |(_, r, _)| *r)
}

/// Publishes and records events.
#[derive(Clone)]
pub struct EventLog {
    bus: BroadcasterHandle,
    store: Store,
}

impl EventLog {
    pub fn new(bus: BroadcasterHandle, store: Store) -> Self {
        Self { bus, store }
    }

    /// Publishes an event and records it for the activity feed; returns it once stored, so a
    /// client that reads `/api/activity` after the response sees it.
    pub async fn record(
        &self,
        kind: &str,
        payload: serde_json::Value,
    ) -> anyhow::Result<Arc<Event>> {
        let event = self.bus.publish(kind, payload).await?;
        self.store
            .events()
            .insert(&StoredEvent {
                id: i64::try_from(event.id)?,
                kind: event.kind.clone(),
                ts: event.ts_ms,
                payload: event.payload.clone(),
            })
            .await?;
        Ok(event)
    }

    /// [`EventLog::record`] for a change that has already been committed: a failure to publish
    /// is logged, not returned, because the change itself succeeded.
    pub async fn record_committed(&self, kind: &str, payload: serde_json::Value) {
        if let Err(err) = self.record(kind, payload).await {
            tracing::error!(%kind, "recording event: {err:#}");
        }
    }
}
