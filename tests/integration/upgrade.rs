//! Connections that ask to switch to WebSocket leave actix-http's HTTP/1 dispatcher and are
//! carried by `src/http/upgrade.rs`. These tests talk raw HTTP/1.1 and raw WebSocket frames over
//! TCP, so that nothing a client library does (splitting writes, waiting for the handshake's
//! answer, closing politely) hides what the loop must handle.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::harness::TestServer;

const WS_HEADERS: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/// A client frame (masked, as RFC 6455 requires of clients) with the given opcode.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// Reads the response head (up to the blank line); returns it as text.
async fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut byte))
            .await
            .expect("no response head within 10 s")
            .unwrap();
        assert_eq!(n, 1, "the connection closed inside the head: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Reads one server frame: (opcode, payload). Server frames are not masked.
async fn read_frame(tcp: &mut TcpStream) -> (u8, Vec<u8>) {
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut first = [0u8; 2];
        tcp.read_exact(&mut first).await.unwrap();
        assert_eq!(first[1] & 0x80, 0, "a server frame must not be masked");
        let len = match first[1] & 0x7f {
            126 => u64::from(tcp.read_u16().await.unwrap()),
            127 => tcp.read_u64().await.unwrap(),
            n => u64::from(n),
        };
        let mut payload = vec![0u8; usize::try_from(len).unwrap()];
        tcp.read_exact(&mut payload).await.unwrap();
        (first[0] & 0x0f, payload)
    })
    .await
    .expect("no frame within 10 s")
}

/// The next text frame as JSON, skipping control frames.
async fn read_json(tcp: &mut TcpStream) -> Value {
    loop {
        let (opcode, payload) = read_frame(tcp).await;
        match opcode {
            0x1 => return serde_json::from_slice(&payload).unwrap(),
            0x8 => panic!("closed: {payload:?}"),
            _ => continue,
        }
    }
}

fn status(head: &str) -> u16 {
    head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Reads until the server closes the connection; the bytes after the head.
async fn read_to_close(tcp: &mut TcpStream) -> String {
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut rest))
        .await
        .expect("the server did not close the connection within 10 s")
        .unwrap();
    String::from_utf8_lossy(&rest).into_owned()
}

/// A handshake and the first frames written in one go, before the server answered: the frames
/// already read with the request head are not lost. Then a burst of pings larger than the
/// payload's read-ahead limit (32 KiB) is answered in full and in order.
#[actix_web::test]
async fn frames_sent_with_the_handshake_and_bursts_arrive_in_order() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let mut tcp = TcpStream::connect(s.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let mut bytes = format!(
        "GET /api/ws?topics=notification HTTP/1.1\r\nHost: {}\r\n{WS_HEADERS}\r\n",
        s.base.trim_start_matches("http://")
    )
    .into_bytes();
    let auth = json!({"type": "auth", "token": admin.access}).to_string();
    bytes.extend(frame(0x1, auth.as_bytes()));
    tcp.write_all(&bytes).await.unwrap();
    let head = read_head(&mut tcp).await;
    assert_eq!(status(&head), 101, "{head}");
    let hello = read_json(&mut tcp).await;
    assert_eq!(hello["type"], "hello", "{hello}");

    // 6,000 pings of 8 bytes each: 84 KB in one write.
    let count = 6_000u32;
    let mut burst = Vec::new();
    for i in 0..count {
        burst.extend(frame(0x9, &u64::from(i).to_be_bytes()));
    }
    assert!(burst.len() > 64 * 1024);
    let (mut rd, mut wr) = tcp.into_split();
    let writer = tokio::spawn(async move {
        wr.write_all(&burst).await.unwrap();
        wr
    });
    let tcp_read = async move {
        let mut seen = 0u32;
        while seen < count {
            let mut first = [0u8; 2];
            rd.read_exact(&mut first).await.unwrap();
            let mut payload = vec![0u8; usize::from(first[1] & 0x7f)];
            rd.read_exact(&mut payload).await.unwrap();
            if first[0] & 0x0f == 0xA {
                assert_eq!(
                    payload,
                    u64::from(seen).to_be_bytes(),
                    "pong {seen} out of order"
                );
                seen += 1;
            }
        }
        rd
    };
    let rd = tokio::time::timeout(Duration::from_secs(30), tcp_read)
        .await
        .expect("not every ping was answered within 30 s");
    let wr = writer.await.unwrap();
    let mut tcp = rd.reunite(wr).unwrap();

    // The socket still carries events after the burst.
    let sent = s
        .post("/api/notifications/test", &admin.access, json!({}))
        .await;
    assert!(sent.status.is_success(), "{:?}", sent.body);
    loop {
        let event = read_json(&mut tcp).await;
        if event["type"] == "notification" {
            break;
        }
    }
    s.stop().await;
}

/// Requests that carry `Upgrade: websocket` reach the loop whatever their route; the gate still
/// decides, the answer says `Connection: close` and the connection ends after it.
#[actix_web::test]
async fn upgrade_requests_to_ordinary_routes_still_pass_the_gate() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let host = s.base.trim_start_matches("http://").to_owned();

    // The report's request, with upgrade headers and no credentials: refused, nothing created.
    let body =
        json!({"username": "intruder", "password": "correct-horse-battery", "role": "admin"})
            .to_string();
    let mut tcp = TcpStream::connect(&host).await.unwrap();
    let request = format!(
        "POST /api/%75sers HTTP/1.1\r\nHost: {host}\r\n{WS_HEADERS}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    tcp.shutdown().await.unwrap();
    let head = read_head(&mut tcp).await;
    assert_eq!(status(&head), 401, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("connection: close"),
        "{head}"
    );
    let rest = read_to_close(&mut tcp).await;
    assert!(rest.contains("\"code\""), "an error body: {rest}");
    let users = s.get("/api/users?limit=500", &admin.access).await;
    assert!(
        !users.body.to_string().contains("intruder"),
        "{:?}",
        users.body
    );

    // A public route answers normally, body and all, then closes.
    let mut tcp = TcpStream::connect(&host).await.unwrap();
    let request = format!("GET /api/health HTTP/1.1\r\nHost: {host}\r\n{WS_HEADERS}\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut tcp).await;
    assert_eq!(status(&head), 200, "{head}");
    let rest = read_to_close(&mut tcp).await;
    assert!(rest.contains("\"status\""), "{rest}");

    // A container log socket without credentials: the gate's 401, not a socket.
    let mut tcp = TcpStream::connect(&host).await.unwrap();
    let request = format!(
        "GET /api/containers/0b8e3c1e5f7a/logs/ws HTTP/1.1\r\nHost: {host}\r\n{WS_HEADERS}\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut tcp).await;
    assert!(matches!(status(&head), 401 | 404), "{head}");
    read_to_close(&mut tcp).await;

    // The client that hangs up in the middle of its request body leaves nothing behind: the
    // server keeps answering.
    let mut tcp = TcpStream::connect(&host).await.unwrap();
    let request = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: {host}\r\n{WS_HEADERS}\
         Content-Type: application/json\r\n\r\n{{\"username\":"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    drop(tcp);
    let health = s.get("/api/health", &admin.access).await;
    assert!(health.status.is_success());
    s.stop().await;
}
