//! Users and their password hashes.

use sqlx::Row;

use super::{Page, Paged, Store, StoreError, StoreResult, conflict_on_unique, new_id, now_ms};
use crate::auth::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
}

/// A user with the fields only login and export may see.
#[derive(Debug, Clone)]
pub struct UserWithHash {
    pub user: User,
    pub password_hash: Option<String>,
}

/// The changes `PUT /api/users/{id}` may make.
#[derive(Debug, Default, Clone)]
pub struct UserUpdate {
    pub role: Option<Role>,
    pub password_hash: Option<String>,
    pub disabled: Option<bool>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    username: String,
    password_hash: Option<String>,
    role: String,
    disabled: i64,
    created_at: i64,
    updated_at: i64,
    last_login_at: Option<i64>,
}

impl UserRow {
    fn into_user(self) -> StoreResult<UserWithHash> {
        let role = Role::parse(&self.role).ok_or_else(|| {
            StoreError::Other(anyhow::anyhow!("stored role '{}' is unknown", self.role))
        })?;
        Ok(UserWithHash {
            user: User {
                id: self.id,
                username: self.username,
                role,
                disabled: self.disabled != 0,
                created_at: self.created_at,
                updated_at: self.updated_at,
                last_login_at: self.last_login_at,
            },
            password_hash: self.password_hash,
        })
    }
}

macro_rules! user_columns {
    () => {
        "id, username, password_hash, role, disabled, created_at, updated_at, last_login_at"
    };
}

pub struct Users<'a>(pub(super) &'a Store);

impl Users<'_> {
    pub async fn count(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.0.read)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Creates the first admin, only while there is no user at all. Counting users is not
    /// enough on its own: under PostgreSQL's read committed, two transactions both count zero and
    /// both insert. So the transaction also claims the one row of `setup_claim`; its primary key
    /// lets exactly one claim commit, the others fail with a unique violation (on SQLite the
    /// single writer serialises them anyway).
    pub async fn create_first_admin(&self, username: &str, hash: &str) -> StoreResult<User> {
        let already = || StoreError::Conflict("setup has already been completed".into());
        let mut tx = self.0.write.begin().await?;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&mut *tx)
            .await?;
        let n: i64 = row.try_get("n")?;
        if n > 0 {
            return Err(already());
        }
        let user = insert(&mut tx, None, username, Some(hash), Role::Admin, false).await?;
        sqlx::query("INSERT INTO setup_claim (id, user_id, created_at) VALUES (1, $1, $2)")
            .bind(&user.id)
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_on_unique(e, "setup has already been completed"))?;
        tx.commit()
            .await
            .map_err(|e| conflict_on_unique(e, "setup has already been completed"))?;
        Ok(user)
    }

    pub async fn create(&self, username: &str, hash: &str, role: Role) -> StoreResult<User> {
        let mut tx = self.0.write.begin().await?;
        let user = insert(&mut tx, None, username, Some(hash), role, false).await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn get(&self, id: &str) -> StoreResult<User> {
        Ok(self.get_with_hash(id).await?.user)
    }

    pub async fn get_with_hash(&self, id: &str) -> StoreResult<UserWithHash> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        sqlx::query_as::<_, UserRow>(sql)
            .bind(id)
            .fetch_optional(&self.0.read)
            .await?
            .ok_or(StoreError::NotFound("user"))?
            .into_user()
    }

    pub async fn find_by_username(&self, username: &str) -> StoreResult<Option<UserWithHash>> {
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = $1"
        );
        sqlx::query_as::<_, UserRow>(sql)
            .bind(username)
            .fetch_optional(&self.0.read)
            .await?
            .map(UserRow::into_user)
            .transpose()
    }

    /// Users ordered by username; `q` matches a substring of the username, case-insensitively.
    pub async fn list(&self, page: Page, q: Option<&str>) -> StoreResult<Paged<User>> {
        let pattern = format!("%{}%", q.unwrap_or("").to_lowercase());
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE lower(username) LIKE $1 \
             ORDER BY username LIMIT $2 OFFSET $3"
        );
        let rows = sqlx::query_as::<_, UserRow>(sql)
            .bind(&pattern)
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(&self.0.read)
            .await?;
        let total: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM users WHERE lower(username) LIKE $1")
                .bind(&pattern)
                .fetch_one(&self.0.read)
                .await?
                .try_get("n")?;
        let items = rows
            .into_iter()
            .map(|r| r.into_user().map(|u| u.user))
            .collect::<StoreResult<_>>()?;
        Ok(Paged { items, total })
    }

    /// Applies an update; refuses to leave the installation without an enabled admin. A new
    /// password revokes the user's sessions in the same transaction.
    pub async fn update(&self, id: &str, update: &UserUpdate) -> StoreResult<User> {
        let mut tx = self.0.write.begin().await?;
        // Checked below: an enabled admin remains (concurrent changes take turns).
        self.0.serialize(&mut tx, ADMINS_SCOPE).await?;
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        let current = sqlx::query_as::<_, UserRow>(sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("user"))?
            .into_user()?
            .user;
        let role = update.role.unwrap_or(current.role);
        let disabled = update.disabled.unwrap_or(current.disabled);
        let loses_admin =
            current.role == Role::Admin && !current.disabled && (role != Role::Admin || disabled);
        if loses_admin && other_enabled_admins(&mut tx, id).await? == 0 {
            return Err(StoreError::Conflict(
                "this is the last enabled admin; make another user admin first".into(),
            ));
        }
        let now = now_ms();
        sqlx::query(
            "UPDATE users SET role = $1, disabled = $2, updated_at = $3, \
             password_hash = COALESCE($4, password_hash) WHERE id = $5",
        )
        .bind(role.as_str())
        .bind(i64::from(disabled))
        .bind(now)
        .bind(update.password_hash.as_deref())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if update.password_hash.is_some() || (disabled && !current.disabled) {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $1, revoked_reason = 'credentials_changed' \
                 WHERE user_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        let done = tx.commit().await;
        self.0.sessions.invalidate();
        self.0.api_keys.invalidate();
        done?;
        Ok(User {
            role,
            disabled,
            updated_at: now,
            ..current
        })
    }

    /// Deletes a user with their sessions and API keys; refuses to delete the last enabled admin.
    pub async fn delete(&self, id: &str) -> StoreResult<User> {
        let mut tx = self.0.write.begin().await?;
        // Checked below: an enabled admin remains (concurrent changes take turns).
        self.0.serialize(&mut tx, ADMINS_SCOPE).await?;
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
        let current = sqlx::query_as::<_, UserRow>(sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("user"))?
            .into_user()?
            .user;
        if current.role == Role::Admin
            && !current.disabled
            && other_enabled_admins(&mut tx, id).await? == 0
        {
            return Err(StoreError::Conflict(
                "this is the last enabled admin and cannot be deleted".into(),
            ));
        }
        for sql in [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM api_keys WHERE user_id = $1",
            "DELETE FROM users WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        let done = tx.commit().await;
        self.0.sessions.invalidate();
        self.0.api_keys.invalidate();
        done?;
        Ok(current)
    }

    pub async fn touch_login(&self, id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.0.write)
            .await?;
        Ok(())
    }

    /// Every user with hashes, for export.
    pub async fn all_with_hashes(&self) -> StoreResult<Vec<UserWithHash>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users ORDER BY username");
        sqlx::query_as::<_, UserRow>(sql)
            .fetch_all(&self.0.read)
            .await?
            .into_iter()
            .map(UserRow::into_user)
            .collect()
    }
}

/// The scope of [`Store::serialize`] for changes that may remove an enabled admin.
pub(super) const ADMINS_SCOPE: &str = "users.enabled_admins";

async fn other_enabled_admins(tx: &mut sqlx::AnyConnection, id: &str) -> StoreResult<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0 AND id <> $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(row.try_get("n")?)
}

/// Inserts a user inside a transaction (also used by import). `id` None mints a new one.
pub(super) async fn insert(
    tx: &mut sqlx::AnyConnection,
    id: Option<&str>,
    username: &str,
    hash: Option<&str>,
    role: Role,
    disabled: bool,
) -> StoreResult<User> {
    let now = now_ms();
    let id = id.map_or_else(new_id, str::to_owned);
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, role, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&id)
    .bind(username)
    .bind(hash)
    .bind(role.as_str())
    .bind(i64::from(disabled))
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| conflict_on_unique(e, format!("username '{username}' is already taken")))?;
    Ok(User {
        id,
        username: username.to_owned(),
        role,
        disabled,
        created_at: now,
        updated_at: now,
        last_login_at: None,
    })
}
