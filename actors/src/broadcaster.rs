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
    /// Set (`"local": true`) on an event that a master of a cluster delivered to its own clients
    /// only, because the cluster's stream could not take it (NATS unreachable). Its id is from
    /// the master's own range and cannot be resumed from with `since`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub local: bool,
    /// Published by this master (always, on a single master): what this master records.
    #[serde(skip)]
    pub own: bool,
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
    /// In a cluster: the events `after+1..=upto` are older than the ring and must be read from
    /// the cluster's stream first, then `then` (from the ring), then live events.
    Fetch {
        after: u64,
        upto: u64,
        then: Vec<Arc<Event>>,
    },
}

struct Subscriber {
    filter: TopicFilter,
    tx: mpsc::Sender<Delivery>,
    missed: u64,
    /// Cluster events with an id up to this one are not delivered: the subscriber resumed from
    /// an id this master has not delivered yet.
    skip_through: u64,
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
    /// In a cluster, the last stream sequence delivered (events published through the cluster
    /// arrive with their id and are delivered in order, each once); `None` on a single master.
    cluster_cursor: Option<u64>,
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
            cluster_cursor: None,
        }
    }

    /// Starts the bus under a supervisor on the current arbiter and returns its handle.
    pub fn start_supervised(ring_capacity: usize, channel_capacity: usize) -> BroadcasterHandle {
        let addr = Supervisor::start(move |_| Broadcaster::new(ring_capacity, channel_capacity));
        BroadcasterHandle {
            addr,
            uplink: Arc::default(),
        }
    }

    fn deliver(&mut self, event: &Arc<Event>) {
        let mut closed = Vec::new();
        for (id, sub) in &mut self.subscribers {
            if !sub.filter.matches(&event.kind) || (!event.local && event.id <= sub.skip_through) {
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
        if let Some(cursor) = self.cluster_cursor {
            return self.cluster_replay_since(since, cursor);
        }
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

    /// Replay in a cluster: ids are stream sequences; local-only events are never replayed.
    fn cluster_replay_since(&self, since: u64, cursor: u64) -> Replay {
        let global = || self.ring.iter().filter(|e| !e.local);
        if since >= cursor {
            return Replay::Events(Vec::new());
        }
        let oldest = global().next().map_or(cursor + 1, |e| e.id);
        let then: Vec<_> = global().filter(|e| e.id > since).cloned().collect();
        if since + 1 >= oldest {
            Replay::Events(then)
        } else {
            Replay::Fetch {
                after: since,
                upto: oldest - 1,
                then,
            }
        }
    }

    fn push(&mut self, event: &Arc<Event>) {
        self.published += 1;
        if self.ring.len() == self.capacity {
            self.ring.pop_front();
        }
        self.ring.push_back(Arc::clone(event));
        self.deliver(event);
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
    /// A cluster master delivering to its own clients only (see [`Event::local`]).
    pub local: bool,
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
            local: msg.local,
            own: true,
        });
        self.next_id += 1;
        self.push(&event);
        MessageResult(event)
    }
}

/// In a cluster: deliver an event read from the cluster's stream, its id being its stream
/// sequence. An id at or below the cursor was delivered already and is dropped (so a consumer
/// that resumes after an outage delivers each event once); the reply says whether it was new.
#[derive(Message)]
#[rtype(result = "bool")]
struct DeliverGlobal(Arc<Event>);

impl Handler<DeliverGlobal> for Broadcaster {
    type Result = bool;

    fn handle(&mut self, msg: DeliverGlobal, _ctx: &mut Self::Context) -> bool {
        let cursor = self.cluster_cursor.unwrap_or(0);
        if msg.0.id <= cursor {
            return false;
        }
        self.cluster_cursor = Some(msg.0.id);
        self.push(&msg.0);
        true
    }
}

/// Switches the bus to cluster mode (or resets its cursor, when the cluster's stream was
/// recreated): events arrive with their ids through [`DeliverGlobal`], after `cursor`.
#[derive(Message)]
#[rtype(result = "()")]
struct SetClusterCursor(u64);

impl Handler<SetClusterCursor> for Broadcaster {
    type Result = ();

    fn handle(&mut self, msg: SetClusterCursor, _ctx: &mut Self::Context) {
        if self.cluster_cursor.is_some_and(|c| c > msg.0) {
            // The stream went back: earlier ids mean nothing any more.
            self.ring.retain(|e| e.local);
        }
        self.cluster_cursor = Some(msg.0);
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
        let keep = |events: Vec<Arc<Event>>| {
            events
                .into_iter()
                .filter(|e| msg.filter.matches(&e.kind))
                .collect()
        };
        let replay = msg.since.map(|since| match self.replay_since(since) {
            Replay::Events(events) => Replay::Events(keep(events)),
            Replay::Gap => Replay::Gap,
            Replay::Fetch { after, upto, then } => Replay::Fetch {
                after,
                upto,
                then: keep(then),
            },
        });
        let skip_through = match (self.cluster_cursor, msg.since) {
            (Some(cursor), Some(since)) if since > cursor => since,
            _ => 0,
        };
        self.subscribers.insert(
            id,
            Subscriber {
                filter: msg.filter,
                tx,
                missed: 0,
                skip_through,
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
            last_id: self
                .cluster_cursor
                .unwrap_or_else(|| self.next_id.saturating_sub(1)),
            restarts: self.restarts,
        })
    }
}

/// Where a cluster master sends what is published, instead of numbering it itself: the
/// cluster's stream (`src/cluster/` in the master). [`Uplink::submit`] queues an event in
/// publication order; the receiver yields it once it has its id — the stream sequence, or, when
/// the stream cannot take it, a local-only event ([`BroadcasterHandle::publish_local`]). The
/// event reaches this master's subscribers through [`BroadcasterHandle::deliver_global`] (or as
/// the local-only event), never twice.
pub trait Uplink: Send + Sync + 'static {
    fn submit(
        &self,
        kind: String,
        payload: serde_json::Value,
    ) -> tokio::sync::oneshot::Receiver<Arc<Event>>;
}

/// Typed handle to the [`Broadcaster`]. Cheap to clone; the only way the rest of the master talks
/// to the bus.
#[derive(Clone)]
pub struct BroadcasterHandle {
    addr: Addr<Broadcaster>,
    /// Set once when the master joins a cluster ([`BroadcasterHandle::join_cluster`]).
    uplink: Arc<std::sync::OnceLock<Arc<dyn Uplink>>>,
}

impl BroadcasterHandle {
    /// Publishes an event and waits for its id. Use [`BroadcasterHandle::emit`] where the caller
    /// does not need the id.
    pub async fn publish(
        &self,
        kind: impl Into<String>,
        payload: serde_json::Value,
    ) -> Result<Arc<Event>, ActorError> {
        if let Some(uplink) = self.uplink.get() {
            let rx = uplink.submit(kind.into(), payload);
            return match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
                Ok(Ok(event)) => Ok(event),
                Ok(Err(_)) => Err(MailboxError::Closed.into()),
                Err(_) => Err(MailboxError::Timeout.into()),
            };
        }
        let msg = Publish {
            kind: kind.into(),
            payload,
            local: false,
        };
        Ok(self.addr.send(msg).timeout(REQUEST_TIMEOUT).await?)
    }

    /// Numbers and delivers an event on this master only, marked `local` (a cluster master whose
    /// stream is unreachable).
    pub async fn publish_local(
        &self,
        kind: impl Into<String>,
        payload: serde_json::Value,
    ) -> Result<Arc<Event>, ActorError> {
        let msg = Publish {
            kind: kind.into(),
            payload,
            local: true,
        };
        Ok(self.addr.send(msg).timeout(REQUEST_TIMEOUT).await?)
    }

    /// Joins a cluster: from now on publications go through `uplink`, and events are delivered
    /// when they come back from the cluster's stream, after sequence `cursor`. Once only; a
    /// second call is refused.
    pub async fn join_cluster(
        &self,
        uplink: Arc<dyn Uplink>,
        cursor: u64,
    ) -> Result<(), ActorError> {
        self.addr
            .send(SetClusterCursor(cursor))
            .timeout(REQUEST_TIMEOUT)
            .await?;
        self.uplink
            .set(uplink)
            .map_err(|_| MailboxError::Closed.into())
    }

    /// Resets the cluster cursor (the stream was recreated with lower sequences).
    pub async fn reset_cluster_cursor(&self, cursor: u64) -> Result<(), ActorError> {
        Ok(self
            .addr
            .send(SetClusterCursor(cursor))
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    /// Delivers an event read from the cluster's stream (see [`Uplink`]); false when it was
    /// delivered already.
    pub async fn deliver_global(&self, event: Arc<Event>) -> Result<bool, ActorError> {
        Ok(self
            .addr
            .send(DeliverGlobal(event))
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    /// Fire-and-forget publication: a state change has already been committed and its event must
    /// not hold up the request that made it. If the mailbox is full the event is lost and logged.
    pub fn emit(&self, kind: impl Into<String>, payload: serde_json::Value) {
        let kind = kind.into();
        if let Some(uplink) = self.uplink.get() {
            // Queued in order; nobody waits for the id.
            drop(uplink.submit(kind, payload));
            return;
        }
        if let Err(err) = self.addr.try_send(Publish {
            kind: kind.clone(),
            payload,
            local: false,
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
