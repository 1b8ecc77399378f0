//! Events: every kind the master publishes is declared once, with its payload type, the role a
//! client needs to receive it and what it means. The payload type *is* the declaration
//! ([`EventKind`]): [`EventLog::publish`] takes the typed payload, so a kind cannot be published
//! without one. The [`Broadcaster`](contextbay_actors::Broadcaster) delivers events live, and the
//! kinds worth keeping are written to the store for `/api/activity` and `/api/notifications`.
//!
//! The catalogue ([`catalogue`]: the core kinds below plus each module's) is served at
//! `GET /api/events/schema` and in the OpenAPI document (`x-events`, payload schemas under
//! `components.schemas`). Delivery fails closed: a kind that is not in the catalogue (a worker
//! sending something new, say) reaches admins only ([`required_role`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use contextbay_actors::{BroadcasterHandle, Event};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::auth::Role;
use crate::policy::SecurityPolicy;
use crate::store::Store;
use crate::store::events::StoredEvent;

/// A declared event kind: the payload type, its kind (also its bus topic), who may receive it
/// and what it means. Declare one with [`event!`](crate::event).
pub trait EventKind: Serialize + ToSchema + Send + 'static {
    /// `<resource>.<verb>`: the event's `type` and the topic subscribers filter on.
    const KIND: &'static str;
    /// The least role that receives it.
    const ROLE: Role;
    /// One line: when it is published.
    const ABOUT: &'static str;
}

/// Declares a payload type as an event kind: `event!(UserCreated, "user.created", Admin, "…")`.
#[macro_export]
macro_rules! event {
    ($ty:ty, $kind:literal, $role:ident, $about:literal) => {
        impl $crate::events::EventKind for $ty {
            const KIND: &'static str = $kind;
            const ROLE: $crate::auth::Role = $crate::auth::Role::$role;
            const ABOUT: &'static str = $about;
        }
    };
}

/// One entry of the catalogue.
#[derive(Clone)]
pub struct EventDecl {
    pub kind: &'static str,
    pub role: Role,
    pub about: &'static str,
    /// The payload schema's name in `components.schemas`.
    pub schema_name: fn() -> Cow<'static, str>,
    /// The payload schema.
    pub schema: fn() -> RefOr<Schema>,
    /// The schemas the payload schema refers to.
    pub dependencies: fn(&mut Vec<(String, RefOr<Schema>)>),
}

impl EventDecl {
    pub fn of<E: EventKind>() -> Self {
        Self {
            kind: E::KIND,
            role: E::ROLE,
            about: E::ABOUT,
            schema_name: <E as ToSchema>::name,
            schema: <E as utoipa::PartialSchema>::schema,
            dependencies: <E as ToSchema>::schemas,
        }
    }
}

/// The core kinds (modules declare theirs in their descriptor).
fn core() -> Vec<EventDecl> {
    vec![
        EventDecl::of::<UserCreated>(),
        EventDecl::of::<UserUpdated>(),
        EventDecl::of::<UserDeleted>(),
        EventDecl::of::<ApiKeyCreated>(),
        EventDecl::of::<ApiKeyRevoked>(),
        EventDecl::of::<AuthLogin>(),
        EventDecl::of::<AuthRefreshReuse>(),
        EventDecl::of::<AuthJwtRotated>(),
        EventDecl::of::<SettingUpdated>(),
        EventDecl::of::<ModuleUpdated>(),
        EventDecl::of::<ConfigImported>(),
        EventDecl::of::<Notification>(),
        EventDecl::of::<StackProgress>(),
        EventDecl::of::<StackUpdate>(),
        EventDecl::of::<OperationUpdate>(),
        EventDecl::of::<ServiceHealth>(),
        EventDecl::of::<NodeStatus>(),
        EventDecl::of::<NodeRegistered>(),
        EventDecl::of::<NodeCensus>(),
        EventDecl::of::<NodeUpdated>(),
        EventDecl::of::<NodePolicyUpdated>(),
        EventDecl::of::<NodeRemoved>(),
        EventDecl::of::<NodeAgent>(),
        EventDecl::of::<SecurityEvent>(),
        EventDecl::of::<DockerEvent>(),
        EventDecl::of::<HostCreated>(),
        EventDecl::of::<HostDeleted>(),
        EventDecl::of::<HostEnrollAttempt>(),
        EventDecl::of::<HostEnrolled>(),
        EventDecl::of::<HostFused>(),
        EventDecl::of::<ContainerUpdate>(),
        EventDecl::of::<ContainerCreated>(),
        EventDecl::of::<ContainerAction>(),
        EventDecl::of::<ContainerRemoved>(),
        EventDecl::of::<ContainerExec>(),
        EventDecl::of::<ImageUpdate>(),
        EventDecl::of::<ImagePull>(),
        EventDecl::of::<ImagePulled>(),
        EventDecl::of::<ImagePullFailed>(),
        EventDecl::of::<ImageRemoved>(),
        EventDecl::of::<ImagePruned>(),
        EventDecl::of::<VolumeUpdate>(),
        EventDecl::of::<VolumeRemoved>(),
        EventDecl::of::<NetworkUpdate>(),
        EventDecl::of::<NetworkRemoved>(),
        EventDecl::of::<EndpointCreated>(),
        EventDecl::of::<EndpointDeleted>(),
        EventDecl::of::<EndpointPolicyUpdated>(),
        EventDecl::of::<EndpointStatus>(),
    ]
}

// The catalogue and its index are derived once from compile-time declarations (the core's and
// the registered modules' descriptors) and never change: read-only tables, like a compiled
// pattern, not state that needs an owner.
static CATALOGUE: LazyLock<Vec<EventDecl>> = LazyLock::new(|| {
    let mut all = core();
    for module in crate::modules::MODULES {
        all.extend((module.events)());
    }
    all
});

static ROLES: LazyLock<HashMap<&'static str, Role>> =
    LazyLock::new(|| CATALOGUE.iter().map(|d| (d.kind, d.role)).collect());

/// Every declared kind: the core's, then each module's.
pub fn catalogue() -> &'static [EventDecl] {
    &CATALOGUE
}

/// The role needed to receive an event type. An undeclared type is admin-only (fail closed).
pub fn required_role(kind: &str) -> Role {
    ROLES.get(kind).copied().unwrap_or(Role::Admin)
}

/// The event kinds `role` may see: `None` for all of them (an admin also sees undeclared kinds),
/// otherwise the declared kinds whose role it has.
pub fn visible_kinds(role: Role) -> Option<Vec<&'static str>> {
    (role < Role::Admin).then(|| {
        catalogue()
            .iter()
            .filter(|decl| decl.role <= role)
            .map(|decl| decl.kind)
            .collect()
    })
}

/// Adds the catalogue to an OpenAPI document: each payload schema under `components.schemas`
/// and `x-events`: `{kind: {role, description, payload: {$ref}}}`.
pub fn document(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    let mut events = Map::new();
    for decl in catalogue() {
        let name = (decl.schema_name)().into_owned();
        let mut deps = Vec::new();
        (decl.dependencies)(&mut deps);
        for (dep, schema) in deps {
            components.schemas.entry(dep).or_insert(schema);
        }
        components
            .schemas
            .entry(name.clone())
            .or_insert_with(decl.schema);
        events.insert(
            decl.kind.to_owned(),
            serde_json::json!({
                "role": decl.role.as_str(),
                "description": decl.about,
                "payload": {"$ref": format!("#/components/schemas/{name}")},
            }),
        );
    }
    let ext = utoipa::openapi::extensions::ExtensionsBuilder::new()
        .add("x-events", Value::Object(events))
        .build();
    match doc.extensions.as_mut() {
        Some(existing) => existing.merge(ext),
        None => doc.extensions = Some(ext),
    }
}

// Users, keys, auth.

/// `{id, username, role}`
#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreated {
    pub id: String,
    pub username: String,
    pub role: Role,
}
crate::event!(UserCreated, "user.created", Admin, "a user was created");

#[derive(Debug, Serialize, ToSchema)]
pub struct UserUpdated {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
}
crate::event!(
    UserUpdated,
    "user.updated",
    Admin,
    "a user's role, state or password changed"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDeleted {
    pub id: String,
    pub username: String,
}
crate::event!(UserDeleted, "user.deleted", Admin, "a user was deleted");

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub role: Role,
}
crate::event!(
    ApiKeyCreated,
    "apikey.created",
    Admin,
    "an API key was created"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyRevoked {
    pub id: String,
    pub user_id: String,
}
crate::event!(
    ApiKeyRevoked,
    "apikey.revoked",
    Admin,
    "an API key was revoked"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthLogin {
    pub user_id: String,
    pub username: String,
}
crate::event!(AuthLogin, "auth.login", Admin, "a user logged in");

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthRefreshReuse {
    pub user_id: String,
    pub session_id: String,
}
crate::event!(
    AuthRefreshReuse,
    "auth.refresh_reuse",
    Admin,
    "a used refresh token was presented again; its session was revoked"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthJwtRotated {
    pub kid: String,
    pub previous_kid: String,
}
crate::event!(
    AuthJwtRotated,
    "auth.jwt_rotated",
    Admin,
    "the JWT signing key was rotated"
);

// Settings, modules, configuration.

#[derive(Debug, Serialize, ToSchema)]
pub struct SettingUpdated {
    pub key: String,
}
crate::event!(
    SettingUpdated,
    "setting.updated",
    Admin,
    "a setting changed"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleUpdated {
    pub name: crate::modules::ModuleName,
    pub enabled: bool,
    pub configured: bool,
}
crate::event!(
    ModuleUpdated,
    "module.updated",
    Admin,
    "a module was switched or reconfigured"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigImported {
    /// What the import applied, as `POST /api/import` answered.
    #[schema(value_type = Object)]
    pub report: Value,
}
crate::event!(
    ConfigImported,
    "config.imported",
    Admin,
    "a configuration import was applied"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct Notification {
    pub title: String,
    pub body: String,
    /// `info`, `warning` or `error`.
    pub level: String,
    /// The alert it is about, for alert notifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_id: Option<String>,
}
crate::event!(
    Notification,
    "notification",
    Viewer,
    "a notification for people"
);

// Stacks and services.

/// A line of compose output, or (`done: true`) the end of the action.
#[derive(Debug, Serialize, ToSchema)]
pub struct StackProgress {
    pub id: String,
    /// The operation (`/api/operations/{id}`) the action runs as.
    pub operation: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
}
crate::event!(
    StackProgress,
    "stack.progress",
    Viewer,
    "a line of compose output during a stack action; the last one of an action has done: true"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct StackUpdate {
    pub id: String,
    pub name: String,
    pub endpoint: String,
    /// The stack's status, `deleted` once it is gone.
    pub status: String,
}
crate::event!(
    StackUpdate,
    "stack.update",
    Viewer,
    "a stack was created, changed, deleted (status 'deleted') or its status changed"
);

/// A long-running operation (`/api/operations/{id}`) changed state or reported progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperationUpdate {
    pub id: String,
    /// What it does, e.g. `stack.deploy`.
    pub kind: String,
    /// What it acts on, e.g. `stack:<id>`.
    pub resource: String,
    /// `queued`, `running`, `succeeded`, `failed`, `cancelled` or `interrupted`.
    pub state: String,
    /// 0 to 100, when the work can tell.
    pub progress: Option<u8>,
    pub message: Option<String>,
    pub error: Option<String>,
}
crate::event!(
    OperationUpdate,
    "operation.update",
    Viewer,
    "a long-running operation changed state or reported progress"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceHealth {
    pub id: String,
    pub endpoint: String,
    pub status: String,
    pub detail: String,
}
crate::event!(
    ServiceHealth,
    "service.health",
    Viewer,
    "CB's health snapshot of a service was stored"
);

// Nodes and hosts.

/// Published by the node actor (`contextbay-actors`), declared here.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeStatus {
    pub node_id: String,
    pub hostname: String,
    /// `healthy`, `stale`, `offline` or `unknown`.
    pub status: String,
    pub previous: String,
}
crate::event!(NodeStatus, "node.status", Viewer, "a node's status changed");

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeRegistered {
    pub node_id: String,
    pub hostname: String,
    pub agent_version: String,
    pub proto_minor: u32,
}
crate::event!(
    NodeRegistered,
    "node.registered",
    Viewer,
    "a node's worker registered"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeCensus {
    pub node_id: String,
    pub census_id: String,
}
crate::event!(
    NodeCensus,
    "node.census",
    Viewer,
    "a census of a node was stored"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeUpdated {
    pub node_id: String,
    #[schema(value_type = Object)]
    pub labels: Map<String, Value>,
}
crate::event!(
    NodeUpdated,
    "node.updated",
    Viewer,
    "a node's labels changed"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct NodePolicyUpdated {
    pub node_id: String,
    pub policy: SecurityPolicy,
}
crate::event!(
    NodePolicyUpdated,
    "node.policy_updated",
    Viewer,
    "a node's security policy changed"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeRemoved {
    pub node_id: String,
    pub hostname: Option<String>,
}
crate::event!(NodeRemoved, "node.removed", Viewer, "a node was removed");

/// An event a worker reported (`ReportEvents`), as published for the kinds below and for
/// `container.update` and friends from workers.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerEvent {
    pub node_id: String,
    /// The worker's sequence number (monotonic per node).
    pub seq: u64,
    /// The object it is about (a container id, say).
    pub id: String,
    #[serde(rename = "type")]
    pub r#type: String,
    pub action: String,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    /// RFC 3339.
    pub time: String,
}

/// A worker's own event (start-up, configuration, errors): a [`WorkerEvent`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct NodeAgent(pub WorkerEvent);
crate::event!(
    NodeAgent,
    "node.agent",
    Admin,
    "a worker reported an event about itself"
);

/// A security event a worker reported (file integrity, audit): a [`WorkerEvent`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct SecurityEvent(pub WorkerEvent);
crate::event!(
    SecurityEvent,
    "security.event",
    Admin,
    "a worker reported a security event"
);

/// A Docker event of another type than container, image, volume or network (daemon, plugin,
/// service…): a [`WorkerEvent`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct DockerEvent(pub WorkerEvent);
crate::event!(
    DockerEvent,
    "docker.event",
    Admin,
    "a worker reported another Docker event"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct HostCreated {
    pub host_id: String,
    pub name: String,
}
crate::event!(
    HostCreated,
    "host.created",
    Viewer,
    "a host placeholder was created"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct HostDeleted {
    pub host_id: String,
    pub name: String,
}
crate::event!(HostDeleted, "host.deleted", Viewer, "a host was deleted");

#[derive(Debug, Serialize, ToSchema)]
pub struct HostEnrollAttempt {
    pub host_id: Option<String>,
    pub accepted: bool,
    /// `accepted`, or why it was refused.
    pub reason: String,
    pub source_ip: Option<String>,
}
crate::event!(
    HostEnrollAttempt,
    "host.enroll_attempt",
    Viewer,
    "an enrollment was attempted"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct HostEnrolled {
    pub host_id: String,
    pub hostname: String,
    pub agent_version: Option<String>,
}
crate::event!(
    HostEnrolled,
    "host.enrolled",
    Viewer,
    "a host's worker enrolled"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct HostFused {
    pub host_id: String,
    pub hostname: Option<String>,
}
crate::event!(
    HostFused,
    "host.fused",
    Viewer,
    "a host is fused (worker registered and its engine answered)"
);

// Docker objects.

pub use crate::docker::events::ObjectUpdate;

/// The engine reported a container change: an [`ObjectUpdate`].
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct ContainerUpdate(pub ObjectUpdate);
crate::event!(
    ContainerUpdate,
    "container.update",
    Viewer,
    "the engine reported a container change"
);

#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct ImageUpdate(pub ObjectUpdate);
crate::event!(
    ImageUpdate,
    "image.update",
    Viewer,
    "the engine reported an image change"
);

#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct VolumeUpdate(pub ObjectUpdate);
crate::event!(
    VolumeUpdate,
    "volume.update",
    Viewer,
    "the engine reported a volume change"
);

#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
pub struct NetworkUpdate(pub ObjectUpdate);
crate::event!(
    NetworkUpdate,
    "network.update",
    Viewer,
    "the engine reported a network change"
);

/// An object of an endpoint, by id: `{id, endpoint}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContainerCreated {
    pub id: String,
    pub endpoint: String,
}
crate::event!(
    ContainerCreated,
    "container.created",
    Viewer,
    "a container was created through ContextBay"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct ContainerAction {
    pub id: String,
    pub endpoint: String,
    pub action: String,
}
crate::event!(
    ContainerAction,
    "container.action",
    Viewer,
    "a container action ran"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct ContainerRemoved {
    pub id: String,
    pub endpoint: String,
}
crate::event!(
    ContainerRemoved,
    "container.removed",
    Viewer,
    "a container was removed through ContextBay"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct ContainerExec {
    pub id: String,
    pub endpoint: String,
    pub user: String,
    pub cmd: Vec<String>,
}
crate::event!(
    ContainerExec,
    "container.exec",
    Admin,
    "an exec session was opened"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct ImagePull {
    /// Groups the events of one pull.
    pub operation: String,
    pub image: String,
    pub endpoint: String,
    pub layer: Option<String>,
    pub status: String,
    pub current: Option<i64>,
    pub total: Option<i64>,
}
crate::event!(
    ImagePull,
    "image.pull",
    Viewer,
    "progress of an image pull, per layer"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct ImagePulled {
    pub image: String,
    pub endpoint: String,
}
crate::event!(
    ImagePulled,
    "image.pulled",
    Viewer,
    "an image pull finished"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct ImagePullFailed {
    pub operation: String,
    pub image: String,
    pub endpoint: String,
    pub error: String,
}
crate::event!(
    ImagePullFailed,
    "image.pull_failed",
    Viewer,
    "an image pull failed"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct ImageRemoved {
    pub id: String,
    pub endpoint: String,
}
crate::event!(
    ImageRemoved,
    "image.removed",
    Viewer,
    "an image was removed"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct ImagePruned {
    pub endpoint: String,
    /// How many images were deleted.
    pub deleted: usize,
    pub space_reclaimed_bytes: i64,
}
crate::event!(
    ImagePruned,
    "image.pruned",
    Viewer,
    "unused images were pruned"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct VolumeRemoved {
    pub name: String,
    pub endpoint: String,
}
crate::event!(
    VolumeRemoved,
    "volume.removed",
    Viewer,
    "a volume was removed"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkRemoved {
    pub id: String,
    pub endpoint: String,
}
crate::event!(
    NetworkRemoved,
    "network.removed",
    Viewer,
    "a network was removed"
);

// Docker endpoints.

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointCreated {
    pub id: String,
    pub name: String,
    /// `local`, `tcp` or `agent`.
    pub kind: String,
}
crate::event!(
    EndpointCreated,
    "endpoint.created",
    Admin,
    "a Docker endpoint was registered"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointDeleted {
    pub id: String,
    pub name: String,
}
crate::event!(
    EndpointDeleted,
    "endpoint.deleted",
    Admin,
    "a Docker endpoint was removed"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointPolicyUpdated {
    pub id: String,
    pub policy: SecurityPolicy,
    /// The policy was reset to the configured default.
    pub default: bool,
}
crate::event!(
    EndpointPolicyUpdated,
    "endpoint.policy_updated",
    Admin,
    "a local or tcp endpoint's security policy changed"
);

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointStatus {
    pub id: String,
    /// `up` or `down`.
    pub status: String,
    pub error: Option<String>,
}
crate::event!(
    EndpointStatus,
    "endpoint.status",
    Admin,
    "a Docker endpoint's health as last probed"
);

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
    pub async fn publish<E: EventKind>(&self, event: E) -> anyhow::Result<Arc<Event>> {
        let event = self
            .bus
            .publish(E::KIND, serde_json::to_value(&event)?)
            .await?;
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

    /// [`EventLog::publish`] for a change that has already been committed: a failure to publish
    /// is logged, not returned, because the change itself succeeded.
    pub async fn publish_committed<E: EventKind>(&self, event: E) {
        if let Err(err) = self.publish(event).await {
            tracing::error!(kind = E::KIND, "recording event: {err:#}");
        }
    }

    /// Publishes what an engine reported about one of its objects live, as `container.update`,
    /// `image.update`, `volume.update` or `network.update`; other object types (the daemon,
    /// plugins) are not published.
    pub fn emit_object_update(&self, update: ObjectUpdate) {
        match update.kind.as_str() {
            "container" => self.emit(ContainerUpdate(update)),
            "image" => self.emit(ImageUpdate(update)),
            "volume" => self.emit(VolumeUpdate(update)),
            "network" => self.emit(NetworkUpdate(update)),
            _ => {}
        }
    }

    /// Publishes an event live only (not kept for the activity feed): progress and the like.
    pub fn emit<E: EventKind>(&self, event: E) {
        match serde_json::to_value(&event) {
            Ok(payload) => self.bus.emit(E::KIND, payload),
            Err(err) => tracing::error!(kind = E::KIND, "serializing event: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_declared_once_and_undeclared_ones_are_admin_only() {
        let mut seen = std::collections::BTreeSet::new();
        for decl in catalogue() {
            assert!(seen.insert(decl.kind), "{} is declared twice", decl.kind);
            assert!(!decl.about.is_empty(), "{} has no description", decl.kind);
        }
        assert_eq!(required_role("container.exec"), Role::Admin);
        assert_eq!(required_role("node.status"), Role::Viewer);
        assert_eq!(required_role("alert.fired"), Role::Viewer);
        assert_eq!(required_role("no.such_kind"), Role::Admin);
        assert_eq!(required_role("security.event"), Role::Admin);
    }

    #[test]
    fn a_payload_serializes_as_its_schema_says() {
        let e = NodeAgent(WorkerEvent {
            node_id: "n".into(),
            seq: 1,
            id: "c".into(),
            r#type: "agent".into(),
            action: "start".into(),
            attributes: Map::new(),
            time: "2026-01-01T00:00:00Z".into(),
        });
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["type"], "agent");
        assert_eq!(v["node_id"], "n");
    }
}
