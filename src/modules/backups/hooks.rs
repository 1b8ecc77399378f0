//! The exec hook: a command run in a container of the source's endpoint before the volume is
//! read (e.g. a database dump), through the same exec sessions the exec WebSocket uses (the
//! engine directly, or the node's worker). The node's security policy must allow exec. The run
//! fails when the command exits non-zero, cannot start, or overruns its timeout (the session is
//! then dropped: through a worker that closes the stream; the engine has no way to kill an exec,
//! so a local process may outlive it).

use super::BackupError;
use super::spec::ExecHook;
use crate::endpoint_streams::{self, ExecEvent};
use crate::endpoints;
use crate::state::AppState;

/// Output kept for the error message: the last this many bytes.
const OUTPUT_TAIL: usize = 2048;

/// Runs `hook` on endpoint `endpoint`; its output's tail on success.
pub async fn run_exec(
    state: &AppState,
    endpoint: &str,
    hook: &ExecHook,
) -> Result<String, BackupError> {
    let e = endpoints::get(state, endpoint)
        .await
        .map_err(|e| BackupError::Engine(e.to_string()))?;
    let policy = endpoints::security_policy(state, &e)
        .await
        .map_err(|e| BackupError::Engine(e.to_string()))?;
    if !policy.allow_exec {
        return Err(BackupError::Engine(format!(
            "the exec hook cannot run: exec is not allowed on endpoint '{endpoint}' (security \
             policy)"
        )));
    }
    let session = async {
        let mut exec = endpoint_streams::exec(
            state,
            &e,
            &hook.container,
            hook.command.clone(),
            false,
            None,
        )
        .await
        .map_err(|err| {
            BackupError::Engine(format!(
                "the exec hook could not start in container '{}': {err}",
                hook.container
            ))
        })?;
        let mut output: Vec<u8> = Vec::new();
        loop {
            match exec.next().await {
                ExecEvent::Output(bytes) => {
                    output.extend_from_slice(&bytes);
                    if output.len() > OUTPUT_TAIL {
                        output.drain(..output.len() - OUTPUT_TAIL);
                    }
                }
                ExecEvent::Exit(code) => return Ok((code, output)),
                ExecEvent::Failed(why) => {
                    return Err(BackupError::Engine(format!(
                        "the exec hook's session broke off: {why}"
                    )));
                }
            }
        }
    };
    let timeout = std::time::Duration::from_secs(u64::from(hook.timeout_s));
    let (code, output) = tokio::time::timeout(timeout, session).await.map_err(|_| {
        BackupError::Engine(format!(
            "the exec hook did not end within {} s",
            hook.timeout_s
        ))
    })??;
    let output = String::from_utf8_lossy(&output).trim().to_owned();
    match code {
        Some(0) => Ok(output),
        Some(code) => Err(BackupError::Engine(format!(
            "the exec hook exited with code {code}: {output}"
        ))),
        None => Err(BackupError::Engine(format!(
            "the exec hook ended without an exit code: {output}"
        ))),
    }
}
