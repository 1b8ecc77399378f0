//! `/api/admin/subcontainers` (admin): the `cb-*` fleet.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::catalogue::{self, CATALOGUE, ConfigOverrides, ServiceConfig, Template};
use super::error::SubError;
use super::service::{self, Health};
use super::store::{Deployed, SubcontainerStore};
use crate::auth::Principal;
use crate::docker::containers::{ContainerInfo, LogLine};
use crate::endpoints;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::stacks::OperationAccepted;
use crate::http::{PageQuery, Paginated};
use crate::state::AppState;

impl From<SubError> for ApiError {
    fn from(e: SubError) -> Self {
        match e {
            SubError::NotFound(m) => ApiError::not_found(m),
            SubError::InvalidField { field, message } => ApiError::invalid_field(field, message),
            SubError::Conflict(m) => ApiError::conflict(m),
            SubError::Busy(b) => b.into(),
            SubError::Stack(s) => s.into(),
            SubError::Store(s) => s.into(),
            SubError::Endpoint(a) => a.into(),
        }
    }
}

fn known(name: &str) -> ApiResult<&'static Template> {
    Ok(catalogue::template(name)?)
}

fn accepted(job: contextbay_actors::Job) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header(("Location", format!("/api/operations/{}", job.id)))
        .json(OperationAccepted {
            operation: job.into(),
        })
}

/// A catalogue entry and whether it is deployed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubcontainerSummary {
    /// `prometheus`; its stack is `cb-prometheus`.
    pub name: String,
    pub title: String,
    /// The image it runs (deployed) or would run (default).
    pub image: String,
    pub deployed: bool,
    pub endpoint: Option<String>,
    /// The container's state (`running`, `exited`, …), `missing`, or `unknown` when the endpoint
    /// did not answer; absent when not deployed.
    pub state: Option<String>,
    /// `healthy` or `unhealthy` from the actor's last probe.
    pub health: Option<String>,
    pub flapping: bool,
    /// The module it serves and the setting that points at it.
    pub module: Option<String>,
    pub setting: Option<String>,
}

/// What the service's actor observed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Observed {
    pub container_id: Option<String>,
    /// `running`, `exited`, …; `missing` without a container, `unknown` when the endpoint did not
    /// answer.
    pub state: String,
    /// Docker's human status, e.g. `Up 5 minutes`.
    pub status: Option<String>,
    pub image: Option<String>,
    pub health: Option<String>,
    pub health_detail: Option<String>,
    /// Unix ms.
    pub health_at: Option<i64>,
    /// Restarts made by the actor.
    pub restarts: i64,
    /// Unix ms.
    pub last_restart_at: Option<i64>,
    pub flapping: bool,
}

/// A sub-container's status: desired against observed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubcontainerStatus {
    pub name: String,
    pub title: String,
    pub deployed: bool,
    pub endpoint: Option<String>,
    /// Its stack (`/api/stacks/{id}`).
    pub stack: Option<String>,
    /// Where the master reaches it.
    pub url: String,
    pub module: Option<String>,
    pub setting: Option<String>,
    /// The desired configuration (the defaults when not deployed).
    pub desired: ServiceConfig,
    /// The configuration of the last deploy that succeeded.
    pub deployed_config: Option<ServiceConfig>,
    pub observed: Option<Observed>,
    /// How the deployment differs from the desired state (empty: none).
    pub drift: Vec<String>,
}

fn summary(
    t: &Template,
    d: Option<&Deployed>,
    containers: Option<&[ContainerInfo]>,
) -> SubcontainerSummary {
    SubcontainerSummary {
        name: t.name.into(),
        title: t.title.into(),
        image: d.map_or_else(|| t.image.to_owned(), |d| d.config.image.clone()),
        deployed: d.is_some(),
        endpoint: d.map(|d| d.endpoint.clone()),
        state: d.map(|_| match containers {
            None => "unknown".to_owned(),
            Some([]) => "missing".to_owned(),
            Some([c, ..]) => c.state.clone(),
        }),
        health: d.and_then(|d| d.health.clone()),
        flapping: d.is_some_and(|d| d.flapping),
        module: t.wires.map(|(m, _)| m.to_owned()),
        setting: t.wires.map(|(_, k)| k.to_owned()),
    }
}

async fn containers_of(state: &AppState, t: &Template, d: &Deployed) -> Option<Vec<ContainerInfo>> {
    let e = endpoints::get(state, &d.endpoint).await.ok()?;
    service::containers(state, t, &e).await.ok()
}

/// Every service of the catalogue, deployed or not, in the catalogue's order.
#[utoipa::path(get, path = "/api/admin/subcontainers", tag = "subcontainers", params(PageQuery),
    responses((status = 200, body = Paginated<SubcontainerSummary>)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<SubcontainerSummary>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let stored = state.store.subcontainers().all().await?;
    let mut all = Vec::new();
    for t in CATALOGUE {
        let d = stored.iter().find(|d| d.name == t.name);
        let containers = match d {
            Some(d) => containers_of(&state, t, d).await,
            None => None,
        };
        all.push(summary(t, d, containers.as_deref()));
    }
    Ok(web::Json(Paginated::of_all(all, page)))
}

/// Desired against observed state: the configuration, the container, the actor's restarts and
/// health, and the drift between them.
#[utoipa::path(get, path = "/api/admin/subcontainers/{name}", tag = "subcontainers",
    params(("name" = String, Path, description = "a catalogue name, e.g. prometheus")),
    responses((status = 200, body = SubcontainerStatus), (status = 404, body = ErrorBody, description = "not in the catalogue")))]
pub async fn get(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<web::Json<SubcontainerStatus>> {
    let t = known(&name)?;
    let Some(d) = state.store.subcontainers().get(t.name).await? else {
        let desired = ServiceConfig::defaults(t);
        return Ok(web::Json(SubcontainerStatus {
            name: t.name.into(),
            title: t.title.into(),
            deployed: false,
            endpoint: None,
            stack: None,
            url: desired.url(t),
            module: t.wires.map(|(m, _)| m.to_owned()),
            setting: t.wires.map(|(_, k)| k.to_owned()),
            desired,
            deployed_config: None,
            observed: None,
            drift: Vec::new(),
        }));
    };
    let stack = state.store.stacks().get(&d.stack_id).await.ok();
    let containers = containers_of(&state, t, &d).await;
    let first = containers.as_ref().and_then(|c| c.first());
    let drift = match &containers {
        Some(list) => service::drift(t, &d, stack.as_ref(), list),
        None => vec!["its endpoint did not answer; the container's state is unknown".into()],
    };
    let observed = Observed {
        container_id: first.map(|c| c.id.clone()),
        state: match (&containers, first) {
            (None, _) => "unknown".into(),
            (Some(_), None) => "missing".into(),
            (_, Some(c)) => c.state.clone(),
        },
        status: first.map(|c| c.status.clone()),
        image: first.map(|c| c.image.clone()),
        health: d.health.clone(),
        health_detail: d.health_detail.clone(),
        health_at: d.health_at,
        restarts: d.restarts,
        last_restart_at: d.last_restart_at,
        flapping: d.flapping,
    };
    Ok(web::Json(SubcontainerStatus {
        name: t.name.into(),
        title: t.title.into(),
        deployed: true,
        endpoint: Some(d.endpoint.clone()),
        stack: Some(d.stack_id.clone()),
        url: d.config.url(t),
        module: t.wires.map(|(m, _)| m.to_owned()),
        setting: t.wires.map(|(_, k)| k.to_owned()),
        desired: d.config.clone(),
        deployed_config: d.deployed_config.clone(),
        observed: Some(observed),
        drift,
    }))
}

/// Runs the service's health probe now (HTTP `GET` of its health path, or a TCP connect).
#[utoipa::path(get, path = "/api/admin/subcontainers/{name}/health", tag = "subcontainers",
    params(("name" = String, Path)),
    responses((status = 200, body = Health), (status = 404, body = ErrorBody, description = "not in the catalogue, or not deployed")))]
pub async fn health(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<web::Json<Health>> {
    let t = known(&name)?;
    let d = service::deployed(&state, t).await?;
    let c = d.deployed_config.as_ref().unwrap_or(&d.config);
    Ok(web::Json(service::probe(t, c).await))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// Lines from the end (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub tail: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubcontainerLogs {
    pub name: String,
    /// Oldest first; empty when the service has no container.
    pub lines: Vec<LogLine>,
}

/// The last lines of the service's container log.
#[utoipa::path(get, path = "/api/admin/subcontainers/{name}/logs", tag = "subcontainers",
    params(("name" = String, Path), LogsQuery),
    responses((status = 200, body = SubcontainerLogs), (status = 404, body = ErrorBody, description = "not in the catalogue, or not deployed")))]
pub async fn logs(
    state: web::Data<AppState>,
    name: web::Path<String>,
    query: Query<LogsQuery>,
) -> ApiResult<web::Json<SubcontainerLogs>> {
    let t = known(&name)?;
    let tail = query.tail.unwrap_or(100);
    if !(1..=1000).contains(&tail) {
        return Err(ApiError::invalid_field("tail", "tail: must be 1 to 1000"));
    }
    let lines = service::logs(&state, t, tail).await?;
    Ok(web::Json(SubcontainerLogs {
        name: t.name.into(),
        lines,
    }))
}

/// Restarts the service's container (recreates it from its stack when it is gone), as an
/// operation.
#[utoipa::path(post, path = "/api/admin/subcontainers/{name}/restart", tag = "subcontainers",
    params(("name" = String, Path)),
    responses((status = 202, body = OperationAccepted, headers(("Location" = String, description = "/api/operations/{operation id}"))),
              (status = 404, body = ErrorBody, description = "not in the catalogue, or not deployed"),
              (status = 409, body = ErrorBody, description = "another operation runs on the service")))]
pub async fn restart(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let t = known(&name)?;
    let job = service::restart(&state, t, Some(principal.username)).await?;
    Ok(accepted(job))
}

/// `POST …/deploy`: where to deploy and what to change in the configuration.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploySubcontainer {
    /// The endpoint (default: where it is deployed, else `local`).
    pub endpoint: Option<String>,
    /// Overrides of the stored (or default) configuration.
    pub config: Option<ConfigOverrides>,
}

/// Deploys (or redeploys) the service as the stack `cb-<name>` through ContextBay's own stacks,
/// as an operation; when it has run, the module the service serves points at it (local
/// endpoint). A second deploy while one runs is refused with 409.
#[utoipa::path(post, path = "/api/admin/subcontainers/{name}/deploy", tag = "subcontainers",
    params(("name" = String, Path)), request_body = DeploySubcontainer,
    responses((status = 202, body = OperationAccepted, headers(("Location" = String, description = "/api/operations/{operation id}"))),
              (status = 404, body = ErrorBody, description = "not in the catalogue, or no such endpoint"),
              (status = 409, body = ErrorBody, description = "another operation runs on the service, or it is deployed on another endpoint")))]
pub async fn deploy(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
    body: Body<DeploySubcontainer>,
) -> ApiResult<HttpResponse> {
    let t = known(&name)?;
    let b = body.into_inner();
    let overrides = b.config.unwrap_or_default();
    let job = service::deploy(&state, t, b.endpoint, &overrides, Some(principal.username)).await?;
    Ok(accepted(job))
}

/// Changes the deployed service's configuration (only the keys sent), re-renders its compose
/// file and redeploys it, as an operation.
#[utoipa::path(put, path = "/api/admin/subcontainers/{name}/config", tag = "subcontainers",
    params(("name" = String, Path)), request_body = ConfigOverrides,
    responses((status = 202, body = OperationAccepted, headers(("Location" = String, description = "/api/operations/{operation id}"))),
              (status = 404, body = ErrorBody, description = "not in the catalogue, or not deployed"),
              (status = 409, body = ErrorBody, description = "another operation runs on the service")))]
pub async fn config(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
    body: Body<ConfigOverrides>,
) -> ApiResult<HttpResponse> {
    let t = known(&name)?;
    let job = service::reconfigure(&state, t, &body.into_inner(), Some(principal.username)).await?;
    Ok(accepted(job))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    /// Also remove the service's data volume (default: kept).
    #[serde(default)]
    pub volumes: bool,
}

/// Removes the service's stack (`down`; its data volume is kept unless `?volumes=true`) and
/// record, as an operation; the module setting that still points at it is cleared.
#[utoipa::path(delete, path = "/api/admin/subcontainers/{name}", tag = "subcontainers",
    params(("name" = String, Path), RemoveQuery),
    responses((status = 202, body = OperationAccepted, headers(("Location" = String, description = "/api/operations/{operation id}"))),
              (status = 404, body = ErrorBody, description = "not in the catalogue, or not deployed"),
              (status = 409, body = ErrorBody, description = "another operation runs on the service")))]
pub async fn remove(
    state: web::Data<AppState>,
    principal: Principal,
    name: web::Path<String>,
    query: Query<RemoveQuery>,
) -> ApiResult<HttpResponse> {
    let t = known(&name)?;
    let job = service::remove(&state, t, query.volumes, Some(principal.username)).await?;
    Ok(accepted(job))
}
