//! Ollama: `POST /api/chat` (NDJSON streaming, tools), `GET /api/tags`, `POST /api/embed`.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::wire::{Framing, Parser, Record};
use super::{ChatEvent, ChatRequest, ChatStream, Role, ToolCall, Usage};
use crate::integrations::{Endpoint, Health, IntegrationError, Integrations};

pub const SERVICE: &str = "ollama";

#[derive(Clone)]
pub struct Ollama {
    endpoint: Endpoint,
}

impl Ollama {
    pub fn new(integrations: &Integrations, base: &str) -> Self {
        Self {
            endpoint: Endpoint::new(integrations, SERVICE, base, None),
        }
    }

    /// Ollama has no `tool_choice`: a forced tool is offered like the others.
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatStream, IntegrationError> {
        let messages: Vec<Value> = req
            .messages
            .iter()
            .map(|m| {
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
                        .map(|c| json!({"function": {"name": c.name, "arguments": c.arguments}}))
                        .collect();
                }
                v
            })
            .collect();
        let mut options = json!({"num_predict": req.max_tokens});
        if let Some(t) = req.temperature {
            options["temperature"] = json!(t);
        }
        let mut body = json!({
            "model": req.model, "messages": messages, "stream": true, "options": options,
        });
        if !req.tools.is_empty() {
            body["tools"] = req
                .tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description, "parameters": t.parameters}})
                })
                .collect();
        }
        super::open_chat::<StreamParser>(
            &self.endpoint,
            SERVICE,
            "/api/chat",
            Framing::Ndjson,
            |r| r.json(&body),
        )
        .await
    }

    pub async fn models(&self) -> Result<Vec<String>, IntegrationError> {
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            models: Vec<Tag>,
        }
        #[derive(Deserialize)]
        struct Tag {
            name: String,
        }
        let tags: Tags = self.endpoint.get_json("/api/tags", &[]).await?;
        Ok(tags.models.into_iter().map(|t| t.name).collect())
    }

    pub async fn embed(
        &self,
        model: &str,
        inputs: &[String],
    ) -> Result<Vec<Vec<f32>>, IntegrationError> {
        #[derive(Deserialize)]
        struct Answer {
            embeddings: Vec<Vec<f32>>,
        }
        let body = json!({"model": model, "input": inputs});
        let res = self
            .endpoint
            .send(Method::POST, "/api/embed", super::CHAT_TIMEOUT, |r| {
                r.json(&body)
            })
            .await?;
        let answer: Answer = self.endpoint.json(res).await?;
        if answer.embeddings.len() != inputs.len() {
            return Err(IntegrationError::BadAnswer {
                service: SERVICE,
                detail: format!(
                    "{} inputs gave {} embeddings",
                    inputs.len(),
                    answer.embeddings.len()
                ),
            });
        }
        Ok(answer.embeddings)
    }

    pub async fn health(&self) -> Health {
        self.endpoint.probe("/api/tags").await
    }
}

fn bad(detail: impl Into<String>) -> IntegrationError {
    IntegrationError::BadAnswer {
        service: SERVICE,
        detail: detail.into(),
    }
}

/// One JSON object per line; the last has `"done": true` and the token counts.
#[derive(Default)]
struct StreamParser {
    calls: u64,
}

impl Parser for StreamParser {
    fn feed(&mut self, record: &Record) -> Result<Vec<ChatEvent>, IntegrationError> {
        let line: Value = serde_json::from_str(&record.data)
            .map_err(|e| bad(format!("a stream line is not JSON: {e}")))?;
        if let Some(err) = line.get("error") {
            let message = err
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| err.to_string());
            return Err(bad(format!("Ollama reported an error: {message}")));
        }
        let Some(done) = line.get("done").and_then(Value::as_bool) else {
            return Err(bad("a stream line has no `done`"));
        };
        let mut out = Vec::new();
        if let Some(message) = line.get("message") {
            if let Some(text) = message.get("content").and_then(Value::as_str)
                && !text.is_empty()
            {
                out.push(ChatEvent::Delta(text.to_owned()));
            }
            if let Some(Value::Array(calls)) = message.get("tool_calls") {
                for call in calls {
                    let f = call.get("function").unwrap_or(&Value::Null);
                    let name = f
                        .get("name")
                        .and_then(Value::as_str)
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| bad("a tool call has no name"))?;
                    self.calls += 1;
                    out.push(ChatEvent::ToolCall(ToolCall {
                        id: format!("call_{}", self.calls),
                        name: name.to_owned(),
                        arguments: super::arguments_object(
                            SERVICE,
                            f.get("arguments").unwrap_or(&Value::Null),
                        )?,
                    }));
                }
            }
        }
        if done {
            out.push(ChatEvent::Done {
                stop_reason: line
                    .get("done_reason")
                    .and_then(Value::as_str)
                    .unwrap_or("stop")
                    .to_owned(),
                usage: Usage {
                    input_tokens: line
                        .get("prompt_eval_count")
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                    output_tokens: line.get("eval_count").and_then(Value::as_u64).unwrap_or(0),
                    estimated: false,
                },
            });
        }
        Ok(out)
    }

    fn end(&mut self) -> Result<Vec<ChatEvent>, IntegrationError> {
        Ok(Vec::new())
    }
}
