//! Several masters: log, exec and compose streams of a node owned by another master
//! (`docs/ha.md`, "Nodes across masters"; the subjects are in `docs/decisions.md`).
//!
//! The requesting master picks a stream id `<sid>`, subscribes to `contextbay.stream.<sid>.out`
//! and sends an open request to the owner on `contextbay.master.<owner>.stream` (headers
//! `Cb-Node`, `Cb-Stream`, `Cb-Timeout-Ms`; body the protobuf `Command`). The owner subscribes to
//! `contextbay.stream.<sid>.in`, opens the stream on its worker and answers (empty, or `Cb-Error`
//! as for commands). From then on, with a `Cb-Kind` header each:
//!
//! - owner → requester on `….out`: `frame` (a protobuf `StreamFrame`), `result` (the opening
//!   command's protobuf `CommandResult`, or `Cb-Error`), `ping`, and `end` once the worker's
//!   frames are over and the result was sent;
//! - requester → owner on `….in`: `input` (bytes for stdin), `resize` (`rows cols`), `ping`, and
//!   `close` when its consumer is done (the owner stops the stream on the worker).
//!
//! Both sides ping every [`PING`]; a side that hears nothing from the other for [`SILENCE`]
//! ends the stream (the owner stops it on the worker; the requester's consumer sees the stream
//! end and the result, if still awaited, fail naming the owner). Core NATS, no acknowledgements:
//! frames arrive in order from one publisher; a consumer too slow for NATS's buffers loses
//! frames rather than holding up the worker.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use contextbay_actors::{CommandFailure, PendingResult, RemoteStream, StreamLink};
use contextbay_proto::v1::{Command, CommandResult, StreamFrame, command};
use futures_util::StreamExt;
use prost::Message as _;
use tokio::sync::{mpsc, oneshot};

use super::Cluster;
use super::nodes::{ERROR_HEADER, NODE_HEADER, ROUTE_MARGIN, TIMEOUT_HEADER, failure_code};
use crate::state::AppState;

const STREAM_HEADER: &str = "Cb-Stream";
const KIND_HEADER: &str = "Cb-Kind";
/// How often each side of a routed stream says it is still there.
const PING: Duration = Duration::from_secs(5);
/// Silence after which a side gives the stream up.
const SILENCE: Duration = Duration::from_secs(20);
/// Frames buffered for the consumer on the requesting master.
const FRAMES: usize = contextbay_actors::node::STREAM_BUFFER;

/// `contextbay.master.<id>.stream`: where master `id` opens streams for its nodes.
pub(super) fn open_subject(master: &str) -> String {
    format!("contextbay.master.{master}.stream")
}

fn out_subject(sid: &str) -> String {
    format!("contextbay.stream.{sid}.out")
}

fn in_subject(sid: &str) -> String {
    format!("contextbay.stream.{sid}.in")
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, *v);
    }
    h
}

fn header(message: &async_nats::Message, name: &str) -> Option<String> {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_owned())
}

/// A stream id: 1 to 64 letters, digits, `-` or `_` (one subject token).
fn valid_sid(sid: &str) -> bool {
    (1..=64).contains(&sid.len())
        && sid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// What the requesting master sends to the owner, in order.
enum Up {
    Input(Vec<u8>),
    Resize(u32, u32),
    Ping,
    Close,
}

/// The requesting master's end of a routed stream: input, resizes and the close go, in order,
/// to the owner.
struct Link {
    tx: mpsc::UnboundedSender<Up>,
}

impl StreamLink for Link {
    fn input(&self, data: Vec<u8>) {
        let _ = self.tx.send(Up::Input(data));
    }
    fn resize(&self, rows: u32, cols: u32) {
        let _ = self.tx.send(Up::Resize(rows, cols));
    }
    fn close(&self) {
        let _ = self.tx.send(Up::Close);
    }
}

impl Cluster {
    /// Opens a stream on node `node` through its owner `owner`: the opening command's result
    /// and the stream, as [`contextbay_actors::NodeRegistryHandle::start_stream`] gives them.
    pub(super) async fn route_stream(
        &self,
        owner: &str,
        node: &str,
        kind: command::Kind,
        timeout: Duration,
    ) -> Result<(PendingResult, RemoteStream), CommandFailure> {
        let failed = |reason: String| CommandFailure::Owner {
            master: owner.to_owned(),
            reason,
        };
        let client = self.inner.client.clone();
        if client.connection_state() != async_nats::connection::State::Connected {
            return Err(failed("cannot be reached: NATS is not connected".into()));
        }
        let sid = uuid::Uuid::new_v4().simple().to_string();
        let mut out = client
            .subscribe(out_subject(&sid))
            .await
            .map_err(|err| failed(format!("cannot be reached: {err}")))?;
        let timeout_ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .to_string();
        let body = Command {
            request_id: String::new(),
            kind: Some(kind),
        }
        .encode_to_vec();
        let request = async_nats::Request::new()
            .headers(headers(&[
                (NODE_HEADER, node),
                (STREAM_HEADER, &sid),
                (TIMEOUT_HEADER, &timeout_ms),
            ]))
            .payload(body.into())
            .timeout(Some(ROUTE_MARGIN * 2));
        let reply = client
            .send_request(open_subject(owner), request)
            .await
            .map_err(|err| match err.kind() {
                async_nats::RequestErrorKind::NoResponders => {
                    failed("does not answer (gone, its lease not yet expired)".into())
                }
                _ => failed(format!("did not open the stream: {err}")),
            })?;
        if let Some(code) = reply.headers.as_ref().and_then(|h| h.get(ERROR_HEADER)) {
            let reason = String::from_utf8_lossy(&reply.payload).into_owned();
            return Err(super::nodes::failure_from(code.as_str(), reason, owner));
        }
        let (frames_tx, frames_rx) = mpsc::channel(FRAMES);
        let (result_tx, result_rx) = oneshot::channel();
        let (up_tx, mut up_rx) = mpsc::unbounded_channel();
        // Input, resizes, pings and the close, in order.
        let in_subject = in_subject(&sid);
        let sender = client.clone();
        tokio::spawn(async move {
            while let Some(up) = up_rx.recv().await {
                let (kind, body): (&str, Vec<u8>) = match up {
                    Up::Input(data) => ("input", data),
                    Up::Resize(rows, cols) => ("resize", format!("{rows} {cols}").into_bytes()),
                    Up::Ping => ("ping", Vec::new()),
                    Up::Close => ("close", Vec::new()),
                };
                let close = kind == "close";
                let _ = sender
                    .publish_with_headers(
                        in_subject.clone(),
                        headers(&[(KIND_HEADER, kind)]),
                        body.into(),
                    )
                    .await;
                if close {
                    let _ = sender.flush().await;
                    break;
                }
            }
        });
        // Frames and the result from the owner, until the end (or its silence).
        let owner_name = owner.to_owned();
        let pinger = up_tx.clone();
        tokio::spawn(async move {
            let mut result_tx = Some(result_tx);
            let mut ping = tokio::time::interval(PING);
            let mut heard = tokio::time::Instant::now();
            let why = loop {
                tokio::select! {
                    message = out.next() => {
                        let Some(message) = message else { break "the stream's subscription ended".to_owned() };
                        heard = tokio::time::Instant::now();
                        match header(&message, KIND_HEADER).as_deref() {
                            Some("frame") => {
                                let Ok(frame) = StreamFrame::decode(message.payload.as_ref()) else { continue };
                                if frames_tx.send(frame).await.is_err() {
                                    // The consumer is gone; its `close` is on its way.
                                    return;
                                }
                            }
                            Some("result") => {
                                let result = match header(&message, ERROR_HEADER) {
                                    Some(code) => Err(super::nodes::failure_from(
                                        &code,
                                        String::from_utf8_lossy(&message.payload).into_owned(),
                                        &owner_name,
                                    )),
                                    None => CommandResult::decode(message.payload.as_ref()).map_err(|err| {
                                        CommandFailure::Owner { master: owner_name.clone(), reason: format!("sent an undecodable result: {err}") }
                                    }),
                                };
                                if let Some(tx) = result_tx.take() {
                                    let _ = tx.send(result);
                                }
                            }
                            Some("end") => return,
                            _ => {}
                        }
                    }
                    _ = ping.tick() => {
                        if heard.elapsed() >= SILENCE {
                            break format!("stopped answering for {} s", SILENCE.as_secs());
                        }
                        let _ = pinger.send(Up::Ping);
                    }
                }
            };
            tracing::warn!(owner = %owner_name, "routed stream: {why}");
            if let Some(tx) = result_tx.take() {
                let _ = tx.send(Err(CommandFailure::Owner {
                    master: owner_name,
                    reason: why,
                }));
            }
            // Dropping `frames_tx` ends the consumer's stream.
        });
        let stream = RemoteStream::linked(sid, frames_rx, Arc::new(Link { tx: up_tx }));
        Ok((PendingResult::from_receiver(result_rx), stream))
    }
}

/// Opens every stream routed to this master on its own worker and relays it.
pub(super) async fn serve_streams(
    client: async_nats::Client,
    state: AppState,
    mut incoming: async_nats::Subscriber,
) {
    while let Some(message) = incoming.next().await {
        let client = client.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Some(reply_to) = message.reply.clone() else {
                return;
            };
            let answer = |headers: HeaderMap, body: Vec<u8>| {
                let client = client.clone();
                let reply_to = reply_to.clone();
                async move {
                    if let Err(err) = client
                        .publish_with_headers(reply_to, headers, body.into())
                        .await
                    {
                        tracing::warn!(%err, "answering a routed stream");
                    }
                }
            };
            match open_routed(&client, &state, &message).await {
                Ok((sid, pending, stream, input)) => {
                    answer(HeaderMap::new(), Vec::new()).await;
                    relay(client.clone(), sid, pending, stream, input).await;
                }
                Err((code, reason)) => {
                    answer(headers(&[(ERROR_HEADER, code)]), reason.into_bytes()).await;
                }
            }
        });
    }
}

type Opened = (String, PendingResult, RemoteStream, async_nats::Subscriber);

async fn open_routed(
    client: &async_nats::Client,
    state: &AppState,
    message: &async_nats::Message,
) -> Result<Opened, (&'static str, String)> {
    let node =
        header(message, NODE_HEADER).ok_or(("invalid", format!("no {NODE_HEADER} header")))?;
    let sid = header(message, STREAM_HEADER)
        .filter(|s| valid_sid(s))
        .ok_or(("invalid", format!("no valid {STREAM_HEADER} header")))?;
    let timeout = header(message, TIMEOUT_HEADER)
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| (1..=24 * 3_600_000).contains(t))
        .map(Duration::from_millis);
    let kind = Command::decode(message.payload.as_ref())
        .map_err(|err| ("invalid", format!("undecodable command: {err}")))?
        .kind
        .ok_or(("invalid", "a command without a kind".to_owned()))?;
    let input = client
        .subscribe(in_subject(&sid))
        .await
        .map_err(|err| ("unavailable", err.to_string()))?;
    tracing::debug!(%node, %sid, "opening a stream routed from another master");
    let (pending, stream) = state
        .nodes
        .start_stream(&node, kind, timeout)
        .await
        .map_err(|f| (failure_code(&f), f.to_string()))?;
    Ok((sid, pending, stream, input))
}

/// Relays one stream between this master's worker and the requesting master until it ends, the
/// requester closes it, or the requester falls silent.
async fn relay(
    client: async_nats::Client,
    sid: String,
    pending: PendingResult,
    mut stream: RemoteStream,
    mut input: async_nats::Subscriber,
) {
    let out = out_subject(&sid);
    let send = |kind: &'static str, extra: Option<(&'static str, String)>, body: Vec<u8>| {
        let client = client.clone();
        let out = out.clone();
        async move {
            let mut h = headers(&[(KIND_HEADER, kind)]);
            if let Some((k, v)) = extra {
                h.insert(k, v.as_str());
            }
            client.publish_with_headers(out, h, body.into()).await
        }
    };
    let mut pending = Box::pin(pending.wait());
    let mut result_sent = false;
    let mut frames_done = false;
    let mut ping = tokio::time::interval(PING);
    let mut heard = tokio::time::Instant::now();
    loop {
        if result_sent && frames_done {
            let _ = send("end", None, Vec::new()).await;
            break;
        }
        tokio::select! {
            result = &mut pending, if !result_sent => {
                result_sent = true;
                let sent = match result {
                    Ok(r) => send("result", None, r.encode_to_vec()).await,
                    Err(f) => send("result", Some((ERROR_HEADER, failure_code(&f).to_owned())), f.to_string().into_bytes()).await,
                };
                if sent.is_err() { break; }
            }
            frame = stream.frames.recv(), if !frames_done => match frame {
                Some(frame) => {
                    if send("frame", None, frame.encode_to_vec()).await.is_err() { break; }
                }
                None => frames_done = true,
            },
            message = input.next() => {
                let Some(message) = message else { break };
                heard = tokio::time::Instant::now();
                match header(&message, KIND_HEADER).as_deref() {
                    Some("input") => stream.control.input(message.payload.to_vec()),
                    Some("resize") => {
                        let text = String::from_utf8_lossy(&message.payload).into_owned();
                        if let Some((rows, cols)) = text.split_once(' ')
                            && let (Ok(rows), Ok(cols)) = (rows.parse(), cols.parse())
                        {
                            stream.control.resize(rows, cols);
                        }
                    }
                    Some("close") => break,
                    _ => {}
                }
            }
            _ = ping.tick() => {
                if heard.elapsed() >= SILENCE {
                    tracing::warn!(%sid, "the master that opened a routed stream fell silent; stopping it");
                    break;
                }
                let _ = send("ping", None, Vec::new()).await;
            }
        }
    }
    // Dropping `stream` stops it on the worker (when it has not ended already).
}

#[cfg(test)]
mod tests {
    #[test]
    fn stream_ids_are_one_subject_token() {
        assert!(super::valid_sid("0123abcd"));
        assert!(!super::valid_sid("a.b"));
        assert!(!super::valid_sid("a*"));
        assert!(!super::valid_sid(""));
        assert!(!super::valid_sid(&"a".repeat(65)));
    }
}
