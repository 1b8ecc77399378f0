//! API keys: shown once, stored hashed, capped by the owner's role, last-used time, revocation.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use super::harness::{TestServer, assert_error};

#[actix_web::test]
async fn api_key_lifecycle() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let operator = s.user(&admin, "oper", "operator").await;

    let created = s
        .post(
            "/api/keys",
            &operator.access,
            json!({"name": "ci", "role": "viewer", "expires_in_days": 30}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let key = created.body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("cb_") && key.len() >= 46, "{key}");
    assert!(key.starts_with(created.body["prefix"].as_str().unwrap()));
    assert!(created.body["expires_at"].is_string());
    let id = created.body["id"].as_str().unwrap().to_owned();

    // Listed without the secret.
    let list = s.get("/api/keys", &operator.access).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert!(!list.body.to_string().contains(&key));
    assert!(list.body["items"][0]["last_used_at"].is_null());
    // Other users do not see it.
    assert_eq!(
        s.get("/api/keys", &admin.access).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The secret is not stored: the database holds a hash only.
    let export = s
        .get("/api/export?include_secrets=true", &admin.access)
        .await;
    assert!(!export.body.to_string().contains(&key));

    let with_key = |path: &str| {
        s.http
            .get(s.url(path))
            .header("x-api-key", key.clone())
            .send()
    };
    let me = TestServer::reply(with_key("/api/auth/me").await.unwrap()).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["auth_method"], "api_key");
    assert_eq!(me.body["role"], "viewer", "the key's role caps the owner's");
    let act = s
        .http
        .post(s.url("/api/notifications/test"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(act.status(), StatusCode::FORBIDDEN);

    // Last use is recorded (asynchronously, off the request path).
    let mut used = serde_json::Value::Null;
    for _ in 0..50 {
        used = s.get("/api/keys", &operator.access).await.body["items"][0]["last_used_at"].clone();
        if used.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(used.is_string(), "last_used_at was not recorded");

    // No key with more than the owner's role.
    let too_high = s
        .post(
            "/api/keys",
            &operator.access,
            json!({"name": "x", "role": "admin"}),
        )
        .await;
    assert_error(&too_high, StatusCode::FORBIDDEN, "forbidden");
    let bad = s
        .post(
            "/api/keys",
            &operator.access,
            json!({"name": "", "role": "viewer"}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");
    let bad = s
        .post(
            "/api/keys",
            &operator.access,
            json!({"name": "x", "expires_in_days": 0}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");

    // Someone else's key looks missing; the owner revokes it.
    let viewer = s.user(&admin, "viewr", "viewer").await;
    assert_error(
        &s.delete(&format!("/api/keys/{id}"), &viewer.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        s.delete(&format!("/api/keys/{id}"), &operator.access)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let after = TestServer::reply(with_key("/api/auth/me").await.unwrap()).await;
    assert_error(&after, StatusCode::UNAUTHORIZED, "unauthenticated");
    let bogus = s
        .http
        .get(s.url("/api/auth/me"))
        .header("x-api-key", "cb_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bogus.status(), StatusCode::UNAUTHORIZED);
    // Logging out is for sessions.
    let key2 = s
        .post("/api/keys", &operator.access, json!({"name": "k2"}))
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = s
        .http
        .post(s.url("/api/auth/logout"))
        .header("x-api-key", key2)
        .send()
        .await
        .unwrap();
    // An API key is not a session: that credential may not log out (revoke it instead).
    assert_eq!(out.status(), StatusCode::FORBIDDEN);
    s.stop().await;
}

#[actix_web::test]
async fn a_key_follows_its_owner() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let op = s.user(&admin, "op2", "operator").await;
    let key = s
        .post("/api/keys", &op.access, json!({"name": "k"}))
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = || {
        s.http
            .get(s.url("/api/auth/me"))
            .header("x-api-key", key.clone())
            .send()
    };
    assert_eq!(
        TestServer::reply(me().await.unwrap()).await.body["role"],
        "operator"
    );
    // Demoting the owner lowers what the key can do.
    s.put(
        &format!("/api/users/{}", op.user_id),
        &admin.access,
        json!({"role": "viewer"}),
    )
    .await;
    assert_eq!(
        TestServer::reply(me().await.unwrap()).await.body["role"],
        "viewer"
    );
    // Disabling the owner stops the key.
    s.put(
        &format!("/api/users/{}", op.user_id),
        &admin.access,
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(me().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    s.stop().await;
}
