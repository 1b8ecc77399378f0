//! Registering MCP servers: the request as sent, its validation into what is stored (secrets
//! sealed), and the way back to an [`Endpoint`] with the secrets opened.
//!
//! Every env value (stdio) and header value (http) is treated as a secret: sealed at rest,
//! answered as `********`, and sending `********` back in an update keeps the stored value.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store::{McpServer, ServerFields, StoredTransport};
use crate::integrations::mcp::Endpoint;
use crate::modules::{ModuleError, REDACTED};
use crate::state::AppState;

const MAX_NAME: usize = 48;
const MAX_COMMAND: usize = 4096;
const MAX_ARGS: usize = 64;
const MAX_ARG: usize = 4096;
const MAX_VARS: usize = 64;
const MAX_VALUE: usize = 8192;
const MAX_URL: usize = 2048;
/// Headers the MCP transport sets itself, or that would break the HTTP exchange.
const RESERVED_HEADERS: &[&str] = &[
    "accept",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "host",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
    "upgrade",
    "te",
];

/// How the master reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// The master runs `command` and speaks MCP on its stdin/stdout (admins only).
    Stdio,
    /// Streamable HTTP at `url`.
    Http,
}

/// A server to register, or its new configuration (an update replaces every field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerInput {
    /// Lowercase letters, digits and hyphens; its tools are named `<name>__<tool>`.
    #[schema(min_length = 1, max_length = 48, pattern = "^[a-z0-9][a-z0-9-]*$")]
    pub name: String,
    pub transport: TransportKind,
    /// `stdio` only: an absolute path to an executable, or a name found on the master's `PATH`.
    #[schema(min_length = 1, max_length = 4096)]
    pub command: Option<String>,
    /// `stdio` only: the command's arguments.
    #[serde(default)]
    #[schema(max_items = 64)]
    pub args: Vec<String>,
    /// `stdio` only: environment variables for the command (the only ones it gets besides
    /// `PATH`). Values are stored sealed and answered as `********`; `********` keeps the
    /// stored value.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `http` only: the streamable HTTP endpoint (`http://` or `https://`, no credentials).
    #[schema(min_length = 1, max_length = 2048)]
    pub url: Option<String>,
    /// `http` only: headers sent with every request (e.g. `Authorization`). Values are stored
    /// sealed and answered as `********`; `********` keeps the stored value.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Whether its tools are offered (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ModuleError {
    ModuleError::InvalidField {
        field: field.into(),
        message: message.into(),
    }
}

fn check_name(name: &str) -> Result<(), ModuleError> {
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "name",
            format!(
                "name must be 1 to {MAX_NAME} lowercase letters, digits and hyphens, not \
                 starting with a hyphen"
            ),
        ))
    }
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// An absolute path to an executable file, or a bare name found on the master's `PATH`.
fn check_command(command: &str) -> Result<(), ModuleError> {
    if command.is_empty() || command.chars().count() > MAX_COMMAND || command.contains('\0') {
        return Err(invalid(
            "command",
            format!("command must be 1 to {MAX_COMMAND} characters without NUL"),
        ));
    }
    if command.contains('/') {
        if !command.starts_with('/') {
            return Err(invalid(
                "command",
                "command must be an absolute path or a name found on PATH",
            ));
        }
        if !is_executable(Path::new(command)) {
            return Err(invalid(
                "command",
                format!("command '{command}' is not an executable file"),
            ));
        }
        return Ok(());
    }
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join(command)))
    });
    if found {
        Ok(())
    } else {
        Err(invalid(
            "command",
            format!("command '{command}' is not found on the master's PATH"),
        ))
    }
}

/// Seals `values`; `********` keeps the value stored under the same key in `previous`.
fn seal_values(
    state: &AppState,
    field: &str,
    values: &BTreeMap<String, String>,
    previous: Option<&BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, ModuleError> {
    let mut sealed = BTreeMap::new();
    for (key, value) in values {
        if value == REDACTED {
            let kept = previous.and_then(|p| p.get(key)).ok_or_else(|| {
                invalid(
                    format!("{field}.{key}"),
                    format!("{field}.{key}: there is no stored value to keep"),
                )
            })?;
            sealed.insert(key.clone(), kept.clone());
            continue;
        }
        let sealed_value = state
            .secret_box
            .seal(value)
            .map_err(crate::store::StoreError::Other)?;
        sealed.insert(key.clone(), sealed_value);
    }
    Ok(sealed)
}

fn check_stdio(input: &ServerInput) -> Result<String, ModuleError> {
    if input.url.is_some() {
        return Err(invalid("url", "url is for the http transport only"));
    }
    if !input.headers.is_empty() {
        return Err(invalid(
            "headers",
            "headers are for the http transport only",
        ));
    }
    let command = input
        .command
        .as_deref()
        .ok_or_else(|| invalid("command", "command is required for the stdio transport"))?;
    check_command(command)?;
    if input.args.len() > MAX_ARGS {
        return Err(invalid("args", format!("at most {MAX_ARGS} args")));
    }
    for (i, arg) in input.args.iter().enumerate() {
        if arg.chars().count() > MAX_ARG || arg.contains('\0') {
            return Err(invalid(
                format!("args[{i}]"),
                format!("args[{i}] must be at most {MAX_ARG} characters without NUL"),
            ));
        }
    }
    if input.env.len() > MAX_VARS {
        return Err(invalid("env", format!("at most {MAX_VARS} env variables")));
    }
    for (key, value) in &input.env {
        let ok_key = !key.is_empty()
            && key.len() <= 128
            && key
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok_key {
            return Err(invalid(
                format!("env.{key}"),
                "env names are letters, digits and underscores, not starting with a digit",
            ));
        }
        if key == "PATH" {
            return Err(invalid(
                "env.PATH",
                "PATH is the master's and cannot be set",
            ));
        }
        if value.chars().count() > MAX_VALUE || value.contains('\0') {
            return Err(invalid(
                format!("env.{key}"),
                format!("env values must be at most {MAX_VALUE} characters without NUL"),
            ));
        }
    }
    Ok(command.to_owned())
}

fn check_http(input: &ServerInput) -> Result<String, ModuleError> {
    if input.command.is_some() {
        return Err(invalid(
            "command",
            "command is for the stdio transport only",
        ));
    }
    if !input.args.is_empty() {
        return Err(invalid("args", "args are for the stdio transport only"));
    }
    if !input.env.is_empty() {
        return Err(invalid("env", "env is for the stdio transport only"));
    }
    let url = input
        .url
        .as_deref()
        .ok_or_else(|| invalid("url", "url is required for the http transport"))?;
    if url.chars().count() > MAX_URL {
        return Err(invalid(
            "url",
            format!("url must be at most {MAX_URL} characters"),
        ));
    }
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| invalid("url", format!("url is not a valid URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(
            "url",
            "url must be an http:// or https:// URL with a host",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "url",
            "url must not carry credentials; send them in headers (stored sealed)",
        ));
    }
    if parsed.fragment().is_some() {
        return Err(invalid("url", "url must not have a fragment"));
    }
    if input.headers.len() > MAX_VARS {
        return Err(invalid("headers", format!("at most {MAX_VARS} headers")));
    }
    for (name, value) in &input.headers {
        let field = format!("headers.{name}");
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(invalid(
                field,
                format!("'{name}' is not a valid header name"),
            ));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(invalid(
                field,
                format!("header '{name}' is set by the MCP transport and cannot be given"),
            ));
        }
        if value.chars().count() > MAX_VALUE
            || reqwest::header::HeaderValue::from_str(value).is_err()
        {
            return Err(invalid(
                field,
                format!(
                    "the value of header '{name}' must be at most {MAX_VALUE} visible ASCII \
                     characters"
                ),
            ));
        }
    }
    Ok(parsed.to_string())
}

/// Checks a registration (or an update of `previous`) and seals its secrets.
pub fn check(
    state: &AppState,
    input: &ServerInput,
    previous: Option<&McpServer>,
) -> Result<ServerFields, ModuleError> {
    check_name(&input.name)?;
    let transport = match input.transport {
        TransportKind::Stdio => {
            let command = check_stdio(input)?;
            let previous_env = match previous.map(|p| &p.transport) {
                Some(StoredTransport::Stdio { env, .. }) => Some(env),
                _ => None,
            };
            StoredTransport::Stdio {
                command,
                args: input.args.clone(),
                env: seal_values(state, "env", &input.env, previous_env)?,
            }
        }
        TransportKind::Http => {
            let url = check_http(input)?;
            let previous_headers = match previous.map(|p| &p.transport) {
                Some(StoredTransport::Http { headers, .. }) => Some(headers),
                _ => None,
            };
            StoredTransport::Http {
                url,
                headers: seal_values(state, "headers", &input.headers, previous_headers)?,
            }
        }
    };
    Ok(ServerFields {
        name: input.name.clone(),
        transport,
        enabled: input.enabled,
    })
}

fn open_all(
    state: &AppState,
    server: &McpServer,
    values: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, ModuleError> {
    values
        .iter()
        .map(|(k, v)| {
            let open = state.secret_box.open(v).map_err(|e| {
                crate::store::StoreError::Other(
                    e.context(format!("a sealed value of MCP server '{}'", server.name)),
                )
            })?;
            Ok((k.clone(), open))
        })
        .collect()
}

/// Where `server` is, with its secrets opened (for the client only: never logged or answered).
pub fn endpoint(state: &AppState, server: &McpServer) -> Result<Endpoint, ModuleError> {
    Ok(match &server.transport {
        StoredTransport::Stdio { command, args, env } => Endpoint::Stdio {
            command: command.clone(),
            args: args.clone(),
            env: open_all(state, server, env)?,
        },
        StoredTransport::Http { url, headers } => Endpoint::Http {
            url: url.clone(),
            headers: open_all(state, server, headers)?,
        },
    })
}
