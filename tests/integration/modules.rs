//! The module seam, end to end with the test-only example module (`src/modules/example/`,
//! feature `example-module`): its route exists only while it is switched on, has its role
//! enforced, is documented in `/api/openapi.json`, the module is listed in `/api/modules`, and
//! its event kind is in the served catalogue and delivered by its role. And the event
//! catalogue's promise: everything the server publishes is declared; the rest is admin-only.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::harness::{TestServer, assert_error};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(s: &TestServer, token: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(s.ws_url("/api/ws"))
        .await
        .unwrap();
    ws.send(Message::Text(
        json!({"type": "auth", "token": token}).to_string().into(),
    ))
    .await
    .unwrap();
    let hello = next(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(hello["type"], "hello", "{hello:?}");
    ws
}

/// The next JSON frame, or `None` when nothing comes within `wait`.
async fn next(ws: &mut Ws, wait: Duration) -> Option<Value> {
    tokio::time::timeout(wait, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str::<Value>(&t).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .ok()
}

/// Every event (frames with a payload) until nothing comes for `quiet`.
async fn drain(ws: &mut Ws, quiet: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    while let Some(frame) = next(ws, quiet).await {
        if frame.get("payload").is_some() {
            out.push(frame);
        }
    }
    out
}

/// The served catalogue: kind → item.
async fn catalogue(s: &TestServer, token: &str) -> serde_json::Map<String, Value> {
    let reply = s.get("/api/events/schema", token).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["kind"].as_str().unwrap().to_owned(), i.clone()))
        .collect()
}

#[actix_web::test]
async fn the_example_module_is_assembled_from_its_descriptor() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "viewer1", "viewer").await;
    let operator = s.user(&admin, "operator1", "operator").await;

    // Off (the default): its route answers 404 to everyone, yet it is listed and documented.
    let off = s
        .post("/api/example/ping", &operator.access, json!({}))
        .await;
    assert_error(&off, StatusCode::NOT_FOUND, "module_disabled");
    let modules = s.get("/api/modules", &viewer.access).await;
    let example = modules.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "example")
        .cloned()
        .unwrap_or_else(|| panic!("example not in {:?}", modules.body));
    assert_eq!(example["enabled"], false);
    assert_eq!(example["description"], "An example module (tests only)");
    let doc = s.get("/api/openapi.json", &viewer.access).await.body;
    let op = &doc["paths"]["/api/example/ping"]["post"];
    assert_eq!(op["x-module"], "example", "{op:?}");
    assert_eq!(op["x-required-role"], "operator", "{op:?}");
    assert_eq!(
        doc["x-events"]["example.pinged"]["role"], "operator",
        "{:?}",
        doc["x-events"]
    );
    let kinds = catalogue(&s, &viewer.access).await;
    assert_eq!(kinds["example.pinged"]["role"], "operator");
    assert_eq!(
        kinds["example.pinged"]["schema"]["properties"]["by"]["type"],
        "string"
    );
    // Its settings come from the descriptor too.
    let bad = s
        .put(
            "/api/config/example",
            &admin.access,
            json!({"config": {"nope": 1}}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        bad.body["error"].as_str().unwrap().contains("greeting"),
        "{:?}",
        bad.body
    );

    // On: the role is enforced, the handler runs with the module's settings, and its event is
    // delivered to operators but not to viewers.
    let on = s
        .put(
            "/api/config/example",
            &admin.access,
            json!({"enabled": true, "config": {"greeting": "hello"}}),
        )
        .await;
    assert_eq!(on.status, StatusCode::OK, "{:?}", on.body);
    // Nothing to change (`{}` and both `null` are schema-valid) changes nothing.
    for nothing in [json!({}), json!({"enabled": null, "config": null})] {
        let same = s.put("/api/config/example", &admin.access, nothing).await;
        assert_eq!(same.status, StatusCode::OK, "{:?}", same.body);
        assert_eq!(same.body["enabled"], true, "{:?}", same.body);
        assert_eq!(same.body["config"]["greeting"], "hello", "{:?}", same.body);
    }
    let mut viewer_ws = ws(&s, &viewer.access).await;
    let mut operator_ws = ws(&s, &operator.access).await;
    let anonymous = s
        .call(Method::POST, "/api/example/ping", None, Some(json!({})))
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let refused = s.post("/api/example/ping", &viewer.access, json!({})).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    let pong = s
        .post("/api/example/ping", &operator.access, json!({}))
        .await;
    assert_eq!(pong.status, StatusCode::OK, "{:?}", pong.body);
    assert_eq!(pong.body["greeting"], "hello");
    let seen = drain(&mut operator_ws, Duration::from_millis(700)).await;
    let pinged = seen
        .iter()
        .find(|e| e["type"] == "example.pinged")
        .unwrap_or_else(|| panic!("no example.pinged in {seen:?}"));
    assert_eq!(pinged["payload"]["by"], "operator1");
    let seen = drain(&mut viewer_ws, Duration::from_millis(300)).await;
    assert!(
        seen.iter().all(|e| e["type"] != "example.pinged"),
        "a viewer received {seen:?}"
    );
    let modules = s.get("/api/modules", &viewer.access).await;
    assert!(
        modules.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "example" && m["enabled"] == true)
    );
    s.stop().await;
}

#[actix_web::test]
async fn every_published_kind_is_declared_and_undeclared_ones_reach_admins_only() {
    let s = TestServer::start_with(|c| {
        c.modules
            .insert(contextbay::modules::ModuleName::named("example"), true);
    })
    .await;
    let admin = s.setup().await;
    let mut admin_ws = ws(&s, &admin.access).await;
    let viewer = s.user(&admin, "viewer1", "viewer").await;
    let mut viewer_ws = ws(&s, &viewer.access).await;

    // Exercise what publishes without Docker: users, logins, keys, settings, modules, hosts,
    // notifications, a module's route.
    let operator = s.user(&admin, "operator1", "operator").await;
    let key = s
        .post(
            "/api/keys",
            &operator.access,
            json!({"name": "ci", "role": "viewer"}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    let key_id = key.body["id"].as_str().unwrap();
    s.delete(&format!("/api/keys/{key_id}"), &operator.access)
        .await;
    s.put(
        "/api/settings/ui.instance_name",
        &admin.access,
        json!({"value": "test"}),
    )
    .await;
    s.put(
        "/api/config/planner",
        &admin.access,
        json!({"enabled": true}),
    )
    .await;
    let host = s
        .post("/api/hosts", &admin.access, json!({"name": "h1"}))
        .await;
    assert_eq!(host.status, StatusCode::CREATED, "{:?}", host.body);
    let host_id = host.body["id"].as_str().unwrap();
    s.delete(&format!("/api/hosts/{host_id}"), &admin.access)
        .await;
    s.post("/api/notifications/test", &admin.access, json!({}))
        .await;
    s.post("/api/example/ping", &operator.access, json!({}))
        .await;
    let users = s.get("/api/users", &admin.access).await;
    let op_id = users.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "operator1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.put(
        &format!("/api/users/{op_id}"),
        &admin.access,
        json!({"role": "viewer"}),
    )
    .await;
    s.delete(&format!("/api/users/{op_id}"), &admin.access)
        .await;
    // Something no one declared, published straight on the bus (as a worker's new event type
    // would be).
    s.state()
        .bus
        .publish("mystery.kind", json!({"secret": true}))
        .await
        .unwrap();

    let kinds = catalogue(&s, &viewer.access).await;
    let seen = drain(&mut admin_ws, Duration::from_millis(700)).await;
    let published: BTreeSet<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for expected in [
        "user.created",
        "user.updated",
        "user.deleted",
        "auth.login",
        "apikey.created",
        "apikey.revoked",
        "setting.updated",
        "module.updated",
        "host.created",
        "host.deleted",
        "notification",
        "example.pinged",
        "mystery.kind",
    ] {
        assert!(
            published.contains(expected),
            "{expected} not in {published:?}"
        );
    }
    let undeclared: Vec<&&str> = published
        .iter()
        .filter(|k| !kinds.contains_key(**k))
        .collect();
    assert_eq!(
        undeclared,
        vec![&"mystery.kind"],
        "undeclared kinds were published"
    );

    // The viewer gets the declared viewer kinds and nothing admin-only, undeclared included.
    let viewer_seen = drain(&mut viewer_ws, Duration::from_millis(300)).await;
    let viewer_kinds: BTreeSet<&str> = viewer_seen
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(viewer_kinds.contains("notification"), "{viewer_kinds:?}");
    assert!(viewer_kinds.contains("host.created"), "{viewer_kinds:?}");
    for kind in &viewer_kinds {
        assert_eq!(kinds[*kind]["role"], "viewer", "{kind} reached a viewer");
    }
    // And the activity feed filters by the same rule.
    let activity = s.get("/api/activity?limit=200", &viewer.access).await;
    assert_eq!(activity.status, StatusCode::OK, "{:?}", activity.body);
    for e in activity.body["items"].as_array().unwrap() {
        let kind = e["type"]
            .as_str()
            .or(e["kind"].as_str())
            .unwrap_or_default();
        assert!(
            kinds.get(kind).is_some_and(|k| k["role"] == "viewer"),
            "{kind} in a viewer's activity"
        );
    }
    s.stop().await;
}

#[actix_web::test]
async fn module_consumers_are_supervised_and_a_panicking_one_restarts_and_subscribes_again() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use contextbay_actors::Delivery;

    let s = TestServer::start().await;
    // The monitoring module's consumers run under the task supervisor.
    let names: Vec<String> = s.state().tasks.list().into_iter().map(|t| t.name).collect();
    for name in [
        "monitoring.prometheus_files",
        "monitoring.container_signals",
        "monitoring.grafana_annotator",
        "monitoring.prober",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }

    // A consumer registered the way modules do, that panics on one event.
    let seen = Arc::new(Mutex::new(Vec::<i64>::new()));
    let runs = Arc::new(AtomicUsize::new(0));
    contextbay::modules::consume(s.state(), "test.panicky", "test.kind", {
        let (seen, runs) = (seen.clone(), runs.clone());
        move |_state, mut sub| {
            let (seen, runs) = (seen.clone(), runs.clone());
            async move {
                runs.fetch_add(1, Ordering::SeqCst);
                while let Some(delivery) = sub.recv().await {
                    let Delivery::Event(e) = delivery else {
                        continue;
                    };
                    assert!(e.payload["panic"] != true, "injected panic");
                    seen.lock().unwrap().push(e.payload["n"].as_i64().unwrap());
                }
                Ok(())
            }
        }
    })
    .await
    .unwrap();
    let bus = &s.state().bus;
    // Subscribed before `consume` returned: the first event is not missed.
    bus.publish("test.kind", json!({"n": 1})).await.unwrap();
    bus.publish("test.kind", json!({"panic": true}))
        .await
        .unwrap();
    // After the backoff it runs again with a new subscription and sees what is published then.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !seen.lock().unwrap().contains(&2) {
        assert!(
            std::time::Instant::now() < deadline,
            "not restarted: {seen:?}"
        );
        bus.publish("test.kind", json!({"n": 2})).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen.lock().unwrap()[0], 1);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let task = s
        .state()
        .tasks
        .list()
        .into_iter()
        .find(|t| t.name == "test.panicky")
        .unwrap();
    assert_eq!(task.restarts, 1);
    assert!(
        task.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("panicked"),
        "{task:?}"
    );
    s.stop().await;
}
