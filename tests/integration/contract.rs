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

/// Operations that would change the host's Docker engine (create, start/stop, remove, pull,
/// prune, exec, compose deployments): in the document, but not fuzzed.
const NOT_FUZZED: &[&str] = &[
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
];

/// The seed of every run, so a finding reproduces.
const SEED: &str = "20261207";

/// Generated cases per operation and phase: enough to reach every constraint, few enough for a
/// run of a few minutes on two busy cores.
const MAX_EXAMPLES: &str = "10";

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
async fn run(program: PathBuf, args: &[String]) -> (std::process::ExitStatus, String) {
    let out = tokio::process::Command::new(&program)
        .args(args)
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
    )
    .await;
    assert!(
        status.success(),
        "the document is not valid OpenAPI 3.1:\n{report}"
    );
    assert!(report.contains("OK"), "{report}");
    s.stop().await;
}

#[actix_web::test]
async fn schemathesis_finds_nothing_over_the_whole_document() {
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
    let stub = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&stub)
        .await;
    for module in ModuleName::all() {
        let settings = match module {
            ModuleName::Monitoring => json!({"prometheus_url": prometheus.url}),
            ModuleName::Alerting => {
                json!({"alertmanager_url": alertmanager.url, "webhook_token": WEBHOOK_TOKEN})
            }
            other => stub_settings(other, &stub.uri()),
        };
        let view = s.enable_module(&admin, module.as_str(), settings).await;
        assert_eq!(view["problems"], json!([]), "{module}: {view}");
    }

    let report_dir = s.data_dir().join("schemathesis");
    let mut args: Vec<String> = vec![
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
        "--workers".into(),
        "2".into(),
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
    for op in NOT_FUZZED {
        args.push("--exclude-operation-id".into());
        args.push((*op).into());
    }
    let (status, report) = tokio::time::timeout(
        Duration::from_secs(600),
        run(venv.join("bin/schemathesis"), &args),
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
