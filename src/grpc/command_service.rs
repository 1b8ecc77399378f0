//! `CommandService`: the bidirectional stream commands travel down and results come back on.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use contextbay_actors::AttachedStream;
use contextbay_proto::v1::command_service_server::CommandService;
use contextbay_proto::v1::{
    MasterMessage, StreamFrame, WorkerMessage, stream_frame, worker_message,
};
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{RpcError, authenticate, check_node_id};
use crate::state::AppState;

pub struct CommandApi {
    state: AppState,
}

impl CommandApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

type Outbound = Pin<Box<dyn Stream<Item = Result<MasterMessage, Status>> + Send + 'static>>;

/// Commands queued for one worker before sends fail with "not connected".
const OUTBOUND_BUFFER: usize = 64;

#[tonic::async_trait]
impl CommandService for CommandApi {
    type CommandStreamStream = Outbound;

    async fn command_stream(
        &self,
        req: Request<Streaming<WorkerMessage>>,
    ) -> Result<Response<Self::CommandStreamStream>, Status> {
        let node = authenticate(&self.state, &req).await?;
        let mut inbound = req.into_inner();
        // The first message says who is speaking and which protocol minor it speaks.
        let hello = match inbound.next().await {
            Some(Ok(WorkerMessage {
                message: Some(worker_message::Message::Hello(h)),
            })) => h,
            Some(Err(e)) => return Err(e),
            _ => return Err(RpcError::Invalid("the first message must be Hello".into()).into()),
        };
        check_node_id(&node, &hello.node_id)?;
        let (tx, rx) = mpsc::channel(OUTBOUND_BUFFER);
        let attached = self
            .state
            .nodes
            .attach(&node, tx)
            .await
            .map_err(|e| RpcError::Unavailable(e.to_string()))?
            .ok_or_else(|| {
                RpcError::NotRegistered("register before opening the command stream".into())
            })?;
        tracing::info!(%node, proto_minor = hello.proto_minor, "command stream attached");
        // Several masters: this master owns the node now (or once another's lease expires:
        // heartbeats retry).
        crate::cluster::nodes::renew_lease(&self.state, &node).await;

        let state = self.state.clone();
        let reader_node = node.clone();
        tokio::spawn(async move {
            // Owns the attachment: when the worker's side ends, the guard detaches.
            let attached = attached;
            let mut sinks = HashMap::new();
            while let Some(msg) = inbound.next().await {
                match msg {
                    Ok(WorkerMessage {
                        message: Some(worker_message::Message::Result(result)),
                    }) => {
                        attached.deliver(result);
                    }
                    Ok(WorkerMessage {
                        message: Some(worker_message::Message::Frame(frame)),
                    }) => route_frame(&attached, &mut sinks, frame).await,
                    Ok(_) => {}
                    Err(status) => {
                        tracing::debug!(node = %reader_node, %status, "command stream ended");
                        break;
                    }
                }
            }
            drop(attached);
            let _ = state.nodes.touched(&reader_node).await;
            crate::cluster::nodes::release_lease(&state, &reader_node).await;
        });
        // Ask for a census: it proves the Docker leg and fills the node's inventory.
        let state = self.state.clone();
        tokio::spawn(async move { crate::fleet::refresh_census(&state, &node).await });
        let outbound = ReceiverStream::new(rx).map(Ok);
        Ok(Response::new(Box::pin(outbound)))
    }
}

/// How long a frame may wait for a slow consumer before its stream is abandoned, so that one
/// stalled log viewer cannot hold up the worker's other commands.
const FRAME_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Hands a log/exec frame to the consumer of its stream. `sinks` caches each open stream's sink
/// for this connection, so a frame costs an actor round trip only on a stream's first frame.
async fn route_frame(
    attached: &AttachedStream,
    sinks: &mut HashMap<String, mpsc::Sender<StreamFrame>>,
    frame: StreamFrame,
) {
    let id = frame.stream_id.clone();
    let last = matches!(
        frame.frame,
        Some(stream_frame::Frame::ExitCode(_) | stream_frame::Frame::Eof(_))
    );
    let sink = match sinks.get(&id) {
        Some(sink) => Some(sink.clone()),
        None => attached.frame_sink(&id).await,
    };
    let Some(sink) = sink else {
        // A stream nobody reads any more (already closed): the worker was told to stop it.
        return;
    };
    match tokio::time::timeout(FRAME_SEND_TIMEOUT, sink.send(frame)).await {
        Ok(Ok(())) if !last => {
            sinks.insert(id, sink);
        }
        Ok(Ok(())) => {
            sinks.remove(&id);
            attached.stream_ended(&id);
        }
        Ok(Err(_)) | Err(_) => {
            sinks.remove(&id);
            attached.abandon_stream(&id);
        }
    }
}
