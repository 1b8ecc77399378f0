//! Retention of the append-only logs: the audit log and the enrollment attempts are cut by age
//! and by row count (`[audit]` in the configuration) every `audit.prune_interval_secs`, so that a
//! flood of refused requests cannot grow the database without bound. Finished operations (job
//! rows) are cut in the same round by `[jobs] retention_days` / `max_rows`.

use std::time::Duration;

use crate::config::{AuditConfig, JobsConfig};
use crate::store::{Store, StoreResult, now_ms};

/// Rows deleted by one [`prune_logs`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub audit: u64,
    pub enroll_attempts: u64,
    /// Finished operations (`[jobs] retention_days` / `max_rows`).
    pub operations: u64,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

fn cutoff(days: u64, now: i64) -> Option<i64> {
    (days > 0).then(|| {
        now.saturating_sub(
            i64::try_from(days)
                .unwrap_or(i64::MAX / DAY_MS)
                .saturating_mul(DAY_MS),
        )
    })
}

fn cap(rows: u64) -> Option<u64> {
    (rows > 0).then_some(rows)
}

/// Prunes both logs and the finished operations once, now.
pub async fn prune_logs(
    store: &Store,
    config: &AuditConfig,
    jobs: &JobsConfig,
) -> StoreResult<Pruned> {
    let now = now_ms();
    Ok(Pruned {
        audit: store
            .audit()
            .prune(cutoff(config.retention_days, now), cap(config.max_rows))
            .await?,
        enroll_attempts: store
            .hosts()
            .prune_attempts(
                cutoff(config.enroll_attempts_retention_days, now),
                cap(config.enroll_attempts_max_rows),
            )
            .await?,
        operations: store
            .jobs()
            .prune(cutoff(jobs.retention_days, now), cap(jobs.max_rows))
            .await?,
    })
}

/// Runs [`prune_logs`] at start and then every `prune_interval_secs`, for as long as the master
/// runs (supervised as `log-retention`; a failed round is logged and retried at the next one).
pub async fn run(store: Store, config: AuditConfig, jobs: JobsConfig) -> Result<(), String> {
    let mut every = tokio::time::interval(Duration::from_secs(config.prune_interval_secs));
    loop {
        every.tick().await;
        match prune_logs(&store, &config, &jobs).await {
            Ok(p) if p == Pruned::default() => {}
            Ok(p) => tracing::info!(
                audit = p.audit,
                enroll_attempts = p.enroll_attempts,
                operations = p.operations,
                "pruned the audit and enrollment logs and finished operations"
            ),
            Err(err) => tracing::warn!(%err, "pruning the logs and finished operations"),
        }
    }
}

/// Prunes stored events beyond `keep` every ten minutes, for as long as the master runs
/// (supervised as `event-retention`).
pub async fn run_event_pruner(store: Store, keep: u64) -> Result<(), String> {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        match store.events().prune(keep).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deleted = n, "pruned old events"),
            Err(err) => tracing::warn!(%err, "pruning events"),
        }
    }
}
