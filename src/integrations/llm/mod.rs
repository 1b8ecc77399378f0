//! Clients for language-model servers, one file per protocol, behind one interface
//! ([`Provider`]): chat with messages and tools as a stream of [`ChatEvent`]s (text deltas, tool
//! calls, then the usage), the models a server offers, embeddings and a health probe.
//!
//! - [`openai`]: any OpenAI-compatible server (llama.cpp, vLLM, LM Studio): `/v1/chat/completions`
//!   with SSE streaming, `/v1/models`, `/v1/embeddings`;
//! - [`ollama`]: Ollama's `/api/chat` (NDJSON streaming), `/api/tags`, `/api/embed`;
//! - [`anthropic`]: Anthropic's Messages API (`/v1/messages`, SSE, tool use, usage; 429 and 529
//!   are overload).
//!
//! Small `reqwest` clients over the shared pools of [`super::Integrations`] (the choice is recorded
//! in `docs/decisions.md`). A stream reads the answer chunk by chunk; dropping a [`ChatStream`]
//! drops the connection, so a provider stops generating when nobody reads any more. A malformed
//! stream is an [`IntegrationError::BadAnswer`], never a panic.

pub mod anthropic;
pub mod ollama;
pub mod openai;
mod wire;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{Health, IntegrationError};

/// How long a chat answer may take in all (the stream is read chunk by chunk within it).
pub const CHAT_TIMEOUT: Duration = Duration::from_secs(300);
/// The largest stream line (SSE event or NDJSON line) a client accepts.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// The protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AiProviderKind)]
pub enum ProviderKind {
    /// An OpenAI-compatible server (llama.cpp, vLLM, LM Studio).
    Openai,
    Ollama,
    Anthropic,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [Self::Ollama, Self::Openai, Self::Anthropic];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Ollama => "ollama",
            Self::Anthropic => "anthropic",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ChatRole)]
pub enum Role {
    System,
    User,
    Assistant,
    /// The result of a tool call, fed back to the model.
    Tool,
}

/// One message of a conversation with a model.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ChatMessage)]
pub struct Message {
    pub role: Role,
    #[serde(default)]
    pub content: String,
    /// The tool calls an assistant message made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a `tool` message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn text(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// A tool offered to the model: its name, what it does and its arguments as a JSON Schema.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = AiToolSpec)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// A call the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiToolCall)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments, as the model gave them (a JSON object).
    pub arguments: Value,
}

/// What the request requires of the model's use of tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    /// It must call this tool.
    Tool(String),
}

#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub tool_choice: ToolChoice,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
}

/// Tokens a request used, as the provider reported them (`estimated` when it reported nothing and
/// the output was counted in streamed pieces).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = AiUsage)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub estimated: bool,
}

/// One piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Delta(String),
    ToolCall(ToolCall),
    /// The end: why the model stopped and what it used.
    Done {
        stop_reason: String,
        usage: Usage,
    },
}

/// A model a provider offers.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiModel)]
pub struct ModelInfo {
    pub id: String,
    pub provider: ProviderKind,
}

/// A configured provider.
#[derive(Clone)]
pub enum Provider {
    Openai(openai::OpenAi),
    Ollama(ollama::Ollama),
    Anthropic(anthropic::Anthropic),
}

impl Provider {
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::Openai(_) => ProviderKind::Openai,
            Self::Ollama(_) => ProviderKind::Ollama,
            Self::Anthropic(_) => ProviderKind::Anthropic,
        }
    }

    /// Starts a chat; the answer is read from the returned stream.
    pub async fn chat(&self, req: &ChatRequest) -> Result<ChatStream, IntegrationError> {
        match self {
            Self::Openai(p) => p.chat(req).await,
            Self::Ollama(p) => p.chat(req).await,
            Self::Anthropic(p) => p.chat(req).await,
        }
    }

    pub async fn models(&self) -> Result<Vec<ModelInfo>, IntegrationError> {
        let ids = match self {
            Self::Openai(p) => p.models().await?,
            Self::Ollama(p) => p.models().await?,
            Self::Anthropic(p) => p.models().await?,
        };
        Ok(ids
            .into_iter()
            .map(|id| ModelInfo {
                id,
                provider: self.kind(),
            })
            .collect())
    }

    /// One vector per input (an OpenAI-compatible server answering one vector per token is
    /// mean-pooled).
    pub async fn embed(
        &self,
        model: &str,
        inputs: &[String],
    ) -> Result<Vec<Vec<f32>>, IntegrationError> {
        match self {
            Self::Openai(p) => p.embed(model, inputs).await,
            Self::Ollama(p) => p.embed(model, inputs).await,
            Self::Anthropic(_) => Err(IntegrationError::Remote {
                service: anthropic::SERVICE,
                status: 400,
                message: "the Messages API has no embeddings".to_owned(),
            }),
        }
    }

    pub async fn health(&self) -> Health {
        match self {
            Self::Openai(p) => p.health().await,
            Self::Ollama(p) => p.health().await,
            Self::Anthropic(p) => p.health().await,
        }
    }
}

/// Posts a chat request to `path` and reads the answer, framed as `framing`, through a fresh
/// `P` as a stream of events. An answer other than 2xx is the provider's error.
pub(crate) async fn open_chat<P: wire::Parser + Default + 'static>(
    endpoint: &crate::integrations::Endpoint,
    service: &'static str,
    path: &str,
    framing: wire::Framing,
    build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> Result<ChatStream, IntegrationError> {
    let res = endpoint
        .send(reqwest::Method::POST, path, CHAT_TIMEOUT, build)
        .await?;
    let res = endpoint.check(res).await?;
    Ok(ChatStream::new(
        wire::Reader::new(service, res, framing),
        Box::new(P::default()),
    ))
}

/// A streamed answer. Dropping it closes the connection.
pub struct ChatStream {
    inner: wire::Reader,
    parser: Box<dyn wire::Parser>,
    pending: std::collections::VecDeque<ChatEvent>,
    finished: bool,
}

impl ChatStream {
    pub(crate) fn new(inner: wire::Reader, parser: Box<dyn wire::Parser>) -> Self {
        Self {
            inner,
            parser,
            pending: Default::default(),
            finished: false,
        }
    }

    /// The next event; `None` after [`ChatEvent::Done`]. A stream that ends without its end, or
    /// with something unreadable, is an error.
    pub async fn next(&mut self) -> Option<Result<ChatEvent, IntegrationError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                if matches!(event, ChatEvent::Done { .. }) {
                    self.finished = true;
                    self.pending.clear();
                }
                return Some(Ok(event));
            }
            if self.finished {
                return None;
            }
            match self.inner.next_record().await {
                Ok(Some(record)) => match self.parser.feed(&record) {
                    Ok(events) => self.pending.extend(events),
                    Err(e) => {
                        self.finished = true;
                        return Some(Err(e));
                    }
                },
                Ok(None) => {
                    self.finished = true;
                    return Some(match self.parser.end() {
                        Ok(events) if !events.is_empty() => {
                            self.pending.extend(events);
                            self.finished = false;
                            continue;
                        }
                        Ok(_) => Err(self.inner.bad("the stream ended before its last event")),
                        Err(e) => Err(e),
                    });
                }
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
            }
        }
    }

    /// Reads the whole answer: the text, the tool calls and the end.
    pub async fn collect(mut self) -> Result<Collected, IntegrationError> {
        let mut out = Collected::default();
        while let Some(event) = self.next().await {
            match event? {
                ChatEvent::Delta(t) => out.text.push_str(&t),
                ChatEvent::ToolCall(c) => out.tool_calls.push(c),
                ChatEvent::Done { stop_reason, usage } => {
                    out.stop_reason = stop_reason;
                    out.usage = usage;
                }
            }
        }
        Ok(out)
    }
}

/// A whole answer.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub stop_reason: String,
    pub usage: Usage,
}

/// Arguments as a JSON object: a string holding JSON is parsed; anything else is refused.
pub(crate) fn arguments_object(
    service: &'static str,
    raw: &Value,
) -> Result<Value, IntegrationError> {
    let value = match raw {
        Value::String(s) if s.trim().is_empty() => Value::Object(Default::default()),
        Value::String(s) => {
            serde_json::from_str::<Value>(s).map_err(|e| IntegrationError::BadAnswer {
                service,
                detail: format!("tool call arguments are not JSON: {e}"),
            })?
        }
        Value::Null => Value::Object(Default::default()),
        other => other.clone(),
    };
    if value.is_object() {
        Ok(value)
    } else {
        Err(IntegrationError::BadAnswer {
            service,
            detail: "tool call arguments are not a JSON object".to_owned(),
        })
    }
}

/// Mean of per-token vectors (all the same length), for servers answering one vector per token.
pub fn mean_pool(vectors: &[Vec<f32>]) -> Option<Vec<f32>> {
    let first = vectors.first()?;
    let dims = first.len();
    if dims == 0 || vectors.iter().any(|v| v.len() != dims) {
        return None;
    }
    let mut sum = vec![0f32; dims];
    for v in vectors {
        for (s, x) in sum.iter_mut().zip(v) {
            *s += x;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let n = vectors.len() as f32;
    Some(sum.into_iter().map(|s| s / n).collect())
}
