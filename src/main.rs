//! The `contextbay` binary: `serve` (the master), `admin …` (maintenance).

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use contextbay::admin::{self, PasswordSource};
use contextbay::auth::Role;
use contextbay::config::{CliOverrides, Config};

#[derive(Parser)]
#[command(name = "contextbay", version, about = "Control plane for fleets of Docker hosts")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the master: REST API, WebSocket events, /metrics and the dashboard.
    Serve(ConfigArgs),
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
        Command::Admin { command } => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let message = match command {
                AdminCommand::PrintConfig(args) => args.load()?.to_redacted_toml()?,
                AdminCommand::CreateUser {
                    username,
                    role,
                    password_stdin,
                    config,
                } => {
                    let role = Role::parse(&role)
                        .ok_or_else(|| anyhow::anyhow!("--role must be admin, operator or viewer"))?;
                    let config = config.load()?;
                    rt.block_on(admin::create_user(&config, &username, role, password_source(password_stdin)?))?
                }
                AdminCommand::ResetPassword {
                    username,
                    password_stdin,
                    config,
                } => {
                    let config = config.load()?;
                    rt.block_on(admin::reset_password(&config, &username, password_source(password_stdin)?))?
                }
                AdminCommand::RotateJwt(args) => {
                    let config = args.load()?;
                    rt.block_on(admin::rotate_jwt(&config))?
                }
            };
            println!("{message}");
            Ok(())
        }
    }
}

fn password_source(stdin: bool) -> anyhow::Result<PasswordSource> {
    if !stdin {
        return Ok(PasswordSource::Generate);
    }
    let mut buf = String::new();
    std::io::stdin().read_to_string(&mut buf)?;
    Ok(PasswordSource::Given(buf.trim_end_matches(['\n', '\r']).to_owned()))
}

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt().with_env_filter(filter).with_target(false).init();
}
