//! `GET /api/audit` (admin).

use super::extract::Query;
use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{PageQuery, Paginated, parse_time, ts};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use crate::store::audit::{AuditEntry, AuditFilter};

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub id: String,
    pub ts: String,
    pub actor: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub target: String,
    pub result: String,
    pub status: i64,
    pub request_id: String,
    pub source_ip: Option<String>,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            ts: ts(e.ts),
            actor: e.actor,
            actor_id: e.actor_id,
            action: e.action,
            target: e.target,
            result: e.result,
            status: e.status,
            request_id: e.request_id,
            source_ip: e.source_ip,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListAudit {
    /// Exact username (`anonymous` for unauthenticated calls).
    pub actor: Option<String>,
    /// Substring of the action, e.g. `/api/users` or `DELETE`.
    pub action: Option<String>,
    /// `success` or `failure`.
    #[param(pattern = "^(success|failure)$")]
    pub result: Option<String>,
    /// RFC 3339 or Unix milliseconds.
    #[param(
        pattern = r"^(-?[0-9]{1,18}|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$"
    )]
    pub since: Option<String>,
    /// RFC 3339 or Unix milliseconds.
    #[param(
        pattern = r"^(-?[0-9]{1,18}|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$"
    )]
    pub until: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    #[param(minimum = 0, default = 0)]
    pub offset: Option<i64>,
}

#[utoipa::path(get, path = "/api/audit", tag = "audit", params(ListAudit),
    responses((status = 200, body = Paginated<AuditView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListAudit>,
) -> ApiResult<web::Json<Paginated<AuditView>>> {
    let q = query.into_inner();
    let page = PageQuery::page(q.limit, q.offset)?;
    if let Some(r) = &q.result
        && r != "success"
        && r != "failure"
    {
        return Err(ApiError::bad_request(
            "result must be 'success' or 'failure'",
        ));
    }
    let filter = AuditFilter {
        actor: q.actor,
        action: q.action,
        result: q.result,
        since: q
            .since
            .as_deref()
            .map(|v| parse_time("since", v))
            .transpose()?,
        until: q
            .until
            .as_deref()
            .map(|v| parse_time("until", v))
            .transpose()?,
    };
    let result = state.store.audit().list(&filter, page).await?;
    Ok(web::Json(Paginated {
        items: result.items.into_iter().map(AuditView::from).collect(),
        total: result.total,
        limit: page.limit,
        offset: page.offset,
    }))
}
