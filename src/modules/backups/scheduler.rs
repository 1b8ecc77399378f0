//! The scheduler: a supervised task (`backups.scheduler` under `state.tasks`) that starts the
//! runs of jobs whose schedule is due. It reads the time from a [`Clock`], so tests drive it.
//!
//! Each tick it reads the jobs (the database is the source of truth) and keeps, per scheduled
//! job, the next time it is due. When it first sees a job (at start, or a job just created), it
//! counts from the job's last run (or its last change, when later or when it never ran): a
//! schedule that fired while no master ran makes the job due at once, and it runs **once** (a
//! catch-up, not one run per missed slot); the next run is then the next occurrence after now.
//! A job whose schedule changed counts from now. A due job whose previous operation still runs
//! is skipped until its next occurrence.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::run;
use super::spec::Schedule;
use super::store::BackupsStore;
use crate::modules::{self, ModuleName};
use crate::state::AppState;
use crate::store::Page;

/// How often the real scheduler looks at the clock.
pub const TICK: Duration = Duration::from_secs(15);

/// Where the scheduler reads the time.
pub trait Clock: Send + Sync + 'static {
    /// Unix milliseconds now.
    fn now_ms(&self) -> i64;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::store::now_ms()
    }
}

/// What a tick did with one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// A run started: its record's id.
    Started(String),
    /// Due, but another operation of the job runs.
    Busy,
    /// Due, but the run could not start (the reason).
    Failed(String),
}

/// The scheduler's state: per job, its schedule and when it is next due.
pub struct Scheduler {
    clock: Arc<dyn Clock>,
    due: HashMap<String, (Schedule, Option<i64>)>,
}

impl Scheduler {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            due: HashMap::new(),
        }
    }

    /// When job `id` is next due, as far as this scheduler knows.
    pub fn next_due(&self, id: &str) -> Option<i64> {
        self.due.get(id).and_then(|(_, at)| *at)
    }

    /// One look at the clock: starts the runs that are due (while the module is on) and
    /// answers what it did, per job id.
    pub async fn tick(&mut self, state: &AppState) -> Result<Vec<(String, Fired)>, String> {
        let now = self.clock.now_ms();
        let mut jobs = Vec::new();
        let mut offset = 0;
        loop {
            let (page, total) = state
                .store
                .backup_jobs()
                .list(Page { limit: 500, offset })
                .await
                .map_err(|e| e.to_string())?;
            let n = page.len() as i64;
            jobs.extend(page);
            offset += n;
            if n == 0 || offset >= total {
                break;
            }
        }
        let on = modules::is_enabled(state, ModuleName::Backups)
            .await
            .map_err(|e| e.to_string())?;
        let mut fired = Vec::new();
        let mut seen = HashMap::new();
        for job in jobs {
            let Some(schedule) = job.definition.schedule.clone() else {
                continue;
            };
            let next = match self.due.remove(&job.id) {
                Some((known, at)) if known == schedule => at,
                // Its schedule changed: due at its next occurrence from now.
                Some(_) => schedule.next_after(now),
                // First seen: due at the first occurrence after its last run or change, which
                // is now or past when a slot was missed while no master ran (caught up once).
                None => schedule.next_after(last_activity(state, &job).await?),
            };
            let next = match next {
                Some(at) if at <= now && on => {
                    let what = match run::start_run(state, job.clone(), "schedule", None).await {
                        Ok((_, record)) => Fired::Started(record.id),
                        Err(super::BackupError::Busy(_)) => Fired::Busy,
                        Err(e) => Fired::Failed(e.to_string()),
                    };
                    if let Fired::Failed(why) = &what {
                        tracing::warn!(job = %job.id, %why, "scheduled backup did not start");
                    }
                    fired.push((job.id.clone(), what));
                    schedule.next_after(now)
                }
                // Due while the module is off: skipped, like a run missed while no master ran.
                Some(at) if at <= now => schedule.next_after(now),
                other => other,
            };
            seen.insert(job.id, (schedule, next));
        }
        self.due = seen;
        Ok(fired)
    }
}

/// When `job` last ran (its newest record's start) or was changed, whichever is later.
async fn last_activity(state: &AppState, job: &super::store::BackupJob) -> Result<i64, String> {
    let (newest, _) = state
        .store
        .backup_records()
        .list(
            &job.id,
            Page {
                limit: 1,
                offset: 0,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(newest
        .first()
        .map_or(job.updated_at, |r| r.started_at.max(job.updated_at)))
}

/// Starts the real scheduler under `state.tasks` (restarted with backoff if it fails).
pub fn start(state: &AppState) {
    let st = state.clone();
    state.tasks.clone().spawn("backups.scheduler", move || {
        let state = st.clone();
        async move {
            let mut scheduler = Scheduler::new(Arc::new(SystemClock));
            loop {
                scheduler.tick(&state).await?;
                tokio::time::sleep(TICK).await;
            }
        }
    });
}
