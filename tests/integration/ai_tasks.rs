//! AI tasks (`/api/ai/tasks`, `/api/ai/conversations`): supervised actors driving ContextBay's
//! tools, against an Ollama double scripted per turn (the turn is the number of assistant
//! messages the request carries, so the supervision paths run deterministically), an Anthropic
//! double for the fallback, an OpenAI-compatible server that streams forever for cancellation,
//! the real Docker engine for an approved restart, and llama.cpp for the plumbing with a real
//! model.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::harness::{Login, TestServer, assert_error, eventually};
use super::support::docker::{Cleanup, IMAGE, docker, engine_available, ensure_image};
use super::support::llama;
use super::support::ws::{subscribe, wait_event};

/// What the model does in one turn.
#[derive(Clone)]
enum Turn {
    Say(&'static str),
    Call(&'static str, Value),
}

/// Answers `/api/chat` with `script[n]`, n being the assistant messages in the request (the
/// turns already taken); past the script, it says "Done.". Each turn uses 10 + 5 tokens.
struct Script(Vec<Turn>);

impl Respond for Script {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let turn = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "assistant")
            .count();
        let message = match self.0.get(turn).cloned().unwrap_or(Turn::Say("Done.")) {
            Turn::Say(text) => json!({"role": "assistant", "content": text}),
            Turn::Call(name, args) => json!({"role": "assistant", "content": "",
                "tool_calls": [{"function": {"name": name, "arguments": args}}]}),
        };
        let lines = [
            json!({"model": "llama3", "message": message, "done": false}),
            json!({"model": "llama3", "message": {"role": "assistant", "content": ""}, "done": true,
                   "done_reason": "stop", "prompt_eval_count": 10, "eval_count": 5}),
        ];
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        ResponseTemplate::new(200).set_body_raw(body, "application/x-ndjson")
    }
}

async fn ollama(chat: impl Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"models": [{"name": "llama3", "model": "llama3", "size": 1}]}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(chat)
        .mount(&server)
        .await;
    server
}

/// The `/api/chat` requests the double received, as JSON.
async fn chats(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/api/chat")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// The tool messages of a chat request, joined.
fn tool_messages(request: &Value) -> String {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn with_ai(s: &TestServer, admin: &Login, url: &str, extra: Value) {
    let mut settings = json!({"ollama_url": url, "ollama_model": "llama3"});
    for (k, v) in extra.as_object().unwrap() {
        settings[k] = v.clone();
    }
    s.enable_module(admin, "ai", settings).await;
}

async fn create(s: &TestServer, who: &Login, body: Value) -> String {
    let r = s.post("/api/ai/tasks", &who.access, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Waits until the task is in `status`; returns it with its transcript.
async fn until(s: &TestServer, who: &Login, id: &str, status: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = s.get(&format!("/api/ai/tasks/{id}"), &who.access).await;
        if r.body["status"] == status {
            return r.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "task {id} is not {status}: {:#}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn steps<'a>(task: &'a Value, kind: &str) -> Vec<&'a Value> {
    task["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == kind)
        .collect()
}

fn started_at(name: &str) -> String {
    docker(&["inspect", "-f", "{{.State.StartedAt}}", name]).unwrap()
}

#[actix_web::test]
async fn a_supervised_task_reads_then_waits_and_an_approved_restart_really_happens() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("aitask");
    let name = format!("{}-web", c.prefix);
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        &c.network,
        "--label",
        "contextbay.test=1",
        IMAGE,
        "sleep",
        "600",
    ])
    .unwrap();
    let before = started_at(&name);
    let double = ollama(Script(vec![
        Turn::Call("list_containers", json!({"endpoint": "local"})),
        Turn::Call(
            "restart_container",
            json!({"endpoint": "local", "container": name}),
        ),
        Turn::Say("Restarted it."),
    ]))
    .await;
    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    let op = s.user(&admin, "otto", "operator").await;
    let other = s.user(&admin, "olga", "operator").await;
    let viewer = s.user(&admin, "vera", "viewer").await;
    with_ai(&s, &admin, &double.uri(), json!({})).await;
    let mut ws = subscribe(&s, &viewer.access, "ai.task.*").await;

    let id = create(
        &s,
        &op,
        json!({"prompt": "Restart the web container.", "mode": "supervised"}),
    )
    .await;
    let (event, _) = wait_event(&mut ws, 20, "ai.task.awaiting_approval", |p| {
        p["id"] == id.as_str()
    })
    .await
    .unwrap();
    assert_eq!(event["payload"]["tool"], "restart_container");
    assert_eq!(event["payload"]["effect"], "write");
    assert_eq!(
        event["payload"]["arguments"],
        json!({"endpoint": "local", "container": name})
    );
    let task = until(&s, &op, &id, "awaiting_approval").await;
    // The read ran at once, as the creator; its result is in the transcript.
    let results = steps(&task, "tool_result");
    assert_eq!(results.len(), 1, "{task:#}");
    assert_eq!(results[0]["payload"]["name"], "list_containers");
    assert!(
        results[0]["payload"]["result"].to_string().contains(&name),
        "{task:#}"
    );
    assert_eq!(
        started_at(&name),
        before,
        "nothing restarted before the approval"
    );
    // A viewer sees the task but not the write's arguments; it may not answer.
    let seen = s.get(&format!("/api/ai/tasks/{id}"), &viewer.access).await;
    let request = steps(&seen.body, "approval_request");
    assert!(
        request[0]["payload"]["hidden"].is_string(),
        "{:#}",
        seen.body
    );
    assert!(request[0]["payload"].get("arguments").is_none());
    let r = s
        .post(
            &format!("/api/ai/tasks/{id}/confirm"),
            &viewer.access,
            json!({"approve": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Another operator approves: who did is kept.
    let r = s
        .post(
            &format!("/api/ai/tasks/{id}/confirm"),
            &other.access,
            json!({"approve": true, "reason": "ok"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let task = until(&s, &op, &id, "succeeded").await;
    assert_eq!(task["result"], "Restarted it.");
    assert_ne!(
        started_at(&name),
        before,
        "the container restarted on the engine"
    );
    let approval = steps(&task, "approval");
    assert_eq!(approval[0]["payload"]["by"], "olga");
    let results = steps(&task, "tool_result");
    assert_eq!(results[1]["payload"]["ok"], true, "{task:#}");
    assert_eq!(task["usage"]["turns"], 3);
    assert_eq!(task["usage"]["input_tokens"], 30);
    assert_eq!(task["provider_used"], "ollama");
    // The restart's result reached the model in the last turn.
    let sent = chats(&double).await;
    assert!(
        tool_messages(sent.last().unwrap()).contains("restarted"),
        "{sent:#?}"
    );
    // Confirming again: it is not waiting.
    let r = s
        .post(
            &format!("/api/ai/tasks/{id}/confirm"),
            &other.access,
            json!({"approve": true}),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    s.stop().await;
}

#[actix_web::test]
async fn a_rejection_is_fed_back_and_the_rules_on_other_users_tasks_hold() {
    let double = ollama(Script(vec![
        Turn::Call(
            "restart_container",
            json!({"endpoint": "local", "container": "db"}),
        ),
        Turn::Say("Understood, not restarting."),
    ]))
    .await;
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let op = s.user(&admin, "otto", "operator").await;
    let other = s.user(&admin, "olga", "operator").await;
    let viewer = s.user(&admin, "vera", "viewer").await;
    with_ai(&s, &admin, &double.uri(), json!({})).await;
    // A viewer cannot create a task (the route is for operators).
    let r = s
        .post("/api/ai/tasks", &viewer.access, json!({"prompt": "hi"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let conv = s
        .post("/api/ai/conversations", &op.access, json!({"title": "db"}))
        .await;
    assert_eq!(conv.status, StatusCode::CREATED, "{:?}", conv.body);
    let conv = conv.body["id"].as_str().unwrap().to_owned();
    let id = create(
        &s,
        &op,
        json!({"prompt": "Restart db.", "conversation_id": conv}),
    )
    .await;
    until(&s, &op, &id, "awaiting_approval").await;
    let r = s
        .post(
            &format!("/api/ai/tasks/{id}/confirm"),
            &other.access,
            json!({"approve": false, "reason": "not during business hours"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let task = until(&s, &op, &id, "succeeded").await;
    let rejection = steps(&task, "rejection");
    assert_eq!(rejection[0]["payload"]["by"], "olga");
    let result = steps(&task, "tool_result");
    assert_eq!(result[0]["payload"]["refused"], true);
    let sent = chats(&double).await;
    assert_eq!(sent.len(), 2);
    let fed = tool_messages(&sent[1]);
    assert!(
        fed.contains("rejected by olga: not during business hours"),
        "{fed}"
    );

    // The conversation lists it; a second task there sees the first in its system prompt.
    let listed = s
        .get(
            &format!("/api/ai/conversations/{conv}/tasks"),
            &viewer.access,
        )
        .await;
    assert_eq!(listed.body["total"], 1, "{:?}", listed.body);
    let r = s
        .get(
            &format!("/api/ai/tasks?conversation={conv}&status=succeeded"),
            &viewer.access,
        )
        .await;
    assert_eq!(r.body["items"][0]["id"], id.as_str());
    let unknown = s
        .get(
            &format!("/api/ai/conversations/{}/tasks", uuid::Uuid::new_v4()),
            &op.access,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Others' tasks: another operator may not retry or delete it; an admin may delete it.
    let r = s
        .delete(&format!("/api/ai/tasks/{id}"), &other.access)
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .post(&format!("/api/ai/tasks/{id}/retry"), &op.access, json!({}))
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let r = s
        .post(
            &format!("/api/ai/tasks/{id}/cancel"),
            &other.access,
            json!({}),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let r = s
        .delete(&format!("/api/ai/tasks/{id}"), &admin.access)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = s.get(&format!("/api/ai/tasks/{id}"), &op.access).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    s.stop().await;
}

#[actix_web::test]
async fn a_demoted_creator_s_call_is_refused_fed_back_and_never_run() {
    let double = ollama(Script(vec![Turn::Call(
        "restart_container",
        json!({"endpoint": "local", "container": "db"}),
    )]))
    .await;
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let op = s.user(&admin, "otto", "operator").await;
    with_ai(&s, &admin, &double.uri(), json!({})).await;
    let id = create(&s, &op, json!({"prompt": "Restart db."})).await;
    until(&s, &op, &id, "awaiting_approval").await;
    // The creator becomes a viewer while the call waits; an admin approves it anyway.
    let r = s
        .put(
            &format!("/api/users/{}", op.user_id),
            &admin.access,
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = s
        .post(
            &format!("/api/ai/tasks/{id}/confirm"),
            &admin.access,
            json!({"approve": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let task = until(&s, &admin, &id, "succeeded").await;
    let result = steps(&task, "tool_result");
    assert_eq!(result[0]["payload"]["refused"], true, "{task:#}");
    assert!(
        result[0]["payload"]["error"]
            .as_str()
            .unwrap()
            .contains("needs the operator role"),
        "{task:#}"
    );
    let sent = chats(&double).await;
    assert!(tool_messages(&sent[1]).contains("needs the operator role"));
    // A mode that refuses writes refuses without asking: a fresh operator in read-only mode.
    let op2 = s.user(&admin, "olga", "operator").await;
    let id = create(
        &s,
        &op2,
        json!({"prompt": "Restart db.", "mode": "read-only"}),
    )
    .await;
    let task = until(&s, &op2, &id, "succeeded").await;
    assert!(steps(&task, "approval_request").is_empty());
    let result = steps(&task, "tool_result");
    assert!(
        result[0]["payload"]["error"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{task:#}"
    );
    s.stop().await;
}

#[actix_web::test]
async fn bad_requests_limits_and_budgets() {
    let double = ollama(Script(vec![
        Turn::Call("list_endpoints", json!({})),
        Turn::Call("list_endpoints", json!({})),
        Turn::Call("list_endpoints", json!({})),
        Turn::Call("list_endpoints", json!({})),
    ]))
    .await;
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let op = s.user(&admin, "otto", "operator").await;
    with_ai(
        &s,
        &admin,
        &double.uri(),
        json!({"max_prompt_chars": 100, "task_max_steps": 10,
               "prices": json!({"llama3": {"input": 1000.0, "output": 1000.0}}).to_string()}),
    )
    .await;
    let bad = [
        (json!({"prompt": "x", "mode": "reckless"}), "mode"),
        (json!({"prompt": "x", "model": "ollama/gpt-9"}), "model"),
        (json!({"prompt": "x".repeat(101)}), "prompt"),
        (json!({"prompt": "   "}), "prompt"),
        (
            json!({"prompt": "x", "limits": {"max_steps": 0}}),
            "limits.max_steps",
        ),
        (
            json!({"prompt": "x", "limits": {"max_steps": 11}}),
            "limits.max_steps",
        ),
        (
            json!({"prompt": "x", "limits": {"max_cost_usd": 5.0}}),
            "limits.max_cost_usd",
        ),
        (
            json!({"prompt": "x", "conversation_id": uuid::Uuid::new_v4()}),
            "conversation_id",
        ),
    ];
    for (body, field) in bad {
        let r = s.post("/api/ai/tasks", &op.access, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} {:?}", r.body);
        assert_eq!(r.body["field"], field, "{body} {:?}", r.body);
    }
    let r = s
        .post(
            "/api/ai/tasks",
            &op.access,
            json!({"prompt": "x", "model": "gpt-9"}),
        )
        .await;
    assert!(
        r.body["error"].as_str().unwrap().contains("gpt-9"),
        "{:?}",
        r.body
    );

    // Steps: two turns allowed, the model keeps calling tools.
    let id = create(
        &s,
        &op,
        json!({"prompt": "Loop.", "mode": "autonomous", "limits": {"max_steps": 2}}),
    )
    .await;
    let task = until(&s, &op, &id, "failed").await;
    assert!(
        task["error"].as_str().unwrap().contains("limits.max_steps"),
        "{task:#}"
    );
    assert_eq!(task["usage"]["turns"], 2);
    assert_eq!(steps(&task, "error").len(), 1);
    // Cost: 15 tokens at $1000 per million is $0.015 a turn; the limit is one cent.
    let id = create(
        &s,
        &op,
        json!({"prompt": "Loop.", "mode": "autonomous", "limits": {"max_cost_usd": 0.01}}),
    )
    .await;
    let task = until(&s, &op, &id, "failed").await;
    assert!(
        task["error"]
            .as_str()
            .unwrap()
            .contains("limits.max_cost_usd"),
        "{task:#}"
    );
    assert_eq!(task["usage"]["turns"], 1);
    assert_eq!(task["usage"]["cost_usd"], 0.015);
    // Tokens.
    let id = create(
        &s,
        &op,
        json!({"prompt": "Loop.", "mode": "autonomous", "limits": {"max_tokens": 20}}),
    )
    .await;
    let task = until(&s, &op, &id, "failed").await;
    assert!(
        task["error"]
            .as_str()
            .unwrap()
            .contains("limits.max_tokens"),
        "{task:#}"
    );
    // Retrying a failed task is a new task naming the old one.
    let r = s
        .post(&format!("/api/ai/tasks/{id}/retry"), &op.access, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["retry_of"], id.as_str());
    assert_eq!(r.body["limits"]["max_tokens"], 20);
    s.stop().await;
}

const ANTHROPIC_KEY: &str = "sk-ant-test-0123456789abcdefghij";

fn anthropic_answer() -> String {
    let events = [
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
            "role": "assistant", "content": [], "model": "claude-x", "stop_reason": null,
            "usage": {"input_tokens": 7, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "All good."}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    events
        .iter()
        .map(|(e, d)| format!("event: {e}\ndata: {d}\n\n"))
        .collect()
}

#[actix_web::test]
async fn an_outage_falls_back_and_garbage_fails_the_task_with_the_reason() {
    let down =
        ollama(ResponseTemplate::new(503).set_body_json(json!({"error": "overloaded"}))).await;
    let claude = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": [{"type": "model", "id": "claude-x", "display_name": "Claude X"}], "has_more": false}),
        ))
        .mount(&claude)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(anthropic_answer(), "text/event-stream"),
        )
        .mount(&claude)
        .await;
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let op = s.user(&admin, "otto", "operator").await;
    with_ai(
        &s,
        &admin,
        &down.uri(),
        json!({"anthropic_url": claude.uri(), "anthropic_api_key": ANTHROPIC_KEY,
               "anthropic_model": "claude-x",
               "prices": json!({"claude-x": {"input": 1.0, "output": 1.0}}).to_string()}),
    )
    .await;
    let id = create(&s, &op, json!({"prompt": "How is the fleet?"})).await;
    let task = until(&s, &op, &id, "succeeded").await;
    assert_eq!(task["provider_used"], "anthropic");
    assert_eq!(task["result"], "All good.");
    assert!(!chats(&down).await.is_empty(), "Ollama was tried first");

    // A provider answering garbage: the task fails with the reason, the API carries on.
    let garbage = ollama(
        ResponseTemplate::new(200).set_body_raw("this is not JSON\n", "application/x-ndjson"),
    )
    .await;
    with_ai(&s, &admin, &garbage.uri(), json!({})).await;
    let id = create(&s, &op, json!({"prompt": "How is the fleet?"})).await;
    let task = until(&s, &op, &id, "failed").await;
    assert!(
        task["error"].as_str().unwrap().contains("ollama"),
        "{task:#}"
    );
    let r = s.get("/api/ai/tasks?status=failed", &op.access).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["total"], 1, "{:?}", r.body);
    s.stop().await;
}

/// An OpenAI-compatible server that streams a delta every 50 ms for up to a minute; sets
/// `streaming` once it answers and `dropped` when its client goes away.
async fn endless_double(streaming: Arc<AtomicBool>, dropped: Arc<AtomicBool>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let dropped = dropped.clone();
            let streaming = streaming.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                loop {
                    let n = sock.read(&mut buf).await.unwrap();
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                    if n == 0 {
                        return;
                    }
                }
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    dropped.store(true, Ordering::SeqCst);
                    return;
                }
                streaming.store(true, Ordering::SeqCst);
                for _ in 0..1200 {
                    let event = format!(
                        "data: {}\n\n",
                        json!({"choices": [{"index": 0, "delta": {"content": "tick "}, "finish_reason": null}]})
                    );
                    let chunk = format!("{:x}\r\n{event}\r\n", event.len());
                    let (mut rd, mut wr) = sock.split();
                    let mut probe = [0u8; 1];
                    tokio::select! {
                        r = wr.write_all(chunk.as_bytes()) => if r.is_err() {
                            dropped.store(true, Ordering::SeqCst);
                            return;
                        },
                        r = rd.read(&mut probe) => if matches!(r, Ok(0) | Err(_)) {
                            dropped.store(true, Ordering::SeqCst);
                            return;
                        },
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

#[actix_web::test]
async fn cancelling_a_task_mid_stream_stops_the_model() {
    let dropped = Arc::new(AtomicBool::new(false));
    let streaming = Arc::new(AtomicBool::new(false));
    let url = endless_double(streaming.clone(), dropped.clone()).await;
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let op = s.user(&admin, "otto", "operator").await;
    let other = s.user(&admin, "olga", "operator").await;
    s.enable_module(
        &admin,
        "ai",
        json!({"openai_url": url, "openai_model": "endless"}),
    )
    .await;
    let id = create(&s, &op, json!({"prompt": "Talk forever."})).await;
    until(&s, &op, &id, "running").await;
    eventually(20, "the model to stream", || {
        let streaming = streaming.clone();
        async move { streaming.load(Ordering::SeqCst).then_some(()) }
    })
    .await;
    // Any operator may stop any task.
    let r = s
        .post(
            &format!("/api/ai/tasks/{id}/cancel"),
            &other.access,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "cancelled", "{:?}", r.body);
    assert!(r.body["error"].as_str().unwrap().contains("olga"));
    eventually(20, "the provider to see its connection dropped", || {
        let dropped = dropped.clone();
        async move { dropped.load(Ordering::SeqCst).then_some(()) }
    })
    .await;
    let r = s
        .post(&format!("/api/ai/tasks/{id}/cancel"), &op.access, json!({}))
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let r = s
        .post(
            &format!("/api/ai/tasks/{id}/confirm"),
            &op.access,
            json!({"approve": true}),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    s.stop().await;
}

#[actix_web::test]
async fn a_master_restart_interrupts_live_tasks_and_retry_runs_them_again() {
    let double = ollama(Script(vec![
        Turn::Call(
            "restart_container",
            json!({"endpoint": "local", "container": "db"}),
        ),
        Turn::Say("Left it alone."),
    ]))
    .await;
    let mut s = TestServer::start().await;
    let admin = s.setup().await;
    let op = s.user(&admin, "otto", "operator").await;
    with_ai(&s, &admin, &double.uri(), json!({})).await;
    let id = create(&s, &op, json!({"prompt": "Restart db."})).await;
    until(&s, &op, &id, "awaiting_approval").await;

    s.server.take().unwrap().stop().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let again = contextbay::start_on(s.config.clone(), listener)
        .await
        .unwrap();
    s.base = format!("http://{}", again.http_addr);
    s.server = Some(again);
    s.http = reqwest::Client::new();

    let task = until(&s, &op, &id, "interrupted").await;
    assert!(
        task["error"].as_str().unwrap().contains("restarted"),
        "{task:#}"
    );
    // The transcript survived.
    assert_eq!(steps(&task, "approval_request").len(), 1, "{task:#}");
    let r = s
        .post(
            &format!("/api/ai/tasks/{id}/confirm"),
            &op.access,
            json!({"approve": true}),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let r = s
        .post(&format!("/api/ai/tasks/{id}/retry"), &op.access, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let new = r.body["id"].as_str().unwrap().to_owned();
    until(&s, &op, &new, "awaiting_approval").await;
    let r = s
        .post(
            &format!("/api/ai/tasks/{new}/confirm"),
            &op.access,
            json!({"approve": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let task = until(&s, &op, &new, "succeeded").await;
    assert_eq!(task["result"], "Left it alone.");
    // Deleting a live task cancels it first.
    let id = create(&s, &op, json!({"prompt": "Restart db."})).await;
    until(&s, &op, &id, "awaiting_approval").await;
    let r = s.delete(&format!("/api/ai/tasks/{id}"), &op.access).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let r = s.get(&format!("/api/ai/tasks/{id}"), &op.access).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    s.stop().await;
}

#[actix_web::test]
async fn a_task_runs_against_a_real_model() {
    let Some(model) = llama::server() else { return };
    let s = TestServer::start().await;
    let admin = s.setup().await;
    s.enable_module(
        &admin,
        "ai",
        json!({"openai_url": format!("{}/v1", model.url), "openai_model": llama::MODEL}),
    )
    .await;
    let id = create(
        &s,
        &admin,
        json!({"prompt": "List the endpoints.", "mode": "read-only", "limits": {"max_steps": 2, "max_tokens": 300}}),
    )
    .await;
    // A base model: whatever it says, the task ends, its turns are in the transcript with usage.
    let task = eventually(120, "the task to end", || async {
        let r = s.get(&format!("/api/ai/tasks/{id}"), &admin.access).await;
        (r.body["status"] == "succeeded" || r.body["status"] == "failed").then_some(r.body)
    })
    .await;
    assert_eq!(task["provider_used"], "openai", "{task:#}");
    assert_eq!(task["model_used"], llama::MODEL);
    let turns = steps(&task, "model_turn");
    assert!(!turns.is_empty(), "{task:#}");
    assert!(turns[0]["output_tokens"].as_i64().unwrap() >= 1, "{task:#}");
    assert!(
        task["usage"]["output_tokens"].as_i64().unwrap() >= 1,
        "{task:#}"
    );
    s.stop().await;
}

/// Says "First answer." unless the prompt asks for a restart, which it then proposes.
struct SessionScript;

impl Respond for SessionScript {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let restart = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["role"] == "user" && m["content"] == "Restart db.");
        if restart {
            Script(vec![Turn::Call(
                "restart_container",
                json!({"endpoint": "local", "container": "db"}),
            )])
            .respond(req)
        } else {
            Script(vec![Turn::Say("First answer.")]).respond(req)
        }
    }
}

#[actix_web::test]
async fn sessions_keep_their_turns_with_usage_and_ending_one_stops_its_work() {
    let double = ollama(SessionScript).await;
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let op = s.user(&admin, "otto", "operator").await;
    let other = s.user(&admin, "olga", "operator").await;
    let viewer = s.user(&admin, "vera", "viewer").await;
    with_ai(&s, &admin, &double.uri(), json!({})).await;
    let bad = s
        .post(
            "/api/ai/sessions",
            &op.access,
            json!({"title": "x", "tags": ["no spaces"]}),
        )
        .await;
    assert_eq!(bad.body["field"], "tags[0]", "{:?}", bad.body);
    let bad = s
        .post(
            "/api/ai/sessions",
            &op.access,
            json!({"title": "x", "mode": "wild"}),
        )
        .await;
    assert_eq!(bad.body["field"], "mode", "{:?}", bad.body);
    let r = s
        .post(
            "/api/ai/sessions",
            &op.access,
            json!({"title": "Night shift", "tags": ["ops"], "mode": "autonomous"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let sid = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["status"], "active");

    // Two turns: the second sees the first in its context.
    let first = create(
        &s,
        &op,
        json!({"prompt": "Check the fleet.", "session_id": sid}),
    )
    .await;
    let task = until(&s, &op, &first, "succeeded").await;
    assert_eq!(
        task["mode"], "autonomous",
        "the session's mode is the default"
    );
    let second = create(&s, &op, json!({"prompt": "And now?", "session_id": sid})).await;
    until(&s, &op, &second, "succeeded").await;
    let sent = chats(&double).await;
    let system = sent.last().unwrap()["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        system.contains("Check the fleet.") && system.contains("First answer."),
        "{system}"
    );

    let d = s
        .get(&format!("/api/ai/sessions/{sid}"), &viewer.access)
        .await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    assert_eq!(d.body["turns"].as_array().unwrap().len(), 2);
    assert_eq!(d.body["turns"][0]["usage"]["input_tokens"], 10);
    assert!(d.body["turns"][0]["steps"].as_array().is_some());
    assert_eq!(d.body["session"]["usage"]["turns"], 2);
    assert_eq!(d.body["session"]["usage"]["output_tokens"], 10);

    // Title, pin and tags: its creator may, another operator may not.
    let r = s
        .put(
            &format!("/api/ai/sessions/{sid}"),
            &other.access,
            json!({"pinned": true}),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .put(
            &format!("/api/ai/sessions/{sid}"),
            &op.access,
            json!({"title": "Day shift", "pinned": true, "tags": ["ops", "day"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["tags"], json!(["ops", "day"]));
    let other_session = s
        .post("/api/ai/sessions", &other.access, json!({"title": "Later"}))
        .await;
    assert_eq!(other_session.status, StatusCode::CREATED);
    let listed = s.get("/api/ai/sessions", &viewer.access).await;
    assert_eq!(listed.body["total"], 2);
    assert_eq!(listed.body["items"][0]["id"], sid.as_str(), "pinned first");
    assert_eq!(listed.body["items"][0]["title"], "Day shift");

    // A turn waiting for approval; ending the session cancels it.
    let waiting = create(
        &s,
        &op,
        json!({"prompt": "Restart db.", "session_id": sid, "mode": "supervised"}),
    )
    .await;
    until(&s, &op, &waiting, "awaiting_approval").await;
    let r = s
        .delete(&format!("/api/ai/sessions/{sid}"), &other.access)
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .delete(&format!("/api/ai/sessions/{sid}"), &op.access)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "ended");
    until(&s, &op, &waiting, "cancelled").await;
    let r = s
        .delete(&format!("/api/ai/sessions/{sid}"), &op.access)
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let r = s
        .post(
            "/api/ai/tasks",
            &op.access,
            json!({"prompt": "More?", "session_id": sid}),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let r = s
        .post(
            "/api/ai/tasks",
            &op.access,
            json!({"prompt": "More?", "session_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(r.body["field"], "session_id", "{:?}", r.body);
    s.stop().await;
}

#[actix_web::test]
async fn running_a_skill_creates_a_task_seeded_with_its_instructions_and_input() {
    let double = ollama(Script(vec![Turn::Call(
        "list_containers",
        json!({"endpoint": "local"}),
    )]))
    .await;
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let op = s.user(&admin, "otto", "operator").await;
    let viewer = s.user(&admin, "vera", "viewer").await;
    with_ai(&s, &admin, &double.uri(), json!({})).await;
    let skill = s.get("/api/ai/skills/diagnose-container", &op.access).await;
    assert_eq!(skill.status, StatusCode::OK, "{:?}", skill.body);

    let r = s
        .post(
            "/api/ai/skills/diagnose-container/run",
            &op.access,
            json!({"input": "the container web-7f3a restarts every hour", "mode": "read-only"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["mode"], "read-only", "{:?}", r.body);
    assert_eq!(r.body["creator"]["username"], "otto", "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let task = until(&s, &op, &id, "succeeded").await;
    assert_eq!(steps(&task, "tool_result").len(), 1, "{task:#}");
    // The model was given the skill's instructions, then the input.
    let sent = chats(&double).await;
    let first = serde_json::to_string(&sent[0]["messages"]).unwrap();
    assert!(first.contains("web-7f3a restarts every hour"), "{first}");
    let prompt = task["prompt"].as_str().unwrap();
    assert!(
        prompt.len() > "the container web-7f3a restarts every hour".len() + 40,
        "the skill's instructions are missing: {prompt}"
    );

    // Bad input names the problem; an unknown skill is a 404; viewers may not run skills.
    let r = s
        .post(
            "/api/ai/skills/diagnose-container/run",
            &op.access,
            json!({"mode": "no-such-mode"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["field"], "mode", "{:?}", r.body);
    let r = s
        .post(
            "/api/ai/skills/diagnose-container/run",
            &op.access,
            json!({"input": "x".repeat(100_001)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["field"], "input", "{:?}", r.body);
    let r = s
        .post("/api/ai/skills/no-such-skill/run", &op.access, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = s
        .post(
            "/api/ai/skills/diagnose-container/run",
            &viewer.access,
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    s.stop().await;
}
