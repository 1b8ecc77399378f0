//! Swarm services, on engines that are swarm managers: list and remove. On any other engine the
//! list is empty, so callers can ask every endpoint.

use std::collections::BTreeMap;

use bollard::models::LocalNodeState;
use bollard::query_parameters::ListServicesOptions;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::engine::{DockerError, Engine};

/// A swarm service as ContextBay shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SwarmService {
    pub id: String,
    pub name: String,
    pub image: Option<String>,
    /// `replicated` or `global`.
    pub mode: String,
    /// Desired replicas of a replicated service.
    pub replicas: Option<u64>,
    pub labels: BTreeMap<String, String>,
    /// The `docker stack` it belongs to (`com.docker.stack.namespace`), if any.
    pub stack: Option<String>,
}

impl SwarmService {
    fn from_json(v: &Value) -> Option<Self> {
        let spec = v.get("Spec")?;
        let labels: BTreeMap<String, String> = spec
            .get("Labels")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default();
        let mode = spec.get("Mode");
        let replicas = mode
            .and_then(|m| m.pointer("/Replicated/Replicas"))
            .and_then(Value::as_u64);
        let global = mode.and_then(|m| m.get("Global")).is_some();
        Some(Self {
            id: v.get("ID")?.as_str()?.to_owned(),
            name: spec.get("Name")?.as_str()?.to_owned(),
            image: spec
                .pointer("/TaskTemplate/ContainerSpec/Image")
                .and_then(Value::as_str)
                // Images are pinned by digest in the spec; show the reference people wrote.
                .map(|i| i.split('@').next().unwrap_or(i).to_owned()),
            mode: if global { "global" } else { "replicated" }.into(),
            replicas,
            stack: labels.get("com.docker.stack.namespace").cloned(),
            labels,
        })
    }
}

impl Engine {
    /// The engine's swarm services; empty unless it is an active swarm manager.
    pub async fn swarm_services(&self) -> Result<Vec<SwarmService>, DockerError> {
        let info = self.client().info().await?;
        let swarm = info.swarm.unwrap_or_default();
        let manager = swarm.control_available.unwrap_or(false);
        if swarm.local_node_state != Some(LocalNodeState::ACTIVE) || !manager {
            return Ok(Vec::new());
        }
        let list = self
            .client()
            .list_services(None::<ListServicesOptions>)
            .await?;
        Ok(list
            .iter()
            .filter_map(|s| serde_json::to_value(s).ok())
            .filter_map(|v| SwarmService::from_json(&v))
            .collect())
    }

    pub async fn remove_swarm_service(&self, id: &str) -> Result<(), DockerError> {
        self.client().delete_service(id).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_service_as_the_engine_sends_it() {
        let v = serde_json::json!({
            "ID": "q2uldtfg3iup",
            "Spec": {
                "Name": "web",
                "Labels": {"com.docker.stack.namespace": "shop"},
                "TaskTemplate": {"ContainerSpec": {"Image": "busybox:latest@sha256:abc"}},
                "Mode": {"Replicated": {"Replicas": 3}}
            }
        });
        let s = SwarmService::from_json(&v).unwrap();
        assert_eq!(s.name, "web");
        assert_eq!(s.image.as_deref(), Some("busybox:latest"));
        assert_eq!(s.replicas, Some(3));
        assert_eq!(s.mode, "replicated");
        assert_eq!(s.stack.as_deref(), Some("shop"));
    }
}
