//! Export → import round trip into a fresh instance; import is validated and all-or-nothing.

use reqwest::StatusCode;
use serde_json::json;

use super::harness::{ADMIN, PASSWORD, TestServer, assert_error};

#[actix_web::test]
async fn export_import_round_trip_into_a_fresh_instance() {
    let a = TestServer::start().await;
    let admin = a.setup().await;
    let op = a.user(&admin, "olga", "operator").await;
    let key = a
        .post("/api/keys", &op.access, json!({"name": "deploy"}))
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    a.put(
        "/api/settings/ui.instance_name",
        &admin.access,
        json!({"value": "Prod"}),
    )
    .await;
    a.put(
        "/api/config/workflows",
        &admin.access,
        json!({"enabled": true, "config": {"n8n_url": "http://127.0.0.1:5678", "n8n_api_key": "sealed-secret"}}),
    )
    .await;

    let plain = a.get("/api/export", &admin.access).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(
        plain.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("attachment")
    );
    let text = plain.body.to_string();
    assert!(
        !text.contains("argon2"),
        "no password hashes without include_secrets"
    );
    assert!(!text.contains("sealed-secret"), "secrets never in clear");
    assert!(plain.body["api_keys"][0].get("key_hash").is_none());
    let full = a
        .get("/api/export?include_secrets=true", &admin.access)
        .await;
    assert!(full.body.to_string().contains("$argon2id$"));
    assert!(!full.body.to_string().contains("sealed-secret"));
    assert!(!full.body.to_string().contains(&key));
    a.stop().await;

    let b = TestServer::start().await;
    let b_admin = b.setup().await;
    let r = b
        .post("/api/import", &b_admin.access, full.body.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["imported"]["users_created"], 1);
    assert_eq!(r.body["imported"]["users_updated"], 1);
    assert_eq!(r.body["imported"]["api_keys"], 1);
    assert_eq!(r.body["imported"]["settings"], 1);
    assert_eq!(r.body["imported"]["modules"], 1);
    // b's admin took a's password hash (same password, other salt): its sessions ended.
    assert_eq!(r.body["imported"]["users_signed_out"], 1);
    assert_eq!(
        b.get("/api/auth/me", &b_admin.access).await.status,
        StatusCode::UNAUTHORIZED
    );
    let b_admin = super::harness::Login::from(&b.login(ADMIN, PASSWORD).await.body);
    // Users log in with their old passwords; keys keep working; settings and modules carried.
    assert_eq!(b.login("olga", PASSWORD).await.status, StatusCode::OK);
    let me = b
        .http
        .get(b.url("/api/auth/me"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        b.get("/api/settings/ui.instance_name", &b_admin.access)
            .await
            .body["value"],
        "Prod"
    );
    let wf = b.get("/api/config/workflows", &b_admin.access).await;
    assert_eq!(wf.body["enabled"], true);
    assert_eq!(wf.body["configured"], true);
    // Importing the same document again changes nothing new.
    let again = b.post("/api/import", &b_admin.access, full.body).await;
    assert_eq!(again.body["imported"]["users_created"], 0);
    assert_eq!(again.body["imported"]["api_keys_skipped"], 1);
    assert_eq!(again.body["imported"]["users_signed_out"], 0);
    b.stop().await;
}

#[actix_web::test]
async fn invalid_imports_store_nothing() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let doc = |users: serde_json::Value, settings: serde_json::Value| {
        json!({"format": "contextbay-export", "version": 1, "exported_at": "2026-11-27T00:00:00Z",
               "users": users, "settings": settings})
    };
    let good_user = json!({"id": uuid::Uuid::new_v4().to_string(), "username": "newuser", "role": "viewer", "disabled": false});
    // A valid user followed by an invalid setting: nothing is imported.
    let r = s
        .post(
            "/api/import",
            &admin.access,
            doc(
                json!([good_user]),
                json!([{"key": "ui.default_theme", "value": "pink"}]),
            ),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert!(r.body["error"].as_str().unwrap().contains("settings[0]"));
    assert_eq!(s.get("/api/users", &admin.access).await.body["total"], 1);

    let r = s
        .post(
            "/api/import",
            &admin.access,
            json!({"format": "other", "version": 1, "exported_at": ""}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = s
        .post(
            "/api/import",
            &admin.access,
            doc(
                json!([{"id": "x", "username": "u1x", "role": "viewer", "disabled": false}]),
                json!([]),
            ),
        )
        .await;
    assert!(r.body["error"].as_str().unwrap().contains("users[0]"));
    let r = s
        .post(
            "/api/import",
            &admin.access,
            doc(json!([{"id": uuid::Uuid::new_v4().to_string(), "username": "admin", "role": "viewer", "disabled": false}]), json!([])),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("your own account")
    );
    let r = s
        .post(
            "/api/import",
            &admin.access,
            json!({"format": "contextbay-export", "version": 1, "exported_at": "", "bogus": 1}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    assert_eq!(s.get("/api/users", &admin.access).await.body["total"], 1);
    s.stop().await;
}

#[actix_web::test]
async fn an_import_that_replaces_a_password_hash_ends_that_users_sessions() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let olga = s.user(&admin, "olga", "operator").await;
    let doc = s
        .get("/api/export?include_secrets=true", &admin.access)
        .await
        .body;
    let new_hash = contextbay::auth::password::hash("another-password-123").unwrap();
    let mut replaced = doc.clone();
    for u in replaced["users"].as_array_mut().unwrap() {
        if u["username"] == "olga" {
            u["password_hash"] = json!(new_hash);
        }
    }
    let r = s.post("/api/import", &admin.access, replaced).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["imported"]["users_signed_out"], 1);
    // olga's access and refresh tokens are refused; the new password works, the old does not.
    assert_error(
        &s.get("/api/auth/me", &olga.access).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let refresh = s
        .call(
            reqwest::Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": olga.refresh})),
        )
        .await;
    assert_error(&refresh, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(
        s.login("olga", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.login("olga", "another-password-123").await.status,
        StatusCode::OK
    );
    // The admin, whose hash the document carries unchanged, keeps the session.
    assert_eq!(
        s.get("/api/auth/me", &admin.access).await.status,
        StatusCode::OK
    );
    s.stop().await;
}
