//! `POST /api/ai/chat`, the domain part: the request checked field by field, turned into a
//! provider request and a routing request.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::router::{RouteRequest, RouterConfig, estimate_tokens};
use crate::integrations::llm::ProviderKind;
use crate::integrations::llm::{ChatRequest, Message, Role, ToolCall, ToolChoice, ToolSpec, Usage};
use crate::modules::ModuleError;

/// Most messages a request may carry.
pub const MAX_MESSAGES: usize = 500;
/// Most tools a request may offer.
pub const MAX_TOOLS: usize = 64;
pub const DEFAULT_MAX_TOKENS: u32 = 512;
pub const MAX_TOKENS: u32 = 32_768;

/// A message of the conversation sent with the request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiChatMessageIn)]
pub struct ChatMessageIn {
    pub role: Role,
    #[schema(max_length = 1_000_000)]
    pub content: String,
    /// For an `assistant` message: the calls it made.
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    /// For a `tool` message: the call it answers.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub tool_call_id: Option<String>,
}

/// A tool offered to the model.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiToolIn)]
pub struct ToolIn {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub description: String,
    /// The arguments' JSON Schema (an object).
    #[schema(value_type = Object)]
    pub parameters: Value,
}

/// What kind of work a request is (the routing rules match on it).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiChatBody)]
pub struct ChatBody {
    #[schema(min_items = 1, max_items = 500)]
    pub messages: Vec<ChatMessageIn>,
    /// `provider/model` or a model id a configured provider lists; absent: the router chooses.
    #[serde(default)]
    #[schema(max_length = 300, pattern = "[^ \t\n\r]")]
    pub model: Option<String>,
    /// Answer as `text/event-stream`: `delta`, `tool_call`, then `done` (or `error`).
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    #[schema(max_items = 64)]
    pub tools: Vec<ToolIn>,
    /// `auto` (the default) or the name of one of `tools`, which the model must then call.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub tool_choice: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 32768)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2)]
    pub temperature: Option<f32>,
    /// Routing rules match on it; default `chat`.
    #[serde(default)]
    #[schema(pattern = "^[a-z][a-z0-9_-]{0,31}$")]
    pub task_kind: Option<String>,
}

/// A whole answer (`stream: false`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AiChatAnswer)]
pub struct ChatAnswer {
    pub provider: ProviderKind,
    pub model: String,
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub stop_reason: String,
    pub usage: Usage,
    /// US dollars, from the price table (0 for an unpriced model).
    pub cost_usd: f64,
}

/// The last event of a stream (`event: done`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AiChatDone)]
pub struct ChatDone {
    pub provider: ProviderKind,
    pub model: String,
    pub stop_reason: String,
    pub usage: Usage,
    pub cost_usd: f64,
}

fn field(field: &str, message: String) -> ModuleError {
    ModuleError::InvalidField {
        field: field.to_owned(),
        message,
    }
}

fn tool_name_ok(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks the request and builds what the router and the provider need.
pub fn prepare(
    cfg: &RouterConfig,
    body: ChatBody,
) -> Result<(ChatRequest, RouteRequest), ModuleError> {
    if body.messages.is_empty() {
        return Err(field("messages", "messages must not be empty".to_owned()));
    }
    if body.messages.len() > MAX_MESSAGES {
        return Err(field(
            "messages",
            format!("at most {MAX_MESSAGES} messages"),
        ));
    }
    let chars: usize = body
        .messages
        .iter()
        .map(|m| {
            m.content.chars().count()
                + m.tool_calls
                    .iter()
                    .map(|c| c.arguments.to_string().len())
                    .sum::<usize>()
        })
        .sum();
    if chars > cfg.max_prompt_chars {
        return Err(field(
            "messages",
            format!(
                "the prompt has {chars} characters, more than the limit of {} (max_prompt_chars)",
                cfg.max_prompt_chars
            ),
        ));
    }
    if body.tools.len() > MAX_TOOLS {
        return Err(field("tools", format!("at most {MAX_TOOLS} tools")));
    }
    let mut tools = Vec::with_capacity(body.tools.len());
    for (i, t) in body.tools.into_iter().enumerate() {
        if !tool_name_ok(&t.name) {
            return Err(field(
                &format!("tools[{i}].name"),
                "a tool name is 1 to 64 letters, digits, `_` or `-`".to_owned(),
            ));
        }
        if tools.iter().any(|x: &ToolSpec| x.name == t.name) {
            return Err(field(
                &format!("tools[{i}].name"),
                format!("tool '{}' is offered twice", t.name),
            ));
        }
        if !t.parameters.is_object() {
            return Err(field(
                &format!("tools[{i}].parameters"),
                "parameters must be a JSON Schema object".to_owned(),
            ));
        }
        if t.description.chars().count() > 4000 {
            return Err(field(
                &format!("tools[{i}].description"),
                "at most 4000 characters".to_owned(),
            ));
        }
        tools.push(ToolSpec {
            name: t.name,
            description: t.description,
            parameters: t.parameters,
        });
    }
    let tool_choice = match body.tool_choice.as_deref() {
        None | Some("auto") => ToolChoice::Auto,
        Some(name) if tools.iter().any(|t| t.name == name) => ToolChoice::Tool(name.to_owned()),
        Some(name) => {
            return Err(field(
                "tool_choice",
                format!("tool_choice '{name}' is neither `auto` nor one of the tools offered"),
            ));
        }
    };
    let max_tokens = body.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
    if !(1..=MAX_TOKENS).contains(&max_tokens) {
        return Err(field(
            "max_tokens",
            format!("max_tokens must be between 1 and {MAX_TOKENS}"),
        ));
    }
    if let Some(t) = body.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(field(
            "temperature",
            "temperature must be between 0 and 2".to_owned(),
        ));
    }
    let task_kind = body.task_kind.unwrap_or_else(|| "chat".to_owned());
    let kind_ok = task_kind.len() <= 32
        && task_kind
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase())
        && task_kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !kind_ok {
        return Err(field(
            "task_kind",
            "task_kind is a lowercase word of at most 32 characters".to_owned(),
        ));
    }
    let model = match body.model {
        Some(m) if m.trim().is_empty() => {
            return Err(field("model", "model must not be blank".to_owned()));
        }
        Some(m) if m.chars().count() > 300 => {
            return Err(field("model", "model is at most 300 characters".to_owned()));
        }
        other => other,
    };
    let mut messages = Vec::with_capacity(body.messages.len());
    let mut text = String::new();
    for (i, m) in body.messages.into_iter().enumerate() {
        if m.role == Role::Tool && m.tool_call_id.is_none() {
            return Err(field(
                &format!("messages[{i}].tool_call_id"),
                "a tool message names the call it answers".to_owned(),
            ));
        }
        if !m.tool_calls.is_empty() && m.role != Role::Assistant {
            return Err(field(
                &format!("messages[{i}].tool_calls"),
                "only an assistant message carries tool calls".to_owned(),
            ));
        }
        for (j, c) in m.tool_calls.iter().enumerate() {
            if !tool_name_ok(&c.name) || !c.arguments.is_object() {
                return Err(field(
                    &format!("messages[{i}].tool_calls[{j}]"),
                    "a tool call has a tool name and an object of arguments".to_owned(),
                ));
            }
        }
        text.push_str(&m.content);
        messages.push(Message {
            role: m.role,
            content: m.content,
            tool_calls: m.tool_calls,
            tool_call_id: m.tool_call_id,
        });
    }
    let context_tokens = estimate_tokens(&text);
    let route = RouteRequest {
        task_kind,
        context_tokens,
        tools: !tools.is_empty(),
        mode: None,
        model,
    };
    Ok((
        ChatRequest {
            model: String::new(),
            messages,
            tools,
            tool_choice,
            max_tokens,
            temperature: body.temperature,
        },
        route,
    ))
}
