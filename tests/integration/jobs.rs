//! Operations (jobs): stack actions answer `202` and run on in the master, one per stack; they
//! can be cancelled (the compose CLI is killed), survive the client going away, and a master
//! that stops (or vanishes) leaves them `interrupted`, never silently lost.

use std::io::Write;
use std::time::Duration;

use contextbay_actors::{Job, JobState};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::harness::{Login, TestServer, assert_error};
use super::support::compose::Projects;
use super::support::docker::{Cleanup, IMAGE, docker, engine_available, ensure_image};
use super::support::operations::{act, wait_operation};

/// A stack whose deploy does not end by itself: `after` waits for `slow` to be healthy, and its
/// first health check is an hour away.
fn slow_compose() -> String {
    let common = format!(
        "    image: {IMAGE}\n    command: [\"sh\", \"-c\", \"while true; do sleep 1; done\"]\n    \
         stop_grace_period: 1s\n    labels:\n      contextbay.test: \"1\"\n    networks: [backend]\n"
    );
    format!(
        "services:\n  slow:\n{common}    healthcheck:\n      test: [\"CMD\", \"false\"]\n      \
         interval: 1h\n      start_period: 1h\n  after:\n{common}    depends_on:\n      slow:\n        \
         condition: service_healthy\nnetworks:\n  backend:\n    internal: true\n    labels:\n      \
         contextbay.test: \"1\"\n"
    )
}

fn quick_compose() -> String {
    format!(
        "services:\n  web:\n    image: {IMAGE}\n    command: [\"sh\", \"-c\", \"while true; do sleep 1; done\"]\n    \
         stop_grace_period: 1s\n    labels:\n      contextbay.test: \"1\"\n    networks: [backend]\n\
         networks:\n  backend:\n    internal: true\n    labels:\n      contextbay.test: \"1\"\n"
    )
}

async fn create(s: &TestServer, admin: &Login, name: &str, compose: String) -> String {
    let created = s
        .post(
            "/api/stacks",
            &admin.access,
            json!({"name": name, "endpoint": "local", "compose": compose}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

/// Whether a compose CLI for `project` is running on this machine.
fn compose_running(project: &str) -> bool {
    std::process::Command::new("pgrep")
        .args(["-f", "--", &format!("-p {project} -f compose.yaml")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within 20 s: {what}");
}

/// Starts the slow deploy and waits until its CLI runs (the `slow` container exists).
async fn start_slow(s: &TestServer, admin: &Login, id: &str, project: &str) -> String {
    let started = s
        .post(
            &format!("/api/stacks/{id}/deploy"),
            &admin.access,
            json!({}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{:?}", started.body);
    let op = started.body["operation"]["id"].as_str().unwrap().to_owned();
    let label = format!("label=com.docker.compose.project={project}");
    eventually("the slow container exists", || {
        !docker(&["ps", "-aq", "--filter", &label])
            .unwrap()
            .is_empty()
    })
    .await;
    assert!(compose_running(project), "the compose CLI runs");
    let now = s.get(&format!("/api/operations/{op}"), &admin.access).await;
    assert_eq!(now.body["state"], "running", "{:?}", now.body);
    op
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn operation_events(s: &TestServer, token: &str) -> Ws {
    let mut req = s
        .ws_url("/api/ws?topics=operation.update")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(next(&mut ws).await["type"], "hello");
    ws
}

async fn next(ws: &mut Ws) -> Value {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str::<Value>(&t).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("no event within 30 s")
}

/// The `operation.update` payloads of `op` until it is in `state`.
async fn updates_until(ws: &mut Ws, op: &str, state: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let e = next(ws).await;
        if e["type"] != "operation.update" || e["payload"]["id"] != op {
            continue;
        }
        seen.push(e["payload"].clone());
        if e["payload"]["state"] == state {
            return seen;
        }
    }
}

#[actix_web::test]
async fn one_operation_per_stack_and_cancel_kills_the_compose_cli() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("jobs");
    let mut projects = Projects::new();
    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    let mut ws = operation_events(&s, &admin.access).await;
    let name = projects.add(&format!("{}-slow", c.prefix));
    let id = create(&s, &admin, &name, slow_compose()).await;
    let op = start_slow(&s, &admin, &id, &name).await;

    // Whatever the action, the stack is busy: the 409 names the running operation.
    for action in ["deploy", "stop", "remove"] {
        let again = s
            .post(
                &format!("/api/stacks/{id}/{action}"),
                &admin.access,
                json!({}),
            )
            .await;
        assert_error(&again, StatusCode::CONFLICT, "conflict");
        let message = again.body["error"].as_str().unwrap();
        assert!(message.contains(&op), "{message}");
        assert!(message.contains("stack.deploy"), "{message}");
    }
    let busy = s
        .delete(&format!("/api/stacks/{id}?force=true"), &admin.access)
        .await;
    assert_error(&busy, StatusCode::CONFLICT, "conflict");
    assert!(busy.body["error"].as_str().unwrap().contains(&op));
    let running = s.get("/api/operations?state=running", &admin.access).await;
    assert_eq!(running.body["total"], 1, "{:?}", running.body);
    assert_eq!(running.body["items"][0]["id"], op.as_str());

    // A viewer may follow it but not cancel it.
    let viewer = s.user(&admin, "opviewer", "viewer").await;
    assert_eq!(
        s.get(&format!("/api/operations/{op}"), &viewer.access)
            .await
            .status,
        StatusCode::OK
    );
    assert_error(
        &s.post(
            &format!("/api/operations/{op}/cancel"),
            &viewer.access,
            json!({}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    let cancelled = s
        .post(
            &format!("/api/operations/{op}/cancel"),
            &admin.access,
            json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["state"], "cancelled", "{:?}", cancelled.body);
    assert!(cancelled.body["finished_at"].is_string());
    eventually("the compose CLI is gone", || !compose_running(&name)).await;
    let stored = s.get(&format!("/api/operations/{op}"), &admin.access).await;
    assert_eq!(stored.body["state"], "cancelled");
    let states: Vec<String> = updates_until(&mut ws, &op, "cancelled")
        .await
        .iter()
        .map(|p| p["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states.first().map(String::as_str), Some("queued"));
    assert!(states.contains(&"running".to_owned()), "{states:?}");
    // Ended: a second cancel is a conflict, and the stack takes a new operation.
    assert_error(
        &s.post(
            &format!("/api/operations/{op}/cancel"),
            &admin.access,
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let removed = act(&s, &admin.access, &format!("/api/stacks/{id}/remove")).await;
    assert_eq!(removed.body["state"], "succeeded", "{:?}", removed.body);
    s.stop().await;
}

#[actix_web::test]
async fn a_deploy_finishes_when_the_client_hangs_up() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("jobsgone");
    let mut projects = Projects::new();
    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    let name = projects.add(&format!("{}-app", c.prefix));
    let id = create(&s, &admin, &name, quick_compose()).await;

    // The request is sent whole, then the connection is dropped before any answer.
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "POST /api/stacks/{id}/deploy HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}",
        admin.access
    )
    .unwrap();
    conn.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(conn);

    let mut op = None;
    for _ in 0..200 {
        let list = s
            .get(
                &format!("/api/operations?resource=stack:{id}"),
                &admin.access,
            )
            .await;
        if let Some(found) = list.body["items"][0]["id"].as_str() {
            op = Some(found.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let op = op.expect("the deploy was started");
    let ended = wait_operation(&s, &admin.access, &op).await;
    assert_eq!(ended["state"], "succeeded", "{ended:?}");
    assert_eq!(ended["result"]["status"], "running", "{ended:?}");
    let label = format!("label=com.docker.compose.project={name}");
    assert_eq!(
        docker(&["ps", "-q", "--filter", &label, "--filter", "status=running"])
            .unwrap()
            .lines()
            .count(),
        1
    );
    let removed = act(&s, &admin.access, &format!("/api/stacks/{id}/remove")).await;
    assert_eq!(removed.body["state"], "succeeded", "{:?}", removed.body);
    s.stop().await;
}

#[actix_web::test]
async fn a_master_restart_leaves_running_operations_interrupted() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("jobsrestart");
    let mut projects = Projects::new();
    let mut s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    let name = projects.add(&format!("{}-slow", c.prefix));
    let id = create(&s, &admin, &name, slow_compose()).await;
    let op = start_slow(&s, &admin, &id, &name).await;
    // And an operation of a master that vanished (its lease ran out) without a stop.
    let orphan = Job {
        id: uuid::Uuid::new_v4().to_string(),
        kind: "stack.deploy".into(),
        resource: "stack:elsewhere".into(),
        state: JobState::Running,
        progress: None,
        message: None,
        result: None,
        error: None,
        created_by: Some("admin".into()),
        created_at: 1,
        started_at: Some(2),
        finished_at: None,
        owner: "master-gone".into(),
        lease_until: 3,
    };
    s.state().store.jobs().save(&orphan).await.unwrap();

    s.server.take().unwrap().stop().await;
    eventually("the compose CLI is gone", || !compose_running(&name)).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let again = contextbay::start_on(s.config.clone(), listener)
        .await
        .unwrap();
    s.base = format!("http://{}", again.http_addr);
    s.server = Some(again);
    // The new master may get the old one's port: no pooled connection to the old one is reused.
    s.http = reqwest::Client::new();

    let ended = s.get(&format!("/api/operations/{op}"), &admin.access).await;
    assert_eq!(ended.status, StatusCode::OK, "{:?}", ended.body);
    assert_eq!(ended.body["state"], "interrupted", "{:?}", ended.body);
    assert!(ended.body["finished_at"].is_string());
    let gone = s
        .get(&format!("/api/operations/{}", orphan.id), &admin.access)
        .await;
    assert_eq!(gone.body["state"], "interrupted", "{:?}", gone.body);
    assert!(
        gone.body["error"].as_str().unwrap().contains("master-gone"),
        "{:?}",
        gone.body
    );
    let listed = s
        .get("/api/operations?state=interrupted", &admin.access)
        .await;
    assert_eq!(listed.body["total"], 2, "{:?}", listed.body);
    // The stack is free again.
    let removed = act(&s, &admin.access, &format!("/api/stacks/{id}/remove")).await;
    assert_eq!(removed.body["state"], "succeeded", "{:?}", removed.body);
    s.stop().await;
}

/// Without Docker: the API's checks, and the sweep of a vanished master's operations while this
/// one runs (its lease ran out: `interrupted`, published).
#[actix_web::test]
async fn operations_api_and_the_lease_sweep() {
    let s = TestServer::start_with(|cfg| cfg.jobs.lease_secs = 3).await;
    let admin = s.setup().await;
    let empty = s.get("/api/operations", &admin.access).await;
    assert_eq!(empty.status, StatusCode::OK, "{:?}", empty.body);
    assert_eq!(empty.body["total"], 0);
    assert_eq!(empty.body["limit"], 50);
    assert_error(
        &s.get("/api/operations?state=sleeping", &admin.access).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(
        &s.get("/api/operations/not-a-uuid", &admin.access).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    let unknown = uuid::Uuid::new_v4();
    assert_error(
        &s.get(&format!("/api/operations/{unknown}"), &admin.access)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.post(
            &format!("/api/operations/{unknown}/cancel"),
            &admin.access,
            json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let mut ws = operation_events(&s, &admin.access).await;
    let now = contextbay_actors::now_ms();
    let job = |owner: &str, lease_until: i64| Job {
        id: uuid::Uuid::new_v4().to_string(),
        kind: "test.work".into(),
        resource: format!("test:{owner}"),
        state: JobState::Running,
        progress: Some(40),
        message: Some("working".into()),
        result: None,
        error: None,
        created_by: None,
        created_at: now,
        started_at: Some(now),
        finished_at: None,
        owner: owner.into(),
        lease_until,
    };
    // One whose lease runs out in a moment, one held for an hour.
    let vanished = job("master-vanished", now + 500);
    let alive = job("master-alive", now + 3_600_000);
    for j in [&vanished, &alive] {
        s.state().store.jobs().save(j).await.unwrap();
    }
    let seen = updates_until(&mut ws, &vanished.id, "interrupted").await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["kind"], "test.work");
    assert_eq!(seen[0]["resource"], "test:master-vanished");
    let got = s
        .get(&format!("/api/operations/{}", vanished.id), &admin.access)
        .await;
    assert_eq!(got.body["state"], "interrupted", "{:?}", got.body);
    assert_eq!(got.body["progress"], 40);
    let held = s
        .get(&format!("/api/operations/{}", alive.id), &admin.access)
        .await;
    assert_eq!(held.body["state"], "running", "{:?}", held.body);
    // Another master's operation cannot be cancelled here.
    let elsewhere = s
        .post(
            &format!("/api/operations/{}/cancel", alive.id),
            &admin.access,
            json!({}),
        )
        .await;
    assert_error(&elsewhere, StatusCode::CONFLICT, "conflict");
    assert!(
        elsewhere.body["error"]
            .as_str()
            .unwrap()
            .contains("master-alive")
    );
    let filtered = s
        .get("/api/operations?resource=test:master-alive", &admin.access)
        .await;
    assert_eq!(filtered.body["total"], 1, "{:?}", filtered.body);
    s.stop().await;
}
