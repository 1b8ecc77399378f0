//! An OpenAI-compatible server (llama.cpp's server, vLLM, LM Studio, OpenAI):
//! `POST /v1/chat/completions` (SSE when streaming), `GET /v1/models`, `POST /v1/embeddings`.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::wire::{Framing, Parser, Record};
use super::{ChatEvent, ChatRequest, ChatStream, Message, Role, ToolCall, ToolChoice, Usage};
use crate::integrations::{Endpoint, Health, IntegrationError, Integrations};

pub const SERVICE: &str = "openai";

#[derive(Clone)]
pub struct OpenAi {
    endpoint: Endpoint,
}

impl OpenAi {
    /// `base` is the server's root (a trailing `/v1` is accepted and dropped).
    pub fn new(integrations: &Integrations, base: &str, api_key: Option<&str>) -> Self {
        let base = base.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        Self {
            endpoint: Endpoint::new(integrations, SERVICE, base, api_key),
        }
    }

    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatStream, IntegrationError> {
        let body = request_body(req);
        super::open_chat::<StreamParser>(
            &self.endpoint,
            SERVICE,
            "/v1/chat/completions",
            Framing::Sse,
            |r| r.json(&body),
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
        let list: List = self.endpoint.get_json("/v1/models", &[]).await?;
        Ok(list.data.into_iter().map(|m| m.id).collect())
    }

    pub async fn embed(
        &self,
        model: &str,
        inputs: &[String],
    ) -> Result<Vec<Vec<f32>>, IntegrationError> {
        #[derive(Deserialize)]
        struct Answer {
            data: Vec<Item>,
        }
        #[derive(Deserialize)]
        struct Item {
            index: usize,
            embedding: Embedding,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Embedding {
            Pooled(Vec<f32>),
            PerToken(Vec<Vec<f32>>),
        }
        let body = json!({"model": model, "input": inputs});
        let res = self
            .endpoint
            .send(Method::POST, "/v1/embeddings", super::CHAT_TIMEOUT, |r| {
                r.json(&body)
            })
            .await?;
        let mut answer: Answer = self.endpoint.json(res).await?;
        answer.data.sort_by_key(|i| i.index);
        if answer.data.len() != inputs.len() {
            return Err(bad(format!(
                "{} inputs gave {} embeddings",
                inputs.len(),
                answer.data.len()
            )));
        }
        answer
            .data
            .into_iter()
            .map(|item| match item.embedding {
                Embedding::Pooled(v) if !v.is_empty() => Ok(v),
                Embedding::Pooled(_) => Err(bad("an empty embedding")),
                Embedding::PerToken(vs) => super::mean_pool(&vs)
                    .ok_or_else(|| bad("per-token embeddings of different lengths")),
            })
            .collect()
    }

    pub async fn health(&self) -> Health {
        self.endpoint.probe("/v1/models").await
    }
}

fn bad(detail: impl Into<String>) -> IntegrationError {
    IntegrationError::BadAnswer {
        service: SERVICE,
        detail: detail.into(),
    }
}

fn request_body(req: &ChatRequest) -> Value {
    let messages: Vec<Value> = req.messages.iter().map(message).collect();
    let mut body = json!({
        "model": req.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": req.max_tokens,
    });
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters}})
            })
            .collect();
        body["tool_choice"] = match &req.tool_choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
        };
    }
    body
}

fn message(m: &Message) -> Value {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut v = json!({"role": role, "content": m.content});
    if !m.tool_calls.is_empty() {
        v["tool_calls"] = m
            .tool_calls
            .iter()
            .map(|c| {
                json!({"id": c.id, "type": "function", "function": {
                    "name": c.name, "arguments": c.arguments.to_string()}})
            })
            .collect();
    }
    if let Some(id) = &m.tool_call_id {
        v["tool_call_id"] = json!(id);
    }
    v
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// `chat.completion.chunk` objects until `data: [DONE]`; tool calls arrive in pieces by index and
/// are given whole at the end.
#[derive(Default)]
struct StreamParser {
    calls: BTreeMap<u64, PartialCall>,
    stop: Option<String>,
    usage: Option<Usage>,
    pieces: u64,
}

impl StreamParser {
    fn finish(&mut self) -> Result<Vec<ChatEvent>, IntegrationError> {
        let mut out = Vec::new();
        for (i, call) in std::mem::take(&mut self.calls) {
            if call.name.is_empty() {
                return Err(bad(format!("tool call {i} has no name")));
            }
            out.push(ChatEvent::ToolCall(ToolCall {
                id: if call.id.is_empty() {
                    format!("call_{i}")
                } else {
                    call.id
                },
                name: call.name,
                arguments: super::arguments_object(SERVICE, &Value::String(call.arguments))?,
            }));
        }
        let usage = self.usage.unwrap_or(Usage {
            input_tokens: 0,
            output_tokens: self.pieces,
            estimated: true,
        });
        out.push(ChatEvent::Done {
            stop_reason: self.stop.take().unwrap_or_else(|| "stop".to_owned()),
            usage,
        });
        Ok(out)
    }
}

impl Parser for StreamParser {
    fn feed(&mut self, record: &Record) -> Result<Vec<ChatEvent>, IntegrationError> {
        if record.data.trim() == "[DONE]" {
            return self.finish();
        }
        let chunk: Value = serde_json::from_str(&record.data)
            .map_err(|e| bad(format!("a stream chunk is not JSON: {e}")))?;
        if let Some(err) = chunk.get("error") {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| err.to_string());
            return Err(bad(format!("the server reported an error: {message}")));
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            self.usage = Some(Usage {
                input_tokens: u.get("prompt_tokens").and_then(Value::as_u64).unwrap_or(0),
                output_tokens: u
                    .get("completion_tokens")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                estimated: false,
            });
        }
        let choices = match chunk.get("choices") {
            Some(Value::Array(c)) => c,
            None | Some(Value::Null) if self.usage.is_some() => return Ok(Vec::new()),
            _ => return Err(bad("a stream chunk has no `choices`")),
        };
        let mut out = Vec::new();
        for choice in choices {
            let delta = choice.get("delta").unwrap_or(&Value::Null);
            if let Some(text) = delta.get("content").and_then(Value::as_str)
                && !text.is_empty()
            {
                self.pieces += 1;
                out.push(ChatEvent::Delta(text.to_owned()));
            }
            if let Some(Value::Array(calls)) = delta.get("tool_calls") {
                for (n, call) in calls.iter().enumerate() {
                    let index = call
                        .get("index")
                        .and_then(Value::as_u64)
                        .unwrap_or(n as u64);
                    let entry = self.calls.entry(index).or_default();
                    if let Some(id) = call.get("id").and_then(Value::as_str) {
                        entry.id = id.to_owned();
                    }
                    let f = call.get("function").unwrap_or(&Value::Null);
                    // The name comes whole (llama.cpp repeats it in every piece).
                    if let Some(name) = f.get("name").and_then(Value::as_str)
                        && entry.name.is_empty()
                    {
                        entry.name = name.to_owned();
                    }
                    match f.get("arguments") {
                        Some(Value::String(a)) => entry.arguments.push_str(a),
                        Some(Value::Null) | None => {}
                        Some(other) => entry.arguments.push_str(&other.to_string()),
                    }
                }
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.stop = Some(reason.to_owned());
            }
        }
        Ok(out)
    }

    fn end(&mut self) -> Result<Vec<ChatEvent>, IntegrationError> {
        // Some servers close without `[DONE]` after the finishing chunk.
        if self.stop.is_some() {
            self.finish()
        } else {
            Ok(Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(data: &str) -> Record {
        Record {
            event: None,
            data: data.to_owned(),
        }
    }

    #[test]
    fn tool_call_pieces_are_joined_and_usage_read() {
        let mut p = StreamParser::default();
        assert!(p.feed(&rec(r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"list_nodes","arguments":"{\"a\""}}]}}]}"#)).unwrap().is_empty());
        p.feed(&rec(r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"finish_reason":"tool_calls"}]}"#)).unwrap();
        p.feed(&rec(
            r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3}}"#,
        ))
        .unwrap();
        let out = p.feed(&rec("[DONE]")).unwrap();
        assert_eq!(
            out[0],
            ChatEvent::ToolCall(ToolCall {
                id: "c1".into(),
                name: "list_nodes".into(),
                arguments: json!({"a":1})
            })
        );
        assert!(
            matches!(&out[1], ChatEvent::Done { usage, .. } if usage.input_tokens == 7 && usage.output_tokens == 3)
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut p = StreamParser::default();
        assert!(p.feed(&rec("{not json")).is_err());
        assert!(p.feed(&rec(r#"{"id":1}"#)).is_err());
        let mut p = StreamParser::default();
        p.feed(&rec(r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"x","arguments":"[1]"}}]},"finish_reason":"tool_calls"}]}"#)).unwrap();
        assert!(p.feed(&rec("[DONE]")).is_err());
    }
}
