//! What every handler can reach: handles and shared services, all cheap to clone.

use std::sync::Arc;
use std::time::Instant;

use contextbay_actors::{
    BroadcasterHandle, JobsHandle, NodeRegistryHandle, Restarts, SessionRegistryHandle,
    TaskSupervisor, ThrottleHandle,
};
use tokio::sync::watch;

use crate::auth::tokens::TokenService;
use crate::config::Config;
use crate::events::EventLog;
use crate::http::routes::RouteTable;
use crate::metrics::Metrics;
use crate::secrets::SecretBox;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub tokens: Arc<TokenService>,
    pub secret_box: SecretBox,
    pub events: EventLog,
    pub bus: BroadcasterHandle,
    /// Membership of a cluster of masters (`cluster.nats_url`); `None` on a single master.
    pub cluster: Option<crate::cluster::Cluster>,
    pub throttle: ThrottleHandle,
    pub nodes: NodeRegistryHandle,
    /// Every Docker endpoint's health, kept current by the endpoint watcher.
    pub endpoint_health: contextbay_actors::EndpointRegistryHandle,
    /// The open WebSocket sessions; revocations, user changes and shutdown are pushed through it.
    pub sessions: SessionRegistryHandle,
    /// Long-running operations (stack deploy/stop/remove, …), persisted as `jobs` rows.
    pub jobs: JobsHandle,
    /// Censuses taken at once (`crate::fleet::refresh_census`). Each is tens of KiB from the
    /// worker, parsed and stored through the single writer; when a whole fleet connects at once (a
    /// master restart), taking them all together held about 1.3 MB per node until they were
    /// stored (fleet bench) and glibc kept that memory afterwards. Queued, they take a few
    /// seconds longer and cost little.
    pub census_slots: Arc<tokio::sync::Semaphore>,
    /// The master's own Docker engine (the `local` endpoint), when it has one.
    pub docker: Option<crate::docker::Engine>,
    /// The fleet's shared enrollment secret.
    pub enroll_secret: Arc<str>,
    /// The ports actually bound (they differ from the configuration when it asks for port 0).
    pub http_port: u16,
    pub grpc_port: u16,
    /// `sha256:<hex>` of the gRPC TLS certificate, when `fleet.grpc_tls` is on.
    pub grpc_fingerprint: Option<String>,
    pub metrics: Arc<Metrics>,
    pub routes: Arc<RouteTable>,
    /// Samples the audit entries of refused requests without credentials.
    pub rejections: Arc<crate::http::gate::RejectionSampler>,
    /// The outbound HTTP pool of the integration clients (Prometheus, Alertmanager, Grafana, …).
    pub integrations: crate::integrations::Integrations,
    /// The targets and rule files Prometheus reads from the data directory.
    pub prometheus_files: crate::modules::monitoring::prometheus_files::PrometheusFiles,
    /// A hash of a random password, verified for unknown users so that a login for an unknown
    /// name takes as long as one with a wrong password.
    pub dummy_hash: Arc<str>,
    /// The argon2id threads every password hash and check goes through.
    pub passwords: crate::auth::password::PasswordPool,
    /// Restart counts of actors and background tasks (`contextbay_actor_restarts_total`).
    pub restarts: Restarts,
    /// The master's background consumers, restarted with backoff when they fail.
    pub tasks: TaskSupervisor,
    /// What modules keep in memory for this master's life (`ModuleStates::get`).
    pub module_state: crate::modules::ModuleStates,
    pub started_at: Instant,
    /// Flips to `true` when the server begins to shut down; WebSocket sessions close on it.
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    /// The gRPC address workers should dial.
    pub fn grpc_url(&self) -> String {
        if self.config.fleet.grpc_public_url.is_empty() {
            let scheme = if self.grpc_fingerprint.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{}:{}", self.config.server.bind, self.grpc_port)
        } else {
            self.config.fleet.grpc_public_url.clone()
        }
    }
}
