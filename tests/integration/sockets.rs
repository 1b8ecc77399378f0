//! Long-lived sockets and who may keep them: `/api/ws`, container logs and exec close with 1008
//! within seconds when their caller is disabled, demoted below the route's role, logged out or
//! their API key revoked; `/api/ws` follows a role change; exec is audited and starts nothing
//! before the WebSocket handshake. The session registry pushes revocation, user changes and
//! shutdown to every kind (the tests switch the re-check poll off, so a close is the push), counts open
//! sessions by kind in `/api/system/info`, and closes a silent client. Also the secrets a reader sees: the install snippet's shared
//! secret (admins only) and container env in inspect (masked for viewers), and a worker taking
//! the shared secret from a file.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::harness::{Login, TestServer};
use super::support::docker::{Cleanup, IMAGE, docker, engine_available, ensure_image};
use super::support::ws::{Ws, closed};

/// How a test socket authenticates.
enum Cred<'a> {
    Bearer(&'a str),
    Key(&'a str),
}

async fn open(s: &TestServer, path: &str, cred: &Cred<'_>) -> Ws {
    let mut req = s.ws_url(path).into_client_request().unwrap();
    let (name, value) = match cred {
        Cred::Bearer(t) => ("authorization", format!("Bearer {t}")),
        Cred::Key(k) => ("x-api-key", (*k).to_owned()),
    };
    req.headers_mut().insert(name, value.parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .unwrap_or_else(|e| panic!("opening {path}: {e}"));
    ws
}

/// The next JSON text frame within 10 s (`{"closed": code}` when the socket closes instead).
async fn next(ws: &mut Ws) -> Value {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str::<Value>(&t).unwrap(),
                Some(Ok(Message::Close(c))) => {
                    return json!({"closed": c.map(|c| u16::from(c.code))});
                }
                Some(Ok(_)) => continue,
                other => return json!({"closed": format!("{other:?}")}),
            }
        }
    })
    .await
    .expect("no frame within 10 s")
}

/// The servers of these tests never re-check a socket's caller on their own
/// (`ws.recheck_interval_secs` far beyond a test's length), so a socket that closes after a
/// logout, revocation, user change or shutdown was closed by the change pushed to it.
fn no_backstop(c: &mut contextbay::config::Config) {
    c.ws.recheck_interval_secs = 24 * 3600;
}

/// `/api/system/info`'s open sessions of each kind, once they are `want` (within 5 s).
async fn wait_sessions(s: &TestServer, admin: &Login, want: [(&str, u64); 3]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = s.get("/api/system/info", &admin.access).await;
        assert_eq!(info.status, StatusCode::OK, "{:?}", info.body);
        let sessions = info.body["sessions"].clone();
        if want
            .iter()
            .all(|(kind, n)| sessions["by_kind"][kind] == json!(n))
        {
            return sessions;
        }
        assert!(
            Instant::now() < deadline,
            "sessions are {sessions}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn assert_policy_close(ws: &mut Ws, what: &str) {
    let (code, reason) = closed(ws, what).await;
    assert_eq!(code, 1008, "{what}: closed with {code} {reason:?}");
    assert!(!reason.is_empty(), "{what}: no reason");
}

async fn set_user(s: &TestServer, admin: &Login, user: &Login, change: Value) {
    let r = s
        .put(
            &format!("/api/users/{}", user.user_id),
            &admin.access,
            change,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// A new API key of `owner` with `role`: (id, key).
async fn api_key(s: &TestServer, owner: &Login, role: &str) -> (String, String) {
    let r = s
        .post(
            "/api/keys",
            &owner.access,
            json!({"name": format!("k-{role}"), "role": role}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["key"].as_str().unwrap().to_owned(),
    )
}

#[actix_web::test]
async fn the_event_stream_closes_when_its_caller_loses_access() {
    let s = TestServer::start_with(no_backstop).await;
    let admin = s.setup().await;

    // Disabled.
    let viewer = s.user(&admin, "wsviewer", "viewer").await;
    let mut ws = open(&s, "/api/ws", &Cred::Bearer(&viewer.access)).await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    set_user(&s, &admin, &viewer, json!({"disabled": true})).await;
    assert_policy_close(&mut ws, "/api/ws of a disabled user").await;

    // Logged out (the session is revoked; the access token would otherwise still verify).
    let operator = s.user(&admin, "wsoperator", "operator").await;
    let mut ws = open(&s, "/api/ws", &Cred::Bearer(&operator.access)).await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    let r = s
        .call(
            Method::POST,
            "/api/auth/logout",
            Some(&operator.access),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    assert_policy_close(&mut ws, "/api/ws after logout").await;

    // API key revoked.
    let owner = s.user(&admin, "wskeys", "operator").await;
    let (id, key) = api_key(&s, &owner, "viewer").await;
    let mut ws = open(&s, "/api/ws", &Cred::Key(&key)).await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    let r = s.delete(&format!("/api/keys/{id}"), &owner.access).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    assert_policy_close(&mut ws, "/api/ws of a revoked key").await;

    // The key's owner deleted.
    let (_, key) = api_key(&s, &owner, "viewer").await;
    let mut ws = open(&s, "/api/ws", &Cred::Key(&key)).await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    let r = s
        .delete(&format!("/api/users/{}", owner.user_id), &admin.access)
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    assert_policy_close(&mut ws, "/api/ws of a deleted user's key").await;
    s.stop().await;
}

/// A demoted admin's event stream stays open, says so, and stops carrying admin-only events.
#[actix_web::test]
async fn the_event_stream_follows_a_role_change() {
    let s = TestServer::start_with(no_backstop).await;
    let admin = s.setup().await;
    let erin = s.user(&admin, "erin", "admin").await;
    let mut ws = open(
        &s,
        "/api/ws?topics=user.created,host.created",
        &Cred::Bearer(&erin.access),
    )
    .await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    s.user(&admin, "seen-by-admins", "viewer").await;
    let event = next(&mut ws).await;
    assert_eq!(event["type"], "user.created", "{event:?}");

    set_user(&s, &admin, &erin, json!({"role": "viewer"})).await;
    let role = next(&mut ws).await;
    assert_eq!(role, json!({"type": "role", "role": "viewer"}));
    // user.created is admin-only, host.created is for viewers: only the second arrives.
    s.user(&admin, "not-seen", "viewer").await;
    let r = s
        .post(
            "/api/hosts",
            &admin.access,
            json!({"name": "after-demotion"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let event = next(&mut ws).await;
    assert_eq!(event["type"], "host.created", "{event:?}");
    assert_eq!(event["payload"]["name"], "after-demotion");
    s.stop().await;
}

/// Logout, key revocation, demotion below the route's role and disabling reach an open `/api/ws`
/// at once through the session registry; `/api/system/info` counts the sessions and forgets
/// them once closed; shutdown closes with 1001.
#[actix_web::test]
async fn the_registry_pushes_changes_to_event_streams() {
    let s = TestServer::start_with(no_backstop).await;
    let admin = s.setup().await;
    let none = [("events", 0), ("logs", 0), ("exec", 0)];
    wait_sessions(&s, &admin, none).await;

    let viewer = s.user(&admin, "pushviewer", "viewer").await;
    let mut by_login = open(&s, "/api/ws", &Cred::Bearer(&viewer.access)).await;
    assert_eq!(next(&mut by_login).await["type"], "hello");
    let (key_id, key) = api_key(&s, &viewer, "viewer").await;
    let mut by_key = open(&s, "/api/ws", &Cred::Key(&key)).await;
    assert_eq!(next(&mut by_key).await["type"], "hello");
    let sessions = wait_sessions(&s, &admin, [("events", 2), ("logs", 0), ("exec", 0)]).await;
    assert_eq!(sessions["total"], 2);
    assert_eq!(sessions["users"], 1);

    // Revoking the key closes its socket only.
    let r = s
        .delete(&format!("/api/keys/{key_id}"), &viewer.access)
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    assert_policy_close(&mut by_key, "/api/ws of a revoked key").await;
    wait_sessions(&s, &admin, [("events", 1), ("logs", 0), ("exec", 0)]).await;
    // Logout closes the login's socket.
    let r = s
        .call(Method::POST, "/api/auth/logout", Some(&viewer.access), None)
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    assert_policy_close(&mut by_login, "/api/ws after logout").await;

    // A demoted admin gets the role frame at once; disabled, the socket closes at once.
    let erin = s.user(&admin, "pusherin", "admin").await;
    // Subscribed to nothing that happens here: the next frame is the role frame.
    let mut ws = open(
        &s,
        "/api/ws?topics=host.created",
        &Cred::Bearer(&erin.access),
    )
    .await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    let started = Instant::now();
    set_user(&s, &admin, &erin, json!({"role": "viewer"})).await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "role", "role": "viewer"})
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    set_user(&s, &admin, &erin, json!({"disabled": true})).await;
    assert_policy_close(&mut ws, "/api/ws of a disabled user").await;
    wait_sessions(&s, &admin, none).await;

    // A socket the client closes is forgotten.
    let mut ws = open(&s, "/api/ws", &Cred::Bearer(&admin.access)).await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    wait_sessions(&s, &admin, [("events", 1), ("logs", 0), ("exec", 0)]).await;
    ws.close(None).await.unwrap();
    wait_sessions(&s, &admin, none).await;

    // Shutdown: 1001 with a reason.
    let mut ws = open(&s, "/api/ws", &Cred::Bearer(&admin.access)).await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    let stopping = actix_web::rt::spawn(s.stop());
    let (code, reason) = closed(&mut ws, "/api/ws at shutdown").await;
    assert_eq!(code, 1001, "{reason}");
    assert!(reason.contains("shutting down"), "{reason}");
    stopping.await.unwrap();
}

/// A client that answers nothing, not even pings, is closed with 1001.
#[actix_web::test]
async fn a_silent_client_is_closed() {
    let s = TestServer::start_with(|cfg| {
        cfg.ws.ping_interval_secs = 1;
        cfg.ws.client_timeout_secs = 2;
    })
    .await;
    let admin = s.setup().await;
    let mut ws = open(&s, "/api/ws", &Cred::Bearer(&admin.access)).await;
    assert_eq!(next(&mut ws).await["type"], "hello");
    // Not reading: the client library answers pings only while it is read.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (code, reason) = closed(&mut ws, "a silent /api/ws").await;
    assert_eq!(code, 1001, "{reason}");
    assert!(reason.contains("timed out"), "{reason}");
    wait_sessions(&s, &admin, [("events", 0), ("logs", 0), ("exec", 0)]).await;
    s.stop().await;
}

/// Admins see the fleet's shared secret in the install snippet; operators and viewers see a
/// placeholder.
#[actix_web::test]
async fn only_admins_see_the_shared_secret_in_the_install_snippet() {
    let s = TestServer::start_with(no_backstop).await;
    let admin = s.setup().await;
    let secret = s.config.fleet.enroll_secret.clone();
    let created = s
        .post("/api/hosts", &admin.access, json!({"name": "snippet"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let snippet = created.body["install_snippet"].as_str().unwrap();
    assert!(snippet.contains(&secret), "{snippet}");
    let got = s.get(&format!("/api/hosts/{id}"), &admin.access).await;
    assert!(
        got.body["install_snippet"]
            .as_str()
            .unwrap()
            .contains(&secret)
    );
    for role in ["operator", "viewer"] {
        let user = s.user(&admin, &format!("snip-{role}"), role).await;
        let one = s.get(&format!("/api/hosts/{id}"), &user.access).await;
        let list = s.get("/api/hosts", &user.access).await;
        assert_eq!(one.status, StatusCode::OK);
        for body in [&one.body, &list.body] {
            let text = body.to_string();
            assert!(!text.contains(&secret), "{role} saw the secret: {text}");
            assert!(text.contains("<SHARED_SECRET>"), "{text}");
        }
        let create = s
            .post(
                "/api/hosts",
                &user.access,
                json!({"name": format!("by-{role}")}),
            )
            .await;
        assert_eq!(create.status, StatusCode::FORBIDDEN);
        assert!(!create.body.to_string().contains(&secret));
    }
    s.stop().await;
}

/// `contextbay worker --shared-secret-file FILE` (nothing secret on its command line) enrolls
/// and registers.
#[actix_web::test]
async fn a_worker_takes_the_shared_secret_from_a_file() {
    let s = TestServer::start_with(|c| c.fleet.heartbeat_interval_secs = 1).await;
    let admin = s.setup().await;
    let created = s
        .post("/api/hosts", &admin.access, json!({"name": "from-file"}))
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let token = created.body["enroll_token"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("shared-secret");
    std::fs::write(&secret_file, format!("{}\n", s.config.fleet.enroll_secret)).unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_contextbay"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CB_") {
            cmd.env_remove(key);
        }
    }
    let mut worker = cmd
        .arg("worker")
        .args(["--master-url", &s.base])
        .args(["--grpc-url", &s.grpc_url()])
        .arg(format!("--enroll-token={token}"))
        .arg("--shared-secret-file")
        .arg(&secret_file)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--heartbeat-interval", "1"])
        .args(["--docker-socket", "/nonexistent/docker.sock"])
        .env("CB_WORKER__HOSTNAME", "from-file")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = s.get(&format!("/api/nodes/{id}"), &admin.access).await;
        if r.status == StatusCode::OK && r.body["status"] == "healthy" {
            break;
        }
        assert!(
            worker.try_wait().unwrap().is_none(),
            "the worker exited: {:?}",
            worker.try_wait()
        );
        assert!(
            Instant::now() < deadline,
            "the worker did not become healthy: {:?}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let attempts = s
        .get(&format!("/api/hosts/{id}/enroll-attempts"), &admin.access)
        .await;
    assert_eq!(
        attempts.body["items"][0]["reason"], "accepted",
        "{:?}",
        attempts.body
    );
    worker.kill().await.unwrap();
    s.stop().await;
}

/// Logs and exec on the local engine: no exec before the handshake; exec audited at both ends;
/// both sockets closed when their caller is demoted below the route's role, disabled or their
/// key revoked; container env masked for viewers in inspect.
#[actix_web::test]
async fn container_sockets_close_with_their_callers_access() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("sockets");
    let s = TestServer::start_with(|cfg| {
        no_backstop(cfg);
        cfg.docker.local_endpoint = true;
    })
    .await;
    let admin = s.setup().await;
    let name = format!("{}-box", c.prefix);
    let created = s
        .post(
            "/api/containers",
            &admin.access,
            json!({
                "endpoint": "local",
                "image": IMAGE,
                "name": name,
                "command": ["sh", "-c", "echo started; sleep 600"],
                "env": {"DB_PASSWORD": "hunter2-secret"},
                "networks": [c.network],
                "labels": {"contextbay.test": "1"},
                "start": true,
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let logs_path = format!("/api/containers/{name}/logs/ws?endpoint=local");
    let exec_path =
        |cmd: &str| format!("/api/containers/{name}/exec/ws?endpoint=local&tty=false&cmd={cmd}");

    // Inspect: viewers see env names, not values; operators see both.
    let viewer = s.user(&admin, "inspect-viewer", "viewer").await;
    let operator = s.user(&admin, "inspect-operator", "operator").await;
    let env_of = |r: &super::harness::Reply| r.body["Config"]["Env"].clone();
    let seen = s
        .get(
            &format!("/api/containers/{name}/inspect?endpoint=local"),
            &viewer.access,
        )
        .await;
    assert_eq!(seen.status, StatusCode::OK, "{:?}", seen.body);
    assert!(!seen.body.to_string().contains("hunter2-secret"));
    assert!(
        env_of(&seen)
            .as_array()
            .unwrap()
            .contains(&json!("DB_PASSWORD=********")),
        "{:?}",
        env_of(&seen)
    );
    let seen = s
        .get(
            &format!("/api/containers/{name}/inspect?endpoint=local"),
            &operator.access,
        )
        .await;
    assert!(
        env_of(&seen)
            .as_array()
            .unwrap()
            .contains(&json!("DB_PASSWORD=hunter2-secret"))
    );

    // A plain GET (no upgrade) starts nothing in the container.
    let plain = s
        .get(&exec_path("touch%20/tmp/not-a-websocket"), &admin.access)
        .await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST, "{:?}", plain.body);
    // The engine lists every exec created in the container (for minutes after it ends).
    assert_eq!(
        docker(&["inspect", "-f", "{{json .ExecIDs}}", &name]).unwrap(),
        "null",
        "an exec was created without a WebSocket handshake"
    );
    assert!(docker(&["exec", &name, "test", "-e", "/tmp/not-a-websocket"]).is_err());
    assert!(s.audit(&admin, "&action=exec.").await.is_empty());

    // An exec that ends by itself: audited at open (who, container, command) and end (code).
    let mut shell = open(&s, &exec_path("/bin/sh"), &Cred::Bearer(&admin.access)).await;
    shell
        .send(Message::Text(
            json!({"type": "input", "data": "exit 3\n"})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    loop {
        let frame = next(&mut shell).await;
        if frame["type"] == "exit" {
            assert_eq!(frame["code"], 3);
            break;
        }
        assert_eq!(frame["type"], "output", "{frame:?}");
    }
    let audit = wait_audit(&s, &admin, 2).await;
    let open_entry = entry(&audit, "exec.open", "admin", "success");
    let end = entry(&audit, "exec.end", "admin", "success");
    let target = open_entry["target"].as_str().unwrap();
    assert!(
        target.contains(&name) && target.contains("cmd /bin/sh"),
        "{target}"
    );
    assert_eq!(end["action"], "exec.end");
    assert!(
        end["target"].as_str().unwrap().contains("exit code 3"),
        "{end:?}"
    );
    // An attempt that starts nothing is audited as a failed open.
    let mut req = s
        .ws_url("/api/containers/no-such-container/exec/ws?endpoint=local")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", admin.access).parse().unwrap(),
    );
    match tokio_tungstenite::connect_async(req).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 404),
        other => panic!("exec on a missing container: {:?}", other.map(|_| ())),
    }
    let audit = wait_audit(&s, &admin, 3).await;
    let refused = entry(&audit, "exec.open", "admin", "failure");
    assert_eq!(refused["status"], 404, "{refused:?}");
    assert!(
        refused["target"]
            .as_str()
            .unwrap()
            .contains("no-such-container"),
        "{refused:?}"
    );

    // Demoted below admin: exec closes, logs (viewer) stays; disabled: logs closes too.
    let alice = s.user(&admin, "alice", "admin").await;
    let mut logs = open(&s, &logs_path, &Cred::Bearer(&alice.access)).await;
    assert_eq!(next(&mut logs).await["line"], "started");
    let mut exec = open(&s, &exec_path("/bin/sh"), &Cred::Bearer(&alice.access)).await;
    set_user(&s, &admin, &alice, json!({"role": "operator"})).await;
    assert_policy_close(&mut exec, "exec of a demoted admin").await;
    let audit = wait_audit(&s, &admin, 5).await;
    let end = entry(&audit, "exec.end", "alice", "failure");
    assert!(
        end["target"]
            .as_str()
            .unwrap()
            .contains("closed by the server"),
        "{end:?}"
    );
    set_user(&s, &admin, &alice, json!({"disabled": true})).await;
    assert_policy_close(&mut logs, "logs of a disabled user").await;

    // An API key revoked: both close.
    let bob = s.user(&admin, "bob", "admin").await;
    let (id, key) = api_key(&s, &bob, "admin").await;
    let mut logs = open(&s, &logs_path, &Cred::Key(&key)).await;
    assert_eq!(next(&mut logs).await["line"], "started");
    let mut exec = open(&s, &exec_path("/bin/sh"), &Cred::Key(&key)).await;
    let r = s.delete(&format!("/api/keys/{id}"), &bob.access).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    assert_policy_close(&mut exec, "exec of a revoked key").await;
    assert_policy_close(&mut logs, "logs of a revoked key").await;
    s.stop().await;
}

/// The newest exec audit entries once there are at least `n` of them (within 10 s).
async fn wait_audit(s: &TestServer, admin: &Login, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let entries = s.audit(admin, "&action=exec.").await;
        if entries.len() >= n {
            return entries;
        }
        assert!(
            Instant::now() < deadline,
            "fewer than {n} exec audit entries: {entries:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The one entry with this action, actor and result.
fn entry<'a>(entries: &'a [Value], action: &str, actor: &str, result: &str) -> &'a Value {
    let found: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == action && e["actor"] == actor && e["result"] == result)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{action} by {actor} ({result}): {entries:?}"
    );
    found[0]
}

/// All three kinds at once, on the local engine: `/api/system/info` counts them by kind; a demotion
/// below admin closes exec at once and sends `/api/ws` its new role while logs stays; disabling
/// closes `/api/ws` and logs at once; shutdown closes every kind with 1001.
#[actix_web::test]
async fn every_session_kind_follows_the_registry() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("sessions");
    let s = TestServer::start_with(|cfg| {
        no_backstop(cfg);
        cfg.docker.local_endpoint = true;
    })
    .await;
    let admin = s.setup().await;
    let name = format!("{}-box", c.prefix);
    let created = s
        .post(
            "/api/containers",
            &admin.access,
            json!({
                "endpoint": "local",
                "image": IMAGE,
                "name": name,
                "command": ["sh", "-c", "echo started; sleep 600"],
                "networks": [c.network],
                "labels": {"contextbay.test": "1"},
                "start": true,
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let logs_path = format!("/api/containers/{name}/logs/ws?endpoint=local");
    let exec_path = format!("/api/containers/{name}/exec/ws?endpoint=local&tty=false&cmd=/bin/sh");

    let open_all = |who: String| {
        let (s, logs_path, exec_path) = (&s, &logs_path, &exec_path);
        async move {
            // Subscribed to nothing that happens here: the next frame is the role frame.
            let mut events = open(s, "/api/ws?topics=host.created", &Cred::Bearer(&who)).await;
            assert_eq!(next(&mut events).await["type"], "hello");
            let mut logs = open(s, logs_path, &Cred::Bearer(&who)).await;
            assert_eq!(next(&mut logs).await["line"], "started");
            let exec = open(s, exec_path, &Cred::Bearer(&who)).await;
            (events, logs, exec)
        }
    };

    let carol = s.user(&admin, "carol", "admin").await;
    let (mut events, mut logs, mut exec) = open_all(carol.access.clone()).await;
    let sessions = wait_sessions(&s, &admin, [("events", 1), ("logs", 1), ("exec", 1)]).await;
    assert_eq!(sessions["total"], 3);

    set_user(&s, &admin, &carol, json!({"role": "operator"})).await;
    assert_policy_close(&mut exec, "exec of a demoted admin").await;
    assert_eq!(
        next(&mut events).await,
        json!({"type": "role", "role": "operator"})
    );
    wait_sessions(&s, &admin, [("events", 1), ("logs", 1), ("exec", 0)]).await;
    set_user(&s, &admin, &carol, json!({"disabled": true})).await;
    assert_policy_close(&mut events, "/api/ws of a disabled user").await;
    assert_policy_close(&mut logs, "logs of a disabled user").await;
    wait_sessions(&s, &admin, [("events", 0), ("logs", 0), ("exec", 0)]).await;

    // Shutdown: every kind closes with 1001.
    let (mut events, mut logs, mut exec) = open_all(admin.access.clone()).await;
    wait_sessions(&s, &admin, [("events", 1), ("logs", 1), ("exec", 1)]).await;
    let stopping = actix_web::rt::spawn(s.stop());
    for (ws, what) in [
        (&mut events, "/api/ws"),
        (&mut logs, "logs"),
        (&mut exec, "exec"),
    ] {
        let (code, reason) = closed(ws, what).await;
        assert_eq!(code, 1001, "{what} at shutdown: {code} {reason:?}");
        assert!(reason.contains("shutting down"), "{what}: {reason}");
    }
    stopping.await.unwrap();
}
