//! `/api/settings/{key}` (admin): named settings with defaults and validation.

use super::extract::Body;
use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::ts;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// A known setting: its default and what values it takes.
struct Known {
    key: &'static str,
    default: fn() -> Value,
    validate: fn(&Value) -> Result<(), String>,
}

const KNOWN: &[Known] = &[
    Known {
        key: "ui.instance_name",
        default: || Value::from("ContextBay"),
        validate: |v| match v.as_str() {
            Some(s) if (1..=100).contains(&s.chars().count()) => Ok(()),
            _ => Err("must be a string of 1 to 100 characters".into()),
        },
    },
    Known {
        key: "ui.default_theme",
        default: || Value::from("system"),
        validate: |v| match v.as_str() {
            Some("dark" | "light" | "system") => Ok(()),
            _ => Err("must be \"dark\", \"light\" or \"system\"".into()),
        },
    },
    Known {
        key: "ui.announcement",
        default: || Value::from(""),
        validate: |v| match v.as_str() {
            Some(s) if s.chars().count() <= 500 => Ok(()),
            _ => Err("must be a string of at most 500 characters".into()),
        },
    },
];

/// Free-form settings for integrations and scripts live under `custom.`.
const CUSTOM_PREFIX: &str = "custom.";
const MAX_CUSTOM_BYTES: usize = 64 * 1024;

#[derive(Debug, Serialize, ToSchema)]
pub struct SettingView {
    pub key: String,
    pub value: Value,
    /// Null while the setting has its default value.
    pub updated_at: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSetting {
    pub value: Value,
}

/// Validates a key and returns its default (`None` for custom keys).
fn resolve(key: &str) -> ApiResult<Option<Value>> {
    if let Some(k) = KNOWN.iter().find(|k| k.key == key) {
        return Ok(Some((k.default)()));
    }
    if let Some(rest) = key.strip_prefix(CUSTOM_PREFIX)
        && !rest.is_empty()
        && key.len() <= 128
        && rest
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
    {
        return Ok(None);
    }
    let known: Vec<_> = KNOWN.iter().map(|k| k.key).collect();
    Err(ApiError::not_found(format!(
        "unknown setting '{key}'; known settings are {} and custom.<name>",
        known.join(", ")
    )))
}

/// The value of a setting (its default while unset).
#[utoipa::path(get, path = "/api/settings/{key}", tag = "settings", params(("key" = String, Path)),
    responses((status = 200, body = SettingView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    key: web::Path<String>,
) -> ApiResult<web::Json<SettingView>> {
    let default = resolve(&key)?;
    match state.store.settings().get(&key).await? {
        Some(s) => Ok(web::Json(SettingView {
            key: s.key,
            value: s.value,
            updated_at: Some(ts(s.updated_at)),
        })),
        None => match default {
            Some(value) => Ok(web::Json(SettingView {
                key: key.into_inner(),
                value,
                updated_at: None,
            })),
            None => Err(ApiError::not_found(format!("setting '{key}' is not set"))),
        },
    }
}

#[utoipa::path(put, path = "/api/settings/{key}", tag = "settings", params(("key" = String, Path)), request_body = PutSetting,
    responses((status = 200, body = SettingView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put(
    state: web::Data<AppState>,
    principal: Principal,
    key: web::Path<String>,
    body: Body<PutSetting>,
) -> ApiResult<web::Json<SettingView>> {
    resolve(&key)?;
    let value = body.into_inner().value;
    validate(&key, &value).map_err(ApiError::bad_request)?;
    let stored = state
        .store
        .settings()
        .put(&key, &value, &principal.username)
        .await?;
    state
        .events
        .publish_committed(crate::events::SettingUpdated {
            key: stored.key.clone(),
        })
        .await;
    Ok(web::Json(SettingView {
        key: stored.key,
        value: stored.value,
        updated_at: Some(ts(stored.updated_at)),
    }))
}

/// Checks a key and value as `PUT` would, for import.
pub fn validate(key: &str, value: &Value) -> Result<(), String> {
    resolve(key).map_err(|e| e.message)?;
    if let Some(k) = KNOWN.iter().find(|k| k.key == key) {
        (k.validate)(value).map_err(|e| format!("{key} {e}"))?;
    } else if value.to_string().len() > MAX_CUSTOM_BYTES {
        return Err(format!("{key} holds more than 64 KiB"));
    }
    Ok(())
}
