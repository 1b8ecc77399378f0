//! Archive streams the master opens on this worker (`ArchiveOpen`): a volume's files as a tar
//! stream, read or written through this host's engine with a never-started helper container
//! (`crate::docker::archive`). Read: the tar goes out as `stdout` frames, then `eof`. Write: the
//! master's `StreamInput`s (with offsets; the last with `eof`) are fed to the engine as they are
//! taken, each acknowledged with an `ack` frame so the master never has more than its window in
//! flight. A failure part-way is a `stderr` frame with the reason, then `exit_code` 1. Whatever
//! was changed for the duration (stopped containers, the helper, a volume created for a write) is
//! undone either way, also when the stream is aborted (the guard's drop).

use std::pin::pin;

use bytes::Bytes;
use contextbay_proto::v1::{ArchiveOpen, WorkerMessage, archive_open, stream_frame};
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

use super::commands::{CommandContext, command_error, error_result, ok_result, send};
use super::streams::{docker_error, frame};
use crate::docker::archive::{VolumeGuard, valid_volume_name};

/// One `StreamInput` of an archive write stream.
pub(super) struct ArchiveChunk {
    pub offset: u64,
    pub data: Vec<u8>,
    pub eof: bool,
}

/// Chunks queued per archive write stream; the master's window keeps far fewer in flight, so a
/// full queue means a master that ignores the window (the stream then fails).
pub(super) const ARCHIVE_INPUT_QUEUE: usize = 256;

pub(super) async fn archive(
    ctx: &CommandContext,
    id: String,
    open: ArchiveOpen,
    input: mpsc::Receiver<ArchiveChunk>,
    tx: mpsc::Sender<WorkerMessage>,
) {
    let Some(archive_open::Target::Volume(volume)) = open.target else {
        let error = command_error("the archive needs a volume", "invalid_argument");
        return send(&tx, error_result(id, error)).await;
    };
    if !valid_volume_name(&volume) {
        let error = command_error(
            &format!("'{volume}' is not a valid volume name"),
            "invalid_argument",
        );
        return send(&tx, error_result(id, error)).await;
    }
    let engine = match crate::docker::Engine::connect(&ctx.docker_socket) {
        Ok(engine) => engine,
        Err(e) => {
            let error = command_error(&e.to_string(), "docker_unavailable");
            return send(&tx, error_result(id, error)).await;
        }
    };
    let mut guard = VolumeGuard::new(engine.clone());
    let prepared = async {
        let exists = engine
            .volume_exists(&volume)
            .await
            .map_err(|e| docker_error(&e))?;
        if open.write && open.create {
            if exists {
                return Err(command_error(
                    &format!("volume '{volume}' already exists"),
                    "invalid_argument",
                ));
            }
            guard
                .create_volume(&volume)
                .await
                .map_err(|e| docker_error(&e))?;
        } else if !exists {
            return Err(command_error(
                &format!("no volume '{volume}' on this host"),
                "not_found",
            ));
        }
        if open.stop_users {
            guard
                .stop_users(&volume)
                .await
                .map_err(|e| docker_error(&e))?;
        }
        guard.helper(&volume).await.map_err(|e| docker_error(&e))
    }
    .await;
    let helper = match prepared {
        Ok(helper) => helper,
        Err(error) => {
            guard.finish(true).await;
            return send(&tx, error_result(id, error)).await;
        }
    };
    send(&tx, ok_result(id.clone(), &json!({"stream": "open"}))).await;
    let outcome = if open.write {
        let body = input_stream(input, tx.clone(), id.clone());
        engine
            .write_volume(&helper, body)
            .await
            .map_err(|e| format!("writing the volume: {e}"))
    } else {
        let mut tar = pin!(engine.read_volume(&helper));
        let mut outcome = Ok(());
        while let Some(chunk) = tar.next().await {
            match chunk {
                Ok(bytes) => {
                    let data = stream_frame::Frame::Stdout(bytes.to_vec());
                    if tx.send(frame(&id, data)).await.is_err() {
                        // The command stream is gone: nobody to tell.
                        guard.finish(true).await;
                        return;
                    }
                }
                Err(e) => {
                    outcome = Err(format!("reading the volume: {e}"));
                    break;
                }
            }
        }
        outcome
    };
    let problems = guard.finish(outcome.is_err()).await;
    let outcome = match outcome {
        Ok(()) if problems.is_empty() => Ok(()),
        Ok(()) => Err(problems.join("; ")),
        Err(e) if problems.is_empty() => Err(e),
        Err(e) => Err(format!("{e}; {}", problems.join("; "))),
    };
    match outcome {
        Ok(()) => send(&tx, frame(&id, stream_frame::Frame::Eof(true))).await,
        Err(reason) => {
            tracing::warn!(stream = %id, %reason, "archive stream failed");
            send(
                &tx,
                frame(&id, stream_frame::Frame::Stderr(reason.into_bytes())),
            )
            .await;
            send(&tx, frame(&id, stream_frame::Frame::ExitCode(1))).await;
        }
    }
}

/// The master's chunks as the engine's request body: each is checked to follow the previous one
/// and acknowledged as the engine takes it; the body ends at the chunk marked `eof`, and fails
/// when the chunks stop before it (the master stopped sending) or skip a part.
fn input_stream(
    input: mpsc::Receiver<ArchiveChunk>,
    tx: mpsc::Sender<WorkerMessage>,
    id: String,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    struct State {
        input: mpsc::Receiver<ArchiveChunk>,
        tx: mpsc::Sender<WorkerMessage>,
        id: String,
        taken: u64,
        done: bool,
    }
    let start = State {
        input,
        tx,
        id,
        taken: 0,
        done: false,
    };
    futures_util::stream::unfold(start, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            let Some(chunk) = st.input.recv().await else {
                st.done = true;
                let gone =
                    std::io::Error::other("the archive ended early: the master stopped sending");
                return Some((Err(gone), st));
            };
            if chunk.offset != st.taken {
                st.done = true;
                let gap = std::io::Error::other(format!(
                    "archive data lost: expected offset {}, got {}",
                    st.taken, chunk.offset
                ));
                return Some((Err(gap), st));
            }
            st.taken += chunk.data.len() as u64;
            let ack = frame(&st.id, stream_frame::Frame::Ack(st.taken));
            let _ = st.tx.send(ack).await;
            st.done = chunk.eof;
            if !chunk.data.is_empty() {
                return Some((Ok(Bytes::from(chunk.data)), st));
            }
            if chunk.eof {
                return None;
            }
        }
    })
}
