//! `GET /api/health` (public).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the database answers; `degraded` when, besides, this master of a cluster has
    /// lost NATS (it keeps serving its own workers and clients); `unavailable` (with a 503) when
    /// the database does not answer.
    pub status: &'static str,
    /// `up` or `down`: whether the database answers.
    pub store: &'static str,
    pub version: &'static str,
    /// No user exists yet: the dashboard shows first-run setup.
    pub setup_required: bool,
    /// Present on a master of a cluster (`cluster.nats_url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<HealthCluster>,
}

/// The cluster part of `/api/health` (public: no error text).
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthCluster {
    pub master_id: String,
    /// `connected` or `disconnected`.
    pub nats: &'static str,
    pub degraded: bool,
}

#[utoipa::path(get, path = "/api/health", tag = "system", responses((status = 200, body = Health),
    (status = 503, body = Health, description = "the database does not answer")))]
pub async fn health(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let cluster = state.cluster.as_ref().map(|c| {
        let s = c.status();
        HealthCluster {
            master_id: s.master_id,
            nats: s.nats,
            degraded: s.degraded,
        }
    });
    let users = match state.store.users().count().await {
        Ok(users) => users,
        Err(crate::store::StoreError::Database(err)) if crate::store::unavailable(&err) => {
            tracing::warn!(%err, "health: the database is unavailable");
            return Ok(HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "5"))
                .json(Health {
                    status: "unavailable",
                    store: "down",
                    cluster,
                    version: env!("CARGO_PKG_VERSION"),
                    setup_required: false,
                }));
        }
        Err(err) => return Err(err.into()),
    };
    let degraded = cluster.as_ref().is_some_and(|c| c.degraded);
    Ok(HttpResponse::Ok().json(Health {
        status: if degraded { "degraded" } else { "ok" },
        store: "up",
        cluster,
        version: env!("CARGO_PKG_VERSION"),
        setup_required: users == 0,
    }))
}
