//! Backups of a volume on an agent endpoint, through a real worker enrolled over gRPC on
//! loopback (its engine is this machine's): the volume's tar streams from the worker to the
//! master (`ArchiveOpen` read) and back on restore (`ArchiveOpen` write, acknowledged within a
//! window), compared entry by entry (content, mode, owner, mtime, symlink, empty directory);
//! the worker going away mid-run fails the run with the reason, leaves no object, and the
//! worker's own clean-up starts the stopped container again and removes its helper.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::{Login, TestServer};
use super::support::docker::{Cleanup, FusedWorker, IMAGE, docker, engine_available, ensure_image};
use super::support::operations::wait_operation;
use super::support::volumes::{in_volume, manifest};

fn create_volume(c: &Cleanup, suffix: &str) -> String {
    let name = format!("{}-{suffix}", c.prefix);
    docker(&["volume", "create", "--label", "contextbay.test=1", &name]).unwrap();
    name
}

fn inspect(container: &str, format: &str) -> String {
    docker(&["inspect", "-f", format, container]).unwrap()
}

/// A container using `volume` whose shell exits on TERM at once.
fn user_of(c: &Cleanup, volume: &str, suffix: &str) -> String {
    let name = format!("{}-{suffix}", c.prefix);
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        &c.network,
        "--label",
        "contextbay.test=1",
        "-v",
        &format!("{volume}:/v"),
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 1; done",
    ])
    .unwrap();
    name
}

fn helpers_of(volume: &str) -> String {
    docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=contextbay.volume-helper={volume}"),
    ])
    .unwrap()
}

/// Posts `path` (202 with an operation) and waits for the operation to end.
async fn operation(s: &TestServer, token: &str, path: &str, body: Value) -> Value {
    let started = s.post(path, token, body).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{:?}", started.body);
    let id = started.body["operation"]["id"].as_str().unwrap().to_owned();
    wait_operation(s, token, &id).await
}

async fn create_job(s: &TestServer, admin: &Login, endpoint: &str, volume: &str) -> String {
    let created = s
        .post(
            "/api/backup-jobs",
            &admin.access,
            json!({
                "name": format!("worker {volume}"),
                "source": {"kind": "volume", "endpoint": endpoint, "volume": volume},
                "hooks": {"stop_containers": true},
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

/// Files under `dir` and its sub-directories.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[actix_web::test]
async fn a_volume_on_a_worker_is_backed_up_and_restored_identically_and_a_lost_worker_fails_the_run()
 {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("bkw");
    let mut s = TestServer::start_with(|cfg| {
        cfg.fleet.heartbeat_interval_secs = 1;
        // No engine of the master's own: the volume is reached through the worker only.
        cfg.docker.local_endpoint = false;
    })
    .await;
    // A fresh connection per request (the `docker` CLI calls block this thread for seconds).
    s.http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let admin = s.setup().await;
    s.enable_module(&admin, "backups", Value::Null).await;
    let worker = FusedWorker::start(&s, &admin, "bkw").await;
    let node = worker.id.clone();

    let src = create_volume(&c, "src");
    in_volume(
        &c,
        &src,
        "mkdir -p /v/dir/sub /v/empty && echo hello > /v/a.txt && chmod 640 /v/a.txt && \
         chown 1234:5678 /v/a.txt && touch -t 202001020304.05 /v/a.txt && \
         head -c 3000000 /dev/urandom > /v/dir/big.bin && chmod 600 /v/dir/big.bin && \
         chown 42:43 /v/dir/big.bin && ln -s ../a.txt /v/dir/link && : > /v/dir/zero && \
         printf '#!/bin/sh\\necho hi\\n' > /v/dir/sub/run.sh && chmod 4755 /v/dir/sub/run.sh && \
         chown 42:42 /v/dir/sub && chmod 1777 /v/empty && touch -t 201905060708.09 /v/dir/sub",
    );
    let before = manifest(&c, &src);
    assert!(before.contains("./dir/link"), "{before}");
    assert!(
        before.contains("./a.txt 640 1234 5678 1577934245"),
        "{before}"
    );
    let user = user_of(&c, &src, "user");
    let first_start = inspect(&user, "{{.State.StartedAt}}");

    let job = create_job(&s, &admin, &node, &src).await;
    // A volume the worker's host does not have is a 400 naming the field.
    let missing = s
        .post(
            "/api/backup-jobs",
            &admin.access,
            json!({
                "name": "missing",
                "source": {"kind": "volume", "endpoint": node, "volume": format!("{}-nope", c.prefix)},
            }),
        )
        .await;
    assert_eq!(
        missing.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        missing.body
    );
    assert!(
        missing.body["error"]
            .as_str()
            .unwrap()
            .contains("source.volume")
            || missing.body["field"] == "source.volume",
        "{:?}",
        missing.body
    );

    let op = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/run"),
        json!({}),
    )
    .await;
    assert_eq!(op["state"], "succeeded", "{op:?}");
    // data/, a.txt, dir/, big.bin, link, zero, sub/, run.sh, empty/
    assert_eq!(op["result"]["files"], 9, "{op:?}");
    let rid = op["result"]["record_id"].as_str().unwrap().to_owned();
    // The worker stopped the user for the run and started it again; its helper is gone.
    assert_eq!(inspect(&user, "{{.State.Status}}"), "running");
    assert_ne!(inspect(&user, "{{.State.StartedAt}}"), first_start);
    assert_eq!(helpers_of(&src), "");

    let verified = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/records/{rid}/verify"),
        json!({}),
    )
    .await;
    assert_eq!(verified["state"], "succeeded", "{verified:?}");

    // Into a new volume on the node, through the worker.
    let copy = format!("{}-copy", c.prefix);
    let op = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/records/{rid}/restore"),
        json!({"volume": copy}),
    )
    .await;
    assert_eq!(op["state"], "succeeded", "{op:?}");
    assert_eq!(manifest(&c, &copy), before);
    assert_eq!(helpers_of(&copy), "");

    // Into the original volume, changed meanwhile: its user is stopped and started again.
    in_volume(&c, &src, "echo changed > /v/a.txt && rm /v/dir/big.bin");
    let before_restore = inspect(&user, "{{.State.StartedAt}}");
    let op = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/records/{rid}/restore"),
        json!({}),
    )
    .await;
    assert_eq!(op["state"], "succeeded", "{op:?}");
    assert_eq!(manifest(&c, &src), before);
    assert_eq!(inspect(&user, "{{.State.Status}}"), "running");
    assert_ne!(inspect(&user, "{{.State.StartedAt}}"), before_restore);

    // The worker goes away mid-run: the run fails with the reason and leaves no object; the
    // worker's own clean-up (its guard) removes the helper and starts the user again.
    let big = create_volume(&c, "big");
    in_volume(
        &c,
        &big,
        "for i in 1 2 3 4 5 6; do head -c 67108864 /dev/urandom > /v/f$i; done",
    );
    let big_user = user_of(&c, &big, "big-user");
    let big_job = create_job(&s, &admin, &node, &big).await;
    let started = s
        .post(
            &format!("/api/backup-jobs/{big_job}/run"),
            &admin.access,
            json!({}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{:?}", started.body);
    let op_id = started.body["operation"]["id"].as_str().unwrap().to_owned();
    let job_dir = s.config.storage.data_dir.join("backups").join(&big_job);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let written: u64 = files_under(&job_dir)
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        if written >= 4 * 1024 * 1024 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run wrote nothing"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(inspect(&big_user, "{{.State.Status}}"), "exited");
    drop(worker);
    let op = wait_operation(&s, &admin.access, &op_id).await;
    assert_eq!(op["state"], "failed", "{op:?}");
    let error = op["error"].as_str().unwrap();
    assert!(error.contains("worker disconnected"), "{op:?}");
    let records = s
        .get(
            &format!("/api/backup-jobs/{big_job}/records"),
            &admin.access,
        )
        .await;
    let record = &records.body["items"][0];
    assert_eq!(record["status"], "failed", "{record:?}");
    assert!(
        record["error"]
            .as_str()
            .unwrap()
            .contains("worker disconnected"),
        "{record:?}"
    );
    assert!(record["storage_key"].is_null(), "{record:?}");
    assert_eq!(files_under(&job_dir), Vec::<std::path::PathBuf>::new());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !helpers_of(&big).is_empty() || inspect(&big_user, "{{.State.Status}}") != "running" {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker did not undo its hook and helper"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    s.stop().await;
}

#[actix_web::test]
async fn the_exec_hook_runs_before_the_backup_through_the_worker_and_a_failing_one_fails_the_run() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("bkx");
    let mut s = TestServer::start_with(|cfg| {
        cfg.fleet.heartbeat_interval_secs = 1;
        cfg.docker.local_endpoint = false;
    })
    .await;
    s.http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let admin = s.setup().await;
    s.enable_module(&admin, "backups", Value::Null).await;
    let worker = FusedWorker::start(&s, &admin, "bkx").await;
    let node = worker.id.clone();
    let vol = create_volume(&c, "db");
    let db = user_of(&c, &vol, "db");

    let hooked = |command: Value, timeout: u64| {
        json!({
            "name": "dump first",
            "source": {"kind": "volume", "endpoint": node, "volume": vol},
            "hooks": {"stop_containers": true,
                      "exec": {"container": db, "command": command, "timeout_s": timeout}},
        })
    };
    let dump = json!(["sh", "-c", "echo dumped > /v/dump.txt && echo dump written"]);
    // Running commands in containers is the admin's: an operator cannot set the hook.
    let operator = s.user(&admin, "bkx-op", "operator").await;
    let refused = s
        .post(
            "/api/backup-jobs",
            &operator.access,
            hooked(dump.clone(), 30),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    for (body, field) in [
        (hooked(dump.clone(), 0), "hooks.exec.timeout_s"),
        (hooked(json!([]), 30), "hooks.exec.command"),
        (hooked(json!([" "]), 30), "hooks.exec.command"),
    ] {
        let r = s.post("/api/backup-jobs", &admin.access, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert!(
            r.body["error"].as_str().unwrap().contains(field),
            "{:?}",
            r.body
        );
    }
    let mut bad_container = hooked(dump.clone(), 30);
    bad_container["hooks"]["exec"]["container"] = json!("../etc");
    let r = s
        .post("/api/backup-jobs", &admin.access, bad_container)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);

    let created = s
        .post("/api/backup-jobs", &admin.access, hooked(dump.clone(), 30))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["hooks"]["exec"]["command"], dump);
    let job = created.body["id"].as_str().unwrap().to_owned();
    let op = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/run"),
        json!({}),
    )
    .await;
    assert_eq!(op["state"], "succeeded", "{op:?}");
    let rid = op["result"]["record_id"].as_str().unwrap().to_owned();
    // The hook's dump is in the archive.
    let copy = format!("{}-copy", c.prefix);
    let restored = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/records/{rid}/restore"),
        json!({"volume": copy}),
    )
    .await;
    assert_eq!(restored["state"], "succeeded", "{restored:?}");
    assert_eq!(in_volume(&c, &copy, "cat /v/dump.txt"), "dumped");
    assert_eq!(inspect(&db, "{{.State.Status}}"), "running");

    // An operator cannot change the hook either; the admin makes it fail.
    let failing = json!(["sh", "-c", "echo no space left >&2; exit 3"]);
    let changed = s
        .put(
            &format!("/api/backup-jobs/{job}"),
            &operator.access,
            json!({"hooks": {"stop_containers": true, "exec": {"container": db, "command": failing}}}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::FORBIDDEN, "{:?}", changed.body);
    let changed = s
        .put(
            &format!("/api/backup-jobs/{job}"),
            &admin.access,
            json!({"hooks": {"stop_containers": true, "exec": {"container": db, "command": failing}}}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["hooks"]["exec"]["timeout_s"], 300);
    let op = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/run"),
        json!({}),
    )
    .await;
    assert_eq!(op["state"], "failed", "{op:?}");
    let error = op["error"].as_str().unwrap();
    assert!(error.contains("exited with code 3"), "{op:?}");
    assert!(error.contains("no space left"), "{op:?}");
    // Nothing was left changed: the container runs, no helper, one object (the first run's).
    assert_eq!(inspect(&db, "{{.State.Status}}"), "running");
    assert_eq!(helpers_of(&vol), "");
    let job_dir = s.config.storage.data_dir.join("backups").join(&job);
    assert_eq!(files_under(&job_dir).len(), 1);

    // A hook that overruns its timeout fails the run as well.
    let slow = s
        .put(
            &format!("/api/backup-jobs/{job}"),
            &admin.access,
            json!({"hooks": {"exec": {"container": db, "command": ["sleep", "30"], "timeout_s": 1}}}),
        )
        .await;
    assert_eq!(slow.status, StatusCode::OK, "{:?}", slow.body);
    let op = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/run"),
        json!({}),
    )
    .await;
    assert_eq!(op["state"], "failed", "{op:?}");
    assert!(
        op["error"]
            .as_str()
            .unwrap()
            .contains("did not end within 1 s"),
        "{op:?}"
    );
    assert_eq!(files_under(&job_dir).len(), 1);
    drop(worker);
    s.stop().await;
}
