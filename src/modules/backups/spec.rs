//! What a backup job is: its definition as the API takes it and as the store keeps it (JSON),
//! and its validation (every field checked, the endpoint and the volume looked up).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::BackupError;
use crate::state::AppState;

/// Where the data comes from. Today: a Docker volume on any endpoint (`local`, `tcp`, or an
/// `agent` endpoint through its worker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A named Docker volume, read through the engine's archive API.
    Volume {
        /// The endpoint's id (`local` for the master's own engine).
        #[schema(min_length = 1, max_length = 128)]
        endpoint: String,
        /// The volume's name.
        #[schema(
            min_length = 1,
            max_length = 128,
            pattern = "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
        )]
        volume: String,
    },
    /// ContextBay's own database (SQLite or PostgreSQL), copied online and consistently. Only
    /// administrators may create or change such a job.
    Database,
}

/// Where archives go, as kept: a directory on the master (the module's `storage_dir`, by default
/// `<data_dir>/backups`, one sub-directory per job) or an S3-compatible bucket. The S3 secret is
/// kept sealed ([`crate::secrets::SecretBox`]) and never leaves the master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Storage {
    Local,
    S3(S3Storage),
}

/// An S3-compatible bucket, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Storage {
    pub bucket: String,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub path_style: bool,
    pub access_key_id: String,
    /// Sealed with the master's encryption key.
    pub secret_access_key_sealed: String,
}

/// Where archives go, as the API takes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StorageInput {
    /// The master's storage directory.
    Local,
    /// An S3-compatible bucket.
    S3 {
        /// The bucket's name (3 to 63 lowercase letters, digits, '.' and '-').
        #[schema(min_length = 3, max_length = 63)]
        bucket: String,
        /// A key prefix inside the bucket (segments of letters, digits, '.', '_' and '-'
        /// separated by '/').
        #[serde(default)]
        #[schema(max_length = 256)]
        prefix: Option<String>,
        /// Default `us-east-1`.
        #[serde(default)]
        #[schema(max_length = 64)]
        region: Option<String>,
        /// An `http://` or `https://` base URL for S3-compatible servers (MinIO, Ceph, …);
        /// default: AWS.
        #[serde(default)]
        #[schema(max_length = 512)]
        endpoint: Option<String>,
        /// Path-style addressing (`<endpoint>/<bucket>/<key>`) instead of virtual hosts.
        #[serde(default)]
        path_style: bool,
        #[schema(min_length = 1, max_length = 256)]
        access_key_id: String,
        /// Write-only: kept sealed, never returned. Required unless the job already has an S3
        /// storage, whose secret is then kept.
        #[serde(default)]
        #[schema(min_length = 1, max_length = 256)]
        secret_access_key: Option<String>,
    },
}

/// Where archives go, as the API shows it (the secret only as set or not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StorageView {
    Local,
    S3 {
        bucket: String,
        prefix: Option<String>,
        region: Option<String>,
        endpoint: Option<String>,
        path_style: bool,
        access_key_id: String,
        /// Whether a secret access key is kept (it is never returned).
        secret_access_key_set: bool,
    },
}

impl From<&Storage> for StorageView {
    fn from(s: &Storage) -> Self {
        match s {
            Storage::Local => Self::Local,
            Storage::S3(c) => Self::S3 {
                bucket: c.bucket.clone(),
                prefix: c.prefix.clone(),
                region: c.region.clone(),
                endpoint: c.endpoint.clone(),
                path_style: c.path_style,
                access_key_id: c.access_key_id.clone(),
                secret_access_key_set: !c.secret_access_key_sealed.is_empty(),
            },
        }
    }
}

/// Encryption of the stored archives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Encryption {
    /// age (X25519), to a key pair generated for the job and kept sealed on the master: the
    /// stored object is `tar → zstd → age`.
    Age,
}

/// How archives are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// tar + zstd (level 3), streamed.
    #[default]
    Zstd,
    /// A plain tar.
    None,
}

impl Compression {
    /// The object name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Zstd => "tar.zst",
            Self::None => "tar",
        }
    }
}

/// Which successful runs are kept: the newest `keep_last`, plus the newest of each of the last
/// `keep_daily` days, `keep_weekly` ISO weeks and `keep_monthly` months (UTC). The others are
/// deleted, their objects with them, after each successful run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// 1 to 1000, default 7.
    #[serde(default = "default_keep_last")]
    #[schema(minimum = 1, maximum = 1000, default = 7)]
    pub keep_last: u32,
    /// 0 to 1000, default 0.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000, default = 0)]
    pub keep_daily: u32,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000, default = 0)]
    pub keep_weekly: u32,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000, default = 0)]
    pub keep_monthly: u32,
}

fn default_keep_last() -> u32 {
    7
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            keep_last: default_keep_last(),
            keep_daily: 0,
            keep_weekly: 0,
            keep_monthly: 0,
        }
    }
}

/// What happens around a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// Stop the running containers that use the volume for the duration of the run (a
    /// consistent copy); they are started again whatever happens.
    #[serde(default)]
    pub stop_containers: bool,
    /// A command run in a container of the source's endpoint before the volume is read (e.g. a
    /// database dump into the volume); the run fails if it exits non-zero or overruns its
    /// timeout. Setting or changing it takes the admin role (as exec does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecHook>,
}

/// A command run in a container before a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecHook {
    /// The container's name or id, on the source's endpoint.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
    )]
    pub container: String,
    /// The program and its arguments (no shell unless the command names one).
    #[schema(min_items = 1, max_items = 64)]
    pub command: Vec<String>,
    /// 1 to 86400 seconds, default 300.
    #[serde(default = "default_hook_timeout")]
    #[schema(minimum = 1, maximum = 86400, default = 300)]
    pub timeout_s: u32,
}

fn default_hook_timeout() -> u32 {
    300
}

impl ExecHook {
    /// Every field checked, or a 400 naming it.
    pub fn check(&self) -> Result<(), BackupError> {
        let c = &self.container;
        if !c
            .chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_alphanumeric())
            || c.len() > 128
            || !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'))
        {
            return Err(invalid(
                "hooks.exec.container",
                "hooks.exec.container must be a container name or id (1 to 128 letters, \
                 digits, '_', '.' or '-')",
            ));
        }
        if self.command.is_empty()
            || self.command.len() > 64
            || self.command[0].trim().is_empty()
            || self
                .command
                .iter()
                .any(|a| a.len() > 4096 || a.contains('\0'))
        {
            return Err(invalid(
                "hooks.exec.command",
                "hooks.exec.command must be 1 to 64 arguments (the first not blank), each at \
                 most 4096 bytes without NUL",
            ));
        }
        if !(1..=86_400).contains(&self.timeout_s) {
            return Err(invalid(
                "hooks.exec.timeout_s",
                "hooks.exec.timeout_s must be between 1 and 86400",
            ));
        }
        Ok(())
    }
}

/// When a job runs by itself: a cron pattern read in a time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Five fields (minute hour day-of-month month day-of-week; names, ranges, steps, `L`, `#`,
    /// `W` and `@daily`-style nicknames allowed), e.g. `30 2 * * *`.
    #[schema(min_length = 1, max_length = 128)]
    pub cron: String,
    /// An IANA time zone, e.g. `Europe/Paris`; default `UTC`.
    #[serde(default = "utc")]
    #[schema(min_length = 1, max_length = 64, default = "UTC")]
    pub timezone: String,
}

fn utc() -> String {
    "UTC".into()
}

impl Schedule {
    /// The parsed pattern and zone, or a 400 naming the field at fault.
    pub fn parse(&self) -> Result<(croner::Cron, chrono_tz::Tz), BackupError> {
        let cron = self.cron.trim();
        if cron.is_empty() || cron.len() > 128 || cron.split_whitespace().count() > 5 {
            return Err(invalid(
                "schedule.cron",
                "schedule.cron must be a cron pattern of five fields, e.g. '30 2 * * *'",
            ));
        }
        let parsed = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(cron)
            .map_err(|e| {
                invalid(
                    "schedule.cron",
                    format!("schedule.cron is not a cron pattern: {e}"),
                )
            })?;
        let tz: chrono_tz::Tz = self.timezone.parse().map_err(|_| {
            invalid(
                "schedule.timezone",
                format!(
                    "schedule.timezone '{}' is not an IANA time zone (e.g. 'Europe/Paris')",
                    self.timezone
                ),
            )
        })?;
        Ok((parsed, tz))
    }

    /// The first time (Unix ms) the schedule fires strictly after `after_ms`.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        use chrono::TimeZone as _;
        let (cron, tz) = self.parse().ok()?;
        let from = tz.timestamp_millis_opt(after_ms).single()?;
        cron.find_next_occurrence(&from, false)
            .ok()
            .map(|t| t.timestamp_millis())
    }
}

/// A backup job's definition, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    pub source: Source,
    pub storage: Storage,
    pub compression: Compression,
    pub retention: Retention,
    pub hooks: Hooks,
    /// `None`: it runs only when asked.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// `None`: archives are stored in clear.
    #[serde(default)]
    pub encryption: Option<Encryption>,
    /// The job's age identity (sealed), made when encryption is first turned on and kept
    /// afterwards, so that older encrypted records stay readable.
    #[serde(default)]
    pub age_identity_sealed: Option<String>,
}

pub const MAX_NAME: usize = 128;
pub const MAX_KEEP: u32 = 1000;

fn invalid(field: &str, message: impl Into<String>) -> BackupError {
    BackupError::InvalidField {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// A job's name: not blank, at most [`MAX_NAME`] characters, trimmed.
pub fn check_name(name: &str) -> Result<String, BackupError> {
    let trimmed = crate::modules::trim_blank(name);
    if trimmed.is_empty() {
        return Err(invalid("name", "name must not be blank"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(invalid(
            "name",
            format!("name must be at most {MAX_NAME} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("name", "name must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// A Docker volume name as the engine accepts it.
pub fn check_volume_name(field: &str, name: &str) -> Result<(), BackupError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok
        || name.len() > 128
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(invalid(
            field,
            format!(
                "{field} must be 1 to 128 letters, digits, '_', '.' or '-', starting with a \
                 letter or digit"
            ),
        ));
    }
    Ok(())
}

/// Checks a definition against its schema and the world: the endpoint exists and can be read
/// directly, the volume exists there.
pub async fn check(state: &AppState, def: &Definition) -> Result<(), BackupError> {
    let r = def.retention;
    for (field, value, min) in [
        ("retention.keep_last", r.keep_last, 1),
        ("retention.keep_daily", r.keep_daily, 0),
        ("retention.keep_weekly", r.keep_weekly, 0),
        ("retention.keep_monthly", r.keep_monthly, 0),
    ] {
        if value < min || value > MAX_KEEP {
            return Err(invalid(
                field,
                format!("{field} must be between {min} and {MAX_KEEP}"),
            ));
        }
    }
    if let Some(schedule) = &def.schedule {
        schedule.parse()?;
    }
    if let Some(exec) = &def.hooks.exec {
        exec.check()?;
    }
    match &def.source {
        Source::Database => {}
        Source::Volume { endpoint, volume } => {
            check_volume_name("source.volume", volume)?;
            let exists = super::sources::place_of(state, endpoint)
                .await?
                .volume_exists(volume)
                .await?;
            if !exists {
                return Err(invalid(
                    "source.volume",
                    format!("no volume '{volume}' on endpoint '{endpoint}'"),
                ));
            }
        }
    }
    Ok(())
}

/// Turns the storage the API took into the one kept: every field checked (a 400 naming it), the
/// secret sealed. Without a `secret_access_key`, the secret of `current` (an S3 storage) is kept.
pub fn resolve_storage(
    state: &AppState,
    input: StorageInput,
    current: Option<&Storage>,
) -> Result<Storage, BackupError> {
    let StorageInput::S3 {
        bucket,
        prefix,
        region,
        endpoint,
        path_style,
        access_key_id,
        secret_access_key,
    } = input
    else {
        return Ok(Storage::Local);
    };
    check_bucket(&bucket)?;
    let prefix = match prefix.as_deref() {
        None | Some("") => None,
        Some(p) => {
            check_prefix(p)?;
            Some(p.to_owned())
        }
    };
    let region = match region.as_deref() {
        None | Some("") => None,
        Some(r) => {
            if r.len() > 64
                || !r
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(invalid(
                    "storage.region",
                    "storage.region must be at most 64 lowercase letters, digits and '-', e.g. \
                     'eu-west-1'",
                ));
            }
            Some(r.to_owned())
        }
    };
    let endpoint = match endpoint.as_deref() {
        None | Some("") => None,
        Some(e) => Some(check_endpoint(e)?),
    };
    if access_key_id.is_empty()
        || access_key_id.len() > 256
        || !access_key_id.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(invalid(
            "storage.access_key_id",
            "storage.access_key_id must be 1 to 256 printable ASCII characters",
        ));
    }
    let secret_access_key_sealed = match secret_access_key {
        Some(secret) => {
            if secret.is_empty()
                || secret.len() > 256
                || !secret.chars().all(|c| c.is_ascii_graphic())
            {
                return Err(invalid(
                    "storage.secret_access_key",
                    "storage.secret_access_key must be 1 to 256 printable ASCII characters",
                ));
            }
            state
                .secret_box
                .seal(&secret)
                .map_err(|e| BackupError::Storage(format!("sealing the S3 secret: {e}")))?
        }
        None => match current {
            Some(Storage::S3(c)) => c.secret_access_key_sealed.clone(),
            _ => {
                return Err(invalid(
                    "storage.secret_access_key",
                    "storage.secret_access_key is required for an S3 storage",
                ));
            }
        },
    };
    Ok(Storage::S3(S3Storage {
        bucket,
        prefix,
        region,
        endpoint,
        path_style,
        access_key_id,
        secret_access_key_sealed,
    }))
}

fn check_bucket(bucket: &str) -> Result<(), BackupError> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge_ok(bucket.chars().next())
        && edge_ok(bucket.chars().last())
        && !bucket.contains("..");
    if !ok {
        return Err(invalid(
            "storage.bucket",
            "storage.bucket must be 3 to 63 lowercase letters, digits, '.' or '-', starting and \
             ending with a letter or digit",
        ));
    }
    Ok(())
}

fn check_prefix(prefix: &str) -> Result<(), BackupError> {
    let ok = prefix.len() <= 256
        && prefix.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        });
    if !ok {
        return Err(invalid(
            "storage.prefix",
            "storage.prefix must be at most 256 characters: segments of letters, digits, '.', \
             '_' and '-' separated by single '/', without '.' or '..' segments",
        ));
    }
    Ok(())
}

fn check_endpoint(endpoint: &str) -> Result<String, BackupError> {
    let bad = |why: &str| invalid("storage.endpoint", format!("storage.endpoint {why}"));
    if endpoint.len() > 512 {
        return Err(bad("must be at most 512 characters"));
    }
    let url = reqwest::Url::parse(endpoint).map_err(|e| bad(&format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("must be an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials (use access_key_id)"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or a fragment"));
    }
    Ok(endpoint.trim_end_matches('/').to_owned())
}

/// Applies the encryption the API asked for: turning age on makes the job's identity when it has
/// none yet (sealed); turning it off keeps the identity for the older records.
pub fn resolve_encryption(
    state: &AppState,
    wanted: Option<Encryption>,
    def: &mut Definition,
) -> Result<(), BackupError> {
    def.encryption = wanted;
    if wanted.is_some() && def.age_identity_sealed.is_none() {
        let identity = super::crypt::new_identity();
        def.age_identity_sealed = Some(
            state
                .secret_box
                .seal(&identity)
                .map_err(|e| BackupError::Storage(format!("sealing the job's age key: {e}")))?,
        );
    }
    Ok(())
}
