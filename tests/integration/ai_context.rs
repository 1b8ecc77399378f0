//! The AI module's context preview (`GET /api/ai/context-preview`) against a real container on
//! the engine, with a secret planted in its env and in a sealed setting; and its skills
//! (`GET /api/ai/skills[/{id}]`) from a real directory with good, bad and linked folders.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::{Login, TestServer, assert_error};
use super::support::docker::{Cleanup, IMAGE, docker, engine_available, ensure_image};

const ENV_SECRET: &str = "hunter2-planted-env-secret";
const SEALED_SECRET: &str = "sk-ant-planted-sealed-secret-0123456789";

fn field_error(reply: &super::harness::Reply, status: StatusCode, field: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert!(
        reply.body["field"] == field
            || reply.body["error"]
                .as_str()
                .is_some_and(|e| e.contains(field)),
        "{field} not named: {:?}",
        reply.body
    );
}

fn part<'a>(preview: &'a Value, kind: &str) -> Option<&'a Value> {
    preview["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == kind)
}

#[actix_web::test]
async fn the_context_preview_shows_each_part_cuts_to_the_budget_and_never_holds_a_secret() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("aictx");
    let name = format!("{}-app", c.prefix);
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        &c.network,
        "--label",
        "contextbay.test=1",
        "-e",
        &format!("DB_PASSWORD={ENV_SECRET}"),
        IMAGE,
        "sleep",
        "3600",
    ])
    .unwrap();
    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "viewer", "viewer").await;
    let path = format!("/api/ai/context-preview?endpoint=local&container={name}&prompt=why");
    // Off: the module's 404.
    assert_error(
        &s.get(&path, &viewer.access).await,
        StatusCode::NOT_FOUND,
        "module_disabled",
    );
    s.enable_module(&admin, "ai", json!({"anthropic_api_key": SEALED_SECRET}))
        .await;
    // Something happened on the fleet: a restart through the API (an event).
    let restarted = s
        .post(
            &format!("/api/containers/{name}/restart?endpoint=local"),
            &admin.access,
            json!({}),
        )
        .await;
    assert!(restarted.status.is_success(), "{:?}", restarted.body);

    for who in [&admin, &viewer] {
        let r = s.get(&path, &who.access).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let text = r.body.to_string();
        assert!(!text.contains(ENV_SECRET), "env secret in the context");
        assert!(
            !text.contains(SEALED_SECRET),
            "sealed setting in the context"
        );
        let detail = part(&r.body, "container").expect("the container's part");
        let detail_text = detail["text"].as_str().unwrap();
        assert!(detail_text.contains("DB_PASSWORD"), "{detail_text}");
        assert!(detail_text.contains("running"), "{detail_text}");
        let list = part(&r.body, "containers").expect("the containers part");
        assert!(list["text"].as_str().unwrap().contains(&name));
        let events = part(&r.body, "events").expect("the events part");
        assert!(
            events["text"]
                .as_str()
                .unwrap()
                .contains("container.action"),
            "{events}"
        );
        // Token counts add up; nothing was cut under the default budget.
        let sum: u64 = r.body["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["tokens"].as_u64().unwrap())
            .sum();
        assert_eq!(
            r.body["total_tokens"].as_u64().unwrap(),
            sum + r.body["prompt_tokens"].as_u64().unwrap()
        );
        assert_eq!(r.body["budget_tokens"], 4000);
        assert!(r.body["rule"].as_str().unwrap().contains("largest part"));
    }

    // A small budget: the total fits it, and what was cut is said.
    let r = s
        .get(
            &format!("/api/ai/context-preview?endpoint=local&container={name}&budget_tokens=60"),
            &viewer.access,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        r.body["total_tokens"].as_u64().unwrap() <= 60,
        "{:?}",
        r.body
    );
    let cut = r.body["parts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| !p["cut"].as_array().unwrap().is_empty())
        || !r.body["dropped"].as_array().unwrap().is_empty();
    assert!(cut, "{:?}", r.body);

    // Bad parameters: 400 naming each; unknown things: 404.
    for (query, field) in [
        ("budget_tokens=0", "budget_tokens"),
        ("budget_tokens=-5", "budget_tokens"),
        ("budget_tokens=1000001", "budget_tokens"),
        ("budget_tokens=abc", "budget_tokens"),
        (
            "budget_tokens=1&prompt=a%20long%20prompt%20of%20many%20tokens",
            "budget_tokens",
        ),
        ("container=x", "endpoint"),
        ("node=..%2Fetc", "node"),
        ("task_kind=Not%20A%20Kind", "task_kind"),
        ("nope=1", "nope"),
    ] {
        let r = s
            .get(&format!("/api/ai/context-preview?{query}"), &viewer.access)
            .await;
        field_error(&r, StatusCode::BAD_REQUEST, field);
    }
    for query in [
        "node=no-such-node",
        "endpoint=no-such-endpoint",
        "endpoint=local&container=no-such-container",
    ] {
        let r = s
            .get(&format!("/api/ai/context-preview?{query}"), &viewer.access)
            .await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    // A real node's facts.
    let (node, _) = s.enrolled_node(&admin, "ctx-node").await;
    let r = s
        .get(
            &format!("/api/ai/context-preview?node={node}"),
            &viewer.access,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        part(&r.body, "nodes").unwrap()["text"]
            .as_str()
            .unwrap()
            .contains("ctx-node")
    );
    drop(c);
}

async fn skills(s: &TestServer, who: &Login, query: &str) -> Value {
    let r = s.get(&format!("/api/ai/skills{query}"), &who.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

#[actix_web::test]
async fn skills_come_built_in_and_from_a_directory_without_escaping_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let good = root.join("restart-loop");
    std::fs::create_dir_all(good.join("scripts")).unwrap();
    std::fs::write(
        good.join("SKILL.md"),
        "---\nname: restart-loop\ndescription: Finds restart loops.\nlicense: MIT\nmode: supervised\n---\n# Steps\nLook at restarts.\n",
    )
    .unwrap();
    std::fs::write(good.join("scripts/check.sh"), "echo check\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "outside-secret").unwrap();
    std::fs::create_dir(outside.path().join("evil")).unwrap();
    std::fs::write(
        outside.path().join("evil/SKILL.md"),
        "---\nname: evil\ndescription: Outside.\n---\nOutside the directory.\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), good.join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("evil"), root.join("evil")).unwrap();
    std::fs::create_dir(root.join("broken")).unwrap();
    std::fs::write(root.join("broken/SKILL.md"), "name: no front matter\n").unwrap();
    std::fs::create_dir(root.join("fleet-health")).unwrap();
    std::fs::write(
        root.join("fleet-health/SKILL.md"),
        "---\nname: fleet-health\ndescription: Shadows the built-in.\n---\nNo.\n",
    )
    .unwrap();

    let s = TestServer::start().await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "viewer", "viewer").await;
    assert_error(
        &s.get("/api/ai/skills", &viewer.access).await,
        StatusCode::NOT_FOUND,
        "module_disabled",
    );
    // No directory: the built-in skills.
    s.enable_module(&admin, "ai", Value::Null).await;
    let list = skills(&s, &viewer, "").await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["diagnose-container", "fleet-health", "review-compose"]
    );
    assert_eq!(list["total"], 3);

    s.enable_module(&admin, "ai", json!({"skills_dir": root.to_str().unwrap()}))
        .await;
    let list = skills(&s, &viewer, "").await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "diagnose-container",
            "fleet-health",
            "review-compose",
            "restart-loop"
        ]
    );
    let restart_loop = &list["items"][3];
    assert_eq!(restart_loop["source"], "directory");
    assert_eq!(restart_loop["description"], "Finds restart loops.");
    assert_eq!(restart_loop["metadata"]["license"], "MIT");
    let problems: Vec<&str> = list["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    for skipped in ["broken", "evil", "fleet-health"] {
        assert!(
            problems.contains(&skipped),
            "{skipped} not reported: {list}"
        );
    }
    assert!(!list.to_string().contains("Outside"));
    // Paged.
    let page = skills(&s, &viewer, "?limit=1&offset=3").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], "restart-loop");
    assert_eq!(page["total"], 4);
    let r = s.get("/api/ai/skills?limit=0", &viewer.access).await;
    field_error(&r, StatusCode::BAD_REQUEST, "limit");

    // Detail: instructions and files, never a file through a link.
    let r = s.get("/api/ai/skills/restart-loop", &viewer.access).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["instructions"], "# Steps\nLook at restarts.");
    assert_eq!(
        r.body["files"],
        json!([{"path": "scripts/check.sh", "size": 11}])
    );
    let r = s
        .get("/api/ai/skills/diagnose-container", &viewer.access)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["source"], "builtin");
    assert!(
        r.body["instructions"]
            .as_str()
            .unwrap()
            .contains("inspect_container")
    );
    // Unknown, linked out, or a path: never read.
    assert_error(
        &s.get("/api/ai/skills/no-such-skill", &viewer.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.get("/api/ai/skills/evil", &viewer.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    for bad in ["..%2F..%2Fetc", "%2e%2e", "Restart-Loop", "a%2Fb"] {
        let r = s
            .get(&format!("/api/ai/skills/{bad}"), &viewer.access)
            .await;
        assert!(
            r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::NOT_FOUND,
            "{bad}: {:?}",
            r.body
        );
        assert!(!r.body.to_string().contains("Outside"));
    }

    // An unreadable directory: the built-in skills, and the problem said.
    s.enable_module(&admin, "ai", json!({"skills_dir": "/no/such/skills/dir"}))
        .await;
    let list = skills(&s, &viewer, "").await;
    assert_eq!(list["total"], 3);
    assert!(
        list["problems"][0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot be read"),
        "{list}"
    );
}
