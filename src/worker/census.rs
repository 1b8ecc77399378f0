//! The host census answered to the master's `Census` command: OS, kernel, CPU, memory,
//! filesystems, network interfaces, listening ports, installed packages, Docker and running
//! services. Sent as JSON; every section is best-effort (a missing tool leaves it empty and
//! names the problem in `errors`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio::process::Command;

use super::procfs::{self, ListeningPort};
use crate::docker::Engine;

/// Longest time one external tool (dpkg-query, rpm, apk, systemctl) may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize)]
pub struct Census {
    pub collected_at_unix_ms: i64,
    pub hostname: String,
    /// `/etc/os-release` as key/value pairs (`PRETTY_NAME`, `ID`, `VERSION_ID`, ...).
    pub os_release: BTreeMap<String, String>,
    pub kernel: String,
    pub arch: String,
    pub cpu: CpuCensus,
    pub memory: MemoryCensus,
    pub filesystems: Vec<FilesystemCensus>,
    pub network_interfaces: Vec<InterfaceCensus>,
    pub listening_ports: Vec<ListeningPort>,
    pub packages: PackagesCensus,
    pub docker: Option<DockerCensus>,
    /// Running systemd services; `None` without systemd.
    pub services: Option<Vec<ServiceCensus>>,
    /// Sections that could not be collected, with the reason.
    pub errors: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct CpuCensus {
    pub model: String,
    pub cores: u32,
}

#[derive(Debug, Serialize)]
pub struct MemoryCensus {
    pub total_bytes: u64,
    pub available_bytes: u64,
    pub cgroup_limited: bool,
    pub swap_total_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct FilesystemCensus {
    pub device: String,
    pub mount: String,
    pub fs_type: String,
    pub total_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct InterfaceCensus {
    pub name: String,
    pub mac: String,
    pub mtu: Option<u32>,
    pub state: String,
    /// `address/prefix`, e.g. `192.168.1.10/24`.
    pub addresses: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct PackagesCensus {
    /// `dpkg`, `rpm`, `apk`, or empty when none exists.
    pub manager: String,
    pub items: Vec<Package>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Package {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Serialize)]
pub struct DockerCensus {
    pub version: String,
    pub api_version: String,
    /// `docker info` as the engine returns it.
    pub info: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceCensus {
    pub unit: String,
    pub description: String,
}

/// Collects the census. `/proc` and `statvfs` reads run on the blocking pool; the package and
/// service listings are child processes.
pub async fn collect(docker_socket: &Path, hostname: String) -> Census {
    let mut errors = BTreeMap::new();
    let local = tokio::task::spawn_blocking(collect_local).await;
    let local = match local {
        Ok(l) => l,
        Err(e) => {
            errors.insert("local".into(), format!("collecting host facts failed: {e}"));
            LocalFacts::default()
        }
    };
    let packages = match packages().await {
        Ok(p) => p,
        Err(e) => {
            errors.insert("packages".into(), e);
            PackagesCensus::default()
        }
    };
    let services = match services().await {
        Ok(s) => s,
        Err(e) => {
            errors.insert("services".into(), e);
            None
        }
    };
    let docker = match docker(docker_socket).await {
        Ok(d) => Some(d),
        Err(e) => {
            errors.insert("docker".into(), e);
            None
        }
    };
    Census {
        collected_at_unix_ms: super::now_unix_ms(),
        hostname,
        os_release: local.os_release,
        kernel: local.kernel,
        arch: std::env::consts::ARCH.to_owned(),
        cpu: CpuCensus {
            model: local.cpu_model,
            cores: local.cpu_cores,
        },
        memory: local.memory,
        filesystems: local.filesystems,
        network_interfaces: local.interfaces,
        listening_ports: local.ports,
        packages,
        docker,
        services,
        errors,
    }
}

#[derive(Debug)]
struct LocalFacts {
    os_release: BTreeMap<String, String>,
    kernel: String,
    cpu_model: String,
    cpu_cores: u32,
    memory: MemoryCensus,
    filesystems: Vec<FilesystemCensus>,
    interfaces: Vec<InterfaceCensus>,
    ports: Vec<ListeningPort>,
}

impl Default for LocalFacts {
    fn default() -> Self {
        Self {
            os_release: BTreeMap::new(),
            kernel: String::new(),
            cpu_model: String::new(),
            cpu_cores: 0,
            memory: MemoryCensus {
                total_bytes: 0,
                available_bytes: 0,
                cgroup_limited: false,
                swap_total_bytes: 0,
            },
            filesystems: Vec::new(),
            interfaces: Vec::new(),
            ports: Vec::new(),
        }
    }
}

fn collect_local() -> LocalFacts {
    let (cpu_model, cpu_cores) = procfs::cpu_info();
    let mem = procfs::memory();
    let swap_total_bytes = procfs::read("/proc/meminfo")
        .map(|t| procfs::parse_meminfo(&t).swap_total)
        .unwrap_or(0);
    let filesystems = procfs::read("/proc/mounts")
        .map(|t| procfs::parse_mounts(&t))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| {
            let (total, used, available) = procfs::filesystem_usage(&m.mount)?;
            Some(FilesystemCensus {
                device: m.device,
                mount: m.mount,
                fs_type: m.fs_type,
                total_bytes: total,
                used_bytes: used,
                available_bytes: available,
            })
        })
        .collect();
    let mut ports: Vec<ListeningPort> = ["tcp", "tcp6", "udp", "udp6"]
        .into_iter()
        .flat_map(|proto| {
            procfs::read(&format!("/proc/net/{proto}"))
                .map(|t| procfs::parse_listening(&t, proto))
                .unwrap_or_default()
        })
        .collect();
    ports.sort();
    ports.dedup();
    LocalFacts {
        os_release: procfs::os_release(),
        kernel: procfs::kernel_release(),
        cpu_model,
        cpu_cores,
        memory: MemoryCensus {
            total_bytes: mem.total,
            available_bytes: mem.available,
            cgroup_limited: mem.cgroup_limited,
            swap_total_bytes,
        },
        filesystems,
        interfaces: interfaces(),
        ports,
    }
}

fn interfaces() -> Vec<InterfaceCensus> {
    let mut by_name: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
        for entry in dir.flatten() {
            by_name
                .entry(entry.file_name().to_string_lossy().into_owned())
                .or_default();
        }
    }
    for iface in if_addrs::get_if_addrs().unwrap_or_default() {
        let addr = match &iface.addr {
            if_addrs::IfAddr::V4(a) => format!("{}/{}", a.ip, a.prefixlen),
            if_addrs::IfAddr::V6(a) => format!("{}/{}", a.ip, a.prefixlen),
        };
        by_name.entry(iface.name.clone()).or_default().push(addr);
    }
    by_name
        .into_iter()
        .map(|(name, addresses)| {
            let sys = |file: &str| {
                procfs::read(&format!("/sys/class/net/{name}/{file}"))
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default()
            };
            InterfaceCensus {
                mac: sys("address"),
                mtu: sys("mtu").parse().ok(),
                state: sys("operstate"),
                name,
                addresses,
            }
        })
        .collect()
}

async fn docker(socket: &Path) -> Result<DockerCensus, String> {
    let engine = Engine::connect(socket).map_err(|e| e.to_string())?;
    let version = engine.version().await.map_err(|e| e.to_string())?;
    let info = engine.info().await.map_err(|e| e.to_string())?;
    Ok(DockerCensus {
        version: version.version,
        api_version: version.api_version,
        info,
    })
}

/// A package manager: its name, the listing command and the parser of its output.
type PackageTool = (
    &'static str,
    &'static str,
    &'static [&'static str],
    fn(&str) -> Vec<Package>,
);

/// Installed packages from whichever package manager exists (dpkg, rpm, apk).
async fn packages() -> Result<PackagesCensus, String> {
    let (manager, program, args, parse): PackageTool = if find_program("dpkg-query").is_some() {
        (
            "dpkg",
            "dpkg-query",
            &[
                "-W",
                "-f",
                "${db:Status-Abbrev}\t${binary:Package}\t${Version}\n",
            ],
            parse_dpkg,
        )
    } else if find_program("rpm").is_some() {
        (
            "rpm",
            "rpm",
            &["-qa", "--qf", "%{NAME}\t%{VERSION}-%{RELEASE}\n"],
            parse_rpm,
        )
    } else if find_program("apk").is_some() {
        ("apk", "apk", &["info", "-v"], parse_apk)
    } else {
        return Ok(PackagesCensus::default());
    };
    let out = run_tool(program, args).await?;
    let mut items = parse(&out);
    items.sort();
    Ok(PackagesCensus {
        manager: manager.to_owned(),
        items,
    })
}

async fn services() -> Result<Option<Vec<ServiceCensus>>, String> {
    if find_program("systemctl").is_none() || !Path::new("/run/systemd/system").exists() {
        return Ok(None);
    }
    let args = [
        "list-units",
        "--type=service",
        "--state=running",
        "--no-legend",
        "--plain",
        "--no-pager",
    ];
    let out = run_tool("systemctl", &args).await?;
    Ok(Some(parse_systemctl_units(&out)))
}

async fn run_tool(program: &str, args: &[&str]) -> Result<String, String> {
    let child = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(TOOL_TIMEOUT, child)
        .await
        .map_err(|_| format!("{program} took longer than {}s", TOOL_TIMEOUT.as_secs()))?
        .map_err(|e| format!("running {program}: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "{program} exited with {}: {}",
            out.status,
            stderr.trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_else(|| {
            [
                "/usr/local/sbin",
                "/usr/local/bin",
                "/usr/sbin",
                "/usr/bin",
                "/sbin",
                "/bin",
            ]
            .iter()
            .map(PathBuf::from)
            .collect()
        })
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `<status>\t<name>\t<version>` lines; only installed packages (status `ii`, `hi`).
pub fn parse_dpkg(text: &str) -> Vec<Package> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split('\t');
            let (status, name, version) = (f.next()?, f.next()?, f.next()?);
            (status.as_bytes().get(1) == Some(&b'i') && !name.is_empty()).then(|| Package {
                name: name.to_owned(),
                version: version.to_owned(),
            })
        })
        .collect()
}

/// `<name>\t<version>-<release>` lines.
pub fn parse_rpm(text: &str) -> Vec<Package> {
    text.lines()
        .filter_map(|line| {
            let (name, version) = line.split_once('\t')?;
            (!name.is_empty()).then(|| Package {
                name: name.to_owned(),
                version: version.trim().to_owned(),
            })
        })
        .collect()
}

/// `apk info -v` prints `<name>-<version>-r<release>`, where the name may contain dashes.
pub fn parse_apk(text: &str) -> Vec<Package> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let mut parts = line.rsplitn(3, '-');
            let (release, version, name) = (parts.next()?, parts.next()?, parts.next()?);
            let looks_right = release.starts_with('r')
                && version.starts_with(|c: char| c.is_ascii_digit())
                && !name.is_empty();
            looks_right.then(|| Package {
                name: name.to_owned(),
                version: format!("{version}-{release}"),
            })
        })
        .collect()
}

/// `unit load active sub description…` lines of `systemctl list-units --plain --no-legend`.
pub fn parse_systemctl_units(text: &str) -> Vec<ServiceCensus> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let unit = f.next()?.trim_start_matches('●').to_owned();
            let _ = (f.next()?, f.next()?, f.next()?);
            let description = f.collect::<Vec<_>>().join(" ");
            unit.ends_with(".service")
                .then_some(ServiceCensus { unit, description })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, version: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn dpkg_lists_installed_packages_only() {
        let text =
            "ii \tbash\t5.2.15-2+b2\nrc \told-thing\t1.0\nhi \tlibc6:amd64\t2.36-9\n\tbroken\n";
        assert_eq!(
            parse_dpkg(text),
            vec![pkg("bash", "5.2.15-2+b2"), pkg("libc6:amd64", "2.36-9")]
        );
    }

    #[test]
    fn rpm_and_apk_formats() {
        assert_eq!(
            parse_rpm("bash\t5.1.8-6.el9\nopenssl-libs\t3.0.7-24.el9\n"),
            vec![
                pkg("bash", "5.1.8-6.el9"),
                pkg("openssl-libs", "3.0.7-24.el9")
            ]
        );
        assert_eq!(
            parse_apk("musl-1.2.4-r2\npy3-setuptools-68.0.0-r0\nWARNING: noise\n"),
            vec![pkg("musl", "1.2.4-r2"), pkg("py3-setuptools", "68.0.0-r0")]
        );
    }

    #[test]
    fn systemctl_running_services() {
        let text = "cron.service loaded active running Regular background program processing daemon\nssh.service   loaded active running OpenBSD Secure Shell server\n";
        let s = parse_systemctl_units(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].unit, "ssh.service");
        assert_eq!(s[1].description, "OpenBSD Secure Shell server");
    }

    #[tokio::test]
    async fn census_of_this_host_serialises() {
        let c = collect(Path::new("/nonexistent/docker.sock"), "h1".into()).await;
        assert_eq!(c.hostname, "h1");
        assert!(c.cpu.cores >= 1);
        assert!(c.memory.total_bytes > 0);
        assert!(c.docker.is_none());
        assert!(c.errors.contains_key("docker"));
        let json = serde_json::to_value(&c).unwrap();
        assert!(
            json["network_interfaces"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        );
        if find_program("dpkg-query").is_some() {
            assert_eq!(json["packages"]["manager"], "dpkg");
            assert!(c.packages.items.iter().any(|p| p.name.starts_with("libc6")));
        }
    }
}
