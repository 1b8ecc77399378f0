//! A node's Docker inventory: its containers, images, volumes and networks, kept current by its
//! [`NodeActor`] from the censuses and Docker events the master feeds it, so that lists and
//! lookups by id are answered without asking the engine.
//!
//! Each node actor owns its [`NodeInventory`] and, after every change, publishes a copy (an
//! `Arc`, copy-on-write) into the registry's shared [`InventoryIndex`]. Readers (a page of
//! containers across the fleet, which node holds container `x`) read the index directly: no
//! message per node, so a page over 1,000 nodes costs one lock and a scan, not 1,000 round trips.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use crate::node::NodeActor;
use crate::node_registry::NodeRegistryHandle;
use crate::{ActorError, REQUEST_TIMEOUT};

/// A container as lists show it. The fields a list filters and sorts on are named; the rest of
/// the engine's summary (ports, networks, mounts, compose project, …) is kept as it came, so the
/// master's domain type round-trips through it unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub image: String,
    /// `created`, `running`, `paused`, `restarting`, `exited`, `removing`, `dead`.
    pub state: String,
    /// Docker's human status (`Up 5 minutes`); after an event, a short one (`Up`, `Exited (1)`).
    pub status: String,
    /// Unix seconds.
    pub created: i64,
    pub labels: BTreeMap<String, String>,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// An image, volume or network: its id and name, and the engine's summary as it came.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub id: String,
    pub name: String,
    pub doc: serde_json::Value,
}

/// An item with the time (Unix ms) the inventory last learnt about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamped<T> {
    pub item: T,
    pub updated_at_ms: i64,
}

/// Which kind of Docker object an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Container,
    Image,
    Volume,
    Network,
}

/// What one node's engine holds, as far as the master knows.
#[derive(Debug, Clone, Default)]
pub struct NodeInventory {
    /// When the last full census of the inventory was taken (Unix ms); `None`: never since the
    /// master started, so the inventory is empty and says nothing.
    pub census_at_ms: Option<i64>,
    /// When the last census or event changed it (Unix ms).
    pub updated_at_ms: Option<i64>,
    pub containers: BTreeMap<String, Arc<Stamped<Container>>>,
    pub images: BTreeMap<String, Arc<Stamped<Object>>>,
    pub volumes: BTreeMap<String, Arc<Stamped<Object>>>,
    pub networks: BTreeMap<String, Arc<Stamped<Object>>>,
}

/// A full inventory of a node's engine, taken at `taken_at_ms`: replaces what was known.
#[derive(Debug, Clone, Default)]
pub struct InventoryCensus {
    pub taken_at_ms: i64,
    pub containers: Vec<Container>,
    pub images: Vec<Object>,
    pub volumes: Vec<Object>,
    pub networks: Vec<Object>,
}

/// One Docker event, reduced to what the inventory needs.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryEvent {
    pub kind: ObjectKind,
    pub id: String,
    /// Docker's action (`start`, `die`, `destroy`, `create`, `delete`, …).
    pub action: String,
    /// When the engine reported it (Unix ms).
    pub time_ms: i64,
    /// The container's state after the event, when the action implies one.
    pub state: Option<String>,
    /// The short status to show after the event (`Up`, `Exited (1)`).
    pub status: Option<String>,
    pub name: Option<String>,
    pub image: Option<String>,
    /// The container's labels, when the event carries them.
    pub labels: Option<BTreeMap<String, String>>,
}

impl InventoryEvent {
    /// Whether the event ends the object's existence.
    fn removes(&self) -> bool {
        matches!(self.action.as_str(), "destroy" | "delete" | "remove")
    }

    /// Whether the event makes an object the inventory did not know.
    fn creates(&self) -> bool {
        match self.kind {
            ObjectKind::Container => self.state.is_some(),
            ObjectKind::Image => matches!(self.action.as_str(), "pull" | "tag" | "import" | "load"),
            ObjectKind::Volume | ObjectKind::Network => self.action == "create",
        }
    }
}

impl NodeInventory {
    /// Replaces everything with a census.
    pub fn apply_census(&mut self, census: InventoryCensus) {
        let at = census.taken_at_ms;
        let stamp = |item| {
            Arc::new(Stamped {
                item,
                updated_at_ms: at,
            })
        };
        let mut containers: BTreeMap<String, Arc<Stamped<Container>>> = census
            .containers
            .into_iter()
            .map(|c| (c.id.clone(), stamp(c)))
            .collect();
        // Events applied while the census was being taken, after it started, are newer than it.
        for (id, known) in &self.containers {
            if known.updated_at_ms > at {
                containers.insert(id.clone(), Arc::clone(known));
            }
        }
        self.containers = containers;
        let objects = |list: Vec<Object>| {
            list.into_iter()
                .map(|o| {
                    (
                        o.id.clone(),
                        Arc::new(Stamped {
                            item: o,
                            updated_at_ms: at,
                        }),
                    )
                })
                .collect()
        };
        self.images = objects(census.images);
        self.volumes = objects(census.volumes);
        self.networks = objects(census.networks);
        self.census_at_ms = Some(at);
        self.updated_at_ms = Some(self.updated_at_ms.map_or(at, |u| u.max(at)));
    }

    /// Applies one event. Events older than the last census, or than what is known of the
    /// object, change nothing (the census already includes them). Returns whether it changed.
    pub fn apply_event(&mut self, event: &InventoryEvent) -> bool {
        if self.census_at_ms.is_some_and(|c| event.time_ms < c) {
            return false;
        }
        let changed = match event.kind {
            ObjectKind::Container => self.apply_container_event(event),
            ObjectKind::Image => apply_object_event(&mut self.images, event),
            ObjectKind::Volume => apply_object_event(&mut self.volumes, event),
            ObjectKind::Network => apply_object_event(&mut self.networks, event),
        };
        if changed {
            self.updated_at_ms = Some(
                self.updated_at_ms
                    .map_or(event.time_ms, |u| u.max(event.time_ms)),
            );
        }
        changed
    }

    fn apply_container_event(&mut self, event: &InventoryEvent) -> bool {
        let known = self.containers.get(&event.id);
        if known.is_some_and(|c| event.time_ms < c.updated_at_ms) {
            return false;
        }
        if event.removes() {
            return self.containers.remove(&event.id).is_some();
        }
        let mut container = match known {
            Some(c) => c.item.clone(),
            None if event.creates() => Container {
                id: event.id.clone(),
                name: String::new(),
                image: String::new(),
                state: String::new(),
                status: String::new(),
                created: event.time_ms.div_euclid(1000),
                labels: BTreeMap::new(),
                rest: serde_json::Map::new(),
            },
            None => return false,
        };
        if let Some(state) = &event.state {
            container.state.clone_from(state);
        }
        if let Some(status) = &event.status {
            container.status.clone_from(status);
        }
        if let Some(name) = event.name.as_ref().filter(|n| !n.is_empty()) {
            container.name = name.trim_start_matches('/').to_owned();
        }
        if let Some(image) = event.image.as_ref().filter(|i| !i.is_empty()) {
            container.image.clone_from(image);
        }
        if let Some(labels) = &event.labels {
            container.labels.clone_from(labels);
        }
        self.containers.insert(
            event.id.clone(),
            Arc::new(Stamped {
                item: container,
                updated_at_ms: event.time_ms,
            }),
        );
        true
    }
}

fn apply_object_event(
    map: &mut BTreeMap<String, Arc<Stamped<Object>>>,
    event: &InventoryEvent,
) -> bool {
    let known = map.get(&event.id);
    if known.is_some_and(|o| event.time_ms < o.updated_at_ms) {
        return false;
    }
    if event.removes() {
        return map.remove(&event.id).is_some();
    }
    let mut object = match known {
        Some(o) => o.item.clone(),
        None if event.creates() => Object {
            id: event.id.clone(),
            name: event.name.clone().unwrap_or_else(|| event.id.clone()),
            doc: serde_json::Value::Null,
        },
        None => return false,
    };
    if let Some(name) = event.name.as_ref().filter(|n| !n.is_empty()) {
        object.name.clone_from(name);
    }
    map.insert(
        event.id.clone(),
        Arc::new(Stamped {
            item: object,
            updated_at_ms: event.time_ms,
        }),
    );
    true
}

/// Every node's latest inventory, shared by the registry's handle (readers) and the node actors
/// (each writes its own entry after a change).
#[derive(Clone, Default)]
pub struct InventoryIndex(Arc<RwLock<HashMap<String, Arc<NodeInventory>>>>);

impl InventoryIndex {
    pub(crate) fn publish(&self, node: &str, inventory: Arc<NodeInventory>) {
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(node.to_owned(), inventory);
    }

    pub(crate) fn forget(&self, node: &str) {
        let mut map = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(node);
    }

    pub(crate) fn get(&self, node: &str) -> Option<Arc<NodeInventory>> {
        let map = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(node).cloned()
    }

    /// A consistent copy of the map's entries (cheap: one `Arc` per node), so that readers do
    /// not hold the lock while they scan.
    fn entries(&self) -> Vec<(String, Arc<NodeInventory>)> {
        let map = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }
}

/// Which containers a page holds.
#[derive(Debug, Clone, Default)]
pub struct ContainerFilter {
    /// Substring of the name, case-insensitive.
    pub name: Option<String>,
    pub state: Option<String>,
    /// `key` or `key=value`.
    pub label: Option<String>,
    /// Only running, paused and restarting containers (`docker ps` without `-a`).
    pub running_only: bool,
    /// Only these nodes; `None`: every node.
    pub nodes: Option<HashSet<String>>,
}

impl ContainerFilter {
    pub fn matches(&self, c: &Container) -> bool {
        (!self.running_only || matches!(c.state.as_str(), "running" | "paused" | "restarting"))
            && self
                .name
                .as_deref()
                .is_none_or(|n| c.name.to_lowercase().contains(&n.to_lowercase()))
            && self.state.as_deref().is_none_or(|s| c.state == s)
            && self
                .label
                .as_deref()
                .is_none_or(|l| match l.split_once('=') {
                    Some((k, v)) => c.labels.get(k).is_some_and(|x| x == v),
                    None => c.labels.contains_key(l),
                })
    }
}

/// A container of a page and the node holding it.
#[derive(Debug, Clone)]
pub struct PlacedContainer {
    pub node_id: String,
    pub container: Arc<Stamped<Container>>,
}

/// A page of containers across nodes, sorted by name then node id.
#[derive(Debug, Clone, Default)]
pub struct ContainerPage {
    /// Every matching container.
    pub total: usize,
    pub items: Vec<PlacedContainer>,
    /// Nodes asked for (by the filter) whose inventory was never filled (no census yet).
    pub unfilled: Vec<String>,
}

/// Replace the node's inventory with a census.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ApplyCensus(pub InventoryCensus);

/// Apply one Docker event to the node's inventory.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ApplyEvent(pub InventoryEvent);

impl NodeActor {
    fn publish_inventory(&self) {
        self.inventory_index
            .publish(&self.id, Arc::clone(&self.inventory));
    }
}

impl Handler<ApplyCensus> for NodeActor {
    type Result = ();

    fn handle(&mut self, msg: ApplyCensus, _ctx: &mut Self::Context) {
        Arc::make_mut(&mut self.inventory).apply_census(msg.0);
        self.publish_inventory();
    }
}

impl Handler<ApplyEvent> for NodeActor {
    type Result = ();

    fn handle(&mut self, msg: ApplyEvent, _ctx: &mut Self::Context) {
        // Copy-on-write: readers of the published copy keep theirs.
        if Arc::make_mut(&mut self.inventory).apply_event(&msg.0) {
            self.publish_inventory();
        }
    }
}

impl NodeRegistryHandle {
    /// Node `id`'s inventory as last published; `None` when the node is unknown or its actor
    /// has not published one yet.
    pub fn inventory(&self, node: &str) -> Option<Arc<NodeInventory>> {
        self.inventory_index().get(node)
    }

    /// Replaces node `id`'s inventory with a census. `false` when the registry does not know
    /// the node.
    pub async fn inventory_census(
        &self,
        node: &str,
        census: InventoryCensus,
    ) -> Result<bool, ActorError> {
        let Some(addr) = self.node_addr(node).await? else {
            return Ok(false);
        };
        addr.send(ApplyCensus(census))
            .timeout(REQUEST_TIMEOUT)
            .await?;
        Ok(true)
    }

    /// Applies a Docker event to node `id`'s inventory (in the order events are fed, since
    /// the node's actor handles them one by one). `false` when the registry does not know it.
    pub async fn inventory_event(
        &self,
        node: &str,
        event: InventoryEvent,
    ) -> Result<bool, ActorError> {
        let Some(addr) = self.node_addr(node).await? else {
            return Ok(false);
        };
        addr.send(ApplyEvent(event))
            .timeout(REQUEST_TIMEOUT)
            .await?;
        Ok(true)
    }

    /// The page `offset..offset + limit` of the containers matching `filter` across nodes,
    /// sorted by name then node id, read from the shared index (no message to any node).
    pub fn containers_page(
        &self,
        filter: &ContainerFilter,
        limit: usize,
        offset: usize,
    ) -> ContainerPage {
        let mut unfilled = Vec::new();
        let mut matching: Vec<(&str, &Arc<Stamped<Container>>)> = Vec::new();
        let entries = self.inventory_index().entries();
        let mut seen = HashSet::new();
        for (node, inventory) in &entries {
            if filter.nodes.as_ref().is_some_and(|n| !n.contains(node)) {
                continue;
            }
            seen.insert(node.as_str());
            if inventory.census_at_ms.is_none() {
                unfilled.push(node.clone());
            }
            matching.extend(
                inventory
                    .containers
                    .values()
                    .filter(|c| filter.matches(&c.item))
                    .map(|c| (node.as_str(), c)),
            );
        }
        if let Some(nodes) = &filter.nodes {
            // Nodes with no published inventory at all were never filled either.
            unfilled.extend(nodes.iter().filter(|n| !seen.contains(n.as_str())).cloned());
        }
        unfilled.sort();
        let total = matching.len();
        let end = offset.saturating_add(limit).min(total);
        let by_name = |a: &(&str, &Arc<Stamped<Container>>),
                       b: &(&str, &Arc<Stamped<Container>>)| {
            a.1.item.name.cmp(&b.1.item.name).then(a.0.cmp(b.0))
        };
        // Only the head up to the page's end needs sorting.
        if end > 0 && end < total {
            matching.select_nth_unstable_by(end - 1, by_name);
            matching.truncate(end);
        }
        matching.sort_unstable_by(by_name);
        let items = matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(node, c)| PlacedContainer {
                node_id: node.to_owned(),
                container: Arc::clone(c),
            })
            .collect();
        ContainerPage {
            total,
            items,
            unfilled,
        }
    }

    /// The nodes holding a container whose id or name is `key`, or whose id starts with `key`
    /// (at least 12 characters), read from the shared index. Sorted, without duplicates.
    pub fn find_container(&self, key: &str) -> Vec<String> {
        let entries = self.inventory_index().entries();
        let mut nodes: Vec<String> = entries
            .iter()
            .filter(|(_, inventory)| {
                inventory.containers.contains_key(key)
                    || inventory.containers.values().any(|c| {
                        c.item.name == key || (key.len() >= 12 && c.item.id.starts_with(key))
                    })
            })
            .map(|(node, _)| node.clone())
            .collect();
        nodes.sort();
        nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(id: &str, name: &str, state: &str) -> Container {
        Container {
            id: id.into(),
            name: name.into(),
            image: "busybox".into(),
            state: state.into(),
            status: String::new(),
            created: 0,
            labels: BTreeMap::new(),
            rest: serde_json::Map::new(),
        }
    }

    fn event(id: &str, action: &str, state: Option<&str>, time_ms: i64) -> InventoryEvent {
        InventoryEvent {
            kind: ObjectKind::Container,
            id: id.into(),
            action: action.into(),
            time_ms,
            state: state.map(Into::into),
            status: None,
            name: Some(format!("/{id}-name")),
            image: Some("busybox".into()),
            labels: None,
        }
    }

    #[test]
    fn census_replaces_and_events_upsert_and_remove() {
        let mut inv = NodeInventory::default();
        assert!(inv.census_at_ms.is_none());
        inv.apply_census(InventoryCensus {
            taken_at_ms: 1_000,
            containers: vec![
                container("a", "a", "running"),
                container("b", "b", "exited"),
            ],
            ..Default::default()
        });
        assert_eq!(inv.containers.len(), 2);
        assert_eq!(inv.census_at_ms, Some(1_000));

        // A new container appears from its events alone.
        assert!(inv.apply_event(&event("c", "create", Some("created"), 1_100)));
        assert!(inv.apply_event(&event("c", "start", Some("running"), 1_200)));
        let c = &inv.containers["c"];
        assert_eq!(
            (c.item.state.as_str(), c.item.name.as_str()),
            ("running", "c-name")
        );
        assert_eq!(c.updated_at_ms, 1_200);
        assert_eq!(inv.updated_at_ms, Some(1_200));

        // An action that implies no state does not invent a container.
        assert!(!inv.apply_event(&event("x", "exec_start", None, 1_300)));
        assert!(!inv.containers.contains_key("x"));

        assert!(inv.apply_event(&event("a", "destroy", None, 1_300)));
        assert!(!inv.containers.contains_key("a"));

        // An event newer than the census being applied survives it.
        assert!(inv.apply_event(&event("d", "start", Some("running"), 2_500)));
        // A census replaces everything else, events included.
        inv.apply_census(InventoryCensus {
            taken_at_ms: 2_000,
            containers: vec![container("b", "b", "running")],
            ..Default::default()
        });
        assert_eq!(inv.containers.keys().collect::<Vec<_>>(), ["b", "d"]);
    }

    #[test]
    fn events_older_than_the_census_or_the_item_do_not_regress_it() {
        let mut inv = NodeInventory::default();
        inv.apply_census(InventoryCensus {
            taken_at_ms: 5_000,
            containers: vec![container("a", "a", "running")],
            ..Default::default()
        });
        assert!(!inv.apply_event(&event("a", "die", Some("exited"), 4_000)));
        assert!(!inv.apply_event(&event("a", "destroy", None, 4_500)));
        assert_eq!(inv.containers["a"].item.state, "running");
        assert!(inv.apply_event(&event("a", "die", Some("exited"), 6_000)));
        assert!(!inv.apply_event(&event("a", "start", Some("running"), 5_500)));
        assert_eq!(inv.containers["a"].item.state, "exited");
    }

    #[test]
    fn objects_follow_their_events() {
        let mut inv = NodeInventory::default();
        let mut e = event("net1", "create", None, 10);
        e.kind = ObjectKind::Network;
        e.name = Some("backend".into());
        assert!(inv.apply_event(&e));
        assert_eq!(inv.networks["net1"].item.name, "backend");
        e.action = "connect".into();
        e.time_ms = 20;
        assert!(inv.apply_event(&e));
        e.action = "destroy".into();
        e.time_ms = 30;
        assert!(inv.apply_event(&e));
        assert!(inv.networks.is_empty());
    }

    #[actix::test]
    async fn the_registry_pages_and_finds_across_nodes_and_forgets_removed_ones() {
        let bus = crate::Broadcaster::start_supervised(64, 64);
        let seeds = ["n1", "n2", "n3"]
            .into_iter()
            .map(|id| crate::NodeSeed {
                id: id.into(),
                hostname: id.into(),
            })
            .collect();
        let timings = crate::NodeTimings {
            stale_after: std::time::Duration::from_secs(30),
            offline_after: std::time::Duration::from_secs(90),
            restart_grace: std::time::Duration::from_secs(120),
            command_timeout: std::time::Duration::from_secs(5),
        };
        let reg = crate::NodeRegistry::start(seeds, timings, bus, crate::Restarts::new());
        for (node, names) in [("n1", ["b", "d"]), ("n2", ["a", "c"])] {
            let census = InventoryCensus {
                taken_at_ms: 1_000,
                containers: names
                    .iter()
                    .map(|n| container(&format!("{node}-{n}-0123456789ab"), n, "running"))
                    .collect(),
                ..Default::default()
            };
            assert!(reg.inventory_census(node, census).await.unwrap());
        }
        assert!(
            !reg.inventory_census("nope", InventoryCensus::default())
                .await
                .unwrap()
        );
        // Fed through the node's actor; the index is read without messages.
        assert!(
            reg.inventory_event(
                "n2",
                event("n2-e-0123456789ab", "start", Some("running"), 2_000)
            )
            .await
            .unwrap()
        );

        let all: ContainerFilter = ContainerFilter {
            nodes: Some(["n1", "n2", "n3"].into_iter().map(Into::into).collect()),
            ..Default::default()
        };
        let page = reg.containers_page(&all, 2, 1);
        assert_eq!(page.total, 5);
        let names: Vec<_> = page
            .items
            .iter()
            .map(|p| (p.node_id.as_str(), p.container.item.name.as_str()))
            .collect();
        assert_eq!(names, [("n1", "b"), ("n2", "c")]);
        assert_eq!(page.unfilled, ["n3"]);
        let whole = reg.containers_page(&ContainerFilter::default(), 50, 0);
        let names: Vec<_> = whole
            .items
            .iter()
            .map(|p| p.container.item.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "c", "d", "n2-e-0123456789ab-name"]);

        assert_eq!(reg.find_container("n1-d-0123456789ab"), ["n1"]);
        assert_eq!(reg.find_container("n2-e-0123456"), ["n2"]);
        assert!(
            reg.find_container("n2-e").is_empty(),
            "a prefix needs 12 characters"
        );
        assert_eq!(reg.find_container("c"), ["n2"]);
        assert_eq!(reg.inventory("n1").unwrap().census_at_ms, Some(1_000));

        reg.remove("n1").await.unwrap();
        assert!(reg.inventory("n1").is_none());
        assert!(reg.find_container("b").is_empty());
    }

    #[test]
    fn filter_matches_like_the_live_list() {
        let mut c = container("a", "Web-1", "exited");
        c.labels.insert("tier".into(), "front".into());
        let f = |name: Option<&str>, label: Option<&str>, running_only| ContainerFilter {
            name: name.map(Into::into),
            label: label.map(Into::into),
            running_only,
            ..Default::default()
        };
        assert!(f(Some("web"), None, false).matches(&c));
        assert!(f(None, Some("tier=front"), false).matches(&c));
        assert!(f(None, Some("tier"), false).matches(&c));
        assert!(!f(None, Some("tier=back"), false).matches(&c));
        assert!(!f(None, None, true).matches(&c));
    }
}
