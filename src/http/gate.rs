//! The two layers every request passes.
//!
//! [`observe`] wraps the whole application: the request id, the request metrics and the
//! `X-Request-Id` header, for every request, 404s and 405s included.
//!
//! [`guard`] wraps each declared route itself (`routes::Route::build` attaches it; a route cannot
//! be registered without it). It runs after the router has chosen that route, on that route's own
//! declaration: module switch, authentication, role, Origin check for cookie sessions, and the
//! audit entry. Nothing here parses the path a second time, so no other spelling of a path
//! (percent-encoding, case, dot segments, …) can reach a handler without its guard: whatever the
//! router dispatches to a declared route is decided by that route's declaration, and what it
//! dispatches elsewhere (a known path's 405, the fallback) runs no handler of a declared route.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
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

/// The declaration of the route the router dispatched the request to, set by [`guard`].
#[derive(Clone)]
pub struct MatchedRoute(pub Arc<RouteSpec>);

/// The outer layer: request id, metrics and the `X-Request-Id` header.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let request_id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    crate::request_id::with_request_id(request_id.clone(), async move {
        let started = Instant::now();
        let method = req.method().clone();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let mut res = next.call(req).await?.map_into_boxed_body();
        if let Some(state) = state {
            let route = res
                .request()
                .extensions()
                .get::<MatchedRoute>()
                .map_or("unmatched", |m| m.0.path);
            let status = res.status();
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
        }
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            res.headers_mut()
                .insert(header::HeaderName::from_static("x-request-id"), v);
        }
        Ok(res)
    })
    .await
}

/// The inner layer, on each declared route: admits the request as the route's declaration says,
/// then audits it.
pub async fn guard(
    spec: Arc<RouteSpec>,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(ApiError::internal("application state missing").into());
    };
    req.extensions_mut().insert(MatchedRoute(Arc::clone(&spec)));
    let res = match admit(&state, &req, &spec).await {
        Ok(principal) => {
            if let Some(p) = principal {
                req.extensions_mut().insert(p);
            }
            next.call(req).await?
        }
        Err(err) => req.error_response(err),
    };
    record(&state, &res, &spec).await;
    Ok(res)
}

/// The audit entry of a finished request: one for every mutation by a known caller or that
/// succeeded; refusals of callers without credentials are counted in `/metrics` and sampled
/// (see [`RejectionSampler`]), so a flood of garbage cannot grow the audit log row by row.
async fn record(state: &AppState, res: &ServiceResponse<BoxBody>, spec: &RouteSpec) {
    let status = res.status();
    let anonymous = res.request().extensions().get::<Principal>().is_none();
    if anonymous && status.is_client_error() {
        state
            .metrics
            .anonymous_rejected
            .with_label_values(&[spec.path, status.as_str()])
            .inc();
        if let Some(suppressed) = state.rejections.admit(spec, status) {
            audit(state, res, spec, suppressed).await;
        }
        return;
    }
    if is_mutation(&spec.method) {
        audit(state, res, spec, 0).await;
    }
}

/// Keeps one audit entry per route and status for refusals of callers without credentials in
/// each window; the next entry says how many were left out in between. Keys are the declared
/// routes (a fixed set), so the map is bounded whatever the caller sends.
pub struct RejectionSampler {
    window: Duration,
    slots: Mutex<HashMap<(&'static str, Method, u16), Slot>>,
}

struct Slot {
    recorded_at: Instant,
    suppressed: u64,
}

impl RejectionSampler {
    /// One entry per route and status per `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(n)` when this refusal gets an audit entry (`n` refusals were left out since the
    /// previous one), `None` when it is only counted.
    fn admit(&self, spec: &RouteSpec, status: StatusCode) -> Option<u64> {
        let now = Instant::now();
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (spec.path, spec.method.clone(), status.as_u16());
        match slots.get_mut(&key) {
            None => {
                slots.insert(
                    key,
                    Slot {
                        recorded_at: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
            Some(slot) if now.duration_since(slot.recorded_at) >= self.window => {
                let left_out = slot.suppressed;
                slot.recorded_at = now;
                slot.suppressed = 0;
                Some(left_out)
            }
            Some(slot) => {
                slot.suppressed += 1;
                None
            }
        }
    }
}

/// Decides whether the request may reach its handler, and as whom.
async fn admit(
    state: &AppState,
    req: &ServiceRequest,
    spec: &RouteSpec,
) -> Result<Option<Principal>, ApiError> {
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
    Ok(crate::modules::is_enabled(state, module).await?)
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

/// Writes the audit entry of a finished request; `left_out` is the number of similar refusals
/// only counted since the previous entry (see [`RejectionSampler`]).
async fn audit(state: &AppState, res: &ServiceResponse<BoxBody>, spec: &RouteSpec, left_out: u64) {
    let request_id = crate::request_id::request_id();
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
        target: audit_target(req.path(), left_out),
        result: if status.is_success() || status.is_redirection() {
            "success".into()
        } else {
            "failure".into()
        },
        status: i64::from(status.as_u16()),
        request_id: request_id.clone(),
        source_ip: super::peer_ip(req),
    };
    if let Err(err) = state.store.audit().record(&entry).await {
        tracing::error!(%request_id, "writing audit entry: {err}");
    }
}

/// The path as sent (at most 512 bytes of it), and how many similar refusals were only counted.
fn audit_target(path: &str, left_out: u64) -> String {
    let mut end = path.len().min(512);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    let path = &path[..end];
    if left_out == 0 {
        path.to_owned()
    } else {
        format!("{path} (+{left_out} similar refusals since the previous entry, only counted)")
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
