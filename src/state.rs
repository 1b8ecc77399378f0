//! What every handler can reach: handles and shared services, all cheap to clone.

use std::sync::Arc;
use std::time::Instant;

use contextbay_actors::{BroadcasterHandle, ThrottleHandle};
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
    pub throttle: ThrottleHandle,
    pub metrics: Arc<Metrics>,
    pub routes: Arc<RouteTable>,
    /// A hash of a random password, verified for unknown users so that a login for an unknown
    /// name takes as long as one with a wrong password.
    pub dummy_hash: Arc<str>,
    pub started_at: Instant,
    /// Flips to `true` when the server begins to shut down; WebSocket sessions close on it.
    pub shutdown: watch::Receiver<bool>,
}
