//! Grafana's HTTP API with a service-account token (`Authorization: Bearer <token>`):
//! `/api/search`, `/api/dashboards/db`, `/api/dashboards/uid/{uid}`,
//! `/api/user/stars/dashboard/uid/{uid}`, `/api/annotations` and the probe `/api/health`.
//!
//! Configured by the monitoring module: `grafana_url` and `grafana_token`.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Endpoint, Health, IntegrationError, Integrations, ModuleSettings};

pub const SERVICE: &str = "grafana";

/// A Grafana server, acting as one service account.
#[derive(Clone)]
pub struct Grafana {
    endpoint: Endpoint,
}

/// One hit of `/api/search?type=dash-db`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardHit {
    pub uid: String,
    pub title: String,
    /// Relative to Grafana's root, e.g. `/d/abc/my-dashboard`.
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub is_starred: bool,
    #[serde(default)]
    pub folder_uid: Option<String>,
    #[serde(default)]
    pub folder_title: Option<String>,
}

/// Filters of a dashboard search.
#[derive(Debug, Clone, Default)]
pub struct DashboardSearch {
    pub query: Option<String>,
    pub tag: Option<String>,
    pub starred: Option<bool>,
    pub limit: u32,
}

/// The body of `POST /api/dashboards/db`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SaveDashboard {
    pub dashboard: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub overwrite: bool,
}

/// What `POST /api/dashboards/db` answers.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct SavedDashboard {
    pub uid: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub version: i64,
    #[serde(default)]
    pub status: String,
}

/// The body of `POST /api/annotations`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAnnotation {
    #[serde(rename = "dashboardUID", skip_serializing_if = "Option::is_none")]
    pub dashboard_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panel_id: Option<i64>,
    /// Unix milliseconds.
    pub time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_end: Option<i64>,
    pub tags: Vec<String>,
    pub text: String,
}

#[derive(Debug, Deserialize)]
struct AnnotationCreated {
    id: i64,
}

impl Grafana {
    /// The client the monitoring module's configuration describes; it needs both the URL and
    /// the service-account token.
    pub fn from_settings(
        integrations: &Integrations,
        settings: &ModuleSettings,
    ) -> Result<Self, IntegrationError> {
        let not_configured = IntegrationError::NotConfigured {
            service: SERVICE,
            hint: "set grafana_url and grafana_token (a service-account token) with \
                   PUT /api/config/monitoring",
        };
        let (Some(url), Some(token)) =
            (settings.text("grafana_url"), settings.text("grafana_token"))
        else {
            return Err(not_configured);
        };
        Ok(Self {
            endpoint: Endpoint::new(integrations, SERVICE, url, Some(token)),
        })
    }

    /// Grafana's base URL (to make the dashboards' relative URLs absolute).
    pub fn url(&self, path: &str) -> String {
        self.endpoint.url(path)
    }

    /// Dashboards, provisioned and user-made alike (folders are left out).
    pub async fn search_dashboards(
        &self,
        search: &DashboardSearch,
    ) -> Result<Vec<DashboardHit>, IntegrationError> {
        let limit = search.limit.to_string();
        let mut query: Vec<(&str, &str)> = vec![("type", "dash-db"), ("limit", &limit)];
        if let Some(q) = &search.query {
            query.push(("query", q));
        }
        if let Some(t) = &search.tag {
            query.push(("tag", t));
        }
        if let Some(s) = search.starred {
            query.push(("starred", if s { "true" } else { "false" }));
        }
        self.endpoint.get_json("/api/search", &query).await
    }

    /// `{dashboard, meta}` as Grafana gives it.
    pub async fn dashboard(&self, uid: &str) -> Result<Value, IntegrationError> {
        self.endpoint
            .get_json(&format!("/api/dashboards/uid/{uid}"), &[])
            .await
    }

    /// Creates or updates a dashboard.
    pub async fn save_dashboard(
        &self,
        body: &SaveDashboard,
    ) -> Result<SavedDashboard, IntegrationError> {
        let res = self
            .endpoint
            .send(
                Method::POST,
                "/api/dashboards/db",
                super::DEFAULT_TIMEOUT,
                |r| r.json(body),
            )
            .await?;
        self.endpoint.json(res).await
    }

    pub async fn delete_dashboard(&self, uid: &str) -> Result<Value, IntegrationError> {
        let res = self
            .endpoint
            .send(
                Method::DELETE,
                &format!("/api/dashboards/uid/{uid}"),
                super::DEFAULT_TIMEOUT,
                |r| r,
            )
            .await?;
        self.endpoint.json(res).await
    }

    /// Stars (`true`) or un-stars a dashboard for the service account.
    pub async fn star(&self, uid: &str, starred: bool) -> Result<(), IntegrationError> {
        let method = if starred {
            Method::POST
        } else {
            Method::DELETE
        };
        let res = self
            .endpoint
            .send(
                method,
                &format!("/api/user/stars/dashboard/uid/{uid}"),
                super::DEFAULT_TIMEOUT,
                |r| r,
            )
            .await?;
        self.endpoint.check(res).await?;
        Ok(())
    }

    /// Adds an annotation and returns its id.
    pub async fn annotate(&self, annotation: &NewAnnotation) -> Result<i64, IntegrationError> {
        let res = self
            .endpoint
            .send(
                Method::POST,
                "/api/annotations",
                super::DEFAULT_TIMEOUT,
                |r| r.json(annotation),
            )
            .await?;
        let created: AnnotationCreated = self.endpoint.json(res).await?;
        Ok(created.id)
    }

    /// `GET /api/health` (answers without credentials).
    pub async fn health(&self) -> Health {
        self.endpoint.probe("/api/health").await
    }
}
