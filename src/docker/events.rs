//! The one payload of `container.update`, `image.update`, `volume.update` and `network.update`:
//! what an engine reported about one of its objects, the same whether the engine is the master's
//! own or a tcp one (followed by the endpoint watcher) or a node's (reported by its worker).
//! The spec's example (`{"id":"xyz","state":"running"}`) is a subset.

use std::collections::BTreeMap;

use contextbay_actors::{InventoryEvent, ObjectKind};
use serde::{Deserialize, Serialize};

/// Payload of `<object>.update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ObjectUpdate {
    /// The object's id (a volume's name).
    pub id: String,
    /// The endpoint whose engine reported it (an agent endpoint's id is its node's id).
    pub endpoint: String,
    /// The node, for an agent endpoint; `null` for `local` and `tcp` endpoints.
    pub node_id: Option<String>,
    /// `container`, `image`, `volume` or `network`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Docker's action: `create`, `start`, `die`, `destroy`, `health_status: healthy`, …
    pub action: String,
    /// A container's state after the event, when the action implies one (`running`, `exited`,
    /// `paused`, `created`); `null` otherwise.
    pub state: Option<String>,
    /// A container's short status after the event (`Up`, `Exited (137)`), with `state`.
    pub status: Option<String>,
    /// The object's name, when the engine says (`web`, `backend`, an image's reference).
    pub name: Option<String>,
    /// A container's image.
    pub image: Option<String>,
    /// Docker's attributes of the event as reported (labels, `exitCode`, …).
    pub attributes: BTreeMap<String, String>,
    /// When the engine reported it (RFC 3339).
    pub time: String,
    /// The worker's sequence number of the event (increasing per node, the key that drops
    /// replays); `null` for `local` and `tcp` endpoints.
    pub seq: Option<u64>,
}

impl ObjectUpdate {
    /// The bus kind of an event about a `typ` object; `None` for types that are not published
    /// this way (daemon, plugin, …).
    pub fn event_kind(typ: &str) -> Option<&'static str> {
        match typ {
            "container" => Some("container.update"),
            "image" => Some("image.update"),
            "volume" => Some("volume.update"),
            "network" => Some("network.update"),
            _ => None,
        }
    }

    /// Builds the payload from what an engine reported.
    #[allow(clippy::too_many_arguments, reason = "the fields of an engine event")]
    pub fn new(
        endpoint: &str,
        node_id: Option<&str>,
        seq: Option<u64>,
        typ: &str,
        id: &str,
        action: &str,
        attributes: BTreeMap<String, String>,
        time_unix_ms: i64,
    ) -> Self {
        let (state, status) = if typ == "container" {
            container_state_after(action, &attributes)
                .map_or((None, None), |(s, st)| (Some(s.to_owned()), Some(st)))
        } else {
            (None, None)
        };
        let name = attributes
            .get("name")
            .filter(|n| !n.is_empty())
            .map(|n| n.trim_start_matches('/').to_owned());
        let image = if typ == "container" {
            attributes.get("image").filter(|i| !i.is_empty()).cloned()
        } else {
            None
        };
        Self {
            id: id.to_owned(),
            endpoint: endpoint.to_owned(),
            node_id: node_id.map(str::to_owned),
            kind: typ.to_owned(),
            action: action.to_owned(),
            state,
            status,
            name,
            image,
            attributes,
            time: contextbay_actors::rfc3339_from_millis(time_unix_ms),
            seq,
        }
    }

    /// What the node's inventory learns from it; `None` for object types it does not keep.
    pub fn inventory_event(&self, time_unix_ms: i64) -> Option<InventoryEvent> {
        let kind = match self.kind.as_str() {
            "container" => ObjectKind::Container,
            "image" => ObjectKind::Image,
            "volume" => ObjectKind::Volume,
            "network" => ObjectKind::Network,
            _ => return None,
        };
        // A container's create event carries its labels among the attributes.
        let labels = (kind == ObjectKind::Container && self.action == "create").then(|| {
            self.attributes
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "name" | "image"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        });
        Some(InventoryEvent {
            kind,
            id: self.id.clone(),
            action: self.action.clone(),
            time_ms: time_unix_ms,
            state: self.state.clone(),
            status: self.status.clone(),
            name: self.name.clone(),
            image: self.image.clone(),
            labels,
        })
    }
}

/// A container as the inventory keeps it (the list's fields, round-tripped through JSON).
pub fn to_inventory(
    c: &crate::docker::containers::ContainerInfo,
) -> Result<contextbay_actors::Container, serde_json::Error> {
    serde_json::from_value(serde_json::to_value(c)?)
}

/// A container from the inventory as the list shows it. An entry made from events alone lacks
/// the summary's other fields (ports, networks, mounts): they are empty.
pub fn from_inventory(
    c: &contextbay_actors::Container,
) -> crate::docker::containers::ContainerInfo {
    fn field<T: serde::de::DeserializeOwned + Default>(
        c: &contextbay_actors::Container,
        k: &str,
    ) -> T {
        c.rest
            .get(k)
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }
    crate::docker::containers::ContainerInfo {
        id: c.id.clone(),
        name: c.name.clone(),
        image: c.image.clone(),
        state: c.state.clone(),
        status: c.status.clone(),
        created: c.created,
        labels: c.labels.clone(),
        ports: field(c, "ports"),
        networks: field(c, "networks"),
        mounts: field(c, "mounts"),
        compose_project: field(c, "compose_project"),
        compose_service: field(c, "compose_service"),
    }
}

/// A container's state and short status after Docker action `action`; `None` when the action
/// does not change it (`kill` and `stop` are followed by `die`, which carries the exit code;
/// exec, attach, health checks and the like change nothing), or ends it (`destroy`).
pub fn container_state_after(
    action: &str,
    attributes: &BTreeMap<String, String>,
) -> Option<(&'static str, String)> {
    let base = action.split(':').next().unwrap_or_default().trim();
    match base {
        "create" => Some(("created", "Created".to_owned())),
        "start" | "restart" | "unpause" => Some(("running", "Up".to_owned())),
        "pause" => Some(("paused", "Up (Paused)".to_owned())),
        "die" => Some((
            "exited",
            match attributes.get("exitCode").filter(|c| !c.is_empty()) {
                Some(code) => format!("Exited ({code})"),
                None => "Exited".to_owned(),
            },
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_event_carries_its_state_name_and_image() {
        let attributes: BTreeMap<String, String> = [
            ("name", "web"),
            ("image", "busybox"),
            ("exitCode", "137"),
            ("tier", "front"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let u = ObjectUpdate::new(
            "n1",
            Some("n1"),
            Some(7),
            "container",
            "abc",
            "die",
            attributes,
            0,
        );
        assert_eq!(u.state.as_deref(), Some("exited"));
        assert_eq!(u.status.as_deref(), Some("Exited (137)"));
        assert_eq!(u.name.as_deref(), Some("web"));
        assert_eq!(u.image.as_deref(), Some("busybox"));
        assert_eq!(u.time, "1970-01-01T00:00:00.000Z");
        let json = serde_json::to_value(&u).unwrap();
        assert_eq!(json["type"], "container");
        assert_eq!(json["endpoint"], "n1");
        assert_eq!(json["seq"], 7);
        let e = u.inventory_event(5).unwrap();
        assert_eq!(
            (e.kind, e.state.as_deref()),
            (ObjectKind::Container, Some("exited"))
        );
        assert!(e.labels.is_none());
    }

    #[test]
    fn actions_without_a_state_have_none() {
        let none = BTreeMap::new();
        for action in [
            "kill",
            "stop",
            "destroy",
            "exec_start: sh",
            "health_status: healthy",
        ] {
            assert_eq!(container_state_after(action, &none), None, "{action}");
        }
        let u = ObjectUpdate::new("local", None, None, "network", "n", "create", none, 0);
        assert_eq!((u.state, u.image, u.node_id), (None, None, None));
    }
}
