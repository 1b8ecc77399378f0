//! `/api/containers`: across every endpoint, with the node's security policy enforced.

use std::collections::{HashMap, HashSet};

use actix_web::{HttpResponse, web};
use contextbay_actors::{ContainerFilter, PlacedContainer};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::extract::{Body, Query};
use super::{EndpointsPage, endpoints_page_limit};
use crate::docker::containers::{
    ContainerAction, ContainerInfo, ContainerSpec, ContainerUsage, LogLine, LogQuery,
};
use crate::docker::ops::DockerOp;
use crate::endpoints::{self, EndpointRef};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::policy::{HostGuard, SecurityPolicy, policy_violation};
use crate::state::AppState;
use crate::store::endpoints::StoredEndpoint;

/// A container and where it lives.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContainerView {
    #[serde(flatten)]
    pub container: ContainerInfo,
    pub endpoint: EndpointRef,
    /// In `GET /api/containers`: when the master last learnt this container's state (RFC 3339):
    /// the time of the engine's answer for `local` and `tcp` endpoints, asked live; for an
    /// agent endpoint, the node's inventory (its last census or Docker event about it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fresh_at: Option<String>,
    /// In `GET /api/containers`: `true` when the answer may be out of date: the item comes from
    /// the inventory of a node whose worker is not connected now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<bool>,
}

/// A page of containers; endpoints that could not be asked are listed in `errors`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListContainers {
    /// Only this endpoint.
    pub endpoint: Option<String>,
    /// Substring of the name.
    pub name: Option<String>,
    /// `key` or `key=value`.
    pub label: Option<String>,
    /// `running`, `exited`, `paused`, `created`, …
    pub state: Option<String>,
    /// Include stopped containers (default true).
    pub all: Option<bool>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<usize>,
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<usize>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EndpointQuery {
    /// The endpoint; default: the one holding the container.
    pub endpoint: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    pub endpoint: Option<String>,
    /// Remove even if running.
    #[serde(default)]
    pub force: bool,
    /// Remove its anonymous volumes too.
    #[serde(default)]
    pub volumes: bool,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogsParams {
    pub endpoint: Option<String>,
    pub tail: Option<u32>,
    pub since: Option<i64>,
    #[serde(default)]
    pub timestamps: bool,
    pub stdout: Option<bool>,
    pub stderr: Option<bool>,
}

impl LogsParams {
    pub fn query(&self) -> LogQuery {
        LogQuery {
            tail: self.tail,
            since: self.since,
            timestamps: self.timestamps,
            stdout: self.stdout,
            stderr: self.stderr,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContainer {
    /// Default: the local endpoint.
    pub endpoint: Option<String>,
    #[serde(flatten)]
    pub spec: ContainerSpec,
}

fn matches(c: &ContainerInfo, q: &ListContainers) -> bool {
    q.name
        .as_deref()
        .is_none_or(|n| c.name.to_lowercase().contains(&n.to_lowercase()))
        && q.state.as_deref().is_none_or(|s| c.state == s)
        && q.label.as_deref().is_none_or(|l| match l.split_once('=') {
            Some((k, v)) => c.labels.get(k).is_some_and(|x| x == v),
            None => c.labels.contains_key(l),
        })
}

/// Every endpoint's containers (in parallel), with the failures.
pub async fn gather(
    state: &AppState,
    only: Option<&str>,
    all: bool,
) -> ApiResult<(Vec<ContainerView>, Vec<Value>)> {
    let (answers, errors) =
        endpoints::fan_out::<Vec<ContainerInfo>>(state, only, DockerOp::ListContainers { all })
            .await?;
    let items = answers
        .into_iter()
        .flat_map(|(e, list)| {
            let endpoint = EndpointRef::from(&e);
            list.into_iter().map(move |c| ContainerView {
                container: c,
                endpoint: endpoint.clone(),
                fresh_at: None,
                stale: None,
            })
        })
        .collect();
    Ok((items, errors))
}

#[utoipa::path(get, path = "/api/containers", tag = "containers", params(ListContainers),
    responses((status = 200, body = EndpointsPage<ContainerView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListContainers>,
) -> ApiResult<web::Json<EndpointsPage<ContainerView>>> {
    let q = query.into_inner();
    let limit = endpoints_page_limit(q.limit)?;
    let offset = super::endpoints_page_offset(q.offset)?;
    let all = q.all.unwrap_or(true);
    let targets = match q.endpoint.as_deref() {
        Some(id) => vec![endpoints::get(&state, id).await?],
        None => endpoints::all(&state).await?,
    };
    let (agents, live): (Vec<StoredEndpoint>, Vec<StoredEndpoint>) =
        targets.into_iter().partition(|e| e.kind == "agent");

    // `local` and `tcp` endpoints (a few) are asked live.
    let asked_at = contextbay_actors::rfc3339_now();
    let answers = futures_util::future::join_all(live.iter().map(|e| {
        endpoints::call_as::<Vec<ContainerInfo>>(&state, e, DockerOp::ListContainers { all })
    }))
    .await;
    let mut errors = Vec::new();
    let mut matching = Vec::new();
    for (e, answer) in live.iter().zip(answers) {
        match answer {
            Ok(list) => matching.extend(list.into_iter().filter(|c| matches(c, &q)).map(|c| {
                ContainerView {
                    container: c,
                    endpoint: e.into(),
                    fresh_at: Some(asked_at.clone()),
                    stale: Some(false),
                }
            })),
            Err(err) if q.endpoint.is_some() => return Err(err.into()),
            Err(err) => {
                errors.push(json!({"endpoint": e.id, "error": ApiError::from(err).message}))
            }
        }
    }

    // Agent endpoints are answered from their nodes' inventories: the head of the sorted list up
    // to this page's end is enough to merge with the live answers.
    let by_node: HashMap<&str, &StoredEndpoint> = agents
        .iter()
        .map(|e| (e.node_id.as_deref().unwrap_or(&e.id), e))
        .collect();
    let filter = ContainerFilter {
        name: q.name.clone(),
        state: q.state.clone(),
        label: q.label.clone(),
        running_only: !all,
        nodes: Some(by_node.keys().map(|n| (*n).to_owned()).collect()),
    };
    let page = state
        .nodes
        .containers_page(&filter, offset.saturating_add(limit), 0);
    for node in &page.unfilled {
        if let Some(e) = by_node.get(node.as_str()) {
            errors.push(json!({
                "endpoint": e.id,
                "error": "no inventory of this node's engine yet (no census since the master started)",
                "stale": true,
            }));
        }
    }
    let total = page.total + matching.len();
    // Merged on (name, endpoint) first; only the page's rows become views.
    let mut rows: Vec<Row<'_>> = matching
        .into_iter()
        .map(|v| Row::Live(Box::new(v)))
        .collect();
    rows.extend(page.items.iter().filter_map(|placed| {
        let e = by_node.get(placed.node_id.as_str())?;
        Some(Row::Inventory(placed, e))
    }));
    rows.sort_by(|a, b| a.key().cmp(&b.key()));
    let rows: Vec<Row<'_>> = rows.into_iter().skip(offset).take(limit).collect();
    let connected = connected_nodes(
        &state,
        rows.iter().filter_map(|r| match r {
            Row::Inventory(placed, _) => Some(placed.node_id.as_str()),
            Row::Live(_) => None,
        }),
    )
    .await;
    let items = rows
        .into_iter()
        .map(|row| match row {
            Row::Live(view) => *view,
            Row::Inventory(placed, e) => ContainerView {
                container: crate::docker::events::from_inventory(&placed.container.item),
                endpoint: e.into(),
                fresh_at: Some(contextbay_actors::rfc3339_from_millis(
                    placed.container.updated_at_ms,
                )),
                stale: Some(!connected.contains(placed.node_id.as_str())),
            },
        })
        .collect();
    Ok(web::Json(EndpointsPage {
        items,
        total,
        limit,
        offset,
        errors,
    }))
}

/// A row of the container list before it becomes a view: asked live, or from an inventory.
enum Row<'a> {
    Live(Box<ContainerView>),
    Inventory(&'a PlacedContainer, &'a StoredEndpoint),
}

impl Row<'_> {
    /// The list's order: name, then endpoint id.
    fn key(&self) -> (&str, &str) {
        match self {
            Self::Live(v) => (&v.container.name, &v.endpoint.id),
            Self::Inventory(placed, e) => (&placed.container.item.name, &e.id),
        }
    }
}

/// Which of `nodes` have their worker connected now (one question per distinct node).
async fn connected_nodes<'a>(
    state: &AppState,
    nodes: impl Iterator<Item = &'a str>,
) -> HashSet<String> {
    let nodes: HashSet<&str> = nodes.collect();
    let answers =
        futures_util::future::join_all(nodes.iter().map(|n| state.nodes.snapshot(n))).await;
    answers
        .into_iter()
        .filter_map(|a| match a {
            Ok(Some(live)) if live.connected => Some(live.id),
            _ => None,
        })
        .collect()
}

/// The endpoint to act on: the one named, else the one holding a container with this id or name
/// (an id prefix of at least 12 characters will do). Agent endpoints are found in their nodes'
/// inventories; `local` and `tcp` endpoints (a few), and agent endpoints whose inventory was
/// never filled, are asked live.
pub async fn locate(
    state: &AppState,
    id: &str,
    endpoint: Option<&str>,
) -> ApiResult<StoredEndpoint> {
    if let Some(e) = endpoint {
        return Ok(endpoints::get(state, e).await?);
    }
    let (agents, live): (Vec<StoredEndpoint>, Vec<StoredEndpoint>) = endpoints::all(state)
        .await?
        .into_iter()
        .partition(|e| e.kind == "agent");
    let in_inventory = state.nodes.find_container(id);
    let mut holders = Vec::new();
    let mut live = live;
    for e in agents {
        let node = e.node_id.as_deref().unwrap_or(&e.id);
        if in_inventory.iter().any(|n| n == node) {
            holders.push(e);
        } else if state
            .nodes
            .inventory(node)
            .is_none_or(|i| i.census_at_ms.is_none())
        {
            // Never filled (no census yet): ask its engine, as for the others.
            live.push(e);
        }
    }
    let answers = futures_util::future::join_all(live.iter().map(|e| {
        endpoints::call_as::<Vec<ContainerInfo>>(state, e, DockerOp::ListContainers { all: true })
    }))
    .await;
    for (e, answer) in live.into_iter().zip(answers) {
        if answer.is_ok_and(|list| {
            list.iter()
                .any(|c| c.id == id || c.name == id || (id.len() >= 12 && c.id.starts_with(id)))
        }) {
            holders.push(e);
        }
    }
    match holders.as_slice() {
        [] => Err(ApiError::not_found(format!(
            "no container '{id}' on any endpoint"
        ))),
        [_] => Ok(holders.remove(0)),
        many => Err(ApiError::conflict(format!(
            "'{id}' exists on {} endpoints ({}); name one with ?endpoint=",
            many.len(),
            many.iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// What the master holds a container or a stack for endpoint `e` to before sending it: its
/// policy (everything allowed where there is none) and a guard for the master's data
/// directory. Paths are resolved here only for the local endpoint, whose engine mounts this
/// machine's files; for a node they are compared as written, and the worker, which mounts them,
/// resolves them and checks again.
pub async fn checks_for(
    state: &AppState,
    e: &StoredEndpoint,
) -> ApiResult<(SecurityPolicy, HostGuard)> {
    let policy = endpoints::security_policy(state, e).await?;
    let data_dir = state.config.storage.data_dir.as_path();
    let guard = match e.kind.as_str() {
        "local" => HostGuard::here(&[data_dir]),
        // A tcp engine may be this very machine.
        "tcp" => HostGuard::elsewhere(&[data_dir]),
        _ => HostGuard::elsewhere(&[]),
    };
    Ok((policy, guard))
}

#[utoipa::path(post, path = "/api/containers", tag = "containers", request_body = CreateContainer,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    body: Body<CreateContainer>,
) -> ApiResult<HttpResponse> {
    let CreateContainer { endpoint, spec } = body.into_inner();
    spec.validate().map_err(ApiError::bad_request)?;
    let e = endpoints::get(&state, endpoint.as_deref().unwrap_or(endpoints::LOCAL)).await?;
    let (policy, guard) = checks_for(&state, &e).await?;
    if let Some(why) = policy_violation(&policy, &guard, &spec) {
        return Err(ApiError::forbidden(why));
    }
    let created = endpoints::call(
        &state,
        &e,
        DockerOp::CreateContainer {
            spec: Box::new(spec),
        },
    )
    .await?;
    state
        .events
        .publish_committed(crate::events::ContainerCreated {
            id: created["id"].as_str().unwrap_or_default().to_owned(),
            endpoint: e.id.clone(),
        })
        .await;
    Ok(HttpResponse::Created()
        .json(json!({"id": created["id"], "endpoint": EndpointRef::from(&e)})))
}

#[utoipa::path(get, path = "/api/containers/{id}", tag = "containers", params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.-]{1,128}$"), EndpointQuery),
    responses((status = 200, body = ContainerView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Query<EndpointQuery>,
) -> ApiResult<web::Json<ContainerView>> {
    super::check_docker_ref("container", &id)?;
    let e = locate(&state, &id, query.endpoint.as_deref()).await?;
    let list: Vec<ContainerInfo> =
        endpoints::call_as(&state, &e, DockerOp::ListContainers { all: true }).await?;
    let c = list
        .into_iter()
        .find(|c| c.id == *id || c.name == *id || (id.len() >= 12 && c.id.starts_with(id.as_str())))
        .ok_or_else(|| {
            ApiError::not_found(format!("no container '{id}' on endpoint '{}'", e.name))
        })?;
    Ok(web::Json(ContainerView {
        container: c,
        endpoint: (&e).into(),
        fresh_at: None,
        stale: None,
    }))
}

/// Docker's inspect document. Viewers see the names of `Config.Env` but not the values, as
/// with a stack's env (an env value is where secrets live, whether it came from a stack or not).
#[utoipa::path(get, path = "/api/containers/{id}/inspect", tag = "containers", params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.-]{1,128}$"), EndpointQuery),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn inspect(
    state: web::Data<AppState>,
    principal: crate::auth::Principal,
    id: web::Path<String>,
    query: Query<EndpointQuery>,
) -> ApiResult<web::Json<Value>> {
    super::check_docker_ref("container", &id)?;
    let e = locate(&state, &id, query.endpoint.as_deref()).await?;
    let mut doc = endpoints::call(
        &state,
        &e,
        DockerOp::InspectContainer {
            id: id.into_inner(),
        },
    )
    .await?;
    if !principal.has(crate::auth::Role::Operator) {
        crate::docker::containers::mask_env(&mut doc);
    }
    Ok(web::Json(doc))
}

/// start, stop, restart, pause, unpause, kill.
#[utoipa::path(post, path = "/api/containers/{id}/{action}", tag = "containers",
    params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.-]{1,128}$"), ("action" = String, Path), EndpointQuery),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "already in that state")))]
pub async fn action(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    query: Query<EndpointQuery>,
) -> ApiResult<web::Json<Value>> {
    let (id, action) = path.into_inner();
    super::check_docker_ref("container", &id)?;
    let act = ContainerAction::parse(&action).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown action '{action}'; use start, stop, restart, pause, unpause or kill"
        ))
    })?;
    let e = locate(&state, &id, query.endpoint.as_deref()).await?;
    let result = endpoints::call(
        &state,
        &e,
        DockerOp::ContainerAction {
            id: id.clone(),
            action: act,
        },
    )
    .await?;
    state
        .events
        .publish_committed(crate::events::ContainerAction {
            id: id.to_string(),
            action: action.to_string(),
            endpoint: e.id.clone(),
        })
        .await;
    Ok(web::Json(result))
}

#[utoipa::path(delete, path = "/api/containers/{id}", tag = "containers", params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.-]{1,128}$"), RemoveQuery),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Query<RemoveQuery>,
) -> ApiResult<HttpResponse> {
    super::check_docker_ref("container", &id)?;
    let q = query.into_inner();
    let e = locate(&state, &id, q.endpoint.as_deref()).await?;
    endpoints::call(
        &state,
        &e,
        DockerOp::RemoveContainer {
            id: id.clone(),
            force: q.force,
            volumes: q.volumes,
        },
    )
    .await?;
    state
        .events
        .publish_committed(crate::events::ContainerRemoved {
            id: id.into_inner(),
            endpoint: e.id.clone(),
        })
        .await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogsView {
    pub items: Vec<LogLine>,
}

/// The last lines of the container's log.
#[utoipa::path(get, path = "/api/containers/{id}/logs", tag = "containers", params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.-]{1,128}$"), LogsParams),
    responses((status = 200, body = LogsView), (status = 404, body = ErrorBody)))]
pub async fn logs(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Query<LogsParams>,
) -> ApiResult<web::Json<LogsView>> {
    super::check_docker_ref("container", &id)?;
    let e = locate(&state, &id, query.endpoint.as_deref()).await?;
    let items = endpoints::call_as(
        &state,
        &e,
        DockerOp::ContainerLogs {
            id: id.into_inner(),
            query: query.query(),
        },
    )
    .await?;
    Ok(web::Json(LogsView { items }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    #[serde(flatten)]
    pub usage: ContainerUsage,
    pub endpoint: EndpointRef,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    pub endpoint: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<usize>,
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<usize>,
}

/// CPU, memory, network and block IO of running containers, by endpoint then container id, a
/// page at a time.
#[utoipa::path(get, path = "/api/containers/stats", tag = "containers", params(StatsQuery), responses((status = 200, body = EndpointsPage<UsageView>)))]
pub async fn stats(
    state: web::Data<AppState>,
    query: Query<StatsQuery>,
) -> ApiResult<web::Json<EndpointsPage<UsageView>>> {
    let limit = super::endpoints_page_limit(query.limit)?;
    let offset = super::endpoints_page_offset(query.offset)?;
    let (answers, errors) = endpoints::fan_out::<Vec<ContainerUsage>>(
        &state,
        query.endpoint.as_deref(),
        DockerOp::ContainerUsage,
    )
    .await?;
    let mut items: Vec<UsageView> = answers
        .into_iter()
        .flat_map(|(e, list)| {
            let endpoint = EndpointRef::from(&e);
            list.into_iter().map(move |u| UsageView {
                usage: u,
                endpoint: endpoint.clone(),
            })
        })
        .collect();
    items.sort_by(|a, b| (&a.endpoint.id, &a.usage.id).cmp(&(&b.endpoint.id, &b.usage.id)));
    Ok(web::Json(EndpointsPage::new(
        items,
        limit,
        Some(offset),
        errors,
    )))
}
