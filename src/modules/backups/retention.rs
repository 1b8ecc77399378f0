//! Retention: which successful runs a job keeps. The newest `keep_last`, plus the newest run of
//! each of the last `keep_daily` days, `keep_weekly` weeks (Monday to Sunday) and `keep_monthly`
//! months that have runs (UTC). Every other successful run is deleted, its object first and then
//! its record; failed runs (which have no object) are kept up to [`KEEP_FAILED`].

use std::collections::HashSet;

use super::BackupError;
use super::spec::Retention;
use super::storage::Archives;
use super::store::{BackupJob, BackupsStore};
use crate::state::AppState;

/// Records of failed or interrupted runs kept per job.
pub const KEEP_FAILED: usize = 50;

const DAY_MS: i64 = 86_400_000;

/// The ids to keep among `runs` (id, finish time in Unix ms), newest first.
pub fn keep(runs: &[(String, i64)], r: Retention) -> HashSet<String> {
    let mut kept: HashSet<String> = runs
        .iter()
        .take(r.keep_last as usize)
        .map(|(id, _)| id.clone())
        .collect();
    let day = |ms: i64| ms.div_euclid(DAY_MS);
    // 1970-01-01 was a Thursday: shifting by 3 days starts weeks on Mondays.
    let week = |ms: i64| (day(ms) + 3).div_euclid(7);
    let month = |ms: i64| {
        time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
            .map(|t| i64::from(t.year()) * 12 + i64::from(u8::from(t.month())))
            .unwrap_or(0)
    };
    let buckets: [(u32, &dyn Fn(i64) -> i64); 3] = [
        (r.keep_daily, &day),
        (r.keep_weekly, &week),
        (r.keep_monthly, &month),
    ];
    for (count, bucket) in buckets {
        let mut seen = HashSet::new();
        for (id, at) in runs {
            if seen.len() >= count as usize {
                break;
            }
            if seen.insert(bucket(*at)) {
                kept.insert(id.clone());
            }
        }
    }
    kept
}

/// Applies a job's retention now.
pub async fn apply(state: &AppState, job: &BackupJob) -> Result<(), BackupError> {
    let records = state.store.backup_records().all_of(&job.id).await?;
    let succeeded: Vec<(String, i64)> = records
        .iter()
        .filter(|r| r.status == "succeeded")
        .map(|r| (r.id.clone(), r.finished_at.unwrap_or(r.started_at)))
        .collect();
    let kept = keep(&succeeded, job.definition.retention);
    let archives = Archives::of(state, &job.definition.storage).await?;
    let mut failed = 0;
    for r in &records {
        let drop = match r.status.as_str() {
            "succeeded" => !kept.contains(&r.id),
            "running" => false,
            _ => {
                failed += 1;
                failed > KEEP_FAILED
            }
        };
        if !drop {
            continue;
        }
        if let Some(key) = &r.storage_key {
            archives.delete(key).await?;
        }
        state.store.backup_records().delete(&r.id).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(times: &[i64]) -> Vec<(String, i64)> {
        times.iter().map(|t| (format!("r{t}"), *t)).collect()
    }

    #[test]
    fn keeps_the_last_n_and_one_per_day() {
        // Newest first: three runs today (day 10), two yesterday, one on day 7.
        let h = 3_600_000;
        let t = |d: i64, hour: i64| d * DAY_MS + hour * h;
        let all = runs(&[t(10, 20), t(10, 12), t(10, 1), t(9, 23), t(9, 2), t(7, 5)]);
        let only_last = keep(
            &all,
            Retention {
                keep_last: 2,
                keep_daily: 0,
                keep_weekly: 0,
                keep_monthly: 0,
            },
        );
        assert_eq!(only_last.len(), 2);
        assert!(only_last.contains(&format!("r{}", t(10, 12))));
        let daily = keep(
            &all,
            Retention {
                keep_last: 1,
                keep_daily: 3,
                keep_weekly: 0,
                keep_monthly: 0,
            },
        );
        let mut ids: Vec<_> = daily.into_iter().collect();
        ids.sort();
        let mut want = vec![
            format!("r{}", t(10, 20)),
            format!("r{}", t(9, 23)),
            format!("r{}", t(7, 5)),
        ];
        want.sort();
        assert_eq!(ids, want);
    }

    #[test]
    fn weeks_start_on_monday_and_months_by_calendar() {
        // 2024-01-01 was a Monday; 2023-12-31 a Sunday.
        let monday = 1_704_067_200_000;
        let sunday = monday - DAY_MS;
        let all = runs(&[monday + 1000, sunday + 1000]);
        let weekly = keep(
            &all,
            Retention {
                keep_last: 1,
                keep_daily: 0,
                keep_weekly: 2,
                keep_monthly: 0,
            },
        );
        assert_eq!(weekly.len(), 2);
        let monthly = keep(
            &all,
            Retention {
                keep_last: 1,
                keep_daily: 0,
                keep_weekly: 0,
                keep_monthly: 1,
            },
        );
        assert_eq!(monthly.len(), 1);
    }
}
