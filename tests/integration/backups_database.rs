//! ContextBay's own database as a backup source, on the engine the suite runs on (SQLite, or
//! PostgreSQL with `CB_TEST_STORE=postgres`): only an administrator creates or changes such a
//! job; a run archives a consistent copy (a tar of one file: a SQLite database or a `pg_dump`
//! custom-format dump), which verifies, downloads and can be encrypted; restoring it through
//! the API is refused with the way to do it.

use reqwest::StatusCode;
use serde_json::json;

use super::backups::{operation, records};
use super::harness::{TestServer, assert_error};
use super::support::postgres;

#[actix_web::test]
async fn the_masters_database_is_backed_up_by_admins_and_not_restored_over_itself() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    s.enable_module(&admin, "backups", serde_json::Value::Null)
        .await;
    let operator = s.user(&admin, "olga", "operator").await;

    let plain = json!({
        "name": "the master's database",
        "source": {"kind": "database"},
        "compression": "none",
    });
    let r = s
        .post("/api/backup-jobs", &operator.access, plain.clone())
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let created = s.post("/api/backup-jobs", &admin.access, plain).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["source"], json!({"kind": "database"}));
    let job = created.body["id"].as_str().unwrap().to_owned();
    // An operator changes neither this job nor a volume job into one.
    let r = s
        .put(
            &format!("/api/backup-jobs/{job}"),
            &operator.access,
            json!({"name": "renamed"}),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");

    let op = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/run"),
        json!({}),
    )
    .await;
    assert_eq!(op["state"], "succeeded", "{op:?}");
    let record = records(&s, &admin.access, &job).await[0].clone();
    assert_eq!(record["files"], 1, "{record:?}");
    let rid = record["id"].as_str().unwrap().to_owned();

    // The archive: one entry, the copy of the database the suite runs on.
    let tar = s
        .http
        .get(s.url(&format!("/api/backup-jobs/{job}/records/{rid}/download")))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let name = String::from_utf8_lossy(&tar[..100])
        .trim_end_matches('\0')
        .to_owned();
    let content = &tar[512..];
    if postgres::enabled() {
        assert_eq!(name, "contextbay.pgdump");
        assert!(content.starts_with(b"PGDMP"), "not a pg_dump archive");
    } else {
        assert_eq!(name, "contextbay.db");
        assert!(content.starts_with(b"SQLite format 3\0"));
        // The copy holds the installation's data: the operator created above is in it.
        assert!(content.windows(4).any(|w| w == b"olga"));
    }
    let verified = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/records/{rid}/verify"),
        json!({}),
    )
    .await;
    assert_eq!(verified["state"], "succeeded", "{verified:?}");
    assert_eq!(verified["result"]["files"], 1);

    // Restoring it over the running master is refused, with the way to do it.
    let r = s
        .post(
            &format!("/api/backup-jobs/{job}/records/{rid}/restore"),
            &admin.access,
            json!({}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(r.body["field"], "record");
    assert!(
        r.body["error"].as_str().unwrap().contains("--database-url"),
        "{:?}",
        r.body
    );

    // Encrypted: the stored object is age, and it verifies.
    let r = s
        .put(
            &format!("/api/backup-jobs/{job}"),
            &admin.access,
            json!({"encryption": {"kind": "age"}, "compression": "zstd"}),
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
    assert_eq!(op["state"], "succeeded", "{op:?}");
    let newest = records(&s, &admin.access, &job).await[0].clone();
    let nid = newest["id"].as_str().unwrap().to_owned();
    assert!(
        newest["storage_key"]
            .as_str()
            .unwrap()
            .ends_with(".tar.zst.age")
    );
    let stored = s
        .http
        .get(s.url(&format!("/api/backup-jobs/{job}/records/{nid}/download")))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(stored.starts_with(b"age-encryption.org/v1\n"));
    let verified = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/records/{nid}/verify"),
        json!({}),
    )
    .await;
    assert_eq!(verified["state"], "succeeded", "{verified:?}");
    // The older, clear record stays readable after encryption was turned on.
    let again = operation(
        &s,
        &admin.access,
        &format!("/api/backup-jobs/{job}/records/{rid}/verify"),
        json!({}),
    )
    .await;
    assert_eq!(again["state"], "succeeded", "{again:?}");
    s.stop().await;
}
