//! Node leases (several masters): which master owns a node — the one holding its worker's
//! command stream. One row per node; see `migrations/0028_node_leases.sql` and `docs/ha.md`.

use sqlx::Row;

use super::{Store, StoreResult};

/// A node's lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLease {
    pub node_id: String,
    pub master_id: String,
    /// Unix milliseconds.
    pub expires_at: i64,
}

pub struct NodeLeases<'a>(pub(super) &'a Store);

impl NodeLeases<'_> {
    /// Takes node `node`'s lease for `master` until `now + ttl_ms`, or renews it: one statement,
    /// which changes the row only when it is free, expired, or already `master`'s. `true` when
    /// `master` holds the lease afterwards. Atomic on both engines (an upsert of one row: SQLite
    /// serialises writers, PostgreSQL's `ON CONFLICT` locks the conflicting row), so concurrent
    /// takers cannot both win.
    pub async fn take(&self, node: &str, master: &str, now: i64, ttl_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO node_leases (node_id, master_id, expires_at, renewed_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (node_id) DO UPDATE SET master_id = excluded.master_id, \
             expires_at = excluded.expires_at, renewed_at = excluded.renewed_at \
             WHERE node_leases.master_id = excluded.master_id \
             OR node_leases.expires_at <= excluded.renewed_at",
        )
        .bind(node)
        .bind(master)
        .bind(now.saturating_add(ttl_ms))
        .bind(now)
        .execute(&self.0.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The master holding node `node`'s lease at `now`, if it has not expired.
    pub async fn owner(&self, node: &str, now: i64) -> StoreResult<Option<String>> {
        let row =
            sqlx::query("SELECT master_id FROM node_leases WHERE node_id = $1 AND expires_at > $2")
                .bind(node)
                .bind(now)
                .fetch_optional(&self.0.read)
                .await?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    /// Every lease that has not expired at `now`.
    pub async fn held(&self, now: i64) -> StoreResult<Vec<NodeLease>> {
        let rows = sqlx::query(
            "SELECT node_id, master_id, expires_at FROM node_leases WHERE expires_at > $1",
        )
        .bind(now)
        .fetch_all(&self.0.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| NodeLease {
                node_id: r.get(0),
                master_id: r.get(1),
                expires_at: r.get(2),
            })
            .collect())
    }

    /// Gives up node `node`'s lease if `master` holds it (a clean disconnect).
    pub async fn release(&self, node: &str, master: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM node_leases WHERE node_id = $1 AND master_id = $2")
            .bind(node)
            .bind(master)
            .execute(&self.0.write)
            .await?;
        Ok(())
    }

    /// Gives up every lease `master` holds (it is stopping).
    pub async fn release_all(&self, master: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM node_leases WHERE master_id = $1")
            .bind(master)
            .execute(&self.0.write)
            .await?;
        Ok(done.rows_affected())
    }
}
