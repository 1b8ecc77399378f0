//! `/api/prometheus/*` (monitoring module): Prometheus' own view of its targets, its loaded rules
//! and its health. `targets` and `rules` answer Prometheus' `data` object as it gives it.

use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::Query;
use crate::integrations::Health;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TargetsQuery {
    /// `active`, `dropped` or `any` (Prometheus' default: `any`).
    pub state: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RulesQuery {
    /// `alert` or `record`; default both.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrometheusStatus {
    pub health: Health,
    /// `/api/v1/status/buildinfo` (version, revision, …), when reachable.
    #[schema(value_type = Option<Object>)]
    pub build: Option<Value>,
    /// `/api/v1/status/runtimeinfo` (start time, last reload, storage retention, …).
    #[schema(value_type = Option<Object>)]
    pub runtime: Option<Value>,
    /// The rule file ContextBay writes, for Prometheus' `rule_files`.
    pub rule_file: String,
    /// The file_sd targets file ContextBay writes.
    pub targets_file: String,
}

/// Scrape targets and their health, as Prometheus reports them.
#[utoipa::path(get, path = "/api/prometheus/targets", tag = "monitoring", params(TargetsQuery),
    responses((status = 200, description = "Prometheus' `activeTargets` and `droppedTargets`"), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn targets(
    state: web::Data<AppState>,
    query: Query<TargetsQuery>,
) -> ApiResult<web::Json<Value>> {
    let wanted = query.state.as_deref().unwrap_or("any");
    if !["active", "dropped", "any"].contains(&wanted) {
        return Err(ApiError::bad_request(
            "state must be active, dropped or any",
        ));
    }
    let prom = crate::modules::monitoring::prometheus(&state).await?;
    Ok(web::Json(prom.api("targets", &[("state", wanted)]).await?))
}

/// Recording and alerting rules Prometheus has loaded, with their state and active alerts.
#[utoipa::path(get, path = "/api/prometheus/rules", tag = "monitoring", params(RulesQuery),
    responses((status = 200, description = "Prometheus' rule `groups`"), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn rules(
    state: web::Data<AppState>,
    query: Query<RulesQuery>,
) -> ApiResult<web::Json<Value>> {
    let mut params = Vec::new();
    if let Some(kind) = query.kind.as_deref() {
        if !["alert", "record"].contains(&kind) {
            return Err(ApiError::bad_request("type must be alert or record"));
        }
        params.push(("type", kind));
    }
    let prom = crate::modules::monitoring::prometheus(&state).await?;
    Ok(web::Json(prom.api("rules", &params).await?))
}

/// Health, build and runtime information. Answers 200 with `health.healthy = false` when
/// Prometheus is configured but down, so a dashboard can show why.
#[utoipa::path(get, path = "/api/prometheus/status", tag = "monitoring",
    responses((status = 200, body = PrometheusStatus), (status = 503, body = ErrorBody)))]
pub async fn status(state: web::Data<AppState>) -> ApiResult<web::Json<PrometheusStatus>> {
    let prom = crate::modules::monitoring::prometheus(&state).await?;
    let health = prom.health().await;
    let (build, runtime) = if health.healthy {
        let (build, runtime) = tokio::join!(
            prom.api("status/buildinfo", &[]),
            prom.api("status/runtimeinfo", &[])
        );
        (build.ok(), runtime.ok())
    } else {
        (None, None)
    };
    Ok(web::Json(PrometheusStatus {
        health,
        build,
        runtime,
        rule_file: state.prometheus_files.rules_path().display().to_string(),
        targets_file: state.prometheus_files.targets_path().display().to_string(),
    }))
}
