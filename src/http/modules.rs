//! `GET /api/modules` (public): which modules are on and whether their services are configured.

use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::modules::ModuleName;
use crate::state::AppState;
use crate::store::modules::StoredModule;

#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleStatus {
    pub name: ModuleName,
    pub enabled: bool,
    /// Every setting the module's backing service needs is present.
    pub configured: bool,
    pub description: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleList {
    pub items: Vec<ModuleStatus>,
}

/// The effective state of a module: the live override, else the configuration file.
pub fn status(state: &AppState, name: ModuleName, stored: Option<&StoredModule>) -> ModuleStatus {
    let default = state.config.modules.get(&name).copied().unwrap_or(false);
    ModuleStatus {
        name,
        enabled: stored.and_then(|s| s.enabled).unwrap_or(default),
        configured: name.is_configured(&stored.map(|s| s.config.clone()).unwrap_or_default()),
        description: name.description(),
    }
}

#[utoipa::path(get, path = "/api/modules", tag = "modules", responses((status = 200, body = ModuleList)))]
pub async fn list(state: web::Data<AppState>) -> ApiResult<web::Json<ModuleList>> {
    let stored = state.store.modules().all().await?;
    let items = ModuleName::ALL
        .into_iter()
        .map(|name| status(&state, name, stored.iter().find(|s| s.name == name)))
        .collect();
    Ok(web::Json(ModuleList { items }))
}
