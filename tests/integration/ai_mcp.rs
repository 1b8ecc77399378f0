//! The AI module's MCP part against real MCP servers no one here wrote: the official Python SDK's
//! `MCPServer` (`tests/integration/support/mcp_server.py`, PyPI `mcp` from the virtualenv
//! `scripts/test` prepares, `CONTEXTBAY_PYVENV`), run by the master over stdio and started by the
//! test over streamable HTTP. Registration, probe, tool list, test-fire, update, removal; a server
//! that dies mid-call; bad input; roles; secrets never answered nor stored in clear.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use contextbay::modules::ai::mcp::store::{McpStore, StoredTransport};

use super::harness::{Login, TestServer, assert_error};

/// The virtualenv with the `mcp` package, or `None` (with a message) outside CI when there is
/// none.
fn pyvenv() -> Option<PathBuf> {
    let venv = std::env::var_os("CONTEXTBAY_PYVENV")
        .map(PathBuf::from)
        .filter(|p| p.join("lib").is_dir() && p.join("bin/python").is_file())
        .filter(|p| {
            std::process::Command::new(p.join("bin/python"))
                .args(["-c", "import mcp.server.mcpserver"])
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
        eprintln!(
            "SKIPPED: CONTEXTBAY_PYVENV does not name a virtualenv with the MCP Python SDK; \
             scripts/test prepares one from scripts/python-requirements.txt"
        );
    }
    venv
}

fn script() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/integration/support/mcp_server.py"
    )
    .to_owned()
}

/// The Python MCP server over streamable HTTP on a free loopback port; killed when dropped.
struct HttpServer {
    child: tokio::process::Child,
    url: String,
}

impl HttpServer {
    async fn start(venv: &std::path::Path, token: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = tokio::process::Command::new(venv.join("bin/python"))
            .args([script(), "http".into(), port.to_string(), token.into()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.trim() == "ready" {
                    return;
                }
            }
            panic!("the MCP server exited before it was ready");
        })
        .await
        .expect("the MCP server did not start within 60 s");
        // Keep reading its stdout so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        }
    }

    async fn exited(&mut self) -> bool {
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_ok()
    }
}

fn names(reply: &Value) -> Vec<String> {
    reply["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

fn text_of(reply: &Value) -> String {
    reply["content"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

async fn fire(s: &TestServer, who: &Login, tool: &str, args: Value) -> super::harness::Reply {
    s.post(
        &format!("/api/ai/mcp-tools/{tool}/test"),
        &who.access,
        json!({"arguments": args}),
    )
    .await
}

async fn setup(s: &TestServer) -> (Login, Login, Login) {
    let admin = s.setup().await;
    s.enable_module(&admin, "ai", Value::Null).await;
    let op = s.user(&admin, "operator1", "operator").await;
    let viewer = s.user(&admin, "viewer", "viewer").await;
    (admin, op, viewer)
}

#[actix_web::test]
async fn mcp_servers_over_stdio_and_streamable_http_end_to_end() {
    let Some(venv) = pyvenv() else { return };
    let python = venv.join("bin/python").to_string_lossy().into_owned();
    let s = TestServer::start().await;
    let (admin, op, viewer) = setup(&s).await;

    // stdio: the master runs a command, so an operator may not register one; an admin may.
    let stdio = json!({
        "name": "local-tools",
        "transport": "stdio",
        "command": python,
        "args": [script(), "stdio"],
        "env": {"CB_TEST_SECRET": "stdio-secret-value-1"},
    });
    let r = s
        .post("/api/ai/mcp-servers", &op.access, stdio.clone())
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .post("/api/ai/mcp-servers", &viewer.access, stdio.clone())
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .post("/api/ai/mcp-servers", &admin.access, stdio.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["env"]["CB_TEST_SECRET"], "********", "{:?}", r.body);
    let stdio_id = r.body["id"].as_str().unwrap().to_owned();
    let r = s
        .post("/api/ai/mcp-servers", &admin.access, stdio.clone())
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");

    // HTTP: an operator may register one; its header is the credential the server checks.
    let token = "http-secret-token-2";
    let mut web = HttpServer::start(&venv, token).await;
    let http = json!({
        "name": "web-tools",
        "transport": "http",
        "url": web.url,
        "headers": {"X-Test-Token": token},
    });
    let r = s
        .post("/api/ai/mcp-servers", &op.access, http.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["headers"]["X-Test-Token"], "********");
    let http_id = r.body["id"].as_str().unwrap().to_owned();

    // The secrets are never answered, and are sealed at rest.
    let r = s.get("/api/ai/mcp-servers", &viewer.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["total"], 2);
    let listed = r.body.to_string();
    assert!(!listed.contains(token) && !listed.contains("stdio-secret-value-1"));
    let stored = s.state().store.mcp_servers().list().await.unwrap();
    assert_eq!(stored.len(), 2);
    for server in &stored {
        let sealed: Vec<&String> = match &server.transport {
            StoredTransport::Stdio { env, .. } => env.values().collect(),
            StoredTransport::Http { headers, .. } => headers.values().collect(),
        };
        assert_eq!(sealed.len(), 1);
        for value in sealed {
            assert!(value.starts_with("v1:"), "{value}");
            assert!(!value.contains(token) && !value.contains("stdio-secret-value-1"));
        }
    }

    // Probes: initialize + tools/list on the real servers.
    for id in [&stdio_id, &http_id] {
        let r = s
            .get(&format!("/api/ai/mcp-servers/{id}/health"), &viewer.access)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["reachable"], true, "{:?}", r.body);
        assert_eq!(r.body["server_name"], "cb-test-tools");
        assert_eq!(r.body["server_version"], "1.2.3");
        assert_eq!(r.body["tool_count"], 5);
        assert!(r.body["error"].is_null());
    }

    // Every tool of both servers, qualified by server, with its input schema.
    let r = s.get("/api/ai/mcp-tools", &viewer.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let tools = names(&r.body);
    for tool in ["add", "echo", "getenv", "fail", "crash"] {
        assert!(tools.contains(&format!("local-tools__{tool}")), "{tools:?}");
        assert!(tools.contains(&format!("web-tools__{tool}")), "{tools:?}");
    }
    let add = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "local-tools__add")
        .unwrap();
    assert_eq!(add["server"], "local-tools");
    assert_eq!(add["tool"], "add");
    assert_eq!(add["description"], "Adds two integers.");
    assert_eq!(add["input_schema"]["properties"]["a"]["type"], "integer");

    // Test-fire over both transports.
    let r = fire(&s, &op, "local-tools__add", json!({"a": 2, "b": 40})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["is_error"], false);
    assert_eq!(text_of(&r.body), "42");
    let r = fire(
        &s,
        &op,
        "web-tools__echo",
        json!({"text": "hi", "shout": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(text_of(&r.body), "HI");
    // The stdio server gets its env, and nothing else of the master's but PATH.
    let r = fire(
        &s,
        &op,
        "local-tools__getenv",
        json!({"name": "CB_TEST_SECRET"}),
    )
    .await;
    assert_eq!(text_of(&r.body), "stdio-secret-value-1", "{:?}", r.body);
    let r = fire(&s, &op, "local-tools__getenv", json!({"name": "HOME"})).await;
    assert_eq!(text_of(&r.body), "<unset>", "{:?}", r.body);
    // A tool that fails answers its error, not a failed request.
    let r = fire(&s, &op, "web-tools__fail", json!({"reason": "on purpose"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["is_error"], true);
    assert!(text_of(&r.body).contains("on purpose"), "{:?}", r.body);

    // Bad input, refused before the server is called, naming the argument.
    let r = fire(&s, &op, "local-tools__add", json!({"a": "two", "b": 1})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(r.body["field"], "arguments.a");
    let r = fire(&s, &op, "local-tools__add", json!({"a": 1})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(r.body["field"], "arguments.b");
    let r = s
        .post(
            "/api/ai/mcp-tools/local-tools__add/test",
            &op.access,
            json!({"arguments": [1, 2]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    for unknown in ["local-tools__nope", "nobody__add", "add", "web-tools__"] {
        let r = fire(&s, &op, unknown, json!({})).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    // A viewer may look, not fire.
    let r = fire(&s, &viewer, "local-tools__add", json!({"a": 1, "b": 1})).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");

    // A stdio server that dies in the middle of a call: 502 with the reason; the next call
    // starts a new process.
    let r = fire(&s, &op, "local-tools__crash", json!({})).await;
    assert_error(&r, StatusCode::BAD_GATEWAY, "remote_failed");
    assert!(
        r.body["error"].as_str().unwrap().contains("local-tools"),
        "{:?}",
        r.body
    );
    let r = fire(&s, &op, "local-tools__add", json!({"a": 1, "b": 1})).await;
    assert_eq!(text_of(&r.body), "2", "{:?}", r.body);

    // Update: a new name and `********` keeping the stored header; the old names are gone at
    // once (the tool cache is keyed by the server's version).
    let mut renamed = http.clone();
    renamed["name"] = json!("web2");
    renamed["headers"] = json!({"X-Test-Token": "********"});
    let r = s
        .put(
            &format!("/api/ai/mcp-servers/{http_id}"),
            &op.access,
            renamed,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["name"], "web2");
    let r = s.get("/api/ai/mcp-tools", &viewer.access).await;
    let tools = names(&r.body);
    assert!(tools.contains(&"web2__echo".to_owned()), "{tools:?}");
    assert!(
        !tools.iter().any(|t| t.starts_with("web-tools__")),
        "{tools:?}"
    );
    let r = fire(&s, &op, "web2__add", json!({"a": 5, "b": 5})).await;
    assert_eq!(text_of(&r.body), "10", "{:?}", r.body);
    // A wrong credential: the probe says why, the list leaves the server out.
    let mut wrong = http.clone();
    wrong["name"] = json!("web2");
    wrong["headers"] = json!({"X-Test-Token": "not-the-token"});
    let r = s
        .put(&format!("/api/ai/mcp-servers/{http_id}"), &op.access, wrong)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = s
        .get(&format!("/api/ai/mcp-servers/{http_id}/health"), &op.access)
        .await;
    assert_eq!(r.body["reachable"], false, "{:?}", r.body);
    assert!(
        r.body["error"].as_str().unwrap().contains("web2"),
        "{:?}",
        r.body
    );
    let r = s.get("/api/ai/mcp-tools", &viewer.access).await;
    assert!(!names(&r.body).iter().any(|t| t.starts_with("web2__")));
    // An operator may not change (nor take over) the admin's stdio server.
    let mut hijack = stdio.clone();
    hijack["args"] = json!(["-c", "print(1)"]);
    let r = s
        .put(
            &format!("/api/ai/mcp-servers/{stdio_id}"),
            &op.access,
            hijack,
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .put(
            &format!("/api/ai/mcp-servers/{http_id}"),
            &op.access,
            stdio.clone(),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");

    // Disabled: its tools are not offered nor fired.
    let mut off = stdio.clone();
    off["enabled"] = json!(false);
    off["env"] = json!({"CB_TEST_SECRET": "********"});
    let r = s
        .put(
            &format!("/api/ai/mcp-servers/{stdio_id}"),
            &admin.access,
            off,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = fire(&s, &op, "local-tools__add", json!({"a": 1, "b": 1})).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");

    // An HTTP server that dies in the middle of a call.
    let mut good = http.clone();
    good["name"] = json!("web2");
    let r = s
        .put(&format!("/api/ai/mcp-servers/{http_id}"), &op.access, good)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = fire(&s, &op, "web2__crash", json!({})).await;
    assert!(
        r.status == StatusCode::BAD_GATEWAY || r.status == StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        r.body
    );
    assert!(web.exited().await, "the HTTP MCP server did not exit");
    let r = s
        .get(&format!("/api/ai/mcp-servers/{http_id}/health"), &op.access)
        .await;
    assert_eq!(r.body["reachable"], false, "{:?}", r.body);

    // Removal: 204, then gone; unknown and malformed ids.
    let r = s
        .delete(&format!("/api/ai/mcp-servers/{http_id}"), &viewer.access)
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .delete(&format!("/api/ai/mcp-servers/{http_id}"), &op.access)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = s
        .delete(&format!("/api/ai/mcp-servers/{http_id}"), &op.access)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = s
        .get(&format!("/api/ai/mcp-servers/{http_id}/health"), &op.access)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = s
        .get("/api/ai/mcp-servers/not-a-uuid/health", &op.access)
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = s.get("/api/ai/mcp-servers", &viewer.access).await;
    assert_eq!(r.body["total"], 1);

    s.stop().await;
}

#[actix_web::test]
async fn mcp_server_registrations_are_validated_field_by_field() {
    let s = TestServer::start().await;
    let (admin, op, _viewer) = setup(&s).await;
    let http = |extra: Value| {
        let mut body = json!({"name": "web", "transport": "http", "url": "http://127.0.0.1:9/mcp"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (http(json!({"name": ""})), "name"),
        (http(json!({"name": "Has_Underscore"})), "name"),
        (http(json!({"name": "-lead"})), "name"),
        (http(json!({"url": "not a url"})), "url"),
        (http(json!({"url": "ftp://127.0.0.1/mcp"})), "url"),
        (http(json!({"url": "http://user:pw@127.0.0.1/mcp"})), "url"),
        (http(json!({"command": "/bin/true"})), "command"),
        (http(json!({"env": {"A": "b"}})), "env"),
        (http(json!({"headers": {"Accept": "x"}})), "headers.Accept"),
        (
            http(json!({"headers": {"Mcp-Session-Id": "x"}})),
            "headers.Mcp-Session-Id",
        ),
        (
            http(json!({"headers": {"bad header": "x"}})),
            "headers.bad header",
        ),
        (
            http(json!({"headers": {"X-Token": "line\nbreak"}})),
            "headers.X-Token",
        ),
        (
            http(json!({"headers": {"X-Token": "********"}})),
            "headers.X-Token",
        ),
        (json!({"name": "s", "transport": "stdio"}), "command"),
        (
            json!({"name": "s", "transport": "stdio", "command": ""}),
            "command",
        ),
        (
            json!({"name": "s", "transport": "stdio", "command": "./relative"}),
            "command",
        ),
        (
            json!({"name": "s", "transport": "stdio", "command": "/nonexistent/mcp"}),
            "command",
        ),
        (
            json!({"name": "s", "transport": "stdio", "command": "/etc/passwd"}),
            "command",
        ),
        (
            json!({"name": "s", "transport": "stdio", "command": "no-such-command-on-path"}),
            "command",
        ),
        (
            json!({"name": "s", "transport": "stdio", "command": "true", "url": "http://x/"}),
            "url",
        ),
        (
            json!({"name": "s", "transport": "stdio", "command": "true", "env": {"PATH": "/tmp"}}),
            "env.PATH",
        ),
        (
            json!({"name": "s", "transport": "stdio", "command": "true", "env": {"1X": "v"}}),
            "env.1X",
        ),
        (
            json!({"name": "s", "transport": "stdio", "command": "true", "args": ["a\u{0}b"]}),
            "args[0]",
        ),
    ];
    for (body, field) in cases {
        let r = s
            .post("/api/ai/mcp-servers", &admin.access, body.clone())
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(r.body["field"], field, "{body}: {:?}", r.body);
    }
    // Not one of the two transports.
    let r = s
        .post(
            "/api/ai/mcp-servers",
            &op.access,
            json!({"name": "x", "transport": "ftp", "url": "http://127.0.0.1:9/"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    // Nothing was stored by any of these.
    let r = s.get("/api/ai/mcp-servers", &op.access).await;
    assert_eq!(r.body["total"], 0, "{:?}", r.body);

    // A server that is not there: the probe answers why; the tool list simply lacks it.
    let r = s
        .post("/api/ai/mcp-servers", &op.access, http(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = s
        .get(&format!("/api/ai/mcp-servers/{id}/health"), &op.access)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["reachable"], false);
    assert!(
        r.body["error"].as_str().is_some_and(|e| e.contains("web")),
        "{:?}",
        r.body
    );
    let r = s.get("/api/ai/mcp-tools", &op.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["total"], 0);
    // Unknown ids.
    let unknown = "0190a5e0-0000-7000-8000-000000000000";
    let r = s
        .put(
            &format!("/api/ai/mcp-servers/{unknown}"),
            &op.access,
            http(json!({})),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = s
        .delete(&format!("/api/ai/mcp-servers/{unknown}"), &op.access)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    // Concurrent updates of one server: each answers 200 or 409, none is half-applied.
    let mut futures = Vec::new();
    for i in 0..8 {
        let body = http(json!({"name": format!("web-{i}")}));
        let (s, op, id) = (&s, &op, id.clone());
        futures.push(async move {
            s.put(&format!("/api/ai/mcp-servers/{id}"), &op.access, body)
                .await
        });
    }
    let replies = futures_util::future::join_all(futures).await;
    let mut won = Vec::new();
    for r in &replies {
        match r.status {
            StatusCode::OK => won.push(r.body["name"].as_str().unwrap().to_owned()),
            StatusCode::CONFLICT => {}
            other => panic!("{other}: {:?}", r.body),
        }
    }
    assert!(!won.is_empty());
    let r = s.get("/api/ai/mcp-servers", &op.access).await;
    let stored = r.body["items"][0]["name"].as_str().unwrap().to_owned();
    assert!(won.contains(&stored), "{stored} not among {won:?}");
    s.stop().await;
}
