//! `GET /api/health` (public).

use actix_web::web;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the database answers.
    pub status: &'static str,
    pub version: &'static str,
    /// No user exists yet: the dashboard shows first-run setup.
    pub setup_required: bool,
}

#[utoipa::path(get, path = "/api/health", tag = "system", responses((status = 200, body = Health)))]
pub async fn health(state: web::Data<AppState>) -> ApiResult<web::Json<Health>> {
    let users = state.store.users().count().await?;
    Ok(web::Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        setup_required: users == 0,
    }))
}
