//! [`TaskSupervisor`]: runs the master's background consumers (bus subscribers, pruners,
//! probers) and restarts one that panics or fails, with capped exponential backoff. A consumer
//! that returns `Ok(())` ended on purpose and is not restarted.
//!
//! [`Restarts`] counts restarts per actor or task name; it is shared with the actor registries and
//! exported as `contextbay_actor_restarts_total{actor}`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Restart counts by actor (or task) name.
#[derive(Clone, Default)]
pub struct Restarts(Arc<Mutex<BTreeMap<String, u64>>>);

impl Restarts {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one restart of `actor`.
    pub fn record(&self, actor: &str) {
        *lock(&self.0).entry(actor.to_owned()).or_default() += 1;
    }

    /// Every actor that was restarted at least once, with its count.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        lock(&self.0).iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// How often `actor` was restarted.
    pub fn get(&self, actor: &str) -> u64 {
        lock(&self.0).get(actor).copied().unwrap_or(0)
    }
}

/// What a supervised task is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Running,
    /// It failed and waits out its backoff before the next start.
    Backoff,
    /// It returned `Ok(())`: an intended end, not restarted.
    Finished,
    /// The supervisor was stopped.
    Stopped,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Backoff => "backoff",
            Self::Finished => "finished",
            Self::Stopped => "stopped",
        }
    }
}

/// One supervised task, as `/api/system/info` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskInfo {
    pub name: String,
    pub state: TaskState,
    pub restarts: u64,
    pub last_error: Option<String>,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Factory = Arc<dyn Fn() -> BoxFuture + Send + Sync>;

struct Entry {
    info: TaskInfo,
    handle: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Inner {
    tasks: Mutex<BTreeMap<String, Entry>>,
    /// Test-only: a panic waiting to be injected into a task's current run, by name.
    #[cfg(any(test, feature = "fault-injection"))]
    faults: Mutex<BTreeMap<String, Arc<tokio::sync::Notify>>>,
}

/// Supervises named background tasks. Cheap to clone; [`TaskSupervisor::stop_all`] ends them.
#[derive(Clone)]
pub struct TaskSupervisor {
    inner: Arc<Inner>,
    restarts: Restarts,
    backoff: (Duration, Duration),
}

/// A task that ran this long before failing starts again after the initial backoff.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

impl TaskSupervisor {
    pub fn new(restarts: Restarts) -> Self {
        Self {
            inner: Arc::default(),
            restarts,
            backoff: (Duration::from_millis(200), Duration::from_secs(30)),
        }
    }

    /// With a different backoff range (tests use a short one).
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff = (initial, max);
        self
    }

    /// Starts `factory()` under supervision as `name`. Each (re)start calls the factory again, so
    /// it should set up what it needs (a bus subscription, say) inside the future. A task with
    /// the same name replaces the old one.
    pub fn spawn<F, Fut>(&self, name: impl Into<String>, factory: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let name = name.into();
        let factory: Factory = Arc::new(move || Box::pin(factory()));
        let this = self.clone();
        let handle = tokio::spawn({
            let name = name.clone();
            async move { this.run(name, factory).await }
        });
        let mut tasks = lock(&self.inner.tasks);
        if let Some(old) = tasks.insert(
            name.clone(),
            Entry {
                info: TaskInfo {
                    name,
                    state: TaskState::Running,
                    restarts: 0,
                    last_error: None,
                },
                handle: Some(handle),
            },
        ) && let Some(h) = old.handle
        {
            h.abort();
        }
    }

    async fn run(self, name: String, factory: Factory) {
        let (initial, max) = self.backoff;
        let mut delay = initial;
        loop {
            self.update(&name, |i| i.state = TaskState::Running);
            let started = Instant::now();
            // The work runs in its own task, so a panic ends that task and not this loop; the
            // guard aborts it if this loop is aborted.
            let mut work = AbortOnDrop(tokio::spawn(self.with_faults(&name, factory())));
            let error = match work.join().await {
                Ok(Ok(())) => {
                    self.update(&name, |i| i.state = TaskState::Finished);
                    return;
                }
                Ok(Err(err)) => err,
                Err(err) if err.is_panic() => format!("panicked: {}", panic_message(err)),
                Err(_) => return,
            };
            tracing::warn!(task = %name, error = %error, "background task failed; restarting");
            self.restarts.record(&name);
            self.update(&name, |i| {
                i.state = TaskState::Backoff;
                i.restarts += 1;
                i.last_error = Some(error.clone());
            });
            if started.elapsed() >= HEALTHY_RUN {
                delay = initial;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(max);
        }
    }

    #[cfg(not(any(test, feature = "fault-injection")))]
    fn with_faults(&self, _name: &str, work: BoxFuture) -> BoxFuture {
        work
    }

    /// The run, panicking inside its own task when [`Self::inject_panic`] asks.
    #[cfg(any(test, feature = "fault-injection"))]
    fn with_faults(&self, name: &str, work: BoxFuture) -> BoxFuture {
        let fault = Arc::clone(lock(&self.inner.faults).entry(name.to_owned()).or_default());
        let name = name.to_owned();
        Box::pin(async move {
            tokio::select! {
                done = work => done,
                () = fault.notified() => {
                    #[allow(clippy::panic)]
                    {
                        panic!("injected fault in task {name}")
                    }
                }
            }
        })
    }

    /// Test-only: makes task `name`'s current (or next) run panic, as a bug in it would.
    #[doc(hidden)]
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn inject_panic(&self, name: &str) {
        lock(&self.inner.faults)
            .entry(name.to_owned())
            .or_default()
            .notify_one();
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut TaskInfo)) {
        if let Some(e) = lock(&self.inner.tasks).get_mut(name) {
            f(&mut e.info);
        }
    }

    /// Every supervised task with its state, by name.
    pub fn list(&self) -> Vec<TaskInfo> {
        lock(&self.inner.tasks)
            .values()
            .map(|e| e.info.clone())
            .collect()
    }

    /// Stops every task (they are aborted, not restarted).
    pub fn stop_all(&self) {
        for entry in lock(&self.inner.tasks).values_mut() {
            if let Some(h) = entry.handle.take() {
                h.abort();
            }
            entry.info.state = TaskState::Stopped;
        }
    }
}

struct AbortOnDrop(JoinHandle<Result<(), String>>);

impl AbortOnDrop {
    async fn join(&mut self) -> Result<Result<(), String>, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(err: tokio::task::JoinError) -> String {
    match err.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned()),
        Err(_) => "cancelled".to_owned(),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_restarted_and_counted() {
        let restarts = Restarts::new();
        let sup = TaskSupervisor::new(restarts.clone())
            .with_backoff(Duration::from_millis(5), Duration::from_millis(20));
        let runs = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&runs);
        sup.spawn("flaky", move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    panic!("boom {n}");
                }
                Ok(())
            }
        });
        for _ in 0..200 {
            if sup.list()[0].state == TaskState::Finished {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let info = &sup.list()[0];
        assert_eq!(info.state, TaskState::Finished);
        assert_eq!(info.restarts, 2);
        assert!(
            info.last_error
                .as_deref()
                .is_some_and(|e| e.contains("boom 1"))
        );
        assert_eq!(restarts.get("flaky"), 2);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_intended_end_is_not_restarted_and_stop_all_aborts() {
        let sup = TaskSupervisor::new(Restarts::new());
        sup.spawn("done", || async { Ok(()) });
        sup.spawn("forever", || async {
            std::future::pending::<()>().await;
            Ok(())
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let by_name = |n: &str| sup.list().into_iter().find(|i| i.name == n);
        assert_eq!(by_name("done").map(|i| i.state), Some(TaskState::Finished));
        assert_eq!(
            by_name("forever").map(|i| i.state),
            Some(TaskState::Running)
        );
        sup.stop_all();
        assert_eq!(
            by_name("forever").map(|i| i.state),
            Some(TaskState::Stopped)
        );
        assert_eq!(by_name("done").map(|i| i.restarts), Some(0));
    }

    #[tokio::test]
    async fn an_injected_panic_restarts_the_task_with_a_fresh_run() {
        let restarts = Restarts::new();
        let sup = TaskSupervisor::new(restarts.clone())
            .with_backoff(Duration::from_millis(5), Duration::from_millis(20));
        let runs = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&runs);
        sup.spawn("consumer", move || {
            counter.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Result<(), String>>()
        });
        sup.inject_panic("consumer");
        for _ in 0..200 {
            if runs.load(Ordering::SeqCst) == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let info = &sup.list()[0];
        assert_eq!((info.state, info.restarts), (TaskState::Running, 1));
        assert!(
            info.last_error
                .as_deref()
                .is_some_and(|e| e.contains("injected fault"))
        );
        assert_eq!(restarts.get("consumer"), 1);
    }
}
