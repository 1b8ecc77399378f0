//! Alertmanager's v2 API: silences (`/api/v2/silences`, `/api/v2/silence/{id}`) and the health
//! probe (`/-/healthy`).
//!
//! Configured by the alerting module: `alertmanager_url`.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{Endpoint, Health, IntegrationError, Integrations, ModuleSettings};

pub const SERVICE: &str = "alertmanager";

/// An Alertmanager server.
#[derive(Clone)]
pub struct Alertmanager {
    endpoint: Endpoint,
}

/// `matchers[]` of a silence, as Alertmanager spells it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Matcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    /// `false` for `!=` / `!~`; Alertmanager defaults it to `true`.
    #[serde(default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

/// `gettableSilence`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    pub id: String,
    pub status: SilenceStatus,
    pub updated_at: String,
    pub matchers: Vec<Matcher>,
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SilenceStatus {
    /// `active`, `pending` or `expired`.
    pub state: String,
}

/// `postableSilence` (without `id`: ContextBay only creates).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewSilence {
    pub matchers: Vec<Matcher>,
    /// RFC 3339.
    pub starts_at: String,
    pub ends_at: String,
    pub created_by: String,
    pub comment: String,
}

#[derive(Debug, Deserialize)]
struct Created {
    #[serde(rename = "silenceID")]
    silence_id: String,
}

impl Alertmanager {
    /// The client the alerting module's configuration describes.
    pub fn from_settings(
        integrations: &Integrations,
        settings: &ModuleSettings,
    ) -> Result<Self, IntegrationError> {
        let url = settings
            .text("alertmanager_url")
            .ok_or(IntegrationError::NotConfigured {
                service: SERVICE,
                hint: "set alertmanager_url with PUT /api/config/alerting",
            })?;
        Ok(Self {
            endpoint: Endpoint::new(integrations, SERVICE, url, None),
        })
    }

    /// Every silence Alertmanager knows (active, pending and recently expired).
    pub async fn silences(&self) -> Result<Vec<Silence>, IntegrationError> {
        self.endpoint.get_json("/api/v2/silences", &[]).await
    }

    pub async fn silence(&self, id: &str) -> Result<Silence, IntegrationError> {
        self.endpoint
            .get_json(&format!("/api/v2/silence/{id}"), &[])
            .await
    }

    /// Creates a silence and returns its id.
    pub async fn create_silence(&self, silence: &NewSilence) -> Result<String, IntegrationError> {
        let res = self
            .endpoint
            .send(
                Method::POST,
                "/api/v2/silences",
                super::DEFAULT_TIMEOUT,
                |r| r.json(silence),
            )
            .await?;
        let created: Created = self.endpoint.json(res).await?;
        Ok(created.silence_id)
    }

    /// Expires a silence (Alertmanager keeps it, expired, for its retention period).
    pub async fn expire_silence(&self, id: &str) -> Result<(), IntegrationError> {
        let res = self
            .endpoint
            .send(
                Method::DELETE,
                &format!("/api/v2/silence/{id}"),
                super::DEFAULT_TIMEOUT,
                |r| r,
            )
            .await?;
        // Alertmanager (0.25) answers 500 for an unknown id: the caller's mistake (404), not
        // Alertmanager failing. Expiring an expired silence succeeds.
        match self.endpoint.check(res).await {
            Err(IntegrationError::Remote {
                service,
                status: 500,
                message,
            }) if message.contains("not found") => Err(IntegrationError::Remote {
                service,
                status: 404,
                message,
            }),
            other => other.map(|_| ()),
        }
    }

    /// `GET /-/healthy`.
    pub async fn health(&self) -> Health {
        self.endpoint.probe("/-/healthy").await
    }
}
