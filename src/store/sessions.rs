//! Login sessions (refresh-token families).

use super::users::User;
use super::{Store, StoreError, StoreResult, new_id, now_ms};
use crate::auth::Role;

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub refresh_jti: String,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl Session {
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    user_id: String,
    refresh_jti: String,
    expires_at: i64,
    revoked_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct SessionUserRow {
    revoked_at: Option<i64>,
    expires_at: i64,
    id: String,
    username: String,
    role: String,
    disabled: i64,
    created_at: i64,
    updated_at: i64,
    last_login_at: Option<i64>,
}

/// A live session's user and when the session expires, by session id.
pub(super) type SessionCache = super::cache::Cache<String, Option<(User, i64)>>;

pub struct Sessions<'a>(pub(super) &'a Store);

impl Sessions<'_> {
    pub async fn create(
        &self,
        user_id: &str,
        refresh_jti: &str,
        ttl_ms: i64,
        source_ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> StoreResult<Session> {
        let now = now_ms();
        let id = new_id();
        sqlx::query(
            "INSERT INTO sessions (id, user_id, refresh_jti, created_at, refreshed_at, \
             expires_at, source_ip, user_agent) VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(refresh_jti)
        .bind(now)
        .bind(now + ttl_ms)
        .bind(source_ip)
        .bind(user_agent.map(|ua| ua.chars().take(256).collect::<String>()))
        .execute(&self.0.write)
        .await?;
        Ok(Session {
            id,
            user_id: user_id.to_owned(),
            refresh_jti: refresh_jti.to_owned(),
            expires_at: now + ttl_ms,
            revoked_at: None,
        })
    }

    /// Whether the user has started a session from `source_ip` since `since_ms` (a successful
    /// login from there): the address is one of the user's usual ones.
    pub async fn started_from(
        &self,
        user_id: &str,
        source_ip: &str,
        since_ms: i64,
    ) -> StoreResult<bool> {
        Ok(sqlx::query(
            "SELECT 1 AS x FROM sessions WHERE user_id = $1 AND source_ip = $2 \
             AND created_at >= $3 LIMIT 1",
        )
        .bind(user_id)
        .bind(source_ip)
        .bind(since_ms)
        .fetch_optional(&self.0.read)
        .await?
        .is_some())
    }

    pub async fn get(&self, id: &str) -> StoreResult<Session> {
        let row = sqlx::query_as::<_, SessionRow>(
            "SELECT id, user_id, refresh_jti, expires_at, revoked_at FROM sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.0.read)
        .await?
        .ok_or(StoreError::NotFound("session"))?;
        Ok(Session {
            id: row.id,
            user_id: row.user_id,
            refresh_jti: row.refresh_jti,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
        })
    }

    /// The user behind a live session, or `None` when the session is unknown, revoked, expired or
    /// its user is disabled. One indexed query: this runs on every token-authenticated request.
    /// The user of a live session: not revoked, not expired, user enabled. Runs on every
    /// authenticated request, so it is served from the session cache when it can be.
    pub async fn live_user(&self, id: &str) -> StoreResult<Option<User>> {
        let key = id.to_owned();
        let (cached, generation) = self.0.sessions.get(&key);
        let live = match cached {
            Some(live) => live,
            None => {
                let live = self.read_live_user(id).await?;
                self.0.sessions.fill(key, live.clone(), generation);
                live
            }
        };
        Ok(live
            .filter(|(_, expires_at)| *expires_at > now_ms())
            .map(|(user, _)| user))
    }

    async fn read_live_user(&self, id: &str) -> StoreResult<Option<(User, i64)>> {
        let row = sqlx::query_as::<_, SessionUserRow>(
            "SELECT s.revoked_at, s.expires_at, u.id, u.username, u.role, u.disabled, \
             u.created_at, u.updated_at, u.last_login_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.0.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        if row.revoked_at.is_some() || row.expires_at <= now_ms() || row.disabled != 0 {
            return Ok(None);
        }
        let Some(role) = Role::parse(&row.role) else {
            return Ok(None);
        };
        let user = User {
            id: row.id,
            username: row.username,
            role,
            disabled: false,
            created_at: row.created_at,
            updated_at: row.updated_at,
            last_login_at: row.last_login_at,
        };
        Ok(Some((user, row.expires_at)))
    }

    /// Replaces the family's refresh token id, only if `old_jti` is still the current one.
    /// Returns false when it was not (the caller treats that as reuse).
    pub async fn rotate(&self, id: &str, old_jti: &str, new_jti: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET refresh_jti = $1, refreshed_at = $2 \
             WHERE id = $3 AND refresh_jti = $4 AND revoked_at IS NULL",
        )
        .bind(new_jti)
        .bind(now_ms())
        .bind(id)
        .bind(old_jti)
        .execute(&self.0.write)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn revoke(&self, id: &str, reason: &str) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
             WHERE id = $3 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(reason)
        .bind(id)
        .execute(&self.0.write)
        .await;
        self.0.sessions.invalidate();
        done?;
        Ok(())
    }
}
