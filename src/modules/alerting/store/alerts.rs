//! Alerts received from Alertmanager: one row per alert instance (fingerprint + start time), with
//! who acknowledged or resolved it.

use serde_json::{Map, Value};

use crate::store::{Page, Paged, Store, StoreError, StoreResult, new_id, now_ms};

pub const FIRING: &str = "firing";
pub const RESOLVED: &str = "resolved";

#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: String,
    pub fingerprint: String,
    pub starts_at: i64,
    pub name: String,
    pub severity: String,
    /// [`FIRING`] or [`RESOLVED`].
    pub status: String,
    pub labels: Map<String, Value>,
    pub annotations: Map<String, Value>,
    pub generator_url: Option<String>,
    pub rule_id: Option<String>,
    pub ends_at: Option<i64>,
    pub received_at: i64,
    pub updated_at: i64,
    pub acknowledged_at: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<i64>,
    /// `None` when Alertmanager resolved it.
    pub resolved_by: Option<String>,
}

/// One alert of a webhook notification, validated.
#[derive(Debug, Clone)]
pub struct IncomingAlert {
    pub fingerprint: String,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    pub firing: bool,
    pub name: String,
    pub severity: String,
    pub labels: Map<String, Value>,
    pub annotations: Map<String, Value>,
    pub generator_url: Option<String>,
    pub rule_id: Option<String>,
}

/// What a notification changed for one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// New and firing, or firing again after Alertmanager had resolved it.
    Fired,
    /// Firing until now, resolved now (or first seen already resolved).
    Resolved,
    /// A repeat notification; nothing for people to know.
    Unchanged,
}

/// Filters for [`Alerts::list`].
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub acknowledged: Option<bool>,
    /// Substring of the alert name, case-insensitive.
    pub name: Option<String>,
    pub rule_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AlertRow {
    id: String,
    fingerprint: String,
    starts_at: i64,
    name: String,
    severity: String,
    status: String,
    labels: String,
    annotations: String,
    generator_url: Option<String>,
    rule_id: Option<String>,
    ends_at: Option<i64>,
    received_at: i64,
    updated_at: i64,
    acknowledged_at: Option<i64>,
    acknowledged_by: Option<String>,
    resolved_at: Option<i64>,
    resolved_by: Option<String>,
}

macro_rules! alert_columns {
    () => {
        "id, fingerprint, starts_at, name, severity, status, labels, annotations, generator_url, \
         rule_id, ends_at, received_at, updated_at, acknowledged_at, acknowledged_by, \
         resolved_at, resolved_by"
    };
}

/// The filter of [`Alerts::list`]: `$1` status, `$2` severity, `$3` acknowledged (0/1), `$4`
/// name pattern, `$5` rule id; each NULL for "any".
macro_rules! alert_filter {
    () => {
        "($1 IS NULL OR status = $1) AND ($2 IS NULL OR severity = $2) \
         AND ($3 IS NULL OR ($3 = 1 AND acknowledged_at IS NOT NULL) \
              OR ($3 = 0 AND acknowledged_at IS NULL)) \
         AND ($4 IS NULL OR lower(name) LIKE $4) AND ($5 IS NULL OR rule_id = $5)"
    };
}

fn object(text: &str) -> StoreResult<Map<String, Value>> {
    serde_json::from_str(text).map_err(|e| StoreError::Other(anyhow::anyhow!("stored alert: {e}")))
}

impl AlertRow {
    fn into_alert(self) -> StoreResult<Alert> {
        Ok(Alert {
            labels: object(&self.labels)?,
            annotations: object(&self.annotations)?,
            id: self.id,
            fingerprint: self.fingerprint,
            starts_at: self.starts_at,
            name: self.name,
            severity: self.severity,
            status: self.status,
            generator_url: self.generator_url,
            rule_id: self.rule_id,
            ends_at: self.ends_at,
            received_at: self.received_at,
            updated_at: self.updated_at,
            acknowledged_at: self.acknowledged_at,
            acknowledged_by: self.acknowledged_by,
            resolved_at: self.resolved_at,
            resolved_by: self.resolved_by,
        })
    }
}

pub struct Alerts<'a>(pub(super) &'a Store);

impl Alerts<'_> {
    /// Applies one webhook notification in one transaction and says what changed for each alert.
    pub async fn ingest(&self, incoming: &[IncomingAlert]) -> StoreResult<Vec<(Change, Alert)>> {
        let mut tx = self.0.write_pool().begin().await?;
        let now = now_ms();
        let mut changed: Vec<(String, Change)> = Vec::with_capacity(incoming.len());
        for a in incoming {
            let existing: Option<(String, String, Option<String>)> = sqlx::query_as(
                "SELECT id, status, resolved_by FROM alerts \
                 WHERE fingerprint = $1 AND starts_at = $2",
            )
            .bind(&a.fingerprint)
            .bind(a.starts_at)
            .fetch_optional(&mut *tx)
            .await?;
            let labels = Value::Object(a.labels.clone()).to_string();
            let annotations = Value::Object(a.annotations.clone()).to_string();
            match existing {
                None => {
                    let id = new_id();
                    let (status, ends_at) = if a.firing {
                        (FIRING, None)
                    } else {
                        (RESOLVED, Some(a.ends_at.unwrap_or(now)))
                    };
                    sqlx::query(
                        "INSERT INTO alerts (id, fingerprint, starts_at, name, severity, status, \
                         labels, annotations, generator_url, rule_id, ends_at, received_at, \
                         updated_at, resolved_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $11)",
                    )
                    .bind(&id)
                    .bind(&a.fingerprint)
                    .bind(a.starts_at)
                    .bind(&a.name)
                    .bind(&a.severity)
                    .bind(status)
                    .bind(&labels)
                    .bind(&annotations)
                    .bind(&a.generator_url)
                    .bind(&a.rule_id)
                    .bind(ends_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    let change = if a.firing {
                        Change::Fired
                    } else {
                        Change::Resolved
                    };
                    changed.push((id, change));
                }
                Some((id, status, _)) if !a.firing && status == FIRING => {
                    sqlx::query(
                        "UPDATE alerts SET status = $2, ends_at = $3, resolved_at = $3, \
                         annotations = $4, updated_at = $5 WHERE id = $1",
                    )
                    .bind(&id)
                    .bind(RESOLVED)
                    .bind(a.ends_at.unwrap_or(now))
                    .bind(&annotations)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    changed.push((id, Change::Resolved));
                }
                Some((id, status, None)) if a.firing && status == RESOLVED => {
                    // Alertmanager resolved it (it does so by itself when Prometheus' updates
                    // stop for a while, e.g. during a reload) and now reports it firing again.
                    sqlx::query(
                        "UPDATE alerts SET status = $2, ends_at = NULL, resolved_at = NULL, \
                         annotations = $3, updated_at = $4 WHERE id = $1",
                    )
                    .bind(&id)
                    .bind(FIRING)
                    .bind(&annotations)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    changed.push((id, Change::Fired));
                }
                Some((id, _, _)) => {
                    // A repeat notification, or Alertmanager catching up with a manual resolve
                    // (which stands: Alertmanager repeats a firing alert until it resolves):
                    // keep the newest annotations (templates may carry the current value).
                    let ends_at = if a.firing { None } else { a.ends_at };
                    sqlx::query(
                        "UPDATE alerts SET annotations = $2, updated_at = $3, \
                         ends_at = COALESCE($4, ends_at) WHERE id = $1",
                    )
                    .bind(&id)
                    .bind(&annotations)
                    .bind(now)
                    .bind(ends_at)
                    .execute(&mut *tx)
                    .await?;
                    changed.push((id, Change::Unchanged));
                }
            }
        }
        tx.commit().await?;
        let mut out = Vec::with_capacity(changed.len());
        for (id, change) in changed {
            out.push((change, self.get(&id).await?));
        }
        Ok(out)
    }

    pub async fn get(&self, id: &str) -> StoreResult<Alert> {
        sqlx::query_as::<_, AlertRow>(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.0.read_pool())
        .await?
        .ok_or(StoreError::NotFound("alert"))?
        .into_alert()
    }

    /// Newest first.
    pub async fn list(&self, filter: &AlertFilter, page: Page) -> StoreResult<Paged<Alert>> {
        let name = filter
            .name
            .as_ref()
            .map(|n| format!("%{}%", n.to_lowercase()));
        let acknowledged = filter.acknowledged.map(i64::from);
        let (total,): (i64,) = sqlx::query_as(concat!(
            "SELECT COUNT(*) FROM alerts WHERE ",
            alert_filter!()
        ))
        .bind(&filter.status)
        .bind(&filter.severity)
        .bind(acknowledged)
        .bind(&name)
        .bind(&filter.rule_id)
        .fetch_one(self.0.read_pool())
        .await?;
        let items = sqlx::query_as::<_, AlertRow>(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE ",
            alert_filter!(),
            " ORDER BY starts_at DESC, id DESC LIMIT $6 OFFSET $7"
        ))
        .bind(&filter.status)
        .bind(&filter.severity)
        .bind(acknowledged)
        .bind(&name)
        .bind(&filter.rule_id)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(self.0.read_pool())
        .await?
        .into_iter()
        .map(AlertRow::into_alert)
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged { items, total })
    }

    /// Marks an alert as seen by `by`. Acknowledging twice keeps the first acknowledgement.
    pub async fn acknowledge(&self, id: &str, by: &str) -> StoreResult<Alert> {
        let done = sqlx::query(
            "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, $2), \
             acknowledged_by = COALESCE(acknowledged_by, $3), updated_at = $2 WHERE id = $1",
        )
        .bind(id)
        .bind(now_ms())
        .bind(by)
        .execute(self.0.write_pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("alert"));
        }
        self.get(id).await
    }

    /// Resolves a firing alert by hand.
    pub async fn resolve(&self, id: &str, by: &str) -> StoreResult<Alert> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE alerts SET status = $2, resolved_at = $3, resolved_by = $4, updated_at = $3 \
             WHERE id = $1 AND status = $5",
        )
        .bind(id)
        .bind(RESOLVED)
        .bind(now)
        .bind(by)
        .bind(FIRING)
        .execute(self.0.write_pool())
        .await?;
        if done.rows_affected() == 0 {
            // Either unknown (404) or already resolved (409).
            self.get(id).await?;
            return Err(StoreError::Conflict("the alert is already resolved".into()));
        }
        self.get(id).await
    }
}
