//! The whole agent against an in-process tonic server standing in for the master: register,
//! heartbeat, metrics, events, ping on the command stream, and reconnecting after the server
//! goes away and comes back on the same port.

use std::net::SocketAddr;
use std::time::Duration;

use contextbay_proto::v1::command_result::Outcome;
use contextbay_proto::v1::command_service_server::{CommandService, CommandServiceServer};
use contextbay_proto::v1::node_service_server::{NodeService, NodeServiceServer};
use contextbay_proto::v1::{
    Command, CommandResult, Event, EventBatch, HeartbeatRequest, HeartbeatResponse, Hello,
    MasterMessage, MetricsBatch, Ping, RegisterRequest, RegisterResponse, ReportAck, WorkerMessage,
    command, master_message, worker_message,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

use super::enroll::NodeCredential;
use super::{WorkerConfig, run};

const CREDENTIAL: &str = "cred-test-0123";

/// What the stand-in master saw, in arrival order.
#[derive(Debug, Clone)]
enum Seen {
    Register(RegisterRequest, String),
    Heartbeat(HeartbeatRequest, String),
    Metrics(MetricsBatch),
    Events(Vec<Event>),
    Hello(Hello),
    Result(CommandResult),
}

#[derive(Clone)]
struct Recorder {
    seen: mpsc::UnboundedSender<Seen>,
    stop: watch::Receiver<bool>,
}

fn auth<T>(r: &Request<T>) -> String {
    r.metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tonic::async_trait]
impl NodeService for Recorder {
    async fn register(
        &self,
        request: Request<RegisterRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        let a = auth(&request);
        let r = request.into_inner();
        let node_id = r.node_id.clone();
        let _ = self.seen.send(Seen::Register(r, a));
        Ok(Response::new(RegisterResponse {
            node_id,
            heartbeat_interval_secs: 0,
            server_time_unix_ms: 1,
            master_proto_minor: contextbay_proto::PROTO_MINOR,
            last_event_seq: 0,
            ..Default::default()
        }))
    }

    async fn heartbeat(
        &self,
        request: Request<HeartbeatRequest>,
    ) -> Result<Response<HeartbeatResponse>, Status> {
        let a = auth(&request);
        let _ = self.seen.send(Seen::Heartbeat(request.into_inner(), a));
        Ok(Response::new(HeartbeatResponse {
            ack: true,
            server_time_unix_ms: 1,
            desired_interval_secs: None,
            ..Default::default()
        }))
    }

    async fn report_metrics(
        &self,
        request: Request<Streaming<MetricsBatch>>,
    ) -> Result<Response<ReportAck>, Status> {
        let mut stream = request.into_inner();
        let mut accepted = 0;
        while let Some(batch) = stream.message().await? {
            accepted += 1;
            let _ = self.seen.send(Seen::Metrics(batch));
        }
        Ok(Response::new(ReportAck {
            accepted,
            ..Default::default()
        }))
    }

    async fn report_events(
        &self,
        request: Request<Streaming<EventBatch>>,
    ) -> Result<Response<ReportAck>, Status> {
        let mut stream = request.into_inner();
        let mut highest_seq = 0;
        let mut accepted = 0;
        while let Some(batch) = stream.message().await? {
            accepted += batch.events.len() as u64;
            highest_seq = batch
                .events
                .iter()
                .map(|e| e.seq)
                .fold(highest_seq, u64::max);
            let _ = self.seen.send(Seen::Events(batch.events));
        }
        Ok(Response::new(ReportAck {
            accepted,
            highest_seq,
            server_time_unix_ms: 1,
        }))
    }
}

fn command(request_id: &str, kind: Option<command::Kind>) -> Result<MasterMessage, Status> {
    Ok(MasterMessage {
        message: Some(master_message::Message::Command(Command {
            request_id: request_id.into(),
            kind,
        })),
    })
}

#[tonic::async_trait]
impl CommandService for Recorder {
    type CommandStreamStream = ReceiverStream<Result<MasterMessage, Status>>;

    /// On `Hello`, sends a ping and a command the worker cannot know; records every result.
    /// Ends the stream when the server is being stopped, like a master shutting down.
    async fn command_stream(
        &self,
        request: Request<Streaming<WorkerMessage>>,
    ) -> Result<Response<Self::CommandStreamStream>, Status> {
        let mut inbound = request.into_inner();
        let (out, rx) = mpsc::channel(16);
        let me = self.clone();
        tokio::spawn(async move {
            let mut stop = me.stop.clone();
            loop {
                tokio::select! {
                    _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => break,
                    message = inbound.message() => match message {
                        Ok(Some(WorkerMessage { message: Some(worker_message::Message::Hello(h)) })) => {
                            let _ = me.seen.send(Seen::Hello(h));
                            let _ = out.send(command("ping-1", Some(command::Kind::Ping(Ping {})))).await;
                            let _ = out.send(command("future-1", None)).await;
                        }
                        Ok(Some(WorkerMessage { message: Some(worker_message::Message::Result(r)) })) => {
                            let _ = me.seen.send(Seen::Result(r));
                        }
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => break,
                    },
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

struct TestMaster {
    seen: mpsc::UnboundedReceiver<Seen>,
    /// Received but not yet asked for.
    backlog: Vec<Seen>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl TestMaster {
    async fn start(listener: TcpListener) -> Self {
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let recorder = Recorder {
            seen: seen_tx,
            stop: stop_rx.clone(),
        };
        let mut shutdown = stop_rx;
        let server = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(NodeServiceServer::new(recorder.clone()))
                .add_service(CommandServiceServer::new(recorder))
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                    let _ = shutdown.wait_for(|s| *s).await.map(|_| ());
                })
                .await
                .unwrap();
        });
        Self {
            seen,
            backlog: Vec::new(),
            stop,
            server,
        }
    }

    /// The first recorded item, in arrival order, that `pick` accepts; waits up to 15 s for it.
    /// Items passed over stay for later calls.
    async fn expect<T>(&mut self, what: &str, mut pick: impl FnMut(&Seen) -> Option<T>) -> T {
        if let Some((i, t)) = self
            .backlog
            .iter()
            .enumerate()
            .find_map(|(i, s)| pick(s).map(|t| (i, t)))
        {
            self.backlog.remove(i);
            return t;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let item = tokio::time::timeout_at(deadline, self.seen.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("timed out waiting for {what}; seen: {:#?}", self.backlog)
                })
                .unwrap_or_else(|| panic!("recorder closed while waiting for {what}"));
            if let Some(t) = pick(&item) {
                return t;
            }
            self.backlog.push(item);
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let mut server = self.server;
        if tokio::time::timeout(Duration::from_secs(5), &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
    }
}

async fn bind(addr: SocketAddr) -> TcpListener {
    for _ in 0..50 {
        if let Ok(l) = TcpListener::bind(addr).await {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot bind {addr} again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_registers_reports_answers_and_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut master = TestMaster::start(listener).await;

    let dir = tempfile::tempdir().unwrap();
    let config = WorkerConfig {
        master_url: "http://127.0.0.1:9".into(),
        grpc_url: format!("http://{addr}"),
        data_dir: dir.path().to_path_buf(),
        heartbeat_interval_secs: 1,
        docker_socket: dir.path().join("no-docker.sock"),
        reconnect_min_ms: 50,
        reconnect_max_ms: 200,
        hostname: "test-host".into(),
        ..Default::default()
    };
    NodeCredential {
        node_id: "node-1".into(),
        credential: CREDENTIAL.into(),
        grpc_url: None,
        enrolled_at_unix_ms: 0,
    }
    .store(&config.credential_path())
    .unwrap();
    let worker = tokio::spawn(run(config));

    let (register, auth) = master
        .expect("register", |s| match s {
            Seen::Register(r, a) => Some((r.clone(), a.clone())),
            _ => None,
        })
        .await;
    assert_eq!(auth, format!("Bearer {CREDENTIAL}"));
    assert_eq!(register.node_id, "node-1");
    assert_eq!(register.hostname, "test-host");
    assert_eq!(register.proto_minor, contextbay_proto::PROTO_MINOR);
    assert!(register.cpu_cores >= 1 && register.memory_total_bytes > 0);
    assert_eq!(register.docker_version, "");

    let (heartbeat, auth) = master
        .expect("heartbeat", |s| match s {
            Seen::Heartbeat(h, a) => Some((h.clone(), a.clone())),
            _ => None,
        })
        .await;
    assert_eq!(auth, format!("Bearer {CREDENTIAL}"));
    assert_eq!((heartbeat.node_id.as_str(), heartbeat.seq), ("node-1", 1));

    let metrics = master
        .expect("metrics", |s| match s {
            Seen::Metrics(m) => Some(m.clone()),
            _ => None,
        })
        .await;
    assert_eq!(metrics.node_id, "node-1");
    let host = metrics.host.unwrap();
    assert!(host.memory_total_bytes > 0 && host.cpu_cores >= 1);
    assert!(!metrics.docker_available && metrics.containers.is_empty());

    let started = master
        .expect("the agent's start event", |s| match s {
            Seen::Events(events) => events.iter().find(|e| e.action == "started").cloned(),
            _ => None,
        })
        .await;
    assert_eq!(started.kind, contextbay_proto::v1::EventKind::Agent as i32);
    assert!(started.seq > 0);

    // The command stream: hello, then the ping answered and the unknown command refused.
    let hello = master
        .expect("hello", |s| match s {
            Seen::Hello(h) => Some(h.clone()),
            _ => None,
        })
        .await;
    assert_eq!(hello.node_id, "node-1");
    assert_eq!(hello.proto_minor, contextbay_proto::PROTO_MINOR);
    assert!(hello.capabilities.contains(&"ping".to_owned()));
    let result = |id: &'static str| {
        move |s: &Seen| match s {
            Seen::Result(r) if r.request_id == id => r.outcome.clone(),
            _ => None,
        }
    };
    match master.expect("the ping's result", result("ping-1")).await {
        Outcome::OkJson(json) => {
            let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
            assert_eq!(v["pong"], true);
            assert_eq!(v["node_id"], "node-1");
        }
        other => panic!("unexpected ping answer {other:?}"),
    }
    match master
        .expect("the unknown command's result", result("future-1"))
        .await
    {
        Outcome::Error(e) => {
            assert_eq!(
                (e.code.as_str(), e.message.as_str()),
                ("unsupported", "unsupported command")
            );
        }
        other => panic!("unexpected answer to an unknown command {other:?}"),
    }

    // The master goes away and comes back on the same address.
    master.stop().await;
    let mut master = TestMaster::start(bind(addr).await).await;
    let (register, auth) = master
        .expect("register after reconnect", |s| match s {
            Seen::Register(r, a) => Some((r.clone(), a.clone())),
            _ => None,
        })
        .await;
    assert_eq!(
        (register.node_id.as_str(), auth),
        ("node-1", format!("Bearer {CREDENTIAL}"))
    );
    let heartbeat = master
        .expect("heartbeat after reconnect", |s| match s {
            Seen::Heartbeat(h, _) => Some(h.clone()),
            _ => None,
        })
        .await;
    assert!(
        heartbeat.seq > 1,
        "heartbeat seq restarts only with the process"
    );
    master
        .expect("hello after reconnect", |s| {
            matches!(s, Seen::Hello(_)).then_some(())
        })
        .await;
    master
        .expect("ping answered after reconnect", result("ping-1"))
        .await;
    // The first master acknowledged the start event, so it is not sent again.
    assert!(
        master
            .backlog
            .iter()
            .all(|s| !matches!(s, Seen::Events(ev) if ev.iter().any(|e| e.seq <= started.seq))),
        "acknowledged events were replayed"
    );
    worker.abort();
    master.stop().await;
}
