//! AI sessions: long-lived conversations whose turns are AI tasks (`POST /api/ai/tasks` with
//! `session_id`). A session's id is also its conversation's, so each turn sees the earlier ones;
//! its view adds the token usage and cost of every turn. Ending it cancels its live turns.
//! Changing or ending a session is for its creator or an admin.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store::{AiTaskStore, SessionRow, SessionTotals};
use super::{Status, TaskError, TaskView, UsageView, cancel, check_route, invalid, ts, usd};
use crate::auth::Role;
use crate::modules::ModuleError;
use crate::modules::ai::tools::Caller;
use crate::state::AppState;
use crate::store::{StoreError, new_id, now_ms};

pub const MAX_TAGS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AiSessionStatus)]
pub enum SessionStatus {
    Active,
    Ended,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiSessionBody)]
pub struct NewSession {
    #[schema(min_length = 1, max_length = 200, pattern = "[^ \t\n\r]")]
    pub title: String,
    #[serde(default)]
    pub pinned: bool,
    /// At most 20 tags of 1 to 40 letters, digits, `_`, `.`, `:` or `-`.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
    /// The default mode of its turns (default `supervised`).
    #[serde(default)]
    #[schema(max_length = 64)]
    pub mode: Option<String>,
    /// The default model of its turns; absent: the router chooses.
    #[serde(default)]
    #[schema(max_length = 300, pattern = "[^ \t\n\r]")]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiSessionUpdate)]
pub struct SessionUpdate {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = "[^ \t\n\r]")]
    pub title: Option<String>,
    #[serde(default)]
    pub pinned: Option<bool>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiSession)]
pub struct SessionView {
    #[schema(format = Uuid)]
    pub id: String,
    pub title: String,
    pub pinned: bool,
    pub tags: Vec<String>,
    pub mode: String,
    pub model: Option<String>,
    pub status: SessionStatus,
    pub creator: String,
    pub created_at: String,
    pub updated_at: String,
    pub ended_at: Option<String>,
    pub ended_by: Option<String>,
    /// Over every turn.
    pub usage: UsageView,
}

/// A session with its turns (each a task with its transcript, usage and cost).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiSessionDetail)]
pub struct SessionDetail {
    pub session: SessionView,
    pub turns: Vec<TaskView>,
}

fn view(s: SessionRow, t: SessionTotals) -> SessionView {
    SessionView {
        tags: serde_json::from_str(&s.tags).unwrap_or_default(),
        status: if s.status == "ended" {
            SessionStatus::Ended
        } else {
            SessionStatus::Active
        },
        id: s.id,
        title: s.title,
        pinned: s.pinned != 0,
        mode: s.mode,
        model: s.model,
        creator: s.creator_name,
        created_at: ts(s.created_at),
        updated_at: ts(s.updated_at),
        ended_at: s.ended_at.map(ts),
        ended_by: s.ended_by,
        usage: UsageView {
            turns: t.turns,
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            cost_usd: usd(t.cost_micros),
        },
    }
}

fn title(raw: &str) -> Result<String, ModuleError> {
    let t = crate::modules::trim_blank(raw).to_owned();
    if t.is_empty() {
        return Err(invalid("title", "title must not be blank"));
    }
    if t.chars().count() > 200 {
        return Err(invalid("title", "title is at most 200 characters"));
    }
    Ok(t)
}

fn tags(raw: Vec<String>) -> Result<String, ModuleError> {
    if raw.len() > MAX_TAGS {
        return Err(invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        let ok = (1..=40).contains(&t.chars().count())
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'));
        if !ok {
            return Err(invalid(
                &format!("tags[{i}]"),
                format!("tag '{t}' is not 1 to 40 letters, digits, `_`, `.`, `:` or `-`"),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    serde_json::to_string(&out).map_err(|e| ModuleError::Internal(e.to_string()))
}

async fn with_totals(state: &AppState, s: SessionRow) -> Result<SessionView, ModuleError> {
    let totals = state.store.ai_tasks().session_totals(&s.id).await?;
    Ok(view(s, totals))
}

pub async fn create(
    state: &AppState,
    by: &Caller,
    body: NewSession,
) -> Result<SessionView, ModuleError> {
    let title = title(&body.title)?;
    let tags = tags(body.tags)?;
    let mode_id = body.mode.unwrap_or_else(|| "supervised".to_owned());
    let cfg = crate::modules::ai::router::RouterConfig::load(state).await?;
    let (mode, model) = check_route(state, &cfg, &mode_id, body.model, 0).await?;
    let now = now_ms();
    let row = SessionRow {
        id: new_id(),
        title,
        pinned: i64::from(body.pinned),
        tags,
        mode,
        model,
        creator_id: by.user_id.clone(),
        creator_name: by.username.clone(),
        status: "active".to_owned(),
        created_at: now,
        updated_at: now,
        ended_at: None,
        ended_by: None,
    };
    state.store.ai_tasks().create_session(&row).await?;
    Ok(view(row, SessionTotals::default()))
}

pub async fn list(
    state: &AppState,
    limit: i64,
    offset: i64,
) -> Result<(Vec<SessionView>, i64), ModuleError> {
    let (rows, total) = state.store.ai_tasks().sessions(limit, offset).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(with_totals(state, r).await?);
    }
    Ok((out, total))
}

pub async fn detail(
    state: &AppState,
    id: &str,
    reader: Role,
) -> Result<SessionDetail, ModuleError> {
    let s = state.store.ai_tasks().session(id).await?;
    let session = with_totals(state, s).await?;
    let mut turns = Vec::new();
    for t in state.store.ai_tasks().session_tasks(id).await? {
        turns.push(super::detail(state, &t.id, reader).await?);
    }
    Ok(SessionDetail { session, turns })
}

fn may_manage(s: &SessionRow, who: &Caller) -> Result<(), TaskError> {
    if s.creator_id == who.user_id || who.role >= Role::Admin {
        Ok(())
    } else {
        Err(TaskError::Forbidden(format!(
            "only {} (who started the session) or an admin may do this",
            s.creator_name
        )))
    }
}

pub async fn update(
    state: &AppState,
    id: &str,
    by: &Caller,
    body: SessionUpdate,
) -> Result<SessionView, TaskError> {
    let s = state.store.ai_tasks().session(id).await?;
    may_manage(&s, by)?;
    let new_title = match &body.title {
        Some(t) => title(t)?,
        None => s.title.clone(),
    };
    let new_tags = match body.tags {
        Some(t) => tags(t)?,
        None => s.tags.clone(),
    };
    let pinned = body.pinned.unwrap_or(s.pinned != 0);
    if !state
        .store
        .ai_tasks()
        .update_session(id, &new_title, pinned, &new_tags)
        .await?
    {
        return Err(StoreError::NotFound("AI session").into());
    }
    let s = state.store.ai_tasks().session(id).await?;
    Ok(with_totals(state, s).await?)
}

/// Ends a session: no new turns, its live turns cancelled.
pub async fn end(state: &AppState, id: &str, by: &Caller) -> Result<SessionView, TaskError> {
    let s = state.store.ai_tasks().session(id).await?;
    may_manage(&s, by)?;
    if !state.store.ai_tasks().end_session(id, &by.username).await? {
        return Err(TaskError::Conflict(
            "the session has ended already".to_owned(),
        ));
    }
    for t in state.store.ai_tasks().session_tasks(id).await? {
        if Status::parse(&t.status).is_some_and(Status::is_live) {
            match cancel(state, &t.id, by).await {
                Ok(_) | Err(TaskError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let s = state.store.ai_tasks().session(id).await?;
    Ok(with_totals(state, s).await?)
}
