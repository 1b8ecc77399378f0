//! Audit exactly once and without secrets, `/metrics` (checked by promtool), OpenAPI, system info.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::harness::{PASSWORD, TestServer};

#[actix_web::test]
async fn every_mutation_is_audited_exactly_once_without_secrets() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let before = s.audit(&admin, "").await.len();

    let created = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": "carol", "password": "carols-secret-pw", "role": "viewer"}),
        )
        .await;
    let request_id = created.headers["x-request-id"].to_str().unwrap().to_owned();
    let key = s
        .post("/api/keys", &admin.access, json!({"name": "k"}))
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let bad = s
        .post("/api/users", &admin.access, json!({"nope": 1}))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let failed_login = s.login("carol", "wrong-password-x").await;
    assert_eq!(failed_login.status, StatusCode::UNAUTHORIZED);
    let carol = s.login("carol", "carols-secret-pw").await;
    let refresh = carol.body["refresh_token"].as_str().unwrap().to_owned();
    s.call(
        Method::POST,
        "/api/auth/refresh",
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    // Reads are not audited.
    s.get("/api/users", &admin.access).await;

    let entries = s.audit(&admin, "").await;
    assert_eq!(entries.len(), before + 6, "{entries:#?}");
    let mine: Vec<_> = entries
        .iter()
        .filter(|e| e["request_id"] == request_id)
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["action"], "POST /api/users");
    assert_eq!(mine[0]["actor"], "admin");
    assert_eq!(mine[0]["result"], "success");
    assert_eq!(mine[0]["status"], 201);
    assert_eq!(mine[0]["source_ip"], "127.0.0.1");
    let logins: Vec<_> = entries
        .iter()
        .filter(|e| e["action"] == "POST /api/auth/login")
        .collect();
    assert!(
        logins
            .iter()
            .any(|e| e["actor"] == "carol" && e["result"] == "success")
    );
    assert!(
        logins
            .iter()
            .any(|e| e["actor"] == "anonymous" && e["result"] == "failure")
    );
    let text = serde_json::to_string(&entries).unwrap();
    for secret in [
        "carols-secret-pw",
        "wrong-password-x",
        PASSWORD,
        key.as_str(),
        refresh.as_str(),
        admin.access.as_str(),
    ] {
        assert!(!text.contains(secret), "audit log contains a secret");
    }

    // Filters and paging.
    let failures = s.audit(&admin, "&result=failure").await;
    assert!(failures.iter().all(|e| e["result"] == "failure") && failures.len() >= 2);
    let carols = s.audit(&admin, "&actor=carol").await;
    assert!(!carols.is_empty() && carols.iter().all(|e| e["actor"] == "carol"));
    let users = s.audit(&admin, "&action=/api/users").await;
    assert!(
        users
            .iter()
            .all(|e| e["action"].as_str().unwrap().contains("/api/users"))
    );
    let page = s.get("/api/audit?limit=2&offset=1", &admin.access).await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["items"][0]["id"], entries[1]["id"]);
    let future = s.audit(&admin, "&since=2999-01-01T00:00:00Z").await;
    assert!(future.is_empty());
    assert_eq!(
        s.get("/api/audit?since=yesterday", &admin.access)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    s.stop().await;
}

#[actix_web::test]
async fn metrics_are_valid_prometheus_text() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    s.get("/api/users", &admin.access).await;
    let res = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    for needle in [
        "contextbay_http_requests_total{method=\"GET\",route=\"/api/users\",status=\"200\"} 1",
        "contextbay_http_request_duration_seconds_bucket",
        "contextbay_ws_sessions 0",
        "contextbay_events_published_total",
        "contextbay_events_dropped_total 0",
        "contextbay_actor_restarts_total{actor=\"broadcaster\"} 0",
        "contextbay_db_pool_connections{pool=\"write\"",
        "contextbay_build_info{version=",
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(needle), "missing {needle}\n{text}");
    }
    match std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut child) => {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
                "promtool: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(e) => {
            assert!(
                std::env::var("CI").is_err(),
                "promtool is required on CI: {e}"
            );
            eprintln!("promtool not installed; skipped the promtool check outside CI");
        }
    }
    s.stop().await;
}

#[actix_web::test]
async fn openapi_and_system_info() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let doc = s.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let users = &doc.body["paths"]["/api/users"]["post"];
    assert_eq!(users["x-required-role"], "admin");
    assert!(users["requestBody"].is_object());
    assert_eq!(
        doc.body["paths"]["/api/health"]["get"]["x-required-role"],
        "public"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.data_dir())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "the data directory is private");
    }
    let info = s.get("/api/system/info", &admin.access).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.body["database"], super::support::postgres::engine());
    assert!(info.body["rss_bytes"].as_u64().unwrap() > 1_000_000);
    assert!(info.body["events_published"].as_u64().unwrap() >= 1);
    s.stop().await;
}
