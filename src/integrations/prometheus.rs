//! Prometheus' HTTP API (`/api/v1/*`, `/-/reload`, `/-/healthy`).
//!
//! Configured by the monitoring module: `prometheus_url`, and `max_result_bytes` for the size of
//! answers the query proxy passes on.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::{Endpoint, Health, IntegrationError, Integrations, ModuleSettings};

pub const SERVICE: &str = "prometheus";
/// Largest answer the proxy passes on unless `max_result_bytes` says otherwise.
pub const DEFAULT_MAX_RESULT_BYTES: usize = 16 * 1024 * 1024;
/// How long a proxied query may take (Prometheus' own default query timeout is 2 minutes).
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);

/// A Prometheus server.
#[derive(Clone)]
pub struct Prometheus {
    endpoint: Endpoint,
    max_result_bytes: usize,
}

/// An answer passed on as Prometheus gave it.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// The `{status, data | errorType, error}` envelope of `/api/v1`.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    status: String,
    data: Option<T>,
    #[serde(default)]
    error: Option<String>,
}

/// What Prometheus made of a rule-file reload.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReloadOutcome {
    /// Prometheus accepted the configuration and the rule files.
    pub reloaded: bool,
    /// Why not, as Prometheus said it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Prometheus {
    /// The client the monitoring module's configuration describes.
    pub fn from_settings(
        integrations: &Integrations,
        settings: &ModuleSettings,
    ) -> Result<Self, IntegrationError> {
        let url = settings
            .text("prometheus_url")
            .ok_or(IntegrationError::NotConfigured {
                service: SERVICE,
                hint: "set prometheus_url with PUT /api/config/monitoring",
            })?;
        let max_result_bytes = settings
            .integer("max_result_bytes")
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_RESULT_BYTES);
        Ok(Self {
            endpoint: Endpoint::new(integrations, SERVICE, url, None),
            max_result_bytes,
        })
    }

    /// Sends `GET /api/v1/<api_path>?<query>` (or a POST with a form body) and returns the answer
    /// unchanged, whatever its status; only a transport failure or an answer above
    /// `max_result_bytes` is an error.
    pub async fn raw(
        &self,
        api_path: &str,
        query: &str,
        form: Option<Bytes>,
    ) -> Result<RawAnswer, IntegrationError> {
        let path = if query.is_empty() {
            format!("/api/v1/{api_path}")
        } else {
            format!("/api/v1/{api_path}?{query}")
        };
        let method = if form.is_some() {
            Method::POST
        } else {
            Method::GET
        };
        let mut res = self
            .endpoint
            .send(method, &path, QUERY_TIMEOUT, |r| match &form {
                Some(body) => r
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body.clone()),
                None => r,
            })
            .await?;
        let too_large = IntegrationError::TooLarge {
            service: SERVICE,
            limit: self.max_result_bytes,
        };
        if res
            .content_length()
            .is_some_and(|n| n > self.max_result_bytes as u64)
        {
            return Err(too_large);
        }
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        loop {
            let chunk = res
                .chunk()
                .await
                .map_err(|e| IntegrationError::Unreachable {
                    service: SERVICE,
                    reason: format!("the answer broke off: {e}"),
                })?;
            let Some(chunk) = chunk else { break };
            if body.len() + chunk.len() > self.max_result_bytes {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawAnswer {
            status,
            content_type,
            body: Bytes::from(body),
        })
    }

    /// `GET /api/v1/<path>` and the `data` of a successful answer.
    pub async fn api(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, IntegrationError> {
        let url = super::with_query(&format!("/api/v1/{path}"), query);
        let res = self
            .endpoint
            .send(Method::GET, &url, super::DEFAULT_TIMEOUT, |r| r)
            .await?;
        let env: Envelope<Value> = self.endpoint.json(res).await?;
        if env.status != "success" {
            return Err(IntegrationError::BadAnswer {
                service: SERVICE,
                detail: env
                    .error
                    .unwrap_or_else(|| format!("status {}", env.status)),
            });
        }
        Ok(env.data.unwrap_or(Value::Null))
    }

    /// Whether `expr` is valid PromQL: `Ok(Err(message))` when Prometheus says it is not. Uses
    /// `/api/v1/format_query` (parses without evaluating); a Prometheus older than 2.34 without
    /// it gets an instant query instead.
    pub async fn check_expr(&self, expr: &str) -> Result<Result<(), String>, IntegrationError> {
        for path in ["/api/v1/format_query", "/api/v1/query"] {
            let url = super::with_query(path, &[("query", expr)]);
            let res = self
                .endpoint
                .send(Method::GET, &url, super::DEFAULT_TIMEOUT, |r| r)
                .await?;
            match res.status().as_u16() {
                200 => return Ok(Ok(())),
                404 => continue,
                400 | 422 => {
                    let env: Envelope<Value> = serde_json::from_slice(
                        &res.bytes().await.unwrap_or_default(),
                    )
                    .map_err(|e| IntegrationError::BadAnswer {
                        service: SERVICE,
                        detail: e.to_string(),
                    })?;
                    let message = env.error.unwrap_or_else(|| "invalid expression".into());
                    // `invalid parameter "query": 1:5: parse error: …` → `1:5: parse error: …`
                    let message = message
                        .strip_prefix("invalid parameter \"query\": ")
                        .unwrap_or(&message)
                        .to_owned();
                    return Ok(Err(message));
                }
                _ => {
                    self.endpoint.check(res).await?;
                }
            }
        }
        Err(IntegrationError::BadAnswer {
            service: SERVICE,
            detail: "neither /api/v1/format_query nor /api/v1/query is served".into(),
        })
    }

    /// `POST /-/reload` (Prometheus must run with `--web.enable-lifecycle`).
    pub async fn reload(&self) -> Result<ReloadOutcome, IntegrationError> {
        let res = self
            .endpoint
            .send(Method::POST, "/-/reload", Duration::from_secs(30), |r| r)
            .await?;
        let status = res.status();
        if status.is_success() {
            return Ok(ReloadOutcome {
                reloaded: true,
                error: None,
            });
        }
        let text = res.text().await.unwrap_or_default();
        let error = if status == reqwest::StatusCode::FORBIDDEN
            || status == reqwest::StatusCode::NOT_FOUND
        {
            format!(
                "the reload endpoint is off ({status}); start Prometheus with \
                 --web.enable-lifecycle"
            )
        } else {
            let text = text.trim();
            if text.is_empty() {
                format!("reload failed ({status})")
            } else {
                text.chars().take(500).collect()
            }
        };
        Ok(ReloadOutcome {
            reloaded: false,
            error: Some(error),
        })
    }

    /// `GET /-/healthy`.
    pub async fn health(&self) -> Health {
        self.endpoint.probe("/-/healthy").await
    }
}
