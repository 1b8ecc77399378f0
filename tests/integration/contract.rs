//! The contract a client can trust: `/api/openapi.json` validated as OpenAPI 3.1
//! (`openapi-spec-validator`), and schemathesis run over the whole document with every check, as
//! admin, against a master with every module on (monitoring and alerting against a real
//! Prometheus and Alertmanager). Any finding fails the test and schemathesis' report is printed.
//!
//! Both tools come from the virtualenv `scripts/test` prepares from
//! `scripts/python-requirements.txt` (pinned), named by `CONTEXTBAY_PYVENV`. Outside CI a missing
//! virtualenv skips the tests with a message; with `CI=true` it fails them.

use std::path::PathBuf;
use std::time::Duration;

use contextbay::modules::{FieldKind, ModuleName};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use super::harness::TestServer;
use super::monitoring::{WEBHOOK_TOKEN, start_alertmanager, start_prometheus};

/// In the document, but not fuzzed: operations that would change the host's Docker engine
/// (create, start/stop, remove, pull, prune, exec, compose deployments); registering a Docker
/// endpoint (the master connects to whatever URL it is given, and later calls would reach that
/// engine); replacing the master's users and keys wholesale (`import`, which would also remove
/// the run's own credentials); the WebSocket upgrades, which are not request-response
/// operations (their handshakes are tested in `sockets.rs`); and registering an MCP server (a
/// `stdio` one is a command the master runs, with generated arguments, whenever the tool list is
/// read: `rm -r 0` is a schema-valid registration; tested field by field in `ai_mcp.rs`).
const NOT_FUZZED: &[&str] = &[
    "ai_mcp_servers_create",
    "containers_create",
    "containers_action",
    "containers_delete",
    "containers_exec_ws",
    "stacks_create",
    "stacks_update",
    "stacks_delete",
    "stacks_action",
    "services_delete",
    "images_pull",
    "images_prune",
    "images_delete",
    "volumes_delete",
    "networks_delete",
    "endpoints_create",
    "import",
    "ws_connect",
    "containers_logs_ws",
];

/// Operations that check their input beyond what a JSON Schema can say, so a schema-valid request
/// may get the documented 400: PromQL that Prometheus does not parse (rule expressions, the
/// proxy's `query` and `match[]`), a zero `step`, a silence that does not end in the future, an
/// annotation that ends before it starts. For these only, schemathesis' "schema-valid request
/// rejected" check also expects 400; every other check runs on them as on the rest.
const SEMANTIC_400: &[&str] = &[
    // The AI module: a model no provider offers, a tool message without its call, arguments
    // that are not an object, a mode named like a built-in one or a tool name that is not one.
    "ai_chat",
    "ai_modes_create",
    "ai_modes_update",
    // AI tasks, sessions and skill runs name a mode, a model, a session or a conversation that
    // must exist, and need a provider with a model to route to.
    "ai_sessions_create",
    "ai_skills_run",
    "ai_tasks_create",
    "alert_rules_create",
    "alert_rules_update",
    "alertmanager_create",
    // The endpoint and the volume a backup job names must exist.
    "backup_jobs_create",
    "backup_jobs_update",
    // A module's settings are the keys its descriptor declares, which one schema for every
    // `{module}` cannot list: another module's key, or an unknown one, is a 400 naming it.
    "config_put",
    "grafana_annotate",
    "v1_metrics_query",
    "v1_metrics_query_form",
    "v1_metrics_query_range",
    "v1_metrics_query_range_form",
    "v1_metrics_series",
    "v1_metrics_labels",
    "v1_metrics_label_values",
];

/// A Grafana double answering the parts of Grafana's HTTP API the monitoring module calls
/// (<https://grafana.com/docs/grafana/latest/developers/http_api/>), with the documented shapes.
async fn grafana_double() -> wiremock::MockServer {
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let grafana = MockServer::start().await;
    let answer = |m: &str, p: wiremock::matchers::PathRegexMatcher, status: u16, body: Value| {
        Mock::given(method(m))
            .and(p)
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
    };
    Mock::given(method("GET"))
        .and(path("/api/health"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"commit": "0123abc", "database": "ok", "version": "10.4.1"})),
        )
        .mount(&grafana)
        .await;
    let dashboard = json!({"id": 1, "uid": "fleet", "title": "Fleet", "tags": ["contextbay"],
        "version": 1, "panels": []});
    for mock in [
        answer(
            "GET",
            path_regex("^/api/search$"),
            200,
            json!([{
                "id": 1, "uid": "fleet", "title": "Fleet", "uri": "db/fleet",
                "url": "/d/fleet/fleet", "slug": "", "type": "dash-db", "tags": ["contextbay"],
                "isStarred": false, "folderUid": "cb", "folderTitle": "ContextBay", "sortMeta": 0
            }]),
        ),
        answer(
            "GET",
            path_regex("^/api/dashboards/uid/[^/]+$"),
            200,
            json!({
                "dashboard": dashboard,
                "meta": {"type": "db", "canSave": true, "slug": "fleet", "url": "/d/fleet/fleet",
                    "version": 1, "folderUid": "cb", "folderTitle": "ContextBay"}
            }),
        ),
        answer(
            "POST",
            path_regex("^/api/dashboards/db$"),
            200,
            json!({
                "id": 1, "uid": "fleet", "url": "/d/fleet/fleet", "status": "success",
                "version": 2, "slug": "fleet"
            }),
        ),
        answer(
            "DELETE",
            path_regex("^/api/dashboards/uid/[^/]+$"),
            200,
            json!({"title": "Fleet", "message": "Dashboard Fleet deleted", "id": 1}),
        ),
        answer(
            "POST",
            path_regex("^/api/user/stars/dashboard/uid/[^/]+$"),
            200,
            json!({"message": "Dashboard starred!"}),
        ),
        answer(
            "DELETE",
            path_regex("^/api/user/stars/dashboard/uid/[^/]+$"),
            200,
            json!({"message": "Dashboard unstarred"}),
        ),
        answer(
            "POST",
            path_regex("^/api/annotations$"),
            200,
            json!({"message": "Annotation added", "id": 1}),
        ),
    ] {
        mock.mount(&grafana).await;
    }
    grafana
}

/// The seed of every run, so a finding reproduces.
const SEED: &str = "20261207";

/// Generated cases per operation and phase: enough to reach every constraint, few enough for a
/// run of a few minutes on two busy cores.
const MAX_EXAMPLES: &str = "20";

/// The virtualenv with schemathesis and openapi-spec-validator, or `None` (with a message)
/// outside CI when there is none.
fn pyvenv() -> Option<PathBuf> {
    let venv = std::env::var_os("CONTEXTBAY_PYVENV")
        .map(PathBuf::from)
        .filter(|p| p.join("bin/schemathesis").is_file());
    if venv.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "CONTEXTBAY_PYVENV must name a virtualenv with schemathesis on CI (scripts/test \
             makes one from scripts/python-requirements.txt)"
        );
        eprintln!(
            "SKIPPED: CONTEXTBAY_PYVENV does not name a virtualenv with schemathesis; \
             scripts/test prepares one from scripts/python-requirements.txt"
        );
    }
    venv
}

/// Settings that make `module` usable: its URLs point at `stub`, every secret and other
/// required setting gets a value.
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

/// Runs `program` with `args`, asynchronously (the master under test runs on this thread's
/// actors), and returns its exit status with what it printed.
async fn run(
    program: PathBuf,
    args: &[String],
    cwd: &std::path::Path,
) -> (std::process::ExitStatus, String) {
    let out = tokio::process::Command::new(&program)
        .args(args)
        // schemathesis keeps a cache (`.schemathesis/`) in its working directory: the run's own.
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

#[actix_web::test]
async fn the_document_is_valid_openapi_3_1() {
    let Some(venv) = pyvenv() else { return };
    let s = TestServer::start().await;
    let doc = s
        .call(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(doc.status, StatusCode::OK);
    let file = s.data_dir().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc.body).unwrap()).unwrap();
    let (status, report) = run(
        venv.join("bin/openapi-spec-validator"),
        &[
            "--schema".into(),
            "3.1".into(),
            "--validation-errors".into(),
            "all".into(),
            file.display().to_string(),
        ],
        s.data_dir(),
    )
    .await;
    assert!(
        status.success(),
        "the document is not valid OpenAPI 3.1:\n{report}"
    );
    assert!(report.contains("OK"), "{report}");
    s.stop().await;
}

/// Which operations a run covers.
#[derive(Clone, Copy, PartialEq)]
enum Scope {
    /// The core operations (no `x-module`), which this crate's core owns.
    Core,
    /// Every operation of the document.
    Everything,
}

#[actix_web::test]
async fn schemathesis_finds_nothing_in_the_core_operations() {
    schemathesis(Scope::Core).await;
}

#[actix_web::test]
async fn schemathesis_finds_nothing_over_the_whole_document() {
    schemathesis(Scope::Everything).await;
}

/// Runs schemathesis with every check as admin against a master with every module on, and
/// fails on any finding, printing schemathesis' report.
async fn schemathesis(scope: Scope) {
    let Some(venv) = pyvenv() else { return };
    let s = TestServer::start().await;
    let admin = s.setup().await;
    // An admin API key: it outlives whatever the fuzzed calls do to sessions (logout, a new JWT
    // key).
    let key = s
        .post(
            "/api/keys",
            &admin.access,
            json!({"name": "schemathesis", "role": "admin"}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    let key = key.body["key"].as_str().unwrap().to_owned();

    // Every module on: monitoring and alerting against the real services when installed (a
    // missing one skips outside CI, like their own tests), the others against a stub.
    let Some(alertmanager) = start_alertmanager(&s, WEBHOOK_TOKEN).await else {
        return;
    };
    let Some(prometheus) = start_prometheus(&s, Some(&alertmanager.addr)).await else {
        return;
    };
    let grafana = grafana_double().await;
    let stub = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&stub)
        .await;
    for module in ModuleName::all() {
        let settings = match module {
            ModuleName::Monitoring => json!({
                "prometheus_url": prometheus.url,
                "grafana_url": grafana.uri(),
                "grafana_token": "glsa_contract-test-0123456789abcdef",
            }),
            ModuleName::Alerting => {
                json!({"alertmanager_url": alertmanager.url, "webhook_token": WEBHOOK_TOKEN})
            }
            other => stub_settings(other, &stub.uri()),
        };
        let view = s.enable_module(&admin, module.as_str(), settings).await;
        assert_eq!(view["problems"], json!([]), "{module}: {view}");
    }

    let report_dir = s.data_dir().join("schemathesis");
    // The run authenticates with the key: schemathesis must not try to sign up and log in by
    // itself through /api/auth/setup and /api/auth/login.
    let config = s.data_dir().join("schemathesis.toml");
    let semantic: Vec<String> = SEMANTIC_400.iter().map(|op| format!("\"{op}\"")).collect();
    std::fs::write(
        &config,
        format!(
            "[auth]\nauto-signup = false\n\n[[operations]]\ninclude-operation-id = [{}]\n\
             checks.positive_data_acceptance.expected-statuses = \
             [\"2xx\", \"400\", \"401\", \"403\", \"404\", \"409\", \"429\"]\n",
            semantic.join(", ")
        ),
    )
    .unwrap();
    let mut args: Vec<String> = vec![
        "--config-file".into(),
        config.display().to_string(),
        "run".into(),
        s.url("/api/openapi.json"),
        "--url".into(),
        s.base.clone(),
        "--checks".into(),
        "all".into(),
        "--header".into(),
        format!("X-API-Key: {key}"),
        "--seed".into(),
        SEED.into(),
        "--max-examples".into(),
        MAX_EXAMPLES.into(),
        // One worker: with the seed, the same cases in the same order every run.
        "--workers".into(),
        "1".into(),
        "--request-timeout".into(),
        "30".into(),
        "--no-shrink".into(),
        "--suppress-health-check".into(),
        "all".into(),
        "--report".into(),
        "junit".into(),
        "--report-dir".into(),
        report_dir.display().to_string(),
    ];
    let mut excluded: Vec<String> = NOT_FUZZED.iter().map(|op| (*op).to_owned()).collect();
    if scope == Scope::Core {
        let doc = s
            .call(reqwest::Method::GET, "/api/openapi.json", None, None)
            .await;
        for item in doc.body["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                if op.get("x-module").is_some() {
                    let id = op["operationId"].as_str().unwrap().to_owned();
                    // A module's operation may be in NOT_FUZZED already (schemathesis refuses a
                    // repeated --exclude-operation-id).
                    if !excluded.contains(&id) {
                        excluded.push(id);
                    }
                }
            }
        }
        assert!(excluded.len() > NOT_FUZZED.len() + 20, "{excluded:?}");
    }
    for op in excluded {
        args.push("--exclude-operation-id".into());
        args.push(op);
    }
    let (status, report) = tokio::time::timeout(
        Duration::from_secs(600),
        run(venv.join("bin/schemathesis"), &args, s.data_dir()),
    )
    .await
    .expect("schemathesis did not finish within 10 minutes");
    println!("{report}");
    assert!(
        status.success(),
        "schemathesis found contract violations (report above)"
    );
    // It did run the operations (a filter excluding everything would also exit 0).
    assert!(report.contains("passed"), "{report}");
    drop((prometheus, alertmanager));
    s.stop().await;
}

/// Every core list answers the one page object, with the same paging parameters and limits;
/// lists gathered from the Docker endpoints also name the endpoints that did not answer.
#[actix_web::test]
async fn every_core_list_answers_the_page_object() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    for name in ["one", "two", "three"] {
        let r = s
            .post("/api/keys", &admin.access, json!({"name": name}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let host = s
        .post("/api/hosts", &admin.access, json!({"name": "paged"}))
        .await;
    assert_eq!(host.status, StatusCode::CREATED, "{:?}", host.body);
    let host_id = host.body["id"].as_str().unwrap();
    let lists = [
        "/api/users".to_owned(),
        "/api/keys".to_owned(),
        "/api/hosts".to_owned(),
        format!("/api/hosts/{host_id}/enroll-attempts"),
        "/api/nodes".to_owned(),
        "/api/census".to_owned(),
        "/api/audit".to_owned(),
        "/api/operations".to_owned(),
        "/api/notifications".to_owned(),
        "/api/endpoints".to_owned(),
        "/api/containers".to_owned(),
        "/api/stacks".to_owned(),
        "/api/services".to_owned(),
        "/api/images".to_owned(),
        "/api/volumes".to_owned(),
        "/api/networks".to_owned(),
        "/api/containers/stats".to_owned(),
        "/api/activity".to_owned(),
        "/api/modules".to_owned(),
    ];
    let gathered = [
        "/api/containers",
        "/api/containers/stats",
        "/api/stacks",
        "/api/services",
        "/api/images",
        "/api/volumes",
        "/api/networks",
    ];
    for path in &lists {
        let r = s
            .get(&format!("{path}?limit=2&offset=0"), &admin.access)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        assert!(r.body["items"].is_array(), "{path}: {:?}", r.body);
        assert!(r.body["total"].is_i64(), "{path}: {:?}", r.body);
        assert_eq!(r.body["limit"], 2, "{path}: {:?}", r.body);
        assert_eq!(r.body["offset"], 0, "{path}: {:?}", r.body);
        assert!(r.body["items"].as_array().unwrap().len() <= 2, "{path}");
        assert_eq!(
            r.body.get("errors").is_some(),
            gathered.contains(&path.as_str()),
            "{path}: {:?}",
            r.body
        );
        for bad in ["limit=0", "limit=501", "offset=-1", "limit=x"] {
            let r = s.get(&format!("{path}?{bad}"), &admin.access).await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{path}?{bad}: {:?}",
                r.body
            );
            let field = bad.split('=').next().unwrap();
            assert_eq!(r.body["field"], field, "{path}?{bad}: {:?}", r.body);
        }
    }
    // Paging through the caller's keys (the setup's session has none of its own but these).
    let first = s.get("/api/keys?limit=2", &admin.access).await;
    assert_eq!(first.body["total"], 3, "{:?}", first.body);
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let rest = s.get("/api/keys?limit=2&offset=2", &admin.access).await;
    assert_eq!(
        rest.body["items"].as_array().unwrap().len(),
        1,
        "{:?}",
        rest.body
    );
    assert_eq!(rest.body["offset"], 2);
    s.stop().await;
}

/// An error about one input names it in `field`: a body field by its path, a query or path
/// parameter by its name.
#[actix_web::test]
async fn errors_name_the_field_at_fault() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let missing = s
        .post(
            "/api/users",
            &admin.access,
            json!({"password": "long-enough-password", "role": "viewer"}),
        )
        .await;
    assert_eq!(
        missing.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        missing.body
    );
    assert_eq!(missing.body["code"], "invalid_json");
    assert_eq!(missing.body["field"], "username", "{:?}", missing.body);
    let wrong_type = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": "carol", "password": "long-enough-password", "role": 3}),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_type.body["field"], "role", "{:?}", wrong_type.body);
    let unknown = s
        .post(
            "/api/keys",
            &admin.access,
            json!({"name": "k", "colour": "red"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.body["field"], "colour", "{:?}", unknown.body);
    let path = s.get("/api/users/not-a-uuid", &admin.access).await;
    assert_eq!(path.status, StatusCode::BAD_REQUEST);
    assert_eq!(path.body["field"], "id", "{:?}", path.body);
    let time = s.get("/api/audit?since=yesterday", &admin.access).await;
    assert_eq!(time.status, StatusCode::BAD_REQUEST);
    assert_eq!(time.body["field"], "since", "{:?}", time.body);
    // A malformed body as a whole names no field.
    let broken = s
        .call(
            reqwest::Method::POST,
            "/api/users",
            Some(&admin.access),
            Some(json!("not an object")),
        )
        .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert!(broken.body.get("field").is_none(), "{:?}", broken.body);
    s.stop().await;
}
