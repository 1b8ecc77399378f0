//! The files Prometheus reads from ContextBay, under `<data_dir>/prometheus/`:
//!
//! - `targets/contextbay.json`: a file_sd target group with the master's `/metrics` (which also
//!   carries every node's samples), labelled `cb_component="master"`. Prometheus re-reads it on
//!   change, without a restart.
//! - `rules/contextbay.rules.yml`: one rule group, `contextbay`, with every enabled alert rule
//!   while the alerting module is on (an empty file otherwise). After each write ContextBay asks
//!   Prometheus to reload (`POST /-/reload`).
//!
//! The database is the source: both files are rewritten whole from it, at start, when the
//! monitoring or alerting module changes, and after every rule change. Writes are atomic
//! (temporary file + rename) and serialized, so a reader never sees half a file and the last
//! write always reflects the newest state.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use contextbay_actors::{Delivery, Subscription};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::integrations::ModuleSettings;
use crate::modules::ModuleName;
use crate::modules::alerting::store::AlertingStore;
use crate::modules::alerting::store::rules::AlertRule;
use crate::state::AppState;

/// The label on the master's scrape target; the default rules select on it.
pub const MASTER_LABEL: (&str, &str) = ("cb_component", "master");
/// The rule group ContextBay owns in Prometheus.
pub const RULE_GROUP: &str = "contextbay";
/// The label that ties a Prometheus rule (and its alerts) to a ContextBay rule id.
pub const RULE_ID_LABEL: &str = "cb_rule_id";

/// Where the files live, and the lock that serializes writing them.
#[derive(Clone)]
pub struct PrometheusFiles {
    dir: PathBuf,
    /// Held from reading the rules to Prometheus' answer, so that concurrent changes apply one
    /// after the other.
    write: Arc<Mutex<()>>,
}

/// What happened to a rule change in Prometheus.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct PrometheusApply {
    /// `prometheus_url` is set (without it the file is written but nobody is told).
    pub configured: bool,
    /// The rule file was rewritten.
    pub file_written: bool,
    /// Prometheus reloaded its configuration and rule files without error.
    pub reloaded: bool,
    /// Whether Prometheus now has the rule in question (`None` when it could not be asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded: Option<bool>,
    /// Why not, when something did not work.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Prometheus answered the reload with an error (it read the files and refused them), as
    /// opposed to not being reachable or not allowing reloads.
    #[serde(skip)]
    pub refused: bool,
}

impl PrometheusFiles {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("prometheus"),
            write: Arc::new(Mutex::new(())),
        }
    }

    pub fn targets_path(&self) -> PathBuf {
        self.dir.join("targets").join("contextbay.json")
    }

    pub fn rules_path(&self) -> PathBuf {
        self.dir.join("rules").join("contextbay.rules.yml")
    }

    /// The address Prometheus scrapes: `scrape_address` of the monitoring module, else the
    /// configured bind address (loopback for an unspecified one) and the bound HTTP port.
    pub fn scrape_address(state: &AppState, settings: &ModuleSettings) -> String {
        if let Some(addr) = settings.text("scrape_address") {
            return addr.to_owned();
        }
        let host = match state.config.server.bind.as_str() {
            "0.0.0.0" | "" => "127.0.0.1".to_owned(),
            "::" | "[::]" => "[::1]".to_owned(),
            h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
            h => h.to_owned(),
        };
        format!("{host}:{}", state.http_port)
    }

    /// The file_sd document: one target group.
    pub fn target_groups(address: &str) -> Value {
        json!([{
            "targets": [address],
            "labels": {MASTER_LABEL.0: MASTER_LABEL.1},
        }])
    }

    /// Rewrites the targets file.
    pub async fn write_targets(&self, state: &AppState) -> anyhow::Result<()> {
        let settings = ModuleSettings::load(state, ModuleName::Monitoring)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let doc = Self::target_groups(&Self::scrape_address(state, &settings));
        let text = serde_json::to_string_pretty(&doc)?;
        let _guard = self.write.lock().await;
        write_atomic(&self.targets_path(), text.as_bytes()).await
    }

    /// Rewrites the rule file from the store, asks Prometheus to reload, and (with `focus`)
    /// checks whether Prometheus now has that rule.
    pub async fn sync_rules(&self, state: &AppState, focus: Option<&str>) -> PrometheusApply {
        let _guard = self.write.lock().await;
        let mut out = PrometheusApply::default();
        let rules = match self.rules_to_write(state).await {
            Ok(r) => r,
            Err(err) => {
                tracing::error!("reading alert rules: {err:#}");
                out.error = Some("could not read the alert rules".into());
                return out;
            }
        };
        if let Err(err) = write_atomic(&self.rules_path(), render_rules(&rules).as_bytes()).await {
            tracing::error!(path = %self.rules_path().display(), "writing the rule file: {err:#}");
            out.error = Some("could not write the rule file".into());
            return out;
        }
        out.file_written = true;
        let prom = match super::prometheus_if_configured(state).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                out.error = Some(
                    "prometheus is not configured (prometheus_url): the rule file is written but \
                     no Prometheus was asked to reload it"
                        .into(),
                );
                return out;
            }
            Err(err) => {
                out.error = Some(err.to_string());
                return out;
            }
        };
        out.configured = true;
        match prom.reload().await {
            Ok(outcome) => {
                out.reloaded = outcome.reloaded;
                out.refused = !outcome.reloaded
                    && outcome
                        .error
                        .as_deref()
                        .is_some_and(|e| !e.contains("--web.enable-lifecycle"));
                out.error = outcome.error;
            }
            Err(err) => {
                out.error = Some(err.to_string());
                return out;
            }
        }
        if out.reloaded
            && let Some(id) = focus
        {
            match prom.api("rules", &[("type", "alert")]).await {
                Ok(data) => out.loaded = Some(rule_loaded(&data, id)),
                Err(err) => out.error = Some(err.to_string()),
            }
        }
        out
    }

    async fn rules_to_write(&self, state: &AppState) -> anyhow::Result<Vec<AlertRule>> {
        if !crate::modules::is_enabled(state, ModuleName::Alerting)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
        {
            return Ok(Vec::new());
        }
        Ok(state
            .store
            .alert_rules()
            .list()
            .await?
            .into_iter()
            .filter(|r| r.enabled)
            .collect())
    }
}

/// Whether Prometheus' `/api/v1/rules` data holds the rule with ContextBay id `id`.
pub fn rule_loaded(data: &Value, id: &str) -> bool {
    data["groups"].as_array().is_some_and(|groups| {
        groups.iter().any(|g| {
            g["rules"].as_array().is_some_and(|rules| {
                rules
                    .iter()
                    .any(|r| r["labels"][RULE_ID_LABEL].as_str() == Some(id))
            })
        })
    })
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
async fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    let dir = path.parent().context("the path has no directory")?;
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        uuid::Uuid::now_v7()
    ));
    tokio::fs::write(&tmp, bytes)
        .await
        .with_context(|| format!("writing {}", tmp.display()))?;
    if let Err(err) = tokio::fs::rename(&tmp, path).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(err).with_context(|| format!("replacing {}", path.display()));
    }
    Ok(())
}

/// A YAML string: JSON's double-quoted form is valid YAML and escapes everything needed.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn render_map(out: &mut String, key: &str, entries: &[(String, String)]) {
    if entries.is_empty() {
        out.push_str(&format!("        {key}: {{}}\n"));
        return;
    }
    out.push_str(&format!("        {key}:\n"));
    for (k, v) in entries {
        out.push_str(&format!("          {}: {}\n", quoted(k), quoted(v)));
    }
}

fn string_entries(map: &serde_json::Map<String, Value>) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// The rule file for `rules` (already filtered to the enabled ones).
pub fn render_rules(rules: &[AlertRule]) -> String {
    let mut out = String::from(
        "# Written by ContextBay from its alert rules (/api/alert-rules).\n\
         # Do not edit: every change there rewrites this file.\n",
    );
    if rules.is_empty() {
        out.push_str("groups: []\n");
        return out;
    }
    out.push_str(&format!(
        "groups:\n  - name: {}\n    rules:\n",
        quoted(RULE_GROUP)
    ));
    for rule in rules {
        out.push_str(&format!("      - alert: {}\n", quoted(&rule.name)));
        out.push_str(&format!("        expr: {}\n", quoted(&rule.expr)));
        out.push_str(&format!("        for: {}\n", quoted(&rule.for_duration)));
        let mut labels = string_entries(&rule.labels);
        labels.push(("severity".into(), rule.severity.clone()));
        labels.push((RULE_ID_LABEL.into(), rule.id.clone()));
        render_map(&mut out, "labels", &labels);
        render_map(&mut out, "annotations", &string_entries(&rule.annotations));
    }
    out
}

/// Rewrites both files at start and whenever the monitoring or alerting module changes (a new
/// scrape address, Prometheus URL, or the alerting module switched on or off).
pub async fn run_sync(state: AppState, mut sub: Subscription) -> Result<(), String> {
    resync(&state).await;
    while let Some(delivery) = sub.recv().await {
        match delivery {
            Delivery::Event(e) => {
                let name = e.payload["name"].as_str().unwrap_or_default();
                if name == ModuleName::Monitoring.as_str() || name == ModuleName::Alerting.as_str()
                {
                    resync(&state).await;
                }
            }
            // A missed module change: rewrite anyway, it is idempotent.
            Delivery::Lagged { .. } => resync(&state).await,
        }
    }
    Ok(())
}

async fn resync(state: &AppState) {
    if let Err(err) = state.prometheus_files.write_targets(state).await {
        tracing::warn!("writing the Prometheus targets file: {err:#}");
    }
    let applied = state.prometheus_files.sync_rules(state, None).await;
    if applied.configured && !applied.reloaded {
        tracing::warn!(
            error = applied.error.as_deref().unwrap_or_default(),
            "Prometheus did not reload the rule file"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn rule(name: &str, annotations: Map<String, Value>) -> AlertRule {
        AlertRule {
            id: "01900000-0000-7000-8000-000000000009".into(),
            name: name.into(),
            expr: "up{job=\"x\"} == 0".into(),
            for_duration: "5m".into(),
            severity: "critical".into(),
            labels: Map::from_iter([("team".to_owned(), Value::String("ops".into()))]),
            annotations,
            enabled: true,
            builtin: false,
            created_at: 0,
            updated_at: 0,
            updated_by: None,
        }
    }

    #[test]
    fn renders_yaml_with_quoted_strings() {
        let text = render_rules(&[rule(
            "Down",
            Map::from_iter([(
                "summary".to_owned(),
                Value::String("{{ $labels.instance }} is \"down\"\nnow".into()),
            )]),
        )]);
        assert!(text.contains("      - alert: \"Down\"\n"), "{text}");
        assert!(
            text.contains("        expr: \"up{job=\\\"x\\\"} == 0\"\n"),
            "{text}"
        );
        assert!(
            text.contains("          \"severity\": \"critical\"\n"),
            "{text}"
        );
        assert!(
            text.contains("          \"cb_rule_id\": \"01900000-"),
            "{text}"
        );
        assert!(
            text.contains("\"summary\": \"{{ $labels.instance }} is \\\"down\\\"\\nnow\""),
            "{text}"
        );
        assert!(render_rules(&[rule("A", Map::new())]).contains("annotations: {}"));
        assert!(render_rules(&[]).ends_with("groups: []\n"));
    }

    #[test]
    fn finds_a_loaded_rule_by_its_id_label() {
        let data = json!({"groups": [{"name": "contextbay", "rules": [
            {"name": "A", "labels": {"cb_rule_id": "r1"}}]}]});
        assert!(rule_loaded(&data, "r1"));
        assert!(!rule_loaded(&data, "r2"));
        assert!(!rule_loaded(&json!({}), "r1"));
    }
}
