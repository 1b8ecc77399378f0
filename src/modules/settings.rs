//! Changing a module's settings and switch: what `PUT /api/config/{module}` does, as domain code,
//! so other parts (a deployed sub-container pointing its module at itself, an import) go through
//! the same validation, sealing and event.

use serde_json::{Map, Value};

use super::{ModuleError, ModuleName};
use crate::state::AppState;
use crate::store::modules::StoredModule;

/// Whether a module's settings are complete and its services reachable, with the problems found.
pub struct Health {
    pub configured: bool,
    pub problems: Vec<String>,
}

/// The health of `name` with its stored settings.
pub fn health(state: &AppState, name: ModuleName, stored: Option<&StoredModule>) -> Health {
    let empty = Map::new();
    let config = stored.map_or(&empty, |s| &s.config);
    let mut problems: Vec<String> = name
        .missing_settings(config)
        .map(|f| format!("{} is not set (PUT /api/config/{name})", f.key))
        .collect();
    let mut configured = problems.is_empty();
    for &(service, url_key, needed) in name.services() {
        let Some(url) = config.get(url_key).and_then(|v| v.as_str()) else {
            continue;
        };
        if let Some(problem) = state.integrations.reachability.problem(service, url) {
            configured &= !needed;
            problems.push(problem);
        }
    }
    Health {
        configured,
        problems,
    }
}

/// Switches `name` and/or merges `config` into its settings (validated, secrets sealed), stores
/// the result and publishes `module.updated`. Answers what is stored now. Nothing to change
/// (`{}`, or both `null`, which the schema allows) changes nothing and answers the settings as
/// they are.
pub async fn apply(
    state: &AppState,
    name: ModuleName,
    enabled: Option<bool>,
    config: Option<Map<String, Value>>,
) -> Result<StoredModule, ModuleError> {
    let previous = state.store.modules().get(name).await?;
    let mut next = previous.unwrap_or(StoredModule {
        name,
        enabled: None,
        config: Map::new(),
        updated_at: 0,
    });
    if enabled.is_none() && config.is_none() {
        return Ok(next);
    }
    if let Some(submitted) = config {
        next.config = seal_submitted(state, name, &submitted, &next.config)?;
    }
    if let Some(e) = enabled {
        next.enabled = Some(e);
    }
    state.store.modules().put(&next).await?;
    state
        .events
        .publish_committed(crate::events::ModuleUpdated {
            name,
            enabled: super::enabled(state, name, Some(&next)),
            configured: health(state, name, Some(&next)).configured,
        })
        .await;
    Ok(next)
}

/// Validates submitted keys against `previous` (secrets sealed) and seals new secret values.
pub fn seal_submitted(
    state: &AppState,
    name: ModuleName,
    submitted: &Map<String, Value>,
    previous: &Map<String, Value>,
) -> Result<Map<String, Value>, ModuleError> {
    let mut merged =
        super::validate_config(name, submitted, previous).map_err(ModuleError::Invalid)?;
    for (key, value) in submitted {
        if super::is_secret(name, key)
            && let Some(plain) = value.as_str()
            && plain != super::REDACTED
        {
            let sealed = state
                .secret_box
                .seal(plain)
                .map_err(|e| ModuleError::Internal(format!("sealing {name}.{key}: {e:#}")))?;
            merged.insert(key.clone(), Value::String(sealed));
        }
    }
    Ok(merged)
}
