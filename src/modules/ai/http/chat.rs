//! `POST /api/ai/chat`: a chat completion through the router, as JSON or as Server-Sent Events.
//!
//! The stream: `event: delta` (`{"text"}`), `event: tool_call` (a tool call), then `event: done`
//! ([`ChatDone`]: provider, model, usage, cost) or `event: error` (`{"error","code"}`). When the
//! client goes away the response body is dropped, and with it the connection to the provider,
//! which stops generating.

use actix_web::{HttpResponse, web};
use bytes::Bytes;
use serde::Serialize;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::Body;
use crate::integrations::llm::{ChatEvent, Collected};
use crate::modules::ai::chat::{self, ChatAnswer, ChatBody, ChatDone};
use crate::modules::ai::router::{self, Opened, RouterConfig};
use crate::state::AppState;

/// Answer a chat: JSON ([`ChatAnswer`]) or, with `stream: true`, `text/event-stream`.
#[utoipa::path(post, path = "/api/ai/chat", tag = "ai", request_body = ChatBody,
    responses(
        (status = 200, body = ChatAnswer, description = "The answer; with `stream: true` a `text/event-stream` of `delta`, `tool_call` and a last `done` (ChatDone) or `error` event"),
        (status = 502, body = ErrorBody, description = "The provider failed or sent an answer that could not be read"),
        (status = 503, body = ErrorBody, description = "No provider is configured or none could answer")))]
pub async fn chat(state: web::Data<AppState>, body: Body<ChatBody>) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let stream = body.stream;
    let cfg = RouterConfig::load(&state).await?;
    let (request, route) = chat::prepare(&cfg, body)?;
    let router = router::of(&state);
    let opened = router.open(&cfg, &route, &request).await?;
    if stream {
        return Ok(HttpResponse::Ok()
            .content_type("text/event-stream")
            .insert_header(("cache-control", "no-cache"))
            .insert_header(("x-accel-buffering", "no"))
            .streaming(sse(opened)));
    }
    let provider = opened.provider;
    let model = opened.model.clone();
    let mut out = Collected::default();
    let mut next = Some(Ok(opened.first.clone()));
    let mut opened = opened;
    while let Some(event) = next {
        match event.map_err(ApiError::from)? {
            ChatEvent::Delta(t) => out.text.push_str(&t),
            ChatEvent::ToolCall(c) => out.tool_calls.push(c),
            ChatEvent::Done { stop_reason, usage } => {
                out.stop_reason = stop_reason;
                out.usage = usage;
                opened.record_usage(&usage);
                let cost_usd = opened.cost(&usage);
                return Ok(HttpResponse::Ok().json(ChatAnswer {
                    provider,
                    model,
                    content: out.text,
                    tool_calls: out.tool_calls,
                    stop_reason: out.stop_reason,
                    usage: out.usage,
                    cost_usd,
                }));
            }
        }
        next = opened.stream.next().await;
    }
    Err(ApiError::new(
        crate::error::ErrorCode::RemoteFailed,
        format!("{} ended the answer without its end", provider.as_str()),
    ))
}

fn frame(event: &str, data: &impl Serialize) -> Bytes {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned());
    Bytes::from(format!("event: {event}\ndata: {json}\n\n"))
}

#[derive(Serialize)]
struct Delta<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct StreamError {
    error: String,
    code: &'static str,
}

struct Sse {
    opened: Opened,
    first: Option<ChatEvent>,
    done: bool,
}

/// The answer as SSE frames; dropping it (the client left) drops the provider's connection.
fn sse(
    mut opened: Opened,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> + 'static {
    let first = Some(opened.first.clone());
    opened.first = ChatEvent::Delta(String::new());
    futures_util::stream::unfold(
        Sse {
            opened,
            first,
            done: false,
        },
        |mut s| async move {
            if s.done {
                return None;
            }
            let event = match s.first.take() {
                Some(e) => Some(Ok(e)),
                None => s.opened.stream.next().await,
            };
            let bytes = match event {
                Some(Ok(ChatEvent::Delta(text))) => frame("delta", &Delta { text: &text }),
                Some(Ok(ChatEvent::ToolCall(call))) => frame("tool_call", &call),
                Some(Ok(ChatEvent::Done { stop_reason, usage })) => {
                    s.done = true;
                    s.opened.record_usage(&usage);
                    frame(
                        "done",
                        &ChatDone {
                            provider: s.opened.provider,
                            model: s.opened.model.clone(),
                            stop_reason,
                            cost_usd: s.opened.cost(&usage),
                            usage,
                        },
                    )
                }
                Some(Err(e)) => {
                    s.done = true;
                    frame(
                        "error",
                        &StreamError {
                            error: e.to_string(),
                            code: "remote_failed",
                        },
                    )
                }
                None => {
                    s.done = true;
                    frame(
                        "error",
                        &StreamError {
                            error: "the provider ended the answer without its end".to_owned(),
                            code: "remote_failed",
                        },
                    )
                }
            };
            Some((Ok(bytes), s))
        },
    )
}

impl From<router::RouteError> for ApiError {
    fn from(e: router::RouteError) -> Self {
        use crate::error::ErrorCode;
        match e {
            router::RouteError::Invalid(m) => m.into(),
            router::RouteError::Provider(e) => e.into(),
            e @ (router::RouteError::NoProvider | router::RouteError::Exhausted(_)) => {
                ApiError::new(ErrorCode::ServiceUnavailable, e.to_string())
            }
        }
    }
}
