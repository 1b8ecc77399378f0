//! Several masters sharing one store and one NATS server with JetStream (Debian's
//! `nats-server`, started here on a free loopback port with a temporary store directory and
//! killed when the test ends): events with one global id on every master, `since` on any master,
//! a NATS outage and its end.
//!
//! Outside CI a missing `nats-server` skips the tests with a message; with `CI=true` it fails them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use contextbay::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::{ADMIN, Login, PASSWORD, TestServer, eventually};
use super::support::ws::{Ws, authed, drain, next_frame};

/// A `nats-server -js` on a loopback port, killed (SIGKILL) when dropped.
pub struct Nats {
    child: Option<Child>,
    binary: PathBuf,
    port: u16,
    store: tempfile::TempDir,
}

impl Nats {
    pub fn start() -> Option<Self> {
        let binary = super::monitoring::binary("nats-server", "CB_TEST_NATS_SERVER")?;
        let mut nats = Self {
            child: None,
            binary,
            port: super::monitoring::free_port(),
            store: tempfile::tempdir().unwrap(),
        };
        nats.spawn();
        Some(nats)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and store directory, and waits until it
    /// accepts connections.
    fn spawn(&mut self) {
        let log = std::fs::File::create(self.store.path().join("nats.log")).unwrap();
        let child = Command::new(&self.binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js"])
            .arg("-sd")
            .arg(self.store.path().join("js"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("nats-server did not listen:\n{}", self.log());
    }

    /// SIGKILL, and wait for the process to be gone.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.store.path().join("nats.log")).unwrap_or_default()
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two masters on one store (the shared directory's SQLite file or, with
/// `CB_TEST_STORE=postgres`, its PostgreSQL database) and one NATS server. Their event rings are
/// tiny, so a resuming client's replay comes from the stream rather than the ring.
async fn two_masters(nats: &Nats, shared: &Path) -> (TestServer, TestServer) {
    let database = super::support::postgres::database_url(shared);
    let url = nats.url();
    let tweak = |id: &'static str| {
        let (url, database) = (url.clone(), database.clone());
        move |c: &mut Config| {
            c.storage.data_dir = shared.to_path_buf();
            if let Some(db) = &database {
                c.storage.database_url.clone_from(db);
            }
            c.events.ring_capacity = 3;
            c.cluster.nats_url = url;
            c.cluster.master_id = id.to_owned();
        }
    };
    let a = TestServer::start_with(tweak("master-a")).await;
    let b = TestServer::start_with(tweak("master-b")).await;
    (a, b)
}

async fn login(s: &TestServer) -> Login {
    let r = s.login(ADMIN, PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    Login::from(&r.body)
}

async fn create_user(s: &TestServer, admin: &Login, name: &str) {
    let r = s
        .post(
            "/api/users",
            &admin.access,
            json!({"username": name, "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

/// The `user.created` events that arrive within `secs` until `n` of them came, as
/// (id, username, local).
async fn users_created(ws: &mut Ws, n: usize, secs: u64) -> Vec<(u64, String, bool)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    while out.len() < n {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Some(frame) = next_frame(ws, left).await else {
            panic!(
                "{} of {n} user.created events within {secs} s: {out:?}",
                out.len()
            );
        };
        if frame["type"] == "user.created" {
            out.push(event(&frame));
        }
    }
    out
}

fn event(frame: &Value) -> (u64, String, bool) {
    (
        frame["id"].as_u64().unwrap(),
        frame["payload"]["username"].as_str().unwrap().to_owned(),
        frame["local"] == true,
    )
}

/// `user.created` frames among `frames`.
fn created(frames: &[Value]) -> Vec<(u64, String, bool)> {
    frames
        .iter()
        .filter(|f| f["type"] == "user.created")
        .map(event)
        .collect()
}

#[actix_web::test]
async fn events_reach_every_master_with_one_id_and_resume_on_any_master() {
    let Some(nats) = Nats::start() else { return };
    let shared = tempfile::tempdir().unwrap();
    let (a, b) = two_masters(&nats, shared.path()).await;
    let admin_a = a.setup().await;
    let admin_b = login(&b).await;
    let mut on_a = authed(&a, "/api/ws?topics=user.*", &admin_a.access).await;
    let mut on_b = authed(&b, "/api/ws?topics=user.*", &admin_b.access).await;

    // Caused on A, heard on B with the same id.
    create_user(&a, &admin_a, "first").await;
    let seen_b = users_created(&mut on_b, 1, 10).await;
    let seen_a = users_created(&mut on_a, 1, 10).await;
    assert_eq!(seen_a, seen_b);
    assert_eq!(seen_b[0].1, "first");
    assert!(!seen_b[0].2, "a cluster event is not local-only");
    let first = seen_b[0].0;

    // The client on A goes away; users are created on both masters at once.
    drop(on_a);
    let names: Vec<String> = (0..16).map(|n| format!("conc{n}")).collect();
    let mut calls = Vec::new();
    for (n, name) in names.iter().enumerate() {
        let (s, admin) = if n % 2 == 0 {
            (&a, &admin_a)
        } else {
            (&b, &admin_b)
        };
        calls.push(create_user(s, admin, name));
    }
    futures_util::future::join_all(calls).await;
    let live_b = users_created(&mut on_b, names.len(), 20).await;
    // Every one once, ids strictly increasing in delivery order, none local.
    let ids: Vec<u64> = live_b.iter().map(|e| e.0).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(ids[0] > first, "{ids:?} after {first}");
    let mut got: Vec<String> = live_b.iter().map(|e| e.1.clone()).collect();
    got.sort();
    let mut want = names.clone();
    want.sort();
    assert_eq!(got, want);
    assert!(live_b.iter().all(|e| !e.2));

    // The client resumes on B from the last event it had on A: every later event exactly once,
    // in order, with the ids B's own client saw (B's ring holds 3 events, so the rest comes from
    // the stream).
    let mut resumed = authed(
        &b,
        &format!("/api/ws?topics=user.*&since={first}"),
        &admin_b.access,
    )
    .await;
    let replayed = users_created(&mut resumed, names.len(), 10).await;
    assert_eq!(replayed, live_b);
    let extra = drain(&mut resumed, Duration::from_millis(500)).await;
    assert!(created(&extra).is_empty(), "replayed twice: {extra:?}");
    // And on A (whose ring also has only the last 3).
    let mut resumed_a = authed(
        &a,
        &format!("/api/ws?topics=user.*&since={}", ids[4]),
        &admin_a.access,
    )
    .await;
    let replayed_a = users_created(&mut resumed_a, names.len() - 5, 10).await;
    assert_eq!(replayed_a, live_b[5..]);
    // `hello` on both masters names the same last id.
    let info_a = a.get("/api/system/info", &admin_a.access).await;
    let info_b = b.get("/api/system/info", &admin_b.access).await;
    assert_eq!(info_a.body["last_event_id"], json!(ids[ids.len() - 1]));
    assert_eq!(info_b.body["last_event_id"], json!(ids[ids.len() - 1]));
    assert_eq!(info_a.body["cluster"]["master_id"], "master-a");
    assert_eq!(info_a.body["cluster"]["degraded"], false);
    // An id the stream never assigned gets the gap signal.
    let mut future = authed(
        &b,
        &format!("/api/ws?topics=user.*&since={}", ids[ids.len() - 1] + 1000),
        &admin_b.access,
    )
    .await;
    let frame = next_frame(&mut future, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(frame["type"], "lagged", "{frame:?}");

    // Each event is recorded once in the shared activity feed (by the master that published it).
    let health = a.get("/api/health", "").await;
    assert_eq!(health.body["status"], "ok", "{:?}", health.body);
    assert_eq!(health.body["cluster"]["nats"], "connected");
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn masters_keep_serving_through_a_nats_outage_and_resynchronise_after() {
    let Some(mut nats) = Nats::start() else {
        return;
    };
    let shared = tempfile::tempdir().unwrap();
    let (a, b) = two_masters(&nats, shared.path()).await;
    let admin_a = a.setup().await;
    let admin_b = login(&b).await;
    let mut on_a = authed(&a, "/api/ws?topics=user.*", &admin_a.access).await;
    let mut on_b = authed(&b, "/api/ws?topics=user.*", &admin_b.access).await;
    create_user(&a, &admin_a, "before").await;
    let before = users_created(&mut on_b, 1, 10).await[0].0;
    assert_eq!(users_created(&mut on_a, 1, 10).await[0].0, before);

    nats.kill();
    for s in [&a, &b] {
        eventually(15, "/api/health degraded", || async {
            let h = s.get("/api/health", "").await;
            assert_eq!(h.status, StatusCode::OK);
            (h.body["status"] == "degraded" && h.body["cluster"]["nats"] == "disconnected")
                .then_some(())
        })
        .await;
    }
    // REST keeps working, and A's own clients hear A's events, marked local-only.
    create_user(&a, &admin_a, "during").await;
    let during = users_created(&mut on_a, 1, 10).await;
    assert_eq!(during[0].1, "during");
    assert!(
        during[0].2,
        "an event published during the outage is local-only"
    );
    let info = a.get("/api/system/info", &admin_a.access).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.body["cluster"]["degraded"], true, "{:?}", info.body);
    assert!(info.body["cluster"]["local_only_events"].as_u64().unwrap() >= 1);
    let users = b.get("/api/users", &admin_b.access).await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(
        users.body.to_string().contains("during"),
        "B reads A's writes"
    );

    // NATS comes back with the same store: both masters resynchronise.
    nats.spawn();
    for s in [&a, &b] {
        eventually(20, "/api/health ok again", || async {
            let h = s.get("/api/health", "").await;
            (h.body["status"] == "ok" && h.body["cluster"]["degraded"] == false).then_some(())
        })
        .await;
    }
    create_user(&b, &admin_b, "after").await;
    let after_b = users_created(&mut on_b, 1, 10).await;
    let after_a = users_created(&mut on_a, 1, 10).await;
    // B's client never saw A's local-only event; both see the new one with one id, after the
    // one before the outage.
    assert_eq!(after_b[0].1, "after", "{after_b:?}");
    assert_eq!(after_a, after_b);
    assert!(after_b[0].0 > before && !after_b[0].2);
    // `since` across the outage: the stream's events after `before`, i.e. only "after" (the
    // local-only event was never on the stream); resuming from a local-only id is a gap.
    let mut resumed = authed(
        &b,
        &format!("/api/ws?topics=user.*&since={before}"),
        &admin_b.access,
    )
    .await;
    let frames = drain(&mut resumed, Duration::from_secs(1)).await;
    assert_eq!(created(&frames), after_b, "{frames:?}");
    let mut from_local = authed(
        &a,
        &format!("/api/ws?topics=user.*&since={}", during[0].0),
        &admin_a.access,
    )
    .await;
    let frame = next_frame(&mut from_local, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(frame["type"], "lagged", "{frame:?}");
    let _ = nats.log();
    a.stop().await;
    b.stop().await;
}

/// A write on one master drops the other masters' caches at once (not after their TTL): a
/// session logged out, an API key revoked, a module switched off.
#[actix_web::test]
async fn a_write_on_one_master_invalidates_the_caches_of_the_others() {
    let Some(nats) = Nats::start() else { return };
    let shared = tempfile::tempdir().unwrap();
    let (a, b) = two_masters(&nats, shared.path()).await;
    let admin_a = a.setup().await;
    let session = login(&a).await;

    // B serves the session (and caches it); A logs it out; B refuses it on the next request.
    assert_eq!(
        b.get("/api/auth/me", &session.access).await.status,
        StatusCode::OK
    );
    let out = a.post("/api/auth/logout", &session.access, json!({})).await;
    assert!(out.status.is_success(), "{:?}", out.body);
    assert_eq!(
        b.get("/api/auth/me", &session.access).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The same for an API key revoked on A.
    let key = a
        .post("/api/keys", &admin_a.access, json!({"name": "shared"}))
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    let (id, secret) = (
        key.body["id"].as_str().unwrap().to_owned(),
        key.body["key"].as_str().unwrap().to_owned(),
    );
    assert_eq!(with_key(&b, &secret).await, StatusCode::OK);
    let revoked = a.delete(&format!("/api/keys/{id}"), &admin_a.access).await;
    assert!(revoked.status.is_success(), "{:?}", revoked.body);
    assert_eq!(with_key(&b, &secret).await, StatusCode::UNAUTHORIZED);

    // A module switched on and then off on A: B follows.
    let admin_b = login(&b).await;
    assert_eq!(
        b.post("/api/example/ping", &admin_b.access, json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    a.enable_module(&admin_a, "example", Value::Null).await;
    assert_eq!(
        b.post("/api/example/ping", &admin_b.access, json!({}))
            .await
            .status,
        StatusCode::OK
    );
    a.disable_module(&admin_a, "example").await;
    let off = b
        .post("/api/example/ping", &admin_b.access, json!({}))
        .await;
    assert_eq!(off.status, StatusCode::NOT_FOUND, "{:?}", off.body);
    assert_eq!(off.body["code"], "module_disabled");
    a.stop().await;
    b.stop().await;
}

/// `GET /api/auth/me` on `s` with an API key.
async fn with_key(s: &TestServer, key: &str) -> StatusCode {
    s.http
        .get(s.url("/api/auth/me"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
        .status()
}
