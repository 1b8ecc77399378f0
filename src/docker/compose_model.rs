//! A compose project as compose itself resolved it (`docker compose config`, run with the
//! stack's `.env` and project directory on the host that deploys it), turned into what each
//! service, volume and network takes from that host ([`HostAccess`]), for the node's security
//! policy. Reading the model, not the file as written, is what makes variables (`${D}:/h`), YAML
//! merge keys, `extends` and relative paths count.
//!
//! The reading fails closed: a key it does not know, in a service or at the top level, is
//! refused rather than ignored, as is anything that reads host files at deploy time (`secrets`
//! and `configs` from `file:`, an `include` left in the model, `extends` from another file).
//! Both the compose CLI v2 (long volume syntax) and v1 (`docker-compose`, short syntax) outputs
//! are understood.

use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use crate::policy::HostAccess;

/// What a compose project takes from its host: one [`HostAccess`] per service, volume, network,
/// secret or config that asks for something, named for the message (`service 'web'`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ComposeModel {
    pub parts: Vec<(String, HostAccess)>,
}

/// Service keys that take nothing from the host beyond what the other checks look at.
const PLAIN_SERVICE_KEYS: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "depends_on",
    "deploy",
    "develop",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "environment",
    "expose",
    "external_links",
    "extra_hosts",
    "group_add",
    "healthcheck",
    "hostname",
    "init",
    "isolation",
    "labels",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pids_limit",
    "platform",
    "ports",
    "profiles",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "user",
    "volume_driver",
    "working_dir",
];

/// Build keys that read nothing from the host outside the context.
const PLAIN_BUILD_KEYS: &[&str] = &[
    "args",
    "cache_from",
    "cache_to",
    "dockerfile_inline",
    "extra_hosts",
    "isolation",
    "labels",
    "no_cache",
    "platforms",
    "pull",
    "secrets",
    "shm_size",
    "tags",
    "target",
    "ulimits",
];

/// `tmpfs`, network file systems: volume driver options that mount nothing of the host.
const REMOTE_VOLUME_TYPES: &[&str] = &["tmpfs", "nfs", "nfs4", "cifs", "smb3"];

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(items)) => items.iter().filter_map(text).collect(),
        Some(other) => text(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn key(k: &Value) -> String {
    text(k).unwrap_or_else(|| "?".into())
}

/// A `true` that is really a boolean; anything else that is not `false` is refused.
fn flag(access: &mut HostAccess, field: &str, v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Null => false,
        _ => {
            access.refused.push((
                field.to_owned(),
                "must be a boolean after interpolation".into(),
            ));
            false
        }
    }
}

fn is_remote_context(context: &str) -> bool {
    context.contains("://") || context.starts_with("git@") || context.starts_with("github.com/")
}

impl ComposeModel {
    /// Reads the normalized YAML printed by `config`. `project_dir` is where relative paths
    /// resolve (compose made most of them absolute already).
    pub fn parse(normalized: &str, project_dir: &Path) -> Result<Self, String> {
        let mut doc: Value = serde_yaml_ng::from_str(normalized)
            .map_err(|e| format!("the resolved compose model is not YAML: {e}"))?;
        doc.apply_merge()
            .map_err(|e| format!("the resolved compose model has a bad merge key: {e}"))?;
        let Value::Mapping(top) = doc else {
            return Err("the resolved compose model is not a map".into());
        };
        let mut model = Self::default();
        let mut file = HostAccess::default();
        let services = top.get("services").and_then(Value::as_mapping);
        let service_names: Vec<String> = services
            .map(|m| m.keys().map(key).collect())
            .unwrap_or_default();
        for (k, v) in &top {
            let name = key(k);
            match name.as_str() {
                "version" | "name" | "services" => {}
                n if n.starts_with("x-") => {}
                "volumes" => volumes(&mut model, v),
                "networks" => networks(&mut model, v),
                "secrets" | "configs" => file_sources(&mut model, &name, v),
                "include" => file.refused.push((
                    "include".into(),
                    "included compose files are not supported in stacks".into(),
                )),
                other => file.refused.push((
                    other.to_owned(),
                    "this top-level key is not understood by the security check, so it is \
                     refused"
                        .into(),
                )),
            }
        }
        if !file.refused.is_empty() {
            model.parts.insert(0, ("compose file".into(), file));
        }
        for (k, v) in services.into_iter().flatten() {
            let name = key(k);
            let Value::Mapping(service) = v else {
                return Err(format!("services.{name} is not a map"));
            };
            let access = service_access(service, project_dir, &service_names);
            model.parts.push((format!("service '{name}'"), access));
        }
        Ok(model)
    }

    /// Adds what the compose file as written names and `config` consumes without a trace:
    /// `env_file` (merged into `environment`) and `label_file`. `extends` from another file is
    /// refused, since what that file names is not visible here either.
    pub fn add_raw_file_reads(&mut self, raw: &str, project_dir: &Path) -> Result<(), String> {
        let mut doc: Value = serde_yaml_ng::from_str(raw)
            .map_err(|e| format!("the compose file is not YAML: {e}"))?;
        doc.apply_merge()
            .map_err(|e| format!("the compose file has a bad merge key: {e}"))?;
        let Some(services) = doc.get("services").and_then(Value::as_mapping) else {
            return Ok(());
        };
        for (k, v) in services {
            let mut access = HostAccess::default();
            for field in ["env_file", "label_file"] {
                let entries: Vec<String> = match v.get(field) {
                    Some(Value::Sequence(items)) => items
                        .iter()
                        .filter_map(|i| text(i).or_else(|| i.get("path").and_then(text)))
                        .collect(),
                    Some(Value::Mapping(m)) => m.get("path").and_then(text).into_iter().collect(),
                    Some(other) => text(other).into_iter().collect(),
                    None => Vec::new(),
                };
                for path in entries {
                    if path.contains('$') {
                        access.refused.push((
                            field.to_owned(),
                            format!("'{path}' uses a variable; name the file literally"),
                        ));
                    } else {
                        access
                            .stack_files
                            .push((field.to_owned(), absolute(project_dir, &path)));
                    }
                }
            }
            if v.get("extends").and_then(|e| e.get("file")).is_some() {
                access.refused.push((
                    "extends.file".into(),
                    "a service may only extend services of the same compose file".into(),
                ));
            }
            if access != HostAccess::default() {
                self.parts.push((format!("service '{}'", key(k)), access));
            }
        }
        Ok(())
    }

    /// Moves every path below `from` to below `to`: a master's pre-check ran `config` in a
    /// scratch directory that stands for the stack's directory on the node.
    pub fn rebase(&mut self, from: &Path, to: &Path) {
        let move_path = |p: &mut String| {
            if let Ok(rest) = Path::new(p.as_str()).strip_prefix(from) {
                *p = to.join(rest).to_string_lossy().into_owned();
            }
        };
        for (_, access) in &mut self.parts {
            for (_, p) in access.binds.iter_mut().chain(access.stack_files.iter_mut()) {
                move_path(p);
            }
        }
    }
}

fn absolute(dir: &Path, path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        dir.join(path).to_string_lossy().into_owned()
    }
}

fn service_access(service: &Mapping, project_dir: &Path, services: &[String]) -> HostAccess {
    let mut a = HostAccess::default();
    for (k, v) in service {
        let field = key(k);
        match field.as_str() {
            "image" => a.image = text(v),
            "privileged" => {
                if flag(&mut a, "privileged", v) {
                    a.privileged.push("privileged".into());
                }
            }
            "network_mode" | "pid" | "ipc" | "uts" | "userns_mode" | "cgroup" | "cgroup_parent" => {
                a.namespaces
                    .push((field.clone(), text(v).unwrap_or_default()));
            }
            "cap_add" => a.cap_add.extend(strings(Some(v))),
            "cap_drop" => {}
            "security_opt" => a.security_opt.extend(strings(Some(v))),
            "devices" => {
                let Value::Sequence(items) = v else {
                    a.refused.push((field, "must be a list".into()));
                    continue;
                };
                for d in items {
                    let shown = text(d)
                        .or_else(|| d.get("source").and_then(text))
                        .unwrap_or_else(|| "?".into());
                    a.devices.push(("devices".into(), shown));
                }
            }
            "device_cgroup_rules" | "gpus" => {
                let shown = strings(Some(v)).join(", ");
                a.devices.push((
                    field.clone(),
                    if shown.is_empty() {
                        "all".into()
                    } else {
                        shown
                    },
                ));
            }
            "volumes" => service_volumes(&mut a, v, project_dir),
            "volumes_from" => {
                for from in strings(Some(v)) {
                    let target = from.strip_prefix("service:").unwrap_or(&from);
                    let target = target.split(':').next().unwrap_or_default();
                    if from.starts_with("container:") || !services.iter().any(|s| s == target) {
                        a.refused.push((
                            "volumes_from".into(),
                            format!(
                                "'{from}' is not a service of this stack; taking another \
                                 container's mounts is not allowed"
                            ),
                        ));
                    }
                }
            }
            "build" => build(&mut a, v, project_dir),
            "env_file" | "label_file" => {
                for entry in match v {
                    Value::Sequence(items) => items.clone(),
                    other => vec![other.clone()],
                } {
                    match text(&entry).or_else(|| entry.get("path").and_then(text)) {
                        Some(p) => a
                            .stack_files
                            .push((field.clone(), absolute(project_dir, &p))),
                        None => a.refused.push((field.clone(), "cannot be read".into())),
                    }
                }
            }
            "post_start" | "pre_stop" => {
                if let Value::Sequence(hooks) = v {
                    for hook in hooks {
                        if hook
                            .get("privileged")
                            .is_some_and(|p| flag(&mut a, &field, p))
                        {
                            a.privileged.push(format!("{field}.privileged"));
                        }
                    }
                }
            }
            "deploy" => {
                let devices = v
                    .get("resources")
                    .and_then(|r| r.get("reservations"))
                    .and_then(|r| r.get("devices"));
                if devices.is_some() {
                    a.devices.push((
                        "deploy.resources.reservations.devices".into(),
                        "device requests".into(),
                    ));
                }
            }
            "extends" => a.refused.push((
                field,
                "was left unresolved by compose; it is not allowed in stacks".into(),
            )),
            "provider" | "use_api_socket" | "credential_spec" => a.refused.push((
                field,
                "gives the service something of the host's; it is not allowed in stacks".into(),
            )),
            f if f.starts_with("x-") || PLAIN_SERVICE_KEYS.contains(&f) => {}
            _ => a.refused.push((
                field,
                "this key is not understood by the security check, so it is refused".into(),
            )),
        }
    }
    a
}

/// A service's `volumes`: short syntax (`/host:/target:rw`, `name:/target`) or long.
fn service_volumes(a: &mut HostAccess, v: &Value, project_dir: &Path) {
    let Value::Sequence(items) = v else {
        a.refused.push(("volumes".into(), "must be a list".into()));
        return;
    };
    for item in items {
        match item {
            Value::String(short) => {
                let source = short.split(':').next().unwrap_or_default();
                // A target alone is an anonymous volume; a source that is a path is a bind.
                if short.contains(':') && source.starts_with(['/', '.', '~']) {
                    a.binds
                        .push(("volumes".into(), absolute(project_dir, source)));
                } else if source.starts_with('~') {
                    a.refused
                        .push(("volumes".into(), format!("'{source}' is not a plain path")));
                }
            }
            Value::Mapping(long) => {
                let kind = long.get("type").and_then(text).unwrap_or_default();
                let source = long.get("source").and_then(text).unwrap_or_default();
                match kind.as_str() {
                    "bind" => a
                        .binds
                        .push(("volumes".into(), absolute(project_dir, &source))),
                    "volume" | "tmpfs" | "image" => {}
                    other => a.refused.push((
                        "volumes".into(),
                        format!("a mount of type '{other}' is not allowed in stacks"),
                    )),
                }
            }
            _ => a
                .refused
                .push(("volumes".into(), "unreadable entry".into())),
        }
    }
}

fn build(a: &mut HostAccess, v: &Value, project_dir: &Path) {
    let (context, keys) = match v {
        Value::String(context) => (context.clone(), Mapping::new()),
        Value::Mapping(m) => (
            m.get("context")
                .and_then(text)
                .unwrap_or_else(|| ".".into()),
            m.clone(),
        ),
        _ => {
            a.refused.push(("build".into(), "unreadable".into()));
            return;
        }
    };
    if is_remote_context(&context) {
        a.refused.push((
            "build.context".into(),
            format!("'{context}' is not a directory of the stack"),
        ));
        return;
    }
    let context = PathBuf::from(absolute(project_dir, &context));
    a.stack_files.push((
        "build.context".into(),
        context.to_string_lossy().into_owned(),
    ));
    for (k, v) in &keys {
        let field = format!("build.{}", key(k));
        match key(k).as_str() {
            "context" => {}
            "dockerfile" => {
                if let Some(d) = text(v) {
                    a.stack_files.push((field, absolute(&context, &d)));
                }
            }
            "network" => a.namespaces.push((field, text(v).unwrap_or_default())),
            "privileged" => {
                if flag(a, &field, v) {
                    a.privileged.push(field);
                }
            }
            "additional_contexts" => {
                let values: Vec<String> = match v {
                    Value::Mapping(m) => m.values().filter_map(text).collect(),
                    other => strings(Some(other))
                        .into_iter()
                        .map(|kv| kv.split_once('=').map_or(kv.clone(), |(_, p)| p.to_owned()))
                        .collect(),
                };
                for c in values {
                    if c.starts_with("docker-image://") || c.starts_with("service:") {
                        continue;
                    }
                    if is_remote_context(&c) {
                        a.refused.push((
                            field.clone(),
                            format!("'{c}' is not a directory of the stack"),
                        ));
                    } else {
                        a.stack_files.push((field.clone(), absolute(&context, &c)));
                    }
                }
            }
            "ssh" | "entitlements" => a.refused.push((
                field,
                "gives the build something of the host's; it is not allowed in stacks".into(),
            )),
            f if f.starts_with("x-") || PLAIN_BUILD_KEYS.contains(&f) => {}
            _ => a.refused.push((
                field,
                "this key is not understood by the security check, so it is refused".into(),
            )),
        }
    }
}

/// Top-level `volumes`: driver options that bind a host path are bind mounts, ones that mount a
/// host device are devices.
fn volumes(model: &mut ComposeModel, v: &Value) {
    let Some(volumes) = v.as_mapping() else {
        return;
    };
    for (k, vol) in volumes {
        let Some(opts) = vol.get("driver_opts").and_then(Value::as_mapping) else {
            continue;
        };
        let mut a = HostAccess::default();
        let opt = |name: &str| opts.get(name).and_then(text).unwrap_or_default();
        let (kind, o, device) = (opt("type"), opt("o"), opt("device"));
        let binds = o.split(',').any(|x| x == "bind" || x == "rbind") || kind == "none";
        if binds {
            a.binds.push(("driver_opts.device".into(), device));
        } else if !REMOTE_VOLUME_TYPES.contains(&kind.as_str()) {
            a.devices
                .push(("driver_opts".into(), format!("type={kind} device={device}")));
        }
        if a != HostAccess::default() {
            model.parts.push((format!("volume '{}'", key(k)), a));
        }
    }
}

/// Top-level `networks`: the host's network, by driver or by name.
fn networks(model: &mut ComposeModel, v: &Value) {
    let Some(networks) = v.as_mapping() else {
        return;
    };
    for (k, net) in networks {
        let mut a = HostAccess::default();
        for field in ["driver", "name"] {
            if net.get(field).and_then(text).as_deref() == Some("host") {
                a.namespaces
                    .push((format!("networks.{}.{field}", key(k)), "host".into()));
            }
        }
        if a != HostAccess::default() {
            model.parts.push((format!("network '{}'", key(k)), a));
        }
    }
}

/// Top-level `secrets` and `configs`: from a file on the host, or from the environment of the
/// process running compose (the master's or the worker's), they are refused.
fn file_sources(model: &mut ComposeModel, kind: &str, v: &Value) {
    let Some(entries) = v.as_mapping() else {
        return;
    };
    let singular = kind.trim_end_matches('s');
    for (k, entry) in entries {
        let mut a = HostAccess::default();
        for field in ["file", "environment"] {
            if let Some(source) = entry.get(field) {
                a.refused.push((
                    field.to_owned(),
                    format!(
                        "'{}' would be read from the host running compose; use an external \
                         {singular} or inline content",
                        text(source).unwrap_or_default()
                    ),
                ));
            }
        }
        if a != HostAccess::default() {
            model.parts.push((format!("{singular} '{}'", key(k)), a));
        }
    }
}
