//! The durable state of the master. All SQL lives under this module; row types are private and
//! converted into the domain types each submodule exports.
//!
//! SQLite is the embedded default (WAL, `synchronous=NORMAL`, busy timeout) with one writer
//! connection and a pool of readers; PostgreSQL uses one pool for both. Queries go through sqlx's
//! `Any` driver and are written once for both engines.

pub mod api_keys;
pub mod audit;
mod cache;
pub mod endpoints;
pub mod events;
pub mod hosts;
pub mod jobs;
pub mod jwt_keys;
pub mod leases;
pub mod migrate;
pub mod modules;
mod retention;
pub mod sessions;
pub mod settings;
pub mod stacks;
pub mod transfer;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::config::Config;

/// Errors the store reports to its callers; the HTTP layer maps them to status codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Database(sqlx::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            // PostgreSQL refuses NUL characters in text (SQLSTATE 22021), which SQLite stores:
            // a value holding one is invalid input, not a server error, and is never stored.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("22021") => {
                Self::Invalid("text values must not contain NUL characters".into())
            }
            _ => Self::Database(err),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// How long module state and node policies are cached (every change made through this process
/// is seen at once).
const MODULE_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);
/// How long a live session is cached. Changes made through this process (logout, revocation,
/// user changes) are seen at once; this bounds how long a change made by the `admin` CLI in
/// another process takes to reach a running master.
const SESSION_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Handle to the database. Cheap to clone (the pools are reference counted).
#[derive(Clone)]
pub struct Store {
    write: AnyPool,
    read: AnyPool,
    engine: Engine,
    /// Module state, read on every request to a module's routes and written only through this
    /// process (the module routes and import).
    modules: modules::ModuleCache,
    /// Live sessions with their users, read on every authenticated request.
    sessions: sessions::SessionCache,
    /// Live API keys with their owners, read on every request authenticated with a key.
    api_keys: api_keys::KeyCache,
    /// Nodes' security policies, read on every heartbeat.
    policies: hosts::PolicyCache,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Opens (creating when needed) the configured database and applies pending migrations.
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let url = config.database_url();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            anyhow::bail!("storage.database_url must start with sqlite:// or postgres://");
        };
        // The data directory holds the SQLite database (password and key hashes, sealed secrets)
        // and, on either engine, the JWT secret, TLS keys and endpoint credentials: owner only.
        {
            std::fs::create_dir_all(&config.storage.data_dir).with_context(|| {
                format!(
                    "creating data directory {}",
                    config.storage.data_dir.display()
                )
            })?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(
                    &config.storage.data_dir,
                    std::fs::Permissions::from_mode(0o700),
                )
                .with_context(|| format!("restricting {}", config.storage.data_dir.display()))?;
            }
        }
        let options = AnyConnectOptions::from_str(&url).context("parsing storage.database_url")?;
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .min_connections(if max == 1 { 1 } else { 0 })
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if engine == Engine::Sqlite {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                 PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                            )
                            .await?;
                        }
                        Ok(())
                    })
                })
        };
        let write = pool(if engine == Engine::Sqlite {
            1
        } else {
            config.storage.max_connections
        })
        .connect_with(options.clone())
        .await
        .context("connecting to the database")?;
        MIGRATOR
            .run(&write)
            .await
            .context("applying database migrations")?;
        let read = if engine == Engine::Sqlite {
            pool(config.storage.max_connections)
                .connect_with(options)
                .await
                .context("connecting to the database")?
        } else {
            write.clone()
        };
        Ok(Self {
            write,
            read,
            engine,
            modules: modules::ModuleCache::new(MODULE_CACHE_TTL),
            sessions: sessions::SessionCache::new(SESSION_CACHE_TTL),
            api_keys: api_keys::KeyCache::new(SESSION_CACHE_TTL),
            policies: hosts::PolicyCache::new(MODULE_CACHE_TTL),
        })
    }

    /// The names of the in-process caches (`contextbay.invalidate.<name>` in a cluster).
    pub const CACHES: [&'static str; 4] = ["modules", "sessions", "api_keys", "policies"];

    /// In a cluster: every invalidation of a cache by this process is announced on `tx` by the
    /// cache's name (one of [`Store::CACHES`]).
    pub fn announce_invalidations(&self, tx: &tokio::sync::mpsc::UnboundedSender<&'static str>) {
        self.modules.announce_to("modules", tx.clone());
        self.sessions.announce_to("sessions", tx.clone());
        self.api_keys.announce_to("api_keys", tx.clone());
        self.policies.announce_to("policies", tx.clone());
    }

    /// Drops the cache `name` because another master wrote; false for an unknown name.
    pub fn invalidate_cache(&self, name: &str) -> bool {
        match name {
            "modules" => self.modules.invalidate_local(),
            "sessions" => self.sessions.invalidate_local(),
            "api_keys" => self.api_keys.invalidate_local(),
            "policies" => self.policies.invalidate_local(),
            _ => return false,
        }
        true
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Makes the transactions that check a rule spanning several rows before they write (what no
    /// unique constraint expresses: "one enabled admin remains", "at most N keys per user") take
    /// turns per `scope`. SQLite's transactions are serial already (one writer connection); on
    /// PostgreSQL each would count in its own snapshot, so a transaction-scoped advisory lock on
    /// a key derived from `scope` serialises them, across masters sharing the database too.
    pub(crate) async fn serialize(
        &self,
        tx: &mut sqlx::AnyConnection,
        scope: &str,
    ) -> StoreResult<()> {
        if self.engine == Engine::Postgres {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(scope.as_bytes());
            let mut key = [0u8; 8];
            key.copy_from_slice(&digest[..8]);
            // Wrapped so the result is a plain integer (the `Any` driver has no `void`).
            sqlx::query("SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                .bind(i64::from_be_bytes(key))
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    /// Pool statistics for `/metrics`: `(pool, open, idle)`.
    pub fn pool_stats(&self) -> [(&'static str, u32, usize); 2] {
        [
            ("write", self.write.size(), self.write.num_idle()),
            ("read", self.read.size(), self.read.num_idle()),
        ]
    }

    /// Closes both pools, waiting for connections in use to be returned (shutdown).
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    /// The reader pool, for the store queries of modules (`src/modules/<name>/store.rs`).
    pub(crate) fn read_pool(&self) -> &AnyPool {
        &self.read
    }
    /// The writer pool (one connection on SQLite), for the store queries of modules.
    pub(crate) fn write_pool(&self) -> &AnyPool {
        &self.write
    }
    pub fn users(&self) -> users::Users<'_> {
        users::Users(self)
    }
    pub fn sessions(&self) -> sessions::Sessions<'_> {
        sessions::Sessions(self)
    }
    pub fn api_keys(&self) -> api_keys::ApiKeys<'_> {
        api_keys::ApiKeys(self)
    }
    pub fn jwt_keys(&self) -> jwt_keys::JwtKeys<'_> {
        jwt_keys::JwtKeys(self)
    }
    pub fn settings(&self) -> settings::Settings<'_> {
        settings::Settings(self)
    }
    pub fn modules(&self) -> modules::Modules<'_> {
        modules::Modules(self)
    }
    pub fn audit(&self) -> audit::Audit<'_> {
        audit::Audit(self)
    }
    pub fn endpoints(&self) -> endpoints::Endpoints<'_> {
        endpoints::Endpoints(self)
    }
    pub fn hosts(&self) -> hosts::Hosts<'_> {
        hosts::Hosts(self)
    }
    pub fn events(&self) -> events::Events<'_> {
        events::Events(self)
    }
    pub fn jobs(&self) -> jobs::Jobs<'_> {
        jobs::Jobs(self)
    }
    pub fn node_leases(&self) -> leases::NodeLeases<'_> {
        leases::NodeLeases(self)
    }
    pub fn stacks(&self) -> stacks::Stacks<'_> {
        stacks::Stacks(self)
    }
    pub fn service_health(&self) -> stacks::ServiceHealths<'_> {
        stacks::ServiceHealths(self)
    }
}

/// Whether `err` means the database cannot be reached right now (down, restarting, the pool
/// cannot get a connection in time), as opposed to a failed query: a retryable 503.
pub fn unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL: class 08 (connection exception), 57P01-57P03 (shutting down, crashed,
        // cannot connect now).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A fresh time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`] with `message`.
pub(crate) fn conflict_on_unique(err: sqlx::Error, message: impl Into<String>) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(message.into())
        }
        _ => StoreError::from(err),
    }
}

/// A page request: `limit` 1..=500, `offset` ≥ 0.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// A page of results with the total count of matches.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
}
pub use transfer::ImportReport;
