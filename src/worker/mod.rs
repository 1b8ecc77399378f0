//! The worker agent (`contextbay worker`): runs on every Docker host, enrolls once, then keeps a
//! gRPC connection to the master for as long as it runs.
//!
//! Pieces and who owns what:
//! - [`config`]: the layered [`WorkerConfig`].
//! - [`enroll`]: `POST /api/enroll` and the stored [`enroll::NodeCredential`].
//! - [`telemetry`]: two long-lived tasks independent of the connection: the metrics collector
//!   (publishes the latest [`MetricsBatch`](contextbay_proto::v1::MetricsBatch) on a `watch`
//!   channel) and the Docker event watcher (sends events into a bounded `mpsc`).
//! - [`session`]: one connection to the master: register, heartbeats, metrics, event flushes,
//!   and the command stream served by [`commands`].
//! - The connection loop in [`run`] owns the [`event_ring::EventRing`], so buffered events
//!   survive reconnects; between sessions it waits with [`backoff::Backoff`] while still
//!   buffering events.

mod archive;
pub mod backoff;
pub mod census;
pub mod commands;
pub mod config;
pub mod enroll;
pub mod event_ring;
pub mod host_metrics;
pub mod pinned_tls;
pub mod procfs;
pub mod session;
pub mod streams;
pub mod telemetry;

#[cfg(test)]
mod agent_tests;

#[cfg(test)]
mod turn_tests {
    use super::MasterTurn;

    #[test]
    fn one_master_waits_before_every_attempt() {
        let mut t = MasterTurn::new(1);
        assert!(t.next(false));
        assert!(t.next(true));
        assert_eq!(t.current(), 0);
    }

    #[test]
    fn several_masters_are_tried_in_turn_and_a_full_round_of_failures_waits() {
        let mut t = MasterTurn::new(3);
        // 0 fails, 1 fails at once, 2 fails: a round is complete, wait, then 0 again.
        assert!(!t.next(false));
        assert_eq!(t.current(), 1);
        assert!(!t.next(false));
        assert_eq!(t.current(), 2);
        assert!(t.next(false));
        assert_eq!(t.current(), 0);
        // 0 registers then drops: short wait, then 1; the new round starts at 1.
        assert!(t.next(true));
        assert_eq!(t.current(), 1);
        assert!(!t.next(false));
        assert!(!t.next(false));
        assert!(t.next(false));
        assert_eq!(t.current(), 1);
    }
}

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use contextbay_proto::v1::{Event, EventKind};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::Instrument as _;

pub use config::{WorkerConfig, WorkerOverrides};

use backoff::Backoff;
use enroll::NodeCredential;
use event_ring::EventRing;
use session::{Session, SessionContext};

/// The worker's version, reported at enrollment and registration.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Events waiting between the Docker watcher and the connection loop before the watcher waits.
const EVENT_CHANNEL: usize = 1024;

pub fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Enrolls if needed, then runs the agent until the process is stopped. Returns only on a
/// configuration or enrollment error: a lost master is retried forever.
pub async fn run(config: WorkerConfig) -> anyhow::Result<()> {
    let started_at = tokio::time::Instant::now();
    config.validate()?;
    let hostname = if config.hostname.is_empty() {
        procfs::hostname()
    } else {
        config.hostname.clone()
    };
    let credential = match NodeCredential::load(&config.credential_path())? {
        Some(c) => {
            tracing::info!(node_id = %c.node_id, "using the stored node credential");
            c
        }
        None => enroll::enroll(&config, &hostname).await?,
    };
    let masters = config.resolve_masters(credential.grpc_url.as_deref())?;
    if masters.is_empty() {
        anyhow::bail!("no master to connect to: set worker.master_url or worker.grpc_url");
    }
    let grpc_urls: Vec<&str> = masters.iter().map(|m| m.grpc.as_str()).collect();
    tracing::info!(masters = ?grpc_urls, node_id = %credential.node_id, "worker starting");

    let mut tasks = JoinSet::new();
    let (interval_tx, interval_rx) = watch::channel(config.heartbeat_interval());
    let (metrics_tx, metrics_rx) = watch::channel(None);
    let (events_tx, mut events_rx) = mpsc::channel(EVENT_CHANNEL);
    tasks.spawn(
        telemetry::collect_metrics(config.docker_socket.clone(), interval_rx, metrics_tx)
            .instrument(tracing::info_span!("metrics")),
    );
    tasks.spawn(
        telemetry::watch_docker_events(config.docker_socket.clone(), events_tx)
            .instrument(tracing::info_span!("docker_events")),
    );

    // Seqs start at the current time in microseconds, so a restarted worker (whose buffer was in
    // memory) still numbers above everything it sent before; the master can raise the floor
    // further at registration.
    let first_seq = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_micros() as u64);
    let mut ring = EventRing::new(config.event_buffer, first_seq);
    ring.push(agent_event("started", [("agent_version", AGENT_VERSION)]));

    let ctx = Arc::new(SessionContext {
        masters,
        pinned: config.pinned_certificate(),
        credential,
        hostname,
        docker_socket: config.docker_socket.clone(),
        data_dir: config.data_dir.clone(),
        interval_tx,
        started_at,
    });
    let mut backoff = Backoff::new(
        Duration::from_millis(config.reconnect_min_ms),
        Duration::from_millis(config.reconnect_max_ms),
    );
    let mut metrics_rx = metrics_rx;
    let mut heartbeat_seq = 0;
    let mut turn = MasterTurn::new(ctx.masters.len());
    loop {
        let master = &ctx.masters[turn.current()];
        let end = Session::new(
            &ctx,
            master,
            &mut ring,
            &mut events_rx,
            &mut metrics_rx,
            &mut heartbeat_seq,
        )
        .run()
        .instrument(tracing::info_span!("session", master = %master.grpc))
        .await;
        ring.resend_all();
        if end.registered {
            backoff.reset();
        }
        let wait = turn.next(end.registered);
        let delay = if wait {
            backoff.next_delay(&mut rand::rng())
        } else {
            Duration::ZERO
        };
        let next = &ctx.masters[turn.current()].grpc;
        // Quiet after the first few failures: one line per attempt at most, and debug level
        // once the masters have been away for a while.
        if backoff.attempts() <= 3 {
            tracing::warn!(error = %end.reason, master = %master.grpc, next_master = %next, retry_in_ms = delay.as_millis() as u64, "disconnected from the master");
        } else {
            tracing::debug!(error = %end.reason, master = %master.grpc, next_master = %next, retry_in_ms = delay.as_millis() as u64, "master still unreachable");
        }
        buffer_while_waiting(delay, &mut ring, &mut events_rx).await;
    }
}

/// Which master to dial next: round-robin, moving on after every session, whether it failed to
/// connect or dropped after registering. The backoff delay is taken once every master of a
/// round has failed, and after every session that had registered (so a master that accepts and
/// drops at once is not dialed in a tight loop); within a round the next master is dialed at
/// once. With a single master this is the old behaviour: a backoff delay before every attempt.
#[derive(Debug, Clone)]
struct MasterTurn {
    count: usize,
    current: usize,
    /// The master the current round of failures started with.
    round_start: usize,
}

impl MasterTurn {
    fn new(count: usize) -> Self {
        Self {
            count: count.max(1),
            current: 0,
            round_start: 0,
        }
    }

    fn current(&self) -> usize {
        self.current
    }

    /// Moves to the next master after a session; true when the backoff delay is due first.
    fn next(&mut self, registered: bool) -> bool {
        self.current = (self.current + 1) % self.count;
        if registered {
            self.round_start = self.current;
            return true;
        }
        self.current == self.round_start
    }
}

/// Sleeps for `delay` while moving new events into the ring, so the Docker watcher never stalls.
async fn buffer_while_waiting(
    delay: Duration,
    ring: &mut EventRing,
    events_rx: &mut mpsc::Receiver<Event>,
) {
    let sleep = tokio::time::sleep(delay);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            () = &mut sleep => return,
            event = events_rx.recv() => match event {
                Some(e) => { ring.push(e); }
                // The watcher has stopped; nothing more to buffer.
                None => { sleep.as_mut().await; return; }
            },
        }
    }
}

/// An event about the agent itself.
pub fn agent_event<const N: usize>(action: &str, attributes: [(&str, &str); N]) -> Event {
    Event {
        seq: 0,
        kind: EventKind::Agent as i32,
        r#type: "agent".into(),
        action: action.into(),
        actor_id: String::new(),
        attributes: attributes
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<HashMap<_, _>>(),
        time_unix_ms: now_unix_ms(),
    }
}
