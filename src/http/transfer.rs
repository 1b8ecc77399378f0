//! `GET /api/export` and `POST /api/import` (admin): the whole configuration as one document.
//!
//! Secrets never leave in clear text: module secrets stay sealed with this installation's
//! encryption key, and password / API key hashes are included only with `?include_secrets=true`.
//! Import validates the whole document first and then applies it in one transaction.

use super::extract::{Body, Query};
use std::collections::HashSet;

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::auth::{Principal, Role, password};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::modules::{self, ModuleName};
use crate::state::AppState;
use crate::store::ImportReport;
use crate::store::modules::StoredModule;
use crate::store::transfer::{ImportKey, ImportPlan, ImportUser};

pub const FORMAT: &str = "contextbay-export";
pub const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportDocument {
    /// Always `contextbay-export`.
    pub format: String,
    /// Document version (1).
    pub version: u32,
    pub exported_at: String,
    #[serde(default)]
    pub users: Vec<ExportUser>,
    #[serde(default)]
    pub api_keys: Vec<ExportApiKey>,
    #[serde(default)]
    pub settings: Vec<ExportSetting>,
    #[serde(default)]
    pub modules: Vec<ExportModule>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportUser {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    /// argon2id PHC string; only with `include_secrets=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportApiKey {
    pub id: String,
    /// Owner.
    pub username: String,
    pub name: String,
    pub prefix: String,
    pub role: Role,
    /// Unix milliseconds.
    pub created_at: i64,
    pub expires_at: Option<i64>,
    /// SHA-256 of the key; only with `include_secrets=true`. Keys without it are not imported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_hash: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportSetting {
    pub key: String,
    #[schema(value_type = Object)]
    pub value: Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportModule {
    pub name: ModuleName,
    pub enabled: Option<bool>,
    /// Secret values are sealed (`v1:…`) with the exporting installation's key.
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// Include password and API key hashes (never clear-text secrets).
    #[serde(default)]
    pub include_secrets: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: ImportReport,
    /// What was left out, and why.
    pub warnings: Vec<String>,
}

#[utoipa::path(get, path = "/api/export", tag = "transfer", params(ExportQuery),
    responses((status = 200, body = ExportDocument)))]
pub async fn export(
    state: web::Data<AppState>,
    query: Query<ExportQuery>,
) -> ApiResult<HttpResponse> {
    let secrets = query.include_secrets;
    let users = state.store.users().all_with_hashes().await?;
    let usernames: std::collections::HashMap<String, String> = users
        .iter()
        .map(|u| (u.user.id.clone(), u.user.username.clone()))
        .collect();
    let keys = state.store.api_keys().all_with_hashes().await?;
    let doc = ExportDocument {
        format: FORMAT.into(),
        version: VERSION,
        exported_at: contextbay_actors::rfc3339_now(),
        users: users
            .into_iter()
            .map(|u| ExportUser {
                id: u.user.id,
                username: u.user.username,
                role: u.user.role,
                disabled: u.user.disabled,
                password_hash: if secrets { u.password_hash } else { None },
            })
            .collect(),
        api_keys: keys
            .into_iter()
            .filter_map(|(k, hash)| {
                Some(ExportApiKey {
                    username: usernames.get(&k.user_id)?.clone(),
                    id: k.id,
                    name: k.name,
                    prefix: k.prefix,
                    role: k.role,
                    created_at: k.created_at,
                    expires_at: k.expires_at,
                    key_hash: secrets.then_some(hash),
                })
            })
            .collect(),
        settings: state
            .store
            .settings()
            .all()
            .await?
            .into_iter()
            .map(|s| ExportSetting {
                key: s.key,
                value: s.value,
            })
            .collect(),
        modules: state
            .store
            .modules()
            .all()
            .await?
            .into_iter()
            .map(|m| ExportModule {
                name: m.name,
                enabled: m.enabled,
                config: m.config,
            })
            .collect(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"contextbay-export.json\"",
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(doc))
}

/// Apply an export document: validated completely, then applied in one transaction.
#[utoipa::path(post, path = "/api/import", tag = "transfer", request_body = ExportDocument,
    responses((status = 200, body = ImportResult), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn import(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<ExportDocument>,
) -> ApiResult<web::Json<ImportResult>> {
    let doc = body.into_inner();
    let mut warnings = Vec::new();
    let plan = plan(&state, &principal, doc, &mut warnings).await?;
    let report = state.store.import(&plan).await?;
    state.sessions.everyone_changed();
    state
        .events
        .publish_committed(crate::events::ConfigImported {
            report: serde_json::to_value(&report).unwrap_or_default(),
        })
        .await;
    Ok(web::Json(ImportResult {
        imported: report,
        warnings,
    }))
}

async fn plan(
    state: &AppState,
    principal: &Principal,
    doc: ExportDocument,
    warnings: &mut Vec<String>,
) -> ApiResult<ImportPlan> {
    let bad = |msg: String| ApiError::bad_request(msg);
    if doc.format != FORMAT {
        return Err(bad(format!("format must be '{FORMAT}'")));
    }
    if doc.version != VERSION {
        return Err(bad(format!(
            "unsupported version {}; this server reads version {VERSION}",
            doc.version
        )));
    }
    let mut plan = ImportPlan::default();
    let mut names = HashSet::new();
    for (i, u) in doc.users.into_iter().enumerate() {
        super::users::validate_username(&u.username)
            .map_err(|e| bad(format!("users[{i}]: {}", e.message)))?;
        super::parse_id("user", &u.id).map_err(|e| bad(format!("users[{i}]: {}", e.message)))?;
        if !names.insert(u.username.clone()) {
            return Err(bad(format!(
                "users[{i}]: username '{}' appears twice",
                u.username
            )));
        }
        if let Some(h) = &u.password_hash
            && !password::is_valid_hash(h)
        {
            return Err(bad(format!(
                "users[{i}]: password_hash is not an argon2id hash"
            )));
        }
        if u.username == principal.username && (u.role != Role::Admin || u.disabled) {
            return Err(bad(format!(
                "users[{i}]: the import would demote or disable your own account '{}'",
                u.username
            )));
        }
        plan.users.push(ImportUser {
            id: u.id,
            username: u.username,
            role: u.role,
            disabled: u.disabled,
            password_hash: u.password_hash,
        });
    }
    for (i, k) in doc.api_keys.into_iter().enumerate() {
        super::parse_id("API key", &k.id)
            .map_err(|e| bad(format!("api_keys[{i}]: {}", e.message)))?;
        if k.name.trim().is_empty() || k.name.chars().count() > 100 {
            return Err(bad(format!(
                "api_keys[{i}]: name must be 1 to 100 characters"
            )));
        }
        if !k
            .prefix
            .starts_with(crate::auth::credentials::API_KEY_PREFIX)
            || k.prefix.len() > 16
        {
            return Err(bad(format!("api_keys[{i}]: prefix must start with cb_")));
        }
        let Some(key_hash) = k.key_hash else {
            warnings.push(format!(
                "api_keys[{i}] '{}' has no key_hash (export with include_secrets=true); skipped",
                k.name
            ));
            continue;
        };
        if key_hash.len() != 64 || !key_hash.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad(format!(
                "api_keys[{i}]: key_hash must be 64 hex characters"
            )));
        }
        if !names.contains(&k.username)
            && state
                .store
                .users()
                .find_by_username(&k.username)
                .await?
                .is_none()
        {
            return Err(bad(format!("api_keys[{i}]: unknown user '{}'", k.username)));
        }
        plan.api_keys.push(ImportKey {
            id: k.id,
            username: k.username,
            name: k.name,
            prefix: k.prefix,
            role: k.role,
            created_at: k.created_at,
            expires_at: k.expires_at,
            key_hash,
        });
    }
    for (i, s) in doc.settings.into_iter().enumerate() {
        super::settings::validate(&s.key, &s.value)
            .map_err(|e| bad(format!("settings[{i}]: {e}")))?;
        plan.settings.push((s.key, s.value));
    }
    let mut seen_modules = HashSet::new();
    for (i, m) in doc.modules.into_iter().enumerate() {
        if !seen_modules.insert(m.name) {
            return Err(bad(format!(
                "modules[{i}]: module '{}' appears twice",
                m.name
            )));
        }
        // Open sealed secrets with this installation's key; a secret sealed elsewhere cannot be
        // carried over and is dropped with a warning.
        let mut plain = Map::new();
        for (key, value) in m.config {
            match value.as_str() {
                Some(s) if modules::is_secret(m.name, &key) && s.starts_with("v1:") => {
                    match state.secret_box.open(s) {
                        Ok(opened) => {
                            plain.insert(key, Value::String(opened));
                        }
                        Err(_) => warnings.push(format!(
                            "modules[{i}] '{}': secret '{key}' was sealed by another installation; re-enter it",
                            m.name
                        )),
                    }
                }
                _ => {
                    plain.insert(key, value);
                }
            }
        }
        let config = crate::modules::settings::seal_submitted(state, m.name, &plain, &Map::new())
            .map_err(|e| bad(format!("modules[{i}]: {e}")))?;
        plan.modules.push(StoredModule {
            name: m.name,
            enabled: m.enabled,
            config,
            updated_at: 0,
        });
    }
    Ok(plan)
}
