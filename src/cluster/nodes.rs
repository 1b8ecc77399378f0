//! Several masters: node ownership and command routing (`docs/ha.md`, "Nodes across masters").
//!
//! A node is owned by the master that holds its worker's command stream: that master takes the
//! node's lease in the store (`node_leases`) when the stream attaches, renews it with every
//! heartbeat and releases it on a clean disconnect. Every master reads the leases every third of
//! `cluster.node_lease_secs` and tells its node registry which nodes another master owns, so a
//! node whose worker is on another master is not marked stale or offline here.
//!
//! A command for a node this master has no stream with is sent to the owner over NATS
//! request/reply on `contextbay.master.<owner>.cmd`: headers `Cb-Node` (the node id) and
//! `Cb-Timeout-Ms` (the command's own timeout), the body the protobuf `Command` (its `kind`). The
//! owner runs it through its own registry (never routing it on) and answers with the protobuf
//! `CommandResult`, or with a `Cb-Error` header (`unknown_node`, `not_connected`, `timeout`,
//! `disconnected`, `unavailable`, `invalid`) and the reason as the body. No responder (the owner
//! is gone, its lease not yet expired), no answer within the timeout, or NATS down: the command
//! fails with a reason naming the owner, which the HTTP layer answers as 503.

use std::time::Duration;

use async_nats::HeaderMap;
use contextbay_actors::{CommandFailure, PendingResult, RemoteStream};
use contextbay_proto::v1::{Command, CommandResult, command};
use futures_util::StreamExt;
use prost::Message as _;

use super::Cluster;
use crate::state::AppState;
use crate::store::now_ms;

pub(super) const NODE_HEADER: &str = "Cb-Node";
pub(super) const TIMEOUT_HEADER: &str = "Cb-Timeout-Ms";
pub(super) const ERROR_HEADER: &str = "Cb-Error";
/// Added to a routed command's own timeout for the trip over NATS and back.
pub(super) const ROUTE_MARGIN: Duration = Duration::from_secs(2);

/// The `Cb-Error` code of a failure on the owner.
pub(super) fn failure_code(failure: &CommandFailure) -> &'static str {
    match failure {
        CommandFailure::UnknownNode => "unknown_node",
        CommandFailure::NotConnected => "not_connected",
        CommandFailure::Timeout => "timeout",
        CommandFailure::Disconnected => "disconnected",
        CommandFailure::Unavailable(_) | CommandFailure::Owner { .. } => "unavailable",
    }
}

/// The failure a `Cb-Error` code from owner `owner` stands for.
pub(super) fn failure_from(code: &str, reason: String, owner: &str) -> CommandFailure {
    let failed = |reason: String| CommandFailure::Owner {
        master: owner.to_owned(),
        reason,
    };
    match code {
        "unknown_node" => CommandFailure::UnknownNode,
        "timeout" => CommandFailure::Timeout,
        "disconnected" => CommandFailure::Disconnected,
        "not_connected" => failed("no longer holds its stream".into()),
        _ => failed(format!("refused the command: {reason}")),
    }
}

/// `contextbay.master.<id>.cmd`: where master `id` takes commands for its nodes.
fn command_subject(master: &str) -> String {
    format!("contextbay.master.{master}.cmd")
}

fn lease_ms(state: &AppState) -> i64 {
    i64::try_from(state.config.cluster.node_lease_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 4)
}

/// Takes or renews node `node`'s lease for this master (a cluster only). `false` while another
/// master holds it; store errors are logged and count as not held.
pub async fn renew_lease(state: &AppState, node: &str) -> bool {
    let Some(cluster) = &state.cluster else {
        return true;
    };
    match state
        .store
        .node_leases()
        .take(node, cluster.master_id(), now_ms(), lease_ms(state))
        .await
    {
        Ok(held) => {
            if !held {
                tracing::debug!(%node, "the node's lease is held by another master");
            }
            held
        }
        Err(err) => {
            tracing::warn!(%node, %err, "renewing the node's lease");
            false
        }
    }
}

/// The worker's command stream with this master ended: give the lease up unless the worker has
/// opened another stream with this master meanwhile.
pub async fn release_lease(state: &AppState, node: &str) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    if let Ok(Some(live)) = state.nodes.snapshot(node).await
        && live.connected
    {
        return;
    }
    if let Err(err) = state
        .store
        .node_leases()
        .release(node, cluster.master_id())
        .await
    {
        tracing::warn!(%node, %err, "releasing the node's lease");
    }
}

/// In a cluster, the other master that owns node `node` when this one does not hold its
/// worker's stream; `None` to use this master's own registry.
async fn elsewhere<'a>(state: &'a AppState, node: &str) -> Option<(&'a Cluster, String)> {
    let cluster = state.cluster.as_ref()?;
    if matches!(state.nodes.snapshot(node).await, Ok(Some(live)) if live.connected) {
        return None;
    }
    match state.store.node_leases().owner(node, now_ms()).await {
        Ok(Some(owner)) if owner != cluster.master_id() => Some((cluster, owner)),
        Ok(_) => None,
        Err(err) => {
            tracing::warn!(%node, %err, "looking up the node's owner");
            None
        }
    }
}

fn command_timeout(state: &AppState, timeout: Option<Duration>) -> Duration {
    timeout.unwrap_or(Duration::from_secs(state.config.fleet.command_timeout_secs))
}

/// Sends a command to node `node` — down its worker's stream when this master holds it, else to
/// the master that owns the node — and waits for its result.
pub async fn command(
    state: &AppState,
    node: &str,
    kind: command::Kind,
    timeout: Option<Duration>,
) -> Result<CommandResult, CommandFailure> {
    if let Some((cluster, owner)) = elsewhere(state, node).await {
        return cluster
            .route(&owner, node, kind, command_timeout(state, timeout))
            .await;
    }
    state.nodes.command_within(node, kind, timeout).await
}

/// Opens a log, exec or compose stream on node `node` (here or through its owner) and returns at
/// once: the opening command's result is awaited separately.
pub async fn start_stream(
    state: &AppState,
    node: &str,
    kind: command::Kind,
    timeout: Option<Duration>,
) -> Result<(PendingResult, RemoteStream), CommandFailure> {
    if let Some((cluster, owner)) = elsewhere(state, node).await {
        return cluster
            .route_stream(&owner, node, kind, command_timeout(state, timeout))
            .await;
    }
    state.nodes.start_stream(node, kind, timeout).await
}

/// [`start_stream`], waiting for the opening command's result.
pub async fn open_stream(
    state: &AppState,
    node: &str,
    kind: command::Kind,
) -> Result<(CommandResult, RemoteStream), CommandFailure> {
    let (pending, stream) = start_stream(state, node, kind, None).await?;
    Ok((pending.wait().await?, stream))
}

/// Whether node `node`'s worker can be reached from this master: its stream is here, or (in a
/// cluster) another master owns the node.
pub async fn reachable(state: &AppState, node: &str) -> Result<(), String> {
    match state.nodes.snapshot(node).await {
        Ok(Some(live)) if live.connected => return Ok(()),
        Ok(_) => {}
        Err(err) => return Err(err.to_string()),
    }
    if let Some(cluster) = &state.cluster
        && let Ok(Some(owner)) = state.store.node_leases().owner(node, now_ms()).await
        && owner != cluster.master_id()
    {
        return Ok(());
    }
    Err("the node's worker is not connected".into())
}

impl Cluster {
    /// Sends a command for node `node` to its owner `owner` and waits for the result.
    async fn route(
        &self,
        owner: &str,
        node: &str,
        kind: command::Kind,
        timeout: Duration,
    ) -> Result<CommandResult, CommandFailure> {
        let failed = |reason: String| CommandFailure::Owner {
            master: owner.to_owned(),
            reason,
        };
        if self.inner.client.connection_state() != async_nats::connection::State::Connected {
            return Err(failed("cannot be reached: NATS is not connected".into()));
        }
        let mut headers = HeaderMap::new();
        headers.insert(NODE_HEADER, node);
        headers.insert(
            TIMEOUT_HEADER,
            u64::try_from(timeout.as_millis())
                .unwrap_or(u64::MAX)
                .to_string()
                .as_str(),
        );
        let body = Command {
            request_id: String::new(),
            kind: Some(kind),
        }
        .encode_to_vec();
        let request = async_nats::Request::new()
            .headers(headers)
            .payload(body.into())
            .timeout(Some(timeout + ROUTE_MARGIN));
        let reply = match self
            .inner
            .client
            .send_request(command_subject(owner), request)
            .await
        {
            Ok(reply) => reply,
            Err(err) => {
                return Err(match err.kind() {
                    async_nats::RequestErrorKind::NoResponders => {
                        failed("does not answer (gone, its lease not yet expired)".into())
                    }
                    async_nats::RequestErrorKind::TimedOut => failed(format!(
                        "did not answer within {} ms",
                        (timeout + ROUTE_MARGIN).as_millis()
                    )),
                    _ => failed(format!("cannot be reached: {err}")),
                });
            }
        };
        if let Some(code) = reply.headers.as_ref().and_then(|h| h.get(ERROR_HEADER)) {
            let reason = String::from_utf8_lossy(&reply.payload).into_owned();
            return Err(failure_from(code.as_str(), reason, owner));
        }
        CommandResult::decode(reply.payload.as_ref())
            .map_err(|err| failed(format!("sent an undecodable result: {err}")))
    }

    /// Starts this master's side of node ownership: it answers commands routed to it and follows
    /// which nodes the other masters own.
    pub async fn serve_nodes(&self, state: AppState) -> anyhow::Result<()> {
        use anyhow::Context as _;
        let incoming = self
            .inner
            .client
            .subscribe(command_subject(self.master_id()))
            .await
            .context("subscribing to routed commands")?;
        let serve = tokio::spawn(serve_commands(
            self.inner.client.clone(),
            state.clone(),
            incoming,
        ));
        let streams = self
            .inner
            .client
            .subscribe(super::streams::open_subject(self.master_id()))
            .await
            .context("subscribing to routed streams")?;
        let relay = tokio::spawn(super::streams::serve_streams(
            self.inner.client.clone(),
            state.clone(),
            streams,
        ));
        let follow = tokio::spawn(follow_leases(state));
        if let Ok(mut tasks) = self.inner.tasks.lock() {
            tasks.extend([serve, relay, follow]);
        }
        Ok(())
    }
}

/// Runs every command routed to this master through its own registry and answers it.
async fn serve_commands(
    client: async_nats::Client,
    state: AppState,
    mut incoming: async_nats::Subscriber,
) {
    while let Some(message) = incoming.next().await {
        let client = client.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Some(reply_to) = message.reply.clone() else {
                return;
            };
            let (headers, body) = match run_routed(&state, &message).await {
                Ok(result) => (HeaderMap::new(), result.encode_to_vec()),
                Err((code, reason)) => {
                    let mut h = HeaderMap::new();
                    h.insert(ERROR_HEADER, code);
                    (h, reason.into_bytes())
                }
            };
            if let Err(err) = client
                .publish_with_headers(reply_to, headers, body.into())
                .await
            {
                tracing::warn!(%err, "answering a routed command");
            }
        });
    }
}

async fn run_routed(
    state: &AppState,
    message: &async_nats::Message,
) -> Result<CommandResult, (&'static str, String)> {
    let header = |name: &str| {
        message
            .headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_owned())
    };
    let node = header(NODE_HEADER).ok_or(("invalid", format!("no {NODE_HEADER} header")))?;
    let timeout = header(TIMEOUT_HEADER)
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| (1..=24 * 3_600_000).contains(t))
        .map(Duration::from_millis);
    let kind = Command::decode(message.payload.as_ref())
        .map_err(|err| ("invalid", format!("undecodable command: {err}")))?
        .kind
        .ok_or(("invalid", "a command without a kind".to_owned()))?;
    tracing::debug!(%node, "running a command routed from another master");
    state
        .nodes
        .command_within(&node, kind, timeout)
        .await
        .map_err(|failure| (failure_code(&failure), failure.to_string()))
}

/// Every third of the lease period: which nodes other masters own, told to the node registry.
async fn follow_leases(state: AppState) {
    let Some(cluster) = state.cluster.clone() else {
        return;
    };
    let period = Duration::from_millis((state.config.cluster.node_lease_secs * 1000 / 3).max(500));
    loop {
        let now = now_ms();
        match state.store.node_leases().held(now).await {
            Ok(leases) => {
                let at = tokio::time::Instant::now();
                for lease in leases
                    .into_iter()
                    .filter(|l| l.master_id != cluster.master_id())
                {
                    let left = u64::try_from(lease.expires_at - now).unwrap_or(0);
                    let until = at + Duration::from_millis(left);
                    if let Err(err) = follow(&state, &lease.node_id, until).await {
                        tracing::warn!(node = %lease.node_id, %err, "following a node's owner");
                    }
                }
            }
            Err(err) => tracing::warn!(%err, "reading node leases"),
        }
        tokio::time::sleep(period).await;
    }
}

/// Tells the registry that node `node` is owned elsewhere until `until`; a node enrolled
/// through another master since this one started is added to the registry first.
async fn follow(state: &AppState, node: &str, until: tokio::time::Instant) -> anyhow::Result<()> {
    if state.nodes.held_elsewhere(node, until).await? {
        return Ok(());
    }
    let host = match state.store.hosts().get(node).await {
        Ok(host) => host,
        Err(crate::store::StoreError::NotFound(_)) => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    if !host.enrolled {
        return Ok(());
    }
    state
        .nodes
        .add(contextbay_actors::NodeSeed {
            hostname: host.hostname.unwrap_or(host.name),
            id: host.id,
        })
        .await?;
    state.nodes.held_elsewhere(node, until).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_master_has_its_own_command_subject() {
        assert_eq!(
            super::command_subject("master-a"),
            "contextbay.master.master-a.cmd"
        );
    }
}
