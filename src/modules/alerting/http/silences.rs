//! `/api/alertmanager/silences` (alerting module): Alertmanager's silences through its v2 API.
//! ContextBay keeps no copy: Alertmanager is the owner. Deleting a silence expires it (what
//! Alertmanager does); expired silences stay listed until Alertmanager forgets them.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::extract::{Body, Query};
use crate::http::{PageQuery, Paginated, parse_path_id};
use crate::integrations::alertmanager::{Matcher, NewSilence, Silence};
use crate::modules::alerting::events::{MatcherView, SilenceCreated, SilenceDeleted};
use crate::modules::monitoring::promql_time::parse_duration;
use crate::modules::trim_blank;
use crate::state::AppState;
use crate::store::now_ms;

const MAX_MATCHERS: usize = 32;
/// Longest silence accepted: a year.
const MAX_SILENCE_MS: i64 = 365 * 86_400_000;

#[derive(Debug, Serialize, ToSchema)]
pub struct SilenceView {
    #[schema(format = Uuid)]
    pub id: String,
    /// `active`, `pending` or `expired`.
    #[schema(value_type = SilenceState)]
    pub state: String,
    pub matchers: Vec<MatcherView>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
    pub updated_at: String,
}

impl From<Silence> for SilenceView {
    fn from(s: Silence) -> Self {
        Self {
            id: s.id,
            state: s.status.state,
            matchers: s
                .matchers
                .into_iter()
                .map(|m| MatcherView {
                    name: m.name,
                    value: m.value,
                    is_regex: m.is_regex,
                    is_equal: m.is_equal,
                })
                .collect(),
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            created_by: s.created_by,
            comment: s.comment,
            updated_at: s.updated_at,
        }
    }
}

/// The state of a silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Active,
    Pending,
    Expired,
}

impl SilenceState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Expired => "expired",
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListSilences {
    /// `active`, `pending` or `expired`; default all.
    #[param(inline)]
    pub state: Option<SilenceState>,
    /// 1 to 500, default 50.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Default 0.
    #[param(minimum = 0, maximum = 1_000_000_000_000_000_i64, default = 0)]
    pub offset: Option<i64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSilence {
    /// Alerts whose labels match all of these are silenced.
    #[schema(min_items = 1, max_items = 32)]
    pub matchers: Vec<MatcherView>,
    /// RFC 3339 or Unix milliseconds; default now.
    #[schema(
        pattern = "^([+-]?[0-9]{1,15}|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$"
    )]
    pub starts_at: Option<String>,
    /// RFC 3339 or Unix milliseconds, in the future. Give this or `duration`.
    #[schema(
        pattern = "^([+-]?[0-9]{1,15}|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))$"
    )]
    pub ends_at: Option<String>,
    /// How long from `starts_at` (a Prometheus duration, e.g. `2h`; at most 365 days). Give
    /// this or `ends_at`.
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = "^([0-9]+y)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"
    )]
    pub duration: Option<String>,
    /// Why (required by Alertmanager; not blank, saved without leading and trailing blanks).
    #[schema(min_length = 1, max_length = 1024, pattern = r"[^ \t\n\r]")]
    pub comment: String,
}

/// Silences Alertmanager holds, latest start first (then by id).
#[utoipa::path(get, path = "/api/alertmanager/silences", tag = "alerting", params(ListSilences),
    responses((status = 200, body = Paginated<SilenceView>), (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "Alertmanager failed or sent an answer ContextBay could not read"),
        (status = 503, body = ErrorBody, description = "Alertmanager is not configured or not reachable")))]
pub async fn list(
    state: web::Data<AppState>,
    query: Query<ListSilences>,
) -> ApiResult<web::Json<Paginated<SilenceView>>> {
    let page = PageQuery::page(query.limit, query.offset)?;
    let wanted = query.state.map(SilenceState::as_str);
    let am = crate::modules::alerting::alertmanager(&state).await?;
    let mut items: Vec<SilenceView> = am
        .silences()
        .await?
        .into_iter()
        .filter(|s| wanted.is_none_or(|w| s.status.state == w))
        .map(SilenceView::from)
        .collect();
    items.sort_by(|a, b| b.starts_at.cmp(&a.starts_at).then_with(|| a.id.cmp(&b.id)));
    Ok(web::Json(Paginated::of_all(items, page)))
}

fn rfc3339(ms: i64) -> String {
    crate::http::ts(ms)
}

/// Silence matching alerts for a while.
#[utoipa::path(post, path = "/api/alertmanager/silences", tag = "alerting", request_body = CreateSilence,
    responses((status = 201, body = SilenceView), (status = 400, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "Alertmanager failed or sent an answer ContextBay could not read"),
        (status = 503, body = ErrorBody, description = "Alertmanager is not configured or not reachable")))]
pub async fn create(
    state: web::Data<AppState>,
    principal: Principal,
    body: Body<CreateSilence>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    if b.matchers.is_empty() || b.matchers.len() > MAX_MATCHERS {
        return Err(ApiError::invalid_field(
            "matchers",
            format!("matchers: 1 to {MAX_MATCHERS} are required"),
        ));
    }
    for (i, m) in b.matchers.iter().enumerate() {
        if !crate::modules::alerting::rules::is_label_name(&m.name) {
            return Err(ApiError::invalid_field(
                format!("matchers[{i}].name"),
                format!("matchers[{i}].name must be a label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
            ));
        }
        if m.value.chars().count() > 1024 {
            return Err(ApiError::invalid_field(
                format!("matchers[{i}].value"),
                format!("matchers[{i}].value is longer than 1024 characters"),
            ));
        }
    }
    let comment = trim_blank(&b.comment);
    if comment.is_empty() || b.comment.chars().count() > 1024 {
        return Err(ApiError::invalid_field(
            "comment",
            "comment must be 1 to 1024 characters, not blank",
        ));
    }
    let starts = match &b.starts_at {
        Some(t) => {
            crate::http::parse_time("starts_at", t).map_err(|e| e.with_field("starts_at"))?
        }
        None => now_ms(),
    };
    let ends = match (&b.ends_at, &b.duration) {
        (Some(t), None) => {
            crate::http::parse_time("ends_at", t).map_err(|e| e.with_field("ends_at"))?
        }
        (None, Some(d)) => {
            let ms = parse_duration(d)
                .map_err(|e| ApiError::invalid_field("duration", format!("duration: {e}")))?;
            starts.saturating_add(i64::try_from(ms).unwrap_or(i64::MAX))
        }
        _ => {
            return Err(ApiError::invalid_field(
                "ends_at",
                "give either ends_at or duration",
            ));
        }
    };
    if ends <= starts || ends <= now_ms() {
        return Err(ApiError::bad_request(
            "the silence must end after it starts and in the future",
        ));
    }
    if ends - starts > MAX_SILENCE_MS {
        return Err(ApiError::invalid_field(
            if b.duration.is_some() {
                "duration"
            } else {
                "ends_at"
            },
            "a silence may last at most 365 days",
        ));
    }
    let am = crate::modules::alerting::alertmanager(&state).await?;
    let id = am
        .create_silence(&NewSilence {
            matchers: b
                .matchers
                .into_iter()
                .map(|m| Matcher {
                    name: m.name,
                    value: m.value,
                    is_regex: m.is_regex,
                    is_equal: m.is_equal,
                })
                .collect(),
            starts_at: rfc3339(starts),
            ends_at: rfc3339(ends),
            created_by: principal.username.clone(),
            comment: comment.to_owned(),
        })
        .await?;
    let silence = SilenceView::from(am.silence(&id).await?);
    state
        .events
        .publish_committed(SilenceCreated {
            id: silence.id.clone(),
            matchers: silence.matchers.clone(),
            ends_at: silence.ends_at.clone(),
            created_by: silence.created_by.clone(),
        })
        .await;
    Ok(HttpResponse::Created().json(silence))
}

/// Expire a silence (again: nothing changes).
#[utoipa::path(delete, path = "/api/alertmanager/silences/{id}", tag = "alerting", params(("id" = uuid::Uuid, Path, description = "The silence's id (Alertmanager's)")),
    responses((status = 204, description = "Expired"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 502, body = ErrorBody, description = "Alertmanager failed or sent an answer ContextBay could not read"),
        (status = 503, body = ErrorBody, description = "Alertmanager is not configured or not reachable")))]
pub async fn delete(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = parse_path_id("silence", &id)?;
    let am = crate::modules::alerting::alertmanager(&state).await?;
    am.expire_silence(&id).await?;
    state.events.publish_committed(SilenceDeleted { id }).await;
    Ok(HttpResponse::NoContent().finish())
}
