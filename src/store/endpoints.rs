//! Docker endpoints.

use super::{Store, StoreError, StoreResult, conflict_on_unique, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEndpoint {
    pub id: String,
    pub name: String,
    /// `local`, `agent` or `tcp`.
    pub kind: String,
    pub node_id: Option<String>,
    pub url: Option<String>,
    /// Sealed JSON `{ca, cert, key}` for tcp endpoints.
    pub tls: Option<String>,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    kind: String,
    node_id: Option<String>,
    url: Option<String>,
    tls: Option<String>,
    created_at: i64,
}

impl From<Row> for StoredEndpoint {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            name: r.name,
            kind: r.kind,
            node_id: r.node_id,
            url: r.url,
            tls: r.tls,
            created_at: r.created_at,
        }
    }
}

pub struct Endpoints<'a>(pub(super) &'a Store);

impl Endpoints<'_> {
    pub async fn all(&self) -> StoreResult<Vec<StoredEndpoint>> {
        Ok(sqlx::query_as::<_, Row>(
            "SELECT id, name, kind, node_id, url, tls, created_at FROM endpoints ORDER BY name",
        )
        .fetch_all(&self.0.read)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
    }

    pub async fn get(&self, id: &str) -> StoreResult<StoredEndpoint> {
        sqlx::query_as::<_, Row>(
            "SELECT id, name, kind, node_id, url, tls, created_at FROM endpoints WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.0.read)
        .await?
        .map(Into::into)
        .ok_or(StoreError::NotFound("endpoint"))
    }

    /// Inserts, or does nothing when an endpoint with this id exists (local and agent endpoints
    /// are ensured on every start and fuse).
    pub async fn ensure(&self, e: &StoredEndpoint) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO endpoints (id, name, kind, node_id, url, tls, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&e.id)
        .bind(&e.name)
        .bind(&e.kind)
        .bind(e.node_id.as_deref())
        .bind(e.url.as_deref())
        .bind(e.tls.as_deref())
        .bind(now_ms())
        .execute(&self.0.write)
        .await
        .map_err(|err| conflict_on_unique(err, format!("an endpoint named '{}' exists", e.name)))?;
        Ok(())
    }

    pub async fn insert(&self, e: &StoredEndpoint) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO endpoints (id, name, kind, node_id, url, tls, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&e.id)
        .bind(&e.name)
        .bind(&e.kind)
        .bind(e.node_id.as_deref())
        .bind(e.url.as_deref())
        .bind(e.tls.as_deref())
        .bind(e.created_at)
        .execute(&self.0.write)
        .await
        .map_err(|err| conflict_on_unique(err, format!("an endpoint named '{}' exists", e.name)))?;
        Ok(())
    }

    /// The endpoint's own security policy, JSON (`None`: it has none and follows the default).
    pub async fn security_policy(&self, id: &str) -> StoreResult<Option<String>> {
        let row: Option<(Option<String>,)> =
            sqlx::query_as("SELECT security_policy FROM endpoints WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.0.read)
                .await?;
        row.map(|(p,)| p).ok_or(StoreError::NotFound("endpoint"))
    }

    /// Sets the endpoint's own security policy (JSON), or clears it with `None`.
    pub async fn set_security_policy(&self, id: &str, policy: Option<&str>) -> StoreResult<()> {
        let done = sqlx::query("UPDATE endpoints SET security_policy = $1 WHERE id = $2")
            .bind(policy)
            .bind(id)
            .execute(&self.0.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("endpoint"));
        }
        Ok(())
    }

    pub async fn delete(&self, id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM endpoints WHERE id = $1")
            .bind(id)
            .execute(&self.0.write)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("endpoint"));
        }
        Ok(())
    }
}
