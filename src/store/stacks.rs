//! Stacks (compose projects ContextBay stores or adopted) and CB's health snapshots of services.

use std::collections::BTreeMap;

use super::{Store, StoreError, StoreResult, conflict_on_unique, new_id, now_ms};

/// A stored stack.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    pub id: String,
    /// The compose project name, unique per endpoint.
    pub name: String,
    pub endpoint: String,
    pub compose: String,
    pub env: BTreeMap<String, String>,
    /// Found running on the host and taken over, rather than created here.
    pub adopted: bool,
    /// The last status seen: `stored`, `running`, `partial`, `stopped`.
    pub status: String,
    /// Where compose resolves relative paths (adopted stacks: where the project was started);
    /// `None`: the stack's own directory.
    pub project_dir: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a create writes.
#[derive(Debug, Clone)]
pub struct NewStack {
    pub name: String,
    pub endpoint: String,
    pub compose: String,
    pub env: BTreeMap<String, String>,
    pub adopted: bool,
    pub status: String,
    pub project_dir: Option<String>,
}

#[derive(sqlx::FromRow)]
struct StackRow {
    id: String,
    name: String,
    endpoint: String,
    compose: String,
    env: String,
    adopted: i64,
    status: String,
    project_dir: Option<String>,
    created_at: i64,
    updated_at: i64,
}

macro_rules! stack_columns {
    () => {
        "id, name, endpoint, compose, env, adopted, status, project_dir, created_at, updated_at"
    };
}

impl StackRow {
    fn into_stack(self) -> StoreResult<Stack> {
        Ok(Stack {
            env: serde_json::from_str(&self.env)
                .map_err(|e| StoreError::Other(anyhow::anyhow!("stored stack env: {e}")))?,
            id: self.id,
            name: self.name,
            endpoint: self.endpoint,
            compose: self.compose,
            adopted: self.adopted != 0,
            status: self.status,
            project_dir: self.project_dir,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn env_json(env: &BTreeMap<String, String>) -> StoreResult<String> {
    serde_json::to_string(env).map_err(|e| StoreError::Other(e.into()))
}

pub struct Stacks<'a>(pub(super) &'a Store);

impl Stacks<'_> {
    /// Every stack, by endpoint and name.
    pub async fn list(&self) -> StoreResult<Vec<Stack>> {
        sqlx::query_as::<_, StackRow>(concat!(
            "SELECT ",
            stack_columns!(),
            " FROM stacks ORDER BY endpoint, name"
        ))
        .fetch_all(&self.0.read)
        .await?
        .into_iter()
        .map(StackRow::into_stack)
        .collect()
    }

    pub async fn get(&self, id: &str) -> StoreResult<Stack> {
        sqlx::query_as::<_, StackRow>(concat!(
            "SELECT ",
            stack_columns!(),
            " FROM stacks WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.0.read)
        .await?
        .ok_or(StoreError::NotFound("stack"))?
        .into_stack()
    }

    /// The stack named `name` on `endpoint`, if one is stored.
    pub async fn find(&self, endpoint: &str, name: &str) -> StoreResult<Option<Stack>> {
        sqlx::query_as::<_, StackRow>(concat!(
            "SELECT ",
            stack_columns!(),
            " FROM stacks WHERE endpoint = $1 AND name = $2"
        ))
        .bind(endpoint)
        .bind(name)
        .fetch_optional(&self.0.read)
        .await?
        .map(StackRow::into_stack)
        .transpose()
    }

    pub async fn create(&self, new: &NewStack) -> StoreResult<Stack> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO stacks (id, name, endpoint, compose, env, adopted, status, project_dir, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(&new.name)
        .bind(&new.endpoint)
        .bind(&new.compose)
        .bind(env_json(&new.env)?)
        .bind(i64::from(new.adopted))
        .bind(&new.status)
        .bind(new.project_dir.as_deref())
        .bind(now)
        .bind(now)
        .execute(&self.0.write)
        .await
        .map_err(|e| {
            conflict_on_unique(
                e,
                format!(
                    "a stack named '{}' already exists on endpoint '{}'",
                    new.name, new.endpoint
                ),
            )
        })?;
        self.get(&id).await
    }

    /// Replaces the compose file and env.
    pub async fn update(
        &self,
        id: &str,
        compose: &str,
        env: &BTreeMap<String, String>,
    ) -> StoreResult<Stack> {
        let done =
            sqlx::query("UPDATE stacks SET compose = $1, env = $2, updated_at = $3 WHERE id = $4")
                .bind(compose)
                .bind(env_json(env)?)
                .bind(now_ms())
                .bind(id)
                .execute(&self.0.write)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("stack"));
        }
        self.get(id).await
    }

    /// Records the status last seen.
    pub async fn set_status(&self, id: &str, status: &str) -> StoreResult<()> {
        sqlx::query("UPDATE stacks SET status = $1 WHERE id = $2")
            .bind(status)
            .bind(id)
            .execute(&self.0.write)
            .await?;
        Ok(())
    }

    pub async fn delete(&self, id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM stacks WHERE id = $1")
            .bind(id)
            .execute(&self.0.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("stack"));
        }
        Ok(())
    }
}

/// CB's health snapshot of a service (`PUT /api/services/{id}/health`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceHealth {
    pub id: String,
    pub endpoint: String,
    /// `healthy`, `degraded`, `unhealthy` or `unknown`.
    pub status: String,
    pub detail: String,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct HealthRow {
    id: String,
    endpoint: String,
    status: String,
    detail: String,
    updated_at: i64,
}

impl From<HealthRow> for ServiceHealth {
    fn from(r: HealthRow) -> Self {
        Self {
            id: r.id,
            endpoint: r.endpoint,
            status: r.status,
            detail: r.detail,
            updated_at: r.updated_at,
        }
    }
}

pub struct ServiceHealths<'a>(pub(super) &'a Store);

impl ServiceHealths<'_> {
    pub async fn all(&self) -> StoreResult<Vec<ServiceHealth>> {
        Ok(sqlx::query_as::<_, HealthRow>(
            "SELECT id, endpoint, status, detail, updated_at FROM service_health",
        )
        .fetch_all(&self.0.read)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    pub async fn get(&self, id: &str) -> StoreResult<Option<ServiceHealth>> {
        Ok(sqlx::query_as::<_, HealthRow>(
            "SELECT id, endpoint, status, detail, updated_at FROM service_health WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.0.read)
        .await?
        .map(Into::into))
    }

    /// Stores the snapshot, replacing the previous one.
    pub async fn put(
        &self,
        id: &str,
        endpoint: &str,
        status: &str,
        detail: &str,
    ) -> StoreResult<ServiceHealth> {
        sqlx::query(
            "INSERT INTO service_health (id, endpoint, status, detail, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
             endpoint = excluded.endpoint, status = excluded.status, detail = excluded.detail, \
             updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(endpoint)
        .bind(status)
        .bind(detail)
        .bind(now_ms())
        .execute(&self.0.write)
        .await?;
        self.get(id)
            .await?
            .ok_or(StoreError::NotFound("service health"))
    }

    pub async fn delete(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM service_health WHERE id = $1")
            .bind(id)
            .execute(&self.0.write)
            .await?;
        Ok(())
    }
}
