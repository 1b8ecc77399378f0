//! The `SessionRegistry`: every open WebSocket session (`/api/ws` events, container logs,
//! container exec) registers here with who it serves, and the registry pushes what concerns it:
//! its login session or API key was revoked, its user changed (role, password, disabled, deleted),
//! the server stops. It also answers how many sessions are open, by kind.
//!
//! A session is a task with a mailbox (the receiving end of an unbounded channel of
//! [`SessionCommand`]s, a couple of bytes each): it owns its socket and is the only writer to it,
//! and handles its commands in order with everything else it does. Registering hands out a
//! [`SessionTicket`] that deregisters when dropped, so every exit path deregisters; a session
//! that died without deregistering (its mailbox closed) is noticed when the registry next
//! writes to it and by a periodic sweep. This crate has no HTTP: the session side lives in the
//! master.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::prelude::*;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::{ActorError, REQUEST_TIMEOUT};

/// How often the registry looks for sessions that ended without deregistering.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// What a WebSocket session serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// `/api/ws`: the live event stream.
    Events,
    /// A container's log, followed.
    Logs,
    /// An interactive process in a container.
    Exec,
}

impl SessionKind {
    pub const ALL: [SessionKind; 3] = [Self::Events, Self::Logs, Self::Exec];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Logs => "logs",
            Self::Exec => "exec",
        }
    }
}

/// What the registry tells a session. Small on purpose: it sits in every session's mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCommand {
    /// The session's login session or API key was revoked: close with 1008.
    Revoked,
    /// The session's user changed. `ended`: disabled or deleted, close with 1008; otherwise the
    /// session asks again what its caller may do (role, password change ending login sessions).
    UserChanged { ended: bool },
    /// The server stops: close with 1001.
    Shutdown,
}

/// Who a session serves, as it registers.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub kind: SessionKind,
    pub user_id: String,
    /// The login session the caller authenticated with, if any.
    pub auth_session: Option<String>,
    /// The API key the caller authenticated with, if any.
    pub api_key: Option<String>,
    /// The caller's role when the session registered (updated by [`SessionRegistryHandle::user_changed`]).
    pub role: String,
}

/// Open sessions, for `/api/system/info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionCounts {
    pub total: usize,
    /// Open sessions per kind (every kind listed, 0 included).
    pub by_kind: BTreeMap<SessionKind, usize>,
    /// How many distinct users have a session open.
    pub users: usize,
}

/// Which sessions a command goes to.
#[derive(Debug, Clone)]
enum Target {
    AuthSession(String),
    ApiKey(String),
    User(String),
    All,
}

struct Entry {
    info: SessionInfo,
    mailbox: mpsc::UnboundedSender<SessionCommand>,
}

/// Supervises the open sessions: who they serve and how to reach them.
#[derive(Default)]
pub struct SessionRegistry {
    sessions: HashMap<u64, Entry>,
}

impl SessionRegistry {
    /// Starts the registry on the current arbiter, supervised.
    pub fn start_supervised() -> SessionRegistryHandle {
        let addr = actix::Supervisor::start(|_| SessionRegistry::default());
        SessionRegistryHandle {
            addr,
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// Drops the entries whose session is gone without deregistering.
    fn sweep(&mut self) -> usize {
        let before = self.sessions.len();
        self.sessions.retain(|_, e| !e.mailbox.is_closed());
        let gone = before - self.sessions.len();
        if gone > 0 {
            tracing::warn!(
                sessions = gone,
                "WebSocket sessions ended without deregistering"
            );
        }
        gone
    }

    fn notify(&mut self, target: &Target, command: SessionCommand) -> usize {
        let mut sent = 0;
        let mut dead = Vec::new();
        for (id, entry) in &self.sessions {
            let hit = match target {
                Target::AuthSession(s) => entry.info.auth_session.as_deref() == Some(s.as_str()),
                Target::ApiKey(k) => entry.info.api_key.as_deref() == Some(k.as_str()),
                Target::User(u) => entry.info.user_id == *u,
                Target::All => true,
            };
            if !hit {
                continue;
            }
            if entry.mailbox.send(command).is_ok() {
                sent += 1;
            } else {
                dead.push(*id);
            }
        }
        for id in dead {
            self.sessions.remove(&id);
        }
        sent
    }
}

impl Actor for SessionRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(SWEEP_INTERVAL, |this, _| {
            this.sweep();
        });
    }
}

impl Supervised for SessionRegistry {}

#[derive(Message)]
#[rtype(result = "()")]
struct Register {
    id: u64,
    info: SessionInfo,
    mailbox: mpsc::UnboundedSender<SessionCommand>,
}

impl Handler<Register> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, msg: Register, _: &mut Self::Context) {
        self.sessions.insert(
            msg.id,
            Entry {
                info: msg.info,
                mailbox: msg.mailbox,
            },
        );
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Deregister {
    id: u64,
}

impl Handler<Deregister> for SessionRegistry {
    type Result = ();

    fn handle(&mut self, msg: Deregister, _: &mut Self::Context) {
        self.sessions.remove(&msg.id);
    }
}

#[derive(Message)]
#[rtype(result = "usize")]
struct Notify {
    target: Target,
    command: SessionCommand,
    /// For a user change: the user's role now.
    role: Option<String>,
}

impl Handler<Notify> for SessionRegistry {
    type Result = usize;

    fn handle(&mut self, msg: Notify, _: &mut Self::Context) -> usize {
        if let (Target::User(user), Some(role)) = (&msg.target, &msg.role) {
            for entry in self.sessions.values_mut() {
                if entry.info.user_id == *user {
                    entry.info.role.clone_from(role);
                }
            }
        }
        self.notify(&msg.target, msg.command)
    }
}

#[derive(Message)]
#[rtype(result = "SessionCounts")]
struct List;

impl Handler<List> for SessionRegistry {
    type Result = MessageResult<List>;

    fn handle(&mut self, _: List, _: &mut Self::Context) -> Self::Result {
        self.sweep();
        let mut counts = SessionCounts {
            total: self.sessions.len(),
            by_kind: SessionKind::ALL.iter().map(|k| (*k, 0)).collect(),
            users: 0,
        };
        let mut users = std::collections::HashSet::new();
        for entry in self.sessions.values() {
            *counts.by_kind.entry(entry.info.kind).or_default() += 1;
            users.insert(entry.info.user_id.as_str());
        }
        counts.users = users.len();
        MessageResult(counts)
    }
}

/// The typed handle of the [`SessionRegistry`]. Notifications are fire-and-forget (a revocation
/// must not fail the request that revoked); [`SessionRegistryHandle::shutdown`] and
/// [`SessionRegistryHandle::list`] wait for the answer.
#[derive(Clone)]
pub struct SessionRegistryHandle {
    addr: Addr<SessionRegistry>,
    next_id: Arc<AtomicU64>,
}

/// A registered session's place in the registry: dropping it deregisters the session.
pub struct SessionTicket {
    id: u64,
    addr: Addr<SessionRegistry>,
}

impl Drop for SessionTicket {
    fn drop(&mut self) {
        self.addr.do_send(Deregister { id: self.id });
    }
}

/// Where a session receives its [`SessionCommand`]s.
pub type SessionMailbox = mpsc::UnboundedReceiver<SessionCommand>;

impl SessionRegistryHandle {
    /// Registers a session; it stays registered until the ticket is dropped.
    pub fn register(&self, info: SessionInfo) -> (SessionTicket, SessionMailbox) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.addr.do_send(Register {
            id,
            info,
            mailbox: tx,
        });
        (
            SessionTicket {
                id,
                addr: self.addr.clone(),
            },
            rx,
        )
    }

    fn notify(&self, target: Target, command: SessionCommand, role: Option<String>) {
        self.addr.do_send(Notify {
            target,
            command,
            role,
        });
    }

    /// A login session was revoked (logout, refresh-token reuse): its sockets close.
    pub fn revoke_auth_session(&self, session_id: &str) {
        self.notify(
            Target::AuthSession(session_id.to_owned()),
            SessionCommand::Revoked,
            None,
        );
    }

    /// An API key was revoked: its sockets close.
    pub fn revoke_api_key(&self, key_id: &str) {
        self.notify(
            Target::ApiKey(key_id.to_owned()),
            SessionCommand::Revoked,
            None,
        );
    }

    /// A user changed: `ended` when disabled or deleted (their sockets close), otherwise their
    /// sockets ask again what the user may do now; `role` is the user's role now, when known.
    pub fn user_changed(&self, user_id: &str, role: Option<String>, ended: bool) {
        self.notify(
            Target::User(user_id.to_owned()),
            SessionCommand::UserChanged { ended },
            role,
        );
    }

    /// Any user may have changed (an import): every session asks again.
    pub fn everyone_changed(&self) {
        self.notify(
            Target::All,
            SessionCommand::UserChanged { ended: false },
            None,
        );
    }

    /// The server stops: every session closes with 1001. The number of sessions told.
    pub async fn shutdown(&self) -> Result<usize, ActorError> {
        Ok(self
            .addr
            .send(Notify {
                target: Target::All,
                command: SessionCommand::Shutdown,
                role: None,
            })
            .timeout(REQUEST_TIMEOUT)
            .await?)
    }

    /// The open sessions, counted by kind.
    pub async fn list(&self) -> Result<SessionCounts, ActorError> {
        Ok(self.addr.send(List).timeout(REQUEST_TIMEOUT).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(kind: SessionKind, user: &str, sid: Option<&str>, key: Option<&str>) -> SessionInfo {
        SessionInfo {
            kind,
            user_id: user.into(),
            auth_session: sid.map(str::to_owned),
            api_key: key.map(str::to_owned),
            role: "viewer".into(),
        }
    }

    #[actix::test]
    async fn commands_reach_only_the_sessions_they_concern() {
        let reg = SessionRegistry::start_supervised();
        let (_a, mut a) = reg.register(info(SessionKind::Events, "u1", Some("s1"), None));
        let (_b, mut b) = reg.register(info(SessionKind::Logs, "u1", None, Some("k1")));
        let (_c, mut c) = reg.register(info(SessionKind::Exec, "u2", Some("s2"), None));

        reg.revoke_auth_session("s1");
        reg.revoke_api_key("k1");
        reg.user_changed("u2", Some("operator".into()), false);
        assert_eq!(reg.shutdown().await.unwrap(), 3);
        assert_eq!(a.recv().await, Some(SessionCommand::Revoked));
        assert_eq!(a.recv().await, Some(SessionCommand::Shutdown));
        assert_eq!(b.recv().await, Some(SessionCommand::Revoked));
        assert_eq!(b.recv().await, Some(SessionCommand::Shutdown));
        assert_eq!(
            c.recv().await,
            Some(SessionCommand::UserChanged { ended: false })
        );
        assert_eq!(c.recv().await, Some(SessionCommand::Shutdown));
        assert!(a.try_recv().is_err() && b.try_recv().is_err() && c.try_recv().is_err());
    }

    #[actix::test]
    async fn counts_by_kind_and_forgets_ended_sessions() {
        let reg = SessionRegistry::start_supervised();
        let (t1, _m1) = reg.register(info(SessionKind::Events, "u1", Some("s1"), None));
        let (_t2, _m2) = reg.register(info(SessionKind::Events, "u2", Some("s2"), None));
        let (_t3, m3) = reg.register(info(SessionKind::Exec, "u2", Some("s2"), None));
        let counts = reg.list().await.unwrap();
        assert_eq!(counts.total, 3);
        assert_eq!(counts.users, 2);
        assert_eq!(counts.by_kind[&SessionKind::Events], 2);
        assert_eq!(counts.by_kind[&SessionKind::Logs], 0);
        assert_eq!(counts.by_kind[&SessionKind::Exec], 1);

        // Deregistered by its ticket; the other died without deregistering (mailbox dropped).
        drop(t1);
        drop(m3);
        let counts = reg.list().await.unwrap();
        assert_eq!(counts.total, 1);
        assert_eq!(counts.by_kind[&SessionKind::Exec], 0);
        assert_eq!(counts.users, 1);
    }
}
