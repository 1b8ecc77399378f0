//! Starting a master for a test and talking to it.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use contextbay::{Config, RunningServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub const ADMIN: &str = "admin";
pub const PASSWORD: &str = "correct-horse-battery";

pub struct TestServer {
    pub base: String,
    pub config: Config,
    pub server: Option<RunningServer>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A logged-in user: the tokens of one session.
#[derive(Debug, Clone)]
pub struct Login {
    pub user_id: String,
    pub access: String,
    pub refresh: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // On PostgreSQL when the suite runs there (`CB_TEST_STORE=postgres`): a fresh database.
        let mut config = super::support::postgres::test_config(dir.path());
        tweak(&mut config);
        config.validate().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = contextbay::start_on(config.clone(), listener)
            .await
            .unwrap();
        Self {
            base: format!("http://{}", server.http_addr),
            config,
            server: Some(server),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("{}{path}", self.base.replacen("http://", "ws://", 1))
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The gRPC address workers dial.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.server.as_ref().unwrap().grpc_addr)
    }

    pub fn state(&self) -> &contextbay::state::AppState {
        &self.server.as_ref().unwrap().state
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::reply(req.send().await.unwrap()).await
    }

    pub async fn reply(res: reqwest::Response) -> Reply {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Runs first-time setup and returns the admin's login.
    pub async fn setup(&self) -> Login {
        let r = self
            .call(
                Method::POST,
                "/api/auth/setup",
                None,
                Some(json!({"username": ADMIN, "password": PASSWORD})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        Login::from(&r.body)
    }

    pub async fn login(&self, username: &str, password: &str) -> Reply {
        self.call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await
    }

    /// Creates a user with `role` (as the admin) and logs them in.
    pub async fn user(&self, admin: &Login, username: &str, role: &str) -> Login {
        let r = self
            .post(
                "/api/users",
                &admin.access,
                json!({"username": username, "password": PASSWORD, "role": role}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let r = self.login(username, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        Login::from(&r.body)
    }

    /// Switches module `name` on (`PUT /api/config/{name}`), with `settings` as its
    /// configuration unless it is `null`. Returns the module's configuration view.
    pub async fn enable_module(&self, admin: &Login, name: &str, settings: Value) -> Value {
        self.switch_module(admin, name, true, settings).await
    }

    /// Switches module `name` off; its configuration stays.
    pub async fn disable_module(&self, admin: &Login, name: &str) -> Value {
        self.switch_module(admin, name, false, Value::Null).await
    }

    async fn switch_module(&self, admin: &Login, name: &str, on: bool, settings: Value) -> Value {
        let mut body = json!({"enabled": on});
        if !settings.is_null() {
            body["config"] = settings;
        }
        let r = self
            .put(&format!("/api/config/{name}"), &admin.access, body)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["enabled"], on, "{:?}", r.body);
        r.body
    }

    /// A node enrolled without a worker: a host placeholder whose token was traded at
    /// `/api/enroll`. Returns the node's id and its gRPC credential.
    pub async fn enrolled_node(&self, admin: &Login, name: &str) -> (String, String) {
        let host = self
            .post("/api/hosts", &admin.access, json!({"name": name}))
            .await;
        assert_eq!(host.status, StatusCode::CREATED, "{:?}", host.body);
        let enrolled = self
            .call(
                Method::POST,
                "/api/enroll",
                None,
                Some(json!({
                    "shared_secret": self.config.fleet.enroll_secret,
                    "enroll_token": host.body["enroll_token"],
                    "hostname": name,
                })),
            )
            .await;
        assert!(enrolled.status.is_success(), "{:?}", enrolled.body);
        (
            host.body["id"].as_str().unwrap().to_owned(),
            enrolled.body["credential"].as_str().unwrap().to_owned(),
        )
    }

    /// The audit entries (newest first), as the admin sees them.
    pub async fn audit(&self, admin: &Login, query: &str) -> Vec<Value> {
        let r = self
            .get(&format!("/api/audit?limit=500{query}"), &admin.access)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        r.body["items"].as_array().unwrap().clone()
    }
}

impl From<&Value> for Login {
    fn from(body: &Value) -> Self {
        Self {
            user_id: body["user"]["id"].as_str().unwrap().to_owned(),
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }
}

/// Sets module `module`'s configuration (`PUT /api/config/{module}`) without switching it.
pub async fn configure(s: &TestServer, admin: &Login, module: &str, config: Value) {
    let r = s
        .put(
            &format!("/api/config/{module}"),
            &admin.access,
            json!({"config": config}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// Polls `check` every 250 ms until it gives a value, for up to `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Asserts the error shape: status, a non-empty `error` message, and a request id.
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert!(
        reply.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "error message missing: {:?}",
        reply.body
    );
    assert_eq!(reply.body["code"], code, "{:?}", reply.body);
    assert!(
        reply.body["request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
}
