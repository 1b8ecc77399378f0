//! `contextbay admin migrate-store --from <sqlite url> --to <postgres url>`: moves an installation
//! from SQLite to PostgreSQL.
//!
//! The source is opened read-only, in one read transaction (a consistent snapshot even if a master
//! still runs on it; stop it first so nothing written afterwards is lost) and must carry exactly
//! the migrations of this binary. The target must be empty: any row in any table is refused,
//! naming the table. Then, in one transaction on the target: the migrations are applied, the rows
//! the migrations seed are removed (the source is the truth, its edits and deletions included),
//! every table of the source is copied (discovered from its schema, parents before children by
//! their foreign keys, in batches, in primary-key order), serial/identity sequences are moved past
//! the copied ids, and each table's row count and checksum are compared with the source's. Any
//! difference rolls everything back, so the target is either a complete copy or left as it was.
//!
//! The checksum of a table is SHA-256 over its rows in primary-key order (text keys in byte order
//! on both sides: SQLite's BINARY collation, PostgreSQL's "C"), each value written the same way
//! whichever engine it was read from: `N` (NULL), `I<decimal>` (integers and booleans as 0/1),
//! `R<float>`, `T<byte length>:<text>`, `B<hex>`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use anyhow::{Context, bail};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::decode::Decode;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Postgres, Row, Sqlite, TypeInfo, ValueRef};

// Every dynamic statement below is built from table and column names read from the databases'
// own catalogs, quoted with `quote`; values are always bound.

/// Bound parameters per INSERT statement stay well under PostgreSQL's 65,535.
const MAX_PARAMS: usize = 30_000;
const MAX_BATCH_ROWS: usize = 500;

/// What was copied: each table's row count and checksum (equal on both sides).
#[derive(Debug, Clone)]
pub struct MigrationReport {
    pub tables: Vec<TableReport>,
}

#[derive(Debug, Clone)]
pub struct TableReport {
    pub name: String,
    pub rows: u64,
    /// Hex SHA-256 (see the module documentation).
    pub checksum: String,
}

impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.tables.iter().map(|t| t.name.len()).max().unwrap_or(5);
        writeln!(
            f,
            "{:<width$}  {:>10}  sha256 (source = target)",
            "table", "rows"
        )?;
        for t in &self.tables {
            writeln!(f, "{:<width$}  {:>10}  {}", t.name, t.rows, t.checksum)?;
        }
        let rows: u64 = self.tables.iter().map(|t| t.rows).sum();
        write!(
            f,
            "copied {rows} rows in {} tables; row counts and checksums verified",
            self.tables.len()
        )
    }
}

/// One value, as read from either engine.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    fn digest(&self, hasher: &mut Sha256) {
        match self {
            Self::Null => hasher.update(b"N"),
            Self::Int(i) => hasher.update(format!("I{i}")),
            Self::Real(r) => hasher.update(format!("R{r:?}")),
            Self::Text(s) => {
                hasher.update(format!("T{}:", s.len()));
                hasher.update(s.as_bytes());
            }
            Self::Bytes(b) => hasher.update(format!("B{}", hex::encode(b))),
        }
        hasher.update(b";");
    }
}

/// The target column's kind, from PostgreSQL's `data_type`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Int16,
    Int32,
    Int64,
    Bool,
    Float32,
    Float64,
    Text,
    Bytes,
}

impl Kind {
    fn of(data_type: &str) -> Option<Self> {
        Some(match data_type {
            "smallint" => Self::Int16,
            "integer" => Self::Int32,
            "bigint" => Self::Int64,
            "boolean" => Self::Bool,
            "real" => Self::Float32,
            "double precision" => Self::Float64,
            "text" | "character varying" | "character" => Self::Text,
            "bytea" => Self::Bytes,
            _ => return None,
        })
    }
}

struct Column {
    name: String,
    kind: Kind,
    /// PostgreSQL's type name, for the cast of each bound parameter.
    pg_type: String,
}

struct Table {
    name: String,
    columns: Vec<Column>,
    /// Primary-key columns, in key order (all columns when the table has no key).
    order_by: Vec<String>,
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Validates `--from`: a SQLite URL naming an existing file.
fn source_options(from: &str) -> anyhow::Result<SqliteConnectOptions> {
    if !from.starts_with("sqlite:") {
        bail!("--from must be a SQLite URL (sqlite:///path/to/contextbay.db), got {from:?}");
    }
    let options = SqliteConnectOptions::from_str(from)
        .with_context(|| format!("--from {from:?} is not a valid SQLite URL"))?;
    let path = options.get_filename().to_path_buf();
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        bail!("--from must name a SQLite database file, got {from:?}");
    }
    if !path.is_file() {
        bail!("--from: no SQLite database at {}", path.display());
    }
    Ok(options.read_only(true).create_if_missing(false))
}

/// Validates `--to`: a PostgreSQL URL (its password is never repeated in messages).
fn target_options(to: &str) -> anyhow::Result<PgConnectOptions> {
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        bail!("--to must be a PostgreSQL URL (postgres://user@host:port/database)");
    }
    PgConnectOptions::from_str(to)
        .map_err(|e| anyhow::anyhow!("--to is not a valid PostgreSQL URL: {e}"))
}

/// Copies the SQLite store at `from` into the empty PostgreSQL database at `to` and verifies it.
pub async fn migrate_store(from: &str, to: &str) -> anyhow::Result<MigrationReport> {
    let source_options = source_options(from)?;
    let target_options = target_options(to)?;
    let source = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(source_options)
        .await
        .context("opening the source (--from)")?;
    let target = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(target_options)
        .await
        .context("connecting to the target (--to)")?;
    let result = copy(&source, &target).await;
    source.close().await;
    target.close().await;
    result
}

async fn copy(source: &sqlx::SqlitePool, target: &sqlx::PgPool) -> anyhow::Result<MigrationReport> {
    let mut src = source.begin().await.context("reading the source")?;
    check_source_version(&mut src).await?;
    let mut tx = target
        .begin()
        .await
        .context("starting the target transaction")?;
    refuse_non_empty(&mut tx).await?;
    super::MIGRATOR
        .run(&mut *tx)
        .await
        .context("applying the migrations on the target")?;

    let tables = source_tables(&mut src, &mut tx).await?;
    // The rows the migrations seed (the default alert rules) are the source's to decide.
    let names: Vec<String> = tables.iter().map(|t| quote(&t.name)).collect();
    if !names.is_empty() {
        sqlx::query(AssertSqlSafe(format!(
            "TRUNCATE {} CASCADE",
            names.join(", ")
        )))
        .execute(&mut *tx)
        .await
        .context("clearing the rows the migrations seeded")?;
    }

    let mut reports = Vec::new();
    for table in &tables {
        let (rows, checksum) = copy_table(&mut src, &mut tx, table).await?;
        reports.push(TableReport {
            name: table.name.clone(),
            rows,
            checksum,
        });
    }
    reset_sequences(&mut tx, &tables).await?;
    for (table, report) in tables.iter().zip(&reports) {
        let (rows, checksum) = target_checksum(&mut tx, table).await?;
        if rows != report.rows {
            bail!(
                "table {}: {} rows in the source but {rows} in the target; nothing was written",
                table.name,
                report.rows
            );
        }
        if checksum != report.checksum {
            bail!(
                "table {}: the checksums differ (source {}, target {checksum}); nothing was written",
                table.name,
                report.checksum
            );
        }
    }
    tx.commit().await.context("committing the copy")?;
    src.rollback().await.ok();
    Ok(MigrationReport { tables: reports })
}

/// The source must carry exactly this binary's migrations.
async fn check_source_version(src: &mut sqlx::SqliteConnection) -> anyhow::Result<()> {
    let expected: BTreeSet<i64> = super::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .collect();
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *src)
            .await
            .context(
                "the source (--from) is not a ContextBay database (no _sqlx_migrations table)",
            )?;
    if applied.iter().any(|(_, ok)| !ok) {
        bail!("the source (--from) has a failed migration; repair it before migrating");
    }
    let applied: BTreeSet<i64> = applied.into_iter().map(|(v, _)| v).collect();
    if applied != expected {
        let newest = |s: &BTreeSet<i64>| s.last().copied().unwrap_or(0);
        bail!(
            "the source (--from) is at migration {} but this contextbay expects {}: start this \
             version's master on it once (or use the matching contextbay binary) first",
            newest(&applied),
            newest(&expected)
        );
    }
    Ok(())
}

/// Refuses a target holding any row, in any table of its schema.
async fn refuse_non_empty(tx: &mut sqlx::PgConnection) -> anyhow::Result<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&mut *tx)
    .await
    .context("listing the target's tables")?;
    for t in tables {
        let any: bool = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM {})",
            quote(&t)
        )))
        .fetch_one(&mut *tx)
        .await
        .with_context(|| format!("reading the target's table {t}"))?;
        if any {
            bail!(
                "the target (--to) is not empty: table {t} has rows. migrate-store only writes \
                 into an empty database (createdb a new one; do not start a master on it first)"
            );
        }
    }
    Ok(())
}

/// The source's tables (without SQLite's and sqlx's own), parents before children, with the
/// target's column types. Source and target must have the same tables and columns.
async fn source_tables(
    src: &mut sqlx::SqliteConnection,
    tx: &mut sqlx::PgConnection,
) -> anyhow::Result<Vec<Table>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' \
         ESCAPE '\\' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut *src)
    .await
    .context("listing the source's tables")?;
    let target_names: BTreeSet<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = \
         current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    let source_names: BTreeSet<String> = names.iter().cloned().collect();
    if source_names != target_names {
        bail!(
            "source and target tables differ after migrations (only in the source: {:?}; only in \
             the target: {:?})",
            source_names.difference(&target_names).collect::<Vec<_>>(),
            target_names.difference(&source_names).collect::<Vec<_>>()
        );
    }

    let mut tables = BTreeMap::new();
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in &names {
        let cols: Vec<(String, i64)> =
            sqlx::query_as("SELECT name, pk FROM pragma_table_info(?) ORDER BY cid")
                .bind(name)
                .fetch_all(&mut *src)
                .await?;
        let target_cols: BTreeMap<String, String> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
        )
        .bind(name)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        if target_cols.len() != cols.len() {
            bail!(
                "table {name}: {} columns in the source, {} in the target",
                cols.len(),
                target_cols.len()
            );
        }
        let mut columns = Vec::new();
        for (col, _) in &cols {
            let Some(pg_type) = target_cols.get(col) else {
                bail!("table {name}: column {col} is missing in the target");
            };
            let Some(kind) = Kind::of(pg_type) else {
                bail!(
                    "table {name}: column {col} has type {pg_type}, which migrate-store cannot copy"
                );
            };
            columns.push(Column {
                name: col.clone(),
                kind,
                pg_type: pg_type.clone(),
            });
        }
        let mut key: Vec<(i64, String)> = cols
            .iter()
            .filter(|(_, pk)| *pk > 0)
            .map(|(c, pk)| (*pk, c.clone()))
            .collect();
        key.sort();
        let mut order_by: Vec<String> = key.into_iter().map(|(_, c)| c).collect();
        if order_by.is_empty() {
            order_by = cols.iter().map(|(c, _)| c.clone()).collect();
        }
        let refs: Vec<String> =
            sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_list(?)")
                .bind(name)
                .fetch_all(&mut *src)
                .await?;
        parents.insert(
            name.clone(),
            refs.into_iter().filter(|p| p != name).collect(),
        );
        tables.insert(
            name.clone(),
            Table {
                name: name.clone(),
                columns,
                order_by,
            },
        );
    }

    // Parents first (Kahn's algorithm; names in order among equals, so runs are repeatable).
    let mut ordered = Vec::new();
    let mut done = BTreeSet::new();
    while done.len() < names.len() {
        let ready: Vec<String> = names
            .iter()
            .filter(|n| !done.contains(*n))
            .filter(|n| {
                parents.get(*n).is_none_or(|ps| {
                    ps.iter()
                        .all(|p| done.contains(p) || !parents.contains_key(p))
                })
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            bail!("the source's foreign keys form a cycle; cannot order the copy");
        }
        for n in ready {
            done.insert(n.clone());
            if let Some(t) = tables.remove(&n) {
                ordered.push(t);
            }
        }
    }
    Ok(ordered)
}

/// Reads one value of a source row as it is stored (SQLite types are per value).
fn source_value(row: &SqliteRow, i: usize) -> anyhow::Result<Value> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let type_name = raw.type_info().name().to_ascii_uppercase();
    Ok(match type_name.as_str() {
        "INTEGER" | "BOOLEAN" => {
            Value::Int(<i64 as Decode<Sqlite>>::decode(raw).map_err(|e| anyhow::anyhow!("{e}"))?)
        }
        "REAL" => {
            Value::Real(<f64 as Decode<Sqlite>>::decode(raw).map_err(|e| anyhow::anyhow!("{e}"))?)
        }
        "BLOB" => Value::Bytes(
            <Vec<u8> as Decode<Sqlite>>::decode(raw).map_err(|e| anyhow::anyhow!("{e}"))?,
        ),
        _ => Value::Text(
            <String as Decode<Sqlite>>::decode(raw).map_err(|e| anyhow::anyhow!("{e}"))?,
        ),
    })
}

/// Binds `value` for a column of `kind`; a value that does not fit the column is an error.
fn bind<'q>(
    query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    table: &str,
    column: &Column,
    value: Value,
) -> anyhow::Result<sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>> {
    let mismatch = |v: &Value| {
        anyhow::anyhow!(
            "table {table}, column {}: the source holds {v:?}, which does not fit PostgreSQL type {}",
            column.name,
            column.pg_type
        )
    };
    Ok(match (column.kind, value) {
        (Kind::Int16 | Kind::Int32 | Kind::Int64, Value::Null) => query.bind(None::<i64>),
        (Kind::Int16 | Kind::Int32 | Kind::Int64, Value::Int(i)) => query.bind(i),
        (Kind::Bool, Value::Null) => query.bind(None::<bool>),
        (Kind::Bool, Value::Int(i @ (0 | 1))) => query.bind(i == 1),
        (Kind::Float32 | Kind::Float64, Value::Null) => query.bind(None::<f64>),
        (Kind::Float32 | Kind::Float64, Value::Real(r)) => query.bind(r),
        (Kind::Text, Value::Null) => query.bind(None::<String>),
        (Kind::Text, Value::Text(s)) => query.bind(s),
        (Kind::Bytes, Value::Null) => query.bind(None::<Vec<u8>>),
        (Kind::Bytes, Value::Bytes(b)) => query.bind(b),
        (_, v) => return Err(mismatch(&v)),
    })
}

/// Every column of `table`, in primary-key order: the order both checksums are taken in.
fn select_in_key_order(table: &Table, postgres: bool) -> String {
    let cols: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        cols.join(", "),
        quote(&table.name),
        order_clause(table, postgres)
    )
}

fn order_clause(table: &Table, postgres: bool) -> String {
    table
        .order_by
        .iter()
        .map(|c| {
            let text = table
                .columns
                .iter()
                .any(|col| &col.name == c && col.kind == Kind::Text);
            if postgres && text {
                format!("{} COLLATE \"C\"", quote(c))
            } else {
                quote(c)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Copies one table in batches; returns the source's row count and checksum.
async fn copy_table(
    src: &mut sqlx::SqliteConnection,
    tx: &mut sqlx::PgConnection,
    table: &Table,
) -> anyhow::Result<(u64, String)> {
    let cols: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
    let select = select_in_key_order(table, false);
    let per_batch = (MAX_PARAMS / table.columns.len().max(1)).clamp(1, MAX_BATCH_ROWS);
    let mut hasher = Sha256::new();
    let mut count = 0u64;
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(per_batch);
    let mut rows = sqlx::query(AssertSqlSafe(select)).fetch(&mut *src);
    while let Some(row) = rows
        .try_next()
        .await
        .with_context(|| format!("reading table {} from the source", table.name))?
    {
        let mut values = Vec::with_capacity(table.columns.len());
        for i in 0..table.columns.len() {
            let v = source_value(&row, i)
                .with_context(|| format!("reading table {} from the source", table.name))?;
            v.digest(&mut hasher);
            values.push(v);
        }
        count += 1;
        batch.push(values);
        if batch.len() == per_batch {
            insert(&mut *tx, table, &cols, std::mem::take(&mut batch)).await?;
        }
    }
    drop(rows);
    if !batch.is_empty() {
        insert(&mut *tx, table, &cols, batch).await?;
    }
    Ok((count, hex::encode(hasher.finalize())))
}

async fn insert(
    tx: &mut sqlx::PgConnection,
    table: &Table,
    cols: &[String],
    batch: Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    let n = table.columns.len();
    let mut sql = format!(
        "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ",
        quote(&table.name),
        cols.join(", ")
    );
    for r in 0..batch.len() {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for (c, column) in table.columns.iter().enumerate() {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("CAST(${} AS {})", r * n + c + 1, column.pg_type));
        }
        sql.push(')');
    }
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for row in batch {
        for (column, value) in table.columns.iter().zip(row) {
            query = bind(query, &table.name, column, value)?;
        }
    }
    query
        .execute(&mut *tx)
        .await
        .with_context(|| format!("writing table {} into the target", table.name))?;
    Ok(())
}

/// Moves every serial or identity sequence past the copied ids.
async fn reset_sequences(tx: &mut sqlx::PgConnection, tables: &[Table]) -> anyhow::Result<()> {
    for table in tables {
        for column in &table.columns {
            let sequence: Option<String> =
                sqlx::query_scalar("SELECT pg_get_serial_sequence($1, $2)")
                    .bind(quote(&table.name))
                    .bind(&column.name)
                    .fetch_one(&mut *tx)
                    .await?;
            if let Some(sequence) = sequence {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT setval($1, COALESCE((SELECT MAX({c}) FROM {t}), 0) + 1, false)",
                    c = quote(&column.name),
                    t = quote(&table.name)
                )))
                .bind(&sequence)
                .execute(&mut *tx)
                .await
                .with_context(|| format!("resetting sequence {sequence}"))?;
            }
        }
    }
    Ok(())
}

fn target_value(row: &PgRow, i: usize, kind: Kind) -> anyhow::Result<Value> {
    Ok(match kind {
        Kind::Int16 => row
            .try_get::<Option<i16>, _>(i)?
            .map(|v| Value::Int(v.into())),
        Kind::Int32 => row
            .try_get::<Option<i32>, _>(i)?
            .map(|v| Value::Int(v.into())),
        Kind::Int64 => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
        Kind::Bool => row
            .try_get::<Option<bool>, _>(i)?
            .map(|v| Value::Int(v.into())),
        Kind::Float32 => row
            .try_get::<Option<f32>, _>(i)?
            .map(|v| Value::Real(v.into())),
        Kind::Float64 => row.try_get::<Option<f64>, _>(i)?.map(Value::Real),
        Kind::Text => row.try_get::<Option<String>, _>(i)?.map(Value::Text),
        Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Bytes),
    }
    .unwrap_or(Value::Null))
}

/// The target table's row count and checksum, read back inside the copy's transaction.
async fn target_checksum(
    tx: &mut sqlx::PgConnection,
    table: &Table,
) -> anyhow::Result<(u64, String)> {
    let select = select_in_key_order(table, true);
    let mut hasher = Sha256::new();
    let mut count = 0u64;
    let mut rows = sqlx::query(AssertSqlSafe(select)).fetch(&mut *tx);
    while let Some(row) = rows
        .try_next()
        .await
        .with_context(|| format!("reading table {} back from the target", table.name))?
    {
        for (i, column) in table.columns.iter().enumerate() {
            target_value(&row, i, column.kind)?.digest(&mut hasher);
        }
        count += 1;
    }
    Ok((count, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_validated() {
        let err = |r: anyhow::Result<SqliteConnectOptions>| {
            format!("{:#}", r.err().unwrap_or_else(|| anyhow::anyhow!("ok")))
        };
        assert!(err(source_options("postgres://x/y")).contains("--from must be a SQLite URL"));
        assert!(
            err(source_options("sqlite:///nonexistent/dir/cb.db"))
                .contains("no SQLite database at")
        );
        assert!(target_options("sqlite://x.db").is_err());
        assert!(target_options("mysql://x/y").is_err());
        assert!(target_options("postgres://u@127.0.0.1:5432/db").is_ok());
    }

    #[test]
    fn values_are_written_alike() {
        let digest = |vals: &[Value]| {
            let mut h = Sha256::new();
            for v in vals {
                v.digest(&mut h);
            }
            hex::encode(h.finalize())
        };
        // A NULL, an empty string and "N" are three different values; so are 1 and "1".
        assert_ne!(
            digest(&[Value::Null]),
            digest(&[Value::Text(String::new())])
        );
        assert_ne!(digest(&[Value::Text("N".into())]), digest(&[Value::Null]));
        assert_ne!(digest(&[Value::Int(1)]), digest(&[Value::Text("1".into())]));
        // Column boundaries count: ("ab", "c") is not ("a", "bc").
        assert_ne!(
            digest(&[Value::Text("ab".into()), Value::Text("c".into())]),
            digest(&[Value::Text("a".into()), Value::Text("bc".into())])
        );
    }
}
