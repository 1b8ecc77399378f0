//! The `contextbay` binary: `serve` (the master), `worker` (the host agent), `admin …`
//! (maintenance).

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use contextbay::admin::{self, PasswordSource};
use contextbay::auth::Role;
use contextbay::config::{CliOverrides, Config};

#[derive(Parser)]
#[command(
    name = "contextbay",
    version,
    about = "Control plane for fleets of Docker hosts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the master: REST API, WebSocket events, /metrics and the dashboard.
    Serve(ConfigArgs),
    /// Run the worker agent on a Docker host: enroll, then report to the master over gRPC.
    Worker(WorkerArgs),
    /// Ask a running master's `GET /api/health` (for container health checks): exit status 0
    /// when it answers 2xx within 5 s, 1 otherwise.
    Healthcheck {
        /// The URL to ask. Default: `http://127.0.0.1:<port>/api/health`, the port from
        /// `CB_SERVER__HTTP_PORT`, else 8080.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
    /// Maintenance commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Print the effective configuration with secrets redacted.
    PrintConfig(ConfigArgs),
    /// Create a user. Without --password-stdin a password is generated and printed.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "admin")]
        role: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Set a new password and end the user's sessions.
    ResetPassword {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Make a new JWT signing key; the previous one stays valid for the grace period.
    RotateJwt(ConfigArgs),
    /// Copy a SQLite store into an empty PostgreSQL database and verify it (row counts and
    /// checksums); stop the master first. See README, "Moving from SQLite to PostgreSQL".
    MigrateStore {
        /// The SQLite database, e.g. sqlite:///var/lib/contextbay/contextbay.db
        #[arg(long, value_name = "SQLITE_URL")]
        from: String,
        /// The empty PostgreSQL database, e.g. postgres://contextbay@db/contextbay
        #[arg(long, value_name = "POSTGRES_URL")]
        to: String,
    },
}

#[derive(Args, Clone)]
struct ConfigArgs {
    /// Extra TOML configuration files, applied after config/default.toml and config/local.toml.
    #[arg(long = "config", value_name = "FILE")]
    config_files: Vec<PathBuf>,
    #[arg(long)]
    bind: Option<String>,
    #[arg(long = "port")]
    http_port: Option<u16>,
    #[arg(long)]
    grpc_port: Option<u16>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    database_url: Option<String>,
    /// Development mode: accept a weak JWT secret.
    #[arg(long)]
    dev: bool,
}

/// Worker flags; each overrides `CB_WORKER__<KEY>` and the `[worker]` table of `--config`.
#[derive(Args, Clone)]
struct WorkerArgs {
    /// TOML file with a `[worker]` table.
    #[arg(long = "config", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// The master's HTTP URL, for enrollment (e.g. http://cb.example.com:8080). Several
    /// masters: repeat the flag or separate the URLs with commas; the worker moves to the next
    /// one when its master fails.
    #[arg(long, value_name = "URL")]
    master_url: Vec<String>,
    /// The master's gRPC URL (default: from enrollment, else the master's host on port 9090).
    /// Several masters: one per --master-url, in the same order.
    #[arg(long, value_name = "URL")]
    grpc_url: Vec<String>,
    /// One-time enroll token from the host's install snippet.
    #[arg(long)]
    enroll_token: Option<String>,
    /// `sha256:<hex>` of the master's gRPC TLS certificate, from the install snippet.
    #[arg(long)]
    master_fingerprint: Option<String>,
    /// The master's enrollment shared secret. Visible to every local user in the process
    /// list: prefer --shared-secret-file or CB_WORKER__SHARED_SECRET.
    #[arg(long)]
    shared_secret: Option<String>,
    /// A file holding the master's enrollment shared secret (e.g. mode 0600).
    #[arg(long, value_name = "FILE")]
    shared_secret_file: Option<PathBuf>,
    /// Where the node credential is kept (node.json).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seconds between heartbeats and metrics batches.
    #[arg(long = "heartbeat-interval", value_name = "SECS")]
    heartbeat_interval_secs: Option<u64>,
    /// The local Docker engine's socket.
    #[arg(long)]
    docker_socket: Option<PathBuf>,
}

impl ConfigArgs {
    fn load(&self) -> anyhow::Result<Config> {
        Config::load(&CliOverrides {
            config_files: self.config_files.clone(),
            bind: self.bind.clone(),
            http_port: self.http_port,
            grpc_port: self.grpc_port,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            dev: self.dev,
        })
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            limit_malloc_arenas()?;
            let config = args.load()?;
            init_tracing(&config.log.level);
            let system = actix_web::rt::System::with_tokio_rt(|| {
                tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .thread_name("contextbay")
                    .build()
                    .unwrap_or_else(|e| panic!("cannot start the tokio runtime: {e}"))
            });
            system.block_on(async move {
                let server = contextbay::start(config).await?;
                println!("ContextBay master on http://{}", server.http_addr);
                server.run_until_signal().await
            })
        }
        Command::Worker(args) => {
            let config =
                contextbay::worker::WorkerConfig::load(&contextbay::worker::WorkerOverrides {
                    config_file: args.config_file,
                    master_url: joined(&args.master_url),
                    grpc_url: joined(&args.grpc_url),
                    enroll_token: args.enroll_token,
                    master_fingerprint: args.master_fingerprint,
                    shared_secret: args.shared_secret,
                    shared_secret_file: args.shared_secret_file,
                    data_dir: args.data_dir,
                    heartbeat_interval_secs: args.heartbeat_interval_secs,
                    docker_socket: args.docker_socket,
                })?;
            init_tracing(&config.log_level);
            // One thread is plenty for the agent; blocking reads (/proc, statvfs) use the small
            // blocking pool.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(4)
                .thread_name("contextbay-worker")
                .build()?;
            rt.block_on(async move {
                tokio::select! {
                    result = contextbay::worker::run(config) => result,
                    signal = stop_signal() => {
                        tracing::info!("stopping the worker");
                        signal
                    }
                }
            })
        }
        Command::Healthcheck { url } => healthcheck(url),
        Command::Admin { command } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let message = match command {
                AdminCommand::PrintConfig(args) => args.load()?.to_redacted_toml()?,
                AdminCommand::CreateUser {
                    username,
                    role,
                    password_stdin,
                    config,
                } => {
                    let role = Role::parse(&role).ok_or_else(|| {
                        anyhow::anyhow!("--role must be admin, operator or viewer")
                    })?;
                    let config = config.load()?;
                    rt.block_on(admin::create_user(
                        &config,
                        &username,
                        role,
                        password_source(password_stdin)?,
                    ))?
                }
                AdminCommand::ResetPassword {
                    username,
                    password_stdin,
                    config,
                } => {
                    let config = config.load()?;
                    rt.block_on(admin::reset_password(
                        &config,
                        &username,
                        password_source(password_stdin)?,
                    ))?
                }
                AdminCommand::RotateJwt(args) => {
                    let config = args.load()?;
                    rt.block_on(admin::rotate_jwt(&config))?
                }
                AdminCommand::MigrateStore { from, to } => rt
                    .block_on(contextbay::store::migrate::migrate_store(&from, &to))?
                    .to_string(),
            };
            println!("{message}");
            Ok(())
        }
    }
}

/// `contextbay healthcheck`: one GET of the master's health endpoint.
fn healthcheck(url: Option<String>) -> anyhow::Result<()> {
    let url = match url {
        Some(url) => url,
        None => {
            let port = match std::env::var("CB_SERVER__HTTP_PORT") {
                Ok(raw) => raw.trim().parse::<u16>().map_err(|_| {
                    anyhow::anyhow!("CB_SERVER__HTTP_PORT must be a port number, got '{raw}'")
                })?,
                Err(_) => 8080,
            };
            format!("http://127.0.0.1:{port}/api/health")
        }
    };
    let parsed = reqwest::Url::parse(&url)
        .map_err(|e| anyhow::anyhow!("--url '{url}' is not a URL: {e}"))?;
    if parsed.scheme() != "http" {
        anyhow::bail!("--url '{url}' must be an http:// URL (the master's local HTTP port)");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .build()?;
        let response = client
            .get(parsed)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            anyhow::bail!("GET {url}: {status}");
        }
        println!("{url}: {status}");
        Ok(())
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn stop_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}

/// glibc gives every thread that allocates its own malloc arena; with many worker threads and
/// thousands of WebSocket sessions that fragments memory (≈ 24 KiB per idle connection instead of
/// ≈ 12 KiB, measured in docs/performance.md). The variable is read when the process starts, so the
/// master re-executes itself once with `MALLOC_ARENA_MAX=2` unless it is already set (an operator's
/// own value wins).
fn limit_malloc_arenas() -> anyhow::Result<()> {
    #[cfg(all(unix, target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe()?;
        let err = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("MALLOC_ARENA_MAX", "2")
            .exec();
        // exec only returns on failure; carry on with the default allocator settings.
        eprintln!("warning: could not re-execute with MALLOC_ARENA_MAX=2: {err}");
    }
    Ok(())
}

fn password_source(stdin: bool) -> anyhow::Result<PasswordSource> {
    if !stdin {
        return Ok(PasswordSource::Generate);
    }
    let mut buf = String::new();
    std::io::stdin().read_to_string(&mut buf)?;
    Ok(PasswordSource::Given(
        buf.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

/// A repeated flag as one comma-separated list; `None` when it was not given.
fn joined(values: &[String]) -> Option<String> {
    (!values.is_empty()).then(|| values.join(","))
}

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}
