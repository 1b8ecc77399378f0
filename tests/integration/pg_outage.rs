//! PostgreSQL going away under a running master and coming back: requests fail cleanly with
//! 503 (the error shape, within the pool's timeout), `/api/health` says the store is down,
//! nothing written before is lost or half-written, and service resumes without restarting the
//! master (the pool reconnects).
//!
//! The test runs its own PostgreSQL cluster (`initdb` in a temporary directory, see
//! `support::postgres::OwnCluster`), whatever engine the suite runs on, because it stops and
//! starts it. Outside CI a missing PostgreSQL skips it with a message; with `CI=true` it fails.

use reqwest::StatusCode;
use serde_json::json;

use super::harness::{PASSWORD, TestServer, assert_error, eventually};
use super::support::postgres::{OwnCluster, required_by};

async fn usernames(s: &TestServer, token: &str) -> Vec<String> {
    let r = s.get("/api/users?limit=100", token).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut names: Vec<String> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[actix_web::test]
async fn a_postgres_restart_under_a_running_master_is_a_clean_503_then_service_resumes() {
    if !required_by("the PostgreSQL outage test") {
        return;
    }
    let Some(pg) = OwnCluster::start() else {
        return;
    };
    let url = pg.create_database();
    let s = TestServer::start_with(|c| c.storage.database_url = url).await;
    let admin = s.setup().await;
    let created = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": "before", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let health = s.get("/api/health", "").await;
    assert_eq!(health.status, StatusCode::OK, "{:?}", health.body);
    assert_eq!(health.body["store"], "up");
    let before = usernames(&s, &admin.access).await;

    // PostgreSQL goes away (its connections are cut, new ones refused).
    pg.down();
    let health = s.get("/api/health", "").await;
    assert_eq!(
        health.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        health.body
    );
    assert_eq!(health.body["store"], "down", "{:?}", health.body);
    assert_eq!(health.body["status"], "unavailable");
    let read = s.get("/api/users", &admin.access).await;
    assert_error(
        &read,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    assert!(
        read.body["error"].as_str().unwrap().contains("database"),
        "{:?}",
        read.body
    );
    let write = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": "during", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_error(
        &write,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    let login = s.login("before", PASSWORD).await;
    assert_error(
        &login,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );

    // Back on the same port: the same master serves again, with everything written before and
    // nothing of the refused write.
    pg.up();
    eventually(30, "the master's health back to ok", || async {
        let h = s.get("/api/health", "").await;
        (h.status == StatusCode::OK && h.body["store"] == "up").then_some(())
    })
    .await;
    assert_eq!(usernames(&s, &admin.access).await, before);
    let after = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": "after", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_eq!(after.status, StatusCode::CREATED, "{:?}", after.body);
    let mut expected = before.clone();
    expected.push("after".to_owned());
    expected.sort();
    assert_eq!(usernames(&s, &admin.access).await, expected);
    assert_eq!(s.login("before", PASSWORD).await.status, StatusCode::OK);
    s.stop().await;
}
