//! [`EndpointRegistry`]: owns the health of every Docker endpoint. The master's endpoint watcher
//! probes engines (in spawned tasks) and reports here; `GET /api/endpoints` reads from here
//! instead of probing per request. A change of status is published as `endpoint.status`.

use std::collections::HashMap;

use actix::prelude::*;
use serde::Serialize;

use crate::{ActorError, BroadcasterHandle, REQUEST_TIMEOUT};

/// Whether an endpoint's engine answered at its last check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointStatus {
    Up,
    Down,
}

impl EndpointStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// The result of one check of an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub status: EndpointStatus,
    /// Why it is down.
    pub error: Option<String>,
    /// The engine's version, when this check learnt it (`None` keeps the one known).
    pub docker_version: Option<String>,
}

impl Probe {
    pub fn up(docker_version: Option<String>) -> Self {
        Self {
            status: EndpointStatus::Up,
            error: None,
            docker_version,
        }
    }

    pub fn down(error: impl Into<String>) -> Self {
        Self {
            status: EndpointStatus::Down,
            error: Some(error.into()),
            docker_version: None,
        }
    }
}

/// What is known of an endpoint's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointHealth {
    pub status: EndpointStatus,
    pub error: Option<String>,
    /// The engine's version at the last check that learnt it.
    pub docker_version: Option<String>,
    /// When it was last checked (Unix milliseconds).
    pub checked_at_ms: i64,
    /// When its status last changed (Unix milliseconds).
    pub since_ms: i64,
}

/// Keeps each endpoint's latest health.
pub struct EndpointRegistry {
    health: HashMap<String, EndpointHealth>,
    bus: BroadcasterHandle,
}

impl EndpointRegistry {
    pub fn start(bus: BroadcasterHandle) -> EndpointRegistryHandle {
        let addr = EndpointRegistry {
            health: HashMap::new(),
            bus,
        }
        .start();
        EndpointRegistryHandle { addr }
    }
}

impl Actor for EndpointRegistry {
    type Context = Context<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
struct Report {
    id: String,
    probe: Probe,
    /// Publish `endpoint.status` even when nothing changed.
    announce: bool,
}

impl Handler<Report> for EndpointRegistry {
    type Result = ();

    fn handle(&mut self, msg: Report, _ctx: &mut Self::Context) {
        let now = crate::now_ms();
        let Probe {
            status,
            error,
            docker_version,
        } = msg.probe;
        let previous = self.health.get(&msg.id);
        let changed =
            msg.announce || previous.is_none_or(|h| h.status != status || h.error != error);
        let since_ms = match previous {
            Some(h) if h.status == status => h.since_ms,
            _ => now,
        };
        let docker_version = match status {
            EndpointStatus::Up => {
                docker_version.or_else(|| previous.and_then(|h| h.docker_version.clone()))
            }
            EndpointStatus::Down => None,
        };
        if changed {
            self.bus.emit(
                "endpoint.status",
                serde_json::json!({
                    "id": msg.id,
                    "status": status.as_str(),
                    "error": error,
                }),
            );
        }
        self.health.insert(
            msg.id,
            EndpointHealth {
                status,
                error,
                docker_version,
                checked_at_ms: now,
                since_ms,
            },
        );
    }
}

/// Forget every endpoint but these (the others were removed).
#[derive(Message)]
#[rtype(result = "()")]
struct Retain(Vec<String>);

impl Handler<Retain> for EndpointRegistry {
    type Result = ();

    fn handle(&mut self, msg: Retain, _ctx: &mut Self::Context) {
        self.health.retain(|id, _| msg.0.contains(id));
    }
}

#[derive(Message)]
#[rtype(result = "HashMap<String, EndpointHealth>")]
struct All;

impl Handler<All> for EndpointRegistry {
    type Result = MessageResult<All>;

    fn handle(&mut self, _msg: All, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.health.clone())
    }
}

/// Typed handle to the [`EndpointRegistry`].
#[derive(Clone)]
pub struct EndpointRegistryHandle {
    addr: Addr<EndpointRegistry>,
}

impl EndpointRegistryHandle {
    /// Records a check of endpoint `id`; publishes `endpoint.status` when its status or error
    /// changed (and at its first check).
    pub async fn report(&self, id: &str, probe: Probe) -> Result<(), ActorError> {
        Ok(self
            .addr
            .send(Report {
                id: id.to_owned(),
                probe,
                announce: false,
            })
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    /// [`Self::report`], publishing `endpoint.status` even when nothing changed (the watcher's
    /// first check of an endpoint it starts following).
    pub async fn announce(&self, id: &str, probe: Probe) -> Result<(), ActorError> {
        Ok(self
            .addr
            .send(Report {
                id: id.to_owned(),
                probe,
                announce: true,
            })
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    /// Forgets the health of every endpoint not in `ids`.
    pub async fn retain(&self, ids: Vec<String>) -> Result<(), ActorError> {
        Ok(self.addr.send(Retain(ids)).timeout(REQUEST_TIMEOUT).await?)
    }

    /// Every endpoint's known health, by id (endpoints never checked are absent).
    pub async fn all(&self) -> Result<HashMap<String, EndpointHealth>, ActorError> {
        Ok(self.addr.send(All).timeout(REQUEST_TIMEOUT).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Broadcaster, Delivery, TopicFilter};

    #[actix::test]
    async fn keeps_health_and_publishes_changes_only() {
        let bus = Broadcaster::start_supervised(64, 64);
        let (mut sub, _) = bus
            .subscribe(TopicFilter::parse(["endpoint.status"]).unwrap(), None)
            .await
            .unwrap();
        let reg = EndpointRegistry::start(bus);
        reg.report("e1", Probe::up(Some("27.0".into())))
            .await
            .unwrap();
        reg.report("e1", Probe::up(None)).await.unwrap();
        reg.report("e2", Probe::down("refused")).await.unwrap();
        let all = reg.all().await.unwrap();
        assert_eq!(all["e1"].status, EndpointStatus::Up);
        assert_eq!(all["e1"].docker_version.as_deref(), Some("27.0"));
        assert_eq!(all["e2"].error.as_deref(), Some("refused"));
        reg.report("e1", Probe::down("gone")).await.unwrap();
        assert_eq!(reg.all().await.unwrap()["e1"].docker_version, None);
        reg.announce("e1", Probe::down("gone")).await.unwrap();
        reg.retain(vec!["e1".into()]).await.unwrap();
        assert!(!reg.all().await.unwrap().contains_key("e2"));
        let mut seen = Vec::new();
        while let Ok(Some(Delivery::Event(e))) =
            tokio::time::timeout(Duration::from_millis(50), sub.recv()).await
        {
            seen.push(format!(
                "{}:{}",
                e.payload["id"].as_str().unwrap_or_default(),
                e.payload["status"].as_str().unwrap_or_default()
            ));
        }
        assert_eq!(seen, vec!["e1:up", "e2:down", "e1:down", "e1:down"]);
    }
}
