//! `/api/alerts` (alerting module): alerts Alertmanager delivered to the webhook, newest first,
//! with acknowledge and manual resolve. Both publish an event (`alert.acknowledged`,
//! `alert.resolved`) with the same payload as `alert.fired`.

use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::Query;
use crate::http::{PageQuery, Paginated, parse_id, parse_path_id, ts};
use crate::modules::alerting::events::{AlertAcknowledged, AlertResolved};
use crate::modules::alerting::store::AlertingStore;
use crate::modules::alerting::store::alerts::{Alert, AlertFilter, FIRING, RESOLVED};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub id: String,
    /// The `alertname` label.
    pub name: String,
    /// The `severity` label (`none` without one).
    pub severity: String,
    /// `firing` or `resolved`.
    pub status: String,
    #[schema(value_type = Object)]
    pub labels: Map<String, Value>,
    #[schema(value_type = Object)]
    pub annotations: Map<String, Value>,
    pub starts_at: String,
    pub ends_at: Option<String>,
    /// Alertmanager's fingerprint of the label set.
    pub fingerprint: String,
    /// Link to the expression in Prometheus.
    pub generator_url: Option<String>,
    /// The ContextBay rule that raised it, when it came from one.
    pub rule_id: Option<String>,
    pub acknowledged: bool,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<String>,
    pub resolved_at: Option<String>,
    /// Who resolved it by hand; `null` when Alertmanager resolved it.
    pub resolved_by: Option<String>,
    pub received_at: String,
    pub updated_at: String,
}

impl From<Alert> for AlertView {
    fn from(a: Alert) -> Self {
        Self {
            acknowledged: a.acknowledged_at.is_some(),
            id: a.id,
            name: a.name,
            severity: a.severity,
            status: a.status,
            labels: a.labels,
            annotations: a.annotations,
            starts_at: ts(a.starts_at),
            ends_at: a.ends_at.map(ts),
            fingerprint: a.fingerprint,
            generator_url: a.generator_url,
            rule_id: a.rule_id,
            acknowledged_at: a.acknowledged_at.map(ts),
            acknowledged_by: a.acknowledged_by,
            resolved_at: a.resolved_at.map(ts),
            resolved_by: a.resolved_by,
            received_at: ts(a.received_at),
            updated_at: ts(a.updated_at),
        }
    }
}

/// The state of an alert.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Firing => FIRING,
            Self::Resolved => RESOLVED,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListAlerts {
    /// `firing` or `resolved`.
    #[param(inline)]
    pub status: Option<AlertStatus>,
    /// A severity label value (`critical`, `warning`, `info`, …).
    pub severity: Option<String>,
    pub acknowledged: Option<bool>,
    /// Substring of the alert name.
    pub q: Option<String>,
    /// Only alerts raised by this rule.
    #[param(value_type = Option<uuid::Uuid>)]
    pub rule_id: Option<String>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<i64>,
}

/// Alerts, newest first.
#[utoipa::path(get, path = "/api/alerts", tag = "alerting", params(ListAlerts),
    responses((status = 200, body = Paginated<AlertView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListAlerts>,
) -> ApiResult<web::Json<Paginated<AlertView>>> {
    let q = query.into_inner();
    let page = PageQuery::page(q.limit, q.offset)?;
    let rule_id = q
        .rule_id
        .as_deref()
        .map(|r| parse_id("alert rule", r).map_err(|e| e.with_field("rule_id")))
        .transpose()?;
    let filter = AlertFilter {
        status: q.status.map(|s| s.as_str().to_owned()),
        severity: q.severity,
        acknowledged: q.acknowledged,
        name: q.q.filter(|n| !n.is_empty()),
        rule_id,
    };
    let result = state.store.alerts().list(&filter, page).await?;
    Ok(web::Json(Paginated {
        items: result.items.into_iter().map(AlertView::from).collect(),
        total: result.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Mark an alert as seen. Acknowledging again keeps the first acknowledgement.
#[utoipa::path(post, path = "/api/alerts/{id}/acknowledge", tag = "alerting", params(("id" = uuid::Uuid, Path, description = "The alert's id")),
    responses((status = 200, body = AlertView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn acknowledge(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<web::Json<AlertView>> {
    let id = parse_path_id("alert", &id)?;
    let before = state.store.alerts().get(&id).await?;
    let alert = state
        .store
        .alerts()
        .acknowledge(&id, &principal.username)
        .await?;
    if before.acknowledged_at.is_none() {
        state
            .events
            .publish_committed(AlertAcknowledged((&alert).into()))
            .await;
    }
    Ok(web::Json(alert.into()))
}

/// Resolve a firing alert by hand (Alertmanager is not told; a new firing is a new alert).
#[utoipa::path(post, path = "/api/alerts/{id}/resolve", tag = "alerting", params(("id" = uuid::Uuid, Path, description = "The alert's id")),
    responses((status = 200, body = AlertView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resolve(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<web::Json<AlertView>> {
    let id = parse_path_id("alert", &id)?;
    let alert = state
        .store
        .alerts()
        .resolve(&id, &principal.username)
        .await?;
    state
        .events
        .publish_committed(AlertResolved((&alert).into()))
        .await;
    Ok(web::Json(alert.into()))
}
