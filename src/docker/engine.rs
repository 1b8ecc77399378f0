//! [`Engine`]: a small client for one local Docker engine, used by the worker agent for its
//! version, info, container list, one-shot container stats and the event stream.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerStatsResponse, ContainerSummaryStateEnum, EventMessage, EventMessageTypeEnum,
};
use bollard::query_parameters::{EventsOptions, ListContainersOptions, StatsOptions};
use futures_util::{Stream, StreamExt};

/// Seconds bollard waits for an answer to one request.
const REQUEST_TIMEOUT_SECS: u64 = 30;

/// Why a call to the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// No engine at the configured socket (not installed, not running, no permission).
    #[error("docker engine unavailable: {0}")]
    Unavailable(String),
    /// The engine answered with an error status.
    #[error("docker engine answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("docker: {0}")]
    Other(String),
}

impl DockerError {
    /// The HTTP status the engine answered, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            DockerError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<bollard::errors::Error> for DockerError {
    fn from(err: bollard::errors::Error) -> Self {
        use bollard::errors::Error as E;
        match err {
            E::DockerResponseServerError {
                status_code,
                message,
            } => DockerError::Api {
                status: status_code,
                message,
            },
            E::SocketNotFoundError(path) => {
                DockerError::Unavailable(format!("no socket at {path}"))
            }
            E::HyperResponseError { .. }
            | E::HyperLegacyError { .. }
            | E::IOError { .. }
            | E::RequestTimeoutError => DockerError::Unavailable(err.to_string()),
            other => DockerError::Other(other.to_string()),
        }
    }
}

/// Engine and API version.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineVersion {
    pub version: String,
    pub api_version: String,
    pub os: String,
    pub arch: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Exited,
    Removing,
    Dead,
    Unknown,
}

/// One container as the list shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ContainerSummary {
    pub id: String,
    /// First name, without the leading slash.
    pub name: String,
    pub image: String,
    pub state: ContainerState,
}

/// CPU and memory of one container, from a one-shot stats call.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ContainerStats {
    pub id: String,
    pub name: String,
    /// Percent of the whole host (0-100) since the engine's previous sample; 0 when the engine
    /// gave none (one-shot). [`ContainerStats::cpu_percent_since`] computes it from two calls.
    pub cpu_percent: f64,
    /// Cumulative CPU time of the container, in nanoseconds.
    pub cpu_total_ns: u64,
    /// Cumulative CPU time of the host (all CPUs), in the engine's unit.
    pub system_cpu_ns: u64,
    /// Usage without the inactive page cache, as `docker stats` shows it.
    pub memory_used_bytes: u64,
    pub memory_limit_bytes: u64,
    /// Network and block I/O since the container started, in bytes.
    pub io: IoTotals,
}

/// A container's network and block I/O since it started (all interfaces, all devices), in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IoTotals {
    pub network_rx_bytes: u64,
    pub network_tx_bytes: u64,
    pub block_read_bytes: u64,
    pub block_write_bytes: u64,
}

impl IoTotals {
    /// Sums the engine's per-interface network counters and per-device block I/O entries.
    pub fn of(s: &ContainerStatsResponse) -> Self {
        let (network_rx_bytes, network_tx_bytes) = s.networks.as_ref().map_or((0, 0), |n| {
            n.values().fold((0, 0), |(r, t), v| {
                (r + v.rx_bytes.unwrap_or(0), t + v.tx_bytes.unwrap_or(0))
            })
        });
        let (block_read_bytes, block_write_bytes) = s
            .blkio_stats
            .as_ref()
            .and_then(|b| b.io_service_bytes_recursive.as_ref())
            .map_or((0, 0), |entries| {
                entries.iter().fold((0, 0), |(r, w), e| {
                    match e.op.as_deref().map(str::to_lowercase).as_deref() {
                        Some("read") => (r + e.value.unwrap_or(0), w),
                        Some("write") => (r, w + e.value.unwrap_or(0)),
                        _ => (r, w),
                    }
                })
            });
        Self {
            network_rx_bytes,
            network_tx_bytes,
            block_read_bytes,
            block_write_bytes,
        }
    }
}

/// One entry of the engine's event stream.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerEvent {
    /// Object type: "container", "image", "network", "volume", ...
    pub typ: String,
    /// "start", "die", "health_status: healthy", ...
    pub action: String,
    pub actor_id: String,
    pub attributes: HashMap<String, String>,
    pub time_unix_ms: i64,
}

/// A client for the local Docker engine. Cheap to clone (the connection pool is shared).
#[derive(Clone, Debug)]
pub struct Engine {
    docker: Docker,
    /// How the compose CLI reaches this same engine and where it keeps project files; without
    /// it, compose operations are refused.
    compose: Option<std::sync::Arc<super::compose::ComposeHost>>,
}

impl Engine {
    /// Connects to the engine at `socket` (a Unix socket path, `unix://` optional). Fails at once
    /// when the socket does not exist; otherwise the first request tells whether it answers.
    pub fn connect(socket: &Path) -> Result<Engine, DockerError> {
        let path = socket.to_string_lossy();
        let path = path.trim_start_matches("unix://");
        if !Path::new(path).exists() {
            return Err(DockerError::Unavailable(format!("no socket at {path}")));
        }
        let docker =
            Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)?;
        Ok(Engine {
            docker,
            compose: None,
        })
    }

    /// Wraps a connected client (used by the other files of this module).
    pub(super) fn from_client(docker: Docker) -> Engine {
        Engine {
            docker,
            compose: None,
        }
    }

    /// This engine, with the compose CLI able to reach it as `host` says.
    pub fn with_compose(mut self, host: super::compose::ComposeHost) -> Engine {
        self.compose = Some(std::sync::Arc::new(host));
        self
    }

    /// How the compose CLI reaches this engine, when it can.
    pub(super) fn compose_host(&self) -> Option<&super::compose::ComposeHost> {
        self.compose.as_deref()
    }

    /// The bollard client, for the other files of this module.
    pub(super) fn client(&self) -> &Docker {
        &self.docker
    }

    pub async fn version(&self) -> Result<EngineVersion, DockerError> {
        let v = self.docker.version().await?;
        Ok(EngineVersion {
            version: v.version.unwrap_or_default(),
            api_version: v.api_version.unwrap_or_default(),
            os: v.os.unwrap_or_default(),
            arch: v.arch.unwrap_or_default(),
        })
    }

    /// `docker info` as the engine returns it.
    pub async fn info(&self) -> Result<serde_json::Value, DockerError> {
        let info = self.docker.info().await?;
        serde_json::to_value(info).map_err(|e| DockerError::Other(e.to_string()))
    }

    /// All containers, running or not.
    pub async fn list_containers(&self) -> Result<Vec<ContainerSummary>, DockerError> {
        let options = ListContainersOptions {
            all: true,
            ..Default::default()
        };
        let list = self.docker.list_containers(Some(options)).await?;
        Ok(list
            .into_iter()
            .map(|c| ContainerSummary {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_owned())
                    .unwrap_or_default(),
                image: c.image.unwrap_or_default(),
                state: c.state.map_or(ContainerState::Unknown, state_from),
            })
            .collect())
    }

    /// CPU and memory counters of one container, answered at once (`stream=false`,
    /// `one-shot=true`: the engine does not wait a second for a second sample). The CPU share
    /// comes from two calls: [`ContainerStats::cpu_percent_since`].
    pub async fn stats_once(&self, id: &str) -> Result<ContainerStats, DockerError> {
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stream = self.docker.stats(id, Some(options));
        let stats = stream
            .next()
            .await
            .ok_or_else(|| DockerError::Other("empty stats answer".into()))??;
        Ok(stats_from(id, &stats))
    }

    /// The engine's event stream from now on. Ends when the engine goes away.
    pub fn events(&self) -> impl Stream<Item = Result<DockerEvent, DockerError>> + Send + use<> {
        self.docker
            .events(None::<EventsOptions>)
            .map(|item| item.map(event_from).map_err(DockerError::from))
    }
}

fn state_from(state: ContainerSummaryStateEnum) -> ContainerState {
    use ContainerSummaryStateEnum as S;
    match state {
        S::CREATED => ContainerState::Created,
        S::RUNNING => ContainerState::Running,
        S::PAUSED => ContainerState::Paused,
        S::RESTARTING => ContainerState::Restarting,
        S::EXITED => ContainerState::Exited,
        S::REMOVING => ContainerState::Removing,
        S::DEAD => ContainerState::Dead,
        _ => ContainerState::Unknown,
    }
}

fn event_from(e: EventMessage) -> DockerEvent {
    let typ = match e.typ {
        Some(EventMessageTypeEnum::EMPTY) | None => String::new(),
        Some(t) => t.to_string(),
    };
    let (actor_id, attributes) = e
        .actor
        .map(|a| (a.id.unwrap_or_default(), a.attributes.unwrap_or_default()))
        .unwrap_or_default();
    let time_unix_ms = match (e.time_nano, e.time) {
        (Some(ns), _) if ns > 0 => ns / 1_000_000,
        (_, Some(s)) => s * 1000,
        _ => 0,
    };
    DockerEvent {
        typ,
        action: e.action.unwrap_or_default(),
        actor_id,
        attributes,
        time_unix_ms,
    }
}

fn stats_from(id: &str, s: &ContainerStatsResponse) -> ContainerStats {
    let total = |c: &Option<bollard::models::ContainerCpuStats>| {
        c.as_ref()
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let system = |c: &Option<bollard::models::ContainerCpuStats>| {
        c.as_ref().and_then(|c| c.system_cpu_usage).unwrap_or(0)
    };
    let cpu_percent = cpu_percent_of_host(
        total(&s.cpu_stats),
        total(&s.precpu_stats),
        system(&s.cpu_stats),
        system(&s.precpu_stats),
    );
    let (usage, limit, stats) = s
        .memory_stats
        .as_ref()
        .map(|m| (m.usage.unwrap_or(0), m.limit.unwrap_or(0), m.stats.clone()))
        .unwrap_or_default();
    let inactive = stats
        .as_ref()
        .and_then(|st| {
            st.get("inactive_file")
                .or_else(|| st.get("total_inactive_file"))
                .copied()
        })
        .unwrap_or(0);
    ContainerStats {
        cpu_total_ns: total(&s.cpu_stats),
        system_cpu_ns: system(&s.cpu_stats),
        id: s.id.clone().unwrap_or_else(|| id.to_owned()),
        name: s
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        cpu_percent,
        memory_used_bytes: usage.saturating_sub(inactive),
        memory_limit_bytes: limit,
        io: IoTotals::of(s),
    }
}

impl ContainerStats {
    /// CPU share of the whole host between an earlier sample of the same container and this one.
    pub fn cpu_percent_since(&self, earlier: &ContainerStats) -> f64 {
        cpu_percent_of_host(
            self.cpu_total_ns,
            earlier.cpu_total_ns,
            self.system_cpu_ns,
            earlier.system_cpu_ns,
        )
    }
}

/// CPU share of the whole host between two samples: container CPU time over host CPU time
/// (the engine's `system_cpu_usage` already spans all CPUs), so 100 means every core busy.
fn cpu_percent_of_host(total: u64, pre_total: u64, system: u64, pre_system: u64) -> f64 {
    let cpu_delta = total.saturating_sub(pre_total);
    let system_delta = system.saturating_sub(pre_system);
    if system_delta == 0 {
        return 0.0;
    }
    (cpu_delta as f64 / system_delta as f64 * 100.0).clamp(0.0, 100.0)
}

/// How long to wait before retrying a connection to an engine that went away.
pub const RECONNECT_DELAY: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats};

    #[test]
    fn cpu_share_is_relative_to_the_whole_host() {
        assert_eq!(cpu_percent_of_host(150, 100, 1100, 1000), 50.0);
        assert_eq!(cpu_percent_of_host(100, 100, 1000, 1000), 0.0);
        // Counters going backwards (container restarted) never give a negative share.
        assert_eq!(cpu_percent_of_host(10, 100, 2000, 1000), 0.0);
    }

    #[test]
    fn stats_subtract_inactive_page_cache_like_docker_stats() {
        let cpu = |total, system| {
            Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(total),
                    ..Default::default()
                }),
                system_cpu_usage: Some(system),
                online_cpus: Some(4),
                ..Default::default()
            })
        };
        let response = ContainerStatsResponse {
            id: Some("abc".into()),
            name: Some("/web".into()),
            cpu_stats: cpu(400, 2000),
            precpu_stats: cpu(200, 1000),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(100 << 20),
                limit: Some(512 << 20),
                stats: Some(HashMap::from([("inactive_file".to_owned(), 30 << 20)])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = stats_from("abc", &response);
        assert_eq!(s.name, "web");
        assert_eq!(s.cpu_percent, 20.0);
        assert_eq!(s.memory_used_bytes, 70 << 20);
        assert_eq!(s.memory_limit_bytes, 512 << 20);
        let later = ContainerStats {
            cpu_total_ns: 900,
            system_cpu_ns: 4000,
            ..s.clone()
        };
        assert_eq!(later.cpu_percent_since(&s), 25.0);
    }

    #[test]
    fn a_missing_socket_is_reported_as_unavailable() {
        let err = Engine::connect(Path::new("/nonexistent/docker.sock")).unwrap_err();
        assert!(matches!(err, DockerError::Unavailable(_)), "{err}");
    }

    /// Against the machine's Docker engine (CI starts one): version, info, list, one-shot
    /// stats, and an event seen for a network the test creates and removes.
    #[tokio::test]
    async fn talks_to_the_local_engine() {
        let socket = Path::new("/var/run/docker.sock");
        if !socket.exists() {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "CI needs a Docker engine"
            );
            return;
        }
        let engine = Engine::connect(socket).unwrap();
        let version = engine.version().await.unwrap();
        assert!(!version.version.is_empty() && !version.api_version.is_empty());
        assert!(engine.info().await.unwrap().get("Containers").is_some());
        let list = engine.list_containers().await.unwrap();
        if let Some(c) = list.iter().find(|c| c.state == ContainerState::Running) {
            let s = engine.stats_once(&c.id).await.unwrap();
            assert!(s.cpu_total_ns > 0 && s.memory_limit_bytes > 0);
        }

        // The stream subscribes when first polled: follow it from a task before acting.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let follower = tokio::spawn({
            let engine = engine.clone();
            async move {
                let mut events = Box::pin(engine.events());
                while let Some(Ok(e)) = events.next().await {
                    if tx.send(e).is_err() {
                        return;
                    }
                }
            }
        });
        let name = format!("cb-engine-test-{}", std::process::id());
        let docker = |args: &[&str]| {
            std::process::Command::new("docker")
                .args(args)
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        };
        tokio::time::sleep(Duration::from_millis(500)).await;
        let created = docker(&[
            "network",
            "create",
            "--internal",
            "--label",
            "contextbay.test=1",
            &name,
        ]);
        if !created {
            return; // no docker CLI here; the API part above has run
        }
        docker(&["network", "rm", &name]);
        let seen = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(e) = rx.recv().await {
                if e.typ == "network"
                    && e.action == "create"
                    && e.attributes.get("name") == Some(&name)
                {
                    return e;
                }
            }
            panic!("event stream ended");
        })
        .await
        .expect("no network create event");
        follower.abort();
        assert!(!seen.actor_id.is_empty() && seen.time_unix_ms > 0);
    }
}
