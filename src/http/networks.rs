//! `/api/networks`: list across endpoints, remove, inspect, topology.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::extract::Query;
use super::{EndpointsPage, endpoints_page_limit};
use crate::docker::networks::NetworkInfo;
use crate::docker::ops::DockerOp;
use crate::endpoints::{self, EndpointRef};
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkView {
    #[serde(flatten)]
    pub network: NetworkInfo,
    pub endpoint: EndpointRef,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NetworkQuery {
    pub endpoint: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListNetworks {
    pub endpoint: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<usize>,
    #[param(minimum = 0, default = 0)]
    pub offset: Option<usize>,
}

async fn gather(state: &AppState, only: Option<&str>) -> ApiResult<(Vec<NetworkView>, Vec<Value>)> {
    let (answers, errors) =
        endpoints::fan_out::<Vec<NetworkInfo>>(state, only, DockerOp::ListNetworks).await?;
    let items = answers
        .into_iter()
        .flat_map(|(e, list)| {
            let endpoint = EndpointRef::from(&e);
            list.into_iter().map(move |n| NetworkView {
                network: n,
                endpoint: endpoint.clone(),
            })
        })
        .collect();
    Ok((items, errors))
}

/// Networks of every endpoint (or of `endpoint`), by endpoint then name, a page at a time.
#[utoipa::path(get, path = "/api/networks", tag = "networks", params(ListNetworks), responses((status = 200, body = EndpointsPage<NetworkView>)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListNetworks>,
) -> ApiResult<web::Json<EndpointsPage<NetworkView>>> {
    let limit = endpoints_page_limit(query.limit)?;
    let (mut items, errors) = gather(&state, query.endpoint.as_deref()).await?;
    items.sort_by(|a, b| {
        (&a.endpoint.id, &a.network.name, &a.network.id).cmp(&(
            &b.endpoint.id,
            &b.network.name,
            &b.network.id,
        ))
    });
    Ok(web::Json(EndpointsPage::new(
        items,
        limit,
        query.offset,
        errors,
    )))
}

/// Remove a network; 409 while containers are attached.
#[utoipa::path(delete, path = "/api/networks/{id}", tag = "networks", params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.-]{1,128}$"), NetworkQuery),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Query<NetworkQuery>,
) -> ApiResult<HttpResponse> {
    super::check_docker_ref("network", &id)?;
    let e = endpoints::get(
        &state,
        query.endpoint.as_deref().unwrap_or(endpoints::LOCAL),
    )
    .await?;
    endpoints::call(&state, &e, DockerOp::RemoveNetwork { id: id.clone() }).await?;
    state
        .events
        .publish_committed(crate::events::NetworkRemoved {
            id: id.into_inner(),
            endpoint: e.id.clone(),
        })
        .await;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/networks/{id}/inspect", tag = "networks", params(("id" = String, Path, pattern = r"^[A-Za-z0-9_.-]{1,128}$"), NetworkQuery),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn inspect(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Query<NetworkQuery>,
) -> ApiResult<web::Json<Value>> {
    super::check_docker_ref("network", &id)?;
    let e = endpoints::get(
        &state,
        query.endpoint.as_deref().unwrap_or(endpoints::LOCAL),
    )
    .await?;
    Ok(web::Json(
        endpoints::call(
            &state,
            &e,
            DockerOp::InspectNetwork {
                id: id.into_inner(),
            },
        )
        .await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkTopology {
    /// `{id, type: endpoint|network|container, label, …}`.
    #[schema(value_type = Vec<Object>)]
    pub nodes: Vec<Value>,
    /// `{from, to}`: endpoint → network, network → container.
    #[schema(value_type = Vec<Object>)]
    pub edges: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<Value>,
}

/// Containers and the networks they share, per endpoint.
#[utoipa::path(get, path = "/api/networks/topology", tag = "networks", params(NetworkQuery), responses((status = 200, body = NetworkTopology)))]
pub async fn topology(
    state: web::Data<AppState>,
    query: Query<NetworkQuery>,
) -> ApiResult<web::Json<NetworkTopology>> {
    let (networks, mut errors) = gather(&state, query.endpoint.as_deref()).await?;
    let (containers, more) =
        super::containers::gather(&state, query.endpoint.as_deref(), true).await?;
    errors.extend(more);
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let mut seen_endpoints = std::collections::BTreeSet::new();
    for n in &networks {
        if seen_endpoints.insert(n.endpoint.id.clone()) {
            nodes.push(json!({"id": format!("endpoint:{}", n.endpoint.id), "type": "endpoint", "label": n.endpoint.name}));
        }
        let nid = format!("network:{}:{}", n.endpoint.id, n.network.name);
        nodes.push(json!({"id": nid, "type": "network", "label": n.network.name, "driver": n.network.driver, "internal": n.network.internal}));
        edges.push(json!({"from": format!("endpoint:{}", n.endpoint.id), "to": nid}));
    }
    for c in &containers {
        let cid = format!("container:{}:{}", c.endpoint.id, c.container.id);
        nodes.push(json!({"id": cid, "type": "container", "label": c.container.name, "state": c.container.state}));
        for net in &c.container.networks {
            edges.push(json!({"from": format!("network:{}:{}", c.endpoint.id, net), "to": cid}));
        }
    }
    Ok(web::Json(NetworkTopology {
        nodes,
        edges,
        errors,
    }))
}
