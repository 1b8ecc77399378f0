//! `/api/users`: CRUD, conflicts, the last admin, and effects on sessions.

use reqwest::StatusCode;
use serde_json::json;

use super::harness::{PASSWORD, TestServer, assert_error};

#[actix_web::test]
async fn user_lifecycle_and_conflicts() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let created = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": "alice", "password": PASSWORD, "role": "operator"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["role"], "operator");
    assert!(created.body.get("password_hash").is_none());
    let id = created.body["id"].as_str().unwrap().to_owned();

    let dup = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": "alice", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_error(&dup, StatusCode::CONFLICT, "conflict");
    assert!(dup.body["error"].as_str().unwrap().contains("alice"));

    let bad_name = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": "a b", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_error(&bad_name, StatusCode::BAD_REQUEST, "bad_request");
    let weak = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": "bob", "password": "short", "role": "viewer"}),
        )
        .await;
    assert_error(&weak, StatusCode::BAD_REQUEST, "bad_request");
    assert!(weak.body["error"].as_str().unwrap().contains("password"));

    let list = s.get("/api/users?limit=1&offset=0", &admin.access).await;
    assert_eq!(list.body["total"], 2);
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let found = s.get("/api/users?q=ALI", &admin.access).await;
    assert_eq!(found.body["items"][0]["username"], "alice");
    assert_eq!(
        s.get("/api/users?limit=0", &admin.access).await.status,
        StatusCode::BAD_REQUEST
    );

    let alice = s.login("alice", PASSWORD).await;
    let alice_token = alice.body["access_token"].as_str().unwrap().to_owned();
    // A role change applies to live tokens at once.
    let r = s
        .put(
            &format!("/api/users/{id}"),
            &admin.access,
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        s.get("/api/auth/me", &alice_token).await.body["role"],
        "viewer"
    );
    assert_eq!(
        s.post("/api/notifications/test", &alice_token, json!({}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Disabling ends the user's sessions.
    let r = s
        .put(
            &format!("/api/users/{id}"),
            &admin.access,
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(r.body["disabled"], true);
    assert_eq!(
        s.get("/api/auth/me", &alice_token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.login("alice", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = s
        .put(
            &format!("/api/users/{id}"),
            &admin.access,
            json!({"disabled": false, "password": "another-password-2"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        s.login("alice", "another-password-2").await.status,
        StatusCode::OK
    );
    // Nothing to change: the user as it is.
    let empty = s
        .put(&format!("/api/users/{id}"), &admin.access, json!({}))
        .await;
    assert_eq!(empty.status, StatusCode::OK, "{:?}", empty.body);
    assert_eq!(empty.body["id"], id, "{:?}", empty.body);
    assert_eq!(empty.body["username"], "alice");

    let del = s.delete(&format!("/api/users/{id}"), &admin.access).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_error(
        &s.get(&format!("/api/users/{id}"), &admin.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.delete(&format!("/api/users/{id}"), &admin.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    s.stop().await;
}

#[actix_web::test]
async fn the_last_admin_cannot_be_removed_or_demoted() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let own = format!("/api/users/{}", admin.user_id);
    assert_error(
        &s.delete(&own, &admin.access).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_error(
        &s.put(&own, &admin.access, json!({"disabled": true})).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let demote = s.put(&own, &admin.access, json!({"role": "viewer"})).await;
    assert_error(&demote, StatusCode::CONFLICT, "conflict");
    assert!(demote.body["error"].as_str().unwrap().contains("last"));
    // With a second admin, the first may step down.
    s.user(&admin, "second", "admin").await;
    assert_eq!(
        s.put(&own, &admin.access, json!({"role": "operator"}))
            .await
            .status,
        StatusCode::OK
    );
    s.stop().await;
}

#[actix_web::test]
async fn admin_commands_create_users_and_reset_passwords() {
    use contextbay::admin::{PasswordSource, create_user, reset_password};
    use contextbay::auth::Role;

    let dir = tempfile::tempdir().unwrap();
    let config = super::support::postgres::test_config(dir.path());
    let created = create_user(
        &config,
        "root",
        Role::Admin,
        PasswordSource::Given("first-password-1".into()),
    )
    .await
    .unwrap();
    assert!(created.contains("created admin 'root'"));
    let generated = create_user(&config, "ops", Role::Operator, PasswordSource::Generate)
        .await
        .unwrap();
    let ops_password = generated.rsplit(": ").next().unwrap().to_owned();
    assert!(
        create_user(&config, "root", Role::Viewer, PasswordSource::Generate)
            .await
            .is_err(),
        "duplicate"
    );
    assert!(
        create_user(&config, "x y", Role::Viewer, PasswordSource::Generate)
            .await
            .is_err(),
        "bad name"
    );
    assert!(
        create_user(
            &config,
            "weak",
            Role::Viewer,
            PasswordSource::Given("short".into())
        )
        .await
        .is_err()
    );
    reset_password(
        &config,
        "root",
        PasswordSource::Given("second-password-2".into()),
    )
    .await
    .unwrap();
    assert!(
        reset_password(&config, "nobody", PasswordSource::Generate)
            .await
            .is_err()
    );

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = contextbay::start_on(config, listener).await.unwrap();
    let base = format!("http://{}", server.http_addr);
    let login = |user: &'static str, password: String| {
        let base = base.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/api/auth/login"))
                .json(&serde_json::json!({"username": user, "password": password}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        login("root", "first-password-1".into()).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login("root", "second-password-2".into()).await,
        StatusCode::OK
    );
    assert_eq!(login("ops", ops_password).await, StatusCode::OK);
    server.stop().await;
}
