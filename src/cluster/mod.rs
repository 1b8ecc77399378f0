//! Several masters: events through a NATS JetStream stream (`cluster.*`, `docs/ha.md`).
//!
//! With `cluster.nats_url` set, the master's [`Broadcaster`](contextbay_actors::Broadcaster)
//! stops numbering events itself. Every publication goes, in order, to one publisher task that
//! puts it on the stream (`contextbay.events.<kind>`) and waits for the acknowledgement: the
//! stream sequence is the event's id on every master. A consumer task per master reads the
//! stream in order from the last sequence it delivered and hands each event to the broadcaster,
//! which stays the only fan-out to WebSocket clients (and drops a sequence it has delivered
//! already, so a consumer resuming after an outage delivers each event once).
//!
//! While NATS is unreachable (or does not acknowledge within `cluster.publish_timeout_ms`), an
//! event is delivered to this master's own clients only, marked `"local": true`, with an id from
//! the master's own range; it is not put on the stream later. `/api/health` and
//! `/api/system/info` report the degraded state; the consumer resumes from its last sequence when
//! NATS is back.

pub mod nodes;
mod streams;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer, stream};
use contextbay_actors::{BroadcasterHandle, Event, Uplink};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::config::ClusterConfig;

/// Cache invalidations: `contextbay.invalidate.<cache>`, the payload the writing master's id.
const INVALIDATE: &str = "contextbay.invalidate";
/// Subjects of the event stream: `contextbay.events.<kind>`.
const EVENT_SUBJECTS: &str = "contextbay.events.>";
/// At most this many events are replayed from the stream to one resuming client; further back,
/// the client gets the gap signal and resynchronises from current state.
pub const MAX_REPLAY: u64 = 10_000;
/// How long reading a replay from the stream may take.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the consumer checks that its NATS connection is up.
const CONNECTION_CHECK: Duration = Duration::from_millis(250);
/// Pause before the consumer reconnects after an error.
const CONSUMER_RETRY: Duration = Duration::from_millis(500);
/// How long the consumer may receive nothing while the stream holds events it has not read
/// before it is recreated from its cursor. async-nats's ordered consumer notices a pull request
/// lost by a restarting NATS server only after missing 15 s heartbeats; this check makes
/// resynchronising after an outage take about this long instead.
const STALL_CHECK: Duration = Duration::from_secs(2);

/// An event as it travels on the stream.
#[derive(Serialize, Deserialize)]
struct Wire {
    origin: String,
    kind: String,
    ts_ms: i64,
    payload: serde_json::Value,
}

/// The cluster membership of this master. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    master_id: String,
    client: async_nats::Client,
    js: jetstream::Context,
    config: ClusterConfig,
    bus: BroadcasterHandle,
    /// The consumer holds a live subscription to the stream.
    consuming: AtomicBool,
    /// The consumer has aligned the bus's cursor with the stream once (at start the stream may
    /// be unreachable: the cursor is set when it is first reached, so history is not replayed).
    synced: AtomicBool,
    local_only: AtomicU64,
    last_error: std::sync::Mutex<Option<String>>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

/// What `/api/health` and `/api/system/info` report about the cluster.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClusterStatus {
    pub master_id: String,
    /// `connected` or `disconnected` (the NATS connection).
    pub nats: &'static str,
    /// The master reads the event stream.
    pub consuming: bool,
    /// NATS is unreachable or the stream is not read: events published here reach this
    /// master's clients only (marked `local`).
    pub degraded: bool,
    /// Events delivered locally only since start.
    pub local_only_events: u64,
    pub last_error: Option<String>,
}

/// Why a replay from the stream could not be served: the client must resynchronise.
#[derive(Debug)]
pub struct Gap;

impl Cluster {
    /// Connects to NATS (retrying in the background when it is not reachable yet), joins the bus
    /// to the cluster and starts the publisher and consumer tasks.
    pub async fn start(
        config: &crate::Config,
        bus: BroadcasterHandle,
        store: &crate::store::Store,
    ) -> anyhow::Result<Self> {
        let cc = config.cluster.clone();
        let master_id = master_id(config)?;
        let urls = cc
            .nats_url
            .split(',')
            .map(|u| u.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .context("cluster.nats_url")?;
        let client = async_nats::ConnectOptions::new()
            .name(format!("contextbay-master-{master_id}"))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(2))
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(100 * u64::try_from(attempts.min(10)).unwrap_or(10))
            })
            .connect(urls)
            .await
            .context("cluster.nats_url: connecting to NATS")?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(Duration::from_millis(cc.publish_timeout_ms));
        let inner = Arc::new(Inner {
            master_id,
            client,
            js,
            config: cc,
            bus: bus.clone(),
            consuming: AtomicBool::new(false),
            synced: AtomicBool::new(false),
            local_only: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(None),
            tasks: std::sync::Mutex::new(Vec::new()),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        // The connection is made in the background; give it a moment.
        for _ in 0..30 {
            if inner.client.connection_state() == async_nats::connection::State::Connected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Align with the stream now when it is reachable, so nothing published from here on is
        // missed by this master's clients; otherwise the consumer does it when NATS comes.
        let cursor = match tokio::time::timeout(Duration::from_secs(3), inner.stream()).await {
            Ok(Ok(stream)) => {
                inner.synced.store(true, Ordering::SeqCst);
                stream.cached_info().state.last_sequence
            }
            Ok(Err(err)) => {
                inner.note_error(format!("{err:#}"));
                0
            }
            Err(_) => {
                inner.note_error("NATS not reachable at start-up".to_owned());
                0
            }
        };
        bus.join_cluster(Arc::new(Publisher { tx }), cursor)
            .await
            .context("joining the event bus to the cluster")?;
        let publisher = tokio::spawn(publish_loop(Arc::clone(&inner), rx));
        let consumer = tokio::spawn(consume_loop(Arc::clone(&inner)));
        // Cache invalidations: this master's go out, the others' come in.
        let (announce, announced) = mpsc::unbounded_channel();
        store.announce_invalidations(&announce);
        let incoming = inner
            .client
            .subscribe(format!("{INVALIDATE}.*"))
            .await
            .context("subscribing to cache invalidations")?;
        let announcer = tokio::spawn(announce_loop(Arc::clone(&inner), announced));
        let listener = tokio::spawn(invalidation_loop(
            Arc::clone(&inner),
            store.clone(),
            incoming,
        ));
        if let Ok(mut tasks) = inner.tasks.lock() {
            tasks.extend([publisher, consumer, announcer, listener]);
        }
        tracing::info!(master_id = %inner.master_id, cursor, "joined the cluster");
        Ok(Self { inner })
    }

    pub fn master_id(&self) -> &str {
        &self.inner.master_id
    }

    pub fn status(&self) -> ClusterStatus {
        let connected =
            self.inner.client.connection_state() == async_nats::connection::State::Connected;
        let consuming = self.inner.consuming.load(Ordering::SeqCst);
        ClusterStatus {
            master_id: self.inner.master_id.clone(),
            nats: if connected {
                "connected"
            } else {
                "disconnected"
            },
            consuming,
            degraded: !(connected && consuming),
            local_only_events: self.inner.local_only.load(Ordering::SeqCst),
            last_error: self.inner.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }

    /// Whether `since` is an id the stream has assigned (a local-only id, or one from a stream
    /// that was since recreated, is not): otherwise the client gets the gap signal.
    pub async fn since_known(&self, since: u64) -> bool {
        match self.inner.stream().await {
            Ok(stream) => since <= stream.cached_info().state.last_sequence,
            // Unreachable: what this master delivered is all it can vouch for.
            Err(_) => self
                .inner
                .bus
                .stats()
                .await
                .is_ok_and(|s| since <= s.last_id),
        }
    }

    /// The events `after+1..=upto` from the stream, in order, for a resuming client; [`Gap`]
    /// when some of them are no longer kept (or too many, or the stream is unreachable).
    pub async fn replay(&self, after: u64, upto: u64) -> Result<Vec<Arc<Event>>, Gap> {
        if upto <= after {
            return Ok(Vec::new());
        }
        if upto - after > MAX_REPLAY {
            return Err(Gap);
        }
        match tokio::time::timeout(REPLAY_TIMEOUT, self.read_range(after, upto)).await {
            Ok(Ok(events)) => Ok(events),
            Ok(Err(err)) => {
                tracing::warn!("replaying events from the stream: {err:#}");
                Err(Gap)
            }
            Err(_) => {
                tracing::warn!("replaying events from the stream timed out");
                Err(Gap)
            }
        }
    }

    async fn read_range(&self, after: u64, upto: u64) -> anyhow::Result<Vec<Arc<Event>>> {
        let stream = self.inner.stream().await?;
        if stream.cached_info().state.first_sequence > after + 1 {
            anyhow::bail!("the stream no longer keeps event {}", after + 1);
        }
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: after + 1,
                },
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        let mut out = Vec::new();
        let mut expected = after + 1;
        while let Some(message) = messages.next().await {
            let message = message?;
            let seq = message.info().map_err(anyhow::Error::msg)?.stream_sequence;
            if seq != expected {
                anyhow::bail!("event {expected} is no longer in the stream");
            }
            expected += 1;
            if let Some(event) = self.inner.decode(seq, &message.payload) {
                out.push(event);
            }
            if seq >= upto {
                break;
            }
        }
        Ok(out)
    }

    /// Ends the publisher and consumer tasks (the master is stopping).
    pub fn stop(&self) {
        if let Ok(mut tasks) = self.inner.tasks.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }
}

impl Inner {
    fn note_error(&self, err: String) {
        tracing::warn!("cluster: {err}");
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(err);
        }
    }

    async fn stream(&self) -> anyhow::Result<stream::Stream> {
        if self.client.connection_state() != async_nats::connection::State::Connected {
            anyhow::bail!("NATS is not connected");
        }
        let stream = self
            .js
            .get_or_create_stream(stream::Config {
                name: self.config.stream.clone(),
                subjects: vec![EVENT_SUBJECTS.to_owned()],
                max_age: Duration::from_secs(self.config.max_age_secs),
                max_messages: self.config.max_events,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .with_context(|| format!("opening the JetStream stream {}", self.config.stream))?;
        Ok(stream)
    }

    fn decode(&self, seq: u64, payload: &[u8]) -> Option<Arc<Event>> {
        match serde_json::from_slice::<Wire>(payload) {
            Ok(w) => Some(Arc::new(Event {
                id: seq,
                ts: contextbay_actors::rfc3339_from_millis(w.ts_ms),
                ts_ms: w.ts_ms,
                own: w.origin == self.master_id,
                kind: w.kind,
                payload: w.payload,
                local: false,
            })),
            Err(err) => {
                tracing::warn!(seq, %err, "skipping an undecodable event in the stream");
                None
            }
        }
    }

    /// Puts one event on the stream and returns it with its sequence, or delivers it locally.
    async fn publish(&self, kind: String, payload: serde_json::Value) -> Option<Arc<Event>> {
        let ts_ms = contextbay_actors::now_ms();
        // Until the consumer has aligned with the stream, an event put there could fall before
        // the point it starts from: local-only.
        if self.synced.load(Ordering::SeqCst)
            && self.client.connection_state() == async_nats::connection::State::Connected
        {
            let wire = Wire {
                origin: self.master_id.clone(),
                kind,
                ts_ms,
                payload,
            };
            let body = serde_json::to_vec(&wire).unwrap_or_default();
            let subject = subject_of(&wire.kind);
            let sent = tokio::time::timeout(
                Duration::from_millis(self.config.publish_timeout_ms),
                async {
                    let ack = self.js.publish(subject, body.into()).await?;
                    anyhow::Ok(ack.await?)
                },
            )
            .await;
            match sent {
                Ok(Ok(ack)) => {
                    return Some(Arc::new(Event {
                        id: ack.sequence,
                        ts: contextbay_actors::rfc3339_from_millis(ts_ms),
                        ts_ms,
                        kind: wire.kind,
                        payload: wire.payload,
                        local: false,
                        own: true,
                    }));
                }
                Ok(Err(err)) => self.note_error(format!("publishing an event: {err:#}")),
                Err(_) => self.note_error("publishing an event: no acknowledgement".to_owned()),
            }
            return self.local(wire.kind, wire.payload).await;
        }
        self.local(kind, payload).await
    }

    async fn local(&self, kind: String, payload: serde_json::Value) -> Option<Arc<Event>> {
        self.local_only.fetch_add(1, Ordering::SeqCst);
        match self.bus.publish_local(kind, payload).await {
            Ok(event) => Some(event),
            Err(err) => {
                tracing::error!(%err, "delivering an event locally");
                None
            }
        }
    }

    /// Reads the stream from the bus's cursor until it fails.
    async fn consume(&self) -> anyhow::Result<()> {
        let mut stream = self.stream().await?;
        let last = stream.cached_info().state.last_sequence;
        let mut cursor = self.bus.stats().await?.last_id;
        if !self.synced.load(Ordering::SeqCst) || last < cursor {
            if last < cursor {
                tracing::warn!(last, cursor, "the event stream was recreated; ids restart");
            }
            self.bus.reset_cluster_cursor(last).await?;
            self.synced.store(true, Ordering::SeqCst);
            cursor = last;
        }
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: cursor + 1,
                },
                ..Default::default()
            })
            .await?;
        let mut messages = consumer.messages().await?;
        self.consuming.store(true, Ordering::SeqCst);
        let mut check = tokio::time::interval(CONNECTION_CHECK);
        let mut stall_check = tokio::time::interval(STALL_CHECK);
        // The last stream sequence read (delivered or undecodable), and when.
        let mut read = cursor;
        let mut last_read = tokio::time::Instant::now();
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                _ = check.tick() => {
                    // A lost connection ends this consumer: a fresh one resumes from the
                    // cursor once NATS is back (rather than waiting for missed heartbeats).
                    if self.client.connection_state() != async_nats::connection::State::Connected {
                        anyhow::bail!("the NATS connection was lost");
                    }
                    continue;
                }
                _ = stall_check.tick() => {
                    if last_read.elapsed() >= STALL_CHECK {
                        let last = stream.info().await?.state.last_sequence;
                        if last > read {
                            anyhow::bail!(
                                "the consumer read nothing for {STALL_CHECK:?} while the stream \
                                 holds {} more events; recreating it",
                                last - read
                            );
                        }
                    }
                    continue;
                }
            };
            let Some(message) = message else { break };
            let message = message?;
            let seq = message.info().map_err(anyhow::Error::msg)?.stream_sequence;
            read = read.max(seq);
            last_read = tokio::time::Instant::now();
            if let Some(event) = self.decode(seq, &message.payload) {
                self.bus.deliver_global(event).await?;
            }
        }
        anyhow::bail!("the event stream's consumer ended")
    }
}

/// The bus's uplink: queues publications for the publisher task, in order.
struct Publisher {
    tx: mpsc::UnboundedSender<Queued>,
}

struct Queued {
    kind: String,
    payload: serde_json::Value,
    reply: oneshot::Sender<Arc<Event>>,
}

impl Uplink for Publisher {
    fn submit(&self, kind: String, payload: serde_json::Value) -> oneshot::Receiver<Arc<Event>> {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send(Queued {
                kind,
                payload,
                reply,
            })
            .is_err()
        {
            tracing::error!("the cluster publisher has stopped; an event was dropped");
        }
        rx
    }
}

async fn publish_loop(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Queued>) {
    while let Some(q) = rx.recv().await {
        if let Some(event) = inner.publish(q.kind, q.payload).await {
            // Nobody waiting (an `emit`) is fine.
            let _ = q.reply.send(event);
        }
    }
}

/// Tells the other masters which cache this one invalidated (core NATS, at most once: a master
/// that misses one, NATS being down, serves its entry until the cache's TTL).
async fn announce_loop(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<&'static str>) {
    while let Some(name) = rx.recv().await {
        if inner.client.connection_state() != async_nats::connection::State::Connected {
            continue;
        }
        let subject = format!("{INVALIDATE}.{name}");
        let sent = inner
            .client
            .publish(subject, inner.master_id.clone().into())
            .await;
        if let Err(err) = sent {
            inner.note_error(format!("announcing a cache invalidation: {err}"));
            continue;
        }
        if let Err(err) = inner.client.flush().await {
            inner.note_error(format!("announcing a cache invalidation: {err}"));
        }
    }
}

/// Drops this master's cache when another master announces it wrote.
async fn invalidation_loop(
    inner: Arc<Inner>,
    store: crate::store::Store,
    mut incoming: async_nats::Subscriber,
) {
    while let Some(message) = incoming.next().await {
        if message.payload.as_ref() == inner.master_id.as_bytes() {
            continue;
        }
        let name = message
            .subject
            .as_str()
            .strip_prefix(INVALIDATE)
            .and_then(|n| n.strip_prefix('.'))
            .unwrap_or_default();
        if !store.invalidate_cache(name) {
            tracing::warn!(subject = %message.subject, "unknown cache invalidation ignored");
        }
    }
}

async fn consume_loop(inner: Arc<Inner>) {
    loop {
        if let Err(err) = inner.consume().await {
            inner.note_error(format!("reading the event stream: {err:#}"));
        }
        inner.consuming.store(false, Ordering::SeqCst);
        tokio::time::sleep(CONSUMER_RETRY).await;
    }
}

/// `contextbay.events.<kind>`; a kind that is not a valid subject goes to `….invalid`.
fn subject_of(kind: &str) -> String {
    let valid = !kind.is_empty()
        && kind.split('.').all(|t| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    if valid {
        format!("contextbay.events.{kind}")
    } else {
        "contextbay.events.invalid".to_owned()
    }
}

/// `cluster.master_id`, or the id kept in `<data_dir>/master-id` (generated on first start).
fn master_id(config: &crate::Config) -> anyhow::Result<String> {
    if !config.cluster.master_id.is_empty() {
        return Ok(config.cluster.master_id.clone());
    }
    let path = config.storage.data_dir.join("master-id");
    match std::fs::read_to_string(&path) {
        Ok(id) => {
            let id = id.trim().to_owned();
            let valid = (1..=64).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            anyhow::ensure!(valid, "{}: not a valid master id", path.display());
            Ok(id)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let id = format!("m-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            std::fs::create_dir_all(&config.storage.data_dir)
                .with_context(|| format!("creating {}", config.storage.data_dir.display()))?;
            std::fs::write(&path, format!("{id}\n"))
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(id)
        }
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_carry_the_kind_or_a_safe_name() {
        assert_eq!(subject_of("user.created"), "contextbay.events.user.created");
        assert_eq!(subject_of("a.*"), "contextbay.events.invalid");
        assert_eq!(subject_of("a..b"), "contextbay.events.invalid");
        assert_eq!(subject_of("a b"), "contextbay.events.invalid");
        assert_eq!(subject_of(""), "contextbay.events.invalid");
    }

    #[test]
    fn a_generated_master_id_is_kept_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config::for_test(dir.path());
        let first = master_id(&config).unwrap();
        assert_eq!(master_id(&config).unwrap(), first);
        std::fs::write(dir.path().join("master-id"), "bad id!").unwrap();
        assert!(master_id(&config).is_err());
    }
}
