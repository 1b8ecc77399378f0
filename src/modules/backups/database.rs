//! ContextBay's own database as a backup source (`source: {"kind": "database"}`): an online,
//! consistent copy taken while the master runs, then streamed through the same pipeline as a
//! volume (a tar of one file → zstd → age → SHA-256 → storage), so verify, download and
//! retention treat it like any archive.
//!
//! - SQLite: `VACUUM INTO` a temporary file in the data directory (a transactionally consistent
//!   copy; writers are not blocked for long), archived as `contextbay.db`.
//! - PostgreSQL: `pg_dump --format=custom` (from PATH, else Debian's
//!   `/usr/lib/postgresql/<version>/bin`) into a temporary file, archived as `contextbay.pgdump`;
//!   the password goes to `pg_dump` through `PGPASSWORD`, never on its command line.
//!
//! The copy is on disk (never in memory) for the length of the run, and removed afterwards
//! whatever happens. Such a backup is not restored into the running master (see
//! [`RESTORE_REFUSED`]).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};

use super::BackupError;
use super::store::BackupsStore;
use crate::state::AppState;

/// The entry of a SQLite copy in the archive.
pub const SQLITE_ENTRY: &str = "contextbay.db";
/// The entry of a PostgreSQL dump (custom format, for `pg_restore`) in the archive.
pub const PG_ENTRY: &str = "contextbay.pgdump";

/// Why a database backup is not restored through the API.
pub const RESTORE_REFUSED: &str = "a backup of ContextBay's own database is not restored into \
    the running master (it would replace the live database under it): download the archive, \
    extract contextbay.db (SQLite) or restore contextbay.pgdump into a new PostgreSQL database \
    with pg_restore, and start a master on it (--database-url)";

/// A consistent copy of the database in a temporary file, removed when dropped.
pub struct Snapshot {
    pub path: PathBuf,
    pub entry: &'static str,
    pub len: u64,
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether the master's database is PostgreSQL.
fn on_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Takes the copy.
pub async fn snapshot(state: &AppState) -> Result<Snapshot, BackupError> {
    let dir = state.config.storage.data_dir.join("backups-tmp");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| BackupError::Storage(format!("creating {}: {e}", dir.display())))?;
    let url = state.config.database_url();
    let postgres = on_postgres(&url);
    let mut snap = Snapshot {
        path: dir.join(format!("db-{}.tmp", uuid::Uuid::new_v4().simple())),
        entry: if postgres { PG_ENTRY } else { SQLITE_ENTRY },
        len: 0,
    };
    if postgres {
        pg_dump(&url, &snap.path).await?;
    } else {
        let path = snap
            .path
            .to_str()
            .ok_or_else(|| BackupError::Storage("the data directory's path is not UTF-8".into()))?;
        state
            .store
            .backup_jobs()
            .vacuum_into(path)
            .await
            .map_err(|e| BackupError::Storage(format!("copying the SQLite database: {e}")))?;
    }
    snap.len = tokio::fs::metadata(&snap.path)
        .await
        .map_err(|e| BackupError::Storage(format!("reading the database copy: {e}")))?
        .len();
    Ok(snap)
}

/// `pg_dump` on PATH, else the newest Debian `/usr/lib/postgresql/<version>/bin/pg_dump`.
fn pg_dump_binary() -> Option<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("pg_dump");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let p = e.path().join("bin/pg_dump");
            p.is_file().then_some((v, p))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, p)| p)
}

async fn pg_dump(url: &str, out: &Path) -> Result<(), BackupError> {
    let bin = pg_dump_binary().ok_or_else(|| {
        BackupError::Storage(
            "pg_dump was not found (on PATH or in /usr/lib/postgresql/<version>/bin): install \
             PostgreSQL's client tools on the master to back up its database"
                .into(),
        )
    })?;
    let mut parsed = reqwest::Url::parse(url)
        .map_err(|e| BackupError::Storage(format!("the database URL does not parse: {e}")))?;
    let password = parsed
        .password()
        .map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default();
    let _ = parsed.set_password(None);
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.arg("--format=custom")
        .arg("--no-password")
        .arg("--file")
        .arg(out)
        .arg("--dbname")
        .arg(parsed.as_str())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if !password.is_empty() {
        cmd.env("PGPASSWORD", password);
    }
    let done = cmd
        .output()
        .await
        .map_err(|e| BackupError::Storage(format!("running {}: {e}", bin.display())))?;
    if !done.status.success() {
        let stderr = String::from_utf8_lossy(&done.stderr);
        return Err(BackupError::Storage(format!(
            "pg_dump failed ({}): {}",
            done.status,
            stderr.trim().chars().take(500).collect::<String>()
        )));
    }
    Ok(())
}

/// A ustar header of a regular file (mode 0600, owner 0) of `len` bytes.
fn header(name: &str, len: u64, mtime: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let field = |h: &mut [u8; 512], at: usize, width: usize, value: &[u8]| {
        h[at..at + value.len().min(width)].copy_from_slice(&value[..value.len().min(width)]);
    };
    let octal = |value: u64, width: usize| format!("{value:0w$o}\0", w = width - 1).into_bytes();
    field(&mut h, 0, 100, name.as_bytes());
    field(&mut h, 100, 8, &octal(0o600, 8));
    field(&mut h, 108, 8, &octal(0, 8));
    field(&mut h, 116, 8, &octal(0, 8));
    field(&mut h, 124, 12, &octal(len, 12));
    field(&mut h, 136, 12, &octal(mtime, 12));
    h[148..156].copy_from_slice(b"        ");
    h[156] = b'0';
    field(&mut h, 257, 6, b"ustar\0");
    field(&mut h, 263, 2, b"00");
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    field(&mut h, 148, 8, format!("{sum:06o}\0 ").as_bytes());
    h
}

/// The snapshot as a tar stream of one entry (header, content, padding, end blocks).
pub async fn tar_stream(
    snap: &Snapshot,
) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + use<>, BackupError> {
    let file = tokio::fs::File::open(&snap.path)
        .await
        .map_err(|e| BackupError::Storage(format!("opening the database copy: {e}")))?;
    let mtime = u64::try_from(crate::store::now_ms() / 1000).unwrap_or(0);
    let head = Bytes::copy_from_slice(&header(snap.entry, snap.len, mtime));
    let pad = usize::try_from((512 - snap.len % 512) % 512).unwrap_or(0);
    let tail = Bytes::from(vec![0u8; pad + 1024]);
    Ok(stream::once(async move { Ok(head) })
        .chain(tokio_util::io::ReaderStream::with_capacity(
            file,
            256 * 1024,
        ))
        .chain(stream::once(async move { Ok(tail) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_tar_of_one_file_is_read_back_by_the_tar_check() {
        let dir = std::env::temp_dir().join(format!("cb-dbtar-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("copy");
        let content: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let snap = Snapshot {
            path,
            entry: SQLITE_ENTRY,
            len: content.len() as u64,
        };
        let mut all = Vec::new();
        let mut s = std::pin::pin!(tar_stream(&snap).await.unwrap());
        while let Some(chunk) = s.next().await {
            all.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(all.len() % 512, 0);
        let mut check = super::super::tar_check::TarCheck::new();
        check.feed(&all).unwrap();
        assert_eq!(check.finish().unwrap(), 1);
        assert_eq!(&all[512..512 + content.len()], &content[..]);
        drop(snap);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
