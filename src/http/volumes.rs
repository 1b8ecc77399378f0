//! `/api/volumes`: list across endpoints (with the containers using each), remove.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::Query;
use super::{EndpointsPage, endpoints_page_limit};
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VolumeQuery {
    pub endpoint: Option<String>,
    /// Substring of the volume's name.
    pub name: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<usize>,
    #[param(minimum = 0, default = 0)]
    pub offset: Option<usize>,
}

/// Volumes of every endpoint (or of `endpoint`), by endpoint then name, a page at a time.
#[utoipa::path(get, path = "/api/volumes", tag = "volumes", params(VolumeQuery), responses((status = 200, body = EndpointsPage<VolumeView>)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<VolumeQuery>,
) -> ApiResult<web::Json<EndpointsPage<VolumeView>>> {
    let limit = endpoints_page_limit(query.limit)?;
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
        .collect::<Vec<_>>();
    let mut items = items;
    items.sort_by(|a, b| (&a.endpoint.id, &a.volume.name).cmp(&(&b.endpoint.id, &b.volume.name)));
    Ok(web::Json(EndpointsPage::new(
        items,
        limit,
        query.offset,
        errors,
    )))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RemoveVolumeQuery {
    pub endpoint: Option<String>,
    #[serde(default)]
    pub force: bool,
}

/// Remove a volume; 409 while a container uses it.
#[utoipa::path(delete, path = "/api/volumes/{name}", tag = "volumes", params(("name" = String, Path, pattern = r"^[A-Za-z0-9_.-]{1,128}$"), RemoveVolumeQuery),
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
