//! `GET /api/ai/status`, `/api/ai/router/status` and `/api/ai/claude/status`: the providers, their
//! health, the budget and the router's recent decisions. No key is ever shown.

use std::collections::BTreeMap;

use actix_web::web;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::ApiResult;
use crate::integrations::llm::ProviderKind;
use crate::modules::ai::router::{
    self, Configured, Decision, Price, RouterConfig, RouterState, Rule,
};
use crate::state::AppState;

/// A configured provider as probed now.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AiProviderStatus)]
pub struct ProviderStatus {
    pub provider: ProviderKind,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_model: Option<String>,
    /// It answered the probe just made.
    pub healthy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub latency_ms: u64,
    /// The router passes it over for now (it failed recently).
    pub down: bool,
    /// What the router saw go wrong last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub spent_today_usd: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AiStatus {
    /// At least one provider is configured.
    pub configured: bool,
    pub providers: Vec<ProviderStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_model: Option<String>,
    /// What in the configuration could not be used.
    pub problems: Vec<String>,
    /// What a request can use: `chat`, `stream`, `tools`, `embeddings`.
    pub capabilities: Vec<String>,
}

async fn probe(p: &Configured, r: &RouterState) -> ProviderStatus {
    let h = p.provider.health().await;
    let kind = p.provider.kind();
    ProviderStatus {
        provider: kind,
        url: p.url.clone(),
        default_model: p.default_model.clone(),
        healthy: h.healthy,
        detail: h.detail,
        latency_ms: h.latency_ms,
        down: r.is_down(kind, &p.url),
        last_error: r.last_error(kind, &p.url),
        spent_today_usd: r.spent_today(kind),
    }
}

/// The configured providers, each probed now, and what they offer.
#[utoipa::path(get, path = "/api/ai/status", tag = "ai", responses((status = 200, body = AiStatus)))]
pub async fn status(state: web::Data<AppState>) -> ApiResult<web::Json<AiStatus>> {
    let cfg = RouterConfig::load(&state).await?;
    let r = router::of(&state);
    let providers =
        futures_util::future::join_all(cfg.providers.iter().map(|p| probe(p, &r))).await;
    let mut capabilities = Vec::new();
    if providers.iter().any(|p| p.healthy) {
        capabilities.extend(["chat", "stream", "tools"].map(str::to_owned));
        if providers
            .iter()
            .any(|p| p.healthy && p.provider != ProviderKind::Anthropic)
        {
            capabilities.push("embeddings".to_owned());
        }
    }
    Ok(web::Json(AiStatus {
        configured: !cfg.providers.is_empty(),
        providers,
        default_model: cfg.default_model.clone(),
        problems: cfg.problems.clone(),
        capabilities,
    }))
}

/// A provider as the router sees it (from its own calls; nothing is probed).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AiRouterProvider)]
pub struct RouterProvider {
    pub provider: ProviderKind,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_model: Option<String>,
    pub down: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_ok: Option<OffsetDateTime>,
    pub spent_today_usd: f64,
}

/// The day's spending on paid providers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AiBudget)]
pub struct Budget {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// `daily_budget_cents` in dollars; absent: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_usd: Option<f64>,
    pub spent_usd: f64,
    pub exhausted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AiRouterStatus)]
pub struct RouterStatus {
    pub providers: Vec<RouterProvider>,
    pub budget: Budget,
    pub rules: Vec<Rule>,
    pub prices: BTreeMap<String, Price>,
    /// Newest first.
    pub decisions: Vec<Decision>,
    pub problems: Vec<String>,
}

/// The router's providers, health, budget use, rules and recent decisions with their reasons.
#[utoipa::path(get, path = "/api/ai/router/status", tag = "ai", responses((status = 200, body = RouterStatus)))]
pub async fn router_status(state: web::Data<AppState>) -> ApiResult<web::Json<RouterStatus>> {
    let cfg = RouterConfig::load(&state).await?;
    let r = router::of(&state);
    let providers = cfg
        .providers
        .iter()
        .map(|p| {
            let kind = p.provider.kind();
            RouterProvider {
                provider: kind,
                url: p.url.clone(),
                default_model: p.default_model.clone(),
                down: r.is_down(kind, &p.url),
                last_error: r.last_error(kind, &p.url),
                last_ok: r.last_ok(kind, &p.url),
                spent_today_usd: r.spent_today(kind),
            }
        })
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let limit_usd = cfg.daily_budget_cents.map(|c| c as f64 / 100.0);
    let spent_usd = r.spent_today_total();
    Ok(web::Json(RouterStatus {
        providers,
        budget: Budget {
            day: OffsetDateTime::now_utc().date().to_string(),
            limit_usd,
            spent_usd,
            exhausted: limit_usd.is_some_and(|l| spent_usd >= l),
        },
        rules: cfg.rules.clone(),
        prices: cfg.prices.clone(),
        decisions: r.decisions(),
        problems: cfg.problems.clone(),
    }))
}

/// The Anthropic provider's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaudeStatus {
    /// `anthropic_api_key` is set.
    pub configured: bool,
    /// Probed now (absent when not configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_limit_usd: Option<f64>,
}

/// The Anthropic (Claude) provider: configured or not, probed now, its spending today.
#[utoipa::path(get, path = "/api/ai/claude/status", tag = "ai", responses((status = 200, body = ClaudeStatus)))]
pub async fn claude_status(state: web::Data<AppState>) -> ApiResult<web::Json<ClaudeStatus>> {
    let cfg = RouterConfig::load(&state).await?;
    let r = router::of(&state);
    let provider = match cfg.provider(ProviderKind::Anthropic) {
        Some(p) => Some(probe(p, &r).await),
        None => None,
    };
    #[allow(clippy::cast_precision_loss)]
    let budget_limit_usd = cfg.daily_budget_cents.map(|c| c as f64 / 100.0);
    Ok(web::Json(ClaudeStatus {
        configured: provider.is_some(),
        provider,
        budget_limit_usd,
    }))
}
