//! `/api/endpoints` (admin): the Docker engines ContextBay manages. `local` and `agent` endpoints
//! appear by themselves (the master's socket; a fused node); `tcp` ones are registered here.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::Body;
use super::ts;
use crate::docker::ops::DockerOp;
use crate::endpoints::{self, EndpointRef};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::store::endpoints::StoredEndpoint;
use crate::store::{new_id, now_ms};

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    #[serde(flatten)]
    pub endpoint: EndpointRef,
    pub url: Option<String>,
    pub tls: bool,
    /// `up` when the engine answered just now, else `down`.
    pub status: &'static str,
    pub docker_version: Option<String>,
    pub error: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    pub items: Vec<EndpointView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    pub name: String,
    /// `tcp://host:2376` or `https://host:2376` (TLS, needs `tls`), or `http://host:2375`.
    pub url: String,
    pub tls: Option<TlsFiles>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM of the CA that signed the engine's certificate.
    pub ca: String,
    /// PEM client certificate and key.
    pub cert: String,
    pub key: String,
}

/// Probes an endpoint: version, or the error.
async fn probe(state: &AppState, e: &StoredEndpoint) -> EndpointView {
    let version = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        endpoints::call(state, e, DockerOp::Version),
    )
    .await;
    let (status, docker_version, error) = match version {
        Ok(Ok(v)) => (
            "up",
            v.get("version").and_then(|x| x.as_str()).map(str::to_owned),
            None,
        ),
        Ok(Err(err)) => ("down", None, Some(ApiError::from(err).message)),
        Err(_) => ("down", None, Some("no answer within 5 s".to_owned())),
    };
    EndpointView {
        endpoint: e.into(),
        url: e.url.clone(),
        tls: e.tls.is_some(),
        status,
        docker_version,
        error,
        created_at: ts(e.created_at),
    }
}

#[utoipa::path(get, path = "/api/endpoints", tag = "endpoints", responses((status = 200, body = EndpointList)))]
pub async fn list(state: web::Data<AppState>) -> ApiResult<web::Json<EndpointList>> {
    let all = endpoints::all(&state).await?;
    // Probed now; the endpoint watcher publishes `endpoint.status` when health changes.
    let items = futures_util::future::join_all(all.iter().map(|e| probe(&state, e))).await;
    Ok(web::Json(EndpointList { items }))
}

/// Register a remote engine (`tcp`).
#[utoipa::path(post, path = "/api/endpoints", tag = "endpoints", request_body = CreateEndpoint,
    responses((status = 201, body = EndpointView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    body: Body<CreateEndpoint>,
) -> ApiResult<HttpResponse> {
    let CreateEndpoint { name, url, tls } = body.into_inner();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(ApiError::bad_request(
            "name must be 1 to 64 characters: letters, digits, '.', '_', '-'",
        ));
    }
    let scheme_ok = ["tcp://", "https://", "http://"]
        .iter()
        .any(|s| url.starts_with(s));
    if !scheme_ok || url.len() > 512 || url.contains('@') || url.chars().any(char::is_whitespace) {
        return Err(ApiError::bad_request(
            "url must be tcp://host:port, https://host:port or http://host:port",
        ));
    }
    if url.starts_with("http://") && tls.is_some() {
        return Err(ApiError::bad_request("tls needs a tcp:// or https:// url"));
    }
    if !url.starts_with("http://") && tls.is_none() {
        return Err(ApiError::bad_request(
            "tls (ca, cert, key) is required for tcp:// and https:// endpoints",
        ));
    }
    let sealed = match &tls {
        Some(t) => {
            for (field, pem) in [
                ("tls.ca", &t.ca),
                ("tls.cert", &t.cert),
                ("tls.key", &t.key),
            ] {
                if !pem.contains("-----BEGIN ") || pem.len() > 64 * 1024 {
                    return Err(ApiError::bad_request(format!(
                        "{field} must be a PEM block"
                    )));
                }
            }
            let json = serde_json::json!({"ca": t.ca, "cert": t.cert, "key": t.key}).to_string();
            Some(state.secret_box.seal(&json).map_err(ApiError::internal)?)
        }
        None => None,
    };
    let endpoint = StoredEndpoint {
        id: new_id(),
        name,
        kind: "tcp".into(),
        node_id: None,
        url: Some(url),
        tls: sealed,
        created_at: now_ms(),
    };
    state.store.endpoints().insert(&endpoint).await?;
    state
        .events
        .record_committed(
            "endpoint.created",
            serde_json::json!({"id": endpoint.id, "name": endpoint.name, "kind": "tcp"}),
        )
        .await;
    Ok(HttpResponse::Created().json(probe(&state, &endpoint).await))
}

#[utoipa::path(delete, path = "/api/endpoints/{id}", tag = "endpoints", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let e = endpoints::get(&state, &id).await?;
    if e.kind == "agent" {
        return Err(ApiError::conflict(
            "an agent endpoint belongs to its node; remove the node instead",
        ));
    }
    state.store.endpoints().delete(&e.id).await?;
    state
        .events
        .record_committed(
            "endpoint.deleted",
            serde_json::json!({"id": e.id, "name": e.name}),
        )
        .await;
    Ok(HttpResponse::NoContent().finish())
}
