//! `GET /api/system/info` (admin).

use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct SystemInfo {
    pub version: &'static str,
    pub uptime_seconds: u64,
    /// `sqlite` or `postgres`.
    pub database: &'static str,
    pub data_dir: String,
    pub hostname: String,
    pub pid: u32,
    /// Resident memory of the master process.
    pub rss_bytes: u64,
    pub ws_sessions: i64,
    /// Open WebSocket sessions by kind (`events`, `logs`, `exec`), from the session registry.
    pub sessions: OpenSessions,
    pub events_published: u64,
    pub event_subscribers: usize,
    pub last_event_id: u64,
    /// The supervised background tasks, with their state (`running`, `backoff`, `finished`,
    /// `stopped`), restarts and last error.
    pub tasks: Vec<TaskView>,
    pub actors: ActorsInfo,
    /// This master's cluster membership (`cluster.nats_url`); absent on a single master.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::cluster::ClusterStatus>,
}

/// One supervised background task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub name: String,
    /// `running`, `backoff` (failed, waiting to restart), `finished` (ended on purpose) or
    /// `stopped`.
    pub state: String,
    pub restarts: u64,
    pub last_error: Option<String>,
}

/// The actor registries.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorsInfo {
    /// Node actors the node registry supervises (one per enrolled node).
    pub nodes: usize,
    /// Restarts of node actors after a crash.
    pub node_restarts: u64,
    /// Restart counts by actor or task name (as in `contextbay_actor_restarts_total`).
    pub restarts: std::collections::BTreeMap<String, u64>,
}

/// Open WebSocket sessions, counted by the session registry.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenSessions {
    pub total: usize,
    /// Per kind: `events` (`/api/ws`), `logs`, `exec`; every kind listed.
    pub by_kind: std::collections::BTreeMap<String, usize>,
    /// Distinct users with a session open.
    pub users: usize,
}

/// Resident set size from `/proc/self/status` (0 where it cannot be read).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[utoipa::path(get, path = "/api/system/info", tag = "system", responses((status = 200, body = SystemInfo)))]
pub async fn info(state: web::Data<AppState>) -> ApiResult<web::Json<SystemInfo>> {
    let stats = state.bus.stats().await?;
    let nodes = state.nodes.stats().await?;
    let tasks = state
        .tasks
        .list()
        .into_iter()
        .map(|t| TaskView {
            name: t.name,
            state: t.state.as_str().to_owned(),
            restarts: t.restarts,
            last_error: t.last_error,
        })
        .collect();
    let sessions = state.sessions.list().await?;
    Ok(web::Json(SystemInfo {
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started_at.elapsed().as_secs(),
        database: state.store.engine().as_str(),
        data_dir: state.config.storage.data_dir.display().to_string(),
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default(),
        pid: std::process::id(),
        rss_bytes: rss_bytes(),
        ws_sessions: state.metrics.ws_sessions.get(),
        sessions: OpenSessions {
            total: sessions.total,
            by_kind: sessions
                .by_kind
                .into_iter()
                .map(|(kind, n)| (kind.as_str().to_owned(), n))
                .collect(),
            users: sessions.users,
        },
        events_published: stats.published,
        event_subscribers: stats.subscribers,
        last_event_id: stats.last_id,
        tasks,
        actors: ActorsInfo {
            nodes: nodes.nodes,
            node_restarts: nodes.restarts,
            restarts: state.restarts.snapshot().into_iter().collect(),
        },
        cluster: state.cluster.as_ref().map(crate::cluster::Cluster::status),
    }))
}
