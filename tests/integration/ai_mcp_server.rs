//! ContextBay as an MCP server (`/mcp`, streamable HTTP) driven by a client no one here wrote:
//! the official Python SDK's `ClientSession` over `streamable_http_client`
//! (`support/mcp_client.py`, PyPI `mcp` from `CONTEXTBAY_PYVENV`). Tools listed per the API
//! key's role, tools run against a real container on the engine, a viewer's key cannot restart,
//! secrets are masked, calls are audited; no key, a revoked key, the module off and other
//! spellings of the path never get through.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::{Login, TestServer};
use super::support::docker::{Cleanup, IMAGE, docker, engine_available, ensure_image};

/// The virtualenv with the `mcp` package, or `None` (with a message) outside CI when there is
/// none.
fn pyvenv() -> Option<PathBuf> {
    let venv = std::env::var_os("CONTEXTBAY_PYVENV")
        .map(PathBuf::from)
        .filter(|p| p.join("bin/python").is_file())
        .filter(|p| {
            std::process::Command::new(p.join("bin/python"))
                .args(["-c", "import mcp.client.streamable_http"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
    if venv.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "CONTEXTBAY_PYVENV must name a virtualenv with the MCP Python SDK on CI (scripts/test \
             makes one from scripts/python-requirements.txt)"
        );
        eprintln!("SKIPPED: CONTEXTBAY_PYVENV does not name a virtualenv with the MCP Python SDK");
    }
    venv
}

/// Runs the Python SDK client with `header: value` and `steps`; its results, or its stderr.
async fn client(
    venv: &Path,
    url: &str,
    header: &str,
    value: &str,
    steps: Value,
) -> Result<Vec<Value>, String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/integration/support/mcp_client.py"
    );
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        tokio::process::Command::new(venv.join("bin/python"))
            .args([script, url, header, value, &steps.to_string()])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the MCP client did not finish within 120 s")
    .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    Ok(serde_json::from_str::<Value>(last)
        .unwrap_or_else(|e| panic!("client output {stdout:?}: {e}"))
        .as_array()
        .unwrap()
        .clone())
}

/// An API key of `who` with `role`: its id and its secret.
async fn key(s: &TestServer, who: &Login, role: &str) -> (String, String) {
    let created = s
        .post(
            "/api/keys",
            &who.access,
            json!({"name": format!("mcp-{role}"), "role": role, "expires_in_days": 1}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    (
        created.body["id"].as_str().unwrap().to_owned(),
        created.body["key"].as_str().unwrap().to_owned(),
    )
}

fn started_at(container: &str) -> String {
    docker(&["inspect", "-f", "{{.State.StartedAt}}", container]).unwrap()
}

fn tool_names(listed: &Value) -> Vec<String> {
    listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// A raw `initialize` POST to `path` with `headers`: what a client without the SDK could send.
async fn raw_initialize(s: &TestServer, path: &str, headers: &[(&str, &str)]) -> StatusCode {
    let mut req = s
        .http
        .post(s.url(path))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "raw", "version": "1"}}})
            .to_string(),
        );
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status()
}

/// A raw `tools/call` of `restart_container` at `path`.
async fn raw_restart(
    s: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
    container: &str,
) -> StatusCode {
    let mut req = s
        .http
        .post(s.url(path))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-06-18")
        .body(
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "restart_container",
                "arguments": {"endpoint": "local", "container": container}}})
            .to_string(),
        );
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status()
}

#[actix_web::test]
async fn external_agents_drive_contextbay_over_mcp_with_their_key_role() {
    let Some(venv) = pyvenv() else { return };
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("mcpsrv");
    let name = format!("{}-app", c.prefix);
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        &c.network,
        "--label",
        "contextbay.test=1",
        "-e",
        "DB_PASSWORD=hunter2-planted-secret",
        IMAGE,
        "sh",
        "-c",
        "echo started-line; sleep 3600",
    ])
    .unwrap();

    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    let url = s.url("/mcp");
    let op = s.user(&admin, "op1", "operator").await;
    let viewer = s.user(&admin, "viewer1", "viewer").await;
    let (_, op_key) = key(&s, &op, "operator").await;
    let (_, viewer_key) = key(&s, &viewer, "viewer").await;
    // An operator's key made with the viewer role is capped at viewer.
    let (_, capped_key) = key(&s, &op, "viewer").await;

    // The module off: /mcp is a 404 like any module route, even with a good key.
    assert_eq!(
        raw_initialize(&s, "/mcp", &[("x-api-key", &op_key)]).await,
        StatusCode::NOT_FOUND
    );
    s.enable_module(&admin, "ai", Value::Null).await;

    // The operator lists the tools and runs them against the real container.
    let before = started_at(&name);
    let steps = json!([
        {"op": "list"},
        {"op": "call", "name": "list_containers", "arguments": {"endpoint": "local"}},
        {"op": "call", "name": "inspect_container", "arguments": {"endpoint": "local", "container": name}},
        {"op": "call", "name": "container_logs", "arguments": {"endpoint": "local", "container": name, "tail": 5}},
        {"op": "call", "name": "list_nodes"},
        {"op": "call", "name": "list_stacks"},
        {"op": "call", "name": "restart_container", "arguments": {"endpoint": "local", "container": name}},
        {"op": "call", "name": "recent_events", "arguments": {"type": "container.*", "limit": 5}},
        {"op": "call", "name": "container_logs", "arguments": {"endpoint": "local", "container": name, "tail": 100000}},
        {"op": "call", "name": "query_metrics", "arguments": {"query": "up"}},
    ]);
    let out = client(&venv, &url, "X-API-Key", &op_key, steps)
        .await
        .unwrap();
    let listed = tool_names(&out[0]);
    for tool in [
        "list_endpoints",
        "list_containers",
        "restart_container",
        "list_nodes",
        "inspect_container",
        "container_logs",
        "list_stacks",
        "deploy_stack",
        "recent_events",
    ] {
        assert!(listed.contains(&tool.to_owned()), "{tool} in {listed:?}");
    }
    // The monitoring and alerting modules are off: their tools are not offered.
    assert!(!listed.contains(&"query_metrics".to_owned()), "{listed:?}");
    assert!(!listed.contains(&"list_alerts".to_owned()), "{listed:?}");
    let restart = out[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "restart_container")
        .unwrap();
    assert_eq!(restart["destructive"], true);
    assert_eq!(restart["read_only"], false);

    assert_eq!(out[1]["is_error"], false, "{:?}", out[1]);
    let containers: Value = serde_json::from_str(out[1]["text"].as_str().unwrap()).unwrap();
    assert!(
        containers
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == name.as_str() && c["state"] == "running"),
        "{containers}"
    );
    // The inspect document masks env values, even for an operator: no secret reaches an agent.
    assert_eq!(out[2]["is_error"], false, "{:?}", out[2]);
    let inspect = out[2]["text"].as_str().unwrap();
    assert!(!inspect.contains("hunter2-planted-secret"), "{inspect}");
    assert!(inspect.contains("DB_PASSWORD=********"), "{inspect}");
    assert_eq!(out[3]["is_error"], false, "{:?}", out[3]);
    assert!(
        out[3]["text"].as_str().unwrap().contains("started-line"),
        "{:?}",
        out[3]
    );
    assert_eq!(out[4]["is_error"], false, "{:?}", out[4]);
    assert_eq!(out[5]["is_error"], false, "{:?}", out[5]);
    assert_eq!(out[6]["is_error"], false, "{:?}", out[6]);
    let after = started_at(&name);
    assert_ne!(before, after, "the container was not restarted");
    assert_eq!(out[7]["is_error"], false, "{:?}", out[7]);
    assert!(
        out[7]["text"]
            .as_str()
            .unwrap()
            .contains("container.action"),
        "{:?}",
        out[7]
    );
    // A tail beyond the bound is refused, naming the argument.
    assert_eq!(out[8]["is_error"], true, "{:?}", out[8]);
    assert!(
        out[8]["text"].as_str().unwrap().contains("tail"),
        "{:?}",
        out[8]
    );
    // A tool of a module that is off is unknown.
    assert_eq!(out[9]["is_error"], true, "{:?}", out[9]);
    assert!(
        out[9]["text"].as_str().unwrap().contains("query_metrics"),
        "{:?}",
        out[9]
    );

    // The same key as `Authorization: Bearer`.
    let out = client(
        &venv,
        &url,
        "Authorization",
        &format!("Bearer {op_key}"),
        json!([{"op": "list"}]),
    )
    .await
    .unwrap();
    assert!(tool_names(&out[0]).contains(&"restart_container".to_owned()));

    // A viewer's key lists only read tools, and a write tool answers a tool error without
    // running: the container is not restarted.
    for viewer_like in [&viewer_key, &capped_key] {
        let out = client(
            &venv,
            &url,
            "X-API-Key",
            viewer_like,
            json!([
                {"op": "list"},
                {"op": "call", "name": "restart_container", "arguments": {"endpoint": "local", "container": name}},
                {"op": "call", "name": "deploy_stack", "arguments": {"stack": "whatever"}},
            ]),
        )
        .await
        .unwrap();
        let listed = tool_names(&out[0]);
        assert!(listed.contains(&"list_containers".to_owned()), "{listed:?}");
        assert!(
            !listed.contains(&"restart_container".to_owned()),
            "{listed:?}"
        );
        assert!(!listed.contains(&"deploy_stack".to_owned()), "{listed:?}");
        for refused in &out[1..] {
            assert_eq!(refused["is_error"], true, "{refused:?}");
            assert!(
                refused["text"].as_str().unwrap().contains("operator role"),
                "{refused:?}"
            );
        }
        assert_eq!(started_at(&name), after, "a viewer's key restarted it");
    }

    // Audited like the REST mutations: who called which tool, and the outcome.
    let audit = s.audit(&admin, "&action=MCP").await;
    assert!(
        audit.iter().any(|e| e["actor"] == "op1"
            && e["action"] == "MCP tools/call restart_container"
            && e["result"] == "success"),
        "{audit:?}"
    );
    assert!(
        audit.iter().any(|e| e["actor"] == "viewer1"
            && e["action"] == "MCP tools/call restart_container"
            && e["result"] == "failure"
            && e["status"] == 403),
        "{audit:?}"
    );

    // No key, a key that is not a key, a JWT instead of a key: 401, from the SDK too.
    assert_eq!(
        raw_initialize(&s, "/mcp", &[]).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        raw_initialize(
            &s,
            "/mcp",
            &[("x-api-key", "cb_not-a-real-key-at-all-0000000000000000")]
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    let bearer = format!("Bearer {}", op.access);
    assert_eq!(
        raw_initialize(&s, "/mcp", &[("authorization", &bearer)]).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        client(&venv, &url, "X-Other", "x", json!([{"op": "list"}]))
            .await
            .is_err()
    );
    // A revoked key: 401.
    let (revoked_id, revoked) = key(&s, &op, "operator").await;
    assert_eq!(
        raw_initialize(&s, "/mcp", &[("x-api-key", &revoked)]).await,
        StatusCode::OK
    );
    let gone = s
        .delete(&format!("/api/keys/{revoked_id}"), &op.access)
        .await;
    assert!(gone.status.is_success(), "{:?}", gone.body);
    assert_eq!(
        raw_initialize(&s, "/mcp", &[("x-api-key", &revoked)]).await,
        StatusCode::UNAUTHORIZED
    );

    // Other spellings of the path: never a way around the key.
    for path in [
        "/MCP", "/mcp/", "/%6dcp", "/%6Dcp", "/Mcp", "/mcp;x", "//mcp", "/./mcp",
    ] {
        let status = raw_initialize(&s, path, &[]).await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::NOT_FOUND,
            "{path}: {status}"
        );
        let status = raw_restart(&s, path, &[("x-api-key", &viewer_key)], &name).await;
        assert!(!status.is_server_error(), "{path}: {status}");
        let status = raw_restart(&s, path, &[], &name).await;
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::NOT_FOUND,
            "{path}: {status}"
        );
    }
    assert_eq!(started_at(&name), after, "another spelling restarted it");

    // The module switched off again: 404 with a good key.
    s.disable_module(&admin, "ai").await;
    assert_eq!(
        raw_initialize(&s, "/mcp", &[("x-api-key", &op_key)]).await,
        StatusCode::NOT_FOUND
    );
    drop(c);
}
