//! The error shape: 400s that name the problem, JSON 404/405, no leaked internals; and the same
//! table behind the gRPC statuses workers get.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::harness::{TestServer, assert_error};

#[actix_web::test]
async fn bad_input_gets_a_400_that_names_the_problem() {
    let s = TestServer::start_with(|c| c.server.max_body_bytes = 2048).await;
    let admin = s.setup().await;

    let malformed = s
        .http
        .post(s.url("/api/users"))
        .bearer_auth(&admin.access)
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    let r = TestServer::reply(malformed).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    assert!(r.body["error"].as_str().unwrap().contains("invalid JSON"));

    let wrong_type = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": 5, "password": "x", "role": "viewer"}),
        )
        .await;
    assert_error(&wrong_type, StatusCode::BAD_REQUEST, "invalid_json");
    assert!(
        wrong_type.body["error"]
            .as_str()
            .unwrap()
            .contains("expected a string")
    );

    let bad_role = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": "bob", "password": "long-password-1", "role": "god"}),
        )
        .await;
    assert_error(&bad_role, StatusCode::BAD_REQUEST, "invalid_json");
    assert!(bad_role.body["error"].as_str().unwrap().contains("god"));

    let unknown_field = s
        .post("/api/users", &admin.access, json!({"username": "bob", "password": "long-password-1", "role": "viewer", "admin": true}))
        .await;
    assert_error(&unknown_field, StatusCode::BAD_REQUEST, "invalid_json");
    assert!(
        unknown_field.body["error"]
            .as_str()
            .unwrap()
            .contains("admin")
    );

    let big = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": "x".repeat(5000), "password": "p", "role": "viewer"}),
        )
        .await;
    assert_error(&big, StatusCode::BAD_REQUEST, "payload_too_large");
    assert!(big.body["error"].as_str().unwrap().contains("2048"));

    let bad_id = s.get("/api/users/not-a-uuid", &admin.access).await;
    assert_error(&bad_id, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        bad_id.body["error"]
            .as_str()
            .unwrap()
            .contains("not-a-uuid")
    );

    let bad_query = s.get("/api/audit?limit=lots", &admin.access).await;
    assert_error(&bad_query, StatusCode::BAD_REQUEST, "bad_request");
    assert!(bad_query.body["error"].as_str().unwrap().contains("limit"));

    let not_json = s
        .http
        .post(s.url("/api/users"))
        .bearer_auth(&admin.access)
        .body("username=bob")
        .send()
        .await
        .unwrap();
    assert_error(
        &TestServer::reply(not_json).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    s.stop().await;
}

#[actix_web::test]
async fn unknown_routes_and_methods_answer_json() {
    let s = TestServer::start().await;
    let r = s.call(Method::GET, "/api/does-not-exist", None, None).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("/api/does-not-exist")
    );
    // Routes are registered under fixed-prefix scopes: a prefix alone, a longer segment, a
    // trailing slash and a path below a fixed route are unknown too.
    for path in [
        "/api/v1",
        "/api/v1/metrics",
        "/api/healthz",
        "/api/health/x",
        "/api/users/",
        "/api/containers/a/b/c",
    ] {
        let r = s.call(Method::GET, path, None, None).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
        assert!(r.body["error"].as_str().unwrap().contains(path), "{path}");
    }
    let r = s.call(Method::PATCH, "/api/health", None, None).await;
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert_eq!(r.headers["allow"], "GET");
    // The request id in the body is the one in the header.
    assert_eq!(
        r.headers["x-request-id"].to_str().unwrap(),
        r.body["request_id"]
    );
    // Outside /api the dashboard answers.
    let page = s.http.get(s.url("/some/page")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    s.stop().await;
}

/// gRPC refusals come from the error table: its code, its message, and the stable code string
/// in `contextbay-error-code` (as `code` in an HTTP error body).
#[actix_web::test]
async fn grpc_statuses_come_from_the_error_table() {
    use contextbay_proto::v1::RegisterRequest;
    use contextbay_proto::v1::node_service_client::NodeServiceClient;

    fn signed<T>(message: T, credential: &str) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        req.metadata_mut().insert(
            "authorization",
            format!("Bearer {credential}").parse().unwrap(),
        );
        req
    }
    fn assert_status(status: &tonic::Status, code: tonic::Code, table_code: &str, message: &str) {
        assert_eq!(status.code(), code, "{status:?}");
        assert_eq!(status.message(), message, "{status:?}");
        assert_eq!(
            status
                .metadata()
                .get("contextbay-error-code")
                .and_then(|v| v.to_str().ok()),
            Some(table_code),
            "{status:?}"
        );
    }

    let s = TestServer::start().await;
    let admin = s.setup().await;
    let (id, credential) = s.enrolled_node(&admin, "grpc-errors").await;
    let mut client = NodeServiceClient::connect(s.grpc_url()).await.unwrap();

    let anonymous = client
        .register(RegisterRequest::default())
        .await
        .unwrap_err();
    assert_status(
        &anonymous,
        tonic::Code::Unauthenticated,
        "unauthenticated",
        "missing node credential",
    );
    let long_name = RegisterRequest {
        node_id: id.clone(),
        hostname: "h".repeat(254),
        ..RegisterRequest::default()
    };
    let refused = client
        .register(signed(long_name, &credential))
        .await
        .unwrap_err();
    assert_status(
        &refused,
        tonic::Code::InvalidArgument,
        "bad_request",
        "hostname is longer than 253 characters",
    );
    let other = RegisterRequest {
        node_id: "someone-else".into(),
        ..RegisterRequest::default()
    };
    let denied = client
        .register(signed(other, &credential))
        .await
        .unwrap_err();
    assert_status(
        &denied,
        tonic::Code::PermissionDenied,
        "forbidden",
        &format!("this credential belongs to node {id}, not someone-else"),
    );
    s.stop().await;
}
