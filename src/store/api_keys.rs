//! API keys: stored as SHA-256 hashes of `cb_…` keys with 256 bits of entropy.

use super::{Store, StoreError, StoreResult, new_id, now_ms};
use crate::auth::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The first characters of the key, to recognise it in lists.
    pub prefix: String,
    pub role: Role,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// A key found by its hash, with the owner's current state.
#[derive(Debug, Clone)]
pub struct KeyOwner {
    pub key: ApiKey,
    pub username: String,
    pub user_role: Role,
    pub user_disabled: bool,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    user_id: String,
    name: String,
    prefix: String,
    role: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
}

impl KeyRow {
    fn into_key(self) -> StoreResult<ApiKey> {
        Ok(ApiKey {
            role: Role::parse(&self.role)
                .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown stored role")))?,
            id: self.id,
            user_id: self.user_id,
            name: self.name,
            prefix: self.prefix,
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct KeyOwnerRow {
    id: String,
    user_id: String,
    name: String,
    prefix: String,
    role: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
    username: String,
    user_role: String,
    user_disabled: i64,
}

macro_rules! key_columns {
    () => {
        "id, user_id, name, prefix, role, created_at, expires_at, last_used_at"
    };
}

macro_rules! owner_select {
    () => {
        "SELECT k.id, k.user_id, k.name, k.prefix, k.role, k.created_at, k.expires_at, \
         k.last_used_at, k.revoked_at, u.username, u.role AS user_role, \
         u.disabled AS user_disabled FROM api_keys k JOIN users u ON u.id = k.user_id"
    };
}

/// Live keys found by hash, read on every request authenticated with an API key. Every write to
/// keys or to their owners invalidates it; a hit is checked for expiry again.
pub(super) type KeyCache = super::cache::Cache<String, KeyOwner>;

/// How many live keys one user may hold.
pub const MAX_KEYS_PER_USER: i64 = 100;

pub struct ApiKeys<'a>(pub(super) &'a Store);

impl ApiKeys<'_> {
    pub async fn create(
        &self,
        user_id: &str,
        name: &str,
        prefix: &str,
        key_hash: &str,
        role: Role,
        expires_at: Option<i64>,
    ) -> StoreResult<ApiKey> {
        let mut tx = self.0.write.begin().await?;
        // Counted below against the limit: one user's creations take turns.
        self.0
            .serialize(&mut tx, &format!("api_keys.user:{user_id}"))
            .await?;
        let live: i64 = sqlx::Row::try_get(
            &sqlx::query(
                "SELECT COUNT(*) AS n FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?,
            "n",
        )?;
        if live >= MAX_KEYS_PER_USER {
            return Err(StoreError::Conflict(format!(
                "at most {MAX_KEYS_PER_USER} API keys per user; revoke one first"
            )));
        }
        let key = ApiKey {
            id: new_id(),
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            prefix: prefix.to_owned(),
            role,
            created_at: now_ms(),
            expires_at,
            last_used_at: None,
        };
        insert(&mut tx, &key, key_hash).await?;
        let done = tx.commit().await;
        self.0.api_keys.invalidate();
        done?;
        Ok(key)
    }

    /// The caller's live keys, newest first.
    pub async fn list_for_user(&self, user_id: &str) -> StoreResult<Vec<ApiKey>> {
        let sql = concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL \
             ORDER BY created_at DESC"
        );
        sqlx::query_as::<_, KeyRow>(sql)
            .bind(user_id)
            .fetch_all(&self.0.read)
            .await?
            .into_iter()
            .map(KeyRow::into_key)
            .collect()
    }

    pub async fn get(&self, id: &str) -> StoreResult<ApiKey> {
        let sql = concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id = $1 AND revoked_at IS NULL"
        );
        sqlx::query_as::<_, KeyRow>(sql)
            .bind(id)
            .fetch_optional(&self.0.read)
            .await?
            .ok_or(StoreError::NotFound("API key"))?
            .into_key()
    }

    pub async fn revoke(&self, id: &str) -> StoreResult<()> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(id)
                .execute(&self.0.write)
                .await;
        self.0.api_keys.invalidate();
        if done?.rows_affected() == 0 {
            return Err(StoreError::NotFound("API key"));
        }
        Ok(())
    }

    /// The live, unexpired key with this hash and its owner, or `None`. Served from the key
    /// cache when it can be (unknown hashes are not cached: they are asked every time).
    pub async fn find_live_by_hash(&self, key_hash: &str) -> StoreResult<Option<KeyOwner>> {
        let cache_key = key_hash.to_owned();
        let (cached, generation) = self.0.api_keys.get(&cache_key);
        if let Some(owner) = cached {
            return Ok(owner
                .key
                .expires_at
                .is_none_or(|t| t > now_ms())
                .then_some(owner));
        }
        let owner = self.read_live_by_hash(key_hash).await?;
        if let Some(owner) = &owner {
            self.0.api_keys.fill(cache_key, owner.clone(), generation);
        }
        Ok(owner)
    }

    /// The live, unexpired key with this id and its owner, or `None`: what a long-lived socket
    /// opened with the key re-checks every few seconds. Served from the key cache (under
    /// `id:<id>`, apart from the hashes), which every write to keys or users invalidates.
    pub async fn find_live_by_id(&self, id: &str) -> StoreResult<Option<KeyOwner>> {
        let cache_key = format!("id:{id}");
        let (cached, generation) = self.0.api_keys.get(&cache_key);
        if let Some(owner) = cached {
            return Ok(owner
                .key
                .expires_at
                .is_none_or(|t| t > now_ms())
                .then_some(owner));
        }
        let row = sqlx::query_as::<_, KeyOwnerRow>(concat!(owner_select!(), " WHERE k.id = $1"))
            .bind(id)
            .fetch_optional(&self.0.read)
            .await?;
        let owner = owner_of(row)?;
        if let Some(owner) = &owner {
            self.0.api_keys.fill(cache_key, owner.clone(), generation);
        }
        Ok(owner)
    }

    async fn read_live_by_hash(&self, key_hash: &str) -> StoreResult<Option<KeyOwner>> {
        let row =
            sqlx::query_as::<_, KeyOwnerRow>(concat!(owner_select!(), " WHERE k.key_hash = $1"))
                .bind(key_hash)
                .fetch_optional(&self.0.read)
                .await?;
        owner_of(row)
    }

    /// Records a use (at most once a minute per key, see `auth::credentials`). The cached row
    /// goes too, so the next request sees the new time instead of touching again.
    pub async fn touch(&self, id: &str) -> StoreResult<()> {
        let done = sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.0.write)
            .await;
        self.0.api_keys.invalidate();
        done?;
        Ok(())
    }

    /// Every live key with its hash, for export.
    pub async fn all_with_hashes(&self) -> StoreResult<Vec<(ApiKey, String)>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            ", key_hash FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at"
        ))
        .fetch_all(&self.0.read)
        .await?;
        rows.into_iter()
            .map(|row| {
                use sqlx::{FromRow, Row};
                let hash: String = row.try_get("key_hash")?;
                Ok((KeyRow::from_row(&row)?.into_key()?, hash))
            })
            .collect()
    }
}

/// The key and owner of `row`, when the key is live.
fn owner_of(row: Option<KeyOwnerRow>) -> StoreResult<Option<KeyOwner>> {
    let Some(row) = row else { return Ok(None) };
    let now = now_ms();
    if row.revoked_at.is_some() || row.expires_at.is_some_and(|t| t <= now) {
        return Ok(None);
    }
    let user_role = Role::parse(&row.user_role)
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown stored role")))?;
    Ok(Some(KeyOwner {
        key: KeyRow {
            id: row.id,
            user_id: row.user_id,
            name: row.name,
            prefix: row.prefix,
            role: row.role,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
        }
        .into_key()?,
        username: row.username,
        user_role,
        user_disabled: row.user_disabled != 0,
    }))
}

pub(super) async fn insert(
    tx: &mut sqlx::AnyConnection,
    key: &ApiKey,
    key_hash: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, user_id, name, prefix, key_hash, role, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&key.id)
    .bind(&key.user_id)
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(key_hash)
    .bind(key.role.as_str())
    .bind(key.created_at)
    .bind(key.expires_at)
    .execute(&mut *tx)
    .await
    .map_err(|e| super::conflict_on_unique(e, "an API key with this id or hash exists"))?;
    Ok(())
}
