//! Live-state actors of the ContextBay master and their typed handles.
//!
//! Actors own live state; the database owns durable state. Nothing outside this crate sees an
//! `actix` type: callers hold a handle (`BroadcasterHandle`, `ThrottleHandle`, …) with async
//! methods that send with a timeout. This crate has no HTTP and no SQL.

pub mod broadcaster;
pub mod endpoint_registry;
pub mod inventory;
pub mod jobs;
pub mod node;
pub mod node_registry;
pub mod sessions;
pub mod supervisor;
pub mod throttle;

use std::time::Duration;

pub use broadcaster::{
    Broadcaster, BroadcasterHandle, BroadcasterStats, Delivery, Event, Replay, Subscription,
    TopicFilter, Uplink,
};
pub use endpoint_registry::{
    EndpointHealth, EndpointRegistry, EndpointRegistryHandle, EndpointStatus, Probe,
};
pub use inventory::{
    Container, ContainerFilter, ContainerPage, InventoryCensus, InventoryEvent, InventoryIndex,
    NodeInventory, Object, ObjectKind, PlacedContainer, Stamped,
};
pub use jobs::{
    Job, JobContext, JobFailure, JobLimits, JobSpec, JobState, JobStore, JobsHandle, SubmitError,
};
pub use node::{CommandFailure, NodeLive, NodeStatus, NodeTimings};
pub use node_registry::{
    AttachedStream, NODE_ACTOR, NodeRegistry, NodeRegistryHandle, NodeSeed, PendingResult,
    RegistryStats, RemoteStream, StreamHandle, StreamLink,
};
pub use sessions::{
    SessionCommand, SessionCounts, SessionInfo, SessionKind, SessionMailbox, SessionRegistry,
    SessionRegistryHandle, SessionTicket,
};
pub use supervisor::{Restarts, TaskInfo, TaskState, TaskSupervisor};
pub use throttle::{Limit, Throttle, ThrottleHandle};

/// How long a request path waits for an actor's reply.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// An actor did not answer: its mailbox is closed or it took longer than [`REQUEST_TIMEOUT`].
#[derive(Debug)]
pub struct ActorError(actix::MailboxError);

impl std::fmt::Display for ActorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "actor unavailable: {}", self.0)
    }
}

impl std::error::Error for ActorError {}

impl From<actix::MailboxError> for ActorError {
    fn from(err: actix::MailboxError) -> Self {
        Self(err)
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// Now, as RFC 3339 UTC with milliseconds (`2026-11-27T04:14:29.123Z`).
pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339_from_millis(i64::try_from(now.as_millis()).unwrap_or(i64::MAX))
}

/// Formats Unix milliseconds as RFC 3339 UTC (civil-from-days, proleptic Gregorian).
pub fn rfc3339_from_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (h, m, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{d:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_known_instants() {
        assert_eq!(super::rfc3339_from_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::rfc3339_from_millis(1_795_752_869_123),
            "2026-11-27T04:14:29.123Z"
        );
        assert_eq!(
            super::rfc3339_from_millis(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
