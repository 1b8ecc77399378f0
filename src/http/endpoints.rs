//! `/api/endpoints` (admin): the Docker engines ContextBay manages. `local` and `agent` endpoints
//! appear by themselves (the master's socket; a fused node); `tcp` ones are registered here.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::Body;
use super::ts;
use crate::auth::Principal;
use contextbay_actors::{EndpointHealth, EndpointStatus};

use crate::endpoints::{self, EndpointError, EndpointRef};
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::policy::SecurityPolicy;
use crate::state::AppState;
use crate::store::endpoints::StoredEndpoint;
use crate::store::{new_id, now_ms};

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    #[serde(flatten)]
    pub endpoint: EndpointRef,
    pub url: Option<String>,
    pub tls: bool,
    /// `up` when the engine answered at its last check, else `down`.
    pub status: &'static str,
    pub docker_version: Option<String>,
    pub error: Option<String>,
    /// When the endpoint's health was last checked.
    pub checked_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// 1 to 64 characters: letters, digits, `.`, `_`, `-`.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
    /// `tcp://host:2376` or `https://host:2376` (TLS, needs `tls`), or `http://host:2375`
    /// (without `tls`); at most 512 characters.
    #[schema(pattern = r"^(tcp|https?)://[^\s@]+$", max_length = 512)]
    pub url: String,
    pub tls: Option<TlsFiles>,
    /// The endpoint's own security policy; omitted: it follows `[docker] default_policy`.
    pub security_policy: Option<SecurityPolicy>,
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

/// The single mapping of [`EndpointError`] into the error table.
impl From<EndpointError> for ApiError {
    fn from(e: EndpointError) -> Self {
        if let EndpointError::Remote {
            request_id, code, ..
        } = &e
        {
            tracing::info!(%request_id, %code, "worker reported a failure");
        }
        match e {
            EndpointError::Store(err) => err.into(),
            EndpointError::Internal(m) => ApiError::internal(m),
            EndpointError::Unavailable(m) => ApiError::new(ErrorCode::ServiceUnavailable, m),
            other => {
                let message = other.to_string();
                match other.status() {
                    Some(400) => ApiError::bad_request(message),
                    Some(403) => ApiError::forbidden(message),
                    Some(404) => ApiError::not_found(message),
                    Some(409 | 304) => ApiError::conflict(message),
                    _ => ApiError::new(ErrorCode::RemoteFailed, message),
                }
            }
        }
    }
}

fn view(e: &StoredEndpoint, health: Option<&EndpointHealth>) -> EndpointView {
    EndpointView {
        endpoint: e.into(),
        url: e.url.clone(),
        tls: e.tls.is_some(),
        status: health.map_or(EndpointStatus::Down, |h| h.status).as_str(),
        docker_version: health.and_then(|h| h.docker_version.clone()),
        error: match health {
            Some(h) => h.error.clone(),
            None => Some("not checked yet".to_owned()),
        },
        checked_at: health.map(|h| ts(h.checked_at_ms)),
        created_at: ts(e.created_at),
    }
}

/// Endpoints with their health as the endpoint registry keeps it: engines are probed by the
/// endpoint watcher, not per request. One never checked yet (the master just started, a node
/// just fused) is checked once now; an agent endpoint's up/down follows its node's connection.
#[utoipa::path(get, path = "/api/endpoints", tag = "endpoints", params(super::PageQuery),
    responses((status = 200, body = super::Paginated<EndpointView>)))]
pub async fn list(
    state: web::Data<AppState>,
    query: super::extract::Query<super::PageQuery>,
) -> ApiResult<web::Json<super::Paginated<EndpointView>>> {
    let page = super::PageQuery::page(query.limit, query.offset)?;
    let all = endpoints::all(&state).await?;
    let known = state.endpoint_health.all().await?;
    futures_util::future::join_all(all.iter().map(|e| async {
        if !known.contains_key(&e.id) {
            endpoints::check_now(&state, e).await;
        } else if e.kind == "agent" {
            endpoints::follow_node(&state, e).await;
        }
    }))
    .await;
    let health = state.endpoint_health.all().await?;
    let items = all.iter().map(|e| view(e, health.get(&e.id))).collect();
    Ok(web::Json(super::Paginated::of_all(items, page)))
}

/// Register a remote engine (`tcp`).
#[utoipa::path(post, path = "/api/endpoints", tag = "endpoints", request_body = CreateEndpoint,
    responses((status = 201, body = EndpointView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    body: Body<CreateEndpoint>,
) -> ApiResult<HttpResponse> {
    let CreateEndpoint {
        name,
        url,
        tls,
        security_policy,
    } = body.into_inner();
    if let Some(p) = &security_policy {
        p.validate()
            .map_err(|e| ApiError::bad_request(format!("security_policy: {e}")))?;
    }
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
    if let Some(p) = &security_policy {
        let json = serde_json::to_string(p).map_err(ApiError::internal)?;
        state
            .store
            .endpoints()
            .set_security_policy(&endpoint.id, Some(&json))
            .await?;
    }
    state
        .events
        .publish_committed(crate::events::EndpointCreated {
            id: endpoint.id.clone(),
            name: endpoint.name.clone(),
            kind: "tcp".into(),
        })
        .await;
    endpoints::check_now(&state, &endpoint).await;
    let health = state.endpoint_health.all().await?;
    Ok(HttpResponse::Created().json(view(&endpoint, health.get(&endpoint.id))))
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
        .publish_committed(crate::events::EndpointDeleted {
            id: e.id.clone(),
            name: e.name.clone(),
        })
        .await;
    Ok(HttpResponse::NoContent().finish())
}

/// A `local` or `tcp` endpoint, whose policy is its own; agent endpoints answer 409 and point to
/// their node.
async fn own_policy_endpoint(state: &AppState, id: &str) -> ApiResult<StoredEndpoint> {
    let e = endpoints::get(state, id).await?;
    if let Some(node) = &e.node_id {
        return Err(ApiError::conflict(format!(
            "an agent endpoint follows its node's security policy; use /api/nodes/{node}/security-policy"
        )));
    }
    Ok(e)
}

/// The security policy that holds on the endpoint: an agent endpoint's node's, else the
/// endpoint's own or `[docker] default_policy`.
#[utoipa::path(get, path = "/api/endpoints/{id}/security-policy", tag = "endpoints", params(("id" = String, Path)),
    responses((status = 200, body = SecurityPolicy), (status = 404, body = ErrorBody)))]
pub async fn get_policy(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<web::Json<SecurityPolicy>> {
    let e = endpoints::get(&state, &id).await?;
    Ok(web::Json(endpoints::security_policy(&state, &e).await?))
}

/// Give a `local` or `tcp` endpoint its own policy. As for nodes, only an admin may loosen it
/// (403 naming the fields otherwise).
#[utoipa::path(put, path = "/api/endpoints/{id}/security-policy", tag = "endpoints", params(("id" = String, Path)), request_body = SecurityPolicy,
    responses((status = 200, body = SecurityPolicy), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn put_policy(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    body: Body<SecurityPolicy>,
) -> ApiResult<web::Json<SecurityPolicy>> {
    let e = own_policy_endpoint(&state, &id).await?;
    let policy = body.into_inner();
    policy.validate().map_err(ApiError::bad_request)?;
    let current = endpoints::security_policy(&state, &e).await?;
    super::nodes::refuse_loosening(&principal, &current, &policy)?;
    let json = serde_json::to_string(&policy).map_err(ApiError::internal)?;
    state
        .store
        .endpoints()
        .set_security_policy(&e.id, Some(&json))
        .await?;
    state
        .events
        .publish_committed(crate::events::EndpointPolicyUpdated {
            id: e.id.clone(),
            policy: policy.clone(),
            default: false,
        })
        .await;
    Ok(web::Json(policy))
}

/// Drop a `local` or `tcp` endpoint's own policy: it follows `[docker] default_policy` again.
/// Admin only when that loosens it.
#[utoipa::path(delete, path = "/api/endpoints/{id}/security-policy", tag = "endpoints", params(("id" = String, Path)),
    responses((status = 200, body = SecurityPolicy), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete_policy(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<web::Json<SecurityPolicy>> {
    let e = own_policy_endpoint(&state, &id).await?;
    let current = endpoints::security_policy(&state, &e).await?;
    let default = state.config.docker.default_policy.clone();
    super::nodes::refuse_loosening(&principal, &current, &default)?;
    state
        .store
        .endpoints()
        .set_security_policy(&e.id, None)
        .await?;
    state
        .events
        .publish_committed(crate::events::EndpointPolicyUpdated {
            id: e.id.clone(),
            policy: default.clone(),
            default: true,
        })
        .await;
    Ok(web::Json(default))
}
