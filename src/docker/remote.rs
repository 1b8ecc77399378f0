//! Engines reached over TCP: TLS with client certificates (`tcp://` or `https://`), or plain
//! HTTP for an engine bound to a trusted address (`http://`).

use std::io::Write;
use std::path::Path;

use bollard::Docker;

use super::engine::{DockerError, Engine};

/// Seconds bollard waits for an answer to one request.
const REQUEST_TIMEOUT_SECS: u64 = 30;

/// PEM material for a TLS endpoint.
pub struct TlsMaterial<'a> {
    pub ca: &'a str,
    pub cert: &'a str,
    pub key: &'a str,
}

impl Engine {
    /// Connects to `url`. With `tls`, the PEM files are written (mode 0600) under `dir`, which
    /// bollard reads them from.
    pub fn connect_remote(
        url: &str,
        tls: Option<TlsMaterial<'_>>,
        dir: &Path,
    ) -> Result<Engine, DockerError> {
        let docker = match tls {
            Some(m) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DockerError::Other(format!("creating {}: {e}", dir.display())))?;
                for (name, pem) in [("ca.pem", m.ca), ("cert.pem", m.cert), ("key.pem", m.key)] {
                    write_private(&dir.join(name), pem)?;
                }
                Docker::connect_with_ssl(
                    url,
                    &dir.join("key.pem"),
                    &dir.join("cert.pem"),
                    &dir.join("ca.pem"),
                    REQUEST_TIMEOUT_SECS,
                    bollard::API_DEFAULT_VERSION,
                )?
            }
            None => {
                Docker::connect_with_http(url, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)?
            }
        };
        Ok(Engine::from_client(docker))
    }
}

fn write_private(path: &Path, contents: &str) -> Result<(), DockerError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .map_err(|e| DockerError::Other(format!("writing {}: {e}", path.display())))?;
    f.write_all(contents.as_bytes())
        .map_err(|e| DockerError::Other(format!("writing {}: {e}", path.display())))
}
