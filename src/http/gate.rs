//! The one middleware every request passes: request id, module switch, authentication, role
//! check, Origin check for cookie sessions, audit entry for mutations, and request metrics.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::routes::{Access, RouteSpec};
use crate::auth::credentials::{
    API_KEY_HEADER, AuthFailure, Presented, SESSION_COOKIE, authenticate,
};
use crate::auth::{AuthMethod, Principal};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::store::audit::AuditEntry;
use crate::store::now_ms;

pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    super::with_request_id(request_id.clone(), handle(req, next, request_id)).await
}

async fn handle(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    request_id: String,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(ApiError::internal("application state missing").into());
    };
    let method = req.method().clone();
    let pattern = req.match_pattern();
    let spec = pattern
        .as_deref()
        .and_then(|p| state.routes.get(&method, p))
        .cloned();
    let mut res = match admit(&state, &req, spec.as_ref()).await {
        Ok(principal) => {
            if let Some(p) = principal {
                req.extensions_mut().insert(p);
            }
            next.call(req).await?.map_into_boxed_body()
        }
        Err(err) => req.error_response(err),
    };

    let status = res.status();
    if let Some(spec) = &spec
        && is_mutation(&method)
    {
        audit(&state, &res, spec, &request_id).await;
    }
    let route = pattern.as_deref().unwrap_or("unmatched");
    state
        .metrics
        .http_requests
        .with_label_values(&[route, method.as_str(), status.as_str()])
        .inc();
    state
        .metrics
        .http_duration
        .with_label_values(&[route, method.as_str()])
        .observe(started.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}

/// Decides whether the request may reach its handler, and as whom.
async fn admit(
    state: &AppState,
    req: &ServiceRequest,
    spec: Option<&RouteSpec>,
) -> Result<Option<Principal>, ApiError> {
    let Some(spec) = spec else {
        // Not a declared route. Either no resource matched (the fallback answers 404 or serves
        // the dashboard) or the method is not served (405 from the resource). A matched route
        // missing from the table cannot be registered, so nothing is let through here.
        return Ok(None);
    };
    if let Some(module) = spec.module
        && !module_enabled(state, module).await?
    {
        return Err(ApiError::new(
            ErrorCode::ModuleDisabled,
            format!("module '{module}' is disabled"),
        ));
    }
    let Access::Role(required) = spec.access else {
        return Ok(None);
    };
    let presented = Presented {
        authorization: header_str(req, header::AUTHORIZATION.as_str()),
        api_key: header_str(req, API_KEY_HEADER),
        session_cookie: None,
    };
    let cookie = req.cookie(SESSION_COOKIE);
    let presented = Presented {
        session_cookie: cookie.as_ref().map(|c| c.value()),
        ..presented
    };
    let principal = match authenticate(&presented, &state.tokens, &state.store).await {
        Ok(Some(p)) => p,
        Ok(None) if spec.in_band_auth => return Ok(None),
        Ok(None) => return Err(ApiError::unauthenticated(AuthFailure::Missing.to_string())),
        Err(AuthFailure::Store(e)) => return Err(e.into()),
        Err(failure) => {
            let kind = match &failure {
                AuthFailure::BadApiKey => "api_key",
                AuthFailure::SessionEnded => "session",
                _ => "token",
            };
            state.metrics.auth_failures.with_label_values(&[kind]).inc();
            return Err(ApiError::unauthenticated(failure.to_string()));
        }
    };
    // Browsers attach cookies to cross-site requests (and to cross-origin WebSocket handshakes),
    // so a cookie alone does not prove the request came from our own pages.
    if principal.method == AuthMethod::Cookie
        && (is_mutation(req.method()) || is_websocket(req))
        && !same_origin(req.request(), &state.config.server.public_url)
    {
        return Err(ApiError::forbidden(
            "cross-origin request refused: a cookie-authenticated request must come from this \
             server's own origin",
        ));
    }
    if !principal.has(required) {
        return Err(ApiError::forbidden(format!(
            "this action requires the {} role; you are {}",
            required.as_str(),
            principal.role.as_str()
        )));
    }
    Ok(Some(principal))
}

async fn module_enabled(
    state: &AppState,
    module: crate::modules::ModuleName,
) -> Result<bool, ApiError> {
    let configured = state.config.modules.get(&module).copied().unwrap_or(false);
    Ok(state
        .store
        .modules()
        .enabled_override(module)
        .await?
        .unwrap_or(configured))
}

/// A WebSocket handshake: browsers send cookies on cross-origin handshakes too.
fn is_websocket(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn is_mutation(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn header_str<'a>(req: &'a ServiceRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn incoming_request_id(req: &ServiceRequest) -> Option<String> {
    let id = header_str(req, "x-request-id")?;
    (!id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    .then(|| id.to_owned())
}

/// The `Origin` header names this server: the configured public URL, or the `Host` the request
/// was sent to.
pub fn same_origin(req: &HttpRequest, public_url: &str) -> bool {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    if !public_url.is_empty() && origin == public_url.trim_end_matches('/') {
        return true;
    }
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    !host.is_empty() && authority.eq_ignore_ascii_case(host)
}

async fn audit(
    state: &AppState,
    res: &ServiceResponse<BoxBody>,
    spec: &RouteSpec,
    request_id: &str,
) {
    let req = res.request();
    let principal = req.extensions().get::<Principal>().cloned();
    let status = res.status();
    let entry = AuditEntry {
        id: String::new(),
        ts: now_ms(),
        actor: principal
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), |p| p.username.clone()),
        actor_id: principal.map(|p| p.user_id),
        action: format!("{} {}", spec.method, spec.path),
        target: req.path().to_owned(),
        result: if status.is_success() || status.is_redirection() {
            "success".into()
        } else {
            "failure".into()
        },
        status: i64::from(status.as_u16()),
        request_id: request_id.to_owned(),
        source_ip: super::peer_ip(req),
    };
    if let Err(err) = state.store.audit().record(&entry).await {
        tracing::error!(%request_id, "writing audit entry: {err}");
    }
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Principal>()
                .cloned()
                .ok_or_else(|| ApiError::unauthenticated("authentication required")),
        )
    }
}

/// Records who acted, for handlers of public routes that establish the caller (login, setup), so
/// their audit entry names them.
pub fn set_actor(req: &HttpRequest, principal: Principal) {
    req.extensions_mut().insert(principal);
}
