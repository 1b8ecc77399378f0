//! Events kept for the activity feed and notifications.

use super::{Store, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub kind: String,
    pub ts: i64,
    pub payload: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    kind: String,
    ts: i64,
    payload: String,
}

pub struct Events<'a>(pub(super) &'a Store);

impl Events<'_> {
    pub async fn insert(&self, event: &StoredEvent) -> StoreResult<()> {
        sqlx::query("INSERT INTO events (id, kind, ts, payload) VALUES ($1, $2, $3, $4)")
            .bind(event.id)
            .bind(&event.kind)
            .bind(event.ts)
            .bind(event.payload.to_string())
            .execute(&self.0.write)
            .await?;
        Ok(())
    }

    /// A page of the events of exactly `kind` older than the event id `before` (when given),
    /// newest first, with their total.
    pub async fn page_of_kind(
        &self,
        kind: &str,
        before: Option<i64>,
        page: super::Page,
    ) -> StoreResult<super::Paged<StoredEvent>> {
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE kind = $1 AND ($2 IS NULL OR id < $2)",
        )
        .bind(kind)
        .bind(before)
        .fetch_one(&self.0.read)
        .await?;
        let rows = sqlx::query_as::<_, EventRow>(
            "SELECT id, kind, ts, payload FROM events WHERE kind = $1 AND ($2 IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3 OFFSET $4",
        )
        .bind(kind)
        .bind(before)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.0.read)
        .await?;
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(StoredEvent {
                    payload: serde_json::from_str(&r.payload)
                        .map_err(|e| StoreError::Other(anyhow::anyhow!("stored event: {e}")))?,
                    id: r.id,
                    kind: r.kind,
                    ts: r.ts,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(super::Paged { items, total })
    }

    /// Newest first; `kind` exact or `prefix.*`; `before` an event id for paging back.
    pub async fn list(
        &self,
        kind: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<StoredEvent>> {
        let (exact, prefix) = match kind {
            Some(k) => match k.strip_suffix(".*") {
                Some(p) => (None, Some(format!("{p}.%"))),
                None => (Some(k.to_owned()), None),
            },
            None => (None, None),
        };
        let rows = sqlx::query_as::<_, EventRow>(
            "SELECT id, kind, ts, payload FROM events \
             WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR kind LIKE $2) \
             AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
        )
        .bind(exact)
        .bind(prefix)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.0.read)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(StoredEvent {
                    payload: serde_json::from_str(&r.payload)
                        .map_err(|e| StoreError::Other(anyhow::anyhow!("stored event: {e}")))?,
                    id: r.id,
                    kind: r.kind,
                    ts: r.ts,
                })
            })
            .collect()
    }

    /// Keeps the newest `keep` events; returns how many were deleted.
    pub async fn prune(&self, keep: u64) -> StoreResult<u64> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        let done = sqlx::query(
            "DELETE FROM events WHERE id < (SELECT COALESCE(MIN(id), 0) FROM \
             (SELECT id FROM events ORDER BY id DESC LIMIT $1) AS newest)",
        )
        .bind(keep)
        .execute(&self.0.write)
        .await?;
        Ok(done.rows_affected())
    }
}
