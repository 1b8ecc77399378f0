//! One typed configuration, layered: built-in defaults < `config/default.toml` <
//! `config/local.toml` < `--config FILE` < `CB_SECTION__KEY` environment variables < CLI flags.
//! Validated once at start-up; `contextbay admin print-config` prints it with secrets redacted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::modules::ModuleName;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub auth: AuthConfig,
    pub security: SecurityConfig,
    pub events: EventsConfig,
    pub jobs: JobsConfig,
    pub audit: AuditConfig,
    pub ws: WsConfig,
    pub log: LogConfig,
    pub fleet: FleetConfig,
    pub docker: DockerConfig,
    pub metrics: MetricsConfig,
    /// Several masters: NATS JetStream between them (`docs/ha.md`). Off while `nats_url` is empty.
    pub cluster: ClusterConfig,
    /// `modules.<name> = true|false`: the default state of each module; `PUT /api/config/{module}`
    /// overrides it at run time.
    pub modules: BTreeMap<ModuleName, bool>,
    /// Set by `--dev`: allows a weak JWT secret. Never read from files or the environment.
    #[serde(skip)]
    pub dev_mode: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: String,
    pub http_port: u16,
    pub grpc_port: u16,
    /// The address people and workers use to reach the master (`https://cb.example.com`). Used for
    /// Origin checks behind a proxy and for `Secure` cookies when it is https.
    pub public_url: String,
    pub max_body_bytes: usize,
    pub shutdown_timeout_secs: u64,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` is believed. Empty:
    /// the client address is always the TCP peer.
    pub trusted_proxies: Vec<TrustedProxy>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub data_dir: PathBuf,
    /// Empty: SQLite at `<data_dir>/contextbay.db`. Otherwise `sqlite://…` or `postgres://…`.
    pub database_url: String,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// HS256 root secret (at least 32 characters). Empty: read `jwt_secret_file`, else the
    /// generated `<data_dir>/jwt_secret`.
    pub jwt_secret: String,
    pub jwt_secret_file: String,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    /// How long tokens signed by the previous key stay valid after `rotate-jwt`.
    pub rotation_grace_secs: u64,
    /// Failed logins for one account from one client address per window.
    pub login_max_failures_per_address: usize,
    /// Failed logins for one account from all addresses together per window, except addresses
    /// the user has logged in from in the last `login_usual_address_days` (so nobody can lock a
    /// user out from their usual address).
    pub login_max_failures_per_account: usize,
    /// Failed logins from one client address, whatever the account, per window.
    pub login_max_failures_per_ip: usize,
    pub login_window_secs: u64,
    /// Each repeated lock-out of a key lasts twice the previous one, up to this many seconds.
    pub login_backoff_max_secs: u64,
    /// How far back a successful login makes an address the user's usual one.
    pub login_usual_address_days: u64,
    /// Threads hashing passwords (argon2id, 19 MiB each while hashing); 0 = one per core.
    pub password_hash_threads: usize,
    /// Password checks waiting for a thread; beyond it logins get 503 with Retry-After.
    pub password_hash_queue: usize,
    /// `auto` (Secure when `server.public_url` is https), `always` or `never`.
    pub cookie_secure: CookieSecure,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CookieSecure {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Base64 of 32 bytes, the AEAD key for secrets at rest. Empty: `encryption_key_file`, else
    /// the generated `<data_dir>/encryption.key`.
    pub encryption_key: String,
    pub encryption_key_file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Events kept in memory for `?since=` resume.
    pub ring_capacity: usize,
    /// Events queued per subscriber before it is told it lagged.
    pub subscriber_buffer: usize,
    /// Events kept in the database for `/api/activity` and `/api/notifications`.
    pub retention: u64,
}

/// Long-running operations (stack deploy/stop/remove, …) run as jobs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// Operations running at once on this master, in all.
    pub max_running: usize,
    /// Operations of one kind (e.g. `stack.deploy`) running at once.
    pub max_per_kind: usize,
    /// How long a master holds a running operation without renewing it; a master that is gone
    /// longer than this has its operations marked `interrupted`.
    pub lease_secs: u64,
    /// Finished operations are deleted this many days after they finished (0: kept by age).
    pub retention_days: u64,
    /// At most this many finished operations are kept, the newest (0: no limit). Pruned with
    /// the logs, every `audit.prune_interval_secs`.
    pub max_rows: u64,
}

/// An entry of `server.trusted_proxies`: an address (`10.0.0.5`) or a network (`10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(pub ipnet::IpNet);

impl TrustedProxy {
    pub fn contains(&self, ip: &std::net::IpAddr) -> bool {
        self.0.contains(ip)
    }
}

impl std::str::FromStr for TrustedProxy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(net) = s.parse::<ipnet::IpNet>() {
            return Ok(Self(net.trunc()));
        }
        s.parse::<std::net::IpAddr>()
            .map(|ip| Self(ipnet::IpNet::from(ip)))
            .map_err(|_| format!("'{s}' is neither an IP address nor a CIDR network"))
    }
}

impl std::fmt::Display for TrustedProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for TrustedProxy {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TrustedProxy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How long the audit log and the enrollment attempts are kept. A row goes when it is older than
/// the age limit or when it is not among the newest `max_rows`; 0 switches a limit off.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    pub retention_days: u64,
    pub max_rows: u64,
    pub enroll_attempts_retention_days: u64,
    pub enroll_attempts_max_rows: u64,
    /// Seconds between prunes.
    pub prune_interval_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WsConfig {
    pub ping_interval_secs: u64,
    /// A client that sends nothing (not even a pong) for this long is disconnected.
    pub client_timeout_secs: u64,
    /// How long an unauthenticated connection may take to send `{"type":"auth"}`.
    pub auth_timeout_secs: u64,
    /// How often an open socket re-checks its caller without being told to: a backstop for
    /// changes the master is not told about (the admin CLI runs in another process; keys expire).
    pub recheck_interval_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    /// Shared secret every worker presents at enrollment, with its host's one-time token. Empty:
    /// `enroll_secret_file`, else the one generated in `<data_dir>/enroll_secret`.
    pub enroll_secret: String,
    pub enroll_secret_file: String,
    /// How long a new enroll token is valid.
    pub enroll_token_ttl_secs: u64,
    /// Heartbeat interval asked of workers.
    pub heartbeat_interval_secs: u64,
    /// Without a heartbeat for this long a node is `stale`, then `offline`.
    pub stale_after_secs: u64,
    pub offline_after_secs: u64,
    /// After the master starts, no node is marked offline before this.
    pub restart_grace_secs: u64,
    /// How long a command sent to a worker may take.
    pub command_timeout_secs: u64,
    /// The gRPC address workers dial (for the install snippet); empty: `http://<bind>:<grpc_port>`
    /// (`https://` with `grpc_tls`).
    pub grpc_public_url: String,
    /// Serve gRPC over TLS (the default). Workers pin the certificate's SHA-256 (in every
    /// install snippet). Off: plain gRPC, for a master behind a TLS-terminating proxy or tests.
    pub grpc_tls: bool,
    /// PEM certificate and key for gRPC TLS; empty: a self-signed pair generated into
    /// `<data_dir>/grpc-tls/` on first start.
    pub grpc_tls_cert: String,
    pub grpc_tls_key: String,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            enroll_secret: String::new(),
            enroll_secret_file: String::new(),
            enroll_token_ttl_secs: 3600,
            heartbeat_interval_secs: 10,
            stale_after_secs: 30,
            offline_after_secs: 90,
            restart_grace_secs: 120,
            command_timeout_secs: 30,
            grpc_public_url: String::new(),
            grpc_tls: true,
            grpc_tls_cert: String::new(),
            grpc_tls_key: String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DockerConfig {
    /// The master's own engine; it becomes the `local` endpoint when the socket exists.
    pub socket: PathBuf,
    /// Set false to never use the master's own engine.
    pub local_endpoint: bool,
    /// The security policy of `local` and `tcp` endpoints that have none of their own (an admin
    /// sets one with `PUT /api/endpoints/{id}/security-policy`). Agent endpoints follow their
    /// node's policy instead.
    pub default_policy: crate::policy::SecurityPolicy,
    /// Directories whose compose files adoption may read when a container's compose labels name
    /// them (resolved, symlinks followed), besides the master's own stacks directory
    /// (`<data_dir>/stacks`), which is always one. Files elsewhere are not read; the project is
    /// rebuilt from its containers instead.
    pub stack_roots: Vec<PathBuf>,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            socket: PathBuf::from("/var/run/docker.sock"),
            local_endpoint: true,
            default_policy: crate::policy::SecurityPolicy::default(),
            stack_roots: Vec::new(),
        }
    }
}

/// `cluster.*`: several masters sharing one store exchange events (a JetStream stream) and
/// cache invalidations (core NATS subjects) through one NATS server. See `docs/ha.md`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// `nats://host:port` (several, comma-separated, for a NATS cluster). Empty: a single master
    /// with its in-process event bus.
    pub nats_url: String,
    /// This master's id in the cluster. Empty: the id generated on first start and kept in
    /// `<data_dir>/master-id` (masters sharing a data directory must each set their own).
    pub master_id: String,
    /// The JetStream stream that carries the events (created when missing).
    pub stream: String,
    /// How long the stream keeps events (`since` further back gets the gap signal).
    pub max_age_secs: u64,
    /// How many events the stream keeps at most.
    pub max_events: i64,
    /// How long a publication waits for the stream's acknowledgement before the event is
    /// delivered locally only.
    pub publish_timeout_ms: u64,
    /// How long a master's ownership of a node (the lease it takes when the node's worker opens
    /// its command stream) lasts without renewal; every heartbeat renews it. After a master dies
    /// another one takes its nodes over once their leases expire. At least twice
    /// `fleet.heartbeat_interval_secs`.
    pub node_lease_secs: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            nats_url: String::new(),
            master_id: String::new(),
            stream: "CONTEXTBAY_EVENTS".to_owned(),
            max_age_secs: 7 * 86_400,
            max_events: 1_000_000,
            publish_timeout_ms: 2_000,
            node_lease_secs: 30,
        }
    }
}

impl ClusterConfig {
    /// Checks every field; the error names the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !self.nats_url.is_empty() {
            for (n, url) in self.nats_url.split(',').enumerate() {
                check_nats_url(url.trim())
                    .with_context(|| format!("cluster.nats_url entry {} ('{url}')", n + 1))?;
            }
        }
        if !self.master_id.is_empty() && !valid_name(&self.master_id) {
            bail!("cluster.master_id: 1 to 64 letters, digits, '-' or '_'");
        }
        if !valid_name(&self.stream) {
            bail!("cluster.stream: 1 to 64 letters, digits, '-' or '_'");
        }
        if !(60..=365 * 86_400).contains(&self.max_age_secs) {
            bail!("cluster.max_age_secs must be between 60 and 31536000");
        }
        if !(1_000..=1_000_000_000).contains(&self.max_events) {
            bail!("cluster.max_events must be between 1000 and 1000000000");
        }
        if !(100..=60_000).contains(&self.publish_timeout_ms) {
            bail!("cluster.publish_timeout_ms must be between 100 and 60000");
        }
        if !(2..=3_600).contains(&self.node_lease_secs) {
            bail!("cluster.node_lease_secs must be between 2 and 3600");
        }
        Ok(())
    }
}

fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `nats://host:port` or `tls://host:port` (port optional), without credentials or a path.
fn check_nats_url(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("nats://")
        .or_else(|| url.strip_prefix("tls://"))
        .context("must start with nats:// or tls://")?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '@', '?', '#']) || authority.chars().any(char::is_whitespace) {
        bail!("must be scheme://host[:port], without credentials or a path");
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').context("has an unclosed '['")?;
        let port = match after {
            "" => None,
            a => Some(a.strip_prefix(':').context("has junk after the address")?),
        };
        (host, port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
    {
        bail!("has no valid host");
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => bail!("has an invalid port '{port}'"),
        }
    }
    Ok(())
}

/// `GET /metrics`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <this token>`
    /// (401 otherwise). Empty: public, as the API contract says.
    pub bearer_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info` or `contextbay=debug,actix_web=info`.
    pub level: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            storage: StorageConfig::default(),
            auth: AuthConfig::default(),
            security: SecurityConfig::default(),
            events: EventsConfig::default(),
            jobs: JobsConfig::default(),
            audit: AuditConfig::default(),
            ws: WsConfig::default(),
            log: LogConfig::default(),
            fleet: FleetConfig::default(),
            docker: DockerConfig::default(),
            metrics: MetricsConfig::default(),
            cluster: ClusterConfig::default(),
            modules: ModuleName::configured_by_default()
                .map(|m| (m, false))
                .collect(),
            dev_mode: false,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1".into(),
            http_port: 8080,
            grpc_port: 9090,
            public_url: String::new(),
            max_body_bytes: 1024 * 1024,
            shutdown_timeout_secs: 10,
            workers: 0,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            database_url: String::new(),
            max_connections: 8,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: String::new(),
            jwt_secret_file: String::new(),
            issuer: "contextbay".into(),
            audience: "contextbay-api".into(),
            access_ttl_secs: 900,
            refresh_ttl_secs: 14 * 24 * 3600,
            rotation_grace_secs: 3600,
            login_max_failures_per_address: 5,
            login_max_failures_per_account: 50,
            login_max_failures_per_ip: 20,
            login_window_secs: 900,
            login_backoff_max_secs: 86_400,
            login_usual_address_days: 30,
            password_hash_threads: 0,
            password_hash_queue: 256,
            cookie_secure: CookieSecure::Auto,
        }
    }
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            ring_capacity: 4096,
            subscriber_buffer: 256,
            retention: 10_000,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            max_running: 64,
            max_per_kind: 32,
            lease_secs: 30,
            retention_days: 30,
            max_rows: 10_000,
        }
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention_days: 90,
            max_rows: 1_000_000,
            enroll_attempts_retention_days: 30,
            enroll_attempts_max_rows: 100_000,
            prune_interval_secs: 600,
        }
    }
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            ping_interval_secs: 20,
            client_timeout_secs: 60,
            auth_timeout_secs: 10,
            recheck_interval_secs: 30,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
        }
    }
}

/// Overrides given on the command line; the last layer.
#[derive(Debug, Default, Clone)]
pub struct CliOverrides {
    pub config_files: Vec<PathBuf>,
    pub bind: Option<String>,
    pub http_port: Option<u16>,
    pub grpc_port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub dev: bool,
}

const ENV_PREFIX: &str = "CB_";

impl Config {
    /// Builds the layered configuration from the working directory's `config/` files, the process
    /// environment and `cli`, then validates it.
    pub fn load(cli: &CliOverrides) -> anyhow::Result<Self> {
        let mut files: Vec<PathBuf> = ["config/default.toml", "config/local.toml"]
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect();
        files.extend(cli.config_files.iter().cloned());
        let env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| is_master_variable(k))
            .collect();
        Self::from_layers(&files, &env, cli)
    }

    pub fn from_layers(
        files: &[PathBuf],
        env: &[(String, String)],
        cli: &CliOverrides,
    ) -> anyhow::Result<Self> {
        let mut merged = toml::Value::try_from(Config::default())
            .context("serialising the built-in defaults")?;
        for file in files {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading config file {}", file.display()))?;
            let layer: toml::Value = toml::from_str(&text)
                .with_context(|| format!("parsing config file {}", file.display()))?;
            merge(&mut merged, layer);
        }
        for (key, raw) in env {
            let path = key[ENV_PREFIX.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect::<Vec<_>>();
            set_path(&mut merged, &path, parse_env_value(raw))
                .with_context(|| format!("environment variable {key}"))?;
        }
        let mut config: Config = merged
            .try_into()
            .context("invalid configuration (check key names and value types)")?;
        if let Some(v) = &cli.bind {
            config.server.bind.clone_from(v);
        }
        if let Some(v) = cli.http_port {
            config.server.http_port = v;
        }
        if let Some(v) = cli.grpc_port {
            config.server.grpc_port = v;
        }
        if let Some(v) = &cli.data_dir {
            config.storage.data_dir.clone_from(v);
        }
        if let Some(v) = &cli.database_url {
            config.storage.database_url.clone_from(v);
        }
        config.dev_mode = cli.dev;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value that can be checked without touching the disk or the network.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.fleet.grpc_tls_cert.is_empty() != self.fleet.grpc_tls_key.is_empty() {
            bail!("fleet.grpc_tls_cert and fleet.grpc_tls_key are set together, or neither");
        }
        let s = &self.server;
        if s.bind.parse::<std::net::IpAddr>().is_err() {
            bail!("server.bind must be an IP address, got '{}'", s.bind);
        }
        if !(s.public_url.is_empty()
            || s.public_url.starts_with("http://")
            || s.public_url.starts_with("https://"))
        {
            bail!("server.public_url must start with http:// or https://");
        }
        if !(1024..=64 * 1024 * 1024).contains(&s.max_body_bytes) {
            bail!("server.max_body_bytes must be between 1 KiB and 64 MiB");
        }
        let a = &self.auth;
        if !(60..=86_400).contains(&a.access_ttl_secs) {
            bail!("auth.access_ttl_secs must be between 60 and 86400");
        }
        if a.refresh_ttl_secs < a.access_ttl_secs || a.refresh_ttl_secs > 365 * 86_400 {
            bail!("auth.refresh_ttl_secs must be at least auth.access_ttl_secs and at most a year");
        }
        if a.issuer.is_empty() || a.audience.is_empty() {
            bail!("auth.issuer and auth.audience must not be empty");
        }
        if a.login_max_failures_per_address == 0
            || a.login_max_failures_per_account == 0
            || a.login_max_failures_per_ip == 0
        {
            bail!("auth.login_max_failures_* must be at least 1");
        }
        if a.login_window_secs == 0 || a.login_backoff_max_secs < a.login_window_secs {
            bail!("auth.login_backoff_max_secs must be at least auth.login_window_secs (> 0)");
        }
        if a.password_hash_queue == 0 {
            bail!("auth.password_hash_queue must be at least 1");
        }
        if self.audit.prune_interval_secs == 0 {
            bail!("audit.prune_interval_secs must be at least 1");
        }
        if !a.jwt_secret.is_empty() && !self.dev_mode {
            check_secret_strength(&a.jwt_secret).context("auth.jwt_secret")?;
        }
        self.docker
            .default_policy
            .validate()
            .map_err(|e| anyhow::anyhow!("docker.default_policy: {e}"))?;
        if let Some(root) = self.docker.stack_roots.iter().find(|r| !r.is_absolute()) {
            bail!(
                "docker.stack_roots: '{}' must be an absolute path",
                root.display()
            );
        }
        let e = &self.events;
        if e.ring_capacity == 0 || e.subscriber_buffer < 2 {
            bail!("events.ring_capacity must be positive and events.subscriber_buffer at least 2");
        }
        let j = &self.jobs;
        if j.max_running == 0 || j.max_per_kind == 0 || j.lease_secs < 3 {
            bail!(
                "jobs.max_running and jobs.max_per_kind must be positive, jobs.lease_secs at least 3"
            );
        }
        let w = &self.ws;
        if w.ping_interval_secs == 0 || w.client_timeout_secs <= w.ping_interval_secs {
            bail!("ws.client_timeout_secs must be greater than ws.ping_interval_secs (> 0)");
        }
        if w.recheck_interval_secs == 0 {
            bail!("ws.recheck_interval_secs must be at least 1");
        }
        let f = &self.fleet;
        if f.heartbeat_interval_secs == 0
            || f.stale_after_secs <= f.heartbeat_interval_secs
            || f.offline_after_secs <= f.stale_after_secs
        {
            bail!(
                "fleet: need 0 < heartbeat_interval_secs < stale_after_secs < offline_after_secs"
            );
        }
        if !(60..=30 * 86_400).contains(&f.enroll_token_ttl_secs) {
            bail!("fleet.enroll_token_ttl_secs must be between 60 and 2592000");
        }
        if f.command_timeout_secs == 0 {
            bail!("fleet.command_timeout_secs must be at least 1");
        }
        self.cluster.validate()?;
        if !self.cluster.nats_url.is_empty()
            && self.cluster.node_lease_secs < 2 * f.heartbeat_interval_secs
        {
            bail!(
                "cluster.node_lease_secs must be at least twice fleet.heartbeat_interval_secs \
                 (every heartbeat renews a node's lease)"
            );
        }
        if self.storage.max_connections == 0 {
            bail!("storage.max_connections must be at least 1");
        }
        let token = &self.metrics.bearer_token;
        if !token.is_empty() && (token.len() < 16 || token.chars().any(char::is_whitespace)) {
            bail!(
                "metrics.bearer_token must be at least 16 characters without spaces \
                 (use `openssl rand -hex 24`), or empty for a public /metrics"
            );
        }
        Ok(())
    }

    /// The database URL, defaulting to SQLite in the data directory.
    pub fn database_url(&self) -> String {
        if self.storage.database_url.is_empty() {
            format!(
                "sqlite://{}?mode=rwc",
                self.storage.data_dir.join("contextbay.db").display()
            )
        } else {
            self.storage.database_url.clone()
        }
    }

    pub fn secure_cookies(&self) -> bool {
        match self.auth.cookie_secure {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            CookieSecure::Auto => self.server.public_url.starts_with("https://"),
        }
    }

    /// The configuration as TOML with every secret replaced by `"<redacted>"`.
    pub fn to_redacted_toml(&self) -> anyhow::Result<String> {
        let mut copy = self.clone();
        for secret in [
            &mut copy.auth.jwt_secret,
            &mut copy.security.encryption_key,
            &mut copy.metrics.bearer_token,
            &mut copy.fleet.enroll_secret,
        ] {
            if !secret.is_empty() {
                *secret = "<redacted>".into();
            }
        }
        if let Some(url) = redact_url_password(&copy.storage.database_url) {
            copy.storage.database_url = url;
        }
        Ok(toml::to_string_pretty(&copy)?)
    }

    /// A configuration for tests: everything under `data_dir`, port 0, fixed strong secrets,
    /// short timeouts.
    pub fn for_test(data_dir: &Path) -> Self {
        let mut c = Config::default();
        c.server.http_port = 0;
        c.server.grpc_port = 0;
        c.server.shutdown_timeout_secs = 1;
        c.server.workers = 2;
        c.storage.data_dir = data_dir.to_path_buf();
        c.auth.jwt_secret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz".into();
        c.security.encryption_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into();
        c.log.level = "warn".into();
        c.fleet.enroll_secret = "enroll-0123456789-abcdefghij-KLMNOPQRST".into();
        // Workers in tests dial plain gRPC unless a test turns TLS on (the default is on).
        c.fleet.grpc_tls = false;
        // Tests use the host's Docker engine only when they ask for it.
        c.docker.local_endpoint = false;
        c
    }
}

/// `CB_SECTION__KEY` variables are the master's; `CB_WORKER__…` belong to the worker agent, which
/// may run on the same host with the same environment.
fn is_master_variable(key: &str) -> bool {
    key.starts_with(ENV_PREFIX) && key.contains("__") && !key.starts_with("CB_WORKER__")
}

/// Rejects secrets that are short or obviously guessable.
pub fn check_secret_strength(secret: &str) -> anyhow::Result<()> {
    if secret.len() < 32 {
        bail!("the secret must be at least 32 characters (use `openssl rand -base64 48`)");
    }
    let distinct = secret
        .chars()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if distinct < 10 {
        bail!("the secret has too few distinct characters");
    }
    let lower = secret.to_ascii_lowercase();
    for weak in ["changeme", "secret", "password", "contextbay", "example"] {
        if lower.contains(weak) && secret.len() < 48 {
            bail!("the secret contains the guessable word '{weak}'");
        }
    }
    Ok(())
}

fn merge(base: &mut toml::Value, layer: toml::Value) {
    match (base, layer) {
        (toml::Value::Table(base), toml::Value::Table(layer)) => {
            for (k, v) in layer {
                match base.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, layer) => *base = layer,
    }
}

fn set_path(root: &mut toml::Value, path: &[String], value: toml::Value) -> anyhow::Result<()> {
    let Some((last, parents)) = path.split_last() else {
        bail!("empty key");
    };
    let mut node = root;
    for p in parents {
        let table = node
            .as_table_mut()
            .context("configuration path is not a table")?;
        node = table
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::map::Map::new()));
    }
    let table = node
        .as_table_mut()
        .with_context(|| format!("'{}' is not a section", parents.join(".")))?;
    table.insert(last.clone(), value);
    Ok(())
}

/// Environment values are TOML scalars when they parse as one (`8081`, `true`), strings otherwise.
fn parse_env_value(raw: &str) -> toml::Value {
    let probe = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&probe) {
        Ok(mut t) => match t.remove("v") {
            Some(
                v @ (toml::Value::Integer(_) | toml::Value::Boolean(_) | toml::Value::Float(_)),
            ) => v,
            _ => toml::Value::String(raw.to_owned()),
        },
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn redact_url_password(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (creds, host) = rest.split_once('@')?;
    let user = creds.split(':').next().unwrap_or_default();
    Some(format!("{scheme}://{user}:<redacted>@{host}"))
}

#[cfg(test)]
mod tests {

    #[test]
    fn cluster_settings_are_validated_naming_the_key() {
        let mut c = ClusterConfig::default();
        assert!(c.validate().is_ok());
        c.nats_url = "nats://127.0.0.1:4222, tls://[::1]:4223,nats://nats".into();
        assert!(c.validate().is_ok());
        for bad in [
            "http://127.0.0.1:4222",
            "nats://",
            "nats://u:p@host:4222",
            "nats://host:99999",
            "nats://host:0",
            "nats://host/path",
            "nats://[::1",
            "nats://ho st",
        ] {
            c.nats_url = bad.into();
            let err = format!(
                "{:#}",
                c.validate().err().unwrap_or_else(|| panic!("{bad}"))
            );
            assert!(err.contains("cluster.nats_url"), "{err}");
        }
        c.nats_url = String::new();
        c.master_id = "a.b".into();
        assert!(format!("{:#}", c.validate().unwrap_err()).contains("cluster.master_id"));
        c.master_id = "m1".into();
        c.max_events = 0;
        assert!(format!("{:#}", c.validate().unwrap_err()).contains("cluster.max_events"));
    }
    use super::*;

    #[test]
    fn default_toml_documents_exactly_the_defaults() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        // Every key is written out (commented with its meaning) so the file is a full reference.
        let from_file: Config = toml::from_str(&text).unwrap();
        assert_eq!(from_file, Config::default());
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.toml");
        std::fs::write(&file, "[server]\nhttp_port = 8181\nbind = \"0.0.0.0\"\n").unwrap();
        let env = vec![
            ("CB_SERVER__HTTP_PORT".to_owned(), "8282".to_owned()),
            ("CB_MODULES__MONITORING".to_owned(), "true".to_owned()),
            ("CB_LOG__LEVEL".to_owned(), "debug".to_owned()),
        ];
        let cli = CliOverrides {
            grpc_port: Some(9999),
            ..Default::default()
        };
        let c = Config::from_layers(&[file], &env, &cli).unwrap();
        assert_eq!(c.server.bind, "0.0.0.0");
        assert_eq!(c.server.http_port, 8282);
        assert_eq!(c.server.grpc_port, 9999);
        assert_eq!(c.log.level, "debug");
        assert_eq!(c.modules.get(&ModuleName::Monitoring), Some(&true));
    }

    #[test]
    fn rejects_unknown_keys_weak_secrets_and_bad_values() {
        let bad = |env: &[(&str, &str)]| {
            let env: Vec<_> = env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            Config::from_layers(&[], &env, &CliOverrides::default())
                .map(|_| ())
                .map_err(|e| format!("{e:#}"))
        };
        assert!(
            bad(&[("CB_SERVER__PORTT", "1")])
                .unwrap_err()
                .contains("portt")
        );
        assert!(bad(&[("CB_MODULES__NOPE", "true")]).is_err());
        assert!(
            bad(&[("CB_AUTH__JWT_SECRET", "short")])
                .unwrap_err()
                .contains("32")
        );
        assert!(bad(&[("CB_SERVER__BIND", "localhost")]).is_err());
        assert!(bad(&[("CB_SERVER__HTTP_PORT", "99999")]).is_err());
        let dev = Config::from_layers(
            &[],
            &[("CB_AUTH__JWT_SECRET".into(), "short".into())],
            &CliOverrides {
                dev: true,
                ..Default::default()
            },
        );
        assert!(dev.is_ok());
    }

    #[test]
    fn grpc_tls_is_on_unless_configured_off() {
        // The built-in default and config/default.toml (checked equal above) serve gRPC over
        // TLS with the pinned certificate; plain gRPC is an explicit choice.
        assert!(Config::default().fleet.grpc_tls);
        let c = Config::from_layers(&[], &[], &CliOverrides::default()).unwrap();
        assert!(c.fleet.grpc_tls);
        let plain = Config::from_layers(
            &[],
            &[("CB_FLEET__GRPC_TLS".into(), "false".into())],
            &CliOverrides::default(),
        )
        .unwrap();
        assert!(!plain.fleet.grpc_tls);
    }

    #[test]
    fn a_metrics_bearer_token_must_be_long_enough() {
        let with = |token: &str| {
            Config::from_layers(
                &[],
                &[("CB_METRICS__BEARER_TOKEN".into(), token.into())],
                &CliOverrides::default(),
            )
        };
        assert!(with("short").is_err());
        assert!(with("has a space in it, long enough").is_err());
        assert_eq!(
            with("0123456789abcdef").unwrap().metrics.bearer_token,
            "0123456789abcdef"
        );
    }

    #[test]
    fn worker_variables_are_not_the_masters() {
        assert!(is_master_variable("CB_SERVER__HTTP_PORT"));
        assert!(!is_master_variable("CB_WORKER__MASTER_URL"));
        assert!(!is_master_variable("CB_NOSECTION"));
    }

    #[test]
    fn print_config_redacts_secrets() {
        let mut c = Config::for_test(Path::new("/tmp/x"));
        c.storage.database_url = "postgres://cb:hunter2@db/cb".into();
        c.metrics.bearer_token = "scrape-token-0123456789".into();
        let text = c.to_redacted_toml().unwrap();
        assert!(!text.contains("test-secret"));
        assert!(!text.contains("scrape-token"));
        assert!(!text.contains("enroll-0123456789"));
        assert!(!text.contains("hunter2"));
        assert!(text.contains("<redacted>"));
    }
}
