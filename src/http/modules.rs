//! `GET /api/modules` (public): which modules are on and whether their services are configured.

use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::Query;
use super::{PageQuery, Paginated};
use crate::error::ApiResult;
use crate::modules::ModuleName;
use crate::state::AppState;
use crate::store::modules::StoredModule;

#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleStatus {
    pub name: ModuleName,
    pub enabled: bool,
    /// Every setting the module needs is present, and none of the services it needs was
    /// unreachable on its last call.
    pub configured: bool,
    /// What stands in the way, one line each: a missing setting, or a service (needed or
    /// optional) that could not be reached on its last call. Empty when nothing does.
    pub problems: Vec<String>,
    pub description: &'static str,
}

/// The effective state of a module: switched on or off, and whether it can do its work.
pub fn status(state: &AppState, name: ModuleName, stored: Option<&StoredModule>) -> ModuleStatus {
    let health = crate::modules::settings::health(state, name, stored);
    ModuleStatus {
        name,
        enabled: crate::modules::enabled(state, name, stored),
        configured: health.configured,
        problems: health.problems,
        description: name.description(),
    }
}

/// Every module the master knows, in the spec's order, as the page object of every list.
#[utoipa::path(get, path = "/api/modules", tag = "modules", params(PageQuery),
    responses((status = 200, body = Paginated<ModuleStatus>)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<ModuleStatus>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let stored = state.store.modules().all().await?;
    let all = ModuleName::all()
        .map(|name| status(&state, name, stored.iter().find(|s| s.name == name)))
        .collect();
    Ok(web::Json(Paginated::of_all(all, page)))
}
