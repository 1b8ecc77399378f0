//! The gate attacked from outside, the way a hostile client would: the real `contextbay` binary,
//! raw HTTP/1.1 over TCP (no client library that would normalise the request target), every
//! declared route, every role, and the same request with its path spelled in many other ways.
//!
//! Two rules must hold for every spelling:
//! - it never gets a more permissive answer than the canonical spelling: when the canonical
//!   request is refused (401/403), the spelling never reaches the handler;
//! - without credentials it never gets a 2xx on a route that is not public.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use contextbay::http::routes::{Access, RouteTable};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::harness::{ADMIN, PASSWORD, TestServer};

/// The master as its own process, killed when dropped.
struct Binary {
    port: u16,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Binary {
    /// `contextbay serve` on free loopback ports, with a fresh data directory, the monitoring and
    /// alerting modules on (so their routes are guarded too) and no Docker engine (nothing the
    /// fuzzing admits can touch the host's engine).
    async fn start(dir: tempfile::TempDir) -> Self {
        // A free port can be taken by a parallel test before the master binds it: a master that
        // exits at start (its bind failed) is started again on other ports.
        for _ in 0..3 {
            let port = free_port();
            let grpc = free_port();
            let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_contextbay"));
            if let Some(url) = super::support::postgres::database_url(dir.path()) {
                cmd.env("CB_STORAGE__DATABASE_URL", url);
            }
            let mut child = cmd
                .args(["serve", "--bind", "127.0.0.1", "--port"])
                .arg(port.to_string())
                .arg("--grpc-port")
                .arg(grpc.to_string())
                .arg("--data-dir")
                .arg(dir.path())
                .env("CB_DOCKER__LOCAL_ENDPOINT", "false")
                .env("CB_MODULES__MONITORING", "true")
                .env("CB_MODULES__ALERTING", "true")
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            for _ in 0..300 {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if let Ok(r) = send_raw(port, "GET", "/api/health", None, None, &[]).await
                    && r.status == 200
                {
                    return Self {
                        port,
                        _child: child,
                        _dir: dir,
                    };
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if child.try_wait().unwrap().is_none() {
                panic!("the master did not answer /api/health within 30 s");
            }
        }
        panic!("the master exited at start three times (see its log above)");
    }

    /// Sends `method target` exactly as given, with an optional API key and JSON body.
    async fn send(
        &self,
        method: &str,
        target: &str,
        api_key: Option<&str>,
        body: Option<&Value>,
        extra_headers: &[(&str, &str)],
    ) -> std::io::Result<Raw> {
        send_raw(self.port, method, target, api_key, body, extra_headers).await
    }

    async fn json(&self, method: &str, path: &str, key: Option<&str>, body: Value) -> Value {
        let r = self
            .send(method, path, key, Some(&body), &[])
            .await
            .unwrap();
        assert!(r.status < 300, "{method} {path}: {} {}", r.status, r.body);
        serde_json::from_str(&r.body).unwrap()
    }
}

/// One request on its own connection, the request target exactly as given.
async fn send_raw(
    port: u16,
    method: &str,
    target: &str,
    api_key: Option<&str>,
    body: Option<&Value>,
    extra_headers: &[(&str, &str)],
) -> std::io::Result<Raw> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    if !extra_headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("connection"))
    {
        head.push_str("Connection: close\r\n");
    }
    if let Some(key) = api_key {
        head.push_str(&format!("X-API-Key: {key}\r\n"));
    }
    for (name, value) in extra_headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    if extra_headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("upgrade"))
    {
        // An upgrade request's body runs to the end of the stream (actix-http): end it.
        stream.shutdown().await?;
    }
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::other("no answer within 20 s"))??;
    Ok(Raw::parse(&raw))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An answer: the status and the body as text (a parse error or a closed connection is 0).
#[derive(Debug, Clone)]
struct Raw {
    status: u16,
    body: String,
}

impl Raw {
    fn parse(raw: &[u8]) -> Self {
        let text = String::from_utf8_lossy(raw);
        let status = text
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Self { status, body }
    }

    /// Refused by the guard.
    fn denied(&self) -> bool {
        matches!(self.status, 401 | 403)
    }

    /// A declared route's handler ran: neither refused nor left undispatched (the fallback's
    /// 404, a known path's 405, the HTTP parser's plain 400 or a dropped connection).
    fn reached_handler(&self) -> bool {
        let undispatched = (self.status == 404 && self.body.contains("\"no route for "))
            || self.status == 405
            || self.status == 0
            || (self.status == 400 && !self.body.contains("\"code\""));
        !self.denied() && !undispatched
    }
}

/// A request to try: method, request target, extra headers.
type Variant<'a> = (String, String, Vec<(&'a str, &'a str)>);

/// A path template with its parameters filled in.
fn concrete(template: &str) -> String {
    template
        .replace("{id}", "0b8e3c1e-5f7a-4a8e-9c6d-1d2e3f4a5b6c")
        .replace("{action}", "start")
        .replace("{name}", "vol1")
        .replace("{key}", "ui.instance_name")
        .replace("{module}", "planner")
        .replace("{uid}", "dash1")
}

fn encode(b: u8, upper: bool) -> String {
    if upper {
        format!("%{b:02X}")
    } else {
        format!("%{b:02x}")
    }
}

/// Encodes the bytes of `path` for which `pick(index, byte)` holds.
fn encode_where(path: &str, upper: bool, pick: impl Fn(usize, u8) -> bool) -> String {
    path.bytes()
        .enumerate()
        .map(|(i, b)| {
            if pick(i, b) {
                encode(b, upper)
            } else {
                char::from(b).to_string()
            }
        })
        .collect()
}

/// Other spellings of `path` (which starts with `/`): each a request target a client could send.
fn spellings(path: &str, port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let segments: Vec<&str> = path[1..].split('/').collect();
    let join = |segs: &[String]| format!("/{}", segs.join("/"));
    let owned: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
    for upper in [true, false] {
        // Every letter; every character that is not a slash.
        out.push(encode_where(path, upper, |_, b| b.is_ascii_alphabetic()));
        out.push(encode_where(path, upper, |_, b| b != b'/'));
        // Every slash after the first.
        out.push(encode_where(path, upper, |i, b| i > 0 && b == b'/'));
        // The first letter of each segment, one segment at a time.
        for (n, _) in segments.iter().enumerate() {
            let mut segs = owned.clone();
            if let Some(first) = segs[n].bytes().position(|b| b.is_ascii_alphabetic()) {
                let seg = segs[n].clone();
                segs[n] = format!(
                    "{}{}{}",
                    &seg[..first],
                    encode(seg.as_bytes()[first], upper),
                    &seg[first + 1..]
                );
                out.push(join(&segs));
            }
        }
    }
    // Each single letter of the first two segments, upper-case hex.
    let prefix_len = 1 + segments.iter().take(2).map(|s| s.len() + 1).sum::<usize>();
    for i in 0..prefix_len.min(path.len()) {
        if path.as_bytes()[i].is_ascii_alphabetic() {
            out.push(encode_where(path, true, |j, _| j == i));
        }
    }
    // Double encoding, encoded dots and slashes, overlong UTF-8, full-width letters.
    for (n, seg) in segments.iter().enumerate() {
        if let Some(first) = seg.bytes().next().filter(u8::is_ascii_alphabetic) {
            let mut segs = owned.clone();
            segs[n] = format!("%25{first:02X}{}", &seg[1..]);
            out.push(join(&segs));
        }
    }
    out.push(path.replacen("/api/", "/api/%2e/", 1));
    out.push(path.replacen("/api/", "/api/x/%2e%2e/", 1));
    out.push(path.replacen("/api/", "/api/x/%2E%2E/", 1));
    out.push(path.replacen("/api/", "/api/x%2f..%2f", 1));
    out.push(path.replacen("/api/", "/api/%c0%af", 1));
    out.push(path.replacen("/api/", "/api%2f", 1));
    if let Some(i) = path[1..].find(|c: char| c.is_ascii_lowercase() && c != 'a') {
        let c = path.as_bytes()[i + 1];
        // U+FF41 + (c - 'a'): the full-width form of the letter, in UTF-8.
        let wide = char::from_u32(0xFF41 + u32::from(c - b'a')).unwrap_or('?');
        let encoded: String = wide.to_string().bytes().map(|b| encode(b, true)).collect();
        out.push(format!("{}{}{}", &path[..i + 1], encoded, &path[i + 2..]));
    }
    // Empty segments, dot segments, trailing slashes, parameters.
    out.push(format!("/{path}"));
    out.push(path.replacen('/', "//", 2));
    out.push(path.replacen("/api/", "/api//", 1));
    out.push(path.replace('/', "//"));
    out.push(format!("{path}/"));
    out.push(format!("{path}//"));
    out.push(format!("{path}/."));
    out.push(format!("{path}/x/.."));
    out.push(format!("/.{path}"));
    out.push(format!("/x/..{path}"));
    out.push(path.replacen("/api/", "/api/./", 1));
    out.push(path.replacen("/api/", "/api/../api/", 1));
    out.push(format!("{path};"));
    out.push(format!("{path};x=1"));
    out.push(path.replacen("/api/", "/api;x=1/", 1));
    out.push(format!("{path}%3Bx=1"));
    out.push(format!("{path}%00"));
    out.push(format!("{path}%20"));
    out.push(format!("{path}%09"));
    out.push(format!("{path}+"));
    out.push(format!("{path}#frag"));
    out.push(format!("{path}%3Fx=1"));
    out.push(format!("{path}?x=/api/health"));
    // Letter case.
    out.push(path.to_ascii_uppercase());
    out.push(
        segments
            .iter()
            .map(|s| {
                let mut c = s.chars();
                c.next().map_or_else(String::new, |f| {
                    f.to_ascii_uppercase().to_string() + c.as_str()
                })
            })
            .fold(String::new(), |acc, s| acc + "/" + &s),
    );
    out.push(path.replacen("/api/", "/API/", 1));
    // Backslashes.
    out.push(path.replace('/', "\\"));
    out.push(path.replacen("/api/", "/api\\", 1));
    out.push(path.replacen("/api/", "/api%5c", 1));
    out.push(path.replacen("/api/", "/api%5C", 1));
    // Absolute form, for this host and another.
    out.push(format!("http://127.0.0.1:{port}{path}"));
    out.push(format!("http://other.invalid{path}"));
    out.push(format!(
        "HTTP://127.0.0.1:{port}{}",
        encode_where(path, true, |_, b| b == b'u')
    ));
    out.retain(|s| s != path);
    out.sort();
    out.dedup();
    out
}

#[actix_web::test]
async fn no_spelling_of_a_path_is_more_permissive_than_the_canonical_one() {
    let dir = tempfile::tempdir().unwrap();
    let bin = Binary::start(dir).await;
    // An API key per role: keys survive the routes the fuzzing admits (logout, JWT rotation).
    let callers = {
        let setup = bin
            .send(
                "POST",
                "/api/auth/setup",
                None,
                Some(&json!({"username": ADMIN, "password": PASSWORD})),
                &[],
            )
            .await
            .unwrap();
        assert_eq!(setup.status, 201, "{}", setup.body);
        let admin: Value = serde_json::from_str(&setup.body).unwrap();
        let bearer = format!("Bearer {}", admin["access_token"].as_str().unwrap());
        let mut out: Vec<(&str, Option<String>)> = vec![("anonymous", None)];
        for role in ["viewer", "operator", "admin"] {
            let token = if role == "admin" {
                bearer.clone()
            } else {
                let created = bin
                    .send(
                        "POST",
                        "/api/users",
                        None,
                        Some(&json!({"username": format!("{role}1"), "password": PASSWORD, "role": role})),
                        &[("Authorization", &bearer)],
                    )
                    .await
                    .unwrap();
                assert_eq!(created.status, 201, "{}", created.body);
                let login = bin
                    .json(
                        "POST",
                        "/api/auth/login",
                        None,
                        json!({"username": format!("{role}1"), "password": PASSWORD}),
                    )
                    .await;
                format!("Bearer {}", login["access_token"].as_str().unwrap())
            };
            let key = bin
                .send(
                    "POST",
                    "/api/keys",
                    None,
                    Some(&json!({"name": format!("fuzz-{role}")})),
                    &[("Authorization", &token)],
                )
                .await
                .unwrap();
            assert_eq!(key.status, 201, "{}", key.body);
            let key: Value = serde_json::from_str(&key.body).unwrap();
            out.push((role, Some(key["key"].as_str().unwrap().to_owned())));
        }
        out
    };

    let table = RouteTable::build();
    let mut cases = Vec::new();
    for spec in table.all() {
        let path = concrete(spec.path);
        let method = spec.method.as_str().to_owned();
        let body = matches!(method.as_str(), "POST" | "PUT").then(|| json!({}));
        for (who, key) in &callers {
            cases.push((
                spec.clone(),
                path.clone(),
                method.clone(),
                body.clone(),
                *who,
                key.clone(),
            ));
        }
    }
    let checked = std::sync::atomic::AtomicUsize::new(0);
    let failures: Vec<String> = futures_util::stream::iter(cases)
        .map(|(spec, path, method, body, who, key)| {
            let bin = &bin;
            let checked = &checked;
            async move {
                let mut failures = Vec::new();
                let canonical = bin
                    .send(&method, &path, key.as_deref(), body.as_ref(), &[])
                    .await
                    .unwrap();
                let public = spec.access == Access::Public;
                if canonical.status == 500 {
                    failures.push(format!("{who} {method} {path}: 500 {}", canonical.body));
                }
                let mut variants: Vec<Variant> = spellings(&path, bin.port)
                    .into_iter()
                    .map(|t| (method.clone(), t, Vec::new()))
                    .collect();
                // Another spelling of the method, and the headers some proxies rewrite paths by.
                variants.push((method.to_ascii_lowercase(), path.clone(), Vec::new()));
                variants.push((
                    method.clone(),
                    path.clone(),
                    vec![
                        ("X-Original-URL", "/api/health"),
                        ("X-Rewrite-URL", "/api/health"),
                    ],
                ));
                // The same request asking to switch to WebSocket: it leaves the HTTP/1
                // dispatcher for src/http/upgrade.rs and must meet the same gate.
                variants.push((
                    method.clone(),
                    path.clone(),
                    vec![
                        ("Upgrade", "websocket"),
                        ("Connection", "Upgrade"),
                        ("Sec-WebSocket-Version", "13"),
                        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                    ],
                ));
                for (m, target, headers) in &variants {
                    let Ok(reply) = bin
                        .send(m, target, key.as_deref(), body.as_ref(), headers)
                        .await
                    else {
                        continue;
                    };
                    checked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let what = format!(
                        "{who} {m} {target} -> {} {} (canonical {method} {path} -> {})",
                        reply.status,
                        reply.body.chars().take(160).collect::<String>(),
                        canonical.status
                    );
                    if canonical.denied() && reply.reached_handler() {
                        failures.push(format!("more permissive: {what}"));
                    }
                    if key.is_none() && !public && (200..300).contains(&reply.status) {
                        failures.push(format!("anonymous 2xx on a protected route: {what}"));
                    }
                    if reply.status == 500 {
                        failures.push(format!("server error: {what}"));
                    }
                }
                failures
            }
        })
        .buffer_unordered(8)
        .flat_map(futures_util::stream::iter)
        .collect()
        .await;
    let checked = checked.into_inner();
    assert!(checked > 10_000, "only {checked} spellings were answered");
    assert!(
        failures.is_empty(),
        "{} of {checked} spellings broke a rule:\n{}",
        failures.len(),
        failures
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    drop(bin);
}

/// The two requests of the report, and what a flood of refused anonymous requests leaves behind:
/// every one counted in `/metrics`, one audit entry per route and status and minute.
#[actix_web::test]
async fn the_reported_bypasses_are_closed_and_anonymous_refusals_are_sampled() {
    let s = TestServer::start().await;
    let admin = s.setup().await;
    let port: u16 = s.base.rsplit(':').next().unwrap().parse().unwrap();
    let mallory = json!({"username": "mallory", "password": "mallory-pass-1", "role": "admin"});
    let r = send_raw(port, "POST", "/api/%75sers", None, Some(&mallory), &[])
        .await
        .unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(s.login("mallory", "mallory-pass-1").await.status, 401);
    let r = send_raw(port, "GET", "/api/%65xport", None, None, &[])
        .await
        .unwrap();
    assert_eq!(r.status, 401, "{}", r.body);
    let viewer = s.user(&admin, "viewer1", "viewer").await;
    let bearer = format!("Bearer {}", viewer.access);
    let r = send_raw(
        port,
        "POST",
        "/api/%75sers",
        None,
        Some(&mallory),
        &[("Authorization", &bearer)],
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403, "{}", r.body);
    let users = s.get("/api/users", &admin.access).await;
    assert_eq!(users.body["total"], 2, "{:?}", users.body);

    for _ in 0..200 {
        let r = send_raw(port, "POST", "/api/%75sers", None, Some(&mallory), &[])
            .await
            .unwrap();
        assert_eq!(r.status, 401);
        let r = send_raw(port, "GET", "/api/users", None, None, &[])
            .await
            .unwrap();
        assert_eq!(r.status, 401);
    }
    let anonymous: Vec<Value> = s
        .audit(&admin, "&actor=anonymous")
        .await
        .into_iter()
        .filter(|e| e["action"] == "POST /api/users" || e["action"] == "GET /api/users")
        .collect();
    // The first refusal of each (route, status) in the minute is written; the rest are counted.
    assert!(
        (2..=4).contains(&anonymous.len()),
        "{} anonymous entries: {anonymous:#?}",
        anonymous.len()
    );
    let metrics = s
        .http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("contextbay_http_anonymous_rejected_total{")
                && l.contains("route=\"/api/users\"")
                && l.contains("status=\"401\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(count >= 401.0, "{count}\n{metrics}");
}

#[test]
fn spellings_cover_the_known_bypasses() {
    let s = spellings("/api/nodes", 8080);
    for expected in [
        "/api/%6Eodes",
        "/api/%6eodes",
        "/api/%256Eodes",
        "/%61%70%69/%6E%6F%64%65%73",
        "/api//nodes",
        "//api/nodes",
        "/api/nodes/",
        "/api/./nodes",
        "/api/x/%2e%2e/nodes",
        "/api/nodes;x=1",
        "/API/NODES",
        "/api%2Fnodes",
        "/api%2fnodes",
        "http://127.0.0.1:8080/api/nodes",
    ] {
        assert!(
            s.iter().any(|v| v == expected),
            "{expected} missing from {s:?}"
        );
    }
    assert!(s.len() > 40, "{}", s.len());
}
