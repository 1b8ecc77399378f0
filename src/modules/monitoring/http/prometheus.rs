//! `/api/prometheus/*` (monitoring module): Prometheus' own view of its targets, its loaded rules
//! and its health. `targets` and `rules` answer Prometheus' `data` object as it gives it.

use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::Query;
use crate::http::{PageQuery, Paginated};
use crate::integrations::{Health, IntegrationError};
use crate::state::AppState;

/// Which targets: those Prometheus scrapes, those relabelling dropped, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TargetState {
    Active,
    Dropped,
    Any,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TargetsQuery {
    /// `active`, `dropped` or `any` (default `any`).
    #[param(inline)]
    pub state: Option<TargetState>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<i64>,
}

/// Which rules.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Alert,
    Record,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RulesQuery {
    /// `alert` or `record`; default both.
    #[serde(rename = "type")]
    #[param(rename = "type", inline)]
    pub kind: Option<RuleKind>,
    /// 1 to 500, default 50 (rule groups).
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<i64>,
}

/// A scrape target as Prometheus reports it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrometheusTarget {
    pub state: ActiveOrDropped,
    /// `up`, `down` or `unknown`; `null` for a dropped target.
    pub health: Option<String>,
    pub scrape_pool: Option<String>,
    pub scrape_url: Option<String>,
    /// The last scrape's error (empty when it worked); `null` for a dropped target.
    pub last_error: Option<String>,
    /// Prometheus' target object as it gives it (`labels`, `discoveredLabels`, `lastScrape`,
    /// `lastScrapeDuration`, `scrapeInterval`, …).
    #[schema(value_type = Object)]
    pub target: Value,
}

/// Whether Prometheus scrapes a target (`active`) or relabelling dropped it (`dropped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActiveOrDropped {
    Active,
    Dropped,
}

/// A rule group as Prometheus has loaded it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrometheusRuleGroup {
    pub name: String,
    /// The rule file it comes from.
    pub file: String,
    /// Its rules as Prometheus gives them (`type` `alerting` or `recording`, `name`, `query`,
    /// `health`, `state` and `alerts` for alerting rules, …).
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<Value>,
    /// Evaluation interval in seconds.
    pub interval: Option<f64>,
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

const BAD_ANSWER: &str = "Prometheus failed or sent an answer ContextBay could not read";
const UNAVAILABLE: &str = "Prometheus is not configured or not reachable";

fn bad_answer(detail: impl Into<String>) -> ApiError {
    IntegrationError::BadAnswer {
        service: crate::integrations::prometheus::SERVICE,
        detail: detail.into(),
    }
    .into()
}

/// The targets of one of Prometheus' lists (`activeTargets`, `droppedTargets`).
fn targets_of(
    data: &Value,
    key: &str,
    state: ActiveOrDropped,
) -> Result<Vec<PrometheusTarget>, ApiError> {
    let list = match data.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(bad_answer(format!("'{key}' is not a list"))),
    };
    let text = |t: &Value, k: &str| t.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(list
        .iter()
        .map(|t| PrometheusTarget {
            state,
            health: text(t, "health"),
            scrape_pool: text(t, "scrapePool"),
            scrape_url: text(t, "scrapeUrl"),
            last_error: text(t, "lastError"),
            target: t.clone(),
        })
        .collect())
}

/// Scrape targets and their health, as Prometheus reports them: active ones first, then by
/// scrape pool and URL.
#[utoipa::path(get, path = "/api/prometheus/targets", tag = "monitoring", params(TargetsQuery),
    responses((status = 200, body = Paginated<PrometheusTarget>), (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody, description = BAD_ANSWER),
        (status = 503, body = ErrorBody, description = UNAVAILABLE)))]
pub async fn targets(
    state: web::Data<AppState>,
    query: Query<TargetsQuery>,
) -> ApiResult<web::Json<Paginated<PrometheusTarget>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let wanted = query.state.unwrap_or(TargetState::Any);
    let prom = crate::modules::monitoring::prometheus(&state).await?;
    let asked = match wanted {
        TargetState::Active => "active",
        TargetState::Dropped => "dropped",
        TargetState::Any => "any",
    };
    let data = prom.api("targets", &[("state", asked)]).await?;
    let mut items = Vec::new();
    if wanted != TargetState::Dropped {
        items.extend(targets_of(&data, "activeTargets", ActiveOrDropped::Active)?);
    }
    if wanted != TargetState::Active {
        items.extend(targets_of(
            &data,
            "droppedTargets",
            ActiveOrDropped::Dropped,
        )?);
    }
    // Stable: Prometheus' own order within equal keys is kept.
    items.sort_by(|a, b| {
        (a.state, &a.scrape_pool, &a.scrape_url).cmp(&(b.state, &b.scrape_pool, &b.scrape_url))
    });
    Ok(web::Json(Paginated::of_all(items, page)))
}

/// Recording and alerting rules Prometheus has loaded, with their state and active alerts, by
/// rule group (ordered by file, then name).
#[utoipa::path(get, path = "/api/prometheus/rules", tag = "monitoring", params(RulesQuery),
    responses((status = 200, body = Paginated<PrometheusRuleGroup>), (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody, description = BAD_ANSWER),
        (status = 503, body = ErrorBody, description = UNAVAILABLE)))]
pub async fn rules(
    state: web::Data<AppState>,
    query: Query<RulesQuery>,
) -> ApiResult<web::Json<Paginated<PrometheusRuleGroup>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let mut params = Vec::new();
    match query.kind {
        Some(RuleKind::Alert) => params.push(("type", "alert")),
        Some(RuleKind::Record) => params.push(("type", "record")),
        None => {}
    }
    let prom = crate::modules::monitoring::prometheus(&state).await?;
    let data = prom.api("rules", &params).await?;
    let groups = match data.get("groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(groups)) => groups.clone(),
        Some(_) => return Err(bad_answer("'groups' is not a list")),
    };
    let mut items = groups
        .into_iter()
        .map(|g| {
            let text = |k: &str| g.get(k).and_then(Value::as_str).map(str::to_owned);
            let (Some(name), Some(file)) = (text("name"), text("file")) else {
                return Err(bad_answer("a rule group without a name or a file"));
            };
            let rules = match g.get("rules") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(rules)) => rules.clone(),
                Some(_) => {
                    return Err(bad_answer(format!(
                        "the rules of group '{name}' are not a list"
                    )));
                }
            };
            Ok(PrometheusRuleGroup {
                interval: g.get("interval").and_then(Value::as_f64),
                name,
                file,
                rules,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    items.sort_by(|a, b| a.file.cmp(&b.file).then_with(|| a.name.cmp(&b.name)));
    Ok(web::Json(Paginated::of_all(items, page)))
}

/// Health, build and runtime information. Answers 200 with `health.healthy = false` when
/// Prometheus is configured but down, so a dashboard can show why.
#[utoipa::path(get, path = "/api/prometheus/status", tag = "monitoring",
    responses((status = 200, body = PrometheusStatus), (status = 503, body = ErrorBody, description = "Prometheus is not configured")))]
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
