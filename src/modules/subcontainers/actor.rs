//! The `SubcontainerRegistry` and its `SubcontainerActor`s: one supervised task per deployed
//! `cb-*` service, named `subcontainer.<name>` under `state.tasks` (so a panic restarts it with
//! backoff, `/api/system/info` lists it and `contextbay_actor_restarts_total` counts it).
//!
//! An actor reads its desired state from the store on every pass (a restart is always safe, and
//! a redeploy or removal is seen at once), observes its container (woken by the engine's
//! `container.update` events, and at least every [`TICK`]) and probes its health every
//! [`PROBE_EVERY`]. A service whose container is not running is brought up again with
//! exponential backoff ([`BACKOFF_START`] doubling to [`BACKOFF_MAX`]); [`FLAP_RESTARTS`]
//! restarts within [`FLAP_WINDOW`] mark it flapping (`subcontainer.flapping` and a
//! `notification`). Its restarts are jobs on the service's resource, so they never overlap a
//! deploy, a reconfiguration or a removal. The actor ends when the service's record is gone.

use std::collections::VecDeque;
use std::time::Duration;

use contextbay_actors::{JobFailure, JobSpec, JobState, TopicFilter};
use serde_json::json;
use tokio::time::Instant;

use super::catalogue::{self, Template};
use super::events::{SubcontainerFlapping, SubcontainerUpdate};
use super::service;
use super::store::SubcontainerStore;
use crate::endpoints;
use crate::events::Notification;
use crate::state::AppState;
use crate::store::now_ms;

/// The longest an actor waits between two looks at its container.
pub const TICK: Duration = Duration::from_secs(2);
/// How often the health probe runs.
pub const PROBE_EVERY: Duration = Duration::from_secs(10);
/// The first wait before bringing a stopped service up again.
pub const BACKOFF_START: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A service running this long has its backoff reset.
pub const STABLE_AFTER: Duration = Duration::from_secs(60);
/// So many restarts within [`FLAP_WINDOW`] make a service flapping.
pub const FLAP_RESTARTS: usize = 5;
pub const FLAP_WINDOW: Duration = Duration::from_secs(600);

/// Starts an actor for every deployed service (at master start).
pub async fn start_registry(state: &AppState) -> anyhow::Result<()> {
    for d in state.store.subcontainers().all().await? {
        spawn(state, &d.name);
    }
    Ok(())
}

/// Starts (or replaces) the actor of `name`.
pub fn spawn(state: &AppState, name: &str) {
    let Ok(t) = catalogue::template(name) else {
        tracing::warn!(
            name,
            "a stored sub-container is not in the catalogue; not supervised"
        );
        return;
    };
    let state2 = state.clone();
    state.tasks.spawn(format!("subcontainer.{name}"), move || {
        run(state2.clone(), t)
    });
}

/// Exponential backoff, capped.
struct Backoff {
    next: Duration,
    not_before: Instant,
}

impl Backoff {
    fn new() -> Self {
        Self {
            next: BACKOFF_START,
            not_before: Instant::now(),
        }
    }

    fn ready(&self) -> bool {
        Instant::now() >= self.not_before
    }

    fn bump(&mut self) {
        self.not_before = Instant::now() + self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
    }

    fn reset(&mut self) {
        self.next = BACKOFF_START;
    }
}

async fn run(state: AppState, t: &'static Template) -> Result<(), String> {
    let filter = TopicFilter::parse(["container.update"]).map_err(|e| e.to_string())?;
    let (mut events, _) = state
        .bus
        .subscribe(filter, None)
        .await
        .map_err(|e| e.to_string())?;
    let mut backoff = Backoff::new();
    let mut recent: VecDeque<Instant> = VecDeque::new();
    let mut running_since: Option<Instant> = None;
    let mut next_probe = Instant::now();
    let mut last_health: Option<bool> = None;
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                delivery = events.recv() => {
                    if delivery.is_none() {
                        return Err("the event bus closed".into());
                    }
                }
            }
        }
        first = false;
        let Some(d) = state
            .store
            .subcontainers()
            .get(t.name)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        if last_health.is_none() {
            last_health = d.health.as_deref().map(|h| h == "healthy");
        }
        let Some(deployed) = d.deployed_config.clone() else {
            continue;
        };
        let Ok(e) = endpoints::get(&state, &d.endpoint).await else {
            continue;
        };
        let Ok(list) = service::containers(&state, t, &e).await else {
            continue;
        };
        let running = list.iter().any(|c| c.state == "running");
        if running {
            let since = *running_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= STABLE_AFTER {
                backoff.reset();
            }
        } else {
            running_since = None;
            if backoff.ready() {
                bring_up(&state, t, &d, &e, &mut backoff, &mut recent).await;
            }
        }
        if Instant::now() >= next_probe {
            next_probe = Instant::now() + PROBE_EVERY;
            let h = service::probe(t, &deployed).await;
            let health = if h.healthy { "healthy" } else { "unhealthy" };
            if let Err(err) = state
                .store
                .subcontainers()
                .set_health(t.name, health, &h.detail, h.checked_at)
                .await
            {
                tracing::warn!(name = t.name, "recording health: {err}");
            }
            if last_health != Some(h.healthy) {
                last_health = Some(h.healthy);
                state
                    .events
                    .publish_committed(SubcontainerUpdate {
                        name: t.name.to_owned(),
                        what: health.into(),
                        detail: h.detail,
                    })
                    .await;
            }
        }
    }
}

/// One attempt to bring the service up, as a job on its resource (skipped while a deploy,
/// reconfiguration or removal holds it).
async fn bring_up(
    state: &AppState,
    t: &'static Template,
    d: &super::store::Deployed,
    e: &crate::store::endpoints::StoredEndpoint,
    backoff: &mut Backoff,
    recent: &mut VecDeque<Instant>,
) {
    let spec = JobSpec {
        kind: "subcontainer.recover".into(),
        resource: service::resource(t.name),
        created_by: None,
    };
    let (state2, d2, e2) = (state.clone(), d.clone(), e.clone());
    let job = match state
        .jobs
        .submit(spec, move |_ctx| async move {
            service::bring_up(&state2, t, &d2, &e2, false)
                .await
                .map(|how| json!({"name": t.name, "done": how}))
                .map_err(JobFailure::from)
        })
        .await
    {
        Ok(job) => job,
        // Another operation holds the service: look again on the next pass.
        Err(_) => return,
    };
    backoff.bump();
    let ended = state.jobs.wait(&job.id, Duration::from_secs(15 * 60)).await;
    let ok = matches!(&ended, Ok(Some(j)) if j.state == JobState::Succeeded);
    let at = now_ms();
    if let Err(err) = state.store.subcontainers().record_restart(t.name, at).await {
        tracing::warn!(name = t.name, "recording a restart: {err}");
    }
    state
        .events
        .publish_committed(SubcontainerUpdate {
            name: t.name.to_owned(),
            what: "restarted".into(),
            detail: if ok {
                "brought up again after it stopped".into()
            } else {
                format!("bringing it up failed (operation {})", job.id)
            },
        })
        .await;
    let now = Instant::now();
    recent.push_back(now);
    while recent
        .front()
        .is_some_and(|t0| now.duration_since(*t0) > FLAP_WINDOW)
    {
        recent.pop_front();
    }
    if recent.len() >= FLAP_RESTARTS && !d.flapping {
        if let Err(err) = state.store.subcontainers().set_flapping(t.name, true).await {
            tracing::warn!(name = t.name, "recording flapping: {err}");
        }
        let restarts = u32::try_from(recent.len()).unwrap_or(u32::MAX);
        state
            .events
            .publish_committed(SubcontainerFlapping {
                name: t.name.to_owned(),
                restarts,
                window_secs: FLAP_WINDOW.as_secs(),
            })
            .await;
        state
            .events
            .publish_committed(Notification {
                title: format!("{} is flapping", catalogue::stack_name(t)),
                body: format!(
                    "{} was restarted {restarts} times within {} minutes; it keeps stopping. \
                     See GET /api/admin/subcontainers/{}/logs",
                    t.title,
                    FLAP_WINDOW.as_secs() / 60,
                    t.name
                ),
                level: "warning".into(),
                alert_id: None,
            })
            .await;
    }
}
