//! `GET /api/topology`: the master, its nodes and their Docker endpoints as a graph.

use actix_web::web;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::Page;

#[derive(Debug, Serialize, ToSchema)]
pub struct Topology {
    /// `{id, type: master|node|endpoint, label, status?}`.
    #[schema(value_type = Vec<Object>)]
    pub nodes: Vec<Value>,
    /// `{from, to, type: grpc|docker, connected}`.
    #[schema(value_type = Vec<Object>)]
    pub edges: Vec<Value>,
}

#[utoipa::path(get, path = "/api/topology", tag = "nodes", responses((status = 200, body = Topology)))]
pub async fn topology(state: web::Data<AppState>) -> ApiResult<web::Json<Topology>> {
    let hosts = state
        .store
        .hosts()
        .list(
            Page {
                limit: i64::MAX,
                offset: 0,
            },
            true,
            None,
        )
        .await?;
    let live = state.nodes.snapshots().await?;
    let mut nodes = vec![json!({"id": "master", "type": "master", "label": "ContextBay master"})];
    let mut edges = Vec::new();
    for h in hosts.items {
        let l = live.iter().find(|l| l.id == h.id);
        let status = l.map_or("unknown", |l| l.status.as_str());
        let label = h.hostname.clone().unwrap_or_else(|| h.name.clone());
        nodes.push(json!({"id": h.id, "type": "node", "label": label, "status": status}));
        edges.push(json!({"from": "master", "to": h.id, "type": "grpc", "connected": l.is_some_and(|l| l.connected)}));
        if h.docker_ok_at.is_some() {
            let endpoint = format!("agent:{}", h.id);
            let version = h
                .hardware
                .get("docker_version")
                .cloned()
                .unwrap_or(Value::Null);
            nodes.push(json!({"id": endpoint, "type": "endpoint", "label": format!("Docker on {label}"), "docker_version": version}));
            edges.push(json!({"from": h.id, "to": endpoint, "type": "docker", "connected": l.is_some_and(|l| l.connected)}));
        }
    }
    Ok(web::Json(Topology { nodes, edges }))
}
