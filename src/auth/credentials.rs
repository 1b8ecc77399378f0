//! Turning the credentials a request carries into a [`Principal`].
//!
//! Order: `Authorization: Bearer` (an access JWT), then `X-API-Key`, then the `cb_session`
//! cookie. A credential that is present but bad is an error: there is no falling through to the
//! next kind. Tokens are never read from the query string.

use super::tokens::TokenService;
use super::{AuthMethod, Principal};
use crate::secrets::sha256_hex;
use crate::store::{Store, now_ms};

pub const SESSION_COOKIE: &str = "cb_session";
pub const REFRESH_COOKIE: &str = "cb_refresh";
pub const API_KEY_HEADER: &str = "x-api-key";
pub const API_KEY_PREFIX: &str = "cb_";

/// The credentials found on a request.
#[derive(Debug, Default)]
pub struct Presented<'a> {
    pub authorization: Option<&'a str>,
    pub api_key: Option<&'a str>,
    pub session_cookie: Option<&'a str>,
}

impl Presented<'_> {
    pub fn is_empty(&self) -> bool {
        self.authorization.is_none() && self.api_key.is_none() && self.session_cookie.is_none()
    }
}

/// Why authentication failed. Messages are safe to show.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("authentication required")]
    Missing,
    #[error("the Authorization header must be 'Bearer <token>'")]
    BadScheme,
    #[error("invalid access token: {0}")]
    Token(super::tokens::TokenError),
    #[error("the session has ended; log in again")]
    SessionEnded,
    #[error("invalid API key")]
    BadApiKey,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Resolves the caller. `Ok(None)` when no credential was presented.
pub async fn authenticate(
    presented: &Presented<'_>,
    tokens: &TokenService,
    store: &Store,
) -> Result<Option<Principal>, AuthFailure> {
    if let Some(header) = presented.authorization {
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(AuthFailure::BadScheme)?
            .trim();
        return session_principal(token, AuthMethod::Jwt, tokens, store)
            .await
            .map(Some);
    }
    if let Some(key) = presented.api_key {
        return api_key_principal(key.trim(), store).await.map(Some);
    }
    if let Some(cookie) = presented.session_cookie {
        return session_principal(cookie, AuthMethod::Cookie, tokens, store)
            .await
            .map(Some);
    }
    Ok(None)
}

async fn session_principal(
    token: &str,
    method: AuthMethod,
    tokens: &TokenService,
    store: &Store,
) -> Result<Principal, AuthFailure> {
    let claims = tokens.verify_access(token).map_err(AuthFailure::Token)?;
    let user = store
        .sessions()
        .live_user(&claims.sid)
        .await?
        .filter(|u| u.id == claims.sub)
        .ok_or(AuthFailure::SessionEnded)?;
    Ok(Principal {
        user_id: user.id,
        username: user.username,
        role: user.role,
        method,
        session_id: Some(claims.sid),
        api_key_id: None,
    })
}

async fn api_key_principal(key: &str, store: &Store) -> Result<Principal, AuthFailure> {
    if !key.starts_with(API_KEY_PREFIX) || key.len() < 40 || key.len() > 128 {
        return Err(AuthFailure::BadApiKey);
    }
    let owner = store
        .api_keys()
        .find_live_by_hash(&sha256_hex(key.as_bytes()))
        .await?
        .filter(|o| !o.user_disabled)
        .ok_or(AuthFailure::BadApiKey)?;
    // Recording every use would put a write on every request; a minute's precision is enough.
    if owner.key.last_used_at.is_none_or(|t| now_ms() - t > 60_000) {
        let store = store.clone();
        let id = owner.key.id.clone();
        tokio::spawn(async move {
            if let Err(err) = store.api_keys().touch(&id).await {
                tracing::warn!(%err, "recording API key use");
            }
        });
    }
    Ok(Principal {
        user_id: owner.key.user_id.clone(),
        username: owner.username,
        // A key never grants more than its owner has now.
        role: owner.key.role.min(owner.user_role),
        method: AuthMethod::ApiKey,
        session_id: None,
        api_key_id: Some(owner.key.id),
    })
}
