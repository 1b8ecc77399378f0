//! The MCP servers registered with the AI module (`ai_mcp_servers`), as accessors on [`Store`]
//! (`state.store.mcp_servers()` after `use …::mcp::store::McpStore`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::{Store, StoreError, StoreResult, conflict_on_unique, new_id, now_ms};

/// How the master reaches a server, as stored: every env and header value is sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "transport", rename_all = "lowercase")]
pub enum StoredTransport {
    Stdio {
        command: String,
        args: Vec<String>,
        /// Variable name → sealed value.
        env: BTreeMap<String, String>,
    },
    Http {
        url: String,
        /// Header name → sealed value.
        headers: BTreeMap<String, String>,
    },
}

impl StoredTransport {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Stdio { .. } => "stdio",
            Self::Http { .. } => "http",
        }
    }
}

/// One registered server.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServer {
    pub id: String,
    pub name: String,
    pub transport: StoredTransport,
    pub enabled: bool,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: Option<String>,
}

/// What a create or update writes.
#[derive(Debug, Clone)]
pub struct ServerFields {
    pub name: String,
    pub transport: StoredTransport,
    pub enabled: bool,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    config: String,
    enabled: i64,
    created_by: Option<String>,
    created_at: i64,
    updated_at: i64,
    updated_by: Option<String>,
}

macro_rules! columns {
    () => {
        "id, name, config, enabled, created_by, created_at, updated_at, updated_by"
    };
}

impl Row {
    fn into_server(self) -> StoreResult<McpServer> {
        let transport = serde_json::from_str(&self.config).map_err(|e| {
            StoreError::Other(anyhow::anyhow!("stored MCP server {}: {e}", self.id))
        })?;
        Ok(McpServer {
            id: self.id,
            name: self.name,
            transport,
            enabled: self.enabled != 0,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
        })
    }
}

fn config_json(transport: &StoredTransport) -> StoreResult<String> {
    serde_json::to_string(transport).map_err(|e| StoreError::Other(e.into()))
}

fn duplicate(name: &str) -> String {
    format!("an MCP server named '{name}' already exists")
}

/// The module's tables as accessors on [`Store`].
pub trait McpStore {
    fn mcp_servers(&self) -> McpServers<'_>;
}

impl McpStore for Store {
    fn mcp_servers(&self) -> McpServers<'_> {
        McpServers(self)
    }
}

pub struct McpServers<'a>(&'a Store);

impl McpServers<'_> {
    /// Every server, by name.
    pub async fn list(&self) -> StoreResult<Vec<McpServer>> {
        sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            columns!(),
            " FROM ai_mcp_servers ORDER BY name"
        ))
        .fetch_all(self.0.read_pool())
        .await?
        .into_iter()
        .map(Row::into_server)
        .collect()
    }

    pub async fn get(&self, id: &str) -> StoreResult<McpServer> {
        sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            columns!(),
            " FROM ai_mcp_servers WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.0.read_pool())
        .await?
        .ok_or(StoreError::NotFound("MCP server"))?
        .into_server()
    }

    pub async fn by_name(&self, name: &str) -> StoreResult<Option<McpServer>> {
        sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            columns!(),
            " FROM ai_mcp_servers WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.0.read_pool())
        .await?
        .map(Row::into_server)
        .transpose()
    }

    pub async fn create(&self, fields: &ServerFields, by: &str) -> StoreResult<McpServer> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO ai_mcp_servers (id, name, transport, config, enabled, created_by, \
             created_at, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $6)",
        )
        .bind(&id)
        .bind(&fields.name)
        .bind(fields.transport.kind())
        .bind(config_json(&fields.transport)?)
        .bind(i64::from(fields.enabled))
        .bind(by)
        .bind(now_ms())
        .execute(self.0.write_pool())
        .await
        .map_err(|e| conflict_on_unique(e, duplicate(&fields.name)))?;
        self.get(&id).await
    }

    /// Replaces a server's fields in one statement, only if it still is at `seen_updated_at`
    /// (what the caller read and merged its secrets from): a concurrent update in between is a
    /// conflict rather than a silent loss.
    pub async fn update(
        &self,
        id: &str,
        seen_updated_at: i64,
        fields: &ServerFields,
        by: &str,
    ) -> StoreResult<McpServer> {
        let now = now_ms().max(seen_updated_at + 1);
        let done = sqlx::query(
            "UPDATE ai_mcp_servers SET name = $2, transport = $3, config = $4, enabled = $5, \
             updated_at = $6, updated_by = $7 WHERE id = $1 AND updated_at = $8",
        )
        .bind(id)
        .bind(&fields.name)
        .bind(fields.transport.kind())
        .bind(config_json(&fields.transport)?)
        .bind(i64::from(fields.enabled))
        .bind(now)
        .bind(by)
        .bind(seen_updated_at)
        .execute(self.0.write_pool())
        .await
        .map_err(|e| conflict_on_unique(e, duplicate(&fields.name)))?;
        if done.rows_affected() == 0 {
            // Gone, or changed by someone else since it was read.
            self.get(id).await?;
            return Err(StoreError::Conflict(
                "the MCP server was changed concurrently; read it again and retry".into(),
            ));
        }
        self.get(id).await
    }

    pub async fn delete(&self, id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM ai_mcp_servers WHERE id = $1")
            .bind(id)
            .execute(self.0.write_pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("MCP server"));
        }
        Ok(())
    }
}
