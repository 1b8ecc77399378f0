//! A node's security policy: what may run on it. The master checks it before an operation is
//! sent to a node, and the worker checks it again before running it, so a compromised or buggy
//! master path cannot bypass it alone.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

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

/// Why `spec` breaks `policy`, if it does.
pub fn policy_violation(policy: &SecurityPolicy, spec: &ContainerSpec) -> Option<String> {
    if spec.privileged && !policy.allow_privileged {
        return Some("privileged containers are not allowed on this node".into());
    }
    for m in spec.mounts.iter().filter(|m| m.kind == "bind") {
        if let Some(why) = bind_violation(policy, &m.source) {
            return Some(why);
        }
    }
    image_violation(policy, &spec.image)
}

/// Why a bind mount of host path `source` breaks `policy`, if it does. A path with a `..`
/// component, or one that is not absolute, is never inside a prefix.
fn bind_violation(policy: &SecurityPolicy, source: &str) -> Option<String> {
    let plain = source.starts_with('/') && !source.split('/').any(|c| c == "..");
    let allowed = plain
        && policy.allowed_bind_prefixes.iter().any(|p| {
            let p = p.trim_end_matches('/');
            p.is_empty() || source == p || source.starts_with(&format!("{p}/"))
        });
    (!allowed)
        .then(|| format!("bind mount of '{source}' is outside the allowed prefixes of this node"))
}

fn image_violation(policy: &SecurityPolicy, image: &str) -> Option<String> {
    (!policy.allowed_images.iter().any(|p| glob(p, image)))
        .then(|| format!("image '{image}' is not allowed on this node"))
}

/// Why deploying the compose file `compose` breaks `policy`, if it does: every service is checked
/// as a container would be (privileged, bind mounts, image). A service without an `image` (one
/// built on the host) passes only an image pattern of `*`.
pub fn compose_violation(policy: &SecurityPolicy, compose: &str) -> Option<String> {
    use serde_yaml_ng::Value;
    let doc: Value = match serde_yaml_ng::from_str(compose) {
        Ok(doc) => doc,
        Err(e) => return Some(format!("the compose file cannot be checked: {e}")),
    };
    let services = doc.get("services").and_then(Value::as_mapping)?;
    for (name, service) in services {
        let name = name.as_str().unwrap_or("?");
        let refuse = |why: String| Some(format!("service '{name}': {why}"));
        if service.get("privileged").and_then(Value::as_bool) == Some(true)
            && !policy.allow_privileged
        {
            return refuse("privileged containers are not allowed on this node".into());
        }
        let image = service.get("image").and_then(Value::as_str).unwrap_or("");
        if let Some(why) = image_violation(policy, image) {
            return refuse(why);
        }
        let volumes = service.get("volumes").and_then(Value::as_sequence);
        for volume in volumes.into_iter().flatten() {
            let bind_source = match volume {
                // `source:target[:mode]`: a path (not a volume name) is a bind mount.
                Value::String(short) => short
                    .split(':')
                    .next()
                    .filter(|src| src.starts_with(['/', '.', '~']))
                    .map(str::to_owned),
                Value::Mapping(_) => (volume.get("type").and_then(Value::as_str) == Some("bind"))
                    .then(|| {
                        volume
                            .get("source")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned()
                    }),
                _ => None,
            };
            if let Some(source) = bind_source
                && let Some(why) = bind_violation(policy, &source)
            {
                return refuse(why);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn glob_and_policy() {
        assert!(glob("*", "anything"));
        assert!(glob("registry.lan/*", "registry.lan/app:1"));
        assert!(!glob("registry.lan/*", "docker.io/app"));
        assert!(glob("*/busybox:*", "contextbay-test/busybox:latest"));
        let policy = SecurityPolicy {
            allow_exec: true,
            allow_privileged: false,
            allowed_bind_prefixes: vec!["/srv/data".into()],
            allowed_images: vec!["registry.lan/*".into()],
            ..SecurityPolicy::default()
        };
        let spec = |v: serde_json::Value| serde_json::from_value::<ContainerSpec>(v).unwrap();
        assert!(policy_violation(&policy, &spec(json!({"image": "registry.lan/a"}))).is_none());
        assert!(
            policy_violation(&policy, &spec(json!({"image": "evil/a"})))
                .unwrap()
                .contains("image")
        );
        assert!(
            policy_violation(
                &policy,
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
        assert!(policy_violation(&policy, &bind("/srv/data/x")).is_none());
        assert!(policy_violation(&policy, &bind("/srv/database")).is_some());
        assert!(policy_violation(&policy, &bind("/etc")).is_some());
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
    fn compose_files_are_checked_service_by_service() {
        let policy = SecurityPolicy {
            allow_exec: true,
            allow_privileged: false,
            allowed_bind_prefixes: vec!["/srv/data".into()],
            allowed_images: vec!["registry.lan/*".into()],
            ..SecurityPolicy::default()
        };
        let ok = "services:\n  a:\n    image: registry.lan/a\n    volumes: [\"data:/d\", \"/srv/data/x:/x:ro\"]\n";
        assert_eq!(compose_violation(&policy, ok), None);
        for (bad, word) in [
            (
                "services:\n  a:\n    image: registry.lan/a\n    privileged: true\n",
                "privileged",
            ),
            ("services:\n  a:\n    image: evil/a\n", "image"),
            ("services:\n  a:\n    build: .\n", "image"),
            (
                "services:\n  a:\n    image: registry.lan/a\n    volumes: [\"/etc:/etc\"]\n",
                "/etc",
            ),
            (
                "services:\n  a:\n    image: registry.lan/a\n    volumes: [\"./conf:/c\"]\n",
                "./conf",
            ),
            (
                "services:\n  a:\n    image: registry.lan/a\n    volumes:\n      - {type: bind, source: /srv/data/../../etc, target: /e}\n",
                "etc",
            ),
        ] {
            let why = compose_violation(&policy, bad).unwrap_or_else(|| panic!("allowed: {bad}"));
            assert!(
                why.contains(word) && why.starts_with("service 'a'"),
                "{why}"
            );
        }
        // Traversal out of a prefix is refused for containers too.
        let spec = serde_json::from_value::<ContainerSpec>(json!({
            "image": "registry.lan/a",
            "mounts": [{"type": "bind", "source": "/srv/data/../../etc", "target": "/x"}]
        }))
        .unwrap();
        assert!(policy_violation(&policy, &spec).is_some());
    }
}
