//! AI tasks: a prompt handed to a model that works through ContextBay's tools
//! ([`super::tools`], and the MCP servers' tools) under the role of the person who created it —
//! never more — while the task's mode decides which calls run, which wait for a human
//! (`POST /api/ai/tasks/{id}/confirm`) and which are refused.
//!
//! - [`actor`]: the `AiTaskRegistry` and one supervised `AiTaskActor` per live task;
//! - [`store`]: `ai_tasks`, `ai_task_steps` (the transcript, written step by step as it happens),
//!   `ai_conversations`;
//! - [`events`]: the `ai.task.*` kinds;
//! - [`http`]: the routes' handlers.
//!
//! Rules of who may do what (recorded in `docs/decisions.md`): every signed-in user reads every
//! task, but a tool call's arguments and result are shown only to readers whose role may run that
//! tool (the same rule as the tool's REST route); any operator may cancel any live task (stopping
//! work is always safe); approving or rejecting takes an operator whose role may run the proposed
//! tool; retrying and deleting a task is for its creator or an admin. A retry is a new task
//! (`retry_of` names the old one, whose transcript stays as it was), created by whoever retried.

pub mod actor;
pub mod events;
mod http;
pub mod sessions;
pub mod store;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use self::store::{AiTaskStore, ConversationRow, StepRow, TaskRow};
use super::modes;
use super::router::{self, RouteError, RouteRequest, RouterConfig};
use super::tools::{self, Caller};
use crate::auth::Role;
use crate::events::EventDecl;
use crate::http::routes::{self as r, R, Route, W, get, post};
use crate::integrations::{IntegrationError, ModuleSettings};
use crate::modules::{ModuleError, ModuleName, StartFuture};
use crate::state::AppState;
use crate::store::{StoreError, new_id, now_ms};

pub const DEFAULT_MAX_STEPS: i64 = 20;
pub const DEFAULT_MAX_TOKENS: i64 = 200_000;
pub const DEFAULT_MAX_SECONDS: i64 = 900;
pub const DEFAULT_MAX_COST_CENTS: i64 = 100;
/// The highest a setting may raise each limit to.
pub const CEILING_STEPS: i64 = 1_000;
pub const CEILING_TOKENS: i64 = 100_000_000;
pub const CEILING_SECONDS: i64 = 7 * 24 * 3600;
pub const CEILING_COST_CENTS: i64 = 10_000_000;

pub fn routes() -> Vec<Route> {
    use http::{conversations as c, sessions as s, tasks as t};
    vec![
        post("/api/ai/tasks", W, t::create),
        get("/api/ai/tasks", R, t::list),
        get("/api/ai/tasks/{id}", R, t::get),
        post("/api/ai/tasks/{id}/cancel", W, t::cancel),
        post("/api/ai/tasks/{id}/retry", W, t::retry),
        post("/api/ai/tasks/{id}/confirm", W, t::confirm),
        r::delete("/api/ai/tasks/{id}", W, t::delete),
        post("/api/ai/conversations", W, c::create),
        get("/api/ai/conversations/{id}/tasks", R, c::tasks),
        post("/api/ai/sessions", W, s::create),
        get("/api/ai/sessions", R, s::list),
        get("/api/ai/sessions/{id}", R, s::get),
        r::put("/api/ai/sessions/{id}", W, s::update),
        r::delete("/api/ai/sessions/{id}", W, s::end),
    ]
}

#[derive(OpenApi)]
#[openapi(paths(
    http::tasks::create,
    http::tasks::list,
    http::tasks::get,
    http::tasks::cancel,
    http::tasks::retry,
    http::tasks::confirm,
    http::tasks::delete,
    http::conversations::create,
    http::conversations::tasks,
    http::sessions::create,
    http::sessions::list,
    http::sessions::get,
    http::sessions::update,
    http::sessions::end,
))]
struct Doc;

pub fn openapi() -> utoipa::openapi::OpenApi {
    <Doc as OpenApi>::openapi()
}

pub fn events() -> Vec<EventDecl> {
    events::declared()
}

/// At start-up no actor runs any task: every live one is `interrupted` (retryable).
pub fn start(state: AppState) -> StartFuture {
    Box::pin(async move {
        let n = state
            .store
            .ai_tasks()
            .interrupt_live("the master restarted while the task was live; retry it")
            .await?;
        if n > 0 {
            tracing::info!(tasks = n, "AI tasks interrupted by the restart");
        }
        Ok(())
    })
}

/// A task's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AiTaskStatus)]
pub enum Status {
    Queued,
    Running,
    AwaitingApproval,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Running,
            Self::AwaitingApproval,
            Self::Succeeded,
            Self::Failed,
            Self::Cancelled,
            Self::Interrupted,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    pub fn is_live(self) -> bool {
        matches!(self, Self::Queued | Self::Running | Self::AwaitingApproval)
    }
}

/// A task's own limits; each at most the module's setting (which is also the default).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiTaskLimitsIn)]
pub struct LimitsIn {
    /// Most model turns.
    #[schema(minimum = 1, maximum = 1000)]
    pub max_steps: Option<i64>,
    /// Most tokens, input and output of every turn together.
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub max_tokens: Option<i64>,
    /// Longest run, waits for approval included.
    #[schema(minimum = 1, maximum = 604_800)]
    pub max_seconds: Option<i64>,
    /// Most spent on priced models, in US dollars.
    #[schema(minimum = 0, maximum = 100_000)]
    pub max_cost_usd: Option<f64>,
}

/// `POST /api/ai/tasks`: what to do, in which mode, with which model.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiTaskBody)]
pub struct NewTask {
    /// What the model should do.
    #[schema(min_length = 1, max_length = 200_000, pattern = "[^ \t\n\r]")]
    pub prompt: String,
    /// `autonomous`, `supervised` (the default), `read-only` or a custom mode's id.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub mode: Option<String>,
    /// `provider/model` or a model id a configured provider lists; absent: the router chooses.
    #[serde(default)]
    #[schema(max_length = 300, pattern = "[^ \t\n\r]")]
    pub model: Option<String>,
    /// The conversation the task belongs to (its earlier tasks are part of the context).
    #[serde(default)]
    pub conversation_id: Option<uuid::Uuid>,
    #[serde(default)]
    pub limits: Option<LimitsIn>,
    /// The session the task is a turn of (its mode and model are the defaults; its earlier
    /// turns are part of the context).
    #[serde(default)]
    pub session_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiTaskCreator)]
pub struct CreatorView {
    pub user_id: String,
    pub username: String,
    /// The role when the task was created: the most it ever runs with.
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiTaskLimits)]
pub struct LimitsView {
    pub max_steps: i64,
    pub max_tokens: i64,
    pub max_seconds: i64,
    pub max_cost_usd: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiTaskUsage)]
pub struct UsageView {
    /// Model turns taken.
    pub turns: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
}

/// One step of a transcript. `payload` by kind: `model_turn` {provider, model, text, tool_calls,
/// stop_reason}; `tool_call` {call_id, name, effect, arguments}; `tool_result` {call_id, name,
/// ok, result | error, refused?}; `approval_request` {call_id, name, effect, arguments};
/// `approval` / `rejection` {call_id, by, reason}; `error` {error}. A tool's arguments and result
/// are replaced by `{"call_id", "name", "hidden"}` for a reader whose role may not run the tool.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiTaskStepView)]
pub struct StepView {
    pub seq: i64,
    pub kind: String,
    #[schema(value_type = Object)]
    pub payload: Value,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiTask)]
pub struct TaskView {
    #[schema(format = Uuid)]
    pub id: String,
    pub creator: CreatorView,
    pub prompt: String,
    pub mode: String,
    /// The model asked for.
    pub model: Option<String>,
    /// Who answered the last model turn.
    pub provider_used: Option<String>,
    pub model_used: Option<String>,
    pub status: Status,
    pub limits: LimitsView,
    pub usage: UsageView,
    /// The model's last answer, when it finished.
    pub result: Option<String>,
    /// Why it failed, was cancelled or interrupted.
    pub error: Option<String>,
    pub conversation_id: Option<String>,
    /// The task this one re-runs.
    pub retry_of: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The transcript (`GET /api/ai/tasks/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepView>>,
}

#[allow(clippy::cast_precision_loss)]
pub fn usd(micros: i64) -> f64 {
    micros as f64 / 1e6
}

#[allow(clippy::cast_possible_truncation)]
pub fn micros(usd: f64) -> i64 {
    (usd * 1e6).round() as i64
}

fn ts(ms: i64) -> String {
    contextbay_actors::rfc3339_from_millis(ms)
}

impl TaskView {
    pub fn of(t: TaskRow) -> Result<Self, ModuleError> {
        let bad = |what: &str| ModuleError::Internal(format!("stored AI task: {what}"));
        Ok(Self {
            status: Status::parse(&t.status).ok_or_else(|| bad("status"))?,
            creator: CreatorView {
                role: Role::parse(&t.creator_role).ok_or_else(|| bad("creator role"))?,
                user_id: t.creator_id,
                username: t.creator_name,
            },
            limits: LimitsView {
                max_steps: t.max_steps,
                max_tokens: t.max_tokens,
                max_seconds: t.max_seconds,
                max_cost_usd: usd(t.max_cost_micros),
            },
            usage: UsageView {
                turns: t.turns,
                input_tokens: t.input_tokens,
                output_tokens: t.output_tokens,
                cost_usd: usd(t.cost_micros),
            },
            id: t.id,
            prompt: t.prompt,
            mode: t.mode,
            model: t.model,
            provider_used: t.provider_used,
            model_used: t.model_used,
            result: t.result,
            error: t.error,
            conversation_id: t.conversation_id,
            retry_of: t.retry_of,
            created_at: ts(t.created_at),
            started_at: t.started_at.map(ts),
            finished_at: t.finished_at.map(ts),
            steps: None,
        })
    }
}

/// The least role that may run `tool` (and so read its arguments and results): a built-in
/// tool's own; an MCP tool's is operator's, like `POST /api/ai/mcp-tools/{name}/test`.
pub fn tool_role(tool: &str) -> Role {
    match tools::find(tool) {
        Some(t) => t.role,
        None if tool.contains(super::mcp::catalog::SEPARATOR) => Role::Operator,
        None => Role::Viewer,
    }
}

/// A step as `reader` may see it.
pub fn step_view(s: StepRow, reader: Role) -> StepView {
    let mut payload: Value = serde_json::from_str(&s.payload).unwrap_or(Value::Null);
    let tool_step = matches!(
        s.kind.as_str(),
        "tool_call" | "tool_result" | "approval_request"
    );
    if tool_step {
        let name = payload["name"].as_str().unwrap_or_default().to_owned();
        let needs = tool_role(&name);
        if reader < needs {
            payload = serde_json::json!({
                "call_id": payload["call_id"],
                "name": name,
                "hidden": format!("the {} role may read this tool's arguments and results", needs.as_str()),
            });
        }
    }
    if s.kind == "model_turn" && reader < Role::Operator {
        // The model's calls carry arguments; they are shown as in their own steps.
        if let Some(calls) = payload.get_mut("tool_calls").and_then(Value::as_array_mut) {
            for c in calls.iter_mut() {
                let name = c["name"].as_str().unwrap_or_default().to_owned();
                if reader < tool_role(&name) {
                    *c = serde_json::json!({"id": c["id"], "name": name, "hidden": true});
                }
            }
        }
    }
    StepView {
        seq: s.seq,
        kind: s.kind,
        payload,
        input_tokens: s.input_tokens,
        output_tokens: s.output_tokens,
        cost_usd: usd(s.cost_micros),
        at: ts(s.at),
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ModuleError {
    ModuleError::InvalidField {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The module's ceilings for a task's limits.
struct Ceilings {
    steps: i64,
    tokens: i64,
    seconds: i64,
    cost_micros: i64,
}

fn ceilings(s: &ModuleSettings) -> Ceilings {
    let get = |key: &str, default: i64, max: i64| {
        s.integer(key)
            .filter(|n| (1..=max).contains(n))
            .unwrap_or(default)
    };
    Ceilings {
        steps: get("task_max_steps", DEFAULT_MAX_STEPS, CEILING_STEPS),
        tokens: get("task_max_tokens", DEFAULT_MAX_TOKENS, CEILING_TOKENS),
        seconds: get("task_max_seconds", DEFAULT_MAX_SECONDS, CEILING_SECONDS),
        cost_micros: get(
            "task_max_cost_cents",
            DEFAULT_MAX_COST_CENTS,
            CEILING_COST_CENTS,
        ) * 10_000,
    }
}

fn limit(field: &str, asked: Option<i64>, ceiling: i64, setting: &str) -> Result<i64, ModuleError> {
    match asked {
        None => Ok(ceiling),
        Some(n) if (1..=ceiling).contains(&n) => Ok(n),
        Some(n) => Err(invalid(
            &format!("limits.{field}"),
            format!(
                "limits.{field} is {n}; it must be between 1 and {ceiling} (the module's {setting})"
            ),
        )),
    }
}

fn route_error(e: RouteError) -> ModuleError {
    match e {
        RouteError::Invalid(m) => m,
        RouteError::Provider(e) => ModuleError::Integration(e),
        RouteError::NoProvider => ModuleError::Integration(IntegrationError::NotConfigured {
            service: "ai",
            hint: "set ollama_url, openai_url or anthropic_api_key with PUT /api/config/ai",
        }),
        RouteError::Exhausted(why) => ModuleError::Integration(IntegrationError::Unreachable {
            service: "ai",
            reason: why,
        }),
    }
}

/// Checks a mode and a model (400 naming each) and that some provider can answer; returns the
/// mode's id and the model.
async fn check_route(
    state: &AppState,
    cfg: &RouterConfig,
    mode_id: &str,
    model: Option<String>,
    context_tokens: u64,
) -> Result<(String, Option<String>), ModuleError> {
    let mode = modes::get(state, mode_id, "mode").await?;
    let model = match model {
        Some(m) if crate::modules::trim_blank(&m).is_empty() => {
            return Err(invalid("model", "model must not be blank"));
        }
        Some(m) if m.chars().count() > 300 => {
            return Err(invalid("model", "model is at most 300 characters"));
        }
        other => other,
    };
    let route = RouteRequest {
        task_kind: "task".to_owned(),
        context_tokens,
        tools: true,
        mode: Some(mode.id.clone()),
        model: model.clone(),
    };
    router::of(state)
        .candidates(cfg, &route, &mut Vec::new())
        .await
        .map_err(route_error)?;
    Ok((mode.id, model))
}

/// Checks a new task, stores it `queued` and starts its actor. Skill runs seed tasks through it.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    request: NewTask,
) -> Result<TaskView, ModuleError> {
    create_row(state, caller, request, None).await
}

async fn create_row(
    state: &AppState,
    caller: &Caller,
    request: NewTask,
    retry_of: Option<String>,
) -> Result<TaskView, ModuleError> {
    let settings = ModuleSettings::load(state, ModuleName::Ai).await?;
    let cfg = RouterConfig::from_settings(state, &settings);
    let prompt = request.prompt;
    if crate::modules::trim_blank(&prompt).is_empty() {
        return Err(invalid("prompt", "prompt must not be blank"));
    }
    let chars = prompt.chars().count();
    if chars > cfg.max_prompt_chars {
        return Err(invalid(
            "prompt",
            format!(
                "the prompt has {chars} characters, more than the limit of {} (max_prompt_chars)",
                cfg.max_prompt_chars
            ),
        ));
    }
    let session = match request.session_id {
        None => None,
        Some(id) => {
            let id = id.to_string();
            match state.store.ai_tasks().session(&id).await {
                Ok(s) if s.status == "active" => Some(s),
                Ok(_) => {
                    return Err(StoreError::Conflict(format!(
                        "session '{id}' has ended: it takes no new turns"
                    ))
                    .into());
                }
                Err(StoreError::NotFound(_)) => {
                    return Err(invalid(
                        "session_id",
                        format!("session '{id}' does not exist"),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let mode_id = request
        .mode
        .or_else(|| session.as_ref().map(|s| s.mode.clone()))
        .unwrap_or_else(|| "supervised".to_owned());
    let model = request
        .model
        .or_else(|| session.as_ref().and_then(|s| s.model.clone()));
    let (mode_id, model) = check_route(
        state,
        &cfg,
        &mode_id,
        model,
        router::estimate_tokens(&prompt),
    )
    .await?;
    if let (Some(s), Some(c)) = (&session, request.conversation_id)
        && c.to_string() != s.id
    {
        return Err(invalid(
            "conversation_id",
            "a session's turn belongs to the session's own conversation (its id)",
        ));
    }
    let request_conversation = request.conversation_id.or_else(|| {
        session
            .as_ref()
            .and_then(|s| uuid::Uuid::parse_str(&s.id).ok())
    });
    let conversation_id = match request_conversation {
        None => None,
        Some(id) => {
            let id = id.to_string();
            match state.store.ai_tasks().conversation(&id).await {
                Ok(c) => Some(c.id),
                Err(StoreError::NotFound(_)) => {
                    return Err(invalid(
                        "conversation_id",
                        format!("conversation '{id}' does not exist"),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let c = ceilings(&settings);
    let l = request.limits.unwrap_or_default();
    let max_cost_micros = match l.max_cost_usd {
        None => c.cost_micros,
        Some(usd_) if usd_.is_finite() && usd_ >= 0.0 && micros(usd_) <= c.cost_micros => {
            micros(usd_)
        }
        Some(usd_) => {
            return Err(invalid(
                "limits.max_cost_usd",
                format!(
                    "limits.max_cost_usd is {usd_}; it must be between 0 and {} (the module's task_max_cost_cents)",
                    usd(c.cost_micros)
                ),
            ));
        }
    };
    let row = TaskRow {
        id: new_id(),
        creator_id: caller.user_id.clone(),
        creator_name: caller.username.clone(),
        creator_role: caller.role.as_str().to_owned(),
        prompt,
        mode: mode_id,
        model,
        provider_used: None,
        model_used: None,
        status: Status::Queued.as_str().to_owned(),
        max_steps: limit("max_steps", l.max_steps, c.steps, "task_max_steps")?,
        max_tokens: limit("max_tokens", l.max_tokens, c.tokens, "task_max_tokens")?,
        max_seconds: limit("max_seconds", l.max_seconds, c.seconds, "task_max_seconds")?,
        max_cost_micros,
        turns: 0,
        input_tokens: 0,
        output_tokens: 0,
        cost_micros: 0,
        result: None,
        error: None,
        conversation_id,
        session_id: session.as_ref().map(|s| s.id.clone()),
        retry_of,
        created_at: now_ms(),
        started_at: None,
        finished_at: None,
    };
    state.store.ai_tasks().insert(&row).await?;
    if let Some(s) = &row.session_id {
        state.store.ai_tasks().touch_session(s).await?;
    }
    state
        .events
        .publish_committed(events::AiTaskCreated(events::AiTaskRef {
            id: row.id.clone(),
            status: row.status.clone(),
            creator: row.creator_name.clone(),
            error: None,
        }))
        .await;
    actor::spawn(state, &row.id);
    TaskView::of(row)
}

/// Why an action on a task was refused.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The task is not in a state that allows it (409).
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do it to this task (403).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Module(#[from] ModuleError),
}

impl From<StoreError> for TaskError {
    fn from(e: StoreError) -> Self {
        Self::Module(e.into())
    }
}

/// A task with its transcript as `reader` may see it.
pub async fn detail(state: &AppState, id: &str, reader: Role) -> Result<TaskView, ModuleError> {
    let mut view = TaskView::of(state.store.ai_tasks().get(id).await?)?;
    let steps = state.store.ai_tasks().steps(id).await?;
    view.steps = Some(steps.into_iter().map(|s| step_view(s, reader)).collect());
    Ok(view)
}

pub async fn view(state: &AppState, id: &str) -> Result<TaskView, ModuleError> {
    TaskView::of(state.store.ai_tasks().get(id).await?)
}

/// Cancels a live task: the actor stops the model's stream and any running tool.
pub async fn cancel(state: &AppState, id: &str, by: &Caller) -> Result<TaskView, TaskError> {
    let task = view(state, id).await?;
    if !task.status.is_live() {
        return Err(TaskError::Conflict(format!(
            "the task has ended ({}); only a queued, running or waiting task can be cancelled",
            task.status.as_str()
        )));
    }
    match actor::handle(state, id) {
        Some(h) => h.cancel(&by.username).await?,
        // Live in the store with no actor (it is ending right now): ended here.
        None => {
            let why = format!("cancelled by {}", by.username);
            if !state
                .store
                .ai_tasks()
                .finish(id, Status::Cancelled.as_str(), None, Some(&why))
                .await?
            {
                return Err(TaskError::Conflict("the task has ended".to_owned()));
            }
        }
    }
    Ok(view(state, id).await?)
}

/// Approves or rejects the call a task waits on.
pub async fn confirm(
    state: &AppState,
    id: &str,
    by: &Caller,
    approve: bool,
    reason: Option<String>,
) -> Result<TaskView, TaskError> {
    let task = view(state, id).await?;
    if task.status != Status::AwaitingApproval {
        return Err(TaskError::Conflict(format!(
            "the task is {}, not awaiting_approval",
            task.status.as_str()
        )));
    }
    let Some(h) = actor::handle(state, id) else {
        return Err(TaskError::Conflict(
            "the task is not waiting for an approval any more".to_owned(),
        ));
    };
    h.decide(by, approve, reason).await?;
    Ok(view(state, id).await?)
}

fn may_manage(task: &TaskView, who: &Caller) -> Result<(), TaskError> {
    if task.creator.user_id == who.user_id || who.role >= Role::Admin {
        Ok(())
    } else {
        Err(TaskError::Forbidden(format!(
            "only {} (who created the task) or an admin may do this",
            task.creator.username
        )))
    }
}

/// Re-runs an ended task that did not succeed: a new task with the same prompt, mode, model,
/// limits and conversation, created by `by`.
pub async fn retry(state: &AppState, id: &str, by: &Caller) -> Result<TaskView, TaskError> {
    let old = state.store.ai_tasks().get(id).await?;
    let task = TaskView::of(old.clone())?;
    may_manage(&task, by)?;
    if !matches!(
        task.status,
        Status::Failed | Status::Interrupted | Status::Cancelled
    ) {
        return Err(TaskError::Conflict(format!(
            "the task is {}; only a failed, interrupted or cancelled task can be retried",
            task.status.as_str()
        )));
    }
    let request = NewTask {
        prompt: old.prompt,
        mode: Some(old.mode),
        model: old.model,
        conversation_id: old
            .conversation_id
            .and_then(|c| uuid::Uuid::parse_str(&c).ok()),
        limits: Some(LimitsIn {
            max_steps: Some(old.max_steps),
            max_tokens: Some(old.max_tokens),
            max_seconds: Some(old.max_seconds),
            max_cost_usd: Some(usd(old.max_cost_micros)),
        }),
        session_id: old.session_id.and_then(|c| uuid::Uuid::parse_str(&c).ok()),
    };
    Ok(create_row(state, by, request, Some(old.id)).await?)
}

/// Deletes a task with its transcript (cancelling it first when it is live).
pub async fn delete(state: &AppState, id: &str, by: &Caller) -> Result<(), TaskError> {
    let task = view(state, id).await?;
    may_manage(&task, by)?;
    if task.status.is_live() {
        match cancel(state, id, by).await {
            Ok(_) | Err(TaskError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    actor::wait_gone(state, id).await;
    state.store.ai_tasks().delete(id).await?;
    state
        .events
        .publish_committed(events::AiTaskDeleted {
            id: id.to_owned(),
            by: by.username.clone(),
        })
        .await;
    Ok(())
}

/// A conversation as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiConversation)]
pub struct ConversationView {
    #[schema(format = Uuid)]
    pub id: String,
    pub title: String,
    pub creator: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiConversationBody)]
pub struct NewConversation {
    #[serde(default)]
    #[schema(max_length = 200)]
    pub title: Option<String>,
}

pub async fn create_conversation(
    state: &AppState,
    by: &Caller,
    body: NewConversation,
) -> Result<ConversationView, ModuleError> {
    let title = crate::modules::trim_blank(body.title.as_deref().unwrap_or("")).to_owned();
    if title.chars().count() > 200 {
        return Err(invalid("title", "title is at most 200 characters"));
    }
    let row = ConversationRow {
        id: new_id(),
        title,
        creator_id: by.user_id.clone(),
        creator_name: by.username.clone(),
        created_at: now_ms(),
    };
    state.store.ai_tasks().create_conversation(&row).await?;
    Ok(ConversationView {
        id: row.id,
        title: row.title,
        creator: row.creator_name,
        created_at: ts(row.created_at),
    })
}
