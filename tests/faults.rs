//! Database faults: PostgreSQL connections killed mid-traffic and the server stopped and
//! restarted; a read-only SQLite file. orgd answers `503 unavailable` without internals, writes
//! nothing partially, and recovers by itself.

mod common;

use std::time::{Duration, Instant};

use common::{PgCluster, TestApp, TestResponse};
use serde_json::json;

fn assert_clean_unavailable(r: &TestResponse) {
    r.expect_error(503, "unavailable");
    assert!(r.header("retry-after").is_some());
    let lower = r.text.to_lowercase();
    for leak in [
        "select",
        "insert",
        "sqlx",
        "postgres",
        "connection refused",
        "pool",
        "sqlite",
        "error returned",
    ] {
        assert!(!lower.contains(leak), "the body leaks `{leak}`: {}", r.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_outage_gives_503_and_recovers_by_itself() {
    let cluster = match PgCluster::create("faults") {
        Ok(c) => c,
        Err(why) if !common::postgres_required() => {
            eprintln!("SKIPPED (PostgreSQL unavailable: {why})");
            return;
        }
        Err(why) => panic!("PostgreSQL is required under CI=true but unavailable: {why}"),
    };
    let app =
        TestApp::postgres_at(&cluster.url("postgres"), |c| c.database_max_connections = 4).await;
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Acme").await;
    let path = format!("/organizations/{org}");

    // 1. Every connection of orgd is killed while requests flow: no 500, and it carries on.
    let mut traffic = Vec::new();
    for _ in 0..8 {
        let router = app.router.clone();
        let (path, token) = (path.clone(), owner.token.clone());
        traffic.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..25 {
                use tower::ServiceExt;
                let req = axum::http::Request::get(&path)
                    .header("authorization", format!("Bearer {token}"))
                    .body(axum::body::Body::empty())
                    .unwrap();
                statuses.push(router.clone().oneshot(req).await.unwrap().status().as_u16());
            }
            statuses
        }));
    }
    let admin = sqlx::PgPool::connect(&cluster.url("postgres"))
        .await
        .unwrap();
    for _ in 0..3 {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname LIKE 'orgd_test_%'")
            .execute(&admin)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    admin.close().await;
    for t in traffic {
        for status in t.await.unwrap() {
            assert!(
                status == 200 || status == 503,
                "status {status} while connections were killed"
            );
        }
    }
    app.get(&path, &owner.token).await.expect(200);

    // 2. The server goes away: reads and writes get a clean 503, readiness says so.
    cluster.stop().unwrap();
    // Reads cached in the last second may still be served; start from a cold cache.
    orgd::store::cache::bump_all();
    assert_clean_unavailable(&app.get(&path, &owner.token).await);
    let w = app
        .post(
            &format!("{path}/members"),
            &owner.token,
            json!({"email": "during-outage@example.com"}),
        )
        .await;
    assert_clean_unavailable(&w);
    let ready = app
        .send(
            axum::http::Request::get("/readyz")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_clean_unavailable(&ready);
    app.send(
        axum::http::Request::get("/healthz")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .expect(200);

    // 3. It comes back; orgd recovers without a restart of its own.
    cluster.start().unwrap();
    let back = Instant::now();
    loop {
        let ready = app
            .send(
                axum::http::Request::get("/readyz")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        if ready.status == 200 && app.get(&path, &owner.token).await.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "not recovered 10 s after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "recovered {} ms after the database returned",
        back.elapsed().as_millis()
    );
    // The write refused during the outage left nothing behind (not even the provisioned user).
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE email = 'during-outage@example.com'")
            .await,
        0
    );
    let members = app.get(&format!("{path}/members"), &owner.token).await;
    assert_eq!(members.expect(200).as_array().unwrap().len(), 1);
    app.post(
        &format!("{path}/members"),
        &owner.token,
        json!({"email": "after@example.com"}),
    )
    .await
    .expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_sqlite_file_gives_a_clean_error() {
    let file =
        std::env::temp_dir().join(format!("orgd-test-ro-{}.db", uuid::Uuid::now_v7().simple()));
    let writable = TestApp::sqlite_at(&format!("sqlite://{}", file.display())).await;
    let owner = writable.user("owner").await;
    let org = writable.org(&owner, "Acme").await;
    drop(writable);
    async fn writable_stale(file: &std::path::Path) {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        sqlx::query("UPDATE tokens SET last_used_at = 0")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }

    // A token last used long ago: reading must not need the bookkeeping write.
    writable_stale(&file).await;
    orgd::store::cache::bump_all();
    let app = TestApp::sqlite_at(&format!("sqlite://{}?mode=ro", file.display())).await;
    app.get(&format!("/organizations/{org}"), &owner.token)
        .await
        .expect(200);
    let r = app
        .post("/organizations", &owner.token, json!({"name": "Nope"}))
        .await;
    assert_clean_unavailable(&r);
    let r = app
        .patch(
            &format!("/organizations/{org}"),
            &owner.token,
            json!({"name": "Nope"}),
        )
        .await;
    assert_clean_unavailable(&r);
    let o = app
        .get(&format!("/organizations/{org}"), &owner.token)
        .await;
    assert_eq!(o.expect(200)["name"], "Acme");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
