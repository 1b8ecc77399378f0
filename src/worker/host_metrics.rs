//! [`HostSampler`]: one host sample (CPU, memory, disks, network, load, uptime) from `/proc`.

use contextbay_proto::v1::{DiskSample, HostSample, NetworkSample};

use super::procfs::{self, CpuTimes};

/// Keeps the previous `/proc/stat` counters so CPU usage is the share since the last sample.
/// Blocking (`statvfs` can stall on a network filesystem): call it from `spawn_blocking`.
#[derive(Debug, Default)]
pub struct HostSampler {
    prev_cpu: Option<CpuTimes>,
    cpu_cores: u32,
}

impl HostSampler {
    pub fn new() -> Self {
        let mut s = Self {
            prev_cpu: None,
            cpu_cores: procfs::cpu_info().1,
        };
        // The baseline, so the first sample already has a CPU share.
        s.prev_cpu = procfs::read("/proc/stat").and_then(|t| procfs::parse_cpu_times(&t));
        s
    }

    pub fn sample(&mut self) -> HostSample {
        let cpu = procfs::read("/proc/stat").and_then(|t| procfs::parse_cpu_times(&t));
        let cpu_percent = match (cpu, self.prev_cpu) {
            (Some(now), Some(prev)) => now.percent_since(&prev),
            _ => 0.0,
        };
        if cpu.is_some() {
            self.prev_cpu = cpu;
        }
        let mem = procfs::memory();
        let (load1, load5, load15) = procfs::read("/proc/loadavg")
            .and_then(|t| procfs::parse_loadavg(&t))
            .unwrap_or_default();
        let disks = procfs::read("/proc/mounts")
            .map(|t| procfs::parse_mounts(&t))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let (total, used, _) = procfs::filesystem_usage(&m.mount)?;
                (total > 0).then_some(DiskSample {
                    mount: m.mount,
                    device: m.device,
                    fs_type: m.fs_type,
                    used_bytes: used,
                    total_bytes: total,
                })
            })
            .collect();
        let networks = procfs::read("/proc/net/dev")
            .map(|t| procfs::parse_net_dev(&t))
            .unwrap_or_default()
            .into_iter()
            .filter(|(iface, ..)| procfs::is_reported_interface(iface))
            .map(|(iface, rx_bytes, tx_bytes)| NetworkSample {
                iface,
                rx_bytes,
                tx_bytes,
            })
            .collect();
        HostSample {
            cpu_percent,
            memory_used_bytes: mem.used,
            memory_total_bytes: mem.total,
            memory_available_bytes: mem.available,
            memory_cgroup_limited: mem.cgroup_limited,
            disks,
            networks,
            load1,
            load5,
            load15,
            uptime_secs: uptime_secs(),
            cpu_cores: self.cpu_cores,
        }
    }
}

pub fn uptime_secs() -> u64 {
    procfs::read("/proc/uptime")
        .and_then(|t| procfs::parse_uptime(&t))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_host() {
        let mut s = HostSampler::new();
        let sample = s.sample();
        assert!(sample.memory_total_bytes > 0);
        assert!(sample.memory_used_bytes <= sample.memory_total_bytes);
        assert!(sample.cpu_cores >= 1);
        assert!((0.0..=100.0).contains(&sample.cpu_percent));
        assert!(sample.uptime_secs > 0);
        assert!(sample.disks.iter().all(|d| d.used_bytes <= d.total_bytes));
    }
}
