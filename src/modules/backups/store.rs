//! The backups module's tables: `backup_jobs` and `backup_records` (migration
//! `0009_backups.sql`), as accessors on [`Store`] (`state.store.backup_jobs()`).

use crate::store::{Page, Store, StoreError, StoreResult, conflict_on_unique, new_id, now_ms};

use super::spec::Definition;

pub trait BackupsStore {
    fn backup_jobs(&self) -> BackupJobs<'_>;
    fn backup_records(&self) -> BackupRecords<'_>;
}

impl BackupsStore for Store {
    fn backup_jobs(&self) -> BackupJobs<'_> {
        BackupJobs(self)
    }
    fn backup_records(&self) -> BackupRecords<'_> {
        BackupRecords(self)
    }
}

/// A backup job as kept.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupJob {
    pub id: String,
    pub name: String,
    pub definition: Definition,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    name: String,
    definition: String,
    created_by: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl JobRow {
    fn into_job(self) -> StoreResult<BackupJob> {
        Ok(BackupJob {
            definition: serde_json::from_str(&self.definition).map_err(|e| {
                StoreError::Other(anyhow::anyhow!("stored backup job {}: {e}", self.id))
            })?,
            id: self.id,
            name: self.name,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn duplicate(name: &str) -> String {
    format!("a backup job named '{name}' already exists")
}

fn json(def: &Definition) -> StoreResult<String> {
    serde_json::to_string(def).map_err(|e| StoreError::Other(e.into()))
}

pub struct BackupJobs<'a>(&'a Store);

impl BackupJobs<'_> {
    /// A page of jobs by name, and how many there are.
    pub async fn list(&self, page: Page) -> StoreResult<(Vec<BackupJob>, i64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM backup_jobs")
            .fetch_one(self.0.read_pool())
            .await?;
        let rows = sqlx::query_as::<_, JobRow>(
            "SELECT id, name, definition, created_by, created_at, updated_at FROM backup_jobs \
             ORDER BY name, id LIMIT $1 OFFSET $2",
        )
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(self.0.read_pool())
        .await?;
        let jobs = rows
            .into_iter()
            .map(JobRow::into_job)
            .collect::<StoreResult<_>>()?;
        Ok((jobs, total))
    }

    pub async fn get(&self, id: &str) -> StoreResult<BackupJob> {
        sqlx::query_as::<_, JobRow>(
            "SELECT id, name, definition, created_by, created_at, updated_at FROM backup_jobs \
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.0.read_pool())
        .await?
        .ok_or(StoreError::NotFound("backup job"))?
        .into_job()
    }

    pub async fn create(&self, name: &str, def: &Definition, by: &str) -> StoreResult<BackupJob> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO backup_jobs (id, name, definition, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(&id)
        .bind(name)
        .bind(json(def)?)
        .bind(by)
        .bind(now)
        .execute(self.0.write_pool())
        .await
        .map_err(|e| conflict_on_unique(e, duplicate(name)))?;
        self.get(&id).await
    }

    pub async fn update(&self, id: &str, name: &str, def: &Definition) -> StoreResult<BackupJob> {
        let done = sqlx::query(
            "UPDATE backup_jobs SET name = $2, definition = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(name)
        .bind(json(def)?)
        .bind(now_ms())
        .execute(self.0.write_pool())
        .await
        .map_err(|e| conflict_on_unique(e, duplicate(name)))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("backup job"));
        }
        self.get(id).await
    }

    /// A consistent copy of the whole (SQLite) database into the new file `path` (`VACUUM INTO`),
    /// for the database backup source.
    pub async fn vacuum_into(&self, path: &str) -> StoreResult<()> {
        sqlx::query("VACUUM INTO $1")
            .bind(path)
            .execute(self.0.write_pool())
            .await?;
        Ok(())
    }

    /// Deletes the job and its records (their objects are deleted by the caller first).
    pub async fn delete(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.0.write_pool().begin().await?;
        sqlx::query("DELETE FROM backup_records WHERE job_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM backup_jobs WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("backup job"));
        }
        tx.commit().await?;
        Ok(())
    }
}

/// One run of a backup job.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BackupRecord {
    pub id: String,
    pub job_id: String,
    pub operation_id: Option<String>,
    /// `running`, `succeeded`, `failed` or `interrupted`.
    pub status: String,
    /// `manual` or `schedule`.
    pub origin: String,
    pub size_bytes: Option<i64>,
    pub files: Option<i64>,
    pub sha256: Option<String>,
    pub storage_key: Option<String>,
    pub compression: String,
    pub error: Option<String>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub verified_at: Option<i64>,
    pub verify_error: Option<String>,
}

macro_rules! record_columns {
    () => {
        "id, job_id, operation_id, status, origin, size_bytes, files, sha256, storage_key, \
         compression, error, started_at, finished_at, verified_at, verify_error"
    };
}

/// What a finished run writes.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub status: &'static str,
    pub size_bytes: Option<i64>,
    pub files: Option<i64>,
    pub sha256: Option<String>,
    pub storage_key: Option<String>,
    pub error: Option<String>,
}

pub struct BackupRecords<'a>(&'a Store);

impl BackupRecords<'_> {
    /// A page of a job's records, newest first, and how many it has.
    pub async fn list(&self, job_id: &str, page: Page) -> StoreResult<(Vec<BackupRecord>, i64)> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM backup_records WHERE job_id = $1")
                .bind(job_id)
                .fetch_one(self.0.read_pool())
                .await?;
        let items = sqlx::query_as::<_, BackupRecord>(concat!(
            "SELECT ",
            record_columns!(),
            " FROM backup_records WHERE job_id = $1 ORDER BY started_at DESC, id DESC \
             LIMIT $2 OFFSET $3"
        ))
        .bind(job_id)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(self.0.read_pool())
        .await?;
        Ok((items, total))
    }

    /// Every record of a job, newest first.
    pub async fn all_of(&self, job_id: &str) -> StoreResult<Vec<BackupRecord>> {
        Ok(sqlx::query_as::<_, BackupRecord>(concat!(
            "SELECT ",
            record_columns!(),
            " FROM backup_records WHERE job_id = $1 ORDER BY started_at DESC, id DESC"
        ))
        .bind(job_id)
        .fetch_all(self.0.read_pool())
        .await?)
    }

    /// The records still marked running, of every job.
    pub async fn running(&self) -> StoreResult<Vec<BackupRecord>> {
        Ok(sqlx::query_as::<_, BackupRecord>(concat!(
            "SELECT ",
            record_columns!(),
            " FROM backup_records WHERE status = 'running'"
        ))
        .fetch_all(self.0.read_pool())
        .await?)
    }

    /// Record `id` of job `job_id`.
    pub async fn get(&self, job_id: &str, id: &str) -> StoreResult<BackupRecord> {
        sqlx::query_as::<_, BackupRecord>(concat!(
            "SELECT ",
            record_columns!(),
            " FROM backup_records WHERE id = $1 AND job_id = $2"
        ))
        .bind(id)
        .bind(job_id)
        .fetch_optional(self.0.read_pool())
        .await?
        .ok_or(StoreError::NotFound("backup record"))
    }

    /// A new record, running.
    pub async fn start(
        &self,
        job_id: &str,
        operation_id: &str,
        origin: &str,
        compression: &str,
    ) -> StoreResult<BackupRecord> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO backup_records (id, job_id, operation_id, status, origin, compression, \
             started_at) VALUES ($1, $2, $3, 'running', $4, $5, $6)",
        )
        .bind(&id)
        .bind(job_id)
        .bind(operation_id)
        .bind(origin)
        .bind(compression)
        .bind(now_ms())
        .execute(self.0.write_pool())
        .await?;
        self.get(job_id, &id).await
    }

    /// Writes how a run ended (only while it is still `running`).
    pub async fn finish(&self, id: &str, outcome: &RunOutcome) -> StoreResult<()> {
        sqlx::query(
            "UPDATE backup_records SET status = $2, size_bytes = $3, files = $4, sha256 = $5, \
             storage_key = $6, error = $7, finished_at = $8 WHERE id = $1 AND status = 'running'",
        )
        .bind(id)
        .bind(outcome.status)
        .bind(outcome.size_bytes)
        .bind(outcome.files)
        .bind(&outcome.sha256)
        .bind(&outcome.storage_key)
        .bind(&outcome.error)
        .bind(now_ms())
        .execute(self.0.write_pool())
        .await?;
        Ok(())
    }

    /// Writes the result of a verification (`error` `None`: the archive is intact).
    pub async fn verified(&self, id: &str, error: Option<&str>) -> StoreResult<()> {
        sqlx::query("UPDATE backup_records SET verified_at = $2, verify_error = $3 WHERE id = $1")
            .bind(id)
            .bind(now_ms())
            .bind(error)
            .execute(self.0.write_pool())
            .await?;
        Ok(())
    }

    pub async fn delete(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM backup_records WHERE id = $1")
            .bind(id)
            .execute(self.0.write_pool())
            .await?;
        Ok(())
    }
}
