//! The fleet inventory: agent endpoints' containers listed and found from the node inventories
//! (filled by the census, kept current by the worker's Docker events), and the one payload of
//! `container.update` from the local watcher and from workers. On the real engine, with an
//! in-process worker; containers are made with the CLI so the master learns of them only from
//! events.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::harness::{Login, TestServer, assert_error};
use super::support::docker::{Cleanup, FusedWorker, IMAGE, docker, engine_available, ensure_image};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(s: &TestServer, path: &str, token: &str) -> Ws {
    let mut req = s.ws_url(path).into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// The next text frame, as JSON (`None` after `secs` without one).
async fn next(ws: &mut Ws, secs: u64) -> Option<Value> {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str::<Value>(&t).ok(),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// Polls `GET path` until `done` holds for its body (at most `secs`).
async fn until(
    s: &TestServer,
    admin: &Login,
    path: &str,
    secs: u64,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let reply = s.get(path, &admin.access).await;
        if reply.status == StatusCode::OK && done(&reply.body) {
            return reply.body;
        }
        assert!(
            Instant::now() < deadline,
            "GET {path} did not get there within {secs} s: {} {:?}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn run_sleeper(c: &Cleanup, name: &str) -> String {
    docker(&[
        "run",
        "-d",
        "--name",
        name,
        "--network",
        &c.network,
        "--label",
        "contextbay.test=1",
        "--label",
        "inventory.test=yes",
        IMAGE,
        "sleep",
        "600",
    ])
    .unwrap()
}

/// The keys of a `container.update` payload: one shape, whoever reported it.
const UPDATE_KEYS: [&str; 12] = [
    "action",
    "attributes",
    "endpoint",
    "id",
    "image",
    "name",
    "node_id",
    "seq",
    "state",
    "status",
    "time",
    "type",
];

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[actix_web::test]
async fn agent_containers_come_from_the_inventory_and_follow_docker_events() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("inv");
    let s = TestServer::start_with(|cfg| {
        cfg.fleet.heartbeat_interval_secs = 1;
        // Only the worker's engine: every container comes from the agent endpoint.
        cfg.docker.local_endpoint = false;
    })
    .await;
    let admin = s.setup().await;
    let worker = FusedWorker::start(&s, &admin, "inv").await;
    let id = worker.id.clone();

    // The census fills the node's inventory: until then the endpoint is listed in `errors`
    // (stale) instead of being asked; afterwards no error remains.
    let filled = until(&s, &admin, "/api/containers?limit=500", 30, |b| {
        b["errors"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    assert!(filled["items"].as_array().unwrap().iter().all(|i| {
        i["endpoint"]["id"] == id.as_str() && i["fresh_at"].is_string() && i["stale"] == false
    }));
    let census = s
        .get(&format!("/api/nodes/{id}/census"), &admin.access)
        .await;
    assert_eq!(census.status, StatusCode::OK, "{:?}", census.body);

    let mut ws = open(&s, "/api/ws?topics=container.update", &admin.access).await;
    assert_eq!(next(&mut ws, 10).await.unwrap()["type"], "hello");

    // Started with the CLI: the master learns of it only from the worker's Docker events.
    let name = format!("{}-ev", c.prefix);
    let full_id = run_sleeper(&c, &name);
    let list_path = format!("/api/containers?name={}", c.prefix);
    let listed = until(&s, &admin, &list_path, 20, |b| {
        b["items"][0]["state"] == "running"
    })
    .await;
    assert_eq!(listed["total"], 1, "{listed:?}");
    let item = &listed["items"][0];
    assert_eq!(item["id"], full_id.as_str());
    assert_eq!(item["name"], name.as_str());
    assert_eq!(item["image"], IMAGE);
    assert_eq!(item["labels"]["inventory.test"], "yes", "{item:?}");
    assert_eq!(item["endpoint"]["id"], id.as_str());
    assert_eq!(item["endpoint"]["kind"], "agent");
    assert!(
        item["fresh_at"].as_str().unwrap().ends_with('Z'),
        "{item:?}"
    );
    assert_eq!(item["stale"], false);
    // Without a new census.
    let after = s
        .get(&format!("/api/nodes/{id}/census"), &admin.access)
        .await;
    assert_eq!(after.body["id"], census.body["id"]);
    // The filters apply to the inventory as to a live list.
    let running_only = s
        .get(
            &format!("{list_path}&all=false&label=inventory.test=yes"),
            &admin.access,
        )
        .await;
    assert_eq!(running_only.body["total"], 1, "{:?}", running_only.body);

    // The worker's event has the one shape, with its endpoint and node.
    let update = loop {
        let e = next(&mut ws, 10).await.expect("a container.update frame");
        assert_eq!(e["type"], "container.update", "{e:?}");
        if e["payload"]["id"] == full_id.as_str() && e["payload"]["action"] == "start" {
            break e["payload"].clone();
        }
    };
    assert_eq!(
        keys(&update),
        UPDATE_KEYS.iter().map(|k| (*k).to_owned()).collect()
    );
    assert_eq!(update["endpoint"], id.as_str());
    assert_eq!(update["node_id"], id.as_str());
    assert_eq!(update["type"], "container");
    assert_eq!(update["state"], "running");
    assert_eq!(update["name"], name.as_str());
    assert_eq!(update["image"], IMAGE);

    // Found by id, id prefix and name without `?endpoint=`: the index names the node and only
    // its engine is asked for the detail.
    for key in [full_id.as_str(), &full_id[..12], name.as_str()] {
        let one = s
            .get(&format!("/api/containers/{key}"), &admin.access)
            .await;
        assert_eq!(one.status, StatusCode::OK, "{key}: {:?}", one.body);
        assert_eq!(one.body["id"], full_id.as_str());
        assert_eq!(one.body["endpoint"]["id"], id.as_str());
    }
    let inspect = s
        .get(&format!("/api/containers/{name}/inspect"), &admin.access)
        .await;
    assert_eq!(inspect.body["State"]["Running"], true, "{:?}", inspect.body);

    // Stopped and removed behind the master's back: the list follows.
    docker(&["stop", "-t", "1", &name]).unwrap();
    until(&s, &admin, &list_path, 20, |b| {
        b["items"][0]["state"] == "exited"
    })
    .await;
    docker(&["rm", "-f", &name]).unwrap();
    until(&s, &admin, &list_path, 20, |b| b["total"] == 0).await;
    assert_error(
        &s.get(&format!("/api/containers/{full_id}"), &admin.access)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    drop(worker);
    s.stop().await;
}

#[actix_web::test]
async fn container_update_has_one_payload_from_the_local_watcher_and_from_workers() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("shape");
    // The master's own engine and a worker on this same host: one container, two reports.
    let s = TestServer::start_with(|cfg| {
        cfg.fleet.heartbeat_interval_secs = 1;
        cfg.docker.local_endpoint = true;
    })
    .await;
    let admin = s.setup().await;
    let worker = FusedWorker::start(&s, &admin, "shape").await;
    let id = worker.id.clone();
    let mut ws = open(&s, "/api/ws?topics=container.update", &admin.access).await;
    assert_eq!(next(&mut ws, 10).await.unwrap()["type"], "hello");
    // The watcher follows the local engine within a few seconds of the master starting.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let name = format!("{}-both", c.prefix);
    let full_id = run_sleeper(&c, &name);
    let (mut local, mut agent) = (None, None);
    while local.is_none() || agent.is_none() {
        let e = next(&mut ws, 20)
            .await
            .unwrap_or_else(|| panic!("no start from both (local {local:?}, agent {agent:?})"));
        let p = &e["payload"];
        if p["id"] != full_id.as_str() || p["action"] != "start" {
            continue;
        }
        if p["endpoint"] == "local" {
            local = Some(p.clone());
        } else {
            agent = Some(p.clone());
        }
    }
    let (local, agent) = (local.unwrap(), agent.unwrap());
    let expected: BTreeSet<String> = UPDATE_KEYS.iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(keys(&local), expected, "{local:?}");
    assert_eq!(keys(&agent), expected, "{agent:?}");
    assert_eq!(local["node_id"], Value::Null);
    assert_eq!(local["seq"], Value::Null);
    assert!(agent["seq"].is_u64(), "{agent:?}");
    assert_eq!(agent["endpoint"], id.as_str());
    assert_eq!(agent["node_id"], id.as_str());
    for field in ["id", "type", "action", "state", "status", "name", "image"] {
        assert_eq!(local[field], agent[field], "{field}");
    }
    assert_eq!(local["state"], "running");

    // Listed on both endpoints; a lookup by name without `?endpoint=` finds both holders (the
    // local engine asked live, the agent endpoint from the inventory) and asks to choose.
    until(
        &s,
        &admin,
        &format!("/api/containers?name={}", c.prefix),
        20,
        |b| b["total"] == 2,
    )
    .await;
    let ambiguous = s
        .get(&format!("/api/containers/{name}"), &admin.access)
        .await;
    assert_error(&ambiguous, StatusCode::CONFLICT, "conflict");
    let message = ambiguous.body["error"].as_str().unwrap();
    assert!(
        message.contains("local") && message.contains(id.as_str()),
        "{message}"
    );
    drop(worker);
    s.stop().await;
}
