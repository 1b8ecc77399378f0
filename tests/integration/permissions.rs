//! The permission matrix: every declared route, called anonymously and as viewer, operator and
//! admin; and every declared role checked against the contract in `shared/spec/API.md`.

use contextbay::auth::Role;
use contextbay::http::routes::{Access, RouteTable};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::harness::{ADMIN, Login, PASSWORD, TestServer};

fn concrete(path: &str) -> String {
    path.replace("{id}", &uuid::Uuid::new_v4().to_string())
        .replace("{key}", "ui.instance_name")
        .replace("{module}", "planner")
}

#[actix_web::test]
async fn every_route_answers_each_role_as_declared() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "viewer1", "viewer").await;
    let operator = s.user(&admin, "operator1", "operator").await;
    let table = RouteTable::build();
    let mut checked = 0;
    for spec in table.all() {
        let path = concrete(spec.path);
        let method = Method::from_bytes(spec.method.as_str().as_bytes()).unwrap();
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        for (who, role) in [
            ("anonymous", None),
            ("viewer", Some(Role::Viewer)),
            ("operator", Some(Role::Operator)),
            ("admin", Some(Role::Admin)),
        ] {
            // Logging out ends the session; use a throwaway login for that route.
            let token = match role {
                None => None,
                Some(r) if spec.path == "/api/auth/logout" => {
                    let name = match r {
                        Role::Viewer => "viewer1",
                        Role::Operator => "operator1",
                        Role::Admin => ADMIN,
                    };
                    Some(Login::from(&s.login(name, PASSWORD).await.body).access)
                }
                Some(Role::Viewer) => Some(viewer.access.clone()),
                Some(Role::Operator) => Some(operator.access.clone()),
                Some(Role::Admin) => Some(admin.access.clone()),
            };
            let reply = s
                .call(method.clone(), &path, token.as_deref(), body.clone())
                .await;
            let what = format!("{who} {method} {path} -> {} {:?}", reply.status, reply.body);
            assert!(reply.status.as_u16() < 500, "{what}");
            // Every module is off in the default configuration: its routes answer 404 to everyone.
            if let Some(module) = spec.module {
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
    assert_eq!(checked, table.all().len() * 4);
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
