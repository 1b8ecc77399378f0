//! [`JobRegistry`]: long-running operations (a stack deploy, later AI tasks, backup runs,
//! sub-container deploys) as supervised jobs behind a typed [`JobsHandle`].
//!
//! Each job's work runs in its own spawned task, watched by a runner task that the registry owns:
//! the runner writes the job's row through the [`JobStore`] on every state change (and renews the
//! job's lease while it runs), publishes every change, and ends the job `succeeded`, `failed`
//! (an error, or a panic in the work: the registry carries on), `cancelled` (the work future is
//! aborted, so whatever it holds with `kill_on_drop` is killed) or `interrupted` (the master
//! stopped). The work does not depend on the request that started it.
//!
//! Limits: one active job per resource (a second submit is refused with the job holding it), and
//! at most [`JobLimits::max_running`] jobs in all and [`JobLimits::max_per_kind`] of one kind.
//!
//! A job has exactly one owning master: `owner` is the registry's per-process id, and
//! `lease_until` is renewed while the job runs. At start the registry marks every active job in
//! the store whose lease expired (its master is gone) `interrupted`, and it sweeps again every
//! lease period, so a job is never silently lost.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{oneshot, watch};

use crate::{ActorError, REQUEST_TIMEOUT, now_ms};

/// A boxed `Send` future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// Its master stopped (or vanished: its lease expired) before it ended.
    Interrupted,
}

impl JobState {
    pub const ALL: [Self; 6] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
        Self::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Ended: it will not change any more.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

/// One operation, as stored and as published.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    pub id: String,
    /// What it does, e.g. `stack.deploy`.
    pub kind: String,
    /// What it acts on, e.g. `stack:<id>`; one active job per resource.
    pub resource: String,
    pub state: JobState,
    /// 0 to 100, when the work can tell.
    pub progress: Option<u8>,
    /// The work's latest progress message.
    pub message: Option<String>,
    pub result: Option<Value>,
    pub error: Option<String>,
    /// The user who started it.
    pub created_by: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The master that runs it.
    pub owner: String,
    /// Unix milliseconds until which `owner` holds it; renewed while it runs.
    pub lease_until: i64,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub kind: String,
    pub resource: String,
    pub created_by: Option<String>,
}

/// How a job's work failed.
#[derive(Debug, Clone, PartialEq)]
pub struct JobFailure {
    pub message: String,
    /// What the work produced before failing (e.g. a command's output), kept as the job's result.
    pub result: Option<Value>,
}

impl From<String> for JobFailure {
    fn from(message: String) -> Self {
        Self {
            message,
            result: None,
        }
    }
}

/// The persistence and publication of jobs, implemented by the master (this crate has no SQL).
pub trait JobStore: Send + Sync + 'static {
    /// Writes the job's row (insert or replace), on every state change and lease renewal.
    fn save(&self, job: Job) -> BoxFuture<Result<(), String>>;
    /// Announces a change of state or progress (the master publishes `operation.update`).
    fn publish(&self, job: &Job);
    /// Marks every queued or running job not owned by `owner` whose lease ended before `now`
    /// `interrupted`, and returns them as they are now.
    fn interrupt_expired(&self, owner: String, now: i64) -> BoxFuture<Result<Vec<Job>, String>>;
}

/// Limits and timings of a registry.
#[derive(Debug, Clone)]
pub struct JobLimits {
    /// Active jobs in all.
    pub max_running: usize,
    /// Active jobs of one kind.
    pub max_per_kind: usize,
    /// How long a lease lasts; renewed every third of it.
    pub lease: Duration,
}

impl Default for JobLimits {
    fn default() -> Self {
        Self {
            max_running: 64,
            max_per_kind: 32,
            lease: Duration::from_secs(30),
        }
    }
}

/// Why a submit was refused.
#[derive(Debug)]
pub enum SubmitError {
    /// Another job is active on the resource.
    Busy(Box<Job>),
    /// Too many active jobs (in all, or of this kind when `kind` is set).
    Limit {
        kind: Option<String>,
        limit: usize,
    },
    Unavailable(ActorError),
}

impl std::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Busy(job) => write!(
                f,
                "operation {} ({}) is {} on {}",
                job.id,
                job.kind,
                job.state.as_str(),
                job.resource
            ),
            Self::Limit {
                kind: Some(kind),
                limit,
            } => write!(f, "{limit} '{kind}' operations are running already"),
            Self::Limit { kind: None, limit } => {
                write!(f, "{limit} operations are running already")
            }
            Self::Unavailable(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SubmitError {}

/// What a job's work gets: its id and a way to report progress.
#[derive(Clone)]
pub struct JobContext {
    job: Arc<Mutex<Job>>,
    store: Arc<dyn JobStore>,
}

impl JobContext {
    pub fn id(&self) -> String {
        lock(&self.job).id.clone()
    }

    /// Sets the job's progress (0–100, or `None` when unknown) and message, and publishes it.
    pub fn progress(&self, percent: Option<u8>, message: impl Into<String>) {
        let snapshot = {
            let mut job = lock(&self.job);
            job.progress = percent.map(|p| p.min(100));
            job.message = Some(message.into());
            job.clone()
        };
        self.store.publish(&snapshot);
    }
}

type Work = Box<dyn FnOnce(JobContext) -> BoxFuture<Result<Value, JobFailure>> + Send>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[derive(Debug, Clone, Copy)]
enum Stop {
    Cancel,
    Interrupt,
}

struct Active {
    job: Arc<Mutex<Job>>,
    stop: Option<oneshot::Sender<Stop>>,
    done: watch::Receiver<Option<Job>>,
    runner: Option<tokio::task::JoinHandle<()>>,
}

/// The registry of the jobs this master runs.
pub struct JobRegistry {
    owner: String,
    limits: JobLimits,
    store: Arc<dyn JobStore>,
    active: HashMap<String, Active>,
}

impl JobRegistry {
    fn snapshot(a: &Active) -> Job {
        lock(&a.job).clone()
    }

    fn live(&self) -> impl Iterator<Item = Job> + '_ {
        self.active
            .values()
            .map(Self::snapshot)
            .filter(|j| !j.state.is_terminal())
    }

    fn sweep(&self, ctx: &mut Context<Self>) {
        let store = Arc::clone(&self.store);
        let owner = self.owner.clone();
        ctx.spawn(
            async move {
                match store.interrupt_expired(owner, now_ms()).await {
                    Ok(jobs) => {
                        for job in &jobs {
                            tracing::warn!(job = %job.id, kind = %job.kind, owner = %job.owner,
                                "job's master is gone (lease expired): interrupted");
                            store.publish(job);
                        }
                    }
                    Err(err) => tracing::warn!(%err, "sweeping expired jobs"),
                }
            }
            .into_actor(self),
        );
    }
}

impl Actor for JobRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.sweep(ctx);
        ctx.run_interval(self.limits.lease, |this, ctx| this.sweep(ctx));
    }
}

struct Submit {
    spec: JobSpec,
    work: Work,
}

impl Message for Submit {
    type Result = Result<Job, SubmitError>;
}

impl Handler<Submit> for JobRegistry {
    type Result = Result<Job, SubmitError>;

    fn handle(&mut self, msg: Submit, ctx: &mut Self::Context) -> Self::Result {
        let live: Vec<Job> = self.live().collect();
        if let Some(busy) = live.iter().find(|j| j.resource == msg.spec.resource) {
            return Err(SubmitError::Busy(Box::new(busy.clone())));
        }
        if live.len() >= self.limits.max_running {
            return Err(SubmitError::Limit {
                kind: None,
                limit: self.limits.max_running,
            });
        }
        if live.iter().filter(|j| j.kind == msg.spec.kind).count() >= self.limits.max_per_kind {
            return Err(SubmitError::Limit {
                kind: Some(msg.spec.kind),
                limit: self.limits.max_per_kind,
            });
        }
        let now = now_ms();
        let job = Job {
            id: uuid::Uuid::new_v4().to_string(),
            kind: msg.spec.kind,
            resource: msg.spec.resource,
            state: JobState::Queued,
            progress: None,
            message: None,
            result: None,
            error: None,
            created_by: msg.spec.created_by,
            created_at: now,
            started_at: None,
            finished_at: None,
            owner: self.owner.clone(),
            lease_until: now + lease_ms(self.limits.lease),
        };
        let shared = Arc::new(Mutex::new(job.clone()));
        let (stop_tx, stop_rx) = oneshot::channel();
        let (done_tx, done_rx) = watch::channel(None);
        let runner = Runner {
            job: Arc::clone(&shared),
            store: Arc::clone(&self.store),
            lease: self.limits.lease,
            registry: ctx.address(),
            done: done_tx,
        };
        let handle = tokio::spawn(runner.run(msg.work, stop_rx));
        self.active.insert(
            job.id.clone(),
            Active {
                job: shared,
                stop: Some(stop_tx),
                done: done_rx,
                runner: Some(handle),
            },
        );
        Ok(job)
    }
}

fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 4)
}

/// Watches one job's work and keeps its row current.
struct Runner {
    job: Arc<Mutex<Job>>,
    store: Arc<dyn JobStore>,
    lease: Duration,
    registry: Addr<JobRegistry>,
    done: watch::Sender<Option<Job>>,
}

enum End {
    Ok(Value),
    Failed(JobFailure),
    Stopped(Stop),
}

impl Runner {
    /// Applies `change` to the job, then writes and publishes it.
    async fn update(&self, publish: bool, change: impl FnOnce(&mut Job)) -> Job {
        let snapshot = {
            let mut job = lock(&self.job);
            change(&mut job);
            job.clone()
        };
        if let Err(err) = self.store.save(snapshot.clone()).await {
            tracing::warn!(job = %snapshot.id, %err, "writing a job's row");
        }
        if publish {
            self.store.publish(&snapshot);
        }
        snapshot
    }

    async fn run(self, work: Work, mut stop: oneshot::Receiver<Stop>) {
        let lease = lease_ms(self.lease);
        self.update(true, |_| {}).await;
        let started = self
            .update(true, |j| {
                j.state = JobState::Running;
                j.started_at = Some(now_ms());
                j.lease_until = now_ms() + lease;
            })
            .await;
        let ctx = JobContext {
            job: Arc::clone(&self.job),
            store: Arc::clone(&self.store),
        };
        let mut handle = tokio::spawn(work(ctx));
        let mut renew = tokio::time::interval((self.lease / 3).max(Duration::from_millis(10)));
        renew.tick().await;
        let end = loop {
            tokio::select! {
                joined = &mut handle => break match joined {
                    Ok(Ok(value)) => End::Ok(value),
                    Ok(Err(failure)) => End::Failed(failure),
                    Err(err) if err.is_panic() => End::Failed(JobFailure::from(format!(
                        "panicked: {}",
                        panic_message(err.into_panic())
                    ))),
                    Err(_) => End::Failed(JobFailure::from("aborted".to_owned())),
                },
                why = &mut stop => {
                    handle.abort();
                    // Wait for the work to be dropped (and what it holds with kill_on_drop).
                    let _ = (&mut handle).await;
                    break End::Stopped(why.unwrap_or(Stop::Interrupt));
                }
                _ = renew.tick() => {
                    self.update(false, |j| j.lease_until = now_ms() + lease).await;
                }
            }
        };
        let finished = self
            .update(true, |j| {
                j.finished_at = Some(now_ms());
                match end {
                    End::Ok(value) => {
                        j.state = JobState::Succeeded;
                        j.result = Some(value);
                    }
                    End::Failed(failure) => {
                        j.state = JobState::Failed;
                        j.error = Some(failure.message);
                        j.result = failure.result;
                    }
                    End::Stopped(Stop::Cancel) => {
                        j.state = JobState::Cancelled;
                        j.error = Some("cancelled".into());
                    }
                    End::Stopped(Stop::Interrupt) => {
                        j.state = JobState::Interrupted;
                        j.error = Some("the master stopped while it ran".into());
                    }
                }
            })
            .await;
        tracing::debug!(job = %started.id, state = finished.state.as_str(), "job ended");
        let _ = self.done.send(Some(finished.clone()));
        self.registry.do_send(Finished(finished.id));
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[derive(Message)]
#[rtype(result = "()")]
struct Finished(String);

impl Handler<Finished> for JobRegistry {
    type Result = ();

    fn handle(&mut self, msg: Finished, _: &mut Self::Context) {
        self.active.remove(&msg.0);
    }
}

#[derive(Message)]
#[rtype(result = "Option<Job>")]
struct Get(String);

impl Handler<Get> for JobRegistry {
    type Result = Option<Job>;

    fn handle(&mut self, msg: Get, _: &mut Self::Context) -> Self::Result {
        self.active.get(&msg.0).map(Self::snapshot)
    }
}

#[derive(Message)]
#[rtype(result = "Vec<Job>")]
struct List;

impl Handler<List> for JobRegistry {
    type Result = MessageResult<List>;

    fn handle(&mut self, _: List, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.live().collect())
    }
}

/// Stops a job (`Stop`) or watches it (`None`): the receiver gets the job when it has ended.
#[derive(Message)]
#[rtype(result = "Option<watch::Receiver<Option<Job>>>")]
struct Watch(String, Option<Stop>);

impl Handler<Watch> for JobRegistry {
    type Result = Option<watch::Receiver<Option<Job>>>;

    fn handle(&mut self, msg: Watch, _: &mut Self::Context) -> Self::Result {
        let a = self.active.get_mut(&msg.0)?;
        if let Some(why) = msg.1
            && let Some(stop) = a.stop.take()
        {
            let _ = stop.send(why);
        }
        Some(a.done.clone())
    }
}

/// Interrupts every job and hands back their runners.
#[derive(Message)]
#[rtype(result = "Vec<tokio::task::JoinHandle<()>>")]
struct Shutdown;

impl Handler<Shutdown> for JobRegistry {
    type Result = MessageResult<Shutdown>;

    fn handle(&mut self, _: Shutdown, _: &mut Self::Context) -> Self::Result {
        let mut runners = Vec::new();
        for a in self.active.values_mut() {
            if let Some(stop) = a.stop.take() {
                let _ = stop.send(Stop::Interrupt);
            }
            runners.extend(a.runner.take());
        }
        MessageResult(runners)
    }
}

/// The typed handle of the [`JobRegistry`]. Cheap to clone.
#[derive(Clone)]
pub struct JobsHandle {
    addr: Addr<JobRegistry>,
    owner: Arc<str>,
}

impl JobsHandle {
    /// Starts the registry as master `owner` on an arbiter of its own, after marking the jobs of
    /// masters whose lease expired `interrupted`.
    pub async fn start(owner: String, limits: JobLimits, store: Arc<dyn JobStore>) -> Self {
        match store.interrupt_expired(owner.clone(), now_ms()).await {
            Ok(jobs) => {
                for job in &jobs {
                    tracing::warn!(job = %job.id, kind = %job.kind,
                        "job of a previous master interrupted");
                    store.publish(job);
                }
            }
            Err(err) => tracing::warn!(%err, "interrupting the jobs of previous masters"),
        }
        let registry = JobRegistry {
            owner: owner.clone(),
            limits,
            store,
            active: HashMap::new(),
        };
        // On a thread of its own: the jobs' work (spawned from the registry) must not compete
        // with the request path and the fleet's actors, whatever it blocks on.
        let arbiter = Arbiter::new();
        let addr = JobRegistry::start_in_arbiter(&arbiter.handle(), |_| registry);
        Self {
            addr,
            owner: owner.into(),
        }
    }

    /// This master's id, the `owner` of the jobs it runs.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Starts `work` as a new job; answers at once with the job, queued.
    pub async fn submit<F, Fut>(&self, spec: JobSpec, work: F) -> Result<Job, SubmitError>
    where
        F: FnOnce(JobContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Value, JobFailure>> + Send + 'static,
    {
        let work: Work = Box::new(move |ctx| Box::pin(work(ctx)));
        self.addr
            .send(Submit { spec, work })
            .timeout(REQUEST_TIMEOUT)
            .await
            .map_err(|e| SubmitError::Unavailable(e.into()))?
    }

    /// The job `id` if this master runs it (or it ended a moment ago).
    pub async fn get(&self, id: &str) -> Result<Option<Job>, ActorError> {
        Ok(self
            .addr
            .send(Get(id.to_owned()))
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    /// The jobs this master runs.
    pub async fn active(&self) -> Result<Vec<Job>, ActorError> {
        Ok(self.addr.send(List).timeout(REQUEST_TIMEOUT).await?)
    }

    /// Cancels the job `id` and waits (up to `wait`) for it to end. `None`: this master does not
    /// run it. The job returned is the ended one, or the one still ending after `wait`.
    pub async fn cancel(&self, id: &str, wait: Duration) -> Result<Option<Job>, ActorError> {
        self.watch(id, Some(Stop::Cancel), wait).await
    }

    /// Waits (up to `wait`) for the job `id` to end. `None`: this master does not run it.
    pub async fn wait(&self, id: &str, wait: Duration) -> Result<Option<Job>, ActorError> {
        self.watch(id, None, wait).await
    }

    async fn watch(
        &self,
        id: &str,
        stop: Option<Stop>,
        wait: Duration,
    ) -> Result<Option<Job>, ActorError> {
        let Some(mut rx) = self
            .addr
            .send(Watch(id.to_owned(), stop))
            .timeout(REQUEST_TIMEOUT)
            .await?
        else {
            return Ok(None);
        };
        // The guard `wait_for` answers is dropped before the next await, so that waiting can
        // happen inside a job (whose future must be `Send`).
        let ended = match tokio::time::timeout(wait, rx.wait_for(Option::is_some)).await {
            Ok(Ok(job)) => job.clone(),
            _ => None,
        };
        if let Some(job) = ended {
            return Ok(Some(job));
        }
        self.get(id).await
    }

    /// Interrupts every running job and waits (up to `wait`) for their rows to be written.
    pub async fn shutdown(&self, wait: Duration) {
        let runners = match self.addr.send(Shutdown).timeout(REQUEST_TIMEOUT).await {
            Ok(r) => r,
            Err(err) => {
                tracing::warn!(%err, "job registry did not answer the shutdown");
                return;
            }
        };
        let all = futures_util::future::join_all(runners);
        if tokio::time::timeout(wait, all).await.is_err() {
            tracing::warn!("jobs still ending after the shutdown wait");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps every row written and every job published.
    #[derive(Default)]
    struct Memory {
        rows: Mutex<HashMap<String, Job>>,
        published: Mutex<Vec<Job>>,
    }

    impl JobStore for Memory {
        fn save(&self, job: Job) -> BoxFuture<Result<(), String>> {
            lock(&self.rows).insert(job.id.clone(), job);
            Box::pin(async { Ok(()) })
        }
        fn publish(&self, job: &Job) {
            lock(&self.published).push(job.clone());
        }
        fn interrupt_expired(
            &self,
            owner: String,
            now: i64,
        ) -> BoxFuture<Result<Vec<Job>, String>> {
            let mut out = Vec::new();
            for job in lock(&self.rows).values_mut() {
                if !job.state.is_terminal() && job.owner != owner && job.lease_until < now {
                    job.state = JobState::Interrupted;
                    out.push(job.clone());
                }
            }
            Box::pin(async move { Ok(out) })
        }
    }

    fn spec(resource: &str) -> JobSpec {
        JobSpec {
            kind: "test.work".into(),
            resource: resource.into(),
            created_by: Some("alice".into()),
        }
    }

    async fn start(memory: &Arc<Memory>, limits: JobLimits) -> JobsHandle {
        JobsHandle::start(
            "master-1".into(),
            limits,
            Arc::clone(memory) as Arc<dyn JobStore>,
        )
        .await
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[actix::test]
    async fn runs_work_and_writes_every_state() {
        let memory = Arc::new(Memory::default());
        let jobs = start(&memory, JobLimits::default()).await;
        let job = jobs
            .submit(spec("stack:a"), |ctx| async move {
                ctx.progress(Some(50), "half way");
                Ok(serde_json::json!({"done": true}))
            })
            .await
            .unwrap();
        assert_eq!(job.state, JobState::Queued);
        assert_eq!(job.owner, "master-1");
        let ended = jobs.wait(&job.id, WAIT).await.unwrap().unwrap();
        assert_eq!(ended.state, JobState::Succeeded);
        assert_eq!(ended.result, Some(serde_json::json!({"done": true})));
        assert_eq!(ended.progress, Some(50));
        assert!(ended.finished_at.is_some() && ended.started_at.is_some());
        assert_eq!(lock(&memory.rows)[&job.id], ended);
        let states: Vec<JobState> = lock(&memory.published).iter().map(|j| j.state).collect();
        assert_eq!(
            states,
            [
                JobState::Queued,
                JobState::Running,
                JobState::Running,
                JobState::Succeeded
            ]
        );
    }

    #[actix::test]
    async fn one_active_job_per_resource_and_kind_limits() {
        let memory = Arc::new(Memory::default());
        let limits = JobLimits {
            max_per_kind: 2,
            ..JobLimits::default()
        };
        let jobs = start(&memory, limits).await;
        let (release, gate) = watch::channel(false);
        let slow = |gate: watch::Receiver<bool>| {
            move |_ctx: JobContext| async move {
                let mut gate = gate;
                let _ = gate.wait_for(|open| *open).await;
                Ok(Value::Null)
            }
        };
        let first = jobs
            .submit(spec("stack:a"), slow(gate.clone()))
            .await
            .unwrap();
        match jobs.submit(spec("stack:a"), slow(gate.clone())).await {
            Err(SubmitError::Busy(busy)) => assert_eq!(busy.id, first.id),
            other => panic!("expected busy, got {other:?}"),
        }
        jobs.submit(spec("stack:b"), slow(gate.clone()))
            .await
            .unwrap();
        match jobs.submit(spec("stack:c"), slow(gate.clone())).await {
            Err(SubmitError::Limit {
                kind: Some(k),
                limit: 2,
            }) => assert_eq!(k, "test.work"),
            other => panic!("expected the kind limit, got {other:?}"),
        }
        assert_eq!(jobs.active().await.unwrap().len(), 2);
        release.send(true).unwrap();
        jobs.wait(&first.id, WAIT).await.unwrap();
        // The resource is free as soon as its job has ended.
        jobs.submit(spec("stack:a"), slow(gate.clone()))
            .await
            .unwrap();
    }

    #[actix::test]
    async fn cancel_drops_the_work() {
        let memory = Arc::new(Memory::default());
        let jobs = start(&memory, JobLimits::default()).await;
        struct Flag(Arc<Mutex<bool>>);
        impl Drop for Flag {
            fn drop(&mut self) {
                *lock(&self.0) = true;
            }
        }
        let dropped = Arc::new(Mutex::new(false));
        let flag = Flag(Arc::clone(&dropped));
        let job = jobs
            .submit(spec("stack:a"), move |_ctx| async move {
                let _flag = flag;
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Value::Null)
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let ended = jobs.cancel(&job.id, WAIT).await.unwrap().unwrap();
        assert_eq!(ended.state, JobState::Cancelled);
        assert!(*lock(&dropped), "the work future was dropped");
        assert_eq!(lock(&memory.rows)[&job.id].state, JobState::Cancelled);
        assert!(jobs.cancel("nope", WAIT).await.unwrap().is_none());
    }

    #[actix::test]
    async fn a_panic_fails_the_job_and_the_registry_carries_on() {
        let memory = Arc::new(Memory::default());
        let jobs = start(&memory, JobLimits::default()).await;
        let job = jobs
            .submit(spec("stack:a"), |_ctx| async move {
                if true {
                    panic!("boom");
                }
                Ok(Value::Null)
            })
            .await
            .unwrap();
        let ended = jobs.wait(&job.id, WAIT).await.unwrap().unwrap();
        assert_eq!(ended.state, JobState::Failed);
        assert_eq!(ended.error.as_deref(), Some("panicked: boom"));
        let next = jobs
            .submit(spec("stack:a"), |_ctx| async move { Ok(Value::Bool(true)) })
            .await
            .unwrap();
        let ended = jobs.wait(&next.id, WAIT).await.unwrap().unwrap();
        assert_eq!(ended.state, JobState::Succeeded);
    }

    #[actix::test]
    async fn failures_keep_their_result() {
        let memory = Arc::new(Memory::default());
        let jobs = start(&memory, JobLimits::default()).await;
        let job = jobs
            .submit(spec("stack:a"), |_ctx| async move {
                Err(JobFailure {
                    message: "exit 1".into(),
                    result: Some(serde_json::json!({"exit_code": 1})),
                })
            })
            .await
            .unwrap();
        let ended = jobs.wait(&job.id, WAIT).await.unwrap().unwrap();
        assert_eq!(ended.state, JobState::Failed);
        assert_eq!(ended.error.as_deref(), Some("exit 1"));
        assert_eq!(ended.result, Some(serde_json::json!({"exit_code": 1})));
    }

    #[actix::test]
    async fn shutdown_interrupts_and_expired_leases_are_swept() {
        let memory = Arc::new(Memory::default());
        let limits = JobLimits {
            lease: Duration::from_millis(300),
            ..JobLimits::default()
        };
        let jobs = start(&memory, limits.clone()).await;
        let job = jobs
            .submit(spec("stack:a"), |_ctx| async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Value::Null)
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Another master's job whose lease ends soon.
        let orphan = Job {
            id: "orphan".into(),
            owner: "master-0".into(),
            state: JobState::Running,
            lease_until: now_ms() + 100,
            ..lock(&memory.rows)[&job.id].clone()
        };
        lock(&memory.rows).insert(orphan.id.clone(), orphan);
        // Our own job's lease is renewed meanwhile, so the sweep leaves it alone.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(lock(&memory.rows)["orphan"].state, JobState::Interrupted);
        assert_eq!(lock(&memory.rows)[&job.id].state, JobState::Running);
        assert!(lock(&memory.rows)[&job.id].lease_until > now_ms());
        jobs.shutdown(WAIT).await;
        assert_eq!(lock(&memory.rows)[&job.id].state, JobState::Interrupted);
    }
}
