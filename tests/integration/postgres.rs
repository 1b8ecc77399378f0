//! The two stores side by side: after the migrations, SQLite and PostgreSQL must hold the same
//! schema (tables, columns with their type family, nullability and whether they have a default,
//! primary keys, indexes with their uniqueness, foreign keys). Runs whenever PostgreSQL is
//! installed, whatever engine the rest of the suite uses; on CI a missing PostgreSQL fails it.

use std::collections::BTreeSet;

use sqlx::Row;

use super::harness::TestServer;
use super::support::postgres;

/// One fact about a schema, printable; two schemas are equal when their sets of facts are.
type Facts = BTreeSet<String>;

/// True when PostgreSQL is installed; on CI its absence fails the test.
/// SQLite's declared types and PostgreSQL's `data_type`, as one family.
fn family(declared: &str) -> String {
    let t = declared.to_ascii_lowercase();
    let family = if t.contains("int") || t == "serial" || t == "bigserial" {
        "integer"
    } else if t.contains("char") || t.contains("text") || t.contains("clob") {
        "text"
    } else if t.contains("bool") {
        "boolean"
    } else if t.contains("real") || t.contains("double") || t.contains("float") {
        "real"
    } else if t.contains("numeric") || t.contains("decimal") {
        "numeric"
    } else if t.contains("blob") || t.contains("bytea") {
        "bytes"
    } else if t.contains("timestamp") || t.contains("date") || t.contains("time") {
        "time"
    } else if t.contains("json") {
        "json"
    } else {
        return format!("other({t})");
    };
    family.into()
}

async fn sqlite_schema(url: &str) -> Facts {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let mut facts = Facts::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for t in &tables {
        facts.insert(format!("table {t}"));
        let columns = sqlx::query(
            "SELECT name, type, \"notnull\", dflt_value IS NOT NULL AS has_default, pk \
             FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind(t)
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in &columns {
            let name: String = c.get("name");
            let pk_pos: i64 = c.get("pk");
            // A primary key column is NOT NULL on PostgreSQL; on SQLite only INTEGER PRIMARY
            // KEY is, unless declared so, but the store never writes NULL keys.
            let not_null = c.get::<i64, _>("notnull") == 1 || pk_pos > 0;
            facts.insert(format!(
                "column {t}.{name} {} {} {}",
                family(c.get::<String, _>("type").as_str()),
                if not_null { "NOT NULL" } else { "NULL" },
                if c.get::<bool, _>("has_default") {
                    "DEFAULT"
                } else {
                    "no-default"
                },
            ));
            if pk_pos > 0 {
                pk.push((pk_pos, name));
            }
        }
        pk.sort();
        let pk: Vec<String> = pk.into_iter().map(|(_, n)| n).collect();
        facts.insert(format!("primary key {t} ({})", pk.join(", ")));
        let indexes = sqlx::query(
            "SELECT name, \"unique\", origin FROM pragma_index_list(?) WHERE origin <> 'pk'",
        )
        .bind(t)
        .fetch_all(&pool)
        .await
        .unwrap();
        for i in &indexes {
            let name: String = i.get("name");
            let cols: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                    .bind(&name)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            let unique = i.get::<i64, _>("unique") == 1;
            facts.insert(format!(
                "{} {t} ({})",
                if unique { "unique index" } else { "index" },
                cols.join(", ")
            ));
        }
        let fks = sqlx::query(
            "SELECT id, \"table\" AS target, \"from\" AS source, \"to\" AS dest, on_delete \
             FROM pragma_foreign_key_list(?) ORDER BY id, seq",
        )
        .bind(t)
        .fetch_all(&pool)
        .await
        .unwrap();
        for f in &fks {
            facts.insert(format!(
                "foreign key {t} ({}) -> {} ({}) on delete {}",
                f.get::<String, _>("source"),
                f.get::<String, _>("target"),
                f.get::<String, _>("dest"),
                f.get::<String, _>("on_delete").to_ascii_lowercase(),
            ));
        }
    }
    pool.close().await;
    facts
}

async fn postgres_schema(url: &str) -> Facts {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let mut facts = Facts::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for t in &tables {
        facts.insert(format!("table {t}"));
        let columns = sqlx::query(
            "SELECT column_name::text AS name, data_type::text AS type, \
             is_nullable::text = 'NO' AS not_null, column_default IS NOT NULL AS has_default \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1",
        )
        .bind(t)
        .fetch_all(&pool)
        .await
        .unwrap();
        for c in &columns {
            facts.insert(format!(
                "column {t}.{} {} {} {}",
                c.get::<String, _>("name"),
                family(c.get::<String, _>("type").as_str()),
                if c.get::<bool, _>("not_null") {
                    "NOT NULL"
                } else {
                    "NULL"
                },
                if c.get::<bool, _>("has_default") {
                    "DEFAULT"
                } else {
                    "no-default"
                },
            ));
        }
        // Indexes (the primary key's among them), with their columns in index order.
        let indexes = sqlx::query(
            "SELECT i.indisprimary AS primary, i.indisunique AS unique, \
             array_to_string(ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY \
             AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = i.indrelid \
             AND a.attnum = k.attnum ORDER BY k.n), ', ') AS cols \
             FROM pg_index i WHERE i.indrelid = ('public.' || quote_ident($1))::regclass",
        )
        .bind(t)
        .fetch_all(&pool)
        .await
        .unwrap();
        for i in &indexes {
            let cols: String = i.get("cols");
            let kind = if i.get::<bool, _>("primary") {
                "primary key"
            } else if i.get::<bool, _>("unique") {
                "unique index"
            } else {
                "index"
            };
            facts.insert(format!("{kind} {t} ({cols})"));
        }
        let fks = sqlx::query(
            "SELECT (SELECT string_agg(a.attname::text, ', ' ORDER BY k.n) \
                     FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) \
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) \
                    AS source, \
                    c.confrelid::regclass::text AS target, \
                    (SELECT string_agg(a.attname::text, ', ' ORDER BY k.n) \
                     FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, n) \
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) \
                    AS dest, \
                    CASE c.confdeltype WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' \
                         WHEN 'c' THEN 'cascade' WHEN 'n' THEN 'set null' \
                         ELSE 'set default' END AS on_delete \
             FROM pg_constraint c \
             WHERE c.contype = 'f' AND c.conrelid = ('public.' || quote_ident($1))::regclass",
        )
        .bind(t)
        .fetch_all(&pool)
        .await
        .unwrap();
        for f in &fks {
            facts.insert(format!(
                "foreign key {t} ({}) -> {} ({}) on delete {}",
                f.get::<String, _>("source"),
                f.get::<String, _>("target"),
                f.get::<String, _>("dest"),
                f.get::<String, _>("on_delete"),
            ));
        }
    }
    pool.close().await;
    facts
}

/// The facts of `a` missing from `b`, one per line.
fn missing(a: &Facts, b: &Facts) -> String {
    a.difference(b)
        .map(|f| format!("  {f}\n"))
        .collect::<String>()
}

#[actix_web::test]
async fn sqlite_and_postgres_schemas_match_after_migrations() {
    if !postgres::required_by("the schema comparison") {
        return;
    }
    // Both stores migrated by a real master, as in production.
    let lite = TestServer::start_with(|c| c.storage.database_url = String::new()).await;
    let sqlite_url = lite.config.database_url();
    assert!(sqlite_url.starts_with("sqlite:"), "{sqlite_url}");
    let pg_url = postgres::fresh_database().unwrap();
    let pg = TestServer::start_with(|c| c.storage.database_url = pg_url.clone()).await;
    let sqlite = sqlite_schema(&sqlite_url).await;
    let postgres = postgres_schema(&pg_url).await;
    lite.stop().await;
    pg.stop().await;
    // The comparison cannot pass on empty or truncated introspection.
    for facts in [&sqlite, &postgres] {
        for table in ["users", "hosts", "jobs", "alert_rules", "setup_claim"] {
            assert!(facts.contains(&format!("table {table}")), "{facts:#?}");
        }
        assert!(
            facts.contains("unique index users (username)"),
            "{facts:#?}"
        );
        assert!(
            facts.contains("foreign key sessions (user_id) -> users (id) on delete cascade"),
            "{facts:#?}"
        );
    }
    let only_sqlite = missing(&sqlite, &postgres);
    let only_postgres = missing(&postgres, &sqlite);
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the schemas differ after migrations\nonly on SQLite:\n{only_sqlite}only on PostgreSQL:\n{only_postgres}"
    );
}

#[test]
fn type_families() {
    for (declared, family_name) in [
        ("BIGINT", "integer"),
        ("INTEGER", "integer"),
        ("bigint", "integer"),
        ("TEXT", "text"),
        ("character varying", "text"),
        ("boolean", "boolean"),
        ("timestamp with time zone", "time"),
        ("jsonb", "json"),
    ] {
        assert_eq!(family(declared), family_name, "{declared}");
    }
    assert_eq!(family("geometry"), "other(geometry)");
}
