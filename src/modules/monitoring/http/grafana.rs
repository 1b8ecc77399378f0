//! `/api/grafana/*` (monitoring module): Grafana dashboards, stars and annotations through
//! Grafana's HTTP API, acting as the configured service account. Stars therefore belong to that
//! service account, not to the ContextBay user who sets them.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::{PageQuery, Paginated};
use crate::integrations::grafana::{DashboardSearch, NewAnnotation, SaveDashboard, SavedDashboard};
use crate::modules::trim_blank;
use crate::state::AppState;
use crate::store::now_ms;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListDashboards {
    /// Words of the title.
    pub query: Option<String>,
    pub tag: Option<String>,
    /// Only dashboards starred by the service account.
    pub starred: Option<bool>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<i64>,
}

/// The most dashboards asked of Grafana's search (its own default ceiling); the page is cut
/// from those.
const SEARCH_LIMIT: u32 = 5000;

#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardView {
    pub uid: String,
    pub title: String,
    /// Absolute URL of the dashboard in Grafana.
    pub url: String,
    pub tags: Vec<String>,
    pub starred: bool,
    pub folder_uid: Option<String>,
    pub folder_title: Option<String>,
}

/// Grafana uids as the code checks them ([`check_uid`]).
const UID_PATTERN: &str = "^[a-zA-Z0-9_-]{1,40}$";

/// The dashboard model as `save` checks it: an object with a title that is not blank, and a
/// `uid`, when it is a string, that is a Grafana uid.
fn dashboard_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "Grafana's dashboard JSON model; needs a `title`. With a `uid` (and `overwrite` or \
             the current `version`) it updates that dashboard.",
        ))
        .property(
            "title",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"[^ \t\n\r]")),
        )
        .required("title")
        .property(
            "uid",
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::String,
                    Type::Null,
                ]))
                .pattern(Some(UID_PATTERN)),
        )
        .build()
}

/// Annotation tags: at most 32, each 1 to 100 characters.
fn tags_schema() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(100)),
        )
        .max_items(Some(32))
        .build()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveDashboardRequest {
    #[schema(schema_with = dashboard_schema)]
    pub dashboard: Value,
    #[schema(pattern = "^[a-zA-Z0-9_-]{1,40}$")]
    pub folder_uid: Option<String>,
    /// Commit message for the dashboard's version history.
    pub message: Option<String>,
    /// Replace a dashboard with the same uid or title regardless of version.
    #[serde(default)]
    pub overwrite: bool,
}

/// A dashboard as Grafana gives it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrafanaDashboard {
    /// The JSON model.
    #[schema(value_type = Object)]
    pub dashboard: Value,
    /// Grafana's metadata (`url`, `folderUid`, `version`, …).
    #[schema(value_type = Object)]
    pub meta: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StarState {
    pub uid: String,
    pub starred: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnotationRequest {
    /// Not blank; sent without leading and trailing blanks.
    #[schema(min_length = 1, max_length = 10000, pattern = r"[^ \t\n\r]")]
    pub text: String,
    #[serde(default)]
    #[schema(schema_with = tags_schema)]
    pub tags: Vec<String>,
    /// Attach to this dashboard (else an organization annotation, shown by tag).
    #[schema(pattern = "^[a-zA-Z0-9_-]{1,40}$")]
    pub dashboard_uid: Option<String>,
    pub panel_id: Option<i64>,
    /// RFC 3339 or Unix milliseconds; default now.
    #[schema(
        pattern = "^([+-]?[0-9]{1,15}|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$"
    )]
    pub time: Option<String>,
    /// For a region: its end (RFC 3339 or Unix milliseconds, not before `time`).
    #[schema(
        pattern = "^([+-]?[0-9]{1,15}|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$"
    )]
    pub time_end: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnnotationCreated {
    pub id: i64,
}

/// Grafana uids: at most 40 of `[a-zA-Z0-9_-]` ([`UID_PATTERN`]).
fn check_uid(uid: &str) -> ApiResult<()> {
    if uid.is_empty()
        || uid.chars().count() > 40
        || !uid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::bad_request(format!(
            "invalid dashboard uid '{uid}': at most 40 letters, digits, '-' and '_'"
        )));
    }
    Ok(())
}

/// Dashboards in Grafana, provisioned and user-made, by title (then uid). Grafana is asked for
/// the first 5,000 matches; the page is cut from those.
#[utoipa::path(get, path = "/api/grafana/dashboards", tag = "monitoring", params(ListDashboards),
    responses((status = 200, body = Paginated<DashboardView>), (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "Grafana failed or sent an answer ContextBay could not read"),
        (status = 503, body = ErrorBody, description = "Grafana is not configured or not reachable")))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListDashboards>,
) -> ApiResult<web::Json<Paginated<DashboardView>>> {
    let q = query.into_inner();
    let page = PageQuery::page(q.limit, q.offset)?;
    let grafana = crate::modules::monitoring::grafana(&state).await?;
    let hits = grafana
        .search_dashboards(&DashboardSearch {
            query: q.query,
            tag: q.tag,
            starred: q.starred,
            limit: SEARCH_LIMIT,
        })
        .await?;
    let mut items: Vec<DashboardView> = hits
        .into_iter()
        .map(|h| DashboardView {
            url: if h.url.starts_with('/') {
                grafana.url(&h.url)
            } else {
                h.url
            },
            uid: h.uid,
            title: h.title,
            tags: h.tags,
            starred: h.is_starred,
            folder_uid: h.folder_uid.filter(|f| !f.is_empty()),
            folder_title: h.folder_title.filter(|f| !f.is_empty()),
        })
        .collect();
    items.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.uid.cmp(&b.uid)));
    Ok(web::Json(Paginated::of_all(items, page)))
}

/// Create or update a dashboard.
#[utoipa::path(post, path = "/api/grafana/dashboards", tag = "monitoring", request_body = SaveDashboardRequest,
    responses((status = 200, body = SavedDashboard), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody, description = "Grafana failed or sent an answer ContextBay could not read"),
        (status = 503, body = ErrorBody, description = "Grafana is not configured or not reachable")))]
pub async fn save(
    state: web::Data<AppState>,
    body: Body<SaveDashboardRequest>,
) -> ApiResult<web::Json<SavedDashboard>> {
    let SaveDashboardRequest {
        mut dashboard,
        folder_uid,
        message,
        overwrite,
    } = body.into_inner();
    let Some(model) = dashboard.as_object_mut() else {
        return Err(ApiError::bad_request("'dashboard' must be a JSON object"));
    };
    if model
        .get("title")
        .and_then(Value::as_str)
        .is_none_or(|t| trim_blank(t).is_empty())
    {
        return Err(ApiError::invalid_field(
            "dashboard.title",
            "'dashboard.title' is required and must not be blank",
        ));
    }
    match model.get("uid") {
        None | Some(Value::Null) => {}
        Some(Value::String(uid)) => check_uid(uid).map_err(|e| e.with_field("dashboard.uid"))?,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "dashboard.uid",
                "'dashboard.uid' must be a string",
            ));
        }
    }
    // A new dashboard has no numeric id; one copied from elsewhere must not carry its old id.
    if !overwrite && model.get("uid").is_none() {
        model.insert("id".into(), Value::Null);
    }
    if let Some(f) = &folder_uid {
        check_uid(f)?;
    }
    let grafana = crate::modules::monitoring::grafana(&state).await?;
    let saved = grafana
        .save_dashboard(&SaveDashboard {
            dashboard,
            folder_uid,
            message,
            overwrite,
        })
        .await?;
    Ok(web::Json(SavedDashboard {
        url: if saved.url.starts_with('/') {
            grafana.url(&saved.url)
        } else {
            saved.url
        },
        ..saved
    }))
}

/// A dashboard's JSON model and Grafana's metadata (`{dashboard, meta}`).
#[utoipa::path(get, path = "/api/grafana/dashboards/{uid}", tag = "monitoring", params(("uid" = String, Path, pattern = "^[a-zA-Z0-9_-]{1,40}$", description = "The dashboard's uid")),
    responses((status = 200, body = GrafanaDashboard), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody, description = "Grafana failed or sent an answer ContextBay could not read"),
        (status = 503, body = ErrorBody, description = "Grafana is not configured or not reachable")))]
pub async fn get(
    state: web::Data<AppState>,
    uid: web::Path<String>,
) -> ApiResult<web::Json<GrafanaDashboard>> {
    check_uid(&uid)?;
    let grafana = crate::modules::monitoring::grafana(&state).await?;
    let answer = grafana.dashboard(&uid).await?;
    let dashboard = serde_json::from_value(answer).map_err(|e| {
        crate::integrations::IntegrationError::BadAnswer {
            service: crate::integrations::grafana::SERVICE,
            detail: format!("a dashboard without its model or metadata: {e}"),
        }
    })?;
    Ok(web::Json(dashboard))
}

/// Delete a dashboard.
#[utoipa::path(delete, path = "/api/grafana/dashboards/{uid}", tag = "monitoring", params(("uid" = String, Path, pattern = "^[a-zA-Z0-9_-]{1,40}$", description = "The dashboard's uid")),
    responses((status = 204, description = "Deleted"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody, description = "Grafana failed or sent an answer ContextBay could not read"),
        (status = 503, body = ErrorBody, description = "Grafana is not configured or not reachable")))]
pub async fn delete(state: web::Data<AppState>, uid: web::Path<String>) -> ApiResult<HttpResponse> {
    check_uid(&uid)?;
    let grafana = crate::modules::monitoring::grafana(&state).await?;
    grafana.delete_dashboard(&uid).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Star a dashboard (for the service account).
#[utoipa::path(post, path = "/api/grafana/dashboards/{uid}/star", tag = "monitoring", params(("uid" = String, Path, pattern = "^[a-zA-Z0-9_-]{1,40}$", description = "The dashboard's uid")),
    responses((status = 200, body = StarState), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody, description = "Grafana failed or sent an answer ContextBay could not read"),
        (status = 503, body = ErrorBody, description = "Grafana is not configured or not reachable")))]
pub async fn star(
    state: web::Data<AppState>,
    uid: web::Path<String>,
) -> ApiResult<web::Json<StarState>> {
    set_star(&state, &uid, true).await
}

/// Remove the star.
#[utoipa::path(delete, path = "/api/grafana/dashboards/{uid}/star", tag = "monitoring", params(("uid" = String, Path, pattern = "^[a-zA-Z0-9_-]{1,40}$", description = "The dashboard's uid")),
    responses((status = 200, body = StarState), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody, description = "Grafana failed or sent an answer ContextBay could not read"),
        (status = 503, body = ErrorBody, description = "Grafana is not configured or not reachable")))]
pub async fn unstar(
    state: web::Data<AppState>,
    uid: web::Path<String>,
) -> ApiResult<web::Json<StarState>> {
    set_star(&state, &uid, false).await
}

async fn set_star(state: &AppState, uid: &str, starred: bool) -> ApiResult<web::Json<StarState>> {
    check_uid(uid)?;
    let grafana = crate::modules::monitoring::grafana(state).await?;
    match grafana.star(uid, starred).await {
        Ok(()) => {}
        // Starring twice / un-starring an unstarred dashboard: the state asked for holds.
        Err(crate::integrations::IntegrationError::Remote {
            status: 400,
            message,
            ..
        }) if message.to_lowercase().contains("already")
            || message.to_lowercase().contains("not starred") => {}
        Err(err) => return Err(err.into()),
    }
    Ok(web::Json(StarState {
        uid: uid.to_owned(),
        starred,
    }))
}

/// Push an annotation (alerts that fire are annotated automatically).
#[utoipa::path(post, path = "/api/grafana/annotations", tag = "monitoring", request_body = AnnotationRequest,
    responses((status = 201, body = AnnotationCreated), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody, description = "Grafana failed or sent an answer ContextBay could not read"),
        (status = 503, body = ErrorBody, description = "Grafana is not configured or not reachable")))]
pub async fn annotate(
    state: web::Data<AppState>,
    body: Body<AnnotationRequest>,
) -> ApiResult<HttpResponse> {
    let req = body.into_inner();
    let text = trim_blank(&req.text);
    if text.is_empty() || req.text.chars().count() > 10_000 {
        return Err(ApiError::bad_request(
            "text must be 1 to 10000 characters, not blank",
        ));
    }
    if req.tags.len() > 32
        || req
            .tags
            .iter()
            .any(|t| t.is_empty() || t.chars().count() > 100)
    {
        return Err(ApiError::bad_request(
            "tags: at most 32, each 1 to 100 characters",
        ));
    }
    if let Some(uid) = &req.dashboard_uid {
        check_uid(uid)?;
    }
    let time = match &req.time {
        Some(t) => crate::http::parse_time("time", t)?,
        None => now_ms(),
    };
    let time_end = req
        .time_end
        .as_deref()
        .map(|t| crate::http::parse_time("time_end", t))
        .transpose()?;
    if time_end.is_some_and(|end| end < time) {
        return Err(ApiError::bad_request("time_end must not be before time"));
    }
    let grafana = crate::modules::monitoring::grafana(&state).await?;
    let id = grafana
        .annotate(&NewAnnotation {
            dashboard_uid: req.dashboard_uid,
            panel_id: req.panel_id,
            time,
            time_end,
            tags: req.tags,
            text: text.to_owned(),
        })
        .await?;
    Ok(HttpResponse::Created().json(AnnotationCreated { id }))
}
