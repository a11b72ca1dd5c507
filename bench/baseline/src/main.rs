//! "Physical limit" baseline server for orgd's benchmark harness (`bench/run.sh`).
//!
//! Usage: orgd-bench-baseline serve <addr> <sqlite-path> [--pool N] [--pg URL]
//!        orgd-bench-baseline seed <sqlite-path> <rows>
//!
//! `/json` is a hello-world JSON endpoint; `GET /item/{id}` does one SQLite
//! primary-key lookup through a per-worker-thread rusqlite connection with a
//! cached prepared statement (the query is microseconds, so it runs inline on
//! the tokio worker rather than through spawn_blocking).
//!
//! `PATCH /item/{id}` with `{"role": ...}` does one single-row UPDATE in a
//! transaction of its own (`BEGIN IMMEDIATE` ... `COMMIT`) on one writer
//! connection with orgd's durability settings: WAL, `synchronous=NORMAL`. The
//! writer sits behind a mutex, as orgd queues its writers on an in-process
//! lock, and also runs inline on the tokio worker.
//!
//! The driver comparison (`--pool N` connections each, default 16, orgd's default pool size):
//!
//! - `GET /sqlx/item/{id}`: the `/item/{id}` lookup through a sqlx `SqlitePool` set up as orgd
//!   sets up its sqlx pool (src/store/sqlite.rs): WAL, `synchronous=NORMAL`, foreign keys on, a 10 s
//!   busy timeout, `test_before_acquire(false)`, and sqlx's persistent (cached) prepared
//!   statement. sqlx-sqlite runs each connection on a thread of its own.
//! - `GET /pg/sqlx/{aid}` (with `--pg`): `SELECT abalance FROM pgbench_accounts WHERE aid = $1`
//!   through a sqlx `PgPool` set up as orgd's (src/store/postgres.rs): `test_before_acquire(false)`,
//!   a ping only for a connection idle for 10 s or more, and a persistent prepared statement.
//! - `GET /pg/tokio/{aid}` (with `--pg`): the same query through N tokio-postgres clients, opened
//!   at start, each with the statement prepared once. A request takes the next client
//!   round-robin and sends its query on it without waiting: tokio-postgres pipelines the
//!   queries of concurrent callers on one connection, so there is no checkout and no queue in
//!   the server, only the connection's own.
use std::cell::RefCell;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::{extract::Path, http::StatusCode, routing::get, Json, Router};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

#[derive(Serialize)]
struct Hello {
    message: &'static str,
}

#[derive(Serialize)]
struct Item {
    id: i64,
    name: String,
    email: String,
    role: String,
}

thread_local! {
    static CONN: RefCell<Option<Connection>> = const { RefCell::new(None) };
}
static DB_PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static WRITER: std::sync::OnceLock<Mutex<Connection>> = std::sync::OnceLock::new();
static SQLX_SQLITE: std::sync::OnceLock<SqlitePool> = std::sync::OnceLock::new();
static PG: std::sync::OnceLock<Pg> = std::sync::OnceLock::new();

const ITEM_SQL: &str = "SELECT id, name, email, role FROM item WHERE id = ?1";
const ACCOUNT_SQL: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";

/// The two PostgreSQL drivers, each with the same number of connections to the pgbench database.
struct Pg {
    sqlx: PgPool,
    clients: Vec<(tokio_postgres::Client, tokio_postgres::Statement)>,
    next: AtomicUsize,
}

#[derive(Serialize)]
struct Account {
    aid: i32,
    abalance: i32,
}

#[derive(Deserialize)]
struct ItemPatch {
    role: String,
}

async fn json() -> Json<Hello> {
    Json(Hello { message: "Hello, World!" })
}

async fn item(Path(id): Path<i64>) -> Result<Json<Item>, StatusCode> {
    CONN.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            let conn = Connection::open_with_flags(
                DB_PATH.get().unwrap(),
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
            *c = Some(conn);
        }
        let conn = c.as_ref().unwrap();
        let mut stmt = conn
            .prepare_cached("SELECT id, name, email, role FROM item WHERE id = ?1")
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        stmt.query_row([id], |r| {
            Ok(Item { id: r.get(0)?, name: r.get(1)?, email: r.get(2)?, role: r.get(3)? })
        })
        .map(Json)
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        })
    })
}

async fn sqlx_item(Path(id): Path<i64>) -> Result<Json<Item>, StatusCode> {
    let row: Option<(i64, String, String, String)> = sqlx::query_as(ITEM_SQL)
        .bind(id)
        .fetch_optional(SQLX_SQLITE.get().unwrap())
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let (id, name, email, role) = row.ok_or(StatusCode::NOT_FOUND)?;
    Ok(Json(Item { id, name, email, role }))
}

fn pg() -> Result<&'static Pg, StatusCode> {
    PG.get().ok_or(StatusCode::SERVICE_UNAVAILABLE)
}

async fn pg_sqlx(Path(aid): Path<i32>) -> Result<Json<Account>, StatusCode> {
    let abalance: Option<i32> = sqlx::query_scalar(ACCOUNT_SQL)
        .bind(aid)
        .fetch_optional(&pg()?.sqlx)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(Account { aid, abalance: abalance.ok_or(StatusCode::NOT_FOUND)? }))
}

async fn pg_tokio(Path(aid): Path<i32>) -> Result<Json<Account>, StatusCode> {
    let pg = pg()?;
    let (client, stmt) = &pg.clients[pg.next.fetch_add(1, Ordering::Relaxed) % pg.clients.len()];
    let row = client.query_opt(stmt, &[&aid]).await.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let row = row.ok_or(StatusCode::NOT_FOUND)?;
    let abalance: i32 = row.try_get(0).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(Account { aid, abalance }))
}

async fn update_item(Path(id): Path<i64>, Json(patch): Json<ItemPatch>) -> Result<Json<Item>, StatusCode> {
    let mut conn = WRITER.get().unwrap().lock().map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let item = {
        let mut stmt = tx
            .prepare_cached("UPDATE item SET role = ?2 WHERE id = ?1 RETURNING id, name, email, role")
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
        stmt.query_row(rusqlite::params![id, patch.role], |r| {
            Ok(Item { id: r.get(0)?, name: r.get(1)?, email: r.get(2)?, role: r.get(3)? })
        })
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        })?
    };
    tx.commit().map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(item))
}

/// The writer connection, with orgd's SQLite settings (src/store/sqlite.rs): WAL,
/// synchronous=NORMAL, a 10 s busy timeout. A WAL left behind by an earlier server (stopped
/// with its writer open) is checkpointed first, so every run starts from the same file state.
fn open_writer(path: &str) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(conn)
}

/// orgd's SQLite pool settings (src/store/sqlite.rs), on the baseline's table.
async fn sqlx_sqlite_pool(path: &str, pool: u32) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    SqlitePoolOptions::new()
        .test_before_acquire(false)
        .max_connections(pool.max(2))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
}

async fn pg_drivers(url: &str, pool: u32) -> Result<Pg, Box<dyn std::error::Error>> {
    let sqlx = PgPoolOptions::new()
        .max_connections(pool)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= Duration::from_secs(10) {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await?;
    let mut clients = Vec::with_capacity(pool as usize);
    for _ in 0..pool {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("tokio-postgres connection closed: {e}");
            }
        });
        let stmt = client.prepare(ACCOUNT_SQL).await?;
        clients.push((client, stmt));
    }
    Ok(Pg { sqlx, clients, next: AtomicUsize::new(0) })
}

fn seed(path: &str, rows: i64) -> rusqlite::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;
         CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL);",
    )?;
    let tx = conn.transaction()?;
    {
        let mut st = tx.prepare("INSERT INTO item (id, name, email, role) VALUES (?1, ?2, ?3, ?4)")?;
        for i in 1..=rows {
            let role = match i % 10 { 0 => "owner", 1 | 2 => "admin", _ => "member" };
            st.execute(rusqlite::params![i, format!("User {i}"), format!("user{i}@example.com"), role])?;
        }
    }
    tx.commit()?;
    conn.execute_batch("PRAGMA synchronous=NORMAL; ANALYZE;")?;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("seed") => {
            let path = &args[2];
            let rows: i64 = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(1_000_000);
            seed(path, rows).expect("seed failed");
            println!("seeded {rows} rows into {path}");
        }
        Some("serve") if args.len() >= 4 => {
            let addr = args[2].clone();
            let path = args[3].clone();
            let (mut pool, mut pg_url) = (16u32, None::<String>);
            let mut rest = args[4..].iter();
            while let Some(flag) = rest.next() {
                match (flag.as_str(), rest.next()) {
                    ("--pool", Some(n)) => pool = n.parse().expect("--pool takes a number"),
                    ("--pg", Some(url)) => pg_url = Some(url.clone()),
                    _ => usage(),
                }
            }
            DB_PATH.set(path.clone()).unwrap();
            let writer = open_writer(&path).expect("cannot open the database for writing");
            let _ = WRITER.set(Mutex::new(writer));
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let sqlite = sqlx_sqlite_pool(&path, pool).await.expect("cannot open the sqlx SQLite pool");
                let _ = SQLX_SQLITE.set(sqlite);
                if let Some(url) = pg_url {
                    let pg = pg_drivers(&url, pool).await.expect("cannot connect to PostgreSQL");
                    let _ = PG.set(pg);
                }
                let app = Router::new()
                    .route("/json", get(json))
                    .route("/item/{id}", get(item).patch(update_item))
                    .route("/sqlx/item/{id}", get(sqlx_item))
                    .route("/pg/sqlx/{aid}", get(pg_sqlx))
                    .route("/pg/tokio/{aid}", get(pg_tokio));
                let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
                eprintln!("baseline listening on {addr} (driver pools: {pool} connections)");
                axum::serve(listener, app).await.unwrap();
            });
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: orgd-bench-baseline seed <db> [rows] | serve <addr> <db> [--pool N] [--pg URL]");
    std::process::exit(2);
}
