//! The backups module on the real engine: a volume with files of various modes, owners and
//! times, a symlink and an empty directory is backed up (streamed through a helper container
//! that is never started), downloaded whole and in ranges, verified, restored into a new volume
//! and into itself (its users stopped and started again), compared entry by entry; a corrupted
//! archive is caught by verify and refused by restore; retention deletes old runs with their
//! objects; bad input and roles answer clear 4xx; concurrent runs of one job make one run.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::harness::{Login, TestServer, assert_error};
use super::support::docker::{Cleanup, IMAGE, docker, engine_available, ensure_image};
use super::support::operations::wait_operation;
pub(super) use super::support::volumes::{in_volume, manifest};

pub(super) fn create_volume(c: &Cleanup, suffix: &str) -> String {
    let name = format!("{}-{suffix}", c.prefix);
    docker(&["volume", "create", "--label", "contextbay.test=1", &name]).unwrap();
    name
}

fn started_at(container: &str) -> String {
    docker(&["inspect", "-f", "{{.State.StartedAt}}", container]).unwrap()
}

fn state_of(container: &str) -> String {
    docker(&["inspect", "-f", "{{.State.Status}}", container]).unwrap()
}

pub(super) async fn records(s: &TestServer, token: &str, job: &str) -> Vec<Value> {
    let r = s
        .get(&format!("/api/backup-jobs/{job}/records"), token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

/// Posts `path` (202 with an operation) and waits for the operation to end.
pub(super) async fn operation(s: &TestServer, token: &str, path: &str, body: Value) -> Value {
    let started = s.post(path, token, body).await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{:?}", started.body);
    let id = started.body["operation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        started.headers["location"].to_str().unwrap(),
        format!("/api/operations/{id}")
    );
    wait_operation(s, token, &id).await
}

pub(super) async fn download(
    s: &TestServer,
    token: &str,
    path: &str,
    range: Option<&str>,
) -> reqwest::Response {
    let mut req = s.http.get(s.url(path)).bearer_auth(token);
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    req.send().await.unwrap()
}

pub(super) async fn started() -> Option<(Cleanup, TestServer, Login)> {
    if !engine_available() {
        return None;
    }
    ensure_image();
    let c = Cleanup::new("bk");
    let mut s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    // A fresh connection per request: the `docker` CLI calls between requests block this
    // thread for seconds, long enough for the server to close an idle kept-alive connection
    // while the client picks it for the next request.
    s.http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let admin = s.setup().await;
    s.enable_module(&admin, "backups", Value::Null).await;
    Some((c, s, admin))
}

#[actix_web::test]
async fn volume_backed_up_verified_downloaded_and_restored_identically() {
    let Some((c, s, admin)) = started().await else {
        return;
    };
    let src = create_volume(&c, "src");
    in_volume(
        &c,
        &src,
        "mkdir -p /v/dir/sub /v/empty && echo hello > /v/a.txt && chmod 640 /v/a.txt && \
         chown 1234:5678 /v/a.txt && touch -t 202001020304.05 /v/a.txt && \
         head -c 3000000 /dev/urandom > /v/dir/big.bin && chmod 600 /v/dir/big.bin && \
         chown 42:43 /v/dir/big.bin && ln -s ../a.txt /v/dir/link && \
         printf '#!/bin/sh\\necho hi\\n' > /v/dir/sub/run.sh && chmod 755 /v/dir/sub/run.sh && \
         chown 42:42 /v/dir/sub && chmod 1777 /v/empty && touch -t 201905060708.09 /v/dir/sub",
    );
    let before = manifest(&c, &src);
    assert!(before.contains("./dir/link"), "{before}");
    assert!(
        before.contains("./a.txt 640 1234 5678 1577934245"),
        "{before}"
    );

    // A container using the volume, stopped for the runs (its shell exits on TERM at once).
    let user = format!("{}-user", c.prefix);
    docker(&[
        "run",
        "-d",
        "--name",
        &user,
        "--network",
        &c.network,
        "--label",
        "contextbay.test=1",
        "-v",
        &format!("{src}:/v"),
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 1; done",
    ])
    .unwrap();
    let first_start = started_at(&user);

    let created = s
        .post(
            "/api/backup-jobs",
            &admin.access,
            json!({
                "name": "  volume src  ",
                "source": {"kind": "volume", "endpoint": "local", "volume": src},
                "retention": {"keep_last": 2},
                "hooks": {"stop_containers": true},
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["name"], "volume src");
    assert_eq!(created.body["compression"], "zstd");
    assert_eq!(created.body["storage"]["kind"], "local");
    let job = created.body["id"].as_str().unwrap().to_owned();

    // Run: an operation with a record; the user container was stopped and started again.
    let started = s
        .post(
            &format!("/api/backup-jobs/{job}/run"),
            &admin.access,
            json!({}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{:?}", started.body);
    assert_eq!(started.body["record"]["status"], "running");
    let op_id = started.body["operation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(started.body["record"]["operation_id"], op_id.as_str());
    let op = wait_operation(&s, &admin.access, &op_id).await;
    assert_eq!(op["state"], "succeeded", "{op:?}");
    assert_eq!(state_of(&user), "running");
    assert_ne!(
        started_at(&user),
        first_start,
        "the user container was not restarted"
    );
    // No helper container is left behind.
    assert_eq!(
        docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=contextbay.volume-helper={src}")
        ])
        .unwrap(),
        ""
    );

    let listed = records(&s, &admin.access, &job).await;
    assert_eq!(listed.len(), 1);
    let rec = &listed[0];
    assert_eq!(rec["status"], "succeeded", "{rec:?}");
    assert_eq!(rec["origin"], "manual");
    assert_eq!(rec["compression"], "zstd");
    // data/, a.txt, dir/, big.bin, link, sub/, run.sh, empty/
    assert_eq!(rec["files"], 8, "{rec:?}");
    assert_eq!(op["result"]["files"], 8);
    let rid = rec["id"].as_str().unwrap().to_owned();
    let size = rec["size_bytes"].as_u64().unwrap();
    let sha = rec["sha256"].as_str().unwrap().to_owned();
    // Compressed: 3 MB of random data does not shrink, the rest does; far from 0.
    assert!(size > 3_000_000 && size < 3_200_000, "{size}");

    // Download: whole, with its length and checksum.
    let dl = format!("/api/backup-jobs/{job}/records/{rid}/download");
    let whole = download(&s, &admin.access, &dl, None).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-length"], size.to_string().as_str());
    assert_eq!(whole.headers()["x-checksum-sha256"], sha.as_str());
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let bytes = whole.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, size);
    assert_eq!(hex::encode(Sha256::digest(&bytes)), sha);
    // zstd's magic number.
    assert_eq!(&bytes[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    // A range, a suffix range, and one past the end.
    let part = download(&s, &admin.access, &dl, Some("bytes=10-19")).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 10-19/{size}").as_str()
    );
    assert_eq!(part.headers()["content-length"], "10");
    assert_eq!(part.bytes().await.unwrap(), bytes.slice(10..20));
    let tail = download(&s, &admin.access, &dl, Some("bytes=-7")).await;
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.bytes().await.unwrap(), bytes.slice(bytes.len() - 7..));
    let past = download(&s, &admin.access, &dl, Some(&format!("bytes={size}-"))).await;
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );

    // Verify: intact.
    let verified = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/records/{rid}/verify"),
        json!({}),
    )
    .await;
    assert_eq!(verified["state"], "succeeded", "{verified:?}");
    assert_eq!(verified["result"]["ok"], true);
    assert_eq!(verified["result"]["files"], 8);

    // Restore into a new volume: every entry identical (content, mode, owner, mtime).
    let restored = format!("{}-restored", c.prefix);
    let op = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/records/{rid}/restore"),
        json!({"volume": restored}),
    )
    .await;
    assert_eq!(op["state"], "succeeded", "{op:?}");
    assert_eq!(manifest(&c, &restored), before);
    // Not over an existing volume.
    let again = s
        .post(
            &format!("/api/backup-jobs/{job}/records/{rid}/restore"),
            &admin.access,
            json!({"volume": restored}),
        )
        .await;
    assert_error(&again, StatusCode::CONFLICT, "conflict");

    // Restore into the original volume, changed since: back as it was, its user restarted.
    in_volume(&c, &src, "echo changed > /v/a.txt && rm /v/dir/big.bin");
    let before_restore = started_at(&user);
    let op = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/records/{rid}/restore"),
        json!({}),
    )
    .await;
    assert_eq!(op["state"], "succeeded", "{op:?}");
    assert_eq!(manifest(&c, &src), before);
    assert_eq!(state_of(&user), "running");
    assert_ne!(started_at(&user), before_restore);

    // A corrupted object: verify says so, restore refuses to write anything from it.
    let key = rec["storage_key"].as_str().unwrap();
    let object = s.config.storage.data_dir.join("backups").join(key);
    let mut data = std::fs::read(&object).unwrap();
    let middle = data.len() / 2;
    data[middle] ^= 0xff;
    std::fs::write(&object, &data).unwrap();
    let verified = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/records/{rid}/verify"),
        json!({}),
    )
    .await;
    assert_eq!(verified["state"], "failed", "{verified:?}");
    assert_eq!(verified["result"]["ok"], false);
    assert!(
        verified["error"]
            .as_str()
            .unwrap()
            .contains("checksum mismatch"),
        "{verified:?}"
    );
    let listed = records(&s, &admin.access, &job).await;
    assert!(
        listed[0]["verify_error"]
            .as_str()
            .unwrap()
            .contains("checksum mismatch"),
        "{listed:?}"
    );
    let bad_target = format!("{}-from-corrupt", c.prefix);
    let op = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/records/{rid}/restore"),
        json!({"volume": bad_target}),
    )
    .await;
    assert_eq!(op["state"], "failed", "{op:?}");
    assert!(
        op["error"].as_str().unwrap().contains("verification"),
        "{op:?}"
    );
    assert!(docker(&["volume", "inspect", &bad_target]).is_err());

    // Retention keeps the last 2: after two more runs the first record and its object are gone.
    for _ in 0..2 {
        let op = operation(
            &s,
            &admin.access,
            &format!("/api/backup-jobs/{job}/run"),
            json!({}),
        )
        .await;
        assert_eq!(op["state"], "succeeded", "{op:?}");
    }
    let listed = records(&s, &admin.access, &job).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|r| r["id"] != rid.as_str()));
    assert!(!object.exists());
    for r in &listed {
        let key = r["storage_key"].as_str().unwrap();
        assert!(s.config.storage.data_dir.join("backups").join(key).exists());
    }

    // Deleting the job deletes its records' objects; nothing unfinished is left.
    let gone = s
        .delete(&format!("/api/backup-jobs/{job}"), &admin.access)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{:?}", gone.body);
    assert!(
        !s.config
            .storage
            .data_dir
            .join("backups")
            .join(&job)
            .exists()
    );
    let missing = s
        .get(&format!("/api/backup-jobs/{job}"), &admin.access)
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    s.stop().await;
}

#[actix_web::test]
async fn bad_input_roles_and_concurrent_runs() {
    let Some((c, s, admin)) = started().await else {
        return;
    };
    let vol = create_volume(&c, "data");
    // Enough data that a run lasts well beyond the burst of requests below.
    in_volume(&c, &vol, "head -c 20000000 /dev/urandom > /v/blob");
    let viewer = s.user(&admin, "vera", "viewer").await;
    let operator = s.user(&admin, "otto", "operator").await;
    let source = json!({"kind": "volume", "endpoint": "local", "volume": vol});

    for (body, field) in [
        (
            json!({"name": "x", "source": {"kind": "volume", "endpoint": "local", "volume": "cb-no-such-volume"}}),
            "source.volume",
        ),
        (
            json!({"name": "x", "source": {"kind": "volume", "endpoint": "nowhere", "volume": vol}}),
            "source.endpoint",
        ),
        (
            json!({"name": "x", "source": {"kind": "volume", "endpoint": "local", "volume": "../etc"}}),
            "source.volume",
        ),
        (
            json!({"name": "x", "source": source, "retention": {"keep_last": 0}}),
            "retention.keep_last",
        ),
        (
            json!({"name": "x", "source": source, "retention": {"keep_last": 1, "keep_daily": 5000}}),
            "retention.keep_daily",
        ),
        (json!({"name": " \t ", "source": source}), "name"),
        (
            json!({"name": "x", "source": source, "schedule": {"cron": "61 * * * *"}}),
            "schedule.cron",
        ),
        (
            json!({"name": "x", "source": source, "schedule": {"cron": "0 * * * * *"}}),
            "schedule.cron",
        ),
        (
            json!({"name": "x", "source": source, "schedule": {"cron": "0 3 * * *", "timezone": "Mars/Olympus"}}),
            "schedule.timezone",
        ),
    ] {
        let r = s
            .post("/api/backup-jobs", &operator.access, body.clone())
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(r.body["field"], field, "{body}: {:?}", r.body);
    }
    for body in [
        json!({"name": "x", "source": source, "retention": {"keep_last": -1}}),
        json!({"name": "x", "source": source, "storage": {"kind": "ftp"}}),
        json!({"name": "x", "source": {"kind": "path", "path": "/etc"}}),
        json!({"name": "x", "source": source, "compression": "rar"}),
        json!({"name": "x", "source": source, "surprise": 1}),
    ] {
        let r = s
            .post("/api/backup-jobs", &operator.access, body.clone())
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    }

    // A viewer reads (the spec's `r`, downloads included) but does not write.
    let denied = s
        .post(
            "/api/backup-jobs",
            &viewer.access,
            json!({"name": "v", "source": source}),
        )
        .await;
    assert_error(&denied, StatusCode::FORBIDDEN, "forbidden");
    let created = s
        .post(
            "/api/backup-jobs",
            &operator.access,
            json!({"name": "burst", "source": source, "compression": "none"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let job = created.body["id"].as_str().unwrap().to_owned();
    let dup = s
        .post(
            "/api/backup-jobs",
            &operator.access,
            json!({"name": "burst", "source": source}),
        )
        .await;
    assert_error(&dup, StatusCode::CONFLICT, "conflict");
    let seen = s
        .get(&format!("/api/backup-jobs/{job}"), &viewer.access)
        .await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.body["created_by"], "otto");
    let r = s
        .post(
            &format!("/api/backup-jobs/{job}/run"),
            &viewer.access,
            json!({}),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .put(
            &format!("/api/backup-jobs/{job}"),
            &viewer.access,
            json!({"name": "y"}),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .delete(&format!("/api/backup-jobs/{job}"), &viewer.access)
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .get(
            &format!(
                "/api/backup-jobs/{job}/records/{}/download",
                uuid::Uuid::new_v4()
            ),
            &viewer.access,
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = s.get("/api/backup-jobs/not-a-uuid", &viewer.access).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    // An update is validated like a create, and leaves the job as it was when refused.
    let r = s
        .put(
            &format!("/api/backup-jobs/{job}"),
            &operator.access,
            json!({"retention": {"keep_last": 0}}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = s
        .put(
            &format!("/api/backup-jobs/{job}"),
            &operator.access,
            json!({"retention": {"keep_last": 3, "keep_weekly": 4}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["retention"]["keep_weekly"], 4);
    assert_eq!(r.body["compression"], "none");

    // Five runs at once: exactly one starts, the others are told which operation holds the job.
    let path = format!("/api/backup-jobs/{job}/run");
    let burst =
        futures_util::future::join_all((0..5).map(|_| s.post(&path, &operator.access, json!({}))))
            .await;
    let accepted: Vec<_> = burst
        .iter()
        .filter(|r| r.status == StatusCode::ACCEPTED)
        .collect();
    assert_eq!(
        accepted.len(),
        1,
        "{:?}",
        burst.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    for r in burst.iter().filter(|r| r.status != StatusCode::ACCEPTED) {
        assert_error(r, StatusCode::CONFLICT, "conflict");
        assert!(
            r.body["error"].as_str().unwrap().contains("backup-job:"),
            "{:?}",
            r.body
        );
    }
    // Deleting the job while it runs is refused.
    let r = s
        .delete(&format!("/api/backup-jobs/{job}"), &operator.access)
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let op_id = accepted[0].body["operation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let op = wait_operation(&s, &operator.access, &op_id).await;
    assert_eq!(op["state"], "succeeded", "{op:?}");
    let listed = records(&s, &viewer.access, &job).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["compression"], "none");
    // A plain tar: the viewer downloads it; the engine's archive starts with the `data/` entry.
    let rid = listed[0]["id"].as_str().unwrap();
    let got = download(
        &s,
        &viewer.access,
        &format!("/api/backup-jobs/{job}/records/{rid}/download"),
        Some("bytes=0-4"),
    )
    .await;
    assert_eq!(got.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&got.bytes().await.unwrap()[..], b"data/");

    // A source that disappeared: the run fails with the reason, its record says so, no object.
    let gone = create_volume(&c, "gone");
    let created = s
        .post(
            "/api/backup-jobs",
            &operator.access,
            json!({"name": "gone", "source": {"kind": "volume", "endpoint": "local", "volume": gone}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let gone_job = created.body["id"].as_str().unwrap().to_owned();
    docker(&["volume", "rm", &gone]).unwrap();
    let op = operation(
        &s,
        &operator.access,
        &format!("/api/backup-jobs/{gone_job}/run"),
        json!({}),
    )
    .await;
    assert_eq!(op["state"], "failed", "{op:?}");
    assert!(
        op["error"].as_str().unwrap().contains("no longer exists"),
        "{op:?}"
    );
    let listed = records(&s, &viewer.access, &gone_job).await;
    assert_eq!(listed[0]["status"], "failed");
    assert!(
        listed[0]["error"]
            .as_str()
            .unwrap()
            .contains("no longer exists")
    );
    assert_eq!(listed[0]["storage_key"], Value::Null);
    let rid = listed[0]["id"].as_str().unwrap();
    let r = s
        .get(
            &format!("/api/backup-jobs/{gone_job}/records/{rid}/download"),
            &viewer.access,
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    assert!(
        !s.config
            .storage
            .data_dir
            .join("backups")
            .join(&gone_job)
            .exists()
    );

    // The module switched off: its routes answer 404 module_disabled.
    s.disable_module(&admin, "backups").await;
    let off = s.get("/api/backup-jobs", &viewer.access).await;
    assert_error(&off, StatusCode::NOT_FOUND, "module_disabled");
    s.stop().await;
}

/// The scheduler's clock, moved by the test.
#[derive(Clone)]
struct ManualClock(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl contextbay::modules::backups::scheduler::Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[actix_web::test]
async fn a_schedule_fires_in_its_time_zone_on_an_injected_clock() {
    use contextbay::modules::backups::scheduler::{Fired, Scheduler};
    use std::sync::atomic::Ordering;
    let Some((c, s, admin)) = started().await else {
        return;
    };
    let vol = create_volume(&c, "sched");
    in_volume(&c, &vol, "echo scheduled > /v/f");
    // 03:00 on January 1st in Tokyo (UTC+9), December 31st at 18:00 UTC: the next one from
    // now (a later one would be a slot missed since the job was made, caught up at once).
    let fires_at: i64 = contextbay::modules::backups::spec::Schedule {
        cron: "0 3 1 1 *".into(),
        timezone: "Asia/Tokyo".into(),
    }
    .next_after(contextbay::store::now_ms())
    .unwrap();
    let created = s
        .post(
            "/api/backup-jobs",
            &admin.access,
            json!({
                "name": "nightly",
                "source": {"kind": "volume", "endpoint": "local", "volume": vol},
                "schedule": {"cron": "0 3 1 1 *", "timezone": "Asia/Tokyo"},
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["schedule"]["timezone"], "Asia/Tokyo");
    assert!(
        created.body["next_run_at"]
            .as_str()
            .unwrap()
            .contains("-12-31T18:00:00"),
        "{:?}",
        created.body
    );
    let job = created.body["id"].as_str().unwrap().to_owned();
    // A job without a schedule never fires.
    let manual = s
        .post(
            "/api/backup-jobs",
            &admin.access,
            json!({"name": "manual", "source": {"kind": "volume", "endpoint": "local", "volume": vol}}),
        )
        .await;
    assert_eq!(manual.status, StatusCode::CREATED, "{:?}", manual.body);

    let now = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(fires_at - 3_600_000));
    let mut scheduler = Scheduler::new(std::sync::Arc::new(ManualClock(now.clone())));
    assert_eq!(scheduler.tick(s.state()).await.unwrap(), vec![]);
    assert_eq!(scheduler.next_due(&job), Some(fires_at));
    now.store(fires_at - 1, Ordering::SeqCst);
    assert_eq!(scheduler.tick(s.state()).await.unwrap(), vec![]);
    now.store(fires_at, Ordering::SeqCst);
    let fired = scheduler.tick(s.state()).await.unwrap();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].0, job);
    let Fired::Started(rid) = &fired[0].1 else {
        panic!("{fired:?}");
    };
    let done = super::harness::eventually(120, "the scheduled run", || async {
        let listed = records(&s, &admin.access, &job).await;
        (listed.len() == 1 && listed[0]["status"] != "running").then(|| listed[0].clone())
    })
    .await;
    assert_eq!(done["id"], rid.as_str());
    assert_eq!(done["status"], "succeeded", "{done:?}");
    assert_eq!(done["origin"], "schedule");
    // Not again until next year.
    now.store(fires_at + 30_000, Ordering::SeqCst);
    assert_eq!(scheduler.tick(s.state()).await.unwrap(), vec![]);
    assert!(scheduler.next_due(&job).unwrap() > fires_at + 364 * 86_400_000);

    // The schedule removed (`null`): the job is no longer scheduled.
    let r = s
        .put(
            &format!("/api/backup-jobs/{job}"),
            &admin.access,
            json!({"schedule": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["schedule"], Value::Null);
    now.store(fires_at + 365 * 86_400_000, Ordering::SeqCst);
    assert_eq!(scheduler.tick(s.state()).await.unwrap(), vec![]);
    assert_eq!(scheduler.next_due(&job), None);
    s.stop().await;
}

#[actix_web::test]
async fn a_schedule_missed_while_no_master_ran_is_caught_up_once() {
    use contextbay::modules::backups::scheduler::{Fired, Scheduler};
    use contextbay::modules::backups::spec::Schedule;
    use std::sync::atomic::Ordering;
    let Some((c, s, admin)) = started().await else {
        return;
    };
    let vol = create_volume(&c, "catchup");
    in_volume(&c, &vol, "echo missed > /v/f");
    // Yearly, on January 1st at 03:00 UTC: the test's master never meets a slot by itself.
    let schedule = Schedule {
        cron: "0 3 1 1 *".into(),
        timezone: "UTC".into(),
    };
    let created = s
        .post(
            "/api/backup-jobs",
            &admin.access,
            json!({
                "name": "yearly",
                "source": {"kind": "volume", "endpoint": "local", "volume": vol},
                "schedule": {"cron": schedule.cron, "timezone": "UTC"},
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let job = created.body["id"].as_str().unwrap().to_owned();
    // A job whose next slot is still ahead is not run at start.
    let first_slot = schedule
        .next_after(contextbay::store::now_ms())
        .expect("a next slot");
    let now = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(first_slot - 60_000));
    let mut early = Scheduler::new(std::sync::Arc::new(ManualClock(now.clone())));
    assert_eq!(early.tick(s.state()).await.unwrap(), vec![]);
    assert_eq!(early.next_due(&job), Some(first_slot));

    // A master starting three slots later (three years): the job runs once, at its first tick.
    let later = first_slot + 3 * 366 * 86_400_000 + 3_600_000;
    now.store(later, Ordering::SeqCst);
    let mut restarted = Scheduler::new(std::sync::Arc::new(ManualClock(now.clone())));
    let fired = restarted.tick(s.state()).await.unwrap();
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0].0, job);
    let Fired::Started(rid) = &fired[0].1 else {
        panic!("{fired:?}");
    };
    let done = super::harness::eventually(120, "the caught-up run", || async {
        let listed = records(&s, &admin.access, &job).await;
        (listed.len() == 1 && listed[0]["status"] != "running").then(|| listed[0].clone())
    })
    .await;
    assert_eq!(done["id"], rid.as_str());
    assert_eq!(done["status"], "succeeded", "{done:?}");
    assert_eq!(done["origin"], "schedule");
    // Not once per missed slot: the next ticks wait for the next slot.
    now.store(later + 60_000, Ordering::SeqCst);
    assert_eq!(restarted.tick(s.state()).await.unwrap(), vec![]);
    assert_eq!(restarted.next_due(&job), schedule.next_after(later));
    assert_eq!(records(&s, &admin.access, &job).await.len(), 1);
    s.stop().await;
}
