//! Pruning of the append-only logs (audit entries, enrollment attempts) and of finished
//! operations (jobs) by age and row count.

use sqlx::Row;

use super::{Store, StoreResult};

/// The logs that [`prune`] may cut; each names its table, which has `id` and `ts` columns
/// (for jobs: `finished_at`, and only finished jobs are ever cut).
#[derive(Debug, Clone, Copy)]
pub(super) enum Log {
    Audit,
    EnrollAttempts,
    FinishedJobs,
}

/// The statements [`prune`] runs on one table.
struct Statements {
    /// The newest row beyond the row limit: `$1` = the limit.
    first_out: &'static str,
    /// A batch of rows with `ts < $1`; `$3` = the batch size.
    older: &'static str,
    /// A batch of rows at or before `($1, $2)` in `(ts, id)` order; `$3` = the batch size.
    up_to: &'static str,
}

macro_rules! statements {
    ($table:literal) => {
        Statements {
            first_out: concat!(
                "SELECT ts, id FROM ",
                $table,
                " ORDER BY ts DESC, id DESC LIMIT 1 OFFSET $1"
            ),
            older: concat!(
                "DELETE FROM ",
                $table,
                " WHERE id IN (SELECT id FROM ",
                $table,
                " WHERE ts < $1 LIMIT $2)"
            ),
            up_to: concat!(
                "DELETE FROM ",
                $table,
                " WHERE id IN (SELECT id FROM ",
                $table,
                " WHERE ts < $1 OR (ts = $1 AND id <= $2) LIMIT $3)"
            ),
        }
    };
}

impl Log {
    fn statements(self) -> Statements {
        match self {
            Log::Audit => statements!("audit_log"),
            Log::EnrollAttempts => statements!("enroll_attempts"),
            // A queued or running job has no `finished_at`; the state check keeps it so even if
            // a row were inconsistent.
            Log::FinishedJobs => Statements {
                first_out: "SELECT finished_at AS ts, id FROM jobs \
                            WHERE finished_at IS NOT NULL AND state NOT IN ('queued', 'running') \
                            ORDER BY finished_at DESC, id DESC LIMIT 1 OFFSET $1",
                older: "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
                        WHERE finished_at IS NOT NULL AND state NOT IN ('queued', 'running') \
                        AND finished_at < $1 LIMIT $2)",
                up_to: "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
                        WHERE finished_at IS NOT NULL AND state NOT IN ('queued', 'running') \
                        AND (finished_at < $1 OR (finished_at = $1 AND id <= $2)) LIMIT $3)",
            },
        }
    }
}

/// Rows deleted per statement, so that SQLite's one writer is never held for long.
const BATCH: i64 = 5_000;

/// Deletes the rows of `log` older than `before_ms` (when given) and those beyond the newest
/// `max_rows` (when given). Returns how many went.
pub(super) async fn prune(
    store: &Store,
    log: Log,
    before_ms: Option<i64>,
    max_rows: Option<u64>,
) -> StoreResult<u64> {
    let sql = log.statements();
    let mut deleted = 0;
    if let Some(before) = before_ms {
        deleted += delete_batches(store, sql.older, before, None).await?;
    }
    if let Some(max) = max_rows {
        // The newest row that must go: every row before it in (ts, id) order goes too.
        let first_out = sqlx::query(sql.first_out)
            .bind(i64::try_from(max).unwrap_or(i64::MAX))
            .fetch_optional(&store.read)
            .await?;
        if let Some(row) = first_out {
            let ts: i64 = row.try_get("ts")?;
            let id: String = row.try_get("id")?;
            deleted += delete_batches(store, sql.up_to, ts, Some(&id)).await?;
        }
    }
    Ok(deleted)
}

/// Runs a batch `DELETE` until it deletes less than a batch. `id`, when given, is bound as `$2`
/// and the batch size as the last parameter.
async fn delete_batches(
    store: &Store,
    sql: &'static str,
    until: i64,
    id: Option<&str>,
) -> StoreResult<u64> {
    let mut deleted = 0;
    loop {
        let mut query = sqlx::query(sql).bind(until);
        if let Some(id) = id {
            query = query.bind(id);
        }
        let done = query
            .bind(BATCH)
            .execute(&store.write)
            .await?
            .rows_affected();
        deleted += done;
        if done < u64::try_from(BATCH).unwrap_or(u64::MAX) {
            return Ok(deleted);
        }
    }
}
