//! Fleet operations shared by the HTTP and gRPC sides: fusing hosts and collecting censuses.

use contextbay_proto::v1::{command, command_result};
use serde_json::Value;

use crate::state::AppState;

/// Fuses the host when both legs have reported in (the worker registered, and its Docker engine
/// answered through it). Returns whether the host is fused now.
pub async fn try_fuse(state: &AppState, node: &str) -> bool {
    let hosts = state.store.hosts();
    let Ok(before) = hosts.get(node).await else {
        return false;
    };
    if before.fused_at.is_some() {
        return true;
    }
    match hosts.fuse(node).await {
        Ok(true) => {
            let hostname = before.hostname.clone().unwrap_or(before.name.clone());
            if let Err(err) = crate::endpoints::ensure_agent(state, node, &hostname).await {
                tracing::error!(%node, "creating the agent endpoint: {err:#}");
            }
            state
                .events
                .publish_committed(crate::events::HostFused {
                    host_id: node.to_owned(),
                    hostname: before.hostname.clone(),
                })
                .await;
            true
        }
        Ok(false) => false,
        Err(err) => {
            tracing::error!(%node, "fusing: {err}");
            false
        }
    }
}

/// Why a census could not be taken.
#[derive(Debug)]
pub enum CensusError {
    Command(contextbay_actors::CommandFailure),
    /// The worker answered with an error.
    Remote {
        message: String,
        code: String,
    },
    Invalid(String),
    Store(crate::store::StoreError),
}

impl std::fmt::Display for CensusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Command(e) => write!(f, "{e}"),
            Self::Remote { message, code } => {
                write!(f, "the worker failed the census ({code}): {message}")
            }
            Self::Invalid(e) => write!(f, "the worker sent an invalid census: {e}"),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

/// Asks the node for a census, stores it, and records the Docker leg when the engine answered.
/// Censuses taken at once. Each is tens of KiB from the worker, parsed and stored through the
/// single writer; when a whole fleet connects at once (a master restart), taking them all at the
/// same time held about 1.3 MB per node until they were stored (measured with the fleet bench) and
/// glibc kept that memory afterwards. Queued, they take a few seconds longer and cost little.
static CENSUS_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

pub async fn refresh_census(
    state: &AppState,
    node: &str,
) -> Result<crate::store::hosts::CensusSnapshot, CensusError> {
    let _slot = CENSUS_SLOTS
        .acquire()
        .await
        .map_err(|e| CensusError::Invalid(e.to_string()))?;
    let result = state
        .nodes
        .command(node, command::Kind::Census(contextbay_proto::v1::Census {}))
        .await
        .map_err(CensusError::Command)?;
    let data: Value = match result.outcome {
        Some(command_result::Outcome::OkJson(bytes)) => {
            serde_json::from_slice(&bytes).map_err(|e| CensusError::Invalid(e.to_string()))?
        }
        Some(command_result::Outcome::Error(e)) => {
            return Err(CensusError::Remote {
                message: e.message,
                code: e.code,
            });
        }
        None => return Err(CensusError::Invalid("empty result".into())),
    };
    if !data.is_object() {
        return Err(CensusError::Invalid("not a JSON object".into()));
    }
    let snapshot = state
        .store
        .hosts()
        .add_census(node, &data)
        .await
        .map_err(CensusError::Store)?;
    if data.get("docker").is_some_and(|d| !d.is_null()) {
        if let Err(err) = state.store.hosts().docker_answered(node).await {
            tracing::error!(%node, "recording the Docker leg: {err}");
        }
        try_fuse(state, node).await;
    }
    state
        .events
        .publish_committed(crate::events::NodeCensus {
            node_id: node.to_owned(),
            census_id: snapshot.id.clone(),
        })
        .await;
    Ok(snapshot)
}
