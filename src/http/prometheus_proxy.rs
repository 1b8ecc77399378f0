//! `/api/v1/metrics/*` (monitoring module): Prometheus' query API behind ContextBay's
//! authentication. Parameters are passed on as sent (query string, and the form body of the
//! POST variants) and Prometheus' answer comes back unchanged: its status, content type and body.
//!
//! Limits, checked before Prometheus is asked (400 with the reason):
//! - a time range (`start` to `end`) of at most 31 days;
//! - `query_range`: at most 11,000 points per series (`(end - start) / step + 1`), Prometheus'
//!   own ceiling, so the message can name the smallest step that works;
//! - an answer of at most `max_result_bytes` (monitoring module, default 16 MiB).

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};

use super::ts;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::monitoring::alert_rules::is_label_name;
use crate::monitoring::promql_time::{parse_step, parse_timestamp};
use crate::state::AppState;

/// Longest time range a proxied call may cover.
pub const MAX_RANGE_MS: i64 = 31 * 86_400_000;
/// Most points per series a range query may produce (as in Prometheus).
pub const MAX_POINTS: i64 = 11_000;

/// The parameters of a call: query string, then form body (Prometheus reads both).
struct Params(Vec<(String, String)>);

impl Params {
    fn read(req: &HttpRequest, form: Option<&[u8]>) -> Self {
        let mut all: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
        if let Some(body) = form {
            all.extend(form_urlencoded::parse(body).into_owned());
        }
        Self(all)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The time range of a call, when both ends are given and readable (an unreadable value is
/// left for Prometheus to reject in its own words).
fn range(params: &Params) -> Option<(i64, i64)> {
    let start = parse_timestamp("start", params.get("start")?).ok()?;
    let end = parse_timestamp("end", params.get("end")?).ok()?;
    Some((start, end))
}

fn check_range(params: &Params) -> Result<(), ApiError> {
    if let Some((start, end)) = range(params)
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
    let (Some((start, end)), Some(step)) = (range(params), params.get("step")) else {
        return Ok(());
    };
    let Ok(step_ms) = parse_step(step) else {
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
    check(&Params::read(req, form.as_deref()))?;
    let prom = crate::monitoring::prometheus(state).await?;
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

/// Instant query (`query`, `time`, `timeout`), answered as Prometheus answers it.
#[utoipa::path(get, path = "/api/v1/metrics/query", tag = "monitoring",
    responses((status = 200, description = "Prometheus' answer, unchanged"), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn query(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    forward(&state, "query", &req, None, no_check).await
}

/// Instant query with a form body.
#[utoipa::path(post, path = "/api/v1/metrics/query", tag = "monitoring",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Prometheus' answer, unchanged"), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn query_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let form = form_body(&req, body)?;
    forward(&state, "query", &req, Some(form), no_check).await
}

/// Range query (`query`, `start`, `end`, `step`) within the limits above.
#[utoipa::path(get, path = "/api/v1/metrics/query_range", tag = "monitoring",
    responses((status = 200, description = "Prometheus' answer, unchanged"), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn query_range(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    forward(&state, "query_range", &req, None, check_points).await
}

/// Range query with a form body.
#[utoipa::path(post, path = "/api/v1/metrics/query_range", tag = "monitoring",
    request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Prometheus' answer, unchanged"), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn query_range_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let form = form_body(&req, body)?;
    forward(&state, "query_range", &req, Some(form), check_points).await
}

/// Series matching `match[]` selectors.
#[utoipa::path(get, path = "/api/v1/metrics/series", tag = "monitoring",
    responses((status = 200, description = "Prometheus' answer, unchanged"), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn series(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    forward(&state, "series", &req, None, check_range).await
}

/// Label names.
#[utoipa::path(get, path = "/api/v1/metrics/labels", tag = "monitoring",
    responses((status = 200, description = "Prometheus' answer, unchanged"), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn labels(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    forward(&state, "labels", &req, None, check_range).await
}

/// Values of one label.
#[utoipa::path(get, path = "/api/v1/metrics/label/{name}/values", tag = "monitoring",
    params(("name" = String, Path, description = "A label name")),
    responses((status = 200, description = "Prometheus' answer, unchanged"), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
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
#[utoipa::path(get, path = "/api/v1/metrics/metadata", tag = "monitoring",
    responses((status = 200, description = "Prometheus' answer, unchanged"), (status = 503, body = ErrorBody)))]
pub async fn metadata(state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    forward(&state, "metadata", &req, None, no_check).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn params(qs: &str) -> Params {
        Params::read(
            &TestRequest::with_uri(&format!("/x?{qs}")).to_http_request(),
            None,
        )
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
        // Unreadable values are Prometheus' to refuse.
        assert!(check_points(&params("start=x&end=86400&step=1")).is_ok());
    }

    #[test]
    fn form_parameters_count_too() {
        let req = TestRequest::with_uri("/x?start=0").to_http_request();
        let p = Params::read(&req, Some(b"end=99999999&step=1"));
        assert!(check_points(&p).is_err());
    }
}
