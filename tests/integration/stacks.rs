//! Stacks and services on the real engine with the real compose CLI, through the local endpoint
//! and through a worker (agent endpoint). Nothing is pulled: the services run the busybox test
//! image; their network is internal; a guard takes every project down even when a test fails.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::harness::{Login, Reply, TestServer, assert_error};
use super::support::compose::{Projects, compose_file};
use super::support::docker::{Cleanup, FusedWorker, IMAGE, docker, engine_available, ensure_image};
use super::support::operations::act;

/// `docker ps` names and states of a project's containers, as the CLI sees them.
fn cli_states(project: &str) -> Vec<(String, String)> {
    let out = docker(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--format",
        "{{.Label \"com.docker.compose.service\"}} {{.State}}",
    ])
    .unwrap();
    let mut v: Vec<(String, String)> = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    v.sort();
    v
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn events(s: &TestServer, token: &str) -> Ws {
    let mut req = s
        .ws_url("/api/ws?topics=stack.progress,stack.update")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(next(&mut ws).await["type"], "hello");
    ws
}

async fn next(ws: &mut Ws) -> Value {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str::<Value>(&t).unwrap(),
                Some(Ok(_)) => continue,
                other => return json!({"type": "closed", "detail": format!("{other:?}")}),
            }
        }
    })
    .await
    .expect("no event within 60 s")
}

/// The events of stack `id` up to its action's final `stack.progress {done}`.
async fn until_done(ws: &mut Ws, id: &str) -> (Vec<Value>, Value, Vec<Value>) {
    let (mut lines, mut updates) = (Vec::new(), Vec::new());
    loop {
        let e = next(ws).await;
        assert_ne!(e["type"], "closed", "{e:?}");
        if e["payload"]["id"] != id {
            continue;
        }
        match (e["type"].as_str(), e["payload"]["done"].as_bool()) {
            (Some("stack.progress"), Some(true)) => return (lines, e, updates),
            (Some("stack.progress"), _) => lines.push(e),
            _ => updates.push(e),
        }
    }
}

fn stack_in<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

/// Create → deploy (events, CLI) → listed with services → stop → remove → delete.
async fn deploy_flow(
    s: &TestServer,
    admin: &Login,
    projects: &mut Projects,
    prefix: &str,
    endpoint: &str,
) {
    let name = projects.add(&format!("{prefix}-app"));
    let mut ws = events(s, &admin.access).await;
    let created = s
        .post(
            "/api/stacks",
            &admin.access,
            json!({"name": name, "endpoint": endpoint, "compose": compose_file(), "env": {"GREETING": "hello world"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["status"], "stored");
    assert_eq!(created.body["endpoint"]["id"], endpoint);
    assert_eq!(created.body["env"]["GREETING"], "hello world");
    assert_eq!(created.body["services"].as_array().unwrap().len(), 2);
    let update = next(&mut ws).await;
    assert_eq!(update["type"], "stack.update");
    assert_eq!(update["payload"]["status"], "stored");

    // Duplicate name on the same endpoint.
    let dup = s
        .post(
            "/api/stacks",
            &admin.access,
            json!({"name": name, "endpoint": endpoint, "compose": compose_file()}),
        )
        .await;
    assert_error(&dup, StatusCode::CONFLICT, "conflict");

    let deployed = act(s, &admin.access, &format!("/api/stacks/{id}/deploy")).await;
    assert_eq!(deployed.status, StatusCode::ACCEPTED, "{:?}", deployed.body);
    assert_eq!(deployed.body["state"], "succeeded", "{:?}", deployed.body);
    assert_eq!(deployed.body["kind"], "stack.deploy");
    assert_eq!(deployed.body["resource"], format!("stack:{id}"));
    assert_eq!(deployed.body["created_by"], "admin");
    let operation = deployed.body["id"].as_str().unwrap().to_owned();
    let deployed = Reply {
        body: deployed.body["result"].clone(),
        ..deployed
    };
    assert_eq!(deployed.body["ok"], true);
    assert_eq!(deployed.body["exit_code"], 0);
    assert_eq!(deployed.body["status"], "running");
    assert!(
        deployed.body["command"]
            .as_str()
            .unwrap()
            .contains("up -d --remove-orphans"),
        "{:?}",
        deployed.body
    );
    let (lines, done, updates) = until_done(&mut ws, &id).await;
    assert!(!lines.is_empty(), "no progress lines");
    assert!(lines.iter().all(|l| l["payload"]["action"] == "deploy"));
    assert!(
        lines
            .iter()
            .all(|l| l["payload"]["operation"] == operation.as_str())
    );
    assert_eq!(done["payload"]["operation"], operation.as_str());
    // Listed among the stack's operations.
    let ops = s
        .get(
            &format!("/api/operations?resource=stack:{id}&state=succeeded"),
            &admin.access,
        )
        .await;
    assert_eq!(ops.status, StatusCode::OK, "{:?}", ops.body);
    assert_eq!(ops.body["total"], 1, "{:?}", ops.body);
    assert_eq!(ops.body["items"][0]["id"], operation.as_str());
    assert!(
        lines
            .iter()
            .any(|l| l["payload"]["line"].as_str().unwrap().contains("web")),
        "{lines:?}"
    );
    assert_eq!(done["payload"]["ok"], true);
    assert_eq!(done["payload"]["exit_code"], 0);
    let update = if updates.is_empty() {
        next(&mut ws).await
    } else {
        updates[0].clone()
    };
    assert_eq!(update["type"], "stack.update", "{update:?}");
    assert_eq!(update["payload"]["status"], "running");
    assert_eq!(
        cli_states(&name),
        vec![
            ("web".to_owned(), "running".to_owned()),
            ("worker".to_owned(), "running".to_owned())
        ]
    );
    let net = docker(&[
        "network",
        "inspect",
        "-f",
        "{{.Internal}}",
        &format!("{name}_backend"),
    ])
    .unwrap();
    assert_eq!(net, "true");

    // Listed, with its services.
    let list = s
        .get(
            &format!("/api/stacks?endpoint={endpoint}&name={name}"),
            &admin.access,
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    let listed = stack_in(&list.body, &name).unwrap();
    assert_eq!(listed["id"], id.as_str());
    assert_eq!(listed["status"], "running");
    assert_eq!(listed["discovered"], false);
    assert_eq!(listed["running"], 2);
    let services = s
        .get(&format!("/api/services?project={name}"), &admin.access)
        .await;
    assert_eq!(services.body["total"], 2, "{:?}", services.body);
    let web = &services.body["items"][0];
    assert_eq!(web["id"], format!("{endpoint}:{name}:web"));
    assert_eq!(web["stack_id"], id.as_str());
    assert_eq!(web["running"], 1);
    assert_eq!(web["image"], IMAGE);
    assert_eq!(web["endpoint"]["id"], endpoint);
    let one = s
        .get(
            &format!("/api/services/{endpoint}:{name}:worker"),
            &admin.access,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{:?}", one.body);
    assert_eq!(one.body["state_counts"]["running"], 1);

    // Health snapshot: validated, stored, shown.
    let sid = format!("{endpoint}:{name}:web");
    let bad = s
        .put(
            &format!("/api/services/{sid}/health"),
            &admin.access,
            json!({"status": "great"}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");
    assert!(bad.body["error"].as_str().unwrap().starts_with("status"));
    let put = s
        .put(
            &format!("/api/services/{sid}/health"),
            &admin.access,
            json!({"status": "degraded", "detail": "slow answers"}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["status"], "degraded");
    let got = s.get(&format!("/api/services/{sid}"), &admin.access).await;
    assert_eq!(got.body["health"]["status"], "degraded");
    assert_eq!(got.body["health"]["detail"], "slow answers");
    assert_error(
        &s.put(
            &format!("/api/services/{endpoint}:{name}:nope/health"),
            &admin.access,
            json!({"status": "healthy"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // A deployed stack with containers is not deleted without force.
    let busy = s.delete(&format!("/api/stacks/{id}"), &admin.access).await;
    assert_error(&busy, StatusCode::CONFLICT, "conflict");

    let stopped = act(s, &admin.access, &format!("/api/stacks/{id}/stop")).await;
    assert_eq!(stopped.status, StatusCode::ACCEPTED, "{:?}", stopped.body);
    assert_eq!(stopped.body["state"], "succeeded", "{:?}", stopped.body);
    assert_eq!(stopped.body["result"]["status"], "stopped");
    let (_, done, _) = until_done(&mut ws, &id).await;
    assert_eq!(done["payload"]["action"], "stop");
    assert_eq!(
        cli_states(&name),
        vec![
            ("web".to_owned(), "exited".to_owned()),
            ("worker".to_owned(), "exited".to_owned())
        ]
    );

    let removed = act(
        s,
        &admin.access,
        &format!("/api/stacks/{id}/remove?volumes=true"),
    )
    .await;
    assert_eq!(removed.status, StatusCode::ACCEPTED, "{:?}", removed.body);
    assert_eq!(removed.body["state"], "succeeded", "{:?}", removed.body);
    assert_eq!(removed.body["result"]["status"], "stored");
    assert!(cli_states(&name).is_empty());
    assert!(docker(&["network", "inspect", &format!("{name}_backend")]).is_err());

    let deleted = s.delete(&format!("/api/stacks/{id}"), &admin.access).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
    assert_error(
        &s.get(&format!("/api/stacks/{id}"), &admin.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[actix_web::test]
async fn stacks_on_the_local_endpoint() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("stacks");
    let mut projects = Projects::new();
    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    deploy_flow(&s, &admin, &mut projects, &c.prefix, "local").await;

    // The files the CLI ran from sit in the stack's directory under the data dir.
    assert!(s.data_dir().join("stacks").is_dir());

    // Bad input: each answer names the problem.
    let bad = |body: Value| {
        let s = &s;
        let token = admin.access.clone();
        async move { s.post("/api/stacks", &token, body).await }
    };
    let r = bad(json!({"name": "Bad Name", "compose": compose_file()})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        r.body["error"].as_str().unwrap().starts_with("name:"),
        "{:?}",
        r.body
    );
    let r = bad(json!({"name": "okname", "compose": "services: [unclosed"})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        r.body["error"].as_str().unwrap().contains("YAML"),
        "{:?}",
        r.body
    );
    let r = bad(json!({"name": "okname", "compose": "version: '3'\n"})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        r.body["error"].as_str().unwrap().contains("services"),
        "{:?}",
        r.body
    );
    let r = bad(json!({"name": "okname", "compose": compose_file(), "env": {"1X": "y"}})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        r.body["error"].as_str().unwrap().starts_with("env"),
        "{:?}",
        r.body
    );
    let r = bad(json!({"name": "okname", "compose": compose_file(), "colour": "red"})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    assert_error(
        &s.get(
            "/api/stacks/0190a0a0-0000-7000-8000-000000000000",
            &admin.access,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // Viewer reads but cannot act; unknown action is a 400.
    let name = projects.add(&format!("{}-roles", c.prefix));
    let created = s
        .post(
            "/api/stacks",
            &admin.access,
            json!({"name": name, "compose": compose_file(), "env": {"SECRET": "s3cret"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let viewer = s.user(&admin, "stackviewer", "viewer").await;
    let seen = s.get(&format!("/api/stacks/{id}"), &viewer.access).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.body["env"]["SECRET"], "********");
    assert_error(
        &s.post(
            &format!("/api/stacks/{id}/deploy"),
            &viewer.access,
            json!({}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &s.post(
            &format!("/api/stacks/{id}/explode"),
            &admin.access,
            json!({}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    // Update stores without deploying; a rename is refused.
    let updated = s
        .put(
            &format!("/api/stacks/{id}"),
            &admin.access,
            json!({"env": {"SECRET": "other"}}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!(updated.body["env"]["SECRET"], "other");
    assert_eq!(updated.body["status"], "stored");
    assert!(cli_states(&name).is_empty());
    assert_error(
        &s.put(
            &format!("/api/stacks/{id}"),
            &admin.access,
            json!({"name": "renamed"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );

    // A failing compose run ends its operation failed, with the exit code and compose's own
    // words, and the output in its result.
    let broken = s
        .put(
            &format!("/api/stacks/{id}"),
            &admin.access,
            json!({"compose": "services:\n  web:\n    image: contextbay-test/busybox:latest\n    networks: [missing]\n"}),
        )
        .await;
    assert_eq!(broken.status, StatusCode::OK, "{:?}", broken.body);
    let failed = act(&s, &admin.access, &format!("/api/stacks/{id}/deploy")).await;
    assert_eq!(failed.status, StatusCode::ACCEPTED, "{:?}", failed.body);
    assert_eq!(failed.body["state"], "failed", "{:?}", failed.body);
    assert_eq!(failed.body["result"]["ok"], false, "{:?}", failed.body);
    assert_eq!(failed.body["result"]["exit_code"], 1, "{:?}", failed.body);
    let message = failed.body["error"].as_str().unwrap();
    assert!(message.contains("exit code 1"), "{message}");
    assert!(message.contains("missing"), "{message}");
    assert_eq!(
        s.delete(&format!("/api/stacks/{id}"), &admin.access)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    s.stop().await;
}

#[actix_web::test]
async fn a_compose_project_started_with_the_cli_is_discovered_and_adopted() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("adopt");
    let mut projects = Projects::new();
    let name = projects.add(&format!("{}-cli", c.prefix));
    let file = projects.file();
    std::fs::write(file.with_file_name(".env"), "MODE=cli\n").unwrap();
    let up = std::process::Command::new("docker-compose")
        .args(["-p", &name, "-f", file.to_str().unwrap(), "up", "-d"])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );

    // The project's directory is one of the roots adoption reads compose files from.
    let root = projects.dir.path().to_path_buf();
    let s = TestServer::start_with(|cfg| {
        cfg.docker.local_endpoint = true;
        cfg.docker.stack_roots = vec![root];
    })
    .await;
    let admin = s.setup().await;
    let list = s
        .get(&format!("/api/stacks?name={name}"), &admin.access)
        .await;
    let found = stack_in(&list.body, &name).unwrap_or_else(|| panic!("{:?}", list.body));
    assert_eq!(found["discovered"], true);
    assert_eq!(found["id"], format!("local:{name}"));
    assert_eq!(found["status"], "running");
    assert_eq!(found["services"].as_array().unwrap().len(), 2);
    assert!(
        found["config_files"][0]
            .as_str()
            .unwrap()
            .ends_with("docker-compose.yml")
    );
    let discovered = s
        .get(&format!("/api/stacks/local:{name}"), &admin.access)
        .await;
    assert_eq!(discovered.status, StatusCode::OK, "{:?}", discovered.body);
    assert_eq!(discovered.body["discovered"], true);
    // Not stored yet: acting on it says to adopt it first.
    let not_yet = s
        .post(
            &format!("/api/stacks/local:{name}/stop"),
            &admin.access,
            json!({}),
        )
        .await;
    assert_error(&not_yet, StatusCode::CONFLICT, "conflict");
    assert!(not_yet.body["error"].as_str().unwrap().contains("adopt"));
    // Creating a stack of that name would take the project over silently.
    let clash = s
        .post(
            "/api/stacks",
            &admin.access,
            json!({"name": name, "compose": compose_file()}),
        )
        .await;
    assert_error(&clash, StatusCode::CONFLICT, "conflict");

    let adopted = s
        .post(
            "/api/stacks",
            &admin.access,
            json!({"adopt": name, "endpoint": "local"}),
        )
        .await;
    assert_eq!(adopted.status, StatusCode::CREATED, "{:?}", adopted.body);
    assert_eq!(adopted.body["adopted"], true);
    assert_eq!(adopted.body["discovered"], false);
    assert_eq!(adopted.body["status"], "running");
    assert_eq!(adopted.body["adoption"]["reconstructed"], false);
    assert_eq!(adopted.body["compose"], compose_file());
    assert_eq!(adopted.body["env"]["MODE"], "cli");
    assert_eq!(
        adopted.body["project_dir"],
        projects.dir.path().to_str().unwrap()
    );
    let id = adopted.body["id"].as_str().unwrap().to_owned();
    let again = s
        .post("/api/stacks", &admin.access, json!({"adopt": name}))
        .await;
    assert_error(&again, StatusCode::CONFLICT, "conflict");
    let list = s
        .get(&format!("/api/stacks?name={name}"), &admin.access)
        .await;
    assert_eq!(list.body["total"], 1, "{:?}", list.body);
    assert_eq!(list.body["items"][0]["id"], id.as_str());

    // Full control: a deploy from the stored file finds the project up to date (same
    // containers), then stop, a service removed, the rest removed.
    let ids = || {
        docker(&[
            "ps",
            "-aq",
            "--no-trunc",
            "--filter",
            &format!("label=com.docker.compose.project={name}"),
        ])
        .unwrap()
    };
    let before = ids();
    let redeployed = act(&s, &admin.access, &format!("/api/stacks/{id}/deploy")).await;
    assert_eq!(
        redeployed.body["state"], "succeeded",
        "{:?}",
        redeployed.body
    );
    assert_eq!(redeployed.body["result"]["status"], "running");
    assert_eq!(ids(), before, "{:?}", redeployed.body["result"]["output"]);
    let stopped = act(&s, &admin.access, &format!("/api/stacks/{id}/stop")).await;
    assert_eq!(stopped.body["state"], "succeeded", "{:?}", stopped.body);
    assert_eq!(stopped.body["result"]["status"], "stopped");
    assert!(cli_states(&name).iter().all(|(_, st)| st == "exited"));
    let gone = s
        .delete(&format!("/api/services/local:{name}:worker"), &admin.access)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{:?}", gone.body);
    assert_eq!(
        cli_states(&name),
        vec![("web".to_owned(), "exited".to_owned())]
    );
    let removed = act(&s, &admin.access, &format!("/api/stacks/{id}/remove")).await;
    assert_eq!(removed.body["state"], "succeeded", "{:?}", removed.body);
    assert!(cli_states(&name).is_empty());
    s.stop().await;
}

#[actix_web::test]
async fn stacks_through_a_worker_on_an_agent_endpoint() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("stackagent");
    let mut projects = Projects::new();
    let s = TestServer::start_with(|cfg| {
        cfg.fleet.heartbeat_interval_secs = 1;
        cfg.fleet.command_timeout_secs = 120;
        // No engine of its own: everything goes through the worker.
        cfg.docker.local_endpoint = false;
    })
    .await;
    let admin = s.setup().await;
    let worker = FusedWorker::start(&s, &admin, "stackhost").await;
    let id = worker.id.clone();

    deploy_flow(&s, &admin, &mut projects, &c.prefix, &id).await;
    // The worker kept the files under its own data directory.
    assert!(worker.dir.path().join("stacks").is_dir());

    drop(worker);
    s.stop().await;
}
