//! [`NodeActor`]: the live state of one enrolled node.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use contextbay_proto::v1::{
    Command, CommandResult, HeartbeatRequest, MasterMessage, MetricsBatch, master_message,
};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::BroadcasterHandle;

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
}

impl std::fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownNode => f.write_str("unknown node"),
            Self::NotConnected => f.write_str("the node's worker is not connected"),
            Self::Timeout => f.write_str("the worker did not answer in time"),
            Self::Disconnected => f.write_str("the worker disconnected before answering"),
            Self::Unavailable(e) => write!(f, "node actor unavailable: {e}"),
        }
    }
}

/// Owns one node's live state: its status, last heartbeat and metrics, its command channel and
/// the replies it waits for. Started by [`crate::NodeRegistry`]; on restart (supervised) the
/// value is kept, so the command channel and pending replies survive.
pub struct NodeActor {
    pub(crate) id: String,
    pub(crate) hostname: String,
    status: NodeStatus,
    last_contact: Option<Instant>,
    registry_started: Instant,
    timings: NodeTimings,
    bus: BroadcasterHandle,
    heartbeat: Option<HeartbeatRequest>,
    metrics: Option<Arc<MetricsBatch>>,
    commands: Option<(u64, mpsc::Sender<MasterMessage>)>,
    pending: HashMap<String, oneshot::Sender<Result<CommandResult, CommandFailure>>>,
    next_request: u64,
    restarts: u64,
}

impl NodeActor {
    pub(crate) fn new(
        id: String,
        hostname: String,
        registry_started: Instant,
        timings: NodeTimings,
        bus: BroadcasterHandle,
    ) -> Self {
        Self {
            id,
            hostname,
            status: NodeStatus::Unknown,
            last_contact: None,
            registry_started,
            timings,
            bus,
            heartbeat: None,
            metrics: None,
            commands: None,
            pending: HashMap::new(),
            next_request: 1,
            restarts: 0,
        }
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

impl Supervised for NodeActor {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.restarts += 1;
        tracing::warn!(node = %self.id, restarts = self.restarts, "node actor restarting");
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
}

impl Handler<SendCommand> for NodeActor {
    type Result = MessageResult<SendCommand>;

    fn handle(&mut self, msg: SendCommand, ctx: &mut Self::Context) -> Self::Result {
        let (reply, rx) = oneshot::channel();
        let Some((_, tx)) = self.commands.as_ref().filter(|(_, tx)| !tx.is_closed()) else {
            let _ = reply.send(Err(CommandFailure::NotConnected));
            return MessageResult(rx);
        };
        let request_id = format!("{}-{}", self.id, self.next_request);
        self.next_request += 1;
        let message = MasterMessage {
            message: Some(master_message::Message::Command(Command {
                request_id: request_id.clone(),
                kind: Some(msg.kind),
            })),
        };
        if tx.try_send(message).is_err() {
            let _ = reply.send(Err(CommandFailure::NotConnected));
            return MessageResult(rx);
        }
        self.pending.insert(request_id.clone(), reply);
        ctx.run_later(self.timings.command_timeout, move |this, _| {
            if let Some(reply) = this.pending.remove(&request_id) {
                let _ = reply.send(Err(CommandFailure::Timeout));
            }
        });
        MessageResult(rx)
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
        self.commands = None;
        self.fail_pending(&CommandFailure::Disconnected);
        ctx.stop();
    }
}
