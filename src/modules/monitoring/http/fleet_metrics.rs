//! `/api/metrics/query`, `/api/metrics/latest`, `/api/metrics/targets` (monitoring module):
//! the fleet's newest samples from ContextBay's own cache (the node registry), without
//! Prometheus.
//!
//! `query` takes one metric by the name it has on `/metrics` (`?metric=contextbay_node_cpu_percent`)
//! and optional label filters (`node` = id or hostname, `container`, `mount`, `iface`); it
//! answers one series per matching label set with the newest value and its time. History lives
//! in Prometheus: use `/api/v1/metrics/query_range` for it.

use actix_web::web;
use contextbay_proto::v1::MetricsBatch;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::Query;
use crate::http::{PageQuery, Paginated, ts};
use crate::integrations::ModuleSettings;
use crate::modules::ModuleName;
use crate::modules::monitoring::fleet_series::{CACHED_METRICS, matches_node, series_of};
use crate::modules::monitoring::prometheus_files::{MASTER_LABEL, PrometheusFiles};
use crate::state::AppState;
use std::collections::BTreeMap;

/// The names of [`CACHED_METRICS`], for the document (a unit test keeps the two equal).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CachedMetric {
    ContextbayNodeUp,
    ContextbayNodeCpuPercent,
    ContextbayNodeMemoryUsedBytes,
    ContextbayNodeMemoryTotalBytes,
    ContextbayNodeLoad1,
    ContextbayNodeDiskUsedBytes,
    ContextbayNodeDiskTotalBytes,
    ContextbayNodeNetworkReceiveBytes,
    ContextbayNodeNetworkTransmitBytes,
    ContextbayContainerCpuPercent,
    ContextbayContainerMemoryUsedBytes,
    ContextbayContainerNetworkReceiveBytes,
    ContextbayContainerNetworkTransmitBytes,
    ContextbayContainerBlockReadBytes,
    ContextbayContainerBlockWriteBytes,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CacheQuery {
    /// A metric name as on `/metrics`, e.g. `contextbay_node_cpu_percent`.
    #[param(value_type = CachedMetric, inline)]
    pub metric: String,
    /// Node id or hostname.
    pub node: Option<String>,
    pub container: Option<String>,
    pub mount: Option<String>,
    pub iface: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CachedSeries {
    /// `node`, `hostname` and the metric's own label (`mount`, `iface` or `container`).
    #[schema(value_type = Object)]
    pub labels: Map<String, Value>,
    pub value: f64,
    /// When the worker took the sample.
    pub time: String,
    /// The node's status now (`healthy`, `stale`, `offline`, `unknown`).
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CacheAnswer {
    pub metric: String,
    pub help: &'static str,
    pub series: Vec<CachedSeries>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LatestQuery {
    /// Node id or hostname; default every node.
    pub node: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TargetsQuery {
    /// 1 to 500, default 50 (of `items`, the nodes).
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LatestNode {
    pub node: String,
    pub hostname: String,
    pub status: &'static str,
    /// The newest sample, or `null` when the node has sent none since the master started.
    #[schema(value_type = Option<Object>)]
    pub sample: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetNode {
    pub node: String,
    pub hostname: String,
    pub status: &'static str,
    pub last_sample_at: Option<String>,
}

/// A page of the nodes behind the scrape target, with the target itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScrapeTargets {
    /// The nodes whose samples the master's `/metrics` exports, by hostname.
    pub items: Vec<TargetNode>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
    /// The file_sd file ContextBay writes; point a `file_sd_configs` entry at it.
    pub file: String,
    /// What the file holds: file_sd target groups.
    pub groups: Vec<TargetGroup>,
    /// The label every ContextBay target carries.
    pub labels: BTreeMap<String, String>,
}

/// A file_sd target group.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetGroup {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// Newest value of one metric per node (and per mount, interface or container).
#[utoipa::path(get, path = "/api/metrics/query", tag = "monitoring", params(CacheQuery),
    responses((status = 200, body = CacheAnswer), (status = 400, body = ErrorBody)))]
pub async fn query(
    state: web::Data<AppState>,
    query: Query<CacheQuery>,
) -> ApiResult<web::Json<CacheAnswer>> {
    let q = query.into_inner();
    let Some((name, extra, help)) = CACHED_METRICS.iter().find(|(n, _, _)| *n == q.metric) else {
        let known: Vec<&str> = CACHED_METRICS.iter().map(|(n, _, _)| *n).collect();
        return Err(ApiError::bad_request(format!(
            "unknown metric '{}'; the cache holds {}",
            q.metric,
            known.join(", ")
        )));
    };
    let wanted_extra = match *extra {
        Some("mount") => q.mount.as_deref(),
        Some("iface") => q.iface.as_deref(),
        Some("container") => q.container.as_deref(),
        _ => None,
    };
    let mut series = Vec::new();
    for live in state.nodes.snapshots().await? {
        if !matches_node(&live, q.node.as_deref()) {
            continue;
        }
        let Some(batch) = live.metrics.clone() else {
            continue;
        };
        for (label, value) in series_of(name, &live, &batch) {
            if wanted_extra.is_some_and(|w| label.as_deref() != Some(w)) {
                continue;
            }
            let mut labels = Map::new();
            labels.insert("node".into(), Value::String(live.id.clone()));
            labels.insert("hostname".into(), Value::String(live.hostname.clone()));
            if let (Some(key), Some(label)) = (extra, label) {
                labels.insert((*key).into(), Value::String(label));
            }
            series.push(CachedSeries {
                labels,
                value,
                time: ts(batch.time_unix_ms),
                status: live.status.as_str(),
            });
        }
    }
    Ok(web::Json(CacheAnswer {
        metric: (*name).to_owned(),
        help,
        series,
    }))
}

fn sample_json(batch: &MetricsBatch) -> Value {
    let host = batch.host.as_ref().map(|h| {
        json!({
            "cpu_percent": h.cpu_percent,
            "cpu_cores": h.cpu_cores,
            "memory_used_bytes": h.memory_used_bytes,
            "memory_total_bytes": h.memory_total_bytes,
            "load": [h.load1, h.load5, h.load15],
            "uptime_secs": h.uptime_secs,
            "disks": h.disks.iter().map(|d| json!({"mount": d.mount, "used_bytes": d.used_bytes, "total_bytes": d.total_bytes})).collect::<Vec<_>>(),
            "networks": h.networks.iter().map(|n| json!({"iface": n.iface, "rx_bytes": n.rx_bytes, "tx_bytes": n.tx_bytes})).collect::<Vec<_>>(),
        })
    });
    json!({
        "time": ts(batch.time_unix_ms),
        "host": host,
        "docker_available": batch.docker_available,
        "containers": batch.containers.iter().map(|c| json!({"id": c.id, "name": c.name, "cpu_percent": c.cpu_percent, "memory_used_bytes": c.memory_used_bytes, "memory_limit_bytes": c.memory_limit_bytes})).collect::<Vec<_>>(),
    })
}

/// The newest sample of every node (or of one), by hostname.
#[utoipa::path(get, path = "/api/metrics/latest", tag = "monitoring", params(LatestQuery),
    responses((status = 200, body = Paginated<LatestNode>), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No node with this id or hostname")))]
pub async fn latest(
    state: web::Data<AppState>,
    query: Query<LatestQuery>,
) -> ApiResult<web::Json<Paginated<LatestNode>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let mut items: Vec<LatestNode> = state
        .nodes
        .snapshots()
        .await?
        .into_iter()
        .filter(|l| matches_node(l, query.node.as_deref()))
        .map(|l| LatestNode {
            sample: l.metrics.as_deref().map(sample_json),
            status: l.status.as_str(),
            node: l.id,
            hostname: l.hostname,
        })
        .collect();
    items.sort_by(|a, b| {
        a.hostname
            .cmp(&b.hostname)
            .then_with(|| a.node.cmp(&b.node))
    });
    if let Some(node) = &query.node
        && items.is_empty()
    {
        return Err(ApiError::not_found(format!("no node '{node}'")));
    }
    Ok(web::Json(Paginated::of_all(items, page)))
}

/// The scrape targets ContextBay writes for Prometheus, and the nodes behind them.
#[utoipa::path(get, path = "/api/metrics/targets", tag = "monitoring", params(TargetsQuery),
    responses((status = 200, body = ScrapeTargets), (status = 400, body = ErrorBody)))]
pub async fn targets(
    state: web::Data<AppState>,
    query: Query<TargetsQuery>,
) -> ApiResult<web::Json<ScrapeTargets>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let settings = ModuleSettings::load(&state, ModuleName::Monitoring).await?;
    let address = PrometheusFiles::scrape_address(&state, &settings);
    let mut nodes: Vec<TargetNode> = state
        .nodes
        .snapshots()
        .await?
        .into_iter()
        .map(|l| TargetNode {
            last_sample_at: l.metrics.as_ref().map(|m| ts(m.time_unix_ms)),
            status: l.status.as_str(),
            node: l.id,
            hostname: l.hostname,
        })
        .collect();
    nodes.sort_by(|a, b| {
        a.hostname
            .cmp(&b.hostname)
            .then_with(|| a.node.cmp(&b.node))
    });
    let master = || BTreeMap::from([(MASTER_LABEL.0.to_owned(), MASTER_LABEL.1.to_owned())]);
    // What `PrometheusFiles::target_groups` writes.
    let groups = vec![TargetGroup {
        targets: vec![address],
        labels: master(),
    }];
    let nodes = Paginated::of_all(nodes, page);
    Ok(web::Json(ScrapeTargets {
        items: nodes.items,
        total: nodes.total,
        limit: nodes.limit,
        offset: nodes.offset,
        file: state.prometheus_files.targets_path().display().to_string(),
        groups,
        labels: master(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use CachedMetric as M;

    #[test]
    fn the_documented_metric_names_are_the_cached_ones() {
        let documented: Vec<Value> = [
            M::ContextbayNodeUp,
            M::ContextbayNodeCpuPercent,
            M::ContextbayNodeMemoryUsedBytes,
            M::ContextbayNodeMemoryTotalBytes,
            M::ContextbayNodeLoad1,
            M::ContextbayNodeDiskUsedBytes,
            M::ContextbayNodeDiskTotalBytes,
            M::ContextbayNodeNetworkReceiveBytes,
            M::ContextbayNodeNetworkTransmitBytes,
            M::ContextbayContainerCpuPercent,
            M::ContextbayContainerMemoryUsedBytes,
            M::ContextbayContainerNetworkReceiveBytes,
            M::ContextbayContainerNetworkTransmitBytes,
            M::ContextbayContainerBlockReadBytes,
            M::ContextbayContainerBlockWriteBytes,
        ]
        .iter()
        .map(|m| serde_json::to_value(m).unwrap())
        .collect();
        let cached: Vec<Value> = CACHED_METRICS
            .iter()
            .map(|(name, _, _)| Value::String((*name).to_owned()))
            .collect();
        assert_eq!(documented, cached);
        let schema =
            serde_json::to_value(<CachedMetric as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(schema["enum"], Value::Array(cached));
    }
}
