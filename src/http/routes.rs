//! The route table: every route of the API with its method, path template, the role it needs and
//! the module it belongs to. It is both the registration and the permission table, so a route
//! cannot exist without a declared role; the gate also denies any matched route it cannot find
//! here.

use std::collections::HashMap;

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, HttpResponse, Responder, web};

use super::{
    activity, audit, auth, config, health, keys, metrics, modules, notifications, openapi,
    settings, system, transfer, users, ws,
};
use crate::auth::Role;
use crate::error::{ApiError, ErrorCode};
use crate::modules::ModuleName;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// At least this role.
    Role(Role),
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub module: Option<ModuleName>,
    /// The route may be opened without credentials and authenticates inside (the WebSocket's
    /// first-message auth).
    pub in_band_auth: bool,
}

/// One route: its declaration and how to build its actix handler.
pub struct Route {
    pub spec: RouteSpec,
    make: Box<dyn Fn() -> actix_web::Route>,
}

impl Route {
    fn new<F, Args>(method: Method, path: &'static str, access: Access, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let m = method.clone();
        Self {
            spec: RouteSpec {
                method,
                path,
                access,
                module: None,
                in_band_auth: false,
            },
            make: Box::new(move || web::method(m.clone()).to(handler.clone())),
        }
    }

    #[expect(
        dead_code,
        reason = "the first module routes arrive with the monitoring issue"
    )]
    fn module(mut self, module: ModuleName) -> Self {
        self.spec.module = Some(module);
        self
    }

    fn in_band_auth(mut self) -> Self {
        self.spec.in_band_auth = true;
        self
    }
}

const PUBLIC: Access = Access::Public;
const R: Access = Access::Role(Role::Viewer);
const W: Access = Access::Role(Role::Operator);
const A: Access = Access::Role(Role::Admin);

fn get<F, Args>(path: &'static str, access: Access, h: F) -> Route
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Route::new(Method::GET, path, access, h)
}

fn post<F, Args>(path: &'static str, access: Access, h: F) -> Route
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Route::new(Method::POST, path, access, h)
}

fn put<F, Args>(path: &'static str, access: Access, h: F) -> Route
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Route::new(Method::PUT, path, access, h)
}

fn delete<F, Args>(path: &'static str, access: Access, h: F) -> Route
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Route::new(Method::DELETE, path, access, h)
}

/// Every route, in matching order (fixed paths before templated siblings).
pub fn all() -> Vec<Route> {
    vec![
        // Health & bootstrap
        get("/metrics", PUBLIC, metrics::scrape),
        get("/api/health", PUBLIC, health::health),
        get("/api/modules", PUBLIC, modules::list),
        get("/api/openapi.json", PUBLIC, openapi::document),
        // Auth
        post("/api/auth/login", PUBLIC, auth::login),
        post("/api/auth/setup", PUBLIC, auth::setup),
        post("/api/auth/refresh", PUBLIC, auth::refresh),
        post("/api/auth/logout", R, auth::logout),
        get("/api/auth/me", R, auth::me),
        post("/api/admin/secrets/rotate-jwt", A, auth::rotate_jwt),
        // Users
        get("/api/users", A, users::list),
        post("/api/users", A, users::create),
        get("/api/users/{id}", A, users::get),
        put("/api/users/{id}", A, users::update),
        delete("/api/users/{id}", A, users::delete),
        // API keys
        get("/api/keys", R, keys::list),
        post("/api/keys", R, keys::create),
        delete("/api/keys/{id}", R, keys::revoke),
        // Settings + module config
        get("/api/settings/{key}", A, settings::get),
        put("/api/settings/{key}", A, settings::put),
        get("/api/config/{module}", A, config::get),
        put("/api/config/{module}", A, config::put),
        // Other
        get("/api/notifications", R, notifications::list),
        post("/api/notifications/test", W, notifications::test),
        get("/api/audit", A, audit::list),
        get("/api/activity", R, activity::list),
        get("/api/system/info", A, system::info),
        get("/api/export", A, transfer::export),
        post("/api/import", A, transfer::import),
        get("/api/ws", R, ws::connect).in_band_auth(),
    ]
}

/// Registers every route, one actix resource per path so that a known path with another method
/// answers 405.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut order: Vec<&'static str> = Vec::new();
    let mut by_path: HashMap<&'static str, Vec<Route>> = HashMap::new();
    for route in all() {
        if !by_path.contains_key(route.spec.path) {
            order.push(route.spec.path);
        }
        by_path.entry(route.spec.path).or_default().push(route);
    }
    for path in order {
        let mut resource = web::resource(path);
        let mut allowed = Vec::new();
        for route in by_path.remove(path).unwrap_or_default() {
            allowed.push(route.spec.method.to_string());
            resource = resource.route((route.make)());
        }
        let allow = allowed.join(", ");
        resource = resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move {
                let err = ApiError::new(
                    ErrorCode::MethodNotAllowed,
                    format!("method not allowed; this path accepts {allow}"),
                );
                let mut res = actix_web::ResponseError::error_response(&err);
                if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&allow) {
                    res.headers_mut().insert(actix_web::http::header::ALLOW, v);
                }
                res
            }
        }));
        cfg.service(resource);
    }
}

/// The declarations alone, for the gate and the OpenAPI document.
pub struct RouteTable {
    by_path: HashMap<&'static str, Vec<RouteSpec>>,
    ordered: Vec<RouteSpec>,
}

impl RouteTable {
    pub fn build() -> Self {
        let ordered: Vec<RouteSpec> = all().into_iter().map(|r| r.spec).collect();
        let mut by_path: HashMap<&'static str, Vec<RouteSpec>> = HashMap::new();
        for spec in &ordered {
            by_path.entry(spec.path).or_default().push(spec.clone());
        }
        Self { by_path, ordered }
    }

    /// The declaration for a matched path template and method (HEAD is served by GET).
    pub fn get(&self, method: &Method, path: &str) -> Option<&RouteSpec> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.by_path.get(path)?.iter().find(|s| s.method == method)
    }

    pub fn all(&self) -> &[RouteSpec] {
        &self.ordered
    }
}

/// JSON 404 for unknown `/api` paths; everything else is the dashboard.
pub async fn fallback(req: actix_web::HttpRequest) -> HttpResponse {
    let path = req.path();
    if path == "/api" || path.starts_with("/api/") || path == "/metrics" {
        let err = ApiError::not_found(format!("no route for {} {path}", req.method()));
        return actix_web::ResponseError::error_response(&err);
    }
    super::dashboard::serve(&req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_declared_once() {
        let table = RouteTable::build();
        let mut seen = std::collections::HashSet::new();
        for spec in table.all() {
            assert!(
                seen.insert((spec.method.clone(), spec.path)),
                "{} {} twice",
                spec.method,
                spec.path
            );
        }
    }
}
