//! `GET /api/openapi.json`: OpenAPI 3.1 generated from the handlers, with each operation's
//! required role taken from the route table (`x-required-role`, and the security schemes).

use actix_web::{HttpResponse, web};
use utoipa::OpenApi;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, HttpMethod, PathItem, Ref, RefOr, ResponseBuilder};

use super::routes::{Access, RouteSpec, RouteTable};
use super::{
    activity, audit, auth, census, config, container_streams, containers, endpoints, enroll,
    events_schema, health, hosts, images, keys, metrics, modules, networks, nodes, notifications,
    operations, services, settings, stacks, system, topology, transfer, users, volumes, ws,
};
use crate::modules::MODULES;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ContextBay API",
        description = "Control plane for fleets of Docker hosts. Roles: viewer (r) ⊆ operator (w) ⊆ admin (a)."
    ),
    paths(
        metrics::scrape,
        health::health,
        modules::list,
        document,
        auth::login,
        auth::setup,
        auth::refresh,
        auth::logout,
        auth::me,
        auth::rotate_jwt,
        users::list,
        users::create,
        users::get,
        users::update,
        users::delete,
        keys::list,
        keys::create,
        keys::revoke,
        settings::get,
        settings::put,
        config::get,
        config::put,
        notifications::list,
        notifications::test,
        audit::list,
        activity::list,
        events_schema::catalogue,
        system::info,
        transfer::export,
        transfer::import,
        ws::connect,
        enroll::enroll,
        hosts::list,
        hosts::create,
        hosts::get,
        hosts::fuse,
        hosts::retry_fuse,
        hosts::regenerate_token,
        hosts::enroll_attempts,
        hosts::delete,
        nodes::list,
        nodes::fleet_status,
        nodes::get,
        nodes::delete,
        nodes::put_labels,
        nodes::get_policy,
        nodes::put_policy,
        census::latest,
        census::trigger,
        census::diff,
        census::list,
        topology::topology,
        containers::list,
        containers::create,
        containers::stats,
        containers::get,
        containers::inspect,
        containers::logs,
        containers::action,
        containers::delete,
        container_streams::logs_ws,
        container_streams::exec_ws,
        stacks::list,
        stacks::create,
        stacks::get,
        stacks::update,
        stacks::delete,
        stacks::action,
        operations::list,
        operations::get,
        operations::cancel,
        services::list,
        services::get,
        services::delete,
        services::put_health,
        images::list,
        images::pull,
        images::prune,
        images::delete,
        volumes::list,
        volumes::delete,
        networks::list,
        networks::topology,
        networks::delete,
        networks::inspect,
        endpoints::list,
        endpoints::create,
        endpoints::delete,
        endpoints::get_policy,
        endpoints::put_policy,
        endpoints::delete_policy,
    ),
    components(schemas(crate::error::ErrorBody))
)]
struct ApiDoc;

/// The document: the core paths and each module's, with roles and security requirements filled
/// in from `routes`, and the event catalogue (payload schemas under `components.schemas`, the
/// kinds in `x-events`).
pub fn build(routes: &RouteTable) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for module in MODULES {
        doc.merge((module.openapi)());
    }
    crate::events::document(&mut doc);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    components.add_security_scheme(
        "api_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
    );
    components.add_security_scheme(
        "cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("cb_session"))),
    );
    for spec in routes.all() {
        let Some(item) = doc.paths.paths.get_mut(spec.path) else {
            continue;
        };
        let Some(op) = operation_mut(item, &spec.method) else {
            continue;
        };
        let (role, security) = match spec.access {
            Access::Public => ("public", vec![SecurityRequirement::default()]),
            Access::Role(r) => (
                r.as_str(),
                ["bearer", "api_key", "cookie"]
                    .into_iter()
                    .map(|s| SecurityRequirement::new::<_, _, &str>(s, []))
                    .collect(),
            ),
        };
        let mut ext = ExtensionsBuilder::new().add("x-required-role", role);
        if let Some(m) = spec.module {
            ext = ext.add("x-module", m.as_str());
        }
        op.extensions = Some(ext.build());
        op.security = Some(security);
        add_generic_responses(op, spec);
    }
    doc
}

/// The statuses every request to `spec` may get before or around its handler, each with the
/// error body, added where the handler's own declaration does not already name them:
/// - 400 when the operation takes parameters or a body: the extractors refuse a malformed or
///   out-of-range parameter, an unknown query parameter, a body that is not JSON, does not fit
///   the schema or is over `server.max_body_bytes` (`invalid_json`, `payload_too_large`; both
///   are 400s in the error table);
/// - 401 and 403 unless the route is public: missing or invalid credentials; a role below the
///   route's, or a cookie-authenticated mutation or handshake from another origin (so even an
///   admin can get a 403);
/// - 404 for a route of a module (`module_disabled` while it is off) and for a route with path
///   parameters (the resource named does not exist);
/// - 500 for every operation: a database or internal failure (`internal`, no details).
fn add_generic_responses(op: &mut Operation, spec: &RouteSpec) {
    let has_input = op.parameters.as_ref().is_some_and(|p| !p.is_empty())
        || op.request_body.is_some()
        || spec.path.contains('{');
    if has_input {
        add_error(
            op,
            "400",
            "invalid input: a malformed or out-of-range parameter, or a body that is not valid \
             JSON for this operation (`bad_request`, `invalid_json`, `payload_too_large`); \
             `field` names the input at fault when there is one",
        );
    }
    if let Access::Role(_) = spec.access {
        add_error(
            op,
            "401",
            "missing, invalid or expired credentials (`unauthenticated`)",
        );
        add_error(
            op,
            "403",
            "the caller's role is below the one this operation requires, or a \
             cookie-authenticated request came from another origin (`forbidden`)",
        );
    }
    if spec.module.is_some() {
        add_error(
            op,
            "404",
            "the module is switched off (`module_disabled`), or what the path names does not \
             exist (`not_found`)",
        );
    } else if spec.path.contains('{') {
        add_error(
            op,
            "404",
            "what the path names does not exist (`not_found`)",
        );
    }
    add_error(
        op,
        "500",
        "an internal failure; the details are in the server log under the request id (`internal`)",
    );
}

/// Declares `status` with the error body unless the operation already declares it.
fn add_error(op: &mut Operation, status: &str, description: &str) {
    if op.responses.responses.contains_key(status) {
        return;
    }
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    op.responses
        .responses
        .insert(status.to_owned(), RefOr::T(response));
}

fn operation_mut<'a>(
    item: &'a mut PathItem,
    method: &actix_web::http::Method,
) -> Option<&'a mut utoipa::openapi::path::Operation> {
    let m = match method.as_str() {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "DELETE" => HttpMethod::Delete,
        "PATCH" => HttpMethod::Patch,
        _ => return None,
    };
    match m {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        HttpMethod::Put => item.put.as_mut(),
        HttpMethod::Delete => item.delete.as_mut(),
        HttpMethod::Patch => item.patch.as_mut(),
        _ => None,
    }
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "system", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn document(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(build(&state.routes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_route_is_documented_with_its_role_and_nothing_else_is() {
        let table = RouteTable::build();
        let doc = build(&table);
        let json = serde_json::to_value(&doc).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
        let mut documented = 0;
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let spec = table
                    .all()
                    .iter()
                    .find(|s| s.path == path && s.method.as_str().eq_ignore_ascii_case(method))
                    .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
                let role = op["x-required-role"].as_str().unwrap();
                match spec.access {
                    Access::Public => assert_eq!(role, "public"),
                    Access::Role(r) => assert_eq!(role, r.as_str()),
                }
                documented += 1;
            }
        }
        assert_eq!(documented, table.all().len(), "every route is documented");
    }
}
