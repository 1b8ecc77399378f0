//! Networks: list, inspect, remove (refused while containers are attached).

use std::collections::HashMap;

use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptions};
use serde::{Deserialize, Serialize};

use super::engine::{DockerError, Engine};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub scope: String,
    pub internal: bool,
    pub labels: HashMap<String, String>,
    /// Names of attached containers.
    pub containers: Vec<String>,
}

/// Networks Docker creates and needs.
const BUILT_IN: &[&str] = &["bridge", "host", "none"];

impl Engine {
    pub async fn networks(&self) -> Result<Vec<NetworkInfo>, DockerError> {
        let list = self
            .client()
            .list_networks(None::<ListNetworksOptions>)
            .await?;
        let containers = self.containers(true).await?;
        Ok(list
            .into_iter()
            .map(|n| {
                let name = n.name.unwrap_or_default();
                NetworkInfo {
                    containers: containers
                        .iter()
                        .filter(|c| c.networks.contains(&name))
                        .map(|c| c.name.clone())
                        .collect(),
                    id: n.id.unwrap_or_default(),
                    driver: n.driver.unwrap_or_default(),
                    scope: n.scope.unwrap_or_default(),
                    internal: n.internal.unwrap_or(false),
                    labels: n.labels.unwrap_or_default(),
                    name,
                }
            })
            .collect())
    }

    pub async fn inspect_network(&self, id: &str) -> Result<serde_json::Value, DockerError> {
        let n = self
            .client()
            .inspect_network(id, None::<InspectNetworkOptions>)
            .await?;
        serde_json::to_value(n).map_err(|e| DockerError::Other(e.to_string()))
    }

    /// Removes a network; 409 while containers are attached or for Docker's own networks.
    pub async fn remove_network(&self, id: &str) -> Result<(), DockerError> {
        let n = self
            .client()
            .inspect_network(id, None::<InspectNetworkOptions>)
            .await?;
        let name = n.name.clone().unwrap_or_default();
        if BUILT_IN.contains(&name.as_str()) {
            return Err(DockerError::Api {
                status: 409,
                message: format!("'{name}' is a built-in network"),
            });
        }
        let attached: Vec<String> = n
            .containers
            .unwrap_or_default()
            .values()
            .filter_map(|c| c.name.clone())
            .collect();
        if !attached.is_empty() {
            return Err(DockerError::Api {
                status: 409,
                message: format!("network '{name}' is in use by {}", attached.join(", ")),
            });
        }
        self.client().remove_network(id).await?;
        Ok(())
    }
}
