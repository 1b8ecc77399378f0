//! The AI tasks' tables (`ai_tasks`, `ai_task_steps`, `ai_conversations`) as accessors on
//! [`Store`] (`state.store.ai_tasks()`).

use crate::store::{Store, StoreError, StoreResult, now_ms};

pub trait AiTaskStore {
    fn ai_tasks(&self) -> Tasks<'_>;
}

impl AiTaskStore for Store {
    fn ai_tasks(&self) -> Tasks<'_> {
        Tasks(self)
    }
}

/// A task as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRow {
    pub id: String,
    pub creator_id: String,
    pub creator_name: String,
    pub creator_role: String,
    pub prompt: String,
    pub mode: String,
    pub model: Option<String>,
    pub provider_used: Option<String>,
    pub model_used: Option<String>,
    pub status: String,
    pub max_steps: i64,
    pub max_tokens: i64,
    pub max_seconds: i64,
    pub max_cost_micros: i64,
    pub turns: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
    pub result: Option<String>,
    pub error: Option<String>,
    pub conversation_id: Option<String>,
    pub session_id: Option<String>,
    pub retry_of: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

macro_rules! columns {
    () => {
        "id, creator_id, creator_name, creator_role, prompt, mode, model, provider_used, \
         model_used, status, max_steps, max_tokens, max_seconds, max_cost_micros, turns, \
         input_tokens, output_tokens, cost_micros, result, error, conversation_id, session_id, \
         retry_of, created_at, started_at, finished_at"
    };
}

/// One step of a transcript.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StepRow {
    pub task_id: String,
    pub seq: i64,
    pub kind: String,
    pub payload: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
    pub at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationRow {
    pub id: String,
    pub title: String,
    pub creator_id: String,
    pub creator_name: String,
    pub created_at: i64,
}

/// What a usage update adds to a task's totals.
#[derive(Debug, Clone, Default)]
pub struct TurnTotals {
    pub provider: String,
    pub model: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
}

/// Statuses a task can still move from.
pub const LIVE: [&str; 3] = ["queued", "running", "awaiting_approval"];

pub struct Tasks<'a>(&'a Store);

impl Tasks<'_> {
    pub async fn insert(&self, t: &TaskRow) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO ai_tasks (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
             $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)"
        ))
        .bind(&t.id)
        .bind(&t.creator_id)
        .bind(&t.creator_name)
        .bind(&t.creator_role)
        .bind(&t.prompt)
        .bind(&t.mode)
        .bind(&t.model)
        .bind(&t.provider_used)
        .bind(&t.model_used)
        .bind(&t.status)
        .bind(t.max_steps)
        .bind(t.max_tokens)
        .bind(t.max_seconds)
        .bind(t.max_cost_micros)
        .bind(t.turns)
        .bind(t.input_tokens)
        .bind(t.output_tokens)
        .bind(t.cost_micros)
        .bind(&t.result)
        .bind(&t.error)
        .bind(&t.conversation_id)
        .bind(&t.session_id)
        .bind(&t.retry_of)
        .bind(t.created_at)
        .bind(t.started_at)
        .bind(t.finished_at)
        .execute(self.0.write_pool())
        .await?;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> StoreResult<TaskRow> {
        sqlx::query_as::<_, TaskRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM ai_tasks WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.0.read_pool())
        .await?
        .ok_or(StoreError::NotFound("AI task"))
    }

    /// A page of tasks, newest first, optionally of one status and one conversation.
    pub async fn list(
        &self,
        status: Option<&str>,
        conversation: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<TaskRow>, i64)> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM ai_tasks WHERE ($1 IS NULL OR status = $1) \
             AND ($2 IS NULL OR conversation_id = $2)",
        )
        .bind(status)
        .bind(conversation)
        .fetch_one(self.0.read_pool())
        .await?;
        let rows = sqlx::query_as::<_, TaskRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM ai_tasks WHERE ($1 IS NULL OR status = $1) \
             AND ($2 IS NULL OR conversation_id = $2) ORDER BY created_at DESC, id DESC \
             LIMIT $3 OFFSET $4"
        ))
        .bind(status)
        .bind(conversation)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.0.read_pool())
        .await?;
        Ok((rows, total))
    }

    /// The finished tasks of a conversation before `before` (ms), oldest first.
    pub async fn earlier_in_conversation(
        &self,
        conversation: &str,
        before: i64,
        limit: i64,
    ) -> StoreResult<Vec<TaskRow>> {
        let mut rows = sqlx::query_as::<_, TaskRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM ai_tasks WHERE conversation_id = $1 AND created_at < $2 \
             ORDER BY created_at DESC LIMIT $3"
        ))
        .bind(conversation)
        .bind(before)
        .bind(limit)
        .fetch_all(self.0.read_pool())
        .await?;
        rows.reverse();
        Ok(rows)
    }

    /// Moves a task from status `from` to `to`; false when it was not in `from`. The first move
    /// to `running` sets `started_at`.
    pub async fn transition(&self, id: &str, from: &str, to: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE ai_tasks SET status = $2, started_at = COALESCE(started_at, $3) \
             WHERE id = $1 AND status = $4",
        )
        .bind(id)
        .bind(to)
        .bind(now_ms())
        .bind(from)
        .execute(self.0.write_pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a live task with `status`, its result or error; false when it had ended already.
    pub async fn finish(
        &self,
        id: &str,
        status: &str,
        result: Option<&str>,
        error: Option<&str>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE ai_tasks SET status = $2, result = $3, error = $4, finished_at = $5 \
             WHERE id = $1 AND status IN ('queued', 'running', 'awaiting_approval')",
        )
        .bind(id)
        .bind(status)
        .bind(result)
        .bind(error)
        .bind(now_ms())
        .execute(self.0.write_pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Adds a model turn's usage to the task's totals.
    pub async fn add_turn(&self, id: &str, t: &TurnTotals) -> StoreResult<()> {
        sqlx::query(
            "UPDATE ai_tasks SET turns = turns + 1, input_tokens = input_tokens + $2, \
             output_tokens = output_tokens + $3, cost_micros = cost_micros + $4, \
             provider_used = $5, model_used = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(t.input_tokens)
        .bind(t.output_tokens)
        .bind(t.cost_micros)
        .bind(&t.provider)
        .bind(&t.model)
        .execute(self.0.write_pool())
        .await?;
        Ok(())
    }

    /// Every live task becomes `interrupted` (a master start: nothing runs them any more).
    pub async fn interrupt_live(&self, why: &str) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE ai_tasks SET status = 'interrupted', error = $1, finished_at = $2 \
             WHERE status IN ('queued', 'running', 'awaiting_approval')",
        )
        .bind(why)
        .bind(now_ms())
        .execute(self.0.write_pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// The next free step number of a task.
    pub async fn next_seq(&self, task: &str) -> StoreResult<i64> {
        let max: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM ai_task_steps WHERE task_id = $1")
                .bind(task)
                .fetch_one(self.0.read_pool())
                .await?;
        Ok(max.map_or(1, |m| m + 1))
    }

    pub async fn add_step(&self, s: &StepRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO ai_task_steps (task_id, seq, kind, payload, input_tokens, \
             output_tokens, cost_micros, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.task_id)
        .bind(s.seq)
        .bind(&s.kind)
        .bind(&s.payload)
        .bind(s.input_tokens)
        .bind(s.output_tokens)
        .bind(s.cost_micros)
        .bind(s.at)
        .execute(self.0.write_pool())
        .await?;
        Ok(())
    }

    pub async fn steps(&self, task: &str) -> StoreResult<Vec<StepRow>> {
        Ok(sqlx::query_as::<_, StepRow>(
            "SELECT task_id, seq, kind, payload, input_tokens, output_tokens, cost_micros, at \
             FROM ai_task_steps WHERE task_id = $1 ORDER BY seq",
        )
        .bind(task)
        .fetch_all(self.0.read_pool())
        .await?)
    }

    /// Deletes a task and its transcript, together.
    pub async fn delete(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.0.write_pool().begin().await?;
        sqlx::query("DELETE FROM ai_task_steps WHERE task_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM ai_tasks WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("AI task"));
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_conversation(&self, c: &ConversationRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO ai_conversations (id, title, creator_id, creator_name, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.id)
        .bind(&c.title)
        .bind(&c.creator_id)
        .bind(&c.creator_name)
        .bind(c.created_at)
        .execute(self.0.write_pool())
        .await?;
        Ok(())
    }

    pub async fn conversation(&self, id: &str) -> StoreResult<ConversationRow> {
        sqlx::query_as::<_, ConversationRow>(
            "SELECT id, title, creator_id, creator_name, created_at FROM ai_conversations \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.0.read_pool())
        .await?
        .ok_or(StoreError::NotFound("AI conversation"))
    }
}

/// A session as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub title: String,
    pub pinned: i64,
    pub tags: String,
    pub mode: String,
    pub model: Option<String>,
    pub creator_id: String,
    pub creator_name: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub ended_at: Option<i64>,
    pub ended_by: Option<String>,
}

/// A session's totals over its turns.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct SessionTotals {
    pub turns: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
}

macro_rules! session_columns {
    () => {
        "id, title, pinned, tags, mode, model, creator_id, creator_name, status, created_at, \
         updated_at, ended_at, ended_by"
    };
}

impl Tasks<'_> {
    /// Creates a session and its conversation (same id), together.
    pub async fn create_session(&self, s: &SessionRow) -> StoreResult<()> {
        let mut tx = self.0.write_pool().begin().await?;
        sqlx::query(
            "INSERT INTO ai_conversations (id, title, creator_id, creator_name, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&s.id)
        .bind(&s.title)
        .bind(&s.creator_id)
        .bind(&s.creator_name)
        .bind(s.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(concat!(
            "INSERT INTO ai_sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(&s.id)
        .bind(&s.title)
        .bind(s.pinned)
        .bind(&s.tags)
        .bind(&s.mode)
        .bind(&s.model)
        .bind(&s.creator_id)
        .bind(&s.creator_name)
        .bind(&s.status)
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(s.ended_at)
        .bind(&s.ended_by)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn session(&self, id: &str) -> StoreResult<SessionRow> {
        sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            " FROM ai_sessions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.0.read_pool())
        .await?
        .ok_or(StoreError::NotFound("AI session"))
    }

    /// A page of sessions: pinned first, then the most recently changed.
    pub async fn sessions(&self, limit: i64, offset: i64) -> StoreResult<(Vec<SessionRow>, i64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ai_sessions")
            .fetch_one(self.0.read_pool())
            .await?;
        let rows = sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            " FROM ai_sessions ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT $1 OFFSET $2"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.0.read_pool())
        .await?;
        Ok((rows, total))
    }

    /// Title, pin and tags; false when the session is gone.
    pub async fn update_session(
        &self,
        id: &str,
        title: &str,
        pinned: bool,
        tags: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE ai_sessions SET title = $2, pinned = $3, tags = $4, updated_at = $5 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(title)
        .bind(i64::from(pinned))
        .bind(tags)
        .bind(now_ms())
        .execute(self.0.write_pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends an active session; false when it had ended already.
    pub async fn end_session(&self, id: &str, by: &str) -> StoreResult<bool> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE ai_sessions SET status = 'ended', ended_at = $2, ended_by = $3, \
             updated_at = $2 WHERE id = $1 AND status = 'active'",
        )
        .bind(id)
        .bind(now)
        .bind(by)
        .execute(self.0.write_pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Marks a session changed (a new turn).
    pub async fn touch_session(&self, id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE ai_sessions SET updated_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms())
            .execute(self.0.write_pool())
            .await?;
        Ok(())
    }

    /// A session's turns, oldest first.
    pub async fn session_tasks(&self, id: &str) -> StoreResult<Vec<TaskRow>> {
        Ok(sqlx::query_as::<_, TaskRow>(concat!(
            "SELECT ",
            columns!(),
            " FROM ai_tasks WHERE session_id = $1 ORDER BY created_at, id"
        ))
        .bind(id)
        .fetch_all(self.0.read_pool())
        .await?)
    }

    pub async fn session_totals(&self, id: &str) -> StoreResult<SessionTotals> {
        Ok(sqlx::query_as::<_, SessionTotals>(
            "SELECT COUNT(*) AS turns, CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens, \
             CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens, \
             CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros FROM ai_tasks WHERE session_id = $1",
        )
        .bind(id)
        .fetch_one(self.0.read_pool())
        .await?)
    }
}
