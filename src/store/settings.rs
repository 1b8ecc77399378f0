//! Key/value settings (`/api/settings/{key}`), values stored as JSON text.

use super::{Store, StoreError, StoreResult, now_ms};

#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: String,
    pub value: serde_json::Value,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct SettingRow {
    key: String,
    value: String,
    updated_at: i64,
}

impl SettingRow {
    fn into_setting(self) -> StoreResult<Setting> {
        Ok(Setting {
            value: serde_json::from_str(&self.value).map_err(|e| {
                StoreError::Other(anyhow::anyhow!("stored setting {}: {e}", self.key))
            })?,
            key: self.key,
            updated_at: self.updated_at,
        })
    }
}

pub struct Settings<'a>(pub(super) &'a Store);

impl Settings<'_> {
    pub async fn get(&self, key: &str) -> StoreResult<Option<Setting>> {
        sqlx::query_as::<_, SettingRow>(
            "SELECT key, value, updated_at FROM settings WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(&self.0.read)
        .await?
        .map(SettingRow::into_setting)
        .transpose()
    }

    pub async fn put(
        &self,
        key: &str,
        value: &serde_json::Value,
        by: &str,
    ) -> StoreResult<Setting> {
        let mut tx = self.0.write.begin().await?;
        let setting = upsert(&mut tx, key, value, Some(by)).await?;
        tx.commit().await?;
        Ok(setting)
    }

    pub async fn all(&self) -> StoreResult<Vec<Setting>> {
        sqlx::query_as::<_, SettingRow>("SELECT key, value, updated_at FROM settings ORDER BY key")
            .fetch_all(&self.0.read)
            .await?
            .into_iter()
            .map(SettingRow::into_setting)
            .collect()
    }
}

pub(super) async fn upsert(
    tx: &mut sqlx::AnyConnection,
    key: &str,
    value: &serde_json::Value,
    by: Option<&str>,
) -> StoreResult<Setting> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
         updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(key)
    .bind(value.to_string())
    .bind(now)
    .bind(by)
    .execute(&mut *tx)
    .await?;
    Ok(Setting {
        key: key.to_owned(),
        value: value.clone(),
        updated_at: now,
    })
}
