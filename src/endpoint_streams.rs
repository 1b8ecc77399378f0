//! Log and exec streams on any endpoint: read straight from the engine for `local` and `tcp`,
//! or opened on the node's worker (`LogsOpen`/`ExecOpen` on its command stream) for `agent`.
//! The WebSocket routes see one shape either way.

use std::pin::Pin;

use bytes::Bytes;
use contextbay_actors::{CommandFailure, RemoteStream};
use contextbay_proto::v1::{
    CommandResult, ExecOpen, LogsOpen, command, command_result, stream_frame,
};
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use crate::docker::Engine;
use crate::docker::containers::{ExecSession, LogLine, LogQuery};
use crate::endpoints::{self, EndpointError};
use crate::state::AppState;
use crate::store::endpoints::StoredEndpoint;

/// A container's log lines; an `Err` ends the stream with what went wrong.
pub type LogLines = Pin<Box<dyn Stream<Item = Result<LogLine, String>> + Send>>;

fn node_of(e: &StoredEndpoint) -> &str {
    e.node_id.as_deref().unwrap_or(&e.id)
}

fn unavailable(node: &str, f: &CommandFailure) -> EndpointError {
    EndpointError::Unavailable(format!("node {node}: {f}"))
}

/// The opening command's answer: `Ok` when the worker opened the stream.
fn opened(result: CommandResult) -> Result<(), EndpointError> {
    match result.outcome {
        Some(command_result::Outcome::OkJson(_)) => Ok(()),
        Some(command_result::Outcome::Error(err)) => {
            Err(EndpointError::remote(err, result.request_id))
        }
        None => Err(EndpointError::Unavailable(
            "the worker sent an empty result".into(),
        )),
    }
}

/// Opens container `id`'s log on endpoint `e` (history per `q`, then following if `follow`).
pub async fn logs(
    state: &AppState,
    e: &StoredEndpoint,
    id: &str,
    q: &LogQuery,
    follow: bool,
) -> Result<LogLines, EndpointError> {
    if let Some(engine) = endpoints::engine(state, e)? {
        // The container must exist before a stream counts as open, so a typo is a plain 404.
        engine
            .inspect_container(id)
            .await
            .map_err(EndpointError::from)?;
        let lines = engine.log_stream(id, q, follow);
        return Ok(Box::pin(lines.map(|l| l.map_err(|e| e.to_string()))));
    }
    let node = node_of(e);
    let open = LogsOpen {
        container: id.to_owned(),
        follow,
        tail: q.tail,
        since_unix: q.since.unwrap_or(0),
        stdout: q.stdout.unwrap_or(true),
        stderr: q.stderr.unwrap_or(true),
        timestamps: q.timestamps,
    };
    let (result, stream) =
        crate::cluster::nodes::open_stream(state, node, command::Kind::LogsOpen(open))
            .await
            .map_err(|f| unavailable(node, &f))?;
    opened(result)?;
    Ok(remote_lines(stream, q.timestamps))
}

/// Turns a worker's log frames (one or more `\n`-terminated lines each) into log lines.
fn remote_lines(stream: RemoteStream, timestamps: bool) -> LogLines {
    let lines = futures_util::stream::unfold(Some(stream), move |stream| async move {
        // The stream is kept alive here: dropping it tells the worker to stop.
        let mut stream = stream?;
        loop {
            let Some(frame) = stream.frames.recv().await else {
                let gone = Err("the worker disconnected".to_owned());
                return Some((vec![gone], None));
            };
            let (kind, text) = output_of(frame.frame)?;
            let batch: Vec<Result<LogLine, String>> = text
                .lines()
                .map(|l| Ok(log_line(kind, l, timestamps)))
                .collect();
            if !batch.is_empty() {
                return Some((batch, Some(stream)));
            }
        }
    });
    Box::pin(lines.flat_map(futures_util::stream::iter))
}

/// The output a frame carries, as (`stdout` or `stderr`, text); `None` for a frame that ends the
/// stream.
fn output_of(frame: Option<stream_frame::Frame>) -> Option<(&'static str, String)> {
    match frame? {
        stream_frame::Frame::Stdout(d) => {
            Some(("stdout", String::from_utf8_lossy(&d).into_owned()))
        }
        stream_frame::Frame::Stderr(d) => {
            Some(("stderr", String::from_utf8_lossy(&d).into_owned()))
        }
        stream_frame::Frame::Eof(_) | stream_frame::Frame::ExitCode(_) => None,
        // Only archive write streams carry acknowledgements; nothing to show.
        stream_frame::Frame::Ack(_) => Some(("stdout", String::new())),
    }
}

fn log_line(stream: &str, text: &str, timestamps: bool) -> LogLine {
    let (ts, line) = match text.split_once(' ') {
        Some((ts, rest)) if timestamps => (Some(ts.to_owned()), rest.to_owned()),
        _ => (None, text.to_owned()),
    };
    LogLine {
        stream: stream.to_owned(),
        ts,
        line,
    }
}

/// What an exec session produced next.
#[derive(Debug)]
pub enum ExecEvent {
    Output(Bytes),
    /// The process ended (with its exit code when the engine reported one).
    Exit(Option<i64>),
    /// The session broke off.
    Failed(String),
}

/// An interactive process in a container, local or through a worker.
pub enum Exec {
    Direct {
        engine: Engine,
        session: ExecSession,
    },
    Remote(RemoteStream),
}

/// Starts `cmd` in container `id` on endpoint `e`.
pub async fn exec(
    state: &AppState,
    e: &StoredEndpoint,
    id: &str,
    cmd: Vec<String>,
    tty: bool,
    size: Option<(u16, u16)>,
) -> Result<Exec, EndpointError> {
    if let Some(engine) = endpoints::engine(state, e)? {
        let session = engine
            .exec(id, cmd, tty)
            .await
            .map_err(EndpointError::from)?;
        if let Some((rows, cols)) = size {
            let _ = engine.resize_exec(&session.exec_id, rows, cols).await;
        }
        return Ok(Exec::Direct { engine, session });
    }
    let node = node_of(e);
    let (rows, cols) = size.unwrap_or((0, 0));
    let open = ExecOpen {
        container: id.to_owned(),
        cmd,
        tty,
        rows: rows.into(),
        cols: cols.into(),
        ..Default::default()
    };
    let (result, stream) =
        crate::cluster::nodes::open_stream(state, node, command::Kind::ExecOpen(open))
            .await
            .map_err(|f| unavailable(node, &f))?;
    opened(result)?;
    Ok(Exec::Remote(stream))
}

impl Exec {
    /// The next output, or how the process ended.
    pub async fn next(&mut self) -> ExecEvent {
        match self {
            Self::Direct { engine, session } => match session.output.next().await {
                Some(Ok(bytes)) => ExecEvent::Output(bytes),
                Some(Err(err)) => ExecEvent::Failed(err.to_string()),
                None => ExecEvent::Exit(engine.exec_exit(&session.exec_id).await),
            },
            Self::Remote(stream) => match stream.frames.recv().await {
                Some(frame) => match frame.frame {
                    Some(stream_frame::Frame::Stdout(d) | stream_frame::Frame::Stderr(d)) => {
                        ExecEvent::Output(Bytes::from(d))
                    }
                    Some(stream_frame::Frame::ExitCode(code)) => ExecEvent::Exit(Some(code.into())),
                    Some(stream_frame::Frame::Ack(_)) => ExecEvent::Output(Bytes::new()),
                    Some(stream_frame::Frame::Eof(_)) | None => ExecEvent::Exit(None),
                },
                None => ExecEvent::Failed("the worker disconnected".into()),
            },
        }
    }

    /// Writes to the process's stdin.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), String> {
        match self {
            Self::Direct { session, .. } => session
                .input
                .write_all(data)
                .await
                .map_err(|e| e.to_string()),
            Self::Remote(stream) => {
                stream.control.input(data.to_vec());
                Ok(())
            }
        }
    }

    pub async fn resize(&mut self, rows: u16, cols: u16) {
        match self {
            Self::Direct { engine, session } => {
                let _ = engine.resize_exec(&session.exec_id, rows, cols).await;
            }
            Self::Remote(stream) => stream.control.resize(rows.into(), cols.into()),
        }
    }
}

/// Runs the compose CLI on an agent endpoint's host, handing each output line to `on_line` as
/// the worker sends it. A worker without `ComposeRun` (an older one) gets a `DockerCall` instead,
/// and its lines are handed over when the run ends.
pub async fn compose_on_worker(
    state: &AppState,
    e: &StoredEndpoint,
    run: crate::docker::compose::ComposeRun,
    on_line: &mut (dyn FnMut(&crate::docker::compose::OutputLine) + Send),
) -> Result<crate::docker::compose::ComposeOutcome, EndpointError> {
    use crate::docker::compose::{ComposeOutcome, OutputLine};
    let node = node_of(e);
    let run_json =
        serde_json::to_vec(&run).map_err(|err| EndpointError::Internal(err.to_string()))?;
    let kind = command::Kind::ComposeRun(contextbay_proto::v1::ComposeRun { run_json });
    let (pending, mut stream) = crate::cluster::nodes::start_stream(
        state,
        node,
        kind,
        Some(crate::docker::ops::LONG_RUNNING),
    )
    .await
    .map_err(|f| unavailable(node, &f))?;
    let mut lines = Vec::new();
    let mut result = None;
    let mut frames_done = false;
    let mut pending = Box::pin(pending.wait());
    while result.is_none() || !frames_done {
        tokio::select! {
            r = &mut pending, if result.is_none() => {
                // An error result ends the run without an `eof` frame.
                if !matches!(&r, Ok(CommandResult { outcome: Some(command_result::Outcome::OkJson(_)), .. })) {
                    frames_done = true;
                }
                result = Some(r);
            }
            frame = stream.frames.recv(), if !frames_done => match output_of(frame.and_then(|f| f.frame)) {
                Some((kind, text)) => {
                    for line in text.lines() {
                        let line = OutputLine { stream: kind.into(), line: line.to_owned() };
                        on_line(&line);
                        lines.push(line);
                    }
                }
                None => frames_done = true,
            },
        }
    }
    let result = match result {
        Some(Ok(result)) => result,
        Some(Err(f)) => return Err(unavailable(node, &f)),
        None => {
            return Err(EndpointError::Internal(
                "the compose run ended without a result".into(),
            ));
        }
    };
    match result.outcome {
        Some(command_result::Outcome::OkJson(json)) => {
            let outcome: ComposeOutcome = serde_json::from_slice(&json).map_err(|err| {
                EndpointError::Unavailable(format!(
                    "the worker sent an invalid compose outcome: {err}"
                ))
            })?;
            Ok(ComposeOutcome { lines, ..outcome })
        }
        Some(command_result::Outcome::Error(err)) if err.code == "unsupported" => {
            let outcome: ComposeOutcome =
                endpoints::call_as(state, e, crate::docker::ops::DockerOp::Compose { run }).await?;
            for line in &outcome.lines {
                on_line(line);
            }
            Ok(outcome)
        }
        Some(command_result::Outcome::Error(err)) => {
            Err(EndpointError::remote(err, result.request_id))
        }
        None => Err(EndpointError::Unavailable(
            "the worker sent an empty result".into(),
        )),
    }
}

/// A volume's tar stream read on a worker; an `Err` ends it with what went wrong.
pub type ArchiveChunks = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// Archive data sent to a worker per `StreamInput`.
const ARCHIVE_CHUNK: usize = 64 * 1024;
/// Archive data sent to a worker and not yet acknowledged, at most.
const ARCHIVE_WINDOW: u64 = 1024 * 1024;

const WORKER_GONE: &str =
    "the worker disconnected (or its stream was cut off) before the archive ended";

/// Opens an archive stream on an agent endpoint's worker and waits for it to be open (creating
/// the helper and stopping containers may take a while: the long-running timeout applies).
async fn open_archive(
    state: &AppState,
    e: &StoredEndpoint,
    open: contextbay_proto::v1::ArchiveOpen,
) -> Result<RemoteStream, EndpointError> {
    let node = node_of(e);
    let (pending, stream) = state
        .nodes
        .start_stream(
            node,
            command::Kind::ArchiveOpen(open),
            Some(crate::docker::ops::LONG_RUNNING),
        )
        .await
        .map_err(|f| unavailable(node, &f))?;
    let result = pending.wait().await.map_err(|f| unavailable(node, &f))?;
    match result.outcome {
        Some(command_result::Outcome::Error(err)) if err.code == "unsupported" => {
            Err(EndpointError::Unavailable(format!(
                "the worker of node {node} cannot stream archives (it answered 'unsupported \
                 command'): upgrade it"
            )))
        }
        _ => opened(result).map(|()| stream),
    }
}

/// How an archive stream ended, from its last frames: `stderr` carries the reason, `exit_code`
/// (non-zero) or the stream's end without `eof` is a failure.
fn archive_failure(reason: &mut String, frame: Option<stream_frame::Frame>) -> Option<String> {
    match frame {
        Some(stream_frame::Frame::Stderr(d)) => {
            reason.push_str(&String::from_utf8_lossy(&d));
            None
        }
        Some(stream_frame::Frame::ExitCode(code)) => Some(if reason.is_empty() {
            format!("the worker's archive stream ended with code {code}")
        } else {
            std::mem::take(reason)
        }),
        _ => None,
    }
}

/// Reads volume `volume` of agent endpoint `e` as a tar stream (entries under `data/`) through
/// its worker; with `stop_users`, the worker stops the running containers that use it for the
/// duration. Dropping the stream aborts it on the worker.
pub async fn archive_read(
    state: &AppState,
    e: &StoredEndpoint,
    volume: &str,
    stop_users: bool,
) -> Result<ArchiveChunks, EndpointError> {
    use contextbay_proto::v1::{ArchiveOpen, archive_open};
    let open = ArchiveOpen {
        target: Some(archive_open::Target::Volume(volume.to_owned())),
        write: false,
        create: false,
        stop_users,
    };
    let stream = open_archive(state, e, open).await?;
    let chunks = futures_util::stream::unfold(Some((stream, String::new())), |st| async move {
        // The stream is kept here until the end: dropping it tells the worker to stop.
        let (mut stream, mut reason) = st?;
        loop {
            let Some(frame) = stream.frames.recv().await else {
                return Some((Err(WORKER_GONE.to_owned()), None));
            };
            match frame.frame {
                Some(stream_frame::Frame::Stdout(d)) => {
                    return Some((Ok(Bytes::from(d)), Some((stream, reason))));
                }
                Some(stream_frame::Frame::Eof(_)) => return None,
                other => {
                    if let Some(failure) = archive_failure(&mut reason, other) {
                        return Some((Err(failure), None));
                    }
                }
            }
        }
    });
    Ok(Box::pin(chunks))
}

/// Writes a tar stream (entries under `data/`) into volume `volume` of agent endpoint `e`
/// through its worker: into a new volume with `create` (removed again on failure), otherwise
/// into the existing one with its running users stopped for the duration. At most
/// [`ARCHIVE_WINDOW`] bytes are in flight unacknowledged; nothing is buffered whole.
pub async fn archive_write(
    state: &AppState,
    e: &StoredEndpoint,
    volume: &str,
    create: bool,
    mut tar: impl tokio::io::AsyncRead + Unpin + Send,
) -> Result<(), EndpointError> {
    use contextbay_proto::v1::{ArchiveOpen, archive_open};
    use tokio::io::AsyncReadExt;
    let open = ArchiveOpen {
        target: Some(archive_open::Target::Volume(volume.to_owned())),
        write: true,
        create,
        stop_users: !create,
    };
    let mut stream = open_archive(state, e, open).await?;
    let (mut sent, mut acked, mut eof) = (0u64, 0u64, false);
    let mut reason = String::new();
    let mut buf = vec![0u8; ARCHIVE_CHUNK];
    loop {
        while !eof && sent - acked < ARCHIVE_WINDOW {
            let n = tar
                .read(&mut buf)
                .await
                .map_err(|err| EndpointError::Internal(format!("reading the archive: {err}")))?;
            eof = n == 0;
            stream.control.archive_input(sent, buf[..n].to_vec(), eof);
            sent += n as u64;
        }
        let Some(frame) = stream.frames.recv().await else {
            return Err(EndpointError::Unavailable(WORKER_GONE.into()));
        };
        match frame.frame {
            Some(stream_frame::Frame::Ack(n)) => acked = n,
            Some(stream_frame::Frame::Eof(_)) if eof && acked == sent => return Ok(()),
            Some(stream_frame::Frame::Eof(_)) => {
                return Err(EndpointError::Unavailable(
                    "the worker ended the archive before taking all of it".into(),
                ));
            }
            other => {
                if let Some(failure) = archive_failure(&mut reason, other) {
                    return Err(EndpointError::Unavailable(failure));
                }
            }
        }
    }
}
