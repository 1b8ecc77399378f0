//! Alert rules: the source of the rule file Prometheus loads (`monitoring::prometheus_files`).

use serde_json::{Map, Value};

use crate::store::{Store, StoreError, StoreResult, conflict_on_unique, new_id, now_ms};

/// One alerting rule as ContextBay keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub id: String,
    pub name: String,
    pub expr: String,
    /// Prometheus duration, the rule's `for:`.
    pub for_duration: String,
    pub severity: String,
    pub labels: Map<String, Value>,
    pub annotations: Map<String, Value>,
    pub enabled: bool,
    pub builtin: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: Option<String>,
}

/// What a create or update writes.
#[derive(Debug, Clone)]
pub struct RuleFields {
    pub name: String,
    pub expr: String,
    pub for_duration: String,
    pub severity: String,
    pub labels: Map<String, Value>,
    pub annotations: Map<String, Value>,
    pub enabled: bool,
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: String,
    name: String,
    expr: String,
    for_duration: String,
    severity: String,
    labels: String,
    annotations: String,
    enabled: i64,
    builtin: i64,
    created_at: i64,
    updated_at: i64,
    updated_by: Option<String>,
}

macro_rules! rule_columns {
    () => {
        "id, name, expr, for_duration, severity, labels, annotations, enabled, builtin, \
         created_at, updated_at, updated_by"
    };
}

fn object(text: &str, what: &str) -> StoreResult<Map<String, Value>> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Other(anyhow::anyhow!("stored alert rule {what}: {e}")))
}

impl RuleRow {
    fn into_rule(self) -> StoreResult<AlertRule> {
        Ok(AlertRule {
            labels: object(&self.labels, "labels")?,
            annotations: object(&self.annotations, "annotations")?,
            id: self.id,
            name: self.name,
            expr: self.expr,
            for_duration: self.for_duration,
            severity: self.severity,
            enabled: self.enabled != 0,
            builtin: self.builtin != 0,
            created_at: self.created_at,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
        })
    }
}

fn duplicate(name: &str) -> String {
    format!("an alert rule named '{name}' already exists")
}

pub struct AlertRules<'a>(pub(super) &'a Store);

impl AlertRules<'_> {
    /// Every rule, by name.
    pub async fn list(&self) -> StoreResult<Vec<AlertRule>> {
        sqlx::query_as::<_, RuleRow>(concat!(
            "SELECT ",
            rule_columns!(),
            " FROM alert_rules ORDER BY name"
        ))
        .fetch_all(self.0.read_pool())
        .await?
        .into_iter()
        .map(RuleRow::into_rule)
        .collect()
    }

    pub async fn get(&self, id: &str) -> StoreResult<AlertRule> {
        sqlx::query_as::<_, RuleRow>(concat!(
            "SELECT ",
            rule_columns!(),
            " FROM alert_rules WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.0.read_pool())
        .await?
        .ok_or(StoreError::NotFound("alert rule"))?
        .into_rule()
    }

    pub async fn create(&self, fields: &RuleFields, by: &str) -> StoreResult<AlertRule> {
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO alert_rules (id, name, expr, for_duration, severity, labels, annotations, \
             enabled, builtin, created_at, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9, $10)",
        )
        .bind(&id)
        .bind(&fields.name)
        .bind(&fields.expr)
        .bind(&fields.for_duration)
        .bind(&fields.severity)
        .bind(Value::Object(fields.labels.clone()).to_string())
        .bind(Value::Object(fields.annotations.clone()).to_string())
        .bind(i64::from(fields.enabled))
        .bind(now)
        .bind(by)
        .execute(self.0.write_pool())
        .await
        .map_err(|e| conflict_on_unique(e, duplicate(&fields.name)))?;
        self.get(&id).await
    }

    /// Replaces a rule's fields (its id, origin and creation time stay).
    pub async fn update(&self, id: &str, fields: &RuleFields, by: &str) -> StoreResult<AlertRule> {
        let done = sqlx::query(
            "UPDATE alert_rules SET name = $2, expr = $3, for_duration = $4, severity = $5, \
             labels = $6, annotations = $7, enabled = $8, updated_at = $9, updated_by = $10 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(&fields.name)
        .bind(&fields.expr)
        .bind(&fields.for_duration)
        .bind(&fields.severity)
        .bind(Value::Object(fields.labels.clone()).to_string())
        .bind(Value::Object(fields.annotations.clone()).to_string())
        .bind(i64::from(fields.enabled))
        .bind(now_ms())
        .bind(by)
        .execute(self.0.write_pool())
        .await
        .map_err(|e| conflict_on_unique(e, duplicate(&fields.name)))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("alert rule"));
        }
        self.get(id).await
    }

    /// Puts a rule back exactly as it was (undoing a change Prometheus refused).
    pub async fn restore(&self, rule: &AlertRule) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO alert_rules (id, name, expr, for_duration, severity, labels, annotations, \
             enabled, builtin, created_at, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, expr = excluded.expr, \
             for_duration = excluded.for_duration, severity = excluded.severity, \
             labels = excluded.labels, annotations = excluded.annotations, \
             enabled = excluded.enabled, builtin = excluded.builtin, \
             created_at = excluded.created_at, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by",
        )
        .bind(&rule.id)
        .bind(&rule.name)
        .bind(&rule.expr)
        .bind(&rule.for_duration)
        .bind(&rule.severity)
        .bind(Value::Object(rule.labels.clone()).to_string())
        .bind(Value::Object(rule.annotations.clone()).to_string())
        .bind(i64::from(rule.enabled))
        .bind(i64::from(rule.builtin))
        .bind(rule.created_at)
        .bind(rule.updated_at)
        .bind(&rule.updated_by)
        .execute(self.0.write_pool())
        .await?;
        Ok(())
    }

    pub async fn delete(&self, id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM alert_rules WHERE id = $1")
            .bind(id)
            .execute(self.0.write_pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("alert rule"));
        }
        Ok(())
    }
}
