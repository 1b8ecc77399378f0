//! `/api/v1/metrics/*` (monitoring module): Prometheus' query API behind ContextBay's
//! authentication. Parameters are passed on as sent (query string, and the form body of the
//! POST variants) and Prometheus' answer comes back unchanged: its status, content type and body.
//!
//! The limits are computed from the values Prometheus will use. Prometheus reads each parameter
//! with Go's `Request.FormValue`: the form body's first value, else the query string's first;
//! and Go's decoder drops segments it cannot read where ours keeps them. Rather than mirror those
//! rules, a limited parameter (`start`, `end`, `step`) may be given once, in the query string or
//! the body (400 when repeated, in one place or across both), and a value given that this proxy
//! cannot read is refused (400) instead of being passed on unchecked.
//!
//! Limits, checked before Prometheus is asked (400 with the reason):
//! - a time range (`start` to `end`) of at most 31 days;
//! - `query_range`: at most 11,000 points per series (`(end - start) / step + 1`), Prometheus'
//!   own ceiling, so the message can name the smallest step that works;
//! - an answer of at most `max_result_bytes` (monitoring module, default 16 MiB).

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::ts;
use crate::modules::alerting::rules::is_label_name;
use crate::modules::monitoring::promql_time::{parse_step, parse_timestamp};
use crate::state::AppState;

/// Longest time range a proxied call may cover.
pub const MAX_RANGE_MS: i64 = 31 * 86_400_000;
/// Most points per series a range query may produce (as in Prometheus).
pub const MAX_POINTS: i64 = 11_000;

/// Parameters the limits are computed from: each may be given once.
const LIMITED: [&str; 3] = ["start", "end", "step"];

/// The parameters of a call: form body, then query string (the order in which Go's
/// `Request.Form`, and so Prometheus, holds them).
struct Params(Vec<(String, String)>);

impl Params {
    fn read(req: &HttpRequest, form: Option<&[u8]>) -> Result<Self, ApiError> {
        let mut all: Vec<(String, String)> = form
            .map(|body| form_urlencoded::parse(body).into_owned().collect())
            .unwrap_or_default();
        all.extend(form_urlencoded::parse(req.query_string().as_bytes()).into_owned());
        for name in LIMITED {
            let given = all.iter().filter(|(k, _)| k == name).count();
            if given > 1 {
                return Err(ApiError::bad_request(format!(
                    "'{name}' is given {given} times (query string and form body together); \
                     give it once"
                )));
            }
        }
        Ok(Self(all))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The time range of a call, when both ends are given. A value that cannot be read here is
/// refused: what Prometheus would make of it is not known, so it cannot be checked.
fn range(params: &Params) -> Result<Option<(i64, i64)>, ApiError> {
    let read = |name| {
        params
            .get(name)
            .map(|v| parse_timestamp(name, v).map_err(ApiError::bad_request))
            .transpose()
    };
    let (start, end) = (read("start")?, read("end")?);
    Ok(start.zip(end))
}

fn check_range(params: &Params) -> Result<(), ApiError> {
    if let Some((start, end)) = range(params)?
        && end.saturating_sub(start) > MAX_RANGE_MS
    {
        return Err(ApiError::bad_request(format!(
            "the time range {} to {} is longer than the limit of 31 days; query a shorter range",
            ts(start),
            ts(end)
        )));
    }
    Ok(())
}

fn check_points(params: &Params) -> Result<(), ApiError> {
    check_range(params)?;
    let step = params
        .get("step")
        .map(|step| parse_step(step).map(|ms| (step, ms)))
        .transpose()
        .map_err(ApiError::bad_request)?;
    let (Some((start, end)), Some((step, step_ms))) = (range(params)?, step) else {
        return Ok(());
    };
    let step_ms = i64::try_from(step_ms).unwrap_or(i64::MAX);
    let span = end.saturating_sub(start).max(0);
    if span / step_ms + 1 > MAX_POINTS {
        // The smallest step (whole seconds) that stays within the limit.
        let min_step_ms = (span + MAX_POINTS - 2) / (MAX_POINTS - 1);
        let min_step_secs = (min_step_ms + 999) / 1000;
        return Err(ApiError::bad_request(format!(
            "step {step} gives {} points per series, more than the limit of {MAX_POINTS}; use a \
             step of at least {min_step_secs}s for this range",
            span / step_ms + 1
        )));
    }
    Ok(())
}

/// Reads a POST's form body (Prometheus accepts `application/x-www-form-urlencoded` only).
fn form_body(req: &HttpRequest, body: web::Bytes) -> Result<web::Bytes, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(ApiError::bad_request(
            "expected a form body with Content-Type: application/x-www-form-urlencoded",
        ));
    }
    Ok(body)
}

async fn forward(
    state: &AppState,
    api_path: &str,
    req: &HttpRequest,
    form: Option<web::Bytes>,
    check: fn(&Params) -> Result<(), ApiError>,
) -> ApiResult<HttpResponse> {
    check(&Params::read(req, form.as_deref())?)?;
    let prom = crate::modules::monitoring::prometheus(state).await?;
    let answer = prom.raw(api_path, req.query_string(), form).await?;
    let mut res =
        HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY));
    if let Some(ct) = answer.content_type {
        res.insert_header((CONTENT_TYPE, ct));
    }
    Ok(res.body(answer.body))
}

fn no_check(_: &Params) -> Result<(), ApiError> {
    Ok(())
}

/// Prometheus' answer to a query it ran.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrometheusAnswer {
    /// `success`.
    pub status: String,
    /// What the endpoint gives (a query's `resultType` and `result`, a list of series, label
    /// names or values, metadata by metric).
    pub data: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infos: Option<Vec<String>>,
}

/// Prometheus' answer to a query it refused or could not run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusError {
    /// `error`.
    pub status: String,
    /// `bad_data`, `execution`, `timeout`, `canceled`, `internal`, `unavailable`, …
    pub error_type: String,
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
}

/// An error from ContextBay (its limits, Prometheus not reachable) or from Prometheus itself.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ProxyError {
    ContextBay(ErrorBody),
    Prometheus(PrometheusError),
}

/// The form body of `POST /api/v1/metrics/query`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct InstantQueryForm {
    /// A PromQL expression.
    #[schema(min_length = 1)]
    pub query: String,
    /// RFC 3339 or Unix seconds; default (or empty) now.
    #[schema(
        nullable = false,
        pattern = "^(|[+-]?[0-9]{1,12}(\\.[0-9]{1,9})?|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$"
    )]
    pub time: Option<String>,
    /// Evaluation timeout, a Prometheus duration (empty: Prometheus' default).
    #[schema(
        nullable = false,
        pattern = "^(([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?|[0-9]{1,9}(\\.[0-9]{1,3})?)$"
    )]
    pub timeout: Option<String>,
}

/// The form body of `POST /api/v1/metrics/query_range`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RangeQueryForm {
    /// A PromQL expression.
    #[schema(min_length = 1)]
    pub query: String,
    /// RFC 3339 or Unix seconds.
    #[schema(
        pattern = "^([+-]?[0-9]{1,12}(\\.[0-9]{1,9})?|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$"
    )]
    pub start: String,
    /// RFC 3339 or Unix seconds, at most 31 days after `start`.
    #[schema(
        pattern = "^([+-]?[0-9]{1,12}(\\.[0-9]{1,9})?|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$"
    )]
    pub end: String,
    /// A Prometheus duration or seconds; at most 11,000 points per series.
    #[schema(
        min_length = 1,
        pattern = "^(([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?|[0-9]{1,9}(\\.[0-9]{1,3})?)$"
    )]
    pub step: String,
    /// Evaluation timeout, a Prometheus duration (empty: Prometheus' default).
    #[schema(
        nullable = false,
        pattern = "^(([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?|[0-9]{1,9}(\\.[0-9]{1,3})?)$"
    )]
    pub timeout: Option<String>,
}

/// Instant query (`query`, `time`, `timeout`), answered as Prometheus answers it.
#[utoipa::path(get, path = "/api/v1/metrics/query", tag = "monitoring", params(("query" = String, Query, min_length = 1, description = "A PromQL expression"), ("time" = Option<String>, Query, pattern = "^(|[+-]?[0-9]{1,12}(\\.[0-9]{1,9})?|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$", description = "Evaluation time: RFC 3339 or Unix seconds; default (or empty) now"), ("timeout" = Option<String>, Query, pattern = "^(([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?|[0-9]{1,9}(\\.[0-9]{1,3})?)$", description = "Evaluation timeout, a Prometheus duration")),
    responses((status = 200, body = PrometheusAnswer, description = "Prometheus' answer, unchanged"),
        (status = 400, body = ProxyError, description = "Refused by ContextBay's limits (`ErrorBody`) or by Prometheus (`bad_data`)"),
        (status = 422, body = PrometheusError, description = "Prometheus could not evaluate the expression"),
        (status = 503, body = ProxyError, description = "Prometheus is not configured or not reachable (`ErrorBody`), or timed out or was canceled")))]
pub async fn query(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    forward(&state, "query", &req, None, no_check).await
}

/// Instant query with a form body.
#[utoipa::path(post, path = "/api/v1/metrics/query", tag = "monitoring",
    request_body(content = InstantQueryForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = PrometheusAnswer, description = "Prometheus' answer, unchanged"),
        (status = 400, body = ProxyError, description = "Refused by ContextBay's limits (`ErrorBody`) or by Prometheus (`bad_data`)"),
        (status = 422, body = PrometheusError, description = "Prometheus could not evaluate the expression"),
        (status = 503, body = ProxyError, description = "Prometheus is not configured or not reachable (`ErrorBody`), or timed out or was canceled")))]
pub async fn query_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let form = form_body(&req, body)?;
    forward(&state, "query", &req, Some(form), no_check).await
}

/// Range query (`query`, `start`, `end`, `step`) within the limits above.
#[utoipa::path(get, path = "/api/v1/metrics/query_range", tag = "monitoring", params(("query" = String, Query, min_length = 1, description = "A PromQL expression"), ("start" = String, Query, pattern = "^([+-]?[0-9]{1,12}(\\.[0-9]{1,9})?|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$", description = "RFC 3339 or Unix seconds"), ("end" = String, Query, pattern = "^([+-]?[0-9]{1,12}(\\.[0-9]{1,9})?|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$", description = "RFC 3339 or Unix seconds, at most 31 days after `start`"), ("step" = String, Query, min_length = 1, pattern = "^(([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?|[0-9]{1,9}(\\.[0-9]{1,3})?)$", description = "A Prometheus duration or seconds; at most 11,000 points per series"), ("timeout" = Option<String>, Query, pattern = "^(([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?|[0-9]{1,9}(\\.[0-9]{1,3})?)$", description = "Evaluation timeout, a Prometheus duration")),
    responses((status = 200, body = PrometheusAnswer, description = "Prometheus' answer, unchanged"),
        (status = 400, body = ProxyError, description = "Refused by ContextBay's limits (`ErrorBody`) or by Prometheus (`bad_data`)"),
        (status = 422, body = PrometheusError, description = "Prometheus could not evaluate the expression"),
        (status = 503, body = ProxyError, description = "Prometheus is not configured or not reachable (`ErrorBody`), or timed out or was canceled")))]
pub async fn query_range(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    forward(&state, "query_range", &req, None, check_points).await
}

/// Range query with a form body.
#[utoipa::path(post, path = "/api/v1/metrics/query_range", tag = "monitoring",
    request_body(content = RangeQueryForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = PrometheusAnswer, description = "Prometheus' answer, unchanged"),
        (status = 400, body = ProxyError, description = "Refused by ContextBay's limits (`ErrorBody`) or by Prometheus (`bad_data`)"),
        (status = 422, body = PrometheusError, description = "Prometheus could not evaluate the expression"),
        (status = 503, body = ProxyError, description = "Prometheus is not configured or not reachable (`ErrorBody`), or timed out or was canceled")))]
pub async fn query_range_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let form = form_body(&req, body)?;
    forward(&state, "query_range", &req, Some(form), check_points).await
}

/// Series matching `match[]` selectors.
#[utoipa::path(get, path = "/api/v1/metrics/series", tag = "monitoring", params(("match[]" = Vec<String>, Query, explode, description = "Series selectors (at least one)"), ("start" = Option<String>, Query, pattern = "^([+-]?[0-9]{1,12}(\\.[0-9]{1,9})?|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$", description = "RFC 3339 or Unix seconds"), ("end" = Option<String>, Query, pattern = "^([+-]?[0-9]{1,12}(\\.[0-9]{1,9})?|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$", description = "RFC 3339 or Unix seconds, at most 31 days after `start`")),
    responses((status = 200, body = PrometheusAnswer, description = "Prometheus' answer, unchanged"),
        (status = 400, body = ProxyError, description = "Refused by ContextBay's limits (`ErrorBody`) or by Prometheus (`bad_data`)"),
        (status = 422, body = PrometheusError, description = "Prometheus could not evaluate the expression"),
        (status = 503, body = ProxyError, description = "Prometheus is not configured or not reachable (`ErrorBody`), or timed out or was canceled")))]
pub async fn series(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    forward(&state, "series", &req, None, check_range).await
}

/// Label names.
#[utoipa::path(get, path = "/api/v1/metrics/labels", tag = "monitoring", params(("match[]" = Option<Vec<String>>, Query, explode, description = "Series selectors"), ("start" = Option<String>, Query, pattern = "^([+-]?[0-9]{1,12}(\\.[0-9]{1,9})?|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$", description = "RFC 3339 or Unix seconds"), ("end" = Option<String>, Query, pattern = "^([+-]?[0-9]{1,12}(\\.[0-9]{1,9})?|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$", description = "RFC 3339 or Unix seconds, at most 31 days after `start`")),
    responses((status = 200, body = PrometheusAnswer, description = "Prometheus' answer, unchanged"),
        (status = 400, body = ProxyError, description = "Refused by ContextBay's limits (`ErrorBody`) or by Prometheus (`bad_data`)"),
        (status = 422, body = PrometheusError, description = "Prometheus could not evaluate the expression"),
        (status = 503, body = ProxyError, description = "Prometheus is not configured or not reachable (`ErrorBody`), or timed out or was canceled")))]
pub async fn labels(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    forward(&state, "labels", &req, None, check_range).await
}

/// Values of one label.
#[utoipa::path(get, path = "/api/v1/metrics/label/{name}/values", tag = "monitoring",
    params(("name" = String, Path, pattern = "^[a-zA-Z_][a-zA-Z0-9_]*$", description = "A label name"), ("match[]" = Option<Vec<String>>, Query, explode, description = "Series selectors"), ("start" = Option<String>, Query, pattern = "^([+-]?[0-9]{1,12}(\\.[0-9]{1,9})?|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$", description = "RFC 3339 or Unix seconds"), ("end" = Option<String>, Query, pattern = "^([+-]?[0-9]{1,12}(\\.[0-9]{1,9})?|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$", description = "RFC 3339 or Unix seconds, at most 31 days after `start`")),
    responses((status = 200, body = PrometheusAnswer, description = "Prometheus' answer, unchanged"),
        (status = 400, body = ProxyError, description = "Refused by ContextBay's limits (`ErrorBody`) or by Prometheus (`bad_data`)"),
        (status = 422, body = PrometheusError, description = "Prometheus could not evaluate the expression"),
        (status = 503, body = ProxyError, description = "Prometheus is not configured or not reachable (`ErrorBody`), or timed out or was canceled")))]
pub async fn label_values(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    if !is_label_name(&name) {
        return Err(ApiError::bad_request(format!(
            "invalid label name '{name}': expected [a-zA-Z_][a-zA-Z0-9_]*"
        )));
    }
    forward(
        &state,
        &format!("label/{name}/values"),
        &req,
        None,
        check_range,
    )
    .await
}

/// Metric metadata (type, help, unit).
#[utoipa::path(get, path = "/api/v1/metrics/metadata", tag = "monitoring", params(("metric" = Option<String>, Query, description = "Only this metric"), ("limit" = Option<i64>, Query, description = "At most this many metrics")),
    responses((status = 200, body = PrometheusAnswer, description = "Prometheus' answer, unchanged"),
        (status = 400, body = ProxyError, description = "Refused by ContextBay's limits (`ErrorBody`) or by Prometheus (`bad_data`)"),
        (status = 422, body = PrometheusError, description = "Prometheus could not evaluate the expression"),
        (status = 503, body = ProxyError, description = "Prometheus is not configured or not reachable (`ErrorBody`), or timed out or was canceled")))]
pub async fn metadata(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    forward(&state, "metadata", &req, None, no_check).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn read(qs: &str, form: Option<&[u8]>) -> Result<Params, ApiError> {
        Params::read(
            &TestRequest::with_uri(&format!("/x?{qs}")).to_http_request(),
            form,
        )
    }

    fn params(qs: &str) -> Params {
        read(qs, None).unwrap()
    }

    #[test]
    fn range_and_points_limits() {
        assert!(check_range(&params("start=0&end=2678400")).is_ok());
        let err = check_range(&params("start=0&end=2678401")).unwrap_err();
        assert!(err.message.contains("31 days"), "{}", err.message);
        assert!(check_points(&params("start=0&end=10999&step=1")).is_ok());
        let err = check_points(&params("start=0&end=11000&step=1")).unwrap_err();
        assert!(err.message.contains("at least 2s"), "{}", err.message);
        let err = check_points(&params("start=0&end=86400&step=1s")).unwrap_err();
        assert!(err.message.contains("at least 8s"), "{}", err.message);
        assert!(check_points(&params("start=0&end=86400&step=8s")).is_ok());
        // Missing values are Prometheus' to refuse (or, for series and labels, its default).
        assert!(check_points(&params("query=up")).is_ok());
        assert!(check_range(&params("start=0")).is_ok());
    }

    #[test]
    fn values_this_proxy_cannot_read_are_refused() {
        // Prometheus reads its own minimum and maximum times, hexadecimal floats, …: a value
        // the limits cannot be computed from is not passed on unchecked.
        for qs in [
            "start=x&end=86400&step=60",
            "start=-292273086-05-16T16:47:06Z&end=0",
            "start=0&end=0x1p40",
            "start=0&end=60&step=1.5x",
            "start=%zz&end=60",
        ] {
            let err = check_points(&params(qs)).unwrap_err();
            assert_eq!(
                err.code.status(),
                actix_web::http::StatusCode::BAD_REQUEST,
                "{qs}"
            );
        }
    }

    #[test]
    fn form_parameters_count_too() {
        let req = TestRequest::with_uri("/x?start=0").to_http_request();
        let p = Params::read(&req, Some(b"end=99999999&step=1")).unwrap();
        assert!(check_points(&p).is_err());
    }

    #[test]
    fn a_limited_parameter_is_given_once() {
        for (qs, form) in [
            ("start=0&start=1&end=60&step=1", None),
            ("end=60&step=1&start=0", Some(&b"start=-99999999"[..])),
            ("step=1", Some(&b"start=0&end=60&step=60"[..])),
            // Encoded names are the same name (Go decodes them too).
            ("start=0&st%61rt=1&end=60&step=1", None),
        ] {
            let err = read(qs, form)
                .err()
                .unwrap_or_else(|| panic!("{qs} accepted"));
            assert!(err.message.contains("give it once"), "{}", err.message);
        }
        // Other parameters may repeat (match[] does), and the limited ones may come from
        // either place.
        let p = read("match[]=up&match[]=down&start=0", Some(b"end=60&step=1")).unwrap();
        assert!(check_points(&p).is_ok());
    }
}
