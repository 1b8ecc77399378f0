//! A node's security policy: what may run on it. The master checks it before an operation is
//! sent to a node, and the worker checks it again before running it, so a compromised or buggy
//! master path cannot bypass it alone.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::docker::compose_model::ComposeModel;
use crate::docker::containers::ContainerSpec;

/// What a node allows; enforced by the master (and the worker) on container operations.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecurityPolicy {
    /// Shell exec into containers.
    pub allow_exec: bool,
    /// Privileged containers.
    pub allow_privileged: bool,
    /// Absolute host path prefixes bind mounts may use; empty: no bind mounts.
    pub allowed_bind_prefixes: Vec<String>,
    /// Image reference patterns (`*` matches any run of characters), e.g. `registry.lan/*`.
    pub allowed_images: Vec<String>,
    /// The host's namespaces: `network_mode` `host` or `container:…`, and `pid`, `ipc`, `uts`
    /// or `userns` `host`.
    #[serde(default)]
    pub allow_host_namespaces: bool,
    /// Linux capabilities a container may add (`cap_add`), e.g. `NET_ADMIN`; `ALL` allows any.
    /// Empty: none.
    #[serde(default)]
    pub allowed_capabilities: Vec<String>,
    /// Host devices passed into containers (`devices`).
    #[serde(default)]
    pub allow_devices: bool,
    /// `security_opt` entries (seccomp, AppArmor, SELinux label and `no-new-privileges` changes).
    #[serde(default)]
    pub allow_security_opts: bool,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        Self {
            allow_exec: true,
            allow_privileged: false,
            allowed_bind_prefixes: Vec::new(),
            allowed_images: vec!["*".into()],
            allow_host_namespaces: false,
            allowed_capabilities: Vec::new(),
            allow_devices: false,
            allow_security_opts: false,
        }
    }
}

impl SecurityPolicy {
    /// Everything allowed (an admin's explicit choice for an endpoint); the data-directory guard
    /// still holds with it.
    pub fn unrestricted() -> Self {
        Self {
            allow_exec: true,
            allow_privileged: true,
            allowed_bind_prefixes: vec!["/".into()],
            allowed_images: vec!["*".into()],
            allow_host_namespaces: true,
            allowed_capabilities: vec!["ALL".into()],
            allow_devices: true,
            allow_security_opts: true,
        }
    }

    pub fn from_stored(stored: &Map<String, Value>) -> Self {
        if stored.is_empty() {
            return Self::default();
        }
        serde_json::from_value(Value::Object(stored.clone())).unwrap_or_default()
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.allowed_bind_prefixes.len() > 64 || self.allowed_images.len() > 64 {
            return Err("at most 64 bind prefixes and 64 image patterns".into());
        }
        for p in &self.allowed_bind_prefixes {
            if !p.starts_with('/') || p.contains("..") || p.len() > 1024 {
                return Err(format!(
                    "bind prefix '{p}' must be an absolute path without '..'"
                ));
            }
        }
        if self.allowed_capabilities.len() > 64 {
            return Err("at most 64 capabilities".into());
        }
        for c in &self.allowed_capabilities {
            let name = c.strip_prefix("CAP_").unwrap_or(c);
            if name.is_empty()
                || name.len() > 64
                || !name.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_')
            {
                return Err(format!(
                    "capability '{c}' must be an upper-case Linux capability name such as NET_ADMIN"
                ));
            }
        }
        for i in &self.allowed_images {
            if i.is_empty() || i.len() > 512 || i.chars().any(char::is_whitespace) {
                return Err(format!(
                    "image pattern '{i}' must be 1 to 512 characters without spaces"
                ));
            }
        }
        Ok(())
    }
}

impl SecurityPolicy {
    /// The fields in which `new` allows something that `self` does not, by their JSON names:
    /// a flag turned on, a bind prefix not inside one already allowed, an image pattern that no
    /// allowed pattern covers, a capability not already allowed. Empty: `new` only tightens (or
    /// keeps) what `self` allows. Operators may make only such changes.
    pub fn loosened_fields(&self, new: &SecurityPolicy) -> Vec<&'static str> {
        let mut fields = Vec::new();
        let mut flag = |name: &'static str, old: bool, new: bool| {
            if new && !old {
                fields.push(name);
            }
        };
        flag("allow_exec", self.allow_exec, new.allow_exec);
        flag(
            "allow_privileged",
            self.allow_privileged,
            new.allow_privileged,
        );
        flag(
            "allow_host_namespaces",
            self.allow_host_namespaces,
            new.allow_host_namespaces,
        );
        flag("allow_devices", self.allow_devices, new.allow_devices);
        flag(
            "allow_security_opts",
            self.allow_security_opts,
            new.allow_security_opts,
        );
        if new.allowed_bind_prefixes.iter().any(|p| {
            !self
                .allowed_bind_prefixes
                .iter()
                .any(|old| path_within(p, old))
        }) {
            fields.push("allowed_bind_prefixes");
        }
        // A pattern is covered when an allowed one matches it with its `*`s read as text: every
        // image the new pattern matches, the old one matches too.
        if new
            .allowed_images
            .iter()
            .any(|p| !self.allowed_images.iter().any(|old| glob(old, p)))
        {
            fields.push("allowed_images");
        }
        let old_caps: Vec<&str> = self
            .allowed_capabilities
            .iter()
            .map(|c| cap_name(c))
            .collect();
        if !old_caps.contains(&"ALL")
            && new
                .allowed_capabilities
                .iter()
                .any(|c| !old_caps.contains(&cap_name(c)))
        {
            fields.push("allowed_capabilities");
        }
        fields
    }
}

/// A capability name without its `CAP_` prefix.
fn cap_name(c: &str) -> &str {
    c.strip_prefix("CAP_").unwrap_or(c)
}

/// Whether path prefix `inner` lies inside prefix `outer` (component-wise; `/` holds every path).
fn path_within(inner: &str, outer: &str) -> bool {
    let (inner, outer) = (inner.trim_end_matches('/'), outer.trim_end_matches('/'));
    if outer.is_empty() {
        return true;
    }
    !inner.split('/').any(|c| c == "..")
        && (inner == outer || inner.starts_with(&format!("{outer}/")))
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    if !text.starts_with(first) {
        return false;
    }
    let mut rest = &text[first.len()..];
    for m in middle {
        match rest.find(m) {
            Some(i) => rest = &rest[i + m.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// What a container would take from the host it runs on: the one input of [`access_violation`].
/// It is built from a container spec ([`HostAccess::of_container`]) and from every service (and
/// every volume and network) of a compose model as compose resolved it, so the two checks cannot
/// drift apart. Each entry names the field it came from, for the message.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HostAccess {
    /// The image; `None` for a service built on the host.
    pub image: Option<String>,
    /// The fields that make it privileged (`privileged`, `build.privileged`, a hook's).
    pub privileged: Vec<String>,
    /// `(field, value)`: `network_mode`, `pid`, `ipc`, `uts`, `userns_mode`, `cgroup`,
    /// `cgroup_parent`, `build.network`, a network's driver.
    pub namespaces: Vec<(String, String)>,
    /// Added Linux capabilities, as written.
    pub cap_add: Vec<String>,
    /// `(field, value)`: host devices, device cgroup rules, GPUs, volumes backed by a device.
    pub devices: Vec<(String, String)>,
    pub security_opt: Vec<String>,
    /// `(field, host path)` of bind mounts.
    pub binds: Vec<(String, String)>,
    /// `(field, host path)` read when the stack is deployed (build contexts, Dockerfiles,
    /// `env_file`): they must stay inside the stack's own directory.
    pub stack_files: Vec<(String, String)>,
    /// `(field, why)`: what is refused whatever the policy says (keys the check does not know,
    /// files read from the host, an `include` left unresolved, …).
    pub refused: Vec<(String, String)>,
}

impl HostAccess {
    /// What a container spec asks of its host. With no `network_mode`, the first network is the
    /// network mode (that is how the container is created).
    pub fn of_container(spec: &ContainerSpec) -> Self {
        let mut access = Self {
            image: Some(spec.image.clone()),
            cap_add: spec.cap_add.clone(),
            security_opt: spec.security_opt.clone(),
            ..Self::default()
        };
        if spec.privileged {
            access.privileged.push("privileged".into());
        }
        match (&spec.network_mode, spec.networks.first()) {
            (Some(mode), _) => access
                .namespaces
                .push(("network_mode".into(), mode.clone())),
            (None, Some(first)) => access
                .namespaces
                .push(("networks[0]".into(), first.clone())),
            (None, None) => {}
        }
        for (field, value) in [
            ("pid_mode", &spec.pid_mode),
            ("ipc_mode", &spec.ipc_mode),
            ("uts_mode", &spec.uts_mode),
            ("userns_mode", &spec.userns_mode),
        ] {
            if let Some(v) = value {
                access.namespaces.push((field.into(), v.clone()));
            }
        }
        for (i, d) in spec.devices.iter().enumerate() {
            access.devices.push((format!("devices[{i}]"), d.clone()));
        }
        for (i, m) in spec.mounts.iter().enumerate() {
            if m.kind != "volume" {
                access
                    .binds
                    .push((format!("mounts[{i}].source"), m.source.clone()));
            }
        }
        access
    }
}

/// Where a check runs and what it protects, whatever the policy says.
#[derive(Debug, Clone, Default)]
pub struct HostGuard {
    /// The check runs on the host that mounts the paths: symlinks and `..` are resolved here
    /// before the comparison. Otherwise (a master's pre-check for another host) paths are
    /// compared as written and any `..` is refused; the host that mounts them checks again.
    pub resolve_here: bool,
    /// Never reachable from a container or a stack (the data directory of the master or the
    /// worker), as resolved on this host.
    pub protected: Vec<PathBuf>,
    /// The stack's own directories (its directory under the data dir, and the directory an
    /// adopted project was started in): build contexts and env files stay inside them.
    pub stack_dirs: Vec<PathBuf>,
}

impl HostGuard {
    /// A guard on the host that mounts the paths, protecting `protected` (resolved now).
    pub fn here(protected: &[&Path]) -> Self {
        Self {
            resolve_here: true,
            protected: protected
                .iter()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
                .map(|p| resolve_existing(&p).unwrap_or(p))
                .collect(),
            stack_dirs: Vec::new(),
        }
    }

    /// A pre-check for another host: paths are compared as written.
    pub fn elsewhere(protected: &[&Path]) -> Self {
        Self {
            resolve_here: false,
            protected: protected
                .iter()
                .map(|p| lexical(&std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())))
                .collect(),
            stack_dirs: Vec::new(),
        }
    }

    /// The same guard for a stack whose files live in `dirs`.
    #[must_use]
    pub fn for_stack(mut self, dirs: &[&Path]) -> Self {
        self.stack_dirs = dirs.iter().filter_map(|d| self.host_path(d)).collect();
        self
    }

    /// `path` as the host would open it; `None` when it cannot be resolved (not absolute, a
    /// dangling symlink, a `..` in a path that is not resolved here), which counts as outside
    /// every prefix.
    fn host_path(&self, path: &Path) -> Option<PathBuf> {
        if !path.is_absolute() {
            return None;
        }
        if self.resolve_here {
            resolve_existing(path)
        } else if path.components().any(|c| c == Component::ParentDir) {
            None
        } else {
            Some(lexical(path))
        }
    }

    /// Whether `path` (resolved) is a protected directory, inside one, or above one.
    fn reaches_protected(&self, path: &Path) -> bool {
        self.protected
            .iter()
            .any(|p| path.starts_with(p) || p.starts_with(path))
    }
}

/// `path` without `.` components and repeated separators (no file system access).
fn lexical(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}

/// `path` with every symlink and `..` resolved on this machine. A part that does not exist yet
/// (a bind source the engine will create) is kept as written below the deepest part that does;
/// a dangling symlink, or a `..` below a missing part, cannot be resolved.
fn resolve_existing(path: &Path) -> Option<PathBuf> {
    let mut missing: Vec<std::ffi::OsString> = Vec::new();
    let mut current = path.to_path_buf();
    loop {
        match std::fs::canonicalize(&current) {
            Ok(mut resolved) => {
                resolved.extend(missing.iter().rev());
                return Some(resolved);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A symlink whose target is missing: the engine would follow it.
                if std::fs::symlink_metadata(&current).is_ok() {
                    return None;
                }
                match current.components().next_back()? {
                    Component::Normal(name) => missing.push(name.to_owned()),
                    Component::CurDir => {}
                    _ => return None,
                }
                current = current.parent()?.to_path_buf();
            }
            Err(_) => return None,
        }
    }
}

/// Why a container that takes `access` from its host breaks `policy` or the host's `guard`, if
/// it does: the one check behind container create and every service of a compose deploy.
pub fn access_violation(
    policy: &SecurityPolicy,
    guard: &HostGuard,
    access: &HostAccess,
) -> Option<String> {
    if let Some((field, why)) = access.refused.first() {
        return Some(format!("{field}: {why}"));
    }
    if let Some(field) = access.privileged.first()
        && !policy.allow_privileged
    {
        return Some(format!(
            "{field}: privileged containers are not allowed on this node"
        ));
    }
    for (field, value) in &access.namespaces {
        if namespace_reaches_host(field, value) && !policy.allow_host_namespaces {
            return Some(format!(
                "{field} '{value}' shares a namespace of the host or of another container, \
                 which the security policy does not allow (allow_host_namespaces)"
            ));
        }
    }
    for cap in &access.cap_add {
        if !capability_allowed(policy, cap) {
            return Some(format!(
                "cap_add '{cap}' is not in the allowed capabilities of this node"
            ));
        }
    }
    if let Some((field, value)) = access.devices.first()
        && !policy.allow_devices
    {
        return Some(format!(
            "{field} '{value}': host devices are not allowed on this node (allow_devices)"
        ));
    }
    for opt in &access.security_opt {
        if !only_tightens(opt) && !policy.allow_security_opts {
            return Some(format!(
                "security_opt '{opt}' is not allowed on this node (allow_security_opts)"
            ));
        }
    }
    for (field, source) in &access.binds {
        if let Some(why) = bind_violation(policy, guard, source) {
            return Some(format!("{field}: {why}"));
        }
    }
    for (field, path) in &access.stack_files {
        let inside = guard
            .host_path(Path::new(path))
            .is_some_and(|p| guard.stack_dirs.iter().any(|d| p.starts_with(d)));
        if !inside {
            return Some(format!(
                "{field} '{path}' is outside the stack's own directory"
            ));
        }
    }
    access.image.as_deref().map_or_else(
        || image_violation(policy, ""),
        |i| image_violation(policy, i),
    )
}

/// Why `spec` breaks `policy` (or reaches what `guard` protects), if it does.
pub fn policy_violation(
    policy: &SecurityPolicy,
    guard: &HostGuard,
    spec: &ContainerSpec,
) -> Option<String> {
    access_violation(policy, guard, &HostAccess::of_container(spec))
}

/// A namespace setting that shares the host's namespace or another container's (which may
/// itself share the host's). Unknown values count as reaching the host.
fn namespace_reaches_host(field: &str, value: &str) -> bool {
    let network = field.starts_with("network") || field == "build.network";
    match value {
        "host" => true,
        v if v.starts_with("container:") => true,
        // Another service of the same project, checked in its own right.
        v if v.starts_with("service:") => false,
        "" | "private" | "none" | "shareable" | "default" | "bridge" => field == "cgroup_parent",
        // Any other network mode is a network name.
        _ => !network,
    }
}

fn capability_allowed(policy: &SecurityPolicy, cap: &str) -> bool {
    let norm = |c: &str| {
        let upper = c.trim().to_ascii_uppercase();
        upper.strip_prefix("CAP_").unwrap_or(&upper).to_owned()
    };
    let cap = norm(cap);
    policy
        .allowed_capabilities
        .iter()
        .map(|c| norm(c))
        .any(|c| c == "ALL" || c == cap)
}

/// `no-new-privileges` only takes privileges away, so it needs no permission.
fn only_tightens(opt: &str) -> bool {
    matches!(
        opt.trim(),
        "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true"
    )
}

/// Why a bind mount of host path `source` breaks `policy` or reaches what `guard` protects, if
/// it does. The path is resolved as the host that mounts it would (see [`HostGuard`]); one that
/// cannot be resolved is outside every prefix.
fn bind_violation(policy: &SecurityPolicy, guard: &HostGuard, source: &str) -> Option<String> {
    let Some(resolved) = guard.host_path(Path::new(source)) else {
        return Some(format!(
            "bind mount of '{source}' cannot be resolved to a plain host path, so it is outside \
             the allowed prefixes of this node"
        ));
    };
    if guard.reaches_protected(&resolved) {
        return Some(format!(
            "bind mount of '{source}' reaches the ContextBay data directory, which no container \
             may mount"
        ));
    }
    let allowed = policy.allowed_bind_prefixes.iter().any(|p| {
        let p = lexical(Path::new(p));
        resolved.starts_with(&p)
    });
    (!allowed).then(|| {
        if resolved == Path::new(source) {
            format!("bind mount of '{source}' is outside the allowed prefixes of this node")
        } else {
            format!(
                "bind mount of '{source}' (resolved to '{}') is outside the allowed prefixes of \
                 this node",
                resolved.display()
            )
        }
    })
}

fn image_violation(policy: &SecurityPolicy, image: &str) -> Option<String> {
    (!policy.allowed_images.iter().any(|p| glob(p, image))).then(|| {
        if image.is_empty() {
            "a service built on the host has no image name; it is allowed only when the image \
             patterns include '*'"
                .to_owned()
        } else {
            format!("image '{image}' is not allowed on this node")
        }
    })
}

/// Why deploying a resolved compose model breaks `policy` or reaches what `guard` protects, if
/// it does: every service, volume and network is turned into a [`HostAccess`] and held to
/// [`access_violation`]; the message names the service (or volume, network) and the field.
pub fn compose_violation(
    policy: &SecurityPolicy,
    guard: &HostGuard,
    model: &ComposeModel,
) -> Option<String> {
    model.parts.iter().find_map(|(part, access)| {
        access_violation(policy, guard, access).map(|why| format!("{part}: {why}"))
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::docker::compose::{ComposeAction, ComposeHost, ComposeRun};

    fn policy() -> SecurityPolicy {
        SecurityPolicy {
            allow_exec: true,
            allow_privileged: false,
            allowed_bind_prefixes: vec!["/srv/data".into()],
            allowed_images: vec!["registry.lan/*".into()],
            ..SecurityPolicy::default()
        }
    }

    fn spec(v: serde_json::Value) -> ContainerSpec {
        serde_json::from_value::<ContainerSpec>(v).unwrap()
    }

    /// A pre-check guard (paths compared as written), protecting nothing.
    fn lexical_guard() -> HostGuard {
        HostGuard::elsewhere(&[])
    }

    #[test]
    fn glob_and_policy() {
        assert!(glob("*", "anything"));
        assert!(glob("registry.lan/*", "registry.lan/app:1"));
        assert!(!glob("registry.lan/*", "docker.io/app"));
        assert!(glob("*/busybox:*", "contextbay-test/busybox:latest"));
        let (policy, g) = (policy(), lexical_guard());
        assert!(policy_violation(&policy, &g, &spec(json!({"image": "registry.lan/a"}))).is_none());
        assert!(
            policy_violation(&policy, &g, &spec(json!({"image": "evil/a"})))
                .unwrap()
                .contains("image")
        );
        assert!(
            policy_violation(
                &policy,
                &g,
                &spec(json!({"image": "registry.lan/a", "privileged": true}))
            )
            .unwrap()
            .contains("privileged")
        );
        let bind = |src: &str| {
            spec(
                json!({"image": "registry.lan/a", "mounts": [{"type": "bind", "source": src, "target": "/x"}]}),
            )
        };
        assert!(policy_violation(&policy, &g, &bind("/srv/data/x")).is_none());
        assert!(policy_violation(&policy, &g, &bind("/srv/database")).is_some());
        assert!(policy_violation(&policy, &g, &bind("/etc")).is_some());
        // Traversal out of a prefix is refused.
        assert!(policy_violation(&policy, &g, &bind("/srv/data/../../etc")).is_some());
    }

    #[test]
    fn loosening_is_found_field_by_field() {
        let old = SecurityPolicy {
            allow_exec: false,
            allowed_bind_prefixes: vec!["/srv/data/".into()],
            allowed_images: vec!["registry.lan/*".into()],
            allowed_capabilities: vec!["NET_ADMIN".into()],
            ..SecurityPolicy::default()
        };
        assert!(old.loosened_fields(&old).is_empty());
        // Tightening and equivalent spellings are not loosening.
        let tighter = SecurityPolicy {
            allowed_bind_prefixes: vec!["/srv/data/app".into(), "/srv/data".into()],
            allowed_images: vec!["registry.lan/app:*".into(), "registry.lan/*".into()],
            allowed_capabilities: vec!["CAP_NET_ADMIN".into()],
            ..old.clone()
        };
        assert!(old.loosened_fields(&tighter).is_empty());
        let everything = SecurityPolicy {
            allow_exec: true,
            allow_privileged: true,
            allowed_bind_prefixes: vec!["/srv/database".into()],
            allowed_images: vec!["*".into()],
            allow_host_namespaces: true,
            allowed_capabilities: vec!["SYS_ADMIN".into()],
            allow_devices: true,
            allow_security_opts: true,
        };
        assert_eq!(
            old.loosened_fields(&everything),
            vec![
                "allow_exec",
                "allow_privileged",
                "allow_host_namespaces",
                "allow_devices",
                "allow_security_opts",
                "allowed_bind_prefixes",
                "allowed_images",
                "allowed_capabilities",
            ]
        );
        // Traversal is not inside a prefix; `/` holds everything; `ALL` holds every capability.
        let escape = SecurityPolicy {
            allowed_bind_prefixes: vec!["/srv/data/../../etc".into()],
            ..old.clone()
        };
        assert_eq!(old.loosened_fields(&escape), vec!["allowed_bind_prefixes"]);
        let root = SecurityPolicy {
            allowed_bind_prefixes: vec!["/".into()],
            allowed_capabilities: vec!["ALL".into()],
            ..old.clone()
        };
        assert!(root.loosened_fields(&escape).is_empty());
        assert_eq!(
            root.loosened_fields(&everything),
            vec![
                "allow_exec",
                "allow_privileged",
                "allow_host_namespaces",
                "allow_devices",
                "allow_security_opts",
                "allowed_images",
            ]
        );
    }

    #[test]
    fn container_create_checks_everything_that_reaches_the_host() {
        let (policy, g) = (policy(), lexical_guard());
        let base = json!({"image": "registry.lan/a"});
        let with = |k: &str, v: serde_json::Value| {
            let mut s = base.clone();
            s[k] = v;
            spec(s)
        };
        for (s, word) in [
            (with("network_mode", json!("host")), "network_mode 'host'"),
            (
                with("network_mode", json!("container:other")),
                "network_mode 'container:other'",
            ),
            (with("networks", json!(["host"])), "networks[0] 'host'"),
            (with("pid_mode", json!("host")), "pid_mode 'host'"),
            (with("pid_mode", json!("container:x")), "pid_mode"),
            (with("ipc_mode", json!("host")), "ipc_mode 'host'"),
            (with("uts_mode", json!("host")), "uts_mode 'host'"),
            (with("userns_mode", json!("host")), "userns_mode 'host'"),
            (with("cap_add", json!(["SYS_ADMIN"])), "cap_add 'SYS_ADMIN'"),
            (
                with("devices", json!(["/dev/sda"])),
                "devices[0] '/dev/sda'",
            ),
            (
                with("security_opt", json!(["seccomp=unconfined"])),
                "security_opt",
            ),
            (
                with("security_opt", json!(["apparmor=unconfined"])),
                "security_opt",
            ),
        ] {
            assert!(s.validate().is_ok(), "{s:?}");
            let why = policy_violation(&policy, &g, &s).unwrap_or_else(|| panic!("allowed: {s:?}"));
            assert!(why.contains(word), "{why}");
        }
        // What stays inside the container's own namespaces passes.
        for s in [
            with("network_mode", json!("none")),
            with("network_mode", json!("bridge")),
            with("networks", json!(["backend"])),
            with("ipc_mode", json!("private")),
            with("cap_add", json!([])),
            with("cap_drop", json!(["ALL"])),
            with("security_opt", json!(["no-new-privileges"])),
        ] {
            assert_eq!(policy_violation(&policy, &g, &s), None, "{s:?}");
        }
        // And the policy can allow each of them.
        let open = SecurityPolicy {
            allow_host_namespaces: true,
            allowed_capabilities: vec!["NET_ADMIN".into()],
            allow_devices: true,
            allow_security_opts: true,
            ..policy.clone()
        };
        assert_eq!(
            policy_violation(&open, &g, &with("network_mode", json!("host"))),
            None
        );
        assert_eq!(
            policy_violation(&open, &g, &with("cap_add", json!(["CAP_NET_ADMIN"]))),
            None
        );
        assert!(policy_violation(&open, &g, &with("cap_add", json!(["SYS_ADMIN"]))).is_some());
        assert_eq!(
            policy_violation(&open, &g, &with("devices", json!(["/dev/fuse"]))),
            None
        );
        // `network_mode` and `networks` together are a bad request, as is a mode with a space.
        let mut both = with("network_mode", json!("host"));
        both.networks = vec!["x".into()];
        assert!(both.validate().unwrap_err().starts_with("network_mode"));
        assert!(with("pid_mode", json!("host x")).validate().is_err());
        assert!(with("devices", json!(["sda"])).validate().is_err());
    }

    #[test]
    fn bind_sources_are_resolved_on_the_host_that_mounts_them() {
        let root = tempfile::tempdir().unwrap();
        let allowed = root.path().join("allowed");
        let data = root.path().join("data");
        std::fs::create_dir_all(allowed.join("sub")).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        std::os::unix::fs::symlink("/etc", allowed.join("etc-link")).unwrap();
        std::os::unix::fs::symlink("/nonexistent-cb-target", allowed.join("dangling")).unwrap();
        std::os::unix::fs::symlink(&data, allowed.join("data-link")).unwrap();
        let policy = SecurityPolicy {
            allowed_bind_prefixes: vec![allowed.to_string_lossy().into_owned(), "/".into()],
            ..SecurityPolicy::default()
        };
        let only_allowed = SecurityPolicy {
            allowed_bind_prefixes: vec![allowed.to_string_lossy().into_owned()],
            ..SecurityPolicy::default()
        };
        let guard = HostGuard::here(&[&data]);
        let bind = |src: &Path| {
            spec(json!({"image": "a", "mounts": [{"type": "bind", "source": src, "target": "/x"}]}))
        };
        let check = |p: &SecurityPolicy, src: &Path| policy_violation(p, &guard, &bind(src));
        assert_eq!(check(&only_allowed, &allowed.join("sub")), None);
        // Not there yet: the engine creates it below a resolved parent.
        assert_eq!(check(&only_allowed, &allowed.join("sub/new/dir")), None);
        // `..` inside the prefix is fine once resolved; out of it is not.
        assert_eq!(check(&only_allowed, &allowed.join("sub/../sub")), None);
        assert!(check(&only_allowed, &allowed.join("../data")).is_some());
        let why = check(&only_allowed, &allowed.join("etc-link")).unwrap();
        assert!(why.contains("resolved to '/etc'"), "{why}");
        assert!(
            check(&only_allowed, &allowed.join("dangling"))
                .unwrap()
                .contains("cannot be resolved")
        );
        // The data directory, through a symlink, or a parent of it, whatever the policy says.
        for src in [
            data.clone(),
            allowed.join("data-link"),
            root.path().to_path_buf(),
            "/".into(),
        ] {
            let why = check(&policy, &src).unwrap_or_else(|| panic!("allowed: {src:?}"));
            assert!(why.contains("data directory"), "{why}");
            assert!(check(&SecurityPolicy::unrestricted(), &src).is_some());
        }
    }

    /// Resolves `compose` with the real compose CLI (no engine needed for `config`) in a stack
    /// directory under a data directory, and checks it as a worker would: `Err` when the model
    /// cannot be resolved, else the violation.
    async fn deploy(
        policy: &SecurityPolicy,
        compose: &str,
        env: &[(&str, &str)],
    ) -> Option<Result<Option<String>, String>> {
        let cli = ["docker-compose", "docker"].iter().any(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
        if !cli {
            assert!(std::env::var("CI").is_err(), "CI needs the compose CLI");
            return None;
        }
        let data = tempfile::tempdir().unwrap();
        let host = ComposeHost::unix(
            Path::new("/var/run/docker.sock"),
            data.path().join("stacks"),
        );
        let run = ComposeRun {
            stack_id: "s1".into(),
            project: "p1".into(),
            compose: compose.into(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            action: ComposeAction::Deploy,
            project_dir: None,
        };
        Some(match host.resolve(&run).await {
            Ok(resolved) => {
                let dirs: Vec<&Path> = resolved.dirs.iter().map(PathBuf::as_path).collect();
                let guard = HostGuard::here(&[data.path()]).for_stack(&dirs);
                Ok(compose_violation(policy, &guard, &resolved.model))
            }
            Err(e) => Err(e.to_string()),
        })
    }

    /// Every case of issue 11 item 4, on the model compose resolves: each is refused, naming the
    /// service (or volume, secret, config) and the field.
    #[tokio::test]
    async fn compose_deploys_are_checked_on_the_resolved_model() {
        let policy = SecurityPolicy {
            allowed_images: vec!["*".into()],
            ..policy()
        };
        let ok = "services:\n  a:\n    image: registry.lan/a\n    volumes: [\"data:/d\", \"/srv/data/x:/x:ro\"]\n    security_opt: [no-new-privileges]\n    env_file: .env\n  b:\n    build: .\nvolumes:\n  data: {}\n";
        let Some(result) = deploy(&policy, ok, &[("A", "1")]).await else {
            return;
        };
        assert_eq!(result, Ok(None));
        let outside = tempfile::tempdir().unwrap();
        let other = outside.path().join("other.yaml");
        std::fs::write(&other, "services:\n  base:\n    image: x\n").unwrap();
        let other = other.display();
        let svc = |body: &str| format!("services:\n  a:\n    image: registry.lan/a\n{body}");
        type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);
        let cases: Vec<Case> = vec![
            (svc("    volumes: [\"${D}:/h\"]\n"), vec![("D", "/")], "service 'a': volumes: bind mount of '/'"),
            (
                svc("    volumes: [\"v:/h\"]\nvolumes:\n  v:\n    driver_opts: {type: none, o: bind, device: /}\n"),
                vec![],
                "volume 'v': driver_opts.device: bind mount of '/'",
            ),
            (
                "x-base: &base\n  privileged: true\nservices:\n  a:\n    <<: *base\n    image: registry.lan/a\n".into(),
                vec![],
                "service 'a': privileged",
            ),
            (svc("    privileged: ${P}\n"), vec![("P", "true")], "service 'a': privileged"),
            (svc("    cap_add: [SYS_ADMIN]\n"), vec![], "service 'a': cap_add 'SYS_ADMIN'"),
            (svc("    devices: [\"/dev/sda:/dev/sda\"]\n"), vec![], "service 'a': devices '/dev/sda:/dev/sda'"),
            (svc("    pid: host\n"), vec![], "service 'a': pid 'host'"),
            (svc("    ipc: host\n"), vec![], "service 'a': ipc 'host'"),
            (svc("    network_mode: host\n"), vec![], "service 'a': network_mode 'host'"),
            (svc("    network_mode: \"container:x\"\n"), vec![], "service 'a': network_mode 'container:x'"),
            (svc("    security_opt: [\"seccomp:unconfined\"]\n"), vec![], "service 'a': security_opt"),
            (svc("    userns_mode: host\n"), vec![], "service 'a': userns_mode 'host'"),
            (
                svc("    secrets: [s]\nsecrets:\n  s: {file: /etc/passwd}\n"),
                vec![],
                "secret 's': file: '/etc/passwd'",
            ),
            (
                svc("    configs: [c]\nconfigs:\n  c: {file: /etc/hostname}\n"),
                vec![],
                "config 'c': file: '/etc/hostname'",
            ),
            (svc("    env_file: /etc/hostname\n"), vec![], "service 'a': env_file '/etc/hostname' is outside"),
            (svc("    env_file: ${E}\n"), vec![("E", "/etc/hostname")], "service 'a': env_file"),
            (format!("include: [\"{other}\"]\n{}", svc("")), vec![], "include"),
            (
                svc(&format!("    extends: {{file: \"{other}\", service: base}}\n")),
                vec![],
                "service 'a': extends.file",
            ),
            (svc("    build: /\n"), vec![], "service 'a': build.context '/' is outside"),
            (svc("    build: {context: ., dockerfile: ../../../etc/Dockerfile}\n"), vec![], "service 'a': build.dockerfile"),
            (svc("    build: {context: ., network: host}\n"), vec![], "service 'a': build.network 'host'"),
            (svc("    volumes: [\"./conf:/c\"]\n"), vec![], "data directory"),
            (svc("    volumes_from: [\"container:other\"]\n"), vec![], "service 'a': volumes_from"),
            (svc("    cgroup_parent: /\n"), vec![], "service 'a': cgroup_parent"),
            (svc("    device_cgroup_rules: [\"a *:* rwm\"]\n"), vec![], "service 'a': device_cgroup_rules"),
            (
                "services:\n  a:\n    image: registry.lan/a\n    networks: [h]\nnetworks:\n  h: {name: host, external: true}\n".to_owned(),
                vec![],
                "network 'h': networks.h.name 'host'",
            ),
        ];
        // Each case starts the CLI once; they run side by side.
        let results = futures_util::future::join_all(
            cases
                .iter()
                .map(|(compose, env, _)| deploy(&policy, compose, env)),
        )
        .await;
        for ((compose, _, expected), result) in cases.iter().zip(results) {
            let result = result.unwrap();
            let why = match result {
                Ok(Some(why)) => why,
                Ok(None) => panic!("allowed: {compose}"),
                // Compose itself could not resolve it: refused as well (fail closed).
                Err(e) => {
                    assert!(e.contains("cannot be checked"), "{e}");
                    assert!(e.contains(*expected), "{e} / {expected}");
                    continue;
                }
            };
            assert!(
                why.contains(*expected),
                "{why}\n  expected: {expected}\n  for: {compose}"
            );
        }
    }

    /// The v2 CLI prints long volume syntax and keeps what v1 drops; both are read.
    #[test]
    fn the_long_syntax_of_compose_v2_is_read_too() {
        use crate::docker::compose_model::ComposeModel;
        let v2 = "name: p\nservices:\n  a:\n    image: registry.lan/a\n    volumes:\n      - type: bind\n        source: /etc\n        target: /e\n        bind: {create_host_path: true}\n    env_file:\n      - path: /etc/shadow\n        required: true\n    use_api_socket: true\n    unknown_key: 1\n";
        let model = ComposeModel::parse(v2, Path::new("/srv/stack")).unwrap();
        let (_, a) = &model.parts[0];
        assert_eq!(a.binds, vec![("volumes".to_owned(), "/etc".to_owned())]);
        assert_eq!(
            a.stack_files,
            vec![("env_file".to_owned(), "/etc/shadow".to_owned())]
        );
        let refused: Vec<&str> = a.refused.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(refused, vec!["use_api_socket", "unknown_key"]);
        let why =
            compose_violation(&SecurityPolicy::unrestricted(), &lexical_guard(), &model).unwrap();
        assert!(why.starts_with("service 'a': use_api_socket"), "{why}");
    }
}
