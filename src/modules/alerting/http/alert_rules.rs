//! `/api/alert-rules` (alerting module): alerting rules, written into the rule file Prometheus
//! loads (see `monitoring::prometheus_files`). Every change answers what Prometheus made of it in
//! `prometheus` (`reloaded`, `loaded`, `error`); a rule Prometheus refuses is not kept.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::{PageQuery, Paginated, parse_path_id, ts};
use crate::modules::alerting::events as ev;
use crate::modules::alerting::rules::{self, RuleDraft};
use crate::modules::alerting::store::AlertingStore;
use crate::modules::alerting::store::rules::AlertRule;
use crate::modules::monitoring::prometheus_files::PrometheusApply;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRuleView {
    pub id: String,
    pub name: String,
    /// PromQL; the rule fires for every series it returns.
    pub expr: String,
    /// How long the expression must hold before the alert fires (Prometheus duration).
    #[serde(rename = "for")]
    pub for_duration: String,
    /// `critical`, `warning` or `info` (the `severity` label).
    #[schema(value_type = Severity)]
    pub severity: String,
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub labels: Map<String, Value>,
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub annotations: Map<String, Value>,
    pub enabled: bool,
    /// Shipped with ContextBay (editable and deletable like any other).
    pub builtin: bool,
    pub created_at: String,
    pub updated_at: String,
    pub updated_by: Option<String>,
}

impl From<AlertRule> for AlertRuleView {
    fn from(r: AlertRule) -> Self {
        Self {
            id: r.id,
            name: r.name,
            expr: r.expr,
            for_duration: r.for_duration,
            severity: r.severity,
            labels: r.labels,
            annotations: r.annotations,
            enabled: r.enabled,
            builtin: r.builtin,
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
            updated_by: r.updated_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRuleApplied {
    #[serde(flatten)]
    pub rule: AlertRuleView,
    pub prometheus: PrometheusApply,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRuleDeleted {
    pub id: String,
    pub name: String,
    pub prometheus: PrometheusApply,
}

/// The severity of a rule's alerts (its `severity` label).
#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

/// Label names as a rule's labels and annotations take them: Prometheus label names not
/// starting with `__`.
const ENTRY_NAME: &str = "^(_|[a-zA-Z][a-zA-Z0-9_]*|_[a-zA-Z0-9][a-zA-Z0-9_]*)$";

/// A map of names to text values, `null` allowed (as the code checks it in `rules::validate`).
fn string_map_schema(max_value: usize, what: &str) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::Object,
            Type::Null,
        ]))
        .description(Some(what))
        .max_properties(Some(rules::MAX_ENTRIES))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(ENTRY_NAME)),
        ))
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(max_value)),
        ))
        .build()
}

fn labels_schema() -> utoipa::openapi::Object {
    string_map_schema(
        rules::MAX_LABEL_VALUE,
        "Extra labels of the alerts (not `alertname`, `severity` or `contextbay_rule_id`, which \
         ContextBay sets).",
    )
}

fn annotations_schema() -> utoipa::openapi::Object {
    string_map_schema(
        rules::MAX_ANNOTATION_VALUE,
        "`summary` and `description` are shown in notifications; Prometheus templates allowed.",
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAlertRule {
    /// The alert name (`alertname`).
    #[schema(max_length = 128, pattern = "^[a-zA-Z_][a-zA-Z0-9_]*$")]
    pub name: String,
    /// PromQL, checked by Prometheus (not blank; saved without leading and trailing blanks).
    #[schema(min_length = 1, max_length = 4096, pattern = r"[^ \t\n\r]")]
    pub expr: String,
    /// Default `0s`; a Prometheus duration, largest unit first, at most `7d`.
    #[serde(rename = "for")]
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = "^([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"
    )]
    pub for_duration: Option<String>,
    /// Default `warning`.
    #[schema(value_type = Option<Severity>)]
    pub severity: Option<String>,
    #[schema(schema_with = labels_schema)]
    pub labels: Option<Map<String, Value>>,
    #[schema(schema_with = annotations_schema)]
    pub annotations: Option<Map<String, Value>>,
    /// Default `true`.
    pub enabled: Option<bool>,
}

/// Fields to change; the others (and those sent as `null`) keep their values.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAlertRule {
    #[schema(max_length = 128, pattern = "^[a-zA-Z_][a-zA-Z0-9_]*$")]
    pub name: Option<String>,
    #[schema(min_length = 1, max_length = 4096, pattern = r"[^ \t\n\r]")]
    pub expr: Option<String>,
    #[serde(rename = "for")]
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = "^([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"
    )]
    pub for_duration: Option<String>,
    #[schema(value_type = Option<Severity>)]
    pub severity: Option<String>,
    #[schema(schema_with = labels_schema)]
    pub labels: Option<Map<String, Value>>,
    #[schema(schema_with = annotations_schema)]
    pub annotations: Option<Map<String, Value>>,
    pub enabled: Option<bool>,
}

/// Alert rules, by name.
#[utoipa::path(get, path = "/api/alert-rules", tag = "alerting", params(PageQuery),
    responses((status = 200, body = Paginated<AlertRuleView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<AlertRuleView>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let rules = state.store.alert_rules().list().await?;
    Ok(web::Json(Paginated::of_all(
        rules.into_iter().map(AlertRuleView::from).collect(),
        page,
    )))
}

/// Create a rule; Prometheus checks its PromQL, then loads it.
#[utoipa::path(post, path = "/api/alert-rules", tag = "alerting", request_body = CreateAlertRule,
    responses((status = 201, body = AlertRuleApplied), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody, description = "A rule with this name exists"), (status = 502, body = ErrorBody, description = "Prometheus failed"), (status = 503, body = ErrorBody, description = "Prometheus is not configured or not reachable")))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<CreateAlertRule>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let fields = rules::check(
        &state,
        RuleDraft {
            name: b.name,
            expr: b.expr,
            for_duration: b.for_duration,
            severity: b.severity,
            labels: b.labels,
            annotations: b.annotations,
            enabled: b.enabled,
        },
    )
    .await?;
    let (rule, prometheus) = rules::create(&state, &fields, &principal.username).await?;
    state
        .events
        .publish_committed(ev::AlertRuleCreated(ev::AlertRuleRef {
            id: rule.id.clone(),
            name: rule.name.clone(),
        }))
        .await;
    Ok(HttpResponse::Created().json(AlertRuleApplied {
        rule: rule.into(),
        prometheus,
    }))
}

/// Change a rule; the fields not sent keep their values.
#[utoipa::path(put, path = "/api/alert-rules/{id}", tag = "alerting", params(("id" = uuid::Uuid, Path, description = "The rule's id")), request_body = UpdateAlertRule,
    responses((status = 200, body = AlertRuleApplied), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "A rule with this name exists"), (status = 502, body = ErrorBody, description = "Prometheus failed"), (status = 503, body = ErrorBody, description = "Prometheus is not configured or not reachable")))]
pub async fn update(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: Body<UpdateAlertRule>,
) -> ApiResult<web::Json<AlertRuleApplied>> {
    let id = parse_path_id("alert rule", &id)?;
    let b = body.into_inner();
    let current = state.store.alert_rules().get(&id).await?;
    let fields = rules::check(
        &state,
        RuleDraft {
            name: b.name.unwrap_or(current.name),
            expr: b.expr.unwrap_or(current.expr),
            for_duration: Some(b.for_duration.unwrap_or(current.for_duration)),
            severity: Some(b.severity.unwrap_or(current.severity)),
            labels: Some(b.labels.unwrap_or(current.labels)),
            annotations: Some(b.annotations.unwrap_or(current.annotations)),
            enabled: Some(b.enabled.unwrap_or(current.enabled)),
        },
    )
    .await?;
    let (rule, prometheus) = rules::update(&state, &id, &fields, &principal.username).await?;
    state
        .events
        .publish_committed(ev::AlertRuleUpdated(ev::AlertRuleRef {
            id: rule.id.clone(),
            name: rule.name.clone(),
        }))
        .await;
    Ok(web::Json(AlertRuleApplied {
        rule: rule.into(),
        prometheus,
    }))
}

/// Delete a rule; Prometheus drops it (its alerts resolve).
#[utoipa::path(delete, path = "/api/alert-rules/{id}", tag = "alerting", params(("id" = uuid::Uuid, Path, description = "The rule's id")),
    responses((status = 200, body = AlertRuleDeleted), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<AlertRuleDeleted>> {
    let id = parse_path_id("alert rule", &id)?;
    let (rule, prometheus) = rules::delete(&state, &id).await?;
    state
        .events
        .publish_committed(ev::AlertRuleDeleted(ev::AlertRuleRef {
            id: rule.id.clone(),
            name: rule.name.clone(),
        }))
        .await;
    Ok(web::Json(AlertRuleDeleted {
        id: rule.id,
        name: rule.name,
        prometheus,
    }))
}
