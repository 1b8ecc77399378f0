//! The master's side of the job registry (`contextbay_actors::jobs`): job rows go to the store
//! and every change is published as `operation.update`. (A refused submit becomes a `409` naming
//! the operation that holds the resource: `http/operations.rs`.)

use std::sync::Arc;
use std::time::Duration;

use contextbay_actors::jobs::BoxFuture;
use contextbay_actors::{BroadcasterHandle, Job, JobLimits, JobStore, JobsHandle};

use crate::config::JobsConfig;
use crate::events::{EventLog, OperationUpdate};
use crate::store::Store;

/// Writes job rows through the store and publishes their changes on the bus.
struct StoreJobs {
    store: Store,
    events: EventLog,
}

/// The `operation.update` payload of a job.
pub fn update_payload(job: &Job) -> OperationUpdate {
    OperationUpdate {
        id: job.id.clone(),
        kind: job.kind.clone(),
        resource: job.resource.clone(),
        state: job.state.as_str().to_owned(),
        progress: job.progress,
        message: job.message.clone(),
        error: job.error.clone(),
    }
}

impl JobStore for StoreJobs {
    fn save(&self, job: Job) -> BoxFuture<Result<(), String>> {
        let store = self.store.clone();
        Box::pin(async move { store.jobs().save(&job).await.map_err(|e| e.to_string()) })
    }

    fn publish(&self, job: &Job) {
        // `emit` queues in order, so a job's updates arrive in the order they happened.
        self.events.emit(update_payload(job));
    }

    fn interrupt_expired(&self, owner: String, now: i64) -> BoxFuture<Result<Vec<Job>, String>> {
        let store = self.store.clone();
        Box::pin(async move {
            store
                .jobs()
                .interrupt_expired(&owner, now)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Starts this master's job registry under a fresh master id, after marking the operations of
/// masters that are gone `interrupted`.
pub async fn start(store: Store, bus: BroadcasterHandle, config: &JobsConfig) -> JobsHandle {
    let owner = format!("master-{}", uuid::Uuid::new_v4());
    let limits = JobLimits {
        max_running: config.max_running,
        max_per_kind: config.max_per_kind,
        lease: Duration::from_secs(config.lease_secs),
    };
    JobsHandle::start(
        owner,
        limits,
        Arc::new(StoreJobs {
            events: EventLog::new(bus, store.clone()),
            store,
        }),
    )
    .await
}

/// How long a graceful stop waits for interrupted operations to write their rows.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);
