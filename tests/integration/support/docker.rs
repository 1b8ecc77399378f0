//! The Docker side of the tests: the `docker` CLI, the busybox test image (built, never pulled),
//! a guard that removes what a test created, and an in-process worker whose host has fused.
//! Everything a test creates is labelled `contextbay.test=1` and sits on an `--internal` network.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::integration::harness::{Login, TestServer};

pub const IMAGE: &str = "contextbay-test/busybox:latest";

/// `docker …`, returning stdout (trimmed) or the failure.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// True when an engine answers; on CI a missing engine fails the test.
pub fn engine_available() -> bool {
    let ok = docker(&["info", "--format", "{{.ServerVersion}}"]).is_ok();
    assert!(
        ok || std::env::var("CI").is_err(),
        "CI needs a Docker engine (scripts/test starts dockerd)"
    );
    if !ok {
        eprintln!("no Docker engine; skipping outside CI");
    }
    ok
}

/// Builds the busybox test image once (no pull: `FROM scratch` + the static busybox).
pub fn ensure_image() {
    if docker(&["image", "inspect", IMAGE]).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("busybox-static is installed");
    std::fs::copy(busybox, dir.path().join("busybox")).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nLABEL contextbay.test=1\nCMD [\"/bin/sh\"]\n",
    )
    .unwrap();
    docker(&["build", "-q", "-t", IMAGE, dir.path().to_str().unwrap()]).unwrap();
}

/// Removes what a test created, even when it fails.
pub struct Cleanup {
    pub prefix: String,
    pub network: String,
}

impl Cleanup {
    pub fn new(tag: &str) -> Self {
        let prefix = format!(
            "cbt-{tag}-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let network = format!("{prefix}-net");
        docker(&[
            "network",
            "create",
            "--internal",
            "--label",
            "contextbay.test=1",
            &network,
        ])
        .unwrap();
        Self { prefix, network }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Ok(ids) = docker(&["ps", "-aq", "--filter", &format!("name={}", self.prefix)]) {
            for id in ids.lines().filter(|l| !l.is_empty()) {
                let _ = docker(&["rm", "-f", "-v", id]);
            }
        }
        let _ = docker(&["network", "rm", &self.network]);
        if let Ok(vols) = docker(&[
            "volume",
            "ls",
            "-q",
            "--filter",
            &format!("name={}", self.prefix),
        ]) {
            for v in vols.lines().filter(|l| !l.is_empty()) {
                let _ = docker(&["volume", "rm", "-f", v]);
            }
        }
    }
}

/// An in-process `contextbay worker` whose host has fused: its engine (the host's) is the agent
/// endpoint `id`. The worker stops when this is dropped.
pub struct FusedWorker {
    pub id: String,
    pub dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl FusedWorker {
    pub async fn start(s: &TestServer, admin: &Login, name: &str) -> Self {
        let host = s
            .post("/api/hosts", &admin.access, json!({"name": name}))
            .await;
        let id = host.body["id"].as_str().unwrap().to_owned();
        let dir = tempfile::tempdir().unwrap();
        let config = contextbay::worker::config::WorkerConfig {
            master_url: s.base.clone(),
            grpc_url: s.grpc_url(),
            enroll_token: host.body["enroll_token"].as_str().unwrap().to_owned(),
            shared_secret: s.config.fleet.enroll_secret.clone(),
            data_dir: dir.path().to_path_buf(),
            heartbeat_interval_secs: 1,
            hostname: format!("{name}-host"),
            ..Default::default()
        };
        let task = tokio::spawn(async move {
            let _ = contextbay::worker::run(config).await;
        });
        // Both legs report in and the host fuses by itself; its engine becomes an agent endpoint.
        let mut fused = Value::Null;
        for _ in 0..200 {
            fused = s.get(&format!("/api/hosts/{id}"), &admin.access).await.body;
            if fused["fuse"]["fused"] == true {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(fused["fuse"]["state"], "fused", "{fused:?}");
        Self { id, dir, task }
    }
}

impl Drop for FusedWorker {
    fn drop(&mut self) {
        self.task.abort();
    }
}
