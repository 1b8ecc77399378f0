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

/// What `PUT /api/config/{module}` does (`modules::settings::apply`), answered as the view.
async fn apply(
    state: &AppState,
    name: ModuleName,
    enabled: Option<bool>,
    config: Option<Map<String, Value>>,
) -> ApiResult<ModuleConfigView> {
    let stored = modules::settings::apply(state, name, enabled, config).await?;
    Ok(view(state, name, Some(&stored)))
}
