//! Docker operations as data: [`DockerOp`] travels to a worker inside a `DockerCall` command (or
//! runs on the master for its local engine), and [`execute`] carries it out. One executor serves
//! both, so an operation behaves the same on every endpoint.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::containers::{ContainerAction, ContainerSpec, LogQuery};
use super::engine::{DockerError, Engine};

/// A non-streaming Docker operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum DockerOp {
    Version,
    ListContainers {
        all: bool,
    },
    InspectContainer {
        id: String,
    },
    CreateContainer {
        /// Boxed: the spec is much larger than every other operation.
        spec: Box<ContainerSpec>,
    },
    ContainerAction {
        id: String,
        action: ContainerAction,
    },
    RemoveContainer {
        id: String,
        force: bool,
        volumes: bool,
    },
    ContainerLogs {
        id: String,
        query: LogQuery,
    },
    ContainerUsage,
    ListImages,
    RemoveImage {
        id: String,
        force: bool,
    },
    PruneImages {
        all: bool,
    },
    /// Pulls to completion and returns the per-layer progress it saw.
    PullImage {
        reference: String,
    },
    ListVolumes,
    RemoveVolume {
        name: String,
        force: bool,
    },
    ListNetworks,
    /// Swarm services (empty unless the engine is an active swarm manager).
    ListSwarmServices,
    RemoveSwarmService {
        id: String,
    },
    InspectNetwork {
        id: String,
    },
    RemoveNetwork {
        id: String,
    },
    /// Runs the compose CLI for a stack on the engine's host; a failed run is an outcome with
    /// `ok: false`, not an error.
    Compose {
        run: super::compose::ComposeRun,
    },
    /// Reads what a compose project on the host was made from (for adoption).
    ComposeProjectFiles {
        project: String,
    },
}

/// How long an image pull or a compose run may take through a worker.
pub const LONG_RUNNING: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl DockerOp {
    /// The name carried in `DockerCall.op`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Version => "version",
            Self::ListContainers { .. } => "list_containers",
            Self::InspectContainer { .. } => "inspect_container",
            Self::CreateContainer { .. } => "create_container",
            Self::ContainerAction { .. } => "container_action",
            Self::RemoveContainer { .. } => "remove_container",
            Self::ContainerLogs { .. } => "container_logs",
            Self::ContainerUsage => "container_usage",
            Self::ListImages => "list_images",
            Self::RemoveImage { .. } => "remove_image",
            Self::PruneImages { .. } => "prune_images",
            Self::PullImage { .. } => "pull_image",
            Self::ListVolumes => "list_volumes",
            Self::RemoveVolume { .. } => "remove_volume",
            Self::ListNetworks => "list_networks",
            Self::ListSwarmServices => "list_swarm_services",
            Self::RemoveSwarmService { .. } => "remove_swarm_service",
            Self::InspectNetwork { .. } => "inspect_network",
            Self::RemoveNetwork { .. } => "remove_network",
            Self::Compose { .. } => "compose",
            Self::ComposeProjectFiles { .. } => "compose_project_files",
        }
    }

    /// Operations that legitimately run for minutes (pulling images, compose deploys) get
    /// [`LONG_RUNNING`] through a worker instead of the fleet's default command timeout.
    pub fn long_running(&self) -> Option<std::time::Duration> {
        matches!(self, Self::PullImage { .. } | Self::Compose { .. }).then_some(LONG_RUNNING)
    }
}

fn to_value<T: Serialize>(v: T) -> Result<Value, DockerError> {
    serde_json::to_value(v).map_err(|e| DockerError::Other(e.to_string()))
}

/// Carries out `op` against `engine`.
pub async fn execute(engine: &Engine, op: DockerOp) -> Result<Value, DockerError> {
    use futures_util::StreamExt;
    match op {
        DockerOp::Version => to_value(engine.version().await?),
        DockerOp::ListContainers { all } => to_value(engine.containers(all).await?),
        DockerOp::InspectContainer { id } => engine.inspect_container(&id).await,
        DockerOp::CreateContainer { spec } => {
            spec.validate().map_err(|m| DockerError::Api {
                status: 400,
                message: m,
            })?;
            Ok(json!({"id": engine.create_container(&spec).await?}))
        }
        DockerOp::ContainerAction { id, action } => {
            engine.container_action(&id, action).await?;
            Ok(json!({"id": id, "action": action}))
        }
        DockerOp::RemoveContainer { id, force, volumes } => {
            engine.remove_container(&id, force, volumes).await?;
            Ok(json!({"id": id, "removed": true}))
        }
        DockerOp::ContainerLogs { id, query } => to_value(engine.logs(&id, &query).await?),
        DockerOp::ContainerUsage => to_value(engine.container_usage().await?),
        DockerOp::ListImages => to_value(engine.images().await?),
        DockerOp::RemoveImage { id, force } => {
            Ok(json!({"deleted": engine.remove_image(&id, force).await?}))
        }
        DockerOp::PruneImages { all } => to_value(engine.prune_images(all).await?),
        DockerOp::PullImage { reference } => {
            let mut stream = Box::pin(engine.pull(&reference));
            let mut progress = Vec::new();
            while let Some(p) = stream.next().await {
                progress.push(p?);
            }
            to_value(progress)
        }
        DockerOp::ListVolumes => to_value(engine.volumes().await?),
        DockerOp::RemoveVolume { name, force } => {
            engine.remove_volume(&name, force).await?;
            Ok(json!({"name": name, "removed": true}))
        }
        DockerOp::ListNetworks => to_value(engine.networks().await?),
        DockerOp::ListSwarmServices => to_value(engine.swarm_services().await?),
        DockerOp::RemoveSwarmService { id } => {
            engine.remove_swarm_service(&id).await?;
            Ok(json!({"id": id, "removed": true}))
        }
        DockerOp::InspectNetwork { id } => engine.inspect_network(&id).await,
        DockerOp::RemoveNetwork { id } => {
            engine.remove_network(&id).await?;
            Ok(json!({"id": id, "removed": true}))
        }
        // Progress lines are only returned at the end here: the master streams them live for
        // its own engines, and through workers with the streaming `ComposeRun` command.
        DockerOp::Compose { run } => to_value(engine.compose(&run, &mut |_| {}).await?),
        DockerOp::ComposeProjectFiles { project } => {
            to_value(engine.compose_project_files(&project).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_round_trip_as_json_with_their_names() {
        let op = DockerOp::ContainerAction {
            id: "abc".into(),
            action: ContainerAction::Stop,
        };
        let json = serde_json::to_value(&op).unwrap();
        assert_eq!(json["op"], op.name());
        assert_eq!(serde_json::from_value::<DockerOp>(json).unwrap(), op);
        assert!(serde_json::from_value::<DockerOp>(json!({"op": "format_disk"})).is_err());
    }
}
