//! The permission matrix: every declared route, called anonymously and as viewer, operator and
//! admin — with every module off, with every module on (configured against a local stub of the
//! services it calls), and with each module switched off alone; and every declared role checked
//! against the contract in `shared/spec/API.md`.

use std::time::Duration;

use contextbay::auth::Role;
use contextbay::http::routes::{Access, RouteSpec, RouteTable};
use contextbay::modules::{FieldKind, ModuleName};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::harness::{ADMIN, Login, PASSWORD, TestServer};
use super::support::ws::{next_event, subscribe};

fn concrete(path: &str) -> String {
    path.replace("{id}", &uuid::Uuid::new_v4().to_string())
        .replace("{key}", "ui.instance_name")
        .replace("{module}", "planner")
        .replace("{uid}", "dash-1")
        .replace("{name}", "job")
}

/// The three logged-in roles.
struct Callers {
    viewer: Login,
    operator: Login,
    admin: Login,
}

/// Calls every route of `routes` as anonymous, viewer, operator and admin and checks each
/// answer against the route's declared access; `on` says whether a module is switched on.
/// Returns the number of calls checked.
async fn check_routes<'a>(
    s: &TestServer,
    who: &Callers,
    routes: impl IntoIterator<Item = &'a RouteSpec>,
    on: impl Fn(ModuleName) -> bool,
) -> usize {
    let mut checked = 0;
    for spec in routes {
        let path = concrete(spec.path);
        let method = Method::from_bytes(spec.method.as_str().as_bytes()).unwrap();
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        for (name, role) in [
            ("anonymous", None),
            ("viewer", Some(Role::Viewer)),
            ("operator", Some(Role::Operator)),
            ("admin", Some(Role::Admin)),
        ] {
            // Logging out ends the session; use a throwaway login for that route.
            let token = match role {
                None => None,
                Some(r) if spec.path == "/api/auth/logout" => {
                    let user = match r {
                        Role::Viewer => "viewer1",
                        Role::Operator => "operator1",
                        Role::Admin => ADMIN,
                    };
                    Some(Login::from(&s.login(user, PASSWORD).await.body).access)
                }
                Some(Role::Viewer) => Some(who.viewer.access.clone()),
                Some(Role::Operator) => Some(who.operator.access.clone()),
                Some(Role::Admin) => Some(who.admin.access.clone()),
            };
            let reply = s
                .call(method.clone(), &path, token.as_deref(), body.clone())
                .await;
            let what = format!(
                "{name} {method} {path} -> {} {:?}",
                reply.status, reply.body
            );
            match spec.module {
                // A module that is off answers 404 to everyone.
                Some(module) if !on(module) => {
                    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{what}");
                    assert_eq!(reply.body["code"], "module_disabled", "{what}");
                    assert_eq!(
                        reply.body["error"],
                        format!("module '{module}' is disabled"),
                        "{what}"
                    );
                    checked += 1;
                    continue;
                }
                // A module that is on reaches its handler, which may find the stubbed service
                // unhelpful (502/503), but never fails inside (500).
                Some(_) => {
                    assert_ne!(reply.body["code"], "module_disabled", "{what}");
                    assert!(
                        reply.status.as_u16() < 500
                            || reply.status == StatusCode::BAD_GATEWAY
                            || reply.status == StatusCode::SERVICE_UNAVAILABLE,
                        "{what}"
                    );
                }
                None => assert!(reply.status.as_u16() < 500, "{what}"),
            }
            match (spec.access, role) {
                (Access::Public, _) => {
                    assert_ne!(reply.status, StatusCode::FORBIDDEN, "{what}");
                    assert_ne!(reply.body["error"], "authentication required", "{what}");
                }
                (Access::Role(_), None) if spec.in_band_auth => {
                    // Authenticates inside the WebSocket; a plain GET is a bad handshake.
                    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}");
                }
                (Access::Role(_), None) => {
                    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
                    assert_eq!(reply.body["error"], "authentication required", "{what}");
                }
                (Access::Role(required), Some(have)) if have < required => {
                    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{what}");
                    assert!(
                        reply.body["error"]
                            .as_str()
                            .unwrap()
                            .contains(required.as_str()),
                        "{what}"
                    );
                }
                (Access::Role(_), Some(_)) => {
                    assert!(
                        reply.status != StatusCode::UNAUTHORIZED
                            && reply.status != StatusCode::FORBIDDEN,
                        "{what}"
                    );
                }
            }
            checked += 1;
        }
    }
    checked
}

/// A configuration that makes `module` usable: every URL points at `stub`, every secret and
/// every other required setting gets a value.
fn stub_settings(module: ModuleName, stub: &str) -> Value {
    let mut config = Map::new();
    for field in module.fields() {
        let value = match field.kind {
            FieldKind::Url => json!(stub),
            FieldKind::Secret => json!("stub-secret-0123456789abcdef"),
            FieldKind::Text if field.required => json!("stub"),
            FieldKind::Integer if field.required => json!(1),
            FieldKind::Bool if field.required => json!(true),
            _ => continue,
        };
        config.insert(field.key.to_owned(), value);
    }
    Value::Object(config)
}

#[actix_web::test]
async fn every_route_answers_each_role_as_declared() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "viewer1", "viewer").await;
    let operator = s.user(&admin, "operator1", "operator").await;
    let who = Callers {
        viewer,
        operator,
        admin,
    };
    let table = RouteTable::build();
    let all = table.all();

    // Every module is off in the default configuration: its routes answer 404 to everyone.
    let checked = check_routes(&s, &who, all, |_| false).await;
    assert_eq!(checked, all.len() * 4);

    // Every module on, its services a stub that answers every request with an empty object.
    let stub = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&stub)
        .await;
    let mut events = subscribe(&s, &who.admin.access, "module.*").await;
    for module in ModuleName::all() {
        let view = s
            .enable_module(
                &who.admin,
                module.as_str(),
                stub_settings(module, &stub.uri()),
            )
            .await;
        assert_eq!(view["problems"], json!([]), "{module}: {view}");
        let event = next_event(&mut events, "module.updated", Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("no module.updated event for {module}"));
        assert_eq!(event["payload"]["name"], module.as_str(), "{event}");
        assert_eq!(event["payload"]["enabled"], true, "{event}");
    }
    let checked = check_routes(&s, &who, all, |_| true).await;
    assert_eq!(checked, all.len() * 4);
    // The module routes got past the gate and on to the services they call.
    let asked = stub.received_requests().await.unwrap_or_default();
    assert!(!asked.is_empty(), "no module route called its service");

    // Each module with routes off alone: its routes answer 404, the others' still work.
    let module_routes: Vec<&RouteSpec> = all.iter().filter(|r| r.module.is_some()).collect();
    let mut switched = Vec::new();
    for module in ModuleName::all() {
        if !module_routes.iter().any(|r| r.module == Some(module)) {
            continue;
        }
        s.disable_module(&who.admin, module.as_str()).await;
        let checked = check_routes(&s, &who, module_routes.iter().copied(), |m| m != module).await;
        assert_eq!(checked, module_routes.len() * 4);
        s.enable_module(&who.admin, module.as_str(), Value::Null)
            .await;
        switched.push(module);
    }
    assert!(
        switched.contains(&ModuleName::Monitoring) && switched.contains(&ModuleName::Alerting),
        "{switched:?}"
    );
    s.stop().await;
}

/// `| GET | `/api/users` | a | …` rows of the contract.
fn spec_routes() -> Vec<(String, String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec/API.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the contract {} must be present: {e}", path.display()));
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 5 {
                return None;
            }
            let method = cells[1];
            let path = cells[2].trim_matches('`');
            let role = cells[3];
            (["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method) && path.starts_with('/'))
                .then(|| (method.to_owned(), path.to_owned(), role.to_owned()))
        })
        .collect()
}

#[test]
fn declared_roles_match_the_contract() {
    let spec = spec_routes();
    assert!(
        spec.len() > 250,
        "parsed {} routes from the contract",
        spec.len()
    );
    // Routes we serve that the contract lists elsewhere (the WebSocket section) or that are ours.
    // Beyond the contract: the policy of a local or tcp endpoint (docs/security.md).
    let extra = [
        "/api/openapi.json",
        "/api/ws",
        "/api/endpoints/{id}/security-policy",
        // The event catalogue (docs/events.md).
        "/api/events/schema",
        // The test-only example module (docs/modules.md).
        "/api/example/ping",
        "/api/operations",
        "/api/operations/{id}",
        "/api/operations/{id}/cancel",
    ];
    for route in RouteTable::build().all() {
        if extra.contains(&route.path) {
            continue;
        }
        let (_, _, role) = spec
            .iter()
            .find(|(m, p, _)| m == route.method.as_str() && p == route.path)
            .unwrap_or_else(|| panic!("{} {} is not in the contract", route.method, route.path));
        let ours = match route.access {
            Access::Public => "public",
            Access::Role(r) => r.code(),
        };
        assert_eq!(ours, role, "{} {}", route.method, route.path);
    }
}
