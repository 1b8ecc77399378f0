//! Long-running operations (jobs): start one through its `202` and wait for it to end.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::integration::harness::{Reply, TestServer};

/// Posts a stack action; it answers `202 {"operation"}` with the operation's address in
/// `Location`. Waits for the operation to end and answers with it in the body (the reply as it
/// came when it is not a 202).
pub async fn act(s: &TestServer, token: &str, path: &str) -> Reply {
    let started = s.post(path, token, json!({})).await;
    if started.status != StatusCode::ACCEPTED {
        return started;
    }
    let id = started.body["operation"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        started.headers["location"].to_str().unwrap(),
        format!("/api/operations/{id}")
    );
    assert!(
        ["queued", "running"].contains(&started.body["operation"]["state"].as_str().unwrap()),
        "{:?}",
        started.body
    );
    Reply {
        status: started.status,
        headers: started.headers,
        body: wait_operation(s, token, &id).await,
    }
}

/// Polls `GET /api/operations/{id}` until the operation has ended.
pub async fn wait_operation(s: &TestServer, token: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let op = s.get(&format!("/api/operations/{id}"), token).await;
        assert_eq!(op.status, StatusCode::OK, "{:?}", op.body);
        if !["queued", "running"].contains(&op.body["state"].as_str().unwrap()) {
            return op.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "operation {id} still running: {:?}",
            op.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
