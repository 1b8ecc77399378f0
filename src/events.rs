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
        "a line of compose output during a stack action: {id, operation, action, line, stream} \
         (operation: the id of the operation running the action); the last one of an action is \
         {id, operation, action, done: true, ok, exit_code}",
    ),
    (
        "operation.update",
        Role::Viewer,
        "a long-running operation changed state or progress: {id, kind, resource, state, \
         progress, message, error} (state: queued, running, succeeded, failed, cancelled or \
         interrupted; progress 0-100 or null)",
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
    (
        "node.status",
        Role::Viewer,
        "a node's status changed (healthy, stale, offline, unknown): {node_id, hostname, status, previous}",
    ),
    (
        "node.registered",
        Role::Viewer,
        "a node's worker registered: {node_id, hostname, agent_version, proto_minor}",
    ),
    (
        "node.census",
        Role::Viewer,
        "a census of a node was stored: {node_id, census_id}",
    ),
    (
        "node.updated",
        Role::Viewer,
        "a node's labels changed: {node_id, labels}",
    ),
    (
        "node.policy_updated",
        Role::Viewer,
        "a node's security policy changed: {node_id, policy}",
    ),
    (
        "node.removed",
        Role::Viewer,
        "a node was removed: {node_id}",
    ),
    (
        "host.created",
        Role::Viewer,
        "a host placeholder was created: {host_id, name}",
    ),
    (
        "host.deleted",
        Role::Viewer,
        "a host was deleted: {host_id}",
    ),
    (
        "host.enroll_attempt",
        Role::Viewer,
        "an enrollment was attempted: {host_id, accepted, reason, source_ip}",
    ),
    (
        "host.enrolled",
        Role::Viewer,
        "a host's worker enrolled: {host_id}",
    ),
    (
        "host.fused",
        Role::Viewer,
        "a host is fused (worker registered and its engine answered): {host_id}",
    ),
    (
        "container.update",
        Role::Viewer,
        "the engine reported a container change: {id, endpoint, action, state, name, …}",
    ),
    (
        "container.created",
        Role::Viewer,
        "a container was created through ContextBay: {id, endpoint}",
    ),
    (
        "container.action",
        Role::Viewer,
        "a container action ran: {id, endpoint, action, …}",
    ),
    (
        "container.removed",
        Role::Viewer,
        "a container was removed through ContextBay: {id, endpoint}",
    ),
    (
        "container.exec",
        Role::Admin,
        "an exec session was opened: {id, endpoint, user, cmd}",
    ),
    (
        "image.update",
        Role::Viewer,
        "the engine reported an image change: {id, endpoint, action, …}",
    ),
    (
        "image.pull",
        Role::Viewer,
        "progress of an image pull, per layer: {endpoint, image, layer, status, …}",
    ),
    (
        "image.pulled",
        Role::Viewer,
        "an image pull finished: {endpoint, image}",
    ),
    (
        "image.pull_failed",
        Role::Viewer,
        "an image pull failed: {endpoint, image, error}",
    ),
    (
        "image.removed",
        Role::Viewer,
        "an image was removed: {id, endpoint}",
    ),
    (
        "image.pruned",
        Role::Viewer,
        "unused images were pruned: {endpoint, reclaimed_bytes, …}",
    ),
    (
        "volume.update",
        Role::Viewer,
        "the engine reported a volume change: {id, endpoint, action}",
    ),
    (
        "volume.removed",
        Role::Viewer,
        "a volume was removed: {name, endpoint}",
    ),
    (
        "network.update",
        Role::Viewer,
        "the engine reported a network change: {id, endpoint, action}",
    ),
    (
        "network.removed",
        Role::Viewer,
        "a network was removed: {id, endpoint}",
    ),
    (
        "endpoint.created",
        Role::Admin,
        "a Docker endpoint was registered: {id, name, kind}",
    ),
    (
        "endpoint.deleted",
        Role::Admin,
        "a Docker endpoint was removed: {id, name}",
    ),
    (
        "endpoint.policy_updated",
        Role::Admin,
        "a local or tcp endpoint's security policy changed: {id, policy, default}",
    ),
    (
        "endpoint.status",
        Role::Admin,
        "a Docker endpoint's health as last probed: {id, status, error}",
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

#[cfg(test)]
mod tests {
    #[test]
    fn every_event_type_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for (kind, _, about) in super::KNOWN_EVENTS {
            assert!(seen.insert(*kind), "{kind} is listed twice");
            assert!(!about.is_empty(), "{kind} has no description");
        }
        assert_eq!(
            super::required_role("container.exec"),
            crate::auth::Role::Admin
        );
        assert_eq!(
            super::required_role("node.status"),
            crate::auth::Role::Viewer
        );
    }
}
