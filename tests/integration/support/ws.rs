//! A WebSocket client for `/api/ws` (and the other sockets): open with headers, authenticate by
//! the first message, read JSON frames with a deadline, wait for an event of a kind, read until
//! the server closes.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::integration::harness::TestServer;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `path` (`/api/ws?…`) with extra request headers; the handshake error when refused.
pub async fn open(
    s: &TestServer,
    path: &str,
    headers: &[(&'static str, String)],
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = s.ws_url(path).into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// Sends `v` as a text frame.
pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// Opens `path` and authenticates with the first message; returns after the `hello` (5 s).
pub async fn authed(s: &TestServer, path: &str, token: &str) -> Ws {
    let mut ws = open(s, path, &[]).await.unwrap();
    send(&mut ws, json!({"type": "auth", "token": token})).await;
    let hello = next_frame(&mut ws, Duration::from_secs(5)).await.unwrap();
    assert_eq!(hello["type"], "hello", "{hello:?}");
    ws
}

/// `/api/ws` subscribed to `topics` (comma-separated patterns), authenticated by its first
/// message.
pub async fn subscribe(s: &TestServer, token: &str, topics: &str) -> Ws {
    authed(s, &format!("/api/ws?topics={topics}"), token).await
}

/// The next JSON frame within `wait`, or `None`; panics when the socket closes.
pub async fn next_frame(ws: &mut Ws, wait: Duration) -> Option<Value> {
    tokio::time::timeout(wait, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str::<Value>(&t).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("the WebSocket closed: {other:?}"),
            }
        }
    })
    .await
    .ok()
}

/// The first frame of type `kind` within `wait` (frames of other types are skipped), or `None`.
pub async fn next_event(ws: &mut Ws, kind: &str, wait: Duration) -> Option<Value> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = next_frame(ws, left).await?;
        if frame["type"] == kind {
            return Some(frame);
        }
    }
}

/// The first event of type `kind` whose payload satisfies `pred`, within `secs`; every frame
/// before it is returned too.
pub async fn wait_event(
    ws: &mut Ws,
    secs: u64,
    kind: &str,
    pred: impl Fn(&Value) -> bool,
) -> Result<(Value, Vec<Value>), String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(frame) = next_frame(ws, left).await else {
            return Err(format!("no {kind} event within {secs} s; saw {seen:#?}"));
        };
        if frame["type"] == kind && pred(&frame["payload"]) {
            return Ok((frame, seen));
        }
        seen.push(frame);
    }
}

/// Every frame that arrives within `wait`.
pub async fn drain(ws: &mut Ws, wait: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    while let Some(f) = next_frame(ws, wait).await {
        out.push(f);
    }
    out
}

/// Reads until the server closes the socket, within 10 s; the close code and reason.
pub async fn closed(ws: &mut Ws, what: &str) -> (u16, String) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(Some(f)))) => {
                    return (u16::from(f.code), f.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None => return (0, String::new()),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return (0, e.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} was not closed within 10 s"))
}
