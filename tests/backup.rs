//! Online backup and restore of the embedded SQLite database (PostgreSQL is backed up with
//! pg_dump, which the README documents): a backup taken while organizations are being created
//! is consistent, holds everything committed before it began, and restores into a database that
//! orgd serves; the CLI refuses what would lose data. An operator can also set a forgotten
//! password from the command line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::TestApp;
use serde_json::json;
use tower::ServiceExt;
use uuid::Uuid;

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("orgd-backup-{}-{name}", Uuid::now_v7().simple()))
}

fn url(file: &Path) -> String {
    format!("sqlite://{}", file.display())
}

/// Every organization id in a database file, straight from SQLite.
fn organization_ids(file: &Path) -> Vec<Uuid> {
    let conn = rusqlite::Connection::open(file).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM organizations").unwrap();
    stmt.query_map([], |r| r.get::<_, Uuid>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_concurrent_writes_is_consistent_and_restores() {
    let db = temp("live.db");
    let app = TestApp::sqlite_at(&url(&db)).await;
    let owner = app.user("owner").await;

    // Four writers create organizations until told to stop; each records the ids whose
    // creation had been answered (so committed) and when.
    let committed: Arc<Mutex<Vec<(std::time::Instant, Uuid)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (router, token) = (app.router.clone(), owner.token.clone());
        let (committed, stop) = (committed.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let req = axum::http::Request::post("/organizations")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(
                        json!({ "name": format!("Writer {w} org {i}") }).to_string(),
                    ))
                    .unwrap();
                let res = router.clone().oneshot(req).await.unwrap();
                assert_eq!(res.status(), 201, "a create failed during the backup");
                let body = axum::body::to_bytes(res.into_body(), 1 << 20)
                    .await
                    .unwrap();
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let id = Uuid::parse_str(v["id"].as_str().unwrap()).unwrap();
                committed
                    .lock()
                    .unwrap()
                    .push((std::time::Instant::now(), id));
                i += 1;
            }
        }));
    }
    while committed.lock().unwrap().len() < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let dest = temp("copy.db");
    let began = std::time::Instant::now();
    let summary = {
        let (db, dest) = (db.clone(), dest.clone());
        tokio::task::spawn_blocking(move || orgd::backup::backup(&db, &dest))
            .await
            .unwrap()
            .expect("backup")
    };
    // Writes carried on while the backup ran, and for a little after.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let committed = committed.lock().unwrap().clone();
    let before: Vec<Uuid> = committed
        .iter()
        .filter(|(at, _)| *at < began)
        .map(|(_, id)| *id)
        .collect();
    assert!(before.len() >= 40);
    assert!(
        committed.len() > before.len(),
        "no write overlapped or followed the backup"
    );

    // Everything committed before the backup began is in it; nothing in it is half-made: each
    // organization has its owner's membership and a member count that matches.
    let in_copy = organization_ids(&dest);
    for id in &before {
        assert!(in_copy.contains(id), "committed organization {id} missing");
    }
    assert_eq!(summary.organizations as usize, in_copy.len());
    let conn = rusqlite::Connection::open(&dest).unwrap();
    let broken: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM organizations o WHERE o.member_count <> \
             (SELECT COUNT(*) FROM memberships m WHERE m.organization_id = o.id) \
             OR NOT EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = o.id \
             AND m.user_id = o.owner_id AND m.role = 'owner')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(broken, 0);
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    assert!(
        !Path::new(&format!("{}-wal", dest.display())).exists(),
        "a backup is one file"
    );

    // Restored into a new file, orgd serves it: the owner's session works and sees the copy.
    let restored = temp("restored.db");
    orgd::backup::restore(
        &dest,
        &restored,
        false,
        orgd::backup::known_schema_version(),
    )
    .expect("restore");
    let again = TestApp::sqlite_at(&url(&restored)).await;
    let listed = again.get("/organizations?limit=1000", &owner.token).await;
    assert_eq!(listed.expect(200).as_array().unwrap().len(), in_copy.len());
    let one = before[0];
    again
        .get(&format!("/organizations/{one}"), &owner.token)
        .await
        .expect(200);
    // And takes writes.
    again.org(&owner, "After the restore").await;
}

fn orgd(db: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(args)
        .env("ORGD_DATABASE_URL", url(db))
        .env("ORGD_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_backs_up_and_refuses_what_would_lose_data() {
    let db = temp("cli.db");
    let app = TestApp::sqlite_at(&url(&db)).await;
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Kept").await;
    let copy = temp("cli-copy.db");
    let copy_arg = copy.to_str().unwrap();

    // While the database is open (the test app holds it), a backup is taken.
    let (ok, out) = orgd(&db, &["admin", "backup", copy_arg]);
    assert!(ok, "{out}");
    assert!(out.contains("1 organizations"), "{out}");
    // A second backup to the same file is refused and leaves the first intact.
    let (ok, out) = orgd(&db, &["admin", "backup", copy_arg]);
    assert!(!ok && out.contains("exists already"), "{out}");
    assert_eq!(organization_ids(&copy).len(), 1);

    // A process that ends without closing the database can leave its changes in the write-ahead
    // log beside a main file that does not hold them yet (`orgd admin seed` often does); the
    // backup includes them.
    let seeded = temp("seeded.db");
    let (ok, out) = orgd(
        &seeded,
        &["admin", "seed", "--orgs", "1000", "--members-per-org", "2"],
    );
    assert!(ok, "{out}");
    let seeded_copy = temp("seeded-copy.db");
    let (ok, out) = orgd(&seeded, &["admin", "backup", seeded_copy.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(organization_ids(&seeded_copy).len() >= 1000);
    assert_eq!(
        organization_ids(&seeded_copy).len(),
        organization_ids(&seeded).len()
    );

    // The live database is replaced only with --force.
    app.org(&owner, "Made after the backup").await;
    drop(app);
    let (ok, out) = orgd(&db, &["admin", "restore", copy_arg]);
    assert!(!ok && out.contains("--force"), "{out}");
    assert_eq!(organization_ids(&db).len(), 2);
    let (ok, out) = orgd(&db, &["admin", "restore", "--force", copy_arg]);
    assert!(ok, "{out}");
    let ids = organization_ids(&db);
    assert_eq!(ids, vec![Uuid::parse_str(&org).unwrap()]);
    let served = TestApp::sqlite_at(&url(&db)).await;
    served
        .get(&format!("/organizations/{org}"), &owner.token)
        .await
        .expect(200);

    // Something that is not an orgd database is refused, and the target is untouched.
    let garbage = temp("garbage.db");
    std::fs::write(&garbage, b"not a database at all").unwrap();
    let (ok, out) = orgd(
        &db,
        &["admin", "restore", "--force", garbage.to_str().unwrap()],
    );
    assert!(!ok && out.contains("not a readable orgd database"), "{out}");
    assert_eq!(organization_ids(&db).len(), 1);

    // PostgreSQL is pointed to its own tools.
    let out = Command::new(env!("CARGO_BIN_EXE_orgd"))
        .args(["admin", "backup", "/tmp/never-written.db"])
        .env("ORGD_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sets_a_forgotten_password_from_the_cli() {
    let db = temp("pw.db");
    let app = TestApp::sqlite_at(&url(&db)).await;
    let alice = app.user("alice").await;
    let pat = app
        .post("/tokens", &alice.token, json!({ "name": "ci" }))
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let run = |args: &[&str], password: &str| {
        Command::new(env!("CARGO_BIN_EXE_orgd"))
            .args(args)
            .env("ORGD_DATABASE_URL", url(&db))
            .env("ORGD_ADMIN_PASSWORD", password)
            .env("ORGD_LOG", "warn")
            .output()
            .unwrap()
    };
    // Too short a password, and an unknown login: refused, nothing changes.
    let out = run(&["admin", "set-password", "--login", "alice"], "short");
    assert!(!out.status.success());
    let out = run(
        &["admin", "set-password", "--login", "nobody"],
        "a new long password",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account"));
    app.get("/users/me", &alice.token).await.expect(200);

    let out = run(
        &["admin", "set-password", "--login", "alice"],
        "a new long password",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Caches are per process; the server would see the change at once through its own writes,
    // and here the test app starts from a cold cache.
    orgd::store::cache::bump_all();
    app.get("/users/me", &alice.token)
        .await
        .expect_error(401, "unauthenticated");
    // Personal tokens survive unless asked otherwise.
    app.get("/users/me", &pat).await.expect(200);
    app.request(
        axum::http::Method::POST,
        "/auth/login",
        None,
        Some(json!({ "login": "alice", "password": "a new long password" })),
    )
    .await
    .expect(200);
    let out = run(
        &[
            "admin",
            "set-password",
            "--login",
            "alice",
            "--revoke-tokens",
        ],
        "another long password",
    );
    assert!(out.status.success());
    orgd::store::cache::bump_all();
    app.get("/users/me", &pat)
        .await
        .expect_error(401, "unauthenticated");
}
