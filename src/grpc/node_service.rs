//! `NodeService`: registration, heartbeats, metrics and events from workers.

use contextbay_proto::v1::node_service_server::NodeService;
use contextbay_proto::v1::{
    EventBatch, EventKind, HeartbeatRequest, HeartbeatResponse, MetricsBatch, RegisterRequest,
    RegisterResponse, ReportAck,
};
use futures_util::StreamExt;
use serde_json::{Map, Value, json};
use tonic::{Request, Response, Status, Streaming};

use super::{RpcError, authenticate, check_node_id};
use crate::docker::events::ObjectUpdate;
use crate::state::AppState;
use crate::store::hosts::Registration;
use crate::store::now_ms;

pub struct NodeApi {
    state: AppState,
}

impl NodeApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

/// The node's security policy as the worker enforces it.
fn policy_json(stored: &Map<String, Value>) -> String {
    let policy = crate::policy::SecurityPolicy::from_stored(stored);
    serde_json::to_string(&policy).unwrap_or_default()
}

fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::internal(e)
}

#[tonic::async_trait]
impl NodeService for NodeApi {
    async fn register(
        &self,
        req: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        let node = authenticate(&self.state, &req).await?;
        let r = req.into_inner();
        check_node_id(&node, &r.node_id)?;
        if r.hostname.len() > 253 {
            return Err(RpcError::Invalid("hostname is longer than 253 characters".into()).into());
        }
        let mut hardware = Map::new();
        hardware.insert("os".into(), json!(r.os));
        hardware.insert("kernel".into(), json!(r.kernel));
        hardware.insert("arch".into(), json!(r.arch));
        hardware.insert("cpu_model".into(), json!(r.cpu_model));
        hardware.insert("cpu_cores".into(), json!(r.cpu_cores));
        hardware.insert("memory_total_bytes".into(), json!(r.memory_total_bytes));
        hardware.insert("docker_version".into(), json!(r.docker_version));
        hardware.insert("docker_api_version".into(), json!(r.docker_api_version));
        hardware.insert("uptime_secs".into(), json!(r.uptime_secs));
        let hosts = self.state.store.hosts();
        hosts
            .register(
                &node,
                &Registration {
                    hostname: r.hostname.clone(),
                    hardware,
                    agent_version: r.agent_version.clone(),
                    proto_minor: i64::from(r.proto_minor),
                },
            )
            .await
            .map_err(internal)?;
        let host = hosts.get(&node).await.map_err(internal)?;
        self.state
            .nodes
            .add(contextbay_actors::NodeSeed {
                id: node.clone(),
                hostname: r.hostname.clone(),
            })
            .await
            .map_err(internal)?;
        self.state
            .nodes
            .registered(&node, &r.hostname)
            .await
            .map_err(internal)?;
        self.state
            .events
            .publish_committed(crate::events::NodeRegistered {
                node_id: node.clone(),
                hostname: r.hostname.clone(),
                agent_version: r.agent_version.clone(),
                proto_minor: r.proto_minor,
            })
            .await;
        crate::fleet::try_fuse(&self.state, &node).await;
        Ok(Response::new(RegisterResponse {
            node_id: node,
            heartbeat_interval_secs: u32::try_from(self.state.config.fleet.heartbeat_interval_secs)
                .unwrap_or(10),
            server_time_unix_ms: now_ms(),
            master_proto_minor: contextbay_proto::PROTO_MINOR,
            last_event_seq: u64::try_from(host.last_event_seq).unwrap_or(0),
            security_policy_json: policy_json(&host.security_policy),
        }))
    }

    async fn heartbeat(
        &self,
        req: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let node = authenticate(&self.state, &req).await?;
        let hb = req.into_inner();
        check_node_id(&node, &hb.node_id)?;
        let known = self
            .state
            .nodes
            .heartbeat(&node, hb)
            .await
            .map_err(internal)?;
        if !known {
            return Err(
                RpcError::NotRegistered("register before sending heartbeats".into()).into(),
            );
        }
        let hosts = self.state.store.hosts();
        hosts.touch_seen(&node, now_ms()).await.map_err(internal)?;
        // Several masters: the master holding the worker's stream renews the node's lease.
        if self.state.cluster.is_some()
            && let Ok(Some(live)) = self.state.nodes.snapshot(&node).await
            && live.connected
        {
            crate::cluster::nodes::renew_lease(&self.state, &node).await;
        }
        let policy = hosts
            .security_policy(&node)
            .await
            .map_err(internal)?
            .unwrap_or_default();
        Ok(Response::new(HeartbeatResponse {
            ack: true,
            server_time_unix_ms: now_ms(),
            desired_interval_secs: None,
            security_policy_json: policy_json(&policy),
        }))
    }

    async fn report_metrics(
        &self,
        req: Request<Streaming<MetricsBatch>>,
    ) -> Result<Response<ReportAck>, Status> {
        let node = authenticate(&self.state, &req).await?;
        let mut stream = req.into_inner();
        let mut accepted = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            check_node_id(&node, &batch.node_id)?;
            if batch.containers.len() > 10_000 {
                return Err(
                    RpcError::Invalid("at most 10000 container samples per batch".into()).into(),
                );
            }
            self.state
                .nodes
                .metrics(&node, batch)
                .await
                .map_err(internal)?;
            accepted += 1;
        }
        Ok(Response::new(ReportAck {
            accepted,
            highest_seq: 0,
            server_time_unix_ms: now_ms(),
        }))
    }

    async fn report_events(
        &self,
        req: Request<Streaming<EventBatch>>,
    ) -> Result<Response<ReportAck>, Status> {
        let node = authenticate(&self.state, &req).await?;
        let hosts = self.state.store.hosts();
        let mut highest =
            u64::try_from(hosts.get(&node).await.map_err(internal)?.last_event_seq).unwrap_or(0);
        let mut stream = req.into_inner();
        let mut accepted = 0u64;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            check_node_id(&node, &batch.node_id)?;
            let before = highest;
            for event in batch.events {
                // Replayed events (already stored) are dropped: seq is monotonic per node.
                if event.seq <= highest {
                    continue;
                }
                highest = event.seq;
                accepted += 1;
                if let Some((_, update)) = object_update(&node, &event) {
                    if let Some(change) = update.inventory_event(event.time_unix_ms) {
                        self.state
                            .nodes
                            .inventory_event(&node, change)
                            .await
                            .map_err(internal)?;
                    }
                    self.state.events.emit_object_update(update);
                    continue;
                }
                emit_worker_event(&self.state.events, &node, &event);
            }
            if highest > before {
                hosts
                    .set_last_event_seq(&node, i64::try_from(highest).unwrap_or(i64::MAX))
                    .await
                    .map_err(internal)?;
            }
            self.state.nodes.touched(&node).await.map_err(internal)?;
        }
        Ok(Response::new(ReportAck {
            accepted,
            highest_seq: highest,
            server_time_unix_ms: now_ms(),
        }))
    }
}

/// A worker's Docker event about a container, image, volume or network: its bus kind
/// (`container.update`, …) and the one payload those have. The node's agent endpoint has the
/// node's id.
fn object_update(
    node: &str,
    e: &contextbay_proto::v1::Event,
) -> Option<(&'static str, ObjectUpdate)> {
    if EventKind::try_from(e.kind).ok() != Some(EventKind::Docker) {
        return None;
    }
    let kind = ObjectUpdate::event_kind(&e.r#type)?;
    let attributes = e
        .attributes
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Some((
        kind,
        ObjectUpdate::new(
            node,
            Some(node),
            Some(e.seq),
            &e.r#type,
            &e.actor_id,
            &e.action,
            attributes,
            e.time_unix_ms,
        ),
    ))
}

/// Maps any other worker event onto the bus: Docker events about other objects to
/// `docker.event`, security events to `security.event`, agent events to `node.agent`.
fn emit_worker_event(
    events: &crate::events::EventLog,
    node: &str,
    e: &contextbay_proto::v1::Event,
) {
    use crate::events::{DockerEvent, NodeAgent, SecurityEvent, WorkerEvent};
    let event = WorkerEvent {
        node_id: node.to_owned(),
        seq: e.seq,
        id: e.actor_id.clone(),
        r#type: e.r#type.clone(),
        action: e.action.clone(),
        attributes: e
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
        time: contextbay_actors::rfc3339_from_millis(e.time_unix_ms),
    };
    match EventKind::try_from(e.kind).unwrap_or(EventKind::Unspecified) {
        EventKind::Docker => events.emit(DockerEvent(event)),
        EventKind::Security => events.emit(SecurityEvent(event)),
        EventKind::Agent | EventKind::Unspecified => events.emit(NodeAgent(event)),
    }
}
