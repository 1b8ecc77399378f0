//! Saved PromQL queries, per user.

use crate::secrets::sha256_hex;
use crate::store::{Page, Paged, Store, StoreResult, new_id, now_ms};

/// Entries kept per user; saving beyond it drops the least recently used.
pub const MAX_PER_USER: i64 = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub id: String,
    pub query: String,
    pub name: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub use_count: i64,
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    id: String,
    query: String,
    name: Option<String>,
    created_at: i64,
    last_used_at: i64,
    use_count: i64,
}

impl From<HistoryRow> for HistoryEntry {
    fn from(r: HistoryRow) -> Self {
        Self {
            id: r.id,
            query: r.query,
            name: r.name,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            use_count: r.use_count,
        }
    }
}

pub struct MetricsHistory<'a>(&'a Store);

impl MetricsHistory<'_> {
    /// The user's entries, most recently used first.
    pub async fn list(&self, user_id: &str, page: Page) -> StoreResult<Paged<HistoryEntry>> {
        let items = sqlx::query_as::<_, HistoryRow>(
            "SELECT id, query, name, created_at, last_used_at, use_count FROM metrics_history \
             WHERE user_id = $1 ORDER BY last_used_at DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(user_id)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(self.0.read_pool())
        .await?
        .into_iter()
        .map(HistoryEntry::from)
        .collect();
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM metrics_history WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(self.0.read_pool())
                .await?;
        Ok(Paged { items, total })
    }

    /// Saves a query; the same query again counts one more use (and takes a new name if given).
    pub async fn save(
        &self,
        user_id: &str,
        query: &str,
        name: Option<&str>,
    ) -> StoreResult<HistoryEntry> {
        let now = now_ms();
        let hash = sha256_hex(query.as_bytes());
        let mut tx = self.0.write_pool().begin().await?;
        sqlx::query(
            "INSERT INTO metrics_history (id, user_id, query, query_hash, name, created_at, \
             last_used_at, use_count) VALUES ($1, $2, $3, $4, $5, $6, $6, 1) \
             ON CONFLICT (user_id, query_hash) DO UPDATE SET last_used_at = excluded.last_used_at, \
             use_count = metrics_history.use_count + 1, \
             name = COALESCE(excluded.name, metrics_history.name)",
        )
        .bind(new_id())
        .bind(user_id)
        .bind(query)
        .bind(&hash)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM metrics_history WHERE user_id = $1 AND id NOT IN \
             (SELECT id FROM (SELECT id FROM metrics_history WHERE user_id = $1 \
              ORDER BY last_used_at DESC, id DESC LIMIT $2) AS kept)",
        )
        .bind(user_id)
        .bind(MAX_PER_USER)
        .execute(&mut *tx)
        .await?;
        let entry = sqlx::query_as::<_, HistoryRow>(
            "SELECT id, query, name, created_at, last_used_at, use_count FROM metrics_history \
             WHERE user_id = $1 AND query_hash = $2",
        )
        .bind(user_id)
        .bind(&hash)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(entry.into())
    }
}

/// The monitoring module's tables, as accessors on [`Store`] (`state.store.metrics_history()`).
pub trait MonitoringStore {
    fn metrics_history(&self) -> MetricsHistory<'_>;
}

impl MonitoringStore for Store {
    fn metrics_history(&self) -> MetricsHistory<'_> {
        MetricsHistory(self)
    }
}
