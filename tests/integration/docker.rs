//! Docker on the real engine, through the local endpoint and through a worker (agent endpoint).
//! Nothing is pulled: the test image is built from the static busybox binary. Everything is
//! labelled `contextbay.test=1`, on an `--internal` network, and removed by a guard.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::{Login, TestServer, assert_error};
use super::support::docker::{Cleanup, FusedWorker, IMAGE, docker, engine_available, ensure_image};

fn spec(c: &Cleanup, name: &str, endpoint: &str, script: &str) -> Value {
    json!({
        "endpoint": endpoint,
        "image": IMAGE,
        "name": format!("{}-{name}", c.prefix),
        "command": ["sh", "-c", script],
        "networks": [c.network],
        "labels": {"contextbay.test": "1"},
        "start": true,
    })
}

fn state_of(name: &str) -> String {
    docker(&["inspect", "-f", "{{.State.Status}}", name])
        .unwrap_or_else(|e| format!("missing: {e}"))
}

/// create → start → logs → stop → 409 on stop again → start → remove, checked with the CLI.
pub async fn lifecycle(s: &TestServer, admin: &Login, c: &Cleanup, endpoint: &str) {
    let name = format!("{}-life", c.prefix);
    let created = s
        .post(
            "/api/containers",
            &admin.access,
            spec(c, "life", endpoint, "echo hello-from-cb; sleep 600"),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["endpoint"]["id"], endpoint);
    assert_eq!(state_of(&name), "running");

    let mut lines = Value::Null;
    for _ in 0..50 {
        lines = s
            .get(
                &format!("/api/containers/{name}/logs?endpoint={endpoint}&tail=10"),
                &admin.access,
            )
            .await
            .body;
        if lines.to_string().contains("hello-from-cb") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lines["items"][0]["line"], "hello-from-cb", "{lines:?}");
    assert_eq!(lines["items"][0]["stream"], "stdout");

    let listed = s
        .get(
            &format!("/api/containers?endpoint={endpoint}&name={}", c.prefix),
            &admin.access,
        )
        .await;
    assert_eq!(listed.body["total"], 1, "{:?}", listed.body);
    assert_eq!(listed.body["items"][0]["state"], "running");
    assert_eq!(listed.body["items"][0]["endpoint"]["id"], endpoint);
    let one = s
        .get(
            &format!("/api/containers/{name}?endpoint={endpoint}"),
            &admin.access,
        )
        .await;
    assert_eq!(one.body["name"], name);
    let inspect = s
        .get(
            &format!("/api/containers/{name}/inspect?endpoint={endpoint}"),
            &admin.access,
        )
        .await;
    assert_eq!(inspect.body["State"]["Running"], true);

    let stop = s
        .post(
            &format!("/api/containers/{name}/stop?endpoint={endpoint}"),
            &admin.access,
            json!({}),
        )
        .await;
    assert_eq!(stop.status, StatusCode::OK, "{:?}", stop.body);
    assert_eq!(state_of(&name), "exited");
    let again = s
        .post(
            &format!("/api/containers/{name}/stop?endpoint={endpoint}"),
            &admin.access,
            json!({}),
        )
        .await;
    assert_error(&again, StatusCode::CONFLICT, "conflict");
    assert!(
        again.body["error"]
            .as_str()
            .unwrap()
            .contains("not running")
    );
    assert_eq!(
        s.post(
            &format!("/api/containers/{name}/start?endpoint={endpoint}"),
            &admin.access,
            json!({})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(state_of(&name), "running");
    assert_error(
        &s.post(
            &format!("/api/containers/{name}/explode?endpoint={endpoint}"),
            &admin.access,
            json!({}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    let stats = s
        .get(
            &format!("/api/containers/stats?endpoint={endpoint}"),
            &admin.access,
        )
        .await;
    assert!(
        stats.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["name"] == name.as_str()),
        "{:?}",
        stats.body
    );

    let del = s
        .delete(
            &format!("/api/containers/{name}?endpoint={endpoint}&force=true"),
            &admin.access,
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{:?}", del.body);
    assert!(state_of(&name).starts_with("missing"));
    let gone = s
        .get(
            &format!("/api/containers/{name}/logs?endpoint={endpoint}"),
            &admin.access,
        )
        .await;
    assert_error(&gone, StatusCode::NOT_FOUND, "not_found");
}

#[actix_web::test]
async fn containers_on_the_local_endpoint() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("local");
    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    let endpoints = s.get("/api/endpoints", &admin.access).await;
    assert_eq!(endpoints.body["items"][0]["id"], "local");
    assert_eq!(endpoints.body["items"][0]["status"], "up");
    lifecycle(&s, &admin, &c, "local").await;

    // Validation names the field; a missing container is a 404.
    let bad = s
        .post(
            "/api/containers",
            &admin.access,
            json!({"image": IMAGE, "mounts": [{"type": "bind", "source": "rel", "target": "/x"}]}),
        )
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        bad.body["error"]
            .as_str()
            .unwrap()
            .contains("mounts[0].source")
    );
    assert_error(
        &s.get(
            "/api/containers/nope-nope/inspect?endpoint=local",
            &admin.access,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.get("/api/containers/nope-nope", &admin.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // Roles: a viewer reads but cannot act; an operator acts.
    let viewer = s.user(&admin, "dviewer", "viewer").await;
    let operator = s.user(&admin, "doperator", "operator").await;
    let name = format!("{}-roles", c.prefix);
    assert_eq!(
        s.post(
            "/api/containers",
            &viewer.access,
            spec(&c, "roles", "local", "sleep 600")
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.post(
            "/api/containers",
            &operator.access,
            spec(&c, "roles", "local", "sleep 600")
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        s.get("/api/containers?endpoint=local", &viewer.access)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        s.post(
            &format!("/api/containers/{name}/stop"),
            &viewer.access,
            json!({})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        s.post(
            &format!("/api/containers/{name}/stop"),
            &operator.access,
            json!({})
        )
        .await
        .status,
        StatusCode::OK
    );

    // Volumes in use and networks in use answer 409.
    let vol = format!("{}-vol", c.prefix);
    docker(&["volume", "create", "--label", "contextbay.test=1", &vol]).unwrap();
    let mut with_vol = spec(&c, "vol", "local", "sleep 600");
    with_vol["mounts"] = json!([{"type": "volume", "source": vol, "target": "/data"}]);
    assert_eq!(
        s.post("/api/containers", &admin.access, with_vol)
            .await
            .status,
        StatusCode::CREATED
    );
    let vols = s
        .get(&format!("/api/volumes?name={vol}"), &admin.access)
        .await;
    assert_eq!(
        vols.body["items"][0]["used_by"][0],
        format!("{}-vol", c.prefix)
    );
    let busy = s
        .delete(&format!("/api/volumes/{vol}"), &admin.access)
        .await;
    assert_error(&busy, StatusCode::CONFLICT, "conflict");
    let net_busy = s
        .delete(&format!("/api/networks/{}", c.network), &admin.access)
        .await;
    assert_error(&net_busy, StatusCode::CONFLICT, "conflict");
    assert!(net_busy.body["error"].as_str().unwrap().contains("in use"));
    let inspect = s
        .get(
            &format!("/api/networks/{}/inspect", c.network),
            &admin.access,
        )
        .await;
    assert_eq!(inspect.body["Internal"], true);
    let topo = s
        .get("/api/networks/topology?endpoint=local", &admin.access)
        .await;
    assert!(
        topo.body["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["from"] == format!("network:local:{}", c.network))
    );
    s.delete(
        &format!("/api/containers/{}-vol?force=true", c.prefix),
        &admin.access,
    )
    .await;
    assert_eq!(
        s.delete(&format!("/api/volumes/{vol}"), &admin.access)
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    // Images: listed; a pull with no registry reachable fails clearly and quickly.
    let images = s
        .get("/api/images?name=contextbay-test/busybox", &admin.access)
        .await;
    assert!(!images.body["items"].as_array().unwrap().is_empty());
    let started = std::time::Instant::now();
    let pull = s
        .post(
            "/api/images/pull",
            &operator.access,
            json!({"image": "contextbay-test/does-not-exist:1"}),
        )
        .await;
    assert!(
        pull.status.is_client_error() || pull.status.is_server_error(),
        "{:?}",
        pull.body
    );
    assert!(
        pull.body["error"]
            .as_str()
            .unwrap()
            .contains("pull of 'contextbay-test/does-not-exist:1' failed"),
        "{:?}",
        pull.body
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    s.stop().await;
}

#[actix_web::test]
async fn containers_through_a_worker_on_an_agent_endpoint() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("agent");
    let s = TestServer::start_with(|cfg| {
        cfg.fleet.heartbeat_interval_secs = 1;
        // The master has no engine of its own here: everything goes through the worker.
        cfg.docker.local_endpoint = false;
    })
    .await;
    let admin = s.setup().await;
    let worker = FusedWorker::start(&s, &admin, "dock").await;
    let id = worker.id.clone();
    let endpoints = s.get("/api/endpoints", &admin.access).await;
    let agent = endpoints.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(agent["kind"], "agent");
    assert_eq!(agent["status"], "up", "{agent:?}");

    lifecycle(&s, &admin, &c, &id).await;
    // Live logs and an interactive exec travel through the worker's command stream.
    let operator = s.user(&admin, "aop", "operator").await;
    streams::logs_and_exec(&s, &admin, &operator, &c, &id).await;

    // The node's policy is enforced before anything reaches the engine.
    s.put(
        &format!("/api/nodes/{id}/security-policy"),
        &admin.access,
        json!({"allow_exec": true, "allow_privileged": false, "allowed_bind_prefixes": [], "allowed_images": ["contextbay-test/*"]}),
    )
    .await;
    let mut privileged = spec(&c, "priv", &id, "sleep 1");
    privileged["privileged"] = json!(true);
    let refused = s.post("/api/containers", &admin.access, privileged).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap()
            .contains("privileged")
    );
    let mut other_image = spec(&c, "img", &id, "sleep 1");
    other_image["image"] = json!("docker.io/library/alpine");
    assert_error(
        &s.post("/api/containers", &admin.access, other_image).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    // The worker enforces the policy on its own: a command sent past the master's checks, as a
    // compromised or buggy master path would, is refused by the worker.
    worker_refuses_what_the_policy_forbids(&s, &admin, &c, &id).await;
    // Remote errors come back structured: a missing container is a 404 with Docker's words.
    let missing = s
        .get(
            &format!("/api/containers/nope-nope/inspect?endpoint={id}"),
            &admin.access,
        )
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    assert!(
        missing.body["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("no such container"),
        "{:?}",
        missing.body
    );

    drop(worker);
    s.stop().await;
}

/// An engine behind mutual TLS, as a `tcp` endpoint: the host's engine published through a TLS
/// terminator (`stunnel`) that demands a client certificate signed by the test CA, as dockerd's
/// own `--tlsverify` does.
struct TlsEngine {
    dir: tempfile::TempDir,
    port: u16,
    tunnel: std::process::Child,
}

impl TlsEngine {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("openssl is installed");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        for ca in ["ca", "rogue-ca"] {
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                "1",
                "-subj",
                &format!("/CN=cb-test-{ca}"),
            ]);
        }
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (name, ca, ext) in [
            ("server", "ca", "server.ext"),
            ("client", "ca", "client.ext"),
            ("rogue", "rogue-ca", "client.ext"),
        ] {
            openssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "1",
                "-extfile",
                ext,
            ]);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let socket = ["/var/run/docker.sock", "/run/docker.sock"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap();
        std::fs::write(
            d.join("stunnel.conf"),
            format!(
                "foreground = yes\npid =\n[docker]\naccept = 127.0.0.1:{port}\nconnect = {socket}\ncert = {0}/server.pem\nkey = {0}/server.key\nCAfile = {0}/ca.pem\nverifyChain = yes\nrequireCert = yes\n",
                d.display()
            ),
        )
        .unwrap();
        let tunnel = Command::new("stunnel")
            .arg(d.join("stunnel.conf"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("stunnel is installed (scripts/test installs stunnel4)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { dir, port, tunnel }
    }

    fn pem(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }
}

impl Drop for TlsEngine {
    fn drop(&mut self) {
        let _ = self.tunnel.kill();
        let _ = self.tunnel.wait();
    }
}

#[actix_web::test]
async fn containers_on_a_tcp_endpoint_with_client_certificates() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("tcp");
    let tls = TlsEngine::start();
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let url = format!("tcp://127.0.0.1:{}", tls.port);

    // A client certificate from another CA is refused by the engine's TLS: the endpoint is down.
    let rogue = s
        .post(
            "/api/endpoints",
            &admin.access,
            json!({"name": "rogue", "url": url, "tls": {"ca": tls.pem("ca.pem"), "cert": tls.pem("rogue.pem"), "key": tls.pem("rogue.key")}}),
        )
        .await;
    assert_eq!(rogue.status, StatusCode::CREATED, "{:?}", rogue.body);
    assert_eq!(rogue.body["status"], "down", "{:?}", rogue.body);
    let rogue_id = rogue.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        s.delete(&format!("/api/endpoints/{rogue_id}"), &admin.access)
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    let created = s
        .post(
            "/api/endpoints",
            &admin.access,
            json!({"name": "tls-engine", "url": url, "tls": {"ca": tls.pem("ca.pem"), "cert": tls.pem("client.pem"), "key": tls.pem("client.key")}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["status"], "up", "{:?}", created.body);
    assert_eq!(created.body["kind"], "tcp");
    assert_eq!(created.body["tls"], true);
    let id = created.body["id"].as_str().unwrap().to_owned();
    // The key material is never shown back.
    let listed = s.get("/api/endpoints", &admin.access).await;
    assert!(
        !listed.body.to_string().contains("BEGIN"),
        "{:?}",
        listed.body
    );

    // Its health and its engine's events are followed: `endpoint.status` says it is up, and
    // containers changing there are published as `container.update` with this endpoint.
    let mut events = streams::open(
        &s,
        "/api/ws?topics=endpoint.status,container.update",
        &admin.access,
    )
    .await
    .unwrap();
    assert_eq!(streams::next(&mut events).await["type"], "hello");
    loop {
        let e = streams::next(&mut events).await;
        if e["type"] == "endpoint.status" && e["payload"]["id"] == id.as_str() {
            assert_eq!(e["payload"]["status"], "up", "{e:?}");
            break;
        }
    }
    // The event stream opens right after the first probe.
    tokio::time::sleep(Duration::from_secs(1)).await;

    // The whole container lifecycle, through TLS.
    lifecycle(&s, &admin, &c, &id).await;
    let name = format!("{}-life", c.prefix);
    loop {
        let e = streams::next(&mut events).await;
        if e["type"] == "container.update" && e["payload"]["attributes"]["name"] == name.as_str() {
            assert_eq!(e["payload"]["endpoint"], id.as_str(), "{e:?}");
            break;
        }
    }
    s.stop().await;
}

/// Sends commands straight down the node's command stream (skipping the master's HTTP checks)
/// and expects the worker to refuse what the node's policy forbids.
async fn worker_refuses_what_the_policy_forbids(
    s: &TestServer,
    admin: &Login,
    c: &Cleanup,
    node: &str,
) {
    use contextbay_proto::v1::{DockerCall, ExecOpen, command, command_result};
    s.put(
        &format!("/api/nodes/{node}/security-policy"),
        &admin.access,
        json!({"allow_exec": false, "allow_privileged": false, "allowed_bind_prefixes": [], "allowed_images": ["contextbay-test/*"]}),
    )
    .await;
    let mut privileged = spec(c, "bypass", node, "sleep 1");
    privileged["privileged"] = json!(true);
    privileged.as_object_mut().unwrap().remove("endpoint");
    let op = json!({"op": "create_container", "spec": privileged});
    let op: contextbay::docker::ops::DockerOp = serde_json::from_value(op).unwrap();
    let call = || {
        command::Kind::DockerCall(DockerCall {
            op: op.name().into(),
            args_json: serde_json::to_vec(&op).unwrap(),
        })
    };
    // Privileged containers were refused from registration on (the default policy).
    let result = s.state().nodes.command(node, call()).await.unwrap();
    let Some(command_result::Outcome::Error(refused)) = result.outcome else {
        panic!("the worker ran a privileged container: {result:?}")
    };
    assert_eq!(refused.code, "forbidden", "{refused:?}");
    assert!(refused.message.contains("privileged"), "{refused:?}");
    assert!(
        docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("name={}-bypass", c.prefix)
        ])
        .unwrap()
        .is_empty(),
        "nothing was created"
    );
    // So is a compose deploy with a privileged service, and the master refuses it as a stack.
    let compose = format!(
        "services:\n  x:\n    image: {IMAGE}\n    privileged: true\n    labels: {{contextbay.test: \"1\"}}\n"
    );
    let deploy: contextbay::docker::ops::DockerOp = serde_json::from_value(json!({
        "op": "compose",
        "run": {"stack_id": "policy-test", "project": format!("{}-pol", c.prefix), "compose": compose,
                "env": {}, "action": {"kind": "deploy"}}
    }))
    .unwrap();
    let result = s
        .state()
        .nodes
        .command(
            node,
            command::Kind::DockerCall(DockerCall {
                op: deploy.name().into(),
                args_json: serde_json::to_vec(&deploy).unwrap(),
            }),
        )
        .await
        .unwrap();
    let Some(command_result::Outcome::Error(refused)) = result.outcome else {
        panic!("the worker deployed a privileged service: {result:?}")
    };
    assert_eq!(refused.code, "forbidden", "{refused:?}");
    let stack = s
        .post(
            "/api/stacks",
            &admin.access,
            json!({"name": format!("{}-pol", c.prefix), "endpoint": node, "compose": compose}),
        )
        .await;
    assert_eq!(stack.status, StatusCode::CREATED, "{:?}", stack.body);
    let stack_id = stack.body["id"].as_str().unwrap().to_owned();
    let deployed = s
        .post(
            &format!("/api/stacks/{stack_id}/deploy"),
            &admin.access,
            json!({}),
        )
        .await;
    assert_error(&deployed, StatusCode::FORBIDDEN, "forbidden");
    assert!(
        deployed.body["error"]
            .as_str()
            .unwrap()
            .contains("privileged"),
        "{:?}",
        deployed.body
    );
    assert_eq!(
        s.delete(&format!("/api/stacks/{stack_id}"), &admin.access)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    // Exec is refused by the worker once the changed policy reaches it (next heartbeat).
    let mut last = None;
    for _ in 0..50 {
        let open = command::Kind::ExecOpen(ExecOpen {
            container: "anything".into(),
            cmd: vec!["sh".into()],
            ..Default::default()
        });
        let (result, _stream) = s.state().nodes.open_stream(node, open).await.unwrap();
        if let Some(command_result::Outcome::Error(e)) = &result.outcome
            && e.code == "forbidden"
        {
            last = Some(e.message.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        last.as_deref().is_some_and(|m| m.contains("exec")),
        "{last:?}"
    );
    s.put(
        &format!("/api/nodes/{node}/security-policy"),
        &admin.access,
        json!({"allow_exec": true, "allow_privileged": false, "allowed_bind_prefixes": [], "allowed_images": ["contextbay-test/*"]}),
    )
    .await;
}

pub(crate) mod streams {
    use std::time::{Duration, Instant};

    use futures_util::{SinkExt, StreamExt};
    use reqwest::StatusCode;
    use serde_json::{Value, json};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    use super::super::harness::{Login, TestServer};
    use super::{Cleanup, docker, engine_available, ensure_image, spec};

    type Ws = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    pub(super) async fn open(
        s: &TestServer,
        path: &str,
        token: &str,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut req = s.ws_url(path).into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        tokio_tungstenite::connect_async(req)
            .await
            .map(|(ws, _)| ws)
    }

    pub(super) async fn next(ws: &mut Ws) -> Value {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) => {
                        return serde_json::from_str::<Value>(&t).unwrap();
                    }
                    Some(Ok(Message::Close(_))) | None => return json!({"type": "closed"}),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return json!({"type": "closed", "error": e.to_string()}),
                }
            }
        })
        .await
        .expect("no frame within 10 s")
    }

    /// Live logs and an exec session on `endpoint`: history then a live line, operator refused,
    /// `echo hi` prints hi, the exit code comes back, a missing container is a 404.
    pub async fn logs_and_exec(
        s: &TestServer,
        admin: &Login,
        operator: &Login,
        c: &Cleanup,
        endpoint: &str,
    ) {
        let name = format!("{}-stream", c.prefix);
        assert_eq!(
            s.post(
                "/api/containers",
                &admin.access,
                spec(c, "stream", endpoint, "echo first-line; sleep 600")
            )
            .await
            .status,
            StatusCode::CREATED
        );

        // History first, then a line written later arrives live.
        let mut logs = open(
            s,
            &format!("/api/containers/{name}/logs/ws?tail=10&endpoint={endpoint}"),
            &admin.access,
        )
        .await
        .unwrap();
        let first = next(&mut logs).await;
        assert_eq!(first["type"], "log", "{first:?}");
        assert_eq!(first["line"], "first-line");
        let mut latencies = Vec::new();
        for n in 0..5 {
            let marker = format!("live-{n}");
            let written = Instant::now();
            docker(&[
                "exec",
                &name,
                "sh",
                "-c",
                &format!("echo {marker} > /proc/1/fd/1"),
            ])
            .unwrap();
            let got = next(&mut logs).await;
            latencies.push(written.elapsed());
            assert_eq!(got["line"], marker.as_str(), "{got:?}");
        }
        latencies.sort();
        // Includes the `docker exec` round trip; recorded, not asserted (see docs/performance.md).
        eprintln!(
            "perf: log write (docker exec) -> /logs/ws receive on {endpoint}, median {:?}, max {:?}",
            latencies[2], latencies[4]
        );

        // Exec: admin only; `echo hi` prints hi and the exit code comes back.
        let refused = open(
            s,
            &format!("/api/containers/{name}/exec/ws?endpoint={endpoint}"),
            &operator.access,
        )
        .await;
        match refused {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
            other => panic!(
                "an operator opened an exec session: {:?}",
                other.map(|_| ())
            ),
        }
        let mut shell = open(
            s,
            &format!("/api/containers/{name}/exec/ws?tty=false&cmd=/bin/sh&endpoint={endpoint}"),
            &admin.access,
        )
        .await
        .unwrap();
        shell
            .send(Message::Text(
                json!({"type": "input", "data": "echo hi\nexit 3\n"})
                    .to_string()
                    .into(),
            ))
            .await
            .unwrap();
        let mut output = String::new();
        let exit = loop {
            let frame = next(&mut shell).await;
            match frame["type"].as_str() {
                Some("output") => output.push_str(frame["data"].as_str().unwrap()),
                Some("exit") => break frame["code"].clone(),
                other => panic!("unexpected frame {other:?}: {frame:?}"),
            }
        };
        assert!(output.contains("hi"), "{output:?}");
        assert_eq!(exit, 3);
        let missing = open(
            s,
            &format!("/api/containers/no-such-container/logs/ws?endpoint={endpoint}"),
            &admin.access,
        )
        .await;
        assert!(
            matches!(missing, Err(tokio_tungstenite::tungstenite::Error::Http(res)) if res.status() == 404)
        );
    }

    #[actix_web::test]
    async fn live_logs_and_exec_on_the_local_endpoint() {
        if !engine_available() {
            return;
        }
        ensure_image();
        let c = Cleanup::new("streams");
        let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
        let admin = s.setup().await;
        let operator = s.user(&admin, "sop", "operator").await;
        logs_and_exec(&s, &admin, &operator, &c, "local").await;
        s.stop().await;
    }

    #[actix_web::test]
    async fn docker_events_reach_the_event_stream() {
        if !engine_available() {
            return;
        }
        ensure_image();
        let c = Cleanup::new("events");
        let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
        let admin = s.setup().await;
        let mut events = open(&s, "/api/ws?topics=container.update", &admin.access)
            .await
            .unwrap();
        assert_eq!(next(&mut events).await["type"], "hello");
        let name = format!("{}-ev", c.prefix);
        // Made with the CLI, not the API: the master learns of it from the engine's events.
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &c.network,
            "--label",
            "contextbay.test=1",
            super::IMAGE,
            "sleep",
            "600",
        ])
        .unwrap();
        docker(&["stop", "-t", "1", &name]).unwrap();
        let mut actions = Vec::new();
        while !actions.contains(&"die".to_owned()) {
            let e = next(&mut events).await;
            assert_eq!(e["type"], "container.update", "{e:?}");
            if e["payload"]["attributes"]["name"] == name.as_str() {
                assert_eq!(e["payload"]["endpoint"], "local");
                actions.push(e["payload"]["action"].as_str().unwrap().to_owned());
            }
        }
        assert!(actions.contains(&"start".to_owned()), "{actions:?}");
        s.stop().await;
    }
}

/// `GET /api/containers` with 200 running containers on the local endpoint: p50/p95 of the
/// list (all 200 in one page) next to `GET /api/health` in the same run. No timing asserts; run
/// with `cargo test --release --test integration -- --ignored perf_containers --nocapture` and
/// copy the figures into docs/performance.md.
#[actix_web::test]
#[ignore = "performance figures, run by hand"]
async fn perf_containers_list_with_200_containers() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let c = Cleanup::new("perf200");
    // Started with the CLI, several at a time: 200 `sleep` processes on an internal network.
    let names: Vec<String> = (0..200).map(|i| format!("{}-{i}", c.prefix)).collect();
    for chunk in names.chunks(8) {
        let runs: Vec<_> = chunk
            .iter()
            .map(|name| {
                Command::new("docker")
                    .args([
                        "run",
                        "-d",
                        "--name",
                        name,
                        "--network",
                        &c.network,
                        "--label",
                        "contextbay.test=1",
                        IMAGE,
                        "sleep",
                        "3600",
                    ])
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut run in runs {
            assert!(run.wait().unwrap().success());
        }
    }
    // The master starts after the containers, so no pooled connection idles past its keep-alive.
    let s = TestServer::start_with(|cfg| cfg.docker.local_endpoint = true).await;
    let admin = s.setup().await;
    let path = format!("/api/containers?endpoint=local&name={}&limit=500", c.prefix);
    let first = s.get(&path, &admin.access).await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 200);

    let client = reqwest::Client::new();
    let time = |p: String| {
        let client = client.clone();
        let url = format!("{}{p}", s.base);
        let token = admin.access.clone();
        async move {
            let t = std::time::Instant::now();
            let res = client.get(url).bearer_auth(token).send().await.unwrap();
            assert!(res.status().is_success());
            let _ = res.bytes().await.unwrap();
            t.elapsed()
        }
    };
    let (mut list, mut health) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        time(path.clone()).await;
    }
    for _ in 0..200 {
        list.push(time(path.clone()).await);
        health.push(time("/api/health".into()).await);
    }
    list.sort();
    health.sort();
    let q = |v: &[Duration], p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "perf: GET /api/containers (200 containers, one page): p50 {:?}, p95 {:?}, max {:?}; GET /api/health p50 {:?}, p95 {:?}",
        q(&list, 0.5),
        q(&list, 0.95),
        list[list.len() - 1],
        q(&health, 0.5),
        q(&health, 0.95)
    );
    s.stop().await;
}

/// A second, throw-away Docker engine in swarm mode (its own data root, exec root and
/// containerd; no bridge, no iptables) in its own network namespace, so nothing it does to
/// interfaces (swarm's `docker_gwbridge`, the default bridge it declines to keep) touches the
/// host's engine. It is published on the host's loopback by forwarding a TCP port to its Unix
/// socket (sockets on the filesystem are not bound to a network namespace). The host's engine is
/// never put into swarm mode.
struct SwarmEngine {
    dir: tempfile::TempDir,
    port: u16,
    netns: String,
    dockerd: std::process::Child,
    forwarder: Option<LoopbackForwarder>,
}

impl SwarmEngine {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let netns = format!(
            "cbt-swarm-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        run(&["ip", "netns", "add", &netns]);
        run(&["ip", "-n", &netns, "link", "set", "lo", "up"]);
        let socket = d.join("docker.sock");
        // `nsenter --net` and not `ip netns exec`: the latter remounts /sys, hiding the cgroup
        // mounts dockerd needs.
        let dockerd = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{netns}"))
            .arg("dockerd")
            .args([
                "--data-root",
                &d.join("root").to_string_lossy(),
                "--exec-root",
                &d.join("exec").to_string_lossy(),
                "--pidfile",
                &d.join("pid").to_string_lossy(),
                "-H",
                &format!("unix://{}", socket.display()),
                "--bridge",
                "none",
                "--iptables=false",
                "--ip6tables=false",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dockerd and nsenter are installed");
        let forwarder = LoopbackForwarder::start(socket);
        let engine = Self {
            dir,
            port: forwarder.port,
            netns,
            dockerd,
            forwarder: Some(forwarder),
        };
        for _ in 0..100 {
            if engine
                .docker(&["info", "--format", "{{.ServerVersion}}"])
                .is_ok()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        engine
            .docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"])
            .unwrap();
        // The test image, copied over from the host's engine (nothing is pulled).
        let loaded = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "docker save {IMAGE} | docker -H unix://{} load",
                engine.dir.path().join("docker.sock").display()
            ))
            .output()
            .unwrap();
        assert!(loaded.status.success(), "{loaded:?}");
        engine
    }

    fn docker(&self, args: &[&str]) -> Result<String, String> {
        let host = format!("unix://{}", self.dir.path().join("docker.sock").display());
        let mut all = vec!["-H", host.as_str()];
        all.extend_from_slice(args);
        docker(&all)
    }
}

impl Drop for SwarmEngine {
    fn drop(&mut self) {
        let _ = self.docker(&["swarm", "leave", "--force"]);
        let _ = Command::new("kill")
            .arg(self.dockerd.id().to_string())
            .status();
        let _ = self.dockerd.wait();
        drop(self.forwarder.take());
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.netns])
            .status();
    }
}

/// Runs a command that must succeed.
fn run(argv: &[&str]) {
    let out = Command::new(argv[0]).args(&argv[1..]).output().unwrap();
    assert!(out.status.success(), "{argv:?}: {out:?}");
}

/// Accepts TCP connections on a loopback port of the host's network namespace and relays each to
/// a Unix socket, until dropped.
struct LoopbackForwarder {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LoopbackForwarder {
    fn start(socket: std::path::PathBuf) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let (Ok(tcp), Ok(unix)) = (conn, std::os::unix::net::UnixStream::connect(&socket))
                else {
                    continue;
                };
                let (mut tcp_in, mut unix_out) =
                    (tcp.try_clone().unwrap(), unix.try_clone().unwrap());
                let (mut unix_in, mut tcp_out) = (unix, tcp);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut tcp_in, &mut unix_out);
                    let _ = unix_out.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut unix_in, &mut tcp_out);
                    let _ = tcp_out.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Self {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for LoopbackForwarder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[actix_web::test]
async fn swarm_services_of_an_endpoint_in_swarm_mode() {
    if !engine_available() {
        return;
    }
    ensure_image();
    let swarm = SwarmEngine::start();
    let name = format!(
        "cbt-swarm-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    swarm
        .docker(&[
            "service",
            "create",
            "--detach",
            "--name",
            &name,
            "--label",
            "contextbay.test=1",
            "--restart-condition",
            "none",
            IMAGE,
            "sleep",
            "600",
        ])
        .unwrap();
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "swarmview", "viewer").await;
    let created = s
        .post(
            "/api/endpoints",
            &admin.access,
            json!({"name": "swarm", "url": format!("http://127.0.0.1:{}", swarm.port)}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_eq!(created.body["status"], "up", "{:?}", created.body);
    let endpoint = created.body["id"].as_str().unwrap().to_owned();

    // Listed with its replicas and, once its task runs, its container.
    let mut service = Value::Null;
    for _ in 0..100 {
        let list = s
            .get(
                &format!("/api/services?endpoint={endpoint}"),
                &viewer.access,
            )
            .await;
        assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
        if let Some(found) = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["service"] == name.as_str())
            && found["running"] == 1
        {
            service = found.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(service["kind"], "swarm", "{service:?}");
    assert_eq!(service["replicas"], 1);
    assert_eq!(service["image"], IMAGE);
    let id = service["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with(&format!("{endpoint}:")), "{id}");
    assert_eq!(
        s.get(&format!("/api/services/{id}"), &viewer.access)
            .await
            .body["service"],
        name.as_str()
    );

    // CB's health snapshot is kept for it; a viewer cannot remove it; an operator can.
    let health = s
        .put(
            &format!("/api/services/{id}/health"),
            &admin.access,
            json!({"status": "degraded", "detail": "one replica slow"}),
        )
        .await;
    assert_eq!(health.status, StatusCode::OK, "{:?}", health.body);
    assert_eq!(
        s.get(&format!("/api/services/{id}"), &admin.access)
            .await
            .body["health"]["status"],
        "degraded"
    );
    assert_error(
        &s.delete(&format!("/api/services/{id}"), &viewer.access)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        s.delete(&format!("/api/services/{id}"), &admin.access)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(swarm.docker(&["service", "ls", "-q"]).unwrap(), "");
    assert_error(
        &s.get(&format!("/api/services/{id}"), &admin.access).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.get(&format!("/api/services/{endpoint}:a:b:c"), &admin.access)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    s.stop().await;
}
