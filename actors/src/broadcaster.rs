//! The one event bus of the master.
//!
//! [`Broadcaster`] owns the replay ring and the subscriber list. Every state change in the master
//! is published here as an [`Event`] with a monotonic id; consumers (WebSocket sessions, the event
//! recorder, later webhooks and notification channels) subscribe with a [`TopicFilter`] and
//! receive [`Delivery`] items on a bounded channel of their own. A consumer that does not keep up
//! is never waited for: the events it could not take are counted and it receives one
//! [`Delivery::Lagged`] before the next event, so it knows to resynchronise.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::{ActorError, REQUEST_TIMEOUT};

/// One state change, as clients see it: `{id, type, ts, payload}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    /// Monotonic across the life of an installation (seeded from the clock at start).
    pub id: u64,
    /// `<resource>.<verb>`, e.g. `node.status`, `user.created`, `notification`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Publication time, RFC 3339 with milliseconds.
    pub ts: String,
    /// The same time in Unix milliseconds, for storage.
    #[serde(skip)]
    pub ts_ms: i64,
    pub payload: serde_json::Value,
}

/// What a subscriber receives on its channel.
#[derive(Debug, Clone)]
pub enum Delivery {
    Event(Arc<Event>),
    /// The subscriber's channel was full and `missed` events were not delivered to it. Whoever
    /// sees this must refetch its state; the events after it are delivered normally.
    Lagged {
        missed: u64,
    },
}

/// Topic patterns a subscriber wants: exact types (`node.status`), prefixes (`node.*`) or `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicFilter {
    patterns: Vec<String>,
}

impl TopicFilter {
    /// Everything.
    pub fn all() -> Self {
        Self {
            patterns: vec!["*".to_owned()],
        }
    }

    /// Validates and builds a filter. A pattern is `*`, `<prefix>.*` or an exact event type made of
    /// lowercase letters, digits, `_`, `-` and dots.
    pub fn parse<I, S>(patterns: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for p in patterns {
            let p = p.as_ref().trim();
            let body = p.strip_suffix(".*").unwrap_or(p);
            let valid = p == "*"
                || (!body.is_empty()
                    && body.len() <= 64
                    && body.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                    }));
            if !valid {
                return Err(format!("invalid topic pattern '{p}'"));
            }
            out.push(p.to_owned());
        }
        if out.is_empty() {
            return Err("at least one topic pattern is required".to_owned());
        }
        if out.len() > 64 {
            return Err("at most 64 topic patterns are allowed".to_owned());
        }
        Ok(Self { patterns: out })
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn matches(&self, kind: &str) -> bool {
        self.patterns.iter().any(|p| {
            if p == "*" {
                return true;
            }
            match p.strip_suffix(".*") {
                Some(prefix) => kind
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.')),
                None => p == kind,
            }
        })
    }
}

/// Counters for `/metrics` and `/api/system/info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BroadcasterStats {
    pub published: u64,
    /// Deliveries skipped because a subscriber's channel was full.
    pub dropped: u64,
    pub subscribers: usize,
    pub last_id: u64,
    pub restarts: u64,
}

/// What a subscriber asked to replay from `since`.
#[derive(Debug)]
pub enum Replay {
    /// The events after `since`, oldest first (possibly none).
    Events(Vec<Arc<Event>>),
    /// Events after `since` are no longer in the ring (or were published by an earlier run of the
    /// master): the subscriber must resynchronise from current state.
    Gap,
}

struct Subscriber {
    filter: TopicFilter,
    tx: mpsc::Sender<Delivery>,
    missed: u64,
}

/// The event bus actor. Owns: the ring of the last `capacity` events, the next id, the subscriber
/// list and the counters. On restart (supervised) the ring is kept, since the actor value survives.
pub struct Broadcaster {
    ring: VecDeque<Arc<Event>>,
    capacity: usize,
    /// The id the next event gets. Seeded from the clock (microseconds) so that ids keep growing
    /// across restarts of the master, and a client's `since` from an earlier run is detected as a gap.
    next_id: u64,
    first_id_of_run: u64,
    subscribers: HashMap<u64, Subscriber>,
    next_subscriber: u64,
    published: u64,
    dropped: u64,
    restarts: u64,
    channel_capacity: usize,
}

impl Broadcaster {
    pub fn new(ring_capacity: usize, channel_capacity: usize) -> Self {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2))
            .unwrap_or(1);
        Self {
            ring: VecDeque::with_capacity(ring_capacity.min(1024)),
            capacity: ring_capacity.max(1),
            next_id: seed,
            first_id_of_run: seed,
            subscribers: HashMap::new(),
            next_subscriber: 1,
            published: 0,
            dropped: 0,
            restarts: 0,
            channel_capacity: channel_capacity.max(2),
        }
    }

    /// Starts the bus under a supervisor on the current arbiter and returns its handle.
    pub fn start_supervised(ring_capacity: usize, channel_capacity: usize) -> BroadcasterHandle {
        let addr = Supervisor::start(move |_| Broadcaster::new(ring_capacity, channel_capacity));
        BroadcasterHandle { addr }
    }

    fn deliver(&mut self, event: &Arc<Event>) {
        let mut closed = Vec::new();
        for (id, sub) in &mut self.subscribers {
            if !sub.filter.matches(&event.kind) {
                continue;
            }
            if sub.missed > 0 {
                match sub.tx.try_send(Delivery::Lagged { missed: sub.missed }) {
                    Ok(()) => sub.missed = 0,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        sub.missed += 1;
                        self.dropped += 1;
                        continue;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        closed.push(*id);
                        continue;
                    }
                }
            }
            match sub.tx.try_send(Delivery::Event(Arc::clone(event))) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    sub.missed += 1;
                    self.dropped += 1;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => closed.push(*id),
            }
        }
        for id in closed {
            self.subscribers.remove(&id);
        }
    }

    /// Sends pending `Lagged` notices to subscribers whose channels have room again.
    fn flush_lag_notices(&mut self) {
        for sub in self.subscribers.values_mut().filter(|s| s.missed > 0) {
            if sub
                .tx
                .try_send(Delivery::Lagged { missed: sub.missed })
                .is_ok()
            {
                sub.missed = 0;
            }
        }
    }

    fn replay_since(&self, since: u64) -> Replay {
        // Nothing published after `since` in this run, and `since` belongs to this run.
        if since + 1 >= self.next_id && since >= self.first_id_of_run.saturating_sub(1) {
            return Replay::Events(Vec::new());
        }
        let oldest = self.ring.front().map_or(self.next_id, |e| e.id);
        if since + 1 < oldest {
            return Replay::Gap;
        }
        Replay::Events(self.ring.iter().filter(|e| e.id > since).cloned().collect())
    }
}

impl Actor for Broadcaster {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        // A subscriber that lagged must hear about it even if no further event comes its way.
        ctx.run_interval(LAG_NOTICE_EVERY, |this, _| this.flush_lag_notices());
    }
}

impl Supervised for Broadcaster {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.restarts += 1;
        tracing::warn!(restarts = self.restarts, "broadcaster restarting");
    }
}

/// Publish one event; the reply is the event as stored (with its id and timestamp).
#[derive(Message)]
#[rtype(result = "Arc<Event>")]
pub struct Publish {
    pub kind: String,
    pub payload: serde_json::Value,
}

impl Handler<Publish> for Broadcaster {
    type Result = MessageResult<Publish>;

    fn handle(&mut self, msg: Publish, _ctx: &mut Self::Context) -> Self::Result {
        let ts_ms = crate::now_ms();
        let event = Arc::new(Event {
            id: self.next_id,
            kind: msg.kind,
            ts: crate::rfc3339_from_millis(ts_ms),
            ts_ms,
            payload: msg.payload,
        });
        self.next_id += 1;
        self.published += 1;
        if self.ring.len() == self.capacity {
            self.ring.pop_front();
        }
        self.ring.push_back(Arc::clone(&event));
        self.deliver(&event);
        MessageResult(event)
    }
}

/// Register a subscriber; the reply carries its id and, when `since` was given, what to replay.
/// Replay and registration happen in one message, so no event can fall between them.
#[derive(Message)]
#[rtype(result = "(u64, mpsc::Receiver<Delivery>, Option<Replay>)")]
struct Subscribe {
    filter: TopicFilter,
    since: Option<u64>,
}

impl Handler<Subscribe> for Broadcaster {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Self::Context) -> Self::Result {
        let (tx, rx) = mpsc::channel(self.channel_capacity);
        let id = self.next_subscriber;
        self.next_subscriber += 1;
        let replay = msg.since.map(|since| match self.replay_since(since) {
            Replay::Events(events) => Replay::Events(
                events
                    .into_iter()
                    .filter(|e| msg.filter.matches(&e.kind))
                    .collect(),
            ),
            Replay::Gap => Replay::Gap,
        });
        self.subscribers.insert(
            id,
            Subscriber {
                filter: msg.filter,
                tx,
                missed: 0,
            },
        );
        MessageResult((id, rx, replay))
    }
}

/// Replace a subscriber's topic filter (a WebSocket client re-subscribing).
#[derive(Message)]
#[rtype(result = "()")]
struct SetFilter {
    id: u64,
    filter: TopicFilter,
}

impl Handler<SetFilter> for Broadcaster {
    type Result = ();

    fn handle(&mut self, msg: SetFilter, _ctx: &mut Self::Context) {
        if let Some(sub) = self.subscribers.get_mut(&msg.id) {
            sub.filter = msg.filter;
        }
    }
}

/// Remove a subscriber. Sent by [`Subscription`]'s drop guard.
#[derive(Message)]
#[rtype(result = "()")]
struct Unsubscribe {
    id: u64,
}

impl Handler<Unsubscribe> for Broadcaster {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _ctx: &mut Self::Context) {
        self.subscribers.remove(&msg.id);
    }
}

/// Recent events, newest first, optionally filtered.
#[derive(Message)]
#[rtype(result = "Vec<Arc<Event>>")]
struct Recent {
    filter: TopicFilter,
    limit: usize,
}

impl Handler<Recent> for Broadcaster {
    type Result = MessageResult<Recent>;

    fn handle(&mut self, msg: Recent, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(
            self.ring
                .iter()
                .rev()
                .filter(|e| msg.filter.matches(&e.kind))
                .take(msg.limit)
                .cloned()
                .collect(),
        )
    }
}

#[derive(Message)]
#[rtype(result = "BroadcasterStats")]
struct GetStats;

impl Handler<GetStats> for Broadcaster {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _msg: GetStats, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(BroadcasterStats {
            published: self.published,
            dropped: self.dropped,
            subscribers: self.subscribers.len(),
            last_id: self.next_id.saturating_sub(1),
            restarts: self.restarts,
        })
    }
}

/// Typed handle to the [`Broadcaster`]. Cheap to clone; the only way the rest of the master talks
/// to the bus.
#[derive(Clone)]
pub struct BroadcasterHandle {
    addr: Addr<Broadcaster>,
}

impl BroadcasterHandle {
    /// Publishes an event and waits for its id. Use [`BroadcasterHandle::emit`] where the caller
    /// does not need the id.
    pub async fn publish(
        &self,
        kind: impl Into<String>,
        payload: serde_json::Value,
    ) -> Result<Arc<Event>, ActorError> {
        let msg = Publish {
            kind: kind.into(),
            payload,
        };
        Ok(self.addr.send(msg).timeout(REQUEST_TIMEOUT).await?)
    }

    /// Fire-and-forget publication: a state change has already been committed and its event must
    /// not hold up the request that made it. If the mailbox is full the event is lost and logged.
    pub fn emit(&self, kind: impl Into<String>, payload: serde_json::Value) {
        let kind = kind.into();
        if let Err(err) = self.addr.try_send(Publish {
            kind: kind.clone(),
            payload,
        }) {
            tracing::error!(%kind, %err, "event could not be queued");
        }
    }

    /// Subscribes with a filter; with `since`, the reply also says what to replay first.
    pub async fn subscribe(
        &self,
        filter: TopicFilter,
        since: Option<u64>,
    ) -> Result<(Subscription, Option<Replay>), ActorError> {
        let (id, rx, replay) = self
            .addr
            .send(Subscribe { filter, since })
            .timeout(REQUEST_TIMEOUT)
            .await?;
        Ok((
            Subscription {
                id,
                rx,
                addr: self.addr.clone(),
            },
            replay,
        ))
    }

    /// The newest `limit` events matching `filter`, newest first.
    pub async fn recent(
        &self,
        filter: TopicFilter,
        limit: usize,
    ) -> Result<Vec<Arc<Event>>, ActorError> {
        Ok(self
            .addr
            .send(Recent { filter, limit })
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    pub async fn stats(&self) -> Result<BroadcasterStats, ActorError> {
        Ok(self.addr.send(GetStats).timeout(REQUEST_TIMEOUT).await?)
    }
}

/// A live subscription. Dropping it deregisters the subscriber, on every exit path of its owner.
pub struct Subscription {
    id: u64,
    rx: mpsc::Receiver<Delivery>,
    addr: Addr<Broadcaster>,
}

impl Subscription {
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }

    /// Replaces the topic filter; events already queued are still delivered.
    pub fn set_filter(&self, filter: TopicFilter) {
        // Fire-and-forget: the filter applies from the next publication, nothing waits on it.
        self.addr.do_send(SetFilter {
            id: self.id,
            filter,
        });
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Fire-and-forget: the owner is going away and cannot wait. A closed channel is also
        // pruned on the next delivery, so a lost message only delays the clean-up.
        self.addr.do_send(Unsubscribe { id: self.id });
    }
}

/// How often pending lag notices are retried for subscribers that caught up.
const LAG_NOTICE_EVERY: Duration = Duration::from_millis(250);

/// How long a subscriber may take before it is considered gone; used by session owners.
pub const SUBSCRIBER_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_filter_matches_exact_prefix_and_all() {
        let f = TopicFilter::parse(["node.*", "alert.fired"]).unwrap_or_default();
        assert!(f.matches("node.status"));
        assert!(f.matches("node.census.done"));
        assert!(!f.matches("nodes.status"));
        assert!(!f.matches("node"));
        assert!(f.matches("alert.fired"));
        assert!(!f.matches("alert.resolved"));
        assert!(TopicFilter::all().matches("anything"));
    }

    #[test]
    fn topic_filter_rejects_bad_patterns() {
        assert!(TopicFilter::parse(["Node.*"]).is_err());
        assert!(TopicFilter::parse([".*"]).is_err());
        assert!(TopicFilter::parse(Vec::<String>::new()).is_err());
        assert!(TopicFilter::parse(["a b"]).is_err());
    }

    #[actix::test]
    async fn replay_and_gap_detection() -> Result<(), ActorError> {
        let bus = Broadcaster::start_supervised(3, 16);
        let first = bus
            .publish("user.created", serde_json::json!({"n": 1}))
            .await?;
        for n in 2..=5 {
            bus.publish("user.created", serde_json::json!({ "n": n }))
                .await?;
        }
        // The ring holds ids first+2..=first+4; since=first+2 replays two.
        let (_sub, replay) = bus
            .subscribe(TopicFilter::all(), Some(first.id + 2))
            .await?;
        match replay {
            Some(Replay::Events(events)) => {
                assert_eq!(
                    events.iter().map(|e| e.id).collect::<Vec<_>>(),
                    vec![first.id + 3, first.id + 4]
                );
            }
            other => panic!("expected events, got {other:?}"),
        }
        let (_sub, replay) = bus.subscribe(TopicFilter::all(), Some(first.id)).await?;
        assert!(matches!(replay, Some(Replay::Gap)));
        // A `since` from an earlier run (smaller than this run's first id) is a gap.
        let (_sub, replay) = bus.subscribe(TopicFilter::all(), Some(7)).await?;
        assert!(matches!(replay, Some(Replay::Gap)));
        Ok(())
    }

    #[actix::test]
    async fn slow_subscriber_is_told_it_lagged_and_others_are_not_delayed() -> Result<(), ActorError>
    {
        let bus = Broadcaster::start_supervised(64, 2);
        let (mut slow, _) = bus.subscribe(TopicFilter::all(), None).await?;
        let (mut fast, _) = bus.subscribe(TopicFilter::all(), None).await?;
        for n in 0..5 {
            bus.publish("x.y", serde_json::json!(n)).await?;
            // The fast one keeps reading.
            assert!(matches!(fast.recv().await, Some(Delivery::Event(_))));
        }
        // Slow read nothing: two delivered, three missed.
        assert!(matches!(slow.recv().await, Some(Delivery::Event(_))));
        assert!(matches!(slow.recv().await, Some(Delivery::Event(_))));
        bus.publish("x.y", serde_json::json!(5)).await?;
        assert!(matches!(
            slow.recv().await,
            Some(Delivery::Lagged { missed: 3 })
        ));
        assert!(matches!(slow.recv().await, Some(Delivery::Event(e)) if e.payload == 5));
        let stats = bus.stats().await?;
        assert_eq!(stats.dropped, 3);
        assert_eq!(stats.subscribers, 2);
        // With no further event, a subscriber that lagged and caught up is still told.
        for n in 6..9 {
            bus.publish("x.y", serde_json::json!(n)).await?;
        }
        assert!(matches!(slow.recv().await, Some(Delivery::Event(_))));
        assert!(matches!(slow.recv().await, Some(Delivery::Event(_))));
        let notice = tokio::time::timeout(Duration::from_secs(2), slow.recv()).await;
        assert!(
            matches!(notice, Ok(Some(Delivery::Lagged { missed: 1 }))),
            "{notice:?}"
        );
        drop(slow);
        bus.publish("x.y", serde_json::json!(6)).await?;
        assert_eq!(bus.stats().await?.subscribers, 1);
        Ok(())
    }
}
