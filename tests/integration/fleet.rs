//! The fleet: hosts and enrollment with every reason code, real in-process workers over gRPC,
//! node status, metrics, census, fuse, deletion cutting a worker off.

use std::time::{Duration, Instant};

use contextbay::worker::config::WorkerConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::harness::{Login, TestServer, assert_error};

async fn create_host(s: &TestServer, admin: &Login, name: &str) -> (String, String) {
    let r = s
        .post(
            "/api/hosts",
            &admin.access,
            json!({"name": name, "labels": {"env": "test"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let token = r.body["enroll_token"].as_str().unwrap().to_owned();
    assert!(r.body["install_snippet"].as_str().unwrap().contains(&token));
    (r.body["id"].as_str().unwrap().to_owned(), token)
}

async fn enroll(s: &TestServer, secret: &str, token: &str) -> super::harness::Reply {
    s.call(
        Method::POST,
        "/api/enroll",
        None,
        Some(json!({"shared_secret": secret, "enroll_token": token, "hostname": "box-1"})),
    )
    .await
}

fn worker_config(s: &TestServer, token: &str, dir: &std::path::Path, name: &str) -> WorkerConfig {
    WorkerConfig {
        master_url: s.base.clone(),
        grpc_url: s.grpc_url(),
        enroll_token: token.to_owned(),
        shared_secret: s.config.fleet.enroll_secret.clone(),
        data_dir: dir.to_path_buf(),
        heartbeat_interval_secs: 1,
        reconnect_min_ms: 100,
        reconnect_max_ms: 500,
        hostname: name.to_owned(),
        ..WorkerConfig::default()
    }
}

/// Polls `f` until it returns `Some`, for up to `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn enrollment_produces_every_reason_code() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let secret = s.config.fleet.enroll_secret.clone();
    let (id, token) = create_host(&s, &admin, "alpha").await;
    let host = s.get(&format!("/api/hosts/{id}"), &admin.access).await;
    assert_eq!(host.body["fuse"]["state"], "pending");
    assert!(host.body["token"]["ttl_seconds"].as_i64().unwrap() > 3000);
    assert!(
        !host.body.to_string().contains(&token),
        "the token is shown once"
    );
    assert_error(
        &s.post("/api/hosts", &admin.access, json!({"name": "alpha"}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_error(
        &s.post("/api/hosts", &admin.access, json!({"name": "bad name"}))
            .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );

    let r = enroll(&s, "wrong-secret", &token).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(r.body["error"].as_str().unwrap().contains("bad_secret"));
    let r = enroll(&s, &secret, "cbe_unknown").await;
    assert!(r.body["error"].as_str().unwrap().contains("unknown_host"));
    let r = s
        .call(Method::POST, "/api/enroll", None, Some(json!({"nope": 1})))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");

    // Regenerating invalidates the old token.
    let regen = s
        .post(
            &format!("/api/hosts/{id}/regenerate-token"),
            &admin.access,
            json!({}),
        )
        .await;
    assert_eq!(regen.status, StatusCode::OK);
    let new_token = regen.body["enroll_token"].as_str().unwrap().to_owned();
    assert!(
        enroll(&s, &secret, &token).await.body["error"]
            .as_str()
            .unwrap()
            .contains("token_revoked")
    );

    let ok = enroll(&s, &secret, &new_token).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["node_id"], id);
    assert!(ok.body["credential"].as_str().unwrap().starts_with("cbn_"));
    assert!(
        enroll(&s, &secret, &new_token).await.body["error"]
            .as_str()
            .unwrap()
            .contains("token_reused")
    );
    assert_error(
        &s.post(
            &format!("/api/hosts/{id}/regenerate-token"),
            &admin.access,
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );

    // An expired token.
    let (other, other_token) = create_host(&s, &admin, "beta").await;
    expire_token(&s, &other).await;
    assert!(
        enroll(&s, &secret, &other_token).await.body["error"]
            .as_str()
            .unwrap()
            .contains("token_expired")
    );

    let attempts = s
        .get(&format!("/api/hosts/{id}/enroll-attempts"), &admin.access)
        .await;
    let reasons: Vec<&str> = attempts.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["reason"].as_str().unwrap())
        .collect();
    for reason in ["bad_secret", "token_revoked", "accepted", "token_reused"] {
        assert!(
            reasons.contains(&reason),
            "{reason} missing from {reasons:?}"
        );
    }
    assert!(attempts.body["items"][0]["source_ip"].is_string());
    let beta = s
        .get(
            &format!("/api/hosts/{other}/enroll-attempts"),
            &admin.access,
        )
        .await;
    assert_eq!(beta.body["items"][0]["reason"], "token_expired");
    // Attempts that name no host are still logged.
    let (n,): (i64,) = sqlx_count(
        &s,
        "SELECT COUNT(*) FROM enroll_attempts WHERE host_id IS NULL",
    )
    .await;
    assert!(n >= 2, "unknown_host and bad_request attempts are logged");
    s.stop().await;
}

async fn db(s: &TestServer) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&s.config.database_url())
        .await
        .unwrap()
}

async fn expire_token(s: &TestServer, host: &str) {
    sqlx::query("UPDATE hosts SET token_expires_at = 1 WHERE id = $1")
        .bind(host)
        .execute(&db(s).await)
        .await
        .unwrap();
}

async fn sqlx_count(s: &TestServer, sql: &'static str) -> (i64,) {
    sqlx::query_as(sql).fetch_one(&db(s).await).await.unwrap()
}

#[actix_web::test]
async fn enrollment_is_rate_limited_per_ip() {
    let s = TestServer::start().await;
    let secret = s.config.fleet.enroll_secret.clone();
    for _ in 0..10 {
        assert_eq!(
            enroll(&s, &secret, "cbe_x").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = enroll(&s, &secret, "cbe_x").await;
    assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(r.headers.contains_key("retry-after"));
    let (n,): (i64,) = sqlx_count(
        &s,
        "SELECT COUNT(*) FROM enroll_attempts WHERE reason = 'rate_limited'",
    )
    .await;
    assert_eq!(n, 1);
    s.stop().await;
}

#[actix_web::test]
async fn a_worker_enrolls_reports_and_is_cut_off_when_deleted() {
    let s = TestServer::start_with(|c| {
        c.fleet.heartbeat_interval_secs = 1;
        c.fleet.stale_after_secs = 2;
        c.fleet.offline_after_secs = 4;
        c.fleet.restart_grace_secs = 0;
    })
    .await;
    let admin = s.setup().await;
    let (id, token) = create_host(&s, &admin, "gamma").await;
    let dir = tempfile::tempdir().unwrap();
    let worker = tokio::spawn(contextbay::worker::run(worker_config(
        &s,
        &token,
        dir.path(),
        "gamma-host",
    )));

    // The node turns healthy and reports metrics.
    let node = eventually(20, || async {
        let r = s.get(&format!("/api/nodes/{id}"), &admin.access).await;
        (r.status == StatusCode::OK
            && r.body["status"] == "healthy"
            && r.body["metrics"].is_object())
        .then_some(r.body)
    })
    .await;
    assert_eq!(node["hostname"], "gamma-host");
    assert!(
        node["last_seen_at"].is_string(),
        "heartbeats record contact"
    );
    assert_eq!(node["fuse"]["worker_registered"], true);
    assert!(node["hardware"]["cpu_cores"].as_u64().unwrap() >= 1);
    assert!(node["metrics"]["memory_total_bytes"].as_u64().unwrap() > 0);
    // The credential is stored with mode 0600.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("node.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Its samples are in /metrics with node and hostname labels.
    let metrics = eventually(10, || async {
        let text = s
            .http
            .get(s.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.contains(&format!(
            "contextbay_node_cpu_percent{{hostname=\"gamma-host\",node=\"{id}\"}}"
        ))
        .then_some(text)
    })
    .await;
    assert!(metrics.contains(&format!(
        "contextbay_node_up{{hostname=\"gamma-host\",node=\"{id}\"}} 1"
    )));

    // The census taken on connect, a fresh one, and their diff.
    let first = eventually(20, || async {
        let r = s
            .get(&format!("/api/nodes/{id}/census"), &admin.access)
            .await;
        (r.status == StatusCode::OK).then_some(r.body)
    })
    .await;
    assert!(first["data"].is_object());
    let second = s
        .post(&format!("/api/nodes/{id}/census"), &admin.access, json!({}))
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
    let diff = s
        .get(&format!("/api/nodes/{id}/census/diff"), &admin.access)
        .await;
    assert_eq!(diff.status, StatusCode::OK, "{:?}", diff.body);
    assert_eq!(diff.body["to"]["id"], second.body["id"]);
    assert!(diff.body["added"].is_array() && diff.body["changed"].is_array());
    let list = s
        .get(&format!("/api/census?node={id}"), &admin.access)
        .await;
    assert!(list.body["items"].as_array().unwrap().len() >= 2);
    assert!(list.body["items"][0].get("data").is_none());

    // Fleet status and topology.
    let fleet = s.get("/api/nodes/fleet-status", &admin.access).await;
    assert_eq!(fleet.body["total"], 1);
    assert_eq!(fleet.body["by_status"]["healthy"], 1);
    assert!(fleet.body["cpu_cores"].as_u64().unwrap() >= 1);
    let topo = s.get("/api/topology", &admin.access).await;
    assert!(
        topo.body["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["to"] == id.as_str() && e["connected"] == true)
    );

    // Labels and security policy.
    let labels = s
        .put(
            &format!("/api/nodes/{id}/labels"),
            &admin.access,
            json!({"labels": {"zone": "a"}}),
        )
        .await;
    assert_eq!(labels.body["labels"]["zone"], "a");
    assert_error(
        &s.put(
            &format!("/api/nodes/{id}/labels"),
            &admin.access,
            json!({"labels": {"Bad Key": "x"}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    let filtered = s
        .get("/api/nodes?label=zone=a&status=healthy", &admin.access)
        .await;
    assert_eq!(filtered.body["total"], 1);
    assert_eq!(
        s.get("/api/nodes?label=zone=b", &admin.access).await.body["total"],
        0
    );
    let policy = s
        .get(&format!("/api/nodes/{id}/security-policy"), &admin.access)
        .await;
    assert_eq!(policy.body["allow_privileged"], false);
    let put = s
        .put(
            &format!("/api/nodes/{id}/security-policy"),
            &admin.access,
            json!({"allow_exec": false, "allow_privileged": false, "allowed_bind_prefixes": ["/srv/data"], "allowed_images": ["registry.lan/*"]}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(
        s.get(&format!("/api/nodes/{id}/security-policy"), &admin.access)
            .await
            .body["allow_exec"],
        false
    );
    let bad = s
        .put(
            &format!("/api/nodes/{id}/security-policy"),
            &admin.access,
            json!({"allow_exec": true, "allow_privileged": false, "allowed_bind_prefixes": ["relative"], "allowed_images": []}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");

    // Deleting the host revokes the credential and cuts the worker off.
    let before = s.state().metrics.grpc_unauthenticated.get();
    assert_eq!(
        s.delete(&format!("/api/hosts/{id}"), &admin.access)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &s.get(&format!("/api/nodes/{id}"), &admin.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    eventually(10, || async {
        (s.state().metrics.grpc_unauthenticated.get() > before).then_some(())
    })
    .await;
    worker.abort();
    s.stop().await;
}

#[actix_web::test]
async fn a_silent_node_goes_stale_then_offline_and_recovers() {
    let s = TestServer::start_with(|c| {
        c.fleet.heartbeat_interval_secs = 1;
        c.fleet.stale_after_secs = 2;
        c.fleet.offline_after_secs = 4;
        c.fleet.restart_grace_secs = 0;
    })
    .await;
    let admin = s.setup().await;
    let (id, token) = create_host(&s, &admin, "delta").await;
    let dir = tempfile::tempdir().unwrap();
    let worker = tokio::spawn(contextbay::worker::run(worker_config(
        &s,
        &token,
        dir.path(),
        "delta-host",
    )));
    eventually(20, || async {
        let r = s.get(&format!("/api/nodes/{id}"), &admin.access).await;
        (r.body["status"] == "healthy").then_some(())
    })
    .await;
    let since = s.get("/api/activity?limit=1", &admin.access).await.body["items"][0]["id"]
        .as_i64()
        .unwrap();

    worker.abort();
    let statuses = eventually(15, || async {
        let r = s
            .get("/api/activity?type=node.status&limit=50", &admin.access)
            .await;
        let seen: Vec<String> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["id"].as_i64().unwrap() > since && e["payload"]["node_id"] == id.as_str())
            .map(|e| e["payload"]["status"].as_str().unwrap().to_owned())
            .collect();
        seen.contains(&"offline".to_owned()).then_some(seen)
    })
    .await;
    // Newest first: offline after stale.
    assert_eq!(statuses, vec!["offline", "stale"]);

    // The worker comes back with its stored credential (no token needed any more).
    let mut again = worker_config(&s, "", dir.path(), "delta-host");
    again.enroll_token = String::new();
    let worker = tokio::spawn(contextbay::worker::run(again));
    eventually(20, || async {
        let r = s.get(&format!("/api/nodes/{id}"), &admin.access).await;
        (r.body["status"] == "healthy").then_some(())
    })
    .await;
    worker.abort();
    s.stop().await;
}

#[actix_web::test]
async fn grpc_refuses_missing_and_wrong_credentials_and_accepts_an_older_worker() {
    use contextbay_proto::v1::RegisterRequest;
    use contextbay_proto::v1::node_service_client::NodeServiceClient;

    let s = TestServer::start().await;
    let admin = s.setup().await;
    let (id, token) = create_host(&s, &admin, "epsilon").await;
    let r = enroll(&s, &s.config.fleet.enroll_secret.clone(), &token).await;
    let credential = r.body["credential"].as_str().unwrap().to_owned();
    let mut client = NodeServiceClient::connect(s.grpc_url()).await.unwrap();

    let anonymous = client
        .register(RegisterRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    let mut wrong = tonic::Request::new(RegisterRequest::default());
    wrong
        .metadata_mut()
        .insert("authorization", "Bearer cbn_wrong".parse().unwrap());
    assert_eq!(
        client.register(wrong).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    assert!(s.state().metrics.grpc_unauthenticated.get() >= 2);

    // A worker of an older minor version sends fewer fields (proto_minor 0, no Docker API
    // version, no uptime): it is still accepted.
    let mut old = tonic::Request::new(RegisterRequest {
        node_id: id.clone(),
        hostname: "old-agent".into(),
        agent_version: "0.0.9".into(),
        ..RegisterRequest::default()
    });
    old.metadata_mut().insert(
        "authorization",
        format!("Bearer {credential}").parse().unwrap(),
    );
    let reply = client.register(old).await.unwrap().into_inner();
    assert_eq!(reply.node_id, id);
    assert_eq!(reply.master_proto_minor, contextbay_proto::PROTO_MINOR);
    let node = s.get(&format!("/api/nodes/{id}"), &admin.access).await;
    assert_eq!(node.body["proto_minor"], 0);
    assert_eq!(node.body["status"], "healthy");

    // Another node's id with this credential is refused.
    let mut other = tonic::Request::new(RegisterRequest {
        node_id: "someone-else".into(),
        ..RegisterRequest::default()
    });
    other.metadata_mut().insert(
        "authorization",
        format!("Bearer {credential}").parse().unwrap(),
    );
    assert_eq!(
        client.register(other).await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );
    let _: Value = json!({});
    s.stop().await;
}

/// With `fleet.grpc_tls` the gRPC port speaks TLS only, the install snippet carries the
/// certificate's SHA-256, a worker with that pin connects, and one with another pin does not.
#[actix_web::test]
async fn workers_pin_the_masters_grpc_certificate() {
    let s = TestServer::start_with(|c| {
        c.fleet.grpc_tls = true;
        c.fleet.heartbeat_interval_secs = 1;
    })
    .await;
    let admin = s.setup().await;
    let r = s
        .post("/api/hosts", &admin.access, json!({"name": "pinned"}))
        .await;
    let snippet = r.body["install_snippet"].as_str().unwrap().to_owned();
    let pin = snippet
        .split("--master-fingerprint=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no fingerprint in {snippet}"))
        .to_owned();
    assert!(snippet.contains("--grpc-url https://"), "{snippet}");
    assert!(pin.starts_with("sha256:") && pin.len() == 71, "{pin}");
    // The pin is the certificate the master generated (key mode 0600) and serves.
    let cert = std::fs::read_to_string(s.data_dir().join("grpc-tls/cert.pem")).unwrap();
    let der = {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()
    };
    assert_eq!(
        contextbay::worker::pinned_tls::fingerprint(der.as_ref()),
        pin
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.data_dir().join("grpc-tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let grpc = s.grpc_url().replace("http://", "https://");

    // A plain (non-TLS) client gets nowhere.
    if let Ok(channel) = contextbay::worker::session::connect(&s.grpc_url(), None).await {
        let mut client = contextbay_proto::v1::node_service_client::NodeServiceClient::new(channel);
        let plain = client
            .register(contextbay_proto::v1::RegisterRequest::default())
            .await;
        assert!(plain.is_err(), "{plain:?}");
    }

    // A worker with another pin never registers: the handshake fails.
    let (wrong_id, wrong_token) = create_host(&s, &admin, "wrong-pin").await;
    let wrong_dir = tempfile::tempdir().unwrap();
    let mut wrong = worker_config(&s, &wrong_token, wrong_dir.path(), "wrong-host");
    wrong.grpc_url = grpc.clone();
    wrong.master_fingerprint = format!("sha256:{}", "0".repeat(64));
    let wrong_worker = tokio::spawn(contextbay::worker::run(wrong));

    // The right pin: registered, heartbeating, healthy.
    let id = r.body["id"].as_str().unwrap().to_owned();
    let token = r.body["enroll_token"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let mut config = worker_config(&s, &token, dir.path(), "pinned-host");
    config.grpc_url = grpc;
    config.master_fingerprint = pin;
    let worker = tokio::spawn(contextbay::worker::run(config));
    eventually(20, || async {
        let r = s.get(&format!("/api/nodes/{id}"), &admin.access).await;
        (r.status == StatusCode::OK && r.body["status"] == "healthy").then_some(())
    })
    .await;
    // The wrong-pin worker enrolls over HTTP (its credential is written), then keeps failing
    // the TLS handshake: give it a few reconnect rounds.
    let credential = wrong_dir.path().join("node.json");
    eventually(10, || async { credential.exists().then_some(()) }).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let wrong_node = s
        .get(&format!("/api/nodes/{wrong_id}"), &admin.access)
        .await;
    assert_ne!(
        wrong_node.body["status"], "healthy",
        "{:?}",
        wrong_node.body
    );
    assert_ne!(
        wrong_node.body["fuse"]["worker_registered"], true,
        "{:?}",
        wrong_node.body
    );
    worker.abort();
    wrong_worker.abort();
    s.stop().await;
}
