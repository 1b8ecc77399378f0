//! Docker endpoints: which engine an operation runs on, and running it there. `local` runs on the
//! master's own engine, `tcp` on a remote engine over TLS, `agent` travels down the node's command
//! stream as a `DockerCall` and the worker runs the same [`execute`] against its engine.

use contextbay_proto::v1::{DockerCall, command, command_result};
use serde::Serialize;
use serde_json::Value;

use contextbay_actors::Probe;

use crate::docker::Engine;
use crate::docker::compose::ComposeHost;
use crate::docker::events::ObjectUpdate;
use crate::docker::ops::{DockerOp, execute};
use crate::docker::remote::TlsMaterial;
use crate::policy::SecurityPolicy;
use crate::state::AppState;
use crate::store::endpoints::StoredEndpoint;

pub const LOCAL: &str = "local";

/// Why an operation failed, with what the engine or worker said. Mapped once into the error
/// table (`From<EndpointError> for ApiError` in `http::endpoints`).
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// No endpoint with this id.
    #[error("no endpoint '{0}'")]
    NotFound(String),
    /// The engine answered with an HTTP status (404 no such container, 409 conflict, …).
    #[error("{}", engine_words(.message))]
    Docker {
        status: Option<u16>,
        message: String,
    },
    /// The worker reported a failure (its structured error, correlated to the request id).
    #[error("{}", remote_words(.message, *.exit_code, .stderr))]
    Remote {
        message: String,
        code: String,
        docker_status: Option<u32>,
        exit_code: Option<i32>,
        stderr: String,
        request_id: String,
    },
    /// The engine or worker cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    /// Something that should not happen (shown to clients as an internal error).
    #[error("{0}")]
    Internal(String),
    /// Reading the endpoint from the store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl EndpointError {
    /// The structured error a worker answered request `request_id` with.
    pub fn remote(err: contextbay_proto::v1::CommandError, request_id: String) -> Self {
        Self::Remote {
            message: err.message,
            code: err.code,
            docker_status: err.docker_status,
            exit_code: err.exit_code,
            stderr: err.stderr,
            request_id,
        }
    }

    /// The HTTP-like status the engine or worker answered with, if any (400, 403, 404, 409…).
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::NotFound(_) => Some(404),
            Self::Docker { status, .. } => *status,
            Self::Remote {
                code,
                docker_status,
                ..
            } => match code.as_str() {
                "forbidden" => Some(403),
                "invalid_argument" | "bad_request" => Some(400),
                "not_found" => Some(404),
                _ => docker_status.and_then(|s| u16::try_from(s).ok()),
            },
            Self::Unavailable(_) | Self::Internal(_) | Self::Store(_) => None,
        }
    }
}

impl From<crate::docker::DockerError> for EndpointError {
    fn from(e: crate::docker::DockerError) -> Self {
        match e {
            crate::docker::DockerError::Unavailable(m) => Self::Unavailable(m),
            other => Self::Docker {
                status: other.status(),
                message: other.to_string(),
            },
        }
    }
}

/// Strips bollard's "docker engine answered 404: " prefix so people read Docker's own words.
fn engine_words(message: &str) -> String {
    message
        .split_once(": ")
        .filter(|(head, _)| head.starts_with("docker engine answered"))
        .map_or_else(|| message.to_owned(), |(_, rest)| rest.to_owned())
}

/// A worker's failure for people: the engine's words, the exit code and the start of stderr.
fn remote_words(message: &str, exit_code: Option<i32>, stderr: &str) -> String {
    let mut text = engine_words(message);
    if let Some(code) = exit_code {
        text.push_str(&format!(" (exit code {code})"));
    }
    if !stderr.is_empty() {
        text.push_str(&format!(
            "; stderr: {}",
            stderr.chars().take(500).collect::<String>()
        ));
    }
    text
}

/// An endpoint as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EndpointRef {
    pub id: String,
    pub name: String,
    /// `local`, `agent` or `tcp`.
    pub kind: String,
    pub node_id: Option<String>,
}

impl From<&StoredEndpoint> for EndpointRef {
    fn from(e: &StoredEndpoint) -> Self {
        Self {
            id: e.id.clone(),
            name: e.name.clone(),
            kind: e.kind.clone(),
            node_id: e.node_id.clone(),
        }
    }
}

/// Records the local engine as an endpoint when the master has one.
pub async fn ensure_local(state: &AppState) -> anyhow::Result<()> {
    if state.docker.is_some() {
        state
            .store
            .endpoints()
            .ensure(&StoredEndpoint {
                id: LOCAL.into(),
                name: LOCAL.into(),
                kind: "local".into(),
                node_id: None,
                url: None,
                tls: None,
                created_at: 0,
            })
            .await?;
    }
    Ok(())
}

/// Records a fused node's engine as an `agent` endpoint (id = node id).
pub async fn ensure_agent(state: &AppState, node_id: &str, hostname: &str) -> anyhow::Result<()> {
    state
        .store
        .endpoints()
        .ensure(&StoredEndpoint {
            id: node_id.to_owned(),
            name: format!(
                "agent-{hostname}-{}",
                &node_id[node_id.len().saturating_sub(6)..]
            ),
            kind: "agent".into(),
            node_id: Some(node_id.to_owned()),
            url: None,
            tls: None,
            created_at: 0,
        })
        .await?;
    Ok(())
}

pub async fn get(state: &AppState, id: &str) -> Result<StoredEndpoint, EndpointError> {
    match state.store.endpoints().get(id).await {
        Ok(e) => Ok(e),
        Err(crate::store::StoreError::NotFound(_)) => Err(EndpointError::NotFound(id.to_owned())),
        Err(e) => Err(e.into()),
    }
}

/// The security policy that holds on endpoint `e`: an agent endpoint's node's; for `local` and
/// `tcp` endpoints the one an admin gave the endpoint, else `[docker] default_policy`. A stored
/// policy that cannot be read falls back to the default, never to something looser.
pub async fn security_policy(
    state: &AppState,
    e: &StoredEndpoint,
) -> Result<SecurityPolicy, EndpointError> {
    if let Some(node) = &e.node_id {
        let host = state.store.hosts().get(node).await?;
        return Ok(SecurityPolicy::from_stored(&host.security_policy));
    }
    let own = match state.store.endpoints().security_policy(&e.id).await {
        Ok(own) => own,
        Err(crate::store::StoreError::NotFound(_)) => None,
        Err(err) => return Err(err.into()),
    };
    let parsed = own.and_then(|json| match serde_json::from_str::<SecurityPolicy>(&json) {
        Ok(p) => Some(p),
        Err(err) => {
            tracing::warn!(endpoint = %e.id, %err, "unreadable endpoint policy; using the default");
            None
        }
    });
    Ok(parsed.unwrap_or_else(|| state.config.docker.default_policy.clone()))
}

pub async fn all(state: &AppState) -> Result<Vec<StoredEndpoint>, EndpointError> {
    Ok(state.store.endpoints().all().await?)
}

fn tcp_engine(state: &AppState, e: &StoredEndpoint) -> Result<Engine, EndpointError> {
    let url = e
        .url
        .as_deref()
        .ok_or_else(|| EndpointError::Unavailable("endpoint has no URL".into()))?;
    let dir = state.config.storage.data_dir.join("endpoints").join(&e.id);
    let stacks = state.config.storage.data_dir.join("stacks");
    let engine = match &e.tls {
        Some(sealed) => {
            let json = state
                .secret_box
                .open(sealed)
                .map_err(|err| EndpointError::Unavailable(err.to_string()))?;
            let m: Value = serde_json::from_str(&json)
                .map_err(|err| EndpointError::Unavailable(err.to_string()))?;
            let field = |k: &str| {
                m.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (ca, cert, key) = (field("ca"), field("cert"), field("key"));
            Engine::connect_remote(
                url,
                Some(TlsMaterial {
                    ca: &ca,
                    cert: &cert,
                    key: &key,
                }),
                &dir,
            )?
            .with_compose(ComposeHost::remote(url, Some(dir), stacks))
        }
        None => Engine::connect_remote(url, None, &dir)?
            .with_compose(ComposeHost::remote(url, None, stacks)),
    };
    Ok(engine)
}

/// How often the watcher looks for added or removed endpoints and follows agent endpoints'
/// nodes.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// How often each endpoint's engine is asked for its version, in watcher rounds (agent
/// endpoints' up/down follows their node's connection every round, which costs nothing).
const PROBE_EVERY: u32 = 6;
/// How long a probe may take.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Watches every endpoint for as long as the master runs (supervised as `endpoint-watcher`;
/// the follower and probe tasks it spawns end with it):
/// - follows the Docker event stream of each `local` and `tcp` engine (agent endpoints' events
///   come from their workers) and publishes each event as `container.update`, `image.update`,
///   `volume.update` or `network.update` (payload `{endpoint, id, type, action, attributes,
///   time}`), reconnecting after errors;
/// - keeps each endpoint's health in the endpoint registry (which publishes `endpoint.status`
///   when it changes, and at the watcher's first check of each endpoint): engines are probed in spawned tasks, a new endpoint at once and the
///   others every `PROBE_EVERY` rounds; an agent endpoint is up while its node's worker is
///   connected.
pub async fn watch(state: AppState) -> Result<(), String> {
    use std::collections::HashMap;
    use tokio::task::{AbortHandle, JoinSet};
    // Owned by this future: when it ends or is aborted, every follower and probe ends with it.
    let mut followers_set = JoinSet::new();
    let mut followers: HashMap<String, AbortHandle> = HashMap::new();
    let mut probes = JoinSet::new();
    let mut probing: HashMap<String, AbortHandle> = HashMap::new();
    let mut probed: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut tick = 0u32;
    loop {
        let list = all(&state)
            .await
            .map_err(|e| format!("listing endpoints: {e}"))?;
        while followers_set.try_join_next().is_some() {}
        while probes.try_join_next().is_some() {}
        followers.retain(|id, task| {
            let keep = list.iter().any(|e| &e.id == id) && !task.is_finished();
            if !keep {
                task.abort();
            }
            keep
        });
        probing.retain(|_, task| !task.is_finished());
        probed.retain(|id| list.iter().any(|e| &e.id == id));
        let ids = list.iter().map(|e| e.id.clone()).collect();
        state
            .endpoint_health
            .retain(ids)
            .await
            .map_err(|e| e.to_string())?;
        for e in &list {
            if !followers.contains_key(&e.id)
                && let Ok(Some(engine)) = engine(&state, e)
            {
                let task = followers_set.spawn(follow_events(&state, e.id.clone(), engine));
                followers.insert(e.id.clone(), task);
            }
            let first = !probed.contains(&e.id);
            let due = tick.is_multiple_of(PROBE_EVERY) || first;
            if e.kind == "agent" && !due {
                // Between version probes an agent endpoint follows its node's connection.
                follow_node(&state, e).await;
            } else if due && !probing.contains_key(&e.id) {
                probed.insert(e.id.clone());
                let (state, e) = (state.clone(), e.clone());
                let id = e.id.clone();
                let task = probes.spawn(async move {
                    let probe = probe(&state, &e).await;
                    // The first check of an endpoint is announced even when a request checked
                    // it already, so that a client watching `endpoint.status` hears of it.
                    let _ = if first {
                        state.endpoint_health.announce(&e.id, probe).await
                    } else {
                        state.endpoint_health.report(&e.id, probe).await
                    };
                });
                probing.insert(id, task);
            }
        }
        tick = tick.wrapping_add(1);
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

/// `Ok` while agent endpoint `e`'s node has its worker connected (here, or in a cluster to the
/// master that owns the node), else why not.
async fn node_connected(state: &AppState, e: &StoredEndpoint) -> Result<(), String> {
    let node = e.node_id.as_deref().unwrap_or(&e.id);
    crate::cluster::nodes::reachable(state, node).await
}

/// Records agent endpoint `e` as up or down after its node's connection, now (no engine call).
pub async fn follow_node(state: &AppState, e: &StoredEndpoint) {
    let probe = match node_connected(state, e).await {
        Ok(()) => Probe::up(None),
        Err(why) => Probe::down(why),
    };
    if let Err(err) = state.endpoint_health.report(&e.id, probe).await {
        tracing::warn!(endpoint = %e.id, %err, "recording endpoint health");
    }
}

/// Asks endpoint `e`'s engine for its version, now: up with the version, or down and why. An
/// agent endpoint is up while its node's worker is connected (as between probes); the probe
/// through the worker only learns the engine's version, so the status cannot flap.
pub async fn probe(state: &AppState, e: &StoredEndpoint) -> Probe {
    if e.kind == "agent"
        && let Err(why) = node_connected(state, e).await
    {
        return Probe::down(why);
    }
    let answer = tokio::time::timeout(PROBE_TIMEOUT, call(state, e, DockerOp::Version)).await;
    match answer {
        Ok(Ok(v)) => Probe::up(v.get("version").and_then(Value::as_str).map(str::to_owned)),
        _ if e.kind == "agent" => Probe::up(None),
        Ok(Err(err)) => Probe::down(err.to_string()),
        Err(_) => Probe::down("no answer within 5 s"),
    }
}

/// Probes endpoint `e` now and records the result (a new endpoint, or one never checked).
pub async fn check_now(state: &AppState, e: &StoredEndpoint) -> Probe {
    let probe = probe(state, e).await;
    if let Err(err) = state.endpoint_health.report(&e.id, probe.clone()).await {
        tracing::warn!(endpoint = %e.id, %err, "recording endpoint health");
    }
    probe
}

/// Follows one engine's event stream and publishes what it reports, until dropped.
fn follow_events(
    state: &AppState,
    endpoint: String,
    engine: Engine,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let events_out = state.events.clone();
    async move {
        use futures_util::StreamExt;
        loop {
            let mut events = Box::pin(engine.events());
            while let Some(item) = events.next().await {
                match item {
                    Ok(e) => {
                        if ObjectUpdate::event_kind(&e.typ).is_none() {
                            continue;
                        }
                        let update = ObjectUpdate::new(
                            &endpoint,
                            None,
                            None,
                            &e.typ,
                            &e.actor_id,
                            &e.action,
                            e.attributes.into_iter().collect(),
                            e.time_unix_ms,
                        );
                        events_out.emit_object_update(update);
                    }
                    Err(err) => {
                        tracing::warn!(%endpoint, %err, "Docker event stream");
                        break;
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }
    }
}

/// The engine to stream from directly: the master's own for `local`, a connection for `tcp`, and
/// `None` for `agent` endpoints (reached only through the worker).
pub fn engine(state: &AppState, e: &StoredEndpoint) -> Result<Option<Engine>, EndpointError> {
    match e.kind.as_str() {
        "local" => state.docker.clone().map(Some).ok_or_else(|| {
            EndpointError::Unavailable("the master has no local Docker engine".into())
        }),
        "tcp" => Ok(Some(tcp_engine(state, e)?)),
        _ => Ok(None),
    }
}

/// Runs `op` on endpoint `e`.
pub async fn call(
    state: &AppState,
    e: &StoredEndpoint,
    op: DockerOp,
) -> Result<Value, EndpointError> {
    match e.kind.as_str() {
        "local" => {
            let engine = state.docker.as_ref().ok_or_else(|| {
                EndpointError::Unavailable("the master has no local Docker engine".into())
            })?;
            Ok(execute(engine, op).await?)
        }
        "tcp" => Ok(execute(&tcp_engine(state, e)?, op).await?),
        "agent" => {
            let node = e.node_id.as_deref().unwrap_or(&e.id);
            let args = serde_json::to_vec(&op)
                .map_err(|err| EndpointError::Unavailable(err.to_string()))?;
            // In a cluster, sent to the master that holds the node's worker when not this one.
            let result = crate::cluster::nodes::command(
                state,
                node,
                command::Kind::DockerCall(DockerCall {
                    op: op.name().into(),
                    args_json: args,
                }),
                op.long_running(),
            )
            .await
            .map_err(|f| EndpointError::Unavailable(format!("node {node}: {f}")))?;
            match result.outcome {
                Some(command_result::Outcome::OkJson(bytes)) => serde_json::from_slice(&bytes)
                    .map_err(|err| {
                        EndpointError::Unavailable(format!("the worker sent invalid JSON: {err}"))
                    }),
                Some(command_result::Outcome::Error(err)) => {
                    Err(EndpointError::remote(err, result.request_id))
                }
                None => Err(EndpointError::Unavailable(
                    "the worker sent an empty result".into(),
                )),
            }
        }
        other => Err(EndpointError::Unavailable(format!(
            "unknown endpoint kind '{other}'"
        ))),
    }
}

/// Runs `op` on endpoint `only`, or on every endpoint in parallel. Returns each endpoint's answer;
/// with `only` a failure is the error, otherwise endpoints that failed are listed as
/// `{endpoint, error}` so that one unreachable engine does not hide the others.
pub async fn fan_out<T: serde::de::DeserializeOwned>(
    state: &AppState,
    only: Option<&str>,
    op: DockerOp,
) -> Result<(Vec<(StoredEndpoint, T)>, Vec<Value>), EndpointError> {
    let targets = match only {
        Some(id) => vec![get(state, id).await?],
        None => all(state).await?,
    };
    let answers =
        futures_util::future::join_all(targets.iter().map(|e| call_as::<T>(state, e, op.clone())))
            .await;
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for (e, answer) in targets.into_iter().zip(answers) {
        match answer {
            Ok(v) => ok.push((e, v)),
            Err(err) if only.is_some() => return Err(err),
            Err(err) => {
                errors.push(serde_json::json!({"endpoint": e.id, "error": err.to_string()}))
            }
        }
    }
    Ok((ok, errors))
}

/// Runs `op` and deserializes the answer.
pub async fn call_as<T: serde::de::DeserializeOwned>(
    state: &AppState,
    e: &StoredEndpoint,
    op: DockerOp,
) -> Result<T, EndpointError> {
    let v = call(state, e, op).await?;
    serde_json::from_value(v).map_err(|err| EndpointError::Docker {
        status: None,
        message: format!("unexpected answer from endpoint '{}': {err}", e.name),
    })
}
