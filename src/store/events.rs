//! Events kept for the activity feed and notifications.

use sqlx::AssertSqlSafe;

use super::{Page, Paged, Store, StoreError, StoreResult};

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

impl EventRow {
    fn into_stored(self) -> StoreResult<StoredEvent> {
        Ok(StoredEvent {
            payload: serde_json::from_str(&self.payload)
                .map_err(|e| StoreError::Other(anyhow::anyhow!("stored event: {e}")))?,
            id: self.id,
            kind: self.kind,
            ts: self.ts,
        })
    }
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
            .map(EventRow::into_stored)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(super::Paged { items, total })
    }

    /// A page of events, newest first: `kind` exact or `prefix.*`, `before` an event id (only
    /// older ones), and only the kinds in `visible` when it is given (a caller's role sees the
    /// kinds the catalogue grants it).
    pub async fn page(
        &self,
        visible: Option<&[&'static str]>,
        kind: Option<&str>,
        before: Option<i64>,
        page: Page,
    ) -> StoreResult<Paged<StoredEvent>> {
        let (exact, prefix) = match kind {
            Some(k) => match k.strip_suffix(".*") {
                Some(p) => (None, Some(format!("{p}.%"))),
                None => (Some(k.to_owned()), None),
            },
            None => (None, None),
        };
        let mut filter = String::from(
            "WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR kind LIKE $2) \
             AND ($3 IS NULL OR id < $3)",
        );
        if visible.is_some_and(<[_]>::is_empty) {
            return Ok(Paged {
                items: Vec::new(),
                total: 0,
            });
        }
        let visible = visible.unwrap_or_default();
        if !visible.is_empty() {
            let placeholders: Vec<String> =
                (0..visible.len()).map(|i| format!("${}", i + 4)).collect();
            filter.push_str(&format!(" AND kind IN ({})", placeholders.join(", ")));
        }
        // Only generated placeholders are added to the statement: the kinds are bound.
        let next = visible.len() + 4;
        let count_sql = format!("SELECT COUNT(*) FROM events {filter}");
        let mut count = sqlx::query_as::<_, (i64,)>(AssertSqlSafe(count_sql))
            .bind(exact.clone())
            .bind(prefix.clone())
            .bind(before);
        for kind in visible {
            count = count.bind(*kind);
        }
        let (total,) = count.fetch_one(&self.0.read).await?;
        let rows_sql = format!(
            "SELECT id, kind, ts, payload FROM events {filter} ORDER BY id DESC LIMIT ${next} OFFSET ${}",
            next + 1
        );
        let mut rows = sqlx::query_as::<_, EventRow>(AssertSqlSafe(rows_sql))
            .bind(exact)
            .bind(prefix)
            .bind(before);
        for kind in visible {
            rows = rows.bind(*kind);
        }
        let items = rows
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(&self.0.read)
            .await?
            .into_iter()
            .map(EventRow::into_stored)
            .collect::<StoreResult<_>>()?;
        Ok(Paged { items, total })
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
