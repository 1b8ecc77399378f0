//! `/api/operations`: the long-running operations (jobs) of the master: stack deploy, stop and
//! remove today. An operation answers `202` where it starts; these endpoints follow and cancel it.

use actix_web::web;
use contextbay_actors::{Job, JobState, SubmitError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::extract::Query;
use super::{PageQuery, Paginated, parse_path_id, ts};
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::jobs::JobFilter;

/// A long-running operation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OperationView {
    pub id: String,
    /// What it does, e.g. `stack.deploy`.
    pub kind: String,
    /// What it acts on, e.g. `stack:<id>`; one operation runs per resource at a time.
    pub resource: String,
    /// `queued`, `running`, `succeeded`, `failed`, `cancelled` or `interrupted` (its master
    /// stopped while it ran).
    pub state: String,
    /// 0 to 100 when known.
    pub progress: Option<u8>,
    pub message: Option<String>,
    /// What it produced (a stack action: `{id, action, ok, exit_code, command, status, output}`),
    /// also when it failed after running.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error: Option<String>,
    /// The user who started it.
    pub created_by: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The master that runs (or ran) it, and until when it holds it.
    pub owner: String,
    pub lease_until: String,
}

impl From<Job> for OperationView {
    fn from(j: Job) -> Self {
        Self {
            id: j.id,
            kind: j.kind,
            resource: j.resource,
            state: j.state.as_str().into(),
            progress: j.progress,
            message: j.message,
            result: j.result,
            error: j.error,
            created_by: j.created_by,
            created_at: ts(j.created_at),
            started_at: j.started_at.map(ts),
            finished_at: j.finished_at.map(ts),
            owner: j.owner,
            lease_until: ts(j.lease_until),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListOperations {
    /// Exact resource, e.g. `stack:<id>`.
    pub resource: Option<String>,
    /// `queued`, `running`, `succeeded`, `failed`, `cancelled` or `interrupted`.
    #[param(pattern = "^(queued|running|succeeded|failed|cancelled|interrupted)$")]
    pub state: Option<String>,
    /// Exact kind, e.g. `stack.deploy`.
    pub kind: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    #[param(minimum = 0, default = 0)]
    pub offset: Option<i64>,
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::ServiceUnavailable, e.to_string())
}

/// Newest first.
#[utoipa::path(get, path = "/api/operations", tag = "operations", params(ListOperations),
    responses((status = 200, body = Paginated<OperationView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListOperations>,
) -> ApiResult<web::Json<Paginated<OperationView>>> {
    let q = query.into_inner();
    let page = PageQuery::page(q.limit, q.offset)?;
    let st = q
        .state
        .as_deref()
        .map(|s| {
            JobState::parse(s).ok_or_else(|| {
                ApiError::bad_request(
                    "state must be queued, running, succeeded, failed, cancelled or interrupted",
                )
            })
        })
        .transpose()?;
    let filter = JobFilter {
        resource: q.resource,
        state: st,
        kind: q.kind,
    };
    let found = state.store.jobs().list(&filter, page).await?;
    Ok(web::Json(Paginated {
        items: found.items.into_iter().map(OperationView::from).collect(),
        total: found.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// The operation `id`: live from this master while it runs, else as stored.
async fn find(state: &AppState, id: &str) -> ApiResult<Job> {
    if let Some(job) = state.jobs.get(id).await.map_err(unavailable)? {
        return Ok(job);
    }
    Ok(state.store.jobs().get(id).await?)
}

#[utoipa::path(get, path = "/api/operations/{id}", tag = "operations", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = OperationView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<OperationView>> {
    let id = parse_path_id("operation", &id)?;
    Ok(web::Json(find(&state, &id).await?.into()))
}

/// Cancels a running operation: its work is stopped (a compose CLI is killed) and it ends
/// `cancelled`. Answers with the operation once it has ended (or still ending after 10 s).
#[utoipa::path(post, path = "/api/operations/{id}/cancel", tag = "operations", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = OperationView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "it has ended already, or another master runs it")))]
pub async fn cancel(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<OperationView>> {
    let id = parse_path_id("operation", &id)?;
    let wait = std::time::Duration::from_secs(10);
    if let Some(job) = state.jobs.cancel(&id, wait).await.map_err(unavailable)? {
        return Ok(web::Json(job.into()));
    }
    let job = state.store.jobs().get(&id).await?;
    if job.state.is_terminal() {
        return Err(ApiError::conflict(format!(
            "operation {id} has ended already ({})",
            job.state.as_str()
        )));
    }
    Err(ApiError::conflict(format!(
        "operation {id} is run by another master ({}); cancel it there",
        job.owner
    )))
}

/// A refused submit: a `409` naming the operation that holds the resource.
impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Busy(job) => ApiError::conflict(format!(
                "operation {} ({}) is {} on {}; wait for it (GET /api/operations/{}) or cancel it",
                job.id,
                job.kind,
                job.state.as_str(),
                job.resource,
                job.id
            )),
            SubmitError::Limit { .. } => ApiError::conflict(format!("{e}; try again later")),
            SubmitError::Unavailable(err) => {
                ApiError::new(ErrorCode::ServiceUnavailable, err.to_string())
            }
        }
    }
}
