//! Typed clients for the external services ContextBay talks to, one file per service. A client is
//! built per use from the live module configuration (`/api/config/<module>`), so a changed URL or
//! token takes effect on the next request; all clients share one connection pool
//! ([`Integrations`]).
//!
//! Every call has a timeout; idempotent GETs are retried a bounded number of times on connection
//! errors, timeouts and 502/503/504. Each client has a health probe.

pub mod alertmanager;
pub mod grafana;
pub mod llm;
pub mod mcp;
pub mod prometheus;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::modules::{self, ModuleName};
use crate::state::AppState;
use crate::store::StoreError;

/// Attempts for an idempotent GET (the first try and two retries).
const GET_ATTEMPTS: u32 = 3;
/// Pause before the first retry; each further retry waits four times longer.
const RETRY_BASE: Duration = Duration::from_millis(100);
/// Default time a call may take, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The outbound HTTP pools integration clients use: one per thread. A pooled connection is
/// driven by the runtime that opened it; actix runs one runtime per worker thread, so a shared
/// pool would hand each proxied call across threads and back (measured: most of the proxy's
/// overhead). Per thread, the request and its connection stay on one runtime.
#[derive(Clone)]
pub struct Integrations {
    /// Built up front so that a bad configuration fails at start, not on the first call.
    fallback: reqwest::Client,
    /// What the last call to each service showed.
    pub reachability: Reachability,
}

/// What the last call to each external service showed: it answered, or it could not be reached
/// (after the retries). Every call records its outcome, and the monitoring module's prober calls
/// each configured service regularly; `/api/modules` reads it. Kept per service with the base URL
/// it was seen at, so a changed URL starts unknown.
#[derive(Clone, Default)]
pub struct Reachability(Arc<Mutex<HashMap<&'static str, Seen>>>);

struct Seen {
    base: String,
    /// Why the last call could not reach the service; `None` when it answered.
    unreachable: Option<String>,
}

impl Reachability {
    fn record(&self, service: &'static str, base: &str, unreachable: Option<String>) {
        let Ok(mut map) = self.0.lock() else { return };
        match map.get_mut(service) {
            Some(seen) if seen.base == base => {
                if seen.unreachable != unreachable {
                    seen.unreachable = unreachable;
                }
            }
            _ => {
                map.insert(
                    service,
                    Seen {
                        base: base.to_owned(),
                        unreachable,
                    },
                );
            }
        }
    }

    /// Why `service` at `base` could not be reached on its last call; `None` when it answered
    /// or has not been called at that URL yet.
    pub fn problem(&self, service: &str, base: &str) -> Option<String> {
        let map = self.0.lock().ok()?;
        let seen = map.get(service)?;
        if seen.base == base.trim_end_matches('/') {
            seen.unreachable.clone()
        } else {
            None
        }
    }
}

thread_local! {
    static HTTP: std::cell::OnceCell<reqwest::Client> = const { std::cell::OnceCell::new() };
}

fn build_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(120))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .user_agent(concat!("contextbay/", env!("CARGO_PKG_VERSION")))
        // A configured URL is validated once; a redirect could lead anywhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

impl Integrations {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            fallback: build_client()?,
            reachability: Reachability::default(),
        })
    }

    /// This thread's client (the shared one if a per-thread client cannot be built).
    fn http(&self) -> reqwest::Client {
        HTTP.with(|cell| {
            if let Some(client) = cell.get() {
                return client.clone();
            }
            match build_client() {
                Ok(client) => cell.get_or_init(|| client).clone(),
                Err(_) => self.fallback.clone(),
            }
        })
    }
}

/// Why a call to an external service did not give a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error("{service} is not configured: {hint}")]
    NotConfigured {
        service: &'static str,
        hint: &'static str,
    },
    #[error("{service} is not reachable: {reason}")]
    Unreachable {
        service: &'static str,
        reason: String,
    },
    #[error("{service} answered {status}: {message}")]
    Remote {
        service: &'static str,
        status: u16,
        message: String,
    },
    #[error("{service} sent an answer ContextBay could not read: {detail}")]
    BadAnswer {
        service: &'static str,
        detail: String,
    },
    #[error(
        "the answer from {service} is larger than {limit} bytes; narrow the query or the range"
    )]
    TooLarge { service: &'static str, limit: usize },
}

/// A module's live configuration with its secrets opened.
#[derive(Debug, Clone, Default)]
pub struct ModuleSettings {
    values: Map<String, Value>,
}

impl ModuleSettings {
    pub async fn load(state: &AppState, module: ModuleName) -> Result<Self, StoreError> {
        let Some(stored) = state.store.modules().get(module).await? else {
            return Ok(Self::default());
        };
        let mut values = Map::new();
        for (key, value) in stored.config {
            if modules::is_secret(module, &key) {
                let Some(sealed) = value.as_str() else {
                    continue;
                };
                match state.secret_box.open(sealed) {
                    Ok(plain) => {
                        values.insert(key, Value::String(plain));
                    }
                    // Sealed by another installation (an import): treated as not set.
                    Err(err) => {
                        tracing::warn!(%module, %key, "cannot open a stored secret: {err:#}")
                    }
                }
            } else {
                values.insert(key, value);
            }
        }
        Ok(Self { values })
    }

    /// A non-empty string value.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn integer(&self, key: &str) -> Option<i64> {
        self.values.get(key).and_then(Value::as_i64)
    }
}

/// What a health probe found.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = ServiceHealth)]
pub struct Health {
    pub service: &'static str,
    pub healthy: bool,
    /// Why it is not healthy, or what the service said about itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub latency_ms: u64,
}

/// One configured service: base URL, bearer token and the shared pool.
#[derive(Clone)]
pub(crate) struct Endpoint {
    service: &'static str,
    base: String,
    bearer: Option<String>,
    http: reqwest::Client,
    reachability: Reachability,
}

impl Endpoint {
    pub(crate) fn new(
        integrations: &Integrations,
        service: &'static str,
        base: &str,
        bearer: Option<&str>,
    ) -> Self {
        Self {
            service,
            base: base.trim_end_matches('/').to_owned(),
            bearer: bearer.map(str::to_owned),
            http: integrations.http(),
            reachability: integrations.reachability.clone(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn request(&self, method: Method, path: &str, timeout: Duration) -> RequestBuilder {
        let req = self.http.request(method, self.url(path)).timeout(timeout);
        match &self.bearer {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// Sends a request built by `build`. A GET is retried (up to [`GET_ATTEMPTS`]) on connection
    /// errors, timeouts and 502/503/504; other methods are sent once.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        timeout: Duration,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, IntegrationError> {
        let attempts = if method == Method::GET {
            GET_ATTEMPTS
        } else {
            1
        };
        let mut wait = RETRY_BASE;
        let mut attempt = 1;
        loop {
            let result = build(self.request(method.clone(), path, timeout))
                .send()
                .await;
            let retryable = match &result {
                Ok(res) => matches!(
                    res.status(),
                    StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::GATEWAY_TIMEOUT
                ),
                Err(e) => e.is_connect() || e.is_timeout(),
            };
            if !retryable || attempt >= attempts {
                let result = result.map_err(|e| self.unreachable(&e, attempt));
                self.reachability.record(
                    self.service,
                    &self.base,
                    result.as_ref().err().map(ToString::to_string),
                );
                return result;
            }
            tokio::time::sleep(wait).await;
            wait *= 4;
            attempt += 1;
        }
    }

    fn unreachable(&self, err: &reqwest::Error, attempts: u32) -> IntegrationError {
        tracing::warn!(service = self.service, base = %self.base, "request failed: {err}");
        let what = if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        IntegrationError::Unreachable {
            service: self.service,
            reason: if attempts > 1 {
                format!("{what} ({attempts} attempts)")
            } else {
                what.to_owned()
            },
        }
    }

    /// Fails with [`IntegrationError::Remote`] unless the answer is 2xx; the message is the
    /// service's own (`error` or `message` field, else the start of the body).
    pub(crate) async fn check(&self, res: Response) -> Result<Response, IntegrationError> {
        let status = res.status();
        if status.is_success() {
            return Ok(res);
        }
        let text = res.text().await.unwrap_or_default();
        Err(IntegrationError::Remote {
            service: self.service,
            status: status.as_u16(),
            message: remote_message(&text),
        })
    }

    /// Reads a 2xx JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        res: Response,
    ) -> Result<T, IntegrationError> {
        let res = self.check(res).await?;
        let bytes = res.bytes().await.map_err(|e| IntegrationError::BadAnswer {
            service: self.service,
            detail: format!("reading the body: {e}"),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| IntegrationError::BadAnswer {
            service: self.service,
            detail: e.to_string(),
        })
    }

    /// GET a JSON document.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, IntegrationError> {
        let res = self
            .send(
                Method::GET,
                &with_query(path, query),
                DEFAULT_TIMEOUT,
                |r| r,
            )
            .await?;
        self.json(res).await
    }

    /// Probes `path` and reports whether it answered 2xx.
    pub(crate) async fn probe(&self, path: &str) -> Health {
        let started = std::time::Instant::now();
        let result = self
            .send(Method::GET, path, Duration::from_secs(3), |r| r)
            .await;
        let detail = match result {
            Ok(res) => match self.check(res).await {
                Ok(_) => None,
                Err(e) => Some(e.to_string()),
            },
            Err(e) => Some(e.to_string()),
        };
        Health {
            service: self.service,
            healthy: detail.is_none(),
            detail,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// `path?k=v&…` with the pairs form-encoded (`path` when there are none).
pub(crate) fn with_query(path: &str, query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        ser.append_pair(k, v);
    }
    format!("{path}?{}", ser.finish())
}

/// The human part of an error body: `error`/`message` of a JSON object, a JSON string, or the
/// first 300 characters of the text.
fn remote_message(text: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        if let Some(m) = ["error", "message"]
            .iter()
            .find_map(|k| v.get(k).and_then(Value::as_str))
        {
            return m.to_owned();
        }
        if let Some(s) = v.as_str() {
            return s.to_owned();
        }
    }
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "no details".to_owned();
    }
    trimmed.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_messages_come_from_the_body() {
        assert_eq!(remote_message(r#"{"status":"error","error":"bad"}"#), "bad");
        assert_eq!(
            remote_message(r#"{"message":"Dashboard not found"}"#),
            "Dashboard not found"
        );
        assert_eq!(
            remote_message(r#""silence not found""#),
            "silence not found"
        );
        assert_eq!(remote_message("  plain\n"), "plain");
        assert_eq!(remote_message(""), "no details");
    }
}
