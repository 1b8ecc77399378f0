//! The switchable modules (`modules.<name>`), what each needs to be configured, and validation of
//! their live configuration (`PUT /api/config/{module}`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Every module the master knows. Routes that belong to a module answer 404
/// `module 'x' is disabled` while it is off.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ModuleName {
    Monitoring,
    Alerting,
    Ai,
    Security,
    Knowledge,
    Planner,
    Backups,
    Catalog,
    ProxyRoutes,
    Webhooks,
    Workflows,
}

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

/// A [`Field`] literal (a macro so that the arrays below are promoted to statics).
macro_rules! field {
    ($key:literal, $kind:ident, $required:literal, $help:literal) => {
        Field {
            key: $key,
            kind: $kind,
            required: $required,
            help: $help,
        }
    };
}

use FieldKind::{Bool, Integer, Secret, Text, Url};

impl ModuleName {
    pub const ALL: [ModuleName; 11] = [
        Self::Monitoring,
        Self::Alerting,
        Self::Ai,
        Self::Security,
        Self::Knowledge,
        Self::Planner,
        Self::Backups,
        Self::Catalog,
        Self::ProxyRoutes,
        Self::Webhooks,
        Self::Workflows,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monitoring => "monitoring",
            Self::Alerting => "alerting",
            Self::Ai => "ai",
            Self::Security => "security",
            Self::Knowledge => "knowledge",
            Self::Planner => "planner",
            Self::Backups => "backups",
            Self::Catalog => "catalog",
            Self::ProxyRoutes => "proxy_routes",
            Self::Webhooks => "webhooks",
            Self::Workflows => "workflows",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::Monitoring => "Prometheus metrics and Grafana dashboards",
            Self::Alerting => "Alert rules, Alertmanager alerts and silences",
            Self::Ai => "AI chat and background tasks (Ollama, Claude)",
            Self::Security => "Wazuh, vulnerabilities, compliance and playbooks",
            Self::Knowledge => "Knowledge pages and RAG search",
            Self::Planner => "Project planner: issues, sprints, boards",
            Self::Backups => "Volume backup jobs with verify and restore",
            Self::Catalog => "App catalog of stack templates",
            Self::ProxyRoutes => "Reverse-proxy routes (Caddy)",
            Self::Webhooks => "Outgoing webhooks for events",
            Self::Workflows => "n8n workflows and event bindings",
        }
    }

    /// The keys `PUT /api/config/{module}` accepts for this module.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Self::Monitoring => &[
                field!("prometheus_url", Url, true, "Prometheus base URL"),
                field!("grafana_url", Url, false, "Grafana base URL"),
                field!(
                    "grafana_token",
                    Secret,
                    false,
                    "Grafana service-account token"
                ),
                field!(
                    "scrape_address",
                    Text,
                    false,
                    "host:port Prometheus scrapes this master at (default: bind:http_port)"
                ),
                field!(
                    "max_result_bytes",
                    Integer,
                    false,
                    "Largest Prometheus answer the query proxy passes on (default 16 MiB)"
                ),
            ],
            Self::Alerting => &[
                field!("alertmanager_url", Url, true, "Alertmanager base URL"),
                field!(
                    "webhook_token",
                    Secret,
                    false,
                    "Bearer token Alertmanager sends"
                ),
                field!(
                    "webhook_hmac_secret",
                    Secret,
                    false,
                    "HMAC-SHA256 secret for X-ContextBay-Signature on the webhook"
                ),
            ],
            Self::Ai => &[
                field!("ollama_url", Url, false, "Ollama base URL"),
                field!("anthropic_api_key", Secret, false, "Anthropic API key"),
                field!(
                    "default_model",
                    Text,
                    false,
                    "Model used when none is named"
                ),
            ],
            Self::Security => &[
                field!("wazuh_url", Url, true, "Wazuh manager API URL"),
                field!("wazuh_user", Text, true, "Wazuh API user"),
                field!("wazuh_password", Secret, true, "Wazuh API password"),
                field!(
                    "webhook_hmac_secret",
                    Secret,
                    false,
                    "HMAC secret for the Wazuh webhook"
                ),
            ],
            Self::Knowledge => &[field!(
                "ollama_url",
                Url,
                false,
                "Ollama URL for embeddings"
            )],
            Self::Planner => &[],
            Self::Backups => &[
                field!("storage_dir", Text, false, "Where archives are written"),
                field!("keep_last", Integer, false, "Records kept per job"),
            ],
            Self::Catalog => &[],
            Self::ProxyRoutes => &[field!("caddy_admin_url", Url, true, "Caddy admin API URL")],
            Self::Webhooks => &[field!(
                "allow_private_targets",
                Bool,
                false,
                "Allow LAN targets"
            )],
            Self::Workflows => &[
                field!("n8n_url", Url, true, "n8n base URL"),
                field!("n8n_api_key", Secret, true, "n8n API key"),
            ],
        }
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
    fn names_round_trip() {
        for m in ModuleName::ALL {
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
