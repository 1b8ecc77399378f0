//! Log and exec streams the master opens on this worker (`LogsOpen`, `ExecOpen`). Each runs as a
//! task: it answers the opening command with a `CommandResult` (ok once the stream is open, or the
//! error that prevented it), then sends `StreamFrame`s tagged with the opening request id, and ends
//! with an `exit_code` or `eof` frame. A `StreamClose` (or the command stream ending) aborts it.

use std::pin::pin;

use contextbay_proto::v1::{
    CommandError, ComposeRun, ExecOpen, LogsOpen, StreamFrame, WorkerMessage, stream_frame,
    worker_message,
};
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::commands::{
    CommandContext, ExecControl, command_error, compose_engine, error_result, ok_result, send,
};
use crate::docker::compose::{ComposeOutcome, OutputLine};
use crate::docker::containers::LogQuery;
use crate::docker::{DockerError, Engine};

/// A Docker failure as the master expects it: the engine's status and words.
pub fn docker_error(e: &DockerError) -> CommandError {
    CommandError {
        message: e.to_string(),
        code: if e.status().is_some() {
            "docker_error".into()
        } else {
            "docker_unavailable".into()
        },
        docker_status: e.status().map(u32::from),
        ..Default::default()
    }
}

pub(super) fn frame(stream_id: &str, frame: stream_frame::Frame) -> WorkerMessage {
    WorkerMessage {
        message: Some(worker_message::Message::Frame(StreamFrame {
            stream_id: stream_id.to_owned(),
            frame: Some(frame),
        })),
    }
}

fn connect(ctx: &CommandContext) -> Result<Engine, CommandError> {
    Engine::connect(&ctx.docker_socket)
        .map_err(|e| command_error(&e.to_string(), "docker_unavailable"))
}

/// Follows (or dumps) a container's log. Each line is one frame, prefixed with Docker's RFC 3339
/// timestamp and a space when timestamps were asked for.
pub(super) async fn logs(
    ctx: &CommandContext,
    id: String,
    open: LogsOpen,
    tx: mpsc::Sender<WorkerMessage>,
) {
    let engine = match connect(ctx) {
        Ok(engine) => engine,
        Err(error) => return send(&tx, error_result(id, error)).await,
    };
    // The container must exist before the stream counts as open.
    if let Err(e) = engine.inspect_container(&open.container).await {
        return send(&tx, error_result(id, docker_error(&e))).await;
    }
    send(&tx, ok_result(id.clone(), &json!({"stream": "open"}))).await;
    let query = LogQuery {
        tail: open.tail,
        since: (open.since_unix > 0).then_some(open.since_unix),
        timestamps: open.timestamps,
        stdout: Some(open.stdout),
        stderr: Some(open.stderr),
    };
    let mut lines = pin!(engine.log_stream(&open.container, &query, open.follow));
    while let Some(line) = lines.next().await {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                tracing::debug!(stream = %id, error = %e, "log stream failed");
                break;
            }
        };
        let text = match line.ts {
            Some(ts) => format!("{ts} {}\n", line.line),
            None => format!("{}\n", line.line),
        };
        let data = if line.stream == "stderr" {
            stream_frame::Frame::Stderr(text.into_bytes())
        } else {
            stream_frame::Frame::Stdout(text.into_bytes())
        };
        if tx.send(frame(&id, data)).await.is_err() {
            return;
        }
    }
    send(&tx, frame(&id, stream_frame::Frame::Eof(true))).await;
}

/// Runs a process in a container, with stdin from `input`, until it exits; the last frame carries
/// its exit code.
pub(super) async fn exec(
    ctx: &CommandContext,
    id: String,
    open: ExecOpen,
    mut input: mpsc::Receiver<ExecControl>,
    tx: mpsc::Sender<WorkerMessage>,
) {
    if let Some(why) = ctx.policy.refuses_exec() {
        return send(&tx, error_result(id, command_error(&why, "forbidden"))).await;
    }
    let engine = match connect(ctx) {
        Ok(engine) => engine,
        Err(error) => return send(&tx, error_result(id, error)).await,
    };
    if open.cmd.is_empty() {
        let error = command_error("exec needs a command", "invalid_argument");
        return send(&tx, error_result(id, error)).await;
    }
    let session = match engine.exec(&open.container, open.cmd, open.tty).await {
        Ok(session) => session,
        Err(e) => return send(&tx, error_result(id, docker_error(&e))).await,
    };
    let crate::docker::containers::ExecSession {
        exec_id,
        mut output,
        input: mut stdin,
    } = session;
    if open.rows > 0 && open.cols > 0 {
        let rows = u16::try_from(open.rows).unwrap_or(u16::MAX);
        let cols = u16::try_from(open.cols).unwrap_or(u16::MAX);
        let _ = engine.resize_exec(&exec_id, rows, cols).await;
    }
    send(
        &tx,
        ok_result(id.clone(), &json!({"stream": "open", "exec_id": exec_id})),
    )
    .await;
    loop {
        tokio::select! {
            out = output.next() => match out {
                Some(Ok(bytes)) => {
                    if tx.send(frame(&id, stream_frame::Frame::Stdout(bytes.to_vec()))).await.is_err() {
                        return;
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!(stream = %id, error = %e, "exec output failed");
                    break;
                }
                None => break,
            },
            Some(control) = input.recv() => match control {
                ExecControl::Input(data) => {
                    if stdin.write_all(&data).await.is_err() {
                        break;
                    }
                }
                ExecControl::Resize { rows, cols } => {
                    let _ = engine.resize_exec(&exec_id, rows, cols).await;
                }
            },
        }
    }
    let last = match engine.exec_exit(&exec_id).await {
        Some(code) => stream_frame::Frame::ExitCode(i32::try_from(code).unwrap_or(i32::MAX)),
        None => stream_frame::Frame::Eof(true),
    };
    send(&tx, frame(&id, last)).await;
}

/// Runs the compose CLI for a stack on this host, sending each output line as a frame as it is
/// written, then `eof`, then the outcome (`{command, exit_code, ok}`) as the command's result.
pub(super) async fn compose(
    ctx: &CommandContext,
    id: String,
    run: ComposeRun,
    tx: mpsc::Sender<WorkerMessage>,
) {
    let run: crate::docker::compose::ComposeRun = match serde_json::from_slice(&run.run_json) {
        Ok(run) => run,
        Err(e) => {
            let error = command_error(&format!("invalid compose run: {e}"), "invalid_argument");
            return send(&tx, error_result(id, error)).await;
        }
    };
    let engine = match compose_engine(ctx) {
        Ok(engine) => engine,
        Err(error) => return send(&tx, error_result(id, error)).await,
    };
    if let Some(error) = super::commands::compose_refusal(ctx, &engine, &run).await {
        return send(&tx, error_result(id, error)).await;
    }
    // The CLI's lines are handed over synchronously; a forwarder turns them into frames.
    let (line_tx, mut line_rx) = mpsc::unbounded_channel::<OutputLine>();
    let forward = async {
        while let Some(line) = line_rx.recv().await {
            let data = format!("{}\n", line.line).into_bytes();
            let data = if line.stream == "stderr" {
                stream_frame::Frame::Stderr(data)
            } else {
                stream_frame::Frame::Stdout(data)
            };
            if tx.send(frame(&id, data)).await.is_err() {
                return;
            }
        }
    };
    let run_cli = async {
        let mut on_line = move |line: &OutputLine| {
            let _ = line_tx.send(line.clone());
        };
        // `on_line` (and with it the sender) is dropped when the run ends, ending `forward`.
        engine.compose(&run, &mut on_line).await
    };
    let (outcome, ()) = tokio::join!(run_cli, forward);
    send(&tx, frame(&id, stream_frame::Frame::Eof(true))).await;
    let message = match outcome {
        Ok(outcome) => ok_result(
            id,
            &ComposeOutcome {
                lines: Vec::new(),
                ..outcome
            },
        ),
        Err(e) => error_result(id, docker_error(&e)),
    };
    send(&tx, message).await;
}
