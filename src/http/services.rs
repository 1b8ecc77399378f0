//! `/api/services`: compose services across endpoints, i.e. the containers of each endpoint
//! grouped by their `com.docker.compose.project` and `com.docker.compose.service` labels, and the
//! swarm services of endpoints that are swarm managers. A compose service's id is
//! `<endpoint>:<project>:<service>`, a swarm service's `<endpoint>:<swarm service id>` (every part
//! is URL-safe).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::containers::{ContainerView, gather};
use super::extract::{Body, Query};
use super::{EndpointsPage, endpoints_page_limit};
use crate::docker::compose::{self, ComposeAction};
use crate::docker::containers::PortInfo;
use crate::docker::ops::DockerOp;
use crate::docker::swarm::SwarmService;
use crate::endpoints::{self, EndpointRef};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::store::stacks::ServiceHealth;

/// One container of a service.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceContainer {
    pub id: String,
    pub name: String,
    pub state: String,
    pub status: String,
}

/// CB's health snapshot of a service.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthView {
    /// `healthy`, `degraded`, `unhealthy`, `unknown`.
    pub status: String,
    pub detail: String,
    /// Unix milliseconds.
    pub updated_at: i64,
}

impl From<ServiceHealth> for HealthView {
    fn from(h: ServiceHealth) -> Self {
        Self {
            status: h.status,
            detail: h.detail,
            updated_at: h.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceView {
    /// `<endpoint>:<project>:<service>` (compose) or `<endpoint>:<swarm service id>` (swarm).
    pub id: String,
    /// `compose` or `swarm`.
    pub kind: String,
    pub endpoint: EndpointRef,
    pub project: String,
    pub service: String,
    /// The stored stack of this project on this endpoint, if there is one.
    pub stack_id: Option<String>,
    pub image: Option<String>,
    pub containers: Vec<ServiceContainer>,
    /// Containers by state (`running`, `exited`, …).
    pub state_counts: BTreeMap<String, usize>,
    pub running: usize,
    pub total: usize,
    pub ports: Vec<PortInfo>,
    pub health: Option<HealthView>,
    /// Desired replicas of a replicated swarm service.
    pub replicas: Option<u64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListServices {
    pub endpoint: Option<String>,
    /// Exact compose project name.
    pub project: Option<String>,
    /// Substring of the service name.
    pub name: Option<String>,
    /// Only services with at least one container in this state.
    pub state: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<usize>,
    #[param(minimum = 0, default = 0)]
    pub offset: Option<usize>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutHealth {
    /// `healthy`, `degraded`, `unhealthy` or `unknown`.
    #[schema(pattern = "^(healthy|degraded|unhealthy|unknown)$")]
    pub status: String,
    /// Free text, up to 4096 characters.
    #[schema(max_length = 4096)]
    #[serde(default)]
    pub detail: String,
}

/// The parts of a service id. A swarm service has no project; `service` is its swarm id.
struct ServiceId {
    endpoint: String,
    project: String,
    service: String,
    swarm: bool,
}

impl ServiceId {
    fn parse(id: &str) -> ApiResult<Self> {
        // Whatever the path holds, a malformed id names no service: 404, like an unknown one.
        let bad = || {
            ApiError::not_found(format!(
                "no service '{id}'; service ids are <endpoint>:<project>:<service> or <endpoint>:<swarm service id>"
            ))
        };
        let parts: Vec<&str> = id.split(':').collect();
        let endpoint = parts.first().copied().unwrap_or_default();
        let endpoint_ok = !endpoint.is_empty()
            && endpoint.len() <= 64
            && endpoint
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if let [_, swarm_id] = parts.as_slice() {
            let id_ok = !swarm_id.is_empty()
                && swarm_id.len() <= 64
                && swarm_id.chars().all(|c| c.is_ascii_alphanumeric());
            if !endpoint_ok || !id_ok {
                return Err(bad());
            }
            return Ok(Self {
                endpoint: endpoint.to_owned(),
                project: String::new(),
                service: (*swarm_id).to_owned(),
                swarm: true,
            });
        }
        let [_, project, service] = parts.as_slice() else {
            return Err(bad());
        };
        if !endpoint_ok
            || compose::validate_project_name(project).is_err()
            || !compose::valid_service_name(service)
        {
            return Err(bad());
        }
        Ok(Self {
            endpoint: endpoint.to_owned(),
            project: (*project).to_owned(),
            service: (*service).to_owned(),
            swarm: false,
        })
    }
}

/// Groups containers into services.
fn group(
    containers: Vec<ContainerView>,
) -> BTreeMap<String, (EndpointRef, String, String, Vec<ContainerView>)> {
    let mut out: BTreeMap<String, (EndpointRef, String, String, Vec<ContainerView>)> =
        BTreeMap::new();
    for c in containers {
        let (Some(project), Some(service)) = (
            c.container.compose_project.clone(),
            c.container.compose_service.clone(),
        ) else {
            continue;
        };
        let id = format!("{}:{project}:{service}", c.endpoint.id);
        out.entry(id)
            .or_insert_with(|| (c.endpoint.clone(), project, service, Vec::new()))
            .3
            .push(c);
    }
    out
}

fn service_view(
    id: String,
    endpoint: EndpointRef,
    project: String,
    service: String,
    containers: &[ContainerView],
    stack_id: Option<String>,
    health: Option<HealthView>,
) -> ServiceView {
    let mut state_counts = BTreeMap::new();
    let mut ports = Vec::new();
    for c in containers {
        *state_counts.entry(c.container.state.clone()).or_insert(0) += 1;
        for p in &c.container.ports {
            if !ports.contains(p) {
                ports.push(p.clone());
            }
        }
    }
    ServiceView {
        id,
        kind: "compose".into(),
        endpoint,
        project,
        service,
        stack_id,
        image: containers.first().map(|c| c.container.image.clone()),
        containers: containers
            .iter()
            .map(|c| ServiceContainer {
                id: c.container.id.clone(),
                name: c.container.name.clone(),
                state: c.container.state.clone(),
                status: c.container.status.clone(),
            })
            .collect(),
        running: state_counts.get("running").copied().unwrap_or(0),
        total: containers.len(),
        state_counts,
        ports,
        health,
        replicas: None,
    }
}

/// A swarm service with the task containers this endpoint runs for it.
fn swarm_view(
    endpoint: EndpointRef,
    svc: SwarmService,
    containers: &[ContainerView],
    health: Option<HealthView>,
) -> ServiceView {
    let id = format!("{}:{}", endpoint.id, svc.id);
    let mut view = service_view(
        id,
        endpoint,
        svc.stack.unwrap_or_default(),
        svc.name,
        containers,
        None,
        health,
    );
    view.kind = "swarm".into();
    view.image = svc.image.or(view.image);
    view.replicas = svc.replicas;
    view
}

const SWARM_SERVICE_LABEL: &str = "com.docker.swarm.service.id";

/// The services on `only` or every endpoint, with the endpoints that failed.
async fn all_services(
    state: &AppState,
    only: Option<&str>,
) -> ApiResult<(Vec<ServiceView>, Vec<Value>)> {
    let (containers, errors) = gather(state, only, true).await?;
    // Swarm task containers belong to their swarm service, not to a compose service.
    let (tasks, containers): (Vec<ContainerView>, Vec<ContainerView>) = containers
        .into_iter()
        .partition(|c| c.container.labels.contains_key(SWARM_SERVICE_LABEL));
    // Endpoints that cannot answer were reported by `gather` already.
    let (swarm, _) =
        endpoints::fan_out::<Vec<SwarmService>>(state, only, DockerOp::ListSwarmServices)
            .await
            .unwrap_or_default();
    let stacks = state.store.stacks().list().await?;
    let mut health: BTreeMap<String, ServiceHealth> = state
        .store
        .service_health()
        .all()
        .await?
        .into_iter()
        .map(|h| (h.id.clone(), h))
        .collect();
    let items = group(containers)
        .into_iter()
        .map(|(id, (endpoint, project, service, list))| {
            let stack_id = stacks
                .iter()
                .find(|s| s.endpoint == endpoint.id && s.name == project)
                .map(|s| s.id.clone());
            let h = health.remove(&id).map(HealthView::from);
            service_view(id, endpoint, project, service, &list, stack_id, h)
        })
        .collect::<Vec<_>>();
    let mut items = items;
    for (e, services) in swarm {
        for svc in services {
            let mine: Vec<ContainerView> = tasks
                .iter()
                .filter(|c| {
                    c.endpoint.id == e.id
                        && c.container.labels.get(SWARM_SERVICE_LABEL) == Some(&svc.id)
                })
                .cloned()
                .collect();
            let h = health
                .remove(&format!("{}:{}", e.id, svc.id))
                .map(HealthView::from);
            items.push(swarm_view((&e).into(), svc, &mine, h));
        }
    }
    Ok((items, errors))
}

#[utoipa::path(get, path = "/api/services", tag = "services", params(ListServices),
    responses((status = 200, body = EndpointsPage<ServiceView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListServices>,
) -> ApiResult<web::Json<EndpointsPage<ServiceView>>> {
    let q = query.into_inner();
    let limit = endpoints_page_limit(q.limit)?;
    let (all, errors) = all_services(&state, q.endpoint.as_deref()).await?;
    let matching: Vec<ServiceView> = all
        .into_iter()
        .filter(|s| {
            q.project.as_deref().is_none_or(|p| s.project == p)
                && q.name.as_deref().is_none_or(|n| s.service.contains(n))
                && q.state
                    .as_deref()
                    .is_none_or(|st| s.state_counts.contains_key(st))
        })
        .collect();
    Ok(web::Json(EndpointsPage::new(
        matching, limit, q.offset, errors,
    )))
}

/// The service `id`: from its containers, or declared by a stored stack that has none running.
async fn find(state: &AppState, id: &str) -> ApiResult<ServiceView> {
    let sid = ServiceId::parse(id)?;
    let e = endpoints::get(state, &sid.endpoint).await?;
    let (all, _) = all_services(state, Some(&e.id)).await?;
    if let Some(found) = all.into_iter().find(|s| s.id == id) {
        return Ok(found);
    }
    if sid.swarm {
        return Err(ApiError::not_found(format!("no service '{id}'")));
    }
    let stack = state.store.stacks().find(&e.id, &sid.project).await?;
    let declared = stack.as_ref().is_some_and(|s| {
        compose::validate_compose(&s.compose)
            .unwrap_or_default()
            .contains(&sid.service)
    });
    if !declared {
        return Err(ApiError::not_found(format!("no service '{id}'")));
    }
    let health = state
        .store
        .service_health()
        .get(id)
        .await?
        .map(HealthView::from);
    Ok(service_view(
        id.to_owned(),
        (&e).into(),
        sid.project,
        sid.service,
        &[],
        stack.map(|s| s.id),
        health,
    ))
}

#[utoipa::path(get, path = "/api/services/{id}", tag = "services", params(("id" = String, Path)),
    responses((status = 200, body = ServiceView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<ServiceView>> {
    Ok(web::Json(find(&state, &id).await?))
}

/// Removes the service's containers: `rm -s -f <service>` through compose when its stack is
/// stored, else each container directly.
#[utoipa::path(delete, path = "/api/services/{id}", tag = "services", params(("id" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 502, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    principal: crate::auth::Principal,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let sid = ServiceId::parse(&id)?;
    let service = find(&state, &id).await?;
    if service.total == 0 {
        return Err(ApiError::not_found(format!(
            "service '{id}' has no containers to remove"
        )));
    }
    let e = endpoints::get(&state, &sid.endpoint).await?;
    if sid.swarm {
        endpoints::call(
            &state,
            &e,
            DockerOp::RemoveSwarmService {
                id: sid.service.clone(),
            },
        )
        .await?;
        state.store.service_health().delete(&id).await?;
        return Ok(HttpResponse::NoContent().finish());
    }
    match state.store.stacks().find(&e.id, &sid.project).await? {
        Some(stack) => {
            // An operation of the stack, so it waits for none other to run on it.
            crate::stacks::run_to_end(
                &state,
                stack,
                e.clone(),
                "remove_service",
                ComposeAction::RemoveService {
                    service: sid.service.clone(),
                },
                Some(principal.username),
            )
            .await?;
        }
        None => {
            for c in &service.containers {
                endpoints::call(
                    &state,
                    &e,
                    DockerOp::RemoveContainer {
                        id: c.id.clone(),
                        force: true,
                        volumes: false,
                    },
                )
                .await?;
            }
        }
    }
    state.store.service_health().delete(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Stores CB's health snapshot of the service.
#[utoipa::path(put, path = "/api/services/{id}/health", tag = "services", params(("id" = String, Path)), request_body = PutHealth,
    responses((status = 200, body = HealthView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_health(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Body<PutHealth>,
) -> ApiResult<web::Json<HealthView>> {
    let b = body.into_inner();
    if !["healthy", "degraded", "unhealthy", "unknown"].contains(&b.status.as_str()) {
        return Err(ApiError::bad_request(
            "status: must be healthy, degraded, unhealthy or unknown",
        ));
    }
    if b.detail.chars().count() > 4096 {
        return Err(ApiError::bad_request("detail: at most 4096 characters"));
    }
    let sid = ServiceId::parse(&id)?;
    find(&state, &id).await?;
    let h = state
        .store
        .service_health()
        .put(&id, &sid.endpoint, &b.status, &b.detail)
        .await?;
    state
        .events
        .publish_committed(crate::events::ServiceHealth {
            id: id.as_str().to_owned(),
            endpoint: sid.endpoint.clone(),
            status: h.status.clone(),
            detail: h.detail.clone(),
        })
        .await;
    Ok(web::Json(h.into()))
}
