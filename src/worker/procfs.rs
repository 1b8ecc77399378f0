//! Parsers for the Linux files the worker reads (`/proc`, `/sys/fs/cgroup`, `/etc/os-release`).
//! Each takes the file's text so it can be tested on samples; the readers at the bottom touch
//! the real files and treat a missing file as "unknown".

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Aggregate CPU counters from the first line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    pub busy: u64,
    pub total: u64,
}

impl CpuTimes {
    /// Percent of all CPUs busy between `prev` and `self` (0-100).
    pub fn percent_since(&self, prev: &CpuTimes) -> f64 {
        let total = self.total.saturating_sub(prev.total);
        if total == 0 {
            return 0.0;
        }
        let busy = self.busy.saturating_sub(prev.busy);
        (busy as f64 / total as f64 * 100.0).clamp(0.0, 100.0)
    }
}

/// `cpu  user nice system idle iowait irq softirq steal guest guest_nice`; guest time is already
/// part of user time, so it is not added again; idle and iowait count as not busy.
pub fn parse_cpu_times(stat: &str) -> Option<CpuTimes> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    if v.len() < 4 {
        return None;
    }
    let total: u64 = v.iter().take(8).sum();
    let idle = v[3] + v.get(4).copied().unwrap_or(0);
    Some(CpuTimes {
        busy: total.saturating_sub(idle),
        total,
    })
}

/// The figures of `/proc/meminfo` the worker uses, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemInfo {
    pub total: u64,
    pub available: u64,
    pub swap_total: u64,
    pub swap_free: u64,
}

pub fn parse_meminfo(text: &str) -> MemInfo {
    let mut m = MemInfo::default();
    let mut free_buffers_cached = 0u64;
    let mut have_available = false;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let kib: u64 = rest
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let bytes = kib.saturating_mul(1024);
        match key {
            "MemTotal" => m.total = bytes,
            "MemAvailable" => {
                m.available = bytes;
                have_available = true;
            }
            "MemFree" | "Buffers" | "Cached" => free_buffers_cached += bytes,
            "SwapTotal" => m.swap_total = bytes,
            "SwapFree" => m.swap_free = bytes,
            _ => {}
        }
    }
    if !have_available {
        // Kernels before 3.14 have no MemAvailable.
        m.available = free_buffers_cached.min(m.total);
    }
    m
}

/// Memory limited by a cgroup: `(limit, working set)` in bytes.
///
/// cgroup v2: `memory.max` ("max" = no limit) and `memory.current`; cgroup v1:
/// `memory.limit_in_bytes` (a huge number = no limit) and `memory.usage_in_bytes`. The working set
/// is usage minus inactive page cache (`inactive_file` / `total_inactive_file` in `memory.stat`),
/// as `docker stats` and cAdvisor count it. `None` when there is no limit below `physical`.
pub fn cgroup_memory(
    limit: &str,
    usage: &str,
    stat: Option<&str>,
    physical: u64,
) -> Option<(u64, u64)> {
    let limit: u64 = limit.trim().parse().ok()?;
    if limit == 0 || (physical > 0 && limit >= physical) {
        return None;
    }
    let usage: u64 = usage.trim().parse().ok()?;
    let inactive = stat
        .map(|s| {
            s.lines()
                .filter_map(|l| l.split_once(' '))
                .find(|(k, _)| *k == "inactive_file" || *k == "total_inactive_file")
                .and_then(|(_, v)| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        })
        .unwrap_or(0);
    Some((limit, usage.saturating_sub(inactive).min(limit)))
}

pub fn parse_loadavg(text: &str) -> Option<(f64, f64, f64)> {
    let mut it = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some((it.next()??, it.next()??, it.next()??))
}

/// Seconds since boot from `/proc/uptime`.
pub fn parse_uptime(text: &str) -> Option<u64> {
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(secs as u64)
}

/// `(interface, rx bytes, tx bytes)` from `/proc/net/dev`.
pub fn parse_net_dev(text: &str) -> Vec<(String, u64, u64)> {
    text.lines()
        .filter_map(|line| {
            let (iface, rest) = line.split_once(':')?;
            let v: Vec<u64> = rest
                .split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect();
            if v.len() < 9 {
                return None;
            }
            Some((iface.trim().to_owned(), v[0], v[8]))
        })
        .collect()
}

/// Interfaces worth reporting in metrics: not loopback, not a container's veth end.
pub fn is_reported_interface(name: &str) -> bool {
    name != "lo" && !name.starts_with("veth")
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mount {
    pub device: String,
    pub mount: String,
    pub fs_type: String,
}

const PSEUDO_FILESYSTEMS: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "tmpfs",
    "ramfs",
    "cgroup",
    "cgroup2",
    "securityfs",
    "pstore",
    "debugfs",
    "tracefs",
    "mqueue",
    "hugetlbfs",
    "fusectl",
    "configfs",
    "binfmt_misc",
    "autofs",
    "bpf",
    "nsfs",
    "rpc_pipefs",
    "efivarfs",
    "selinuxfs",
    "squashfs",
    "fuse.lxcfs",
    "fuse.gvfsd-fuse",
    "fuse.portal",
    "nfsd",
    "overlay_internal",
];

const HIDDEN_MOUNT_PREFIXES: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/lib/docker",
    "/var/lib/containers",
    "/snap",
];

/// Real filesystems from `/proc/mounts`: no pseudo filesystems, nothing under Docker's own
/// storage, one entry per mount point (the last mount over a path wins), `\040` escapes decoded.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    let mut by_mount: BTreeMap<String, Mount> = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(device), Some(mount), Some(fs_type)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let mount = unescape_mount(mount);
        if PSEUDO_FILESYSTEMS.contains(&fs_type)
            || HIDDEN_MOUNT_PREFIXES
                .iter()
                .any(|p| mount == *p || mount.starts_with(&format!("{p}/")))
        {
            continue;
        }
        by_mount.insert(
            mount.clone(),
            Mount {
                device: unescape_mount(device),
                mount,
                fs_type: fs_type.to_owned(),
            },
        );
    }
    by_mount.into_values().collect()
}

/// `/proc/mounts` writes space, tab, newline and backslash as octal escapes (`\040`).
fn unescape_mount(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match escape {
            Some(d) => {
                let v = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                out.push(v as u8);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `(model name, logical CPUs)` from `/proc/cpuinfo` (x86 `model name`, arm `Model`/`Hardware`).
pub fn parse_cpuinfo(text: &str) -> (String, u32) {
    let mut model = String::new();
    let mut fallback = String::new();
    let mut cores = 0u32;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "processor" => cores += 1,
            "model name" if model.is_empty() => model = value.to_owned(),
            "Model" | "Hardware" | "cpu model" if fallback.is_empty() => {
                fallback = value.to_owned()
            }
            _ => {}
        }
    }
    if model.is_empty() {
        model = fallback;
    }
    (model, cores)
}

/// `KEY=value` pairs of `/etc/os-release`, quotes removed.
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_owned(), v.replace("\\\"", "\""))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ListeningPort {
    pub protocol: &'static str,
    pub address: IpAddr,
    pub port: u16,
}

/// Listening sockets from `/proc/net/{tcp,tcp6,udp,udp6}`: TCP in state LISTEN (0A), UDP sockets
/// bound and unconnected (state 07, no remote address).
pub fn parse_listening(text: &str, protocol: &'static str) -> Vec<ListeningPort> {
    let tcp = protocol.starts_with("tcp");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (local, remote, state) = (f.get(1)?, f.get(2)?, f.get(3)?);
            let listening = if tcp {
                *state == "0A"
            } else {
                *state == "07" && remote.split(':').nth(1) == Some("0000")
            };
            if !listening {
                return None;
            }
            let (ip, port) = local.split_once(':')?;
            Some(ListeningPort {
                protocol,
                address: parse_proc_ip(ip)?,
                port: u16::from_str_radix(port, 16).ok()?,
            })
        })
        .collect()
}

/// The kernel prints addresses as native-endian 32-bit words in hex.
fn parse_proc_ip(hex: &str) -> Option<IpAddr> {
    match hex.len() {
        8 => {
            let word = u32::from_str_radix(hex, 16).ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(word.to_ne_bytes())))
        }
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
                chunk.copy_from_slice(&word.to_ne_bytes());
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// Reads a file under `/proc` or `/sys`; a missing or unreadable file is `None`.
pub fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The kernel's host name.
pub fn hostname() -> String {
    read("/proc/sys/kernel/hostname")
        .or_else(|| read("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

pub fn kernel_release() -> String {
    read("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

pub fn os_release() -> BTreeMap<String, String> {
    read("/etc/os-release")
        .or_else(|| read("/usr/lib/os-release"))
        .map(|t| parse_os_release(&t))
        .unwrap_or_default()
}

/// `(model, logical CPUs)`; falls back to the scheduler's view when `/proc/cpuinfo` has no
/// `processor` lines.
pub fn cpu_info() -> (String, u32) {
    let (model, cores) = read("/proc/cpuinfo")
        .map(|t| parse_cpuinfo(&t))
        .unwrap_or_default();
    let cores = if cores > 0 {
        cores
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
    };
    (model, cores)
}

/// Memory as the worker reports it: cgroup-aware.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemorySnapshot {
    pub total: u64,
    pub used: u64,
    pub available: u64,
    pub cgroup_limited: bool,
}

pub fn memory() -> MemorySnapshot {
    let info = read("/proc/meminfo")
        .map(|t| parse_meminfo(&t))
        .unwrap_or_default();
    let v2 = || {
        Some((
            read("/sys/fs/cgroup/memory.max")?,
            read("/sys/fs/cgroup/memory.current")?,
            read("/sys/fs/cgroup/memory.stat"),
        ))
    };
    let v1 = || {
        Some((
            read("/sys/fs/cgroup/memory/memory.limit_in_bytes")?,
            read("/sys/fs/cgroup/memory/memory.usage_in_bytes")?,
            read("/sys/fs/cgroup/memory/memory.stat"),
        ))
    };
    let limited = v2().or_else(v1).and_then(|(limit, usage, stat)| {
        cgroup_memory(&limit, &usage, stat.as_deref(), info.total)
    });
    match limited {
        Some((total, used)) => MemorySnapshot {
            total,
            used,
            available: total - used,
            cgroup_limited: true,
        },
        None => MemorySnapshot {
            total: info.total,
            used: info.total.saturating_sub(info.available),
            available: info.available,
            cgroup_limited: false,
        },
    }
}

/// `(total, used, available)` bytes of the filesystem at `mount`.
pub fn filesystem_usage(mount: &str) -> Option<(u64, u64, u64)> {
    let s = rustix::fs::statvfs(mount).ok()?;
    let unit = if s.f_frsize > 0 {
        s.f_frsize
    } else {
        s.f_bsize
    };
    let total = s.f_blocks.saturating_mul(unit);
    let used = s.f_blocks.saturating_sub(s.f_bfree).saturating_mul(unit);
    Some((total, used, s.f_bavail.saturating_mul(unit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percent_from_two_stat_samples() {
        let a = parse_cpu_times("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n").unwrap();
        assert_eq!(
            a,
            CpuTimes {
                busy: 200,
                total: 1000
            }
        );
        let b = parse_cpu_times("cpu  250 0 150 1400 200 0 0 0 50 0\n").unwrap();
        // busy +200, total +1000 (guest time is not counted twice).
        assert_eq!(b.percent_since(&a), 20.0);
        assert_eq!(a.percent_since(&a), 0.0);
        assert!(parse_cpu_times("intr 1 2 3").is_none());
    }

    #[test]
    fn meminfo_in_bytes_with_and_without_memavailable() {
        let m = parse_meminfo(
            "MemTotal:        8000000 kB\nMemFree:         1000000 kB\nMemAvailable:    5000000 kB\nBuffers:          100000 kB\nCached:          2000000 kB\nSwapTotal:       1000 kB\nSwapFree:        500 kB\n",
        );
        assert_eq!(m.total, 8_000_000 * 1024);
        assert_eq!(m.available, 5_000_000 * 1024);
        assert_eq!(m.swap_free, 500 * 1024);
        let old =
            parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 200 kB\n");
        assert_eq!(old.available, 350 * 1024);
    }

    #[test]
    fn cgroup_limit_replaces_physical_memory() {
        let gib = 1u64 << 30;
        let stat = "anon 1000\ninactive_file 104857600\nactive_file 5\n";
        assert_eq!(
            cgroup_memory("536870912\n", "314572800\n", Some(stat), 8 * gib),
            Some((512 << 20, 200 << 20))
        );
        // No limit ("max", or v1's huge number, or one above physical memory).
        assert_eq!(cgroup_memory("max\n", "1", None, 8 * gib), None);
        assert_eq!(
            cgroup_memory("9223372036854771712", "1", None, 8 * gib),
            None
        );
        // Usage never exceeds the limit.
        assert_eq!(cgroup_memory("100", "150", None, 8 * gib), Some((100, 100)));
    }

    #[test]
    fn loadavg_uptime_and_net_dev() {
        assert_eq!(
            parse_loadavg("0.52 0.41 0.30 2/345 6789\n"),
            Some((0.52, 0.41, 0.30))
        );
        assert_eq!(parse_loadavg("garbage"), None);
        assert_eq!(parse_uptime("12345.67 23456.78\n"), Some(12345));
        let dev = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n  eth0: 123456 100 0 0 0 0 0 0 654321 90 0 0 0 0 0 0\n";
        let parsed = parse_net_dev(dev);
        assert_eq!(parsed[1], ("eth0".to_owned(), 123_456, 654_321));
        let reported: Vec<_> = parsed
            .iter()
            .filter(|(i, ..)| is_reported_interface(i))
            .collect();
        assert_eq!(reported.len(), 1);
        assert!(!is_reported_interface("veth12ab"));
    }

    #[test]
    fn mounts_keep_real_filesystems_only() {
        let text = "\
sysfs /sys sysfs rw 0 0
proc /proc proc rw 0 0
/dev/sda1 / ext4 rw,relatime 0 0
tmpfs /run tmpfs rw 0 0
/dev/sdb1 /mnt/my\\040data xfs rw 0 0
overlay /var/lib/docker/overlay2/abc/merged overlay rw 0 0
cgroup2 /sys/fs/cgroup cgroup2 rw 0 0
/dev/sda1 / ext4 rw,relatime 0 0
";
        let m = parse_mounts(text);
        assert_eq!(
            m,
            vec![
                Mount {
                    device: "/dev/sda1".into(),
                    mount: "/".into(),
                    fs_type: "ext4".into()
                },
                Mount {
                    device: "/dev/sdb1".into(),
                    mount: "/mnt/my data".into(),
                    fs_type: "xfs".into()
                },
            ]
        );
        // Inside a container the root is an overlay and is kept.
        assert_eq!(parse_mounts("overlay / overlay rw 0 0\n").len(), 1);
    }

    #[test]
    fn cpuinfo_and_os_release() {
        let x86 = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(parse_cpuinfo(x86), ("AMD EPYC 7B13".to_owned(), 2));
        let arm = "processor : 0\nBogoMIPS : 108.00\nprocessor : 1\nHardware : BCM2835\nModel : Raspberry Pi 4 Model B Rev 1.4\n";
        assert_eq!(parse_cpuinfo(arm).0, "BCM2835");
        let os = parse_os_release(
            "# comment\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID='12'\n",
        );
        assert_eq!(os["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(os["ID"], "debian");
        assert_eq!(os["VERSION_ID"], "12");
    }

    #[test]
    fn listening_sockets_v4_v6_and_udp() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1\n   1: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 2 1\n";
        let ports = parse_listening(tcp, "tcp");
        assert_eq!(
            ports,
            vec![ListeningPort {
                protocol: "tcp",
                address: "127.0.0.1".parse().unwrap(),
                port: 8080
            }]
        );
        let tcp6 = "  sl  local_address                         remote_address                        st\n   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 0\n   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 0\n";
        let ports = parse_listening(tcp6, "tcp6");
        assert_eq!(ports[0].address, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(ports[0].port, 22);
        assert_eq!(ports[1].address, "::".parse::<IpAddr>().unwrap());
        let udp = "  sl  local_address rem_address   st\n  1: 00000000:0044 00000000:0000 07 0\n  2: 0100007F:0035 0100007F:A000 01 0\n";
        let ports = parse_listening(udp, "udp");
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].port, 68);
    }
}
