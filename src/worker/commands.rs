//! Serving the master's `CommandStream`: `Hello` first, then one `CommandResult` per one-shot
//! command. Ping is answered inline; slower commands (census) run as tasks that the stream's end
//! or a `Cancel` aborts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use contextbay_proto::v1::command::Kind;
use contextbay_proto::v1::command_result::Outcome;
use contextbay_proto::v1::command_service_client::CommandServiceClient;
use contextbay_proto::v1::{
    Command, CommandError, CommandResult, Hello, MasterMessage, WorkerMessage, master_message,
    worker_message,
};
use contextbay_proto::{PROTO_MINOR, capability};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio_stream::wrappers::ReceiverStream;

use super::session::AuthedChannel;
use super::{AGENT_VERSION, census};
use crate::docker::compose::{ComposeAction, ComposeRun};
use crate::docker::ops::DockerOp;
use crate::policy::{HostGuard, SecurityPolicy, compose_violation, policy_violation};

/// Messages queued towards the master before command tasks wait.
const OUTBOUND_QUEUE: usize = 64;

/// What commands need to know about this node.
#[derive(Debug)]
pub struct CommandContext {
    pub node_id: String,
    pub hostname: String,
    pub docker_socket: PathBuf,
    /// The worker's data directory; stacks keep their compose files under `stacks/`.
    pub data_dir: PathBuf,
    pub policy: PolicyCell,
}

/// The node's security policy as the master last sent it (`None` until a master that sends it,
/// protocol minor 2, has answered; an older master enforces it alone).
#[derive(Debug, Clone, Default)]
pub struct PolicyCell(Arc<std::sync::RwLock<Option<SecurityPolicy>>>);

impl PolicyCell {
    /// Takes the policy from a master's answer; an empty or unreadable one changes nothing.
    pub fn update(&self, json: &str) {
        if json.is_empty() {
            return;
        }
        match serde_json::from_str::<SecurityPolicy>(json) {
            Ok(policy) => {
                if let Ok(mut current) = self.0.write() {
                    *current = Some(policy);
                }
            }
            Err(e) => tracing::warn!("ignoring an unreadable security policy: {e}"),
        }
    }

    pub fn get(&self) -> Option<SecurityPolicy> {
        self.0.read().ok().and_then(|p| p.clone())
    }

    /// Why an exec session is refused, if it is.
    pub fn refuses_exec(&self) -> Option<String> {
        let policy = self.get()?;
        (!policy.allow_exec).then(|| "exec is not allowed on this node (security policy)".into())
    }
}

/// Opens the command stream and serves it until the master ends it (`Ok`) or it fails.
pub async fn serve(
    mut client: CommandServiceClient<AuthedChannel>,
    ctx: Arc<CommandContext>,
) -> Result<(), tonic::Status> {
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let hello = WorkerMessage {
        message: Some(worker_message::Message::Hello(Hello {
            node_id: ctx.node_id.clone(),
            proto_minor: PROTO_MINOR,
            agent_version: AGENT_VERSION.to_owned(),
            capabilities: vec![
                capability::PING.to_owned(),
                capability::CENSUS.to_owned(),
                capability::DOCKER_CALL.to_owned(),
                capability::LOGS_OPEN.to_owned(),
                capability::EXEC_OPEN.to_owned(),
                capability::COMPOSE_RUN.to_owned(),
                capability::ARCHIVE_OPEN.to_owned(),
            ],
        })),
    };
    // The receiver is alive: it is only handed to the call below.
    let _ = tx.send(hello).await;
    let mut inbound = client
        .command_stream(ReceiverStream::new(rx))
        .await?
        .into_inner();
    tracing::info!("command stream open");
    let mut running = Running::default();
    while let Some(message) = inbound.message().await? {
        match message {
            MasterMessage {
                message: Some(master_message::Message::Command(command)),
            } => running.dispatch(command, &tx, &ctx).await,
            // A kind of message this worker does not know (newer master): nothing to answer.
            MasterMessage { message: None } => {
                tracing::debug!("ignoring an unknown master message")
            }
        }
    }
    Ok(())
}

/// Commands still running, by request id. Dropping it aborts them.
#[derive(Default)]
struct Running {
    tasks: JoinSet<()>,
    by_request: HashMap<String, AbortHandle>,
    /// Input and resizes for open exec streams, by stream id.
    exec_input: HashMap<String, mpsc::Sender<ExecControl>>,
    /// The master's data for open archive write streams, by stream id.
    archive_input: HashMap<String, mpsc::Sender<super::archive::ArchiveChunk>>,
}

/// What the master sends an open exec stream.
pub(super) enum ExecControl {
    Input(Vec<u8>),
    Resize { rows: u16, cols: u16 },
}

/// Exec input queued per stream before the command stream waits.
const EXEC_INPUT_QUEUE: usize = 64;

impl Running {
    async fn dispatch(
        &mut self,
        command: Command,
        tx: &mpsc::Sender<WorkerMessage>,
        ctx: &Arc<CommandContext>,
    ) {
        self.by_request.retain(|_, h| !h.is_finished());
        self.exec_input.retain(|_, tx| !tx.is_closed());
        self.archive_input.retain(|_, tx| !tx.is_closed());
        while self.tasks.try_join_next().is_some() {}
        let request_id = command.request_id;
        match command.kind {
            Some(Kind::Ping(_)) => {
                let payload = Pong {
                    pong: true,
                    node_id: &ctx.node_id,
                    agent_version: AGENT_VERSION,
                    time_unix_ms: super::now_unix_ms(),
                };
                send(tx, ok_result(request_id, &payload)).await;
            }
            Some(Kind::Census(_)) => {
                let (tx, ctx, id) = (tx.clone(), Arc::clone(ctx), request_id.clone());
                let handle = self.tasks.spawn(async move {
                    let census = census::collect(&ctx.docker_socket, ctx.hostname.clone()).await;
                    send(&tx, ok_result(id, &census)).await;
                });
                self.by_request.insert(request_id, handle);
            }
            Some(Kind::Cancel(cancel)) => {
                let target = cancel.target_request_id;
                let found = match self.by_request.remove(&target) {
                    Some(handle) if !handle.is_finished() => {
                        handle.abort();
                        let error = command_error("cancelled by the master", "cancelled");
                        send(tx, error_result(target, error)).await;
                        true
                    }
                    _ => false,
                };
                send(
                    tx,
                    ok_result(request_id, &serde_json::json!({ "cancelled": found })),
                )
                .await;
            }
            Some(Kind::DockerCall(call)) => {
                let (tx, ctx, id) = (tx.clone(), Arc::clone(ctx), request_id.clone());
                let handle = self.tasks.spawn(async move {
                    let message = docker_call(&ctx, &call).await.map_or_else(
                        |error| error_result(id.clone(), error),
                        |value| ok_result(id.clone(), &value),
                    );
                    send(&tx, message).await;
                });
                self.by_request.insert(request_id, handle);
            }
            Some(Kind::LogsOpen(open)) => {
                let (tx, ctx, id) = (tx.clone(), Arc::clone(ctx), request_id.clone());
                let handle = self
                    .tasks
                    .spawn(async move { super::streams::logs(&ctx, id, open, tx).await });
                self.by_request.insert(request_id, handle);
            }
            Some(Kind::ExecOpen(open)) => {
                let (input_tx, input_rx) = mpsc::channel(EXEC_INPUT_QUEUE);
                let (tx, ctx, id) = (tx.clone(), Arc::clone(ctx), request_id.clone());
                let handle = self.tasks.spawn(async move {
                    super::streams::exec(&ctx, id, open, input_rx, tx).await;
                });
                self.exec_input.insert(request_id.clone(), input_tx);
                self.by_request.insert(request_id, handle);
            }
            Some(Kind::ComposeRun(run)) => {
                let (tx, ctx, id) = (tx.clone(), Arc::clone(ctx), request_id.clone());
                let handle = self
                    .tasks
                    .spawn(async move { super::streams::compose(&ctx, id, run, tx).await });
                self.by_request.insert(request_id, handle);
            }
            Some(Kind::ArchiveOpen(open)) => {
                let (input_tx, input_rx) = mpsc::channel(super::archive::ARCHIVE_INPUT_QUEUE);
                let (tx, ctx, id) = (tx.clone(), Arc::clone(ctx), request_id.clone());
                let handle = self.tasks.spawn(async move {
                    super::archive::archive(&ctx, id, open, input_rx, tx).await;
                });
                self.archive_input.insert(request_id.clone(), input_tx);
                self.by_request.insert(request_id, handle);
            }
            // Input, resize and close are fire-and-forget: nothing is answered.
            Some(Kind::StreamInput(input)) => {
                if let Some(exec) = self.exec_input.get(&input.stream_id) {
                    let _ = exec.send(ExecControl::Input(input.data)).await;
                } else if let Some(archive) = self.archive_input.get(&input.stream_id) {
                    let chunk = super::archive::ArchiveChunk {
                        offset: input.offset,
                        data: input.data,
                        eof: input.eof,
                    };
                    // Never wait here (the command stream would stall): a master that ignores
                    // the window loses the stream, which then fails as ended early.
                    if archive.try_send(chunk).is_err() {
                        self.archive_input.remove(&input.stream_id);
                    }
                }
            }
            Some(Kind::StreamResize(resize)) => {
                if let Some(exec) = self.exec_input.get(&resize.stream_id) {
                    let rows = u16::try_from(resize.rows).unwrap_or(u16::MAX);
                    let cols = u16::try_from(resize.cols).unwrap_or(u16::MAX);
                    let _ = exec.send(ExecControl::Resize { rows, cols }).await;
                }
            }
            Some(Kind::StreamClose(close)) => {
                self.exec_input.remove(&close.stream_id);
                self.archive_input.remove(&close.stream_id);
                if let Some(handle) = self.by_request.remove(&close.stream_id) {
                    handle.abort();
                }
            }
            None => {
                let error = command_error("unsupported command", "unsupported");
                send(tx, error_result(request_id, error)).await;
            }
        }
    }
}

/// Runs a Docker operation against this host's engine, exactly as the master runs it on its own.
async fn docker_call(
    ctx: &CommandContext,
    call: &contextbay_proto::v1::DockerCall,
) -> Result<serde_json::Value, CommandError> {
    let op: DockerOp = serde_json::from_slice(&call.args_json).map_err(|e| {
        command_error(
            &format!("invalid docker call '{}': {e}", call.op),
            "bad_request",
        )
    })?;
    // Enforced here as well as on the master, which checks before sending.
    let engine = compose_engine(ctx)?;
    if let Some(why) = refusal(ctx, &engine, &op).await {
        return Err(why);
    }
    crate::docker::ops::execute(&engine, op)
        .await
        .map_err(|e| super::streams::docker_error(&e))
}

/// Why running `op` on this host is refused, if it is: the node's policy (everything allowed
/// until a master has sent one), and the worker's data directory, which no container or stack
/// may reach whatever the policy says. Bind sources are resolved here, on the host that mounts
/// them.
async fn refusal(
    ctx: &CommandContext,
    engine: &crate::docker::Engine,
    op: &DockerOp,
) -> Option<CommandError> {
    match op {
        DockerOp::CreateContainer { spec } => {
            let policy = ctx
                .policy
                .get()
                .unwrap_or_else(SecurityPolicy::unrestricted);
            let guard = HostGuard::here(&[&ctx.data_dir]);
            policy_violation(&policy, &guard, spec).map(|why| command_error(&why, "forbidden"))
        }
        DockerOp::Compose { run } => compose_refusal(ctx, engine, run).await,
        _ => None,
    }
}

/// Why a compose run is refused, if it is: a deploy is checked on the model compose resolves
/// on this host (a model that cannot be resolved is refused); other actions start nothing.
pub(super) async fn compose_refusal(
    ctx: &CommandContext,
    engine: &crate::docker::Engine,
    run: &ComposeRun,
) -> Option<CommandError> {
    if run.action != ComposeAction::Deploy {
        return None;
    }
    let policy = ctx
        .policy
        .get()
        .unwrap_or_else(SecurityPolicy::unrestricted);
    let resolved = match engine.resolve_compose(run).await {
        Ok(resolved) => resolved,
        Err(crate::docker::DockerError::Api {
            status: 403,
            message,
        }) => return Some(command_error(&message, "forbidden")),
        Err(e) => return Some(super::streams::docker_error(&e)),
    };
    let dirs: Vec<&std::path::Path> = resolved.dirs.iter().map(PathBuf::as_path).collect();
    let guard = HostGuard::here(&[&ctx.data_dir]).for_stack(&dirs);
    compose_violation(&policy, &guard, &resolved.model).map(|why| command_error(&why, "forbidden"))
}

/// This host's engine, able to run compose for stacks kept under the data directory.
pub(super) fn compose_engine(ctx: &CommandContext) -> Result<crate::docker::Engine, CommandError> {
    Ok(crate::docker::Engine::connect(&ctx.docker_socket)
        .map_err(|e| command_error(&e.to_string(), "docker_unavailable"))?
        .with_compose(crate::docker::compose::ComposeHost::unix(
            &ctx.docker_socket,
            ctx.data_dir.join("stacks"),
        )))
}

#[derive(Serialize)]
struct Pong<'a> {
    pong: bool,
    node_id: &'a str,
    agent_version: &'a str,
    time_unix_ms: i64,
}

pub(super) fn ok_result(request_id: String, payload: &impl Serialize) -> WorkerMessage {
    match serde_json::to_vec(payload) {
        Ok(json) => result(request_id, Outcome::OkJson(json)),
        Err(e) => error_result(
            request_id,
            command_error(&format!("cannot encode the result: {e}"), "internal"),
        ),
    }
}

pub(super) fn error_result(request_id: String, error: CommandError) -> WorkerMessage {
    result(request_id, Outcome::Error(error))
}

fn result(request_id: String, outcome: Outcome) -> WorkerMessage {
    WorkerMessage {
        message: Some(worker_message::Message::Result(CommandResult {
            request_id,
            outcome: Some(outcome),
        })),
    }
}

pub fn command_error(message: &str, code: &str) -> CommandError {
    CommandError {
        message: message.to_owned(),
        code: code.to_owned(),
        ..Default::default()
    }
}

/// Queues a message for the master; when the stream is gone the result has nowhere to go.
pub(super) async fn send(tx: &mpsc::Sender<WorkerMessage>, message: WorkerMessage) {
    if tx.send(message).await.is_err() {
        tracing::debug!("command stream closed before a result could be sent");
    }
}
