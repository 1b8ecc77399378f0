//! Containers: list, create, inspect, actions, remove, logs, stats, exec.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;

use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointSettings, ExecConfig, HostConfig, Mount, MountType,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, KillContainerOptions, ListContainersOptions,
    LogsOptions, RemoveContainerOptions, RestartContainerOptions, StartContainerOptions,
    StopContainerOptions,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::engine::{DockerError, Engine};

/// One container as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    /// `created`, `running`, `paused`, `restarting`, `exited`, `removing`, `dead`.
    pub state: String,
    /// Docker's human status, e.g. `Up 5 minutes`.
    pub status: String,
    /// Unix seconds.
    pub created: i64,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<PortInfo>,
    pub networks: Vec<String>,
    pub mounts: Vec<MountInfo>,
    /// The compose project (`com.docker.compose.project`), when the container belongs to one.
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PortInfo {
    pub container_port: u16,
    pub host_port: Option<u16>,
    pub host_ip: Option<String>,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MountInfo {
    /// `bind`, `volume`, `tmpfs`.
    pub kind: String,
    /// The host path (bind) or volume name.
    pub source: String,
    pub target: String,
}

/// What to create. Validated by [`ContainerSpec::validate`] before it reaches the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    pub image: String,
    pub name: Option<String>,
    /// Command and arguments, replacing the image's `CMD`.
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<PortSpec>,
    #[serde(default)]
    pub mounts: Vec<MountSpec>,
    /// Networks to join (the first at creation, the rest after).
    #[serde(default)]
    pub networks: Vec<String>,
    /// `no` (default), `always`, `unless-stopped`, `on-failure`.
    pub restart_policy: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub memory_bytes: Option<i64>,
    /// CPU limit in cores, e.g. 0.5.
    pub cpus: Option<f64>,
    #[serde(default)]
    pub privileged: bool,
    /// `bridge`, `none`, `host`, `container:<name|id>` or a network name; when set, `networks`
    /// must be empty. Without it the first of `networks` is the network mode.
    pub network_mode: Option<String>,
    /// `host` or `container:<name|id>` to share that PID namespace.
    pub pid_mode: Option<String>,
    /// `private`, `shareable`, `none`, `host` or `container:<name|id>`.
    pub ipc_mode: Option<String>,
    /// `host` to share the host's UTS namespace (host name).
    pub uts_mode: Option<String>,
    /// `host` to run outside the engine's user namespace remapping.
    pub userns_mode: Option<String>,
    /// Linux capabilities to add, e.g. `NET_ADMIN`.
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// Linux capabilities to drop, e.g. `ALL`.
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// Host devices, as the docker CLI writes them: `/dev/host[:/dev/container[:rwm]]`.
    #[serde(default)]
    pub devices: Vec<String>,
    /// Security options, e.g. `no-new-privileges`, `seccomp=unconfined`, `apparmor=…`.
    #[serde(default)]
    pub security_opt: Vec<String>,
    #[serde(default)]
    pub tty: bool,
    /// Start it after creating it.
    #[serde(default)]
    pub start: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortSpec {
    pub container_port: u16,
    pub host_port: Option<u16>,
    /// `tcp` (default) or `udp`.
    pub protocol: Option<String>,
    pub host_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MountSpec {
    /// `bind` or `volume`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Host path (bind) or volume name (volume).
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

impl ContainerSpec {
    /// Checks every field; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.image.trim().is_empty()
            || self.image.len() > 512
            || self.image.chars().any(char::is_whitespace)
        {
            return Err("image: must be an image reference without spaces".into());
        }
        if let Some(n) = &self.name
            && !valid_name(n)
        {
            return Err(format!(
                "name: '{n}' must start with a letter or digit and use only letters, digits, '_', '.', '-'"
            ));
        }
        for k in self.env.keys() {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(format!("env: invalid variable name '{k}'"));
            }
        }
        for (i, p) in self.ports.iter().enumerate() {
            if p.container_port == 0 {
                return Err(format!("ports[{i}].container_port: must be 1-65535"));
            }
            if let Some(proto) = &p.protocol
                && proto != "tcp"
                && proto != "udp"
            {
                return Err(format!("ports[{i}].protocol: must be tcp or udp"));
            }
            if let Some(ip) = &p.host_ip
                && ip.parse::<std::net::IpAddr>().is_err()
            {
                return Err(format!("ports[{i}].host_ip: '{ip}' is not an IP address"));
            }
        }
        for (i, m) in self.mounts.iter().enumerate() {
            match m.kind.as_str() {
                "bind" if !m.source.starts_with('/') => {
                    return Err(format!(
                        "mounts[{i}].source: a bind mount needs an absolute host path"
                    ));
                }
                "bind" => {}
                "volume" if !valid_name(&m.source) => {
                    return Err(format!(
                        "mounts[{i}].source: '{}' is not a valid volume name",
                        m.source
                    ));
                }
                "volume" => {}
                other => {
                    return Err(format!(
                        "mounts[{i}].type: '{other}' must be bind or volume"
                    ));
                }
            }
            if !m.target.starts_with('/') {
                return Err(format!("mounts[{i}].target: must be an absolute path"));
            }
        }
        for n in &self.networks {
            if !valid_name(n) {
                return Err(format!("networks: '{n}' is not a valid network name"));
            }
        }
        if self.network_mode.is_some() && !self.networks.is_empty() {
            return Err("network_mode: set network_mode or networks, not both".into());
        }
        for (field, value) in [
            ("network_mode", &self.network_mode),
            ("pid_mode", &self.pid_mode),
            ("ipc_mode", &self.ipc_mode),
            ("uts_mode", &self.uts_mode),
            ("userns_mode", &self.userns_mode),
        ] {
            if let Some(v) = value {
                let target = v.strip_prefix("container:").unwrap_or(v);
                if !valid_name(target) {
                    return Err(format!("{field}: '{v}' is not a valid mode"));
                }
            }
        }
        for (field, caps) in [("cap_add", &self.cap_add), ("cap_drop", &self.cap_drop)] {
            if let Some(c) = caps.iter().find(|c| {
                c.is_empty()
                    || c.len() > 64
                    || !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            }) {
                return Err(format!("{field}: '{c}' is not a capability name"));
            }
        }
        for (i, d) in self.devices.iter().enumerate() {
            let parts: Vec<&str> = d.split(':').collect();
            if parts.len() > 3
                || !parts[0].starts_with('/')
                || parts.get(1).is_some_and(|p| !p.starts_with('/'))
            {
                return Err(format!(
                    "devices[{i}]: '{d}' must be /dev/host[:/dev/container[:permissions]]"
                ));
            }
        }
        if self
            .security_opt
            .iter()
            .any(|o| o.is_empty() || o.len() > 4096)
            || self.cap_add.len()
                + self.cap_drop.len()
                + self.devices.len()
                + self.security_opt.len()
                > 256
        {
            return Err(
                "security_opt: entries must be 1 to 4096 characters, at most 256 in all".into(),
            );
        }
        if let Some(r) = &self.restart_policy
            && !["no", "always", "unless-stopped", "on-failure"].contains(&r.as_str())
        {
            return Err("restart_policy: must be no, always, unless-stopped or on-failure".into());
        }
        if self.memory_bytes.is_some_and(|m| m < 6 * 1024 * 1024) {
            return Err("memory_bytes: at least 6 MiB".into());
        }
        if self.cpus.is_some_and(|c| !(0.01..=1024.0).contains(&c)) {
            return Err("cpus: between 0.01 and 1024".into());
        }
        if self.labels.len() > 128 || self.command.len() > 256 || self.env.len() > 512 {
            return Err("too many labels, command arguments or environment variables".into());
        }
        Ok(())
    }
}

/// What an action does to a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContainerAction {
    Start,
    Stop,
    Restart,
    Pause,
    Unpause,
    Kill,
}

impl ContainerAction {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "start" => Self::Start,
            "stop" => Self::Stop,
            "restart" => Self::Restart,
            "pause" => Self::Pause,
            "unpause" => Self::Unpause,
            "kill" => Self::Kill,
            _ => return None,
        })
    }

    /// Why the action makes no sense in `state`, if it does not.
    fn refuse(self, state: &str) -> Option<String> {
        let msg = match (self, state) {
            (Self::Start, "running") => "the container is already running",
            (Self::Start, "paused") => "the container is paused; unpause it",
            (Self::Stop | Self::Kill, s)
                if s != "running" && s != "paused" && s != "restarting" =>
            {
                "the container is not running"
            }
            (Self::Pause, "paused") => "the container is already paused",
            (Self::Pause, s) if s != "running" => "only a running container can be paused",
            (Self::Unpause, s) if s != "paused" => "the container is not paused",
            _ => return None,
        };
        Some(msg.to_owned())
    }
}

/// One log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogLine {
    /// `stdout` or `stderr`.
    pub stream: String,
    /// RFC 3339 from the engine, when timestamps were asked for.
    pub ts: Option<String>,
    pub line: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Lines from the end (default 100, at most 10,000).
    pub tail: Option<u32>,
    /// Unix seconds.
    pub since: Option<i64>,
    #[serde(default)]
    pub timestamps: bool,
    /// Default true.
    pub stdout: Option<bool>,
    /// Default true.
    pub stderr: Option<bool>,
}

/// Per-container resource use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContainerUsage {
    pub id: String,
    pub name: String,
    pub cpu_percent: f64,
    pub memory_used_bytes: u64,
    pub memory_limit_bytes: u64,
    pub network_rx_bytes: u64,
    pub network_tx_bytes: u64,
    pub block_read_bytes: u64,
    pub block_write_bytes: u64,
}

/// A running exec: output stream, input writer, and its id for resize / exit code.
pub struct ExecSession {
    pub exec_id: String,
    pub output: Pin<Box<dyn Stream<Item = Result<Bytes, DockerError>> + Send>>,
    pub input: Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

fn state_str(s: Option<impl std::fmt::Display>) -> String {
    s.map(|v| v.to_string().to_lowercase())
        .unwrap_or_else(|| "unknown".into())
}

impl Engine {
    pub async fn containers(&self, all: bool) -> Result<Vec<ContainerInfo>, DockerError> {
        let list = self
            .client()
            .list_containers(Some(ListContainersOptions {
                all,
                ..Default::default()
            }))
            .await?;
        Ok(list
            .into_iter()
            .map(|c| {
                let labels: BTreeMap<String, String> =
                    c.labels.unwrap_or_default().into_iter().collect();
                ContainerInfo {
                    id: c.id.unwrap_or_default(),
                    name: c
                        .names
                        .and_then(|n| n.into_iter().next())
                        .map(|n| n.trim_start_matches('/').to_owned())
                        .unwrap_or_default(),
                    image: c.image.unwrap_or_default(),
                    state: state_str(c.state),
                    status: c.status.unwrap_or_default(),
                    created: c.created.unwrap_or_default(),
                    ports: c
                        .ports
                        .unwrap_or_default()
                        .into_iter()
                        .map(|p| PortInfo {
                            container_port: p.private_port,
                            host_port: p.public_port,
                            host_ip: p.ip,
                            protocol: p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into()),
                        })
                        .collect(),
                    networks: c
                        .network_settings
                        .and_then(|n| n.networks)
                        .map(|n| n.into_keys().collect())
                        .unwrap_or_default(),
                    mounts: c
                        .mounts
                        .unwrap_or_default()
                        .into_iter()
                        .map(|m| MountInfo {
                            kind: m.typ.map(|t| t.to_string()).unwrap_or_default(),
                            source: m.name.or(m.source).unwrap_or_default(),
                            target: m.destination.unwrap_or_default(),
                        })
                        .collect(),
                    compose_project: labels.get("com.docker.compose.project").cloned(),
                    compose_service: labels.get("com.docker.compose.service").cloned(),
                    labels,
                }
            })
            .collect())
    }

    /// `docker inspect`, as the engine returns it.
    pub async fn inspect_container(&self, id: &str) -> Result<serde_json::Value, DockerError> {
        let c = self
            .client()
            .inspect_container(id, None::<InspectContainerOptions>)
            .await?;
        serde_json::to_value(c).map_err(|e| DockerError::Other(e.to_string()))
    }

    async fn container_state(&self, id: &str) -> Result<String, DockerError> {
        let c = self
            .client()
            .inspect_container(id, None::<InspectContainerOptions>)
            .await?;
        Ok(state_str(c.state.and_then(|s| s.status)))
    }

    /// Creates (and with `start`, starts) a container; returns its id.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        let mut exposed = Vec::new();
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for p in &spec.ports {
            let key = format!(
                "{}/{}",
                p.container_port,
                p.protocol.as_deref().unwrap_or("tcp")
            );
            exposed.push(key.clone());
            if p.host_port.is_some() || p.host_ip.is_some() {
                bindings
                    .entry(key)
                    .or_insert_with(|| Some(Vec::new()))
                    .get_or_insert_with(Vec::new)
                    .push(PortBinding {
                        host_ip: p.host_ip.clone(),
                        host_port: p.host_port.map(|h| h.to_string()),
                    });
            }
        }
        let mounts = spec
            .mounts
            .iter()
            .map(|m| Mount {
                typ: Some(if m.kind == "bind" {
                    MountType::BIND
                } else {
                    MountType::VOLUME
                }),
                source: Some(m.source.clone()),
                target: Some(m.target.clone()),
                read_only: Some(m.read_only),
                ..Default::default()
            })
            .collect();
        let restart = spec.restart_policy.as_deref().map(|r| RestartPolicy {
            name: Some(match r {
                "always" => RestartPolicyNameEnum::ALWAYS,
                "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                _ => RestartPolicyNameEnum::NO,
            }),
            maximum_retry_count: None,
        });
        let host_config = HostConfig {
            port_bindings: (!bindings.is_empty()).then_some(bindings),
            mounts: Some(mounts),
            restart_policy: restart,
            memory: spec.memory_bytes,
            #[expect(
                clippy::cast_possible_truncation,
                reason = "validated to at most 1024 cores"
            )]
            nano_cpus: spec.cpus.map(|c| (c * 1e9) as i64),
            privileged: Some(spec.privileged),
            network_mode: spec
                .network_mode
                .clone()
                .or_else(|| spec.networks.first().cloned()),
            pid_mode: spec.pid_mode.clone(),
            ipc_mode: spec.ipc_mode.clone(),
            uts_mode: spec.uts_mode.clone(),
            userns_mode: spec.userns_mode.clone(),
            cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
            cap_drop: (!spec.cap_drop.is_empty()).then(|| spec.cap_drop.clone()),
            security_opt: (!spec.security_opt.is_empty()).then(|| spec.security_opt.clone()),
            devices: (!spec.devices.is_empty()).then(|| {
                spec.devices
                    .iter()
                    .map(|d| {
                        let mut parts = d.splitn(3, ':');
                        let host = parts.next().unwrap_or_default().to_owned();
                        let inside = parts.next().map_or_else(|| host.clone(), str::to_owned);
                        DeviceMapping {
                            path_on_host: Some(host),
                            path_in_container: Some(inside),
                            cgroup_permissions: Some(parts.next().unwrap_or("rwm").to_owned()),
                        }
                    })
                    .collect()
            }),
            ..Default::default()
        };
        let networking_config = spec.networks.first().map(|n| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(n.clone(), EndpointSettings::default())])),
        });
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(spec.labels.clone().into_iter().collect()),
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            tty: Some(spec.tty),
            open_stdin: Some(spec.tty),
            host_config: Some(host_config),
            networking_config,
            ..Default::default()
        };
        let created = self
            .client()
            .create_container(
                Some(CreateContainerOptions {
                    name: spec.name.clone(),
                    ..Default::default()
                }),
                body,
            )
            .await?;
        for n in spec.networks.iter().skip(1) {
            self.client()
                .connect_network(
                    n,
                    bollard::models::NetworkConnectRequest {
                        container: created.id.clone(),
                        ..Default::default()
                    },
                )
                .await?;
        }
        if spec.start {
            self.client()
                .start_container(&created.id, None::<StartContainerOptions>)
                .await?;
        }
        Ok(created.id)
    }

    /// Runs an action. A container already in the target state is a conflict (409) that says so.
    pub async fn container_action(
        &self,
        id: &str,
        action: ContainerAction,
    ) -> Result<(), DockerError> {
        let state = self.container_state(id).await?;
        if let Some(why) = action.refuse(&state) {
            return Err(DockerError::Api {
                status: 409,
                message: why,
            });
        }
        let c = self.client();
        match action {
            ContainerAction::Start => c.start_container(id, None::<StartContainerOptions>).await?,
            ContainerAction::Stop => {
                c.stop_container(
                    id,
                    Some(StopContainerOptions {
                        t: Some(10),
                        ..Default::default()
                    }),
                )
                .await?
            }
            ContainerAction::Restart => {
                c.restart_container(
                    id,
                    Some(RestartContainerOptions {
                        t: Some(10),
                        ..Default::default()
                    }),
                )
                .await?;
            }
            ContainerAction::Pause => c.pause_container(id).await?,
            ContainerAction::Unpause => c.unpause_container(id).await?,
            ContainerAction::Kill => {
                c.kill_container(
                    id,
                    Some(KillContainerOptions {
                        signal: "SIGKILL".into(),
                    }),
                )
                .await?
            }
        }
        Ok(())
    }

    pub async fn remove_container(
        &self,
        id: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), DockerError> {
        self.client()
            .remove_container(
                id,
                Some(RemoveContainerOptions {
                    force,
                    v: volumes,
                    ..Default::default()
                }),
            )
            .await?;
        Ok(())
    }

    fn logs_options(q: &LogQuery, follow: bool) -> LogsOptions {
        LogsOptions {
            follow,
            stdout: q.stdout.unwrap_or(true),
            stderr: q.stderr.unwrap_or(true),
            since: i32::try_from(q.since.unwrap_or(0)).unwrap_or(0),
            timestamps: q.timestamps,
            tail: q.tail.map_or_else(
                || if follow { "0".into() } else { "100".into() },
                |t| t.min(10_000).to_string(),
            ),
            ..Default::default()
        }
    }

    /// The last lines of a container's log.
    pub async fn logs(&self, id: &str, q: &LogQuery) -> Result<Vec<LogLine>, DockerError> {
        // Resolve the container first so that a missing one is a 404, not an empty log.
        self.container_state(id).await?;
        let mut stream = self.log_stream(id, q, false);
        let mut lines = Vec::new();
        while let Some(line) = stream.next().await {
            lines.push(line?);
        }
        Ok(lines)
    }

    /// Log lines as they are written (`follow`), starting with `tail` lines of history.
    pub fn log_stream(
        &self,
        id: &str,
        q: &LogQuery,
        follow: bool,
    ) -> impl Stream<Item = Result<LogLine, DockerError>> + Send + use<> {
        let timestamps = q.timestamps;
        self.client()
            .logs(id, Some(Self::logs_options(q, follow)))
            .flat_map(move |item| {
                let lines: Vec<Result<LogLine, DockerError>> = match item {
                    Ok(out) => {
                        let (stream, bytes) = match out {
                            bollard::container::LogOutput::StdErr { message } => {
                                ("stderr", message)
                            }
                            bollard::container::LogOutput::StdOut { message }
                            | bollard::container::LogOutput::Console { message } => {
                                ("stdout", message)
                            }
                            bollard::container::LogOutput::StdIn { message } => ("stdin", message),
                        };
                        String::from_utf8_lossy(&bytes)
                            .lines()
                            .map(|l| {
                                let (ts, line) = if timestamps {
                                    match l.split_once(' ') {
                                        Some((t, rest)) => (Some(t.to_owned()), rest.to_owned()),
                                        None => (None, l.to_owned()),
                                    }
                                } else {
                                    (None, l.to_owned())
                                };
                                Ok(LogLine {
                                    stream: stream.into(),
                                    ts,
                                    line,
                                })
                            })
                            .collect()
                    }
                    Err(e) => vec![Err(DockerError::from(e))],
                };
                futures_util::stream::iter(lines)
            })
    }

    /// CPU, memory, network and block IO of every running container.
    pub async fn container_usage(&self) -> Result<Vec<ContainerUsage>, DockerError> {
        let running = self.containers(false).await?;
        let stats = futures_util::future::join_all(running.iter().map(|c| async move {
            let mut s = self.client().stats(
                &c.id,
                Some(bollard::query_parameters::StatsOptions {
                    stream: false,
                    one_shot: false,
                }),
            );
            (c, s.next().await)
        }))
        .await;
        let mut out = Vec::new();
        for (c, s) in stats {
            let Some(Ok(s)) = s else { continue };
            let cpu = s.cpu_stats.as_ref();
            let pre = s.precpu_stats.as_ref();
            let total = |x: Option<&bollard::models::ContainerCpuStats>| {
                x.and_then(|c| c.cpu_usage.as_ref())
                    .and_then(|u| u.total_usage)
                    .unwrap_or(0)
            };
            let system = |x: Option<&bollard::models::ContainerCpuStats>| {
                x.and_then(|c| c.system_cpu_usage).unwrap_or(0)
            };
            let cpus = cpu.and_then(|c| c.online_cpus).unwrap_or(1).max(1);
            let dc = total(cpu).saturating_sub(total(pre));
            let ds = system(cpu).saturating_sub(system(pre));
            #[expect(clippy::cast_precision_loss, reason = "a percentage")]
            let cpu_percent = if ds > 0 {
                dc as f64 / ds as f64 * f64::from(cpus) * 100.0
            } else {
                0.0
            };
            let mem = s.memory_stats.as_ref();
            let inactive = mem
                .and_then(|m| m.stats.as_ref())
                .and_then(|st| st.get("inactive_file").copied())
                .unwrap_or(0);
            let io = super::engine::IoTotals::of(&s);
            out.push(ContainerUsage {
                id: c.id.clone(),
                name: c.name.clone(),
                cpu_percent: (cpu_percent * 100.0).round() / 100.0,
                memory_used_bytes: mem
                    .and_then(|m| m.usage)
                    .unwrap_or(0)
                    .saturating_sub(inactive),
                memory_limit_bytes: mem.and_then(|m| m.limit).unwrap_or(0),
                network_rx_bytes: io.network_rx_bytes,
                network_tx_bytes: io.network_tx_bytes,
                block_read_bytes: io.block_read_bytes,
                block_write_bytes: io.block_write_bytes,
            });
        }
        Ok(out)
    }

    /// Starts an interactive exec (stdin attached).
    pub async fn exec(
        &self,
        id: &str,
        cmd: Vec<String>,
        tty: bool,
    ) -> Result<ExecSession, DockerError> {
        let state = self.container_state(id).await?;
        if state != "running" {
            return Err(DockerError::Api {
                status: 409,
                message: "the container is not running".into(),
            });
        }
        let created = self
            .client()
            .create_exec(
                id,
                ExecConfig {
                    cmd: Some(cmd),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(tty),
                    ..Default::default()
                },
            )
            .await?;
        match self
            .client()
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty,
                    output_capacity: None,
                }),
            )
            .await?
        {
            StartExecResults::Attached { output, input } => Ok(ExecSession {
                exec_id: created.id,
                output: Box::pin(output.map(|item| {
                    item.map(bollard::container::LogOutput::into_bytes)
                        .map_err(DockerError::from)
                })),
                input,
            }),
            StartExecResults::Detached => Err(DockerError::Other("exec started detached".into())),
        }
    }

    pub async fn resize_exec(
        &self,
        exec_id: &str,
        rows: u16,
        cols: u16,
    ) -> Result<(), DockerError> {
        self.client()
            .resize_exec(
                exec_id,
                bollard::exec::ResizeExecOptions {
                    height: rows,
                    width: cols,
                },
            )
            .await?;
        Ok(())
    }

    /// The exit code of an exec whose output has ended. Docker may take a moment to record it;
    /// `None` if it has not within a second.
    pub async fn exec_exit(&self, exec_id: &str) -> Option<i64> {
        for _ in 0..20 {
            if let Ok(Some(code)) = self.exec_exit_code(exec_id).await {
                return Some(code);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        None
    }

    /// The exit code of a finished exec (`None` while it runs).
    pub async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, DockerError> {
        let info = self.client().inspect_exec(exec_id).await?;
        Ok(if info.running.unwrap_or(false) {
            None
        } else {
            info.exit_code
        })
    }
}

/// The mask `/api/stacks` shows viewers for an env value.
pub const MASKED: &str = "********";

/// Replaces every value of an inspect document's `Config.Env` (`KEY=value`) with [`MASKED`]
/// (what viewers see of `GET /api/containers/{id}/inspect`, and what any AI context or tool
/// answer shows to anyone).
pub fn mask_env(doc: &mut serde_json::Value) {
    if let Some(env) = doc
        .pointer_mut("/Config/Env")
        .and_then(serde_json::Value::as_array_mut)
    {
        for entry in env.iter_mut() {
            let key = entry
                .as_str()
                .map(|kv| kv.split_once('=').map_or(kv, |(k, _)| k).to_owned());
            *entry = match key {
                Some(k) => serde_json::Value::String(format!("{k}={MASKED}")),
                None => serde_json::Value::String(MASKED.to_owned()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ContainerSpec {
        serde_json::from_value(serde_json::json!({"image": "busybox"})).unwrap()
    }

    #[test]
    fn validation_names_the_field() {
        assert!(spec().validate().is_ok());
        let mut s = spec();
        s.name = Some("-bad".into());
        assert!(s.validate().unwrap_err().starts_with("name"));
        let mut s = spec();
        s.mounts.push(MountSpec {
            kind: "bind".into(),
            source: "rel".into(),
            target: "/x".into(),
            read_only: false,
        });
        assert!(s.validate().unwrap_err().starts_with("mounts[0].source"));
        let mut s = spec();
        s.ports.push(PortSpec {
            container_port: 80,
            host_port: None,
            protocol: Some("sctp".into()),
            host_ip: None,
        });
        assert!(s.validate().unwrap_err().starts_with("ports[0].protocol"));
        let mut s = spec();
        s.restart_policy = Some("sometimes".into());
        assert!(s.validate().unwrap_err().starts_with("restart_policy"));
    }

    #[test]
    fn actions_refuse_what_the_state_makes_pointless() {
        assert!(ContainerAction::Start.refuse("running").is_some());
        assert!(ContainerAction::Start.refuse("exited").is_none());
        assert!(ContainerAction::Stop.refuse("exited").is_some());
        assert!(ContainerAction::Unpause.refuse("running").is_some());
        assert!(ContainerAction::Pause.refuse("running").is_none());
        assert_eq!(ContainerAction::parse("explode"), None);
    }
}
