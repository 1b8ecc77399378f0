//! Attempt counting for brute-force protection (login) and rate limits (enrollment).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;

use crate::{ActorError, REQUEST_TIMEOUT};

/// How many attempts a key may make within a sliding window, and whether repeated lock-outs
/// grow longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub window: Duration,
    /// With backoff, each time the key reaches its limit again (before it has been quiet for
    /// [`STRIKE_MEMORY`]) it stays blocked twice as long as the time before, up to this cap.
    pub backoff_cap: Option<Duration>,
}

impl Limit {
    /// `max` attempts per sliding `window`, no backoff.
    pub const fn new(max: usize, window: Duration) -> Self {
        Self {
            max,
            window,
            backoff_cap: None,
        }
    }

    /// The same limit, with lock-outs doubling up to `cap`.
    pub const fn with_backoff(self, cap: Duration) -> Self {
        Self {
            backoff_cap: Some(cap),
            ..self
        }
    }
}

/// How long a key remembers its lock-outs (strikes) once it has gone quiet.
pub const STRIKE_MEMORY: Duration = Duration::from_secs(24 * 3600);

/// The attempts and lock-outs of one key.
#[derive(Debug, Default)]
struct Entry {
    /// Attempts inside the window, oldest first; never more than the limit.
    recent: VecDeque<Instant>,
    /// Lock-outs so far (only counted for limits with backoff).
    strikes: u32,
    /// Set by a backoff lock-out: refused until then.
    blocked_until: Option<Instant>,
    /// The attempt that caused the current lock-out (so that refunding it lifts the lock-out).
    blocked_by: Option<Instant>,
    /// The last attempt counted (the window may have been cleared by a lock-out since).
    last: Option<Instant>,
}

impl Entry {
    fn newest(&self) -> Option<Instant> {
        self.last
    }
}

/// Counts attempts per key (`login-account:alice`, `login-ip:10.0.0.1`, `enroll-ip:…`) in
/// sliding windows, with optional backoff. Owns every counter; nothing is persisted, so a restart
/// forgets the counts (a restart costs an attacker more than the counts it clears). Memory is
/// bounded by `max_keys`: past it the key whose newest attempt is oldest is forgotten first.
pub struct Throttle {
    attempts: HashMap<String, Entry>,
    max_keys: usize,
}

impl Throttle {
    pub fn start(max_keys: usize) -> ThrottleHandle {
        let addr = Supervisor::start(move |_| Throttle {
            attempts: HashMap::new(),
            max_keys: max_keys.max(16),
        });
        ThrottleHandle { addr }
    }

    /// Forgets attempts older than `keep`, and keys with nothing left to remember.
    fn prune(&mut self, now: Instant, keep: Duration) {
        self.attempts.retain(|_, e| {
            let newest = e.newest();
            while e
                .recent
                .front()
                .is_some_and(|t| now.duration_since(*t) > keep)
            {
                e.recent.pop_front();
            }
            if e.blocked_until.is_some_and(|t| t <= now) {
                e.blocked_until = None;
                e.blocked_by = None;
            }
            let remembers_strikes =
                e.strikes > 0 && newest.is_some_and(|t| now.duration_since(t) < STRIKE_MEMORY);
            !e.recent.is_empty() || e.blocked_until.is_some() || remembers_strikes
        });
    }

    fn retry_after(&self, key: &str, limit: Limit, now: Instant) -> Option<Duration> {
        let e = self.attempts.get(key)?;
        if let Some(until) = e.blocked_until
            && until > now
        {
            return Some(until.duration_since(now).max(Duration::from_secs(1)));
        }
        let recent: Vec<&Instant> = e
            .recent
            .iter()
            .filter(|t| now.duration_since(**t) < limit.window)
            .collect();
        if recent.len() < limit.max {
            return None;
        }
        // Blocked until enough of the recent attempts leave the window.
        let index = recent.len() - limit.max;
        let free_at = *recent[index] + limit.window;
        Some(
            free_at
                .saturating_duration_since(now)
                .max(Duration::from_secs(1)),
        )
    }

    fn record(&mut self, key: String, limit: Limit, now: Instant) {
        if !self.attempts.contains_key(&key) && self.attempts.len() >= self.max_keys {
            self.prune(now, limit.window);
            if self.attempts.len() >= self.max_keys
                && let Some(oldest) = self
                    .attempts
                    .iter()
                    .min_by_key(|(_, e)| e.newest())
                    .map(|(k, _)| k.clone())
            {
                self.attempts.remove(&oldest);
            }
        }
        let e = self.attempts.entry(key).or_default();
        if e.newest()
            .is_some_and(|t| now.duration_since(t) >= STRIKE_MEMORY)
        {
            e.strikes = 0;
        }
        e.recent.push_back(now);
        e.last = Some(now);
        // A key never needs more history than its limit.
        while e.recent.len() > limit.max {
            e.recent.pop_front();
        }
        let full = e
            .recent
            .iter()
            .filter(|t| now.duration_since(**t) < limit.window)
            .count()
            >= limit.max;
        if let (true, Some(cap)) = (full, limit.backoff_cap) {
            // The first lock-out lasts one window (as without backoff); each further one twice
            // the previous.
            let factor = 1u32 << e.strikes.min(20);
            e.strikes = e.strikes.saturating_add(1);
            let block = limit
                .window
                .saturating_mul(factor)
                .min(cap.max(limit.window));
            e.blocked_until = Some(now + block);
            e.blocked_by = Some(now);
            // The block outlasts the window, so the attempts that led here have left it when the
            // block ends.
        }
    }

    /// Takes back one attempt from each key (an attempt that turned out to be legitimate).
    fn refund(&mut self, key: &str) {
        if let Some(e) = self.attempts.get_mut(key)
            && let Some(taken) = e.recent.pop_back()
            && e.blocked_by == Some(taken)
        {
            e.blocked_until = None;
            e.blocked_by = None;
            e.strikes = e.strikes.saturating_sub(1);
        }
    }
}

impl Actor for Throttle {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(Duration::from_secs(60), |this, _| {
            this.prune(Instant::now(), Duration::from_secs(3600));
        });
    }
}

impl Supervised for Throttle {}

/// Is any key over its limit? Replies with how long to wait, or `None` when the attempt may go
/// on. With `record`, the check and the counting are one step: of N attempts arriving at once,
/// at most the limit get through.
#[derive(Message)]
#[rtype(result = "Option<Duration>")]
struct Check {
    keys: Vec<(String, Limit)>,
    /// Count this attempt for every key when none is over its limit.
    record: bool,
}

impl Handler<Check> for Throttle {
    type Result = Option<Duration>;

    fn handle(&mut self, msg: Check, _ctx: &mut Self::Context) -> Self::Result {
        let now = Instant::now();
        let wait = msg
            .keys
            .iter()
            .filter_map(|(key, limit)| self.retry_after(key, *limit, now))
            .max();
        if wait.is_none() && msg.record {
            for (key, limit) in msg.keys {
                self.record(key, limit, now);
            }
        }
        wait
    }
}

/// Count one attempt for each key, unconditionally.
#[derive(Message)]
#[rtype(result = "()")]
struct Record {
    keys: Vec<(String, Limit)>,
}

impl Handler<Record> for Throttle {
    type Result = ();

    fn handle(&mut self, msg: Record, _ctx: &mut Self::Context) {
        let now = Instant::now();
        for (key, limit) in msg.keys {
            self.record(key, limit, now);
        }
    }
}

/// Take back the newest attempt of each key (a counted attempt that succeeded).
#[derive(Message)]
#[rtype(result = "()")]
struct Refund {
    keys: Vec<String>,
}

impl Handler<Refund> for Throttle {
    type Result = ();

    fn handle(&mut self, msg: Refund, _ctx: &mut Self::Context) {
        for key in msg.keys {
            self.refund(&key);
        }
    }
}

/// Forget a key (a successful login clears its account's failures).
#[derive(Message)]
#[rtype(result = "()")]
struct Clear {
    key: String,
}

impl Handler<Clear> for Throttle {
    type Result = ();

    fn handle(&mut self, msg: Clear, _ctx: &mut Self::Context) {
        self.attempts.remove(&msg.key);
    }
}

/// Typed handle to the [`Throttle`].
#[derive(Clone)]
pub struct ThrottleHandle {
    addr: Addr<Throttle>,
}

impl ThrottleHandle {
    /// `Some(wait)` when any key is over its limit. Does not count the attempt.
    pub async fn blocked(
        &self,
        keys: Vec<(String, Limit)>,
    ) -> Result<Option<Duration>, ActorError> {
        Ok(self
            .addr
            .send(Check {
                keys,
                record: false,
            })
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    /// Counts the attempt for every key unless one is over its limit; `Some(wait)` when refused.
    pub async fn attempt(
        &self,
        keys: Vec<(String, Limit)>,
    ) -> Result<Option<Duration>, ActorError> {
        Ok(self
            .addr
            .send(Check { keys, record: true })
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    /// Counts a failure for every key.
    pub async fn record(&self, keys: Vec<(String, Limit)>) -> Result<(), ActorError> {
        Ok(self
            .addr
            .send(Record { keys })
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    /// Takes back the newest counted attempt of each key.
    pub async fn refund(&self, keys: Vec<String>) -> Result<(), ActorError> {
        Ok(self
            .addr
            .send(Refund { keys })
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    pub async fn clear(&self, key: impl Into<String>) -> Result<(), ActorError> {
        Ok(self
            .addr
            .send(Clear { key: key.into() })
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix::test]
    async fn blocks_after_limit_and_frees_after_window() {
        tokio::time::pause();
        let t = Throttle::start(100);
        let limit = Limit::new(3, Duration::from_secs(60));
        let key = || vec![("k".to_owned(), limit)];
        for _ in 0..3 {
            assert_eq!(t.attempt(key()).await.unwrap(), None);
        }
        let wait = t.attempt(key()).await.unwrap().expect("blocked");
        assert!(wait <= Duration::from_secs(60) && wait >= Duration::from_secs(59));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(t.attempt(key()).await.unwrap(), None);
        t.clear("k").await.unwrap();
        assert_eq!(t.blocked(key()).await.unwrap(), None);
    }

    #[actix::test]
    async fn backoff_doubles_each_lock_out_up_to_the_cap() {
        tokio::time::pause();
        let t = Throttle::start(100);
        let window = Duration::from_secs(60);
        let limit = Limit::new(2, window).with_backoff(Duration::from_secs(200));
        let key = || vec![("k".to_owned(), limit)];
        for expected in [60u64, 120, 200, 200] {
            assert_eq!(t.attempt(key()).await.unwrap(), None);
            assert_eq!(t.attempt(key()).await.unwrap(), None);
            let wait = t.attempt(key()).await.unwrap().expect("blocked");
            assert_eq!(wait.as_secs(), expected);
            tokio::time::advance(wait + Duration::from_secs(1)).await;
        }
    }

    #[actix::test]
    async fn refund_takes_back_the_newest_attempt() {
        let t = Throttle::start(100);
        let limit = Limit::new(2, Duration::from_secs(60));
        let key = || vec![("k".to_owned(), limit)];
        assert_eq!(t.attempt(key()).await.unwrap(), None);
        t.refund(vec!["k".into()]).await.unwrap();
        assert_eq!(t.attempt(key()).await.unwrap(), None);
        assert_eq!(t.attempt(key()).await.unwrap(), None);
        assert!(t.attempt(key()).await.unwrap().is_some());

        // Refunding the attempt that caused a backoff lock-out lifts it.
        let limit = Limit::new(1, Duration::from_secs(60)).with_backoff(Duration::from_secs(600));
        let key = || vec![("b".to_owned(), limit)];
        assert_eq!(t.attempt(key()).await.unwrap(), None);
        assert!(t.blocked(key()).await.unwrap().is_some());
        t.refund(vec!["b".into()]).await.unwrap();
        assert_eq!(t.blocked(key()).await.unwrap(), None);
    }
}
