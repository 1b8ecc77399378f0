//! `/api/volumes`: list across endpoints (with the containers using each), remove.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::extract::Query;
use crate::docker::ops::DockerOp;
use crate::docker::volumes::VolumeInfo;
use crate::endpoints::{self, EndpointRef};
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct VolumeView {
    #[serde(flatten)]
    pub volume: VolumeInfo,
    pub endpoint: EndpointRef,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VolumeList {
    pub items: Vec<VolumeView>,
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<Value>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VolumeQuery {
    pub endpoint: Option<String>,
    pub name: Option<String>,
}

#[utoipa::path(get, path = "/api/volumes", tag = "volumes", params(VolumeQuery), responses((status = 200, body = VolumeList)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<VolumeQuery>,
) -> ApiResult<web::Json<VolumeList>> {
    let (answers, errors) = endpoints::fan_out::<Vec<VolumeInfo>>(
        &state,
        query.endpoint.as_deref(),
        DockerOp::ListVolumes,
    )
    .await?;
    let items = answers
        .into_iter()
        .flat_map(|(e, list)| {
            let endpoint = EndpointRef::from(&e);
            list.into_iter()
                .filter(|v| query.name.as_deref().is_none_or(|n| v.name.contains(n)))
                .map(move |v| VolumeView {
                    volume: v,
                    endpoint: endpoint.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    Ok(web::Json(VolumeList { items, errors }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RemoveVolumeQuery {
    pub endpoint: Option<String>,
    #[serde(default)]
    pub force: bool,
}

/// Remove a volume; 409 while a container uses it.
#[utoipa::path(delete, path = "/api/volumes/{name}", tag = "volumes", params(("name" = String, Path), RemoveVolumeQuery),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    name: web::Path<String>,
    query: Query<RemoveVolumeQuery>,
) -> ApiResult<HttpResponse> {
    super::check_docker_ref("volume", &name)?;
    let e = endpoints::get(
        &state,
        query.endpoint.as_deref().unwrap_or(endpoints::LOCAL),
    )
    .await?;
    endpoints::call(
        &state,
        &e,
        DockerOp::RemoveVolume {
            name: name.clone(),
            force: query.force,
        },
    )
    .await?;
    state
        .events
        .publish_committed(crate::events::VolumeRemoved {
            name: name.into_inner(),
            endpoint: e.id.clone(),
        })
        .await;
    Ok(HttpResponse::NoContent().finish())
}
