//! Jobs: the rows of the long-running operations the job registry runs (one write per state
//! change and lease renewal) and their lease sweep.

use contextbay_actors::{Job, JobState};

use super::{Page, Paged, Store, StoreError, StoreResult};

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    kind: String,
    resource: String,
    state: String,
    progress: Option<i64>,
    message: Option<String>,
    result: Option<String>,
    error: Option<String>,
    created_by: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    owner: String,
    lease_until: i64,
}

macro_rules! job_columns {
    () => {
        "id, kind, resource, state, progress, message, result, error, created_by, created_at, \
         started_at, finished_at, owner, lease_until"
    };
}

impl JobRow {
    fn into_job(self) -> StoreResult<Job> {
        Ok(Job {
            state: JobState::parse(&self.state).ok_or_else(|| {
                StoreError::Other(anyhow::anyhow!("stored job state '{}'", self.state))
            })?,
            result: self
                .result
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| StoreError::Other(anyhow::anyhow!("stored job result: {e}")))?,
            progress: self.progress.and_then(|p| u8::try_from(p).ok()),
            id: self.id,
            kind: self.kind,
            resource: self.resource,
            message: self.message,
            error: self.error,
            created_by: self.created_by,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            owner: self.owner,
            lease_until: self.lease_until,
        })
    }
}

/// Which jobs a list returns; every given filter must match.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub resource: Option<String>,
    pub state: Option<JobState>,
    pub kind: Option<String>,
}

pub struct Jobs<'a>(pub(super) &'a Store);

impl Jobs<'_> {
    /// Writes the job's row, replacing the previous one.
    pub async fn save(&self, job: &Job) -> StoreResult<()> {
        let result = job
            .result
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Other(e.into()))?;
        sqlx::query(
            "INSERT INTO jobs (id, kind, resource, state, progress, message, result, error, \
             created_by, created_at, started_at, finished_at, owner, lease_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, \
             progress = excluded.progress, message = excluded.message, result = excluded.result, \
             error = excluded.error, started_at = excluded.started_at, \
             finished_at = excluded.finished_at, owner = excluded.owner, \
             lease_until = excluded.lease_until",
        )
        .bind(&job.id)
        .bind(&job.kind)
        .bind(&job.resource)
        .bind(job.state.as_str())
        .bind(job.progress.map(i64::from))
        .bind(job.message.as_deref())
        .bind(result.as_deref())
        .bind(job.error.as_deref())
        .bind(job.created_by.as_deref())
        .bind(job.created_at)
        .bind(job.started_at)
        .bind(job.finished_at)
        .bind(&job.owner)
        .bind(job.lease_until)
        .execute(&self.0.write)
        .await?;
        Ok(())
    }

    pub async fn get(&self, id: &str) -> StoreResult<Job> {
        sqlx::query_as::<_, JobRow>(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.0.read)
        .await?
        .ok_or(StoreError::NotFound("operation"))?
        .into_job()
    }

    /// Newest first.
    pub async fn list(&self, filter: &JobFilter, page: Page) -> StoreResult<Paged<Job>> {
        macro_rules! filter {
            () => {
                "WHERE ($1 IS NULL OR resource = $1) AND ($2 IS NULL OR state = $2) \
                 AND ($3 IS NULL OR kind = $3)"
            };
        }
        let state = filter.state.map(JobState::as_str);
        let rows = sqlx::query_as::<_, JobRow>(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs ",
            filter!(),
            " ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5"
        ))
        .bind(filter.resource.as_deref())
        .bind(state)
        .bind(filter.kind.as_deref())
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.0.read)
        .await?;
        let (total,): (i64,) = sqlx::query_as(concat!("SELECT COUNT(*) FROM jobs ", filter!()))
            .bind(filter.resource.as_deref())
            .bind(state)
            .bind(filter.kind.as_deref())
            .fetch_one(&self.0.read)
            .await?;
        Ok(Paged {
            items: rows
                .into_iter()
                .map(JobRow::into_job)
                .collect::<StoreResult<_>>()?,
            total,
        })
    }

    /// Marks every queued or running job that another master held and whose lease ended before
    /// `now` `interrupted`; returns them as they are now.
    pub async fn interrupt_expired(&self, owner: &str, now: i64) -> StoreResult<Vec<Job>> {
        let stale = sqlx::query_as::<_, JobRow>(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE state IN ('queued', 'running') AND owner <> $1 AND lease_until < $2"
        ))
        .bind(owner)
        .bind(now)
        .fetch_all(&self.0.read)
        .await?;
        let mut out = Vec::new();
        for row in stale {
            let mut job = row.into_job()?;
            let error = format!("its master ({}) stopped while it ran", job.owner);
            // Only if it is still that master's and still active (another sweep may have won).
            let done = sqlx::query(
                "UPDATE jobs SET state = 'interrupted', error = $1, finished_at = $2 \
                 WHERE id = $3 AND owner = $4 AND state IN ('queued', 'running') \
                 AND lease_until < $5",
            )
            .bind(&error)
            .bind(now)
            .bind(&job.id)
            .bind(&job.owner)
            .bind(now)
            .execute(&self.0.write)
            .await?;
            if done.rows_affected() == 1 {
                job.state = JobState::Interrupted;
                job.error = Some(error);
                job.finished_at = Some(now);
                out.push(job);
            }
        }
        Ok(out)
    }

    /// Deletes finished jobs (done, failed, cancelled, interrupted) that finished before
    /// `before_ms` (when given) and those beyond the newest `max_rows` finished ones (when given).
    /// Queued and running jobs are never deleted. Returns how many went.
    pub async fn prune(&self, before_ms: Option<i64>, max_rows: Option<u64>) -> StoreResult<u64> {
        super::retention::prune(
            self.0,
            super::retention::Log::FinishedJobs,
            before_ms,
            max_rows,
        )
        .await
    }
}
