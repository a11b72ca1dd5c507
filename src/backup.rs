//! Online backup and restore of the embedded SQLite database (`orgd admin backup`, `orgd admin
//! restore`). PostgreSQL is backed up with its own tools (`pg_dump`, see the README).
//!
//! A backup is `VACUUM INTO` a new file: SQLite writes the database as one read transaction saw
//! it, so the copy is consistent while orgd keeps serving and writing (in WAL mode the writer
//! never waits for it), and it is a single compact file with no `-wal` beside it. It is written
//! under a temporary name, checked with `PRAGMA integrity_check`, and only then renamed into
//! place, so a failed or interrupted backup never leaves a file that looks like a backup.
//!
//! A restore checks the backup the same way and that it is an orgd database no newer than this
//! binary, then copies it into the database file through SQLite's backup API, which writes the
//! target under its own locks (and its WAL), never by copying files under a running server.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

/// What a backup or a restore wrote.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub file: PathBuf,
    pub bytes: u64,
    /// The newest migration in the copy.
    pub schema_version: i64,
    pub users: i64,
    pub organizations: i64,
    pub memberships: i64,
}

/// The database file of a `sqlite:` URL, or why there is none.
pub fn sqlite_file(database_url: &str) -> Result<PathBuf, String> {
    if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
        return Err(
            "this database is PostgreSQL: back it up with pg_dump and restore it with \
                    pg_restore (see the README, Backup and restore)"
                .into(),
        );
    }
    let options = sqlx::sqlite::SqliteConnectOptions::from_str(database_url)
        .map_err(|e| format!("bad SQLite URL: {e}"))?;
    let file = options.get_filename();
    if file.as_os_str() == ":memory:" || database_url.contains("mode=memory") {
        return Err("an in-memory database has nothing to back up".into());
    }
    Ok(file.to_path_buf())
}

/// Writes a consistent copy of the database at `db` to `dest`, which must not exist.
pub fn backup(db: &Path, dest: &Path) -> Result<Summary, String> {
    if dest.exists() {
        return Err(format!(
            "{} exists already; choose a new file",
            dest.display()
        ));
    }
    if !db.exists() {
        return Err(format!("there is no database at {}", db.display()));
    }
    let partial = partial_name(dest);
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        // Read-write, though nothing is written to it: a read-only connection cannot replay a
        // write-ahead log that a stopped (or killed) server left behind, and would copy the main
        // file without it.
        let source = open(db, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        source
            .execute("VACUUM INTO ?1", [partial.to_string_lossy()])
            .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
        drop(source);
        let summary = check(&partial)?;
        std::fs::rename(&partial, dest)
            .map_err(|e| format!("cannot move the backup to {}: {e}", dest.display()))?;
        Ok(Summary {
            file: dest.to_path_buf(),
            ..summary
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Replaces the database at `db` with the backup at `from`. An existing, non-empty database is
/// replaced only with `force` (and orgd should not be serving it: stop it first).
pub fn restore(from: &Path, db: &Path, force: bool, known_version: i64) -> Result<Summary, String> {
    let summary = check(from)?;
    if summary.schema_version > known_version {
        return Err(format!(
            "{} is from a newer orgd (migration {} > {known_version}); restore it with that \
             version or newer",
            from.display(),
            summary.schema_version
        ));
    }
    let live = std::fs::metadata(db).is_ok_and(|m| m.len() > 0);
    if live && !force {
        return Err(format!(
            "{} holds a database already; stop orgd and pass --force to replace it",
            db.display()
        ));
    }
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let source = open(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut target = open(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
    )?;
    {
        let copy = rusqlite::backup::Backup::new(&source, &mut target)
            .map_err(|e| format!("cannot restore into {}: {e}", db.display()))?;
        copy.run_to_completion(1024, Duration::from_millis(10), None)
            .map_err(|e| format!("cannot restore into {}: {e}", db.display()))?;
    }
    // The copy keeps the backup's journal mode (a VACUUM INTO file is not in WAL mode); orgd
    // runs the file in WAL mode.
    target
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| format!("cannot set WAL mode on {}: {e}", db.display()))?;
    drop(target);
    let restored = check(db)?;
    Ok(Summary {
        file: db.to_path_buf(),
        ..restored
    })
}

fn partial_name(dest: &Path) -> PathBuf {
    let mut name = dest.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn open(path: &Path, flags: OpenFlags) -> Result<Connection, String> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

/// Checks that `file` is a sound orgd database, and counts what it holds.
fn check(file: &Path) -> Result<Summary, String> {
    let conn = open(file, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let bad =
        |e: rusqlite::Error| format!("{} is not a readable orgd database: {e}", file.display());
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(bad)?;
    if integrity != "ok" {
        return Err(format!(
            "{} fails SQLite's integrity check: {integrity}",
            file.display()
        ));
    }
    let schema_version: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success",
            [],
            |r| r.get(0),
        )
        .map_err(bad)?;
    let count = |table: &str| -> Result<i64, String> {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .map_err(bad)
    };
    Ok(Summary {
        file: file.to_path_buf(),
        bytes: std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
        schema_version,
        users: count("users")?,
        organizations: count("organizations")?,
        memberships: count("memberships")?,
    })
}

/// The newest SQLite migration this binary knows.
pub fn known_schema_version() -> i64 {
    crate::store::sqlite::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}
