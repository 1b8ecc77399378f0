//! `/api/images`: list across endpoints, pull with per-layer progress events, remove, prune.

use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Body, Query};
use super::{EndpointsPage, endpoints_page_limit};
use crate::docker::images::{ImageInfo, PruneReport, PullProgress};
use crate::docker::ops::DockerOp;
use crate::endpoints::{self, EndpointRef};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ImageView {
    #[serde(flatten)]
    pub image: ImageInfo,
    pub endpoint: EndpointRef,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImageQuery {
    pub endpoint: Option<String>,
    /// Substring of a tag.
    pub name: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<usize>,
    #[param(minimum = 0, default = 0)]
    pub offset: Option<usize>,
}

/// Images of every endpoint (or of `endpoint`), by endpoint then image id, a page at a time.
#[utoipa::path(get, path = "/api/images", tag = "images", params(ImageQuery), responses((status = 200, body = EndpointsPage<ImageView>)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ImageQuery>,
) -> ApiResult<web::Json<EndpointsPage<ImageView>>> {
    let limit = endpoints_page_limit(query.limit)?;
    let (answers, errors) = endpoints::fan_out::<Vec<ImageInfo>>(
        &state,
        query.endpoint.as_deref(),
        DockerOp::ListImages,
    )
    .await?;
    let items = answers
        .into_iter()
        .flat_map(|(e, list)| {
            let endpoint = EndpointRef::from(&e);
            list.into_iter()
                .filter(|i| {
                    query
                        .name
                        .as_deref()
                        .is_none_or(|n| i.tags.iter().any(|t| t.contains(n)))
                })
                .map(move |i| ImageView {
                    image: i,
                    endpoint: endpoint.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>();
    let mut items = items;
    items.sort_by(|a, b| (&a.endpoint.id, &a.image.id).cmp(&(&b.endpoint.id, &b.image.id)));
    Ok(web::Json(EndpointsPage::new(
        items,
        limit,
        query.offset,
        errors,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PullRequest {
    /// `name[:tag]`.
    pub image: String,
    /// Default: the local endpoint.
    pub endpoint: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PullResult {
    pub image: String,
    pub endpoint: EndpointRef,
    pub layers: Vec<PullProgress>,
}

/// Pull an image. Progress is published as `image.pull` events per layer while it runs.
#[utoipa::path(post, path = "/api/images/pull", tag = "images", request_body = PullRequest,
    responses((status = 200, body = PullResult), (status = 400, body = ErrorBody), (status = 502, body = ErrorBody)))]
pub async fn pull(
    state: web::Data<AppState>,
    body: Body<PullRequest>,
) -> ApiResult<web::Json<PullResult>> {
    let PullRequest { image, endpoint } = body.into_inner();
    if image.is_empty()
        || image.len() > 512
        || image.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ApiError::bad_request(
            "image must be a reference like name[:tag]",
        ));
    }
    let e = endpoints::get(&state, endpoint.as_deref().unwrap_or(endpoints::LOCAL)).await?;
    let operation = crate::store::new_id();
    let publish = |p: &PullProgress| {
        state.events.emit(crate::events::ImagePull {
            operation: operation.clone(),
            image: image.clone(),
            endpoint: e.id.clone(),
            layer: p.layer.clone(),
            status: p.status.clone(),
            current: p.current,
            total: p.total,
        });
    };
    let outcome: Result<Vec<PullProgress>, ApiError> = match (&e.kind[..], &state.docker) {
        // On the local engine progress is streamed as it happens.
        ("local", Some(engine)) => {
            let mut stream = Box::pin(engine.pull(&image));
            let mut layers = Vec::new();
            let mut failed = None;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(p) => {
                        publish(&p);
                        layers.push(p);
                    }
                    Err(err) => {
                        failed = Some(ApiError::from(crate::endpoints::EndpointError::from(err)));
                        break;
                    }
                }
            }
            failed.map_or(Ok(layers), Err)
        }
        // Elsewhere the pull completes on the engine and its progress arrives with the result.
        _ => endpoints::call_as::<Vec<PullProgress>>(
            &state,
            &e,
            DockerOp::PullImage {
                reference: image.clone(),
            },
        )
        .await
        .map_err(ApiError::from)
        .inspect(|layers| layers.iter().for_each(publish)),
    };
    match outcome {
        Ok(layers) => {
            state
                .events
                .publish_committed(crate::events::ImagePulled {
                    image: image.clone(),
                    endpoint: e.id.clone(),
                })
                .await;
            Ok(web::Json(PullResult {
                image,
                endpoint: (&e).into(),
                layers,
            }))
        }
        Err(mut err) => {
            state.events.emit(crate::events::ImagePullFailed {
                operation: operation.clone(),
                image: image.clone(),
                endpoint: e.id.clone(),
                error: err.message.clone(),
            });
            err.message = format!("pull of '{image}' failed: {}", err.message);
            Err(err)
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RemoveImageQuery {
    pub endpoint: Option<String>,
    #[serde(default)]
    pub force: bool,
}

#[utoipa::path(delete, path = "/api/images/{id}", tag = "images", params(("id" = String, Path), RemoveImageQuery),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Query<RemoveImageQuery>,
) -> ApiResult<HttpResponse> {
    if id.is_empty() || id.len() > 512 || id.chars().any(char::is_whitespace) {
        return Err(ApiError::bad_request(format!("invalid image id '{id}'")));
    }
    let e = endpoints::get(
        &state,
        query.endpoint.as_deref().unwrap_or(endpoints::LOCAL),
    )
    .await?;
    let out = endpoints::call(
        &state,
        &e,
        DockerOp::RemoveImage {
            id: id.clone(),
            force: query.force,
        },
    )
    .await?;
    state
        .events
        .publish_committed(crate::events::ImageRemoved {
            id: id.into_inner(),
            endpoint: e.id.clone(),
        })
        .await;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PruneRequest {
    pub endpoint: Option<String>,
    /// Every image no container uses, not only dangling ones.
    #[serde(default)]
    pub all: bool,
}

#[utoipa::path(post, path = "/api/images/prune", tag = "images", request_body = PruneRequest,
    responses((status = 200, body = PruneReport)))]
pub async fn prune(
    state: web::Data<AppState>,
    body: Body<PruneRequest>,
) -> ApiResult<web::Json<PruneReport>> {
    let PruneRequest { endpoint, all } = body.into_inner();
    let e = endpoints::get(&state, endpoint.as_deref().unwrap_or(endpoints::LOCAL)).await?;
    let report: PruneReport = endpoints::call_as(&state, &e, DockerOp::PruneImages { all }).await?;
    state
        .events
        .publish_committed(crate::events::ImagePruned {
            endpoint: e.id.clone(),
            deleted: report.deleted.len(),
            space_reclaimed_bytes: report.space_reclaimed_bytes,
        })
        .await;
    Ok(web::Json(report))
}
