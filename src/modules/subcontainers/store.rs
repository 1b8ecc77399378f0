//! The deployed sub-containers (`subcontainers` table): desired state and what their actors
//! observed.

use super::catalogue::ServiceConfig;
use crate::store::{Store, StoreError, StoreResult, now_ms};

/// A deployed (or being deployed) service.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployed {
    pub name: String,
    pub endpoint: String,
    pub stack_id: String,
    /// The desired configuration.
    pub config: ServiceConfig,
    /// The configuration of the last deploy that succeeded.
    pub deployed_config: Option<ServiceConfig>,
    /// Restarts the actor made.
    pub restarts: i64,
    pub last_restart_at: Option<i64>,
    pub flapping: bool,
    /// `healthy` or `unhealthy`, from the last probe.
    pub health: Option<String>,
    pub health_detail: Option<String>,
    pub health_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    name: String,
    endpoint: String,
    stack_id: String,
    config: String,
    deployed_config: Option<String>,
    restarts: i64,
    last_restart_at: Option<i64>,
    flapping: i64,
    health: Option<String>,
    health_detail: Option<String>,
    health_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

macro_rules! columns {
    () => {
        "name, endpoint, stack_id, config, deployed_config, restarts, last_restart_at, \
         flapping, health, health_detail, health_at, created_at, updated_at"
    };
}

fn parse(text: &str) -> StoreResult<ServiceConfig> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("stored sub-container config: {e}")))
}

fn json(c: &ServiceConfig) -> StoreResult<String> {
    serde_json::to_string(c).map_err(|e| StoreError::Other(e.into()))
}

impl Row {
    fn into_deployed(self) -> StoreResult<Deployed> {
        Ok(Deployed {
            config: parse(&self.config)?,
            deployed_config: self.deployed_config.as_deref().map(parse).transpose()?,
            name: self.name,
            endpoint: self.endpoint,
            stack_id: self.stack_id,
            restarts: self.restarts,
            last_restart_at: self.last_restart_at,
            flapping: self.flapping != 0,
            health: self.health,
            health_detail: self.health_detail,
            health_at: self.health_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

pub struct Subcontainers<'a>(&'a Store);

impl Subcontainers<'_> {
    pub async fn all(&self) -> StoreResult<Vec<Deployed>> {
        sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            columns!(),
            " FROM subcontainers ORDER BY name"
        ))
        .fetch_all(self.0.read_pool())
        .await?
        .into_iter()
        .map(Row::into_deployed)
        .collect()
    }

    pub async fn get(&self, name: &str) -> StoreResult<Option<Deployed>> {
        sqlx::query_as::<_, Row>(concat!(
            "SELECT ",
            columns!(),
            " FROM subcontainers WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(self.0.read_pool())
        .await?
        .map(Row::into_deployed)
        .transpose()
    }

    /// Records the desired state of `name` (a new deploy or a new configuration); what the actor
    /// observed is kept, but a new desired state is not flapping yet.
    pub async fn put_desired(
        &self,
        name: &str,
        endpoint: &str,
        stack_id: &str,
        config: &ServiceConfig,
    ) -> StoreResult<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO subcontainers (name, endpoint, stack_id, config, restarts, flapping, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 0, 0, $5, $6) \
             ON CONFLICT (name) DO UPDATE SET endpoint = excluded.endpoint, \
             stack_id = excluded.stack_id, config = excluded.config, flapping = 0, \
             updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(endpoint)
        .bind(stack_id)
        .bind(json(config)?)
        .bind(now)
        .bind(now)
        .execute(self.0.write_pool())
        .await?;
        Ok(())
    }

    /// The configuration a deploy that succeeded ran with.
    pub async fn set_deployed(&self, name: &str, config: &ServiceConfig) -> StoreResult<()> {
        sqlx::query(
            "UPDATE subcontainers SET deployed_config = $1, updated_at = $2 WHERE name = $3",
        )
        .bind(json(config)?)
        .bind(now_ms())
        .bind(name)
        .execute(self.0.write_pool())
        .await?;
        Ok(())
    }

    /// One restart made by the actor.
    pub async fn record_restart(&self, name: &str, at: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE subcontainers SET restarts = restarts + 1, last_restart_at = $1 \
             WHERE name = $2",
        )
        .bind(at)
        .bind(name)
        .execute(self.0.write_pool())
        .await?;
        Ok(())
    }

    pub async fn set_flapping(&self, name: &str, flapping: bool) -> StoreResult<()> {
        sqlx::query("UPDATE subcontainers SET flapping = $1 WHERE name = $2")
            .bind(i64::from(flapping))
            .bind(name)
            .execute(self.0.write_pool())
            .await?;
        Ok(())
    }

    pub async fn set_health(
        &self,
        name: &str,
        health: &str,
        detail: &str,
        at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE subcontainers SET health = $1, health_detail = $2, health_at = $3 \
             WHERE name = $4",
        )
        .bind(health)
        .bind(detail)
        .bind(at)
        .bind(name)
        .execute(self.0.write_pool())
        .await?;
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM subcontainers WHERE name = $1")
            .bind(name)
            .execute(self.0.write_pool())
            .await?;
        Ok(())
    }
}

/// The sub-containers' table, as an accessor on [`Store`] (`state.store.subcontainers()`).
pub trait SubcontainerStore {
    fn subcontainers(&self) -> Subcontainers<'_>;
}

impl SubcontainerStore for Store {
    fn subcontainers(&self) -> Subcontainers<'_> {
        Subcontainers(self)
    }
}
