//! `/api/ws`: authentication, topics, resume with `since`, lag, role filtering, shutdown; and the
//! activity feed and notifications built on the same events.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::harness::{ADMIN, PASSWORD, TestServer};
use super::support::ws::{Ws, authed, open, send};

/// The next JSON text frame, within 5 s.
async fn next(ws: &mut Ws) -> Value {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str::<Value>(&t).unwrap(),
                Some(Ok(Message::Close(c))) => {
                    return json!({"closed": c.map(|c| c.reason.to_string())});
                }
                Some(Ok(_)) => continue,
                other => return json!({"closed": format!("{other:?}")}),
            }
        }
    })
    .await
    .expect("no frame within 5 s")
}

/// Frames until one with `type == kind` (skipping others), within 5 s.
async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = next(ws).await;
        if v["type"] == kind || v.get("closed").is_some() {
            return v;
        }
    }
}

fn session_cookie(reply: &super::harness::Reply) -> String {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("cb_session="))
        .unwrap()
}

#[actix_web::test]
async fn authenticates_by_first_message_cookie_or_header() {
    let s = TestServer::start_with(|c| c.ws.auth_timeout_secs = 1).await;
    let admin = s.setup().await;

    // First-message auth.
    let mut ws = authed(&s, "/api/ws", &admin.access).await;
    s.post("/api/notifications/test", &admin.access, json!({}))
        .await;
    let n = next_of(&mut ws, "notification").await;
    assert_eq!(n["payload"]["title"], "Test notification");
    assert!(n["id"].as_u64().unwrap() > 0);

    // Bearer header on the handshake.
    let mut ws = open(
        &s,
        "/api/ws",
        &[("authorization", format!("Bearer {}", admin.access))],
    )
    .await
    .unwrap();
    assert_eq!(next(&mut ws).await["type"], "hello");

    // Cookie with our own Origin; the same cookie from another origin is refused.
    let login = s.login(ADMIN, PASSWORD).await;
    let cookie = session_cookie(&login);
    let mut ws = open(
        &s,
        "/api/ws",
        &[("cookie", cookie.clone()), ("origin", s.base.clone())],
    )
    .await
    .unwrap();
    assert_eq!(next(&mut ws).await["type"], "hello");
    let refused = open(
        &s,
        "/api/ws",
        &[("cookie", cookie), ("origin", "http://evil.example".into())],
    )
    .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 403),
        other => panic!("cross-origin WebSocket was not refused: {other:?}"),
    }

    // A wrong token, or none in time, gets an error and a close.
    let mut ws = open(&s, "/api/ws", &[]).await.unwrap();
    send(&mut ws, json!({"type": "auth", "token": "garbage"})).await;
    let err = next(&mut ws).await;
    assert_eq!(err["type"], "error", "{err:?}");
    assert!(next(&mut ws).await.get("closed").is_some());
    let mut ws = open(&s, "/api/ws", &[]).await.unwrap();
    let err = next(&mut ws).await;
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("authentication required"),
        "{err:?}"
    );
    // Tokens in the query string are not read.
    match open(&s, &format!("/api/ws?token={}", admin.access), &[]).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 400),
        other => panic!("a token in the query string was not refused: {other:?}"),
    }
    s.stop().await;
}

#[actix_web::test]
async fn topic_filters_and_role_filtering() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "watcher", "viewer").await;
    let mut only_notes = authed(&s, "/api/ws?topics=notification", &admin.access).await;
    let mut all_admin = authed(&s, "/api/ws", &admin.access).await;
    // Every topic this test produces, admin-only or not.
    let mut all_viewer = authed(
        &s,
        "/api/ws?topics=user.*,auth.*,notification",
        &viewer.access,
    )
    .await;

    s.user(&admin, "newbie", "viewer").await; // user.created + auth.login
    s.post("/api/notifications/test", &admin.access, json!({}))
        .await;

    assert_eq!(next(&mut only_notes).await["type"], "notification");
    let created = next_of(&mut all_admin, "user.created").await;
    assert_eq!(created["payload"]["username"], "newbie");
    // Viewers do not receive admin-only events: the first thing they see is the notification.
    assert_eq!(next(&mut all_viewer).await["type"], "notification");

    // Re-subscribe on a live connection.
    send(
        &mut only_notes,
        json!({"type": "subscribe", "topics": ["user.*"]}),
    )
    .await;
    let ack = next(&mut only_notes).await;
    assert_eq!(ack["type"], "subscribed");
    assert_eq!(ack["topics"], json!(["user.*"]));
    s.post("/api/notifications/test", &admin.access, json!({}))
        .await;
    s.user(&admin, "later", "viewer").await;
    assert_eq!(next(&mut only_notes).await["type"], "user.created");
    send(
        &mut only_notes,
        json!({"type": "subscribe", "topics": ["Bad Topic"]}),
    )
    .await;
    assert_eq!(next(&mut only_notes).await["type"], "error");
    send(&mut only_notes, json!({"type": "ping"})).await;
    assert_eq!(next(&mut only_notes).await["type"], "pong");
    assert_eq!(
        s.get("/api/ws?topics=%20", &admin.access).await.status,
        StatusCode::BAD_REQUEST
    );
    s.stop().await;
}

#[actix_web::test]
async fn resumes_with_since_and_reports_gaps() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = s
            .post("/api/notifications/test", &admin.access, json!({}))
            .await;
        ids.push(r.body["id"].as_u64().unwrap());
    }
    let mut ws = authed(
        &s,
        &format!("/api/ws?since={}&topics=notification", ids[0]),
        &admin.access,
    )
    .await;
    assert_eq!(next(&mut ws).await["id"].as_u64().unwrap(), ids[1]);
    assert_eq!(next(&mut ws).await["id"].as_u64().unwrap(), ids[2]);
    // A `since` from before this server's memory: the client must resync.
    let mut ws = authed(&s, "/api/ws?since=5", &admin.access).await;
    let lagged = next(&mut ws).await;
    assert_eq!(lagged["type"], "lagged", "{lagged:?}");
    assert!(lagged["resume_from"].as_u64().unwrap() >= ids[2]);
    s.stop().await;
}

#[actix_web::test]
async fn a_client_that_stops_reading_is_told_it_lagged_and_others_keep_up() {
    let s = TestServer::start_with(|c| c.events.subscriber_buffer = 64).await;
    let admin = s.setup().await;
    let mut slow = authed(&s, "/api/ws?topics=bench.*", &admin.access).await;
    let mut fast = authed(&s, "/api/ws?topics=bench.*", &admin.access).await;
    let bus = s.state().bus.clone();
    let filler = "x".repeat(32 * 1024);
    let reader = tokio::spawn(async move {
        let mut received = 0u64;
        loop {
            let v = next(&mut fast).await;
            match v["type"].as_str() {
                Some("bench.done") => return received,
                Some("bench.tick") => received += 1,
                Some("lagged") => {}
                _ => panic!("{v:?}"),
            }
        }
    });
    // 2,000 events of 32 KiB: far more than socket buffers hold for a client that reads nothing.
    for n in 0..2000u64 {
        bus.publish("bench.tick", json!({"n": n, "fill": filler}))
            .await
            .unwrap();
        if n % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    // Repeat the end marker until the reader has seen it (it may lag past one copy).
    for _ in 0..100 {
        if reader.is_finished() {
            break;
        }
        bus.publish("bench.done", json!({})).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .unwrap()
        .unwrap();
    assert!(received > 0, "the reading client kept receiving");
    let mut saw_lagged = false;
    for _ in 0..2100 {
        let v = next(&mut slow).await;
        if v["type"] == "lagged" {
            assert!(v["missed"].as_u64().unwrap() > 0);
            saw_lagged = true;
            break;
        }
    }
    assert!(saw_lagged, "the slow client was told it lagged");
    assert!(bus.stats().await.unwrap().dropped > 0);
    s.stop().await;
}

#[actix_web::test]
async fn logout_closes_live_sessions_and_shutdown_sends_a_close_frame() {
    let s = TestServer::start_with(|c| {
        c.ws.ping_interval_secs = 1;
        c.ws.client_timeout_secs = 5;
    })
    .await;
    let admin = s.setup().await;
    let other = s.login(ADMIN, PASSWORD).await;
    let other_access = other.body["access_token"].as_str().unwrap().to_owned();
    let mut ws = authed(&s, "/api/ws", &other_access).await;
    s.call(
        reqwest::Method::POST,
        "/api/auth/logout",
        Some(&other_access),
        None,
    )
    .await;
    let ended = next_of(&mut ws, "error").await;
    assert!(
        ended["error"]
            .as_str()
            .unwrap()
            .contains("session has ended"),
        "{ended:?}"
    );

    let mut ws = authed(&s, "/api/ws", &admin.access).await;
    assert_eq!(s.state().metrics.ws_sessions.get(), 1);
    let stopping = actix_web::rt::spawn(s.stop());
    let frame = next(&mut ws).await;
    assert!(
        frame["closed"].as_str().unwrap().contains("shutting down"),
        "{frame:?}"
    );
    stopping.await.unwrap();
}

#[actix_web::test]
async fn activity_and_notifications_are_built_on_events() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let viewer = s.user(&admin, "reader", "viewer").await;
    let sent = s
        .post("/api/notifications/test", &viewer.access, json!({}))
        .await;
    assert_eq!(sent.status, StatusCode::FORBIDDEN);
    let sent = s
        .post("/api/notifications/test", &admin.access, json!({}))
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED);
    let id = sent.body["id"].as_i64().unwrap();

    let notes = s.get("/api/notifications", &viewer.access).await;
    assert_eq!(notes.body["items"][0]["id"], id);
    assert_eq!(notes.body["items"][0]["level"], "info");
    let admin_feed = s.get("/api/activity", &admin.access).await;
    let kinds: Vec<&str> = admin_feed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "notification");
    assert!(kinds.contains(&"user.created"));
    let viewer_feed = s.get("/api/activity", &viewer.access).await;
    assert!(
        viewer_feed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] == "notification")
    );
    let users_only = s.get("/api/activity?type=user.*", &admin.access).await;
    assert!(
        users_only.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"].as_str().unwrap().starts_with("user."))
    );
    let older = s
        .get(&format!("/api/activity?before={id}"), &admin.access)
        .await;
    assert!(
        older.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"].as_i64().unwrap() < id)
    );
    assert_eq!(
        s.get("/api/activity?limit=9999", &admin.access)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    // A page object whose total counts what the caller may see: the viewer's one notification,
    // not the admin-only user events around it.
    assert_eq!(viewer_feed.body["total"], 1, "{:?}", viewer_feed.body);
    assert_eq!(viewer_feed.body["limit"], 50);
    assert_eq!(viewer_feed.body["offset"], 0);
    let admin_total = admin_feed.body["total"].as_i64().unwrap();
    assert!(admin_total >= 3, "{:?}", admin_feed.body);
    let second = s.get("/api/activity?limit=1&offset=1", &admin.access).await;
    assert_eq!(second.body["total"], admin_total);
    assert_eq!(
        second.body["items"][0]["id"],
        admin_feed.body["items"][1]["id"]
    );
    let beyond = s.get("/api/activity?offset=1000", &viewer.access).await;
    assert_eq!(beyond.body["items"].as_array().unwrap().len(), 0);
    assert_eq!(beyond.body["total"], 1);
    s.stop().await;
}

#[actix_web::test]
async fn a_peer_that_stops_answering_pings_is_timed_out() {
    let s = TestServer::start_with(|c| {
        c.ws.ping_interval_secs = 1;
        c.ws.client_timeout_secs = 2;
    })
    .await;
    let admin = s.setup().await;
    let ws = authed(&s, "/api/ws", &admin.access).await;
    assert_eq!(s.state().metrics.ws_sessions.get(), 1);
    // The client never reads again, so it answers no ping: the server gives up on it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.state().metrics.ws_sessions.get() != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the silent peer was not timed out"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(ws);
    s.stop().await;
}
