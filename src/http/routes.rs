//! The route table: every route of the API with its method, path template, the role it needs and
//! the module it belongs to. It is both the registration and the permission table: a handler is
//! registered only through [`Route::build`], which wraps it in the guard that admits requests by
//! that route's own declaration, so a route cannot exist without its role.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest, Handler, HttpResponse, Responder, web};

use super::{
    activity, audit, auth, census, config, container_streams, containers, endpoints, enroll,
    events_schema, gate, health, hosts, images, keys, metrics, modules, networks, nodes,
    notifications, openapi, operations, services, settings, stacks, system, topology, transfer,
    users, volumes, ws,
};
use crate::auth::Role;
use crate::error::{ApiError, ErrorCode};
use crate::modules::{MODULES, ModuleName};

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
    /// The bare handler; only [`Route::build`] turns it into a registered route, with its guard.
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

    fn module(mut self, module: ModuleName) -> Self {
        self.spec.module = Some(module);
        self
    }

    fn in_band_auth(mut self) -> Self {
        self.spec.in_band_auth = true;
        self
    }

    /// The actix route, wrapped in the guard that admits requests by this route's declaration.
    /// This is the only way a handler is registered, so no handler can be reached without the
    /// decision of its own route (whatever spelling of the path the router decoded to reach it).
    fn build(&self) -> actix_web::Route {
        let spec = Arc::new(self.spec.clone());
        (self.make)().wrap(from_fn(move |req: ServiceRequest, next: Next<BoxBody>| {
            gate::guard(Arc::clone(&spec), req, next)
        }))
    }
}

pub const PUBLIC: Access = Access::Public;
/// `r` in the contract: at least viewer.
pub const R: Access = Access::Role(Role::Viewer);
/// `w` in the contract: at least operator.
pub const W: Access = Access::Role(Role::Operator);
/// `a` in the contract: admin.
pub const A: Access = Access::Role(Role::Admin);

pub fn get<F, Args>(path: &'static str, access: Access, h: F) -> Route
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Route::new(Method::GET, path, access, h)
}

pub fn post<F, Args>(path: &'static str, access: Access, h: F) -> Route
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Route::new(Method::POST, path, access, h)
}

pub fn put<F, Args>(path: &'static str, access: Access, h: F) -> Route
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Route::new(Method::PUT, path, access, h)
}

pub fn delete<F, Args>(path: &'static str, access: Access, h: F) -> Route
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Route::new(Method::DELETE, path, access, h)
}

/// Every route, in matching order (fixed paths before templated siblings): the core routes,
/// then each module's, stamped with its module.
pub fn all() -> Vec<Route> {
    let mut routes = core();
    for module in MODULES {
        // A core part's routes answer whatever the module switches say.
        let core = module.is_core();
        routes.extend(
            (module.routes)()
                .into_iter()
                .map(|r| if core { r } else { r.module(module.name) }),
        );
    }
    routes
}

/// The routes that belong to no module.
fn core() -> Vec<Route> {
    vec![
        // Health & bootstrap
        get("/metrics", PUBLIC, metrics::scrape),
        get("/api/health", PUBLIC, health::health),
        get("/api/modules", PUBLIC, modules::list),
        get("/api/openapi.json", PUBLIC, openapi::document),
        post("/api/enroll", PUBLIC, enroll::enroll),
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
        // Hosts (pending + enrolled)
        get("/api/hosts", R, hosts::list),
        post("/api/hosts", A, hosts::create),
        get("/api/hosts/{id}", R, hosts::get),
        post("/api/hosts/{id}/fuse", A, hosts::fuse),
        post("/api/hosts/{id}/retry-fuse", A, hosts::retry_fuse),
        post(
            "/api/hosts/{id}/regenerate-token",
            A,
            hosts::regenerate_token,
        ),
        get("/api/hosts/{id}/enroll-attempts", R, hosts::enroll_attempts),
        delete("/api/hosts/{id}", A, hosts::delete),
        // Nodes (enrolled)
        get("/api/nodes", R, nodes::list),
        get("/api/nodes/fleet-status", R, nodes::fleet_status),
        get("/api/nodes/{id}", R, nodes::get),
        delete("/api/nodes/{id}", A, nodes::delete),
        put("/api/nodes/{id}/labels", W, nodes::put_labels),
        get("/api/nodes/{id}/security-policy", R, nodes::get_policy),
        put("/api/nodes/{id}/security-policy", W, nodes::put_policy),
        get("/api/nodes/{id}/census", R, census::latest),
        post("/api/nodes/{id}/census", W, census::trigger),
        get("/api/nodes/{id}/census/diff", R, census::diff),
        get("/api/census", R, census::list),
        get("/api/topology", R, topology::topology),
        // Containers
        get("/api/containers", R, containers::list),
        post("/api/containers", W, containers::create),
        get("/api/containers/stats", R, containers::stats),
        get("/api/containers/{id}", R, containers::get),
        get("/api/containers/{id}/inspect", R, containers::inspect),
        get("/api/containers/{id}/logs", R, containers::logs),
        get(
            "/api/containers/{id}/logs/ws",
            R,
            container_streams::logs_ws,
        ),
        get(
            "/api/containers/{id}/exec/ws",
            A,
            container_streams::exec_ws,
        ),
        post("/api/containers/{id}/{action}", W, containers::action),
        delete("/api/containers/{id}", W, containers::delete),
        // Stacks
        get("/api/stacks", R, stacks::list),
        post("/api/stacks", W, stacks::create),
        get("/api/stacks/{id}", R, stacks::get),
        put("/api/stacks/{id}", W, stacks::update),
        delete("/api/stacks/{id}", W, stacks::delete),
        post("/api/stacks/{id}/{action}", W, stacks::action),
        // Operations (jobs)
        get("/api/operations", R, operations::list),
        get("/api/operations/{id}", R, operations::get),
        post("/api/operations/{id}/cancel", W, operations::cancel),
        // Services (compose)
        get("/api/services", R, services::list),
        get("/api/services/{id}", R, services::get),
        delete("/api/services/{id}", W, services::delete),
        put("/api/services/{id}/health", W, services::put_health),
        // Images
        get("/api/images", R, images::list),
        post("/api/images/pull", W, images::pull),
        post("/api/images/prune", W, images::prune),
        delete("/api/images/{id}", W, images::delete),
        // Volumes
        get("/api/volumes", R, volumes::list),
        delete("/api/volumes/{name}", W, volumes::delete),
        // Networks
        get("/api/networks", R, networks::list),
        get("/api/networks/topology", R, networks::topology),
        delete("/api/networks/{id}", W, networks::delete),
        get("/api/networks/{id}/inspect", R, networks::inspect),
        // Docker endpoints
        get("/api/endpoints", A, endpoints::list),
        post("/api/endpoints", A, endpoints::create),
        delete("/api/endpoints/{id}", A, endpoints::delete),
        // Not in the spec: the policy of a local or tcp endpoint (agent endpoints use their
        // node's). Operators may only tighten it; the handlers refuse loosening by non-admins.
        get(
            "/api/endpoints/{id}/security-policy",
            R,
            endpoints::get_policy,
        ),
        put(
            "/api/endpoints/{id}/security-policy",
            W,
            endpoints::put_policy,
        ),
        delete(
            "/api/endpoints/{id}/security-policy",
            W,
            endpoints::delete_policy,
        ),
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
        get("/api/events/schema", R, events_schema::catalogue),
        get("/api/system/info", A, system::info),
        get("/api/export", A, transfer::export),
        post("/api/import", A, transfer::import),
        get("/api/ws", R, ws::connect).in_band_auth(),
    ]
}

/// Registers every route, one actix resource per path so that a known path with another method
/// answers 405.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // actix matches templated paths with a regex each, tried in registration order, twice per
    // request (the gate's `match_pattern`, then the router). Under one scope per fixed prefix
    // (`/api/containers`, `/api/v1`, …) a request is compared with a few fixed strings and only
    // its own prefix's templates. A scope keeps its routes' order.
    let mut scopes: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    let mut by_path: HashMap<&'static str, Vec<Route>> = HashMap::new();
    for route in all() {
        let path = route.spec.path;
        if !by_path.contains_key(path) {
            let prefix = scope_prefix(path);
            match scopes.iter_mut().find(|(p, _)| *p == prefix) {
                Some((_, paths)) => paths.push(path),
                None => scopes.push((prefix, vec![path])),
            }
        }
        by_path.entry(path).or_default().push(route);
    }
    for (prefix, paths) in scopes {
        let mut scope = web::scope(prefix);
        for path in paths {
            let routes = by_path.remove(path).unwrap_or_default();
            scope = scope.service(resource(&path[prefix.len()..], routes));
        }
        // Unset, a scope's default service is the application's: the JSON 404.
        cfg.service(scope);
    }
    // Services outside the route table, with a protocol of their own and their own admission:
    // ContextBay's MCP server (`/mcp`, docs/mcp-server.md).
    crate::modules::ai::mount(cfg);
}

/// The fixed prefix a path is registered under: `/api/<first segment>`, or the path's own first
/// segment outside `/api` (`/metrics`). Never a template.
fn scope_prefix(path: &'static str) -> &'static str {
    let rest = path.strip_prefix("/api/").map_or(&path[1..], |r| r);
    let first = rest.find('/').unwrap_or(rest.len());
    let end = path.len() - rest.len() + first;
    debug_assert!(!path[..end].contains('{'), "templated prefix in {path}");
    &path[..end]
}

/// One path's resource with its routes, answering 405 with `Allow` for other methods.
fn resource(path: &str, routes: Vec<Route>) -> actix_web::Resource {
    let mut resource = web::resource(path);
    let mut allowed = Vec::new();
    for route in routes {
        allowed.push(route.spec.method.to_string());
        resource = resource.route(route.build());
    }
    let allow = allowed.join(", ");
    resource.default_service(web::to(move || {
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
    }))
}

/// The declarations alone, for the OpenAPI document and the tests. (The gate does not look
/// routes up here: each registered route carries its own declaration.)
pub struct RouteTable {
    ordered: Vec<RouteSpec>,
}

impl RouteTable {
    pub fn build() -> Self {
        Self {
            ordered: all().into_iter().map(|r| r.spec).collect(),
        }
    }

    pub fn all(&self) -> &[RouteSpec] {
        &self.ordered
    }
}

/// Everything the router did not dispatch to a declared route: the dashboard for a plain `GET`
/// of one of its pages or assets, a JSON 404 for the rest. A path that could be another spelling
/// of an API path (any letter case of `/api` or `/metrics`, percent-encoding, dot segments, empty
/// segments, `;` parameters, backslashes) is never answered with the dashboard's `200`.
pub async fn fallback(req: actix_web::HttpRequest) -> HttpResponse {
    let path = req.uri().path();
    if (req.method() == Method::GET || req.method() == Method::HEAD) && is_dashboard_path(path) {
        return super::dashboard::serve(&req);
    }
    let err = ApiError::not_found(format!("no route for {} {}", req.method(), req.path()));
    actix_web::ResponseError::error_response(&err)
}

/// A path the dashboard may answer: plain segments of unreserved characters, none of them `.` or
/// `..`, and not under `/api`, `/metrics` or `/mcp` in any letter case.
fn is_dashboard_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    if lower.starts_with("/api")
        || lower.starts_with("/metrics")
        || lower == "/mcp"
        || lower.starts_with("/mcp/")
    {
        return false;
    }
    if path == "/" {
        return true;
    }
    path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~'))
        && path[1..]
            .split('/')
            .all(|seg| !matches!(seg, "" | "." | ".."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_fixed_prefixes() {
        assert_eq!(scope_prefix("/metrics"), "/metrics");
        assert_eq!(scope_prefix("/api/health"), "/api/health");
        assert_eq!(scope_prefix("/api/users/{id}"), "/api/users");
        assert_eq!(scope_prefix("/api/v1/metrics/query"), "/api/v1");
        for spec in RouteTable::build().all() {
            assert!(!scope_prefix(spec.path).contains('{'), "{}", spec.path);
        }
    }

    #[test]
    fn the_dashboard_answers_only_plain_paths_outside_the_api() {
        for ok in [
            "/",
            "/containers",
            "/stacks/abc-1",
            "/assets/index-3f.js",
            "/favicon.ico",
        ] {
            assert!(is_dashboard_path(ok), "{ok}");
        }
        for refused in [
            "/api",
            "/API/users",
            "/Api/health",
            "/metrics",
            "/METRICS",
            "/apix",
            "/%61pi/users",
            "/x/../api",
            "/./api",
            "/containers/",
            "//api/users",
            "/x;y=1",
            "/x%2Fy",
            "\\api",
            "/a/./b",
            "/a/../b",
            "",
            "//",
            "//x",
            "/x//y",
        ] {
            assert!(!is_dashboard_path(refused), "{refused}");
        }
    }

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
