//! Volumes: list (with the containers that use them), remove (refused while in use).

use std::collections::HashMap;

use bollard::query_parameters::{ListVolumesOptions, RemoveVolumeOptions};
use serde::{Deserialize, Serialize};

use super::engine::{DockerError, Engine};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VolumeInfo {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    pub labels: HashMap<String, String>,
    /// Names of the containers (running or not) that mount it.
    pub used_by: Vec<String>,
}

impl Engine {
    pub async fn volumes(&self) -> Result<Vec<VolumeInfo>, DockerError> {
        let list = self
            .client()
            .list_volumes(None::<ListVolumesOptions>)
            .await?;
        let containers = self.containers(true).await?;
        Ok(list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| VolumeInfo {
                used_by: containers
                    .iter()
                    .filter(|c| {
                        c.mounts
                            .iter()
                            .any(|m| m.kind == "volume" && m.source == v.name)
                    })
                    .map(|c| c.name.clone())
                    .collect(),
                name: v.name,
                driver: v.driver,
                mountpoint: v.mountpoint,
                labels: v.labels,
            })
            .collect())
    }

    /// Removes a volume; 409 naming the containers while any uses it.
    pub async fn remove_volume(&self, name: &str, force: bool) -> Result<(), DockerError> {
        let users: Vec<String> = self
            .containers(true)
            .await?
            .into_iter()
            .filter(|c| {
                c.mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.source == name)
            })
            .map(|c| c.name)
            .collect();
        if !users.is_empty() {
            return Err(DockerError::Api {
                status: 409,
                message: format!("volume '{name}' is in use by {}", users.join(", ")),
            });
        }
        self.client()
            .remove_volume(name, Some(RemoveVolumeOptions { force }))
            .await?;
        Ok(())
    }
}
