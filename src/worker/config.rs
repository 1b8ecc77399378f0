//! The worker's configuration, layered like the master's: built-in defaults < `--config FILE`
//! (a TOML file with a `[worker]` table) < `CB_WORKER__KEY` environment variables < CLI flags.
//! Validated once at start-up. `shared_secret` and `enroll_token` are never logged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// Prefix of the environment variables that configure the worker, e.g.
/// `CB_WORKER__MASTER_URL=http://cb.example.com:8080`.
pub const ENV_PREFIX: &str = "CB_WORKER__";

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    /// The master's HTTP address, used for enrollment (`POST {master_url}/api/enroll`). Several
    /// masters: their URLs separated by commas (or a TOML array), tried in turn — enrollment and
    /// the gRPC connection move to the next one when the current one fails or drops.
    #[serde(deserialize_with = "one_or_many")]
    pub master_url: String,
    /// The master's gRPC address. Empty: the `grpc_url` the enrollment answer gave, else the
    /// master's host on port 9090. With several masters: one gRPC URL per `master_url` entry,
    /// in the same order (or none: each master's host on port 9090).
    #[serde(deserialize_with = "one_or_many")]
    pub grpc_url: String,
    /// One-time enroll token from `POST /api/hosts`; only needed until the node is enrolled.
    pub enroll_token: String,
    /// `sha256:<hex>` of the master's gRPC certificate, from the install snippet. Needed for an
    /// `https://` gRPC url: the worker accepts exactly that certificate and no other.
    pub master_fingerprint: String,
    /// The master's enrollment shared secret. Better kept off the command line (where every
    /// local user can read it in the process list): `CB_WORKER__SHARED_SECRET`, or a file.
    pub shared_secret: String,
    /// A file holding the shared secret (surrounding whitespace ignored), read at start-up;
    /// only when `shared_secret` is empty.
    pub shared_secret_file: PathBuf,
    /// Where the node credential (`node.json`, mode 0600) is kept.
    pub data_dir: PathBuf,
    /// Seconds between heartbeats and metrics batches (the master may ask for another).
    pub heartbeat_interval_secs: u64,
    /// The local Docker engine's Unix socket. Without it metrics and events still flow, without
    /// containers.
    pub docker_socket: PathBuf,
    /// Events kept while the master is unreachable; the oldest are dropped (and counted) beyond.
    pub event_buffer: usize,
    /// Reconnect backoff: the first delay and the cap, in milliseconds.
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// Reported host name. Empty: the kernel's host name.
    pub hostname: String,
    /// A `tracing` filter, e.g. `info`; `RUST_LOG` overrides it.
    pub log_level: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            master_url: String::new(),
            grpc_url: String::new(),
            enroll_token: String::new(),
            master_fingerprint: String::new(),
            shared_secret: String::new(),
            shared_secret_file: PathBuf::new(),
            data_dir: PathBuf::from("./data/worker"),
            heartbeat_interval_secs: 10,
            docker_socket: PathBuf::from("/var/run/docker.sock"),
            event_buffer: 10_000,
            reconnect_min_ms: 1_000,
            reconnect_max_ms: 60_000,
            hostname: String::new(),
            log_level: "info".into(),
        }
    }
}

impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |s: &str| if s.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("WorkerConfig")
            .field("master_url", &self.master_url)
            .field("grpc_url", &self.grpc_url)
            .field("enroll_token", &redact(&self.enroll_token))
            .field("master_fingerprint", &self.master_fingerprint)
            .field("shared_secret", &redact(&self.shared_secret))
            .field("shared_secret_file", &self.shared_secret_file)
            .field("data_dir", &self.data_dir)
            .field("heartbeat_interval_secs", &self.heartbeat_interval_secs)
            .field("docker_socket", &self.docker_socket)
            .field("event_buffer", &self.event_buffer)
            .field("reconnect_min_ms", &self.reconnect_min_ms)
            .field("reconnect_max_ms", &self.reconnect_max_ms)
            .field("hostname", &self.hostname)
            .field("log_level", &self.log_level)
            .finish()
    }
}

/// Values given on the command line; the last layer.
#[derive(Debug, Default, Clone)]
pub struct WorkerOverrides {
    pub config_file: Option<PathBuf>,
    pub master_url: Option<String>,
    pub grpc_url: Option<String>,
    pub enroll_token: Option<String>,
    pub master_fingerprint: Option<String>,
    pub shared_secret: Option<String>,
    pub shared_secret_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub heartbeat_interval_secs: Option<u64>,
    pub docker_socket: Option<PathBuf>,
}

impl WorkerConfig {
    /// Builds the configuration from `cli`, its config file and the process environment.
    pub fn load(cli: &WorkerOverrides) -> anyhow::Result<Self> {
        let env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        Self::from_layers(cli.config_file.as_deref(), &env, cli)
    }

    pub fn from_layers(
        file: Option<&Path>,
        env: &[(String, String)],
        cli: &WorkerOverrides,
    ) -> anyhow::Result<Self> {
        let mut table = match toml::Value::try_from(WorkerConfig::default())
            .context("serialising the built-in defaults")?
        {
            toml::Value::Table(t) => t,
            _ => bail!("the built-in defaults are not a table"),
        };
        if let Some(file) = file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading config file {}", file.display()))?;
            let mut doc: toml::Table = toml::from_str(&text)
                .with_context(|| format!("parsing config file {}", file.display()))?;
            match doc.remove("worker") {
                Some(toml::Value::Table(worker)) => table.extend(worker),
                Some(_) => bail!("[worker] in {} must be a table", file.display()),
                None => {}
            }
        }
        for (key, raw) in env {
            let Some(name) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            table.insert(name.to_ascii_lowercase(), env_value(raw));
        }
        let mut config: WorkerConfig = toml::Value::Table(table)
            .try_into()
            .context("invalid worker configuration (check key names and value types)")?;
        let set = |target: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                target.clone_from(v);
            }
        };
        set(&mut config.master_url, &cli.master_url);
        set(&mut config.grpc_url, &cli.grpc_url);
        set(&mut config.enroll_token, &cli.enroll_token);
        set(&mut config.master_fingerprint, &cli.master_fingerprint);
        set(&mut config.shared_secret, &cli.shared_secret);
        if let Some(v) = &cli.shared_secret_file {
            config.shared_secret_file.clone_from(v);
        }
        if let Some(v) = &cli.data_dir {
            config.data_dir.clone_from(v);
        }
        if let Some(v) = cli.heartbeat_interval_secs {
            config.heartbeat_interval_secs = v;
        }
        if let Some(v) = &cli.docker_socket {
            config.docker_socket.clone_from(v);
        }
        config.validate()?;
        config.read_shared_secret_file()?;
        Ok(config)
    }

    /// Takes `shared_secret` from `shared_secret_file` when only the file is given. Both given is
    /// an error: which one wins would be a guess.
    fn read_shared_secret_file(&mut self) -> anyhow::Result<()> {
        if self.shared_secret_file.as_os_str().is_empty() {
            return Ok(());
        }
        if !self.shared_secret.is_empty() {
            bail!(
                "set worker.shared_secret or worker.shared_secret_file (--shared-secret-file), not both"
            );
        }
        let path = &self.shared_secret_file;
        let secret = std::fs::read_to_string(path)
            .with_context(|| format!("reading the shared secret file {}", path.display()))?;
        let secret = secret.trim();
        if secret.is_empty() {
            bail!("the shared secret file {} is empty", path.display());
        }
        self.shared_secret = secret.to_owned();
        Ok(())
    }

    /// Checks what can be checked without the network. Enrollment settings are checked when
    /// they are needed (a node that is already enrolled does not need them).
    pub fn validate(&self) -> anyhow::Result<()> {
        let masters = url_list("master_url", &self.master_url)?;
        let grpc = url_list("grpc_url", &self.grpc_url)?;
        if masters.is_empty() && grpc.is_empty() {
            bail!("set worker.master_url (--master-url or CB_WORKER__MASTER_URL)");
        }
        if masters.len() > 1 && !grpc.is_empty() && grpc.len() != masters.len() {
            bail!(
                "worker.grpc_url lists {} URL(s) but worker.master_url lists {}: give one gRPC URL per master, in the same order, or none (each master's host on port 9090)",
                grpc.len(),
                masters.len()
            );
        }
        if !self.master_fingerprint.is_empty() && self.pinned_certificate().is_none() {
            bail!(
                "worker.master_fingerprint must be sha256: followed by 64 hex digits, as the install snippet gives it"
            );
        }
        if grpc.iter().any(|u| u.starts_with("https://")) && self.master_fingerprint.is_empty() {
            bail!(
                "an https:// gRPC url needs worker.master_fingerprint (--master-fingerprint) from the install snippet"
            );
        }
        if !(1..=3600).contains(&self.heartbeat_interval_secs) {
            bail!("worker.heartbeat_interval_secs must be between 1 and 3600");
        }
        if self.event_buffer == 0 {
            bail!("worker.event_buffer must be at least 1");
        }
        if self.reconnect_min_ms == 0 || self.reconnect_max_ms < self.reconnect_min_ms {
            bail!("worker.reconnect_min_ms must be positive and at most worker.reconnect_max_ms");
        }
        Ok(())
    }

    /// The SHA-256 of the master's certificate named by `master_fingerprint`.
    pub fn pinned_certificate(&self) -> Option<[u8; 32]> {
        let hex = self.master_fingerprint.strip_prefix("sha256:")?;
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(out)
    }

    pub fn heartbeat_interval(&self) -> Duration {
        Duration::from_secs(self.heartbeat_interval_secs)
    }

    pub fn credential_path(&self) -> PathBuf {
        self.data_dir.join("node.json")
    }

    /// The masters' HTTP URLs, in order (empty when only gRPC URLs are configured).
    pub fn master_urls(&self) -> Vec<String> {
        split_list(&self.master_url)
    }

    /// The masters the worker connects to, in the order it tries them: each configured gRPC URL
    /// (paired with the master URL of the same position), else for a single master the one
    /// enrollment gave, else each master's host on port 9090.
    pub fn resolve_masters(&self, from_enrollment: Option<&str>) -> anyhow::Result<Vec<Master>> {
        let http = self.master_urls();
        let grpc = split_list(&self.grpc_url);
        if !grpc.is_empty() {
            return Ok(grpc
                .into_iter()
                .enumerate()
                .map(|(i, grpc)| Master {
                    http: http.get(i).cloned().unwrap_or_default(),
                    grpc,
                })
                .collect());
        }
        if let [single] = http.as_slice()
            && let Some(url) = from_enrollment.filter(|u| !u.is_empty())
        {
            return Ok(vec![Master {
                http: single.clone(),
                grpc: url.to_owned(),
            }]);
        }
        if http.is_empty() {
            bail!("set worker.master_url (--master-url or CB_WORKER__MASTER_URL)");
        }
        http.into_iter()
            .map(|http| {
                Ok(Master {
                    grpc: default_grpc_url(&http)?,
                    http,
                })
            })
            .collect()
    }
}

/// One master as the worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Master {
    /// Its HTTP URL; empty when only the gRPC URL is configured.
    pub http: String,
    pub grpc: String,
}

/// The master's host on the default gRPC port, with the master URL's scheme.
fn default_grpc_url(master_url: &str) -> anyhow::Result<String> {
    let (scheme, rest) = master_url
        .split_once("://")
        .with_context(|| format!("worker.master_url '{master_url}' has no scheme"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        // `[::1]:8080` and `host:8080` lose their port; a bare `[::1]` keeps its brackets.
        Some((host, port)) if !port.contains(']') => host,
        _ => authority,
    };
    if host.is_empty() {
        bail!("worker.master_url '{master_url}' has no host");
    }
    Ok(format!("{scheme}://{host}:9090"))
}

/// The entries of a comma-separated list, trimmed.
fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks every entry of the URL list `raw` (setting `name`): an http:// or https:// URL with a
/// host, no empty entries, none listed twice. The error names the entry.
fn url_list(name: &str, raw: &str) -> anyhow::Result<Vec<String>> {
    if raw.trim().is_empty() {
        return Ok(Vec::new());
    }
    let entries: Vec<&str> = raw.split(',').map(str::trim).collect();
    let several = entries.len() > 1;
    let mut out: Vec<String> = Vec::with_capacity(entries.len());
    for (i, url) in entries.into_iter().enumerate() {
        let which = if several {
            format!("worker.{name} entry {} ('{url}')", i + 1)
        } else {
            format!("worker.{name} '{url}'")
        };
        if url.is_empty() {
            bail!("worker.{name} entry {} is empty (in '{raw}')", i + 1);
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("{which} must start with http:// or https://");
        }
        let parsed = reqwest::Url::parse(url).with_context(|| format!("{which} is not a URL"))?;
        if parsed.host_str().is_none_or(str::is_empty) {
            bail!("{which} has no host");
        }
        if out.iter().any(|seen| seen == url) {
            bail!("{which} is listed twice");
        }
        out.push(url.to_owned());
    }
    Ok(out)
}

/// A list setting given as one string (entries separated by commas) or as a TOML array; kept
/// as one comma-separated string.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(s) => s,
        OneOrMany::Many(v) => v.join(","),
    })
}

/// Environment values are TOML scalars when they parse as one (`10`, `true`), strings otherwise.
fn env_value(raw: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => match t.remove("v") {
            Some(
                v @ (toml::Value::Integer(_) | toml::Value::Boolean(_) | toml::Value::Float(_)),
            ) => v,
            _ => toml::Value::String(raw.to_owned()),
        },
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_master_fingerprint_is_checked_and_needed_for_https() {
        let base = WorkerConfig {
            master_url: "http://m:8080".into(),
            grpc_url: "https://m:9090".into(),
            ..WorkerConfig::default()
        };
        let err = base.validate().unwrap_err().to_string();
        assert!(err.contains("master_fingerprint"), "{err}");
        let pinned = WorkerConfig {
            master_fingerprint: format!("sha256:{}", "ab".repeat(32)),
            ..base.clone()
        };
        pinned.validate().unwrap();
        assert_eq!(pinned.pinned_certificate(), Some([0xab; 32]));
        for bad in [
            "sha256:abc",
            "md5:00",
            &format!("sha256:{}", "zz".repeat(32)),
        ] {
            let c = WorkerConfig {
                master_fingerprint: bad.to_owned(),
                ..base.clone()
            };
            assert!(c.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("worker.toml");
        std::fs::write(
            &file,
            "[worker]\nmaster_url = \"http://file:8080\"\nheartbeat_interval_secs = 30\nenroll_token = \"t1\"\n",
        )
        .unwrap();
        let env = vec![
            (
                "CB_WORKER__HEARTBEAT_INTERVAL_SECS".to_owned(),
                "20".to_owned(),
            ),
            ("CB_WORKER__SHARED_SECRET".to_owned(), "s3cret".to_owned()),
        ];
        let cli = WorkerOverrides {
            enroll_token: Some("t2".into()),
            ..Default::default()
        };
        let c = WorkerConfig::from_layers(Some(&file), &env, &cli).unwrap();
        assert_eq!(c.master_url, "http://file:8080");
        assert_eq!(c.heartbeat_interval_secs, 20);
        assert_eq!(c.shared_secret, "s3cret");
        assert_eq!(c.enroll_token, "t2");
        assert_eq!(c.event_buffer, 10_000);
        let debug = format!("{c:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("t2"),
            "{debug}"
        );
    }

    #[test]
    fn the_shared_secret_can_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-a-file\n").unwrap();
        let env = vec![(
            "CB_WORKER__MASTER_URL".to_owned(),
            "http://m:8080".to_owned(),
        )];
        let cli = WorkerOverrides {
            shared_secret_file: Some(file.clone()),
            ..Default::default()
        };
        let c = WorkerConfig::from_layers(None, &env, &cli).unwrap();
        assert_eq!(c.shared_secret, "from-a-file");
        assert!(!format!("{c:?}").contains("from-a-file"));
        // From the environment too.
        let mut with_env = env.clone();
        with_env.push((
            "CB_WORKER__SHARED_SECRET_FILE".to_owned(),
            file.display().to_string(),
        ));
        let c = WorkerConfig::from_layers(None, &with_env, &WorkerOverrides::default()).unwrap();
        assert_eq!(c.shared_secret, "from-a-file");
        // Both ways at once, a missing file and an empty one are refused.
        let both = WorkerOverrides {
            shared_secret: Some("x".into()),
            ..cli.clone()
        };
        let err = WorkerConfig::from_layers(None, &env, &both).unwrap_err();
        assert!(format!("{err:#}").contains("not both"), "{err:#}");
        let missing = WorkerOverrides {
            shared_secret_file: Some(dir.path().join("nope")),
            ..Default::default()
        };
        assert!(WorkerConfig::from_layers(None, &env, &missing).is_err());
        std::fs::write(&file, " \n").unwrap();
        let err = WorkerConfig::from_layers(None, &env, &cli).unwrap_err();
        assert!(format!("{err:#}").contains("empty"), "{err:#}");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let load = |env: &[(&str, &str)]| {
            let env: Vec<_> = env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            WorkerConfig::from_layers(None, &env, &WorkerOverrides::default())
                .map_err(|e| format!("{e:#}"))
        };
        assert!(load(&[]).unwrap_err().contains("master_url"));
        let url = ("CB_WORKER__MASTER_URL", "http://m:8080");
        assert!(load(&[url]).is_ok());
        assert!(
            load(&[url, ("CB_WORKER__NOPE", "1")])
                .unwrap_err()
                .contains("nope")
        );
        assert!(load(&[("CB_WORKER__MASTER_URL", "m:8080")]).is_err());
        assert!(load(&[url, ("CB_WORKER__HEARTBEAT_INTERVAL_SECS", "0")]).is_err());
    }

    fn grpc_of(c: &WorkerConfig, from_enrollment: Option<&str>) -> Vec<String> {
        c.resolve_masters(from_enrollment)
            .unwrap()
            .into_iter()
            .map(|m| m.grpc)
            .collect()
    }

    #[test]
    fn grpc_url_defaults_to_the_master_host_on_9090() {
        let mut c = WorkerConfig {
            master_url: "https://cb.example.com:8443/base".into(),
            ..Default::default()
        };
        assert_eq!(grpc_of(&c, None), ["https://cb.example.com:9090"]);
        assert_eq!(grpc_of(&c, Some("http://grpc:7000")), ["http://grpc:7000"]);
        c.master_url = "http://[::1]:8080".into();
        assert_eq!(grpc_of(&c, None), ["http://[::1]:9090"]);
        c.grpc_url = "http://explicit:1".into();
        assert_eq!(grpc_of(&c, Some("http://grpc:7000")), ["http://explicit:1"]);
    }

    #[test]
    fn several_masters_pair_with_their_grpc_urls_in_order() {
        let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        // From the environment, comma-separated (spaces allowed).
        let c = WorkerConfig::from_layers(
            None,
            &env(&[
                ("CB_WORKER__MASTER_URL", "http://a:8080, http://b:8080"),
                ("CB_WORKER__GRPC_URL", "http://a:7000,http://b:7001"),
            ]),
            &WorkerOverrides::default(),
        )
        .unwrap();
        assert_eq!(c.master_urls(), ["http://a:8080", "http://b:8080"]);
        assert_eq!(
            c.resolve_masters(Some("http://enrolled:1")).unwrap(),
            [
                Master {
                    http: "http://a:8080".into(),
                    grpc: "http://a:7000".into()
                },
                Master {
                    http: "http://b:8080".into(),
                    grpc: "http://b:7001".into()
                },
            ]
        );
        // A TOML array in the config file; without gRPC URLs each master's host on 9090, and
        // the enrollment answer (one master's) is not used for all of them.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("worker.toml");
        std::fs::write(
            &file,
            "[worker]\nmaster_url = [\"http://a:8080\", \"https://b.example.com\"]\n",
        )
        .unwrap();
        let c = WorkerConfig::from_layers(Some(&file), &[], &WorkerOverrides::default()).unwrap();
        assert_eq!(
            grpc_of(&c, Some("http://enrolled:1")),
            ["http://a:9090", "https://b.example.com:9090"]
        );
    }

    #[test]
    fn a_bad_entry_in_a_url_list_is_named() {
        let load = |master: &str, grpc: &str| {
            let mut env = vec![("CB_WORKER__MASTER_URL".to_owned(), master.to_owned())];
            if !grpc.is_empty() {
                env.push(("CB_WORKER__GRPC_URL".to_owned(), grpc.to_owned()));
            }
            WorkerConfig::from_layers(None, &env, &WorkerOverrides::default())
                .map_err(|e| format!("{e:#}"))
        };
        let err = load("http://a:8080,ftp://b:21", "").unwrap_err();
        assert!(
            err.contains("worker.master_url entry 2 ('ftp://b:21')") && err.contains("http://"),
            "{err}"
        );
        let err = load("http://a:8080,,http://c", "").unwrap_err();
        assert!(err.contains("entry 2 is empty"), "{err}");
        let err = load("http://a:8080,http://a:8080", "").unwrap_err();
        assert!(err.contains("listed twice"), "{err}");
        let err = load("http://a:8080,http://", "").unwrap_err();
        assert!(err.contains("entry 2 ('http://')"), "{err}");
        let err = load("http://a:8080,http://b:8080", "http://a:7000").unwrap_err();
        assert!(
            err.contains("grpc_url lists 1") && err.contains("master_url lists 2"),
            "{err}"
        );
        let err = load("http://a:8080", "http://g:1,htp://g:2").unwrap_err();
        assert!(
            err.contains("worker.grpc_url entry 2 ('htp://g:2')"),
            "{err}"
        );
        let err = load(
            "http://a:8080,http://b:8080",
            "http://a:7000,https://b:7000",
        )
        .unwrap_err();
        assert!(err.contains("master_fingerprint"), "{err}");
        assert!(load("http://a:8080,http://b:8080", "http://a:7000,http://b:7000").is_ok());
    }
}
