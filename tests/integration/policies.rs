//! Security policies: operators may only tighten a node's policy; local and tcp endpoints follow
//! a policy of their own or the fleet default, so an operator is not root on the master's engine.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::{Login, TestServer, assert_error};
use super::support::docker::{Cleanup, IMAGE, docker, engine_available, ensure_image};

async fn current(s: &TestServer, admin: &Login, path: &str) -> Value {
    s.get(path, &admin.access).await.body
}

fn baseline() -> Value {
    json!({
        "allow_exec": false,
        "allow_privileged": false,
        "allowed_bind_prefixes": ["/srv/data"],
        "allowed_images": ["registry.lan/*"],
        "allow_host_namespaces": false,
        "allowed_capabilities": ["NET_ADMIN"],
        "allow_devices": false,
        "allow_security_opts": false,
    })
}

/// Every way of loosening the baseline, with the field the refusal must name.
fn loosenings() -> Vec<(&'static str, Value)> {
    let with = |field: &str, value: Value| {
        let mut p = baseline();
        p[field] = value;
        p
    };
    vec![
        ("allow_exec", with("allow_exec", json!(true))),
        ("allow_privileged", with("allow_privileged", json!(true))),
        (
            "allowed_bind_prefixes",
            with(
                "allowed_bind_prefixes",
                json!(["/srv/data", "/srv/database"]),
            ),
        ),
        ("allowed_images", with("allowed_images", json!(["*"]))),
        (
            "allow_host_namespaces",
            with("allow_host_namespaces", json!(true)),
        ),
        (
            "allowed_capabilities",
            with("allowed_capabilities", json!(["NET_ADMIN", "SYS_ADMIN"])),
        ),
        ("allow_devices", with("allow_devices", json!(true))),
        (
            "allow_security_opts",
            with("allow_security_opts", json!(true)),
        ),
    ]
}

#[actix_web::test]
async fn operators_may_only_tighten_a_node_policy() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let operator = s.user(&admin, "tightener", "operator").await;
    let (node, _) = s.enrolled_node(&admin, "policy-node").await;
    let path = format!("/api/nodes/{node}/security-policy");

    // Admins set anything; the stored policy is what they sent.
    let set = s.put(&path, &admin.access, baseline()).await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    assert_eq!(current(&s, &admin, &path).await, baseline());

    // An operator may keep it, or tighten every list.
    let same = s.put(&path, &operator.access, baseline()).await;
    assert_eq!(same.status, StatusCode::OK, "{:?}", same.body);
    let tighter = json!({
        "allow_exec": false,
        "allow_privileged": false,
        "allowed_bind_prefixes": ["/srv/data/app/"],
        "allowed_images": ["registry.lan/app:*"],
        "allow_host_namespaces": false,
        "allowed_capabilities": [],
        "allow_devices": false,
        "allow_security_opts": false,
    });
    let tightened = s.put(&path, &operator.access, tighter.clone()).await;
    assert_eq!(tightened.status, StatusCode::OK, "{:?}", tightened.body);
    assert_eq!(current(&s, &admin, &path).await, tighter);
    // …but not back: from the tighter policy, the baseline loosens three lists.
    let back = s.put(&path, &operator.access, baseline()).await;
    assert_error(&back, StatusCode::FORBIDDEN, "forbidden");
    let why = back.body["error"].as_str().unwrap();
    for field in [
        "allowed_bind_prefixes",
        "allowed_images",
        "allowed_capabilities",
    ] {
        assert!(why.contains(field), "{why}");
    }
    assert_eq!(current(&s, &admin, &path).await, tighter);

    // Field by field: the operator's loosening is refused naming the field and changes nothing;
    // the admin's is taken.
    for (field, loosened) in loosenings() {
        s.put(&path, &admin.access, baseline()).await;
        let refused = s.put(&path, &operator.access, loosened.clone()).await;
        assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
        let why = refused.body["error"].as_str().unwrap();
        assert!(why.contains(field), "{field}: {why}");
        assert!(why.contains("admin"), "{why}");
        assert_eq!(current(&s, &admin, &path).await, baseline(), "{field}");
        let taken = s.put(&path, &admin.access, loosened.clone()).await;
        assert_eq!(taken.status, StatusCode::OK, "{field}: {:?}", taken.body);
        assert_eq!(current(&s, &admin, &path).await, loosened, "{field}");
    }

    // A bind prefix that climbs out of an allowed one is not valid at all.
    s.put(&path, &admin.access, baseline()).await;
    let mut climb = baseline();
    climb["allowed_bind_prefixes"] = json!(["/srv/data/../../etc"]);
    assert_error(
        &s.put(&path, &operator.access, climb).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    // Viewers cannot change it at all.
    let viewer = s.user(&admin, "looker", "viewer").await;
    assert_error(
        &s.put(&path, &viewer.access, baseline()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    s.stop().await;
}

fn container(c: &Cleanup, name: &str) -> Value {
    json!({
        "endpoint": "local",
        "image": IMAGE,
        "name": format!("{}-{name}", c.prefix),
        "command": ["sh", "-c", "sleep 1"],
        "networks": [c.network],
        "labels": {"contextbay.test": "1"},
        "start": false,
    })
}

#[actix_web::test]
async fn the_local_endpoint_follows_the_fleet_default_policy_or_its_own() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("lpol");
    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    let operator = s.user(&admin, "local-op", "operator").await;

    // The embedded default: no privileged containers, no bind mounts, on the master's engine.
    let mut privileged = container(&c, "priv");
    privileged["privileged"] = json!(true);
    let refused = s
        .post("/api/containers", &operator.access, privileged)
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap()
            .contains("privileged")
    );
    let mut bind = container(&c, "bind");
    bind["mounts"] = json!([{"type": "bind", "source": "/etc", "target": "/host-etc"}]);
    let refused = s.post("/api/containers", &admin.access, bind).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    assert!(refused.body["error"].as_str().unwrap().contains("/etc"));
    // A stack is held to it too.
    let compose = format!(
        "services:\n  x:\n    image: {IMAGE}\n    privileged: true\n    labels: {{contextbay.test: \"1\"}}\n"
    );
    let stack = s
        .post(
            "/api/stacks",
            &operator.access,
            json!({"name": format!("{}-priv", c.prefix), "endpoint": "local", "compose": compose}),
        )
        .await;
    assert_eq!(stack.status, StatusCode::CREATED, "{:?}", stack.body);
    let id = stack.body["id"].as_str().unwrap();
    let refused = s
        .post(
            &format!("/api/stacks/{id}/deploy"),
            &operator.access,
            json!({}),
        )
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap()
            .contains("privileged")
    );
    assert!(
        docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=com.docker.compose.project={}-priv", c.prefix)
        ])
        .unwrap()
        .is_empty()
    );
    // An ordinary container is created.
    let ok = s
        .post("/api/containers", &operator.access, container(&c, "plain"))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body);

    // The endpoint's own policy replaces the default (here: only registry.lan images).
    let own = json!({"allow_exec": true, "allow_privileged": false, "allowed_bind_prefixes": [],
        "allowed_images": ["registry.lan/*"]});
    let endpoints = s.state().store.endpoints();
    endpoints
        .set_security_policy("local", Some(&own.to_string()))
        .await
        .unwrap();
    let refused = s
        .post("/api/containers", &admin.access, container(&c, "img"))
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    assert!(refused.body["error"].as_str().unwrap().contains("image"));
    // Cleared, the default holds again.
    endpoints.set_security_policy("local", None).await.unwrap();
    let ok = s
        .post("/api/containers", &admin.access, container(&c, "img2"))
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body);
    s.delete(&format!("/api/stacks/{id}"), &admin.access).await;
    s.stop().await;
}

#[actix_web::test]
async fn the_fleet_default_policy_comes_from_the_configuration() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("dpol");
    let s = TestServer::start_with(|cfg| {
        cfg.docker.local_endpoint = true;
        cfg.docker.default_policy.allowed_images = vec!["registry.lan/*".into()];
    })
    .await;
    let admin = s.setup().await;
    let refused = s
        .post("/api/containers", &admin.access, container(&c, "img"))
        .await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    assert!(refused.body["error"].as_str().unwrap().contains(IMAGE));
    s.stop().await;
}

/// `GET/PUT/DELETE /api/endpoints/{id}/security-policy`: operators tighten, admins loosen.
#[actix_web::test]
async fn endpoint_policies_over_http() {
    if !engine_available() {
        return;
    }
    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    let operator = s.user(&admin, "ep-op", "operator").await;
    let path = "/api/endpoints/local/security-policy";
    let default = s.get(path, &operator.access).await;
    assert_eq!(default.status, StatusCode::OK, "{:?}", default.body);
    assert_eq!(default.body["allow_privileged"], false);
    assert_eq!(default.body["allowed_bind_prefixes"], json!([]));
    let mut tighter = default.body.clone();
    tighter["allowed_images"] = json!(["registry.lan/*"]);
    let put = s.put(path, &operator.access, tighter.clone()).await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    assert_eq!(s.get(path, &operator.access).await.body, tighter);
    let mut looser = default.body.clone();
    looser["allow_privileged"] = json!(true);
    let refused = s.put(path, &operator.access, looser.clone()).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap()
            .contains("allow_privileged")
    );
    // Back to the default loosens the images: admin only.
    assert_error(
        &s.delete(path, &operator.access).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let reset = s.delete(path, &admin.access).await;
    assert_eq!(reset.status, StatusCode::OK, "{:?}", reset.body);
    assert_eq!(reset.body, default.body);
    let put = s.put(path, &admin.access, looser.clone()).await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    s.delete(path, &admin.access).await;
    s.stop().await;
}
