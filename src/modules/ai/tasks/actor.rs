//! The `AiTaskRegistry` and its `AiTaskActor`s: one supervised task per live AI task, named
//! `ai.task.<id>` under `state.tasks` (a panic restarts it; a restarted actor finds its task
//! already running and marks it `interrupted`, retryable, rather than running a half-done
//! transcript twice).
//!
//! The actor owns its task's state: it alone moves it between running and awaiting_approval, so
//! approvals and cancellations are messages to it ([`TaskHandle`]) that it answers. Its loop:
//! build the messages (system prompt naming the tools, the conversation's earlier tasks), open
//! the router with tools, read the turn, persist it as a step, then for each tool call ask the
//! mode — run it as the creator (role re-read from the user row, capped by the role at
//! creation), wait for a human, or refuse it — persisting the call and its result, and feed the
//! results back, until the model answers without a call or a limit is reached. Cancel drops the
//! work: the provider's stream and a running tool's request with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::events::{AiTaskAwaitingApproval, AiTaskRef, AiTaskStep, AiTaskUpdated};
use super::store::{AiTaskStore, StepRow, TaskRow, TurnTotals};
use super::{Status, TaskError, micros, usd};
use crate::auth::Role;
use crate::integrations::llm::{
    ChatEvent, ChatRequest, Message, Role as ChatRole, ToolCall, ToolChoice, ToolSpec,
};
use crate::modules::ai::mcp::catalog::Catalog;
use crate::modules::ai::modes::{self, Action, ModeView};
use crate::modules::ai::router::{self, RouteRequest, RouterConfig};
use crate::modules::ai::tools::{self, Caller, Effect, ToolError};
use crate::state::AppState;
use crate::store::now_ms;

/// Tokens a model turn may produce.
pub const TURN_MAX_TOKENS: u32 = 2048;
/// The most of a tool's result fed back to the model, in characters.
pub const RESULT_MAX_CHARS: usize = 16_000;
/// Earlier tasks of a conversation summarised in the system prompt.
pub const EARLIER_TASKS: i64 = 10;

/// A message to a task's actor.
enum TaskMsg {
    Cancel {
        by: String,
        reply: oneshot::Sender<Result<(), TaskError>>,
    },
    Decide {
        verdict: Verdict,
        reply: oneshot::Sender<Result<(), TaskError>>,
    },
}

/// A human's answer to an approval request.
#[derive(Debug, Clone)]
struct Verdict {
    approve: bool,
    by: Caller,
    reason: Option<String>,
}

/// The live actors of this master, by task id.
#[derive(Default)]
pub struct AiTaskRegistry {
    actors: Mutex<HashMap<String, mpsc::UnboundedSender<TaskMsg>>>,
}

impl AiTaskRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<TaskMsg>>> {
        match self.actors.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// How many actors are live.
    pub fn live(&self) -> usize {
        self.lock().len()
    }
}

fn registry(state: &AppState) -> Arc<AiTaskRegistry> {
    state.module_state.get::<AiTaskRegistry>()
}

/// The typed handle of a live task's actor.
pub struct TaskHandle {
    tx: mpsc::UnboundedSender<TaskMsg>,
}

fn ended() -> TaskError {
    TaskError::Conflict("the task has ended".to_owned())
}

impl TaskHandle {
    pub async fn cancel(&self, by: &str) -> Result<(), TaskError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(TaskMsg::Cancel {
                by: by.to_owned(),
                reply,
            })
            .map_err(|_| ended())?;
        rx.await.map_err(|_| ended())?
    }

    pub async fn decide(
        &self,
        by: &Caller,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), TaskError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(TaskMsg::Decide {
                verdict: Verdict {
                    approve,
                    by: by.clone(),
                    reason,
                },
                reply,
            })
            .map_err(|_| ended())?;
        rx.await.map_err(|_| {
            TaskError::Conflict("the task is not waiting for an approval any more".to_owned())
        })?
    }
}

pub fn handle(state: &AppState, id: &str) -> Option<TaskHandle> {
    registry(state)
        .lock()
        .get(id)
        .filter(|tx| !tx.is_closed())
        .map(|tx| TaskHandle { tx: tx.clone() })
}

/// Waits (briefly) until the actor of `id` is gone.
pub async fn wait_gone(state: &AppState, id: &str) {
    for _ in 0..100 {
        if !registry(state).lock().contains_key(id) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts the actor of task `id`, supervised.
pub fn spawn(state: &AppState, id: &str) {
    let (tx, rx) = mpsc::unbounded_channel();
    registry(state).lock().insert(id.to_owned(), tx);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let state2 = state.clone();
    let id2 = id.to_owned();
    state.tasks.spawn(format!("ai.task.{id}"), move || {
        let state = state2.clone();
        let id = id2.clone();
        let rx = rx.clone();
        async move {
            let out = run(&state, &id, rx).await;
            if out.is_ok() {
                registry(&state).lock().remove(&id);
            }
            out
        }
    });
}

/// How a run ended.
enum Outcome {
    Succeeded(String),
    Failed(String),
    Cancelled(String),
}

/// A pending approval: who may answer it and where the answer goes.
struct Pending {
    needs: Role,
    tool: String,
    answer: oneshot::Sender<Verdict>,
}

type Slot = Arc<Mutex<Option<Pending>>>;

fn slot_lock(slot: &Slot) -> std::sync::MutexGuard<'_, Option<Pending>> {
    match slot.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

async fn run(
    state: &AppState,
    id: &str,
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<TaskMsg>>>,
) -> Result<(), String> {
    let mut rx = rx.lock().await;
    let store = state.store.ai_tasks();
    let task = match store.get(id).await {
        Ok(t) => t,
        Err(crate::store::StoreError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    match Status::parse(&task.status) {
        Some(Status::Queued) => {}
        Some(s) if s.is_live() => {
            // A previous run of this actor stopped half-way (a panic): not resumed.
            let why = "the task's actor stopped unexpectedly; retry the task";
            if store
                .finish(id, Status::Interrupted.as_str(), None, Some(why))
                .await
                .map_err(|e| e.to_string())?
            {
                publish(state, id, &task.creator_name).await;
            }
            return Ok(());
        }
        _ => return Ok(()),
    }
    if !store
        .transition(id, "queued", Status::Running.as_str())
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(());
    }
    publish(state, id, &task.creator_name).await;
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(u64::try_from(task.max_seconds).unwrap_or(1));
    let slot: Slot = Arc::default();
    let seq = store.next_seq(id).await.map_err(|e| e.to_string())?;
    let mut work = Box::pin(
        Work {
            state,
            task: task.clone(),
            seq,
            slot: slot.clone(),
        }
        .run(),
    );
    let mut open = true;
    let mut cancelled_reply = None;
    let outcome = loop {
        tokio::select! {
            out = &mut work => break out,
            msg = rx.recv(), if open => match msg {
                Some(TaskMsg::Cancel { by, reply }) => {
                    // Answered once the cancellation is stored.
                    cancelled_reply = Some(reply);
                    break Outcome::Cancelled(format!("cancelled by {by}"));
                }
                Some(TaskMsg::Decide { verdict, reply }) => {
                    let mut pending = slot_lock(&slot);
                    let answer = match pending.take() {
                        None => Err(TaskError::Conflict(
                            "the task is not waiting for an approval".to_owned(),
                        )),
                        Some(p) if verdict.by.role < p.needs => {
                            let needs = p.needs;
                            let tool = p.tool.clone();
                            *pending = Some(p);
                            Err(TaskError::Forbidden(format!(
                                "approving or rejecting a call of '{tool}' takes the {} role",
                                needs.as_str()
                            )))
                        }
                        Some(p) => p
                            .answer
                            .send(verdict)
                            .map_err(|_| TaskError::Conflict("the task has ended".to_owned())),
                    };
                    let _ = reply.send(answer);
                }
                // Every sender is gone (the registry's lives as long as this actor, so this is
                // not expected): only the work and the deadline are left to wait for.
                None => open = false,
            },
            () = tokio::time::sleep_until(deadline) => {
                break Outcome::Failed(format!(
                    "the task ran longer than its limit of {} s (limits.max_seconds)",
                    task.max_seconds
                ));
            }
        }
    };
    // Dropping the work stops the model's stream and any tool call in flight.
    drop(work);
    let (status, result, error) = match outcome {
        Outcome::Succeeded(text) => (Status::Succeeded, Some(text), None),
        Outcome::Failed(why) => (Status::Failed, None, Some(why)),
        Outcome::Cancelled(why) => (Status::Cancelled, None, Some(why)),
    };
    if let Some(why) = &error
        && status == Status::Failed
    {
        let seq = store.next_seq(id).await.map_err(|e| e.to_string())?;
        let _ = add_step(state, id, seq, "error", json!({"error": why}), 0, 0, 0).await;
    }
    let stored = store
        .finish(id, status.as_str(), result.as_deref(), error.as_deref())
        .await
        .map_err(|e| e.to_string());
    if let Some(reply) = cancelled_reply {
        let _ = reply.send(match &stored {
            Ok(_) => Ok(()),
            Err(e) => Err(TaskError::Module(crate::modules::ModuleError::Internal(
                e.clone(),
            ))),
        });
    }
    stored?;
    publish(state, id, &task.creator_name).await;
    Ok(())
}

async fn publish(state: &AppState, id: &str, creator: &str) {
    let (status, error) = match state.store.ai_tasks().get(id).await {
        Ok(t) => (t.status, t.error),
        Err(_) => return,
    };
    state
        .events
        .publish_committed(AiTaskUpdated(AiTaskRef {
            id: id.to_owned(),
            status,
            creator: creator.to_owned(),
            error,
        }))
        .await;
}

#[allow(clippy::too_many_arguments)]
async fn add_step(
    state: &AppState,
    task: &str,
    seq: i64,
    kind: &str,
    payload: Value,
    input_tokens: i64,
    output_tokens: i64,
    cost_micros: i64,
) -> Result<(), String> {
    state
        .store
        .ai_tasks()
        .add_step(&StepRow {
            task_id: task.to_owned(),
            seq,
            kind: kind.to_owned(),
            payload: payload.to_string(),
            input_tokens,
            output_tokens,
            cost_micros,
            at: now_ms(),
        })
        .await
        .map_err(|e| e.to_string())?;
    state
        .events
        .publish_committed(AiTaskStep {
            id: task.to_owned(),
            seq,
            kind: kind.to_owned(),
        })
        .await;
    Ok(())
}

/// One run of a task's conversation with the model.
struct Work<'a> {
    state: &'a AppState,
    task: TaskRow,
    seq: i64,
    slot: Slot,
}

/// A tool as the task sees it: its class and least role.
struct ToolInfo {
    effect: Effect,
    role: Role,
}

impl Work<'_> {
    async fn step(
        &mut self,
        kind: &str,
        payload: Value,
        tokens: (i64, i64),
        cost: i64,
    ) -> Result<(), String> {
        let seq = self.seq;
        self.seq += 1;
        add_step(
            self.state,
            &self.task.id,
            seq,
            kind,
            payload,
            tokens.0,
            tokens.1,
            cost,
        )
        .await
    }

    async fn run(mut self) -> Outcome {
        match self.converse().await {
            Ok(o) => o,
            Err(why) => Outcome::Failed(why),
        }
    }

    async fn converse(&mut self) -> Result<Outcome, String> {
        let state = self.state;
        let cfg = RouterConfig::load(state).await.map_err(|e| e.to_string())?;
        let mode = modes::get(state, &self.task.mode, "mode")
            .await
            .map_err(|e| format!("the task's mode: {e}"))?;
        let (specs, infos) = self.tools().await;
        let mut messages = vec![
            Message::text(ChatRole::System, self.system_prompt(&mode, &specs).await),
            Message::text(ChatRole::User, self.task.prompt.clone()),
        ];
        let router = router::of(state);
        let (mut turns, mut tokens, mut cost) = (0i64, 0i64, 0i64);
        loop {
            if turns >= self.task.max_steps {
                return Ok(Outcome::Failed(format!(
                    "the task reached its limit of {} model turns (limits.max_steps) without finishing",
                    self.task.max_steps
                )));
            }
            let text: String = messages.iter().map(|m| m.content.as_str()).collect();
            let route = RouteRequest {
                task_kind: "task".to_owned(),
                context_tokens: router::estimate_tokens(&text),
                tools: true,
                mode: Some(mode.id.clone()),
                model: self.task.model.clone(),
            };
            let request = ChatRequest {
                model: String::new(),
                messages: messages.clone(),
                tools: specs.clone(),
                tool_choice: ToolChoice::Auto,
                // Never more output than the token budget has left.
                max_tokens: u32::try_from(
                    (self.task.max_tokens - tokens).clamp(1, i64::from(TURN_MAX_TOKENS)),
                )
                .unwrap_or(TURN_MAX_TOKENS),
                temperature: None,
            };
            let mut opened = router
                .open(&cfg, &route, &request)
                .await
                .map_err(|e| format!("no model answered: {e}"))?;
            let mut answer = String::new();
            let mut calls: Vec<ToolCall> = Vec::new();
            let mut next = Some(Ok(opened.first.clone()));
            let (stop_reason, usage) = loop {
                match next {
                    Some(Ok(ChatEvent::Delta(t))) => answer.push_str(&t),
                    Some(Ok(ChatEvent::ToolCall(c))) => calls.push(c),
                    Some(Ok(ChatEvent::Done { stop_reason, usage })) => break (stop_reason, usage),
                    Some(Err(e)) => {
                        return Err(format!(
                            "{}/{}: {e}",
                            opened.provider.as_str(),
                            opened.model
                        ));
                    }
                    None => {
                        return Err(format!(
                            "{}/{} ended its answer without its end",
                            opened.provider.as_str(),
                            opened.model
                        ));
                    }
                }
                next = opened.stream.next().await;
            };
            opened.record_usage(&usage);
            let turn_cost = micros(opened.cost(&usage));
            let (input, output) = (
                i64::try_from(usage.input_tokens).unwrap_or(i64::MAX),
                i64::try_from(usage.output_tokens).unwrap_or(i64::MAX),
            );
            turns += 1;
            tokens = tokens.saturating_add(input).saturating_add(output);
            cost = cost.saturating_add(turn_cost);
            state
                .store
                .ai_tasks()
                .add_turn(
                    &self.task.id,
                    &TurnTotals {
                        provider: opened.provider.as_str().to_owned(),
                        model: opened.model.clone(),
                        input_tokens: input,
                        output_tokens: output,
                        cost_micros: turn_cost,
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            self.step(
                "model_turn",
                json!({"provider": opened.provider.as_str(), "model": opened.model,
                       "text": answer, "tool_calls": calls, "stop_reason": stop_reason}),
                (input, output),
                turn_cost,
            )
            .await?;
            drop(opened);
            if tokens > self.task.max_tokens {
                return Ok(Outcome::Failed(format!(
                    "the task used {tokens} tokens, more than its limit of {} (limits.max_tokens)",
                    self.task.max_tokens
                )));
            }
            if cost > self.task.max_cost_micros {
                return Ok(Outcome::Failed(format!(
                    "the task spent ${:.6}, more than its limit of ${:.6} (limits.max_cost_usd)",
                    usd(cost),
                    usd(self.task.max_cost_micros)
                )));
            }
            messages.push(Message {
                role: ChatRole::Assistant,
                content: answer.clone(),
                tool_calls: calls.clone(),
                tool_call_id: None,
            });
            if calls.is_empty() {
                return Ok(Outcome::Succeeded(answer));
            }
            for call in calls {
                let content = self.handle_call(&mode, &infos, &call).await?;
                messages.push(Message {
                    role: ChatRole::Tool,
                    content,
                    tool_calls: Vec::new(),
                    tool_call_id: Some(call.id.clone()),
                });
            }
        }
    }

    /// The tools offered: the built-in ones, then the MCP servers' (a server that cannot be
    /// listed is left out).
    async fn tools(&self) -> (Vec<ToolSpec>, HashMap<String, ToolInfo>) {
        let mut specs = Vec::new();
        let mut infos = HashMap::new();
        for t in tools::all() {
            specs.push(ToolSpec {
                name: t.name.to_owned(),
                description: t.description.to_owned(),
                parameters: (t.input_schema)(),
            });
            infos.insert(
                t.name.to_owned(),
                ToolInfo {
                    effect: t.effect,
                    role: t.role,
                },
            );
        }
        match Catalog::new(self.state).tools().await {
            Ok((mcp, _failed)) => {
                for t in mcp {
                    if infos.contains_key(&t.name)
                        || specs.len() >= crate::modules::ai::chat::MAX_TOOLS
                    {
                        continue;
                    }
                    specs.push(ToolSpec {
                        name: t.name.clone(),
                        description: t.description.clone().unwrap_or_default(),
                        parameters: Value::Object(t.input_schema.clone()),
                    });
                    // MCP tools may do anything: they are writes, for operators (as the REST
                    // route that fires one), unless the mode names them.
                    infos.insert(
                        t.name,
                        ToolInfo {
                            effect: Effect::Write,
                            role: Role::Operator,
                        },
                    );
                }
            }
            Err(e) => tracing::warn!(task = %self.task.id, "MCP tools left out: {e}"),
        }
        (specs, infos)
    }

    async fn system_prompt(&self, mode: &ModeView, specs: &[ToolSpec]) -> String {
        let mut p = format!(
            "You are ContextBay's operations assistant. You work on a fleet of Docker hosts \
             through the tools offered; every call runs with the permissions of {} ({}). Mode \
             '{}': {}. A call may wait for a human's approval, be refused or be rejected; the \
             outcome comes back as the tool's result. When you are done, answer with a short \
             summary and no tool call.\n\nTools:\n",
            self.task.creator_name, self.task.creator_role, mode.name, mode.description
        );
        for s in specs {
            p.push_str(&format!("- {}: {}\n", s.name, s.description));
        }
        if let Some(conv) = &self.task.conversation_id
            && let Ok(earlier) = self
                .state
                .store
                .ai_tasks()
                .earlier_in_conversation(conv, self.task.created_at, EARLIER_TASKS)
                .await
            && !earlier.is_empty()
        {
            p.push_str("\nEarlier tasks of this conversation:\n");
            for t in earlier {
                let outcome = t.result.or(t.error).unwrap_or_default();
                p.push_str(&format!(
                    "- asked: {} -> {}: {}\n",
                    truncate(&t.prompt, 500),
                    t.status,
                    truncate(&outcome, 1000)
                ));
            }
        }
        p
    }

    /// The creator as a tool call runs now: role re-read, never above the role at creation.
    async fn caller(&self) -> Result<Caller, String> {
        let created = Role::parse(&self.task.creator_role).unwrap_or(Role::Viewer);
        match self.state.store.users().get(&self.task.creator_id).await {
            Ok(u) if !u.disabled => Ok(Caller {
                user_id: u.id,
                username: u.username,
                role: u.role.min(created),
            }),
            Ok(_) => Err(format!("{} is disabled", self.task.creator_name)),
            Err(_) => Err(format!("{} no longer exists", self.task.creator_name)),
        }
    }

    /// Decides, maybe waits, runs one call; returns what the model is told.
    async fn handle_call(
        &mut self,
        mode: &ModeView,
        infos: &HashMap<String, ToolInfo>,
        call: &ToolCall,
    ) -> Result<String, String> {
        let info = infos.get(&call.name);
        let effect = info.map_or("unknown", |i| match i.effect {
            Effect::Read => "read",
            Effect::Write => "write",
        });
        self.step(
            "tool_call",
            json!({"call_id": call.id, "name": call.name, "effect": effect, "arguments": call.arguments}),
            (0, 0),
            0,
        )
        .await?;
        let Some(info) = info else {
            return self
                .result(call, Err(format!("no tool named '{}'", call.name)), false)
                .await;
        };
        let action = mode.action_for(&call.name, info.effect == Effect::Write);
        // The role first: a call the creator may not make is refused without asking anyone.
        match self.caller().await {
            Ok(c) if c.role < info.role => {
                let why = format!(
                    "the tool '{}' needs the {} role; this task runs as {}",
                    call.name,
                    info.role.as_str(),
                    c.role.as_str()
                );
                return self.result(call, Err(why), true).await;
            }
            Ok(_) => {}
            Err(why) => {
                return self
                    .result(call, Err(format!("refused: {why}")), true)
                    .await;
            }
        }
        match action {
            Action::Refuse => {
                return self
                    .result(
                        call,
                        Err(format!(
                            "refused: mode '{}' does not allow '{}'",
                            mode.name, call.name
                        )),
                        true,
                    )
                    .await;
            }
            Action::Ask => {
                if let Some(rejection) = self.ask(call, info, effect).await? {
                    return self.result(call, Err(rejection), true).await;
                }
            }
            Action::Run => {}
        }
        // Run as the creator now (the role may have changed while waiting).
        let caller = match self.caller().await {
            Ok(c) => c,
            Err(why) => {
                return self
                    .result(call, Err(format!("refused: {why}")), true)
                    .await;
            }
        };
        let outcome = if tools::find(&call.name).is_some() {
            match tools::call(self.state, &caller, &call.name, call.arguments.clone()).await {
                Ok(v) => Ok(v),
                Err(e @ ToolError::Forbidden { .. }) => {
                    return self.result(call, Err(e.to_string()), true).await;
                }
                Err(e) => Err(e.to_string()),
            }
        } else if caller.role < info.role {
            return self
                .result(
                    call,
                    Err(format!(
                        "the tool '{}' needs the {} role; this task runs as {}",
                        call.name,
                        info.role.as_str(),
                        caller.role.as_str()
                    )),
                    true,
                )
                .await;
        } else {
            let args = match &call.arguments {
                Value::Object(m) => m.clone(),
                _ => serde_json::Map::new(),
            };
            match Catalog::new(self.state).call(&call.name, args).await {
                Ok(o) if o.is_error => Err(json!({"content": o.content}).to_string()),
                Ok(o) => {
                    Ok(json!({"content": o.content, "structured_content": o.structured_content}))
                }
                Err(e) => Err(e.to_string()),
            }
        };
        self.result(call, outcome, false).await
    }

    /// Asks a human; `Some(why)` when the call was rejected.
    async fn ask(
        &mut self,
        call: &ToolCall,
        info: &ToolInfo,
        effect: &str,
    ) -> Result<Option<String>, String> {
        let state = self.state;
        let id = self.task.id.clone();
        let (tx, rx) = oneshot::channel();
        *slot_lock(&self.slot) = Some(Pending {
            needs: info.role.max(Role::Operator),
            tool: call.name.clone(),
            answer: tx,
        });
        let seq = self.seq;
        self.step(
            "approval_request",
            json!({"call_id": call.id, "name": call.name, "effect": effect, "arguments": call.arguments}),
            (0, 0),
            0,
        )
        .await?;
        state
            .store
            .ai_tasks()
            .transition(&id, "running", Status::AwaitingApproval.as_str())
            .await
            .map_err(|e| e.to_string())?;
        publish(state, &id, &self.task.creator_name).await;
        state
            .events
            .publish_committed(AiTaskAwaitingApproval {
                id: id.clone(),
                creator: self.task.creator_name.clone(),
                seq,
                tool: call.name.clone(),
                effect: effect.to_owned(),
                arguments: call.arguments.clone(),
                call_id: call.id.clone(),
            })
            .await;
        let verdict = rx
            .await
            .map_err(|_| "the approval request was dropped".to_owned())?;
        let reason = verdict.reason.clone();
        self.step(
            if verdict.approve {
                "approval"
            } else {
                "rejection"
            },
            json!({"call_id": call.id, "name": call.name, "by": verdict.by.username,
                   "by_user_id": verdict.by.user_id, "reason": reason}),
            (0, 0),
            0,
        )
        .await?;
        state
            .store
            .ai_tasks()
            .transition(&id, "awaiting_approval", Status::Running.as_str())
            .await
            .map_err(|e| e.to_string())?;
        publish(state, &id, &self.task.creator_name).await;
        Ok((!verdict.approve).then(|| {
            format!(
                "rejected by {}{}",
                verdict.by.username,
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            )
        }))
    }

    /// Persists a call's result (secrets masked) and returns what the model is told.
    async fn result(
        &mut self,
        call: &ToolCall,
        outcome: Result<Value, String>,
        refused: bool,
    ) -> Result<String, String> {
        let (payload, told) = match outcome {
            Ok(mut v) => {
                mask_secrets(&mut v);
                let told = truncate(&v.to_string(), RESULT_MAX_CHARS);
                (
                    json!({"call_id": call.id, "name": call.name, "ok": true, "result": v}),
                    told,
                )
            }
            Err(e) => (
                json!({"call_id": call.id, "name": call.name, "ok": false, "refused": refused, "error": e}),
                json!({"error": e}).to_string(),
            ),
        };
        self.step("tool_result", payload, (0, 0), 0).await?;
        Ok(told)
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// Keys whose values are secrets wherever they appear in a tool's result.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "private_key",
        "credential",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// Masks what the REST routes mask: environment values (`KEY=value` under an `Env`/`env`
/// list) and values under secret-looking keys.
pub fn mask_secrets(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if (k == "Env" || k == "env")
                    && let Some(list) = val.as_array_mut()
                {
                    for e in list.iter_mut() {
                        if let Some(s) = e.as_str() {
                            let key = s.split_once('=').map_or(s, |(k, _)| k).to_owned();
                            *e = Value::String(format!("{key}={}", crate::modules::REDACTED));
                        }
                    }
                } else if secret_key(k) && !val.is_object() && !val.is_array() && !val.is_null() {
                    *val = Value::String(crate::modules::REDACTED.to_owned());
                } else {
                    mask_secrets(val);
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_results_are_masked() {
        let mut v = json!({"Config": {"Env": ["A=1", "PASSWORD=hunter2"]},
                           "items": [{"api_token": "abc", "name": "x"}]});
        mask_secrets(&mut v);
        assert_eq!(
            v["Config"]["Env"],
            json!(["A=********", "PASSWORD=********"])
        );
        assert_eq!(v["items"][0]["api_token"], "********");
        assert_eq!(v["items"][0]["name"], "x");
    }
}
