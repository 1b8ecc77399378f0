//! The monitoring module against a real Prometheus (Debian's `prometheus`), started here on a free
//! loopback port with a temporary data directory and killed when the test ends; Grafana's client
//! against a `wiremock` double built from Grafana's documented HTTP API.
//!
//! Outside CI a missing binary skips the test with a message; with `CI=true` it fails it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use contextbay::modules::ModuleName;
use contextbay_actors::NodeSeed;
use contextbay_proto::v1::{ContainerSample, DiskSample, HostSample, MetricsBatch};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::harness::{TestServer, assert_error, configure, eventually};

/// The webhook token the tests configure in Alertmanager and in ContextBay.
pub const WEBHOOK_TOKEN: &str = "webhook-0123456789-abcdefghijklmnop";

/// A service process started by a test, killed (and its directory removed) when dropped.
pub struct Service {
    child: Child,
    pub url: String,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Service {
    /// What the process logged so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_dir(self._dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of a service binary: `$env_var`, else `name` on PATH. `None` (with a message) when
/// missing outside CI; a panic on CI, where a missing component is a failure.
pub fn binary(name: &str, env_var: &str) -> Option<PathBuf> {
    let found = std::env::var_os(env_var)
        .map(PathBuf::from)
        .filter(|p| !p.as_os_str().is_empty() && p.exists())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "{name} is required on CI (Debian package; scripts/test installs it)"
        );
        eprintln!("{name} is not installed: skipping this test outside CI");
    }
    found
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `url` answers 200, for up to 30 s.
async fn wait_ready(url: &str, what: &str, child: &mut Child) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited during start-up: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn spawn(program: &Path, args: &[String], log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Prometheus scraping `master` through the file_sd file the master writes and loading its rule
/// file, evaluating every second, with the lifecycle API on; alerts go to `alertmanager`.
pub async fn start_prometheus(master: &TestServer, alertmanager: Option<&str>) -> Option<Service> {
    let program = binary("prometheus", "CONTEXTBAY_TEST_PROMETHEUS")?;
    let dir = tempfile::tempdir().unwrap();
    let files = master.data_dir().join("prometheus");
    let alerting = alertmanager.map_or(String::new(), |am| {
        format!(
            "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"{am}\"]\n"
        )
    });
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         rule_files:\n  - \"{rules}/*.yml\"\n{alerting}\
         scrape_configs:\n  - job_name: contextbay\n    file_sd_configs:\n      - files: [\"{targets}/*.json\"]\n",
        rules = files.join("rules").display(),
        targets = files.join("targets").display(),
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = spawn(
        &program,
        &[
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address={addr}"),
            "--web.enable-lifecycle".into(),
            // Re-send firing alerts every 3 s: the first send after a reload can fall into the
            // seconds in which Prometheus re-discovers its Alertmanagers and be dropped. Alerts
            // stay valid for four times the delay, longer than that gap, so Alertmanager does
            // not resolve them by itself meanwhile.
            "--rules.alert.resend-delay=3s".into(),
            "--log.level=warn".into(),
        ],
        &dir.path().join("prometheus.log"),
    );
    let url = format!("http://{addr}");
    wait_ready(&format!("{url}/-/ready"), "prometheus", &mut child).await;
    Some(Service {
        child,
        url,
        addr,
        _dir: dir,
    })
}

/// Alertmanager whose one receiver is `master`'s webhook with the bearer token, grouping by
/// alert name with one-second waits.
pub async fn start_alertmanager(master: &TestServer, token: &str) -> Option<Service> {
    let program = binary("prometheus-alertmanager", "CONTEXTBAY_TEST_ALERTMANAGER")?;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "route:\n  receiver: contextbay\n  group_by: [alertname]\n  group_wait: 1s\n  \
         group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n  - name: contextbay\n    webhook_configs:\n      - url: \"{url}\"\n        \
         send_resolved: true\n        http_config:\n          authorization:\n            \
         type: Bearer\n            credentials: \"{token}\"\n",
        url = master.url("/api/webhooks/alertmanager"),
    );
    let config_path = dir.path().join("alertmanager.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = spawn(
        &program,
        &[
            format!("--config.file={}", config_path.display()),
            format!("--storage.path={}", dir.path().join("data").display()),
            format!("--web.listen-address={addr}"),
            // No gossip: a single instance, and no fixed cluster port to collide on.
            "--cluster.listen-address=".into(),
            "--log.level=warn".into(),
        ],
        &dir.path().join("alertmanager.log"),
    );
    let url = format!("http://{addr}");
    wait_ready(&format!("{url}/-/ready"), "alertmanager", &mut child).await;
    Some(Service {
        child,
        url,
        addr,
        _dir: dir,
    })
}

/// A master with the monitoring and alerting modules on.
pub async fn master() -> TestServer {
    TestServer::start_with(|c| {
        c.modules.insert(ModuleName::Monitoring, true);
        c.modules.insert(ModuleName::Alerting, true);
    })
    .await
}

/// One module's entry in the public `GET /api/modules`.
pub async fn module_status(s: &TestServer, name: &str) -> Value {
    let modules = s.call(Method::GET, "/api/modules", None, None).await;
    assert_eq!(modules.status, StatusCode::OK);
    module_entry(&modules.body, name)
}

/// One module's entry in a `GET /api/modules` answer.
pub fn module_entry(list: &Value, name: &str) -> Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no module {name} in {list}"))
        .clone()
}

#[actix_web::test]
async fn prometheus_scrapes_the_master_and_the_proxy_passes_answers_through() {
    let s = master().await;
    let admin = s.setup().await;
    let Some(prom) = start_prometheus(&s, None).await else {
        return;
    };
    configure(
        &s,
        &admin,
        "monitoring",
        json!({"prometheus_url": prom.url}),
    )
    .await;
    let monitoring = module_status(&s, "monitoring").await;
    assert_eq!(monitoring["configured"], true, "{monitoring:?}");
    assert_eq!(monitoring["problems"], json!([]));

    // The file_sd file names the master; Prometheus scrapes it: up == 1 through the proxy.
    let targets = s.get("/api/metrics/targets", &admin.access).await;
    assert_eq!(targets.status, StatusCode::OK, "{:?}", targets.body);
    let address = format!("127.0.0.1:{}", s.state().http_port);
    assert_eq!(targets.body["groups"][0]["targets"][0], address);
    assert_eq!(
        targets.body["groups"][0]["labels"]["cb_component"],
        "master"
    );
    let on_disk: Value = serde_json::from_str(
        &std::fs::read_to_string(targets.body["file"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(on_disk, targets.body["groups"]);
    let up = eventually(30, "up == 1", || async {
        let r = s
            .get(
                "/api/v1/metrics/query?query=up%7Bcb_component%3D%22master%22%7D",
                &admin.access,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let result = r.body["data"]["result"].as_array().unwrap().clone();
        (result.first().map(|x| x["value"][1].clone()) == Some(json!("1"))).then_some(r.body)
    })
    .await;
    assert_eq!(up["status"], "success");
    assert_eq!(up["data"]["result"][0]["metric"]["instance"], address);

    // Passed through unchanged: the same bytes as asking Prometheus directly (modulo time).
    let direct: Value = reqwest::get(format!(
        "{}/api/v1/query?query=vector(7)&time=1700000000",
        prom.url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let proxied = s
        .get(
            "/api/v1/metrics/query?query=vector(7)&time=1700000000",
            &admin.access,
        )
        .await;
    assert_eq!(proxied.body, direct);
    // Prometheus' own errors come back with its status and body.
    let bad = s
        .get("/api/v1/metrics/query?query=up%20%3E", &admin.access)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["status"], "error");
    assert_eq!(bad.body["errorType"], "bad_data");
    // POST form variants.
    let form = s
        .http
        .post(s.url("/api/v1/metrics/query_range"))
        .bearer_auth(&admin.access)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query=vector(1)&start=1700000000&end=1700000060&step=15")
        .send()
        .await
        .unwrap();
    let form = TestServer::reply(form).await;
    assert_eq!(form.status, StatusCode::OK, "{:?}", form.body);
    assert_eq!(form.body["data"]["resultType"], "matrix");
    assert_eq!(
        form.body["data"]["result"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let instant = s
        .http
        .post(s.url("/api/v1/metrics/query"))
        .bearer_auth(&admin.access)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("query=vector(3)")
        .send()
        .await
        .unwrap();
    let instant = TestServer::reply(instant).await;
    assert_eq!(instant.body["data"]["result"][0]["value"][1], "3");
    // series, labels, label values, metadata.
    let series = s
        .get("/api/v1/metrics/series?match%5B%5D=up", &admin.access)
        .await;
    assert_eq!(
        series.body["data"][0]["__name__"], "up",
        "{:?}",
        series.body
    );
    let labels = s.get("/api/v1/metrics/labels", &admin.access).await;
    assert!(
        labels.body["data"]
            .as_array()
            .unwrap()
            .contains(&json!("cb_component"))
    );
    let values = s
        .get("/api/v1/metrics/label/job/values", &admin.access)
        .await;
    assert_eq!(values.body["data"], json!(["contextbay"]));
    let metadata = eventually(30, "metadata", || async {
        let r = s
            .get(
                "/api/v1/metrics/metadata?metric=contextbay_http_requests_total",
                &admin.access,
            )
            .await;
        r.body["data"]["contextbay_http_requests_total"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
            .then_some(r.body)
    })
    .await;
    assert_eq!(
        metadata["data"]["contextbay_http_requests_total"][0]["type"],
        "counter"
    );

    // Prometheus' own view.
    let t = s
        .get("/api/prometheus/targets?state=active", &admin.access)
        .await;
    assert_eq!(t.status, StatusCode::OK, "{:?}", t.body);
    assert_eq!(t.body["total"], 1, "{:?}", t.body);
    assert_eq!(
        (t.body["limit"].as_i64(), t.body["offset"].as_i64()),
        (Some(50), Some(0))
    );
    let active = t.body["items"].as_array().unwrap();
    assert_eq!(active[0]["state"], "active", "{:?}", t.body);
    assert_eq!(active[0]["health"], "up", "{:?}", t.body);
    assert_eq!(active[0]["last_error"], "", "{:?}", t.body);
    assert_eq!(active[0]["target"]["labels"]["cb_component"], "master");
    let dropped = s
        .get("/api/prometheus/targets?state=dropped", &admin.access)
        .await;
    assert_eq!(dropped.body["total"], 0, "{:?}", dropped.body);
    let bad = s
        .get("/api/prometheus/targets?state=gone", &admin.access)
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");
    let st = s.get("/api/prometheus/status", &admin.access).await;
    assert_eq!(st.status, StatusCode::OK);
    assert_eq!(st.body["health"]["healthy"], true, "{:?}", st.body);
    assert!(st.body["build"]["version"].as_str().is_some());
    assert_eq!(st.body["runtime"]["reloadConfigSuccess"], true);

    // Limits: range, points, answer size.
    let long = s
        .get(
            "/api/v1/metrics/query_range?query=up&start=1700000000&end=1702678401&step=3600",
            &admin.access,
        )
        .await;
    assert_error(&long, StatusCode::BAD_REQUEST, "bad_request");
    assert!(long.body["error"].as_str().unwrap().contains("31 days"));
    let dense = s
        .get(
            "/api/v1/metrics/query_range?query=up&start=1700000000&end=1700086400&step=1",
            &admin.access,
        )
        .await;
    assert_error(&dense, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        dense.body["error"]
            .as_str()
            .unwrap()
            .contains("at least 8s")
    );
    let series_range = s
        .get(
            "/api/v1/metrics/series?match%5B%5D=up&start=0&end=2678401",
            &admin.access,
        )
        .await;
    assert_error(&series_range, StatusCode::BAD_REQUEST, "bad_request");
    configure(&s, &admin, "monitoring", json!({"max_result_bytes": 64})).await;
    let big = s.get("/api/v1/metrics/query?query=up", &admin.access).await;
    assert_error(&big, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        big.body["error"]
            .as_str()
            .unwrap()
            .contains("larger than 64 bytes")
    );
    let bad_label = s
        .get("/api/v1/metrics/label/a-b/values", &admin.access)
        .await;
    assert_error(&bad_label, StatusCode::BAD_REQUEST, "bad_request");
    drop(prom);
    s.stop().await;
}

#[actix_web::test]
async fn disabled_unconfigured_and_unreachable() {
    // Disabled (the default): 404 naming the module, also for the public webhook.
    let s = TestServer::start().await;
    let admin = s.setup().await;
    for path in [
        "/api/metrics/latest",
        "/api/v1/metrics/query?query=up",
        "/api/grafana/dashboards",
    ] {
        let r = s.get(path, &admin.access).await;
        assert_error(&r, StatusCode::NOT_FOUND, "module_disabled");
        assert_eq!(r.body["error"], "module 'monitoring' is disabled");
    }
    let r = s.get("/api/alerts", &admin.access).await;
    assert_eq!(r.body["error"], "module 'alerting' is disabled");
    let r = s
        .call(
            Method::POST,
            "/api/webhooks/alertmanager",
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(r.body["error"], "module 'alerting' is disabled");
    s.stop().await;

    // Enabled without a Prometheus URL: 503 naming the service; the cache routes still answer.
    let s = master().await;
    let admin = s.setup().await;
    let modules = s.call(Method::GET, "/api/modules", None, None).await;
    for m in modules.body["items"].as_array().unwrap() {
        if m["name"] == "monitoring" || m["name"] == "alerting" {
            assert_eq!(m["enabled"], true);
            assert_eq!(m["configured"], false, "{m:?}");
        }
    }
    assert_eq!(
        module_status(&s, "monitoring").await["problems"],
        json!(["prometheus_url is not set (PUT /api/config/monitoring)"])
    );
    assert_eq!(
        module_status(&s, "alerting").await["problems"],
        json!(["alertmanager_url is not set (PUT /api/config/alerting)"])
    );
    for path in [
        "/api/v1/metrics/query?query=up",
        "/api/prometheus/targets",
        "/api/prometheus/rules",
        "/api/prometheus/status",
    ] {
        let r = s.get(path, &admin.access).await;
        assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
        assert!(
            r.body["error"]
                .as_str()
                .unwrap()
                .starts_with("prometheus is not configured"),
            "{:?}",
            r.body
        );
    }
    let r = s.get("/api/grafana/dashboards", &admin.access).await;
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("grafana is not configured")
    );
    let r = s.get("/api/alertmanager/silences", &admin.access).await;
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("alertmanager is not configured")
    );
    let r = s
        .post(
            "/api/alert-rules",
            &admin.access,
            json!({"name": "X", "expr": "up == 0"}),
        )
        .await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    let r = s
        .call(
            Method::POST,
            "/api/webhooks/alertmanager",
            None,
            Some(json!({"version": "4"})),
        )
        .await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert!(r.body["error"].as_str().unwrap().contains("webhook_token"));
    for path in [
        "/api/metrics/latest",
        "/api/metrics/targets",
        "/api/alerts",
        "/api/alert-rules",
    ] {
        let r = s.get(path, &admin.access).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    }

    // Configured but nothing listens there: the prober finds out after the change, before any
    // route is called, and /api/modules shows the module as not configured, saying why.
    let dead = format!("http://127.0.0.1:{}", free_port());
    configure(&s, &admin, "monitoring", json!({"prometheus_url": dead})).await;
    let unreachable = json!(["prometheus is not reachable: connection failed (3 attempts)"]);
    eventually(10, "monitoring shown as unreachable", || async {
        let m = module_status(&s, "monitoring").await;
        (m["problems"] == unreachable).then_some(m)
    })
    .await;
    assert_eq!(module_status(&s, "monitoring").await["configured"], false);
    let view = s.get("/api/config/monitoring", &admin.access).await;
    assert_eq!(view.body["configured"], false, "{:?}", view.body);
    assert_eq!(view.body["problems"], unreachable);
    // Routes answer 503 "not reachable", after bounded retries.
    let started = Instant::now();
    let r = s.get("/api/v1/metrics/query?query=up", &admin.access).await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert_eq!(
        r.body["error"],
        "prometheus is not reachable: connection failed (3 attempts)"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // The status route reports the outage instead of failing.
    let r = s.get("/api/prometheus/status", &admin.access).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["health"]["healthy"], false);
    assert!(
        r.body["health"]["detail"]
            .as_str()
            .unwrap()
            .contains("not reachable")
    );
    // Other parts of the master are unaffected.
    let r = s.get("/api/auth/me", &admin.access).await;
    assert_eq!(r.status, StatusCode::OK);

    // Pointed at a service that answers, the module is configured again; an unreachable
    // Grafana, which the module can do without, is named but leaves it configured.
    let alive = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/-/healthy"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&alive)
        .await;
    configure(
        &s,
        &admin,
        "monitoring",
        json!({"prometheus_url": alive.uri(), "grafana_url": dead, "grafana_token": "glsa_x"}),
    )
    .await;
    let m = eventually(10, "grafana shown as unreachable", || async {
        let m = module_status(&s, "monitoring").await;
        (m["problems"] == json!(["grafana is not reachable: connection failed (3 attempts)"]))
            .then_some(m)
    })
    .await;
    assert_eq!(m["configured"], true, "{m:?}");
    configure(&s, &admin, "monitoring", json!({"grafana_url": null})).await;
    let m = module_status(&s, "monitoring").await;
    assert_eq!(m["problems"], json!([]), "{m:?}");
    assert_eq!(m["configured"], true);
    s.stop().await;
}

fn batch(node: &str, cpu: f64) -> MetricsBatch {
    MetricsBatch {
        node_id: node.into(),
        time_unix_ms: 1_795_752_869_123,
        host: Some(HostSample {
            cpu_percent: cpu,
            memory_used_bytes: 1 << 30,
            memory_total_bytes: 4 << 30,
            load1: 0.5,
            disks: vec![DiskSample {
                mount: "/".into(),
                device: "/dev/sda1".into(),
                fs_type: "ext4".into(),
                used_bytes: 60,
                total_bytes: 100,
            }],
            ..HostSample::default()
        }),
        containers: vec![ContainerSample {
            id: "abcdef0123456789".into(),
            name: "web".into(),
            cpu_percent: 1.5,
            memory_used_bytes: 1000,
            memory_limit_bytes: 2000,
            network_rx_bytes: 3000,
            network_tx_bytes: 4000,
            block_read_bytes: 5000,
            block_write_bytes: 6000,
        }],
        docker_available: true,
        container_counts: None,
    }
}

#[actix_web::test]
async fn cache_routes_answer_from_the_node_registry() {
    let s = master().await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "viewer1", "viewer").await;
    let nodes = &s.state().nodes;
    for (id, host, cpu) in [("n-1", "alpha", 12.5), ("n-2", "beta", 80.0)] {
        nodes
            .add(NodeSeed {
                id: id.into(),
                hostname: host.into(),
            })
            .await
            .unwrap();
        assert!(nodes.registered(id, host).await.unwrap());
        assert!(nodes.metrics(id, batch(id, cpu)).await.unwrap());
    }
    let r = s
        .get(
            "/api/metrics/query?metric=contextbay_node_cpu_percent",
            &viewer.access,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["series"].as_array().unwrap().len(), 2);
    let r = s
        .get(
            "/api/metrics/query?metric=contextbay_node_cpu_percent&node=beta",
            &viewer.access,
        )
        .await;
    assert_eq!(r.body["series"][0]["value"], 80.0);
    assert_eq!(
        r.body["series"][0]["labels"],
        json!({"node": "n-2", "hostname": "beta"})
    );
    assert_eq!(r.body["series"][0]["time"], "2026-11-27T04:14:29.123Z");
    let r = s
        .get(
            "/api/metrics/query?metric=contextbay_container_memory_used_bytes&container=web&node=n-1",
            &viewer.access,
        )
        .await;
    assert_eq!(r.body["series"][0]["labels"]["container"], "web");
    assert_eq!(r.body["series"][0]["value"], 1000.0);
    let r = s
        .get(
            "/api/metrics/query?metric=contextbay_container_network_receive_bytes&container=web",
            &viewer.access,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["series"][0]["value"], 3000.0, "{:?}", r.body);
    let r = s
        .get("/api/metrics/query?metric=nope", &viewer.access)
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("contextbay_node_load1")
    );
    let r = s.get("/api/metrics/query", &viewer.access).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = s
        .get("/api/metrics/latest?node=alpha", &viewer.access)
        .await;
    assert_eq!(r.body["items"][0]["sample"]["host"]["cpu_percent"], 12.5);
    assert_eq!(r.body["items"][0]["sample"]["containers"][0]["name"], "web");
    let r = s
        .get("/api/metrics/latest?node=gamma", &viewer.access)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = s.get("/api/metrics/targets", &viewer.access).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["total"], 2);
    assert_eq!(r.body["items"][0]["hostname"], "alpha");
    // Paged like every list: the second node alone.
    let r = s
        .get("/api/metrics/targets?limit=1&offset=1", &viewer.access)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0]["hostname"], "beta");
    assert_eq!(
        (
            r.body["total"].as_i64(),
            r.body["limit"].as_i64(),
            r.body["offset"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );
    let r = s.get("/api/metrics/latest?limit=1", &viewer.access).await;
    assert_eq!(r.body["total"], 2, "{:?}", r.body);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0]["hostname"], "alpha");
    let r = s.get("/api/metrics/latest?limit=501", &viewer.access).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    // The same samples are on /metrics for Prometheus.
    let text = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("contextbay_node_cpu_percent{hostname=\"beta\",node=\"n-2\"} 80"));
    // Per container too: CPU, memory, and network and block I/O since the container started.
    for line in [
        "contextbay_container_memory_used_bytes{container=\"web\",hostname=\"alpha\",node=\"n-1\"} 1000",
        "contextbay_container_network_receive_bytes{container=\"web\",hostname=\"alpha\",node=\"n-1\"} 3000",
        "contextbay_container_network_transmit_bytes{container=\"web\",hostname=\"alpha\",node=\"n-1\"} 4000",
        "contextbay_container_block_read_bytes{container=\"web\",hostname=\"alpha\",node=\"n-1\"} 5000",
        "contextbay_container_block_write_bytes{container=\"web\",hostname=\"alpha\",node=\"n-1\"} 6000",
    ] {
        assert!(text.contains(line), "{line} not in /metrics:\n{text}");
    }

    // PromQL history, per user.
    for q in ["rate(x[5m])", "up", "rate(x[5m])"] {
        let r = s
            .post("/api/metrics/history", &viewer.access, json!({"query": q}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let r = s
        .post(
            "/api/metrics/history",
            &admin.access,
            json!({"query": "sum(up)", "name": "all up"}),
        )
        .await;
    assert_eq!(r.body["name"], "all up");
    let mine = s.get("/api/metrics/history", &viewer.access).await;
    let items = mine.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["query"], "rate(x[5m])");
    assert_eq!(items[0]["use_count"], 2);
    assert_eq!(items[1]["query"], "up");
    assert_eq!(mine.body["total"], 2);
    let second = s
        .get("/api/metrics/history?limit=1&offset=1", &viewer.access)
        .await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["items"][0]["query"], "up");
    assert_eq!(second.body["total"], 2);
    let r = s
        .get("/api/metrics/history?offset=-1", &viewer.access)
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let theirs = s.get("/api/metrics/history", &admin.access).await;
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 1);
    let r = s
        .post(
            "/api/metrics/history",
            &viewer.access,
            json!({"query": " "}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(r.body["field"], "query");
    let r = s
        .post(
            "/api/metrics/history",
            &viewer.access,
            json!({"query": "up", "extra": 1}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    s.stop().await;
}

#[actix_web::test]
async fn grafana_client_against_its_documented_api() {
    use wiremock::matchers::{body_partial_json, header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const TOKEN: &str = "glsa_0123456789abcdef0123456789abcdef_01234567";
    let grafana = MockServer::start().await;
    let auth = || header("authorization", format!("Bearer {TOKEN}").as_str());
    Mock::given(method("GET"))
        .and(path("/api/search"))
        .and(query_param("type", "dash-db"))
        .and(auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "uid": "fleet", "title": "Fleet", "uri": "db/fleet", "url": "/d/fleet/fleet",
             "slug": "", "type": "dash-db", "tags": ["contextbay"], "isStarred": true,
             "folderUid": "ops", "folderTitle": "Ops", "sortMeta": 0},
            {"id": 2, "uid": "home", "title": "Home", "url": "/d/home/home", "type": "dash-db",
             "tags": [], "isStarred": false}
        ])))
        .mount(&grafana)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/dashboards/db"))
        .and(auth())
        .and(body_partial_json(json!({"dashboard": {"title": "New"}, "overwrite": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(
            {"id": 3, "uid": "new-1", "url": "/d/new-1/new", "status": "success", "version": 1, "slug": "new"}
        )))
        .mount(&grafana)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/dashboards/db"))
        .and(auth())
        .and(body_partial_json(json!({"dashboard": {"title": "Taken"}})))
        .respond_with(ResponseTemplate::new(412).set_body_json(json!(
            {"message": "A dashboard with the same name in the folder already exists", "status": "name-exists"}
        )))
        .mount(&grafana)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/dashboards/uid/fleet"))
        .and(auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(
            {"dashboard": {"uid": "fleet", "title": "Fleet", "panels": []},
             "meta": {"isStarred": true, "url": "/d/fleet/fleet", "provisioned": true}}
        )))
        .mount(&grafana)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/dashboards/uid/missing"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Dashboard not found"})),
        )
        .mount(&grafana)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/dashboards/uid/fleet"))
        .and(auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!(
            {"title": "Fleet", "message": "Dashboard Fleet deleted", "id": 1}
        )))
        .expect(1)
        .mount(&grafana)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/user/stars/dashboard/uid/fleet"))
        .and(auth())
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"message": "Dashboard starred!"})),
        )
        .expect(1)
        .mount(&grafana)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/user/stars/dashboard/uid/fleet"))
        .and(auth())
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"message": "Dashboard unstarred"})),
        )
        .expect(1)
        .mount(&grafana)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/annotations"))
        .and(auth())
        .and(body_partial_json(
            json!({"text": "deploy v2", "tags": ["deploy"], "time": 1_700_000_000_000_i64}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"message": "Annotation added", "id": 42})),
        )
        .expect(1)
        .mount(&grafana)
        .await;
    // Anything without the token: what Grafana answers to a missing or wrong one.
    Mock::given(method("GET"))
        .and(path("/api/search"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Invalid API key"})),
        )
        .mount(&grafana)
        .await;

    let s = master().await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "viewer1", "viewer").await;
    let operator = s.user(&admin, "operator1", "operator").await;
    configure(
        &s,
        &admin,
        "monitoring",
        json!({"prometheus_url": "http://127.0.0.1:9", "grafana_url": grafana.uri(), "grafana_token": TOKEN}),
    )
    .await;
    let cfg = s.get("/api/config/monitoring", &admin.access).await;
    assert_eq!(cfg.body["config"]["grafana_token"], "********");

    let list = s.get("/api/grafana/dashboards", &viewer.access).await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    assert_eq!(list.body["items"][0]["uid"], "fleet");
    assert_eq!(list.body["items"][0]["starred"], true);
    assert_eq!(list.body["items"][0]["folder_title"], "Ops");
    assert_eq!(
        list.body["items"][0]["url"],
        format!("{}/d/fleet/fleet", grafana.uri())
    );
    assert_eq!(list.body["items"][1]["folder_uid"], Value::Null);
    assert_eq!(list.body["total"], 2, "{:?}", list.body);
    let second = s
        .get("/api/grafana/dashboards?limit=1&offset=1", &viewer.access)
        .await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["items"][0]["uid"], list.body["items"][1]["uid"]);
    assert_eq!(
        (
            second.body["total"].as_i64(),
            second.body["limit"].as_i64(),
            second.body["offset"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );

    let created = s
        .post(
            "/api/grafana/dashboards",
            &operator.access,
            json!({"dashboard": {"title": "New", "panels": []}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{:?}", created.body);
    assert_eq!(created.body["uid"], "new-1");
    assert_eq!(
        created.body["url"],
        format!("{}/d/new-1/new", grafana.uri())
    );
    let taken = s
        .post(
            "/api/grafana/dashboards",
            &operator.access,
            json!({"dashboard": {"title": "Taken"}}),
        )
        .await;
    assert_error(&taken, StatusCode::CONFLICT, "conflict");
    assert!(
        taken.body["error"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    let untitled = s
        .post(
            "/api/grafana/dashboards",
            &operator.access,
            json!({"dashboard": {}}),
        )
        .await;
    assert_error(&untitled, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(untitled.body["field"], "dashboard.title");
    // A uid that is not a string was passed on unchecked; it is refused, naming the field.
    let odd_uid = s
        .post(
            "/api/grafana/dashboards",
            &operator.access,
            json!({"dashboard": {"title": "x", "uid": {}}}),
        )
        .await;
    assert_error(&odd_uid, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(odd_uid.body["field"], "dashboard.uid");
    let forbidden = s
        .post(
            "/api/grafana/dashboards",
            &viewer.access,
            json!({"dashboard": {"title": "x"}}),
        )
        .await;
    assert_error(&forbidden, StatusCode::FORBIDDEN, "forbidden");

    let one = s.get("/api/grafana/dashboards/fleet", &viewer.access).await;
    assert_eq!(one.body["meta"]["provisioned"], true);
    assert!(one.body["dashboard"].is_object(), "{:?}", one.body);
    let missing = s
        .get("/api/grafana/dashboards/missing", &viewer.access)
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    let bad_uid = s.get("/api/grafana/dashboards/a%2Fb", &viewer.access).await;
    assert_error(&bad_uid, StatusCode::BAD_REQUEST, "bad_request");

    let star = s
        .call(
            Method::POST,
            "/api/grafana/dashboards/fleet/star",
            Some(&viewer.access),
            None,
        )
        .await;
    assert_eq!(star.body, json!({"uid": "fleet", "starred": true}));
    let unstar = s
        .call(
            Method::DELETE,
            "/api/grafana/dashboards/fleet/star",
            Some(&viewer.access),
            None,
        )
        .await;
    assert_eq!(unstar.body, json!({"uid": "fleet", "starred": false}));

    let note = s
        .post(
            "/api/grafana/annotations",
            &operator.access,
            json!({"text": "deploy v2", "tags": ["deploy"], "time": "1700000000000"}),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED, "{:?}", note.body);
    assert_eq!(note.body["id"], 42);
    let deleted = s
        .delete("/api/grafana/dashboards/fleet", &operator.access)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);

    // A wrong token: Grafana's 401 becomes a 502 that says to check the token.
    configure(&s, &admin, "monitoring", json!({"grafana_token": "wrong"})).await;
    let r = s.get("/api/grafana/dashboards", &viewer.access).await;
    assert_error(&r, StatusCode::BAD_GATEWAY, "remote_failed");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("Invalid API key")
    );
    grafana.verify().await;
    s.stop().await;
}

#[actix_web::test]
async fn firing_alerts_are_annotated_in_grafana() {
    use wiremock::matchers::{body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let grafana = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/annotations"))
        .and(header("authorization", "Bearer tok"))
        .and(body_partial_json(json!({
            "tags": ["contextbay", "alert", "DiskFull", "critical"],
            "text": "DiskFull (critical): disk / at 95%",
            "time": 1_795_752_869_123_i64,
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"message": "Annotation added", "id": 1})),
        )
        .expect(1)
        .mount(&grafana)
        .await;
    let s = master().await;
    let admin = s.setup().await;
    configure(
        &s,
        &admin,
        "monitoring",
        json!({"prometheus_url": "http://127.0.0.1:9", "grafana_url": grafana.uri(), "grafana_token": "tok"}),
    )
    .await;
    configure(
        &s,
        &admin,
        "alerting",
        json!({"alertmanager_url": "http://127.0.0.1:9", "webhook_token": WEBHOOK_TOKEN}),
    )
    .await;
    let mut alert = super::alerting::alert("DiskFull", "critical", "firing", "f00d");
    alert["annotations"] = json!({"summary": "disk / at 95%"});
    let payload = super::alerting::notification("firing", &[alert]);
    let r = super::alerting::post_webhook(&s, Some(WEBHOOK_TOKEN), &payload).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    eventually(10, "the annotation", || async {
        grafana
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .any(|r| r.url.path() == "/api/annotations")
            .then_some(())
    })
    .await;
    grafana.verify().await;
    s.stop().await;
}

/// The permission matrix of the monitoring and alerting routes with both modules on (the
/// suite-wide matrix runs with every module off, where they answer 404): anonymous callers get
/// 401 (the public webhook excepted), lower roles 403, and allowed callers anything but 401/403
/// and 5xx — except a 503 naming a backing service that is not set up here.
#[actix_web::test]
async fn module_routes_answer_each_role_as_declared() {
    use contextbay::auth::Role;
    use contextbay::http::routes::{Access, RouteTable};

    let s = master().await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "viewer1", "viewer").await;
    let operator = s.user(&admin, "operator1", "operator").await;
    let mut checked = 0;
    for spec in RouteTable::build().all() {
        if !matches!(
            spec.module,
            Some(ModuleName::Monitoring | ModuleName::Alerting)
        ) {
            continue;
        }
        let path = spec
            .path
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{uid}", "dash-1")
            .replace("{name}", "job");
        let method = Method::from_bytes(spec.method.as_str().as_bytes()).unwrap();
        let body = (method == Method::POST || method == Method::PUT).then(|| json!({}));
        for (who, role) in [
            ("anonymous", None),
            ("viewer", Some(Role::Viewer)),
            ("operator", Some(Role::Operator)),
            ("admin", Some(Role::Admin)),
        ] {
            let token = match role {
                None => None,
                Some(Role::Viewer) => Some(viewer.access.as_str()),
                Some(Role::Operator) => Some(operator.access.as_str()),
                Some(Role::Admin) => Some(admin.access.as_str()),
            };
            let reply = s.call(method.clone(), &path, token, body.clone()).await;
            let what = format!("{who} {method} {path} -> {} {:?}", reply.status, reply.body);
            let unconfigured = reply.status == StatusCode::SERVICE_UNAVAILABLE
                && reply.body["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("not configured"));
            assert!(reply.status.as_u16() < 500 || unconfigured, "{what}");
            match (spec.access, role) {
                (Access::Public, _) => assert_ne!(reply.status, StatusCode::FORBIDDEN, "{what}"),
                (Access::Role(_), None) => {
                    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
                }
                (Access::Role(required), Some(have)) if have < required => {
                    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{what}");
                }
                (Access::Role(_), Some(_)) => assert!(
                    reply.status != StatusCode::UNAUTHORIZED
                        && reply.status != StatusCode::FORBIDDEN,
                    "{what}"
                ),
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        (23 + 11) * 4,
        "23 monitoring and 10 + 1 alerting routes"
    );
    s.stop().await;
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A pass-through HTTP proxy with nothing of ContextBay in it: the same server and client stack
/// (actix-web, a per-thread reqwest pool), no authentication, no limits, no routing. What it costs
/// over Prometheus directly is what one more HTTP hop costs on this machine, the baseline the
/// master's proxy is compared with.
fn bare_proxy(upstream: String) -> (String, actix_web::dev::ServerHandle) {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    thread_local! {
        static CLIENT: reqwest::Client =
            reqwest::Client::builder().tcp_nodelay(true).build().unwrap();
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let upstream = upstream.clone();
        App::new().default_service(web::to(move |req: HttpRequest| {
            let url = format!("{upstream}{}", req.uri());
            async move {
                let res = CLIENT
                    .with(reqwest::Client::clone)
                    .get(url)
                    .send()
                    .await
                    .map_err(actix_web::error::ErrorBadGateway)?;
                let status = res.status().as_u16();
                let content_type = res
                    .headers()
                    .get("content-type")
                    .map(|v| v.as_bytes().to_vec());
                let body = res
                    .bytes()
                    .await
                    .map_err(actix_web::error::ErrorBadGateway)?;
                let mut out =
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
                if let Some(ct) = content_type {
                    out.insert_header(("content-type", ct));
                }
                Ok::<_, actix_web::Error>(out.body(body))
            }
        }))
    })
    .workers(2)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}"), handle)
}

/// nginx as a pass-through proxy to `upstream` (`host:port`) with pooled upstream connections,
/// when `nginx` is installed (it is not part of the suite: only this by-hand benchmark uses it,
/// as an independent figure for what a proxy hop costs here).
async fn nginx_proxy(upstream: &str) -> Option<Service> {
    let program = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())?;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let d = dir.path().display();
    let config = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\nerror_log {d}/nginx.log warn;\npid {d}/nginx.pid;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         upstream prometheus {{ server {upstream}; keepalive 16; }}\n  \
         server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://prometheus;\n      \
         proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n"
    );
    let config_path = dir.path().join("nginx.conf");
    std::fs::write(&config_path, config).unwrap();
    let mut child = spawn(
        &program,
        &[
            "-c".into(),
            config_path.display().to_string(),
            "-p".into(),
            d.to_string(),
        ],
        &dir.path().join("stdout.log"),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{url}/-/ready"), "nginx", &mut child).await;
    Some(Service {
        child,
        url,
        addr: format!("127.0.0.1:{port}"),
        _dir: dir,
    })
}

/// Median time of `n` GETs (after 20 warm-up ones), with or without the admin's bearer token.
async fn time_gets(http: &reqwest::Client, url: &str, token: Option<&str>, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for i in 0..n + 20 {
        let mut req = http.get(url);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let t = Instant::now();
        let body = req.send().await.unwrap().bytes().await.unwrap();
        let d = t.elapsed();
        assert!(!body.is_empty());
        if i >= 20 {
            times.push(d);
        }
    }
    median(times)
}

/// One node's samples as the fleet sends them: a host with 2 disks and 3 interfaces, and 10
/// containers.
fn fleet_batch(i: usize) -> MetricsBatch {
    let node = format!("node-{i:04}");
    let mut b = batch(&node, (i % 100) as f64);
    if let Some(h) = b.host.as_mut() {
        h.disks.push(DiskSample {
            mount: "/var/lib/docker".into(),
            device: "/dev/sdb1".into(),
            fs_type: "xfs".into(),
            used_bytes: 1 << 34,
            total_bytes: 1 << 36,
        });
        h.networks = ["eth0", "eth1", "docker0"]
            .iter()
            .map(|n| contextbay_proto::v1::NetworkSample {
                iface: (*n).into(),
                rx_bytes: 123_456_789,
                tx_bytes: 987_654_321,
            })
            .collect();
    }
    b.containers = (0..10)
        .map(|c| ContainerSample {
            id: format!("{c:012x}"),
            name: format!("app-{c}"),
            cpu_percent: 0.5 + (i % 7) as f64,
            memory_used_bytes: (50 + (i as u64 % 13)) << 20,
            memory_limit_bytes: 1 << 30,
            ..ContainerSample::default()
        })
        .collect();
    b
}

/// `n` healthy nodes (`node-0000`, … on `host-0000`, …), each with one [`fleet_batch`], fed into
/// the node registry through its handle.
async fn seed_fleet(s: &TestServer, n: usize) {
    let nodes = &s.state().nodes;
    for i in 0..n {
        let (id, host) = (format!("node-{i:04}"), format!("host-{i:04}"));
        nodes
            .add(NodeSeed {
                id: id.clone(),
                hostname: host.clone(),
            })
            .await
            .unwrap();
        assert!(nodes.registered(&id, &host).await.unwrap());
        assert!(nodes.metrics(&id, fleet_batch(i)).await.unwrap());
    }
}

/// Proxy overhead: the same queries straight to Prometheus, through a bare pass-through proxy
/// (the cost of any extra HTTP hop here) and through `/api/v1/metrics/query(_range)`,
/// interleaved, medians and their ratios. `CB_PERF_NODES` nodes' samples (default 1,000, as the
/// fleet sends them) are on the master's `/metrics`, which Prometheus scrapes every second, so the
/// fleet queries ask what a dashboard asks of a 1,000-host fleet. No timing asserts; run with
/// `cargo test --release --test integration -- --ignored perf_proxy --nocapture --test-threads=1`
/// and copy the figures into docs/performance.md.
#[actix_web::test]
#[ignore = "performance figures, run by hand"]
async fn perf_proxy_overhead() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|w| w.parse().ok())
            .unwrap_or(default)
    };
    let workers = env("CB_PERF_WORKERS", 2);
    let fleet = env("CB_PERF_NODES", 1000);
    let s = TestServer::start_with(|c| {
        c.server.workers = workers;
        c.modules.insert(ModuleName::Monitoring, true);
        // The seeded nodes send no heartbeats; they stay healthy for the run.
        c.fleet.stale_after_secs = 3600;
        c.fleet.offline_after_secs = 7200;
    })
    .await;
    println!("master with {workers} HTTP workers, {fleet} nodes' samples");
    let admin = s.setup().await;
    seed_fleet(&s, fleet).await;
    let Some(prom) = start_prometheus(&s, None).await else {
        return;
    };
    configure(
        &s,
        &admin,
        "monitoring",
        json!({"prometheus_url": prom.url}),
    )
    .await;
    eventually(30, "up == 1", || async {
        let r = s.get("/api/v1/metrics/query?query=up", &admin.access).await;
        (r.body["data"]["result"][0]["value"][1] == "1").then_some(())
    })
    .await;
    // Some history to query.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let (bare_url, bare) = bare_proxy(prom.url.clone());
    let nginx = nginx_proxy(&prom.addr).await;
    if nginx.is_none() {
        println!("nginx is not installed: no nginx column (apt-get install nginx-light)");
    }
    let http = reqwest::Client::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let enc = |q: &str| form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
    let instant = |label: &'static str, q: &str| (label, "query", format!("query={}", enc(q)));
    let range = |label: &'static str, q: &str, secs: u64, step: &str| {
        (
            label,
            "query_range",
            format!(
                "query={}&start={}&end={now}&step={step}",
                enc(q),
                now - secs
            ),
        )
    };
    let only = std::env::var("CB_PERF_ONLY").unwrap_or_default();
    let queries = [
        instant("instant `up`", "up"),
        instant(
            "fleet: instant `topk(10, contextbay_node_cpu_percent)`",
            "topk(10, contextbay_node_cpu_percent)",
        ),
        instant(
            "fleet: instant disk use per node and mount",
            "contextbay_node_disk_used_bytes / contextbay_node_disk_total_bytes > 0.5",
        ),
        instant(
            "fleet: instant container memory summed per node",
            "sum by (node) (contextbay_container_memory_used_bytes)",
        ),
        range(
            "range, every `contextbay_http_*` series, 20 s at 1 s",
            "{__name__=~\"contextbay_http.*\"}",
            20,
            "1",
        ),
        range(
            "fleet: range, mean CPU of the fleet, 30 s at 1 s",
            "avg(contextbay_node_cpu_percent)",
            30,
            "1",
        ),
        range(
            "fleet: range, top 5 nodes by container CPU, 30 s at 5 s",
            "topk(5, sum by (node) (contextbay_container_cpu_percent))",
            30,
            "5",
        ),
    ];
    let n = env("CB_PERF_REQUESTS", 400);
    // The master's own floor, for context: a public route, an authenticated one, and an
    // authenticated route of the monitoring module that reads the store once (no Prometheus).
    for (label, path, auth) in [
        ("GET /api/health", "/api/health", false),
        ("GET /api/auth/me", "/api/auth/me", true),
        ("GET /api/metrics/history", "/api/metrics/history", true),
    ] {
        let token = auth.then_some(admin.access.as_str());
        let d = time_gets(&http, &s.url(path), token, n).await;
        println!("master floor, {label}: median {:.3} ms", ms(d));
    }
    println!(
        "| query | direct | nginx | bare proxy | ContextBay | ContextBay / direct | \
         nginx / direct | bare / direct | ContextBay / bare | answer |"
    );
    for (label, api, qs) in queries {
        if !label.contains(only.as_str()) {
            continue;
        }
        let nginx_url = nginx.as_ref().map_or(String::new(), |n| n.url.clone());
        let urls = [
            format!("{}/api/v1/{api}?{qs}", prom.url),
            format!("{nginx_url}/api/v1/{api}?{qs}"),
            format!("{bare_url}/api/v1/{api}?{qs}"),
            s.url(&format!("/api/v1/metrics/{api}?{qs}")),
        ];
        let mut times: [Vec<Duration>; 4] = Default::default();
        let mut bytes = 0;
        let mut answers: [bytes::Bytes; 4] = Default::default();
        for i in 0..n + 20 {
            for (k, url) in urls.iter().enumerate() {
                if k == 1 && nginx.is_none() {
                    answers[k] = answers[0].clone();
                    continue;
                }
                let mut req = http.get(url);
                if k == 3 {
                    req = req.bearer_auth(&admin.access);
                }
                let t = Instant::now();
                let body = req.send().await.unwrap().bytes().await.unwrap();
                let d = t.elapsed();
                // The first requests warm connections and caches.
                if i >= 20 {
                    times[k].push(d);
                }
                answers[k] = body;
            }
            for answer in &answers {
                assert!(
                    answer.starts_with(b"{\"status\":\"success\""),
                    "{label}: {}",
                    String::from_utf8_lossy(answer)
                );
            }
            bytes = answers[3].len();
        }
        let ratio = |x: Duration, y: Duration| format!("{:.2}×", x.as_secs_f64() / y.as_secs_f64());
        let nginx_times = std::mem::take(&mut times[1]);
        let [d, _, b, p] = times.map(|t| {
            if t.is_empty() {
                Duration::ZERO
            } else {
                median(t)
            }
        });
        let (n, n_ratio) = if nginx_times.is_empty() {
            ("–".to_owned(), "–".to_owned())
        } else {
            let n = median(nginx_times);
            (format!("{:.3} ms", ms(n)), ratio(n, d))
        };
        println!(
            "| {label} | {:.3} ms | {n} | {:.3} ms | {:.3} ms | {} | {n_ratio} | {} | {} | {bytes} B |",
            ms(d),
            ms(b),
            ms(p),
            ratio(p, d),
            ratio(b, d),
            ratio(p, b),
        );
    }
    bare.stop(true).await;
    drop(nginx);
    drop(prom);
    s.stop().await;
}

/// `/metrics` with 1,000 nodes' samples: each node a host sample (2 disks, 3 interfaces) and 10
/// containers, fed into the node registry through its handle as real `MetricsBatch` values.
#[actix_web::test]
#[ignore = "performance figures, run by hand"]
async fn perf_metrics_scrape_1000_nodes() {
    let s = master().await;
    seed_fleet(&s, 1000).await;
    let http = reqwest::Client::new();
    let mut times = Vec::new();
    let mut size = 0;
    let mut series = 0;
    for i in 0..25 {
        let t = Instant::now();
        let text = http
            .get(s.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let d = t.elapsed();
        size = text.len();
        series = text.lines().filter(|l| !l.starts_with('#')).count();
        assert!(text.contains("contextbay_node_up{hostname=\"host-0999\",node=\"node-0999\"} 1"));
        if i >= 5 {
            times.push(d);
        }
    }
    times.sort();
    println!(
        "/metrics with 1000 nodes: median {:.1} ms, max {:.1} ms over {} scrapes, {size} bytes \
         ({:.1} KiB), {series} samples",
        ms(times[times.len() / 2]),
        ms(*times.last().unwrap()),
        times.len(),
        size as f64 / 1024.0
    );
    s.stop().await;
}

/// The proxy's range and step limits hold for the values Prometheus uses. Prometheus (Go's
/// `FormValue`) takes the form body's first value, else the query string's first, and skips
/// segments it cannot decode: shown here against the real Prometheus, then refused by the proxy
/// whenever `start`, `end` or `step` comes more than once or in a spelling the proxy cannot read.
#[actix_web::test]
async fn proxy_limits_apply_to_the_values_prometheus_uses() {
    let s = master().await;
    let admin = s.setup().await;
    let Some(prom) = start_prometheus(&s, None).await else {
        return;
    };
    configure(
        &s,
        &admin,
        "monitoring",
        json!({"prometheus_url": prom.url}),
    )
    .await;
    let form = |url: String, token: Option<&str>, body: &'static str| {
        let mut req = s
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { TestServer::reply(req.send().await.unwrap()).await }
    };
    let first_ts = |r: &super::harness::Reply| r.body["data"]["result"][0]["values"][0][0].clone();
    // Within the limit in the query string, three years in the body: Prometheus uses the body.
    let qs = "start=1700000000&end=1700000060&step=86400";
    let direct = form(
        format!("{}/api/v1/query_range?{qs}", prom.url),
        None,
        "query=vector(1)&start=1600000000",
    )
    .await;
    assert_eq!(direct.status, StatusCode::OK, "{:?}", direct.body);
    assert_eq!(first_ts(&direct), 1_600_000_000);
    let proxied = form(
        s.url(&format!("/api/v1/metrics/query_range?{qs}")),
        Some(&admin.access),
        "query=vector(1)&start=1600000000",
    )
    .await;
    assert_error(&proxied, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        proxied.body["error"].as_str().unwrap().contains("'start'"),
        "{:?}",
        proxied.body
    );
    // Twice in the query string, the first undecodable: Prometheus skips it, uses the second.
    let qs = "query=vector(1)&start=%zz&start=1600000000&end=1700000060&step=86400";
    let direct: Value = reqwest::get(format!("{}/api/v1/query_range?{qs}", prom.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(direct["data"]["result"][0]["values"][0][0], 1_600_000_000);
    let proxied = s
        .get(&format!("/api/v1/metrics/query_range?{qs}"), &admin.access)
        .await;
    assert_error(&proxied, StatusCode::BAD_REQUEST, "bad_request");
    // Prometheus' own spelling of its earliest time: all of history; refused by the proxy.
    let qs = "start=-292273086-05-16T16:47:06Z&end=1700000000";
    let direct: Value = reqwest::get(format!("{}/api/v1/labels?{qs}", prom.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(direct["status"], "success", "{direct:?}");
    let proxied = s
        .get(&format!("/api/v1/metrics/labels?{qs}"), &admin.access)
        .await;
    assert_error(&proxied, StatusCode::BAD_REQUEST, "bad_request");
    // Each given once, from either place: answered.
    let mixed = form(
        s.url("/api/v1/metrics/query_range?start=1700000000"),
        Some(&admin.access),
        "query=vector(1)&end=1700000060&step=60",
    )
    .await;
    assert_eq!(mixed.status, StatusCode::OK, "{:?}", mixed.body);
    assert_eq!(first_ts(&mixed), 1_700_000_000);
    assert_eq!(
        mixed.body["data"]["result"][0]["values"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    drop(prom);
    s.stop().await;
}

/// `/metrics` is public by default; with `metrics.bearer_token` it wants exactly that token, and
/// a Prometheus scrape job with `authorization: {credentials: …}` (docs/operations.md) gets in.
#[actix_web::test]
async fn metrics_can_require_a_bearer_token() {
    let open = TestServer::start().await;
    let r = open.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    open.stop().await;

    const TOKEN: &str = "scrape-0123456789-abcdef";
    let s = TestServer::start_with(|c| c.metrics.bearer_token = TOKEN.into()).await;
    let admin = s.setup().await;
    for token in [
        None,
        Some("scrape-0123456789-abcdeX"),
        Some(admin.access.as_str()),
    ] {
        let r = s.call(Method::GET, "/metrics", token, None).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
        assert_eq!(
            r.headers["www-authenticate"].to_str().unwrap(),
            "Bearer realm=\"metrics\""
        );
    }
    let r = s.call(Method::GET, "/metrics", Some(TOKEN), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .as_str()
            .unwrap()
            .contains("contextbay_http_requests_total")
    );
    s.stop().await;
}
