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
        op.operation_id = Some(operation_id(spec.path, op));
        if op.responses.responses.contains_key("101") {
            add_websocket_handshake(op);
        }
        add_generic_responses(op, spec);
        describe_responses(op);
    }
    doc
}

/// Gives every response a description (OpenAPI requires one; utoipa leaves it empty when the
/// handler's declaration has none): the status' reason phrase.
fn describe_responses(op: &mut Operation) {
    for (status, response) in &mut op.responses.responses {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            response.description = status
                .parse::<u16>()
                .ok()
                .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
                .and_then(|s| s.canonical_reason())
                .unwrap_or("response")
                .to_owned();
        }
    }
}

/// A unique `operationId` for generated clients: the resource (the path's first segment under
/// `/api`, two under `/api/v1`) and the handler's name (`users_list`, `alert_rules_create`,
/// `v1_metrics_query`); the handler's name alone when it already names the resource (`health`).
/// utoipa's default, the handler's name alone, repeats (`list`, `get`, `delete` everywhere).
fn operation_id(path: &str, op: &Operation) -> String {
    let handler = op.operation_id.as_deref().unwrap_or("operation");
    let mut segments = path
        .strip_prefix("/api/")
        .unwrap_or_else(|| path.trim_start_matches('/'))
        .split('/');
    let mut resource = segments.next().unwrap_or_default().to_owned();
    if resource == "v1"
        && let Some(next) = segments.next()
    {
        resource = format!("v1_{next}");
    }
    let resource = resource.replace(['-', '.'], "_");
    if handler.contains(resource.as_str()) {
        handler.to_owned()
    } else {
        format!("{resource}_{handler}")
    }
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
/// - 404 for a route of a module (`module_disabled` while it is off), for a route with path
///   parameters (the resource named does not exist) and for one with an `endpoint` parameter;
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
    } else if spec.path.contains('{') || takes_endpoint(op) {
        add_error(
            op,
            "404",
            "what the path or the `endpoint` parameter names does not exist (`not_found`)",
        );
    }
    add_error(
        op,
        "500",
        "an internal failure; the details are in the server log under the request id (`internal`)",
    );
}

/// The request headers of a WebSocket handshake (RFC 6455 4.1), which a WebSocket route
/// requires: without them it answers 400.
fn add_websocket_handshake(op: &mut Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let header = |name: &str, schema: ObjectBuilder, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(utoipa::openapi::Required::True)
            .description(Some(description))
            .schema(Some(schema.schema_type(Type::String)))
            .build()
    };
    let params = op.parameters.get_or_insert_with(Vec::new);
    params.extend([
        RefOr::T(header(
            "Upgrade",
            ObjectBuilder::new().enum_values(Some(["websocket"])),
            "`websocket`",
        )),
        RefOr::T(header(
            "Connection",
            ObjectBuilder::new().enum_values(Some(["Upgrade"])),
            "`Upgrade`",
        )),
        RefOr::T(header(
            "Sec-WebSocket-Version",
            ObjectBuilder::new().enum_values(Some(["13"])),
            "`13`",
        )),
        RefOr::T(header(
            "Sec-WebSocket-Key",
            ObjectBuilder::new().pattern(Some("^[A-Za-z0-9+/]{22}==$")),
            "16 random bytes in base64",
        )),
    ]);
}

/// The operation takes an `endpoint` query parameter, which names a Docker endpoint that may
/// not exist.
fn takes_endpoint(op: &Operation) -> bool {
    op.parameters.as_ref().is_some_and(|params| {
        params.iter().any(|p| {
            matches!(p, RefOr::T(p) if p.name == "endpoint"
                && p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
        })
    })
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
        let mut ids = std::collections::HashSet::new();
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let spec = table
                    .all()
                    .iter()
                    .find(|s| s.path == path && s.method.as_str().eq_ignore_ascii_case(method))
                    .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
                let id = op["operationId"].as_str().unwrap().to_owned();
                assert!(ids.insert(id.clone()), "operationId {id} is not unique");
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
