//! The sub-containers' event kinds.

use serde::Serialize;
use utoipa::ToSchema;

/// A sub-container's actor changed what it knows of its service: restarted it, or its health
/// changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubcontainerUpdate {
    pub name: String,
    /// `restarted`, `healthy`, `unhealthy`, `deployed` or `removed`.
    pub what: String,
    pub detail: String,
}
crate::event!(
    SubcontainerUpdate,
    "subcontainer.update",
    Admin,
    "a cb-* service was restarted by its actor, deployed, removed, or its health changed"
);

/// A sub-container was restarted too often in a short time.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubcontainerFlapping {
    pub name: String,
    /// Restarts within the window.
    pub restarts: u32,
    pub window_secs: u64,
}
crate::event!(
    SubcontainerFlapping,
    "subcontainer.flapping",
    Admin,
    "a cb-* service was restarted too often in a short time"
);
