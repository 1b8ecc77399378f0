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
    pub ws: WsConfig,
    pub log: LogConfig,
    pub fleet: FleetConfig,
    pub docker: DockerConfig,
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
    pub login_max_failures_per_account: usize,
    pub login_max_failures_per_ip: usize,
    pub login_window_secs: u64,
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

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WsConfig {
    pub ping_interval_secs: u64,
    /// A client that sends nothing (not even a pong) for this long is disconnected.
    pub client_timeout_secs: u64,
    /// How long an unauthenticated connection may take to send `{"type":"auth"}`.
    pub auth_timeout_secs: u64,
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
    /// Serve gRPC over TLS. Workers pin the certificate's SHA-256 (in every install snippet).
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
            grpc_tls: false,
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
    /// The security policy of the `local` endpoint (the master's own engine), enforced as a
    /// node's is. Unset: everything is allowed there, except reaching the master's data
    /// directory, which no container or stack may do whatever the policy says.
    pub local_policy: Option<crate::policy::SecurityPolicy>,
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            socket: PathBuf::from("/var/run/docker.sock"),
            local_endpoint: true,
            local_policy: None,
        }
    }
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
            ws: WsConfig::default(),
            log: LogConfig::default(),
            fleet: FleetConfig::default(),
            docker: DockerConfig::default(),
            modules: ModuleName::ALL.iter().map(|m| (*m, false)).collect(),
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
            login_max_failures_per_account: 5,
            login_max_failures_per_ip: 20,
            login_window_secs: 900,
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

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            ping_interval_secs: 20,
            client_timeout_secs: 60,
            auth_timeout_secs: 10,
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
        if let Some(policy) = &self.docker.local_policy {
            policy
                .validate()
                .map_err(|e| anyhow::anyhow!("docker.local_policy: {e}"))?;
        }
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
        if a.login_max_failures_per_account == 0 || a.login_max_failures_per_ip == 0 {
            bail!("auth.login_max_failures_* must be at least 1");
        }
        if !a.jwt_secret.is_empty() && !self.dev_mode {
            check_secret_strength(&a.jwt_secret).context("auth.jwt_secret")?;
        }
        let e = &self.events;
        if e.ring_capacity == 0 || e.subscriber_buffer < 2 {
            bail!("events.ring_capacity must be positive and events.subscriber_buffer at least 2");
        }
        let w = &self.ws;
        if w.ping_interval_secs == 0 || w.client_timeout_secs <= w.ping_interval_secs {
            bail!("ws.client_timeout_secs must be greater than ws.ping_interval_secs (> 0)");
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
        if self.storage.max_connections == 0 {
            bail!("storage.max_connections must be at least 1");
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
        for secret in [&mut copy.auth.jwt_secret, &mut copy.security.encryption_key] {
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
    fn worker_variables_are_not_the_masters() {
        assert!(is_master_variable("CB_SERVER__HTTP_PORT"));
        assert!(!is_master_variable("CB_WORKER__MASTER_URL"));
        assert!(!is_master_variable("CB_NOSECTION"));
    }

    #[test]
    fn print_config_redacts_secrets() {
        let mut c = Config::for_test(Path::new("/tmp/x"));
        c.storage.database_url = "postgres://cb:hunter2@db/cb".into();
        let text = c.to_redacted_toml().unwrap();
        assert!(!text.contains("test-secret"));
        assert!(!text.contains("hunter2"));
        assert!(text.contains("<redacted>"));
    }
}
