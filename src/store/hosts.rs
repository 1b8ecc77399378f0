//! Hosts: a placeholder with an enroll token, then an enrolled node with a credential.

use serde_json::{Map, Value};
use sqlx::Row;

use super::{Page, Paged, Store, StoreError, StoreResult, conflict_on_unique, new_id, now_ms};

/// A host and, once enrolled, its node. One row, one id.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    pub id: String,
    pub name: String,
    pub labels: Map<String, Value>,
    pub security_policy: Map<String, Value>,
    pub token_expires_at: Option<i64>,
    pub token_used_at: Option<i64>,
    pub enrolled: bool,
    pub enrolled_at: Option<i64>,
    pub hostname: Option<String>,
    pub hardware: Map<String, Value>,
    pub agent_version: Option<String>,
    pub proto_minor: Option<i64>,
    pub registered_at: Option<i64>,
    pub docker_ok_at: Option<i64>,
    pub fused_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    pub last_event_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct HostRow {
    id: String,
    name: String,
    labels: String,
    security_policy: String,
    token_expires_at: Option<i64>,
    token_used_at: Option<i64>,
    credential_hash: Option<String>,
    enrolled_at: Option<i64>,
    hostname: Option<String>,
    hardware: String,
    agent_version: Option<String>,
    proto_minor: Option<i64>,
    registered_at: Option<i64>,
    docker_ok_at: Option<i64>,
    fused_at: Option<i64>,
    last_seen_at: Option<i64>,
    last_event_seq: i64,
    created_at: i64,
    updated_at: i64,
}

macro_rules! host_columns {
    () => {
        "id, name, labels, security_policy, token_expires_at, token_used_at, credential_hash, \
         enrolled_at, hostname, hardware, agent_version, proto_minor, registered_at, docker_ok_at, \
         fused_at, last_seen_at, last_event_seq, created_at, updated_at"
    };
}

fn object(text: &str, what: &str) -> StoreResult<Map<String, Value>> {
    serde_json::from_str(text).map_err(|e| StoreError::Other(anyhow::anyhow!("stored {what}: {e}")))
}

impl HostRow {
    fn into_host(self) -> StoreResult<Host> {
        Ok(Host {
            labels: object(&self.labels, "labels")?,
            security_policy: object(&self.security_policy, "security policy")?,
            hardware: object(&self.hardware, "hardware")?,
            enrolled: self.credential_hash.is_some(),
            id: self.id,
            name: self.name,
            token_expires_at: self.token_expires_at,
            token_used_at: self.token_used_at,
            enrolled_at: self.enrolled_at,
            hostname: self.hostname,
            agent_version: self.agent_version,
            proto_minor: self.proto_minor,
            registered_at: self.registered_at,
            docker_ok_at: self.docker_ok_at,
            fused_at: self.fused_at,
            last_seen_at: self.last_seen_at,
            last_event_seq: self.last_event_seq,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// What an enroll token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    /// Valid: the host it belongs to.
    Valid(String),
    Expired(String),
    Reused(String),
    /// Replaced by regenerate-token.
    Revoked(String),
    Unknown,
}

/// One enrollment attempt, accepted or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollAttempt {
    pub id: String,
    pub host_id: Option<String>,
    pub ts: i64,
    pub source_ip: Option<String>,
    pub hostname: Option<String>,
    pub accepted: bool,
    pub reason: String,
}

/// Hardware and versions a worker reports when it registers.
#[derive(Debug, Clone)]
pub struct Registration {
    pub hostname: String,
    pub hardware: Map<String, Value>,
    pub agent_version: String,
    pub proto_minor: i64,
}

/// A stored census snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct CensusSnapshot {
    pub id: String,
    pub node_id: String,
    pub ts: i64,
    pub data: Value,
}

/// Nodes' security policies by node id, as last read.
pub(super) type PolicyCache = super::cache::Cache<String, Option<Map<String, Value>>>;

pub struct Hosts<'a>(pub(super) &'a Store);

impl Hosts<'_> {
    /// Creates a placeholder with the hash of a fresh enroll token.
    pub async fn create(
        &self,
        name: &str,
        labels: &Map<String, Value>,
        token_hash: &str,
        token_expires_at: i64,
    ) -> StoreResult<Host> {
        let now = now_ms();
        let id = new_id();
        sqlx::query(
            "INSERT INTO hosts (id, name, labels, token_hash, token_expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(&id)
        .bind(name)
        .bind(Value::Object(labels.clone()).to_string())
        .bind(token_hash)
        .bind(token_expires_at)
        .bind(now)
        .execute(&self.0.write)
        .await
        .map_err(|e| conflict_on_unique(e, format!("a host named '{name}' exists")))?;
        self.get(&id).await
    }

    pub async fn get(&self, id: &str) -> StoreResult<Host> {
        sqlx::query_as::<_, HostRow>(concat!(
            "SELECT ",
            host_columns!(),
            " FROM hosts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.0.read)
        .await?
        .ok_or(StoreError::NotFound("host"))?
        .into_host()
    }

    /// Hosts ordered by name; `enrolled_only` for the nodes list.
    pub async fn list(
        &self,
        page: Page,
        enrolled_only: bool,
        q: Option<&str>,
    ) -> StoreResult<Paged<Host>> {
        let pattern = format!("%{}%", q.unwrap_or("").to_lowercase());
        let rows = sqlx::query_as::<_, HostRow>(concat!(
            "SELECT ",
            host_columns!(),
            " FROM hosts WHERE ($1 = 0 OR credential_hash IS NOT NULL) \
             AND (lower(name) LIKE $2 OR lower(COALESCE(hostname, '')) LIKE $2) \
             ORDER BY name LIMIT $3 OFFSET $4"
        ))
        .bind(i64::from(enrolled_only))
        .bind(&pattern)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.0.read)
        .await?;
        let total: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM hosts WHERE ($1 = 0 OR credential_hash IS NOT NULL) \
             AND (lower(name) LIKE $2 OR lower(COALESCE(hostname, '')) LIKE $2)",
        )
        .bind(i64::from(enrolled_only))
        .bind(&pattern)
        .fetch_one(&self.0.read)
        .await?
        .try_get("n")?;
        Ok(Paged {
            items: rows
                .into_iter()
                .map(HostRow::into_host)
                .collect::<StoreResult<_>>()?,
            total,
        })
    }

    /// Every enrolled node (for the registry at start-up).
    pub async fn enrolled(&self) -> StoreResult<Vec<Host>> {
        sqlx::query_as::<_, HostRow>(concat!(
            "SELECT ",
            host_columns!(),
            " FROM hosts WHERE credential_hash IS NOT NULL ORDER BY name"
        ))
        .fetch_all(&self.0.read)
        .await?
        .into_iter()
        .map(HostRow::into_host)
        .collect()
    }

    pub async fn delete(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.0.write.begin().await?;
        sqlx::query("DELETE FROM census WHERE node_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM endpoints WHERE node_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM hosts WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("host"));
        }
        let done = tx.commit().await;
        self.0.policies.invalidate();
        done?;
        Ok(())
    }

    /// Removes a node's enrollment: its credential stops working and the host goes back to a
    /// placeholder waiting for a new token.
    pub async fn unenroll(&self, id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM endpoints WHERE node_id = $1")
            .bind(id)
            .execute(&self.0.write)
            .await?;
        let done = sqlx::query(
            "UPDATE hosts SET credential_hash = NULL, token_hash = NULL, token_expires_at = NULL, \
             registered_at = NULL, docker_ok_at = NULL, fused_at = NULL, updated_at = $1 \
             WHERE id = $2 AND credential_hash IS NOT NULL",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.0.write)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("node"));
        }
        Ok(())
    }

    /// Replaces the enroll token; the old one is remembered as revoked.
    pub async fn regenerate_token(
        &self,
        id: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> StoreResult<Host> {
        let done = sqlx::query(
            "UPDATE hosts SET old_token_hash = token_hash, token_hash = $1, token_expires_at = $2, \
             token_used_at = NULL, updated_at = $3 WHERE id = $4",
        )
        .bind(token_hash)
        .bind(expires_at)
        .bind(now_ms())
        .bind(id)
        .execute(&self.0.write)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("host"));
        }
        self.get(id).await
    }

    pub async fn check_token(&self, token_hash: &str) -> StoreResult<TokenCheck> {
        let row = sqlx::query(
            "SELECT id, token_expires_at, token_used_at FROM hosts WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.0.read)
        .await?;
        if let Some(row) = row {
            let id: String = row.try_get("id")?;
            let used: Option<i64> = row.try_get("token_used_at")?;
            let expires: Option<i64> = row.try_get("token_expires_at")?;
            return Ok(if used.is_some() {
                TokenCheck::Reused(id)
            } else if expires.is_none_or(|t| t <= now_ms()) {
                TokenCheck::Expired(id)
            } else {
                TokenCheck::Valid(id)
            });
        }
        let old = sqlx::query("SELECT id FROM hosts WHERE old_token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.0.read)
            .await?;
        Ok(match old {
            Some(row) => TokenCheck::Revoked(row.try_get("id")?),
            None => TokenCheck::Unknown,
        })
    }

    /// Uses the token (once) and stores the node credential. Fails with a conflict when the token
    /// was used or replaced in the meantime.
    pub async fn enroll(
        &self,
        id: &str,
        token_hash: &str,
        credential_hash: &str,
        hostname: &str,
    ) -> StoreResult<()> {
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE hosts SET token_used_at = $1, credential_hash = $2, enrolled_at = $1, \
             hostname = $3, updated_at = $1 \
             WHERE id = $4 AND token_hash = $5 AND token_used_at IS NULL AND token_expires_at > $1",
        )
        .bind(now)
        .bind(credential_hash)
        .bind(hostname)
        .bind(id)
        .bind(token_hash)
        .execute(&self.0.write)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the enroll token was used or replaced".into(),
            ));
        }
        Ok(())
    }

    /// The node a credential belongs to, if it is live.
    pub async fn node_for_credential(&self, credential_hash: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT id FROM hosts WHERE credential_hash = $1")
            .bind(credential_hash)
            .fetch_optional(&self.0.read)
            .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    pub async fn record_attempt(&self, attempt: &EnrollAttempt) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO enroll_attempts (id, host_id, ts, source_ip, hostname, accepted, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new_id())
        .bind(attempt.host_id.as_deref())
        .bind(attempt.ts)
        .bind(attempt.source_ip.as_deref())
        .bind(attempt.hostname.as_deref())
        .bind(i64::from(attempt.accepted))
        .bind(&attempt.reason)
        .execute(&self.0.write)
        .await?;
        Ok(())
    }

    /// Deletes attempts older than `before_ms` and those beyond the newest `max_rows`.
    pub async fn prune_attempts(
        &self,
        before_ms: Option<i64>,
        max_rows: Option<u64>,
    ) -> StoreResult<u64> {
        super::retention::prune(
            self.0,
            super::retention::Log::EnrollAttempts,
            before_ms,
            max_rows,
        )
        .await
    }

    /// How many enrollment attempts are logged, for every host.
    pub async fn attempt_count(&self) -> StoreResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM enroll_attempts")
            .fetch_one(&self.0.read)
            .await?;
        Ok(n)
    }

    /// The host's attempts plus, with `include_unattributed`, those no host could be named for.
    /// A page of a host's enroll attempts, newest first, with their total.
    pub async fn attempts_page(
        &self,
        host_id: &str,
        page: super::Page,
    ) -> StoreResult<super::Paged<EnrollAttempt>> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM enroll_attempts WHERE host_id = $1")
                .bind(host_id)
                .fetch_one(&self.0.read)
                .await?;
        let rows = sqlx::query(
            "SELECT id, host_id, ts, source_ip, hostname, accepted, reason FROM enroll_attempts \
             WHERE host_id = $1 ORDER BY ts DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(host_id)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.0.read)
        .await?;
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(EnrollAttempt {
                    id: r.try_get("id")?,
                    host_id: r.try_get("host_id")?,
                    ts: r.try_get("ts")?,
                    source_ip: r.try_get("source_ip")?,
                    hostname: r.try_get("hostname")?,
                    accepted: r.try_get::<i64, _>("accepted")? != 0,
                    reason: r.try_get("reason")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(super::Paged { items, total })
    }

    pub async fn attempts(&self, host_id: &str, limit: i64) -> StoreResult<Vec<EnrollAttempt>> {
        let rows = sqlx::query(
            "SELECT id, host_id, ts, source_ip, hostname, accepted, reason FROM enroll_attempts \
             WHERE host_id = $1 ORDER BY ts DESC, id DESC LIMIT $2",
        )
        .bind(host_id)
        .bind(limit)
        .fetch_all(&self.0.read)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(EnrollAttempt {
                    id: r.try_get("id")?,
                    host_id: r.try_get("host_id")?,
                    ts: r.try_get("ts")?,
                    source_ip: r.try_get("source_ip")?,
                    hostname: r.try_get("hostname")?,
                    accepted: r.try_get::<i64, _>("accepted")? != 0,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    pub async fn register(&self, id: &str, reg: &Registration) -> StoreResult<()> {
        let now = now_ms();
        sqlx::query(
            "UPDATE hosts SET hostname = $1, hardware = $2, agent_version = $3, proto_minor = $4, \
             registered_at = COALESCE(registered_at, $5), last_seen_at = $5, updated_at = $5 WHERE id = $6",
        )
        .bind(&reg.hostname)
        .bind(Value::Object(reg.hardware.clone()).to_string())
        .bind(&reg.agent_version)
        .bind(reg.proto_minor)
        .bind(now)
        .bind(id)
        .execute(&self.0.write)
        .await?;
        Ok(())
    }

    /// Records that the node's Docker engine answered through the worker.
    pub async fn docker_answered(&self, id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE hosts SET docker_ok_at = $1, updated_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.0.write)
            .await?;
        Ok(())
    }

    /// Marks the host fused. Returns false when a leg is missing (nothing changes then).
    pub async fn fuse(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE hosts SET fused_at = COALESCE(fused_at, $1), updated_at = $1 \
             WHERE id = $2 AND registered_at IS NOT NULL AND docker_ok_at IS NOT NULL",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.0.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_labels(&self, id: &str, labels: &Map<String, Value>) -> StoreResult<Host> {
        self.set_json(id, "UPDATE hosts SET labels = $1, updated_at = $2 WHERE id = $3 AND credential_hash IS NOT NULL", labels)
            .await
    }

    pub async fn set_security_policy(
        &self,
        id: &str,
        policy: &Map<String, Value>,
    ) -> StoreResult<Host> {
        let done = self
            .set_json(
                id,
                "UPDATE hosts SET security_policy = $1, updated_at = $2 WHERE id = $3 AND credential_hash IS NOT NULL",
                policy,
            )
            .await;
        self.0.policies.invalidate();
        done
    }

    /// A node's stored security policy (`None`: no such host). Read on every heartbeat, so it is
    /// served from a cache that policy changes and deletions invalidate.
    pub async fn security_policy(&self, id: &str) -> StoreResult<Option<Map<String, Value>>> {
        let key = id.to_owned();
        let (cached, generation) = self.0.policies.get(&key);
        if let Some(policy) = cached {
            return Ok(policy);
        }
        let policy = match self.get(id).await {
            Ok(host) => Some(host.security_policy),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        self.0.policies.fill(key, policy.clone(), generation);
        Ok(policy)
    }

    async fn set_json(
        &self,
        id: &str,
        sql: &'static str,
        value: &Map<String, Value>,
    ) -> StoreResult<Host> {
        let done = sqlx::query(sql)
            .bind(Value::Object(value.clone()).to_string())
            .bind(now_ms())
            .bind(id)
            .execute(&self.0.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("node"));
        }
        self.get(id).await
    }

    /// Records contact; writes at most every 30 s per node, so heartbeats do not load the writer.
    pub async fn touch_seen(&self, id: &str, at: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE hosts SET last_seen_at = $1 WHERE id = $2 \
             AND (last_seen_at IS NULL OR last_seen_at < $1 - 30000)",
        )
        .bind(at)
        .bind(id)
        .execute(&self.0.write)
        .await?;
        Ok(())
    }

    pub async fn set_last_event_seq(&self, id: &str, seq: i64) -> StoreResult<()> {
        sqlx::query("UPDATE hosts SET last_event_seq = $1 WHERE id = $2 AND last_event_seq < $1")
            .bind(seq)
            .bind(id)
            .execute(&self.0.write)
            .await?;
        Ok(())
    }

    pub async fn add_census(&self, node_id: &str, data: &Value) -> StoreResult<CensusSnapshot> {
        let snap = CensusSnapshot {
            id: new_id(),
            node_id: node_id.to_owned(),
            ts: now_ms(),
            data: data.clone(),
        };
        sqlx::query("INSERT INTO census (id, node_id, ts, data) VALUES ($1, $2, $3, $4)")
            .bind(&snap.id)
            .bind(node_id)
            .bind(snap.ts)
            .bind(data.to_string())
            .execute(&self.0.write)
            .await?;
        Ok(snap)
    }

    /// Newest first; `node_id` None for every node.
    /// A page of census snapshots (without their data), newest first, with their total.
    pub async fn census_page(
        &self,
        node_id: Option<&str>,
        page: super::Page,
    ) -> StoreResult<super::Paged<CensusSnapshot>> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM census WHERE ($1 IS NULL OR node_id = $1)")
                .bind(node_id)
                .fetch_one(&self.0.read)
                .await?;
        let rows = sqlx::query(
            "SELECT id, node_id, ts FROM census WHERE ($1 IS NULL OR node_id = $1) \
             ORDER BY ts DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(node_id)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(&self.0.read)
        .await?;
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(CensusSnapshot {
                    id: r.try_get("id")?,
                    node_id: r.try_get("node_id")?,
                    ts: r.try_get("ts")?,
                    data: serde_json::Value::Null,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(super::Paged { items, total })
    }

    pub async fn census(
        &self,
        node_id: Option<&str>,
        limit: i64,
        with_data: bool,
    ) -> StoreResult<Vec<CensusSnapshot>> {
        let rows = sqlx::query(
            "SELECT id, node_id, ts, CASE WHEN $1 = 1 THEN data ELSE 'null' END AS data FROM census \
             WHERE ($2 IS NULL OR node_id = $2) ORDER BY ts DESC, id DESC LIMIT $3",
        )
        .bind(i64::from(with_data))
        .bind(node_id)
        .bind(limit)
        .fetch_all(&self.0.read)
        .await?;
        rows.into_iter()
            .map(|r| {
                let data: String = r.try_get("data")?;
                Ok(CensusSnapshot {
                    id: r.try_get("id")?,
                    node_id: r.try_get("node_id")?,
                    ts: r.try_get("ts")?,
                    data: serde_json::from_str(&data)
                        .map_err(|e| StoreError::Other(anyhow::anyhow!("stored census: {e}")))?,
                })
            })
            .collect()
    }
}
