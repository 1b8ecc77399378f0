//! [`NodeActor`]: the live state of one enrolled node.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use contextbay_proto::v1::{
    Command, CommandResult, HeartbeatRequest, MasterMessage, MetricsBatch, StreamClose,
    StreamFrame, command, master_message,
};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::BroadcasterHandle;
use crate::inventory::{InventoryIndex, NodeInventory};

/// Where a node stands. Nothing is ever done to a node's workloads because of its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeStatus {
    /// Not heard from since the master started (within the restart grace period).
    Unknown,
    Healthy,
    /// Missed heartbeats for `stale_after`.
    Stale,
    /// Missed heartbeats for `offline_after` (never before the restart grace period ends).
    Offline,
}

impl NodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Healthy => "healthy",
            Self::Stale => "stale",
            Self::Offline => "offline",
        }
    }
}

/// Thresholds for status changes and commands.
#[derive(Debug, Clone, Copy)]
pub struct NodeTimings {
    pub stale_after: Duration,
    pub offline_after: Duration,
    /// Counted from when the registry started.
    pub restart_grace: Duration,
    pub command_timeout: Duration,
}

/// A copy of a node's live state.
#[derive(Debug, Clone)]
pub struct NodeLive {
    pub id: String,
    pub hostname: String,
    pub status: NodeStatus,
    /// Milliseconds since the last contact, if any since the master started.
    pub since_contact_ms: Option<u64>,
    /// A command stream is attached.
    pub connected: bool,
    pub heartbeat: Option<HeartbeatRequest>,
    pub metrics: Option<Arc<MetricsBatch>>,
    pub restarts: u64,
}

/// Why a command did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandFailure {
    UnknownNode,
    NotConnected,
    Timeout,
    /// The stream closed before the result arrived.
    Disconnected,
    Unavailable(String),
    /// Several masters: the node is owned by master `master` (it holds the worker's stream),
    /// and the command could not be carried out there.
    Owner {
        master: String,
        reason: String,
    },
}

impl std::fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownNode => f.write_str("unknown node"),
            Self::NotConnected => f.write_str("the node's worker is not connected"),
            Self::Timeout => f.write_str("the worker did not answer in time"),
            Self::Disconnected => f.write_str("the worker disconnected before answering"),
            Self::Unavailable(e) => write!(f, "node actor unavailable: {e}"),
            Self::Owner { master, reason } => write!(
                f,
                "the worker is connected to master '{master}', which {reason}"
            ),
        }
    }
}

/// Owns one node's live state: its status, last heartbeat and metrics, its command channel and
/// the replies it waits for. Started and watched by [`crate::NodeRegistry`]: when the actor ends,
/// its `Drop` tells the registry whether it stopped on purpose ([`Shutdown`]) or died (a panic in
/// a handler ends the actor's task and drops it); the registry restarts it only in the second
/// case, with what it carried over ([`Carry`]) and the worker's command stream re-attached.
pub struct NodeActor {
    pub(crate) id: String,
    pub(crate) hostname: String,
    status: NodeStatus,
    last_contact: Option<Instant>,
    /// Several masters: until when another master owns this node (holds its worker's stream and
    /// renews the node's lease); meanwhile its status is not downgraded here.
    remote_until: Option<Instant>,
    registry_started: Instant,
    timings: NodeTimings,
    bus: BroadcasterHandle,
    heartbeat: Option<HeartbeatRequest>,
    metrics: Option<Arc<MetricsBatch>>,
    commands: Option<(u64, mpsc::Sender<MasterMessage>)>,
    pending: HashMap<String, oneshot::Sender<Result<CommandResult, CommandFailure>>>,
    /// Open log/exec streams by stream id (the opening request's id): where their frames go.
    streams: HashMap<String, mpsc::Sender<StreamFrame>>,
    next_request: u64,
    restarts: u64,
    /// Whom to tell when this actor ends, and as which generation of the node's actor.
    exit: Option<(Recipient<ChildExited>, u64)>,
    /// Set by [`Shutdown`]: the end is intended and must not be restarted.
    intended: bool,
    /// The node's Docker inventory (see [`crate::inventory`]), published into `inventory_index`.
    pub(crate) inventory: Arc<NodeInventory>,
    pub(crate) inventory_index: InventoryIndex,
}

/// What a restarted node actor takes over from the one that died.
#[derive(Debug, Clone)]
pub(crate) struct Carry {
    pub hostname: String,
    pub status: NodeStatus,
    pub last_contact: Option<Instant>,
}

/// A node actor ended (sent from its `Drop`).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ChildExited {
    pub id: String,
    pub generation: u64,
    /// `true` after [`Shutdown`]; `false` when the actor died (a panic in a handler).
    pub intended: bool,
    pub carry: Carry,
}

/// Frames buffered per open stream between the worker's command stream and its consumer.
pub const STREAM_BUFFER: usize = 256;

type Reply = oneshot::Receiver<Result<CommandResult, CommandFailure>>;

impl NodeActor {
    pub(crate) fn new(
        id: String,
        hostname: String,
        registry_started: Instant,
        timings: NodeTimings,
        bus: BroadcasterHandle,
        inventory_index: InventoryIndex,
    ) -> Self {
        Self {
            id,
            hostname,
            status: NodeStatus::Unknown,
            last_contact: None,
            remote_until: None,
            registry_started,
            timings,
            bus,
            heartbeat: None,
            metrics: None,
            commands: None,
            pending: HashMap::new(),
            streams: HashMap::new(),
            next_request: 1,
            restarts: 0,
            exit: None,
            intended: false,
            inventory: Arc::default(),
            inventory_index,
        }
    }

    /// Reports its end to `registry` as generation `generation`, after `restarts` restarts.
    pub(crate) fn watched_by(
        mut self,
        registry: Recipient<ChildExited>,
        generation: u64,
        restarts: u64,
    ) -> Self {
        self.exit = Some((registry, generation));
        self.restarts = restarts;
        self
    }

    /// Takes over what a previous actor of this node knew.
    pub(crate) fn carrying(mut self, carry: Carry) -> Self {
        self.hostname = carry.hostname;
        self.status = carry.status;
        self.last_contact = carry.last_contact;
        // The inventory outlives the actor in the shared index: a restart picks it up there.
        if let Some(inventory) = self.inventory_index.get(&self.id) {
            self.inventory = inventory;
        }
        self
    }

    fn set_status(&mut self, status: NodeStatus) {
        if status == self.status {
            return;
        }
        let previous = self.status;
        self.status = status;
        tracing::info!(node = %self.id, from = previous.as_str(), to = status.as_str(), "node status");
        self.bus.emit(
            "node.status",
            serde_json::json!({
                "node_id": self.id,
                "hostname": self.hostname,
                "status": status.as_str(),
                "previous": previous.as_str(),
            }),
        );
    }

    fn contact(&mut self) {
        self.last_contact = Some(Instant::now());
        self.set_status(NodeStatus::Healthy);
    }

    fn evaluate(&mut self) {
        let now = Instant::now();
        // Owned by another master that renews its lease: that master judges the node.
        if self.remote_until.is_some_and(|until| until > now) && !self.connected() {
            return;
        }
        let silent_for = now.duration_since(self.last_contact.unwrap_or(self.registry_started));
        let in_grace = now.duration_since(self.registry_started) < self.timings.restart_grace;
        let next = if silent_for >= self.timings.offline_after && !in_grace {
            NodeStatus::Offline
        } else if silent_for >= self.timings.stale_after {
            NodeStatus::Stale
        } else {
            self.status
        };
        // Only ever downgrade here; upgrades happen on contact.
        if next != self.status && (self.status != NodeStatus::Offline) {
            self.set_status(next);
        }
    }

    fn connected(&self) -> bool {
        self.commands
            .as_ref()
            .is_some_and(|(_, tx)| !tx.is_closed())
    }

    fn snapshot(&self) -> NodeLive {
        NodeLive {
            id: self.id.clone(),
            hostname: self.hostname.clone(),
            status: self.status,
            since_contact_ms: self
                .last_contact
                .map(|t| u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)),
            connected: self
                .commands
                .as_ref()
                .is_some_and(|(_, tx)| !tx.is_closed()),
            heartbeat: self.heartbeat.clone(),
            metrics: self.metrics.clone(),
            restarts: self.restarts,
        }
    }

    fn fail_pending(&mut self, failure: &CommandFailure) {
        for (_, reply) in self.pending.drain() {
            let _ = reply.send(Err(failure.clone()));
        }
        // Dropping the senders ends every open stream's consumer.
        self.streams.clear();
    }

    /// Sends a command down the worker's stream. With `reply`, the result is awaited (and times
    /// out after the command timeout); without, the command is fire-and-forget (stream input).
    fn dispatch(
        &mut self,
        kind: command::Kind,
        reply: bool,
        timeout: Option<Duration>,
        ctx: &mut Context<Self>,
    ) -> Result<(String, Option<Reply>), CommandFailure> {
        let Some((_, tx)) = self.commands.as_ref().filter(|(_, tx)| !tx.is_closed()) else {
            return Err(CommandFailure::NotConnected);
        };
        let request_id = format!("{}-{}", self.id, self.next_request);
        self.next_request += 1;
        let message = MasterMessage {
            message: Some(master_message::Message::Command(Command {
                request_id: request_id.clone(),
                kind: Some(kind),
            })),
        };
        tx.try_send(message)
            .map_err(|_| CommandFailure::NotConnected)?;
        if !reply {
            return Ok((request_id, None));
        }
        let (tx, rx) = oneshot::channel();
        self.pending.insert(request_id.clone(), tx);
        let id = request_id.clone();
        let timeout = timeout.unwrap_or(self.timings.command_timeout);
        ctx.run_later(timeout, move |this, _| {
            if let Some(reply) = this.pending.remove(&id) {
                let _ = reply.send(Err(CommandFailure::Timeout));
            }
        });
        Ok((request_id, Some(rx)))
    }
}

impl Actor for NodeActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(Duration::from_millis(500), |this, _| this.evaluate());
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.fail_pending(&CommandFailure::Disconnected);
    }
}

impl Drop for NodeActor {
    fn drop(&mut self) {
        // Runs on every end: after `stopped` for an intended stop, and when the arbiter drops the
        // actor's task after a panic in a handler (where `stopped` may never run).
        self.fail_pending(&CommandFailure::Disconnected);
        if let Some((registry, generation)) = self.exit.take() {
            registry.do_send(ChildExited {
                id: self.id.clone(),
                generation,
                intended: self.intended,
                carry: Carry {
                    hostname: self.hostname.clone(),
                    status: self.status,
                    last_contact: self.last_contact,
                },
            });
        }
    }
}

/// The worker registered, heartbeated or sent metrics: it is alive.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) enum Contact {
    Register { hostname: String },
    Heartbeat(HeartbeatRequest),
    Metrics(Arc<MetricsBatch>),
    Other,
}

impl Handler<Contact> for NodeActor {
    type Result = ();

    fn handle(&mut self, msg: Contact, _ctx: &mut Self::Context) {
        match msg {
            Contact::Register { hostname } => {
                if !hostname.is_empty() {
                    self.hostname = hostname;
                }
            }
            Contact::Heartbeat(hb) => self.heartbeat = Some(hb),
            Contact::Metrics(m) => self.metrics = Some(m),
            Contact::Other => {}
        }
        self.contact();
    }
}

/// Several masters: another master owns the node (its lease is valid) until `until`. The node is
/// alive as far as this master can tell: its status becomes healthy here without an event (the
/// owner publishes the node's status changes to every master) and is not downgraded before
/// `until`. Ignored while this master holds the worker's stream itself.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct HeldElsewhere {
    pub until: Instant,
}

impl Handler<HeldElsewhere> for NodeActor {
    type Result = ();

    fn handle(&mut self, msg: HeldElsewhere, _ctx: &mut Self::Context) {
        if self.connected() {
            return;
        }
        self.remote_until = Some(msg.until);
        self.last_contact = Some(Instant::now());
        if self.status != NodeStatus::Healthy {
            tracing::debug!(node = %self.id, from = self.status.as_str(), "owned by another master: healthy here");
            self.status = NodeStatus::Healthy;
        }
    }
}

/// Attach the sending half of a worker's command stream. A newer stream replaces an older one.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Attach {
    pub conn: u64,
    pub tx: mpsc::Sender<MasterMessage>,
}

impl Handler<Attach> for NodeActor {
    type Result = ();

    fn handle(&mut self, msg: Attach, _ctx: &mut Self::Context) {
        self.commands = Some((msg.conn, msg.tx));
        self.contact();
    }
}

/// The command stream `conn` ended.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Detach {
    pub conn: u64,
}

impl Handler<Detach> for NodeActor {
    type Result = ();

    fn handle(&mut self, msg: Detach, _ctx: &mut Self::Context) {
        if self.commands.as_ref().is_some_and(|(c, _)| *c == msg.conn) {
            self.commands = None;
            self.fail_pending(&CommandFailure::Disconnected);
        }
    }
}

/// Send a command; the reply is a receiver for its result (awaited outside the actor).
#[derive(Message)]
#[rtype(result = "oneshot::Receiver<Result<CommandResult, CommandFailure>>")]
pub(crate) struct SendCommand {
    pub kind: contextbay_proto::v1::command::Kind,
    /// Instead of the node's command timeout.
    pub timeout: Option<Duration>,
}

impl Handler<SendCommand> for NodeActor {
    type Result = MessageResult<SendCommand>;

    fn handle(&mut self, msg: SendCommand, ctx: &mut Self::Context) -> Self::Result {
        match self.dispatch(msg.kind, true, msg.timeout, ctx) {
            Ok((_, Some(rx))) => MessageResult(rx),
            Ok((_, None)) => MessageResult(failed(CommandFailure::NotConnected)),
            Err(failure) => MessageResult(failed(failure)),
        }
    }
}

fn failed(failure: CommandFailure) -> Reply {
    let (reply, rx) = oneshot::channel();
    let _ = reply.send(Err(failure));
    rx
}

/// Open a log or exec stream: the opening command's result comes back like any command's, and
/// the stream's frames arrive on the returned receiver.
#[derive(Message)]
#[rtype(result = "Result<(String, Reply, mpsc::Receiver<StreamFrame>), CommandFailure>")]
pub(crate) struct OpenStream {
    pub kind: command::Kind,
    /// Instead of the node's command timeout, for the opening command's result.
    pub timeout: Option<Duration>,
}

impl Handler<OpenStream> for NodeActor {
    type Result = MessageResult<OpenStream>;

    fn handle(&mut self, msg: OpenStream, ctx: &mut Self::Context) -> Self::Result {
        MessageResult(
            self.dispatch(msg.kind, true, msg.timeout, ctx)
                .and_then(|(id, rx)| {
                    let rx = rx.ok_or(CommandFailure::NotConnected)?;
                    let (frames_tx, frames_rx) = mpsc::channel(STREAM_BUFFER);
                    self.streams.insert(id.clone(), frames_tx);
                    Ok((id, rx, frames_rx))
                }),
        )
    }
}

/// Where the frames of stream `stream_id` go (`None`: no such open stream).
#[derive(Message)]
#[rtype(result = "Option<mpsc::Sender<StreamFrame>>")]
pub(crate) struct StreamSink {
    pub stream_id: String,
}

impl Handler<StreamSink> for NodeActor {
    type Result = Option<mpsc::Sender<StreamFrame>>;

    fn handle(&mut self, msg: StreamSink, _ctx: &mut Self::Context) -> Self::Result {
        self.streams.get(&msg.stream_id).cloned()
    }
}

/// Input, resize or close for an open stream (fire-and-forget: the worker does not answer).
/// A close, or a stream the worker ended, forgets the stream.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) enum StreamControl {
    Send(command::Kind),
    Close {
        stream_id: String,
        tell_worker: bool,
    },
}

impl Handler<StreamControl> for NodeActor {
    type Result = ();

    fn handle(&mut self, msg: StreamControl, ctx: &mut Self::Context) {
        match msg {
            StreamControl::Send(kind) => {
                let _ = self.dispatch(kind, false, None, ctx);
            }
            StreamControl::Close {
                stream_id,
                tell_worker,
            } => {
                if self.streams.remove(&stream_id).is_some() && tell_worker {
                    let _ = self.dispatch(
                        command::Kind::StreamClose(StreamClose { stream_id }),
                        false,
                        None,
                        ctx,
                    );
                }
            }
        }
    }
}

/// A result arrived on the command stream.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Deliver {
    pub result: CommandResult,
}

impl Handler<Deliver> for NodeActor {
    type Result = ();

    fn handle(&mut self, msg: Deliver, _ctx: &mut Self::Context) {
        self.contact();
        match self.pending.remove(&msg.result.request_id) {
            Some(reply) => {
                let _ = reply.send(Ok(msg.result));
            }
            None => {
                tracing::debug!(node = %self.id, request = %msg.result.request_id, "late or unknown command result")
            }
        }
    }
}

#[derive(Message)]
#[rtype(result = "NodeLive")]
pub(crate) struct Snapshot;

impl Handler<Snapshot> for NodeActor {
    type Result = MessageResult<Snapshot>;

    fn handle(&mut self, _msg: Snapshot, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.snapshot())
    }
}

/// Drop the command channel and stop (the node was removed): the worker's stream ends.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown;

impl Handler<Shutdown> for NodeActor {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Self::Context) {
        self.intended = true;
        self.commands = None;
        self.fail_pending(&CommandFailure::Disconnected);
        ctx.stop();
    }
}

/// Test-only: panic inside a handler, as a bug would.
#[cfg(any(test, feature = "fault-injection"))]
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct InjectPanic;

#[cfg(any(test, feature = "fault-injection"))]
impl Handler<InjectPanic> for NodeActor {
    type Result = ();

    #[allow(clippy::panic)]
    fn handle(&mut self, _msg: InjectPanic, _ctx: &mut Self::Context) {
        panic!("injected fault in node actor {}", self.id);
    }
}
