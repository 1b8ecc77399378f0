//! Several masters: node leases and commands routed to the master that holds a node's worker.
//! Two masters share one store (SQLite in a shared directory or, with `CB_TEST_STORE=postgres`,
//! one PostgreSQL database) and a real `nats-server -js`; a real worker on the real Docker
//! engine is connected to master A, and everything is asked of master B.
//!
//! Outside CI a missing `nats-server` or Docker engine skips the tests with a message; with
//! `CI=true` they fail.

use std::path::Path;
use std::time::Duration;

use contextbay::Config;
use reqwest::StatusCode;
use serde_json::json;

use super::cluster::Nats;
use super::harness::{ADMIN, Login, PASSWORD, TestServer, assert_error, eventually};
use super::support::docker::{Cleanup, FusedWorker, IMAGE, docker, engine_available, ensure_image};

/// Two masters of one cluster on one store; heartbeats every second, short status thresholds
/// (a node B does not hear from would be stale after 3 s, offline after 5 s). The harness
/// enrolls the worker through A.
async fn two_masters(nats: &Nats, shared: &Path) -> (TestServer, TestServer) {
    let database = super::support::postgres::database_url(shared);
    let url = nats.url();
    let tweak = |id: &'static str| {
        let (url, database) = (url.clone(), database.clone());
        move |c: &mut Config| {
            c.storage.data_dir = shared.to_path_buf();
            if let Some(db) = &database {
                c.storage.database_url.clone_from(db);
            }
            c.cluster.nats_url = url;
            c.cluster.master_id = id.to_owned();
            c.cluster.node_lease_secs = 4;
            c.fleet.heartbeat_interval_secs = 1;
            c.fleet.stale_after_secs = 3;
            c.fleet.offline_after_secs = 5;
            c.fleet.restart_grace_secs = 0;
            c.docker.local_endpoint = false;
        }
    };
    let a = TestServer::start_with(tweak("master-a")).await;
    let b = TestServer::start_with(tweak("master-b")).await;
    (a, b)
}

fn started_at(name: &str) -> String {
    docker(&["inspect", "-f", "{{.State.StartedAt}}", name]).unwrap()
}

#[actix_web::test]
async fn a_container_action_sent_to_one_master_reaches_the_worker_held_by_another() {
    if !engine_available() {
        return;
    }
    let Some(nats) = Nats::start() else { return };
    ensure_image();
    let c = Cleanup::new("route");
    let shared = tempfile::tempdir().unwrap();
    let (a, b) = two_masters(&nats, shared.path()).await;
    let admin = a.setup().await;
    let on_b = b.login(ADMIN, PASSWORD).await;
    assert_eq!(on_b.status, StatusCode::OK, "{:?}", on_b.body);
    let admin_b = Login::from(&on_b.body);

    // The worker connects to A, which takes the node's lease.
    let worker = FusedWorker::start(&a, &admin, "route").await;
    let id = worker.id.clone();
    let store = b.state().store.clone();
    eventually(10, "master A owns the node", || async {
        let owner = store
            .node_leases()
            .owner(&id, contextbay::store::now_ms())
            .await
            .unwrap();
        (owner.as_deref() == Some("master-a")).then_some(())
    })
    .await;

    // B has no stream with the worker, yet creates a container through it…
    let name = format!("{}-routed", c.prefix);
    let created = b
        .post(
            "/api/containers",
            &admin_b.access,
            json!({
                "endpoint": id,
                "image": IMAGE,
                "name": name,
                "command": ["sh", "-c", "sleep 600"],
                "networks": [c.network],
                "labels": {"contextbay.test": "1"},
                "start": true,
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let before = started_at(&name);
    assert!(!before.starts_with("0001"), "not started: {before}");

    // …restarts it (Docker's StartedAt moves on)…
    let restarted = b
        .post(
            &format!("/api/containers/{name}/restart?endpoint={id}"),
            &admin_b.access,
            json!({}),
        )
        .await;
    assert_eq!(restarted.status, StatusCode::OK, "{:?}", restarted.body);
    let after = started_at(&name);
    assert_ne!(before, after, "the restart did not reach the engine");

    // …inspects it, and has the worker take a census.
    let inspect = b
        .get(
            &format!("/api/containers/{name}/inspect?endpoint={id}"),
            &admin_b.access,
        )
        .await;
    assert_eq!(inspect.status, StatusCode::OK, "{:?}", inspect.body);
    assert_eq!(inspect.body["State"]["StartedAt"], after.as_str());
    let census = b
        .post(
            &format!("/api/nodes/{id}/census"),
            &admin_b.access,
            json!({}),
        )
        .await;
    assert_eq!(census.status, StatusCode::CREATED, "{:?}", census.body);
    // A remote error keeps its shape across masters.
    let missing = b
        .get(
            &format!("/api/containers/nope-nope/inspect?endpoint={id}"),
            &admin_b.access,
        )
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");

    // Streams: live logs on B's WebSocket (history, then lines written later), and an exec
    // session with input from B and output and exit code back, all through A's worker.
    let operator = b.user(&admin_b, "rop", "operator").await;
    super::docker::streams::logs_and_exec(&b, &admin_b, &operator, &c, &id).await;

    // B hears no heartbeat from the node, but A holds its lease: past B's offline threshold
    // the node is healthy there, not stale or offline.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let node = b.get(&format!("/api/nodes/{id}"), &admin_b.access).await;
    assert_eq!(node.status, StatusCode::OK, "{:?}", node.body);
    assert_eq!(node.body["status"], "healthy", "{:?}", node.body);
    assert_eq!(node.body["connected"], false, "{:?}", node.body);

    // The owner is gone while its lease is still valid (a master that died): a clear 503 that
    // names the node and the master.
    drop(worker);
    a.stop().await;
    store
        .node_leases()
        .take(&id, "master-gone", contextbay::store::now_ms(), 60_000)
        .await
        .unwrap();
    let gone = b
        .post(
            &format!("/api/containers/{name}/restart?endpoint={id}"),
            &admin_b.access,
            json!({}),
        )
        .await;
    assert_error(
        &gone,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    let message = gone.body["error"].as_str().unwrap();
    assert!(
        message.contains(&id) && message.contains("master-gone"),
        "{message}"
    );
    // No owner at all: the node's worker is not connected anywhere.
    store
        .node_leases()
        .release(&id, "master-gone")
        .await
        .unwrap();
    let nobody = b
        .post(
            &format!("/api/containers/{name}/restart?endpoint={id}"),
            &admin_b.access,
            json!({}),
        )
        .await;
    assert_error(
        &nobody,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    );
    assert!(
        nobody.body["error"].as_str().unwrap().contains(&id),
        "{:?}",
        nobody.body
    );
    b.stop().await;
}

/// Concurrent takers of one node's lease: exactly one wins; the holder renews, others wait for
/// the expiry; a release frees it at once.
#[actix_web::test]
async fn one_master_at_a_time_holds_a_node_lease() {
    let s = TestServer::start().await;
    let store = s.state().store.clone();
    let node = uuid::Uuid::new_v4().to_string();
    let now = 1_000_000;
    let takes = (0..16).map(|n| {
        let (store, node) = (store.clone(), node.clone());
        async move {
            store
                .node_leases()
                .take(&node, &format!("m{n}"), now, 10_000)
                .await
                .unwrap()
        }
    });
    let won: Vec<bool> = futures_util::future::join_all(takes).await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let winner = format!("m{}", won.iter().position(|w| *w).unwrap());
    let leases = store.node_leases();
    assert_eq!(
        leases.owner(&node, now).await.unwrap(),
        Some(winner.clone())
    );
    // Renewed by its holder, refused to another before expiry, taken after it.
    assert!(
        leases
            .take(&node, &winner, now + 5_000, 10_000)
            .await
            .unwrap()
    );
    assert!(
        !leases
            .take(&node, "other", now + 14_999, 10_000)
            .await
            .unwrap()
    );
    assert_eq!(leases.owner(&node, now + 15_000).await.unwrap(), None);
    assert!(
        leases
            .take(&node, "other", now + 15_000, 10_000)
            .await
            .unwrap()
    );
    // Only its holder releases it.
    leases.release(&node, &winner).await.unwrap();
    assert_eq!(
        leases.owner(&node, now + 16_000).await.unwrap(),
        Some("other".to_owned())
    );
    leases.release(&node, "other").await.unwrap();
    assert!(
        leases
            .take(&node, &winner, now + 16_000, 10_000)
            .await
            .unwrap()
    );
    s.stop().await;
}
