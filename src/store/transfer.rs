//! Applying an import in one transaction: everything or nothing.

use sqlx::Row;

use super::api_keys::ApiKey;
use super::modules::StoredModule;
use super::{Store, StoreError, StoreResult};
use crate::auth::Role;

/// A validated import, ready to apply.
#[derive(Debug, Default)]
pub struct ImportPlan {
    pub users: Vec<ImportUser>,
    pub api_keys: Vec<ImportKey>,
    pub settings: Vec<(String, serde_json::Value)>,
    pub modules: Vec<StoredModule>,
}

#[derive(Debug)]
pub struct ImportUser {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub password_hash: Option<String>,
}

#[derive(Debug)]
pub struct ImportKey {
    pub id: String,
    pub username: String,
    pub name: String,
    pub prefix: String,
    pub role: Role,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub key_hash: String,
}

#[derive(Debug, Default, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub users_created: u64,
    pub users_updated: u64,
    /// Updated users whose sessions were ended (their password hash changed or they were
    /// disabled).
    pub users_signed_out: u64,
    pub api_keys: u64,
    /// Keys whose id or hash already exists here.
    pub api_keys_skipped: u64,
    pub settings: u64,
    pub modules: u64,
}

impl Store {
    /// Applies `plan` atomically. Users are matched by username: existing ones get the imported
    /// role, state and (when given) password hash; new ones keep their exported id when it is free.
    pub async fn import(&self, plan: &ImportPlan) -> StoreResult<ImportReport> {
        let mut report = ImportReport::default();
        let mut tx = self.write.begin().await?;
        // Checked at the end: an enabled admin remains (as with user changes, they take turns).
        self.serialize(&mut tx, super::users::ADMINS_SCOPE).await?;
        for u in &plan.users {
            let existing =
                sqlx::query("SELECT id, password_hash, disabled FROM users WHERE username = $1")
                    .bind(&u.username)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(row) = existing {
                let id: String = row.try_get("id")?;
                let current_hash: Option<String> = row.try_get("password_hash")?;
                let was_disabled: i64 = row.try_get("disabled")?;
                // As with PUT /api/users/{id}: new credentials or a newly disabled account end
                // the user's sessions (access and refresh tokens alike).
                let new_password = u
                    .password_hash
                    .as_deref()
                    .is_some_and(|h| current_hash.as_deref() != Some(h));
                let newly_disabled = u.disabled && was_disabled == 0;
                if new_password || newly_disabled {
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $1, revoked_reason = 'credentials_changed' \
                         WHERE user_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(super::now_ms())
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                    report.users_signed_out += 1;
                }
                sqlx::query(
                    "UPDATE users SET role = $1, disabled = $2, \
                     password_hash = COALESCE($3, password_hash), updated_at = $4 WHERE id = $5",
                )
                .bind(u.role.as_str())
                .bind(i64::from(u.disabled))
                .bind(u.password_hash.as_deref())
                .bind(super::now_ms())
                .bind(&id)
                .execute(&mut *tx)
                .await?;
                report.users_updated += 1;
            } else {
                let taken = sqlx::query("SELECT 1 AS x FROM users WHERE id = $1")
                    .bind(&u.id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
                let id = (!taken).then_some(u.id.as_str());
                super::users::insert(
                    &mut tx,
                    id,
                    &u.username,
                    u.password_hash.as_deref(),
                    u.role,
                    u.disabled,
                )
                .await?;
                report.users_created += 1;
            }
        }
        for k in &plan.api_keys {
            let owner = sqlx::query("SELECT id FROM users WHERE username = $1")
                .bind(&k.username)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "API key '{}' names unknown user '{}'",
                        k.name, k.username
                    ))
                })?;
            let user_id: String = owner.try_get("id")?;
            let exists = sqlx::query("SELECT 1 AS x FROM api_keys WHERE id = $1 OR key_hash = $2")
                .bind(&k.id)
                .bind(&k.key_hash)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if exists {
                report.api_keys_skipped += 1;
                continue;
            }
            let key = ApiKey {
                id: k.id.clone(),
                user_id,
                name: k.name.clone(),
                prefix: k.prefix.clone(),
                role: k.role,
                created_at: k.created_at,
                expires_at: k.expires_at,
                last_used_at: None,
            };
            super::api_keys::insert(&mut tx, &key, &k.key_hash).await?;
            report.api_keys += 1;
        }
        for (key, value) in &plan.settings {
            super::settings::upsert(&mut tx, key, value, Some("import")).await?;
            report.settings += 1;
        }
        for m in &plan.modules {
            super::modules::upsert(&mut tx, m).await?;
            report.modules += 1;
        }
        let admins: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0")
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        if admins == 0 {
            return Err(StoreError::Conflict(
                "the import would leave no enabled admin; nothing was imported".into(),
            ));
        }
        let done = tx.commit().await;
        self.modules.invalidate();
        self.sessions.invalidate();
        self.api_keys.invalidate();
        done?;
        Ok(report)
    }
}
