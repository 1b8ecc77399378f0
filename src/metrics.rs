//! The master's Prometheus metrics (`GET /metrics`).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::state::AppState;

/// Every metric the master exports. Counters kept by actors are copied in at scrape time.
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub ws_sessions: IntGauge,
    events_published: IntCounter,
    events_dropped: IntCounter,
    actor_restarts: IntCounterVec,
    db_connections: IntGaugeVec,
    pub auth_failures: IntCounterVec,
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
        registry.register(Box::new(events_published.clone()))?;
        registry.register(Box::new(events_dropped.clone()))?;
        registry.register(Box::new(actor_restarts.clone()))?;
        registry.register(Box::new(db_connections.clone()))?;
        registry.register(Box::new(auth_failures.clone()))?;
        registry.register(Box::new(build_info))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            ws_sessions,
            events_published,
            events_dropped,
            actor_restarts,
            db_connections,
            auth_failures,
        })
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
        for (pool, open, idle) in state.store.pool_stats() {
            let idle = i64::try_from(idle).unwrap_or(i64::MAX);
            self.db_connections
                .with_label_values(&[pool, "idle"])
                .set(idle);
            self.db_connections
                .with_label_values(&[pool, "in_use"])
                .set(i64::from(open) - idle);
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
