//! What the routes do with a `cb-*` service, free of HTTP: deploy, reconfigure, restart and
//! remove as jobs (one at a time per service: resource `subcontainer:<name>`), status with drift,
//! the health probe, recent logs, and wiring the module a service serves.

use std::future::Future;
use std::time::Duration;

use contextbay_actors::{Job, JobFailure, JobSpec};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::actor;
use super::catalogue::{self, ConfigOverrides, Probe, ServiceConfig, Template};
use super::error::SubError;
use super::events::SubcontainerUpdate;
use super::store::{Deployed, SubcontainerStore};
use crate::docker::compose::ComposeAction;
use crate::docker::containers::{ContainerAction, ContainerInfo, LogLine, LogQuery};
use crate::docker::ops::DockerOp;
use crate::endpoints;
use crate::modules::ModuleName;
use crate::stacks::{self, StackError};
use crate::state::AppState;
use crate::store::endpoints::StoredEndpoint;
use crate::store::now_ms;
use crate::store::stacks::{NewStack, Stack};

/// Changes one setting of a module with the code of `PUT /api/config/{module}` (validation,
/// sealing, `module.updated`); `Value::Null` removes it.
async fn wire(
    state: &AppState,
    module: ModuleName,
    key: &'static str,
    value: Value,
) -> Result<(), String> {
    let mut config = serde_json::Map::new();
    config.insert(key.to_owned(), value);
    crate::modules::settings::apply(state, module, None, Some(config))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The job resource that serializes a service's operations.
pub fn resource(name: &str) -> String {
    format!("subcontainer:{name}")
}

/// The stored state of `name`, or a 404 saying it is not deployed.
pub async fn deployed(state: &AppState, t: &Template) -> Result<Deployed, SubError> {
    state
        .store
        .subcontainers()
        .get(t.name)
        .await?
        .ok_or_else(|| {
            SubError::NotFound(format!(
                "sub-container '{}' is not deployed (POST /api/admin/subcontainers/{}/deploy)",
                t.name, t.name
            ))
        })
}

/// Starts a deploy of `t` with `overrides` applied to its stored (or default) configuration, on
/// `endpoint` (its current one, else `local`). Validation happens before the job: a bad field is
/// a 400, an unknown endpoint a 404, a deploy on another endpoint than the current one a 409.
pub async fn deploy(
    state: &AppState,
    t: &'static Template,
    endpoint: Option<String>,
    overrides: &ConfigOverrides,
    user: Option<String>,
) -> Result<Job, SubError> {
    let prior = state.store.subcontainers().get(t.name).await?;
    let base = prior
        .as_ref()
        .map_or_else(|| ServiceConfig::defaults(t), |d| d.config.clone());
    let config = base.apply(overrides)?;
    let endpoint_id = match (&prior, endpoint) {
        (Some(d), Some(asked)) if asked != d.endpoint => {
            let e = endpoints::get(state, &asked).await?;
            if e.id != d.endpoint {
                return Err(SubError::Conflict(format!(
                    "endpoint: sub-container '{}' is deployed on endpoint '{}'; remove it before \
                     deploying it elsewhere",
                    t.name, d.endpoint
                )));
            }
            e.id
        }
        (Some(d), _) => d.endpoint.clone(),
        (None, Some(asked)) => asked,
        (None, None) => endpoints::LOCAL.to_owned(),
    };
    let e = endpoints::get(state, &endpoint_id).await?;
    submit(state, t, "deploy", user, move |state| async move {
        run_deploy(&state, t, &e, config).await
    })
    .await
}

/// Starts a redeploy of the deployed `t` with a new configuration.
pub async fn reconfigure(
    state: &AppState,
    t: &'static Template,
    overrides: &ConfigOverrides,
    user: Option<String>,
) -> Result<Job, SubError> {
    let d = deployed(state, t).await?;
    let config = d.config.apply(overrides)?;
    let e = endpoints::get(state, &d.endpoint).await?;
    submit(state, t, "config", user, move |state| async move {
        run_deploy(&state, t, &e, config).await
    })
    .await
}

/// Starts a restart of the deployed `t` (its container restarted, or recreated when it is gone).
pub async fn restart(
    state: &AppState,
    t: &'static Template,
    user: Option<String>,
) -> Result<Job, SubError> {
    let d = deployed(state, t).await?;
    let e = endpoints::get(state, &d.endpoint).await?;
    submit(state, t, "restart", user, move |state| async move {
        bring_up(&state, t, &d, &e, true)
            .await
            .map(|how| json!({"name": t.name, "done": how}))
    })
    .await
}

/// Starts the removal of the deployed `t`: `down` (with `-v` when `volumes`), then its stack and
/// record; the module settings that still point at it are cleared.
pub async fn remove(
    state: &AppState,
    t: &'static Template,
    volumes: bool,
    user: Option<String>,
) -> Result<Job, SubError> {
    let d = deployed(state, t).await?;
    let e = endpoints::get(state, &d.endpoint).await?;
    submit(state, t, "remove", user.clone(), move |state| async move {
        run_remove(&state, t, &d, &e, volumes, user).await
    })
    .await
}

async fn submit<F, Fut>(
    state: &AppState,
    t: &'static Template,
    what: &str,
    user: Option<String>,
    work: F,
) -> Result<Job, SubError>
where
    F: FnOnce(AppState) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Value, String>> + Send + 'static,
{
    let spec = JobSpec {
        kind: format!("subcontainer.{what}"),
        resource: resource(t.name),
        created_by: user,
    };
    let state2 = state.clone();
    Ok(state
        .jobs
        .submit(spec, move |_ctx| async move {
            work(state2).await.map_err(JobFailure::from)
        })
        .await?)
}

async fn run_deploy(
    state: &AppState,
    t: &'static Template,
    e: &StoredEndpoint,
    config: ServiceConfig,
) -> Result<Value, String> {
    let name = catalogue::stack_name(t);
    let compose = catalogue::render(t, &config);
    let stacks_store = state.store.stacks();
    let prior = state
        .store
        .subcontainers()
        .get(t.name)
        .await
        .map_err(|e| e.to_string())?;
    let stack = match stacks_store
        .find(&e.id, &name)
        .await
        .map_err(|e| e.to_string())?
    {
        Some(s) if prior.as_ref().is_some_and(|d| d.stack_id == s.id) => stacks_store
            .update(&s.id, &compose, &s.env)
            .await
            .map_err(|e| e.to_string())?,
        Some(s) => {
            return Err(format!(
                "a stack named '{}' already exists on endpoint '{}' and is not this \
                 sub-container's; remove or rename it first",
                s.name, e.name
            ));
        }
        None => stacks_store
            .create(&NewStack {
                name: name.clone(),
                endpoint: e.id.clone(),
                compose,
                env: Default::default(),
                adopted: false,
                status: "stored".into(),
                project_dir: None,
            })
            .await
            .map_err(|e| e.to_string())?,
    };
    state
        .store
        .subcontainers()
        .put_desired(t.name, &e.id, &stack.id, &config)
        .await
        .map_err(|e| e.to_string())?;
    let result = stacks::run_to_end(
        state,
        stack.clone(),
        e.clone(),
        "deploy",
        ComposeAction::Deploy,
        None,
    )
    .await
    .map_err(|err| err.to_string())?;
    state
        .store
        .subcontainers()
        .set_deployed(t.name, &config)
        .await
        .map_err(|e| e.to_string())?;
    actor::spawn(state, t.name);
    state
        .events
        .publish_committed(SubcontainerUpdate {
            name: t.name.to_owned(),
            what: "deployed".into(),
            detail: format!("{} on endpoint '{}'", config.image, e.name),
        })
        .await;
    let mut wired = None;
    if let Some((module, key)) = t.wires
        && e.kind == "local"
        && let Some(module) = ModuleName::parse(module)
    {
        let url = config.url(t);
        wire(state, module, key, Value::String(url.clone()))
            .await
            .map_err(|err| format!("deployed, but setting {module}.{key}: {err}"))?;
        wired = Some(json!({"module": module.as_str(), "setting": key, "url": url}));
    }
    Ok(json!({
        "name": t.name,
        "stack": stack.id,
        "status": result.status,
        "config": config,
        "wired": wired,
    }))
}

async fn run_remove(
    state: &AppState,
    t: &'static Template,
    d: &Deployed,
    e: &StoredEndpoint,
    volumes: bool,
    user: Option<String>,
) -> Result<Value, String> {
    match state.store.stacks().get(&d.stack_id).await {
        Ok(stack) => {
            stacks::run_to_end(
                state,
                stack.clone(),
                e.clone(),
                "remove",
                ComposeAction::Remove { volumes },
                user,
            )
            .await
            .map_err(|err| err.to_string())?;
            stacks::delete_files(state, &stack, e).await;
            state
                .store
                .stacks()
                .delete(&stack.id)
                .await
                .map_err(|err| err.to_string())?;
            state
                .events
                .publish_committed(stacks::stack_event(&stack, "deleted"))
                .await;
        }
        // Its stack was deleted through /api/stacks: only the record is left.
        Err(crate::store::StoreError::NotFound(_)) => {}
        Err(err) => return Err(err.to_string()),
    }
    state
        .store
        .subcontainers()
        .delete(t.name)
        .await
        .map_err(|err| err.to_string())?;
    state
        .events
        .publish_committed(SubcontainerUpdate {
            name: t.name.to_owned(),
            what: "removed".into(),
            detail: if volumes {
                "volumes removed".into()
            } else {
                "volumes kept".into()
            },
        })
        .await;
    let mut cleared = None;
    if let (Some((module, key)), Some(deployed)) = (t.wires, d.deployed_config.as_ref())
        && let Some(module) = ModuleName::parse(module)
    {
        let url = deployed.url(t);
        let current = state
            .store
            .modules()
            .get(module)
            .await
            .map_err(|err| err.to_string())?
            .and_then(|m| m.config.get(key).and_then(Value::as_str).map(str::to_owned));
        if current.as_deref() == Some(url.as_str()) {
            wire(state, module, key, Value::Null)
                .await
                .map_err(|err| format!("removed, but clearing {module}.{key}: {err}"))?;
            cleared = Some(json!({"module": module.as_str(), "setting": key}));
        }
    }
    Ok(json!({"name": t.name, "volumes_removed": volumes, "cleared": cleared}))
}

/// The service's containers on its endpoint.
pub async fn containers(
    state: &AppState,
    t: &Template,
    e: &StoredEndpoint,
) -> Result<Vec<ContainerInfo>, StackError> {
    stacks::project_containers(state, e, &catalogue::stack_name(t)).await
}

/// Brings the service up: starts its stopped container (restarts a running one when `restart`),
/// or redeploys the stack when the container is gone. Answers what it did.
pub async fn bring_up(
    state: &AppState,
    t: &Template,
    d: &Deployed,
    e: &StoredEndpoint,
    restart: bool,
) -> Result<&'static str, String> {
    let list = containers(state, t, e)
        .await
        .map_err(|err| err.to_string())?;
    if let Some(c) = list.first() {
        let action = if c.state == "running" {
            if !restart {
                return Ok("running");
            }
            ContainerAction::Restart
        } else {
            ContainerAction::Start
        };
        endpoints::call(
            state,
            e,
            DockerOp::ContainerAction {
                id: c.id.clone(),
                action,
            },
        )
        .await
        .map_err(|err| err.to_string())?;
        return Ok(if action == ContainerAction::Start {
            "started"
        } else {
            "restarted"
        });
    }
    let stack: Stack = state
        .store
        .stacks()
        .get(&d.stack_id)
        .await
        .map_err(|err| err.to_string())?;
    stacks::run_to_end(
        state,
        stack,
        e.clone(),
        "deploy",
        ComposeAction::Deploy,
        None,
    )
    .await
    .map_err(|err| err.to_string())?;
    Ok("redeployed")
}

/// A probe's answer. (Named apart from the core `Health` of `GET /api/health`: with the same
/// name the OpenAPI document gave this route that schema.)
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SubcontainerHealth)]
pub struct Health {
    pub name: String,
    pub healthy: bool,
    /// What was probed (`GET http://127.0.0.1:9090/-/healthy`, `tcp 127.0.0.1:55000`).
    pub probe: String,
    /// The status code, or why it failed.
    pub detail: String,
    /// Unix ms.
    pub checked_at: i64,
}

/// Runs the probe of `t` against its configuration now.
pub async fn probe(t: &Template, c: &ServiceConfig) -> Health {
    const TIMEOUT: Duration = Duration::from_secs(3);
    let (probe, result) = match t.probe {
        Probe::Http(path) => {
            let url = format!("{}{path}", c.url(t));
            let client = reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build();
            let result = match client {
                Ok(client) => match client.get(&url).send().await {
                    Ok(r) if r.status().is_success() => Ok(format!("HTTP {}", r.status().as_u16())),
                    Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
                    Err(err) => Err(err.to_string()),
                },
                Err(err) => Err(err.to_string()),
            };
            (format!("GET {url}"), result)
        }
        Probe::Tcp => {
            let addr = format!("{}:{}", c.host(), c.port);
            let result =
                match tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(&addr)).await {
                    Ok(Ok(_)) => Ok("connected".to_owned()),
                    Ok(Err(err)) => Err(err.to_string()),
                    Err(_) => Err("timed out".to_owned()),
                };
            (format!("tcp {addr}"), result)
        }
    };
    let (healthy, detail) = match result {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    Health {
        name: t.name.to_owned(),
        healthy,
        probe,
        detail,
        checked_at: now_ms(),
    }
}

/// The last `tail` log lines of the service's container (none when it has no container).
pub async fn logs(state: &AppState, t: &Template, tail: u32) -> Result<Vec<LogLine>, SubError> {
    let d = deployed(state, t).await?;
    let e = endpoints::get(state, &d.endpoint).await?;
    let list = containers(state, t, &e).await?;
    let Some(c) = list.first() else {
        return Ok(Vec::new());
    };
    let lines: Vec<LogLine> = endpoints::call_as(
        state,
        &e,
        DockerOp::ContainerLogs {
            id: c.id.clone(),
            query: LogQuery {
                tail: Some(tail),
                timestamps: true,
                ..Default::default()
            },
        },
    )
    .await?;
    Ok(lines)
}

/// How the deployed service differs from its desired state, one sentence each.
pub fn drift(
    t: &Template,
    d: &Deployed,
    stack: Option<&Stack>,
    containers: &[ContainerInfo],
) -> Vec<String> {
    let mut out = Vec::new();
    match &d.deployed_config {
        None => out.push("never deployed successfully".to_owned()),
        Some(done) if *done != d.config => {
            let mut fields = Vec::new();
            if done.image != d.config.image {
                fields.push("image");
            }
            if done.port != d.config.port {
                fields.push("port");
            }
            if done.bind != d.config.bind {
                fields.push("bind");
            }
            if done.env != d.config.env {
                fields.push("env");
            }
            if done.labels != d.config.labels {
                fields.push("labels");
            }
            out.push(format!(
                "the desired configuration differs from the last deployed one ({}); deploy to apply it",
                fields.join(", ")
            ));
        }
        Some(_) => {}
    }
    match stack {
        None => out.push("its stack is gone (deleted outside the sub-container)".to_owned()),
        Some(s) if s.compose != catalogue::render(t, &d.config) => out.push(
            "its stack's compose file was changed outside the sub-container; deploy to restore it"
                .to_owned(),
        ),
        Some(_) => {}
    }
    let desired = d.deployed_config.as_ref().unwrap_or(&d.config);
    match containers.first() {
        None => out.push("no container".to_owned()),
        Some(c) => {
            if c.image != desired.image {
                out.push(format!(
                    "runs image '{}', desired '{}'",
                    c.image, desired.image
                ));
            }
            if c.state != "running" {
                out.push(format!("container is {}, desired running", c.state));
            }
            let published: Vec<u16> = c
                .ports
                .iter()
                .filter(|p| p.container_port == t.container_port)
                .filter_map(|p| p.host_port)
                .collect();
            if c.state == "running" && !published.contains(&desired.port) {
                out.push(format!(
                    "port {} is not published on {}",
                    t.container_port, desired.port
                ));
            }
        }
    }
    out
}
