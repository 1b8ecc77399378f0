//! The AI module's tables, as accessors on [`Store`] (`state.store.ai_modes()`).

use std::collections::BTreeMap;

use crate::store::{Store, StoreError, StoreResult, conflict_on_unique, new_id, now_ms};

pub trait AiStore {
    fn ai_modes(&self) -> Modes<'_>;
}

impl AiStore for Store {
    fn ai_modes(&self) -> Modes<'_> {
        Modes(self)
    }
}

/// A custom mode as stored; actions are the words `run`, `ask`, `refuse`.
#[derive(Debug, Clone)]
pub struct StoredMode {
    pub id: String,
    pub name: String,
    pub description: String,
    pub read_action: String,
    pub write_action: String,
    pub tools: BTreeMap<String, String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: Option<String>,
}

/// What a create or update writes.
#[derive(Debug, Clone)]
pub struct ModeFields {
    pub name: String,
    pub description: String,
    pub read_action: String,
    pub write_action: String,
    pub tools: BTreeMap<String, String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    description: String,
    read_action: String,
    write_action: String,
    tools: String,
    created_at: i64,
    updated_at: i64,
    updated_by: Option<String>,
}

macro_rules! columns {
    () => {
        "id, name, description, read_action, write_action, tools, created_at, updated_at, \
         updated_by"
    };
}

impl Row {
    fn into_mode(self) -> StoreResult<StoredMode> {
        Ok(StoredMode {
            tools: serde_json::from_str(&self.tools)
                .map_err(|e| StoreError::Other(anyhow::anyhow!("stored AI mode tools: {e}")))?,
            id: self.id,
            name: self.name,
            description: self.description,
            read_action: self.read_action,
            write_action: self.write_action,
            created_at: self.created_at,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
        })
    }
}

fn duplicate(name: &str) -> String {
    format!("an AI mode named '{name}' already exists")
}

fn tools_json(tools: &BTreeMap<String, String>) -> String {
    serde_json::to_string(tools).unwrap_or_else(|_| "{}".to_owned())
}

pub struct Modes<'a>(&'a Store);

impl Modes<'_> {
    /// Every custom mode, by name.
    pub async fn list(&self) -> StoreResult<Vec<StoredMode>> {
        sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            columns!(),
            " FROM ai_modes ORDER BY name"
        ))
        .fetch_all(self.0.read_pool())
        .await?
        .into_iter()
        .map(Row::into_mode)
        .collect()
    }

    pub async fn get(&self, id: &str) -> StoreResult<StoredMode> {
        sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            columns!(),
            " FROM ai_modes WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.0.read_pool())
        .await?
        .ok_or(StoreError::NotFound("AI mode"))?
        .into_mode()
    }

    pub async fn create(&self, f: &ModeFields, by: &str) -> StoreResult<StoredMode> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO ai_modes (id, name, description, read_action, write_action, tools, \
             created_at, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
        )
        .bind(&id)
        .bind(&f.name)
        .bind(&f.description)
        .bind(&f.read_action)
        .bind(&f.write_action)
        .bind(tools_json(&f.tools))
        .bind(now)
        .bind(by)
        .execute(self.0.write_pool())
        .await
        .map_err(|e| conflict_on_unique(e, duplicate(&f.name)))?;
        self.get(&id).await
    }

    pub async fn update(&self, id: &str, f: &ModeFields, by: &str) -> StoreResult<StoredMode> {
        let done = sqlx::query(
            "UPDATE ai_modes SET name = $2, description = $3, read_action = $4, \
             write_action = $5, tools = $6, updated_at = $7, updated_by = $8 WHERE id = $1",
        )
        .bind(id)
        .bind(&f.name)
        .bind(&f.description)
        .bind(&f.read_action)
        .bind(&f.write_action)
        .bind(tools_json(&f.tools))
        .bind(now_ms())
        .bind(by)
        .execute(self.0.write_pool())
        .await
        .map_err(|e| conflict_on_unique(e, duplicate(&f.name)))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("AI mode"));
        }
        self.get(id).await
    }

    pub async fn delete(&self, id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM ai_modes WHERE id = $1")
            .bind(id)
            .execute(self.0.write_pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("AI mode"));
        }
        Ok(())
    }
}
