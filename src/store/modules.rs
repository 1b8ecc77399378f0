//! Live module state: the enabled override and the configuration (secrets sealed by the caller).

use super::{Store, StoreError, StoreResult, now_ms};
use crate::modules::ModuleName;

#[derive(Debug, Clone, PartialEq)]
pub struct StoredModule {
    pub name: ModuleName,
    /// `None`: as the configuration file says.
    pub enabled: Option<bool>,
    /// As stored: secret values are sealed.
    pub config: serde_json::Map<String, serde_json::Value>,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct ModuleRow {
    name: String,
    enabled: Option<i64>,
    config: String,
    updated_at: i64,
}

impl ModuleRow {
    fn into_module(self) -> StoreResult<Option<StoredModule>> {
        // A module that a newer version stored and this one does not know is skipped.
        let Some(name) = ModuleName::parse(&self.name) else {
            return Ok(None);
        };
        let config = serde_json::from_str(&self.config)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("stored module config {name}: {e}")))?;
        Ok(Some(StoredModule {
            name,
            enabled: self.enabled.map(|v| v != 0),
            config,
            updated_at: self.updated_at,
        }))
    }
}

/// Stored module state by name (`None`: no row), as last read.
pub(super) type ModuleCache = super::cache::Cache<ModuleName, Option<StoredModule>>;

pub struct Modules<'a>(pub(super) &'a Store);

impl Modules<'_> {
    pub async fn get(&self, name: ModuleName) -> StoreResult<Option<StoredModule>> {
        let (cached, generation) = self.0.modules.get(&name);
        if let Some(cached) = cached {
            return Ok(cached);
        }
        let stored = self.read(name).await?;
        self.0.modules.fill(name, stored.clone(), generation);
        Ok(stored)
    }

    async fn read(&self, name: ModuleName) -> StoreResult<Option<StoredModule>> {
        Ok(sqlx::query_as::<_, ModuleRow>(
            "SELECT name, enabled, config, updated_at FROM module_config WHERE name = $1",
        )
        .bind(name.as_str())
        .fetch_optional(&self.0.read)
        .await?
        .map(ModuleRow::into_module)
        .transpose()?
        .flatten())
    }

    /// Only the enabled override; this runs on every request to a module's routes.
    pub async fn enabled_override(&self, name: ModuleName) -> StoreResult<Option<bool>> {
        Ok(self.get(name).await?.and_then(|m| m.enabled))
    }

    pub async fn all(&self) -> StoreResult<Vec<StoredModule>> {
        let rows = sqlx::query_as::<_, ModuleRow>(
            "SELECT name, enabled, config, updated_at FROM module_config ORDER BY name",
        )
        .fetch_all(&self.0.read)
        .await?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(m) = row.into_module()? {
                out.push(m);
            }
        }
        Ok(out)
    }

    pub async fn put(&self, module: &StoredModule) -> StoreResult<()> {
        let mut tx = self.0.write.begin().await?;
        upsert(&mut tx, module).await?;
        let done = tx.commit().await;
        self.0.modules.invalidate();
        done?;
        Ok(())
    }
}

pub(super) async fn upsert(tx: &mut sqlx::AnyConnection, module: &StoredModule) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO module_config (name, enabled, config, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, config = excluded.config, \
         updated_at = excluded.updated_at",
    )
    .bind(module.name.as_str())
    .bind(module.enabled.map(i64::from))
    .bind(serde_json::Value::Object(module.config.clone()).to_string())
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
