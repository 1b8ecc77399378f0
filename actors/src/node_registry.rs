//! [`NodeRegistry`]: supervises one [`NodeActor`] per enrolled node.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use contextbay_proto::v1::{
    CommandResult, HeartbeatRequest, MasterMessage, MetricsBatch, StreamFrame, StreamInput,
    StreamResize, command,
};
use futures_util::future::join_all;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::inventory::InventoryIndex;
use crate::node::{
    Attach, Carry, ChildExited, CommandFailure, Contact, Deliver, Detach, HeldElsewhere, NodeActor,
    NodeLive, NodeTimings, OpenStream, SendCommand, Shutdown, Snapshot, StreamControl, StreamSink,
};
use crate::supervisor::Restarts;
use crate::{ActorError, BroadcasterHandle, REQUEST_TIMEOUT};

/// A node the registry should know, from the store.
#[derive(Debug, Clone)]
pub struct NodeSeed {
    pub id: String,
    pub hostname: String,
}

/// The name node actor restarts are counted under in [`Restarts`].
pub const NODE_ACTOR: &str = "node";

/// A node actor restarted again within this long waits this long before its next start, so that
/// an actor that panics at once cannot spin.
const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// One supervised node actor.
struct Child {
    seed: NodeSeed,
    /// Which start of the actor is current; an exit report from an older one is ignored.
    generation: u64,
    /// The current actor; handles that outlive a restart (an attached command stream) follow it.
    addr: watch::Sender<Addr<NodeActor>>,
    /// The worker's command stream, re-attached to a restarted actor.
    stream: Option<(u64, mpsc::Sender<MasterMessage>)>,
    restarts: u64,
    last_restart: Option<Instant>,
}

impl Child {
    fn addr(&self) -> Addr<NodeActor> {
        self.addr.borrow().clone()
    }
}

/// Owns the set of node actors and supervises them. The store is the source of truth for which
/// nodes exist: the registry is seeded from it at start, and `add`/`remove` follow enrollments
/// and deletions. A node actor that dies (a panic in a handler) is started again, with its
/// status carried over and the worker's command stream re-attached, and counted in [`Restarts`]
/// as `node`; a removed node's actor is stopped for good and forgotten.
pub struct NodeRegistry {
    nodes: HashMap<String, Child>,
    started: Instant,
    timings: NodeTimings,
    bus: BroadcasterHandle,
    seeds: Vec<NodeSeed>,
    next_conn: u64,
    next_generation: u64,
    restarts: Restarts,
    inventory: InventoryIndex,
}

impl NodeRegistry {
    /// Starts the registry (supervised) with the enrolled nodes. The restart grace period counts
    /// from now; node actor restarts are counted in `restarts`.
    pub fn start(
        seeds: Vec<NodeSeed>,
        timings: NodeTimings,
        bus: BroadcasterHandle,
        restarts: Restarts,
    ) -> NodeRegistryHandle {
        let started = Instant::now();
        let inventory = InventoryIndex::default();
        let index = inventory.clone();
        let addr = Supervisor::start(move |_| NodeRegistry {
            nodes: HashMap::new(),
            started,
            timings,
            bus,
            seeds,
            next_conn: 1,
            next_generation: 1,
            restarts,
            inventory: index,
        });
        NodeRegistryHandle { addr, inventory }
    }

    /// Starts a node actor for `seed` as a new generation, watched by this registry.
    fn start_actor(
        &mut self,
        seed: &NodeSeed,
        restarts: u64,
        carry: Option<Carry>,
        ctx: &mut Context<Self>,
    ) -> (Addr<NodeActor>, u64) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let mut actor = NodeActor::new(
            seed.id.clone(),
            seed.hostname.clone(),
            self.started,
            self.timings,
            self.bus.clone(),
            self.inventory.clone(),
        )
        .watched_by(ctx.address().recipient(), generation, restarts);
        if let Some(carry) = carry {
            actor = actor.carrying(carry);
        }
        (actor.start(), generation)
    }

    fn spawn_node(&mut self, seed: NodeSeed, ctx: &mut Context<Self>) {
        if self.nodes.contains_key(&seed.id) {
            return;
        }
        let (addr, generation) = self.start_actor(&seed, 0, None, ctx);
        self.nodes.insert(
            seed.id.clone(),
            Child {
                seed,
                generation,
                addr: watch::Sender::new(addr),
                stream: None,
                restarts: 0,
                last_restart: None,
            },
        );
    }

    /// Starts node `id`'s actor again after it died, if it is still the current generation.
    fn restart(&mut self, id: &str, generation: u64, carry: Carry, ctx: &mut Context<Self>) {
        let Some(child) = self.nodes.get(id).filter(|c| c.generation == generation) else {
            return;
        };
        let (seed, restarts) = (child.seed.clone(), child.restarts + 1);
        let (addr, generation) = self.start_actor(&seed, restarts, Some(carry), ctx);
        let Some(child) = self.nodes.get_mut(id) else {
            return;
        };
        child.generation = generation;
        child.restarts = restarts;
        child.last_restart = Some(Instant::now());
        child.stream = child.stream.take().filter(|(_, tx)| !tx.is_closed());
        if let Some((conn, tx)) = &child.stream {
            addr.do_send(Attach {
                conn: *conn,
                tx: tx.clone(),
            });
        }
        child.addr.send_replace(addr);
        tracing::warn!(node = %id, restarts, "node actor restarted");
    }
}

impl Actor for NodeRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(16_384);
        for seed in self.seeds.clone() {
            self.spawn_node(seed, ctx);
        }
    }
}

impl Supervised for NodeRegistry {}

impl Handler<ChildExited> for NodeRegistry {
    type Result = ();

    fn handle(&mut self, msg: ChildExited, ctx: &mut Self::Context) {
        let Some(child) = self.nodes.get(&msg.id) else {
            // Removed: its end was intended, nothing to do.
            return;
        };
        if child.generation != msg.generation {
            return;
        }
        if msg.intended {
            self.nodes.remove(&msg.id);
            return;
        }
        tracing::error!(node = %msg.id, "node actor died; restarting it");
        self.restarts.record(NODE_ACTOR);
        let generation = msg.generation;
        // The dead actor's generation is kept until the new one starts, so reports of the
        // old one arriving meanwhile are still matched and lookups see a closed mailbox.
        if child
            .last_restart
            .is_some_and(|t| t.elapsed() < RESTART_PAUSE * 10)
        {
            ctx.run_later(RESTART_PAUSE, move |this, ctx| {
                this.restart(&msg.id, generation, msg.carry, ctx);
            });
        } else {
            self.restart(&msg.id, generation, msg.carry, ctx);
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Add(NodeSeed);

impl Handler<Add> for NodeRegistry {
    type Result = ();

    fn handle(&mut self, msg: Add, ctx: &mut Self::Context) {
        if !self.seeds.iter().any(|s| s.id == msg.0.id) {
            self.seeds.push(msg.0.clone());
        }
        self.spawn_node(msg.0, ctx);
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Remove(String);

impl Handler<Remove> for NodeRegistry {
    type Result = ();

    fn handle(&mut self, msg: Remove, _ctx: &mut Self::Context) {
        self.seeds.retain(|s| s.id != msg.0);
        self.inventory.forget(&msg.0);
        // Forgetting the child drops the registry's copy of the command channel; the actor drops
        // its own and stops for good (it is not restarted), so the worker's stream ends.
        if let Some(child) = self.nodes.remove(&msg.0) {
            child.addr().do_send(Shutdown);
        }
    }
}

#[derive(Message)]
#[rtype(result = "Option<Addr<NodeActor>>")]
struct Lookup(String);

impl Handler<Lookup> for NodeRegistry {
    type Result = Option<Addr<NodeActor>>;

    fn handle(&mut self, msg: Lookup, _ctx: &mut Self::Context) -> Self::Result {
        self.nodes.get(&msg.0).map(Child::addr)
    }
}

#[derive(Message)]
#[rtype(result = "Vec<Addr<NodeActor>>")]
struct All;

impl Handler<All> for NodeRegistry {
    type Result = MessageResult<All>;

    fn handle(&mut self, _msg: All, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.nodes.values().map(Child::addr).collect())
    }
}

/// Attach a worker's command stream to node `id` (kept for re-attaching after a restart).
#[derive(Message)]
#[rtype(result = "Option<(u64, watch::Receiver<Addr<NodeActor>>)>")]
struct AttachStream {
    id: String,
    tx: mpsc::Sender<MasterMessage>,
}

impl Handler<AttachStream> for NodeRegistry {
    type Result = Option<(u64, watch::Receiver<Addr<NodeActor>>)>;

    fn handle(&mut self, msg: AttachStream, _ctx: &mut Self::Context) -> Self::Result {
        let child = self.nodes.get_mut(&msg.id)?;
        self.next_conn += 1;
        let conn = self.next_conn;
        child.stream = Some((conn, msg.tx.clone()));
        // Queued before the caller's next message to the node, so that one sees the stream.
        child.addr().do_send(Attach { conn, tx: msg.tx });
        Some((conn, child.addr.subscribe()))
    }
}

/// The command stream `conn` of node `id` ended: forget it.
#[derive(Message)]
#[rtype(result = "()")]
struct StreamEnded {
    id: String,
    conn: u64,
}

impl Handler<StreamEnded> for NodeRegistry {
    type Result = ();

    fn handle(&mut self, msg: StreamEnded, _ctx: &mut Self::Context) {
        if let Some(child) = self.nodes.get_mut(&msg.id)
            && child.stream.as_ref().is_some_and(|(c, _)| *c == msg.conn)
        {
            child.stream = None;
        }
    }
}

/// How many node actors the registry supervises, and how often they were restarted.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct RegistryStats {
    pub nodes: usize,
    pub restarts: u64,
}

#[derive(Message)]
#[rtype(result = "RegistryStats")]
struct Stats;

impl Handler<Stats> for NodeRegistry {
    type Result = MessageResult<Stats>;

    fn handle(&mut self, _msg: Stats, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(RegistryStats {
            nodes: self.nodes.len(),
            restarts: self.nodes.values().map(|c| c.restarts).sum(),
        })
    }
}

/// Typed handle to the [`NodeRegistry`] and, through it, to each node.
#[derive(Clone)]
pub struct NodeRegistryHandle {
    addr: Addr<NodeRegistry>,
    inventory: InventoryIndex,
}

/// A command stream attached to a node; dropping it detaches (on every exit path of the stream).
/// It follows the node's actor across restarts.
pub struct AttachedStream {
    registry: Addr<NodeRegistry>,
    id: String,
    node: watch::Receiver<Addr<NodeActor>>,
    conn: u64,
}

impl AttachedStream {
    fn node(&self) -> Addr<NodeActor> {
        self.node.borrow().clone()
    }

    /// Hands a result from the worker to whoever waits for it.
    pub fn deliver(&self, result: CommandResult) {
        // Fire-and-forget: the stream reader must not wait on the node actor.
        self.node().do_send(Deliver { result });
    }
}

impl AttachedStream {
    /// Where frames of `stream_id` go; `None` when no such stream is open (it was closed).
    pub async fn frame_sink(&self, stream_id: &str) -> Option<mpsc::Sender<StreamFrame>> {
        self.node()
            .send(StreamSink {
                stream_id: stream_id.to_owned(),
            })
            .timeout(REQUEST_TIMEOUT)
            .await
            .ok()
            .flatten()
    }

    /// The worker ended stream `stream_id` (exit code or end of output).
    pub fn stream_ended(&self, stream_id: &str) {
        self.node().do_send(StreamControl::Close {
            stream_id: stream_id.to_owned(),
            tell_worker: false,
        });
    }

    /// Nobody consumes stream `stream_id` any more: forget it and tell the worker to stop it.
    pub fn abandon_stream(&self, stream_id: &str) {
        self.node().do_send(StreamControl::Close {
            stream_id: stream_id.to_owned(),
            tell_worker: true,
        });
    }
}

/// A log or exec stream open on a worker. Frames arrive on `frames`; it ends when the worker
/// sends an exit code or end-of-output frame, or when the worker disconnects. Dropping it tells
/// the worker to stop the stream.
pub struct RemoteStream {
    pub stream_id: String,
    pub frames: mpsc::Receiver<StreamFrame>,
    pub control: StreamHandle,
}

/// The result of a command sent with [`NodeRegistryHandle::start_stream`].
pub struct PendingResult(tokio::sync::oneshot::Receiver<Result<CommandResult, CommandFailure>>);

impl PendingResult {
    pub async fn wait(self) -> Result<CommandResult, CommandFailure> {
        self.0.await.unwrap_or(Err(CommandFailure::Disconnected))
    }
}

/// Where the input, resizes and close of a stream opened through another master go (several
/// masters: the master holding the worker's command stream relays them).
pub trait StreamLink: Send + Sync {
    fn input(&self, data: Vec<u8>);
    fn resize(&self, rows: u32, cols: u32);
    /// The stream's consumer is done: stop it on the worker.
    fn close(&self);
}

/// Sends input and resizes to an open remote stream; cheap to clone.
#[derive(Clone)]
pub struct StreamHandle(Control);

#[derive(Clone)]
enum Control {
    /// The worker's command stream is attached to this master.
    Node {
        node: Addr<NodeActor>,
        stream_id: String,
    },
    /// Through another master.
    Link(Arc<dyn StreamLink>),
}

impl StreamHandle {
    pub fn input(&self, data: Vec<u8>) {
        match &self.0 {
            Control::Node { node, stream_id } => {
                node.do_send(StreamControl::Send(command::Kind::StreamInput(
                    StreamInput {
                        stream_id: stream_id.clone(),
                        data,
                        ..Default::default()
                    },
                )));
            }
            Control::Link(link) => link.input(data),
        }
    }

    /// A chunk of an archive write stream: its position in the archive, and whether it is the
    /// last (`ArchiveOpen`; the worker fails the stream on a gap). Through another master the
    /// link does not carry positions: the stream is closed, so the write fails instead of
    /// arriving without them.
    pub fn archive_input(&self, offset: u64, data: Vec<u8>, eof: bool) {
        match &self.0 {
            Control::Node { node, stream_id } => {
                node.do_send(StreamControl::Send(command::Kind::StreamInput(
                    StreamInput {
                        stream_id: stream_id.clone(),
                        data,
                        offset,
                        eof,
                    },
                )));
            }
            Control::Link(link) => link.close(),
        }
    }

    pub fn resize(&self, rows: u32, cols: u32) {
        match &self.0 {
            Control::Node { node, stream_id } => {
                node.do_send(StreamControl::Send(command::Kind::StreamResize(
                    StreamResize {
                        stream_id: stream_id.clone(),
                        rows,
                        cols,
                    },
                )));
            }
            Control::Link(link) => link.resize(rows, cols),
        }
    }
}

impl RemoteStream {
    /// A stream opened through another master: frames arrive on `frames`, and input, resizes and
    /// the close (when this is dropped) go to `link`.
    pub fn linked(
        stream_id: String,
        frames: mpsc::Receiver<StreamFrame>,
        link: Arc<dyn StreamLink>,
    ) -> Self {
        Self {
            stream_id,
            frames,
            control: StreamHandle(Control::Link(link)),
        }
    }
}

impl PendingResult {
    /// The result of a command carried out elsewhere (another master), as it arrives on `rx`.
    pub fn from_receiver(
        rx: tokio::sync::oneshot::Receiver<Result<CommandResult, CommandFailure>>,
    ) -> Self {
        Self(rx)
    }
}

impl Drop for RemoteStream {
    fn drop(&mut self) {
        match &self.control.0 {
            Control::Node { node, .. } => node.do_send(StreamControl::Close {
                stream_id: self.stream_id.clone(),
                tell_worker: true,
            }),
            Control::Link(link) => link.close(),
        }
    }
}

impl Drop for AttachedStream {
    fn drop(&mut self) {
        // Fire-and-forget: the stream has ended; the actor fails any pending commands.
        self.node().do_send(Detach { conn: self.conn });
        self.registry.do_send(StreamEnded {
            id: std::mem::take(&mut self.id),
            conn: self.conn,
        });
    }
}

impl NodeRegistryHandle {
    pub(crate) fn inventory_index(&self) -> &InventoryIndex {
        &self.inventory
    }

    pub(crate) async fn node_addr(&self, id: &str) -> Result<Option<Addr<NodeActor>>, ActorError> {
        self.node(id).await
    }

    async fn node(&self, id: &str) -> Result<Option<Addr<NodeActor>>, ActorError> {
        Ok(self
            .addr
            .send(Lookup(id.to_owned()))
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    /// A node was enrolled (or loaded): start its actor.
    pub async fn add(&self, seed: NodeSeed) -> Result<(), ActorError> {
        Ok(self.addr.send(Add(seed)).timeout(REQUEST_TIMEOUT).await?)
    }

    /// A node was removed: stop its actor and cut its worker's command stream.
    pub async fn remove(&self, id: &str) -> Result<(), ActorError> {
        Ok(self
            .addr
            .send(Remove(id.to_owned()))
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    /// Records contact from a node's worker. `false` when the registry does not know the node.
    pub async fn registered(&self, id: &str, hostname: &str) -> Result<bool, ActorError> {
        self.contact(
            id,
            Contact::Register {
                hostname: hostname.to_owned(),
            },
        )
        .await
    }

    pub async fn heartbeat(&self, id: &str, hb: HeartbeatRequest) -> Result<bool, ActorError> {
        self.contact(id, Contact::Heartbeat(hb)).await
    }

    pub async fn metrics(&self, id: &str, batch: MetricsBatch) -> Result<bool, ActorError> {
        self.contact(id, Contact::Metrics(Arc::new(batch))).await
    }

    pub async fn touched(&self, id: &str) -> Result<bool, ActorError> {
        self.contact(id, Contact::Other).await
    }

    async fn contact(&self, id: &str, contact: Contact) -> Result<bool, ActorError> {
        let Some(node) = self.node(id).await? else {
            return Ok(false);
        };
        node.send(contact).timeout(REQUEST_TIMEOUT).await?;
        Ok(true)
    }

    /// Several masters: node `id` is owned by another master until `until` (its lease), so this
    /// master does not mark it stale or offline before then. `false` for an unknown node.
    pub async fn held_elsewhere(&self, id: &str, until: Instant) -> Result<bool, ActorError> {
        let Some(node) = self.node(id).await? else {
            return Ok(false);
        };
        node.do_send(HeldElsewhere { until });
        Ok(true)
    }

    /// Attaches a worker's command stream; keep the returned guard for as long as it is open.
    pub async fn attach(
        &self,
        id: &str,
        tx: mpsc::Sender<MasterMessage>,
    ) -> Result<Option<AttachedStream>, ActorError> {
        let attached = self
            .addr
            .send(AttachStream {
                id: id.to_owned(),
                tx,
            })
            .timeout(REQUEST_TIMEOUT)
            .await?;
        Ok(attached.map(|(conn, node)| AttachedStream {
            registry: self.addr.clone(),
            id: id.to_owned(),
            node,
            conn,
        }))
    }

    /// How many node actors are supervised and how often they were restarted.
    pub async fn stats(&self) -> Result<RegistryStats, ActorError> {
        Ok(self.addr.send(Stats).timeout(REQUEST_TIMEOUT).await?)
    }

    /// Test-only: makes node `id`'s actor panic in a handler. `false` for an unknown node.
    #[doc(hidden)]
    #[cfg(any(test, feature = "fault-injection"))]
    pub async fn inject_panic(&self, id: &str) -> Result<bool, ActorError> {
        let Some(node) = self.node(id).await? else {
            return Ok(false);
        };
        node.do_send(crate::node::InjectPanic);
        Ok(true)
    }

    /// Sends a command down the node's stream and waits for its result (or the command timeout).
    pub async fn command(
        &self,
        id: &str,
        kind: command::Kind,
    ) -> Result<CommandResult, CommandFailure> {
        self.command_within(id, kind, None).await
    }

    /// [`Self::command`] with its own timeout instead of the node's default.
    pub async fn command_within(
        &self,
        id: &str,
        kind: command::Kind,
        timeout: Option<std::time::Duration>,
    ) -> Result<CommandResult, CommandFailure> {
        let node = self
            .node(id)
            .await
            .map_err(|e| CommandFailure::Unavailable(e.to_string()))?
            .ok_or(CommandFailure::UnknownNode)?;
        let rx = node
            .send(SendCommand { kind, timeout })
            .timeout(REQUEST_TIMEOUT)
            .await
            .map_err(|e| CommandFailure::Unavailable(e.to_string()))?;
        rx.await.unwrap_or(Err(CommandFailure::Disconnected))
    }

    /// Opens a log or exec stream on the node's worker (`LogsOpen`/`ExecOpen`). Returns the
    /// opening command's result (an error outcome when the worker could not open it) and the
    /// stream.
    pub async fn open_stream(
        &self,
        id: &str,
        kind: command::Kind,
    ) -> Result<(CommandResult, RemoteStream), CommandFailure> {
        let (pending, stream) = self.start_stream(id, kind, None).await?;
        Ok((pending.wait().await?, stream))
    }

    /// Sends a streaming command and returns at once: its frames arrive on the stream while its
    /// result (after `timeout`, or the node's command timeout) is awaited separately.
    pub async fn start_stream(
        &self,
        id: &str,
        kind: command::Kind,
        timeout: Option<std::time::Duration>,
    ) -> Result<(PendingResult, RemoteStream), CommandFailure> {
        let node = self
            .node(id)
            .await
            .map_err(|e| CommandFailure::Unavailable(e.to_string()))?
            .ok_or(CommandFailure::UnknownNode)?;
        let (stream_id, reply, frames) = node
            .send(OpenStream { kind, timeout })
            .timeout(REQUEST_TIMEOUT)
            .await
            .map_err(|e| CommandFailure::Unavailable(e.to_string()))??;
        let stream = RemoteStream {
            stream_id: stream_id.clone(),
            frames,
            control: StreamHandle(Control::Node { node, stream_id }),
        };
        Ok((PendingResult(reply), stream))
    }

    pub async fn snapshot(&self, id: &str) -> Result<Option<NodeLive>, ActorError> {
        let Some(node) = self.node(id).await? else {
            return Ok(None);
        };
        Ok(Some(node.send(Snapshot).timeout(REQUEST_TIMEOUT).await?))
    }

    /// Every node's live state (unanswered nodes are left out).
    pub async fn snapshots(&self) -> Result<Vec<NodeLive>, ActorError> {
        let nodes = self.addr.send(All).timeout(REQUEST_TIMEOUT).await?;
        let replies = join_all(
            nodes
                .iter()
                .map(|n| n.send(Snapshot).timeout(REQUEST_TIMEOUT)),
        )
        .await;
        Ok(replies.into_iter().filter_map(Result::ok).collect())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::node::NodeStatus;
    use crate::{Broadcaster, Delivery, TopicFilter};

    fn timings() -> NodeTimings {
        NodeTimings {
            stale_after: Duration::from_secs(30),
            offline_after: Duration::from_secs(90),
            restart_grace: Duration::from_secs(120),
            command_timeout: Duration::from_secs(5),
        }
    }

    async fn status_events(sub: &mut crate::Subscription) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(Some(Delivery::Event(e))) =
            tokio::time::timeout(Duration::from_millis(50), sub.recv()).await
        {
            out.push(e.payload["status"].as_str().unwrap_or_default().to_owned());
        }
        out
    }

    #[actix::test]
    async fn a_node_owned_by_another_master_is_not_downgraded_until_that_lease_ends() {
        tokio::time::pause();
        let bus = Broadcaster::start_supervised(64, 64);
        let (mut sub, _) = bus
            .subscribe(TopicFilter::parse(["node.status"]).unwrap(), None)
            .await
            .unwrap();
        let mut t = timings();
        t.restart_grace = Duration::ZERO;
        let reg = NodeRegistry::start(
            vec![NodeSeed {
                id: "n1".into(),
                hostname: "h1".into(),
            }],
            t,
            bus,
            Restarts::new(),
        );
        // Another master holds the node's lease for 200 s: healthy here, without an event.
        let until = Instant::now() + Duration::from_secs(200);
        assert!(reg.held_elsewhere("n1", until).await.unwrap());
        assert!(!reg.held_elsewhere("nope", until).await.unwrap());
        reg.snapshot("n1").await.unwrap().unwrap();
        tokio::time::advance(Duration::from_secs(150)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let live = reg.snapshot("n1").await.unwrap().unwrap();
        assert_eq!(live.status, NodeStatus::Healthy);
        assert!(!live.connected);
        // Seen again (the next read of the leases), then the lease ends without renewal: stale,
        // then offline, counted from when it was last seen.
        assert!(reg.held_elsewhere("n1", until).await.unwrap());
        // (The message is handled before the clock moves on.)
        reg.snapshot("n1").await.unwrap().unwrap();
        tokio::time::advance(Duration::from_secs(60)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            reg.snapshot("n1").await.unwrap().unwrap().status,
            NodeStatus::Stale
        );
        tokio::time::advance(Duration::from_secs(60)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            reg.snapshot("n1").await.unwrap().unwrap().status,
            NodeStatus::Offline
        );
        assert_eq!(status_events(&mut sub).await, vec!["stale", "offline"]);
    }

    #[actix::test]
    async fn status_goes_stale_then_offline_only_after_grace_and_back_on_contact() {
        tokio::time::pause();
        let bus = Broadcaster::start_supervised(64, 64);
        let (mut sub, _) = bus
            .subscribe(TopicFilter::parse(["node.status"]).unwrap(), None)
            .await
            .unwrap();
        let reg = NodeRegistry::start(
            vec![NodeSeed {
                id: "n1".into(),
                hostname: "h1".into(),
            }],
            timings(),
            bus,
            Restarts::new(),
        );
        let live = reg.snapshot("n1").await.unwrap().unwrap();
        assert_eq!(live.status, NodeStatus::Unknown);
        // Silent past offline_after but within the restart grace: stale, not offline.
        tokio::time::advance(Duration::from_secs(100)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            reg.snapshot("n1").await.unwrap().unwrap().status,
            NodeStatus::Stale
        );
        tokio::time::advance(Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            reg.snapshot("n1").await.unwrap().unwrap().status,
            NodeStatus::Offline
        );
        assert!(
            reg.heartbeat("n1", HeartbeatRequest::default())
                .await
                .unwrap()
        );
        assert_eq!(
            reg.snapshot("n1").await.unwrap().unwrap().status,
            NodeStatus::Healthy
        );
        tokio::time::advance(Duration::from_secs(31)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            reg.snapshot("n1").await.unwrap().unwrap().status,
            NodeStatus::Stale
        );
        assert_eq!(
            status_events(&mut sub).await,
            vec!["stale", "offline", "healthy", "stale"]
        );
        assert!(
            !reg.heartbeat("nope", HeartbeatRequest::default())
                .await
                .unwrap()
        );
    }

    #[actix::test]
    async fn commands_need_a_stream_and_time_out_and_fail_on_detach() {
        let bus = Broadcaster::start_supervised(64, 64);
        let mut t = timings();
        t.command_timeout = Duration::from_millis(200);
        let reg = NodeRegistry::start(
            vec![NodeSeed {
                id: "n1".into(),
                hostname: "h".into(),
            }],
            t,
            bus,
            Restarts::new(),
        );
        let ping = || command::Kind::Ping(contextbay_proto::v1::Ping {});
        assert_eq!(
            reg.command("n1", ping()).await.unwrap_err(),
            CommandFailure::NotConnected
        );
        assert_eq!(
            reg.command("zz", ping()).await.unwrap_err(),
            CommandFailure::UnknownNode
        );

        let (tx, mut rx) = mpsc::channel(8);
        let stream = reg.attach("n1", tx).await.unwrap().unwrap();
        assert!(reg.snapshot("n1").await.unwrap().unwrap().connected);
        // Unanswered: times out.
        assert_eq!(
            reg.command("n1", ping()).await.unwrap_err(),
            CommandFailure::Timeout
        );
        let _ = rx.recv().await;
        // Answered: the result is routed by request id.
        let reg2 = reg.clone();
        let waiter = tokio::spawn(async move { reg2.command("n1", ping()).await });
        let sent = rx.recv().await.unwrap();
        let Some(contextbay_proto::v1::master_message::Message::Command(cmd)) = sent.message else {
            panic!("not a command")
        };
        stream.deliver(CommandResult {
            request_id: cmd.request_id.clone(),
            outcome: None,
        });
        assert_eq!(waiter.await.unwrap().unwrap().request_id, cmd.request_id);
        // A command with its own, longer timeout outlives the default one.
        let reg4 = reg.clone();
        let waiter = tokio::spawn(async move {
            reg4.command_within("n1", ping(), Some(Duration::from_secs(5)))
                .await
        });
        let sent = rx.recv().await.unwrap();
        let Some(contextbay_proto::v1::master_message::Message::Command(cmd)) = sent.message else {
            panic!("not a command")
        };
        tokio::time::sleep(Duration::from_millis(400)).await;
        stream.deliver(CommandResult {
            request_id: cmd.request_id.clone(),
            outcome: None,
        });
        assert_eq!(waiter.await.unwrap().unwrap().request_id, cmd.request_id);
        // Detach fails what is pending.
        let reg3 = reg.clone();
        let waiter = tokio::spawn(async move { reg3.command("n1", ping()).await });
        let _ = rx.recv().await;
        drop(stream);
        assert_eq!(
            waiter.await.unwrap().unwrap_err(),
            CommandFailure::Disconnected
        );
        reg.remove("n1").await.unwrap();
        assert!(reg.snapshot("n1").await.unwrap().is_none());
    }

    #[actix::test]
    async fn streams_route_frames_by_id_and_close_on_drop() {
        use contextbay_proto::v1::{LogsOpen, command_result, master_message, stream_frame};
        let bus = Broadcaster::start_supervised(64, 64);
        let reg = NodeRegistry::start(
            vec![NodeSeed {
                id: "n1".into(),
                hostname: "h".into(),
            }],
            timings(),
            bus,
            Restarts::new(),
        );
        let (tx, mut rx) = mpsc::channel(8);
        let attached = reg.attach("n1", tx).await.unwrap().unwrap();
        let reg2 = reg.clone();
        let opener = tokio::spawn(async move {
            reg2.open_stream("n1", command::Kind::LogsOpen(LogsOpen::default()))
                .await
        });
        let Some(master_message::Message::Command(cmd)) = rx.recv().await.unwrap().message else {
            panic!("not a command")
        };
        assert!(matches!(cmd.kind, Some(command::Kind::LogsOpen(_))));
        attached.deliver(CommandResult {
            request_id: cmd.request_id.clone(),
            outcome: Some(command_result::Outcome::OkJson(b"{}".to_vec())),
        });
        let (opened, mut stream) = opener.await.unwrap().unwrap();
        assert_eq!(opened.request_id, cmd.request_id);
        assert_eq!(stream.stream_id, cmd.request_id);
        // A frame for the stream reaches its consumer; one for an unknown stream has no sink.
        let sink = attached.frame_sink(&cmd.request_id).await.unwrap();
        sink.send(StreamFrame {
            stream_id: cmd.request_id.clone(),
            frame: Some(stream_frame::Frame::Stdout(b"hello".to_vec())),
        })
        .await
        .unwrap();
        let frame = stream.frames.recv().await.unwrap();
        assert_eq!(
            frame.frame,
            Some(stream_frame::Frame::Stdout(b"hello".to_vec()))
        );
        assert!(attached.frame_sink("n1-999").await.is_none());
        // Input travels as a fire-and-forget command; dropping the stream tells the worker.
        stream.control.input(b"ls\n".to_vec());
        let Some(master_message::Message::Command(input)) = rx.recv().await.unwrap().message else {
            panic!("not a command")
        };
        assert!(
            matches!(input.kind, Some(command::Kind::StreamInput(ref i)) if i.stream_id == cmd.request_id && i.data == b"ls\n")
        );
        drop(sink);
        drop(stream);
        let Some(master_message::Message::Command(close)) = rx.recv().await.unwrap().message else {
            panic!("not a command")
        };
        assert!(
            matches!(close.kind, Some(command::Kind::StreamClose(ref c)) if c.stream_id == cmd.request_id)
        );
        assert!(attached.frame_sink(&cmd.request_id).await.is_none());
    }

    async fn eventually<F: AsyncFnMut() -> bool>(mut f: F) -> bool {
        for _ in 0..200 {
            if f().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    fn ping() -> command::Kind {
        command::Kind::Ping(contextbay_proto::v1::Ping {})
    }

    /// Answers every command on `rx` with an empty result, through `attached`.
    fn answer_all(
        attached: AttachedStream,
        mut rx: mpsc::Receiver<MasterMessage>,
    ) -> tokio::task::JoinHandle<AttachedStream> {
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                if let Some(contextbay_proto::v1::master_message::Message::Command(cmd)) =
                    msg.message
                {
                    attached.deliver(CommandResult {
                        request_id: cmd.request_id,
                        outcome: None,
                    });
                }
            }
            attached
        })
    }

    #[actix::test]
    async fn a_panicked_node_actor_is_restarted_with_its_stream_and_status() {
        let bus = Broadcaster::start_supervised(64, 64);
        let (mut sub, _) = bus
            .subscribe(TopicFilter::parse(["node.status"]).unwrap(), None)
            .await
            .unwrap();
        let restarts = Restarts::new();
        let reg = NodeRegistry::start(
            vec![NodeSeed {
                id: "n1".into(),
                hostname: "h1".into(),
            }],
            timings(),
            bus,
            restarts.clone(),
        );
        let (tx, rx) = mpsc::channel(8);
        let attached = reg.attach("n1", tx).await.unwrap().unwrap();
        let _worker = answer_all(attached, rx);
        assert!(reg.command("n1", ping()).await.is_ok());
        assert_eq!(status_events(&mut sub).await, vec!["healthy"]);

        assert!(reg.inject_panic("n1").await.unwrap());
        assert!(
            eventually(async || restarts.get(NODE_ACTOR) == 1).await,
            "the registry did not notice the panic"
        );
        assert!(
            eventually(async || reg
                .snapshot("n1")
                .await
                .ok()
                .flatten()
                .is_some_and(|l| l.restarts == 1))
            .await
        );
        let live = reg.snapshot("n1").await.unwrap().unwrap();
        // Its status is carried over and its worker's stream re-attached: commands still work.
        assert_eq!(live.status, NodeStatus::Healthy);
        assert!(live.connected);
        assert!(reg.command("n1", ping()).await.is_ok());
        assert!(status_events(&mut sub).await.is_empty());
        let stats = reg.stats().await.unwrap();
        assert_eq!((stats.nodes, stats.restarts), (1, 1));
    }

    #[actix::test]
    async fn a_removed_node_stops_for_good_and_cuts_its_stream() {
        tokio::time::pause();
        let bus = Broadcaster::start_supervised(64, 64);
        let (mut sub, _) = bus
            .subscribe(TopicFilter::parse(["node.status"]).unwrap(), None)
            .await
            .unwrap();
        let restarts = Restarts::new();
        let reg = NodeRegistry::start(
            vec![NodeSeed {
                id: "n1".into(),
                hostname: "h1".into(),
            }],
            timings(),
            bus,
            restarts.clone(),
        );
        let (tx, rx) = mpsc::channel(8);
        let attached = reg.attach("n1", tx).await.unwrap().unwrap();
        let worker = answer_all(attached, rx);
        assert!(reg.command("n1", ping()).await.is_ok());
        assert_eq!(status_events(&mut sub).await, vec!["healthy"]);

        reg.remove("n1").await.unwrap();
        // The worker's side sees its command stream end, although it still holds its guard.
        let attached = tokio::time::timeout(Duration::from_secs(5), worker)
            .await
            .expect("the command stream did not end")
            .unwrap();
        assert!(reg.snapshot("n1").await.unwrap().is_none());
        assert_eq!(reg.stats().await.unwrap().nodes, 0);
        // Long past stale and offline: no status event, no restart.
        tokio::time::advance(Duration::from_secs(300)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(status_events(&mut sub).await.is_empty());
        assert_eq!(restarts.get(NODE_ACTOR), 0);
        // Results arriving late for the removed node go nowhere and start nothing.
        attached.deliver(CommandResult::default());
        drop(attached);
        assert!(
            !reg.heartbeat("n1", HeartbeatRequest::default())
                .await
                .unwrap()
        );
        assert_eq!(reg.stats().await.unwrap().nodes, 0);
    }
}
