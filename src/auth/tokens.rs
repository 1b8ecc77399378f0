//! JWTs per RFC 8725: HS256 only, explicit `typ` (`at+jwt` for access, `refresh+jwt` for
//! refresh, so neither passes for the other), `iss`/`aud`/`exp` checked, `kid` naming the key.
//!
//! The key set is owned by [`TokenService`] and published through a `watch` channel: requests
//! read a snapshot without locking, and `rotate` (the only writer) persists the new key before it
//! publishes the new set.

use std::sync::Arc;

use anyhow::Context;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::config::Config;
use crate::secrets::{SecretBox, random_token, sha256_hex};
use crate::store::{Store, now_ms};

pub const ACCESS_TYP: &str = "at+jwt";
pub const REFRESH_TYP: &str = "refresh+jwt";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// User id.
    pub sub: String,
    /// Session (refresh family) id.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token algorithm not allowed")]
    Algorithm,
    #[error("wrong token type")]
    WrongType,
    #[error("unknown or retired signing key")]
    UnknownKey,
    #[error("token expired")]
    Expired,
    #[error("invalid token")]
    Invalid,
}

#[derive(Clone)]
struct SigningKey {
    kid: String,
    secret: Vec<u8>,
    /// `None` while active; the end of the grace period once retired.
    valid_until: Option<i64>,
}

#[derive(Clone)]
struct KeySet {
    active: SigningKey,
    retired: Vec<SigningKey>,
}

impl KeySet {
    fn find(&self, kid: &str, now: i64) -> Option<&SigningKey> {
        if self.active.kid == kid {
            return Some(&self.active);
        }
        self.retired
            .iter()
            .find(|k| k.kid == kid && k.valid_until.is_some_and(|t| t > now))
    }
}

/// What `rotate-jwt` reports.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rotation {
    pub kid: String,
    pub previous_kid: String,
    /// RFC 3339: tokens signed with the previous key are accepted until then.
    pub previous_valid_until: String,
    pub grace_seconds: u64,
}

/// Issues and verifies tokens; owns the signing keys.
pub struct TokenService {
    issuer: String,
    audience: String,
    access_ttl_secs: i64,
    refresh_ttl_secs: i64,
    grace_ms: i64,
    secret_box: SecretBox,
    keys: watch::Sender<Arc<KeySet>>,
}

impl TokenService {
    /// Builds the key set from the configured root secret and the keys stored by earlier
    /// rotations.
    pub async fn load(
        config: &Config,
        root_secret: &str,
        store: &Store,
        secret_box: SecretBox,
    ) -> anyhow::Result<Self> {
        let grace_ms = i64::try_from(config.auth.rotation_grace_secs)
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(1000);
        let set = build_key_set(root_secret, store, &secret_box, grace_ms).await?;
        let (keys, _) = watch::channel(Arc::new(set));
        Ok(Self {
            issuer: config.auth.issuer.clone(),
            audience: config.auth.audience.clone(),
            access_ttl_secs: i64::try_from(config.auth.access_ttl_secs).unwrap_or(900),
            refresh_ttl_secs: i64::try_from(config.auth.refresh_ttl_secs).unwrap_or(86_400),
            grace_ms,
            secret_box,
            keys,
        })
    }

    pub fn access_ttl_secs(&self) -> i64 {
        self.access_ttl_secs
    }

    pub fn refresh_ttl_secs(&self) -> i64 {
        self.refresh_ttl_secs
    }

    pub fn issue_access(&self, user_id: &str, session_id: &str) -> anyhow::Result<String> {
        self.issue(
            ACCESS_TYP,
            user_id,
            session_id,
            &random_token(12),
            self.access_ttl_secs,
        )
    }

    pub fn issue_refresh(
        &self,
        user_id: &str,
        session_id: &str,
        jti: &str,
    ) -> anyhow::Result<String> {
        self.issue(REFRESH_TYP, user_id, session_id, jti, self.refresh_ttl_secs)
    }

    fn issue(
        &self,
        typ: &str,
        sub: &str,
        sid: &str,
        jti: &str,
        ttl: i64,
    ) -> anyhow::Result<String> {
        let keys = self.keys.borrow().clone();
        let now = now_ms() / 1000;
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: sub.to_owned(),
            sid: sid.to_owned(),
            iat: now,
            exp: now + ttl,
            jti: jti.to_owned(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(typ.to_owned());
        header.kid = Some(keys.active.kid.clone());
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(&keys.active.secret),
        )
        .context("signing token")
    }

    pub fn verify_access(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify(token, ACCESS_TYP)
    }

    pub fn verify_refresh(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify(token, REFRESH_TYP)
    }

    fn verify(&self, token: &str, typ: &str) -> Result<Claims, TokenError> {
        if token.len() > 4096 {
            return Err(TokenError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Algorithm);
        }
        if header.typ.as_deref() != Some(typ) {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let keys = self.keys.borrow().clone();
        let key = keys.find(&kid, now_ms()).ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&key.secret), &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => TokenError::Algorithm,
                _ => TokenError::Invalid,
            })
    }

    /// Makes a new active key; the previous one stays valid for the grace period.
    pub async fn rotate(&self, store: &Store) -> anyhow::Result<Rotation> {
        let previous = self.keys.borrow().active.kid.clone();
        let secret = random_token(48);
        let kid = format!("k-{}", &sha256_hex(secret.as_bytes())[..12]);
        let sealed = self.secret_box.seal(&secret)?;
        let retired_at = store
            .jwt_keys()
            .rotate(&previous, &kid, &sealed)
            .await
            .context("storing the new signing key")?;
        let valid_until = retired_at + self.grace_ms;
        self.keys.send_modify(|set| {
            let mut next = (**set).clone();
            let mut old = std::mem::replace(
                &mut next.active,
                SigningKey {
                    kid: kid.clone(),
                    secret: secret.into_bytes(),
                    valid_until: None,
                },
            );
            old.valid_until = Some(valid_until);
            next.retired.push(old);
            *set = Arc::new(next);
        });
        Ok(Rotation {
            kid,
            previous_kid: previous,
            previous_valid_until: contextbay_actors::rfc3339_from_millis(valid_until),
            grace_seconds: u64::try_from(self.grace_ms / 1000).unwrap_or(0),
        })
    }
}

/// The key id of the configured root secret: derived from it, so it changes when the secret does.
pub fn root_kid(root_secret: &str) -> String {
    format!("root-{}", &sha256_hex(root_secret.as_bytes())[..12])
}

async fn build_key_set(
    root_secret: &str,
    store: &Store,
    secret_box: &SecretBox,
    grace_ms: i64,
) -> anyhow::Result<KeySet> {
    let root = root_kid(root_secret);
    let stored = store
        .jwt_keys()
        .all()
        .await
        .context("loading signing keys")?;
    let mut active: Option<SigningKey> = None;
    let mut retired = Vec::new();
    let mut root_retired_at = None;
    for key in stored {
        if key.kid == root {
            root_retired_at = key.retired_at;
            continue;
        }
        let Some(sealed) = key.secret_enc else {
            continue; // an older root secret: not configured any more, nothing to verify with
        };
        let secret = secret_box
            .open(&sealed)
            .with_context(|| format!("opening signing key {}", key.kid))?;
        let k = SigningKey {
            kid: key.kid,
            secret: secret.into_bytes(),
            valid_until: key.retired_at.map(|t| t + grace_ms),
        };
        if k.valid_until.is_none() {
            // Newest active wins; rotation keeps at most one, this is belt and braces.
            if let Some(mut prev) = active.replace(k) {
                prev.valid_until = Some(now_ms() + grace_ms);
                retired.push(prev);
            }
        } else {
            retired.push(k);
        }
    }
    let root_key = SigningKey {
        kid: root,
        secret: root_secret.as_bytes().to_vec(),
        valid_until: root_retired_at.map(|t| t + grace_ms),
    };
    let active = match active {
        Some(k) => {
            retired.push(root_key);
            k
        }
        None => SigningKey {
            valid_until: None,
            ..root_key
        },
    };
    Ok(KeySet { active, retired })
}
