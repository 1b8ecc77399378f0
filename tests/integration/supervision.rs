//! Supervision: a deleted node's actor stops for good (no more events, the registry forgets it);
//! a node actor that panics is restarted and its worker stays healthy; a background consumer that
//! panics is restarted and works again. Panics are injected through the test-only hooks of the
//! `fault-injection` feature (enabled for the tests only).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contextbay::worker::config::WorkerConfig;
use contextbay_proto::v1::{Ping, command};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::harness::{Login, TestServer};

async fn fleet_server() -> TestServer {
    TestServer::start_with(|c| {
        c.fleet.heartbeat_interval_secs = 1;
        c.fleet.stale_after_secs = 2;
        c.fleet.offline_after_secs = 4;
        c.fleet.restart_grace_secs = 0;
    })
    .await
}

/// Polls `f` until it returns `Some`, for up to `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A host with a real in-process worker, enrolled and healthy.
async fn healthy_node(
    s: &TestServer,
    admin: &Login,
    name: &str,
    dir: &std::path::Path,
) -> (String, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let r = s
        .post("/api/hosts", &admin.access, json!({"name": name}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let config = WorkerConfig {
        master_url: s.base.clone(),
        grpc_url: s.grpc_url(),
        enroll_token: r.body["enroll_token"].as_str().unwrap().to_owned(),
        shared_secret: s.config.fleet.enroll_secret.clone(),
        data_dir: dir.to_path_buf(),
        heartbeat_interval_secs: 1,
        reconnect_min_ms: 100,
        reconnect_max_ms: 500,
        hostname: format!("{name}-host"),
        ..WorkerConfig::default()
    };
    let worker = tokio::spawn(contextbay::worker::run(config));
    eventually(20, "the node turns healthy and connected", || async {
        let r = s.get(&format!("/api/nodes/{id}"), &admin.access).await;
        (r.body["status"] == "healthy" && r.body["connected"] == true).then_some(())
    })
    .await;
    (id, worker)
}

/// Collects every event `/api/ws?topics=…` delivers to `token`.
async fn collect_events(s: &TestServer, topics: &str, token: &str) -> Arc<Mutex<Vec<Value>>> {
    let mut req = s
        .ws_url(&format!("/api/ws?topics={topics}"))
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (hello_tx, hello_rx) = tokio::sync::oneshot::channel();
    let sink = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut hello = Some(hello_tx);
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(text) = msg else { continue };
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if frame["type"] == "hello" {
                if let Some(tx) = hello.take() {
                    let _ = tx.send(());
                }
            } else {
                sink.lock().unwrap().push(frame);
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), hello_rx)
        .await
        .expect("no hello on /api/ws")
        .unwrap();
    seen
}

fn statuses_of(events: &Mutex<Vec<Value>>, node: &str) -> Vec<String> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "node.status" && e["payload"]["node_id"] == node)
        .map(|e| {
            e["payload"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// `contextbay_actor_restarts_total{actor}` as `/metrics` shows it (`None`: no such series).
async fn restarts_metric(s: &TestServer, actor: &str) -> Option<u64> {
    let text = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("contextbay_actor_restarts_total{{actor=\"{actor}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .map(|v| v.trim().parse().unwrap())
}

async fn system_info(s: &TestServer, admin: &Login) -> Value {
    let r = s.get("/api/system/info", &admin.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

fn task<'a>(info: &'a Value, name: &str) -> &'a Value {
    info["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name} in {info}"))
}

#[actix_web::test]
async fn a_deleted_node_with_a_connected_worker_emits_nothing_more_and_is_forgotten() {
    let s = fleet_server().await;
    let admin = s.setup().await;
    let dir = tempfile::tempdir().unwrap();
    let (id, worker) = healthy_node(&s, &admin, "doomed", dir.path()).await;
    let events = collect_events(&s, "node.status", &admin.access).await;
    assert_eq!(system_info(&s, &admin).await["actors"]["nodes"], 1);

    let r = s.delete(&format!("/api/nodes/{id}"), &admin.access).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    // The registry forgets it at once.
    assert_eq!(system_info(&s, &admin).await["actors"]["nodes"], 0);
    // Past offline_after (4 s) a live actor would have gone stale and offline: nothing comes.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(statuses_of(&events, &id), Vec::<String>::new());
    let info = system_info(&s, &admin).await;
    assert_eq!(info["actors"]["nodes"], 0);
    assert_eq!(info["actors"]["node_restarts"], 0);
    // An intended stop is not a restart.
    assert_eq!(restarts_metric(&s, "node").await, Some(0));
    assert!(
        s.state().nodes.snapshot(&id).await.unwrap().is_none(),
        "the registry still knows the node"
    );
    worker.abort();
    s.stop().await;
}

#[actix_web::test]
async fn a_panicked_node_actor_is_restarted_and_its_worker_stays_healthy() {
    let s = fleet_server().await;
    let admin = s.setup().await;
    let dir = tempfile::tempdir().unwrap();
    let (id, worker) = healthy_node(&s, &admin, "phoenix", dir.path()).await;
    let ping = || command::Kind::Ping(Ping {});
    assert!(s.state().nodes.command(&id, ping()).await.is_ok());
    assert_eq!(restarts_metric(&s, "node").await, Some(0));

    assert!(s.state().nodes.inject_panic(&id).await.unwrap());
    eventually(10, "the restart is counted in /metrics", || async {
        (restarts_metric(&s, "node").await == Some(1)).then_some(())
    })
    .await;
    let info = system_info(&s, &admin).await;
    assert_eq!(info["actors"]["nodes"], 1);
    assert_eq!(info["actors"]["node_restarts"], 1);
    assert_eq!(info["actors"]["restarts"]["node"], 1);

    // Longer than stale_after: the restarted actor follows the worker's heartbeats, and the
    // worker's command stream was re-attached, so commands reach it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let node = s.get(&format!("/api/nodes/{id}"), &admin.access).await;
    assert_eq!(node.body["status"], "healthy", "{:?}", node.body);
    assert_eq!(node.body["connected"], true, "{:?}", node.body);
    let answered = s.state().nodes.command(&id, ping()).await;
    assert!(answered.is_ok(), "{answered:?}");
    assert_eq!(restarts_metric(&s, "node").await, Some(1));
    worker.abort();
    s.stop().await;
}

#[actix_web::test]
async fn a_consumer_that_panics_is_restarted_and_works_again() {
    let s = fleet_server().await;
    let admin = s.setup().await;
    let recorder = contextbay::server::RECORDER;
    let info = system_info(&s, &admin).await;
    for name in [
        recorder,
        contextbay::server::EVENT_RETENTION,
        contextbay::server::LOG_RETENTION,
        contextbay::server::ENDPOINT_WATCHER,
    ] {
        assert_eq!(task(&info, name)["state"], "running", "{info}");
    }
    assert_eq!(task(&info, recorder)["restarts"], 0);

    s.state().tasks.inject_panic(recorder);
    let info = eventually(10, "the recorder is restarted", || async {
        let info = system_info(&s, &admin).await;
        (task(&info, recorder)["restarts"] == 1 && task(&info, recorder)["state"] == "running")
            .then_some(info)
    })
    .await;
    assert!(
        task(&info, recorder)["last_error"]
            .as_str()
            .unwrap()
            .contains("injected fault"),
        "{info}"
    );
    assert_eq!(restarts_metric(&s, recorder).await, Some(1));

    // The restarted recorder subscribed again: a node's status change reaches the activity feed.
    let dir = tempfile::tempdir().unwrap();
    let (id, worker) = healthy_node(&s, &admin, "recorded", dir.path()).await;
    eventually(10, "node.status is in the activity feed", || async {
        let r = s
            .get("/api/activity?type=node.status&limit=50", &admin.access)
            .await;
        r.body["items"]
            .as_array()?
            .iter()
            .any(|e| e["payload"]["node_id"] == id.as_str() && e["payload"]["status"] == "healthy")
            .then_some(())
    })
    .await;
    worker.abort();
    s.stop().await;
}
