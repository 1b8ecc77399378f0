//! The alerting module: alert rules loaded into a real Prometheus, alerts delivered by a real
//! Alertmanager to the webhook and on to `/api/ws` clients, silences through Alertmanager's API;
//! and the webhook's authentication and validation on their own.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

use super::harness::{Reply, TestServer, assert_error, configure, eventually};
use super::monitoring::{WEBHOOK_TOKEN, master, start_alertmanager, start_prometheus};
use super::support::ws::{drain, subscribe, wait_event};

/// One alert of a webhook notification, as Alertmanager 0.25 sends it.
pub fn alert(name: &str, severity: &str, status: &str, fingerprint: &str) -> Value {
    json!({
        "status": status,
        "labels": {"alertname": name, "severity": severity, "instance": "node-1"},
        "annotations": {"summary": format!("{name} on node-1")},
        "startsAt": "2026-11-27T04:14:29.123Z",
        "endsAt": if status == "resolved" { "2026-11-27T04:20:00Z" } else { "0001-01-01T00:00:00Z" },
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": fingerprint,
    })
}

/// A version 4 notification carrying `alerts`.
pub fn notification(status: &str, alerts: &[Value]) -> Value {
    json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"x\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "contextbay",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    })
}

pub async fn post_webhook(s: &TestServer, token: Option<&str>, body: &Value) -> Reply {
    s.call(
        Method::POST,
        "/api/webhooks/alertmanager",
        token,
        Some(body.clone()),
    )
    .await
}

async fn alerting_master() -> (TestServer, super::harness::Login) {
    let s = master().await;
    let admin = s.setup().await;
    configure(
        &s,
        &admin,
        "alerting",
        json!({"alertmanager_url": "http://127.0.0.1:9", "webhook_token": WEBHOOK_TOKEN}),
    )
    .await;
    (s, admin)
}

#[actix_web::test]
async fn webhook_stores_alerts_and_publishes_events() {
    let (s, admin) = alerting_master().await;
    let viewer = s.user(&admin, "viewer1", "viewer").await;
    let operator = s.user(&admin, "operator1", "operator").await;
    let mut ws = subscribe(&s, &viewer.access, "alert.*,notification").await;

    let firing = notification(
        "firing",
        &[
            alert("NodeDown", "critical", "firing", "aaaa1111"),
            alert("Disk", "warning", "firing", "bbbb2222"),
        ],
    );
    let r = post_webhook(&s, Some(WEBHOOK_TOKEN), &firing).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"received": 2, "fired": 2, "resolved": 0, "unchanged": 0})
    );
    let (fired, _) = wait_event(&mut ws, 5, "alert.fired", |p| p["name"] == "NodeDown")
        .await
        .unwrap();
    let p = &fired["payload"];
    assert_eq!(p["severity"], "critical");
    assert_eq!(p["status"], "firing");
    assert_eq!(p["labels"]["instance"], "node-1");
    assert_eq!(p["annotations"]["summary"], "NodeDown on node-1");
    assert_eq!(p["starts_at"], "2026-11-27T04:14:29.123Z");
    let node_down = p["id"].as_str().unwrap().to_owned();
    let (note, _) = wait_event(&mut ws, 5, "notification", |p| {
        p["title"] == "Alert firing: NodeDown"
    })
    .await
    .unwrap();
    assert_eq!(note["payload"]["level"], "error");
    assert_eq!(note["payload"]["body"], "NodeDown on node-1");

    // Alertmanager repeats itself: nothing new.
    let r = post_webhook(&s, Some(WEBHOOK_TOKEN), &firing).await;
    assert_eq!(r.body["unchanged"], 2);
    let list = s.get("/api/alerts", &viewer.access).await;
    assert_eq!(list.body["total"], 2);

    // Filters.
    let crit = s.get("/api/alerts?severity=critical", &viewer.access).await;
    assert_eq!(crit.body["total"], 1);
    assert_eq!(crit.body["items"][0]["id"], node_down.as_str());
    let q = s
        .get("/api/alerts?q=dis&status=firing", &viewer.access)
        .await;
    assert_eq!(q.body["items"][0]["name"], "Disk");
    let bad = s.get("/api/alerts?status=open", &viewer.access).await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "bad_request");

    // Acknowledge (operator), once.
    let path = format!("/api/alerts/{node_down}/acknowledge");
    let denied = s.post(&path, &viewer.access, json!({})).await;
    assert_error(&denied, StatusCode::FORBIDDEN, "forbidden");
    let acked = s.post(&path, &operator.access, json!({})).await;
    assert_eq!(acked.status, StatusCode::OK, "{:?}", acked.body);
    assert_eq!(acked.body["acknowledged"], true);
    assert_eq!(acked.body["acknowledged_by"], "operator1");
    let (ack_event, _) = wait_event(&mut ws, 5, "alert.acknowledged", |_| true)
        .await
        .unwrap();
    assert_eq!(ack_event["payload"]["id"], node_down.as_str());
    let again = s.post(&path, &admin.access, json!({})).await;
    assert_eq!(again.body["acknowledged_by"], "operator1");
    let unacked = s
        .get("/api/alerts?acknowledged=false", &viewer.access)
        .await;
    assert_eq!(unacked.body["items"][0]["name"], "Disk");

    // Alertmanager resolves one.
    let resolved = notification(
        "resolved",
        &[alert("NodeDown", "critical", "resolved", "aaaa1111")],
    );
    let r = post_webhook(&s, Some(WEBHOOK_TOKEN), &resolved).await;
    assert_eq!(r.body["resolved"], 1);
    let (ev, skipped) = wait_event(&mut ws, 5, "alert.resolved", |_| true)
        .await
        .unwrap();
    assert!(
        skipped.iter().all(|f| f["type"] != "alert.fired"),
        "{skipped:?}"
    );
    assert_eq!(ev["payload"]["id"], node_down.as_str());
    assert_eq!(ev["payload"]["resolved_by"], Value::Null);
    assert_eq!(ev["payload"]["ends_at"], "2026-11-27T04:20:00.000Z");

    // Someone resolves the other by hand; twice is a conflict.
    let disk = s.get("/api/alerts?q=disk", &viewer.access).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .post(
            &format!("/api/alerts/{disk}/resolve"),
            &operator.access,
            json!({}),
        )
        .await;
    assert_eq!(r.body["status"], "resolved");
    assert_eq!(r.body["resolved_by"], "operator1");
    let (ev, _) = wait_event(&mut ws, 5, "alert.resolved", |p| p["name"] == "Disk")
        .await
        .unwrap();
    assert_eq!(ev["payload"]["resolved_by"], "operator1");
    let r = s
        .post(
            &format!("/api/alerts/{disk}/resolve"),
            &operator.access,
            json!({}),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict");
    let unknown = uuid::Uuid::now_v7();
    let r = s
        .post(
            &format!("/api/alerts/{unknown}/acknowledge"),
            &operator.access,
            json!({}),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = s
        .post(
            "/api/alerts/not-a-uuid/resolve",
            &operator.access,
            json!({}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let firing_now = s.get("/api/alerts?status=firing", &viewer.access).await;
    assert_eq!(firing_now.body["total"], 0);

    // Alertmanager resolves alerts by itself when Prometheus' updates stop for a while, and
    // reports them firing again when they resume: the alert Alertmanager resolved is re-opened.
    let again = notification(
        "firing",
        &[alert("NodeDown", "critical", "firing", "aaaa1111")],
    );
    let r = post_webhook(&s, Some(WEBHOOK_TOKEN), &again).await;
    assert_eq!(r.body["fired"], 1, "{:?}", r.body);
    let (ev, _) = wait_event(&mut ws, 5, "alert.fired", |p| p["name"] == "NodeDown")
        .await
        .unwrap();
    assert_eq!(ev["payload"]["id"], node_down.as_str());
    assert_eq!(ev["payload"]["ends_at"], Value::Null);
    // A manual resolve stands against Alertmanager's repeats of the firing alert.
    let repeat = notification("firing", &[alert("Disk", "warning", "firing", "bbbb2222")]);
    let r = post_webhook(&s, Some(WEBHOOK_TOKEN), &repeat).await;
    assert_eq!(r.body["unchanged"], 1, "{:?}", r.body);
    let firing_now = s.get("/api/alerts?status=firing", &viewer.access).await;
    assert_eq!(firing_now.body["total"], 1);
    assert_eq!(firing_now.body["items"][0]["id"], node_down.as_str());
    // The notifications are in the list too.
    let notes = s.get("/api/notifications", &viewer.access).await;
    assert!(
        notes.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["title"] == "Alert resolved: NodeDown")
    );
    s.stop().await;
}

#[actix_web::test]
async fn webhook_refuses_bad_credentials_and_payloads_and_stores_nothing() {
    let (s, admin) = alerting_master().await;
    let good = notification("firing", &[alert("A", "warning", "firing", "cafe0001")]);

    let r = post_webhook(&s, None, &good).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    let r = post_webhook(&s, Some("wrong-token"), &good).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    // An access token of a real user is not the webhook token either.
    let r = post_webhook(&s, Some(&admin.access), &good).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");

    let malformed = s
        .http
        .post(s.url("/api/webhooks/alertmanager"))
        .bearer_auth(WEBHOOK_TOKEN)
        .header("content-type", "application/json")
        .body("{\"version\": \"4\", \"alerts\": [")
        .send()
        .await
        .unwrap();
    let malformed = TestServer::reply(malformed).await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, "invalid_json");
    let mut v3 = good.clone();
    v3["version"] = json!("3");
    let r = post_webhook(&s, Some(WEBHOOK_TOKEN), &v3).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert!(r.body["error"].as_str().unwrap().contains("version 4"));
    let mut no_alerts = good.clone();
    no_alerts.as_object_mut().unwrap().remove("alerts");
    let r = post_webhook(&s, Some(WEBHOOK_TOKEN), &no_alerts).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    assert!(r.body["error"].as_str().unwrap().contains("alerts"));
    // One bad alert spoils the notification: the good one before it is not stored either.
    let mixed = notification(
        "firing",
        &[
            alert("Fine", "warning", "firing", "cafe0002"),
            json!({"status": "firing", "labels": {"severity": "x"}, "annotations": {},
                   "startsAt": "2026-11-27T04:14:29Z", "fingerprint": "cafe0003"}),
        ],
    );
    let r = post_webhook(&s, Some(WEBHOOK_TOKEN), &mixed).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert!(r.body["error"].as_str().unwrap().contains("alerts[1]"));
    let mut bad_time = good.clone();
    bad_time["alerts"][0]["startsAt"] = json!("yesterday");
    let r = post_webhook(&s, Some(WEBHOOK_TOKEN), &bad_time).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let text = s
        .http
        .post(s.url("/api/webhooks/alertmanager"))
        .bearer_auth(WEBHOOK_TOKEN)
        .header("content-type", "text/plain")
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::BAD_REQUEST);

    let list = s.get("/api/alerts", &admin.access).await;
    assert_eq!(list.body["total"], 0, "{:?}", list.body);
    let fired = s.get("/api/activity?type=alert.fired", &admin.access).await;
    assert!(
        fired.body["items"].as_array().is_none_or(Vec::is_empty),
        "{:?}",
        fired.body
    );

    // HMAC instead of the bearer token.
    configure(
        &s,
        &admin,
        "alerting",
        json!({"webhook_hmac_secret": "hmac-secret-0123456789"}),
    )
    .await;
    let body = good.to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(b"hmac-secret-0123456789").unwrap();
    mac.update(body.as_bytes());
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let send = |sig: String, body: String| {
        s.http
            .post(s.url("/api/webhooks/alertmanager"))
            .header("content-type", "application/json")
            .header("x-contextbay-signature", sig)
            .body(body)
            .send()
    };
    let forged = send(signature.clone(), body.replace("\"A\"", "\"B\""))
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let signed = send(signature, body).await.unwrap();
    assert_eq!(signed.status(), StatusCode::OK);
    let list = s.get("/api/alerts", &admin.access).await;
    assert_eq!(list.body["total"], 1);
    s.stop().await;
}

/// `promtool check rules` on the rule file ContextBay wrote.
fn promtool_accepts(path: &std::path::Path) {
    let Some(promtool) = super::monitoring::binary("promtool", "CONTEXTBAY_TEST_PROMTOOL") else {
        return;
    };
    let out = std::process::Command::new(promtool)
        .arg("check")
        .arg("rules")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[actix_web::test]
async fn alert_rules_are_validated_and_defaults_are_shipped() {
    let s = master().await;
    let admin = s.setup().await;
    let operator = s.user(&admin, "operator1", "operator").await;
    let Some(prom) = start_prometheus(&s, None).await else {
        return;
    };
    configure(
        &s,
        &admin,
        "monitoring",
        json!({"prometheus_url": prom.url}),
    )
    .await;

    // The defaults, written to the rule file, which promtool and Prometheus accept.
    let rules = s.get("/api/alert-rules", &operator.access).await;
    let names: Vec<&str> = rules.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ContainerRestarting",
            "ContainerUnhealthy",
            "MasterScrapeDown",
            "NodeDiskAlmostFull",
            "NodeOffline"
        ]
    );
    assert_eq!(rules.body["total"], 5);
    let last = s
        .get("/api/alert-rules?limit=2&offset=4", &operator.access)
        .await;
    assert_eq!(last.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(last.body["items"][0]["name"], "NodeOffline");
    assert_eq!(
        (
            last.body["total"].as_i64(),
            last.body["limit"].as_i64(),
            last.body["offset"].as_i64()
        ),
        (Some(5), Some(2), Some(4))
    );
    assert!(
        rules.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["builtin"] == true)
    );
    let rule_file = s.data_dir().join("prometheus/rules/contextbay.rules.yml");
    promtool_accepts(&rule_file);
    let loaded = eventually(20, "the default rules in Prometheus", || async {
        let r = s
            .get("/api/prometheus/rules?type=alert", &operator.access)
            .await;
        let groups = r.body["items"].as_array()?.clone();
        let group = groups.into_iter().find(|g| g["name"] == "contextbay")?;
        (group["rules"].as_array()?.len() == 5).then_some(group)
    })
    .await;
    assert!(
        loaded["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["health"] != "err")
    );

    let count = || async {
        s.get("/api/alert-rules", &operator.access).await.body["items"]
            .as_array()
            .unwrap()
            .len()
    };
    // Invalid PromQL: Prometheus' parser says why; nothing stored.
    let r = s
        .post(
            "/api/alert-rules",
            &operator.access,
            json!({"name": "Bad", "expr": "up >"}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        r.body["error"].as_str().unwrap().contains("parse error"),
        "{:?}",
        r.body
    );
    let r = s
        .post(
            "/api/alert-rules",
            &operator.access,
            json!({"name": "Bad", "expr": "sum(rate(x[5m])"}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(r.body["field"], "expr");
    for (body, field) in [
        (
            json!({"name": "Bad", "expr": "up", "for": "5 minutes"}),
            "for",
        ),
        (json!({"name": "bad name", "expr": "up"}), "name"),
        // Names are taken as sent: blanks around one are not trimmed away.
        (json!({"name": " Bad", "expr": "up"}), "name"),
        (json!({"name": "Bad", "expr": " \t"}), "expr"),
        (
            json!({"name": "Bad", "expr": "up", "severity": "fatal"}),
            "severity",
        ),
        (
            json!({"name": "Bad", "expr": "up", "labels": {"severity": "x"}}),
            "labels.severity",
        ),
        (
            json!({"name": "Bad", "expr": "up", "annotations": {"summary": 1}}),
            "annotations.summary",
        ),
    ] {
        let r = s.post("/api/alert-rules", &operator.access, body).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            r.body["error"].as_str().unwrap().contains(field),
            "{field}: {:?}",
            r.body
        );
        assert_eq!(r.body["field"], field, "{:?}", r.body);
    }
    let r = s
        .post(
            "/api/alert-rules",
            &operator.access,
            json!({"name": "Bad", "expr": "up", "extra": 1}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    // A template Prometheus cannot parse: it refuses the file, the rule is undone.
    let r = s
        .post(
            "/api/alert-rules",
            &operator.access,
            json!({"name": "BadTemplate", "expr": "up == 0", "annotations": {"summary": "{{ $value "}}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        r.body["error"].as_str().unwrap().contains("refused"),
        "{:?}",
        r.body
    );
    assert_eq!(count().await, 5);
    assert!(
        !std::fs::read_to_string(&rule_file)
            .unwrap()
            .contains("BadTemplate")
    );

    // A good rule: stored, written, reloaded, loaded.
    let r = s
        .post(
            "/api/alert-rules",
            &operator.access,
            json!({"name": "HighLoad", "expr": "contextbay_node_load1 > 8", "for": "5m",
                   "severity": "warning", "labels": {"team": "ops"},
                   "annotations": {"summary": "load {{ $value }} on {{ $labels.hostname }}"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["prometheus"]["reloaded"], true, "{:?}", r.body);
    assert_eq!(r.body["prometheus"]["loaded"], true, "{:?}", r.body);
    assert_eq!(r.body["for"], "5m");
    assert_eq!(r.body["builtin"], false);
    let id = r.body["id"].as_str().unwrap().to_owned();
    promtool_accepts(&rule_file);
    let dup = s
        .post(
            "/api/alert-rules",
            &operator.access,
            json!({"name": "HighLoad", "expr": "up"}),
        )
        .await;
    assert_error(&dup, StatusCode::CONFLICT, "conflict");

    // Update: partial; disabling takes it out of Prometheus.
    let r = s
        .put(
            &format!("/api/alert-rules/{id}"),
            &operator.access,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["expr"], "contextbay_node_load1 > 8");
    assert_eq!(r.body["prometheus"]["loaded"], false);
    let r = s
        .put(
            &format!("/api/alert-rules/{id}"),
            &operator.access,
            json!({"expr": "up >"}),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    // Unknown ids.
    let unknown = uuid::Uuid::now_v7();
    let r = s
        .put(
            &format!("/api/alert-rules/{unknown}"),
            &operator.access,
            json!({"enabled": true}),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = s
        .delete(&format!("/api/alert-rules/{unknown}"), &operator.access)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = s.delete("/api/alert-rules/nope", &operator.access).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    let r = s
        .delete(&format!("/api/alert-rules/{id}"), &operator.access)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["prometheus"]["reloaded"], true);
    assert_eq!(count().await, 5);

    // Switching the alerting module off empties the rule file.
    let r = s
        .put(
            "/api/config/alerting",
            &admin.access,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    eventually(10, "an empty rule file", || async {
        std::fs::read_to_string(&rule_file)
            .unwrap()
            .contains("groups: []")
            .then_some(())
    })
    .await;
    drop(prom);
    s.stop().await;
}

/// Where alerts are on their way, for a failure message.
async fn diagnose(
    s: &TestServer,
    admin: &super::harness::Login,
    prom: &super::monitoring::Service,
    am: &super::monitoring::Service,
) -> String {
    let get = |url: String| async move {
        match reqwest::get(&url).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(e) => e.to_string(),
        }
    };
    let hooks = s
        .audit(admin, "&action=POST%20/api/webhooks/alertmanager")
        .await;
    let rules = std::fs::read_to_string(s.data_dir().join("prometheus/rules/contextbay.rules.yml"))
        .unwrap_or_default();
    format!(
        "rule file:\n{rules}\nprometheus rules: {}\nnotifier: {}\nprometheus alerts: {}\nprometheus alertmanagers: {}\nprometheus config: {}\n\
         alertmanager alerts: {}\nwebhook audit: {hooks:?}\n\
         prometheus log:\n{}\nalertmanager log:\n{}",
        get(format!("{}/api/v1/rules", prom.url)).await,
        get(format!("{}/metrics", prom.url))
            .await
            .lines()
            .filter(|l| l.starts_with("prometheus_notifications"))
            .collect::<Vec<_>>()
            .join("\n"),
        get(format!("{}/api/v1/alerts", prom.url)).await,
        get(format!("{}/api/v1/alertmanagers", prom.url)).await,
        get(format!("{}/api/v1/status/config", prom.url)).await,
        get(format!("{}/api/v2/alerts", am.url)).await,
        prom.log(),
        am.log()
    )
}

#[actix_web::test]
async fn alerts_flow_from_prometheus_through_alertmanager_to_websocket_clients() {
    let s = master().await;
    let admin = s.setup().await;
    let Some(am) = start_alertmanager(&s, WEBHOOK_TOKEN).await else {
        return;
    };
    let Some(prom) = start_prometheus(&s, Some(&am.addr)).await else {
        return;
    };
    configure(
        &s,
        &admin,
        "monitoring",
        json!({"prometheus_url": prom.url}),
    )
    .await;
    configure(
        &s,
        &admin,
        "alerting",
        json!({"alertmanager_url": am.url, "webhook_token": WEBHOOK_TOKEN}),
    )
    .await;
    let mut ws = subscribe(&s, &admin.access, "alert.*").await;

    // A rule that fires at once.
    let r = s
        .post(
            "/api/alert-rules",
            &admin.access,
            json!({"name": "CbAlways", "expr": "vector(1) > 0", "for": "0s", "severity": "warning",
                   "annotations": {"summary": "always firing"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["prometheus"]["loaded"], true, "{:?}", r.body);
    let always_rule = r.body["id"].as_str().unwrap().to_owned();
    let rules = s.get("/api/prometheus/rules", &admin.access).await;
    let group = rules.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "contextbay")
        .unwrap()
        .clone();
    assert!(
        group["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "CbAlways")
    );

    // Prometheus → Alertmanager → webhook → bus → this WebSocket.
    let fired = wait_event(&mut ws, 45, "alert.fired", |p| p["name"] == "CbAlways").await;
    let (fired, _) = match fired {
        Ok(f) => f,
        Err(e) => panic!("{e}\n{}", diagnose(&s, &admin, &prom, &am).await),
    };
    let p = &fired["payload"];
    assert_eq!(p["severity"], "warning");
    assert_eq!(p["status"], "firing");
    assert_eq!(p["annotations"]["summary"], "always firing");
    assert_eq!(p["rule_id"], always_rule.as_str());
    assert!(p["starts_at"].as_str().unwrap().ends_with('Z'));
    let alert_id = p["id"].as_str().unwrap().to_owned();
    let listed = s
        .get("/api/alerts?status=firing&q=cbalways", &admin.access)
        .await;
    assert_eq!(listed.body["items"][0]["id"], alert_id.as_str());
    assert_eq!(listed.body["items"][0]["rule_id"], always_rule.as_str());

    // A silence created through the API suppresses the next alert.
    let r = s
        .post(
            "/api/alertmanager/silences",
            &admin.access,
            json!({"matchers": [{"name": "alertname", "value": "CbSilenced"}], "duration": "1h",
                   "comment": "maintenance"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["state"], "active");
    assert_eq!(r.body["created_by"], "admin");
    let silence = r.body["id"].as_str().unwrap().to_owned();
    let listed = s
        .get("/api/alertmanager/silences?state=active", &admin.access)
        .await;
    assert_eq!(
        (
            listed.body["limit"].as_i64(),
            listed.body["offset"].as_i64()
        ),
        (Some(50), Some(0)),
        "{:?}",
        listed.body
    );
    assert!(listed.body["total"].as_i64() >= Some(1));
    assert!(
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == silence.as_str())
    );
    let r = s
        .post(
            "/api/alert-rules",
            &admin.access,
            json!({"name": "CbSilenced", "expr": "vector(1) > 0", "severity": "info"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let http = reqwest::Client::new();
    eventually(45, "the silenced alert in Alertmanager", || async {
        let alerts: Value = http
            .get(format!(
                "{}/api/v2/alerts?filter=alertname%3D%22CbSilenced%22",
                am.url
            ))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let a = alerts.as_array()?.first()?.clone();
        (a["status"]["state"] == "suppressed"
            && a["status"]["silencedBy"]
                .as_array()?
                .contains(&json!(silence)))
        .then_some(())
    })
    .await;
    // Several group intervals pass without a notification for it.
    let frames = drain(&mut ws, Duration::from_secs(4)).await;
    assert!(
        frames.iter().all(|f| f["payload"]["name"] != "CbSilenced"),
        "{frames:#?}"
    );
    let stored = s.get("/api/alerts?q=cbsilenced", &admin.access).await;
    assert_eq!(stored.body["total"], 0);
    // Expiring the silence lets it through.
    let r = s
        .delete(
            &format!("/api/alertmanager/silences/{silence}"),
            &admin.access,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // Expiring it again changes nothing; Alertmanager answers 500 to an unknown id: 404 here.
    let again = s
        .delete(
            &format!("/api/alertmanager/silences/{silence}"),
            &admin.access,
        )
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "{:?}", again.body);
    let unknown = s
        .delete(
            "/api/alertmanager/silences/3f2c1e4a-9b7d-4c6e-8a1f-0d2b3c4e5f60",
            &admin.access,
        )
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
    let (released, _) = wait_event(&mut ws, 45, "alert.fired", |p| p["name"] == "CbSilenced")
        .await
        .unwrap();
    assert_eq!(released["payload"]["severity"], "info");
    let r = s
        .get("/api/alertmanager/silences?state=expired", &admin.access)
        .await;
    assert!(
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == silence.as_str())
    );

    // The condition ends: Prometheus resolves it, Alertmanager says so.
    let r = s
        .put(
            &format!("/api/alert-rules/{always_rule}"),
            &admin.access,
            json!({"expr": "vector(1) < 0"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["prometheus"]["loaded"], true);
    let resolved = wait_event(&mut ws, 45, "alert.resolved", |p| p["name"] == "CbAlways").await;
    let (resolved, _) = match resolved {
        Ok(r) => r,
        Err(e) => panic!("{e}\n{}", diagnose(&s, &admin, &prom, &am).await),
    };
    assert_eq!(resolved["payload"]["id"], alert_id.as_str());
    assert_eq!(resolved["payload"]["resolved_by"], Value::Null);
    let listed = s.get("/api/alerts?status=resolved", &admin.access).await;
    assert!(
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == alert_id.as_str())
    );
    drop(prom);
    drop(am);
    s.stop().await;
}

#[actix_web::test]
async fn silences_are_validated_before_alertmanager_is_asked() {
    let (s, admin) = alerting_master().await;
    for (body, needle) in [
        (
            json!({"matchers": [], "duration": "1h", "comment": "x"}),
            "matchers",
        ),
        (
            json!({"matchers": [{"name": "a b", "value": "x"}], "duration": "1h", "comment": "x"}),
            "matchers[0].name",
        ),
        (
            json!({"matchers": [{"name": "a", "value": "x"}], "comment": "x"}),
            "ends_at or duration",
        ),
        (
            json!({"matchers": [{"name": "a", "value": "x"}], "duration": "1h", "comment": " "}),
            "comment",
        ),
        (
            json!({"matchers": [{"name": "a", "value": "x"}], "ends_at": "2000-01-01T00:00:00Z", "comment": "x"}),
            "future",
        ),
        (
            json!({"matchers": [{"name": "a", "value": "x"}], "duration": "2y", "comment": "x"}),
            "365 days",
        ),
    ] {
        let r = s
            .post("/api/alertmanager/silences", &admin.access, body)
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            r.body["error"].as_str().unwrap().contains(needle),
            "{needle}: {:?}",
            r.body
        );
    }
    let r = s
        .delete("/api/alertmanager/silences/xyz", &admin.access)
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert_eq!(r.body["field"], "id");
    let r = s
        .post(
            "/api/alertmanager/silences",
            &admin.access,
            json!({"matchers": [{"name": "a b", "value": "x"}], "duration": "1h", "comment": "x"}),
        )
        .await;
    assert_eq!(r.body["field"], "matchers[0].name", "{:?}", r.body);
    let r = s
        .get("/api/alertmanager/silences?state=gone", &admin.access)
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    // Valid, but Alertmanager is not there.
    let r = s
        .post(
            "/api/alertmanager/silences",
            &admin.access,
            json!({"matchers": [{"name": "a", "value": "x"}], "duration": "1h", "comment": "x"}),
        )
        .await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .starts_with("alertmanager is not reachable")
    );
    s.stop().await;
}
