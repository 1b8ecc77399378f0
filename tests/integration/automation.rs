//! A client generated from `/api/openapi.json` by a standard generator (openapi-python-client,
//! pinned in `scripts/python-requirements.txt`), exercised against a real master: the script
//! `tests/automation/client_test.py` authenticates with an API key, pages through the nodes,
//! creates, reads, lists and removes a container on the local engine, reads a 404 into the
//! generated error model and finds the container's events in the activity feed. Only the
//! generated code talks to the master there. `docs/automation.md` shows the same commands.
//!
//! The generator's warnings fail the test too: each one is an operation or a response the
//! generated client would lack.
//!
//! The virtualenv comes from `scripts/test` (`CONTEXTBAY_PYVENV`); without it the test fails on
//! CI and is skipped, loudly, elsewhere.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::process::Command;

use super::harness::TestServer;
use super::support::docker::{Cleanup, IMAGE, engine_available, ensure_image};

/// The virtualenv with openapi-python-client: `$CONTEXTBAY_PYVENV`. `None` (with a message)
/// when it is missing outside CI; a panic on CI.
fn pyvenv() -> Option<PathBuf> {
    let venv = std::env::var_os("CONTEXTBAY_PYVENV")
        .map(PathBuf::from)
        .filter(|v| {
            v.join("bin/python").is_file() && v.join("bin/openapi-python-client").is_file()
        });
    if venv.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "CONTEXTBAY_PYVENV must name a virtualenv with openapi-python-client on CI \
             (scripts/test creates it from scripts/python-requirements.txt)"
        );
        eprintln!(
            "CONTEXTBAY_PYVENV is not set to a virtualenv with openapi-python-client: skipping \
             the generated-client test outside CI (scripts/test creates it)"
        );
    }
    venv
}

/// Runs `command` to its end (bounded, so a hung child cannot hang the suite) and returns its
/// combined output, or panics with it when it failed.
async fn run(what: &str, command: &mut Command) -> String {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 300 s"))
        .unwrap_or_else(|e| panic!("{what} could not be started: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[actix_web::test]
async fn a_client_generated_from_the_document_drives_the_api() {
    let Some(venv) = pyvenv() else {
        return;
    };
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("auto");
    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    // A node for the list: enrolled, without a worker.
    s.enrolled_node(&admin, "automation-node").await;

    // The key the script uses: an operator's, enough to create and remove containers.
    let created = s
        .post(
            "/api/keys",
            &admin.access,
            json!({"name": "automation", "role": "operator", "expires_in_days": 1}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let key = created.body["key"].as_str().unwrap().to_owned();

    // The document, as any client fetches it.
    let doc = s.http.get(s.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(doc.status(), StatusCode::OK);
    let doc = doc.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let doc_path = dir.path().join("openapi.json");
    std::fs::write(&doc_path, &doc).unwrap();

    let client_dir = dir.path().join("client");
    let generated = run(
        "openapi-python-client generate",
        Command::new(venv.join("bin/openapi-python-client"))
            .arg("generate")
            .arg("--path")
            .arg(&doc_path)
            .arg("--output-path")
            .arg(&client_dir)
            .arg("--config")
            .arg(repo("tests/automation/generator-config.yml")),
    )
    .await;
    println!("{generated}");
    assert!(
        !generated.contains("Warning"),
        "the generator warned about the document: the generated client lacks what it names\n\
         {generated}"
    );
    assert!(
        client_dir.join("contextbay_client/api").is_dir(),
        "no package generated in {}",
        client_dir.display()
    );

    let name = format!("{}-client", c.prefix);
    let script = run(
        "tests/automation/client_test.py",
        Command::new(venv.join("bin/python"))
            .arg(repo("tests/automation/client_test.py"))
            .args(["--base-url", &s.base])
            .arg("--document")
            .arg(&doc_path)
            .args(["--endpoint", "local", "--image", IMAGE])
            .args(["--network", &c.network, "--name", &name])
            .args(["--node", "automation-node"])
            .env("CONTEXTBAY_API_KEY", &key)
            .env("PYTHONPATH", &client_dir)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    )
    .await;
    println!("{script}");
    assert!(
        script.contains("automation client: every step passed"),
        "{script}"
    );
    // The script removed its container; the guard removes the network (and anything left).
    assert!(
        super::support::docker::docker(&["ps", "-aq", "--filter", &format!("name={name}")])
            .unwrap()
            .is_empty(),
        "the container is still there"
    );
}
