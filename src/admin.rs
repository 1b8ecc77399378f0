//! `contextbay admin …`: maintenance commands that work on the store directly, with the master
//! stopped or running.

use anyhow::{Context, bail};

use crate::auth::{Role, password};
use crate::config::Config;
use crate::secrets::{self, SecretBox};
use crate::store::Store;
use crate::store::users::UserUpdate;

/// Where a new password comes from: given, or generated and printed once.
pub enum PasswordSource {
    Given(String),
    Generate,
}

fn resolve_password(source: PasswordSource) -> anyhow::Result<(String, bool)> {
    match source {
        PasswordSource::Given(p) => {
            crate::users::validate_password(&p)?;
            Ok((p, false))
        }
        PasswordSource::Generate => Ok((secrets::random_token(18), true)),
    }
}

pub async fn create_user(
    config: &Config,
    username: &str,
    role: Role,
    source: PasswordSource,
) -> anyhow::Result<String> {
    crate::users::validate_username(username)?;
    let (pw, generated) = resolve_password(source)?;
    let store = Store::open(config).await?;
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw).map(|h| (h, pw))).await??;
    let user = store
        .users()
        .create(username, &hash.0, role)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store.close().await;
    Ok(if generated {
        format!(
            "created {} '{}' with password: {}",
            role.as_str(),
            user.username,
            hash.1
        )
    } else {
        format!("created {} '{}'", role.as_str(), user.username)
    })
}

pub async fn reset_password(
    config: &Config,
    username: &str,
    source: PasswordSource,
) -> anyhow::Result<String> {
    let (pw, generated) = resolve_password(source)?;
    let store = Store::open(config).await?;
    let Some(user) = store
        .users()
        .find_by_username(username)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    else {
        bail!("no user named '{username}'");
    };
    let (hash, pw) =
        tokio::task::spawn_blocking(move || password::hash(&pw).map(|h| (h, pw))).await??;
    store
        .users()
        .update(
            &user.user.id,
            &UserUpdate {
                password_hash: Some(hash),
                ..UserUpdate::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store.close().await;
    Ok(if generated {
        format!("password of '{username}' reset to: {pw} (their sessions were ended)")
    } else {
        format!("password of '{username}' reset (their sessions were ended)")
    })
}

pub async fn rotate_jwt(config: &Config) -> anyhow::Result<String> {
    let root = secrets::load_jwt_secret(config)?;
    let sbox = SecretBox::new(&secrets::load_encryption_key(config)?);
    let store = Store::open(config).await?;
    let tokens = crate::auth::tokens::TokenService::load(config, &root, &store, sbox).await?;
    let rotation = tokens.rotate(&store).await.context("rotating")?;
    store.close().await;
    Ok(format!(
        "new signing key {}; tokens signed by {} stay valid until {} (restart a running master to pick it up)",
        rotation.kid, rotation.previous_kid, rotation.previous_valid_until
    ))
}
