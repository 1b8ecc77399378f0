//! Tools over the enrolled nodes.

use serde_json::{Map, Value, json};

use super::fleet::{failed, no_arguments};
use super::{Caller, Effect, Tool, ToolFuture};
use crate::auth::Role;
use crate::state::AppState;

pub(super) static TOOLS: &[Tool] = &[Tool {
    name: "list_nodes",
    description: "List the enrolled worker nodes: id, name, hostname, status (unknown, healthy, stale, offline), whether connected, labels, agent version, last seen",
    effect: Effect::Read,
    role: Role::Viewer,
    input_schema: no_arguments,
    run: list_nodes,
}];

fn list_nodes<'a>(state: &'a AppState, _: &'a Caller, _: Map<String, Value>) -> ToolFuture<'a> {
    Box::pin(async move {
        let hosts = state.store.hosts().enrolled().await.map_err(failed)?;
        let live =
            futures_util::future::join_all(hosts.iter().map(|h| state.nodes.snapshot(&h.id))).await;
        let mut items = Vec::with_capacity(hosts.len());
        for (h, l) in hosts.into_iter().zip(live) {
            let l = l.map_err(failed)?;
            items.push(json!({
                "id": h.id,
                "name": h.name,
                "hostname": h.hostname,
                "status": l.as_ref().map_or(contextbay_actors::NodeStatus::Unknown, |l| l.status).as_str(),
                "connected": l.as_ref().is_some_and(|l| l.connected),
                "labels": h.labels,
                "agent_version": h.agent_version,
                "last_seen_at": h.last_seen_at.map(contextbay_actors::rfc3339_from_millis),
            }));
        }
        Ok(Value::Array(items))
    })
}
