//! Sub-containers on the real engine: `cb-prometheus` and `cb-alertmanager` images are built here
//! from Debian's binaries (`FROM scratch` + the binary, the libraries `ldd` lists and a config
//! file; nothing is pulled) and run through `/api/admin/subcontainers`: deploy, healthy, killed
//! and brought back by its actor, reconfigured and redeployed, queried through the monitoring
//! module, removed with and without its volume. The services publish on 127.0.0.1 (a published
//! port needs compose's default network, not an `--internal` one); their containers and volumes
//! carry `contextbay.test=1` and are removed by [`Cleanup`], also when the test fails.

use std::net::TcpListener;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::{Login, TestServer, assert_error, eventually};
use super::support::docker::{docker, engine_available};
use super::support::operations::wait_operation;

const PROM_IMAGE: &str = "contextbay-test/cb-prometheus:latest";
/// Debian's Alertmanager reads its notification templates from `/usr/share` (the tag names the
/// image's recipe: a change to it needs a new tag).
const AM_IMAGE: &str = "contextbay-test/cb-alertmanager:with-templates";
const PROJECTS: &[&str] = &["cb-prometheus", "cb-alertmanager"];

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Builds `tag` from `binary` (as `/bin/<entry>`, the image's entrypoint), its libraries, the
/// host files `extra` at their paths, a config file and the data directory, unless it exists.
fn build_image(
    tag: &str,
    binary: &str,
    entry: &str,
    extra: &[&str],
    config: (&str, &str),
    data: &str,
) {
    if docker(&["image", "inspect", tag]).is_ok() {
        return;
    }
    assert!(
        std::path::Path::new(binary).exists() || std::env::var("CI").is_err(),
        "CI needs {binary} (scripts/test installs it)"
    );
    let dir = tempfile::tempdir().unwrap();
    let rootfs = dir.path().join("rootfs");
    let dest = rootfs.join("bin").join(entry);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(binary, &dest).unwrap();
    let ldd = Command::new("ldd").arg(binary).output().unwrap();
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let Some(path) = line
            .rsplit("=>")
            .next()
            .and_then(|s| s.split_whitespace().next())
            .filter(|p| p.starts_with('/'))
        else {
            continue;
        };
        let lib = rootfs.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
        std::fs::copy(path, &lib).unwrap();
    }
    for path in extra {
        let dest = rootfs.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(path, &dest).unwrap();
    }
    let (config_path, config_text) = config;
    let conf = rootfs.join(config_path.trim_start_matches('/'));
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    std::fs::write(&conf, config_text).unwrap();
    for empty in ["tmp", data.trim_start_matches('/')] {
        std::fs::create_dir_all(rootfs.join(empty)).unwrap();
    }
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM scratch\nCOPY rootfs/ /\nLABEL contextbay.test=1\nENTRYPOINT [\"/bin/{entry}\"]\n"
        ),
    )
    .unwrap();
    docker(&["build", "-q", "-t", tag, dir.path().to_str().unwrap()]).unwrap();
}

fn ensure_images() {
    build_image(
        PROM_IMAGE,
        "/usr/bin/prometheus",
        "prometheus",
        &[],
        (
            "/etc/prometheus/prometheus.yml",
            "global:\n  scrape_interval: 15s\n",
        ),
        "/prometheus",
    );
    build_image(
        AM_IMAGE,
        "/usr/bin/prometheus-alertmanager",
        "alertmanager",
        &[
            "/usr/share/prometheus/alertmanager/default.tmpl",
            "/usr/share/prometheus/alertmanager/email.tmpl",
        ],
        (
            "/etc/alertmanager/alertmanager.yml",
            "route:\n  receiver: none\nreceivers:\n  - name: none\n",
        ),
        "/alertmanager",
    );
}

/// Removes the test's compose projects, their volumes and networks.
struct Cleanup;

impl Cleanup {
    fn sweep() {
        for project in PROJECTS {
            if let Ok(ids) = docker(&[
                "ps",
                "-aq",
                "--filter",
                &format!("label=com.docker.compose.project={project}"),
            ]) {
                for id in ids.lines().filter(|l| !l.is_empty()) {
                    let _ = docker(&["rm", "-f", "-v", id]);
                }
            }
            let _ = docker(&["volume", "rm", "-f", &format!("{project}_data")]);
            let _ = docker(&["network", "rm", &format!("{project}_default")]);
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        Self::sweep();
    }
}

async fn status(s: &TestServer, admin: &Login, name: &str) -> Value {
    let r = s
        .get(&format!("/api/admin/subcontainers/{name}"), &admin.access)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

/// Starts an operation and waits for it to succeed.
async fn run_ok(s: &TestServer, admin: &Login, started: super::harness::Reply) -> Value {
    assert_eq!(started.status, StatusCode::ACCEPTED, "{:?}", started.body);
    let id = started.body["operation"]["id"].as_str().unwrap().to_owned();
    let op = wait_operation(s, &admin.access, &id).await;
    assert_eq!(op["state"], "succeeded", "{op:?}");
    op
}

async fn module_setting(s: &TestServer, admin: &Login, module: &str, key: &str) -> Value {
    let r = s.get(&format!("/api/config/{module}"), &admin.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["config"][key].clone()
}

async fn healthy(s: &TestServer, admin: &Login, name: &str) -> Value {
    eventually(60, &format!("{name} healthy"), || async {
        let h = s
            .get(
                &format!("/api/admin/subcontainers/{name}/health"),
                &admin.access,
            )
            .await;
        assert_eq!(h.status, StatusCode::OK, "{:?}", h.body);
        (h.body["healthy"] == true).then_some(h.body)
    })
    .await
}

async fn query_seven(s: &TestServer, admin: &Login) {
    eventually(30, "a query through the deployed Prometheus", || async {
        let r = s
            .get("/api/v1/metrics/query?query=vector(7)", &admin.access)
            .await;
        (r.status == StatusCode::OK && r.body["data"]["result"][0]["value"][1] == "7").then_some(())
    })
    .await;
}

#[actix_web::test]
async fn the_cb_fleet_is_deployed_supervised_reconfigured_wired_and_removed() {
    if !engine_available() {
        return;
    }
    ensure_images();
    Cleanup::sweep();
    let _cleanup = Cleanup;
    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "viewer1", "viewer").await;
    let operator = s.user(&admin, "operator1", "operator").await;

    // Every module is off (the default): the routes answer all the same, and the part is not a
    // module that could be switched.
    let list = s.get("/api/admin/subcontainers", &admin.access).await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    assert_eq!(list.body["total"], 10);
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    for n in [
        "headscale",
        "prometheus",
        "grafana",
        "n8n",
        "wazuh",
        "loki",
        "tempo",
        "pyroscope",
        "ollama",
        "alertmanager",
    ] {
        assert!(names.contains(&n), "{names:?}");
    }
    assert!(
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["deployed"] == false)
    );
    let off = s
        .put(
            "/api/config/subcontainers",
            &admin.access,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(off.status, StatusCode::NOT_FOUND, "{:?}", off.body);
    let modules = s.get("/api/modules?limit=500", &admin.access).await;
    assert!(
        !modules.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "subcontainers")
    );

    // Roles, names and configuration.
    for who in [&viewer, &operator] {
        let r = s.get("/api/admin/subcontainers", &who.access).await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
        let r = s
            .post(
                "/api/admin/subcontainers/prometheus/deploy",
                &who.access,
                json!({}),
            )
            .await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    }
    let r = s.get("/api/admin/subcontainers/mysql", &admin.access).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    assert!(r.body["error"].as_str().unwrap().contains("'mysql'"));
    let r = s
        .get("/api/admin/subcontainers/prometheus/health", &admin.access)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    for (config, field) in [
        (json!({"port": 0}), "config.port"),
        (json!({"image": "-rm"}), "config.image"),
        (json!({"image": "a b"}), "config.image"),
        (json!({"bind": "localhost"}), "config.bind"),
        (json!({"env": {"1X": "y"}}), "config.env"),
        (
            json!({"labels": {"contextbay.subcontainer": "x"}}),
            "config.labels",
        ),
    ] {
        let r = s
            .post(
                "/api/admin/subcontainers/prometheus/deploy",
                &admin.access,
                json!({"config": config}),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(r.body["field"], field, "{:?}", r.body);
    }
    let r = s
        .post(
            "/api/admin/subcontainers/prometheus/deploy",
            &admin.access,
            json!({"config": {"colour": "red"}}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    assert_eq!(r.body["field"], "config.colour");
    let r = s
        .post(
            "/api/admin/subcontainers/prometheus/deploy",
            &admin.access,
            json!({"endpoint": "nowhere"}),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    assert!(r.body["error"].as_str().unwrap().contains("'nowhere'"));
    assert_eq!(
        status(&s, &admin, "prometheus").await["deployed"],
        false,
        "a refused deploy stored nothing"
    );

    // Deploy: two at once are one deploy and one 409.
    let port = free_port();
    let body =
        json!({"config": {"image": PROM_IMAGE, "port": port, "labels": {"contextbay.test": "1"}}});
    let (a, b) = tokio::join!(
        s.post(
            "/api/admin/subcontainers/prometheus/deploy",
            &admin.access,
            body.clone()
        ),
        s.post(
            "/api/admin/subcontainers/prometheus/deploy",
            &admin.access,
            body.clone()
        ),
    );
    let (won, lost) = if a.status == StatusCode::ACCEPTED {
        (a, b)
    } else {
        (b, a)
    };
    assert_error(&lost, StatusCode::CONFLICT, "conflict");
    let op = run_ok(&s, &admin, won).await;
    let url = format!("http://127.0.0.1:{port}");
    assert_eq!(op["result"]["wired"]["url"], url.as_str(), "{op:?}");
    healthy(&s, &admin, "prometheus").await;
    let st = status(&s, &admin, "prometheus").await;
    assert_eq!(st["deployed"], true);
    assert_eq!(st["observed"]["state"], "running", "{st:?}");
    assert_eq!(st["drift"], json!([]), "{st:?}");
    assert_eq!(st["desired"]["image"], PROM_IMAGE);
    let container = st["observed"]["container_id"].as_str().unwrap().to_owned();
    assert_eq!(
        docker(&[
            "inspect",
            "-f",
            "{{index .Config.Labels \"contextbay.test\"}}",
            &container
        ])
        .unwrap(),
        "1"
    );
    // The stack is one of ContextBay's own.
    let stack = s
        .get(
            &format!("/api/stacks/{}", st["stack"].as_str().unwrap()),
            &admin.access,
        )
        .await;
    assert_eq!(stack.status, StatusCode::OK, "{:?}", stack.body);
    assert_eq!(stack.body["name"], "cb-prometheus");

    // Wired: the monitoring module points at it, and its queries work through it.
    assert_eq!(
        module_setting(&s, &admin, "monitoring", "prometheus_url").await,
        url.as_str()
    );
    s.enable_module(&admin, "monitoring", Value::Null).await;
    query_seven(&s, &admin).await;

    // Killed: the actor brings it back.
    docker(&["kill", &container]).unwrap();
    let back = eventually(90, "the actor restarting prometheus", || async {
        let st = status(&s, &admin, "prometheus").await;
        (st["observed"]["state"] == "running" && st["observed"]["restarts"].as_i64() >= Some(1))
            .then_some(st)
    })
    .await;
    assert!(back["observed"]["last_restart_at"].is_i64(), "{back:?}");
    healthy(&s, &admin, "prometheus").await;

    // Recent logs, bounded.
    let logs = s
        .get(
            "/api/admin/subcontainers/prometheus/logs?tail=5",
            &admin.access,
        )
        .await;
    assert_eq!(logs.status, StatusCode::OK, "{:?}", logs.body);
    let lines = logs.body["lines"].as_array().unwrap();
    assert!(!lines.is_empty() && lines.len() <= 5, "{lines:?}");
    for bad in ["0", "1001", "x"] {
        let r = s
            .get(
                &format!("/api/admin/subcontainers/prometheus/logs?tail={bad}"),
                &admin.access,
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    }

    // Restart on demand.
    run_ok(
        &s,
        &admin,
        s.post(
            "/api/admin/subcontainers/prometheus/restart",
            &admin.access,
            json!({}),
        )
        .await,
    )
    .await;
    healthy(&s, &admin, "prometheus").await;

    // New configuration: re-rendered and redeployed on the new port, the module follows.
    let r = s
        .put(
            "/api/admin/subcontainers/prometheus/config",
            &admin.access,
            json!({"port": 0}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(r.body["field"], "config.port");
    let port2 = free_port();
    run_ok(
        &s,
        &admin,
        s.put(
            "/api/admin/subcontainers/prometheus/config",
            &admin.access,
            json!({"port": port2}),
        )
        .await,
    )
    .await;
    let url2 = format!("http://127.0.0.1:{port2}");
    let h = healthy(&s, &admin, "prometheus").await;
    assert!(h["probe"].as_str().unwrap().contains(&port2.to_string()));
    let st = status(&s, &admin, "prometheus").await;
    assert_eq!(st["desired"]["port"], port2);
    assert_eq!(st["deployed_config"]["port"], port2);
    assert_eq!(st["desired"]["labels"]["contextbay.test"], "1", "{st:?}");
    assert_eq!(st["drift"], json!([]), "{st:?}");
    assert_eq!(
        module_setting(&s, &admin, "monitoring", "prometheus_url").await,
        url2.as_str()
    );
    query_seven(&s, &admin).await;

    // Alertmanager: the alerting module points at it.
    let am_port = free_port();
    run_ok(
        &s,
        &admin,
        s.post(
            "/api/admin/subcontainers/alertmanager/deploy",
            &admin.access,
            json!({"config": {"image": AM_IMAGE, "port": am_port, "labels": {"contextbay.test": "1"}}}),
        )
        .await,
    )
    .await;
    healthy(&s, &admin, "alertmanager").await;
    assert_eq!(
        module_setting(&s, &admin, "alerting", "alertmanager_url").await,
        format!("http://127.0.0.1:{am_port}").as_str()
    );
    let list = s.get("/api/admin/subcontainers", &admin.access).await;
    let deployed: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["deployed"] == true)
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(deployed, ["prometheus", "alertmanager"]);

    // Removed, volume kept; the setting pointing at it is cleared.
    run_ok(
        &s,
        &admin,
        s.delete("/api/admin/subcontainers/prometheus", &admin.access)
            .await,
    )
    .await;
    assert!(docker(&["volume", "inspect", "cb-prometheus_data"]).is_ok());
    assert!(
        docker(&[
            "ps",
            "-aq",
            "--filter",
            "label=com.docker.compose.project=cb-prometheus"
        ])
        .unwrap()
        .is_empty()
    );
    assert_eq!(status(&s, &admin, "prometheus").await["deployed"], false);
    assert_eq!(
        module_setting(&s, &admin, "monitoring", "prometheus_url").await,
        Value::Null
    );
    let r = s
        .delete("/api/admin/subcontainers/prometheus", &admin.access)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");

    // A setting changed by hand since is left alone; the volume goes with ?volumes=true.
    s.enable_module(
        &admin,
        "alerting",
        json!({"alertmanager_url": "http://127.0.0.1:1"}),
    )
    .await;
    run_ok(
        &s,
        &admin,
        s.delete(
            "/api/admin/subcontainers/alertmanager?volumes=true",
            &admin.access,
        )
        .await,
    )
    .await;
    assert!(docker(&["volume", "inspect", "cb-alertmanager_data"]).is_err());
    assert_eq!(
        module_setting(&s, &admin, "alerting", "alertmanager_url").await,
        "http://127.0.0.1:1"
    );
    s.stop().await;
}
