//! Worker failover across master URLs: a real `contextbay worker` process given two masters
//! moves to the second one when its master goes away.
//!
//! The two masters are two in-process servers sharing one data directory, so one SQLite
//! database (WAL mode, a busy timeout): a node enrolled through one is known to both. Each keeps
//! its own in-memory view of which workers hold a command stream with it (`connected` in
//! `GET /api/nodes/{id}`), which is what tells where the worker is.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::Stdio;

use contextbay::Config;
use reqwest::StatusCode;
use serde_json::json;

use super::harness::{ADMIN, Login, PASSWORD, TestServer, eventually};

/// The status of node `id` as `s` sees it, and whether it holds a command stream with `s`;
/// `("", false)` while the node has not enrolled.
async fn connected_here(s: &TestServer, token: &str, id: &str) -> (String, bool) {
    let r = s.get(&format!("/api/nodes/{id}"), token).await;
    if r.status == StatusCode::NOT_FOUND {
        return (String::new(), false);
    }
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (
        r.body["status"].as_str().unwrap_or_default().to_owned(),
        r.body["connected"] == true,
    )
}

#[actix_web::test]
async fn a_worker_moves_to_the_next_master_when_its_master_goes_away() {
    let shared = tempfile::tempdir().unwrap();
    let data_dir: PathBuf = shared.path().to_path_buf();
    // One store for both: the shared directory's SQLite file, or on PostgreSQL the database
    // that belongs to the shared directory.
    let database = super::support::postgres::database_url(&data_dir);
    let tweak = |c: &mut Config| {
        c.storage.data_dir.clone_from(&data_dir);
        if let Some(url) = &database {
            c.storage.database_url.clone_from(url);
        }
        c.fleet.heartbeat_interval_secs = 1;
    };
    let a = TestServer::start_with(tweak).await;
    let b = TestServer::start_with(tweak).await;
    let admin = a.setup().await;
    // Both masters read the same users.
    let on_b = b.login(ADMIN, PASSWORD).await;
    assert_eq!(on_b.status, StatusCode::OK, "{:?}", on_b.body);
    let admin_b = Login::from(&on_b.body);

    let host = a
        .post("/api/hosts", &admin.access, json!({"name": "failover"}))
        .await;
    assert_eq!(host.status, StatusCode::CREATED, "{:?}", host.body);
    let id = host.body["id"].as_str().unwrap().to_owned();
    let token = host.body["enroll_token"].as_str().unwrap().to_owned();

    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("worker.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_contextbay"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CB_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    // The master URLs as a repeated flag, their gRPC URLs as one comma-separated value.
    let worker = cmd
        .arg("worker")
        .args(["--master-url", &a.base, "--master-url", &b.base])
        .args(["--grpc-url", &format!("{},{}", a.grpc_url(), b.grpc_url())])
        .arg(format!("--enroll-token={token}"))
        .args(["--shared-secret", &a.config.fleet.enroll_secret])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--heartbeat-interval", "1"])
        .args(["--docker-socket", "/nonexistent/docker.sock"])
        .env("CB_WORKER__HOSTNAME", "failover")
        .env("CB_WORKER__RECONNECT_MIN_MS", "200")
        .env("CB_WORKER__RECONNECT_MAX_MS", "1000")
        .env("CB_WORKER__LOG_LEVEL", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Shared with the polling closures below, which check that it is still running.
    let worker = RefCell::new(worker);
    let logs = || std::fs::read_to_string(&log_path).unwrap_or_default();

    // The worker enrolls through the first master and connects to it.
    eventually(
        30,
        "the worker healthy and connected on master A",
        || async {
            assert!(
                worker.borrow_mut().try_wait().unwrap().is_none(),
                "the worker exited:\n{}",
                logs()
            );
            let (status, connected) = connected_here(&a, &admin.access, &id).await;
            (status == "healthy" && connected).then_some(())
        },
    )
    .await;
    // B knows the node (same store) but has no stream with it.
    let (_, on_b_connected) = connected_here(&b, &admin_b.access, &id).await;
    assert!(!on_b_connected, "the worker should be on A only");

    a.stop().await;

    // The worker moves to B, which now holds its stream and reports it healthy.
    eventually(
        30,
        "the worker healthy and connected on master B",
        || async {
            assert!(
                worker.borrow_mut().try_wait().unwrap().is_none(),
                "the worker exited:\n{}",
                logs()
            );
            let (status, connected) = connected_here(&b, &admin_b.access, &id).await;
            (status == "healthy" && connected).then_some(())
        },
    )
    .await;
    // And says so in its log: which master it registered with.
    let text = logs();
    let on_b = text
        .lines()
        .filter(|l| l.contains("registered with the master"))
        .any(|l| l.contains(&b.grpc_url()));
    assert!(on_b, "no registration with B in the log:\n{text}");

    worker.into_inner().kill().await.unwrap();
    b.stop().await;
}

/// A bad entry in the list stops the worker at start-up with an error naming it.
#[actix_web::test]
async fn a_bad_master_url_entry_is_named_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_contextbay"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CB_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .arg("worker")
        .args(["--master-url", "http://127.0.0.1:1"])
        .args(["--master-url", "tcp://127.0.0.1:2"])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("worker.master_url entry 2 ('tcp://127.0.0.1:2')"),
        "{stderr}"
    );
}
