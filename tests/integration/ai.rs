//! The AI module's router and chat: against a real model (llama.cpp's OpenAI-compatible server with
//! Gemma 3 270M, `support::llama`), and against doubles of Ollama and Anthropic built from their
//! documented APIs (Ollama's NDJSON `/api/chat`, `/api/tags`; Anthropic's SSE `/v1/messages`,
//! `/v1/models`, 529 overload) for routing, fallback and the budget. The model is a base model:
//! the tests assert on the plumbing, never on what it says.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::harness::{TestServer, assert_error, eventually};
use super::support::llama;

/// The events of an SSE body: (event, data).
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (event, serde_json::from_str(&data).unwrap())
        })
        .collect()
}

async fn stream_chat(s: &TestServer, token: &str, body: Value) -> (StatusCode, String, String) {
    let res = s
        .http
        .post(s.url("/api/ai/chat"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, res.text().await.unwrap())
}

#[actix_web::test]
async fn chat_streams_calls_tools_and_embeds_with_a_real_model() {
    let Some(model) = llama::server() else { return };
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "vera", "viewer").await;
    s.enable_module(
        &admin,
        "ai",
        json!({"openai_url": format!("{}/v1", model.url), "openai_model": llama::MODEL}),
    )
    .await;

    // The models the server offers, to a viewer.
    let r = s.get("/api/ai/models", &viewer.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["items"],
        json!([{"id": llama::MODEL, "provider": "openai"}])
    );

    // A whole answer.
    let r = s
        .post(
            "/api/ai/chat",
            &viewer.access,
            json!({"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["provider"], "openai");
    assert_eq!(r.body["model"], llama::MODEL);
    assert!(r.body["content"].is_string());
    assert!(r.body["usage"]["output_tokens"].as_u64().unwrap() <= 8);
    assert!(["stop", "length"].contains(&r.body["stop_reason"].as_str().unwrap()));

    // Streamed: deltas, then `done` with the provider and usage.
    let (status, ct, body) = stream_chat(
        &s,
        &viewer.access,
        json!({"messages": [{"role": "user", "content": "Count to five."}], "max_tokens": 12, "stream": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(ct.starts_with("text/event-stream"), "{ct}");
    let events = sse_events(&body);
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "done", "{body}");
    assert_eq!(done["provider"], "openai");
    assert_eq!(done["model"], llama::MODEL);
    assert!(
        done["usage"]["output_tokens"].as_u64().unwrap() >= 1,
        "{body}"
    );
    assert!(
        events[..events.len() - 1]
            .iter()
            .all(|(e, d)| e == "delta" && d["text"].is_string()),
        "{body}"
    );

    // A forced tool call comes back as a valid call.
    let tools = json!([{"name": "list_nodes", "description": "List the fleet's nodes",
        "parameters": {"type": "object", "properties": {"limit": {"type": "integer"}}}}]);
    let r = s
        .post(
            "/api/ai/chat",
            &viewer.access,
            json!({"messages": [{"role": "user", "content": "Which nodes are there?"}],
                   "tools": tools, "tool_choice": "list_nodes", "max_tokens": 64}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["tool_calls"][0]["name"], "list_nodes",
        "{:?}",
        r.body
    );
    assert!(r.body["tool_calls"][0]["arguments"].is_object());
    // … and streamed as a `tool_call` event.
    let (_, _, body) = stream_chat(
        &s,
        &viewer.access,
        json!({"messages": [{"role": "user", "content": "Which nodes?"}], "stream": true,
               "tools": tools, "tool_choice": "list_nodes", "max_tokens": 64}),
    )
    .await;
    let events = sse_events(&body);
    assert!(
        events
            .iter()
            .any(|(e, d)| e == "tool_call" && d["name"] == "list_nodes"),
        "{body}"
    );

    // Bad input: each refused naming its field.
    for (body, field) in [
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "model": "no-such-model"}),
            "model",
        ),
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "model": "ollama/x"}),
            "model",
        ),
        (json!({"messages": []}), "messages"),
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "tool_choice": "rm_rf"}),
            "tool_choice",
        ),
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "tools": [{"name": "a b", "parameters": {}}]}),
            "tools[0].name",
        ),
        (
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            "messages[0].tool_call_id",
        ),
        (
            json!({"messages": [{"role": "user", "content": "hi"}], "task_kind": "Big Task"}),
            "task_kind",
        ),
    ] {
        let r = s.post("/api/ai/chat", &viewer.access, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_eq!(r.body["field"], field, "{body}: {:?}", r.body);
    }
    let r = s
        .post(
            "/api/ai/chat",
            &viewer.access,
            json!({"messages": [{"role": "user", "content": "hi"}], "model": "no-such-model"}),
        )
        .await;
    assert!(
        r.body["error"].as_str().unwrap().contains("no-such-model"),
        "{:?}",
        r.body
    );
    // An oversized prompt.
    s.enable_module(
        &admin,
        "ai",
        json!({"openai_url": model.url, "openai_model": llama::MODEL, "max_prompt_chars": 100}),
    )
    .await;
    let r = s
        .post(
            "/api/ai/chat",
            &viewer.access,
            json!({"messages": [{"role": "user", "content": "x".repeat(101)}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["field"], "messages");
    // Without credentials: nothing.
    let r = s
        .call(
            reqwest::Method::POST,
            "/api/ai/chat",
            None,
            Some(json!({"messages": [{"role": "user", "content": "hi"}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // Status: the provider probed healthy, the router's decisions with reasons.
    let r = s.get("/api/ai/status", &viewer.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["configured"], true);
    assert_eq!(r.body["providers"][0]["provider"], "openai");
    assert_eq!(r.body["providers"][0]["healthy"], true, "{:?}", r.body);
    let r = s.get("/api/ai/router/status", &viewer.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let decisions = r.body["decisions"].as_array().unwrap();
    assert!(decisions.iter().any(|d| {
        d["provider"] == "openai"
            && d["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x.as_str().unwrap().starts_with("chose openai/"))
    }));
    let r = s.get("/api/ai/claude/status", &viewer.access).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["configured"], false);

    // Embeddings through the client: one pooled vector per input.
    let integrations = contextbay::integrations::Integrations::new().unwrap();
    let client =
        contextbay::integrations::llm::openai::OpenAi::new(&integrations, &model.url, None);
    let vectors = client
        .embed(
            llama::MODEL,
            &[
                "hello world".to_owned(),
                "a longer sentence here".to_owned(),
            ],
        )
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}: {}",
                std::fs::read_to_string(&model.log).unwrap_or_default()
            )
        });
    assert_eq!(vectors.len(), 2);
    assert_eq!(vectors[0].len(), 640);
    assert_eq!(vectors[1].len(), 640);
    assert_ne!(vectors[0], vectors[1]);
}

/// An Ollama double: `/api/tags` lists `llama3`; `/api/chat` streams NDJSON with the documented
/// final line (`done`, `prompt_eval_count`, `eval_count`), or answers `chat_status` with an error.
async fn ollama_double(chat_status: u16) -> MockServer {
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
    let chat = if chat_status == 200 {
        let lines = [
            json!({"model": "llama3", "message": {"role": "assistant", "content": "Hel"}, "done": false}),
            json!({"model": "llama3", "message": {"role": "assistant", "content": "lo"}, "done": false}),
            json!({"model": "llama3", "message": {"role": "assistant", "content": ""}, "done": true,
                   "done_reason": "stop", "prompt_eval_count": 11, "eval_count": 2}),
        ];
        let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
        ResponseTemplate::new(200).set_body_raw(body, "application/x-ndjson")
    } else {
        ResponseTemplate::new(chat_status).set_body_json(json!({"error": "model is loading"}))
    };
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(chat)
        .mount(&server)
        .await;
    server
}

const ANTHROPIC_KEY: &str = "sk-ant-test-0123456789abcdefghij";

/// The documented streamed answer of the Messages API: text, then usage.
fn anthropic_stream(input: u64, output: u64) -> String {
    let events = [
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message",
            "role": "assistant", "content": [], "model": "claude-x", "stop_reason": null,
            "usage": {"input_tokens": input, "output_tokens": 1}}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "All nodes are up."}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": output}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ];
    events
        .iter()
        .map(|(e, d)| format!("event: {e}\ndata: {d}\n\n"))
        .collect()
}

/// An Anthropic double checking the documented headers; `/v1/messages` answers `messages`.
async fn anthropic_double(messages: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("x-api-key", ANTHROPIC_KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": [{"type": "model", "id": "claude-x", "display_name": "Claude X"}], "has_more": false}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", ANTHROPIC_KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .respond_with(messages)
        .mount(&server)
        .await;
    server
}

fn sse(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

fn overloaded() -> ResponseTemplate {
    ResponseTemplate::new(529).set_body_json(
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    )
}

fn hi() -> Value {
    json!([{"role": "user", "content": "How is the fleet?"}])
}

fn reasons(decision: &Value) -> String {
    decision["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[actix_web::test]
async fn the_router_follows_rules_falls_back_on_overload_and_keeps_the_budget() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let op = s.user(&admin, "otto", "operator").await;

    // 1. Rules: tools go to Claude, which is overloaded (529): Ollama answers instead.
    let ollama = ollama_double(200).await;
    let claude = anthropic_double(overloaded()).await;
    let rules = json!([{"name": "tools-to-claude", "tools": true, "provider": "anthropic", "model": "claude-x"}]);
    s.enable_module(
        &admin,
        "ai",
        json!({"ollama_url": ollama.uri(), "ollama_model": "llama3",
               "anthropic_url": claude.uri(), "anthropic_api_key": ANTHROPIC_KEY,
               "anthropic_model": "claude-x", "routing_rules": rules.to_string(),
               "prices": json!({"claude-x": {"input": 1_000_000.0, "output": 1_000_000.0}}).to_string(),
               "daily_budget_cents": 1000}),
    )
    .await;
    let tools =
        json!([{"name": "list_nodes", "description": "", "parameters": {"type": "object"}}]);
    let r = s
        .post(
            "/api/ai/chat",
            &op.access,
            json!({"messages": hi(), "tools": tools}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["provider"], "ollama");
    assert_eq!(r.body["content"], "Hello");
    assert_eq!(
        r.body["usage"],
        json!({"input_tokens": 11, "output_tokens": 2, "estimated": false})
    );
    let status = s.get("/api/ai/router/status", &op.access).await.body;
    let why = reasons(&status["decisions"][0]);
    assert!(why.contains("rule 'tools-to-claude' matched"), "{why}");
    assert!(
        why.contains("anthropic/claude-x failed") && why.contains("529"),
        "{why}"
    );
    assert!(why.contains("chose ollama/llama3"), "{why}");
    let anthropic = status["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "anthropic")
        .unwrap()
        .clone();
    assert_eq!(anthropic["down"], true, "{status}");
    // No tools: local first, Ollama directly.
    let r = s
        .post("/api/ai/chat", &op.access, json!({"messages": hi()}))
        .await;
    assert_eq!(r.body["provider"], "ollama", "{:?}", r.body);
    let why = reasons(&s.get("/api/ai/router/status", &op.access).await.body["decisions"][0]);
    assert!(why.contains("no rule matched"), "{why}");

    // 2. Ollama out (503), Claude answers, priced at $1 a token: the first answer spends the
    // $10 budget, the second finds it spent.
    let ollama_out = ollama_double(503).await;
    let claude_ok = anthropic_double(sse(anthropic_stream(6, 5))).await;
    s.enable_module(
        &admin,
        "ai",
        json!({"ollama_url": ollama_out.uri(), "anthropic_url": claude_ok.uri(), "routing_rules": "[]"}),
    )
    .await;
    let (status, _, body) =
        stream_chat(&s, &op.access, json!({"messages": hi(), "stream": true})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let events = sse_events(&body);
    assert_eq!(
        events[0],
        ("delta".to_owned(), json!({"text": "All nodes are up."}))
    );
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "done");
    assert_eq!(done["provider"], "anthropic");
    assert_eq!(done["model"], "claude-x");
    assert_eq!(done["usage"]["input_tokens"], 6);
    assert_eq!(done["usage"]["output_tokens"], 5);
    assert_eq!(done["cost_usd"], 11.0);
    let status = s.get("/api/ai/router/status", &op.access).await.body;
    assert_eq!(status["budget"]["spent_usd"], 11.0, "{status}");
    assert_eq!(status["budget"]["limit_usd"], 10.0);
    assert_eq!(status["budget"]["exhausted"], true);
    let why = reasons(&status["decisions"][0]);
    assert!(
        why.contains("ollama/llama3 failed") && why.contains("chose anthropic/claude-x"),
        "{why}"
    );
    let r = s
        .post("/api/ai/chat", &op.access, json!({"messages": hi()}))
        .await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("budget is spent"),
        "{:?}",
        r.body
    );

    // The key is never shown.
    for p in [
        "/api/ai/status",
        "/api/ai/router/status",
        "/api/ai/claude/status",
        "/api/config/ai",
    ] {
        let r = s.get(p, &admin.access).await;
        assert_eq!(r.status, StatusCode::OK, "{p}: {:?}", r.body);
        assert!(
            !r.body.to_string().contains(ANTHROPIC_KEY),
            "{p} shows the key"
        );
    }
    let r = s.get("/api/ai/claude/status", &op.access).await;
    assert_eq!(r.body["configured"], true);
    assert_eq!(r.body["provider"]["healthy"], true, "{:?}", r.body);
    assert_eq!(r.body["provider"]["spent_today_usd"], 11.0);
}

#[actix_web::test]
async fn provider_garbage_is_a_502_with_the_reason_and_nothing_else_breaks() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let claude = anthropic_double(sse("event: message_start\ndata: {oops\n\n".to_owned())).await;
    let ollama = ollama_double(200).await;
    s.enable_module(
        &admin,
        "ai",
        json!({"anthropic_url": claude.uri(), "anthropic_api_key": ANTHROPIC_KEY,
               "ollama_url": ollama.uri(), "ollama_model": "llama3",
               "prices": json!({"claude-x": {"input": 1.0, "output": 1.0}}).to_string()}),
    )
    .await;
    let r = s
        .post(
            "/api/ai/chat",
            &admin.access,
            json!({"messages": hi(), "model": "anthropic/claude-x"}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_GATEWAY, "remote_failed");
    assert!(
        r.body["error"].as_str().unwrap().contains("not JSON"),
        "{:?}",
        r.body
    );
    // A model named by id alone is found in the provider's list.
    let r = s
        .post(
            "/api/ai/chat",
            &admin.access,
            json!({"messages": hi(), "model": "llama3"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["provider"], "ollama");
    let r = s.get("/api/ai/models", &admin.access).await;
    assert_eq!(
        r.body["items"],
        json!([{"id": "claude-x", "provider": "anthropic"}, {"id": "llama3", "provider": "ollama"}])
    );
    // Not configured at all: 503.
    let s2 = TestServer::start().await;
    let admin2 = s2.setup().await;
    s2.enable_module(&admin2, "ai", Value::Null).await;
    let r = s2
        .post("/api/ai/chat", &admin2.access, json!({"messages": hi()}))
        .await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
}

/// An OpenAI-compatible server written here at the socket level, so that it can see the client go
/// away: it streams a delta every 50 ms for up to a minute and sets `dropped` when a write fails
/// or the connection is closed.
async fn endless_double(dropped: Arc<AtomicBool>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let dropped = dropped.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut got = Vec::new();
                // The request head and its body (Content-Length).
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
async fn a_client_that_leaves_stops_the_generation() {
    let dropped = Arc::new(AtomicBool::new(false));
    let url = endless_double(dropped.clone()).await;
    let s = TestServer::start().await;
    let admin = s.setup().await;
    s.enable_module(
        &admin,
        "ai",
        json!({"openai_url": url, "openai_model": "endless"}),
    )
    .await;
    let mut res = s
        .http
        .post(s.url("/api/ai/chat"))
        .bearer_auth(&admin.access)
        .json(&json!({"messages": hi(), "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let first = res.chunk().await.unwrap().unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("event: delta"),
        "{first:?}"
    );
    assert!(!dropped.load(Ordering::SeqCst));
    drop(res);
    eventually(
        20,
        "the provider double to see its connection dropped",
        || {
            let dropped = dropped.clone();
            async move { dropped.load(Ordering::SeqCst).then_some(()) }
        },
    )
    .await;
}

#[actix_web::test]
async fn modes_are_built_in_or_custom_and_built_in_ones_cannot_change() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let op = s.user(&admin, "otto", "operator").await;
    let viewer = s.user(&admin, "vera", "viewer").await;
    s.enable_module(&admin, "ai", Value::Null).await;

    let r = s.get("/api/ai/modes", &viewer.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["total"], 3);
    let ids: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["autonomous", "supervised", "read-only"]);
    assert_eq!(r.body["items"][1]["write"], "ask");
    assert_eq!(r.body["items"][2]["write"], "refuse");

    let careful = json!({"name": "careful", "description": "asks before restarts", "read": "run",
        "write": "ask", "tools": {"restart_container": "refuse"}});
    let r = s
        .post("/api/ai/modes", &viewer.access, careful.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = s.post("/api/ai/modes", &op.access, careful.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(r.body["builtin"], false);
    assert_eq!(r.body["tools"], json!({"restart_container": "refuse"}));
    assert_eq!(r.body["updated_by"], "otto");
    let r = s.post("/api/ai/modes", &op.access, careful.clone()).await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");

    for (body, field) in [
        (
            json!({"name": "supervised", "read": "run", "write": "run"}),
            "name",
        ),
        (
            json!({"name": " \t", "read": "run", "write": "run"}),
            "name",
        ),
        (
            json!({"name": "x", "read": "run", "write": "run", "tools": {"rm -rf": "run"}}),
            "tools",
        ),
        (
            json!({"name": "x", "read": "run", "write": "maybe"}),
            "write",
        ),
    ] {
        let r = s.post("/api/ai/modes", &op.access, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_eq!(r.body["field"], field, "{body}: {:?}", r.body);
    }

    let plain = json!({"name": "plain", "read": "run", "write": "run"});
    for builtin in ["autonomous", "supervised", "read-only"] {
        let r = s
            .put(
                &format!("/api/ai/modes/{builtin}"),
                &op.access,
                plain.clone(),
            )
            .await;
        assert_error(&r, StatusCode::CONFLICT, "conflict");
        let r = s
            .delete(&format!("/api/ai/modes/{builtin}"), &op.access)
            .await;
        assert_error(&r, StatusCode::CONFLICT, "conflict");
    }
    let r = s
        .put(
            &format!("/api/ai/modes/{}", uuid::Uuid::new_v4()),
            &op.access,
            plain.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = s.delete("/api/ai/modes/not-a-mode", &op.access).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["field"], "id");

    let r = s
        .put(
            &format!("/api/ai/modes/{id}"),
            &op.access,
            json!({"name": "careful-2", "read": "ask", "write": "refuse"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["name"], "careful-2");
    assert_eq!(r.body["read"], "ask");
    assert_eq!(r.body["tools"], json!({}));
    let r = s
        .get("/api/ai/modes?limit=1&offset=3", &viewer.access)
        .await;
    assert_eq!(r.body["total"], 4);
    assert_eq!(r.body["items"][0]["id"], id.as_str());
    let r = s.delete(&format!("/api/ai/modes/{id}"), &op.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["name"], "careful-2");
    let r = s.delete(&format!("/api/ai/modes/{id}"), &op.access).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        s.get("/api/ai/modes", &viewer.access).await.body["total"],
        3
    );
}
