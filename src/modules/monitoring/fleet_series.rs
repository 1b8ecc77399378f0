//! The fleet's newest samples as metric series: what `/api/metrics/query` answers from the node
//! registry's cache, under the names and labels the master exports on `/metrics`. Domain code:
//! the handlers in `http/fleet_metrics.rs` call it.

use contextbay_actors::{NodeLive, NodeStatus};
use contextbay_proto::v1::MetricsBatch;

/// Every metric the cache answers, with its extra label and meaning (the names of `/metrics`).
pub const CACHED_METRICS: &[(&str, Option<&str>, &str)] = &[
    (
        "contextbay_node_up",
        None,
        "1 for a healthy node, 0 otherwise",
    ),
    (
        "contextbay_node_cpu_percent",
        None,
        "host CPU use, percent of all cores",
    ),
    (
        "contextbay_node_memory_used_bytes",
        None,
        "host memory in use (cgroup-aware)",
    ),
    (
        "contextbay_node_memory_total_bytes",
        None,
        "host memory (cgroup limit where set)",
    ),
    ("contextbay_node_load1", None, "1-minute load average"),
    (
        "contextbay_node_disk_used_bytes",
        Some("mount"),
        "filesystem use",
    ),
    (
        "contextbay_node_disk_total_bytes",
        Some("mount"),
        "filesystem size",
    ),
    (
        "contextbay_node_network_receive_bytes",
        Some("iface"),
        "bytes received since boot",
    ),
    (
        "contextbay_node_network_transmit_bytes",
        Some("iface"),
        "bytes sent since boot",
    ),
    (
        "contextbay_container_cpu_percent",
        Some("container"),
        "container CPU use",
    ),
    (
        "contextbay_container_memory_used_bytes",
        Some("container"),
        "container memory use",
    ),
    (
        "contextbay_container_network_receive_bytes",
        Some("container"),
        "bytes the container received since it started",
    ),
    (
        "contextbay_container_network_transmit_bytes",
        Some("container"),
        "bytes the container sent since it started",
    ),
    (
        "contextbay_container_block_read_bytes",
        Some("container"),
        "bytes the container read from block devices since it started",
    ),
    (
        "contextbay_container_block_write_bytes",
        Some("container"),
        "bytes the container wrote to block devices since it started",
    ),
];

/// True when `live` is the node asked for (by id or hostname), or none was.
pub fn matches_node(live: &NodeLive, wanted: Option<&str>) -> bool {
    wanted.is_none_or(|w| live.id == w || live.hostname == w)
}

#[expect(
    clippy::cast_precision_loss,
    reason = "byte counts as float values, as Prometheus stores them"
)]
pub fn series_of(
    metric: &str,
    live: &NodeLive,
    batch: &MetricsBatch,
) -> Vec<(Option<String>, f64)> {
    let host = batch.host.as_ref();
    let one = |v: Option<f64>| v.map(|v| vec![(None, v)]).unwrap_or_default();
    match metric {
        "contextbay_node_up" => vec![(
            None,
            f64::from(u8::from(live.status == NodeStatus::Healthy)),
        )],
        "contextbay_node_cpu_percent" => one(host.map(|h| h.cpu_percent)),
        "contextbay_node_memory_used_bytes" => one(host.map(|h| h.memory_used_bytes as f64)),
        "contextbay_node_memory_total_bytes" => one(host.map(|h| h.memory_total_bytes as f64)),
        "contextbay_node_load1" => one(host.map(|h| h.load1)),
        "contextbay_node_disk_used_bytes" => host
            .map(|h| {
                h.disks
                    .iter()
                    .map(|d| (Some(d.mount.clone()), d.used_bytes as f64))
                    .collect()
            })
            .unwrap_or_default(),
        "contextbay_node_disk_total_bytes" => host
            .map(|h| {
                h.disks
                    .iter()
                    .map(|d| (Some(d.mount.clone()), d.total_bytes as f64))
                    .collect()
            })
            .unwrap_or_default(),
        "contextbay_node_network_receive_bytes" => host
            .map(|h| {
                h.networks
                    .iter()
                    .map(|n| (Some(n.iface.clone()), n.rx_bytes as f64))
                    .collect()
            })
            .unwrap_or_default(),
        "contextbay_node_network_transmit_bytes" => host
            .map(|h| {
                h.networks
                    .iter()
                    .map(|n| (Some(n.iface.clone()), n.tx_bytes as f64))
                    .collect()
            })
            .unwrap_or_default(),
        "contextbay_container_cpu_percent" => batch
            .containers
            .iter()
            .map(|c| (Some(container_name(&c.name, &c.id)), c.cpu_percent))
            .collect(),
        "contextbay_container_memory_used_bytes" => batch
            .containers
            .iter()
            .map(|c| {
                (
                    Some(container_name(&c.name, &c.id)),
                    c.memory_used_bytes as f64,
                )
            })
            .collect(),
        "contextbay_container_network_receive_bytes" => {
            per_container(batch, |c| c.network_rx_bytes)
        }
        "contextbay_container_network_transmit_bytes" => {
            per_container(batch, |c| c.network_tx_bytes)
        }
        "contextbay_container_block_read_bytes" => per_container(batch, |c| c.block_read_bytes),
        "contextbay_container_block_write_bytes" => per_container(batch, |c| c.block_write_bytes),
        _ => Vec::new(),
    }
}

/// One value per container of the batch, labelled with the container's name.
#[expect(
    clippy::cast_precision_loss,
    reason = "byte counts as float gauges, as Prometheus stores them"
)]
fn per_container(
    batch: &MetricsBatch,
    value: impl Fn(&contextbay_proto::v1::ContainerSample) -> u64,
) -> Vec<(Option<String>, f64)> {
    batch
        .containers
        .iter()
        .map(|c| (Some(container_name(&c.name, &c.id)), value(c) as f64))
        .collect()
}

pub fn container_name(name: &str, id: &str) -> String {
    if name.is_empty() {
        id.to_owned()
    } else {
        name.to_owned()
    }
}
