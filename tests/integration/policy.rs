//! Node security policy (issue 11 items 4–6): compose deploys are checked on the model compose
//! resolves, container creates on the same host-reaching settings, bind sources resolved on the
//! host that mounts them, the data directory out of reach. Each case is refused by the master
//! over HTTP (local endpoint with `docker.default_policy`, and an agent endpoint) and by the worker
//! itself when the command is sent straight down its command stream, past the master.
//!
//! Nothing is deployed when the checks hold; should one fail, the project's containers carry
//! the test prefix and label and its default network is internal, so the guard removes them.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::{Login, TestServer, assert_error};
use super::support::docker::{Cleanup, FusedWorker, IMAGE, docker, engine_available, ensure_image};

/// The policy under test: images from the test registry, binds under `/srv/cb-policy-test`
/// only, nothing else that reaches the host.
fn strict() -> Value {
    json!({"allow_exec": true, "allow_privileged": false,
           "allowed_bind_prefixes": ["/srv/cb-policy-test"], "allowed_images": ["contextbay-test/*"]})
}

/// One service `a` with `body` under it, on an internal default network, and `top` after it.
fn service(body: &str, top: &str) -> String {
    format!(
        "services:\n  a:\n    image: {IMAGE}\n    command: [\"true\"]\n    labels: {{contextbay.test: \"1\"}}\n\
         {body}{top}networks:\n  default:\n    internal: true\n"
    )
}

/// Every case of issue 11 item 4: compose file, `.env`, and what the refusal must say.
fn compose_cases(outside_file: &str) -> Vec<(String, Value, &'static str)> {
    vec![
        (
            service("    volumes: [\"${D}:/h\"]\n", ""),
            json!({"D": "/"}),
            "service 'a': volumes: bind mount of '/'",
        ),
        (
            service(
                "    volumes: [\"v:/h\"]\n",
                "volumes:\n  v:\n    driver_opts: {type: none, o: bind, device: /}\n",
            ),
            json!({}),
            "volume 'v': driver_opts.device: bind mount of '/'",
        ),
        (
            format!(
                "x-base: &base\n  privileged: true\n{}",
                service("    <<: *base\n", "")
            ),
            json!({}),
            "service 'a': privileged",
        ),
        (
            service("    privileged: ${P}\n", ""),
            json!({"P": "true"}),
            "service 'a': privileged",
        ),
        (
            service("    cap_add: [SYS_ADMIN]\n", ""),
            json!({}),
            "service 'a': cap_add 'SYS_ADMIN'",
        ),
        (
            service("    devices: [\"/dev/null:/dev/xnull\"]\n", ""),
            json!({}),
            "service 'a': devices '/dev/null:/dev/xnull'",
        ),
        (
            service("    pid: host\n", ""),
            json!({}),
            "service 'a': pid 'host'",
        ),
        (
            service("    ipc: host\n", ""),
            json!({}),
            "service 'a': ipc 'host'",
        ),
        (
            service("    network_mode: host\n", ""),
            json!({}),
            "service 'a': network_mode 'host'",
        ),
        (
            service("    security_opt: [\"seccomp:unconfined\"]\n", ""),
            json!({}),
            "service 'a': security_opt 'seccomp:unconfined'",
        ),
        (
            service("    userns_mode: host\n", ""),
            json!({}),
            "service 'a': userns_mode 'host'",
        ),
        (
            service("    secrets: [s]\n", "secrets:\n  s: {file: /etc/passwd}\n"),
            json!({}),
            "secret 's': file: '/etc/passwd'",
        ),
        (
            service(
                "    configs: [c]\n",
                "configs:\n  c: {file: /etc/hostname}\n",
            ),
            json!({}),
            "config 'c': file: '/etc/hostname'",
        ),
        (
            service("    env_file: /etc/hostname\n", ""),
            json!({}),
            "service 'a': env_file '/etc/hostname' is outside",
        ),
        (
            format!("include: [\"{outside_file}\"]\n{}", service("", "")),
            json!({}),
            "include",
        ),
        (
            service(
                &format!("    extends: {{file: \"{outside_file}\", service: base}}\n"),
                "",
            ),
            json!({}),
            "service 'a': extends.file",
        ),
        (
            service("    build: /\n", ""),
            json!({}),
            "service 'a': build.context '/' is outside",
        ),
    ]
}

/// Container specs that reach the host, and what the refusal must say.
fn container_cases(c: &Cleanup) -> Vec<(Value, &'static str)> {
    let base = json!({"image": IMAGE, "name": format!("{}-x", c.prefix), "command": ["true"],
                      "labels": {"contextbay.test": "1"}});
    let with = |k: &str, v: Value| {
        let mut s = base.clone();
        s[k] = v;
        s
    };
    vec![
        (with("network_mode", json!("host")), "network_mode 'host'"),
        (
            with("network_mode", json!("container:other")),
            "network_mode 'container:other'",
        ),
        (with("networks", json!(["host"])), "networks[0] 'host'"),
        (with("pid_mode", json!("host")), "pid_mode 'host'"),
        (with("ipc_mode", json!("host")), "ipc_mode 'host'"),
        (with("userns_mode", json!("host")), "userns_mode 'host'"),
        (with("cap_add", json!(["SYS_ADMIN"])), "cap_add 'SYS_ADMIN'"),
        (
            with("devices", json!(["/dev/null:/dev/xnull"])),
            "devices[0]",
        ),
        (
            with("security_opt", json!(["seccomp=unconfined"])),
            "security_opt 'seccomp=unconfined'",
        ),
    ]
}

/// Creates the stack `name` on `endpoint` and deploys it; returns the deploy's answer.
async fn deploy(
    s: &TestServer,
    admin: &Login,
    endpoint: &str,
    name: String,
    compose: &str,
    env: &Value,
) -> super::harness::Reply {
    let stack = s
        .post(
            "/api/stacks",
            &admin.access,
            json!({"name": name, "endpoint": endpoint, "compose": compose, "env": env}),
        )
        .await;
    assert_eq!(stack.status, StatusCode::CREATED, "{:?}", stack.body);
    let id = stack.body["id"].as_str().unwrap().to_owned();
    s.post(
        &format!("/api/stacks/{id}/deploy"),
        &admin.access,
        json!({}),
    )
    .await
}

fn assert_refused(reply: &super::harness::Reply, expected: &str, what: &str) {
    assert_error(reply, StatusCode::FORBIDDEN, "forbidden");
    let error = reply.body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(expected),
        "{error}\n  expected: {expected}\n  for: {what}"
    );
}

/// Every case deployed over HTTP, side by side; each must be refused with its message.
async fn deploys_are_refused(
    s: &TestServer,
    admin: &Login,
    c: &Cleanup,
    endpoint: &str,
    cases: &[(String, Value, &str)],
) {
    let replies = join_all(cases.iter().enumerate().map(|(i, (compose, env, _))| {
        deploy(
            s,
            admin,
            endpoint,
            format!("{}-s{i}", c.prefix),
            compose,
            env,
        )
    }))
    .await;
    for ((compose, _, expected), reply) in cases.iter().zip(replies) {
        assert_refused(&reply, expected, compose);
    }
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &format!("name={}", c.prefix)]).unwrap(),
        "",
        "nothing was created"
    );
}

/// A file outside every stack directory, for `include` and `extends`.
fn outside_file(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("other.yaml");
    std::fs::write(&path, format!("services:\n  base:\n    image: {IMAGE}\n")).unwrap();
    path.display().to_string()
}

#[actix_web::test]
async fn the_master_checks_the_resolved_model_on_the_local_endpoint() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("pol-local");
    let s = TestServer::start_with(|cfg| {
        cfg.docker.local_endpoint = true;
        cfg.docker.default_policy = serde_json::from_value(strict()).unwrap();
    })
    .await;
    let admin = s.setup().await;
    let outside = tempfile::tempdir().unwrap();
    deploys_are_refused(
        &s,
        &admin,
        &c,
        "local",
        &compose_cases(&outside_file(&outside)),
    )
    .await;
    for (spec, expected) in container_cases(&c) {
        let reply = s.post("/api/containers", &admin.access, spec.clone()).await;
        assert_refused(&reply, expected, &spec.to_string());
    }
    // What the policy allows passes the check on its resolved model and deploys.
    let fine = service(
        "    security_opt: [no-new-privileges]\n    volumes: [\"data:/d\"]\n",
        "volumes:\n  data:\n    labels: {contextbay.test: \"1\"}\n",
    );
    let stack = s
        .post(
            "/api/stacks",
            &admin.access,
            json!({"name": format!("{}-ok", c.prefix), "endpoint": "local", "compose": fine}),
        )
        .await;
    let id = stack.body["id"].as_str().unwrap().to_owned();
    let reply =
        super::support::operations::act(&s, &admin.access, &format!("/api/stacks/{id}/deploy"))
            .await;
    let removed = super::support::operations::act(
        &s,
        &admin.access,
        &format!("/api/stacks/{id}/remove?volumes=true"),
    )
    .await;
    assert_eq!(reply.body["state"], "succeeded", "{:?}", reply.body);
    assert_eq!(removed.body["state"], "succeeded", "{:?}", removed.body);
    s.stop().await;
}

/// Without any policy on the local endpoint, the master's data directory stays out of reach:
/// through a variable, a relative path (the stack's directory is inside it), a volume's driver
/// options, a container's bind mount, or a symlink to it.
#[actix_web::test]
async fn the_data_directory_is_out_of_reach_whatever_the_policy() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("pol-data");
    // Everything allowed: the data directory must stay out of reach all the same.
    let s = TestServer::start_with(|cfg| {
        cfg.docker.local_endpoint = true;
        cfg.docker.default_policy = contextbay::policy::SecurityPolicy::unrestricted();
    })
    .await;
    let admin = s.setup().await;
    let data = std::fs::canonicalize(s.data_dir()).unwrap();
    let data = data.display().to_string();
    let cases = vec![
        (
            service("    volumes: [\"${D}:/h\"]\n", ""),
            json!({"D": data}),
            "reaches the ContextBay data directory",
        ),
        (
            service("    volumes: [\"./conf:/c\"]\n", ""),
            json!({}),
            "reaches the ContextBay data directory",
        ),
        (
            service(
                "    volumes: [\"v:/h\"]\n",
                &format!(
                    "volumes:\n  v:\n    driver_opts: {{type: none, o: bind, device: \"{data}\"}}\n"
                ),
            ),
            json!({}),
            "volume 'v': driver_opts.device",
        ),
        (service("    build: ..\n", ""), json!({}), "build.context"),
    ];
    deploys_are_refused(&s, &admin, &c, "local", &cases).await;
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("data-link");
    std::os::unix::fs::symlink(&data, &link).unwrap();
    for source in [data.clone(), link.display().to_string(), "/".into()] {
        let spec = json!({"image": IMAGE, "name": format!("{}-b", c.prefix), "command": ["true"],
                          "labels": {"contextbay.test": "1"},
                          "mounts": [{"type": "bind", "source": source, "target": "/x"}]});
        let reply = s.post("/api/containers", &admin.access, spec).await;
        assert_refused(&reply, "reaches the ContextBay data directory", &source);
    }
    s.stop().await;
}

/// Sends a Docker operation straight down the node's command stream, past every check of the
/// master; returns the worker's refusal (panics if it ran it).
async fn worker_refusal(
    s: &TestServer,
    node: &str,
    op: Value,
) -> contextbay_proto::v1::CommandError {
    use contextbay_proto::v1::{DockerCall, command, command_result};
    let op: contextbay::docker::ops::DockerOp = serde_json::from_value(op).unwrap();
    let call = command::Kind::DockerCall(DockerCall {
        op: op.name().into(),
        args_json: serde_json::to_vec(&op).unwrap(),
    });
    let result = s.state().nodes.command(node, call).await.unwrap();
    match result.outcome {
        Some(command_result::Outcome::Error(refused)) => refused,
        other => panic!("the worker ran {op:?}: {other:?}"),
    }
}

#[actix_web::test]
async fn the_master_and_the_worker_each_check_a_node() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("pol-node");
    let s = TestServer::start_with(|cfg| {
        cfg.fleet.heartbeat_interval_secs = 1;
        cfg.docker.local_endpoint = false;
    })
    .await;
    let admin = s.setup().await;
    let worker = FusedWorker::start(&s, &admin, "pol").await;
    let node = worker.id.clone();
    let put = s
        .put(
            &format!("/api/nodes/{node}/security-policy"),
            &admin.access,
            strict(),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    // The policy reaches the worker with its next heartbeat: wait until it refuses privileged.
    let outside = tempfile::tempdir().unwrap();
    let cases = compose_cases(&outside_file(&outside));

    // The master refuses each over HTTP (its pre-check resolves the model on its own machine).
    deploys_are_refused(&s, &admin, &c, &node, &cases).await;
    for (mut spec, expected) in container_cases(&c) {
        spec["endpoint"] = json!(node);
        let reply = s.post("/api/containers", &admin.access, spec.clone()).await;
        assert_refused(&reply, expected, &spec.to_string());
    }

    // The worker refuses each on its own, resolving the model on its host.
    let refusals = join_all(cases.iter().enumerate().map(|(i, (compose, env, _))| {
        let op = json!({"op": "compose", "run": {
            "stack_id": format!("pol-{i}"), "project": format!("{}-w{i}", c.prefix),
            "compose": compose, "env": env, "action": {"kind": "deploy"}}});
        worker_refusal(&s, &node, op)
    }))
    .await;
    for ((compose, _, expected), refused) in cases.iter().zip(refusals) {
        assert_eq!(refused.code, "forbidden", "{refused:?}");
        assert!(
            refused.message.contains(expected),
            "{}\n  expected: {expected}\n  for: {compose}",
            refused.message
        );
    }
    for (spec, expected) in container_cases(&c) {
        let refused =
            worker_refusal(&s, &node, json!({"op": "create_container", "spec": spec})).await;
        assert_eq!(refused.code, "forbidden", "{refused:?}");
        assert!(refused.message.contains(expected), "{refused:?}");
    }
    // A deploy streamed with its output (`ComposeRun`, what the master uses) is refused too.
    {
        use contextbay_proto::v1::{ComposeRun, command, command_result};
        let run = json!({"stack_id": "pol-stream", "project": format!("{}-ws", c.prefix),
                         "compose": cases[2].0, "env": {}, "action": {"kind": "deploy"}});
        let kind = command::Kind::ComposeRun(ComposeRun {
            run_json: serde_json::to_vec(&run).unwrap(),
        });
        let (pending, _stream) = s
            .state()
            .nodes
            .start_stream(&node, kind, Some(std::time::Duration::from_secs(60)))
            .await
            .unwrap();
        let result = pending.wait().await.unwrap();
        let Some(command_result::Outcome::Error(refused)) = result.outcome else {
            panic!("the worker deployed a privileged service: {result:?}")
        };
        assert_eq!(refused.code, "forbidden", "{refused:?}");
        assert!(
            refused.message.contains("service 'a': privileged"),
            "{refused:?}"
        );
    }

    // Bind sources are resolved on the host that mounts them: a symlink inside an allowed
    // prefix that leads out of it passes the master's pre-check (which compares paths as
    // written) and is refused by the worker, which resolves it; so is the worker's own data
    // directory whatever the policy allows.
    let allowed = tempfile::tempdir().unwrap();
    let allowed_dir = std::fs::canonicalize(allowed.path()).unwrap();
    std::os::unix::fs::symlink("/etc", allowed_dir.join("etc-link")).unwrap();
    let mut open = strict();
    open["allowed_bind_prefixes"] = json!([allowed_dir, "/"]);
    let mut narrow = strict();
    narrow["allowed_bind_prefixes"] = json!([allowed_dir]);
    s.put(
        &format!("/api/nodes/{node}/security-policy"),
        &admin.access,
        narrow,
    )
    .await;
    let bind = |source: String| {
        json!({"endpoint": node, "image": IMAGE, "name": format!("{}-b", c.prefix),
               "command": ["true"], "labels": {"contextbay.test": "1"},
               "mounts": [{"type": "bind", "source": source, "target": "/x"}]})
    };
    let through_link = bind(allowed_dir.join("etc-link").display().to_string());
    let mut last = None;
    // The changed policy reaches the worker with a heartbeat.
    for _ in 0..50 {
        let reply = s
            .post("/api/containers", &admin.access, through_link.clone())
            .await;
        if reply.status == StatusCode::FORBIDDEN {
            last = Some(reply);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let reply = last.expect("the worker refused the symlink");
    assert_refused(&reply, "resolved to '/etc'", "a symlink out of the prefix");
    s.put(
        &format!("/api/nodes/{node}/security-policy"),
        &admin.access,
        open,
    )
    .await;
    let worker_data = std::fs::canonicalize(worker.dir.path()).unwrap();
    let mut refused = None;
    for _ in 0..50 {
        let reply = s
            .post(
                "/api/containers",
                &admin.access,
                bind(worker_data.display().to_string()),
            )
            .await;
        if reply.status == StatusCode::FORBIDDEN {
            refused = Some(reply);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let reply = refused.expect("the worker refused its data directory");
    assert_refused(
        &reply,
        "reaches the ContextBay data directory",
        "the worker's data dir",
    );
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &format!("name={}", c.prefix)]).unwrap(),
        "",
        "nothing was created"
    );
    drop(worker);
    s.stop().await;
}
