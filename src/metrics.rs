//! The master's Prometheus metrics (`GET /metrics`).

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::state::AppState;

/// Every metric the master exports. Counters kept by actors are copied in at scrape time.
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub ws_sessions: IntGauge,
    /// Open WebSocket sessions by kind (`events`, `logs`, `exec`).
    pub ws_sessions_by_kind: IntGaugeVec,
    events_published: IntCounter,
    events_dropped: IntCounter,
    actor_restarts: IntCounterVec,
    db_connections: IntGaugeVec,
    pub auth_failures: IntCounterVec,
    /// Requests without credentials that were refused, by route and status; their audit entries
    /// are sampled (see `http::gate::RejectionSampler`), this counts every one.
    pub anonymous_rejected: IntCounterVec,
    pub grpc_unauthenticated: IntCounter,
    fleet: FleetGauges,
}

/// The latest samples of every healthy node, re-filled at each scrape so that stale nodes'
/// series disappear.
struct FleetGauges {
    node_up: IntGaugeVec,
    cpu: GaugeVec,
    mem_used: GaugeVec,
    mem_total: GaugeVec,
    load1: GaugeVec,
    disk_used: GaugeVec,
    disk_total: GaugeVec,
    net_rx: GaugeVec,
    net_tx: GaugeVec,
    container_cpu: GaugeVec,
    container_mem: GaugeVec,
    container_net_rx: GaugeVec,
    container_net_tx: GaugeVec,
    container_block_read: GaugeVec,
    container_block_write: GaugeVec,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "contextbay_http_requests_total",
                "HTTP requests by route template, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "contextbay_http_request_duration_seconds",
                "HTTP request latency by route template and method",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["route", "method"],
        )?;
        let ws_sessions = IntGauge::new("contextbay_ws_sessions", "Open WebSocket sessions")?;
        let ws_sessions_by_kind = IntGaugeVec::new(
            Opts::new(
                "contextbay_ws_sessions_by_kind",
                "Open WebSocket sessions by kind (events, logs, exec)",
            ),
            &["kind"],
        )?;
        for kind in contextbay_actors::SessionKind::ALL {
            ws_sessions_by_kind
                .with_label_values(&[kind.as_str()])
                .set(0);
        }
        let events_published = IntCounter::new(
            "contextbay_events_published_total",
            "Events published on the bus",
        )?;
        let events_dropped = IntCounter::new(
            "contextbay_events_dropped_total",
            "Event deliveries skipped because a subscriber was not keeping up",
        )?;
        let actor_restarts = IntCounterVec::new(
            Opts::new(
                "contextbay_actor_restarts_total",
                "Supervised actor restarts",
            ),
            &["actor"],
        )?;
        let db_connections = IntGaugeVec::new(
            Opts::new(
                "contextbay_db_pool_connections",
                "Database pool connections by pool and state",
            ),
            &["pool", "state"],
        )?;
        let auth_failures = IntCounterVec::new(
            Opts::new(
                "contextbay_auth_failures_total",
                "Rejected credentials by kind",
            ),
            &["kind"],
        )?;
        let build_info = IntGaugeVec::new(
            Opts::new(
                "contextbay_build_info",
                "Build information; the value is always 1",
            ),
            &["version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(ws_sessions.clone()))?;
        registry.register(Box::new(ws_sessions_by_kind.clone()))?;
        registry.register(Box::new(events_published.clone()))?;
        registry.register(Box::new(events_dropped.clone()))?;
        registry.register(Box::new(actor_restarts.clone()))?;
        registry.register(Box::new(db_connections.clone()))?;
        registry.register(Box::new(auth_failures.clone()))?;
        let anonymous_rejected = IntCounterVec::new(
            Opts::new(
                "contextbay_http_anonymous_rejected_total",
                "Requests without credentials refused with a 4xx answer, by route template and \
                 status (their audit entries are sampled)",
            ),
            &["route", "status"],
        )?;
        registry.register(Box::new(anonymous_rejected.clone()))?;
        let grpc_unauthenticated = IntCounter::new(
            "contextbay_grpc_unauthenticated_total",
            "gRPC calls refused for a missing, unknown or revoked node credential",
        )?;
        registry.register(Box::new(grpc_unauthenticated.clone()))?;
        let fleet = FleetGauges::register(&registry)?;
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            ws_sessions,
            ws_sessions_by_kind,
            events_published,
            events_dropped,
            actor_restarts,
            db_connections,
            auth_failures,
            anonymous_rejected,
            grpc_unauthenticated,
            fleet,
        })
    }

    /// Adds series owned elsewhere (a module's bus consumer) to `/metrics`.
    pub fn register(
        &self,
        collector: Box<dyn prometheus::core::Collector>,
    ) -> prometheus::Result<()> {
        self.registry.register(collector)
    }

    /// Brings the copied-in values up to date and renders the text exposition format.
    pub async fn render(&self, state: &AppState) -> anyhow::Result<String> {
        if let Ok(stats) = state.bus.stats().await {
            catch_up(&self.events_published, stats.published);
            catch_up(&self.events_dropped, stats.dropped);
            catch_up(
                &self.actor_restarts.with_label_values(&["broadcaster"]),
                stats.restarts,
            );
        }
        // Node actors (`node`, exported from the start) and every supervised background task,
        // by its name.
        self.actor_restarts
            .with_label_values(&[contextbay_actors::NODE_ACTOR]);
        for (actor, total) in state.restarts.snapshot() {
            catch_up(&self.actor_restarts.with_label_values(&[&actor]), total);
        }
        for (pool, open, idle) in state.store.pool_stats() {
            let idle = i64::try_from(idle).unwrap_or(i64::MAX);
            self.db_connections
                .with_label_values(&[pool, "idle"])
                .set(idle);
            self.db_connections
                .with_label_values(&[pool, "in_use"])
                .set(i64::from(open) - idle);
        }
        if let Ok(nodes) = state.nodes.snapshots().await {
            self.fleet.fill(&nodes);
        }
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        Ok(String::from_utf8(buf)?)
    }
}

/// Raises a counter to a total kept elsewhere (totals only grow).
fn catch_up(counter: &IntCounter, total: u64) {
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

impl FleetGauges {
    fn register(registry: &Registry) -> anyhow::Result<Self> {
        let node = ["node", "hostname"];
        let gauge = |name: &str, help: &str, labels: &[&str]| -> anyhow::Result<GaugeVec> {
            let g = GaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let node_up = IntGaugeVec::new(
            Opts::new(
                "contextbay_node_up",
                "1 for every healthy node (others are absent)",
            ),
            &node,
        )?;
        registry.register(Box::new(node_up.clone()))?;
        Ok(Self {
            node_up,
            cpu: gauge(
                "contextbay_node_cpu_percent",
                "Host CPU use, percent of all cores",
                &node,
            )?,
            mem_used: gauge(
                "contextbay_node_memory_used_bytes",
                "Host memory in use (cgroup-aware)",
                &node,
            )?,
            mem_total: gauge(
                "contextbay_node_memory_total_bytes",
                "Host memory (cgroup limit where set)",
                &node,
            )?,
            load1: gauge("contextbay_node_load1", "1-minute load average", &node)?,
            disk_used: gauge(
                "contextbay_node_disk_used_bytes",
                "Filesystem use",
                &["node", "hostname", "mount"],
            )?,
            disk_total: gauge(
                "contextbay_node_disk_total_bytes",
                "Filesystem size",
                &["node", "hostname", "mount"],
            )?,
            net_rx: gauge(
                "contextbay_node_network_receive_bytes",
                "Bytes received since boot",
                &["node", "hostname", "iface"],
            )?,
            net_tx: gauge(
                "contextbay_node_network_transmit_bytes",
                "Bytes sent since boot",
                &["node", "hostname", "iface"],
            )?,
            container_cpu: gauge(
                "contextbay_container_cpu_percent",
                "Container CPU use",
                &["node", "hostname", "container"],
            )?,
            container_mem: gauge(
                "contextbay_container_memory_used_bytes",
                "Container memory use",
                &["node", "hostname", "container"],
            )?,
            container_net_rx: gauge(
                "contextbay_container_network_receive_bytes",
                "Bytes the container received since it started (all interfaces)",
                &["node", "hostname", "container"],
            )?,
            container_net_tx: gauge(
                "contextbay_container_network_transmit_bytes",
                "Bytes the container sent since it started (all interfaces)",
                &["node", "hostname", "container"],
            )?,
            container_block_read: gauge(
                "contextbay_container_block_read_bytes",
                "Bytes the container read from block devices since it started",
                &["node", "hostname", "container"],
            )?,
            container_block_write: gauge(
                "contextbay_container_block_write_bytes",
                "Bytes the container wrote to block devices since it started",
                &["node", "hostname", "container"],
            )?,
        })
    }

    fn fill(&self, nodes: &[contextbay_actors::NodeLive]) {
        for g in [
            &self.cpu,
            &self.mem_used,
            &self.mem_total,
            &self.load1,
            &self.disk_used,
            &self.disk_total,
            &self.net_rx,
            &self.net_tx,
            &self.container_cpu,
            &self.container_mem,
            &self.container_net_rx,
            &self.container_net_tx,
            &self.container_block_read,
            &self.container_block_write,
        ] {
            g.reset();
        }
        self.node_up.reset();
        #[expect(
            clippy::cast_precision_loss,
            reason = "byte counts as float gauges, as Prometheus stores them"
        )]
        for n in nodes
            .iter()
            .filter(|n| n.status == contextbay_actors::NodeStatus::Healthy)
        {
            let id = [n.id.as_str(), n.hostname.as_str()];
            self.node_up.with_label_values(&id).set(1);
            let Some(m) = &n.metrics else { continue };
            if let Some(h) = &m.host {
                self.cpu.with_label_values(&id).set(h.cpu_percent);
                self.mem_used
                    .with_label_values(&id)
                    .set(h.memory_used_bytes as f64);
                self.mem_total
                    .with_label_values(&id)
                    .set(h.memory_total_bytes as f64);
                self.load1.with_label_values(&id).set(h.load1);
                for d in &h.disks {
                    let l = [n.id.as_str(), n.hostname.as_str(), d.mount.as_str()];
                    self.disk_used
                        .with_label_values(&l)
                        .set(d.used_bytes as f64);
                    self.disk_total
                        .with_label_values(&l)
                        .set(d.total_bytes as f64);
                }
                for i in &h.networks {
                    let l = [n.id.as_str(), n.hostname.as_str(), i.iface.as_str()];
                    self.net_rx.with_label_values(&l).set(i.rx_bytes as f64);
                    self.net_tx.with_label_values(&l).set(i.tx_bytes as f64);
                }
            }
            for c in &m.containers {
                let name = if c.name.is_empty() {
                    c.id.as_str()
                } else {
                    c.name.as_str()
                };
                let l = [n.id.as_str(), n.hostname.as_str(), name];
                self.container_cpu.with_label_values(&l).set(c.cpu_percent);
                self.container_mem
                    .with_label_values(&l)
                    .set(c.memory_used_bytes as f64);
                for (gauge, bytes) in [
                    (&self.container_net_rx, c.network_rx_bytes),
                    (&self.container_net_tx, c.network_tx_bytes),
                    (&self.container_block_read, c.block_read_bytes),
                    (&self.container_block_write, c.block_write_bytes),
                ] {
                    gauge.with_label_values(&l).set(bytes as f64);
                }
            }
        }
    }
}
