//! `/api/nodes`: enrolled hosts with their live state, labels, security policy and census.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use contextbay_actors::{NodeLive, NodeStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::extract::{Body, Query};
use super::hosts::{FuseState, fuse_state, validate_labels};
use super::{Paginated, parse_path_id, ts};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::store::Page;
use crate::store::hosts::Host;

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeView {
    pub id: String,
    pub name: String,
    pub hostname: Option<String>,
    /// `unknown`, `healthy`, `stale` or `offline`.
    pub status: &'static str,
    /// The worker's command stream is open.
    pub connected: bool,
    #[schema(value_type = Object)]
    pub labels: Map<String, Value>,
    pub agent_version: Option<String>,
    pub proto_minor: Option<i64>,
    #[schema(value_type = Object)]
    pub hardware: Map<String, Value>,
    pub fuse: FuseState,
    pub enrolled_at: Option<String>,
    pub last_seen_at: Option<String>,
    /// The latest host sample, if any since the master started.
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<Value>,
}

fn live_metrics(live: &NodeLive) -> Option<Value> {
    let m = live.metrics.as_ref()?;
    let h = m.host.as_ref()?;
    Some(json!({
        "time": contextbay_actors::rfc3339_from_millis(m.time_unix_ms),
        "cpu_percent": h.cpu_percent,
        "cpu_cores": h.cpu_cores,
        "memory_used_bytes": h.memory_used_bytes,
        "memory_total_bytes": h.memory_total_bytes,
        "memory_available_bytes": h.memory_available_bytes,
        "memory_cgroup_limited": h.memory_cgroup_limited,
        "load": [h.load1, h.load5, h.load15],
        "uptime_secs": h.uptime_secs,
        "disks": h.disks.iter().map(|d| json!({"mount": d.mount, "device": d.device, "fs_type": d.fs_type, "used_bytes": d.used_bytes, "total_bytes": d.total_bytes})).collect::<Vec<_>>(),
        "networks": h.networks.iter().map(|n| json!({"iface": n.iface, "rx_bytes": n.rx_bytes, "tx_bytes": n.tx_bytes})).collect::<Vec<_>>(),
        "docker_available": m.docker_available,
        "containers": m.containers.iter().map(|c| json!({"id": c.id, "name": c.name, "cpu_percent": c.cpu_percent, "memory_used_bytes": c.memory_used_bytes, "memory_limit_bytes": c.memory_limit_bytes})).collect::<Vec<_>>(),
    }))
}

pub fn view(host: Host, live: Option<&NodeLive>) -> NodeView {
    NodeView {
        status: live.map_or(NodeStatus::Unknown, |l| l.status).as_str(),
        connected: live.is_some_and(|l| l.connected),
        metrics: live.and_then(live_metrics),
        fuse: fuse_state(&host),
        id: host.id,
        name: host.name,
        hostname: host.hostname,
        labels: host.labels,
        agent_version: host.agent_version,
        proto_minor: host.proto_minor,
        hardware: host.hardware,
        enrolled_at: host.enrolled_at.map(ts),
        last_seen_at: host.last_seen_at.map(ts),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListNodes {
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<i64>,
    /// Substring of the name or hostname.
    pub q: Option<String>,
    /// `unknown`, `healthy`, `stale` or `offline`.
    #[param(pattern = "^(unknown|healthy|stale|offline)$")]
    pub status: Option<String>,
    /// `key=value`: only nodes with this label.
    #[param(pattern = "=")]
    pub label: Option<String>,
}

async fn live_by_id(state: &AppState) -> ApiResult<HashMap<String, NodeLive>> {
    Ok(state
        .nodes
        .snapshots()
        .await?
        .into_iter()
        .map(|l| (l.id.clone(), l))
        .collect())
}

#[utoipa::path(get, path = "/api/nodes", tag = "nodes", params(ListNodes),
    responses((status = 200, body = Paginated<NodeView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListNodes>,
) -> ApiResult<web::Json<Paginated<NodeView>>> {
    let q = query.into_inner();
    let page = super::PageQuery::page(q.limit, q.offset)?;
    if let Some(s) = &q.status
        && !["unknown", "healthy", "stale", "offline"].contains(&s.as_str())
    {
        return Err(ApiError::bad_request(
            "status must be unknown, healthy, stale or offline",
        ));
    }
    let label = match &q.label {
        Some(l) => Some(
            l.split_once('=')
                .ok_or_else(|| ApiError::bad_request("label must be key=value"))?,
        ),
        None => None,
    };
    if q.status.is_none() && label.is_none() {
        // Only the page's nodes are asked for their live state, so a page costs the same in a
        // fleet of 50 or 5,000.
        let result = state.store.hosts().list(page, true, q.q.as_deref()).await?;
        let live = futures_util::future::join_all(
            result.items.iter().map(|h| state.nodes.snapshot(&h.id)),
        )
        .await;
        let mut items = Vec::with_capacity(result.items.len());
        for (h, l) in result.items.into_iter().zip(live) {
            items.push(view(h, l?.as_ref()));
        }
        return Ok(web::Json(Paginated {
            items,
            total: result.total,
            limit: page.limit,
            offset: page.offset,
        }));
    }
    // Filters on live state: filter every node, then page.
    let live = live_by_id(&state).await?;
    let all = state
        .store
        .hosts()
        .list(
            Page {
                limit: i64::MAX,
                offset: 0,
            },
            true,
            q.q.as_deref(),
        )
        .await?;
    let matching: Vec<NodeView> = all
        .items
        .into_iter()
        .filter(|h| label.is_none_or(|(k, v)| h.labels.get(k).and_then(Value::as_str) == Some(v)))
        .map(|h| {
            let l = live.get(&h.id);
            view(h, l)
        })
        .filter(|n| q.status.as_deref().is_none_or(|s| n.status == s))
        .collect();
    let total = i64::try_from(matching.len()).unwrap_or(i64::MAX);
    let items = matching
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(0))
        .take(usize::try_from(page.limit).unwrap_or(50))
        .collect();
    Ok(web::Json(Paginated::new(items, total, page)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FleetStatus {
    pub total: usize,
    /// Nodes by status.
    #[schema(value_type = Object)]
    pub by_status: Map<String, Value>,
    pub cpu_cores: u64,
    pub memory_total_bytes: u64,
    pub memory_used_bytes: u64,
    pub containers_running: u64,
    /// The busiest nodes: top 5 by CPU, by memory use and by fullest disk.
    #[schema(value_type = Object)]
    pub worst: Value,
}

#[utoipa::path(get, path = "/api/nodes/fleet-status", tag = "nodes", responses((status = 200, body = FleetStatus)))]
pub async fn fleet_status(state: web::Data<AppState>) -> ApiResult<web::Json<FleetStatus>> {
    let live: Vec<NodeLive> = state.nodes.snapshots().await?;
    let mut by_status = Map::new();
    for s in ["unknown", "healthy", "stale", "offline"] {
        by_status.insert(
            s.into(),
            json!(live.iter().filter(|l| l.status.as_str() == s).count()),
        );
    }
    let hosts: Vec<_> = live
        .iter()
        .filter_map(|l| Some((l, l.metrics.as_ref()?.host.as_ref()?)))
        .collect();
    let top = |mut v: Vec<(String, String, f64)>| {
        v.sort_by(|a, b| b.2.total_cmp(&a.2));
        v.into_iter()
            .take(5)
            .map(|(id, host, value)| json!({"node_id": id, "hostname": host, "value": (value * 10.0).round() / 10.0}))
            .collect::<Vec<_>>()
    };
    let pct = |used: u64, total: u64| {
        if total == 0 {
            0.0
        } else {
            used as f64 * 100.0 / total as f64
        }
    };
    let worst = json!({
        "cpu_percent": top(hosts.iter().map(|(l, h)| (l.id.clone(), l.hostname.clone(), h.cpu_percent)).collect()),
        "memory_percent": top(hosts.iter().map(|(l, h)| (l.id.clone(), l.hostname.clone(), pct(h.memory_used_bytes, h.memory_total_bytes))).collect()),
        "disk_percent": top(hosts.iter().map(|(l, h)| (l.id.clone(), l.hostname.clone(),
            h.disks.iter().map(|d| pct(d.used_bytes, d.total_bytes)).fold(0.0, f64::max))).collect()),
    });
    Ok(web::Json(FleetStatus {
        total: live.len(),
        by_status,
        cpu_cores: hosts.iter().map(|(_, h)| u64::from(h.cpu_cores)).sum(),
        memory_total_bytes: hosts.iter().map(|(_, h)| h.memory_total_bytes).sum(),
        memory_used_bytes: hosts.iter().map(|(_, h)| h.memory_used_bytes).sum(),
        containers_running: live
            .iter()
            .filter_map(|l| {
                l.heartbeat
                    .as_ref()?
                    .containers
                    .as_ref()
                    .map(|c| u64::from(c.running))
            })
            .sum(),
        worst,
    }))
}

async fn node(state: &AppState, raw: &str) -> ApiResult<Host> {
    let id = parse_path_id("node", raw)?;
    let host = state
        .store
        .hosts()
        .get(&id)
        .await
        .map_err(|_| ApiError::not_found("node not found"))?;
    if !host.enrolled {
        return Err(ApiError::not_found(
            "node not found (the host has not enrolled)",
        ));
    }
    Ok(host)
}

#[utoipa::path(get, path = "/api/nodes/{id}", tag = "nodes", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = NodeView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<NodeView>> {
    let host = node(&state, &id).await?;
    let live = state.nodes.snapshot(&host.id).await?;
    Ok(web::Json(view(host, live.as_ref())))
}

/// Remove the node: its credential is revoked, its worker cut off, and the host waits for a new
/// token. Nothing on the host is stopped.
#[utoipa::path(delete, path = "/api/nodes/{id}", tag = "nodes", params(("id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let host = node(&state, &id).await?;
    state.store.hosts().unenroll(&host.id).await?;
    state.nodes.remove(&host.id).await?;
    state
        .events
        .publish_committed(crate::events::NodeRemoved {
            node_id: host.id.clone(),
            hostname: host.hostname.clone(),
        })
        .await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutLabels {
    #[schema(schema_with = super::hosts::labels_schema)]
    pub labels: Map<String, Value>,
}

#[utoipa::path(put, path = "/api/nodes/{id}/labels", tag = "nodes", params(("id" = String, Path, format = Uuid)), request_body = PutLabels,
    responses((status = 200, body = NodeView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_labels(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<PutLabels>,
) -> ApiResult<web::Json<NodeView>> {
    let host = node(&state, &id).await?;
    let labels = body.into_inner().labels;
    validate_labels(&labels)?;
    let host = state.store.hosts().set_labels(&host.id, &labels).await?;
    state
        .events
        .publish_committed(crate::events::NodeUpdated {
            node_id: host.id.clone(),
            labels: host.labels.clone(),
        })
        .await;
    let live = state.nodes.snapshot(&host.id).await?;
    Ok(web::Json(view(host, live.as_ref())))
}

pub use crate::policy::SecurityPolicy;

#[utoipa::path(get, path = "/api/nodes/{id}/security-policy", tag = "nodes", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = SecurityPolicy), (status = 404, body = ErrorBody)))]
pub async fn get_policy(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<SecurityPolicy>> {
    let host = node(&state, &id).await?;
    Ok(web::Json(SecurityPolicy::from_stored(
        &host.security_policy,
    )))
}

/// Replace the node's policy. Operators may only tighten it; a change that allows more
/// (see [`SecurityPolicy::loosened_fields`]) needs an admin, else 403 naming the fields.
#[utoipa::path(put, path = "/api/nodes/{id}/security-policy", tag = "nodes", params(("id" = String, Path, format = Uuid)), request_body = SecurityPolicy,
    responses((status = 200, body = SecurityPolicy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_policy(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: Body<SecurityPolicy>,
) -> ApiResult<web::Json<SecurityPolicy>> {
    let host = node(&state, &id).await?;
    let policy = body.into_inner();
    policy.validate().map_err(ApiError::bad_request)?;
    let current = SecurityPolicy::from_stored(&host.security_policy);
    refuse_loosening(&principal, &current, &policy)?;
    let Value::Object(stored) = serde_json::to_value(&policy).map_err(ApiError::internal)? else {
        return Err(ApiError::internal("policy is not an object"));
    };
    state
        .store
        .hosts()
        .set_security_policy(&host.id, &stored)
        .await?;
    state
        .events
        .publish_committed(crate::events::NodePolicyUpdated {
            node_id: host.id.clone(),
            policy: policy.clone(),
        })
        .await;
    Ok(web::Json(policy))
}

/// 403 when a non-admin's `new` policy allows more than `current`, naming the fields.
pub(super) fn refuse_loosening(
    principal: &Principal,
    current: &SecurityPolicy,
    new: &SecurityPolicy,
) -> ApiResult<()> {
    if principal.has(Role::Admin) {
        return Ok(());
    }
    let loosened = current.loosened_fields(new);
    if loosened.is_empty() {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "only an admin may loosen a security policy; this change loosens {}",
        loosened.join(", ")
    )))
}

pub(super) async fn require_node(state: &AppState, raw: &str) -> ApiResult<Host> {
    node(state, raw).await
}
