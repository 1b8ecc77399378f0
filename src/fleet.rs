//! Fleet operations shared by the HTTP and gRPC sides: fusing hosts and collecting censuses.

use contextbay_proto::v1::{command, command_result};
use serde_json::Value;

use contextbay_actors::{InventoryCensus, Object};

use crate::docker::containers::ContainerInfo;
use crate::docker::images::ImageInfo;
use crate::docker::networks::NetworkInfo;
use crate::docker::ops::DockerOp;
use crate::docker::volumes::VolumeInfo;
use crate::endpoints::{self, EndpointError};
use crate::state::AppState;
use crate::store::endpoints::StoredEndpoint;

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

/// Censuses taken at once, through [`AppState::census_slots`].
pub const CENSUS_CONCURRENCY: usize = 8;

/// Asks the node for a census, stores it, and records the Docker leg when the engine answered.
/// Waits for one of the master's census slots first.
pub async fn refresh_census(
    state: &AppState,
    node: &str,
) -> Result<crate::store::hosts::CensusSnapshot, CensusError> {
    let _slot = state
        .census_slots
        .acquire()
        .await
        .map_err(|e| CensusError::Invalid(e.to_string()))?;
    let result = crate::cluster::nodes::command(
        state,
        node,
        command::Kind::Census(contextbay_proto::v1::Census {}),
        None,
    )
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
    let has_docker = data.get("docker").is_some_and(|d| !d.is_null());
    if has_docker {
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
    drop(_slot);
    if has_docker && let Err(err) = refresh_inventory(state, node).await {
        tracing::warn!(%node, "taking the node's Docker inventory: {}", err);
    }
    Ok(snapshot)
}

/// Lists the node's containers, images, volumes and networks through its worker and replaces
/// the node's inventory with them (see `contextbay_actors::inventory`). Docker events reported
/// after this keep it current.
pub async fn refresh_inventory(state: &AppState, node: &str) -> Result<(), EndpointError> {
    let endpoint = StoredEndpoint {
        id: node.to_owned(),
        name: node.to_owned(),
        kind: "agent".into(),
        node_id: Some(node.to_owned()),
        url: None,
        tls: None,
        created_at: 0,
    };
    let taken_at_ms = contextbay_actors::now_ms();
    let (containers, images, volumes, networks) = tokio::try_join!(
        endpoints::call_as::<Vec<ContainerInfo>>(
            state,
            &endpoint,
            DockerOp::ListContainers { all: true }
        ),
        endpoints::call_as::<Vec<ImageInfo>>(state, &endpoint, DockerOp::ListImages),
        endpoints::call_as::<Vec<VolumeInfo>>(state, &endpoint, DockerOp::ListVolumes),
        endpoints::call_as::<Vec<NetworkInfo>>(state, &endpoint, DockerOp::ListNetworks),
    )?;
    let census = InventoryCensus {
        taken_at_ms,
        containers: containers
            .iter()
            .filter_map(|c| crate::docker::events::to_inventory(c).ok())
            .collect(),
        images: images
            .into_iter()
            .map(|i| Object {
                name: i.tags.first().cloned().unwrap_or_else(|| i.id.clone()),
                id: i.id.clone(),
                doc: serde_json::to_value(&i).unwrap_or_default(),
            })
            .collect(),
        volumes: volumes
            .into_iter()
            .map(|v| Object {
                id: v.name.clone(),
                name: v.name.clone(),
                doc: serde_json::to_value(&v).unwrap_or_default(),
            })
            .collect(),
        networks: networks
            .into_iter()
            .map(|n| Object {
                id: n.id.clone(),
                name: n.name.clone(),
                doc: serde_json::to_value(&n).unwrap_or_default(),
            })
            .collect(),
    };
    state
        .nodes
        .inventory_census(node, census)
        .await
        .map_err(|e| EndpointError::Unavailable(e.to_string()))?;
    Ok(())
}
