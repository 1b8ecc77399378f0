//! `contextbay admin migrate-store`: a SQLite store filled through a real master is copied into
//! an empty PostgreSQL database by the binary, and a master started on that database serves the
//! same data. Runs whenever PostgreSQL is installed (on CI always).

use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::harness::{ADMIN, Login, PASSWORD, TestServer};
use super::support::postgres;

/// Runs `contextbay admin migrate-store` and returns (success, stdout, stderr).
fn migrate(from: &str, to: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_contextbay"))
        .args(["admin", "migrate-store", "--from", from, "--to", to])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What the API shows of the data the test wrote, compared before and after the move.
async fn snapshot(s: &TestServer, admin: &Login) -> Value {
    let get = |path: &'static str| async move {
        let r = s.get(path, &admin.access).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        r.body
    };
    let mut users = get("/api/users").await;
    for u in users["items"].as_array_mut().unwrap() {
        // Updated by each login.
        u.as_object_mut().unwrap().remove("last_login_at");
    }
    // The nodes' stored facts (their status is derived from the time since they were seen).
    let nodes: Vec<Value> = get("/api/nodes").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            json!([
                n["id"],
                n["name"],
                n["hostname"],
                n["labels"],
                n["enrolled_at"]
            ])
        })
        .collect();
    json!({
        "users": users,
        "nodes": nodes,
        "instance_name": get("/api/settings/ui.instance_name").await["value"],
        "workflows": get("/api/config/workflows").await,
        "activity": get("/api/activity?limit=500").await,
    })
}

#[actix_web::test]
async fn a_sqlite_store_moves_to_postgres_with_everything_in_it() {
    if !postgres::required_by("the migrate-store test") {
        return;
    }
    // 1. A master on SQLite (whatever engine the rest of the suite uses), filled through the API.
    // Its data directory outlives the master (`stop` removes the TestServer's own).
    let data = tempfile::tempdir().unwrap();
    let lite = TestServer::start_with(|c| {
        c.storage.data_dir = data.path().to_path_buf();
        c.storage.database_url = String::new();
    })
    .await;
    let sqlite_url = lite.config.database_url();
    assert!(sqlite_url.starts_with("sqlite:"), "{sqlite_url}");
    let admin = lite.setup().await;
    let operator = lite.user(&admin, "oper", "operator").await;
    let key = lite
        .post(
            "/api/keys",
            &operator.access,
            json!({"name": "ci", "role": "viewer"}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    let key = key.body["key"].as_str().unwrap().to_owned();
    let put = lite
        .put(
            "/api/settings/ui.instance_name",
            &admin.access,
            json!({"value": "Moved — ünïcode"}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    lite.enable_module(
        &admin,
        "workflows",
        json!({"n8n_url": "http://127.0.0.1:5678", "n8n_api_key": "n8n-secret-value"}),
    )
    .await;
    let (node, _credential) = lite.enrolled_node(&admin, "edge-1").await;
    let before = snapshot(&lite, &admin).await;
    let audit_before = lite.audit(&admin, "").await.len();
    assert!(audit_before >= 4, "{audit_before}");
    lite.stop().await;
    // A default alert rule removed by hand: the copy follows the source, not the migrations' seed.
    {
        let pool = sqlx::SqlitePool::connect(&sqlite_url).await.unwrap();
        sqlx::query("DELETE FROM alert_rules WHERE name = 'MasterScrapeDown'")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    // 2. Bad arguments are refused with a message naming the problem.
    let pg_url = postgres::fresh_database().unwrap();
    let (ok, _, err) = migrate(&pg_url, &pg_url);
    assert!(!ok && err.contains("--from must be a SQLite URL"), "{err}");
    let (ok, _, err) = migrate("sqlite:///nonexistent/contextbay.db", &pg_url);
    assert!(!ok && err.contains("no SQLite database at"), "{err}");
    let (ok, _, err) = migrate(&sqlite_url, &sqlite_url);
    assert!(
        !ok && err.contains("--to must be a PostgreSQL URL"),
        "{err}"
    );
    let (ok, _, err) = migrate(&sqlite_url, "postgres://[bad");
    assert!(
        !ok && err.contains("--to is not a valid PostgreSQL URL"),
        "{err}"
    );

    // 3. The move.
    let (ok, out, err) = migrate(&sqlite_url, &pg_url);
    assert!(ok, "migrate-store failed: {err}\n{out}");
    assert!(out.contains("row counts and checksums verified"), "{out}");
    for table in [
        "users",
        "api_keys",
        "settings",
        "module_config",
        "hosts",
        "audit_log",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{table} "))),
            "{table} missing from the report:\n{out}"
        );
    }
    let rules = postgres::cluster().psql(
        pg_url.rsplit('/').next().unwrap(),
        "SELECT string_agg(name, ',' ORDER BY name) FROM alert_rules",
    );
    assert!(!rules.contains("MasterScrapeDown"), "{rules}");
    assert!(rules.contains("NodeOffline"), "{rules}");

    // 4. A master on the PostgreSQL database serves the same data.
    let pg = TestServer::start_with(|c| c.storage.database_url = pg_url.clone()).await;
    let login = pg.login(ADMIN, PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    let admin_pg = Login::from(&login.body);
    let after = snapshot(&pg, &admin_pg).await;
    assert_eq!(after["users"], before["users"]);
    assert_eq!(after["nodes"], before["nodes"]);
    assert_eq!(after["instance_name"], "Moved — ünïcode");
    assert_eq!(after["workflows"], before["workflows"]);
    assert_eq!(after["workflows"]["enabled"], true);
    assert!(
        after["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n[0] == node.as_str() && n[1] == "edge-1"),
        "{after:?}"
    );
    // Every stored event came along (the new master may have added some of its own).
    let before_events = before["activity"]["items"].as_array().unwrap();
    assert!(!before_events.is_empty(), "{before:?}");
    let after_events = after["activity"]["items"].as_array().unwrap();
    for e in before_events {
        assert!(after_events.contains(e), "{e} missing after the move");
    }
    // The API key and the operator's password still work; the audit trail came along.
    let me = pg
        .http
        .get(pg.url("/api/auth/me"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    let me = TestServer::reply(me).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["username"], "oper", "{:?}", me.body);
    assert_eq!(pg.login("oper", PASSWORD).await.status, StatusCode::OK);
    assert!(pg.audit(&admin_pg, "").await.len() > audit_before);
    pg.stop().await;

    // 5. A second run into the now non-empty target is refused, naming a table.
    let (ok, _, err) = migrate(&sqlite_url, &pg_url);
    assert!(!ok, "a non-empty target was accepted");
    assert!(
        err.contains("the target (--to) is not empty: table "),
        "{err}"
    );
}
