//! Compose projects: running the compose CLI (`docker compose`, else `docker-compose`) on the
//! host that owns the engine, validating compose files, and reading back what a project started
//! outside ContextBay was made from (for adoption).
//!
//! Each stack gets its own directory, `<stacks_dir>/<stack id>/`, holding `compose.yaml` and
//! `.env`; both are rewritten from the stored stack before every run, so the host always runs
//! what the master stores.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::compose_model::ComposeModel;
use super::containers::ContainerInfo;
use super::engine::{DockerError, Engine};

/// The labels compose puts on every container of a project.
pub const PROJECT_LABEL: &str = "com.docker.compose.project";
pub const SERVICE_LABEL: &str = "com.docker.compose.service";
pub const WORKING_DIR_LABEL: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES_LABEL: &str = "com.docker.compose.project.config_files";

/// A compose run longer than this is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Output lines kept for the answer (the newest); every line is still passed to the callback.
const KEPT_LINES: usize = 2000;
/// Largest compose or `.env` file read back from a host.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// How the compose CLI on this host reaches the engine, and where it keeps project files.
#[derive(Debug, Clone)]
pub struct ComposeHost {
    /// `DOCKER_HOST` for the CLI (`unix:///var/run/docker.sock`, `tcp://host:2376`).
    pub docker_host: String,
    /// `DOCKER_CERT_PATH` (ca.pem, cert.pem, key.pem), verified, for TLS engines.
    pub cert_path: Option<PathBuf>,
    /// Parent of the per-stack directories.
    pub stacks_dir: PathBuf,
    /// The engine runs on this machine, so the files its projects name can be read here (false
    /// for engines reached over TCP).
    pub files_are_local: bool,
    /// Adoption reads a project's files only when they resolve under one of these directories
    /// (always including `stacks_dir`), so container labels cannot make this host read any file.
    pub stack_roots: Vec<PathBuf>,
}

impl ComposeHost {
    /// The engine behind a Unix socket on this machine.
    pub fn unix(socket: &Path, stacks_dir: PathBuf) -> Self {
        let path = socket.to_string_lossy();
        Self {
            docker_host: format!("unix://{}", path.trim_start_matches("unix://")),
            cert_path: None,
            stack_roots: vec![stacks_dir.clone()],
            stacks_dir,
            files_are_local: true,
        }
    }

    /// Adds directories adoption may read compose files from (see [`Self::stack_roots`]).
    pub fn with_stack_roots(mut self, roots: impl IntoIterator<Item = PathBuf>) -> Self {
        self.stack_roots.extend(roots);
        self
    }

    /// An engine reached over TCP (`tcp://`, `https://` or `http://` URL), with the PEM files in
    /// `cert_path` when it uses TLS.
    pub fn remote(url: &str, cert_path: Option<PathBuf>, stacks_dir: PathBuf) -> Self {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .or_else(|| url.strip_prefix("tcp://"))
            .unwrap_or(url);
        Self {
            docker_host: format!("tcp://{}", rest.trim_end_matches('/')),
            cert_path,
            stack_roots: vec![stacks_dir.clone()],
            stacks_dir,
            files_are_local: false,
        }
    }
}

/// What to do with a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ComposeAction {
    /// `up -d --remove-orphans`
    Deploy,
    /// `stop`
    Stop,
    /// `down --remove-orphans` (`-v` with `volumes`)
    Remove { volumes: bool },
    /// `rm -s -f <service>`
    RemoveService { service: String },
    /// Deletes the stack's directory on the host; runs no CLI.
    DeleteFiles,
}

impl ComposeAction {
    fn args(&self) -> Vec<String> {
        let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        match self {
            Self::Deploy => v(&["up", "-d", "--remove-orphans"]),
            Self::Stop => v(&["stop"]),
            Self::Remove { volumes: false } => v(&["down", "--remove-orphans"]),
            Self::Remove { volumes: true } => v(&["down", "--remove-orphans", "-v"]),
            Self::RemoveService { service } => {
                let mut a = v(&["rm", "-s", "-f"]);
                a.push(service.clone());
                a
            }
            Self::DeleteFiles => Vec::new(),
        }
    }
}

/// One compose run: the stack's files and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeRun {
    /// The stack id: the name of its directory on the host.
    pub stack_id: String,
    /// The compose project name.
    pub project: String,
    /// `compose.yaml`.
    pub compose: String,
    /// `.env`.
    pub env: BTreeMap<String, String>,
    pub action: ComposeAction,
    /// Resolve relative paths from this directory instead of the stack's own (adopted stacks,
    /// where the project was started); ignored when it no longer exists on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_dir: Option<String>,
}

/// One line the CLI wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutputLine {
    /// `stdout` or `stderr`.
    pub stream: String,
    pub line: String,
}

/// How a run ended. A non-zero exit is an outcome, not an error: the caller reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComposeOutcome {
    /// The command line that ran, e.g. `docker-compose -p web -f compose.yaml up -d`.
    pub command: String,
    pub exit_code: i32,
    pub ok: bool,
    /// The last output lines (all of them unless there were very many).
    pub lines: Vec<OutputLine>,
}

/// What a compose project on a host was made from, for adoption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectFiles {
    pub project: String,
    pub working_dir: Option<String>,
    pub config_files: Vec<String>,
    /// The compose file text: read from the host, or reconstructed (see `reconstructed`).
    pub compose: String,
    /// Read from `<working_dir>/.env` when it is there.
    pub env: BTreeMap<String, String>,
    /// The files could not be read; `compose` was rebuilt from the containers (service name and
    /// image only) and `note` says why.
    pub reconstructed: bool,
    pub note: Option<String>,
}

/// A compose project name: lowercase letters, digits, `_` and `-`, starting with a letter or a
/// digit (what compose itself accepts).
pub fn validate_project_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name: '{name}' must be 1-64 characters of lowercase letters, digits, '_' and '-', \
             starting with a letter or digit"
        ))
    }
}

/// A compose service name as compose accepts it.
pub fn valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Checks that `text` is YAML with a non-empty `services` map; returns the service names.
pub fn validate_compose(text: &str) -> Result<Vec<String>, String> {
    if text.trim().is_empty() {
        return Err("compose: must not be empty".into());
    }
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| format!("compose: not valid YAML: {e}"))?;
    let serde_yaml_ng::Value::Mapping(top) = doc else {
        return Err("compose: the document must be a map with a 'services' key".into());
    };
    let services = match top.get("services") {
        Some(serde_yaml_ng::Value::Mapping(m)) if !m.is_empty() => m,
        Some(serde_yaml_ng::Value::Mapping(_)) => {
            return Err("compose: 'services' must name at least one service".into());
        }
        Some(_) => return Err("compose: 'services' must be a map of services".into()),
        None => return Err("compose: a 'services' map is required".into()),
    };
    let mut names = Vec::new();
    for (k, v) in services {
        let Some(name) = k.as_str() else {
            return Err("compose: service names must be strings".into());
        };
        if !valid_service_name(name) {
            return Err(format!(
                "compose: service name '{name}' may use only letters, digits, '_', '.', '-'"
            ));
        }
        if !matches!(v, serde_yaml_ng::Value::Mapping(_)) {
            return Err(format!("compose: services.{name} must be a map"));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

/// Variables that steer the compose CLI itself (which binary, which engine, which credentials);
/// a stack may not set them, since its variables are the CLI's environment.
const RESERVED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CONFIG",
    DOLLAR_BRACE_VAR,
];

/// python-dotenv (compose v1) expands `${NAME}` in every `.env` value, quoted or not, and knows
/// no escape for it. A literal `${` is written as a reference to this variable, which the CLI's
/// environment holds as `${`; it is not a `.env` key, so no container receives it.
const DOLLAR_BRACE_VAR: &str = "CONTEXTBAY_DOLLAR_BRACE";

/// What the compose CLI inherits from this process: where to find programs and its own
/// configuration, temporary files and the locale. Nothing else (the master's and worker's
/// secrets among it) reaches the CLI, so `${VAR}` in a compose file cannot read it.
const INHERITED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "DOCKER_CONFIG",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
];

/// Checks `.env` variables: names like shell variables and not one of the CLI's own
/// ([`RESERVED_ENV`]), values on one line (a newline, carriage return or NUL cannot be written
/// so that compose reads it back literally).
pub fn validate_env(env: &BTreeMap<String, String>) -> Result<(), String> {
    if env.len() > 512 {
        return Err("env: at most 512 variables".into());
    }
    for (k, v) in env {
        let name_ok = k
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok || k.len() > 256 {
            return Err(format!(
                "env: '{k}' is not a valid variable name (letters, digits and '_', not starting with a digit)"
            ));
        }
        if RESERVED_ENV.contains(&k.as_str()) {
            return Err(format!(
                "env.{k}: this variable steers the compose CLI and cannot be set by a stack"
            ));
        }
        if v.contains(['\n', '\r', '\0']) {
            return Err(format!(
                "env.{k}: the value must be a single line (no newline, carriage return or NUL)"
            ));
        }
    }
    Ok(())
}

/// Whose `.env` parser reads the file: the two CLIs quote differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EnvDialect {
    /// `docker-compose` (v1, python-dotenv): single quotes with `\\` and `\'` escapes; `${`
    /// through [`DOLLAR_BRACE_VAR`].
    Python,
    /// `docker compose` (v2, compose-go): single quotes verbatim, without escapes; double
    /// quotes with `\\`, `\"` and `\$` escapes.
    Go,
}

impl EnvDialect {
    fn of(cli: &[String]) -> Self {
        if cli.first().map(String::as_str) == Some("docker-compose") {
            Self::Python
        } else {
            Self::Go
        }
    }
}

/// `.env` text that the CLI of `dialect` reads back literally, `$`, quotes, `#`, spaces and
/// backslashes included (for services that name it in `env_file`). Values were validated: one
/// line each. Interpolation (`${VAR}` in the compose file) does not rest on this file: the same
/// variables are the CLI's environment, which both CLIs prefer to `.env` and take as they are.
fn env_file(env: &BTreeMap<String, String>, dialect: EnvDialect) -> String {
    let mut out = String::new();
    for (k, v) in env {
        let plain = v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@,+=%".contains(c));
        let value = if plain {
            v.clone()
        } else {
            match dialect {
                EnvDialect::Python => format!(
                    "'{}'",
                    v.replace('\\', "\\\\")
                        .replace('\'', "\\'")
                        .replace("${", &format!("${{{DOLLAR_BRACE_VAR}}}"))
                ),
                EnvDialect::Go if !v.contains('\'') => format!("'{v}'"),
                EnvDialect::Go => format!(
                    "\"{}\"",
                    v.replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('$', "\\$")
                ),
            }
        };
        out.push_str(&format!("{k}={value}\n"));
    }
    out
}

/// Reads `KEY=VALUE` lines of a `.env` file (comments and blank lines skipped, quotes removed).
fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let unquoted = v
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| v.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
                .unwrap_or(v);
            (k.trim().to_owned(), unquoted.to_owned())
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> DockerError {
    DockerError::Other(format!("{what} {}: {e}", path.display()))
}

/// Writes `contents` through a temporary file and a rename, owner-only.
fn write_file(path: &Path, contents: &str) -> Result<(), DockerError> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(&tmp)
        .map_err(|e| io_error("writing", &tmp, e))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| io_error("writing", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error("writing", path, e))
}

/// A stack id used as a directory name: nothing that could leave the stacks directory.
fn check_stack_id(id: &str) -> Result<(), DockerError> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(DockerError::Api {
            status: 400,
            message: format!("'{id}' is not a valid stack id"),
        });
    }
    Ok(())
}

impl ComposeHost {
    /// The CLI with a cleared environment: [`INHERITED_ENV`], then `vars` (a stack's variables,
    /// for interpolation), then how to reach the engine.
    fn command(&self, program: &str, vars: &BTreeMap<String, String>) -> Command {
        let mut c = Command::new(program);
        c.env_clear();
        for name in INHERITED_ENV {
            if let Some(value) = std::env::var_os(name) {
                c.env(name, value);
            }
        }
        c.envs(vars)
            .env(DOLLAR_BRACE_VAR, "${")
            .env("DOCKER_HOST", &self.docker_host)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(p) = &self.cert_path {
            c.env("DOCKER_CERT_PATH", p).env("DOCKER_TLS_VERIFY", "1");
        }
        c
    }

    /// The compose CLI of this host: `docker compose` when the plugin answers, else
    /// `docker-compose`.
    async fn cli(&self) -> Result<Vec<String>, DockerError> {
        for argv in [&["docker", "compose"][..], &["docker-compose"][..]] {
            let (program, rest) = (argv[0], &argv[1..]);
            let answered = self
                .command(program, &BTreeMap::new())
                .args(rest)
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await
                .is_ok_and(|s| s.success());
            if answered {
                return Ok(argv.iter().map(|s| (*s).to_owned()).collect());
            }
        }
        Err(DockerError::Unavailable(
            "neither `docker compose` nor `docker-compose` is installed on this host".into(),
        ))
    }

    /// Runs `args` with the compose CLI `cli` (see [`Self::cli`]) in `dir`, with `vars` in its
    /// environment, passing each output line to `on_line` as it comes.
    async fn run_cli(
        &self,
        cli: &[String],
        dir: &Path,
        args: &[String],
        vars: &BTreeMap<String, String>,
        on_line: &mut (dyn FnMut(&OutputLine) + Send),
    ) -> Result<ComposeOutcome, DockerError> {
        let (program, prefix) = cli
            .split_first()
            .ok_or_else(|| DockerError::Other("the compose command line is empty".into()))?;
        let command_line = cli
            .iter()
            .chain(args)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = self
            .command(program, vars)
            .args(prefix)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| DockerError::Unavailable(format!("starting {command_line}: {e}")))?;
        // Each pipe is read by its own task; lines meet in one channel in the order they come.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<OutputLine>();
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward_lines(out, "stdout", tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward_lines(err, "stderr", tx.clone()));
        }
        drop(tx);
        let mut lines = std::collections::VecDeque::new();
        let read = async {
            while let Some(line) = rx.recv().await {
                on_line(&line);
                if lines.len() == KEPT_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
            child.wait().await
        };
        let status = tokio::time::timeout(RUN_TIMEOUT, read)
            .await
            .map_err(|_| {
                DockerError::Other(format!(
                    "{command_line} did not finish within {} s and was killed",
                    RUN_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| DockerError::Other(format!("waiting for {command_line}: {e}")))?;
        let exit_code = status.code().unwrap_or(-1);
        Ok(ComposeOutcome {
            command: command_line,
            exit_code,
            ok: status.success(),
            lines: lines.into(),
        })
    }
}

impl ComposeHost {
    /// Validates `run`, writes the stack's files into `dir` and returns the directory and the
    /// CLI arguments that select the project (the action's own arguments come after them).
    fn prepare(
        &self,
        run: &ComposeRun,
        dir: &Path,
        cli: &[String],
    ) -> Result<(PathBuf, Vec<String>), DockerError> {
        let bad = |message: String| DockerError::Api {
            status: 400,
            message,
        };
        validate_project_name(&run.project).map_err(bad)?;
        validate_compose(&run.compose).map_err(bad)?;
        validate_env(&run.env).map_err(bad)?;
        if let ComposeAction::RemoveService { service } = &run.action
            && !valid_service_name(service)
        {
            return Err(bad(format!("'{service}' is not a valid service name")));
        }
        std::fs::create_dir_all(dir).map_err(|e| io_error("creating", dir, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| io_error("restricting", dir, e))?;
        }
        write_file(&dir.join("compose.yaml"), &run.compose)?;
        write_file(&dir.join(".env"), &env_file(&run.env, EnvDialect::of(cli)))?;
        let mut args: Vec<String> = ["-p", run.project.as_str(), "-f", "compose.yaml"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        if let Some(p) = run.project_dir.as_deref().map(Path::new)
            && p.is_absolute()
            && p.is_dir()
        {
            // Compose reads `.env` from the project directory; ours is named explicitly.
            let env = dir.join(".env");
            args.extend([
                "--project-directory".to_owned(),
                p.to_string_lossy().into_owned(),
                "--env-file".to_owned(),
                env.to_string_lossy().into_owned(),
            ]);
        }
        Ok((dir.to_path_buf(), args))
    }

    /// The directory an adopted stack's relative paths resolve from, when it exists here.
    fn project_dir(run: &ComposeRun) -> Option<PathBuf> {
        run.project_dir
            .as_deref()
            .map(PathBuf::from)
            .filter(|p| p.is_absolute() && p.is_dir())
    }

    /// See [`Engine::resolve_compose`]; runs in the stack's directory under `stacks_dir`.
    pub async fn resolve(&self, run: &ComposeRun) -> Result<ResolvedStack, DockerError> {
        check_stack_id(&run.stack_id)?;
        let dir = self.stacks_dir.join(&run.stack_id);
        let dir = std::path::absolute(&dir).map_err(|e| io_error("resolving", &dir, e))?;
        let cli = self.cli().await?;
        let (dir, mut args) = self.prepare(run, &dir, &cli)?;
        args.push("config".to_owned());
        let refuse = |why: String| DockerError::Api {
            status: 403,
            message: format!(
                "the compose file cannot be checked against the security policy: {why}"
            ),
        };
        let outcome = self
            .run_cli(&cli, &dir, &args, &run.env, &mut |_| {})
            .await?;
        let (stdout, stderr): (Vec<_>, Vec<_>) = outcome
            .lines
            .into_iter()
            .partition(|l| l.stream == "stdout");
        if !outcome.ok {
            let stderr: Vec<String> = stderr.into_iter().map(|l| l.line).collect();
            let tail = stderr[stderr.len().saturating_sub(10)..].join("\n");
            return Err(refuse(format!(
                "`{}` failed (exit code {}): {}",
                outcome.command,
                outcome.exit_code,
                tail.chars().take(2000).collect::<String>()
            )));
        }
        let normalized: Vec<String> = stdout.into_iter().map(|l| l.line).collect();
        let project_dir = Self::project_dir(run);
        let base = project_dir.clone().unwrap_or_else(|| dir.clone());
        let mut model =
            ComposeModel::parse(&(normalized.join("\n") + "\n"), &base).map_err(refuse)?;
        model
            .add_raw_file_reads(&run.compose, &base)
            .map_err(refuse)?;
        let mut dirs = vec![dir];
        dirs.extend(project_dir);
        Ok(ResolvedStack { model, dirs })
    }
}

/// A master's pre-check of a stack that a node will deploy: `config` runs with this machine's
/// compose CLI in a scratch directory under `scratch_root` (removed afterwards) that stands for
/// the stack's directory on the node; paths below it move to the adopted project's directory
/// when the stack has one. `None` when this machine has no compose CLI: the node's own check,
/// which always runs, decides alone.
pub async fn resolve_for_another_host(
    scratch_root: &Path,
    run: &ComposeRun,
) -> Result<Option<ResolvedStack>, DockerError> {
    let host = ComposeHost::unix(
        Path::new("/var/run/docker.sock"),
        scratch_root.to_path_buf(),
    );
    if host.cli().await.is_err() {
        return Ok(None);
    }
    let scratch = ComposeRun {
        stack_id: format!("check-{}", uuid::Uuid::new_v4().simple()),
        // The node's directory for an adopted project is not on this machine.
        project_dir: None,
        ..run.clone()
    };
    let dir = scratch_root.join(&scratch.stack_id);
    let resolved = host.resolve(&scratch).await;
    if dir.exists()
        && let Err(e) = std::fs::remove_dir_all(&dir)
    {
        tracing::warn!(dir = %dir.display(), "removing a scratch stack directory: {e}");
    }
    let mut resolved = resolved?;
    let dir = std::path::absolute(&dir).map_err(|e| io_error("resolving", &dir, e))?;
    if let Some(project_dir) = run.project_dir.as_deref().map(Path::new) {
        resolved.model.rebase(&dir, project_dir);
        resolved.dirs.push(project_dir.to_path_buf());
    }
    Ok(Some(resolved))
}

/// A stack's compose model as its host resolved it.
#[derive(Debug, Clone)]
pub struct ResolvedStack {
    pub model: ComposeModel,
    /// The stack's own directories on that host: its directory under the stacks directory, and
    /// the directory an adopted project was started in.
    pub dirs: Vec<PathBuf>,
}

/// Sends each line of `pipe` to `tx` until the pipe closes.
async fn forward_lines(
    pipe: impl tokio::io::AsyncRead + Unpin,
    stream: &'static str,
    tx: tokio::sync::mpsc::UnboundedSender<OutputLine>,
) {
    let mut lines = BufReader::new(pipe).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let line = OutputLine {
            stream: stream.into(),
            line,
        };
        if tx.send(line).is_err() {
            break;
        }
    }
}

impl Engine {
    fn compose_or_refuse(&self) -> Result<&ComposeHost, DockerError> {
        self.compose_host().ok_or_else(|| {
            DockerError::Unavailable("compose is not available for this endpoint".into())
        })
    }

    /// Writes the stack's files and runs `run.action` with the compose CLI, passing each output
    /// line to `on_line` as it is written.
    pub async fn compose(
        &self,
        run: &ComposeRun,
        on_line: &mut (dyn FnMut(&OutputLine) + Send),
    ) -> Result<ComposeOutcome, DockerError> {
        let host = self.compose_or_refuse()?;
        check_stack_id(&run.stack_id)?;
        let dir = host.stacks_dir.join(&run.stack_id);
        // Absolute, because compose is handed paths inside it while running elsewhere.
        let dir = std::path::absolute(&dir).map_err(|e| io_error("resolving", &dir, e))?;
        if run.action == ComposeAction::DeleteFiles {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| io_error("removing", &dir, e))?;
            }
            return Ok(ComposeOutcome {
                command: String::new(),
                exit_code: 0,
                ok: true,
                lines: Vec::new(),
            });
        }
        let cli = host.cli().await?;
        let (dir, mut args) = host.prepare(run, &dir, &cli)?;
        args.extend(run.action.args());
        host.run_cli(&cli, &dir, &args, &run.env, on_line).await
    }

    /// The model compose resolves for `run` on this host (`config`, with the stack's `.env`
    /// and project directory, exactly as a deploy would read them), and the stack's own
    /// directories. A model that cannot be resolved is refused (403): what cannot be read
    /// cannot be checked.
    pub async fn resolve_compose(&self, run: &ComposeRun) -> Result<ResolvedStack, DockerError> {
        let host = self.compose_or_refuse()?;
        host.resolve(run).await
    }

    /// What compose project `project` was made from: its files when this host can read them,
    /// else a compose file rebuilt from its containers.
    pub async fn compose_project_files(&self, project: &str) -> Result<ProjectFiles, DockerError> {
        let host = self.compose_or_refuse()?;
        let containers: Vec<ContainerInfo> = self
            .containers(true)
            .await?
            .into_iter()
            .filter(|c| c.compose_project.as_deref() == Some(project))
            .collect();
        let Some(first) = containers.first() else {
            return Err(DockerError::Api {
                status: 404,
                message: format!("no compose project '{project}' on this endpoint"),
            });
        };
        let working_dir = first.labels.get(WORKING_DIR_LABEL).cloned();
        let config_files: Vec<String> = first
            .labels
            .get(CONFIG_FILES_LABEL)
            .map(|f| {
                f.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| match &working_dir {
                        Some(w) if !s.starts_with('/') => format!("{w}/{s}"),
                        _ => s.to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let read = if host.files_are_local {
            read_project_files(host, &config_files).await
        } else {
            Err("the engine is reached over TCP; its files are not readable from here".into())
        };
        let env = match (&working_dir, host.files_are_local) {
            (Some(w), true) => under_roots(&Path::new(w).join(".env"), &host.stack_roots)
                .and_then(|real| read_small(&real))
                .map(|t| parse_env_file(&t))
                .unwrap_or_default(),
            _ => BTreeMap::new(),
        };
        Ok(match read {
            Ok(compose) => ProjectFiles {
                project: project.to_owned(),
                working_dir,
                config_files,
                compose,
                env,
                reconstructed: false,
                note: None,
            },
            Err(why) => ProjectFiles {
                project: project.to_owned(),
                working_dir,
                config_files,
                compose: reconstruct(&containers),
                env,
                reconstructed: true,
                note: Some(format!(
                    "{why}; the compose file was rebuilt from the containers (service and image \
                     only): review it before deploying"
                )),
            },
        })
    }
}

/// A file of at most [`MAX_FILE_BYTES`].
fn read_small(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("{} is larger than 1 MiB", path.display()));
    }
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `path` resolved (symlinks followed) when it is a file under one of `roots` (resolved too).
/// Whether a path outside them exists is not told.
fn under_roots(path: &Path, roots: &[PathBuf]) -> Result<PathBuf, String> {
    let real = std::fs::canonicalize(path)
        .ok()
        .filter(|real| real.is_file())
        .filter(|real| {
            roots
                .iter()
                .filter_map(|r| std::fs::canonicalize(r).ok())
                .any(|root| real.starts_with(root))
        });
    real.ok_or_else(|| {
        format!(
            "'{}' is not a file under the directories compose files are read from \
             (`[docker] stack_roots`)",
            path.display()
        )
    })
}

/// The project's compose file: the one file as written, or the CLI's merge of several. Only
/// `.yml`/`.yaml` files under the host's stack roots that parse as compose files are read, so
/// container labels cannot make the master read arbitrary files.
async fn read_project_files(host: &ComposeHost, files: &[String]) -> Result<String, String> {
    if files.is_empty() {
        return Err("the containers do not name their compose files".into());
    }
    let mut real = Vec::new();
    for f in files {
        if !(f.ends_with(".yml") || f.ends_with(".yaml")) {
            return Err(format!("'{f}' is not a .yml/.yaml file"));
        }
        let path = under_roots(Path::new(f), &host.stack_roots)?;
        let text = read_small(&path)?;
        validate_compose(&text).map_err(|e| format!("{f}: {e}"))?;
        if files.len() == 1 {
            return Ok(text);
        }
        real.push(path);
    }
    // The merge runs beside the first file, which is under a root.
    let dir = real
        .first()
        .and_then(|p| p.parent())
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let mut args = Vec::new();
    for f in &real {
        args.push("-f".to_owned());
        args.push(f.to_string_lossy().into_owned());
    }
    args.push("config".to_owned());
    let cli = host.cli().await.map_err(|e| e.to_string())?;
    let outcome = host
        .run_cli(&cli, &dir, &args, &BTreeMap::new(), &mut |_| {})
        .await
        .map_err(|e| e.to_string())?;
    if !outcome.ok {
        return Err(format!(
            "`{}` failed with exit code {}",
            outcome.command, outcome.exit_code
        ));
    }
    let merged: Vec<String> = outcome
        .lines
        .into_iter()
        .filter(|l| l.stream == "stdout")
        .map(|l| l.line)
        .collect();
    Ok(merged.join("\n") + "\n")
}

/// A minimal compose file from a project's containers: each service with its image.
fn reconstruct(containers: &[ContainerInfo]) -> String {
    let mut services: BTreeMap<String, String> = BTreeMap::new();
    for c in containers {
        if let Some(s) = &c.compose_service {
            services.entry(s.clone()).or_insert_with(|| c.image.clone());
        }
    }
    let mut out = String::from("services:\n");
    for (name, image) in services {
        out.push_str(&format!(
            "  {name}:\n    image: \"{}\"\n",
            image.replace('"', "")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compose_files_and_env_are_validated() {
        assert!(validate_project_name("web-1_a").is_ok());
        for bad in ["", "Web", "-web", "_x", "a b", "a.b"] {
            assert!(validate_project_name(bad).is_err(), "{bad}");
        }
        assert_eq!(
            validate_compose("services:\n  web:\n    image: x\n  db: {image: y}\n").unwrap(),
            vec!["web", "db"]
        );
        assert!(
            validate_compose("services: [")
                .unwrap_err()
                .contains("YAML")
        );
        assert!(
            validate_compose("version: '3'\n")
                .unwrap_err()
                .contains("services")
        );
        assert!(
            validate_compose("services: {}\n")
                .unwrap_err()
                .contains("at least one")
        );
        assert!(validate_compose("- a\n").is_err());
        assert!(
            validate_compose("services:\n  web: 3\n")
                .unwrap_err()
                .contains("services.web")
        );
        let env = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        assert!(validate_env(&env("A_1", "x y")).is_ok());
        assert!(validate_env(&env("1A", "x")).is_err());
        assert!(validate_env(&env("A", "x\ny")).is_err());
    }

    #[test]
    fn env_files_round_trip() {
        let env = BTreeMap::from([
            ("PLAIN".to_owned(), "a/b:c".to_owned()),
            ("SPACED".to_owned(), "a b # c".to_owned()),
            ("QUOTE".to_owned(), "it's".to_owned()),
        ]);
        let text = env_file(&env, EnvDialect::Go);
        assert!(text.contains("PLAIN=a/b:c\n"));
        assert!(text.contains("SPACED='a b # c'\n"));
        assert_eq!(parse_env_file(&text)["SPACED"], "a b # c");
        assert_eq!(parse_env_file(&text)["PLAIN"], "a/b:c");
    }

    #[test]
    fn env_files_are_written_in_the_dialect_of_the_cli() {
        let env = BTreeMap::from([
            ("DOLLAR".to_owned(), "a$b ${HOME}".to_owned()),
            ("MIXED".to_owned(), r#"it's "q" \ $x"#.to_owned()),
        ]);
        let cli = |argv: &[&str]| argv.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            EnvDialect::of(&cli(&["docker-compose"])),
            EnvDialect::Python
        );
        assert_eq!(EnvDialect::of(&cli(&["docker", "compose"])), EnvDialect::Go);
        // python-dotenv: single quotes, `\\` and `\'` escaped.
        assert_eq!(
            env_file(&env, EnvDialect::Python),
            "DOLLAR='a$b ${CONTEXTBAY_DOLLAR_BRACE}HOME}'\nMIXED='it\\'s \"q\" \\\\ $x'\n"
        );
        // compose-go: single quotes are verbatim; with a `'`, double quotes with escapes.
        assert_eq!(
            env_file(&env, EnvDialect::Go),
            "DOLLAR='a$b ${HOME}'\nMIXED=\"it's \\\"q\\\" \\\\ \\$x\"\n"
        );
        let one = |k: &str| BTreeMap::from([(k.to_owned(), "x".to_owned())]);
        for reserved in ["PATH", "DOCKER_HOST", "DOCKER_CERT_PATH", "HOME"] {
            assert!(
                validate_env(&one(reserved))
                    .unwrap_err()
                    .starts_with(&format!("env.{reserved}:"))
            );
        }
        let cr = BTreeMap::from([("A".to_owned(), "x\ry".to_owned())]);
        assert!(validate_env(&cr).unwrap_err().starts_with("env.A:"));
    }

    #[test]
    fn adoption_reads_only_under_the_stack_roots() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let inside_file = root.path().join("compose.yaml");
        std::fs::write(&inside_file, "services: {a: {image: x}}\n").unwrap();
        let outside_file = outside.path().join("compose.yaml");
        std::fs::write(&outside_file, "services: {a: {image: x}}\n").unwrap();
        let roots = vec![root.path().to_path_buf()];
        assert!(under_roots(&inside_file, &roots).is_ok());
        assert!(under_roots(&outside_file, &roots).is_err());
        assert!(under_roots(Path::new("/etc/passwd"), &roots).is_err());
        // `..` and symlinks are resolved before the check.
        let escape = root
            .path()
            .join("..")
            .join(outside.path().file_name().unwrap())
            .join("compose.yaml");
        assert!(under_roots(&escape, &roots).is_err());
        #[cfg(unix)]
        {
            let link = root.path().join("link.yaml");
            std::os::unix::fs::symlink(&outside_file, &link).unwrap();
            assert!(under_roots(&link, &roots).is_err());
        }
        // A missing file and a file outside read the same.
        let missing = under_roots(&root.path().join("nope.yaml"), &roots).unwrap_err();
        assert!(missing.contains("stack_roots"), "{missing}");
    }

    #[test]
    fn actions_become_cli_arguments_and_hosts_urls() {
        assert_eq!(
            ComposeAction::Remove { volumes: true }.args(),
            vec!["down", "--remove-orphans", "-v"]
        );
        assert_eq!(
            ComposeHost::remote("https://h:2376/", None, PathBuf::new()).docker_host,
            "tcp://h:2376"
        );
        assert_eq!(
            ComposeHost::unix(Path::new("/var/run/docker.sock"), PathBuf::new()).docker_host,
            "unix:///var/run/docker.sock"
        );
        assert!(check_stack_id("../x").is_err());
    }
}
