//! The audit log: one entry per mutating request.

use super::{Page, Paged, Store, StoreResult, new_id};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    pub ts: i64,
    /// Username, or `anonymous`.
    pub actor: String,
    pub actor_id: Option<String>,
    /// `METHOD /route/{template}`.
    pub action: String,
    /// The concrete path acted on.
    pub target: String,
    /// `success` or `failure`.
    pub result: String,
    pub status: i64,
    pub request_id: String,
    pub source_ip: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// Substring of the action, e.g. `/api/users` or `DELETE`.
    pub action: Option<String>,
    pub result: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: String,
    ts: i64,
    actor: String,
    actor_id: Option<String>,
    action: String,
    target: String,
    result: String,
    status: i64,
    request_id: String,
    source_ip: Option<String>,
}

pub struct Audit<'a>(pub(super) &'a Store);

impl Audit<'_> {
    pub async fn record(&self, entry: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_log (id, ts, actor, actor_id, action, target, result, status, \
             request_id, source_ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(if entry.id.is_empty() {
            new_id()
        } else {
            entry.id.clone()
        })
        .bind(entry.ts)
        .bind(&entry.actor)
        .bind(entry.actor_id.as_deref())
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.result)
        .bind(entry.status)
        .bind(&entry.request_id)
        .bind(entry.source_ip.as_deref())
        .execute(&self.0.write)
        .await?;
        Ok(())
    }

    /// Deletes entries older than `before_ms` and those beyond the newest `max_rows`.
    pub async fn prune(&self, before_ms: Option<i64>, max_rows: Option<u64>) -> StoreResult<u64> {
        super::retention::prune(self.0, super::retention::Log::Audit, before_ms, max_rows).await
    }

    /// How many entries there are.
    pub async fn count(&self) -> StoreResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log")
            .fetch_one(&self.0.read)
            .await?;
        Ok(n)
    }

    /// Newest first. Every filter is optional; all given ones must match.
    pub async fn list(&self, filter: &AuditFilter, page: Page) -> StoreResult<Paged<AuditEntry>> {
        // Each optional filter is `($n IS NULL OR column ...)`, so one statement serves every
        // combination and all parameters are bound.
        macro_rules! filter {
            () => {
                "WHERE ($1 IS NULL OR actor = $1) \
                 AND ($2 IS NULL OR lower(action) LIKE $2) \
                 AND ($3 IS NULL OR result = $3) \
                 AND ($4 IS NULL OR ts >= $4) \
                 AND ($5 IS NULL OR ts <= $5)"
            };
        }
        // Case-insensitive on both engines (SQLite's LIKE is, PostgreSQL's is not).
        let action = filter
            .action
            .as_ref()
            .map(|a| format!("%{}%", a.to_lowercase()));
        let sql = concat!(
            "SELECT id, ts, actor, actor_id, action, target, result, status, request_id, \
             source_ip FROM audit_log ",
            filter!(),
            " ORDER BY ts DESC, id DESC LIMIT $6 OFFSET $7"
        );
        let rows = sqlx::query_as::<_, AuditRow>(sql)
            .bind(filter.actor.as_deref())
            .bind(action.as_deref())
            .bind(filter.result.as_deref())
            .bind(filter.since)
            .bind(filter.until)
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(&self.0.read)
            .await?;
        let (total,): (i64,) =
            sqlx::query_as(concat!("SELECT COUNT(*) FROM audit_log ", filter!()))
                .bind(filter.actor.as_deref())
                .bind(action.as_deref())
                .bind(filter.result.as_deref())
                .bind(filter.since)
                .bind(filter.until)
                .fetch_one(&self.0.read)
                .await?;
        Ok(Paged {
            items: rows
                .into_iter()
                .map(|r| AuditEntry {
                    id: r.id,
                    ts: r.ts,
                    actor: r.actor,
                    actor_id: r.actor_id,
                    action: r.action,
                    target: r.target,
                    result: r.result,
                    status: r.status,
                    request_id: r.request_id,
                    source_ip: r.source_ip,
                })
                .collect(),
            total,
        })
    }
}
