//! The worker's two long-lived collectors. Both run for the life of the process, connected to
//! the master or not, and reconnect to Docker on their own.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use contextbay_proto::v1::{ContainerCounts, ContainerSample, Event, EventKind, MetricsBatch};
use futures_util::StreamExt as _;
use tokio::sync::{mpsc, watch};

use super::backoff::Backoff;
use super::host_metrics::HostSampler;
use crate::docker::{ContainerState, ContainerStats, DockerEvent, Engine};

/// Container stats calls in flight at once.
const STATS_CONCURRENCY: usize = 8;
const STATS_TIMEOUT: Duration = Duration::from_secs(5);
/// Delay before the first sample, so a fresh connection gets metrics soon.
const FIRST_SAMPLE_AFTER: Duration = Duration::from_secs(1);

/// The latest metrics, shared by the collector (writer) and the session (reader).
pub type LatestMetrics = Option<Arc<MetricsBatch>>;

/// Samples the host and its running containers every interval (read from `interval` each time,
/// so the master can change it) and publishes the batch as the latest value of `out`.
/// `node_id` is left empty: the session fills it in. Ends when nobody listens any more.
pub async fn collect_metrics(
    docker_socket: PathBuf,
    interval: watch::Receiver<Duration>,
    out: watch::Sender<LatestMetrics>,
) {
    let mut sampler = match tokio::task::spawn_blocking(HostSampler::new).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the host sampler");
            return;
        }
    };
    let mut docker = DockerSampler::new(docker_socket);
    let mut wait = FIRST_SAMPLE_AFTER.min(*interval.borrow());
    loop {
        tokio::time::sleep(wait).await;
        wait = *interval.borrow();
        let (returned, host) = match tokio::task::spawn_blocking(move || {
            let host = sampler.sample();
            (sampler, host)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "host sampling failed");
                return;
            }
        };
        sampler = returned;
        let (docker_available, counts, containers) = docker.sample().await;
        let batch = MetricsBatch {
            node_id: String::new(),
            time_unix_ms: super::now_unix_ms(),
            host: Some(host),
            containers,
            docker_available,
            container_counts: Some(counts),
        };
        if out.send(Some(Arc::new(batch))).is_err() {
            return;
        }
    }
}

/// Per-container samples from the local engine, remembering the previous counters of each
/// container so CPU shares cover the whole interval.
struct DockerSampler {
    socket: PathBuf,
    engine: Option<Engine>,
    previous: HashMap<String, ContainerStats>,
    was_available: Option<bool>,
}

impl DockerSampler {
    fn new(socket: PathBuf) -> Self {
        Self {
            socket,
            engine: None,
            previous: HashMap::new(),
            was_available: None,
        }
    }

    async fn sample(&mut self) -> (bool, ContainerCounts, Vec<ContainerSample>) {
        let result = self.try_sample().await;
        let available = result.is_some();
        if self.was_available != Some(available) {
            if available {
                tracing::info!(socket = %self.socket.display(), "docker engine answers; container metrics on");
            } else {
                tracing::info!(socket = %self.socket.display(), "no docker engine; metrics without containers");
            }
            self.was_available = Some(available);
        }
        let (counts, samples) = result.unwrap_or_default();
        (available, counts, samples)
    }

    async fn try_sample(&mut self) -> Option<(ContainerCounts, Vec<ContainerSample>)> {
        if self.engine.is_none() {
            self.engine = Engine::connect(&self.socket).ok();
        }
        let engine = self.engine.clone()?;
        let list = match engine.list_containers().await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(error = %e, "listing containers failed");
                self.engine = None;
                self.previous.clear();
                return None;
            }
        };
        let mut counts = ContainerCounts {
            total: list.len() as u32,
            ..Default::default()
        };
        for c in &list {
            match c.state {
                ContainerState::Running | ContainerState::Restarting => counts.running += 1,
                ContainerState::Paused => counts.paused += 1,
                _ => counts.stopped += 1,
            }
        }
        let running: Vec<_> = list
            .into_iter()
            .filter(|c| c.state == ContainerState::Running)
            .collect();
        let stats: Vec<ContainerStats> = futures_util::stream::iter(running)
            .map(|c| {
                let engine = engine.clone();
                async move {
                    match tokio::time::timeout(STATS_TIMEOUT, engine.stats_once(&c.id)).await {
                        Ok(Ok(mut s)) => {
                            if s.name.is_empty() {
                                s.name = c.name;
                            }
                            Some(s)
                        }
                        // A container that stopped between list and stats, or a slow engine.
                        _ => None,
                    }
                }
            })
            .buffer_unordered(STATS_CONCURRENCY)
            .filter_map(|s| async move { s })
            .collect()
            .await;
        let samples = stats
            .iter()
            .map(|s| ContainerSample {
                id: s.id.clone(),
                name: s.name.clone(),
                cpu_percent: self
                    .previous
                    .get(&s.id)
                    .map_or(s.cpu_percent, |prev| s.cpu_percent_since(prev)),
                memory_used_bytes: s.memory_used_bytes,
                memory_limit_bytes: s.memory_limit_bytes,
                network_rx_bytes: s.io.network_rx_bytes,
                network_tx_bytes: s.io.network_tx_bytes,
                block_read_bytes: s.io.block_read_bytes,
                block_write_bytes: s.io.block_write_bytes,
            })
            .collect();
        self.previous = stats.into_iter().map(|s| (s.id.clone(), s)).collect();
        Some((counts, samples))
    }
}

/// Follows the local engine's event stream and sends each event (seq unassigned) to `out`.
/// Reconnects with backoff when the engine is absent or goes away, and reports those
/// transitions as agent events. Ends when `out` is closed.
pub async fn watch_docker_events(docker_socket: PathBuf, out: mpsc::Sender<Event>) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    let mut connected_before = false;
    loop {
        if let Ok(engine) = Engine::connect(&docker_socket)
            && engine.version().await.is_ok()
        {
            backoff.reset();
            let action = if connected_before {
                "docker_reconnected"
            } else {
                "docker_connected"
            };
            connected_before = true;
            tracing::info!("following docker events");
            if out
                .send(super::agent_event(
                    action,
                    [("socket", &*docker_socket.to_string_lossy())],
                ))
                .await
                .is_err()
            {
                return;
            }
            let mut events = std::pin::pin!(engine.events());
            let reason = loop {
                match events.next().await {
                    Some(Ok(e)) => {
                        if out.send(docker_event(e)).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(e)) => break e.to_string(),
                    None => break "event stream ended".to_owned(),
                }
            };
            tracing::warn!(%reason, "lost the docker event stream");
            if out
                .send(super::agent_event(
                    "docker_lost",
                    [("reason", reason.as_str())],
                ))
                .await
                .is_err()
            {
                return;
            }
        }
        let delay = backoff.next_delay(&mut rand::rng());
        tokio::time::sleep(delay).await;
        if out.is_closed() {
            return;
        }
    }
}

fn docker_event(e: DockerEvent) -> Event {
    Event {
        seq: 0,
        kind: EventKind::Docker as i32,
        r#type: e.typ,
        action: e.action,
        actor_id: e.actor_id,
        attributes: e.attributes,
        time_unix_ms: e.time_unix_ms,
    }
}
