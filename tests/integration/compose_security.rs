//! What the compose CLI sees: a stack's variables exactly as stored, none of the master's own;
//! and adoption reading a project's files only under the configured stack roots.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::json;

use super::harness::{TestServer, assert_error};
use super::support::compose::Projects;
use super::support::docker::{Cleanup, IMAGE, docker, engine_available, ensure_image};

/// Values with every character a `.env` parser treats specially.
fn tricky_env() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("LITERAL", "a$b"),
        ("MIXED", r#"it's "q" \ \\ #x ${HOME} $$ $y `z`"#),
        ("SPACED", "  lead and trail  "),
        ("HASHED", "a #b"),
        ("BRACED", "${LITERAL}"),
    ])
}

/// The container of `project`'s one service: its environment and labels.
fn inspect(project: &str) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let id = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
    ])
    .unwrap();
    assert!(!id.is_empty() && !id.contains('\n'), "containers: {id:?}");
    let env: Vec<String> =
        serde_json::from_str(&docker(&["inspect", "-f", "{{json .Config.Env}}", &id]).unwrap())
            .unwrap();
    let labels: BTreeMap<String, String> =
        serde_json::from_str(&docker(&["inspect", "-f", "{{json .Config.Labels}}", &id]).unwrap())
            .unwrap();
    let env = env
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (env, labels)
}

#[actix_web::test]
async fn stack_variables_reach_containers_literally_and_master_variables_do_not() {
    if !engine_available() {
        return;
    }
    ensure_image();
    // Cargo sets it for the test process, hence for the in-process master: a stand-in for a
    // secret in the master's environment (`CB_AUTH__JWT_SECRET`, …).
    let master_only = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    assert!(!master_only.is_empty());
    let c = Cleanup::new("cenv");
    let mut projects = Projects::new();
    let name = projects.add(&format!("{}-env", c.prefix));
    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;

    // Values compose cannot read back literally, and the CLI's own variables, are refused.
    for (env, key) in [
        (json!({"BAD": "x\ny"}), "env.BAD"),
        (json!({"CR": "x\ry"}), "env.CR"),
        (
            json!({"DOCKER_HOST": "tcp://10.0.0.1:2375"}),
            "env.DOCKER_HOST",
        ),
        (json!({"PATH": "/tmp"}), "env.PATH"),
    ] {
        let r = s
            .post(
                "/api/stacks",
                &admin.access,
                json!({"name": format!("{name}-bad"), "endpoint": "local",
                    "compose": format!("services:\n  a:\n    image: {IMAGE}\n"), "env": env}),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            r.body["error"].as_str().unwrap().starts_with(key),
            "{:?}",
            r.body
        );
    }

    let compose = format!(
        "services:\n  probe:\n    image: {IMAGE}\n    command: [\"sh\", \"-c\", \"while true; do sleep 1; done\"]\n    \
         stop_grace_period: 1s\n    env_file: [.env]\n    environment:\n      \
         VIA_INTERPOLATION: \"${{LITERAL}}\"\n      VIA_INTERPOLATION_MIXED: \"${{MIXED}}\"\n      \
         LEAKED: \"[${{CARGO_MANIFEST_DIR}}]\"\n    labels:\n      contextbay.test: \"1\"\n      \
         leak: \"[${{CARGO_MANIFEST_DIR}}]\"\n    networks: [backend]\n\
         networks:\n  backend:\n    internal: true\n    labels:\n      contextbay.test: \"1\"\n"
    );
    let created = s
        .post(
            "/api/stacks",
            &admin.access,
            json!({"name": name, "endpoint": "local", "compose": compose, "env": tricky_env()}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let deployed =
        super::support::operations::act(&s, &admin.access, &format!("/api/stacks/{id}/deploy"))
            .await;
    assert_eq!(deployed.status, StatusCode::ACCEPTED, "{:?}", deployed.body);
    assert_eq!(deployed.body["result"]["ok"], true, "{:?}", deployed.body);

    let (env, labels) = inspect(&name);
    // Read from `.env` by the service's env_file: exactly as stored.
    for (k, v) in tricky_env() {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k} in {env:?}");
    }
    // Interpolated into the compose file: exactly as stored.
    assert_eq!(env["VIA_INTERPOLATION"], "a$b");
    assert_eq!(env["VIA_INTERPOLATION_MIXED"], tricky_env()["MIXED"]);
    // The master's environment is not the CLI's.
    assert_eq!(env["LEAKED"], "[]", "{env:?}");
    assert_eq!(labels["leak"], "[]", "{labels:?}");
    assert!(!env.values().any(|v| v.contains(&master_only)), "{env:?}");

    let removed =
        super::support::operations::act(&s, &admin.access, &format!("/api/stacks/{id}/remove"))
            .await;
    assert_eq!(removed.body["state"], "succeeded", "{:?}", removed.body);
    s.delete(&format!("/api/stacks/{id}"), &admin.access).await;
    s.stop().await;
}

#[actix_web::test]
async fn adoption_reads_no_file_outside_the_stack_roots() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("croot");
    let mut projects = Projects::new();
    let name = projects.add(&format!("{}-cli", c.prefix));
    // A project started by hand from a directory that is not a stack root, its compose file and
    // `.env` carrying markers that must not come back.
    let file = projects.file();
    let marked = format!(
        "{}x-marker: outside-the-roots\n",
        std::fs::read_to_string(&file).unwrap()
    );
    std::fs::write(&file, &marked).unwrap();
    std::fs::write(file.with_file_name(".env"), "MARKER=outside-the-roots\n").unwrap();
    let up = std::process::Command::new("docker-compose")
        .args(["-p", &name, "-f", file.to_str().unwrap(), "up", "-d"])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    // Roots configured, but not this one.
    let elsewhere = tempfile::tempdir().unwrap();
    let root = elsewhere.path().to_path_buf();
    let s = TestServer::start_with(|cfg| {
        cfg.docker.local_endpoint = true;
        cfg.docker.stack_roots = vec![root];
    })
    .await;
    let admin = s.setup().await;
    let adopted = s
        .post(
            "/api/stacks",
            &admin.access,
            json!({"adopt": name, "endpoint": "local"}),
        )
        .await;
    assert_eq!(adopted.status, StatusCode::CREATED, "{:?}", adopted.body);
    assert_eq!(adopted.body["adoption"]["reconstructed"], true);
    let note = adopted.body["adoption"]["note"].as_str().unwrap();
    assert!(note.contains("stack_roots"), "{note}");
    let compose = adopted.body["compose"].as_str().unwrap();
    assert!(!compose.contains("marker"), "{compose}");
    assert!(
        compose.contains("web") && compose.contains(IMAGE),
        "{compose}"
    );
    assert_eq!(adopted.body["env"], json!({}), "{:?}", adopted.body);
    assert!(!adopted.body.to_string().contains("outside-the-roots"));
    let id = adopted.body["id"].as_str().unwrap().to_owned();
    s.delete(&format!("/api/stacks/{id}"), &admin.access).await;
    s.stop().await;
}
