//! `GET /api/ai/context-preview`: the context a request would send, part by part, with the token
//! count of each and what was cut to fit the budget (`modules/ai/context.rs`).

use actix_web::web;
use serde::Deserialize;

use crate::auth::Principal;
use crate::error::{ApiResult, ErrorBody};
use crate::http::extract::Query;
use crate::modules::ModuleError;
use crate::modules::ai::context::{self, ContextPreview, ContextRequest, DEFAULT_BUDGET_TOKENS};
use crate::modules::ai::router::RouterConfig;
use crate::modules::ai::tools::Caller;
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// The prompt the context goes with (counted against the budget, never cut).
    pub prompt: Option<String>,
    /// A node id: only its facts (default: every enrolled node's).
    #[param(pattern = r"^[A-Za-z0-9_.:-]{1,128}$")]
    pub node: Option<String>,
    /// An endpoint id: only its containers (default: every endpoint's).
    #[param(pattern = r"^[A-Za-z0-9_.:-]{1,128}$")]
    pub endpoint: Option<String>,
    /// A container id or name on `endpoint` (required with it): its detail as one more part.
    #[param(pattern = r"^[A-Za-z0-9_.:-]{1,128}$")]
    pub container: Option<String>,
    /// Tokens the prompt and the context may take together (default 4000).
    #[param(minimum = 1, maximum = 1_000_000, default = 4000)]
    pub budget_tokens: Option<i64>,
    /// The kind of task the context is for (echoed; the router's rules use it).
    #[param(pattern = r"^[a-z0-9_-]{1,64}$")]
    pub task_kind: Option<String>,
}

/// The assembled context: `parts` in the order sent, each with its `text`, its `tokens` and
/// what was `cut`; `dropped` parts left out (cut whole, or their source failed); `rule` says how
/// it was cut. Env values, settings, keys and tokens never enter it.
#[utoipa::path(get, path = "/api/ai/context-preview", tag = "ai", params(PreviewQuery),
    responses((status = 200, body = ContextPreview),
        (status = 400, body = ErrorBody, description = "A parameter is invalid (named)"),
        (status = 404, body = ErrorBody, description = "The node, endpoint or container does not exist")))]
pub async fn preview(
    state: web::Data<AppState>,
    principal: Principal,
    query: Query<PreviewQuery>,
) -> ApiResult<web::Json<ContextPreview>> {
    let q = query.into_inner();
    let budget_tokens = match q.budget_tokens {
        None => DEFAULT_BUDGET_TOKENS,
        Some(n) => u64::try_from(n).map_err(|_| ModuleError::InvalidField {
            field: "budget_tokens".into(),
            message: format!(
                "budget_tokens must be from 1 to {}",
                context::MAX_BUDGET_TOKENS
            ),
        })?,
    };
    let req = ContextRequest {
        prompt: q.prompt.unwrap_or_default(),
        node: q.node,
        endpoint: q.endpoint,
        container: q.container,
        budget_tokens,
        task_kind: q.task_kind,
    };
    let cfg = RouterConfig::load(&state).await?;
    context::validate(&req, cfg.max_prompt_chars)?;
    let caller = Caller::from(&principal);
    Ok(web::Json(context::assemble(&state, &caller, &req).await?))
}
