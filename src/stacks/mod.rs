//! Stacks as a domain: the compose orchestration behind `/api/stacks` and `/api/services`
//! (what a stack's status is, the policy check of a deploy, running an action with the compose
//! CLI on the stack's host), with the actions as jobs of the registry, one at a time per stack.
//! Errors are [`StackError`]s, mapped once into the error table.

use std::path::PathBuf;
use std::time::Duration;

use contextbay_actors::{Job, JobContext, JobFailure, JobSpec, JobState, SubmitError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::docker::compose::{self, ComposeAction, ComposeRun, OutputLine};
use crate::docker::containers::ContainerInfo;
use crate::docker::ops::DockerOp;
use crate::endpoints::{self, EndpointError};
use crate::events::{StackProgress, StackUpdate};
use crate::policy::HostGuard;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::endpoints::StoredEndpoint;
use crate::store::stacks::Stack;

/// What can go wrong with a stack operation.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("no stack '{0}'")]
    NotFound(String),
    #[error(
        "'{project}' on endpoint '{endpoint}' is a discovered compose project, not a stored \
         stack; adopt it first with POST /api/stacks {{\"adopt\": \"{project}\", \"endpoint\": \"{endpoint}\"}}"
    )]
    Discovered { endpoint: String, project: String },
    #[error("{0}")]
    Invalid(String),
    /// The endpoint's security policy refuses the deploy.
    #[error("{0}")]
    Refused(String),
    /// Another operation holds the stack, or too many run.
    #[error(transparent)]
    Busy(#[from] SubmitError),
    /// The compose CLI exited non-zero.
    #[error(
        "`{command}` failed on endpoint '{endpoint}' (exit code {exit_code}); stderr: {stderr}"
    )]
    ComposeFailed {
        command: String,
        endpoint: String,
        exit_code: i32,
        stderr: String,
    },
    /// The job ended without a result (cancelled, interrupted, panicked).
    #[error("operation {id} ended {}: {error}", .state.as_str())]
    Ended {
        id: String,
        state: JobState,
        error: String,
    },
    /// The job registry did not answer.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The endpoint (engine or worker) could not do it.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
}

pub type StackResult<T> = Result<T, StackError>;

/// The result of a stack action, after the compose CLI finished (the operation's `result`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActionResult {
    pub id: String,
    pub action: String,
    pub ok: bool,
    pub exit_code: i32,
    /// The command line that ran on the host.
    pub command: String,
    /// The stack's status afterwards.
    pub status: String,
    pub output: Vec<OutputLine>,
}

/// The `stack.update` payload.
pub fn stack_event(stack: &Stack, status: &str) -> StackUpdate {
    StackUpdate {
        id: stack.id.clone(),
        name: stack.name.clone(),
        endpoint: stack.endpoint.clone(),
        status: status.to_owned(),
    }
}

/// `running`, `partial`, `stopped` or `stored` from a project's containers.
pub fn status_of<'a>(containers: impl IntoIterator<Item = &'a ContainerInfo>) -> String {
    let (mut total, mut running) = (0, 0);
    for c in containers {
        total += 1;
        if c.state == "running" {
            running += 1;
        }
    }
    match (total, running) {
        (0, _) => "stored",
        (t, r) if t == r => "running",
        (_, 0) => "stopped",
        _ => "partial",
    }
    .into()
}

/// The stored stack `id` (a discovered `<endpoint>:<project>` id is refused).
pub async fn stored(state: &AppState, id: &str) -> StackResult<Stack> {
    if let Some((endpoint, project)) = id.split_once(':') {
        return Err(StackError::Discovered {
            endpoint: endpoint.to_owned(),
            project: project.to_owned(),
        });
    }
    match state.store.stacks().get(id).await {
        Ok(s) => Ok(s),
        Err(StoreError::NotFound(_)) => Err(StackError::NotFound(id.to_owned())),
        Err(e) => Err(e.into()),
    }
}

/// The containers of `project` on endpoint `e`.
pub async fn project_containers(
    state: &AppState,
    e: &StoredEndpoint,
    project: &str,
) -> StackResult<Vec<ContainerInfo>> {
    let all: Vec<ContainerInfo> =
        endpoints::call_as(state, e, DockerOp::ListContainers { all: true }).await?;
    Ok(all
        .into_iter()
        .filter(|c| c.compose_project.as_deref() == Some(project))
        .collect())
}

pub fn compose_run(s: &Stack, action: ComposeAction) -> ComposeRun {
    ComposeRun {
        stack_id: s.id.clone(),
        project: s.name.clone(),
        compose: s.compose.clone(),
        env: s.env.clone(),
        action,
        project_dir: s.project_dir.clone(),
    }
}

/// `deploy`, `stop` or `remove` (`volumes` only with `remove`).
pub fn parse_action(name: &str, volumes: bool) -> StackResult<ComposeAction> {
    let action = match name {
        "deploy" => ComposeAction::Deploy,
        "stop" => ComposeAction::Stop,
        "remove" => ComposeAction::Remove { volumes },
        _ => {
            return Err(StackError::Invalid(format!(
                "unknown action '{name}'; use deploy, stop or remove"
            )));
        }
    };
    if volumes && name != "remove" {
        return Err(StackError::Invalid(
            "volumes: only applies to the remove action".into(),
        ));
    }
    Ok(action)
}

/// The operation kind of a stack action (`stack.deploy`, `stack.remove_service`, …).
fn kind_of(name: &str) -> String {
    format!("stack.{name}")
}

/// The resource a stack's operations act on; one operation per stack at a time.
pub fn resource_of(stack_id: &str) -> String {
    format!("stack:{stack_id}")
}

/// Starts `action` on the stack as an operation and answers once it is under way: for a deploy,
/// after the endpoint's policy accepted it (a refusal is a 403 here, and the operation ends
/// `failed`). The operation outlives the caller.
pub async fn start_action(
    state: &AppState,
    s: Stack,
    e: StoredEndpoint,
    name: &str,
    action: ComposeAction,
    user: Option<String>,
) -> StackResult<Job> {
    let (checked_tx, checked_rx) = tokio::sync::oneshot::channel();
    let spec = JobSpec {
        kind: kind_of(name),
        resource: resource_of(&s.id),
        created_by: user,
    };
    let (state2, name2) = (state.clone(), name.to_owned());
    let job = state
        .jobs
        .submit(spec, move |ctx| {
            run_job(state2, s, e, name2, action, ctx, checked_tx)
        })
        .await?;
    match checked_rx.await {
        // The work ended before its check answered (a panic): the operation says why.
        Err(_) | Ok(Ok(())) => Ok(job),
        Ok(Err(refused)) => Err(refused),
    }
}

/// Runs `action` as an operation and waits for it to end; only a run that succeeded is `Ok`
/// (for callers that answer when the compose CLI has finished: `DELETE /api/stacks/{id}?force`,
/// `DELETE /api/services/{id}`).
pub async fn run_to_end(
    state: &AppState,
    s: Stack,
    e: StoredEndpoint,
    name: &str,
    action: ComposeAction,
    user: Option<String>,
) -> StackResult<ActionResult> {
    let job = start_action(state, s, e, name, action, user).await?;
    // A compose run is bounded by the CLI's own timeouts; wait as long as the old handler did.
    let ended = state
        .jobs
        .wait(&job.id, Duration::from_secs(15 * 60))
        .await
        .map_err(|err| StackError::Unavailable(err.to_string()))?;
    let ended = match ended {
        Some(j) => j,
        None => state.store.jobs().get(&job.id).await?,
    };
    if ended.state == JobState::Succeeded
        && let Some(result) = ended.result.clone()
        && let Ok(result) = serde_json::from_value::<ActionResult>(result)
    {
        return Ok(result);
    }
    Err(StackError::Ended {
        id: ended.id,
        state: ended.state,
        error: ended.error.unwrap_or_default(),
    })
}

/// The work of a stack operation.
async fn run_job(
    state: AppState,
    s: Stack,
    e: StoredEndpoint,
    name: String,
    action: ComposeAction,
    ctx: JobContext,
    checked: tokio::sync::oneshot::Sender<StackResult<()>>,
) -> Result<Value, JobFailure> {
    let run = compose_run(&s, action);
    if run.action == ComposeAction::Deploy {
        ctx.progress(
            None,
            "checking the deploy against the endpoint's security policy",
        );
        if let Err(err) = check_deploy(&state, &e, &run).await {
            let message = err.to_string();
            let _ = checked.send(Err(err));
            return Err(JobFailure::from(message));
        }
    }
    let _ = checked.send(Ok(()));
    ctx.progress(None, format!("running {name} on endpoint '{}'", e.name));
    let operation = ctx.id();
    let result = run_action(&state, &s, &e, &name, run, &operation)
        .await
        .map_err(|err| JobFailure::from(err.to_string()))?;
    let value = serde_json::to_value(&result).map_err(|err| JobFailure::from(err.to_string()))?;
    if result.ok {
        Ok(value)
    } else {
        Err(JobFailure {
            message: failure_message(&result, &e).to_string(),
            result: Some(value),
        })
    }
}

fn failure_message(r: &ActionResult, e: &StoredEndpoint) -> StackError {
    let stderr: Vec<&str> = r
        .output
        .iter()
        .filter(|l| l.stream == "stderr")
        .map(|l| l.line.as_str())
        .collect();
    let tail = stderr[stderr.len().saturating_sub(20)..].join("\n");
    StackError::ComposeFailed {
        command: r.command.clone(),
        endpoint: e.name.clone(),
        exit_code: r.exit_code,
        stderr: tail.chars().take(2000).collect(),
    }
}

/// Output lines kept in an operation's result.
const KEPT_LINES: usize = 500;

/// Runs `run` on the stack's host, publishing its output as `stack.progress` events as the CLI
/// writes it (through a worker's `ComposeRun` stream for agent endpoints), then the final
/// `stack.progress {done}` and a `stack.update` if the status changed. A non-zero exit is an
/// [`ActionResult`] with `ok: false`.
async fn run_action(
    state: &AppState,
    s: &Stack,
    e: &StoredEndpoint,
    name: &str,
    run: ComposeRun,
    operation: &str,
) -> StackResult<ActionResult> {
    let progress = |line: &OutputLine| {
        state.events.emit(StackProgress {
            id: s.id.clone(),
            operation: operation.to_owned(),
            action: name.to_owned(),
            line: Some(line.line.clone()),
            stream: Some(line.stream.to_string()),
            done: None,
            ok: None,
            exit_code: None,
        });
    };
    let outcome = match endpoints::engine(state, e)? {
        Some(engine) => {
            let mut publish = |line: &OutputLine| progress(line);
            engine
                .compose(&run, &mut publish)
                .await
                .map_err(EndpointError::from)?
        }
        None => {
            let mut publish = |line: &OutputLine| progress(line);
            crate::endpoint_streams::compose_on_worker(state, e, run, &mut publish).await?
        }
    };
    state.events.emit(StackProgress {
        id: s.id.clone(),
        operation: operation.to_owned(),
        action: name.to_owned(),
        line: None,
        stream: None,
        done: Some(true),
        ok: Some(outcome.ok),
        exit_code: Some(i64::from(outcome.exit_code)),
    });
    let status = match project_containers(state, e, &s.name).await {
        Ok(list) => status_of(&list),
        Err(_) => "unknown".into(),
    };
    if status != s.status {
        state.store.stacks().set_status(&s.id, &status).await?;
        state
            .events
            .publish_committed(stack_event(s, &status))
            .await;
    }
    let mut output = outcome.lines;
    output.drain(..output.len().saturating_sub(KEPT_LINES));
    Ok(ActionResult {
        id: s.id.clone(),
        action: name.to_owned(),
        ok: outcome.ok,
        exit_code: outcome.exit_code,
        command: outcome.command,
        status,
        output,
    })
}

/// Deletes the stack's files on its host (they are only a copy of the stored stack: a failure
/// is logged, not returned).
pub async fn delete_files(state: &AppState, s: &Stack, e: &StoredEndpoint) {
    if let Err(err) = endpoints::call(
        state,
        e,
        DockerOp::Compose {
            run: compose_run(s, ComposeAction::DeleteFiles),
        },
    )
    .await
    {
        tracing::warn!(stack = %s.id, ?err, "removing the stack's files on its host");
    }
}

/// Holds a deploy to the endpoint's security policy, as its containers would be, on the model
/// compose resolves for it: on this machine for local and tcp endpoints (where the CLI runs),
/// and as a pre-check in a scratch directory for a node, whose worker resolves it on its own
/// host and checks again before running it.
async fn check_deploy(state: &AppState, e: &StoredEndpoint, run: &ComposeRun) -> StackResult<()> {
    // The policy (everything allowed where there is none) and a guard for the master's data
    // directory, as for a container (`POST /api/containers`): paths are resolved here only for
    // the local endpoint, whose engine mounts this machine's files.
    let policy = endpoints::security_policy(state, e).await?;
    let data_dir = state.config.storage.data_dir.as_path();
    let guard = match e.kind.as_str() {
        "local" => HostGuard::here(&[data_dir]),
        // A tcp engine may be this very machine.
        "tcp" => HostGuard::elsewhere(&[data_dir]),
        _ => HostGuard::elsewhere(&[]),
    };
    let resolved = match endpoints::engine(state, e)? {
        Some(engine) => Some(engine.resolve_compose(run).await),
        None => {
            let scratch = state.config.storage.data_dir.join("stacks");
            compose::resolve_for_another_host(&scratch, run)
                .await
                .transpose()
        }
    };
    let resolved = match resolved {
        None => return Ok(()),
        Some(Ok(resolved)) => resolved,
        Some(Err(err)) => return Err(EndpointError::from(err).into()),
    };
    let dirs: Vec<&std::path::Path> = resolved.dirs.iter().map(PathBuf::as_path).collect();
    let guard = if e.kind == "local" || e.kind == "tcp" {
        guard.for_stack(&dirs)
    } else {
        // The scratch directory stands for the stack's directory on the node, which is inside
        // the worker's data directory.
        let mut guard = guard.for_stack(&dirs);
        guard.protected.extend(resolved.dirs.first().cloned());
        guard
    };
    match crate::policy::compose_violation(&policy, &guard, &resolved.model) {
        Some(why) => Err(StackError::Refused(why)),
        None => Ok(()),
    }
}
