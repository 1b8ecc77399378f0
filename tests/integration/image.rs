//! The deployment artifacts: the root `Dockerfile` built here from the test-built binary
//! (through `scripts/image-context`, nothing pulled), run as a container; `compose.yaml` brought
//! up with that image; the worker's systemd unit verified.
//!
//! Containers sit on `--internal` networks labelled `contextbay.test=1`; the test process reaches
//! them by their address on that network's bridge. Images, containers, volumes and networks are
//! removed afterwards, also when a test fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::{ADMIN, PASSWORD};
use super::support::docker::{Cleanup, docker, engine_available};

const HTTP_PORT: u16 = 8080;
const UID: &str = "10001";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An image built from the root Dockerfile, removed when dropped.
struct Image {
    tag: String,
}

impl Image {
    /// `scripts/image-context` with the test-built binary into a fresh context, then
    /// `docker build -f Dockerfile` of that context.
    fn build() -> Self {
        let ctx = tempfile::tempdir().unwrap();
        let out = ctx.path().join("target/image-context");
        let script = Command::new(repo().join("scripts/image-context"))
            .arg(env!("CARGO_BIN_EXE_contextbay"))
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            script.status.success(),
            "scripts/image-context failed: {}",
            String::from_utf8_lossy(&script.stderr)
        );
        let tag = format!(
            "contextbay:test-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let image = Self { tag };
        let dockerfile = repo().join("Dockerfile");
        docker(&[
            "build",
            "-q",
            "--label",
            "contextbay.test=1",
            "-t",
            &image.tag,
            "-f",
            dockerfile.to_str().unwrap(),
            ctx.path().to_str().unwrap(),
        ])
        .unwrap();
        image
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker(&["image", "rm", "-f", &self.tag]);
    }
}

fn logs(container: &str) -> String {
    Command::new("docker")
        .args(["logs", "--tail", "60", container])
        .output()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_default()
}

/// The container's address on `network` once `GET /api/health` answers there.
async fn wait_healthy(http: &reqwest::Client, container: &str, network: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ip = docker(&[
            "inspect",
            "-f",
            &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
            container,
        ])
        .unwrap_or_default();
        if !ip.is_empty() && ip != "<no value>" {
            let base = format!("http://{ip}:{HTTP_PORT}");
            if let Ok(r) = http.get(format!("{base}/api/health")).send().await
                && r.status().is_success()
            {
                return base;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{container} did not answer /api/health within 60 s; logs:\n{}",
            logs(container)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> (StatusCode, Value) {
    let r = http.post(url).json(&body).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The real (not configured) user id of the container's main process, from the host's /proc.
fn process_uid(container: &str) -> String {
    let pid = docker(&["inspect", "-f", "{{.State.Pid}}", container]).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uids = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>();
    // Real, effective, saved and filesystem ids are all the same unprivileged user.
    assert!(uids.iter().all(|u| *u == uids[0]), "{uids:?}");
    uids[0].to_owned()
}

#[actix_web::test]
async fn the_image_runs_unprivileged_keeps_its_data_and_stops_on_sigterm() {
    if !engine_available() {
        return;
    }
    let image = Image::build();
    let c = Cleanup::new("image");
    let http = reqwest::Client::new();

    // Small: the binary and four libraries on `scratch`.
    let size: u64 = docker(&["image", "inspect", "-f", "{{.Size}}", &image.tag])
        .unwrap()
        .parse()
        .unwrap();
    eprintln!("image {} is {} MB", image.tag, size / 1_000_000);
    let user = docker(&["image", "inspect", "-f", "{{.Config.User}}", &image.tag]).unwrap();
    assert_eq!(user, format!("{UID}:{UID}"));

    let volume = format!("{}-data", c.prefix);
    docker(&["volume", "create", "--label", "contextbay.test=1", &volume]).unwrap();
    let name = format!("{}-master", c.prefix);
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        "contextbay.test=1",
        "--network",
        &c.network,
        "--read-only",
        "--tmpfs",
        "/tmp",
        "-v",
        &format!("{volume}:/data"),
        // The image's HEALTHCHECK, run every second instead of every 30 s.
        "--health-interval",
        "1s",
        "--health-start-period",
        "1s",
        &image.tag,
    ])
    .unwrap();
    let base = wait_healthy(&http, &name, &c.network).await;
    assert_eq!(process_uid(&name), UID);

    // The HEALTHCHECK command works inside the image; pointed elsewhere, it fails.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = docker(&["inspect", "-f", "{{.State.Health.Status}}", &name]).unwrap();
        if health == "healthy" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "health status {health}; {}",
            docker(&["inspect", "-f", "{{json .State.Health}}", &name]).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let down = docker(&[
        "exec",
        &name,
        "/usr/local/bin/contextbay",
        "healthcheck",
        "--url",
        "http://127.0.0.1:1/api/health",
    ]);
    assert!(down.is_err(), "{down:?}");

    // First-admin setup, written to the /data volume.
    let (status, body) = post(
        &http,
        format!("{base}/api/auth/setup"),
        json!({"username": ADMIN, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body:?}");

    // SIGTERM (docker stop) ends it cleanly, well within the stop timeout: exit status 0, not
    // the 137 of the SIGKILL that follows the timeout.
    docker(&["stop", "-t", "30", &name]).unwrap();
    let exit = docker(&["inspect", "-f", "{{.State.ExitCode}}", &name]).unwrap();
    assert_eq!(exit, "0", "logs:\n{}", logs(&name));

    // Started again on the same volume: the admin is still there (and setup is closed).
    docker(&["start", &name]).unwrap();
    let base = wait_healthy(&http, &name, &c.network).await;
    let (status, body) = post(
        &http,
        format!("{base}/api/auth/login"),
        json!({"username": ADMIN, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    let (status, _) = post(
        &http,
        format!("{base}/api/auth/setup"),
        json!({"username": "second", "password": PASSWORD}),
    )
    .await;
    assert!(status.is_client_error(), "setup ran twice: {status}");

    // The same image runs the worker agent, and checks its settings.
    let worker = docker(&[
        "run",
        "--rm",
        "--label",
        "contextbay.test=1",
        "--network",
        "none",
        &image.tag,
        "worker",
        "--master-url",
        "http://m:8080,ftp://n",
    ]);
    let err = worker.unwrap_err();
    assert!(
        err.contains("worker.master_url entry 2 ('ftp://n')"),
        "{err}"
    );
}

/// `compose.yaml` is valid, and brings up a master that answers, on the image built here
/// (a test-only override puts it on an internal, labelled network and names the image).
#[actix_web::test]
async fn compose_yaml_brings_up_a_healthy_master() {
    if !engine_available() {
        return;
    }
    let compose = repo().join("compose.yaml");
    let config = Command::new("docker-compose")
        .arg("-f")
        .arg(&compose)
        .arg("config")
        .output()
        .expect("docker-compose (v1) is installed by scripts/test");
    assert!(
        config.status.success(),
        "{}",
        String::from_utf8_lossy(&config.stderr)
    );
    let text = String::from_utf8_lossy(&config.stdout);
    assert!(
        text.contains("contextbay:latest") && text.contains("/data"),
        "{text}"
    );

    let image = Image::build();
    let c = Cleanup::new("compose");
    let dir = tempfile::tempdir().unwrap();
    let override_file = dir.path().join("compose.test.yaml");
    std::fs::write(
        &override_file,
        format!(
            "services:\n  master:\n    image: {}\n    labels:\n      contextbay.test: \"1\"\n    networks: [testnet]\nnetworks:\n  testnet:\n    external: true\n    name: {}\nvolumes:\n  data:\n    labels:\n      contextbay.test: \"1\"\n",
            image.tag, c.network
        ),
    )
    .unwrap();
    let project = c.prefix.clone();
    let _down = ComposeDown {
        compose: compose.clone(),
        override_file: override_file.clone(),
        project: project.clone(),
    };
    let up = compose_cmd(&compose, &override_file, &project)
        .args(["up", "-d", "--no-build"])
        .env("CB_PUBLISH_ADDR", "127.0.0.1")
        .env("CB_HTTP_PORT", free_port().to_string())
        .env("CB_GRPC_PORT", free_port().to_string())
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let container = docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ])
    .unwrap();
    assert!(!container.is_empty(), "no container for project {project}");
    let http = reqwest::Client::new();
    let base = wait_healthy(&http, &container, &c.network).await;
    let r = http.get(format!("{base}/api/health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(process_uid(&container), UID);
}

fn compose_cmd(compose: &Path, override_file: &Path, project: &str) -> Command {
    let mut cmd = Command::new("docker-compose");
    cmd.arg("-p")
        .arg(project)
        .arg("-f")
        .arg(compose)
        .arg("-f")
        .arg(override_file);
    cmd
}

/// A loopback port free right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `docker-compose down -v` of the test project, also when the test fails.
struct ComposeDown {
    compose: PathBuf,
    override_file: PathBuf,
    project: String,
}

impl Drop for ComposeDown {
    fn drop(&mut self) {
        let _ = compose_cmd(&self.compose, &self.override_file, &self.project)
            .args(["down", "-v", "--timeout", "10"])
            .output();
    }
}

/// The worker's systemd unit passes `systemd-analyze verify` (with the binary it names put in
/// place for the check: a private copy of the unit pointing at the test-built binary).
#[test]
fn the_worker_unit_verifies() {
    let unit = std::fs::read_to_string(repo().join("deploy/contextbay-worker.service")).unwrap();
    for needed in [
        "Restart=always",
        "SupplementaryGroups=docker",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "StateDirectory=contextbay-worker",
        "ExecStart=/usr/local/bin/contextbay worker",
    ] {
        assert!(unit.contains(needed), "the unit lacks {needed}");
    }
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if analyze.is_err() {
        assert!(
            std::env::var("CI").is_err(),
            "CI needs systemd-analyze (Debian package systemd) to verify the worker unit"
        );
        eprintln!("no systemd-analyze; skipping outside CI");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("contextbay-worker.service");
    std::fs::write(
        &copy,
        unit.replace(
            "/usr/local/bin/contextbay",
            env!("CARGO_BIN_EXE_contextbay"),
        ),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Only findings about this unit count (verify also reports on units it pulls in).
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("contextbay-worker.service"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{stderr}");
}
