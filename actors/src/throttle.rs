//! Attempt counting for brute-force protection (login) and rate limits (enrollment).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;

use crate::{ActorError, REQUEST_TIMEOUT};

/// How many attempts a key may make within a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: usize,
    pub window: Duration,
}

/// Counts attempts per key (`account:alice`, `ip:10.0.0.1`, `enroll-ip:…`) in sliding windows.
/// Owns every counter; nothing is persisted, so a restart forgets the counts (a restart costs an
/// attacker more than the counts it clears). Memory is bounded by `max_keys`: past it the key
/// whose newest attempt is oldest is forgotten first.
pub struct Throttle {
    attempts: HashMap<String, VecDeque<Instant>>,
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

    fn prune(&mut self, now: Instant, keep: Duration) {
        self.attempts.retain(|_, q| {
            while q.front().is_some_and(|t| now.duration_since(*t) > keep) {
                q.pop_front();
            }
            !q.is_empty()
        });
    }

    fn retry_after(&self, key: &str, limit: Limit, now: Instant) -> Option<Duration> {
        let q = self.attempts.get(key)?;
        let recent: Vec<&Instant> = q
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

/// Is the key over its limit? Replies with how long to wait, or `None` when the attempt may go on.
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

impl Throttle {
    fn record(&mut self, key: String, limit: Limit, now: Instant) {
        if !self.attempts.contains_key(&key) && self.attempts.len() >= self.max_keys {
            self.prune(now, limit.window);
            if self.attempts.len() >= self.max_keys
                && let Some(oldest) = self
                    .attempts
                    .iter()
                    .min_by_key(|(_, q)| q.back().copied())
                    .map(|(k, _)| k.clone())
            {
                self.attempts.remove(&oldest);
            }
        }
        let q = self.attempts.entry(key).or_default();
        q.push_back(now);
        // A key never needs more history than its limit.
        while q.len() > limit.max {
            q.pop_front();
        }
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
        let limit = Limit {
            max: 3,
            window: Duration::from_secs(60),
        };
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
}
