//! Signing keys created by `rotate-jwt`, sealed at rest.

use super::{Store, StoreResult, now_ms};

#[derive(Debug, Clone)]
pub struct StoredJwtKey {
    pub kid: String,
    /// Sealed secret; `None` for the configured root secret.
    pub secret_enc: Option<String>,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    kid: String,
    secret_enc: Option<String>,
    created_at: i64,
    retired_at: Option<i64>,
}

pub struct JwtKeys<'a>(pub(super) &'a Store);

impl JwtKeys<'_> {
    pub async fn all(&self) -> StoreResult<Vec<StoredJwtKey>> {
        Ok(sqlx::query_as::<_, KeyRow>(
            "SELECT kid, secret_enc, created_at, retired_at FROM jwt_keys ORDER BY created_at",
        )
        .fetch_all(&self.0.read)
        .await?
        .into_iter()
        .map(|r| StoredJwtKey {
            kid: r.kid,
            secret_enc: r.secret_enc,
            created_at: r.created_at,
            retired_at: r.retired_at,
        })
        .collect())
    }

    /// Retires `current_kid` (recording it if it is the configured secret) and stores the new key,
    /// in one transaction.
    pub async fn rotate(
        &self,
        current_kid: &str,
        new_kid: &str,
        new_secret_enc: &str,
    ) -> StoreResult<i64> {
        let now = now_ms();
        let mut tx = self.0.write.begin().await?;
        let updated = sqlx::query(
            "UPDATE jwt_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL",
        )
        .bind(now)
        .bind(current_kid)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO jwt_keys (kid, secret_enc, created_at, retired_at) \
                 VALUES ($1, NULL, $2, $2)",
            )
            .bind(current_kid)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("INSERT INTO jwt_keys (kid, secret_enc, created_at) VALUES ($1, $2, $3)")
            .bind(new_kid)
            .bind(new_secret_enc)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(now)
    }
}
