//! Load scenarios against the real master, run as a child process.
//!
//! ```text
//! cargo build --release
//! cargo bench --bench load -- idle-rss          # RSS after start + setup + 10 s idle
//! cargo bench --bench load -- ws-fanout         # 1,000 WebSocket clients, 10 events/s for 30 s
//! cargo bench --bench load -- auth-throughput   # GET /api/auth/me (JWT, API key) vs a bare handler
//! cargo bench --bench load -- fleet             # 1,000 simulated workers over gRPC for 10 min
//! cargo bench --bench load -- inventory --containers=20  # container list/lookup over 1,000 nodes
//! cargo bench --bench load -- backup-worker --mib=1024  # a volume backed up/restored through a worker
//! cargo bench --bench load -- all
//! ```
//!
//! Every scenario starts `contextbay serve --port <free> --grpc-port <free> --data-dir <tempdir>`
//! in an empty working directory with no `CB_*` variables, so the master runs on its embedded
//! defaults (a JWT secret is generated on first start), then creates the first admin with
//! `POST /api/auth/setup`. The binary is `CONTEXTBAY_BIN` when set, else the one cargo built for
//! this bench (`target/release/contextbay`).
//!
//! Options (after the scenario): `--clients=N` (1000), `--rate=N` events/s (10),
//! `--seconds=N` (30 for ws-fanout, 10 for auth-throughput), `--rounds=N` (3),
//! `--concurrency=N` (32), `--idle=N` seconds (10); for `fleet`: `--workers=N` (1000),
//! `--seconds=N` (600), `--interval=N` seconds between heartbeats and between metrics batches
//! (10), `--per-channel=N` workers sharing one gRPC connection (1), `--containers=N` container
//! samples per metrics batch (10), `--concurrency=N` connections being set up at once during the
//! ramp-up (32), `--no-census` (simulated workers fail the census the master asks
//! for on connect, to see what storing it costs).
//!
//! Figures are printed as Markdown tables; they are measured, never asserted. Medians are taken
//! over rounds where a scenario repeats. Results and the machine they came from are kept in
//! `docs/performance.md`.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[path = "load/backup.rs"]
mod backup;
#[path = "load/fleet.rs"]
mod fleet;

const ADMIN: &str = "admin";
const PASSWORD: &str = "benchmark-pass-1";
const KB: f64 = 1024.0;

type Ws = WebSocketStream<TcpStream>;

fn main() -> ExitCode {
    let opts = match Options::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(err) => {
            eprintln!("error: {err:#}\n\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let Some(scenario) = opts.scenario.clone() else {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the tokio runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match scenario.as_str() {
            "idle-rss" => idle_rss(&opts).await,
            "ws-fanout" => ws_fanout(&opts).await,
            "auth-throughput" => auth_throughput(&opts).await,
            "fleet" => fleet::fleet(&opts).await,
            "inventory" => fleet::inventory(&opts).await,
            "backup-worker" => backup::backup_worker(&opts).await,
            "all" => {
                idle_rss(&opts).await?;
                ws_fanout(&opts).await?;
                auth_throughput(&opts).await
            }
            other => bail!("unknown scenario '{other}'"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo bench --bench load -- <idle-rss|ws-fanout|auth-throughput|fleet|inventory|backup-worker|all> \
[--clients=N] [--rate=N] [--seconds=N] [--rounds=N] [--concurrency=N] [--idle=N] \
[--workers=N] [--interval=N] [--per-channel=N] [--containers=N] [--no-census] [--mib=N]";

/// Command-line options; cargo adds `--bench`, which is ignored.
#[derive(Debug, Clone)]
struct Options {
    scenario: Option<String>,
    clients: usize,
    rate: u64,
    seconds: Option<u64>,
    rounds: usize,
    concurrency: usize,
    idle: u64,
    workers: usize,
    interval: u64,
    per_channel: usize,
    containers: usize,
    no_census: bool,
    /// `backup-worker`: the volume's size in MiB.
    mib: u64,
}

impl Options {
    fn parse(args: impl Iterator<Item = String>) -> anyhow::Result<Self> {
        let mut opts = Options {
            scenario: None,
            clients: 1000,
            rate: 10,
            seconds: None,
            rounds: 3,
            concurrency: 32,
            idle: 10,
            workers: 1000,
            interval: 10,
            per_channel: 1,
            containers: 10,
            no_census: false,
            mib: 1024,
        };
        for arg in args {
            let number = |prefix: &str| -> anyhow::Result<Option<u64>> {
                arg.strip_prefix(prefix)
                    .map(|v| v.parse::<u64>().with_context(|| format!("{prefix}{v}")))
                    .transpose()
            };
            if arg == "--bench" {
                continue;
            } else if arg == "--no-census" {
                opts.no_census = true;
            } else if let Some(v) = number("--mib=")? {
                opts.mib = v;
            } else if let Some(v) = number("--clients=")? {
                opts.clients = usize::try_from(v)?;
            } else if let Some(v) = number("--rate=")? {
                opts.rate = v.max(1);
            } else if let Some(v) = number("--seconds=")? {
                opts.seconds = Some(v.max(1));
            } else if let Some(v) = number("--rounds=")? {
                opts.rounds = usize::try_from(v.max(1))?;
            } else if let Some(v) = number("--concurrency=")? {
                opts.concurrency = usize::try_from(v.max(1))?;
            } else if let Some(v) = number("--idle=")? {
                opts.idle = v;
            } else if let Some(v) = number("--workers=")? {
                opts.workers = usize::try_from(v.max(1))?;
            } else if let Some(v) = number("--interval=")? {
                opts.interval = v.max(1);
            } else if let Some(v) = number("--per-channel=")? {
                opts.per_channel = usize::try_from(v.max(1))?;
            } else if let Some(v) = number("--containers=")? {
                opts.containers = usize::try_from(v)?;
            } else if arg.starts_with("--") {
                bail!("unknown option {arg}");
            } else if opts.scenario.is_none() {
                opts.scenario = Some(arg);
            } else {
                bail!("more than one scenario given");
            }
        }
        Ok(opts)
    }
}

// ------------------------------------------------------------------------------------------------
// The master as a child process.

/// A running `contextbay serve`; killed on drop if it was not stopped.
struct Master {
    child: tokio::process::Child,
    addr: SocketAddr,
    grpc_addr: SocketAddr,
    base: String,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

/// Memory figures from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Default)]
struct Rss {
    vm_rss: u64,
    rss_anon: u64,
    rss_file: u64,
    vm_hwm: u64,
    threads: u64,
}

impl Master {
    fn binary() -> PathBuf {
        std::env::var_os("CONTEXTBAY_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_contextbay")))
    }

    async fn start() -> anyhow::Result<Self> {
        Self::start_with_env(&[]).await
    }

    /// [`Self::start`] with extra `CB_*` settings.
    async fn start_with_env(env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let bin = Self::binary();
        if !bin.is_file() {
            bail!(
                "{} not found; run `cargo build --release` or set CONTEXTBAY_BIN",
                bin.display()
            );
        }
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let port = free_port()?;
        let grpc_port = free_port()?;
        let log = std::fs::File::create(dir.path().join("master.log"))?;
        let mut cmd = tokio::process::Command::new(&bin);
        cmd.arg("serve")
            .arg("--port")
            .arg(port.to_string())
            .arg("--grpc-port")
            .arg(grpc_port.to_string())
            .arg("--data-dir")
            .arg(&data)
            // No config/local.toml of a developer's checkout, no CB_* overrides: embedded defaults
            // (but plain gRPC, below).
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CB_") {
                cmd.env_remove(key);
            }
        }
        // The simulated workers dial plain gRPC (`http://`): gRPC TLS, the default, is off here.
        cmd.env("CB_FLEET__GRPC_TLS", "false");
        cmd.envs(env.iter().copied());
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let master = Master {
            child,
            addr,
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], grpc_port)),
            base: format!("http://{addr}"),
            http: http_client(64)?,
            dir,
        };
        master.wait_ready().await?;
        Ok(master)
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(resp) = self.http.get(self.url("/api/health")).send().await
                && resp.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the master did not answer /api/health within 30 s; log: {}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("master.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn pid(&self) -> anyhow::Result<u32> {
        self.child.id().context("the master has exited")
    }

    fn rss(&self) -> anyhow::Result<Rss> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?))?;
        let mut rss = Rss::default();
        for line in status.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let number = value
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            match key {
                "VmRSS" => rss.vm_rss = number,
                "RssAnon" => rss.rss_anon = number,
                "RssFile" => rss.rss_file = number,
                "VmHWM" => rss.vm_hwm = number,
                "Threads" => rss.threads = number,
                _ => {}
            }
        }
        Ok(rss)
    }

    /// Creates the first admin; returns its access token.
    async fn setup(&self) -> anyhow::Result<String> {
        let resp = self
            .http
            .post(self.url("/api/auth/setup"))
            .json(&json!({"username": ADMIN, "password": PASSWORD}))
            .send()
            .await?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await?;
        if status.as_u16() != 201 {
            bail!("POST /api/auth/setup answered {status}: {body}");
        }
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("setup response without access_token")
    }

    /// One sample from `/metrics` (the first series with that name).
    async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await?
            .text()
            .await?;
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let metric = series.split('{').next()?;
                (metric == name)
                    .then(|| value.parse::<f64>().ok())
                    .flatten()
            })
            .with_context(|| format!("{name} not found in /metrics"))
    }

    /// SIGTERM, then waits for the exit; returns how long draining took.
    async fn stop(mut self) -> anyhow::Result<Duration> {
        let pid = self.pid()?;
        let started = Instant::now();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM {pid} failed");
        }
        match tokio::time::timeout(Duration::from_secs(40), self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                if !status.success() {
                    eprintln!(
                        "master exited with {status} after SIGTERM; log:\n{}",
                        self.log()
                    );
                }
                Ok(started.elapsed())
            }
            Err(_) => bail!("the master did not exit within 40 s of SIGTERM"),
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn http_client(pool: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(pool)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?)
}

fn unix_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / KB
}

// ------------------------------------------------------------------------------------------------
// Statistics.

/// Nearest-rank percentiles of a sample.
struct Percentiles {
    n: usize,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
}

impl Percentiles {
    /// `values` in microseconds; the result in milliseconds.
    fn of_micros(mut values: Vec<i64>) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
            values[rank - 1] as f64 / 1000.0
        };
        Some(Self {
            n: values.len(),
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        })
    }
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

// ------------------------------------------------------------------------------------------------
// idle-rss

async fn idle_rss(opts: &Options) -> anyhow::Result<()> {
    println!("\n## idle-rss\n");
    println!(
        "Master started on its embedded defaults, `POST /api/auth/setup`, then {} s idle; {} rounds.\n",
        opts.idle, opts.rounds
    );
    let mut rows = Vec::new();
    for round in 1..=opts.rounds {
        let master = Master::start().await?;
        master.setup().await?;
        tokio::time::sleep(Duration::from_secs(opts.idle)).await;
        let rss = master.rss()?;
        let drain = master.stop().await?;
        eprintln!("round {round}: VmRSS {:.1} MiB", mib(rss.vm_rss));
        rows.push((round, rss, drain));
    }
    println!("| round | VmRSS | RssAnon | RssFile | VmHWM (peak) | threads | SIGTERM → exit |");
    println!("|---|---|---|---|---|---|---|");
    for (round, rss, drain) in &rows {
        println!(
            "| {round} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {} | {} ms |",
            mib(rss.vm_rss),
            mib(rss.rss_anon),
            mib(rss.rss_file),
            mib(rss.vm_hwm),
            rss.threads,
            drain.as_millis()
        );
    }
    let mut values: Vec<f64> = rows.iter().map(|(_, r, _)| mib(r.vm_rss)).collect();
    let med = median(&mut values);
    println!("\n| metric | median | target | |\n|---|---|---|---|");
    println!(
        "| idle VmRSS | {med:.1} MiB | ≤ 50 MB | {} |",
        verdict(med * KB * KB <= 50e6)
    );
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// ws-fanout

/// What a fan-out client saw.
enum Receipt {
    Event {
        id: u64,
        received_us: i64,
        ts_us: i64,
    },
    Lagged,
    Closed,
}

#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    id: Option<u64>,
    ts: Option<String>,
    missed: Option<u64>,
}

/// One published event: its id and when its POST was sent.
struct Published {
    id: u64,
    sent_us: i64,
}

/// Opens `/api/ws`, authenticates with the first message and waits for `hello`.
async fn connect_ws(
    addr: SocketAddr,
    query: &str,
    token: &str,
    recv_buffer: Option<u32>,
) -> anyhow::Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    // Small buffers: a thousand clients with tungstenite's 128 KiB defaults would skew the host.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let url = format!("ws://{addr}/api/ws{query}");
    let (mut ws, _) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;
    ws.send(Message::text(
        json!({"type": "auth", "token": token}).to_string(),
    ))
    .await?;
    let hello = tokio::time::timeout(Duration::from_secs(30), ws.next())
        .await
        .context("no hello within 30 s")?
        .context("closed before hello")??;
    let text = match hello {
        Message::Text(text) => text,
        other => bail!("expected hello, got {other:?}"),
    };
    let frame: Frame = serde_json::from_str(text.as_str())?;
    if frame.kind != "hello" {
        bail!("expected hello, got {text}");
    }
    Ok(ws)
}

fn parse_rfc3339_us(ts: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

/// Reads events until the socket closes, reporting each one with its receive time.
async fn read_events(mut ws: Ws, tx: mpsc::UnboundedSender<Receipt>) {
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(Message::Text(text)) => {
                let received_us = unix_us();
                let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) else {
                    continue;
                };
                let receipt = match (frame.kind.as_str(), frame.id, frame.ts.as_deref()) {
                    ("lagged", _, _) => Receipt::Lagged,
                    (_, Some(id), Some(ts)) => Receipt::Event {
                        id,
                        received_us,
                        ts_us: parse_rfc3339_us(ts).unwrap_or(received_us),
                    },
                    _ => continue,
                };
                if tx.send(receipt).is_err() {
                    return;
                }
            }
            Ok(Message::Close(_)) => {
                let _ = tx.send(Receipt::Closed);
                return;
            }
            // tungstenite answers pings itself while reading.
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// Publishes `rate` notification events per second for `seconds`.
async fn publish(
    master: &Master,
    token: &str,
    rate: u64,
    seconds: u64,
) -> anyhow::Result<(Vec<Published>, Duration)> {
    let mut tick = tokio::time::interval(Duration::from_secs(1) / u32::try_from(rate)?);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut out = Vec::new();
    let started = Instant::now();
    for _ in 0..rate * seconds {
        tick.tick().await;
        let sent_us = unix_us();
        let id = publish_one(master, token).await?;
        out.push(Published { id, sent_us });
    }
    Ok((out, started.elapsed()))
}

/// `POST /api/notifications/test`; returns the event id.
async fn publish_one(master: &Master, token: &str) -> anyhow::Result<u64> {
    let resp = master
        .http
        .post(master.url("/api/notifications/test"))
        .bearer_auth(token)
        .send()
        .await?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await?;
    if status.as_u16() != 202 {
        bail!("POST /api/notifications/test answered {status}: {body}");
    }
    body["id"].as_u64().context("no id in the answer")
}

/// What the stalled client read once it resumed.
#[derive(Default)]
struct SlowRead {
    events: u64,
    lagged: Vec<u64>,
    closed: bool,
}

/// Reads until 3 s pass without a frame.
async fn drain_slow(ws: &mut Ws) -> SlowRead {
    let mut read = SlowRead::default();
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
        match msg {
            Ok(Message::Text(text)) => {
                if let Ok(frame) = serde_json::from_str::<Frame>(text.as_str()) {
                    match frame.kind.as_str() {
                        "lagged" => read.lagged.push(frame.missed.unwrap_or(0)),
                        _ if frame.id.is_some() => read.events += 1,
                        _ => {}
                    }
                }
            }
            Ok(Message::Close(_)) | Err(_) => {
                read.closed = true;
                break;
            }
            Ok(_) => {}
        }
    }
    read
}

/// Delivery figures of one publishing phase.
struct PhaseResult {
    events: usize,
    elapsed: Duration,
    delivered: usize,
    expected: usize,
    from_ts: Option<Percentiles>,
    from_post: Option<Percentiles>,
    lagged: usize,
}

fn collect_phase(
    published: &[Published],
    elapsed: Duration,
    clients: usize,
    rx: &mut mpsc::UnboundedReceiver<Receipt>,
    lagged_total: &mut usize,
    closed_total: &mut usize,
) -> PhaseResult {
    let sent: HashMap<u64, i64> = published.iter().map(|p| (p.id, p.sent_us)).collect();
    let mut from_ts = Vec::new();
    let mut from_post = Vec::new();
    let mut lagged = 0;
    while let Ok(receipt) = rx.try_recv() {
        match receipt {
            Receipt::Event {
                id,
                received_us,
                ts_us,
            } => {
                if let Some(sent_us) = sent.get(&id) {
                    from_ts.push(received_us - ts_us);
                    from_post.push(received_us - sent_us);
                }
            }
            Receipt::Lagged => lagged += 1,
            Receipt::Closed => *closed_total += 1,
        }
    }
    *lagged_total += lagged;
    PhaseResult {
        events: published.len(),
        elapsed,
        delivered: from_ts.len(),
        expected: published.len() * clients,
        from_ts: Percentiles::of_micros(from_ts),
        from_post: Percentiles::of_micros(from_post),
        lagged,
    }
}

/// Publishes admin-only events (`setting.updated`, ~200-byte frames) as fast as the API takes
/// them, in batches, until the bus reports dropped deliveries (a subscriber's queue overflowed) or
/// `max` events were sent. Returns how many were sent, how long it took and the drops seen.
async fn flood_until_dropped(
    master: &Master,
    token: &str,
    max: usize,
) -> anyhow::Result<(usize, Duration, f64)> {
    const WORKERS: usize = 8;
    const BATCH: usize = 400;
    // Long keys make big frames, so the stalled socket fills sooner.
    let key = format!("custom.bench-flood-{}", "x".repeat(100));
    let dropped_before = master.metric("contextbay_events_dropped_total").await?;
    let started = Instant::now();
    let mut sent = 0;
    while sent < max {
        let mut tasks = Vec::new();
        for w in 0..WORKERS {
            let http = master.http.clone();
            let url = master.url(&format!("/api/settings/{key}"));
            let token = token.to_owned();
            tasks.push(tokio::spawn(async move {
                for i in (w..BATCH).step_by(WORKERS) {
                    let resp = http
                        .put(&url)
                        .bearer_auth(&token)
                        .json(&json!({"value": i}))
                        .send()
                        .await?;
                    if !resp.status().is_success() {
                        bail!("PUT /api/settings answered {}", resp.status());
                    }
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        sent += BATCH;
        let dropped = master.metric("contextbay_events_dropped_total").await? - dropped_before;
        if dropped > 0.0 {
            return Ok((sent, started.elapsed(), dropped));
        }
    }
    Ok((sent, started.elapsed(), 0.0))
}

async fn ws_fanout(opts: &Options) -> anyhow::Result<()> {
    let clients = opts.clients;
    let seconds = opts.seconds.unwrap_or(30);
    let rate = opts.rate;
    let flood_max = 60_000;
    let nofile = rlimit::increase_nofile_limit(65_536).unwrap_or(0);
    if nofile < (clients as u64) * 2 + 256 {
        eprintln!(
            "warning: open-files limit {nofile} is low for {clients} clients; try `ulimit -n 65536`"
        );
    }
    println!("\n## ws-fanout\n");
    println!(
        "{clients} clients on `/api/ws?topics=notification`, `POST /api/notifications/test` at {rate}/s \
         for {seconds} s, without and then with one client that stopped reading.\n"
    );

    let master = Master::start().await?;
    let token = master.setup().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = master.rss()?;

    // Connect the clients, a bounded number of handshakes at a time.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let connect_started = Instant::now();
    let handshakes = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let mut connecting = Vec::with_capacity(clients);
    for _ in 0..clients {
        let handshakes = handshakes.clone();
        let token = token.clone();
        let addr = master.addr;
        connecting.push(tokio::spawn(async move {
            let _permit = handshakes.acquire_owned().await?;
            connect_ws(addr, "?topics=notification", &token, None).await
        }));
    }
    let mut readers = Vec::with_capacity(clients);
    for task in connecting {
        let ws = task.await??;
        readers.push(tokio::spawn(read_events(ws, tx.clone())));
    }
    let connect_time = connect_started.elapsed();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_idle = master.rss()?;
    let sessions = master.metric("contextbay_ws_sessions").await?;
    let per_conn_bytes =
        (rss_idle.vm_rss.saturating_sub(rss_before.vm_rss) as f64 * KB) / clients.max(1) as f64;
    eprintln!(
        "{clients} clients connected in {:.1} s; {sessions} sessions; {:.0} bytes/connection",
        connect_time.as_secs_f64(),
        per_conn_bytes
    );

    // Phase A: every client reads.
    let mut lagged_total = 0;
    let mut closed_total = 0;
    let (published, elapsed) = publish(&master, &token, rate, seconds).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let phase_a = collect_phase(
        &published,
        elapsed,
        clients,
        &mut rx,
        &mut lagged_total,
        &mut closed_total,
    );
    let rss_busy = master.rss()?;
    eprintln!(
        "phase A done: {} of {} deliveries",
        phase_a.delivered, phase_a.expected
    );

    // Phase B: one more client (all topics, 4 KiB receive buffer) stops reading after hello. A
    // burst of events only it subscribes to first fills its socket buffers, the session's queues
    // and its subscriber queue, until the bus drops deliveries for it; the phase then runs while
    // it stays stalled.
    let dropped_before = master.metric("contextbay_events_dropped_total").await?;
    let mut slow = connect_ws(master.addr, "", &token, Some(4096)).await?;
    let (flood_events, flood_time, _) = flood_until_dropped(&master, &token, flood_max).await?;
    let (published, elapsed) = publish(&master, &token, rate, seconds).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let phase_b = collect_phase(
        &published,
        elapsed,
        clients,
        &mut rx,
        &mut lagged_total,
        &mut closed_total,
    );
    let dropped_during = master.metric("contextbay_events_dropped_total").await? - dropped_before;
    eprintln!(
        "phase B done: {} of {} deliveries",
        phase_b.delivered, phase_b.expected
    );

    // The slow client resumes reading until 3 s pass without a frame; then one more event is
    // published, since the bus hands out a pending `lagged` notice together with the next event.
    let resumed = drain_slow(&mut slow).await;
    publish_one(&master, &token).await?;
    let after_next = drain_slow(&mut slow).await;
    drop(slow);

    // SIGTERM with the clients connected: each should get a close frame.
    let drain = master.stop().await?;
    drop(tx);
    for reader in readers {
        let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
    }
    while let Ok(receipt) = rx.try_recv() {
        if matches!(receipt, Receipt::Closed) {
            closed_total += 1;
        }
    }

    println!("| memory | value |\n|---|---|");
    println!(
        "| master VmRSS after setup, no clients | {:.1} MiB |",
        mib(rss_before.vm_rss)
    );
    println!(
        "| master VmRSS with {clients} idle clients ({sessions} sessions) | {:.1} MiB |",
        mib(rss_idle.vm_rss)
    );
    println!(
        "| master VmRSS after phase A | {:.1} MiB |",
        mib(rss_busy.vm_rss)
    );
    println!(
        "| **per idle connection** (ΔVmRSS / clients) | **{:.1} KiB** (RssAnon: {:.1} KiB) |",
        per_conn_bytes / KB,
        rss_idle.rss_anon.saturating_sub(rss_before.rss_anon) as f64 / clients.max(1) as f64
    );
    println!(
        "| connecting {clients} clients (64 handshakes at a time) | {:.1} s |",
        connect_time.as_secs_f64()
    );

    println!(
        "\n| phase | events | publish rate | deliveries | latency from | p50 | p95 | p99 | max |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, phase) in [
        ("A: all clients reading", &phase_a),
        ("B: + 1 stalled client", &phase_b),
    ] {
        for (basis, p) in [
            ("event `ts`", &phase.from_ts),
            ("POST sent", &phase.from_post),
        ] {
            let Some(p) = p else { continue };
            println!(
                "| {name} | {} | {:.1}/s | {}/{} | {basis} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
                phase.events,
                phase.events as f64 / phase.elapsed.as_secs_f64(),
                p.n,
                phase.expected,
                p.p50,
                p.p95,
                p.p99,
                p.max
            );
        }
    }
    let lagged_fast = phase_a.lagged + phase_b.lagged;
    println!("\n| stalled client | value |\n|---|---|");
    println!(
        "| admin-only events sent to it until the bus dropped one for it | {flood_events} in {:.1} s |",
        flood_time.as_secs_f64()
    );
    println!(
        "| deliveries the bus dropped for it (flood + phase B, `contextbay_events_dropped_total`) | {dropped_during} |"
    );
    let lagged_list = |r: &SlowRead| {
        let missed: Vec<String> = r.lagged.iter().map(u64::to_string).collect();
        format!("{} (missed: {})", r.lagged.len(), missed.join(", "))
    };
    println!(
        "| on resuming: events received / `lagged` frames | {} / {} |",
        resumed.events,
        lagged_list(&resumed)
    );
    println!(
        "| after one more event: events received / `lagged` frames | {} / {} |",
        after_next.events,
        lagged_list(&after_next)
    );
    println!(
        "| closed by the server | {} |",
        if resumed.closed || after_next.closed {
            "yes"
        } else {
            "no"
        }
    );
    println!("| `lagged` frames at the {clients} reading clients | {lagged_fast} |");
    println!(
        "\n| shutdown | value |\n|---|---|\n| SIGTERM → exit with {clients} clients | {} ms |\n| clients that got a close frame | {closed_total}/{clients} |",
        drain.as_millis()
    );

    let p99_a = phase_a.from_ts.as_ref().map_or(f64::NAN, |p| p.p99);
    let p99_b = phase_b.from_ts.as_ref().map_or(f64::NAN, |p| p.p99);
    println!("\n| target | measured | |\n|---|---|---|");
    println!(
        "| p99 delivery ≤ 250 ms | {p99_a:.1} ms | {} |",
        verdict(p99_a <= 250.0)
    );
    println!(
        "| ≤ 16 KB per idle connection | {:.1} KiB | {} |",
        per_conn_bytes / KB,
        verdict(per_conn_bytes <= 16_000.0)
    );
    println!(
        "| a stalled client does not delay the others | p99 {p99_b:.1} ms with it vs {p99_a:.1} ms without; all deliveries: {} | {} |",
        if phase_b.delivered == phase_b.expected {
            "yes"
        } else {
            "no"
        },
        verdict(p99_b <= 250.0 && phase_b.delivered == phase_b.expected)
    );
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// auth-throughput

#[derive(Clone)]
enum Credential {
    None,
    Bearer(String),
    ApiKey(String),
}

struct Throughput {
    rps: f64,
    errors: u64,
    latency: Option<Percentiles>,
}

/// `concurrency` tasks send `GET url` back to back for `warmup + measure`; only requests that
/// start after the warm-up count.
async fn hammer(
    url: &str,
    credential: &Credential,
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
) -> anyhow::Result<Throughput> {
    let client = http_client(concurrency)?;
    let start = Instant::now() + warmup;
    let end = start + measure;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.to_owned();
        let credential = credential.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            let mut errors = 0u64;
            let mut latencies = Vec::new();
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let request = match &credential {
                    Credential::None => client.get(&url),
                    Credential::Bearer(t) => client.get(&url).bearer_auth(t),
                    Credential::ApiKey(k) => client.get(&url).header("X-API-Key", k),
                };
                let success = match request.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        resp.bytes().await.is_ok() && status.is_success()
                    }
                    Err(_) => false,
                };
                if t0 >= start {
                    if success {
                        ok += 1;
                        latencies.push(i64::try_from(t0.elapsed().as_micros()).unwrap_or(i64::MAX));
                    } else {
                        errors += 1;
                    }
                }
            }
            (ok, errors, latencies)
        }));
    }
    let (mut ok, mut errors, mut latencies) = (0, 0, Vec::new());
    for task in tasks {
        let (o, e, l) = task.await?;
        ok += o;
        errors += e;
        latencies.extend(l);
    }
    Ok(Throughput {
        rps: ok as f64 / measure.as_secs_f64(),
        errors,
        latency: Percentiles::of_micros(latencies),
    })
}

async fn bare() -> actix_web::HttpResponse {
    // The same shape and size as `GET /api/auth/me`.
    actix_web::HttpResponse::Ok().json(json!({
        "id": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "username": "admin",
        "role": "admin",
        "disabled": false,
        "created_at": "2026-11-27T04:15:00.000Z",
        "auth_method": "jwt"
    }))
}

/// Serves `GET /bare` from this process on its own actix System, with as many workers as the
/// master has (one per core).
fn start_bare_server() -> anyhow::Result<(SocketAddr, actix_web::dev::ServerHandle)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("bare-actix".into())
        .spawn(move || {
            let result = actix_web::rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(|| {
                    actix_web::App::new().route("/bare", actix_web::web::get().to(bare))
                })
                .workers(workers)
                .disable_signals()
                .shutdown_timeout(1)
                .listen(listener)?
                .run();
                let _ = tx.send(server.handle());
                server.await
            });
            if let Err(err) = result {
                eprintln!("bare actix server: {err}");
            }
        })?;
    let handle = rx
        .recv_timeout(Duration::from_secs(10))
        .context("bare server did not start")?;
    Ok((addr, handle))
}

async fn auth_throughput(opts: &Options) -> anyhow::Result<()> {
    let measure = Duration::from_secs(opts.seconds.unwrap_or(10));
    let warmup = Duration::from_secs(1);
    let concurrency = opts.concurrency;
    println!("\n## auth-throughput\n");
    println!(
        "{concurrency} concurrent keep-alive connections (reqwest), {} s per target after a 1 s warm-up, \
         {} rounds; the bare handler runs in the bench process with as many actix workers as the master.\n",
        measure.as_secs(),
        opts.rounds
    );
    let master = Master::start().await?;
    let token = master.setup().await?;
    let resp = master
        .http
        .post(master.url("/api/keys"))
        .bearer_auth(&token)
        .json(&json!({"name": "bench"}))
        .send()
        .await?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await?;
    let key = body["key"]
        .as_str()
        .with_context(|| format!("POST /api/keys answered {status}: {body}"))?
        .to_owned();
    let (bare_addr, bare_handle) = start_bare_server()?;

    let targets = [
        (
            "bare actix-web handler (`GET /bare`)",
            format!("http://{bare_addr}/bare"),
            Credential::None,
        ),
        (
            "`GET /api/auth/me`, JWT (Bearer)",
            master.url("/api/auth/me"),
            Credential::Bearer(token.clone()),
        ),
        (
            "`GET /api/auth/me`, API key (X-API-Key)",
            master.url("/api/auth/me"),
            Credential::ApiKey(key),
        ),
    ];
    let mut samples: Vec<Vec<Throughput>> = targets.iter().map(|_| Vec::new()).collect();
    for round in 1..=opts.rounds {
        for (i, (name, url, credential)) in targets.iter().enumerate() {
            let t = hammer(url, credential, concurrency, warmup, measure).await?;
            eprintln!(
                "round {round}: {name}: {:.0} req/s, {} errors",
                t.rps, t.errors
            );
            samples[i].push(t);
        }
    }
    bare_handle.stop(false).await;
    master.stop().await?;

    let mut medians = Vec::new();
    for s in &samples {
        let mut rps: Vec<f64> = s.iter().map(|t| t.rps).collect();
        medians.push(median(&mut rps));
    }
    let bare_rps = medians.first().copied().unwrap_or(f64::NAN);
    println!(
        "| target | req/s per round | median req/s | ratio to bare | median p50 / p99 latency | errors |"
    );
    println!("|---|---|---|---|---|---|");
    for (((name, _, _), s), med) in targets.iter().zip(&samples).zip(&medians) {
        let rounds: Vec<String> = s.iter().map(|t| format!("{:.0}", t.rps)).collect();
        let mut p50: Vec<f64> = s
            .iter()
            .filter_map(|t| t.latency.as_ref().map(|p| p.p50))
            .collect();
        let mut p99: Vec<f64> = s
            .iter()
            .filter_map(|t| t.latency.as_ref().map(|p| p.p99))
            .collect();
        let errors: u64 = s.iter().map(|t| t.errors).sum();
        println!(
            "| {name} | {} | {med:.0} | {:.2} | {:.2} / {:.2} ms | {errors} |",
            rounds.join(" / "),
            med / bare_rps,
            median(&mut p50),
            median(&mut p99)
        );
    }
    Ok(())
}
