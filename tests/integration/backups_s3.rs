//! Backups into S3-compatible storage, encrypted with age, against a real S3 server started by
//! the test (`moto_server` from the virtualenv of `scripts/python-requirements.txt`,
//! `$CONTEXTBAY_PYVENV`): a volume is backed up into a bucket, its record and object checked (the
//! object is age, not zstd or tar, and its SHA-256 is the record's), verified, downloaded whole
//! and in a range, restored byte-identical; retention deletes objects in the bucket with their
//! records; a corrupted object fails verify; an unreachable bucket fails the run naming it (and a
//! notification is raised); an upload dropped half-way leaves neither an object nor a multipart
//! upload; each S3 field is checked and the secret never comes back.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use contextbay::modules::backups::spec::S3Storage;
use contextbay::modules::backups::storage::Archives;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::backups::{create_volume, download, in_volume, manifest, operation, records, started};
use super::harness::assert_error;
use super::support::ws::{subscribe, wait_event};

const ACCESS_KEY: &str = "AKIDBACKUPTEST";
const SECRET_KEY: &str = "s3cr3t-backup-key-never-returned";

/// `moto_server` on a free loopback port; killed when dropped.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The moto server, or `None` (with a message) outside CI when the virtualenv has none.
async fn moto() -> Option<Moto> {
    let bin = std::env::var_os("CONTEXTBAY_PYVENV")
        .map(|v| PathBuf::from(v).join("bin/moto_server"))
        .filter(|p| p.is_file());
    let Some(bin) = bin else {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "CONTEXTBAY_PYVENV must name a virtualenv with moto[server] on CI (scripts/test makes \
             one from scripts/python-requirements.txt)"
        );
        eprintln!("SKIPPED: CONTEXTBAY_PYVENV has no moto_server; scripts/test prepares one");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let m = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http.get(&m.url).send().await.is_ok() {
            return Some(m);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not answer on {}", m.url);
}

impl Moto {
    /// Creates a bucket (moto takes an unsigned `PUT /<bucket>`).
    async fn bucket(&self, name: &str) {
        let r = reqwest::Client::new()
            .put(format!("{}/{name}", self.url))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "creating bucket {name}: {r:?}");
    }

    /// The keys under `prefix` in `bucket`.
    async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let xml = reqwest::Client::new()
            .get(format!("{}/{bucket}?list-type=2&prefix={prefix}", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        xml.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_owned)
            .collect()
    }

    /// How many multipart uploads are open in `bucket`.
    async fn open_uploads(&self, bucket: &str) -> usize {
        let xml = reqwest::Client::new()
            .get(format!("{}/{bucket}?uploads", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        xml.matches("<Upload>").count()
    }

    fn storage(&self, bucket: &str, prefix: Option<&str>) -> S3Storage {
        S3Storage {
            bucket: bucket.into(),
            prefix: prefix.map(str::to_owned),
            region: Some("us-east-1".into()),
            endpoint: Some(self.url.clone()),
            path_style: true,
            access_key_id: ACCESS_KEY.into(),
            secret_access_key_sealed: String::new(),
        }
    }

    /// The same bucket as the master sees it, read and written through the same client.
    fn archives(&self, bucket: &str, prefix: Option<&str>) -> Archives {
        Archives::s3(&self.storage(bucket, prefix), SECRET_KEY).unwrap()
    }
}

async fn read_object(a: &Archives, key: &str) -> Vec<u8> {
    let (mut r, len) = a.open(key).await.unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).await.unwrap();
    assert_eq!(out.len() as u64, len);
    out
}

fn s3_body(m: &Moto, bucket: &str) -> Value {
    json!({
        "kind": "s3",
        "bucket": bucket,
        "prefix": "cb/backups",
        "region": "us-east-1",
        "endpoint": m.url,
        "path_style": true,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
    })
}

#[actix_web::test]
async fn encrypted_backups_in_s3_are_verified_downloaded_restored_and_retained() {
    let Some(m) = moto().await else {
        return;
    };
    let Some((c, s, admin)) = started().await else {
        return;
    };
    let bucket = "cb-backups";
    m.bucket(bucket).await;
    let src = create_volume(&c, "s3src");
    in_volume(
        &c,
        &src,
        "mkdir -p /v/d/e && echo hello > /v/a.txt && chmod 640 /v/a.txt && \
         chown 12:34 /v/a.txt && touch -t 202101020304.05 /v/a.txt && \
         head -c 2000000 /dev/urandom > /v/d/big.bin && ln -s ../a.txt /v/d/link",
    );
    let before = manifest(&c, &src);

    let created = s
        .post(
            "/api/backup-jobs",
            &admin.access,
            json!({
                "name": "s3 job",
                "source": {"kind": "volume", "endpoint": "local", "volume": src},
                "storage": s3_body(&m, bucket),
                "encryption": {"kind": "age"},
                "retention": {"keep_last": 2},
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let job = created.body["id"].as_str().unwrap().to_owned();
    let storage = &created.body["storage"];
    assert_eq!(storage["kind"], "s3");
    assert_eq!(storage["bucket"], bucket);
    assert_eq!(storage["secret_access_key_set"], true);
    assert_eq!(created.body["encryption"], json!({"kind": "age"}));
    let shown = s
        .get(&format!("/api/backup-jobs/{job}"), &admin.access)
        .await;
    let text = shown.body.to_string();
    assert!(!text.contains(SECRET_KEY), "{text}");
    assert!(!text.contains("AGE-SECRET"), "{text}");
    assert!(shown.body["storage"].get("secret_access_key").is_none());

    // A change without the secret keeps it.
    let changed = s
        .put(
            &format!("/api/backup-jobs/{job}"),
            &admin.access,
            json!({"storage": {
                "kind": "s3", "bucket": bucket, "prefix": "cb/backups", "endpoint": m.url,
                "path_style": true, "access_key_id": ACCESS_KEY,
            }}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
    assert_eq!(changed.body["storage"]["secret_access_key_set"], true);

    let op = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/run"),
        json!({}),
    )
    .await;
    assert_eq!(op["state"], "succeeded", "{op:?}");
    let first = records(&s, &admin.access, &job).await[0].clone();
    assert_eq!(first["status"], "succeeded", "{first:?}");
    let key = first["storage_key"].as_str().unwrap().to_owned();
    assert_eq!(
        key,
        format!("{job}/{}.tar.zst.age", first["id"].as_str().unwrap())
    );
    assert_eq!(
        m.keys(bucket, "cb/backups/").await,
        vec![format!("cb/backups/{key}")]
    );

    // The stored object is age: neither zstd nor tar, and its SHA-256 is the record's.
    let archives = m.archives(bucket, Some("cb/backups"));
    let object = read_object(&archives, &key).await;
    assert!(object.starts_with(b"age-encryption.org/v1\n"));
    assert!(!object.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]));
    assert!(!object.windows(5).any(|w| w == b"ustar"));
    assert_eq!(first["size_bytes"], object.len() as u64);
    assert_eq!(
        first["sha256"].as_str().unwrap(),
        hex::encode(Sha256::digest(&object))
    );

    // Verify; download whole and a range (the stored, encrypted object).
    let verified = operation(
        &s,
        &admin.access,
        &format!(
            "/api/backup-jobs/{job}/records/{}/verify",
            first["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;
    assert_eq!(verified["state"], "succeeded", "{verified:?}");
    assert!(verified["result"]["files"].as_u64().unwrap() >= 5);
    let dl = format!(
        "/api/backup-jobs/{job}/records/{}/download",
        first["id"].as_str().unwrap()
    );
    let whole = download(&s, &admin.access, &dl, None).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.bytes().await.unwrap().to_vec(), object);
    let part = download(&s, &admin.access, &dl, Some("bytes=100-4195")).await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"].to_str().unwrap(),
        format!("bytes 100-4195/{}", object.len())
    );
    assert_eq!(
        part.bytes().await.unwrap().to_vec(),
        object[100..4196].to_vec()
    );

    // Restore into a new volume: identical.
    let restored_name = format!("{}-s3restored", c.prefix);
    let restored = operation(
        &s,
        &admin.access,
        &format!(
            "/api/backup-jobs/{job}/records/{}/restore",
            first["id"].as_str().unwrap()
        ),
        json!({"volume": restored_name}),
    )
    .await;
    assert_eq!(restored["state"], "succeeded", "{restored:?}");
    assert_eq!(manifest(&c, &restored_name), before);

    // Two more runs: retention keeps two, in the bucket and in the records.
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
    let kept = records(&s, &admin.access, &job).await;
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.iter().all(|r| r["id"] != first["id"]));
    let mut want: Vec<String> = kept
        .iter()
        .map(|r| format!("cb/backups/{}", r["storage_key"].as_str().unwrap()))
        .collect();
    want.sort();
    let mut have = m.keys(bucket, "cb/backups/").await;
    have.sort();
    assert_eq!(have, want);

    // A corrupted object (one byte flipped, written through S3) fails verify.
    let newest = &kept[0];
    let nkey = newest["storage_key"].as_str().unwrap();
    let mut bytes = read_object(&archives, nkey).await;
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    let mut w = archives.create(nkey).await.unwrap();
    w.write_all(&bytes).await.unwrap();
    w.commit().await.unwrap();
    let bad = operation(
        &s,
        &admin.access,
        &format!(
            "/api/backup-jobs/{job}/records/{}/verify",
            newest["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;
    assert_eq!(bad["state"], "failed", "{bad:?}");
    assert!(
        bad["error"].as_str().unwrap().contains("checksum mismatch"),
        "{bad:?}"
    );

    // Deleting the job deletes its objects.
    let del = s
        .delete(&format!("/api/backup-jobs/{job}"), &admin.access)
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{:?}", del.body);
    assert!(m.keys(bucket, "cb/backups/").await.is_empty());
}

#[actix_web::test]
async fn s3_fields_are_checked_and_a_missing_bucket_fails_the_run_clearly() {
    let Some(m) = moto().await else {
        return;
    };
    let Some((c, s, admin)) = started().await else {
        return;
    };
    let src = create_volume(&c, "s3bad");
    let job_with = |storage: Value| {
        json!({
            "name": "bad s3",
            "source": {"kind": "volume", "endpoint": "local", "volume": src},
            "storage": storage,
        })
    };
    let mut cases = vec![];
    for (field, patch) in [
        ("storage.bucket", json!({"bucket": "Not_A_Bucket"})),
        ("storage.bucket", json!({"bucket": "ab"})),
        ("storage.prefix", json!({"prefix": "a/../b"})),
        ("storage.prefix", json!({"prefix": "/abs"})),
        ("storage.region", json!({"region": "EU WEST"})),
        ("storage.endpoint", json!({"endpoint": "ftp://127.0.0.1:1"})),
        (
            "storage.endpoint",
            json!({"endpoint": "http://user:pw@127.0.0.1:1"}),
        ),
        ("storage.endpoint", json!({"endpoint": "not a url"})),
        ("storage.access_key_id", json!({"access_key_id": ""})),
        (
            "storage.secret_access_key",
            json!({"secret_access_key": null}),
        ),
        (
            "storage.secret_access_key",
            json!({"secret_access_key": "has space"}),
        ),
    ] {
        let mut body = s3_body(&m, "somebucket");
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        cases.push((field, body));
    }
    for (field, storage) in cases {
        let r = s
            .post("/api/backup-jobs", &admin.access, job_with(storage.clone()))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(r.body["field"], field, "{storage} → {:?}", r.body);
    }
    let r = s
        .post(
            "/api/backup-jobs",
            &admin.access,
            job_with(
                json!({"kind": "s3", "bucket": "x-y-z", "access_key_id": "a",
                "secret_access_key": "b", "surprise": 1}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);

    // A bucket that does not exist: the run fails naming it, and a notification is raised.
    let created = s
        .post(
            "/api/backup-jobs",
            &admin.access,
            job_with(s3_body(&m, "no-such-bucket")),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let job = created.body["id"].as_str().unwrap().to_owned();
    let mut ws = subscribe(&s, &admin.access, "notification").await;
    let op = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/run"),
        json!({}),
    )
    .await;
    assert_eq!(op["state"], "failed", "{op:?}");
    let error = op["error"].as_str().unwrap();
    assert!(error.contains("S3 bucket 'no-such-bucket'"), "{error}");
    let record = records(&s, &admin.access, &job).await[0].clone();
    assert_eq!(record["status"], "failed");
    assert!(record["storage_key"].is_null());
    let (note, _) = wait_event(&mut ws, 10, "notification", |p| {
        p["title"] == "Backup failed"
    })
    .await
    .unwrap();
    assert!(
        note["payload"]["body"]
            .as_str()
            .unwrap()
            .contains("no-such-bucket"),
        "{note:?}"
    );

    // An endpoint where nothing listens: the run fails naming the bucket too.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut down = s3_body(&m, "cb-down");
    down["endpoint"] = json!(format!("http://127.0.0.1:{port}"));
    let r = s
        .put(
            &format!("/api/backup-jobs/{job}"),
            &admin.access,
            json!({"storage": down}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
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
            .contains("S3 bucket 'cb-down'"),
        "{op:?}"
    );
}

#[actix_web::test]
async fn an_upload_dropped_half_way_leaves_no_object_and_no_open_upload() {
    let Some(m) = moto().await else {
        return;
    };
    let bucket = "cb-partial";
    m.bucket(bucket).await;
    let archives = m.archives(bucket, None);
    let key = "job-1/rec-1.tar.zst";
    // 25 MiB: the upload becomes multipart (10 MiB parts) and parts are sent before the drop.
    let mut w = archives.create(key).await.unwrap();
    let chunk = vec![7u8; 1024 * 1024];
    for _ in 0..25 {
        w.write_all(&chunk).await.unwrap();
    }
    w.flush().await.unwrap();
    let mut opened = false;
    for _ in 0..100 {
        if m.open_uploads(bucket).await == 1 {
            opened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(opened, "the upload did not become a multipart upload");
    drop(w);
    let mut aborted = false;
    for _ in 0..100 {
        if m.open_uploads(bucket).await == 0 {
            aborted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(aborted, "the multipart upload was not aborted");
    assert!(m.keys(bucket, "").await.is_empty());
    assert!(archives.open(key).await.is_err());

    // The same write, committed: one object of the full length.
    let mut w = archives.create(key).await.unwrap();
    for _ in 0..25 {
        w.write_all(&chunk).await.unwrap();
    }
    w.commit().await.unwrap();
    assert_eq!(archives.len(key).await.unwrap(), 25 * 1024 * 1024);
    assert_eq!(m.open_uploads(bucket).await, 0);
}
