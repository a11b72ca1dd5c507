//! "Physical limit" baseline server for orgd's benchmark harness (`bench/run.sh`).
//!
//! Usage: orgd-bench-baseline serve <addr> <sqlite-path>
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
use std::cell::RefCell;
use std::sync::Mutex;
use std::time::Duration;

use axum::{extract::Path, http::StatusCode, routing::get, Json, Router};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use serde::{Deserialize, Serialize};

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
        Some("serve") => {
            let addr = args[2].clone();
            DB_PATH.set(args[3].clone()).unwrap();
            let writer = open_writer(&args[3]).expect("cannot open the database for writing");
            let _ = WRITER.set(Mutex::new(writer));
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let app =
                    Router::new().route("/json", get(json)).route("/item/{id}", get(item).patch(update_item));
                let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
                eprintln!("baseline listening on {addr}");
                axum::serve(listener, app).await.unwrap();
            });
        }
        _ => {
            eprintln!("usage: orgd-bench-baseline seed <db> [rows] | serve <addr> <db>");
            std::process::exit(2);
        }
    }
}
