//! `/api/config/{module}` (admin): switch a module and edit its live configuration.

use super::extract::Body;
use actix_web::web;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::modules::status;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::modules::{self, ModuleName};
use crate::state::AppState;
use crate::store::modules::StoredModule;

#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleConfigView {
    pub module: ModuleName,
    pub enabled: bool,
    /// As in `GET /api/modules`: settings present and the needed services reachable.
    pub configured: bool,
    /// As in `GET /api/modules`: missing settings and unreachable services.
    pub problems: Vec<String>,
    /// Secrets are shown as `********`; send that back to keep a secret unchanged.
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// The keys this module accepts.
    pub fields: Vec<FieldView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldView {
    pub key: &'static str,
    /// `url`, `text`, `secret`, `bool` or `integer`.
    pub kind: &'static str,
    pub required: bool,
    pub help: &'static str,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutModuleConfig {
    pub enabled: Option<bool>,
    /// Keys to set; `null` removes a key.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Map<String, Value>>,
}

fn parse_module(name: &str) -> ApiResult<ModuleName> {
    ModuleName::parse(name).ok_or_else(|| {
        let known: Vec<_> = ModuleName::all().map(ModuleName::as_str).collect();
        ApiError::not_found(format!(
            "unknown module '{name}'; modules are {}",
            known.join(", ")
        ))
    })
}

fn view(state: &AppState, name: ModuleName, stored: Option<&StoredModule>) -> ModuleConfigView {
    let s = status(state, name, stored);
    ModuleConfigView {
        module: name,
        enabled: s.enabled,
        configured: s.configured,
        problems: s.problems,
        config: stored
            .map(|m| modules::redact(name, &m.config))
            .unwrap_or_default(),
        fields: name
            .fields()
            .iter()
            .map(|f| FieldView {
                key: f.key,
                kind: match f.kind {
                    modules::FieldKind::Url => "url",
                    modules::FieldKind::Text => "text",
                    modules::FieldKind::Secret => "secret",
                    modules::FieldKind::Bool => "bool",
                    modules::FieldKind::Integer => "integer",
                },
                required: f.required,
                help: f.help,
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/api/config/{module}", tag = "modules", params(("module" = String, Path)),
    responses((status = 200, body = ModuleConfigView), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    module: web::Path<String>,
) -> ApiResult<web::Json<ModuleConfigView>> {
    let name = parse_module(&module)?;
    let stored = state.store.modules().get(name).await?;
    Ok(web::Json(view(&state, name, stored.as_ref())))
}

#[utoipa::path(put, path = "/api/config/{module}", tag = "modules", params(("module" = String, Path)), request_body = PutModuleConfig,
    responses((status = 200, body = ModuleConfigView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put(
    state: web::Data<AppState>,
    module: web::Path<String>,
    body: Body<PutModuleConfig>,
) -> ApiResult<web::Json<ModuleConfigView>> {
    let name = parse_module(&module)?;
    let PutModuleConfig { enabled, config } = body.into_inner();
    Ok(web::Json(apply(&state, name, enabled, config).await?))
}

/// What `PUT /api/config/{module}` does, for other parts that change a module's settings (a
/// deployed sub-container points its module at itself): validates and seals the submitted keys,
/// stores them and publishes `module.updated`.
pub async fn apply(
    state: &AppState,
    name: ModuleName,
    enabled: Option<bool>,
    config: Option<Map<String, Value>>,
) -> ApiResult<ModuleConfigView> {
    if enabled.is_none() && config.is_none() {
        return Err(ApiError::bad_request(
            "nothing to update: send enabled or config",
        ));
    }
    let previous = state.store.modules().get(name).await?;
    let mut next = previous.clone().unwrap_or(StoredModule {
        name,
        enabled: None,
        config: Map::new(),
        updated_at: 0,
    });
    if let Some(submitted) = config {
        next.config = seal_submitted(state, name, &submitted, &next.config)?;
    }
    if let Some(e) = enabled {
        next.enabled = Some(e);
    }
    state.store.modules().put(&next).await?;
    let out = view(state, name, Some(&next));
    state
        .events
        .publish_committed(crate::events::ModuleUpdated {
            name,
            enabled: out.enabled,
            configured: out.configured,
        })
        .await;
    Ok(out)
}

/// Validates submitted keys against `previous` (secrets sealed) and seals new secret values.
pub fn seal_submitted(
    state: &AppState,
    name: ModuleName,
    submitted: &Map<String, Value>,
    previous: &Map<String, Value>,
) -> ApiResult<Map<String, Value>> {
    let mut merged =
        modules::validate_config(name, submitted, previous).map_err(ApiError::bad_request)?;
    for (key, value) in submitted {
        if modules::is_secret(name, key)
            && let Some(plain) = value.as_str()
            && plain != modules::REDACTED
        {
            let sealed = state.secret_box.seal(plain).map_err(ApiError::internal)?;
            merged.insert(key.clone(), Value::String(sealed));
        }
    }
    Ok(merged)
}
