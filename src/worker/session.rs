//! [`Session`]: one connection to the master, from dialing to the first failure.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use contextbay_proto::v1::command_service_client::CommandServiceClient;
use contextbay_proto::v1::node_service_client::NodeServiceClient;
use contextbay_proto::v1::{Event, EventBatch, HeartbeatRequest, MetricsBatch, RegisterRequest};
use futures_util::future::OptionFuture;
use rand::Rng as _;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument as _;

use super::config::Master;
use super::enroll::NodeCredential;
use super::event_ring::EventRing;
use super::telemetry::LatestMetrics;
use super::{AGENT_VERSION, commands, host_metrics, procfs};

/// Deadline of the unary calls (register, heartbeat).
const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of one metrics or events report.
const REPORT_TIMEOUT: Duration = Duration::from_secs(30);
/// Events per `EventBatch` message, and per flush call.
const EVENTS_PER_BATCH: usize = 500;
const EVENTS_PER_FLUSH: usize = 10_000;

/// A gRPC channel whose every call carries the node credential.
pub type AuthedChannel = InterceptedService<Channel, BearerAuth>;

/// Adds `authorization: Bearer <node credential>` to every request.
#[derive(Clone)]
pub struct BearerAuth(MetadataValue<Ascii>);

impl BearerAuth {
    pub fn new(credential: &str) -> anyhow::Result<Self> {
        let value = format!("Bearer {credential}").parse().context(
            "the node credential is not a valid header value; delete node.json and re-enroll",
        )?;
        Ok(Self(value))
    }
}

impl Interceptor for BearerAuth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert(contextbay_proto::AUTHORIZATION, self.0.clone());
        Ok(request)
    }
}

/// Dials the master with HTTP/2 keepalive, so a half-open link is noticed within ~30 s even
/// when nothing is being sent.
/// Dials the master: plain HTTP/2 for `http://`, TLS pinned to one certificate for `https://`.
pub async fn connect(url: &str, pinned: Option<[u8; 32]>) -> anyhow::Result<Channel> {
    // TLS is done by the pinned connector, so tonic itself is handed the plain scheme.
    let dial = match url.strip_prefix("https://") {
        Some(rest) => format!("http://{rest}"),
        None => url.to_owned(),
    };
    let endpoint = Endpoint::from_shared(dial)
        .with_context(|| format!("invalid gRPC url '{url}'"))?
        .connect_timeout(Duration::from_secs(10))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true)
        .tcp_keepalive(Some(Duration::from_secs(60)))
        .tcp_nodelay(true);
    let connected = if url.starts_with("https://") {
        let pin = pinned.context("an https:// master needs its certificate fingerprint")?;
        endpoint
            .connect_with_connector(super::pinned_tls::connector(pin)?)
            .await
    } else {
        endpoint.connect().await
    };
    connected.with_context(|| format!("connecting to {url}"))
}

/// What does not change between sessions.
pub struct SessionContext {
    /// The masters, tried in turn (one session at a time, with one of them).
    pub masters: Vec<Master>,
    /// SHA-256 of the only certificate an `https://` master may present.
    pub pinned: Option<[u8; 32]>,
    pub credential: NodeCredential,
    pub hostname: String,
    pub docker_socket: PathBuf,
    /// The worker's data directory (compose files of stacks live under it).
    pub data_dir: PathBuf,
    /// The heartbeat/metrics interval; the master may change it.
    pub interval_tx: watch::Sender<Duration>,
    /// When the worker process started, for `agent_uptime_secs`.
    pub started_at: Instant,
}

/// How a session ended.
#[derive(Debug)]
pub struct SessionEnd {
    /// Whether registration succeeded (then the reconnect backoff starts over).
    pub registered: bool,
    pub reason: anyhow::Error,
}

/// One connection to the master. Borrows the connection loop's event ring and channels, so
/// nothing is lost when it ends; it ends on the first failed call or when the command stream
/// closes, and the loop dials again.
pub struct Session<'a> {
    ctx: &'a Arc<SessionContext>,
    /// The master this session dials.
    master: &'a Master,
    ring: &'a mut EventRing,
    events_rx: &'a mut mpsc::Receiver<Event>,
    metrics_rx: &'a mut watch::Receiver<LatestMetrics>,
    /// Heartbeats sent by this process, across sessions.
    heartbeat_seq: &'a mut u64,
    metrics_supported: bool,
    events_supported: bool,
    /// The node's security policy as the master last sent it; the command handlers enforce it.
    policy: commands::PolicyCell,
}

/// Aborts the command stream task when the session ends, whichever way.
struct AbortOnDrop(JoinHandle<Result<(), tonic::Status>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<'a> Session<'a> {
    pub fn new(
        ctx: &'a Arc<SessionContext>,
        master: &'a Master,
        ring: &'a mut EventRing,
        events_rx: &'a mut mpsc::Receiver<Event>,
        metrics_rx: &'a mut watch::Receiver<LatestMetrics>,
        heartbeat_seq: &'a mut u64,
    ) -> Self {
        Self {
            ctx,
            master,
            ring,
            events_rx,
            metrics_rx,
            heartbeat_seq,
            metrics_supported: true,
            events_supported: true,
            policy: commands::PolicyCell::default(),
        }
    }

    pub async fn run(mut self) -> SessionEnd {
        let mut registered = false;
        let reason = match self.serve(&mut registered).await {
            Ok(()) => anyhow::anyhow!("the master closed the command stream"),
            Err(e) => e,
        };
        SessionEnd { registered, reason }
    }

    async fn serve(&mut self, registered: &mut bool) -> anyhow::Result<()> {
        let channel = connect(&self.master.grpc, self.ctx.pinned).await?;
        let auth = BearerAuth::new(&self.ctx.credential.credential)?;
        let mut node = NodeServiceClient::with_interceptor(channel.clone(), auth.clone());
        let commands_client = CommandServiceClient::with_interceptor(channel, auth);

        let reply = timeout(RPC_TIMEOUT, node.register(self.register_request().await))
            .await
            .context("register timed out")?
            .map_err(status_error("register"))?
            .into_inner();
        *registered = true;
        self.policy.update(&reply.security_policy_json);
        self.ring.master_has(reply.last_event_seq);
        if reply.heartbeat_interval_secs > 0 {
            self.set_interval(reply.heartbeat_interval_secs);
        }
        tracing::info!(
            node_id = %self.ctx.credential.node_id,
            master = %self.master.grpc,
            master_http = %self.master.http,
            master_proto_minor = reply.master_proto_minor,
            "registered with the master"
        );

        let command_ctx = Arc::new(commands::CommandContext {
            node_id: self.ctx.credential.node_id.clone(),
            hostname: self.ctx.hostname.clone(),
            docker_socket: self.ctx.docker_socket.clone(),
            data_dir: self.ctx.data_dir.clone(),
            policy: self.policy.clone(),
        });
        let mut command_task = Some(AbortOnDrop(tokio::spawn(
            commands::serve(commands_client, command_ctx)
                .instrument(tracing::info_span!("commands")),
        )));

        // Samples taken while disconnected are stale: start from the next one.
        self.metrics_rx.borrow_and_update();
        let mut next_heartbeat = Instant::now();
        loop {
            if self.events_supported && self.ring.has_pending() {
                self.flush_events(&mut node).await?;
            }
            tokio::select! {
                () = tokio::time::sleep_until(next_heartbeat) => {
                    self.heartbeat(&mut node).await?;
                    next_heartbeat = Instant::now() + self.jittered_interval();
                }
                changed = self.metrics_rx.changed() => {
                    changed.context("the metrics collector stopped")?;
                    let latest = self.metrics_rx.borrow_and_update().clone();
                    if let Some(batch) = latest {
                        self.report_metrics(&mut node, &batch).await?;
                    }
                }
                event = self.events_rx.recv() => {
                    if let Some(e) = event {
                        self.ring.push(e);
                        while let Ok(e) = self.events_rx.try_recv() {
                            self.ring.push(e);
                        }
                    }
                }
                Some(ended) = OptionFuture::from(command_task.as_mut().map(|t| &mut t.0)), if command_task.is_some() => {
                    match ended {
                        Ok(Ok(())) => return Ok(()),
                        Ok(Err(status)) if status.code() == Code::Unimplemented => {
                            tracing::warn!("the master has no command stream; commands disabled until reconnect");
                            command_task = None;
                        }
                        Ok(Err(status)) => return Err(status_error("command stream")(status)),
                        Err(join) => return Err(anyhow::anyhow!("command stream task failed: {join}")),
                    }
                }
            }
        }
    }

    async fn register_request(&self) -> RegisterRequest {
        let (cpu_model, cpu_cores, memory_total, uptime_secs, os, kernel) =
            tokio::task::spawn_blocking(|| {
                let (model, cores) = procfs::cpu_info();
                let os = procfs::os_release()
                    .remove("PRETTY_NAME")
                    .unwrap_or_else(|| "Linux".to_owned());
                (
                    model,
                    cores,
                    procfs::memory().total,
                    host_metrics::uptime_secs(),
                    os,
                    procfs::kernel_release(),
                )
            })
            .await
            .unwrap_or_default();
        let docker = match crate::docker::Engine::connect(&self.ctx.docker_socket) {
            Ok(engine) => timeout(RPC_TIMEOUT, engine.version())
                .await
                .ok()
                .and_then(Result::ok),
            Err(_) => None,
        }
        .unwrap_or_default();
        RegisterRequest {
            node_id: self.ctx.credential.node_id.clone(),
            hostname: self.ctx.hostname.clone(),
            os,
            kernel,
            arch: std::env::consts::ARCH.to_owned(),
            cpu_model,
            cpu_cores,
            memory_total_bytes: memory_total,
            docker_version: docker.version,
            agent_version: AGENT_VERSION.to_owned(),
            proto_minor: contextbay_proto::PROTO_MINOR,
            docker_api_version: docker.api_version,
            uptime_secs,
        }
    }

    async fn heartbeat(
        &mut self,
        node: &mut NodeServiceClient<AuthedChannel>,
    ) -> anyhow::Result<()> {
        *self.heartbeat_seq += 1;
        let latest = self.metrics_rx.borrow().clone();
        let host = latest
            .as_ref()
            .and_then(|m| m.host.clone())
            .unwrap_or_default();
        let request = HeartbeatRequest {
            node_id: self.ctx.credential.node_id.clone(),
            seq: *self.heartbeat_seq,
            uptime_secs: if host.uptime_secs > 0 {
                host.uptime_secs
            } else {
                host_metrics::uptime_secs()
            },
            load1: host.load1,
            cpu_percent: host.cpu_percent,
            memory_used_bytes: host.memory_used_bytes,
            memory_total_bytes: host.memory_total_bytes,
            containers: latest.as_ref().and_then(|m| m.container_counts),
            docker_available: latest.as_ref().is_some_and(|m| m.docker_available),
            events_dropped_total: self.ring.dropped_total(),
            events_buffered: self.ring.len() as u64,
            agent_uptime_secs: self.ctx.started_at.elapsed().as_secs(),
        };
        let reply = timeout(RPC_TIMEOUT, node.heartbeat(request))
            .await
            .context("heartbeat timed out")?
            .map_err(status_error("heartbeat"))?
            .into_inner();
        if let Some(secs) = reply.desired_interval_secs.filter(|s| *s > 0) {
            self.set_interval(secs);
        }
        self.policy.update(&reply.security_policy_json);
        Ok(())
    }

    async fn report_metrics(
        &mut self,
        node: &mut NodeServiceClient<AuthedChannel>,
        batch: &MetricsBatch,
    ) -> anyhow::Result<()> {
        if !self.metrics_supported {
            return Ok(());
        }
        let mut batch = batch.clone();
        batch.node_id.clone_from(&self.ctx.credential.node_id);
        let call = node.report_metrics(tokio_stream::once(batch));
        match timeout(REPORT_TIMEOUT, call)
            .await
            .context("metrics report timed out")?
        {
            Ok(_) => Ok(()),
            Err(status) if status.code() == Code::Unimplemented => {
                tracing::warn!(
                    "the master does not take metrics; not sending them until reconnect"
                );
                self.metrics_supported = false;
                Ok(())
            }
            Err(status) => Err(status_error("metrics report")(status)),
        }
    }

    /// Sends everything not yet sent on this connection, in batches, and drops what the master
    /// acknowledges.
    async fn flush_events(
        &mut self,
        node: &mut NodeServiceClient<AuthedChannel>,
    ) -> anyhow::Result<()> {
        let pending = self.ring.pending(EVENTS_PER_FLUSH);
        let Some(last_seq) = pending.last().map(|e| e.seq) else {
            return Ok(());
        };
        let batches: Vec<EventBatch> = pending
            .chunks(EVENTS_PER_BATCH)
            .map(|chunk| EventBatch {
                node_id: self.ctx.credential.node_id.clone(),
                events: chunk.to_vec(),
                dropped_total: self.ring.dropped_total(),
            })
            .collect();
        let call = node.report_events(tokio_stream::iter(batches));
        match timeout(REPORT_TIMEOUT, call)
            .await
            .context("events report timed out")?
        {
            Ok(ack) => {
                self.ring.mark_sent(last_seq);
                self.ring.ack(ack.into_inner().highest_seq);
                Ok(())
            }
            Err(status) if status.code() == Code::Unimplemented => {
                tracing::warn!(
                    "the master does not take events; keeping them buffered until reconnect"
                );
                self.events_supported = false;
                Ok(())
            }
            Err(status) => Err(status_error("events report")(status)),
        }
    }

    fn set_interval(&self, secs: u32) {
        let interval = Duration::from_secs(u64::from(secs.clamp(1, 3600)));
        self.ctx.interval_tx.send_if_modified(|current| {
            let changed = *current != interval;
            *current = interval;
            changed
        });
    }

    /// The interval ±10 %, so a fleet restarted together spreads its heartbeats.
    fn jittered_interval(&self) -> Duration {
        let base = *self.ctx.interval_tx.borrow();
        base.mul_f64(rand::rng().random_range(0.9..=1.1))
    }
}

fn status_error(what: &'static str) -> impl Fn(tonic::Status) -> anyhow::Error {
    move |status| {
        if status.code() == Code::Unauthenticated {
            anyhow::anyhow!(
                "{what}: the master refused the node credential ({}); if the host was removed, delete node.json and enroll again",
                status.message()
            )
        } else {
            anyhow::anyhow!("{what}: {} ({:?})", status.message(), status.code())
        }
    }
}
