//! Settings, module switches and module configuration.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::harness::{TestServer, assert_error};

#[actix_web::test]
async fn settings_have_defaults_and_validation() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let name = s.get("/api/settings/ui.instance_name", &admin.access).await;
    assert_eq!(name.status, StatusCode::OK);
    assert_eq!(name.body["value"], "ContextBay");
    assert!(name.body["updated_at"].is_null());
    let put = s
        .put(
            "/api/settings/ui.instance_name",
            &admin.access,
            json!({"value": "Lab"}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(
        s.get("/api/settings/ui.instance_name", &admin.access)
            .await
            .body["value"],
        "Lab"
    );
    let bad = s
        .put(
            "/api/settings/ui.default_theme",
            &admin.access,
            json!({"value": "pink"}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        bad.body["error"]
            .as_str()
            .unwrap()
            .contains("ui.default_theme")
    );
    let unknown = s
        .put("/api/settings/nope", &admin.access, json!({"value": 1}))
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &s.get("/api/settings/custom.thing", &admin.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let custom = s
        .put(
            "/api/settings/custom.thing",
            &admin.access,
            json!({"value": {"a": [1, 2]}}),
        )
        .await;
    assert_eq!(custom.status, StatusCode::OK);
    assert_eq!(
        s.get("/api/settings/custom.thing", &admin.access)
            .await
            .body["value"]["a"][1],
        2
    );
    s.stop().await;
}

#[actix_web::test]
async fn modules_switch_and_configure_with_secrets_redacted() {
    let s = TestServer::start_with(|c| {
        c.modules
            .insert(contextbay::modules::ModuleName::Planner, true);
    })
    .await;
    let admin = s.setup().await;
    let list = s.call(Method::GET, "/api/modules", None, None).await;
    assert_eq!(list.status, StatusCode::OK);
    let find = super::monitoring::module_entry;
    assert_eq!(find(&list.body, "planner")["enabled"], true);
    assert_eq!(find(&list.body, "planner")["configured"], true);
    assert_eq!(find(&list.body, "workflows")["enabled"], false);
    assert_eq!(find(&list.body, "workflows")["configured"], false);

    let put = s
        .put(
            "/api/config/workflows",
            &admin.access,
            json!({"enabled": true, "config": {"n8n_url": "http://127.0.0.1:5678", "n8n_api_key": "n8n-secret-value"}}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(put.body["enabled"], true);
    assert_eq!(put.body["configured"], true);
    assert_eq!(put.body["config"]["n8n_api_key"], "********");
    assert!(!put.body.to_string().contains("n8n-secret-value"));
    // Sending the redacted value back keeps the secret.
    let keep = s
        .put(
            "/api/config/workflows",
            &admin.access,
            json!({"config": {"n8n_api_key": "********", "n8n_url": "https://n8n.lan"}}),
        )
        .await;
    assert_eq!(keep.body["configured"], true);
    assert_eq!(keep.body["config"]["n8n_url"], "https://n8n.lan");
    // Stored encrypted, exported sealed.
    let export = s.get("/api/export", &admin.access).await;
    assert!(!export.body.to_string().contains("n8n-secret-value"));
    let now = s.call(Method::GET, "/api/modules", None, None).await;
    assert_eq!(find(&now.body, "workflows")["enabled"], true);

    let bad = s
        .put(
            "/api/config/workflows",
            &admin.access,
            json!({"config": {"n8n_url": "ftp://x"}}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");
    assert!(bad.body["error"].as_str().unwrap().contains("n8n_url"));
    let bad = s
        .put(
            "/api/config/workflows",
            &admin.access,
            json!({"config": {"colour": "red"}}),
        )
        .await;
    assert!(bad.body["error"].as_str().unwrap().contains("colour"));
    assert_error(
        &s.get("/api/config/nope", &admin.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let off = s
        .put(
            "/api/config/planner",
            &admin.access,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(off.body["enabled"], false);
    s.stop().await;
}
