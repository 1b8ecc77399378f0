//! `/api/hosts`: placeholders with one-time enroll tokens, fusing, enroll attempts.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::extract::{Body, Query};
use super::{PageQuery, Paginated, parse_path_id, ts};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::secrets::{random_token, sha256_hex};
use crate::state::AppState;
use crate::store::hosts::{EnrollAttempt, Host};
use crate::store::now_ms;

/// Where a host stands on its way to being fused.
#[derive(Debug, Serialize, ToSchema)]
pub struct FuseState {
    /// `pending` (no worker yet), `enrolled` (credential issued), `fused`.
    pub state: &'static str,
    /// The worker registered over gRPC.
    pub worker_registered: bool,
    /// The host's Docker engine answered through the worker.
    pub docker_answered: bool,
    pub fused: bool,
    /// What is still missing: `enrollment`, `worker_registration`, `docker_engine`.
    pub missing: Vec<&'static str>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenInfo {
    pub expires_at: Option<String>,
    /// Seconds left; 0 once expired or used.
    pub ttl_seconds: i64,
    pub used: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostView {
    pub id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub labels: Map<String, Value>,
    pub fuse: FuseState,
    pub token: Option<TokenInfo>,
    pub hostname: Option<String>,
    pub agent_version: Option<String>,
    pub enrolled_at: Option<String>,
    pub fused_at: Option<String>,
    pub created_at: String,
    /// The command to run on the host (the token is shown only when it was just minted; the
    /// fleet's shared secret only to admins, `<SHARED_SECRET>` to others).
    pub install_snippet: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HostWithToken {
    #[serde(flatten)]
    pub host: HostView,
    /// The one-time enroll token. Shown once: only its hash is stored.
    pub enroll_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHost {
    /// 1 to 64 characters: letters, digits, `.`, `_`, `-`.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
    #[schema(schema_with = labels_schema)]
    pub labels: Option<Map<String, Value>>,
}

/// Labels as [`validate_labels`] accepts them: keys of 1 to 63 characters of `a-z`, `0-9`,
/// `.`, `_`, `/`, `-`; string values of at most 255 characters.
pub fn labels_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^[a-z0-9._/-]{1,63}$")),
        ))
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(255)),
        ))
        .build()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub id: String,
    pub ts: String,
    pub source_ip: Option<String>,
    pub hostname: Option<String>,
    pub accepted: bool,
    /// `accepted`, `token_expired`, `token_reused`, `token_revoked`, `bad_secret`,
    /// `unknown_host`, `rate_limited`, `bad_request`.
    pub reason: String,
}

impl From<EnrollAttempt> for AttemptView {
    fn from(a: EnrollAttempt) -> Self {
        Self {
            id: a.id,
            ts: ts(a.ts),
            source_ip: a.source_ip,
            hostname: a.hostname,
            accepted: a.accepted,
            reason: a.reason,
        }
    }
}

pub fn fuse_state(h: &Host) -> FuseState {
    let registered = h.enrolled && h.registered_at.is_some();
    let docker = h.enrolled && h.docker_ok_at.is_some();
    let fused = h.enrolled && h.fused_at.is_some();
    let mut missing = Vec::new();
    if !h.enrolled {
        missing.push("enrollment");
    }
    if !registered {
        missing.push("worker_registration");
    }
    if !docker {
        missing.push("docker_engine");
    }
    FuseState {
        state: if fused {
            "fused"
        } else if h.enrolled {
            "enrolled"
        } else {
            "pending"
        },
        worker_registered: registered,
        docker_answered: docker,
        fused,
        missing,
    }
}

/// Stands for the fleet's shared secret in the install snippet shown to operators and viewers.
pub const SECRET_PLACEHOLDER: &str = "<SHARED_SECRET>";

/// The exact command that enrolls and runs a worker on the host. The fleet's shared secret is in
/// it only for admins (`reader` is who asks); others see [`SECRET_PLACEHOLDER`]. It goes in the
/// environment, not on the command line, so it does not show in the host's process list.
pub fn install_snippet(state: &AppState, token: &str, reader: &Principal) -> String {
    let master = if state.config.server.public_url.is_empty() {
        format!("http://{}:{}", state.config.server.bind, state.http_port)
    } else {
        state
            .config
            .server
            .public_url
            .trim_end_matches('/')
            .to_owned()
    };
    let pin = state
        .grpc_fingerprint
        .as_deref()
        .map(|fp| format!(" --master-fingerprint={fp}"))
        .unwrap_or_default();
    let secret = if reader.has(Role::Admin) {
        state.enroll_secret.replace('\'', "'\\''")
    } else {
        SECRET_PLACEHOLDER.to_owned()
    };
    format!(
        "CB_WORKER__SHARED_SECRET='{secret}' contextbay worker --master-url {master} \
         --grpc-url {}{pin} --enroll-token={token} --data-dir /var/lib/contextbay-worker",
        state.grpc_url(),
    )
}

pub fn view(state: &AppState, h: Host, reader: &Principal) -> HostView {
    let now = now_ms();
    HostView {
        fuse: fuse_state(&h),
        token: (!h.enrolled).then(|| TokenInfo {
            expires_at: h.token_expires_at.map(ts),
            ttl_seconds: match (h.token_expires_at, h.token_used_at) {
                (Some(exp), None) => ((exp - now) / 1000).max(0),
                _ => 0,
            },
            used: h.token_used_at.is_some(),
        }),
        install_snippet: install_snippet(state, "<ENROLL_TOKEN>", reader),
        id: h.id,
        name: h.name,
        labels: h.labels,
        hostname: h.hostname,
        agent_version: h.agent_version,
        enrolled_at: h.enrolled_at.map(ts),
        fused_at: h.fused_at.map(ts),
        created_at: ts(h.created_at),
    }
}

fn new_token(state: &AppState) -> (String, String, i64) {
    let token = format!("cbe_{}", random_token(24));
    let hash = sha256_hex(token.as_bytes());
    let ttl = i64::try_from(state.config.fleet.enroll_token_ttl_secs).unwrap_or(3600);
    (token, hash, now_ms() + ttl * 1000)
}

fn with_token(state: &AppState, host: Host, token: String, reader: &Principal) -> HostWithToken {
    let mut host = view(state, host, reader);
    host.install_snippet = install_snippet(state, &token, reader);
    HostWithToken {
        host,
        enroll_token: token,
    }
}

fn validate_name(name: &str) -> ApiResult<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(ApiError::bad_request(
            "name must be 1 to 64 characters: letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(())
}

/// Labels: at most 64, keys `[a-z0-9._/-]` up to 63 characters, string values up to 255.
pub fn validate_labels(labels: &Map<String, Value>) -> ApiResult<()> {
    if labels.len() > 64 {
        return Err(ApiError::bad_request("at most 64 labels"));
    }
    for (k, v) in labels {
        if k.is_empty()
            || k.len() > 63
            || !k.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '/' | '-')
            })
        {
            return Err(ApiError::bad_request(format!(
                "label key '{k}' must be 1 to 63 characters of a-z, 0-9, '.', '_', '/', '-'"
            )));
        }
        match v.as_str() {
            Some(s) if s.len() <= 255 => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "label '{k}' must be a string of at most 255 characters"
                )));
            }
        }
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/hosts", tag = "hosts", params(super::PageQuery),
    responses((status = 200, body = Paginated<HostView>)))]
pub async fn list(
    state: web::Data<AppState>,
    principal: Principal,
    query: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<HostView>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let result = state.store.hosts().list(page, false, None).await?;
    Ok(web::Json(Paginated {
        items: result
            .items
            .into_iter()
            .map(|h| view(&state, h, &principal))
            .collect(),
        total: result.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Create a host placeholder and mint its one-time enroll token.
#[utoipa::path(post, path = "/api/hosts", tag = "hosts", request_body = CreateHost,
    responses((status = 201, body = HostWithToken), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<CreateHost>,
) -> ApiResult<HttpResponse> {
    let CreateHost { name, labels } = body.into_inner();
    validate_name(&name)?;
    let labels = labels.unwrap_or_default();
    validate_labels(&labels)?;
    let (token, hash, expires) = new_token(&state);
    let host = state
        .store
        .hosts()
        .create(&name, &labels, &hash, expires)
        .await?;
    state
        .events
        .publish_committed(crate::events::HostCreated {
            host_id: host.id.clone(),
            name: host.name.clone(),
        })
        .await;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(with_token(&state, host, token, &principal)))
}

#[utoipa::path(get, path = "/api/hosts/{id}", tag = "hosts", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = HostView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<web::Json<HostView>> {
    let id = parse_path_id("host", &id)?;
    Ok(web::Json(view(
        &state,
        state.store.hosts().get(&id).await?,
        &principal,
    )))
}

/// Fuse by hand; 409 naming the missing leg when the worker or its Docker engine has not
/// reported in.
#[utoipa::path(post, path = "/api/hosts/{id}/fuse", tag = "hosts", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = HostView), (status = 409, body = ErrorBody)))]
pub async fn fuse(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<web::Json<HostView>> {
    let id = parse_path_id("host", &id)?;
    let host = state.store.hosts().get(&id).await?;
    let fs = fuse_state(&host);
    if !fs.fused && !crate::fleet::try_fuse(&state, &id).await {
        return Err(ApiError::conflict(format!(
            "cannot fuse yet: missing {}",
            fs.missing.join(", ")
        )));
    }
    Ok(web::Json(view(
        &state,
        state.store.hosts().get(&id).await?,
        &principal,
    )))
}

/// Ask the worker again for its Docker engine (a census), then fuse.
#[utoipa::path(post, path = "/api/hosts/{id}/retry-fuse", tag = "hosts", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = HostView), (status = 409, body = ErrorBody)))]
pub async fn retry_fuse(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<web::Json<HostView>> {
    let id = parse_path_id("host", &id)?;
    let host = state.store.hosts().get(&id).await?;
    if !host.enrolled {
        return Err(ApiError::conflict(
            "cannot fuse yet: missing enrollment (no worker has enrolled with this host's token)",
        ));
    }
    if let Err(err) = crate::fleet::refresh_census(&state, &id).await {
        return Err(ApiError::conflict(format!("retry failed: {err}")));
    }
    let host = state.store.hosts().get(&id).await?;
    let fs = fuse_state(&host);
    if !fs.fused && !crate::fleet::try_fuse(&state, &id).await {
        return Err(ApiError::conflict(format!(
            "cannot fuse yet: missing {}",
            fs.missing.join(", ")
        )));
    }
    Ok(web::Json(view(
        &state,
        state.store.hosts().get(&id).await?,
        &principal,
    )))
}

/// Mint a fresh enroll token; the previous one stops working.
#[utoipa::path(post, path = "/api/hosts/{id}/regenerate-token", tag = "hosts", params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = HostWithToken), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn regenerate_token(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse_path_id("host", &id)?;
    if state.store.hosts().get(&id).await?.enrolled {
        return Err(ApiError::conflict(
            "the host is enrolled; remove its node (DELETE /api/nodes/{id}) before enrolling it again",
        ));
    }
    let (token, hash, expires) = new_token(&state);
    let host = state
        .store
        .hosts()
        .regenerate_token(&id, &hash, expires)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(with_token(&state, host, token, &principal)))
}

/// The host's enroll attempts, newest first, a page at a time.
#[utoipa::path(get, path = "/api/hosts/{id}/enroll-attempts", tag = "hosts", params(("id" = String, Path, format = Uuid), PageQuery),
    responses((status = 200, body = Paginated<AttemptView>), (status = 404, body = ErrorBody)))]
pub async fn enroll_attempts(
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<AttemptView>>> {
    let id = parse_path_id("host", &id)?;
    let page = PageQuery::page(query.limit, query.offset)?;
    state.store.hosts().get(&id).await?;
    let result = state.store.hosts().attempts_page(&id, page).await?;
    Ok(web::Json(Paginated {
        items: result.items.into_iter().map(AttemptView::from).collect(),
        total: result.total,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// Remove the host: its node credential is revoked and a connected worker is cut off.
#[utoipa::path(delete, path = "/api/hosts/{id}", tag = "hosts", params(("id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = parse_path_id("host", &id)?;
    let host = state.store.hosts().get(&id).await?;
    state.store.hosts().delete(&id).await?;
    state.nodes.remove(&id).await?;
    state
        .events
        .publish_committed(crate::events::HostDeleted {
            host_id: id.to_string(),
            name: host.name.clone(),
        })
        .await;
    Ok(HttpResponse::NoContent().finish())
}
