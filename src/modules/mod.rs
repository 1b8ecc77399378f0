//! The module seam. A module is a folder `src/modules/<name>/` that exports one [`Module`]
//! descriptor: its name, settings, the services it calls, its routes (with their roles), its
//! OpenAPI paths, its event kinds and its start-up. [`MODULES`] is the only registration: the
//! route table, the OpenAPI document, the event catalogue, `/api/modules`, `/api/config/{module}`,
//! export/import and the module switch are all assembled from it. The recipe for a new module is
//! in `docs/modules.md`.
//!
//! Also here: what each module needs to be configured, and validation of their live
//! configuration (`PUT /api/config/{module}`).

pub mod ai;
pub mod alerting;
pub mod backups;
#[cfg(feature = "example-module")]
pub mod example;
pub mod monitoring;
pub mod settings;
pub mod subcontainers;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use std::sync::{Arc, Mutex};

use contextbay_actors::{Subscription, TopicFilter};

use crate::events::EventDecl;
use crate::http::routes::Route;
use crate::integrations::IntegrationError;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::modules::StoredModule;

/// Every module, one line each. Modules the spec names that have no code yet are registered
/// with their settings only (no routes, no events).
pub static MODULES: &[Module] = &[
    monitoring::MODULE,
    alerting::MODULE,
    ai::MODULE,
    Module::planned(
        ModuleName::Security,
        "Wazuh, vulnerabilities, compliance and playbooks",
        SECURITY,
    ),
    Module::planned(
        ModuleName::Knowledge,
        "Knowledge pages and RAG search",
        KNOWLEDGE,
    ),
    Module::planned(
        ModuleName::Planner,
        "Project planner: issues, sprints, boards",
        &[],
    ),
    backups::MODULE,
    Module::planned(ModuleName::Catalog, "App catalog of stack templates", &[]),
    Module::planned(
        ModuleName::ProxyRoutes,
        "Reverse-proxy routes (Caddy)",
        PROXY_ROUTES,
    ),
    Module::planned(
        ModuleName::Webhooks,
        "Outgoing webhooks for events",
        WEBHOOKS,
    ),
    Module::planned(
        ModuleName::Workflows,
        "n8n workflows and event bindings",
        WORKFLOWS,
    ),
    subcontainers::MODULE,
    #[cfg(feature = "example-module")]
    example::MODULE,
];

/// Core parts built on the module seam: their routes are not stamped with a module switch (they
/// answer whether modules are on or off), and they are not modules of the configuration
/// (`modules.<name>`, `/api/modules`, `/api/config/{module}` do not know them).
const CORE_PARTS: &[&str] = &["subcontainers"];

/// What modules keep for the life of one master (caches, counters, in-memory histories): one
/// value per type, created on first use and dropped with the master's [`AppState`]. A module
/// reaches its own with `state.module_state.get::<T>()`, so the core never names module types and
/// several masters in one process (the tests) never share a module's state.
#[derive(Clone, Default)]
pub struct ModuleStates(
    Arc<Mutex<std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>>>,
);

impl ModuleStates {
    /// This master's value of type `T`, created with `T::default()` on first use.
    pub fn get<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut values = match self.0.lock() {
            Ok(values) => values,
            Err(poisoned) => poisoned.into_inner(),
        };
        let value = values
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()));
        match Arc::clone(value).downcast::<T>() {
            Ok(value) => value,
            // Unreachable: the entry of `TypeId::of::<T>()` only ever holds a `T`. Replace it
            // rather than panic.
            Err(_) => {
                let fresh = Arc::new(T::default());
                *value = fresh.clone();
                fresh
            }
        }
    }
}

/// A module as the rest of the master sees it.
pub struct Module {
    pub name: ModuleName,
    /// One line for `/api/modules`.
    pub description: &'static str,
    /// The keys `PUT /api/config/{module}` accepts (exported and imported with the module).
    pub settings: &'static [Field],
    /// The external services its routes call (their reachability shows in `/api/modules`).
    pub services: &'static [Service],
    /// Its routes with their roles; each is stamped with this module, so it answers 404 while
    /// the module is off.
    pub routes: fn() -> Vec<Route>,
    /// The OpenAPI paths of those routes (a `utoipa::OpenApi` derive), merged into the document.
    pub openapi: fn() -> utoipa::openapi::OpenApi,
    /// The event kinds it publishes, for the catalogue.
    pub events: fn() -> Vec<EventDecl>,
    /// Starts its background consumers on `state.tasks` (call inside the actix System).
    pub start: fn(AppState) -> StartFuture,
}

/// An external service a module calls: its name, the setting holding its URL, and whether the
/// module needs it (`false`: optional, like Grafana for monitoring).
pub type Service = (&'static str, &'static str, bool);

impl Module {
    /// A core part ([`CORE_PARTS`]): cannot be switched off.
    pub fn is_core(&self) -> bool {
        CORE_PARTS.contains(&self.name.as_str())
    }

    /// A module the spec names that has no code yet: settings only.
    pub const fn planned(
        name: ModuleName,
        description: &'static str,
        settings: &'static [Field],
    ) -> Self {
        Self {
            name,
            description,
            settings,
            services: &[],
            routes: Vec::new,
            openapi: empty_openapi,
            events: Vec::new,
            start: no_start,
        }
    }
}

/// An OpenAPI document with no paths, for a module without routes.
pub fn empty_openapi() -> utoipa::openapi::OpenApi {
    utoipa::openapi::OpenApiBuilder::new().build()
}

/// The start-up of a module without background work.
pub fn no_start(_: AppState) -> StartFuture {
    Box::pin(async { Ok(()) })
}

/// Starts every module's background consumers (whether the module is on or not: each consumer
/// checks the switch when it acts, so switching a module on needs no restart).
pub async fn start_all(state: &AppState) -> anyhow::Result<()> {
    for module in MODULES {
        (module.start)(state.clone()).await?;
    }
    Ok(())
}

/// What the start-up of a module returns.
pub type StartFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>;

/// Runs a bus consumer under `state.tasks` as `name`: `run` gets a subscription to `topic` and
/// works until it ends. The first subscription is made before this returns (nothing published
/// after start-up is missed); a restart after a panic or an error subscribes again.
pub async fn consume<F, Fut>(
    state: &AppState,
    name: &'static str,
    topic: &'static str,
    run: F,
) -> anyhow::Result<()>
where
    F: Fn(AppState, Subscription) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let first = Arc::new(Mutex::new(Some(subscribe(state, topic).await?)));
    let state = state.clone();
    state.tasks.clone().spawn(name, move || {
        let first = first.lock().ok().and_then(|mut f| f.take());
        let state = state.clone();
        let run = run.clone();
        async move {
            let sub = match first {
                Some(sub) => sub,
                None => subscribe(&state, topic)
                    .await
                    .map_err(|e| format!("{e:#}"))?,
            };
            run(state, sub).await
        }
    });
    Ok(())
}

/// A bus subscription to one topic, from now on.
async fn subscribe(state: &AppState, topic: &str) -> anyhow::Result<Subscription> {
    let filter = TopicFilter::parse([topic]).map_err(anyhow::Error::msg)?;
    let (sub, _) = state.bus.subscribe(filter, None).await?;
    Ok(sub)
}

/// Whether a module is on: the live override, else the configuration file.
pub fn enabled(state: &AppState, name: ModuleName, stored: Option<&StoredModule>) -> bool {
    let default = state.config.modules.get(&name).copied().unwrap_or(false);
    stored.and_then(|s| s.enabled).unwrap_or(default)
}

/// Whether a module is switched on now (the module switch of the gate and the consumers).
pub async fn is_enabled(state: &AppState, module: ModuleName) -> Result<bool, StoreError> {
    let configured = state.config.modules.get(&module).copied().unwrap_or(false);
    Ok(state
        .store
        .modules()
        .enabled_override(module)
        .await?
        .unwrap_or(configured))
}

/// The characters a "not blank" text may not consist of only, and that are trimmed from it: the
/// same four in the code and in the documented pattern `[^ \t\n\r]` (so every regular
/// expression engine agrees with the check).
pub fn is_blank_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// `text` without leading and trailing blanks ([`is_blank_char`]).
pub fn trim_blank(text: &str) -> &str {
    text.trim_matches(is_blank_char)
}

/// Why a module's domain code failed; mapped once into the error table.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// A request the module refuses (400).
    #[error("{0}")]
    Invalid(String),
    /// A request the module refuses because of one input field (400 naming it).
    #[error("{message}")]
    InvalidField { field: String, message: String },
    /// A resource of the module that does not exist (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Integration(#[from] IntegrationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure of the master itself (500; the message is logged, not answered).
    #[error("{0}")]
    Internal(String),
}

/// A module's name: the one its descriptor in [`MODULES`] carries. Only names of registered
/// modules can be parsed or deserialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModuleName(&'static str);

#[allow(non_upper_case_globals)]
impl ModuleName {
    pub const Monitoring: Self = Self("monitoring");
    pub const Alerting: Self = Self("alerting");
    pub const Ai: Self = Self("ai");
    pub const Security: Self = Self("security");
    pub const Knowledge: Self = Self("knowledge");
    pub const Planner: Self = Self("planner");
    pub const Backups: Self = Self("backups");
    pub const Catalog: Self = Self("catalog");
    pub const ProxyRoutes: Self = Self("proxy_routes");
    pub const Webhooks: Self = Self("webhooks");
    pub const Workflows: Self = Self("workflows");
}

impl ModuleName {
    /// A module's name, for its own descriptor.
    pub const fn named(name: &'static str) -> Self {
        Self(name)
    }

    /// Every registered module, in registration order.
    /// Core parts ([`Module::is_core`]) are not modules of the configuration and are left out.
    pub fn all() -> impl Iterator<Item = ModuleName> {
        MODULES.iter().filter(|m| !m.is_core()).map(|m| m.name)
    }

    /// The modules the default configuration lists (`modules.<name> = false`): every
    /// registered one but the test-only example.
    pub fn configured_by_default() -> impl Iterator<Item = ModuleName> {
        Self::all().filter(|m| {
            #[cfg(feature = "example-module")]
            if *m == example::MODULE.name {
                return false;
            }
            let _ = m;
            true
        })
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::all().find(|m| m.as_str() == name)
    }

    /// This module's descriptor.
    pub fn module(self) -> Option<&'static Module> {
        MODULES.iter().find(|m| m.name == self)
    }

    pub fn description(self) -> &'static str {
        self.module().map_or("", |m| m.description)
    }

    /// The keys `PUT /api/config/{module}` accepts for this module.
    pub fn fields(self) -> &'static [Field] {
        self.module().map_or(&[], |m| m.settings)
    }

    /// The services its routes call.
    pub fn services(self) -> &'static [Service] {
        self.module().map_or(&[], |m| m.services)
    }

    /// Whether every required field is present in a stored configuration.
    pub fn is_configured(self, config: &Map<String, Value>) -> bool {
        self.missing_settings(config).next().is_none()
    }

    /// The required fields a stored configuration lacks.
    pub fn missing_settings<'a>(
        self,
        config: &'a Map<String, Value>,
    ) -> impl Iterator<Item = &'static Field> + 'a {
        self.fields()
            .iter()
            .filter(|f| f.required && config.get(f.key).is_none_or(|v| v.is_null() || v == ""))
    }
}

impl std::fmt::Display for ModuleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ModuleName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for ModuleName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Self::parse(&name).ok_or_else(|| {
            let known: Vec<_> = Self::all().map(Self::as_str).collect();
            serde::de::Error::custom(format!(
                "unknown module '{name}' (known: {})",
                known.join(", ")
            ))
        })
    }
}

impl utoipa::PartialSchema for ModuleName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Self::all().map(Self::as_str)))
            .into()
    }
}

impl utoipa::ToSchema for ModuleName {}

/// What kind of value a configuration key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// An `http://` or `https://` URL without credentials in it.
    Url,
    Text,
    /// Stored encrypted, shown as [`REDACTED`], never exported in clear.
    Secret,
    Bool,
    Integer,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    pub kind: FieldKind,
    /// The module counts as configured only when every required field is set.
    pub required: bool,
    pub help: &'static str,
}

/// What a secret looks like in responses. Sending it back in a `PUT` keeps the stored value.
pub const REDACTED: &str = "********";

/// A [`Field`] literal, for modules' settings arrays.
#[macro_export]
macro_rules! field {
    ($key:literal, $kind:ident, $required:literal, $help:literal) => {
        $crate::modules::Field {
            key: $key,
            kind: $crate::modules::FieldKind::$kind,
            required: $required,
            help: $help,
        }
    };
}

use FieldKind::{Bool, Integer, Secret, Text, Url};

/// Settings of the modules that have no code yet.
const SECURITY: &[Field] = &[
    field!("wazuh_url", Url, true, "Wazuh manager API URL"),
    field!("wazuh_user", Text, true, "Wazuh API user"),
    field!("wazuh_password", Secret, true, "Wazuh API password"),
    field!(
        "webhook_hmac_secret",
        Secret,
        false,
        "HMAC secret for the Wazuh webhook"
    ),
];
const KNOWLEDGE: &[Field] = &[field!(
    "ollama_url",
    Url,
    false,
    "Ollama URL for embeddings"
)];
const PROXY_ROUTES: &[Field] = &[field!("caddy_admin_url", Url, true, "Caddy admin API URL")];
const WEBHOOKS: &[Field] = &[field!(
    "allow_private_targets",
    Bool,
    false,
    "Allow LAN targets"
)];
const WORKFLOWS: &[Field] = &[
    field!("n8n_url", Url, true, "n8n base URL"),
    field!("n8n_api_key", Secret, true, "n8n API key"),
];

/// Validates a submitted configuration against the module's fields. Returns the configuration to
/// store, where a secret sent back as [`REDACTED`] keeps the previously stored value and `null`
/// removes a key. Secrets are still in clear here: the store encrypts them.
pub fn validate_config(
    module: ModuleName,
    submitted: &Map<String, Value>,
    previous: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let fields = module.fields();
    let mut out = previous.clone();
    for (key, value) in submitted {
        let Some(field) = fields.iter().find(|f| f.key == key) else {
            let known: Vec<_> = fields.iter().map(|f| f.key).collect();
            return Err(if known.is_empty() {
                format!("module '{module}' takes no configuration; unknown key '{key}'")
            } else {
                format!(
                    "unknown key '{key}' for module '{module}' (known: {})",
                    known.join(", ")
                )
            });
        };
        if value.is_null() {
            out.remove(key);
            continue;
        }
        match field.kind {
            Url => {
                let url = value
                    .as_str()
                    .ok_or_else(|| format!("'{key}' must be a string URL"))?;
                validate_url(url).map_err(|e| format!("'{key}': {e}"))?;
            }
            Text => {
                let s = value
                    .as_str()
                    .ok_or_else(|| format!("'{key}' must be a string"))?;
                if s.len() > 1024 {
                    return Err(format!("'{key}' is longer than 1024 characters"));
                }
            }
            Secret => {
                let s = value
                    .as_str()
                    .ok_or_else(|| format!("'{key}' must be a string"))?;
                if s == REDACTED {
                    continue;
                }
                if s.is_empty() || s.len() > 4096 {
                    return Err(format!("'{key}' must be 1 to 4096 characters"));
                }
            }
            Bool => {
                if !value.is_boolean() {
                    return Err(format!("'{key}' must be true or false"));
                }
            }
            Integer => {
                if value.as_i64().is_none_or(|n| n < 0) {
                    return Err(format!("'{key}' must be a non-negative integer"));
                }
            }
        }
        out.insert(key.clone(), value.clone());
    }
    Ok(out)
}

/// A user-configured outbound URL: http(s), a host, no embedded credentials, no fragment.
pub fn validate_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("must start with http:// or https://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err("has no host".into());
    }
    if authority.contains('@') {
        return Err("must not contain credentials; use the separate secret field".into());
    }
    if url.contains('#') {
        return Err("must not contain a fragment".into());
    }
    if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("is not a valid URL".into());
    }
    Ok(())
}

/// The configuration as responses show it: secrets replaced by [`REDACTED`].
pub fn redact(module: ModuleName, config: &Map<String, Value>) -> Map<String, Value> {
    config
        .iter()
        .map(|(k, v)| {
            let secret = module
                .fields()
                .iter()
                .any(|f| f.key == k && f.kind == Secret);
            (
                k.clone(),
                if secret {
                    Value::String(REDACTED.into())
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

/// Whether a key of a module holds a secret.
pub fn is_secret(module: ModuleName, key: &str) -> bool {
    module
        .fields()
        .iter()
        .any(|f| f.key == key && f.kind == Secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn every_module_documents_exactly_its_own_routes_and_declares_its_kinds() {
        for module in MODULES {
            let doc = serde_json::to_value((module.openapi)()).unwrap();
            let mut documented: Vec<(String, String)> = doc["paths"]
                .as_object()
                .map(|paths| {
                    paths
                        .iter()
                        .flat_map(|(path, item)| {
                            item.as_object()
                                .into_iter()
                                .flat_map(|ops| ops.keys())
                                .map(move |m| (m.to_uppercase(), path.clone()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut routed: Vec<(String, String)> = (module.routes)()
                .iter()
                .map(|r| (r.spec.method.to_string(), r.spec.path.to_owned()))
                .collect();
            documented.sort();
            routed.sort();
            assert_eq!(documented, routed, "module {}", module.name);
            for decl in (module.events)() {
                assert_eq!(
                    crate::events::required_role(decl.kind),
                    decl.role,
                    "{} of module {} is not in the catalogue",
                    decl.kind,
                    module.name
                );
            }
        }
        assert!(ModuleName::all().all(|m| m.module().is_some()));
    }

    #[test]
    fn names_round_trip() {
        for m in ModuleName::all() {
            assert_eq!(ModuleName::parse(m.as_str()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
    }

    #[test]
    fn validation_names_the_bad_key_and_keeps_redacted_secrets() {
        let prev = obj(json!({"n8n_url": "http://n8n:5678", "n8n_api_key": "k1"}));
        let err = validate_config(ModuleName::Workflows, &obj(json!({"nope": 1})), &prev);
        assert!(err.unwrap_err().contains("'nope'"));
        let err = validate_config(
            ModuleName::Workflows,
            &obj(json!({"n8n_url": "ftp://x"})),
            &prev,
        );
        assert!(err.unwrap_err().contains("n8n_url"));
        let err = validate_config(
            ModuleName::Workflows,
            &obj(json!({"n8n_url": "http://u:p@x"})),
            &prev,
        );
        assert!(err.unwrap_err().contains("credentials"));
        let out = validate_config(
            ModuleName::Workflows,
            &obj(json!({"n8n_api_key": REDACTED, "n8n_url": "https://n8n.local"})),
            &prev,
        )
        .unwrap();
        assert_eq!(out["n8n_api_key"], "k1");
        assert_eq!(out["n8n_url"], "https://n8n.local");
        assert!(ModuleName::Workflows.is_configured(&out));
        assert_eq!(redact(ModuleName::Workflows, &out)["n8n_api_key"], REDACTED);
        assert!(ModuleName::Planner.is_configured(&Map::new()));
        assert!(!ModuleName::Monitoring.is_configured(&Map::new()));
    }
}
