//! The tiered model router: which provider and model answer a request.
//!
//! Configured providers (`/api/config/ai`): Ollama (`ollama_url`), an OpenAI-compatible server
//! (`openai_url`, `openai_api_key`) and Anthropic (`anthropic_api_key`, `anthropic_url`). Each has
//! a default model (`ollama_model`, `openai_model`, `anthropic_model`). The candidates for a
//! request, in order:
//!
//! 1. an explicit model (`"provider/model"` or a model id one provider lists): only that one;
//! 2. otherwise the first of the declared rules (`routing_rules`, a JSON array) that matches the
//!    request (task kind, context size, tools needed, mode), then every other configured provider
//!    in the order Ollama, OpenAI-compatible, Anthropic (local first).
//!
//! A candidate is skipped when its provider failed recently (down for [`DOWN_FOR`] after a
//! connection failure, a 5xx, a 429 or a 529) — unless every candidate is down — or when it is
//! paid (a price in `prices` for its model, or Anthropic) and today's spending reached
//! `daily_budget_cents`. A candidate that fails to start answering with such an error hands over
//! to the next (fallback). Every decision is kept (the last [`DECISIONS_KEPT`]) with its reasons.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::integrations::llm::anthropic::{self, Anthropic};
use crate::integrations::llm::ollama::Ollama;
use crate::integrations::llm::openai::OpenAi;
use crate::integrations::llm::{
    ChatEvent, ChatRequest, ChatStream, ModelInfo, Provider, ProviderKind, Usage,
};
use crate::integrations::{IntegrationError, ModuleSettings};
use crate::modules::{ModuleError, ModuleName};
use crate::state::AppState;

/// How long a provider that failed is passed over.
pub const DOWN_FOR: Duration = Duration::from_secs(30);
/// How many decisions `/api/ai/router/status` shows.
pub const DECISIONS_KEPT: usize = 50;
/// How long the list of a provider's models is reused to check a requested model.
const MODELS_FRESH: Duration = Duration::from_secs(30);
/// Default largest prompt, in characters (`max_prompt_chars`).
pub const DEFAULT_MAX_PROMPT_CHARS: usize = 200_000;

/// A provider as configured, with its default model.
#[derive(Clone)]
pub struct Configured {
    pub provider: Provider,
    pub url: String,
    pub default_model: Option<String>,
}

/// A declared routing rule: when every condition given matches, `provider`/`model` are tried first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiRoutingRule)]
pub struct Rule {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_kind: Option<String>,
    /// Matches when the estimated prompt has at least this many tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_context_tokens: Option<u64>,
    /// Matches requests that offer tools (`true`) or none (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    pub provider: ProviderKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// A model's price in US dollars per million tokens.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiModelPrice)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

/// The router's configuration, read from the module's settings for each request.
pub struct RouterConfig {
    pub providers: Vec<Configured>,
    pub rules: Vec<Rule>,
    pub prices: BTreeMap<String, Price>,
    /// Per-day limit for paid providers, in US cents; `None`: no limit.
    pub daily_budget_cents: Option<i64>,
    pub default_model: Option<String>,
    pub max_prompt_chars: usize,
    /// Why part of the configuration was not usable.
    pub problems: Vec<String>,
}

impl RouterConfig {
    pub async fn load(state: &AppState) -> Result<Self, ModuleError> {
        let settings = ModuleSettings::load(state, ModuleName::Ai).await?;
        Ok(Self::from_settings(state, &settings))
    }

    pub fn from_settings(state: &AppState, s: &ModuleSettings) -> Self {
        let mut problems = Vec::new();
        let mut providers = Vec::new();
        let text = |k: &str| s.text(k).map(str::to_owned);
        if let Some(url) = s.text("ollama_url") {
            providers.push(Configured {
                provider: Provider::Ollama(Ollama::new(&state.integrations, url)),
                url: url.to_owned(),
                default_model: text("ollama_model"),
            });
        }
        if let Some(url) = s.text("openai_url") {
            providers.push(Configured {
                provider: Provider::Openai(OpenAi::new(
                    &state.integrations,
                    url,
                    s.text("openai_api_key"),
                )),
                url: url.to_owned(),
                default_model: text("openai_model"),
            });
        }
        if let Some(key) = s.text("anthropic_api_key") {
            let url = s.text("anthropic_url").unwrap_or(anthropic::DEFAULT_URL);
            providers.push(Configured {
                provider: Provider::Anthropic(Anthropic::new(&state.integrations, url, key)),
                url: url.to_owned(),
                default_model: text("anthropic_model"),
            });
        }
        let rules = match s.text("routing_rules") {
            None => Vec::new(),
            Some(raw) => serde_json::from_str::<Vec<Rule>>(raw).unwrap_or_else(|e| {
                problems.push(format!("routing_rules is not a list of rules: {e}"));
                Vec::new()
            }),
        };
        let prices = match s.text("prices") {
            None => BTreeMap::new(),
            Some(raw) => match serde_json::from_str::<BTreeMap<String, Price>>(raw) {
                Ok(p)
                    if p.values().all(|p| {
                        p.input.is_finite()
                            && p.output.is_finite()
                            && p.input >= 0.0
                            && p.output >= 0.0
                    }) =>
                {
                    p
                }
                Ok(_) => {
                    problems.push("prices must be finite and not negative".to_owned());
                    BTreeMap::new()
                }
                Err(e) => {
                    problems.push(format!(
                        "prices is not an object of {{\"model\": {{\"input\", \"output\"}}}}: {e}"
                    ));
                    BTreeMap::new()
                }
            },
        };
        let daily_budget_cents = s.integer("daily_budget_cents").filter(|c| *c >= 0);
        let max_prompt_chars = s
            .integer("max_prompt_chars")
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_PROMPT_CHARS);
        Self {
            providers,
            rules,
            prices,
            daily_budget_cents,
            default_model: text("default_model"),
            max_prompt_chars,
            problems,
        }
    }

    pub fn provider(&self, kind: ProviderKind) -> Option<&Configured> {
        self.providers.iter().find(|p| p.provider.kind() == kind)
    }

    /// The price of a model, if the table has one.
    pub fn price(&self, model: &str) -> Option<Price> {
        self.prices.get(model).copied()
    }

    /// Paid: Anthropic, or any model with a price.
    pub fn is_paid(&self, kind: ProviderKind, model: &str) -> bool {
        kind == ProviderKind::Anthropic || self.price(model).is_some()
    }

    /// What `usage` of `model` cost, in US dollars (0 without a price).
    pub fn cost(&self, model: &str, usage: &Usage) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        self.price(model).map_or(0.0, |p| {
            (usage.input_tokens as f64 * p.input + usage.output_tokens as f64 * p.output) / 1e6
        })
    }
}

/// What a request asks of the router.
#[derive(Debug, Clone)]
pub struct RouteRequest {
    pub task_kind: String,
    /// Estimated prompt tokens.
    pub context_tokens: u64,
    pub tools: bool,
    pub mode: Option<String>,
    /// An explicit model: `"provider/model"` or a model id.
    pub model: Option<String>,
}

/// One candidate the router will try.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiRouteCandidate)]
pub struct Candidate {
    pub provider: ProviderKind,
    pub model: String,
    /// Why it is on the list.
    pub reason: String,
}

/// A decision as `/api/ai/router/status` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiRouterDecision)]
pub struct Decision {
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    pub task_kind: String,
    pub context_tokens: u64,
    pub tools: bool,
    /// The provider that answered; absent when none did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Each step: the candidates considered, skipped, failed and chosen, with why.
    pub reasons: Vec<String>,
}

/// A provider's health as the router saw it in its own calls.
#[derive(Debug, Clone, Default)]
struct Seen {
    down_until: Option<Instant>,
    last_error: Option<String>,
    last_ok: Option<OffsetDateTime>,
}

/// The router's memory, one per running master: health seen, spending per day, decisions and the
/// models each provider listed. Spending is kept in memory (a restart starts the day at zero).
#[derive(Default)]
pub struct RouterState {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By provider and base URL: a changed URL starts unknown.
    seen: HashMap<(ProviderKind, String), Seen>,
    /// (UTC day, provider) → US dollars spent.
    spent: HashMap<(time::Date, ProviderKind), f64>,
    decisions: VecDeque<Decision>,
    models: HashMap<ProviderKind, (Instant, String, Vec<String>)>,
}

/// The router's state of this master.
pub fn of(state: &AppState) -> Arc<RouterState> {
    state.module_state.get::<RouterState>()
}

/// Why the router could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("{0}")]
    Invalid(ModuleError),
    #[error(
        "no AI provider is configured: set ollama_url, openai_url or anthropic_api_key with PUT /api/config/ai"
    )]
    NoProvider,
    #[error("no provider can answer: {0}")]
    Exhausted(String),
    #[error(transparent)]
    Provider(IntegrationError),
}

/// A started answer: who answers, its first event and the rest of the stream.
pub struct Opened {
    pub provider: ProviderKind,
    pub model: String,
    pub first: ChatEvent,
    pub stream: ChatStream,
    pub router: Arc<RouterState>,
    pub price: Option<Price>,
}

impl Opened {
    /// Records what the finished answer used (its cost against today's budget).
    pub fn record_usage(&self, usage: &Usage) {
        #[allow(clippy::cast_precision_loss)]
        let cost = self.price.map_or(0.0, |p| {
            (usage.input_tokens as f64 * p.input + usage.output_tokens as f64 * p.output) / 1e6
        });
        self.router.spend(self.provider, cost);
    }

    pub fn cost(&self, usage: &Usage) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        self.price.map_or(0.0, |p| {
            (usage.input_tokens as f64 * p.input + usage.output_tokens as f64 * p.output) / 1e6
        })
    }
}

fn today() -> time::Date {
    OffsetDateTime::now_utc().date()
}

/// A failure that says "try another provider": not reachable, 5xx, 429, 529.
fn is_overload(e: &IntegrationError) -> bool {
    match e {
        IntegrationError::Unreachable { .. } => true,
        IntegrationError::Remote { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

impl RouterState {
    pub fn spent_today(&self, kind: ProviderKind) -> f64 {
        self.lock()
            .spent
            .get(&(today(), kind))
            .copied()
            .unwrap_or(0.0)
    }

    pub fn spent_today_total(&self) -> f64 {
        let day = today();
        self.lock()
            .spent
            .iter()
            .filter(|((d, _), _)| *d == day)
            .map(|(_, v)| v)
            .sum()
    }

    fn spend(&self, kind: ProviderKind, usd: f64) {
        if usd > 0.0 {
            let mut inner = self.lock();
            let day = today();
            inner.spent.retain(|(d, _), _| *d == day);
            *inner.spent.entry((day, kind)).or_default() += usd;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn is_down(&self, kind: ProviderKind, url: &str) -> bool {
        self.lock()
            .seen
            .get(&(kind, url.to_owned()))
            .and_then(|s| s.down_until)
            .is_some_and(|t| t > Instant::now())
    }

    pub fn last_error(&self, kind: ProviderKind, url: &str) -> Option<String> {
        self.lock()
            .seen
            .get(&(kind, url.to_owned()))
            .and_then(|s| s.last_error.clone())
    }

    pub fn last_ok(&self, kind: ProviderKind, url: &str) -> Option<OffsetDateTime> {
        self.lock()
            .seen
            .get(&(kind, url.to_owned()))
            .and_then(|s| s.last_ok)
    }

    pub fn decisions(&self) -> Vec<Decision> {
        self.lock().decisions.iter().rev().cloned().collect()
    }

    fn mark_failed(&self, kind: ProviderKind, url: &str, error: &IntegrationError) {
        let mut inner = self.lock();
        let seen = inner.seen.entry((kind, url.to_owned())).or_default();
        seen.last_error = Some(error.to_string());
        if is_overload(error) {
            seen.down_until = Some(Instant::now() + DOWN_FOR);
        }
    }

    fn mark_ok(&self, kind: ProviderKind, url: &str) {
        let mut inner = self.lock();
        let seen = inner.seen.entry((kind, url.to_owned())).or_default();
        seen.down_until = None;
        seen.last_ok = Some(OffsetDateTime::now_utc());
    }

    fn remember(&self, d: Decision) {
        let mut inner = self.lock();
        if inner.decisions.len() >= DECISIONS_KEPT {
            inner.decisions.pop_front();
        }
        inner.decisions.push_back(d);
    }

    /// The models `p` offers (its list reused for a short while).
    pub async fn models_of(&self, p: &Configured) -> Result<Vec<String>, IntegrationError> {
        let kind = p.provider.kind();
        if let Some((at, url, models)) = self.lock().models.get(&kind)
            && at.elapsed() < MODELS_FRESH
            && *url == p.url
        {
            return Ok(models.clone());
        }
        let models: Vec<String> = p
            .provider
            .models()
            .await?
            .into_iter()
            .map(|m: ModelInfo| m.id)
            .collect();
        self.lock()
            .models
            .insert(kind, (Instant::now(), p.url.clone(), models.clone()));
        Ok(models)
    }

    /// The candidates for `req`, in order, with why (and why others were left out).
    pub async fn candidates(
        &self,
        cfg: &RouterConfig,
        req: &RouteRequest,
        reasons: &mut Vec<String>,
    ) -> Result<Vec<Candidate>, RouteError> {
        if cfg.providers.is_empty() {
            return Err(RouteError::NoProvider);
        }
        let explicit = req.model.clone().or_else(|| cfg.default_model.clone());
        if let Some(model) = explicit {
            let named = req.model.is_some();
            let c = self.resolve(cfg, &model).await?;
            let Some(mut c) = c else {
                return Err(RouteError::Invalid(ModuleError::InvalidField {
                    field: "model".to_owned(),
                    message: format!("model '{model}' is not offered by any configured provider"),
                }));
            };
            c.reason = if named {
                format!("the request named {model}")
            } else {
                format!("default_model is {model}")
            };
            reasons.push(c.reason.clone());
            if named {
                return Ok(vec![c]);
            }
            let mut out = vec![c];
            self.fallbacks(cfg, &mut out, reasons);
            return Ok(out);
        }
        let mut out = Vec::new();
        if let Some(rule) = cfg.rules.iter().find(|r| {
            r.task_kind.as_ref().is_none_or(|k| *k == req.task_kind)
                && r.min_context_tokens.is_none_or(|n| req.context_tokens >= n)
                && r.tools.is_none_or(|t| t == req.tools)
                && r.mode
                    .as_ref()
                    .is_none_or(|m| req.mode.as_deref() == Some(m.as_str()))
        }) {
            match cfg.provider(rule.provider) {
                Some(p) => match rule.model.clone().or_else(|| p.default_model.clone()) {
                    Some(model) => out.push(Candidate {
                        provider: rule.provider,
                        model,
                        reason: format!("rule '{}' matched", rule.name),
                    }),
                    None => reasons.push(format!(
                        "rule '{}' matched but names no model and {} has no default",
                        rule.name,
                        rule.provider.as_str()
                    )),
                },
                None => reasons.push(format!(
                    "rule '{}' matched but {} is not configured",
                    rule.name,
                    rule.provider.as_str()
                )),
            }
        } else if !cfg.rules.is_empty() {
            reasons.push("no rule matched".to_owned());
        }
        if let Some(c) = out.first() {
            reasons.push(format!("{}: {}/{}", c.reason, c.provider.as_str(), c.model));
        }
        self.fallbacks(cfg, &mut out, reasons);
        if out.is_empty() {
            return Err(RouteError::Invalid(ModuleError::InvalidField {
                field: "model".to_owned(),
                message: format!(
                    "no model is named and no configured provider has a default one ({}): name \
                     one in `model`, or set ollama_model, openai_model or anthropic_model",
                    reasons.join("; ")
                ),
            }));
        }
        Ok(out)
    }

    /// Adds the other configured providers with their default models, local ones first.
    fn fallbacks(&self, cfg: &RouterConfig, out: &mut Vec<Candidate>, reasons: &mut Vec<String>) {
        for kind in ProviderKind::ALL {
            if out.iter().any(|c| c.provider == kind) {
                continue;
            }
            let Some(p) = cfg.provider(kind) else {
                continue;
            };
            match &p.default_model {
                Some(model) => out.push(Candidate {
                    provider: kind,
                    model: model.clone(),
                    reason: if out.is_empty() {
                        "the first configured provider (local first)".to_owned()
                    } else {
                        "fallback".to_owned()
                    },
                }),
                None => reasons.push(format!("{} has no default model", kind.as_str())),
            }
        }
    }

    /// `"provider/model"` or a model id some provider lists.
    async fn resolve(
        &self,
        cfg: &RouterConfig,
        model: &str,
    ) -> Result<Option<Candidate>, RouteError> {
        if let Some((prefix, rest)) = model.split_once('/')
            && let Some(kind) = ProviderKind::parse(prefix)
        {
            let Some(p) = cfg.provider(kind) else {
                return Err(RouteError::Invalid(ModuleError::InvalidField {
                    field: "model".to_owned(),
                    message: format!("model '{model}': provider {prefix} is not configured"),
                }));
            };
            let listed = self.models_of(p).await.map_err(|e| {
                self.mark_failed(kind, &p.url, &e);
                RouteError::Provider(e)
            })?;
            return Ok(listed.iter().any(|m| m == rest).then(|| Candidate {
                provider: kind,
                model: rest.to_owned(),
                reason: String::new(),
            }));
        }
        for p in &cfg.providers {
            let kind = p.provider.kind();
            match self.models_of(p).await {
                Ok(listed) if listed.iter().any(|m| m == model) => {
                    return Ok(Some(Candidate {
                        provider: kind,
                        model: model.to_owned(),
                        reason: String::new(),
                    }));
                }
                Ok(_) => {}
                Err(e) => self.mark_failed(kind, &p.url, &e),
            }
        }
        Ok(None)
    }

    /// Routes `req` and starts the answer, falling back along the candidates. `build` makes the
    /// provider request for a chosen model.
    pub async fn open(
        self: &Arc<Self>,
        cfg: &RouterConfig,
        req: &RouteRequest,
        chat: &ChatRequest,
    ) -> Result<Opened, RouteError> {
        let mut reasons = Vec::new();
        let candidates = match self.candidates(cfg, req, &mut reasons).await {
            Ok(c) => c,
            Err(e) => {
                reasons.push(e.to_string());
                self.remember(self.decision(req, None, reasons));
                return Err(e);
            }
        };
        let down = |c: &Candidate| {
            cfg.provider(c.provider)
                .is_some_and(|p| self.is_down(c.provider, &p.url))
        };
        let all_down = candidates.iter().all(down);
        let mut last: Option<IntegrationError> = None;
        for c in candidates {
            let Some(p) = cfg.provider(c.provider) else {
                continue;
            };
            if !all_down && down(&c) {
                reasons.push(format!(
                    "skipped {}: failed recently ({})",
                    c.provider.as_str(),
                    self.last_error(c.provider, &p.url).unwrap_or_default()
                ));
                continue;
            }
            if cfg.is_paid(c.provider, &c.model) {
                let price = cfg.price(&c.model);
                match (cfg.daily_budget_cents, price) {
                    (_, None) => {
                        reasons.push(format!(
                            "skipped {}/{}: a paid model without a price in `prices` (its spending could not be counted)",
                            c.provider.as_str(),
                            c.model
                        ));
                        continue;
                    }
                    (Some(cents), Some(_)) => {
                        #[allow(clippy::cast_precision_loss)]
                        let limit = cents as f64 / 100.0;
                        let spent = self.spent_today_total();
                        if spent >= limit {
                            reasons.push(format!(
                                "skipped {}/{}: today's budget is spent (${spent:.4} of ${limit:.2})",
                                c.provider.as_str(),
                                c.model
                            ));
                            continue;
                        }
                    }
                    (None, Some(_)) => {}
                }
            }
            let mut request = chat.clone();
            request.model = c.model.clone();
            let attempt = async {
                let mut stream = p.provider.chat(&request).await?;
                match stream.next().await {
                    Some(Ok(first)) => Ok((stream, first)),
                    Some(Err(e)) => Err(e),
                    None => Err(IntegrationError::BadAnswer {
                        service: c.provider.as_str(),
                        detail: "an empty answer".to_owned(),
                    }),
                }
            };
            match attempt.await {
                Ok((stream, first)) => {
                    self.mark_ok(c.provider, &p.url);
                    reasons.push(format!(
                        "chose {}/{} ({})",
                        c.provider.as_str(),
                        c.model,
                        c.reason
                    ));
                    self.remember(self.decision(req, Some(&c), reasons));
                    return Ok(Opened {
                        provider: c.provider,
                        model: c.model.clone(),
                        first,
                        stream,
                        router: self.clone(),
                        price: cfg.price(&c.model),
                    });
                }
                Err(e) => {
                    self.mark_failed(c.provider, &p.url, &e);
                    reasons.push(format!("{}/{} failed: {e}", c.provider.as_str(), c.model));
                    if !is_overload(&e) {
                        self.remember(self.decision(req, None, reasons));
                        return Err(RouteError::Provider(e));
                    }
                    last = Some(e);
                }
            }
        }
        let why = reasons.join("; ");
        self.remember(self.decision(req, None, reasons));
        Err(match last {
            Some(e) => RouteError::Exhausted(format!("{e} ({why})")),
            None => RouteError::Exhausted(why),
        })
    }

    fn decision(
        &self,
        req: &RouteRequest,
        c: Option<&Candidate>,
        reasons: Vec<String>,
    ) -> Decision {
        Decision {
            at: OffsetDateTime::now_utc(),
            task_kind: req.task_kind.clone(),
            context_tokens: req.context_tokens,
            tools: req.tools,
            provider: c.map(|c| c.provider),
            model: c.map(|c| c.model.clone()),
            reasons,
        }
    }
}

/// Tokens of a text, estimated (about four characters a token).
pub fn estimate_tokens(text: &str) -> u64 {
    u64::try_from(text.chars().count().div_ceil(4)).unwrap_or(u64::MAX)
}
