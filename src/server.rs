//! Bootstrap and shutdown of the master. Call [`start`] inside an actix `System` (the binary
//! uses `System::with_tokio_rt`; tests use `#[actix_web::test]`): singleton actors start on the
//! current arbiter, the HTTP server on its own workers.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, web};
use anyhow::Context;
use contextbay_actors::{
    Broadcaster, EndpointRegistry, NodeRegistry, NodeSeed, NodeTimings, Throttle, TopicFilter,
};
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
    grpc: tokio::task::JoinHandle<()>,
    pub grpc_addr: SocketAddr,
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
    // In a cluster the bus publishes through NATS from here on, before anything publishes.
    let cluster = if config.cluster.nats_url.is_empty() {
        None
    } else {
        Some(crate::cluster::Cluster::start(&config, bus.clone(), &store).await?)
    };
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
    let restarts = contextbay_actors::Restarts::new();
    let nodes = NodeRegistry::start(
        seeds,
        NodeTimings {
            stale_after: secs(config.fleet.stale_after_secs),
            offline_after: secs(config.fleet.offline_after_secs),
            restart_grace: secs(config.fleet.restart_grace_secs),
            command_timeout: secs(config.fleet.command_timeout_secs),
        },
        bus.clone(),
        restarts.clone(),
    );
    let endpoint_health = EndpointRegistry::start(bus.clone());
    let passwords = password::PasswordPool::start(
        config.auth.password_hash_threads,
        config.auth.password_hash_queue,
    )
    .context("starting the password hashing threads")?;
    let dummy_hash: Arc<str> = passwords.hash(secrets::random_token(24)).await?.into();
    let (shutdown, shutdown_rx) = watch::channel(false);
    let jobs = crate::jobs::start(store.clone(), bus.clone(), &config.jobs).await;
    let state = AppState {
        config: Arc::clone(&config),
        events: EventLog::new(bus.clone(), store.clone()),
        store: store.clone(),
        tokens,
        secret_box,
        bus,
        cluster,
        throttle,
        nodes,
        endpoint_health,
        sessions: contextbay_actors::SessionRegistry::start_supervised(),
        jobs,
        census_slots: Arc::new(tokio::sync::Semaphore::new(
            crate::fleet::CENSUS_CONCURRENCY,
        )),
        docker: local_engine(&config),
        enroll_secret,
        http_port: listener.local_addr()?.port(),
        grpc_port: grpc_addr.port(),
        grpc_fingerprint: grpc_tls.as_ref().map(|t| t.fingerprint.clone()),
        metrics: Arc::new(Metrics::new()?),
        routes: Arc::new(routes::RouteTable::build()),
        rejections: Arc::new(gate::RejectionSampler::new(Duration::from_secs(60))),
        integrations: crate::integrations::Integrations::new()?,
        prometheus_files: crate::modules::monitoring::prometheus_files::PrometheusFiles::new(
            &config.storage.data_dir,
        ),
        dummy_hash,
        passwords,
        tasks: contextbay_actors::TaskSupervisor::new(restarts.clone()),
        module_state: Default::default(),
        restarts,
        started_at: Instant::now(),
        shutdown: shutdown_rx,
    };

    let data = web::Data::new(state.clone());
    let body_limit = config.server.max_body_bytes;
    let app = move || {
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
    };
    let http_addr = listener.local_addr()?;
    let mut builder = actix_server::Server::build()
        .shutdown_timeout(config.server.shutdown_timeout_secs)
        .disable_signals();
    if config.server.workers > 0 {
        builder = builder.workers(config.server.workers);
    }
    let closing = builder.graceful_shutdown_signal();
    let server = builder
        .listen("contextbay-http", listener, move || {
            http_service(app.clone(), http_addr, closing.clone())
        })?
        .run();
    let handle = server.handle();
    let server = tokio::spawn(server);

    // Background consumers run under the task supervisor: a panic or an error restarts them
    // (with backoff), and `/api/system/info` lists them.
    {
        let store = store.clone();
        let keep = config.events.retention;
        state.tasks.spawn(EVENT_RETENTION, move || {
            crate::retention::run_event_pruner(store.clone(), keep)
        });
    }
    {
        let (store, audit, jobs) = (store.clone(), config.audit.clone(), config.jobs.clone());
        state.tasks.spawn(LOG_RETENTION, move || {
            crate::retention::run(store.clone(), audit.clone(), jobs.clone())
        });
    }
    crate::endpoints::ensure_local(&state).await?;
    // Several masters: answer commands routed here, follow which nodes the others own.
    if let Some(cluster) = &state.cluster {
        cluster.serve_nodes(state.clone()).await?;
    }
    {
        let watched = state.clone();
        state.tasks.spawn(ENDPOINT_WATCHER, move || {
            crate::endpoints::watch(watched.clone())
        });
    }
    let grpc = crate::grpc::spawn(
        state.clone(),
        grpc_listener,
        grpc_tls.as_ref(),
        state.shutdown.clone(),
    )?;
    spawn_recorder(&state).await?;
    // Modules' background consumers run under `state.tasks` (stopped in `stop`).
    crate::modules::start_all(&state).await?;
    tracing::info!(%http_addr, %grpc_addr, database = store.engine().as_str(), "contextbay master listening");
    Ok(RunningServer {
        http_addr,
        state,
        handle,
        server,
        shutdown,
        grpc,
        grpc_addr,
    })
}

/// One worker's HTTP service: what `actix_web::HttpServer` assembles (the application behind
/// actix-http's HTTP/1 service, answering on the server's graceful-shutdown signal), plus an
/// upgrade service so that WebSocket connections leave the HTTP/1 dispatcher
/// ([`http::upgrade`]). Both serve the same application, built once for each.
fn http_service<F, T, B>(
    app: F,
    addr: SocketAddr,
    closing: actix_server::GracefulShutdownSignal,
) -> impl actix_service::ServiceFactory<
    actix_rt::net::TcpStream,
    Config = (),
    Response = (),
    Error = actix_http::error::DispatchError,
    InitError = (),
>
where
    F: Fn() -> App<T> + 'static,
    T: actix_service::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: actix_web::body::MessageBody + 'static,
{
    use actix_service::{
        IntoServiceFactory, ServiceFactory, ServiceFactoryExt, fn_factory, fn_service,
    };
    use actix_web::dev::AppConfig;
    use std::rc::Rc;

    let upgrade_app = app().into_factory();
    let upgrade = fn_factory(move || {
        let app = upgrade_app.new_service(AppConfig::default());
        async move {
            let app = Rc::new(app.await?);
            Ok::<_, ()>(fn_service(move |(req, framed)| {
                http::upgrade::serve(Rc::clone(&app), req, framed)
            }))
        }
    });
    let main = app()
        .into_factory()
        .map_err(|err: actix_web::Error| err.error_response());
    actix_http::HttpService::build()
        .graceful_shutdown_signal(move || {
            let closing = closing.clone();
            async move { closing.notified().await }
        })
        .local_addr(addr)
        .upgrade(upgrade)
        .finish(actix_service::map_config(main, |()| AppConfig::default()))
        .tcp()
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

/// Names of the supervised background tasks started here.
pub const EVENT_RETENTION: &str = "event-retention";
pub const LOG_RETENTION: &str = "log-retention";
pub const ENDPOINT_WATCHER: &str = "endpoint-watcher";
pub const RECORDER: &str = "event-recorder";

/// Keeps the events that actors publish straight on the bus (node status changes) for the
/// activity feed; events published through [`EventLog`] are stored by it already. Supervised as
/// `event-recorder`: the first run uses a subscription taken before the master answers, so no
/// change is missed at start-up; a restarted one subscribes again.
async fn spawn_recorder(state: &AppState) -> anyhow::Result<()> {
    let filter = || TopicFilter::parse(["node.status"]).map_err(anyhow::Error::msg);
    let (first, _) = state.bus.subscribe(filter()?, None).await?;
    let first = Arc::new(std::sync::Mutex::new(Some(first)));
    let (bus, store) = (state.bus.clone(), state.store.clone());
    state.tasks.spawn(RECORDER, move || {
        let first = first
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let (bus, store) = (bus.clone(), store.clone());
        async move {
            let mut sub = match first {
                Some(sub) => sub,
                None => {
                    let filter = filter().map_err(|e| e.to_string())?;
                    bus.subscribe(filter, None)
                        .await
                        .map_err(|e| e.to_string())?
                        .0
                }
            };
            record(&mut sub, &store).await;
            Err("the event bus closed the recorder's subscription".to_owned())
        }
    });
    Ok(())
}

/// Stores every event `sub` delivers until it ends.
async fn record(sub: &mut contextbay_actors::Subscription, store: &Store) {
    while let Some(delivery) = sub.recv().await {
        let contextbay_actors::Delivery::Event(e) = delivery else {
            tracing::warn!(
                "event recorder lagged; some node status changes are not in the activity feed"
            );
            continue;
        };
        // In a cluster every master hears every event; the one that published it records it.
        if !e.own {
            continue;
        }
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
}

impl RunningServer {
    /// Drains and stops: WebSocket clients get a close frame, in-flight requests finish (up to
    /// `server.shutdown_timeout_secs`), then the database closes.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        // Every WebSocket session closes with 1001.
        if let Err(err) = self.state.sessions.shutdown().await {
            tracing::warn!(%err, "telling WebSocket sessions to close");
        }
        // Give sessions a moment to write their close frames.
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.handle.stop(true).await;
        if let Err(err) = self.server.await {
            tracing::warn!(%err, "http server task");
        }
        if let Err(err) = self.grpc.await {
            tracing::warn!(%err, "gRPC server task");
        }
        self.state.tasks.stop_all();
        if let Some(cluster) = &self.state.cluster {
            // The workers' streams have ended: their nodes are free for the other masters now
            // rather than when the leases expire.
            match self
                .state
                .store
                .node_leases()
                .release_all(cluster.master_id())
                .await
            {
                Ok(n) if n > 0 => tracing::info!(nodes = n, "node leases released"),
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, "releasing node leases"),
            }
            cluster.stop();
        }
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
