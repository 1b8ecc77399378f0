//! Bootstrap and shutdown of the master. Call [`start`] inside an actix `System` (the binary
//! uses `System::with_tokio_rt`; tests use `#[actix_web::test]`): singleton actors start on the
//! current arbiter, the HTTP server on its own workers.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use contextbay_actors::{Broadcaster, NodeRegistry, NodeSeed, NodeTimings, Throttle, TopicFilter};
use tokio::sync::watch;

use crate::auth::{password, tokens::TokenService};
use crate::config::Config;
use crate::events::EventLog;
use crate::http::{self, gate, routes};
use crate::metrics::Metrics;
use crate::secrets::{self, SecretBox};
use crate::state::AppState;
use crate::store::Store;

/// A running master.
pub struct RunningServer {
    pub http_addr: SocketAddr,
    pub state: AppState,
    handle: ServerHandle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown: watch::Sender<bool>,
    retention: tokio::task::JoinHandle<()>,
    log_retention: tokio::task::JoinHandle<()>,
    recorder: tokio::task::JoinHandle<()>,
    endpoint_watcher: tokio::task::JoinHandle<()>,
    grpc: tokio::task::JoinHandle<()>,
    pub grpc_addr: SocketAddr,
    /// The monitoring and alerting modules' bus consumers (stopped when dropped).
    monitoring: crate::monitoring::Background,
}

/// Opens the store, starts the actors and binds the HTTP listener.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind((config.server.bind.as_str(), config.server.http_port))
        .with_context(|| format!("binding {}:{}", config.server.bind, config.server.http_port))?;
    start_on(config, listener).await
}

/// [`start`] on a listener the caller bound (tests bind port 0 first).
pub async fn start_on(config: Config, listener: TcpListener) -> anyhow::Result<RunningServer> {
    let config = Arc::new(config);
    let root_secret = secrets::load_jwt_secret(&config)?;
    let enroll_secret: Arc<str> = secrets::load_enroll_secret(&config)?.into();
    let grpc_listener = TcpListener::bind((config.server.bind.as_str(), config.server.grpc_port))
        .with_context(|| {
        format!(
            "binding gRPC {}:{}",
            config.server.bind, config.server.grpc_port
        )
    })?;
    let grpc_addr = grpc_listener.local_addr()?;
    let grpc_tls = crate::grpc::tls::load(&config)?;
    let secret_box = SecretBox::new(&secrets::load_encryption_key(&config)?);
    let store = Store::open(&config).await?;
    let tokens =
        Arc::new(TokenService::load(&config, &root_secret, &store, secret_box.clone()).await?);
    let bus =
        Broadcaster::start_supervised(config.events.ring_capacity, config.events.subscriber_buffer);
    let throttle = Throttle::start(100_000);
    let seeds = store
        .hosts()
        .enrolled()
        .await
        .context("loading enrolled nodes")?
        .into_iter()
        .map(|h| NodeSeed {
            hostname: h.hostname.unwrap_or(h.name),
            id: h.id,
        })
        .collect();
    let secs = std::time::Duration::from_secs;
    let nodes = NodeRegistry::start(
        seeds,
        NodeTimings {
            stale_after: secs(config.fleet.stale_after_secs),
            offline_after: secs(config.fleet.offline_after_secs),
            restart_grace: secs(config.fleet.restart_grace_secs),
            command_timeout: secs(config.fleet.command_timeout_secs),
        },
        bus.clone(),
    );
    let passwords = password::PasswordPool::start(
        config.auth.password_hash_threads,
        config.auth.password_hash_queue,
    )
    .context("starting the password hashing threads")?;
    let dummy_hash: Arc<str> = passwords.hash(secrets::random_token(24)).await?.into();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let restarts = contextbay_actors::Restarts::new();
    let jobs = crate::jobs::start(store.clone(), bus.clone(), &config.jobs).await;
    let state = AppState {
        config: Arc::clone(&config),
        events: EventLog::new(bus.clone(), store.clone()),
        store: store.clone(),
        tokens,
        secret_box,
        bus,
        throttle,
        nodes,
        jobs,
        docker: local_engine(&config),
        enroll_secret,
        http_port: listener.local_addr()?.port(),
        grpc_port: grpc_addr.port(),
        grpc_fingerprint: grpc_tls.as_ref().map(|t| t.fingerprint.clone()),
        metrics: Arc::new(Metrics::new()?),
        routes: Arc::new(routes::RouteTable::build()),
        rejections: Arc::new(gate::RejectionSampler::new(Duration::from_secs(60))),
        integrations: crate::integrations::Integrations::new()?,
        prometheus_files: crate::monitoring::prometheus_files::PrometheusFiles::new(
            &config.storage.data_dir,
        ),
        dummy_hash,
        passwords,
        tasks: contextbay_actors::TaskSupervisor::new(restarts.clone()),
        restarts,
        started_at: Instant::now(),
        shutdown: shutdown_rx,
    };

    let data = web::Data::new(state.clone());
    let body_limit = config.server.max_body_bytes;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(http::json_config(body_limit))
            .app_data(web::PayloadConfig::new(body_limit))
            .app_data(http::path_config())
            .app_data(http::query_config())
            .wrap(from_fn(gate::observe))
            .wrap(Compress::default())
            .configure(routes::configure)
            .default_service(web::to(routes::fallback))
    })
    .shutdown_timeout(config.server.shutdown_timeout_secs)
    .disable_signals();
    if config.server.workers > 0 {
        server = server.workers(config.server.workers);
    }
    let http_addr = listener.local_addr()?;
    let server = server.listen(listener)?.run();
    let handle = server.handle();
    let server = tokio::spawn(server);

    let retention = {
        let store = store.clone();
        let keep = config.events.retention;
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(600));
            loop {
                every.tick().await;
                match store.events().prune(keep).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(deleted = n, "pruned old events"),
                    Err(err) => tracing::warn!(%err, "pruning events"),
                }
            }
        })
    };

    let log_retention = crate::retention::spawn(store.clone(), config.audit.clone());

    crate::endpoints::ensure_local(&state).await?;
    let endpoint_watcher = crate::endpoints::spawn_watcher(&state);
    let grpc = crate::grpc::spawn(
        state.clone(),
        grpc_listener,
        grpc_tls.as_ref(),
        state.shutdown.clone(),
    )?;
    let recorder = spawn_recorder(&state).await?;
    let monitoring = crate::monitoring::start(&state).await?;
    tracing::info!(%http_addr, %grpc_addr, database = store.engine().as_str(), "contextbay master listening");
    Ok(RunningServer {
        http_addr,
        state,
        handle,
        server,
        shutdown,
        retention,
        log_retention,
        recorder,
        endpoint_watcher,
        grpc,
        grpc_addr,
        monitoring,
    })
}

fn local_engine(config: &Config) -> Option<crate::docker::Engine> {
    if !config.docker.local_endpoint {
        return None;
    }
    match crate::docker::Engine::connect(&config.docker.socket) {
        Ok(e) => Some(
            e.with_compose(
                crate::docker::compose::ComposeHost::unix(
                    &config.docker.socket,
                    config.storage.data_dir.join("stacks"),
                )
                .with_stack_roots(config.docker.stack_roots.iter().cloned()),
            ),
        ),
        Err(err) => {
            tracing::info!(%err, "no local Docker endpoint");
            None
        }
    }
}

/// Keeps the events that actors publish straight on the bus (node status changes) for the
/// activity feed; events published through [`EventLog`] are stored by it already.
async fn spawn_recorder(state: &AppState) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let filter = TopicFilter::parse(["node.status"]).map_err(anyhow::Error::msg)?;
    let (mut sub, _) = state.bus.subscribe(filter, None).await?;
    let store = state.store.clone();
    Ok(tokio::spawn(async move {
        while let Some(delivery) = sub.recv().await {
            let contextbay_actors::Delivery::Event(e) = delivery else {
                tracing::warn!(
                    "event recorder lagged; some node status changes are not in the activity feed"
                );
                continue;
            };
            let stored = crate::store::events::StoredEvent {
                id: i64::try_from(e.id).unwrap_or(i64::MAX),
                kind: e.kind.clone(),
                ts: e.ts_ms,
                payload: e.payload.clone(),
            };
            if let Err(err) = store.events().insert(&stored).await {
                tracing::warn!(%err, "recording event");
            }
        }
    }))
}

impl RunningServer {
    /// Drains and stops: WebSocket clients get a close frame, in-flight requests finish (up to
    /// `server.shutdown_timeout_secs`), then the database closes.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        // Give sessions a moment to write their close frames.
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.handle.stop(true).await;
        if let Err(err) = self.server.await {
            tracing::warn!(%err, "http server task");
        }
        self.retention.abort();
        self.log_retention.abort();
        self.recorder.abort();
        self.endpoint_watcher.abort();
        if let Err(err) = self.grpc.await {
            tracing::warn!(%err, "gRPC server task");
        }
        drop(self.monitoring);
        self.state.tasks.stop_all();
        self.state.jobs.shutdown(crate::jobs::SHUTDOWN_WAIT).await;
        self.state.store.close().await;
        tracing::info!("contextbay master stopped");
    }

    /// Runs until SIGTERM or SIGINT, then [`RunningServer::stop`]s.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate())?;
            let mut int = signal(SignalKind::interrupt())?;
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = int.recv() => tracing::info!("SIGINT: shutting down"),
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await?;
        self.stop().await;
        Ok(())
    }
}
