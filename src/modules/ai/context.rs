//! The context an AI request sends with its prompt, assembled from the fleet's state: node facts,
//! container states (and one container's detail), recent events, alerts (alerting module on).
//! `GET /api/ai/context-preview` answers it as it would be sent; AI tasks build it with
//! [`assemble`] too, so the preview is exactly what a model gets.
//!
//! Each part is a list of items, newest first, each with its text; a part's text is its title
//! and its items, one a line, and its token count is [`estimate_tokens`] of that text.
//!
//! **Fitting the budget** ([`CUT_RULE`]): while the prompt plus the parts exceed
//! `budget_tokens`, the largest part (most tokens; the earlier part on a tie) loses its oldest
//! item; a part left without items is dropped. Every cut is recorded on its part (`cut`), a
//! dropped part in `dropped`. The prompt itself is never cut: a prompt larger than the budget is
//! refused.
//!
//! **Secrets never enter a context**: env values are never read (a container part gives env
//! *names* only), settings are not a source at all (sealed or not), and every JSON payload that
//! enters a part (event payloads, alert labels and annotations) goes through [`redact`], which
//! masks the value of any key that names a secret (`password`, `token`, `key`, …) and any string
//! that looks like a credential (`cb_…` API keys, `Bearer …`, PEM blocks).
//!
//! **Sources**: [`SOURCES`] lists them in order. A module's source (the knowledge base's
//! excerpts, the planner's items, once those modules exist) is one more entry with its module
//! set: it is gathered only while its module is on.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::router::estimate_tokens;
use super::tools::Caller;
use crate::docker::containers::ContainerInfo;
use crate::docker::ops::DockerOp;
use crate::endpoints::{self, EndpointError};
use crate::events::visible_kinds;
use crate::modules::alerting::store::AlertingStore;
use crate::modules::alerting::store::alerts::{AlertFilter, FIRING};
use crate::modules::{ModuleError, ModuleName, is_enabled};
use crate::state::AppState;
use crate::store::Page;

/// How a context is cut to fit its budget (answered with every preview).
pub const CUT_RULE: &str = "while over budget, the largest part (most tokens) loses its oldest \
    item; a part left without items is dropped; the prompt is never cut";

/// Default and largest budgets, in tokens.
pub const DEFAULT_BUDGET_TOKENS: u64 = 4_000;
pub const MAX_BUDGET_TOKENS: u64 = 1_000_000;
/// The most items a source reads before any cut (the newest).
const MAX_ITEMS: usize = 200;
/// A single item's text is cut to this many characters.
const MAX_ITEM_CHARS: usize = 600;
/// The text every secret value is replaced with.
pub const REDACTED: &str = "********";

/// What a request is about.
#[derive(Debug, Clone, Default)]
pub struct ContextRequest {
    pub prompt: String,
    /// A node id: its facts only (else every enrolled node's).
    pub node: Option<String>,
    /// An endpoint id: its containers only (else every endpoint's).
    pub endpoint: Option<String>,
    /// A container id or name on `endpoint`: its detail as one more part.
    pub container: Option<String>,
    pub budget_tokens: u64,
    pub task_kind: Option<String>,
}

/// One item of a part.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiContextItem)]
pub struct ContextItem {
    pub text: String,
    /// Unix milliseconds, when the item has a time (events, alerts, containers' creation).
    pub at: Option<i64>,
}

/// One part of the context.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiContextPart)]
pub struct ContextPart {
    /// `nodes`, `containers`, `container`, `events`, `alerts`.
    pub kind: &'static str,
    pub title: String,
    /// The text sent: the title, then the items kept, one a line.
    pub text: String,
    pub tokens: u64,
    /// Items the source gave, and how many were kept.
    pub items_total: usize,
    pub items_kept: usize,
    /// What was cut from it to fit the budget (empty: nothing).
    pub cut: Vec<String>,
    #[serde(skip)]
    items: Vec<ContextItem>,
}

/// A part left out entirely.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiContextDropped)]
pub struct DroppedPart {
    pub kind: &'static str,
    pub title: String,
    /// Why: cut to fit the budget, or its source failed (the reason).
    pub reason: String,
}

/// The assembled context.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiContextPreview)]
pub struct ContextPreview {
    pub prompt_tokens: u64,
    pub budget_tokens: u64,
    /// Prompt and parts.
    pub total_tokens: u64,
    pub task_kind: Option<String>,
    pub parts: Vec<ContextPart>,
    pub dropped: Vec<DroppedPart>,
    pub rule: &'static str,
}

impl ContextPreview {
    /// The text sent to a model as context: the parts' texts, in order.
    pub fn text(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

/// A source of context parts.
pub struct Source {
    pub kind: &'static str,
    /// Gathered only while this module is on.
    pub module: Option<ModuleName>,
    pub gather: for<'a> fn(&'a AppState, &'a Caller, &'a ContextRequest) -> GatherFuture<'a>,
}

pub type GatherFuture<'a> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Option<Gathered>, SourceError>> + Send + 'a>,
>;

/// What a source found: a title and its items, newest first.
pub struct Gathered {
    pub title: String,
    pub items: Vec<ContextItem>,
}

/// Why a source gave nothing: the request names something that does not exist (the whole
/// preview fails: 404), or the source could not be read (the part is dropped with the reason).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Unavailable(String),
}

/// The sources, in the order their parts are sent. Knowledge-base excerpts and planner items are
/// entries here with `module: Some(ModuleName::Knowledge)` / `Some(ModuleName::Planner)` once
/// those modules exist.
pub static SOURCES: &[Source] = &[
    Source {
        kind: "nodes",
        module: None,
        gather: nodes,
    },
    Source {
        kind: "container",
        module: None,
        gather: container,
    },
    Source {
        kind: "containers",
        module: None,
        gather: containers,
    },
    Source {
        kind: "alerts",
        module: Some(ModuleName::Alerting),
        gather: alerts,
    },
    Source {
        kind: "events",
        module: None,
        gather: events,
    },
];

/// Checks the request's values (each error names its parameter).
pub fn validate(req: &ContextRequest, max_prompt_chars: usize) -> Result<(), ModuleError> {
    let invalid = |field: &str, message: String| ModuleError::InvalidField {
        field: field.to_owned(),
        message,
    };
    if req.budget_tokens == 0 || req.budget_tokens > MAX_BUDGET_TOKENS {
        return Err(invalid(
            "budget_tokens",
            format!("budget_tokens must be from 1 to {MAX_BUDGET_TOKENS}"),
        ));
    }
    if req.prompt.chars().count() > max_prompt_chars {
        return Err(invalid(
            "prompt",
            format!("prompt is longer than {max_prompt_chars} characters"),
        ));
    }
    let is_ref = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'))
    };
    for (field, value) in [
        ("node", &req.node),
        ("endpoint", &req.endpoint),
        ("container", &req.container),
    ] {
        if let Some(v) = value
            && !is_ref(v)
        {
            return Err(invalid(
                field,
                format!("{field} must be an id or name (letters, digits, _ . - :, at most 128)"),
            ));
        }
    }
    if req.container.is_some() && req.endpoint.is_none() {
        return Err(invalid(
            "endpoint",
            "endpoint is required with container (the endpoint that holds it)".to_owned(),
        ));
    }
    if let Some(k) = &req.task_kind
        && (k.is_empty()
            || k.len() > 64
            || !k
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-')))
    {
        return Err(invalid(
            "task_kind",
            "task_kind must be 1 to 64 of a-z 0-9 _ -".to_owned(),
        ));
    }
    Ok(())
}

/// Assembles the context of `req` as `caller` sees the fleet, cut to its budget.
pub async fn assemble(
    state: &AppState,
    caller: &Caller,
    req: &ContextRequest,
) -> Result<ContextPreview, ModuleError> {
    let prompt_tokens = estimate_tokens(&req.prompt);
    if prompt_tokens > req.budget_tokens {
        return Err(ModuleError::InvalidField {
            field: "budget_tokens".into(),
            message: format!(
                "budget_tokens ({}) is smaller than the prompt alone ({prompt_tokens} tokens)",
                req.budget_tokens
            ),
        });
    }
    let mut parts = Vec::new();
    let mut dropped = Vec::new();
    for source in SOURCES {
        if let Some(m) = source.module
            && !is_enabled(state, m).await?
        {
            continue;
        }
        match (source.gather)(state, caller, req).await {
            Ok(Some(g)) => parts.push(part(source.kind, g.title, g.items)),
            Ok(None) => {}
            Err(SourceError::NotFound(what)) => return Err(ModuleError::NotFound(what)),
            Err(SourceError::Unavailable(why)) => dropped.push(DroppedPart {
                kind: source.kind,
                title: source.kind.to_owned(),
                reason: why,
            }),
        }
    }
    fit(&mut parts, &mut dropped, req.budget_tokens - prompt_tokens);
    let total_tokens = prompt_tokens + parts.iter().map(|p| p.tokens).sum::<u64>();
    Ok(ContextPreview {
        prompt_tokens,
        budget_tokens: req.budget_tokens,
        total_tokens,
        task_kind: req.task_kind.clone(),
        parts,
        dropped,
        rule: CUT_RULE,
    })
}

fn part(kind: &'static str, title: String, items: Vec<ContextItem>) -> ContextPart {
    let items_total = items.len();
    let mut p = ContextPart {
        kind,
        title,
        text: String::new(),
        tokens: 0,
        items_total,
        items_kept: items_total,
        cut: Vec::new(),
        items,
    };
    render(&mut p);
    p
}

fn render(p: &mut ContextPart) {
    let mut text = format!("## {}", p.title);
    for item in &p.items {
        text.push('\n');
        text.push_str(&item.text);
    }
    p.tokens = estimate_tokens(&text);
    p.items_kept = p.items.len();
    p.text = text;
}

/// Cuts `parts` to `budget` tokens by [`CUT_RULE`].
fn fit(parts: &mut Vec<ContextPart>, dropped: &mut Vec<DroppedPart>, budget: u64) {
    loop {
        let total: u64 = parts.iter().map(|p| p.tokens).sum();
        if total <= budget {
            return;
        }
        // The largest part; the earlier one on a tie.
        let Some(i) = parts
            .iter()
            .enumerate()
            .rev()
            .max_by_key(|(_, p)| p.tokens)
            .map(|(i, _)| i)
        else {
            return;
        };
        let p = &mut parts[i];
        match p.items.pop() {
            Some(oldest) => {
                let first_line: String = oldest.text.chars().take(60).collect();
                p.cut.push(format!("oldest item: {first_line}"));
                render(p);
                if p.items.is_empty() {
                    let p = parts.remove(i);
                    dropped.push(DroppedPart {
                        kind: p.kind,
                        title: p.title,
                        reason: format!(
                            "cut to fit the budget (all {} items were cut)",
                            p.items_total
                        ),
                    });
                }
            }
            None => {
                let p = parts.remove(i);
                dropped.push(DroppedPart {
                    kind: p.kind,
                    title: p.title,
                    reason: "cut to fit the budget".into(),
                });
            }
        }
    }
}

/// Whether a JSON key names a secret.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "key",
        "credential",
        "private",
        "auth",
        "cookie",
        "session",
        "signature",
        "dsn",
    ]
    .iter()
    .any(|s| k == *s || k.contains(s))
}

/// Whether a string looks like a credential whatever its key.
fn secret_text(s: &str) -> bool {
    let t = s.trim();
    t.starts_with(crate::auth::credentials::API_KEY_PREFIX) && t.len() >= 40
        || t.to_ascii_lowercase().starts_with("bearer ")
        || t.contains("-----BEGIN")
        || t.starts_with("sk-")
}

/// `v` with every secret value masked (see the module's documentation).
pub fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if secret_key(k) && !v.is_null() && !v.is_boolean() {
                        Value::String(REDACTED.into())
                    } else {
                        redact(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        Value::String(s) if secret_text(s) => Value::String(REDACTED.into()),
        other => other.clone(),
    }
}

fn clip(text: String) -> String {
    if text.chars().count() <= MAX_ITEM_CHARS {
        text
    } else {
        let mut t: String = text.chars().take(MAX_ITEM_CHARS).collect();
        t.push('…');
        t
    }
}

fn unavailable(e: impl std::fmt::Display) -> SourceError {
    SourceError::Unavailable(e.to_string())
}

fn endpoint_error(e: EndpointError, what: &'static str) -> SourceError {
    match e {
        EndpointError::NotFound(_) => SourceError::NotFound(what),
        other => unavailable(other),
    }
}

fn nodes<'a>(state: &'a AppState, _: &'a Caller, req: &'a ContextRequest) -> GatherFuture<'a> {
    Box::pin(async move {
        let hosts = match &req.node {
            Some(id) => match state.store.hosts().get(id).await {
                Ok(h) if h.enrolled => vec![h],
                Ok(_) | Err(crate::store::StoreError::NotFound(_)) => {
                    return Err(SourceError::NotFound("node"));
                }
                Err(e) => return Err(unavailable(e)),
            },
            None => state.store.hosts().enrolled().await.map_err(unavailable)?,
        };
        if hosts.is_empty() {
            return Ok(None);
        }
        let mut items = Vec::with_capacity(hosts.len());
        for h in hosts.into_iter().take(MAX_ITEMS) {
            let live = state.nodes.snapshot(&h.id).await.map_err(unavailable)?;
            let status = live
                .as_ref()
                .map_or(contextbay_actors::NodeStatus::Unknown, |l| l.status)
                .as_str();
            let labels = redact(&Value::Object(h.labels.clone()));
            let labels = labels
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(&v.to_string())))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            let mut text = format!(
                "node {} (id {}): {status}, {}, hostname {}, agent {}, labels [{labels}]",
                h.name,
                h.id,
                if live.as_ref().is_some_and(|l| l.connected) {
                    "connected"
                } else {
                    "not connected"
                },
                h.hostname.as_deref().unwrap_or("?"),
                h.agent_version.as_deref().unwrap_or("?"),
            );
            if let Some(host) = live
                .as_ref()
                .and_then(|l| l.metrics.as_ref())
                .and_then(|m| m.host.as_ref())
            {
                text.push_str(&format!(
                    ", cpu {:.0}% of {} cores, memory {} of {} MiB, load {:.2}",
                    host.cpu_percent,
                    host.cpu_cores,
                    host.memory_used_bytes / (1024 * 1024),
                    host.memory_total_bytes / (1024 * 1024),
                    host.load1,
                ));
            }
            items.push(ContextItem {
                text: clip(text),
                at: h.last_seen_at,
            });
        }
        // Newest first: the most recently seen nodes.
        items.sort_by_key(|i| std::cmp::Reverse(i.at));
        Ok(Some(Gathered {
            title: "Nodes".into(),
            items,
        }))
    })
}

fn container_line(c: &ContainerInfo, endpoint: &str) -> String {
    clip(format!(
        "container {} ({}) on {endpoint}: {} — {}, image {}{}",
        c.name,
        &c.id[..c.id.len().min(12)],
        c.state,
        c.status,
        c.image,
        c.compose_project
            .as_deref()
            .map(|p| format!(", compose project {p}"))
            .unwrap_or_default(),
    ))
}

fn containers<'a>(state: &'a AppState, _: &'a Caller, req: &'a ContextRequest) -> GatherFuture<'a> {
    Box::pin(async move {
        let targets = match &req.endpoint {
            Some(id) => vec![
                endpoints::get(state, id)
                    .await
                    .map_err(|e| endpoint_error(e, "endpoint"))?,
            ],
            None => endpoints::all(state).await.map_err(unavailable)?,
        };
        let mut items = Vec::new();
        let mut failed = Vec::new();
        for e in &targets {
            match endpoints::call_as::<Vec<ContainerInfo>>(
                state,
                e,
                DockerOp::ListContainers { all: true },
            )
            .await
            {
                Ok(list) => items.extend(list.iter().map(|c| ContextItem {
                    text: container_line(c, &e.id),
                    at: Some(c.created.saturating_mul(1000)),
                })),
                Err(err) => failed.push(format!("{}: {err}", e.id)),
            }
        }
        for f in failed {
            items.push(ContextItem {
                text: clip(format!("endpoint {f} (did not answer)")),
                at: None,
            });
        }
        if items.is_empty() {
            return Ok(None);
        }
        items.sort_by_key(|i| std::cmp::Reverse(i.at));
        items.truncate(MAX_ITEMS);
        Ok(Some(Gathered {
            title: "Containers".into(),
            items,
        }))
    })
}

fn container<'a>(state: &'a AppState, _: &'a Caller, req: &'a ContextRequest) -> GatherFuture<'a> {
    Box::pin(async move {
        let (Some(id), Some(endpoint)) = (&req.container, &req.endpoint) else {
            return Ok(None);
        };
        let e = endpoints::get(state, endpoint)
            .await
            .map_err(|e| endpoint_error(e, "endpoint"))?;
        let doc: Value =
            match endpoints::call(state, &e, DockerOp::InspectContainer { id: id.clone() }).await {
                Ok(doc) => doc,
                Err(err) if err.status() == Some(404) => {
                    return Err(SourceError::NotFound("container"));
                }
                Err(err) => return Err(unavailable(err)),
            };
        let s = |p: &str| {
            doc.pointer(p).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        let mut items = vec![ContextItem {
            text: clip(format!(
                "{} (id {}) on {}: image {}, state {}, exit code {}, restarts {}, started {}, finished {}",
                s("/Name").unwrap_or_default().trim_start_matches('/'),
                &s("/Id").unwrap_or_default()[..12.min(s("/Id").unwrap_or_default().len())],
                e.id,
                s("/Config/Image").unwrap_or_default(),
                s("/State/Status").unwrap_or_default(),
                s("/State/ExitCode").unwrap_or_default(),
                s("/RestartCount").unwrap_or_default(),
                s("/State/StartedAt").unwrap_or_default(),
                s("/State/FinishedAt").unwrap_or_default(),
            )),
            at: None,
        }];
        if let Some(health) = doc.pointer("/State/Health/Status").and_then(Value::as_str) {
            items.push(ContextItem {
                text: format!("health: {health}"),
                at: None,
            });
        }
        // The names of the env variables, never their values.
        let names: Vec<&str> = doc
            .pointer("/Config/Env")
            .and_then(Value::as_array)
            .map(|env| {
                env.iter()
                    .filter_map(Value::as_str)
                    .map(|kv| kv.split_once('=').map_or(kv, |(k, _)| k))
                    .collect()
            })
            .unwrap_or_default();
        if !names.is_empty() {
            items.push(ContextItem {
                text: clip(format!("env (names only): {}", names.join(", "))),
                at: None,
            });
        }
        if let Some(cmd) = doc.pointer("/Config/Cmd").filter(|v| !v.is_null()) {
            items.push(ContextItem {
                text: clip(format!("command: {}", redact(cmd))),
                at: None,
            });
        }
        Ok(Some(Gathered {
            title: format!("Container {id}"),
            items,
        }))
    })
}

fn alerts<'a>(state: &'a AppState, _: &'a Caller, _: &'a ContextRequest) -> GatherFuture<'a> {
    Box::pin(async move {
        let filter = AlertFilter {
            status: Some(FIRING.to_owned()),
            ..AlertFilter::default()
        };
        let page = state
            .store
            .alerts()
            .list(
                &filter,
                Page {
                    limit: MAX_ITEMS as i64,
                    offset: 0,
                },
            )
            .await
            .map_err(unavailable)?;
        if page.items.is_empty() {
            return Ok(None);
        }
        let items = page
            .items
            .into_iter()
            .map(|a| ContextItem {
                text: clip(format!(
                    "{} [{}] since {}: labels {} annotations {}",
                    a.name,
                    a.severity,
                    contextbay_actors::rfc3339_from_millis(a.starts_at),
                    redact(&Value::Object(a.labels)),
                    redact(&Value::Object(a.annotations)),
                )),
                at: Some(a.starts_at),
            })
            .collect();
        Ok(Some(Gathered {
            title: "Firing alerts".into(),
            items,
        }))
    })
}

fn events<'a>(state: &'a AppState, caller: &'a Caller, _: &'a ContextRequest) -> GatherFuture<'a> {
    Box::pin(async move {
        // What the caller's role may see of the feed, as `GET /api/activity` answers it.
        let visible = visible_kinds(caller.role);
        let page = state
            .store
            .events()
            .page(
                visible.as_deref(),
                None,
                None,
                Page {
                    limit: MAX_ITEMS as i64,
                    offset: 0,
                },
            )
            .await
            .map_err(unavailable)?;
        if page.items.is_empty() {
            return Ok(None);
        }
        let items = page
            .items
            .into_iter()
            .map(|e| ContextItem {
                text: clip(format!(
                    "{} {} {}",
                    contextbay_actors::rfc3339_from_millis(e.ts),
                    e.kind,
                    redact(&e.payload)
                )),
                at: Some(e.ts),
            })
            .collect();
        Ok(Some(Gathered {
            title: "Recent events".into(),
            items,
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items(n: usize, chars: usize) -> Vec<ContextItem> {
        (0..n)
            .map(|i| ContextItem {
                text: format!("{i:>width$}", width = chars),
                at: Some(1_000 - i as i64),
            })
            .collect()
    }

    #[test]
    fn the_largest_part_loses_its_oldest_items_first() {
        let mut parts = vec![
            part("a", "A".into(), items(10, 40)),
            part("b", "B".into(), items(2, 40)),
        ];
        let mut dropped = Vec::new();
        let budget = parts[1].tokens + 50;
        fit(&mut parts, &mut dropped, budget);
        let total: u64 = parts.iter().map(|p| p.tokens).sum();
        assert!(total <= budget);
        // Only the large part was cut, from its end (the oldest).
        assert_eq!(parts[1].items_kept, 2);
        assert!(parts[0].items_kept < 10);
        assert_eq!(parts[0].cut.len(), 10 - parts[0].items_kept);
        assert_eq!(parts[0].items.first().map(|i| i.at), Some(Some(1_000)));
        assert!(dropped.is_empty());
    }

    #[test]
    fn a_tiny_budget_drops_parts_and_says_so() {
        let mut parts = vec![part("a", "A".into(), items(3, 40))];
        let mut dropped = Vec::new();
        fit(&mut parts, &mut dropped, 1);
        assert!(parts.is_empty());
        assert_eq!(dropped.len(), 1);
        assert!(dropped[0].reason.contains("budget"));
    }

    #[test]
    fn secrets_are_masked_wherever_they_sit() {
        let v = redact(&json!({
            "name": "db",
            "DB_PASSWORD": "hunter2",
            "nested": {"api_token": "abc", "list": ["Bearer xyz", "plain"]},
            "key": "cb_0123456789012345678901234567890123456789",
            "note": "sk-ant-123",
        }));
        let s = v.to_string();
        for secret in ["hunter2", "abc", "Bearer xyz", "cb_0123", "sk-ant"] {
            assert!(!s.contains(secret), "{secret} in {s}");
        }
        assert!(s.contains("plain") && s.contains("\"db\""));
    }

    #[test]
    fn parameters_are_checked_by_name() {
        let ok = ContextRequest {
            budget_tokens: 100,
            ..ContextRequest::default()
        };
        assert!(validate(&ok, 10).is_ok());
        let field = |r: &ContextRequest| match validate(r, 10) {
            Err(ModuleError::InvalidField { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(&ContextRequest {
                budget_tokens: 0,
                ..ok.clone()
            }),
            "budget_tokens"
        );
        assert_eq!(
            field(&ContextRequest {
                prompt: "x".repeat(11),
                ..ok.clone()
            }),
            "prompt"
        );
        assert_eq!(
            field(&ContextRequest {
                container: Some("c".into()),
                ..ok.clone()
            }),
            "endpoint"
        );
        assert_eq!(
            field(&ContextRequest {
                node: Some("../x".into()),
                ..ok.clone()
            }),
            "node"
        );
    }
}
