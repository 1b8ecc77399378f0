//! The built-in catalogue of the `cb-*` services: one [`Template`] per service, as data, and its
//! rendering into a compose file from a validated [`ServiceConfig`]. The YAML is built as a value
//! tree and serialized, so no configured text can inject keys into it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};
use utoipa::ToSchema;

use super::error::SubError;

/// How the master checks that a service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `GET <scheme>://<host>:<port><path>` answers 2xx.
    Http(&'static str),
    /// A TCP connection to the published port is accepted (for services whose HTTP API needs
    /// credentials, such as Wazuh's).
    Tcp,
}

/// One `cb-*` service.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// `prometheus`; the stack is `cb-prometheus`.
    pub name: &'static str,
    pub title: &'static str,
    /// The image used unless the configuration names another.
    pub image: &'static str,
    /// The port the service listens on inside its container.
    pub container_port: u16,
    /// The host port it is published on unless configured.
    pub default_port: u16,
    /// `http` or `https`, for the probe and the URL given to the module.
    pub scheme: &'static str,
    /// The container's command (arguments to the image's entrypoint); empty: the image's own.
    pub command: &'static [&'static str],
    /// Where its data volume is mounted.
    pub data_path: &'static str,
    pub probe: Probe,
    /// The module it serves and that module's setting holding its URL.
    pub wires: Option<(&'static str, &'static str)>,
}

/// Every service, in the spec's order of the fleet.
pub static CATALOGUE: &[Template] = &[
    Template {
        name: "headscale",
        title: "Headscale (Tailscale control server)",
        image: "headscale/headscale:0.23.0",
        container_port: 8080,
        default_port: 18080,
        scheme: "http",
        command: &["serve"],
        data_path: "/var/lib/headscale",
        probe: Probe::Http("/health"),
        wires: None,
    },
    Template {
        name: "prometheus",
        title: "Prometheus",
        image: "prom/prometheus:v2.53.0",
        container_port: 9090,
        default_port: 9090,
        scheme: "http",
        command: &[
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--web.enable-lifecycle",
        ],
        data_path: "/prometheus",
        probe: Probe::Http("/-/healthy"),
        wires: Some(("monitoring", "prometheus_url")),
    },
    Template {
        name: "grafana",
        title: "Grafana",
        image: "grafana/grafana:11.1.0",
        container_port: 3000,
        default_port: 3000,
        scheme: "http",
        command: &[],
        data_path: "/var/lib/grafana",
        probe: Probe::Http("/api/health"),
        wires: Some(("monitoring", "grafana_url")),
    },
    Template {
        name: "n8n",
        title: "n8n workflows",
        image: "n8nio/n8n:1.50.0",
        container_port: 5678,
        default_port: 5678,
        scheme: "http",
        command: &[],
        data_path: "/home/node/.n8n",
        probe: Probe::Http("/healthz"),
        wires: Some(("workflows", "n8n_url")),
    },
    Template {
        name: "wazuh",
        title: "Wazuh manager",
        image: "wazuh/wazuh-manager:4.8.0",
        container_port: 55000,
        default_port: 55000,
        scheme: "https",
        command: &[],
        data_path: "/var/ossec/data",
        probe: Probe::Tcp,
        wires: Some(("security", "wazuh_url")),
    },
    Template {
        name: "loki",
        title: "Loki (logs)",
        image: "grafana/loki:3.1.0",
        container_port: 3100,
        default_port: 3100,
        scheme: "http",
        command: &["-config.file=/etc/loki/local-config.yaml"],
        data_path: "/loki",
        probe: Probe::Http("/ready"),
        wires: None,
    },
    Template {
        name: "tempo",
        title: "Tempo (traces)",
        image: "grafana/tempo:2.5.0",
        container_port: 3200,
        default_port: 3200,
        scheme: "http",
        command: &[
            "-target=all",
            "-storage.trace.backend=local",
            "-storage.trace.local.path=/var/tempo/traces",
            "-storage.trace.wal.path=/var/tempo/wal",
        ],
        data_path: "/var/tempo",
        probe: Probe::Http("/ready"),
        wires: None,
    },
    Template {
        name: "pyroscope",
        title: "Pyroscope (profiles)",
        image: "grafana/pyroscope:1.7.1",
        container_port: 4040,
        default_port: 4040,
        scheme: "http",
        command: &[],
        data_path: "/data",
        probe: Probe::Http("/ready"),
        wires: None,
    },
    Template {
        name: "ollama",
        title: "Ollama (local models)",
        image: "ollama/ollama:0.3.0",
        container_port: 11434,
        default_port: 11434,
        scheme: "http",
        command: &[],
        data_path: "/root/.ollama",
        probe: Probe::Http("/api/version"),
        wires: Some(("knowledge", "ollama_url")),
    },
    Template {
        name: "alertmanager",
        title: "Alertmanager",
        image: "prom/alertmanager:v0.27.0",
        container_port: 9093,
        default_port: 9093,
        scheme: "http",
        command: &[
            "--config.file=/etc/alertmanager/alertmanager.yml",
            "--storage.path=/alertmanager",
        ],
        data_path: "/alertmanager",
        probe: Probe::Http("/-/healthy"),
        wires: Some(("alerting", "alertmanager_url")),
    },
];

/// The template named `name`, or a 404 naming it and the known ones.
pub fn template(name: &str) -> Result<&'static Template, SubError> {
    CATALOGUE
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| SubError::NotFound(unknown(name)))
}

fn unknown(name: &str) -> String {
    let known: Vec<&str> = CATALOGUE.iter().map(|t| t.name).collect();
    format!(
        "no sub-container '{}' in the catalogue (known: {})",
        name.chars().take(64).collect::<String>(),
        known.join(", ")
    )
}

/// The configuration a request may override; every key is optional (an absent key keeps the
/// stored value, or the template's default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigOverrides {
    /// The image to run (`repository[:tag][@digest]`).
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._/:@-]*$"
    )]
    pub image: Option<String>,
    /// The host port it is published on.
    #[schema(minimum = 1, maximum = 65535)]
    pub port: Option<u16>,
    /// The host IPv4 address it is published on (default `127.0.0.1`).
    #[schema(format = Ipv4)]
    pub bind: Option<String>,
    /// Environment of the container (replaces the stored one when given).
    #[schema(schema_with = env_schema)]
    pub env: Option<BTreeMap<String, String>>,
    /// Labels put on the container and its volume (replaces the stored ones when given).
    #[schema(schema_with = labels_schema)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// A map of strings: at most `max` keys matching `key`, values at most `value_max` characters
/// matching `value`.
fn string_map(
    max: usize,
    key: &str,
    value_max: usize,
    value: &str,
    about: &str,
) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(about))
        .max_properties(Some(max))
        .property_names(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(key)),
        ))
        .additional_properties(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(value_max))
                .pattern(Some(value)),
        ))
        .build()
}

fn env_schema() -> utoipa::openapi::Object {
    string_map(
        64,
        "^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        4096,
        r"^[^\x00]*$",
        "Environment of the container (replaces the stored one when given).",
    )
}

fn labels_schema() -> utoipa::openapi::Object {
    string_map(
        32,
        r"^(?!com\.docker\.)(?!contextbay\.subcontainer)[A-Za-z0-9._/-]{1,128}$",
        1024,
        r"^[^\x00-\x1f\x7f-\x9f]*$",
        "Labels put on the container and its volume (replaces the stored ones when given).",
    )
}

/// A service's complete, validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceConfig {
    pub image: String,
    pub port: u16,
    pub bind: String,
    pub env: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

impl ServiceConfig {
    /// The template's defaults.
    pub fn defaults(t: &Template) -> Self {
        Self {
            image: t.image.to_owned(),
            port: t.default_port,
            bind: "127.0.0.1".to_owned(),
            env: BTreeMap::new(),
            labels: BTreeMap::new(),
        }
    }

    /// `self` with `o` applied, validated; the error names the field (`config.port`, …).
    pub fn apply(&self, o: &ConfigOverrides) -> Result<Self, SubError> {
        let mut next = self.clone();
        if let Some(image) = &o.image {
            next.image = image.clone();
        }
        if let Some(port) = o.port {
            next.port = port;
        }
        if let Some(bind) = &o.bind {
            next.bind = bind.clone();
        }
        if let Some(env) = &o.env {
            next.env = env.clone();
        }
        if let Some(labels) = &o.labels {
            next.labels = labels.clone();
        }
        next.validate()?;
        Ok(next)
    }

    pub fn validate(&self) -> Result<(), SubError> {
        let bad = |field: &str, message: String| SubError::InvalidField {
            field: format!("config.{field}"),
            message: format!("config.{field}: {message}"),
        };
        let image_ok = !self.image.is_empty()
            && self.image.chars().count() <= 255
            && self
                .image
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && self
                .image
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._/:@-".contains(c));
        if !image_ok {
            return Err(bad(
                "image",
                "must be an image reference: 1 to 255 characters of letters, digits and ._/:@-, \
                 starting with a letter or digit"
                    .into(),
            ));
        }
        if self.port == 0 {
            return Err(bad("port", "must be 1 to 65535".into()));
        }
        if self.bind.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(bad(
                "bind",
                format!(
                    "'{}' is not an IPv4 address",
                    self.bind.chars().take(64).collect::<String>()
                ),
            ));
        }
        if self.env.len() > 64 {
            return Err(bad("env", "at most 64 variables".into()));
        }
        for (k, v) in &self.env {
            let name_ok = k.len() <= 128
                && k.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !name_ok {
                return Err(bad(
                    "env",
                    "names are letters, digits and _, not starting with a digit (at most 128)"
                        .into(),
                ));
            }
            if v.chars().count() > 4096 || v.contains('\0') {
                return Err(bad(
                    "env",
                    format!("the value of {k} must be at most 4096 characters, without NUL"),
                ));
            }
        }
        if self.labels.len() > 32 {
            return Err(bad("labels", "at most 32 labels".into()));
        }
        for (k, v) in &self.labels {
            let key_ok = !k.is_empty()
                && k.len() <= 128
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
                && !k.starts_with("com.docker.")
                && !k.starts_with(LABEL);
            if !key_ok {
                return Err(bad(
                    "labels",
                    format!(
                        "keys are 1 to 128 letters, digits and ._-/, and not com.docker.* or {LABEL}"
                    ),
                ));
            }
            if v.chars().count() > 1024 || v.chars().any(char::is_control) {
                return Err(bad(
                    "labels",
                    format!(
                        "the value of {k} must be at most 1024 characters, without control characters"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The address the master reaches the service at on its own host: the bound address, or
    /// loopback when it is bound to every address.
    pub fn host(&self) -> String {
        match self.bind.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => "127.0.0.1".into(),
            Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
            Ok(ip) => ip.to_string(),
            Err(_) => "127.0.0.1".into(),
        }
    }

    /// The service's base URL from the master's host.
    pub fn url(&self, t: &Template) -> String {
        format!("{}://{}:{}", t.scheme, self.host(), self.port)
    }
}

/// The label that marks a service's containers (its value is the service name).
pub const LABEL: &str = "contextbay.subcontainer";

/// The compose project (and stack) name of a service.
pub fn stack_name(t: &Template) -> String {
    format!("cb-{}", t.name)
}

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

/// The compose file of `t` with `c`. It sets no restart policy (compose's default is `no`): the
/// service's actor restarts it (with backoff and flapping detection), so the two never fight.
pub fn render(t: &Template, c: &ServiceConfig) -> String {
    // Labels and environment as `KEY=value` lists: every item is a string to any YAML reader
    // (compose v1 reads YAML 1.1, where a bare `no` or `on` in a map would be a boolean), and `$`
    // doubled so that compose does not interpolate the master's environment into them.
    let pairs = |m: &BTreeMap<String, String>| -> Vec<Value> {
        m.iter()
            .map(|(k, v)| s(format!("{k}={}", v.replace('$', "$$"))))
            .collect()
    };
    let labels = pairs(&c.labels);
    let mut container_labels = labels.clone();
    container_labels.push(s(format!("{LABEL}={}", t.name)));

    let mut svc = Mapping::new();
    svc.insert(s("image"), s(c.image.as_str()));
    if !t.command.is_empty() {
        svc.insert(
            s("command"),
            Value::Sequence(t.command.iter().map(|a| s(*a)).collect()),
        );
    }
    let bind = match c.bind.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => c.bind.clone(),
    };
    svc.insert(
        s("ports"),
        Value::Sequence(vec![s(format!("{bind}:{}:{}", c.port, t.container_port))]),
    );
    svc.insert(
        s("volumes"),
        Value::Sequence(vec![s(format!("data:{}", t.data_path))]),
    );
    if !c.env.is_empty() {
        svc.insert(s("environment"), Value::Sequence(pairs(&c.env)));
    }
    svc.insert(s("labels"), Value::Sequence(container_labels));

    let mut services = Mapping::new();
    services.insert(s(t.name), Value::Mapping(svc));
    let mut data = Mapping::new();
    if !labels.is_empty() {
        data.insert(s("labels"), Value::Sequence(labels));
    }
    let mut volumes = Mapping::new();
    volumes.insert(s("data"), Value::Mapping(data));

    let mut top = Mapping::new();
    top.insert(s("services"), Value::Mapping(services));
    top.insert(s("volumes"), Value::Mapping(volumes));
    serde_yaml_ng::to_string(&Value::Mapping(top)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::compose::validate_compose;
    use crate::docker::compose_model::ComposeModel;

    #[test]
    fn every_template_renders_to_a_compose_file_the_project_accepts() {
        assert_eq!(CATALOGUE.len(), 10);
        for t in CATALOGUE {
            let mut c = ServiceConfig::defaults(t);
            c.labels.insert("contextbay.test".into(), "1".into());
            c.env.insert("A_B".into(), "x: y\n- z".into());
            c.env.insert("C".into(), "${HOME}".into());
            c.validate().unwrap();
            let text = render(t, &c);
            let services = validate_compose(&text).unwrap();
            assert_eq!(services, vec![t.name.to_owned()], "{text}");
            let model = ComposeModel::parse(&text, std::path::Path::new("/tmp")).unwrap();
            assert!(!model.parts.is_empty(), "{}", t.name);
            let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
            let svc = &doc["services"][t.name];
            assert_eq!(svc["image"], s(t.image));
            assert_eq!(
                svc["ports"][0],
                s(format!("127.0.0.1:{}:{}", t.default_port, t.container_port))
            );
            let labels = svc["labels"].as_sequence().unwrap();
            assert!(labels.contains(&s(format!("{LABEL}={}", t.name))));
            assert!(labels.contains(&s("contextbay.test=1")));
            assert_eq!(svc["environment"][0], s("A_B=x: y\n- z"));
            assert_eq!(svc["environment"][1], s("C=$${HOME}"));
            assert!(svc.get("restart").is_none());
            assert_eq!(doc["volumes"]["data"]["labels"][0], s("contextbay.test=1"));
        }
    }

    #[test]
    fn bad_configuration_is_refused_naming_the_field() {
        let t = template("prometheus").unwrap();
        let base = ServiceConfig::defaults(t);
        let cases: Vec<(ConfigOverrides, &str)> = vec![
            (
                ConfigOverrides {
                    image: Some("-x".into()),
                    ..Default::default()
                },
                "config.image",
            ),
            (
                ConfigOverrides {
                    image: Some("a b".into()),
                    ..Default::default()
                },
                "config.image",
            ),
            (
                ConfigOverrides {
                    port: Some(0),
                    ..Default::default()
                },
                "config.port",
            ),
            (
                ConfigOverrides {
                    bind: Some("localhost; rm".into()),
                    ..Default::default()
                },
                "config.bind",
            ),
            (
                ConfigOverrides {
                    env: Some([("1A".to_owned(), "x".to_owned())].into()),
                    ..Default::default()
                },
                "config.env",
            ),
            (
                ConfigOverrides {
                    labels: Some([(LABEL.to_owned(), "x".to_owned())].into()),
                    ..Default::default()
                },
                "config.labels",
            ),
        ];
        for (o, field) in cases {
            match base.apply(&o) {
                Err(SubError::InvalidField { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{o:?}: {other:?}"),
            }
        }
        assert!(template("nope").is_err());
        assert!(
            base.apply(&ConfigOverrides {
                bind: Some("::1".into()),
                ..Default::default()
            })
            .is_err()
        );
        let ok = base
            .apply(&ConfigOverrides {
                bind: Some("0.0.0.0".into()),
                port: Some(19090),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(ok.url(t), "http://127.0.0.1:19090");
        assert!(render(t, &ok).contains("0.0.0.0:19090:9090"));
    }
}
