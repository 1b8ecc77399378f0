//! Agent modes: what an AI task may do with each tool — `run` it, `ask` a human first
//! (`POST /api/ai/tasks/{id}/confirm`), or `refuse` it (the refusal is fed back to the model).
//! Three built-in modes live here and cannot be changed or deleted: `autonomous` (everything
//! runs), `supervised` (reads run, changes wait for approval) and `read-only` (changes are
//! refused). Custom modes (stored, `ai_modes`) set an action per tool class (read, write) and
//! per tool.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store::{AiStore, ModeFields, StoredMode};
use crate::modules::ModuleError;
use crate::state::AppState;
use crate::store::StoreError;

/// What happens when the model calls a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AiModeAction)]
pub enum Action {
    Run,
    Ask,
    Refuse,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::Ask => "ask",
            Self::Refuse => "refuse",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Run, Self::Ask, Self::Refuse]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// A mode as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiMode)]
pub struct ModeView {
    /// `autonomous`, `supervised`, `read-only`, or a custom mode's UUID.
    pub id: String,
    pub name: String,
    pub description: String,
    /// Shipped with ContextBay: cannot be changed or deleted.
    pub builtin: bool,
    /// The action for tools that only read.
    pub read: Action,
    /// The action for tools that change the fleet.
    pub write: Action,
    /// Per-tool actions, overriding the class's.
    pub tools: BTreeMap<String, Action>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

const BUILTIN: [(&str, &str, Action, Action); 3] = [
    (
        "autonomous",
        "Every permitted tool runs without asking",
        Action::Run,
        Action::Run,
    ),
    (
        "supervised",
        "Reading tools run; tools that change the fleet wait for a human's approval",
        Action::Run,
        Action::Ask,
    ),
    (
        "read-only",
        "Reading tools run; tools that change the fleet are refused",
        Action::Run,
        Action::Refuse,
    ),
];

pub fn builtins() -> Vec<ModeView> {
    BUILTIN
        .iter()
        .map(|(id, description, read, write)| ModeView {
            id: (*id).to_owned(),
            name: (*id).to_owned(),
            description: (*description).to_owned(),
            builtin: true,
            read: *read,
            write: *write,
            tools: BTreeMap::new(),
            updated_at: None,
            updated_by: None,
        })
        .collect()
}

fn is_builtin(id: &str) -> bool {
    BUILTIN.iter().any(|(b, ..)| *b == id)
}

fn view(m: StoredMode) -> Result<ModeView, ModuleError> {
    let action = |s: &str| {
        Action::parse(s).ok_or_else(|| {
            ModuleError::Store(StoreError::Other(anyhow::anyhow!(
                "stored AI mode action '{s}'"
            )))
        })
    };
    let mut tools = BTreeMap::new();
    for (k, v) in &m.tools {
        tools.insert(k.clone(), action(v)?);
    }
    Ok(ModeView {
        read: action(&m.read_action)?,
        write: action(&m.write_action)?,
        tools,
        id: m.id,
        name: m.name,
        description: m.description,
        builtin: false,
        updated_at: Some(contextbay_actors::rfc3339_from_millis(m.updated_at)),
        updated_by: m.updated_by,
    })
}

/// Every mode: the built-in ones, then the custom ones by name.
pub async fn list(state: &AppState) -> Result<Vec<ModeView>, ModuleError> {
    let mut all = builtins();
    for m in state.store.ai_modes().list().await? {
        all.push(view(m)?);
    }
    Ok(all)
}

/// A mode by id (built-in name or UUID); an id of neither shape is 400 naming `field`.
pub async fn get(state: &AppState, id: &str, field: &str) -> Result<ModeView, ModuleError> {
    if let Some(b) = builtins().into_iter().find(|b| b.id == id) {
        return Ok(b);
    }
    let id = custom_id(id, field)?;
    match state.store.ai_modes().get(&id).await {
        Ok(m) => view(m),
        Err(StoreError::NotFound(_)) if field != "id" => Err(ModuleError::InvalidField {
            field: field.to_owned(),
            message: format!("mode '{id}' does not exist"),
        }),
        Err(e) => Err(e.into()),
    }
}

fn custom_id(id: &str, field: &str) -> Result<String, ModuleError> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| ModuleError::InvalidField {
            field: field.to_owned(),
            message: format!(
                "mode '{id}' is neither a built-in mode (autonomous, supervised, read-only) nor a UUID"
            ),
        })
}

/// A custom mode's fields as sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiModeBody)]
pub struct ModeBody {
    #[schema(min_length = 1, max_length = 64, pattern = "[^ \t\n\r]")]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: String,
    pub read: Action,
    pub write: Action,
    /// Per-tool actions (at most 200), overriding the class's.
    #[serde(default)]
    pub tools: BTreeMap<String, Action>,
}

fn invalid(field: &str, message: impl Into<String>) -> ModuleError {
    ModuleError::InvalidField {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn fields(b: ModeBody) -> Result<ModeFields, ModuleError> {
    let name = crate::modules::trim_blank(&b.name).to_owned();
    if name.is_empty() {
        return Err(invalid("name", "name must not be blank"));
    }
    if name.chars().count() > 64 {
        return Err(invalid("name", "name is at most 64 characters"));
    }
    if is_builtin(&name) {
        return Err(invalid(
            "name",
            format!("'{name}' is the name of a built-in mode"),
        ));
    }
    if b.description.chars().count() > 500 {
        return Err(invalid(
            "description",
            "description is at most 500 characters",
        ));
    }
    if b.tools.len() > 200 {
        return Err(invalid("tools", "at most 200 tools"));
    }
    if let Some(bad) = b.tools.keys().find(|t| {
        t.is_empty()
            || t.len() > 64
            || !t
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    }) {
        return Err(invalid(
            "tools",
            format!("'{bad}' is not a tool name (1 to 64 letters, digits, `_` or `-`)"),
        ));
    }
    Ok(ModeFields {
        name,
        description: b.description,
        read_action: b.read.as_str().to_owned(),
        write_action: b.write.as_str().to_owned(),
        tools: b
            .tools
            .into_iter()
            .map(|(k, v)| (k, v.as_str().to_owned()))
            .collect(),
    })
}

/// Why a built-in mode cannot be changed.
#[derive(Debug, thiserror::Error)]
pub enum ModeError {
    #[error("mode '{0}' is built in: it cannot be changed or deleted")]
    Builtin(String),
    #[error(transparent)]
    Module(#[from] ModuleError),
}

impl From<StoreError> for ModeError {
    fn from(e: StoreError) -> Self {
        Self::Module(e.into())
    }
}

pub async fn create(state: &AppState, b: ModeBody, by: &str) -> Result<ModeView, ModeError> {
    let f = fields(b)?;
    Ok(view(state.store.ai_modes().create(&f, by).await?)?)
}

pub async fn update(
    state: &AppState,
    id: &str,
    b: ModeBody,
    by: &str,
) -> Result<ModeView, ModeError> {
    if is_builtin(id) {
        return Err(ModeError::Builtin(id.to_owned()));
    }
    let id = custom_id(id, "id")?;
    let f = fields(b)?;
    Ok(view(state.store.ai_modes().update(&id, &f, by).await?)?)
}

pub async fn delete(state: &AppState, id: &str) -> Result<ModeView, ModeError> {
    if is_builtin(id) {
        return Err(ModeError::Builtin(id.to_owned()));
    }
    let id = custom_id(id, "id")?;
    let mode = view(state.store.ai_modes().get(&id).await?)?;
    state.store.ai_modes().delete(&id).await?;
    Ok(mode)
}

impl ModeView {
    /// The action for `tool` of class write (`writes`) or read.
    pub fn action_for(&self, tool: &str, writes: bool) -> Action {
        self.tools
            .get(tool)
            .copied()
            .unwrap_or(if writes { self.write } else { self.read })
    }
}
