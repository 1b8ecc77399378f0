//! `fleet`: many simulated workers in this process, each with its own enrollment, node credential
//! and gRPC connection to the master, doing what `contextbay worker` does on the wire: register,
//! open the command stream (answering ping and census), heartbeat and send a metrics batch every
//! interval (±10 % jitter, like the agent). Meanwhile one client samples `GET /api/nodes` and
//! `GET /api/nodes/{id}` back to back, and a WebSocket client subscribed to `node.status` counts
//! every transition.
//!
//! Enrollment is limited to 10 per minute per client IP, as the spec says; the simulated workers
//! enroll from distinct loopback source addresses (`127.1.x.y`, ten workers each), so they are
//! admitted without changing the limit.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use contextbay::worker::session::{AuthedChannel, BearerAuth, connect};
use contextbay_proto::v1::command::Kind;
use contextbay_proto::v1::command_result::Outcome;
use contextbay_proto::v1::command_service_client::CommandServiceClient;
use contextbay_proto::v1::node_service_client::NodeServiceClient;
use contextbay_proto::v1::{
    CommandError, CommandResult, ContainerCounts, ContainerSample, HeartbeatRequest, Hello,
    HostSample, MasterMessage, MetricsBatch, RegisterRequest, WorkerMessage, master_message,
    worker_message,
};
use rand::Rng as _;
use tokio::task::JoinSet;
use tokio_stream::wrappers::ReceiverStream;

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::StreamExt as _;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::{KB, Master, Options, Percentiles, Ws, connect_ws, http_client, mib, unix_us, verdict};

/// Enrollments per source address (the master's per-IP limit per minute).
const ENROLL_PER_IP: usize = 10;
/// Concurrent requests while creating hosts and enrolling.
const RAMP_CONCURRENCY: usize = 32;
/// The agent's deadline for unary calls.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// Failed calls printed (of each kind); the rest are only counted.
const REPORTED_FAILURES: u64 = 10;

/// A node ready to connect: its id and credential.
#[derive(Clone)]
struct Enrolled {
    id: String,
    hostname: String,
    credential: String,
}

/// Counters shared by every simulated worker.
#[derive(Default)]
struct Tally {
    heartbeats_ok: AtomicU64,
    heartbeats_failed: AtomicU64,
    metrics_ok: AtomicU64,
    metrics_failed: AtomicU64,
    commands_answered: AtomicU64,
    /// Heartbeat round trips during the measurement window, in microseconds.
    heartbeat_us: Mutex<Vec<i64>>,
    /// Longest time between two acknowledged heartbeats of one worker, in milliseconds.
    max_gap_ms: AtomicU64,
    /// Set once the measurement window starts.
    measuring: std::sync::atomic::AtomicBool,
}

/// What every simulated worker sends: one real sample of this host, and one real census.
struct Payloads {
    host: HostSample,
    containers: Vec<ContainerSample>,
    /// `None`: the census fails (`--no-census`).
    census_json: Option<Vec<u8>>,
    /// `inventory` scenario: the census reports a Docker engine and Docker list calls are
    /// answered with this many containers per node (none for images, volumes, networks).
    engine_containers: Option<usize>,
}

pub(super) async fn fleet(opts: &Options) -> anyhow::Result<()> {
    let workers = opts.workers;
    let seconds = opts.seconds.unwrap_or(600);
    let interval = Duration::from_secs(opts.interval);
    let nofile = rlimit::increase_nofile_limit(65_536).unwrap_or(0);
    if nofile < (workers as u64) * 3 + 1024 {
        bail!(
            "open-files limit {nofile} is too low for {workers} workers; run under `ulimit -n 65536`"
        );
    }
    println!("\n## fleet\n");
    println!(
        "{workers} simulated workers, one gRPC connection per {} worker(s), heartbeat and metrics every {} s (±10 %), {} container samples per batch; measured for {seconds} s after every node is healthy.\n",
        opts.per_channel,
        interval.as_secs(),
        opts.containers
    );

    let master = Master::start().await?;
    let token = master.setup().await?;
    let secret = std::fs::read_to_string(master.dir.path().join("data").join("enroll_secret"))
        .context("reading the generated enroll secret")?
        .trim()
        .to_owned();
    let payloads = Arc::new(payloads(opts.containers, !opts.no_census).await?);
    let census_kib = payloads
        .census_json
        .as_ref()
        .map_or(0.0, |c| c.len() as f64 / KB);
    eprintln!(
        "census answer: {census_kib:.1} KiB, metrics batch: {} containers",
        payloads.containers.len()
    );

    // The node.status watcher runs from before the first registration.
    let ws = connect_ws(master.addr, "?topics=node.status", &token, None).await?;
    let statuses = Arc::new(Mutex::new(Vec::<(i64, String)>::new()));
    let watcher = tokio::spawn(watch_statuses(ws, Arc::clone(&statuses)));

    let rss_before = master.rss()?;
    let ramp = Instant::now();
    let hosts = create_hosts(&master, &token, workers).await?;
    let created_in = ramp.elapsed();
    let enrolled = enroll_all(&master, &secret, hosts).await?;
    let enrolled_in = ramp.elapsed() - created_in;
    eprintln!(
        "{workers} hosts created in {:.1} s, enrolled in {:.1} s",
        created_in.as_secs_f64(),
        enrolled_in.as_secs_f64()
    );

    let tally = Arc::new(Tally::default());
    let grpc_url = format!("http://{}", master.grpc_addr);
    let connect_started = Instant::now();
    let mut tasks = JoinSet::new();
    start_workers(&mut tasks, &grpc_url, &enrolled, opts, &payloads, &tally).await?;
    let healthy_in = wait_all_healthy(&master, &token, workers).await?;
    eprintln!(
        "all {workers} registered and healthy {:.1} s after the first connection",
        healthy_in.as_secs_f64()
    );
    // Let the census answers and the first metrics settle before measuring.
    tokio::time::sleep(interval).await;
    let connect_took = connect_started.elapsed();

    // The measurement window.
    let window_start_us = unix_us();
    tally.measuring.store(true, Ordering::SeqCst);
    tally.max_gap_ms.store(0, Ordering::SeqCst);
    let ok_before = tally.heartbeats_ok.load(Ordering::SeqCst);
    let failed_before = tally.heartbeats_failed.load(Ordering::SeqCst);
    let metrics_before = tally.metrics_ok.load(Ordering::SeqCst);
    let metrics_failed_before = tally.metrics_failed.load(Ordering::SeqCst);
    let rss_start = master.rss()?;
    let cpu_start = cpu_ticks(master.pid()?)?;
    let self_cpu_start = cpu_ticks(std::process::id())?;
    let started = Instant::now();
    let ids: Vec<String> = enrolled.iter().map(|e| e.id.clone()).collect();
    let sampler = tokio::spawn(sample_rest(
        master.base.clone(),
        token.clone(),
        ids,
        Duration::from_secs(seconds),
    ));
    let mut peak_rss = rss_start.vm_rss;
    let mut cpu_windows = Vec::new();
    let mut last_cpu = cpu_start;
    let mut last_at = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        let remaining = Duration::from_secs(seconds).saturating_sub(started.elapsed());
        tokio::time::sleep(Duration::from_secs(10).min(remaining)).await;
        let rss = master.rss()?;
        peak_rss = peak_rss.max(rss.vm_rss);
        let cpu = cpu_ticks(master.pid()?)?;
        let share = (cpu - last_cpu) / last_at.elapsed().as_secs_f64();
        cpu_windows.push(share);
        last_cpu = cpu;
        last_at = Instant::now();
        let done = started.elapsed().as_secs();
        if done % 60 < 10 {
            eprintln!(
                "{done} s: master VmRSS {:.1} MiB, CPU {:.1} % of a core over the last 10 s, heartbeats ok {} failed {}",
                mib(rss.vm_rss),
                share * 100.0,
                tally.heartbeats_ok.load(Ordering::SeqCst) - ok_before,
                tally.heartbeats_failed.load(Ordering::SeqCst) - failed_before,
            );
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_end = cpu_ticks(master.pid()?)?;
    let self_cpu_end = cpu_ticks(std::process::id())?;
    let rss_end = master.rss()?;
    tally.measuring.store(false, Ordering::SeqCst);
    let (list, get, errors) = sampler.await??;
    let fleet = fleet_status(&master, &token).await?;

    let heartbeats_ok = tally.heartbeats_ok.load(Ordering::SeqCst) - ok_before;
    let heartbeats_failed = tally.heartbeats_failed.load(Ordering::SeqCst) - failed_before;
    let metrics_ok = tally.metrics_ok.load(Ordering::SeqCst) - metrics_before;
    let metrics_failed = tally.metrics_failed.load(Ordering::SeqCst) - metrics_failed_before;
    let max_gap_ms = tally.max_gap_ms.load(Ordering::SeqCst);
    let hb_latency = {
        let values = std::mem::take(&mut *lock(&tally.heartbeat_us));
        Percentiles::of_micros(values)
    };
    let transitions: Vec<(i64, String)> = lock(&statuses).clone();
    let in_window = |s: &str| {
        transitions
            .iter()
            .filter(|(ts, status)| *ts >= window_start_us && status == s)
            .count()
    };
    let (stale, offline) = (in_window("stale"), in_window("offline"));
    let ever_stale = transitions.iter().filter(|(_, s)| s == "stale").count();
    tasks.abort_all();
    watcher.abort();
    let drain = master.stop().await?;

    let expected = workers as f64 * elapsed / interval.as_secs_f64();
    let cpu_share = (cpu_end - cpu_start) / elapsed;
    let self_share = (self_cpu_end - self_cpu_start) / elapsed;
    let peak_window = cpu_windows.iter().copied().fold(0.0, f64::max);
    println!("| ramp-up | value |\n|---|---|");
    println!(
        "| `POST /api/hosts` × {workers} | {:.1} s |",
        created_in.as_secs_f64()
    );
    println!(
        "| `POST /api/enroll` × {workers} ({} source addresses) | {:.1} s |",
        workers.div_ceil(ENROLL_PER_IP),
        enrolled_in.as_secs_f64()
    );
    println!(
        "| connect + register + command stream until all healthy | {:.1} s |",
        healthy_in.as_secs_f64()
    );
    match &payloads.census_json {
        Some(_) => println!("| census answer size | {census_kib:.1} KiB |"),
        None => println!("| census | answered with an error (`--no-census`) |"),
    }
    println!("\n| measurement ({elapsed:.0} s) | value | target |\n|---|---|---|");
    println!(
        "| heartbeats acknowledged / expected (workers × window / interval) | {heartbeats_ok} / {expected:.0} | |"
    );
    println!("| heartbeat RPC failures | {heartbeats_failed} | 0 |");
    println!("| metrics batches accepted / failed | {metrics_ok} / {metrics_failed} | |");
    println!(
        "| longest gap between two acknowledged heartbeats of one worker | {:.1} s | < stale_after (30 s) |",
        max_gap_ms as f64 / 1000.0
    );
    println!(
        "| `node.status` → stale / offline during the window | {stale} / {offline} | 0 / 0, {} |",
        verdict(stale == 0 && offline == 0 && heartbeats_failed == 0)
    );
    println!("| `node.status` → stale over the whole run (incl. ramp-up) | {ever_stale} | |");
    println!("| fleet-status at the end | {} | all healthy |", fleet);
    if let Some(p) = &hb_latency {
        println!(
            "| heartbeat round trip p50 / p99 / max ({} calls) | {:.1} / {:.1} / {:.1} ms | |",
            p.n, p.p50, p.p99, p.max
        );
    }
    for (name, p) in [("GET /api/nodes", &list), ("GET /api/nodes/{id}", &get)] {
        if let Some(p) = p {
            println!(
                "| `{name}` p50 / p95 / p99 / max ({} requests) | {:.1} / {:.1} / {:.1} / {:.1} ms | p99 ≤ 100 ms, {} |",
                p.n,
                p.p50,
                p.p95,
                p.p99,
                p.max,
                verdict(p.p99 <= 100.0)
            );
        }
    }
    println!("| REST errors (non-200 or failed) | {errors} | 0 |");
    println!(
        "| master CPU, mean over the window | {:.1} % of one core | |",
        cpu_share * 100.0
    );
    println!(
        "| master CPU, busiest 10 s | {:.1} % of one core | |",
        peak_window * 100.0
    );
    println!(
        "| bench process CPU (the {workers} simulated workers + samplers) | {:.1} % of one core | |",
        self_share * 100.0
    );
    println!(
        "| master VmRSS before the first host / at window start / end / peak sampled | {:.1} / {:.1} / {:.1} / {:.1} MiB | |",
        mib(rss_before.vm_rss),
        mib(rss_start.vm_rss),
        mib(rss_end.vm_rss),
        mib(peak_rss)
    );
    println!(
        "| master VmHWM (peak RSS since start) | {:.1} MiB | |",
        mib(rss_end.vm_hwm)
    );
    println!("| master threads | {} | |", rss_end.threads);
    println!("| SIGTERM → exit | {} ms | |", drain.as_millis());
    eprintln!(
        "connect phase {:.1} s; window {elapsed:.1} s",
        connect_took.as_secs_f64()
    );
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// User + system CPU time of a process, in seconds.
fn cpu_ticks(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may contain spaces) start at state (field 3).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: indexes 11 and 12 here.
    let utime: f64 = fields.get(11).context("no utime")?.parse()?;
    let stime: f64 = fields.get(12).context("no stime")?.parse()?;
    Ok((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

async fn payloads(containers: usize, with_census: bool) -> anyhow::Result<Payloads> {
    let host = tokio::task::spawn_blocking(|| {
        let mut sampler = contextbay::worker::host_metrics::HostSampler::new();
        std::thread::sleep(Duration::from_millis(200));
        sampler.sample()
    })
    .await?;
    // A real census of this machine, without Docker (the simulated hosts have no engine).
    let census = contextbay::worker::census::collect(
        std::path::Path::new("/nonexistent/docker.sock"),
        "simulated".into(),
    )
    .await;
    let containers = (0..containers)
        .map(|i| ContainerSample {
            id: format!("{i:064x}"),
            name: format!("app-{i}"),
            cpu_percent: 1.5,
            memory_used_bytes: 64 << 20,
            memory_limit_bytes: 1 << 30,
            ..ContainerSample::default()
        })
        .collect();
    Ok(Payloads {
        host,
        containers,
        census_json: if with_census {
            Some(serde_json::to_vec(&census)?)
        } else {
            None
        },
        engine_containers: None,
    })
}

/// `POST /api/hosts` for each simulated host; returns (id, hostname, enroll token).
async fn create_hosts(
    master: &Master,
    token: &str,
    n: usize,
) -> anyhow::Result<Vec<(String, String, String)>> {
    let results = futures_util::stream::iter(0..n)
        .map(|i| {
            let http = master.http.clone();
            let url = master.url("/api/hosts");
            let token = token.to_owned();
            async move {
                let name = format!("sim-{i:05}");
                let resp = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"name": name}))
                    .send()
                    .await?;
                let status = resp.status();
                let body: serde_json::Value = resp.json().await?;
                if status.as_u16() != 201 {
                    bail!("POST /api/hosts answered {status}: {body}");
                }
                Ok((
                    body["id"].as_str().context("no id")?.to_owned(),
                    name,
                    body["enroll_token"]
                        .as_str()
                        .context("no enroll_token")?
                        .to_owned(),
                ))
            }
        })
        .buffer_unordered(RAMP_CONCURRENCY)
        .collect::<Vec<anyhow::Result<_>>>()
        .await;
    results.into_iter().collect()
}

/// `POST /api/enroll` for every host, ten per loopback source address.
async fn enroll_all(
    master: &Master,
    secret: &str,
    hosts: Vec<(String, String, String)>,
) -> anyhow::Result<Vec<Enrolled>> {
    let groups: Vec<Vec<(String, String, String)>> =
        hosts.chunks(ENROLL_PER_IP).map(<[_]>::to_vec).collect();
    let results = futures_util::stream::iter(groups.into_iter().enumerate())
        .map(|(k, group)| {
            let url = master.url("/api/enroll");
            let secret = secret.to_owned();
            async move {
                let source = std::net::Ipv4Addr::new(
                    127,
                    1,
                    u8::try_from(k / 256)?,
                    u8::try_from(k % 256)?,
                );
                let http = reqwest::Client::builder()
                    .no_proxy()
                    .local_address(std::net::IpAddr::V4(source))
                    .timeout(Duration::from_secs(30))
                    .build()?;
                let mut out = Vec::new();
                for (id, hostname, enroll_token) in group {
                    let resp = http
                        .post(&url)
                        .json(&json!({"shared_secret": secret, "enroll_token": enroll_token, "hostname": hostname}))
                        .send()
                        .await?;
                    let status = resp.status();
                    let body: serde_json::Value = resp.json().await?;
                    if status.as_u16() != 200 {
                        bail!("POST /api/enroll from {source} answered {status}: {body}");
                    }
                    if body["node_id"] != id.as_str() {
                        bail!("enrolled as {} instead of {id}", body["node_id"]);
                    }
                    out.push(Enrolled {
                        id,
                        hostname,
                        credential: body["credential"]
                            .as_str()
                            .context("no credential")?
                            .to_owned(),
                    });
                }
                Ok::<_, anyhow::Error>(out)
            }
        })
        .buffer_unordered(RAMP_CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut all = Vec::new();
    for r in results {
        all.extend(r?);
    }
    Ok(all)
}

/// Connects every worker (a channel per `opts.per_channel` workers, `opts.concurrency` channels
/// being set up at once), registers it, opens its command stream and spawns its
/// heartbeat/metrics loop into `tasks`.
async fn start_workers(
    tasks: &mut JoinSet<()>,
    grpc_url: &str,
    enrolled: &[Enrolled],
    opts: &Options,
    payloads: &Arc<Payloads>,
    tally: &Arc<Tally>,
) -> anyhow::Result<()> {
    let interval = Duration::from_secs(opts.interval);
    let groups: Vec<Vec<Enrolled>> = enrolled
        .chunks(opts.per_channel.max(1))
        .map(<[_]>::to_vec)
        .collect();
    let mut connected = futures_util::stream::iter(groups)
        .map(|group| {
            let url = grpc_url.to_owned();
            async move {
                let channel = connect(&url, None).await?;
                let mut ready = Vec::new();
                for node in group {
                    let auth = BearerAuth::new(&node.credential)?;
                    let mut client =
                        NodeServiceClient::with_interceptor(channel.clone(), auth.clone());
                    let commands = CommandServiceClient::with_interceptor(channel.clone(), auth);
                    tokio::time::timeout(RPC_TIMEOUT, client.register(register_request(&node)))
                        .await
                        .context("register timed out")??;
                    ready.push((node, client, commands));
                }
                Ok::<_, anyhow::Error>(ready)
            }
        })
        .buffer_unordered(opts.concurrency);
    // Each worker starts as soon as it is registered, as the agent does.
    while let Some(group) = connected.next().await {
        for (node, client, commands) in group? {
            tasks.spawn(serve_commands(
                commands,
                node.id.clone(),
                Arc::clone(payloads),
                Arc::clone(tally),
            ));
            tasks.spawn(report(
                client,
                node,
                interval,
                Arc::clone(payloads),
                Arc::clone(tally),
            ));
        }
    }
    Ok(())
}

fn register_request(node: &Enrolled) -> RegisterRequest {
    RegisterRequest {
        node_id: node.id.clone(),
        hostname: node.hostname.clone(),
        os: "Debian GNU/Linux 12 (bookworm)".into(),
        kernel: "6.1.0-simulated".into(),
        arch: std::env::consts::ARCH.into(),
        cpu_model: "simulated".into(),
        cpu_cores: 4,
        memory_total_bytes: 8 << 30,
        docker_version: String::new(),
        agent_version: contextbay::worker::AGENT_VERSION.into(),
        proto_minor: contextbay_proto::PROTO_MINOR,
        docker_api_version: String::new(),
        uptime_secs: 86_400,
    }
}

/// The command stream: `Hello`, then a result for each command (a pong, the census, or
/// `unsupported`), like the agent.
async fn serve_commands(
    mut client: CommandServiceClient<AuthedChannel>,
    node_id: String,
    payloads: Arc<Payloads>,
    tally: Arc<Tally>,
) {
    let (tx, rx) = mpsc::channel::<WorkerMessage>(16);
    let hello = WorkerMessage {
        message: Some(worker_message::Message::Hello(Hello {
            node_id: node_id.clone(),
            proto_minor: contextbay_proto::PROTO_MINOR,
            agent_version: contextbay::worker::AGENT_VERSION.into(),
            capabilities: vec!["ping".into(), "census".into()],
        })),
    };
    let _ = tx.send(hello).await;
    let Ok(reply) = client.command_stream(ReceiverStream::new(rx)).await else {
        eprintln!("{node_id}: the command stream was refused");
        return;
    };
    let mut inbound = reply.into_inner();
    while let Ok(Some(MasterMessage {
        message: Some(master_message::Message::Command(command)),
    })) = inbound.message().await
    {
        let outcome = match command.kind {
            Some(Kind::Ping(_)) => Outcome::OkJson(
                serde_json::to_vec(&json!({"pong": true, "node_id": node_id})).unwrap_or_default(),
            ),
            Some(Kind::DockerCall(call)) if payloads.engine_containers.is_some() => {
                match call.op.as_str() {
                    "list_containers" => Outcome::OkJson(
                        serde_json::to_vec(&simulated_containers(
                            &node_id,
                            payloads.engine_containers.unwrap_or(0),
                        ))
                        .unwrap_or_default(),
                    ),
                    "list_images" | "list_volumes" | "list_networks" => {
                        Outcome::OkJson(b"[]".to_vec())
                    }
                    _ => Outcome::Error(CommandError {
                        message: "unsupported Docker call".into(),
                        code: "unsupported".into(),
                        ..Default::default()
                    }),
                }
            }
            Some(Kind::Census(_)) => match &payloads.census_json {
                Some(json) => Outcome::OkJson(json.clone()),
                None => Outcome::Error(CommandError {
                    message: "census disabled in this run".into(),
                    code: "unsupported".into(),
                    ..Default::default()
                }),
            },
            _ => Outcome::Error(CommandError {
                message: "unsupported command".into(),
                code: "unsupported".into(),
                ..Default::default()
            }),
        };
        let result = WorkerMessage {
            message: Some(worker_message::Message::Result(CommandResult {
                request_id: command.request_id,
                outcome: Some(outcome),
            })),
        };
        if tx.send(result).await.is_err() {
            return;
        }
        tally.commands_answered.fetch_add(1, Ordering::Relaxed);
    }
}

/// Heartbeats and metrics on two timers, each every `interval` ±10 %, forever. The first
/// heartbeat goes out at once and the first metrics batch after a second, as the agent does.
async fn report(
    mut client: NodeServiceClient<AuthedChannel>,
    node: Enrolled,
    interval: Duration,
    payloads: Arc<Payloads>,
    tally: Arc<Tally>,
) {
    let jittered = || interval.mul_f64(rand::rng().random_range(0.9..=1.1));
    let mut next_heartbeat = tokio::time::Instant::now();
    let mut next_metrics = next_heartbeat + Duration::from_secs(1);
    let mut seq = 0u64;
    let mut last_ack: Option<Instant> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next_heartbeat) => {
                next_heartbeat = tokio::time::Instant::now() + jittered();
                seq += 1;
                let request = HeartbeatRequest {
                    node_id: node.id.clone(),
                    seq,
                    uptime_secs: payloads.host.uptime_secs,
                    load1: payloads.host.load1,
                    cpu_percent: payloads.host.cpu_percent,
                    memory_used_bytes: payloads.host.memory_used_bytes,
                    memory_total_bytes: payloads.host.memory_total_bytes,
                    containers: Some(counts(&payloads)),
                    docker_available: false,
                    events_dropped_total: 0,
                    events_buffered: 0,
                    agent_uptime_secs: seq * interval.as_secs(),
                };
                let sent = Instant::now();
                match tokio::time::timeout(RPC_TIMEOUT, client.heartbeat(request)).await {
                    Ok(Ok(reply)) if reply.get_ref().ack => {
                        let now = Instant::now();
                        tally.heartbeats_ok.fetch_add(1, Ordering::Relaxed);
                        if tally.measuring.load(Ordering::Relaxed) {
                            let rtt = i64::try_from(sent.elapsed().as_micros()).unwrap_or(i64::MAX);
                            lock(&tally.heartbeat_us).push(rtt);
                            if let Some(prev) = last_ack {
                                let gap = u64::try_from(now.duration_since(prev).as_millis()).unwrap_or(u64::MAX);
                                tally.max_gap_ms.fetch_max(gap, Ordering::Relaxed);
                            }
                        }
                        last_ack = Some(now);
                    }
                    other => {
                        let n = tally.heartbeats_failed.fetch_add(1, Ordering::Relaxed);
                        if n < REPORTED_FAILURES {
                            eprintln!("{}: heartbeat failed: {:?}", node.hostname, other.map(|r| r.map(|_| ())));
                        }
                    }
                }
            }
            () = tokio::time::sleep_until(next_metrics) => {
                next_metrics = tokio::time::Instant::now() + jittered();
                let batch = MetricsBatch {
                    node_id: node.id.clone(),
                    time_unix_ms: unix_us() / 1000,
                    host: Some(payloads.host.clone()),
                    containers: payloads.containers.clone(),
                    docker_available: !payloads.containers.is_empty(),
                    container_counts: Some(counts(&payloads)),
                };
                match tokio::time::timeout(RPC_TIMEOUT, client.report_metrics(tokio_stream::once(batch))).await {
                    Ok(Ok(_)) => { tally.metrics_ok.fetch_add(1, Ordering::Relaxed); }
                    other => {
                        let n = tally.metrics_failed.fetch_add(1, Ordering::Relaxed);
                        if n < REPORTED_FAILURES {
                            eprintln!("{}: metrics failed: {:?}", node.hostname, other.map(|r| r.map(|_| ())));
                        }
                    }
                }
            }
        }
    }
}

fn counts(payloads: &Payloads) -> ContainerCounts {
    let n = u32::try_from(payloads.containers.len()).unwrap_or(u32::MAX);
    ContainerCounts {
        running: n,
        stopped: 0,
        paused: 0,
        total: n,
    }
}

/// Records every `node.status` event's status with its receive time.
async fn watch_statuses(mut ws: Ws, out: Arc<Mutex<Vec<(i64, String)>>>) {
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(text) = msg else { continue };
        let Ok(frame) = serde_json::from_str::<serde_json::Value>(text.as_str()) else {
            continue;
        };
        if frame["type"] == "node.status"
            && let Some(status) = frame["payload"]["status"].as_str()
        {
            lock(&out).push((unix_us(), status.to_owned()));
        }
    }
}

/// Polls `GET /api/nodes/fleet-status` until every node is healthy; returns how long it took.
async fn wait_all_healthy(master: &Master, token: &str, n: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    loop {
        let body: serde_json::Value = master
            .http
            .get(master.url("/api/nodes/fleet-status"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        if body["by_status"]["healthy"].as_u64() == Some(n as u64) {
            return Ok(started.elapsed());
        }
        if Instant::now() > deadline {
            bail!("not every node became healthy within 600 s: {body}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn fleet_status(master: &Master, token: &str) -> anyhow::Result<String> {
    let body: serde_json::Value = master
        .http
        .get(master.url("/api/nodes/fleet-status"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    Ok(body["by_status"].to_string())
}

type Sampled = (Option<Percentiles>, Option<Percentiles>, u64);

/// `GET /api/nodes` and `GET /api/nodes/{id}` (a random node) back to back, one request in
/// flight, 20 ms apart, for `duration`; returns their latency percentiles and the error count.
async fn sample_rest(
    base: String,
    token: String,
    ids: Vec<String>,
    duration: Duration,
) -> anyhow::Result<Sampled> {
    let http = http_client(2)?;
    let mut list = Vec::new();
    let mut get = Vec::new();
    let mut errors = 0u64;
    let started = Instant::now();
    while started.elapsed() < duration {
        for (path, out) in [
            ("/api/nodes".to_owned(), &mut list),
            (
                format!("/api/nodes/{}", ids[rand::rng().random_range(0..ids.len())]),
                &mut get,
            ),
        ] {
            let sent = Instant::now();
            let ok = match http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
            {
                Ok(resp) if resp.status().is_success() => resp.bytes().await.is_ok(),
                _ => false,
            };
            if ok {
                out.push(i64::try_from(sent.elapsed().as_micros()).unwrap_or(i64::MAX));
            } else {
                errors += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok((
        Percentiles::of_micros(list),
        Percentiles::of_micros(get),
        errors,
    ))
}

// ------------------------------------------------------------------------------------------------
// `inventory`: container lists and lookups by id answered from the node inventories.

/// The id of container `i` of simulated node `node` (64 hex digits, unique across the fleet).
fn simulated_container_id(node: &str, i: usize) -> String {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    node.hash(&mut h);
    format!("{:016x}{i:048x}", h.finish())
}

/// What a simulated node's engine lists: `n` running containers with a label and a port.
fn simulated_containers(node: &str, n: usize) -> serde_json::Value {
    let short = &node[node.len().saturating_sub(6)..];
    serde_json::Value::Array(
        (0..n)
            .map(|i| {
                json!({
                    "id": simulated_container_id(node, i),
                    "name": format!("app-{short}-{i:02}"),
                    "image": "registry.example/app:1.2.3",
                    "state": "running",
                    "status": "Up 3 hours",
                    "created": 1_795_000_000,
                    "labels": {"com.example.tier": if i % 2 == 0 { "web" } else { "worker" }},
                    "ports": [{"container_port": 8080, "host_port": null, "host_ip": null, "protocol": "tcp"}],
                    "networks": ["backend"],
                    "mounts": [],
                    "compose_project": null,
                    "compose_service": null,
                })
            })
            .collect(),
    )
}

/// `cargo bench --bench load -- inventory --workers=1000 --containers=20`: simulated workers
/// whose census reports an engine (so each becomes an agent endpoint) and whose engine lists
/// `--containers` containers. Once every node's inventory is filled, one client measures, back
/// to back, `GET /api/containers?limit=50` (first page and a random page) and
/// `GET /api/containers/{id}` for random ids without `?endpoint=`, with `GET /api/health` as the
/// baseline, over `--rounds` rounds of `--seconds` each; medians over the rounds are printed.
pub(super) async fn inventory(opts: &Options) -> anyhow::Result<()> {
    let workers = opts.workers;
    let per_node = opts.containers;
    let seconds = opts.seconds.unwrap_or(30);
    let nofile = rlimit::increase_nofile_limit(65_536).unwrap_or(0);
    if nofile < (workers as u64) * 3 + 1024 {
        bail!(
            "open-files limit {nofile} is too low for {workers} workers; run under `ulimit -n 65536`"
        );
    }
    println!("\n## inventory\n");
    println!(
        "{workers} simulated workers × {per_node} containers, heartbeat and metrics every {} s; {} rounds of {seconds} s, one client, requests back to back.\n",
        opts.interval, opts.rounds
    );
    let master = Master::start().await?;
    let token = master.setup().await?;
    let secret = std::fs::read_to_string(master.dir.path().join("data").join("enroll_secret"))
        .context("reading the generated enroll secret")?
        .trim()
        .to_owned();
    let mut p = payloads(0, true).await?;
    let mut census: serde_json::Value =
        serde_json::from_slice(p.census_json.as_deref().unwrap_or(b"{}"))?;
    census["docker"] = json!({"version": "27.0.0-simulated", "api_version": "1.47", "info": {}});
    p.census_json = Some(serde_json::to_vec(&census)?);
    p.engine_containers = Some(per_node);
    let payloads = Arc::new(p);

    let ramp = Instant::now();
    let hosts = create_hosts(&master, &token, workers).await?;
    let enrolled = enroll_all(&master, &secret, hosts).await?;
    eprintln!(
        "{workers} hosts created and enrolled in {:.1} s",
        ramp.elapsed().as_secs_f64()
    );
    let tally = Arc::new(Tally::default());
    let grpc_url = format!("http://{}", master.grpc_addr);
    let mut tasks = JoinSet::new();
    start_workers(&mut tasks, &grpc_url, &enrolled, opts, &payloads, &tally).await?;
    let healthy_in = wait_all_healthy(&master, &token, workers).await?;
    eprintln!(
        "all {workers} healthy after {:.1} s",
        healthy_in.as_secs_f64()
    );

    // Every census answered, every node fused and its inventory filled.
    let http = http_client(2)?;
    let expected = workers * per_node;
    let filled_at = Instant::now();
    loop {
        let page: serde_json::Value = http
            .get(master.url("/api/containers?limit=1"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        let total = page["total"].as_u64().unwrap_or(0) as usize;
        let errors = page["errors"].as_array().map_or(0, Vec::len);
        if total >= expected && errors == 0 {
            break;
        }
        if filled_at.elapsed() > Duration::from_secs(600) {
            bail!(
                "inventories not filled after 10 min: total {total} of {expected}, {errors} endpoint errors"
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    eprintln!(
        "{expected} containers listed {:.1} s after all were healthy",
        filled_at.elapsed().as_secs_f64()
    );

    let ids: Vec<String> = enrolled
        .iter()
        .flat_map(|e| (0..per_node).map(|i| simulated_container_id(&e.id, i)))
        .collect();
    let kinds = [
        "GET /api/health (baseline)",
        "GET /api/containers?limit=50",
        "GET /api/containers?limit=50&offset=<random>",
        "GET /api/containers/{id}",
    ];
    let mut rounds: Vec<Vec<Option<Percentiles>>> = Vec::new();
    let mut errors = 0u64;
    for round in 0..opts.rounds {
        let mut samples: Vec<Vec<i64>> = vec![Vec::new(); kinds.len()];
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(seconds) {
            let offset = rand::rng().random_range(0..expected.saturating_sub(50).max(1));
            let id = &ids[rand::rng().random_range(0..ids.len())];
            let paths = [
                "/api/health".to_owned(),
                "/api/containers?limit=50".to_owned(),
                format!("/api/containers?limit=50&offset={offset}"),
                format!("/api/containers/{id}"),
            ];
            for (k, path) in paths.iter().enumerate() {
                let sent = Instant::now();
                let ok = match http.get(master.url(path)).bearer_auth(&token).send().await {
                    Ok(resp) if resp.status().is_success() => resp.bytes().await.is_ok(),
                    Ok(resp) => {
                        if errors < REPORTED_FAILURES {
                            eprintln!("{path}: {}", resp.status());
                        }
                        false
                    }
                    Err(_) => false,
                };
                if ok {
                    samples[k].push(i64::try_from(sent.elapsed().as_micros()).unwrap_or(i64::MAX));
                } else {
                    errors += 1;
                }
            }
        }
        eprintln!("round {} done", round + 1);
        rounds.push(samples.into_iter().map(Percentiles::of_micros).collect());
    }
    tasks.abort_all();
    let rss = master.rss()?;
    master.stop().await?;

    println!(
        "| request | p50 ms (median of rounds) | p99 ms (median of rounds) | p99 per round | requests | target |\n|---|---|---|---|---|---|"
    );
    for (k, kind) in kinds.iter().enumerate() {
        let per: Vec<&Percentiles> = rounds.iter().filter_map(|r| r[k].as_ref()).collect();
        let mut p50: Vec<f64> = per.iter().map(|p| p.p50).collect();
        let mut p99: Vec<f64> = per.iter().map(|p| p.p99).collect();
        let each = p99
            .iter()
            .map(|v| format!("{v:.1}"))
            .collect::<Vec<_>>()
            .join(" / ");
        let n: usize = per.iter().map(|p| p.n).sum();
        let (p50, p99) = (super::median(&mut p50), super::median(&mut p99));
        let target = if k == 0 {
            String::new()
        } else {
            format!("p99 ≤ 50 ms, {}", verdict(p99 <= 50.0))
        };
        println!("| `{kind}` | {p50:.1} | {p99:.1} | {each} | {n} | {target} |");
    }
    println!("| errors (non-200 or failed) | {errors} | | | | 0 |");
    println!(
        "| master VmRSS at the end | {:.1} MiB | | | | |",
        mib(rss.vm_rss)
    );
    Ok(())
}
