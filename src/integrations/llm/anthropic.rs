//! Anthropic's Messages API: `POST /v1/messages` (SSE streaming, tool use, usage) and
//! `GET /v1/models`. 429 (rate limit) and 529 (overloaded) come back as
//! [`IntegrationError::Remote`] with that status, which the router treats as overload.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use serde_json::{Value, json};

use super::wire::{Framing, Parser, Record};
use super::{ChatEvent, ChatRequest, ChatStream, Role, ToolCall, ToolChoice, Usage};
use crate::integrations::{Endpoint, Health, IntegrationError, Integrations};

pub const SERVICE: &str = "anthropic";
pub const DEFAULT_URL: &str = "https://api.anthropic.com";
const VERSION: &str = "2023-06-01";

#[derive(Clone)]
pub struct Anthropic {
    endpoint: Endpoint,
    api_key: String,
}

impl Anthropic {
    pub fn new(integrations: &Integrations, base: &str, api_key: &str) -> Self {
        Self {
            endpoint: Endpoint::new(integrations, SERVICE, base, None),
            api_key: api_key.to_owned(),
        }
    }

    fn headers(&self, r: RequestBuilder) -> RequestBuilder {
        r.header("x-api-key", &self.api_key)
            .header("anthropic-version", VERSION)
    }

    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatStream, IntegrationError> {
        let body = request_body(req);
        super::open_chat::<StreamParser>(
            &self.endpoint,
            SERVICE,
            "/v1/messages",
            Framing::Sse,
            |r| self.headers(r).json(&body),
        )
        .await
    }

    pub async fn models(&self) -> Result<Vec<String>, IntegrationError> {
        #[derive(Deserialize)]
        struct List {
            #[serde(default)]
            data: Vec<Item>,
        }
        #[derive(Deserialize)]
        struct Item {
            id: String,
        }
        let res = self
            .endpoint
            .send(
                Method::GET,
                "/v1/models?limit=1000",
                crate::integrations::DEFAULT_TIMEOUT,
                |r| self.headers(r),
            )
            .await?;
        let list: List = self.endpoint.json(res).await?;
        Ok(list.data.into_iter().map(|m| m.id).collect())
    }

    pub async fn health(&self) -> Health {
        let started = Instant::now();
        let result = self
            .endpoint
            .send(
                Method::GET,
                "/v1/models?limit=1",
                Duration::from_secs(3),
                |r| self.headers(r),
            )
            .await;
        let detail = match result {
            Ok(res) => self.endpoint.check(res).await.err().map(|e| e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        Health {
            service: SERVICE,
            healthy: detail.is_none(),
            detail,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

fn bad(detail: impl Into<String>) -> IntegrationError {
    IntegrationError::BadAnswer {
        service: SERVICE,
        detail: detail.into(),
    }
}

fn request_body(req: &ChatRequest) -> Value {
    let system: Vec<&str> = req
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| m.content.as_str())
        .collect();
    // Consecutive messages of one side are one message: tool results go back as the user's.
    let mut messages: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in req.messages.iter().filter(|m| m.role != Role::System) {
        let (role, blocks) = match m.role {
            Role::Tool => (
                "user",
                vec![json!({"type": "tool_result",
                    "tool_use_id": m.tool_call_id.clone().unwrap_or_default(),
                    "content": m.content})],
            ),
            Role::Assistant => {
                let mut blocks = Vec::new();
                if !m.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": m.content}));
                }
                for c in &m.tool_calls {
                    blocks.push(
                        json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}),
                    );
                }
                ("assistant", blocks)
            }
            _ => ("user", vec![json!({"type": "text", "text": m.content})]),
        };
        match messages.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => messages.push((role, blocks)),
        }
    }
    let messages: Vec<Value> = messages
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    let mut body = json!({
        "model": req.model, "max_tokens": req.max_tokens, "messages": messages, "stream": true,
    });
    if !system.is_empty() {
        body["system"] = json!(system.join("\n\n"));
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        body["tool_choice"] = match &req.tool_choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
        };
    }
    body
}

struct Block {
    id: String,
    name: String,
    json: String,
}

/// `message_start`, `content_block_*`, `message_delta` (stop reason, output tokens),
/// `message_stop`; `ping` ignored; `error` is an error.
#[derive(Default)]
struct StreamParser {
    started: bool,
    tools: BTreeMap<u64, Block>,
    usage: Usage,
    stop: Option<String>,
}

impl Parser for StreamParser {
    fn feed(&mut self, record: &Record) -> Result<Vec<ChatEvent>, IntegrationError> {
        let data: Value = serde_json::from_str(&record.data)
            .map_err(|e| bad(format!("a stream event is not JSON: {e}")))?;
        let kind = record
            .event
            .clone()
            .or_else(|| data.get("type").and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| bad("a stream event has no type"))?;
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        let mut out = Vec::new();
        match kind.as_str() {
            "ping" => {}
            "error" => {
                let e = data.get("error").unwrap_or(&Value::Null);
                let kind = e.get("type").and_then(Value::as_str).unwrap_or("error");
                let message = e.get("message").and_then(Value::as_str).unwrap_or("");
                return Err(if kind == "overloaded_error" {
                    IntegrationError::Remote {
                        service: SERVICE,
                        status: 529,
                        message: message.to_owned(),
                    }
                } else {
                    bad(format!("Anthropic reported {kind}: {message}"))
                });
            }
            "message_start" => {
                self.started = true;
                let usage = data.pointer("/message/usage");
                self.usage.input_tokens = usage
                    .and_then(|u| u.get("input_tokens"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                self.usage.output_tokens = usage
                    .and_then(|u| u.get("output_tokens"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
            }
            _ if !self.started => return Err(bad(format!("`{kind}` before `message_start`"))),
            "content_block_start" => {
                let block = data
                    .get("content_block")
                    .ok_or_else(|| bad("content_block_start without its block"))?;
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let name = block
                            .get("name")
                            .and_then(Value::as_str)
                            .filter(|n| !n.is_empty())
                            .ok_or_else(|| bad("a tool_use block has no name"))?;
                        self.tools.insert(
                            index,
                            Block {
                                id: block
                                    .get("id")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_owned(),
                                name: name.to_owned(),
                                json: String::new(),
                            },
                        );
                    }
                    Some("text") => {
                        if let Some(t) = block.get("text").and_then(Value::as_str)
                            && !t.is_empty()
                        {
                            out.push(ChatEvent::Delta(t.to_owned()));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = data
                    .get("delta")
                    .ok_or_else(|| bad("content_block_delta without its delta"))?;
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let t = delta
                            .get("text")
                            .and_then(Value::as_str)
                            .ok_or_else(|| bad("a text_delta without text"))?;
                        if !t.is_empty() {
                            out.push(ChatEvent::Delta(t.to_owned()));
                        }
                    }
                    Some("input_json_delta") => {
                        let part = delta
                            .get("partial_json")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        self.tools
                            .get_mut(&index)
                            .ok_or_else(|| bad("input_json_delta for no tool_use block"))?
                            .json
                            .push_str(part);
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                if let Some(block) = self.tools.remove(&index) {
                    out.push(ChatEvent::ToolCall(ToolCall {
                        id: if block.id.is_empty() {
                            format!("toolu_{index}")
                        } else {
                            block.id
                        },
                        name: block.name,
                        arguments: super::arguments_object(SERVICE, &Value::String(block.json))?,
                    }));
                }
            }
            "message_delta" => {
                if let Some(r) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop = Some(r.to_owned());
                }
                if let Some(n) = data.pointer("/usage/output_tokens").and_then(Value::as_u64) {
                    self.usage.output_tokens = n;
                }
                if let Some(n) = data.pointer("/usage/input_tokens").and_then(Value::as_u64) {
                    self.usage.input_tokens = n;
                }
            }
            "message_stop" => out.push(ChatEvent::Done {
                stop_reason: self.stop.take().unwrap_or_else(|| "end_turn".to_owned()),
                usage: self.usage,
            }),
            _ => {}
        }
        Ok(out)
    }

    fn end(&mut self) -> Result<Vec<ChatEvent>, IntegrationError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, data: Value) -> Record {
        Record {
            event: Some(kind.to_owned()),
            data: data.to_string(),
        }
    }

    #[test]
    fn a_documented_tool_use_stream_is_read() {
        let mut p = StreamParser::default();
        let mut all = Vec::new();
        for r in [
            ev(
                "message_start",
                json!({"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1}}}),
            ),
            ev(
                "content_block_start",
                json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}),
            ),
            ev(
                "content_block_stop",
                json!({"type":"content_block_stop","index":0}),
            ),
            ev(
                "content_block_start",
                json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"list_nodes","input":{}}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"x\": "}}),
            ),
            ev(
                "content_block_delta",
                json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"2}"}}),
            ),
            ev(
                "content_block_stop",
                json!({"type":"content_block_stop","index":1}),
            ),
            ev(
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":15}}),
            ),
            ev("message_stop", json!({"type":"message_stop"})),
        ] {
            all.extend(p.feed(&r).unwrap());
        }
        assert_eq!(all[0], ChatEvent::Delta("Hi".into()));
        assert_eq!(
            all[1],
            ChatEvent::ToolCall(ToolCall {
                id: "toolu_1".into(),
                name: "list_nodes".into(),
                arguments: json!({"x": 2})
            })
        );
        assert_eq!(
            all[2],
            ChatEvent::Done {
                stop_reason: "tool_use".into(),
                usage: Usage {
                    input_tokens: 25,
                    output_tokens: 15,
                    estimated: false
                }
            }
        );
    }

    #[test]
    fn overload_inside_the_stream_is_529() {
        let mut p = StreamParser::default();
        let err = p
            .feed(&ev(
                "error",
                json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
            ))
            .unwrap_err();
        assert!(matches!(err, IntegrationError::Remote { status: 529, .. }));
        assert!(p.feed(&ev("content_block_delta", json!({}))).is_err());
    }
}
