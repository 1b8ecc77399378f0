//! Enrollment: trading the one-time enroll token for a node credential (`POST /api/enroll`),
//! and keeping that credential in `<data_dir>/node.json` (mode 0600).

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::backoff::Backoff;
use super::config::WorkerConfig;

/// What the master gave this node at enrollment. Lives in `node.json`; deleting the file (and
/// supplying a fresh enroll token) re-enrolls the node.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeCredential {
    pub node_id: String,
    pub credential: String,
    /// The gRPC address the master advertised, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_url: Option<String>,
    #[serde(default)]
    pub enrolled_at_unix_ms: i64,
}

impl std::fmt::Debug for NodeCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCredential")
            .field("node_id", &self.node_id)
            .field("credential", &"<redacted>")
            .field("grpc_url", &self.grpc_url)
            .finish()
    }
}

impl NodeCredential {
    /// The stored credential, `None` when the node has not enrolled yet.
    pub fn load(path: &Path) -> anyhow::Result<Option<NodeCredential>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let cred: NodeCredential = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a node credential; delete it to re-enroll",
                path.display()
            )
        })?;
        if cred.node_id.is_empty() || cred.credential.is_empty() {
            bail!(
                "{} has an empty node id or credential; delete it to re-enroll",
                path.display()
            );
        }
        Ok(Some(cred))
    }

    /// Writes the credential readable by its owner only, atomically (temp file + rename).
    pub fn store(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let tmp = path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        // The mode above is filtered by the umask; make sure it is exactly 0600.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(&serde_json::to_vec_pretty(self)?)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

#[derive(Serialize)]
struct EnrollRequest<'a> {
    shared_secret: &'a str,
    enroll_token: &'a str,
    hostname: &'a str,
    agent_version: &'a str,
}

#[derive(Deserialize)]
struct EnrollResponse {
    node_id: String,
    credential: String,
    #[serde(default)]
    grpc_url: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// Why an enrollment attempt did not give a credential.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// The master refused the token or secret (a 4xx other than 429): retrying cannot help.
    #[error("the master refused enrollment ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// Network trouble, 429 or 5xx: worth another try.
    #[error("enrollment failed, will retry: {message}")]
    Retry {
        message: String,
        retry_after: Option<Duration>,
    },
}

/// Enrolls, retrying with backoff until the master gives a credential or refuses for good, and
/// stores the credential.
pub async fn enroll(config: &WorkerConfig, hostname: &str) -> anyhow::Result<NodeCredential> {
    let masters = config.master_urls();
    if masters.is_empty() {
        bail!("the node is not enrolled: set worker.master_url (--master-url)");
    }
    if config.enroll_token.is_empty() || config.shared_secret.is_empty() {
        bail!(
            "the node is not enrolled: give --enroll-token and --shared-secret (see the host's install snippet)"
        );
    }
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let mut backoff = Backoff::new(
        Duration::from_millis(config.reconnect_min_ms),
        Duration::from_millis(config.reconnect_max_ms),
    );
    // Several masters: each retry goes to the next one.
    for master in masters.iter().cycle() {
        match attempt(&client, config, master, hostname).await {
            Ok(cred) => {
                cred.store(&config.credential_path())?;
                tracing::info!(node_id = %cred.node_id, %master, "enrolled");
                return Ok(cred);
            }
            Err(EnrollError::Rejected { status, message }) => {
                tracing::error!(status, %message, %master, "enrollment refused");
                return Err(EnrollError::Rejected { status, message }.into());
            }
            Err(EnrollError::Retry {
                message,
                retry_after,
            }) => {
                let delay = backoff
                    .next_delay(&mut rand::rng())
                    .max(retry_after.unwrap_or_default());
                tracing::warn!(%message, %master, retry_in_ms = delay.as_millis() as u64, "enrollment failed");
                tokio::time::sleep(delay).await;
            }
        }
    }
    bail!("the node is not enrolled: no master URL to enroll with")
}

async fn attempt(
    client: &reqwest::Client,
    config: &WorkerConfig,
    master_url: &str,
    hostname: &str,
) -> Result<NodeCredential, EnrollError> {
    let url = format!("{}/api/enroll", master_url.trim_end_matches('/'));
    let body = EnrollRequest {
        shared_secret: &config.shared_secret,
        enroll_token: &config.enroll_token,
        hostname,
        agent_version: super::AGENT_VERSION,
    };
    let retry = |message: String| EnrollError::Retry {
        message,
        retry_after: None,
    };
    let response = client
        .post(&url)
        .json(&body)
        .send()
        .await
        .map_err(|e| retry(format!("POST {url}: {e}")))?;
    let status = response.status();
    if status.is_success() {
        let r: EnrollResponse = response
            .json()
            .await
            .map_err(|e| retry(format!("unreadable enrollment answer: {e}")))?;
        if r.node_id.is_empty() || r.credential.is_empty() {
            return Err(retry(
                "the enrollment answer has no node id or credential".into(),
            ));
        }
        return Ok(NodeCredential {
            node_id: r.node_id,
            credential: r.credential,
            grpc_url: r.grpc_url.filter(|u| !u.is_empty()),
            enrolled_at_unix_ms: super::now_unix_ms(),
        });
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ErrorBody>(&text)
        .map(|b| b.error)
        .unwrap_or_else(|_| text.chars().take(200).collect());
    let message = if message.is_empty() {
        status.to_string()
    } else {
        message
    };
    if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(EnrollError::Rejected {
            status: status.as_u16(),
            message,
        });
    }
    Err(EnrollError::Retry {
        message: format!("{status}: {message}"),
        retry_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-route HTTP server answering each request with the next canned response and
    /// handing the request bodies to the test.
    async fn enroll_server(
        responses: Vec<(u16, &'static str)>,
    ) -> (
        String,
        tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            for (status, body) in responses {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let body_start = loop {
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break p + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..body_start]).to_ascii_lowercase();
                assert!(head.starts_with("post /api/enroll "), "{head}");
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap();
                while buf.len() < body_start + len {
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                tx.send(serde_json::from_slice(&buf[body_start..body_start + len]).unwrap())
                    .unwrap();
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                sock.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        (url, rx)
    }

    fn config(master_url: String, dir: &Path) -> WorkerConfig {
        WorkerConfig {
            master_url,
            enroll_token: "tok-1".into(),
            shared_secret: "shh".into(),
            data_dir: dir.to_path_buf(),
            reconnect_min_ms: 10,
            reconnect_max_ms: 20,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn retries_on_429_then_stores_the_credential_0600() {
        let (url, mut requests) = enroll_server(vec![
            (429, r#"{"error":"rate limited"}"#),
            (503, "upstream down"),
            (
                200,
                r#"{"node_id":"n-1","credential":"cred-xyz","grpc_url":"http://127.0.0.1:1"}"#,
            ),
        ])
        .await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(url, dir.path());
        let cred = enroll(&cfg, "host-a").await.unwrap();
        assert_eq!(cred.node_id, "n-1");
        assert_eq!(cred.grpc_url.as_deref(), Some("http://127.0.0.1:1"));
        let first = requests.recv().await.unwrap();
        assert_eq!(
            first,
            serde_json::json!({
                "shared_secret": "shh", "enroll_token": "tok-1",
                "hostname": "host-a", "agent_version": crate::worker::AGENT_VERSION,
            })
        );
        let path = cfg.credential_path();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(NodeCredential::load(&path).unwrap(), Some(cred.clone()));
        assert!(!format!("{cred:?}").contains("cred-xyz"));
    }

    #[tokio::test]
    async fn a_4xx_is_terminal_with_the_masters_message() {
        let (url, _requests) = enroll_server(vec![(403, r#"{"error":"token expired"}"#)]).await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(url, dir.path());
        let err = enroll(&cfg, "host-a").await.unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("403") && msg.contains("token expired"),
            "{msg}"
        );
        assert!(
            NodeCredential::load(&cfg.credential_path())
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn an_unreachable_master_is_skipped_for_the_next_one() {
        let (url, mut requests) = enroll_server(vec![(
            200,
            r#"{"node_id":"n-2","credential":"cred-2","grpc_url":""}"#,
        )])
        .await;
        // A port nothing listens on: bound, then closed.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(format!("{closed},{url}"), dir.path());
        cfg.validate().unwrap();
        let cred = enroll(&cfg, "host-b").await.unwrap();
        assert_eq!(cred.node_id, "n-2");
        assert_eq!(requests.recv().await.unwrap()["hostname"], "host-b");
    }

    #[test]
    fn a_corrupt_credential_file_says_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.json");
        std::fs::write(&path, "{").unwrap();
        let err = NodeCredential::load(&path).unwrap_err();
        assert!(format!("{err:#}").contains("re-enroll"));
    }
}
