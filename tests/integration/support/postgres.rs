//! A throw-away PostgreSQL for the integration suite.
//!
//! `CB_TEST_STORE=postgres` runs the suite on PostgreSQL instead of SQLite (`sqlite`, the default,
//! or unset: SQLite). Then the first test that needs a database starts one cluster, shared by every
//! test process of the same run, and each master gets a fresh database of its own
//! (`CREATE DATABASE t_<random>`), so tests stay isolated and run in parallel.
//!
//! nextest runs every test in its own process, so "one cluster per test process" would mean one
//! `initdb` per test; instead the cluster belongs to the run: it is keyed by the parent process
//! (the nextest runner, or cargo under `cargo test`), created under an exclusive file lock by the
//! first test process and joined by the others. Its lifetime is tied to that parent by a
//! watchdog started with it (`sh`, in its own process group, so a test killed on timeout does not
//! take it along): once the parent process is gone it stops the server (`pg_ctl stop -m
//! immediate`) and removes the directory, so no postgres process or file is left behind however
//! the run ends (success, failure, Ctrl-C, a killed runner).
//!
//! The cluster: `initdb` into `$TMPDIR/contextbay-test-pg-<parent pid>/data` as an unprivileged
//! user (initdb refuses root: as root the system user `contextbay-test` is created when missing),
//! C locale (byte-order collation, as SQLite's default), trust authentication on 127.0.0.1 only
//! (it listens on nothing else), a free port, durability off (fsync, synchronous_commit: the data
//! is thrown away). The binaries are found through `initdb` on PATH, else the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian's `postgresql` package); `CB_TEST_PG_BIN` overrides.

use std::fs::File;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The unprivileged user that owns the cluster when the tests run as root.
const TEST_USER: &str = "contextbay-test";

/// True when the suite runs on PostgreSQL (`CB_TEST_STORE=postgres`).
pub fn enabled() -> bool {
    match std::env::var("CB_TEST_STORE").as_deref() {
        Err(_) | Ok("" | "sqlite") => false,
        Ok("postgres") => true,
        Ok(other) => panic!("CB_TEST_STORE must be `sqlite` or `postgres`, not {other:?}"),
    }
}

/// The engine the suite runs on, as `/api/system/info` names it.
pub fn engine() -> &'static str {
    if enabled() { "postgres" } else { "sqlite" }
}

/// The database of the master whose data directory is `data_dir`: `None` on SQLite (the file in
/// the data directory); on PostgreSQL a fresh database, the same one every time for the same
/// directory, so a master restarted on the same data finds its data again. The directory itself
/// remembers its database (in a file next to the master's data), so there is no table of them
/// to share between tests.
pub fn database_url(data_dir: &Path) -> Option<String> {
    if !enabled() {
        return None;
    }
    let note = data_dir.join("test-database-url");
    if let Ok(url) = std::fs::read_to_string(&note) {
        return Some(url);
    }
    let url = cluster().create_database();
    std::fs::create_dir_all(data_dir).unwrap();
    std::fs::write(&note, &url).unwrap();
    Some(url)
}

/// `Config::for_test(data_dir)` on the engine the suite runs on.
pub fn test_config(data_dir: &Path) -> contextbay::Config {
    let mut config = contextbay::Config::for_test(data_dir);
    if let Some(url) = database_url(data_dir) {
        config.storage.database_url = url;
    }
    config
}

/// A fresh, empty database on the test cluster (for tests that need a PostgreSQL database even
/// when the suite runs on SQLite). `None` when PostgreSQL is not installed.
pub fn fresh_database() -> Option<String> {
    bin_dir()?;
    Some(cluster().create_database())
}

/// True when the PostgreSQL binaries are installed.
pub fn available() -> bool {
    bin_dir().is_some()
}

/// For a test that needs PostgreSQL whatever engine the suite runs on: true when it is
/// installed; on CI a missing PostgreSQL fails the test, elsewhere it is skipped with a word.
pub fn required_by(test: &str) -> bool {
    let ok = available();
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        ok || !ci,
        "CI needs PostgreSQL (Debian: postgresql, installed by scripts/test)"
    );
    if !ok {
        eprintln!("PostgreSQL is not installed; skipping {test} outside CI");
    }
    ok
}

pub struct Cluster {
    port: u16,
    bin: PathBuf,
}

/// The run's cluster, started (or joined) on first use.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start_or_join)
}

impl Cluster {
    /// The URL of database `name` on this cluster.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{}@127.0.0.1:{}/{name}", owner().name, self.port)
    }

    /// Runs `sql` with psql on database `db`; panics with psql's message when it fails.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                &owner().name,
                "-d",
                db,
                "-c",
                sql,
            ])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null())
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }
}

/// The PostgreSQL binaries: `CB_TEST_PG_BIN`, the directory `initdb` on PATH resolves to, or the
/// newest `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CB_TEST_PG_BIN") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("initdb").is_file(),
            "CB_TEST_PG_BIN={} has no initdb",
            dir.display()
        );
        return Some(dir);
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("initdb"))
            .find(|f| f.is_file())
            .and_then(|f| std::fs::canonicalize(f).ok())
            .and_then(|f| f.parent().map(Path::to_path_buf))
    });
    if let Some(dir) = on_path.filter(|d| d.join("pg_ctl").is_file() && d.join("psql").is_file()) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

struct Owner {
    name: String,
    /// `Some((uid, gid))` when the commands must switch to that user (the tests run as root).
    switch: Option<(u32, u32)>,
}

/// Who owns and runs the cluster: the current user, or `contextbay-test` when that is root.
fn owner() -> &'static Owner {
    static OWNER: OnceLock<Owner> = OnceLock::new();
    OWNER.get_or_init(|| {
        let me = id(&["-un"]);
        if id(&["-u"]) != "0" {
            return Owner {
                name: me,
                switch: None,
            };
        }
        let exists = || {
            Command::new("id")
                .arg(TEST_USER)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        // Test processes start together: another one may be creating the user right now.
        for _ in 0..50 {
            if exists() {
                break;
            }
            let _ = Command::new("useradd")
                .args(["--system", "--user-group", "--no-create-home"])
                .args(["--shell", "/usr/sbin/nologin", TEST_USER])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if !exists() {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        assert!(
            exists(),
            "could not create the system user {TEST_USER} for the test cluster (useradd)"
        );
        let uid = id(&["-u", TEST_USER]).parse().unwrap();
        let gid = id(&["-g", TEST_USER]).parse().unwrap();
        Owner {
            name: TEST_USER.into(),
            switch: Some((uid, gid)),
        }
    })
}

fn id(args: &[&str]) -> String {
    let out = Command::new("id").args(args).output().expect("running id");
    assert!(out.status.success(), "id {args:?} failed");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A command run as the cluster's owner.
fn as_owner(program: impl AsRef<std::ffi::OsStr>, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    if let Some((uid, gid)) = owner().switch {
        cmd.uid(uid)
            .gid(gid)
            .env("USER", TEST_USER)
            .env("HOME", cwd);
    }
    cmd.current_dir(cwd).stdin(Stdio::null());
    cmd
}

fn chown(path: &Path) {
    if let Some((uid, gid)) = owner().switch {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    }
}

fn start_or_join() -> Cluster {
    let bin = bin_dir().expect(
        "CB_TEST_STORE=postgres needs PostgreSQL's initdb (Debian: the postgresql package, which \
         scripts/test installs; or set CB_TEST_PG_BIN)",
    );
    let anchor = std::os::unix::process::parent_id();
    let base = std::env::temp_dir().join(format!("contextbay-test-pg-{anchor}"));
    let lock_path = base.with_extension("lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    chown(&lock_path);
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).unwrap();
    let port_file = base.join("port");
    if let Ok(port) = std::fs::read_to_string(&port_file) {
        return Cluster {
            port: port.trim().parse().unwrap(),
            bin,
        };
    }
    // A directory without a port file is a start that failed half-way: begin again.
    if base.exists() {
        let _ = as_owner(bin.join("pg_ctl"), Path::new("/"))
            .arg("-D")
            .arg(base.join("data"))
            .args(["stop", "-m", "immediate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        std::fs::remove_dir_all(&base).unwrap();
    }
    std::fs::create_dir(&base).unwrap();
    chown(&base);
    let data = base.join("data");

    // The watchdog first, so whatever happens next is cleaned up when the run ends.
    let watchdog = format!(
        "while [ -d /proc/{anchor} ]; do sleep 1; done; \
         '{pg_ctl}' -D '{data}' stop -m immediate -w -t 30 >/dev/null 2>&1; \
         rm -rf '{base}' '{lock}'",
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        base = base.display(),
        lock = lock_path.display(),
    );
    // Detached on purpose: it outlives this test process (its parent is the run).
    #[allow(
        clippy::zombie_processes,
        reason = "the watchdog outlives this process"
    )]
    as_owner("sh", &base)
        .args(["-c", &watchdog])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("starting the test cluster's watchdog");

    let out = as_owner(bin.join("initdb"), &base)
        .arg("-D")
        .arg(&data)
        .args(["-U", &owner().name, "--auth=trust", "--encoding=UTF8"])
        .args(["--locale=C", "--no-sync"])
        .output()
        .expect("running initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Trust, on loopback only (the server listens on 127.0.0.1 and its own socket directory).
    let mut hba = File::create(data.join("pg_hba.conf")).unwrap();
    writeln!(hba, "local all all trust\nhost all all 127.0.0.1/32 trust").unwrap();
    drop(hba);

    let log = base.join("postgres.log");
    let mut last_error = String::new();
    for _ in 0..5 {
        let port = free_port();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='{}' \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=500 -c shared_buffers=64MB",
            base.display()
        );
        let out = as_owner(bin.join("pg_ctl"), &base)
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options, "start"])
            // Its own process group: a test killed on timeout does not take the server along;
            // the watchdog stops it.
            .process_group(0)
            .stdout(Stdio::null())
            .output()
            .expect("running pg_ctl start");
        if out.status.success() {
            std::fs::write(&port_file, port.to_string()).unwrap();
            return Cluster { port, bin };
        }
        last_error = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    panic!("the test PostgreSQL did not start: {last_error}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A PostgreSQL cluster of one test's own (not the run's shared one), which the test may stop
/// and start again on the same port: `initdb` into a temporary directory as the unprivileged
/// owner, as the run's cluster. Stopped (immediate) and removed when dropped.
pub struct OwnCluster {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

impl OwnCluster {
    /// `None` when PostgreSQL is not installed (see [`required_by`]).
    pub fn start() -> Option<Self> {
        let bin = bin_dir()?;
        let dir = tempfile::tempdir().unwrap();
        chown(dir.path());
        let out = as_owner(bin.join("initdb"), dir.path())
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-U", &owner().name, "--auth=trust", "--encoding=UTF8"])
            .args(["--locale=C", "--no-sync"])
            .output()
            .expect("running initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut hba = File::create(dir.path().join("data/pg_hba.conf")).unwrap();
        writeln!(hba, "local all all trust\nhost all all 127.0.0.1/32 trust").unwrap();
        drop(hba);
        let cluster = Self {
            dir,
            port: free_port(),
            bin,
        };
        cluster.up();
        Some(cluster)
    }

    /// Starts the server on its port (again), waiting until it accepts connections.
    pub fn up(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories='{}' \
             -c fsync=off -c synchronous_commit=off",
            self.port,
            self.dir.path().display()
        );
        let out = as_owner(self.bin.join("pg_ctl"), self.dir.path())
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("postgres.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .process_group(0)
            .stdout(Stdio::null())
            .output()
            .expect("running pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
        );
    }

    /// Stops the server (`fast`: open connections are cut, as in a restart), waiting until it is
    /// down.
    pub fn down(&self) {
        self.stop("fast");
    }

    fn stop(&self, mode: &str) {
        let _ = as_owner(self.bin.join("pg_ctl"), self.dir.path())
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["stop", "-w", "-t", "60", "-m", mode])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                &owner().name,
                "-d",
                "postgres",
            ])
            .args(["-c", &format!("CREATE DATABASE {name}")])
            .stdin(Stdio::null())
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "CREATE DATABASE failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("postgres://{}@127.0.0.1:{}/{name}", owner().name, self.port)
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        self.stop("immediate");
    }
}
