//! The server's network limits, against a real orgd process with short limits: slow headers,
//! slow bodies and idle connections are cut off, and a shutdown does not wait for them beyond
//! its grace. Also CORS (allowed and refused origins, off by default) and the metrics endpoint.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use common::TestApp;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Server {
    child: Child,
    port: u16,
    _dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// orgd on a fresh SQLite file with: headers within 1 s, requests within 2 s, idle 3 s, grace 2 s.
async fn start() -> Server {
    start_with(&[]).await
}

/// The same, with some limits changed.
async fn start_with(env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("orgd-network-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_orgd"))
        .arg("serve")
        .env("ORGD_DATA_DIR", &dir)
        .env("ORGD_LISTEN", format!("127.0.0.1:{port}"))
        .env("ORGD_HEADER_READ_TIMEOUT_SECS", "1")
        .env("ORGD_REQUEST_TIMEOUT_SECS", "2")
        .env("ORGD_IDLE_TIMEOUT_SECS", "3")
        .env("ORGD_SHUTDOWN_GRACE_SECS", "2")
        .env("ORGD_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start orgd");
    let server = Server {
        child,
        port,
        _dir: dir,
    };
    for _ in 0..200 {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)).await {
            let _ = s
                .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await;
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out).await;
            if out.starts_with(b"HTTP/1.1 200") {
                return server;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("orgd never became ready");
}

/// Reads until the server closes the connection (or 10 s pass); returns what came and when the
/// connection ended.
async fn until_closed(s: &mut TcpStream) -> (String, Instant) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open for 10 s"),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), Instant::now())
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_shutdown_does_not_wait_for_them() {
    let server = start().await;
    let addr = ("127.0.0.1", server.port);

    // Headers trickling in: the connection ends about 1 s after it opened.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let opened = Instant::now();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let writer = async {
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            if s.write_all(b"X-Slow: 1\r\n").await.is_err() {
                break;
            }
        }
    };
    writer.await;
    let (_, closed) = until_closed(&mut s).await;
    let took = closed - opened;
    assert!(took < Duration::from_secs(5), "slow headers held {took:?}");

    // A body trickling in: 408 request_timeout after about 2 s.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    s.write_all(
        b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut answer = String::new();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if s.write_all(b" ").await.is_err() {
            break;
        }
        let mut buf = [0u8; 4096];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1), s.read(&mut buf)).await
            && n > 0
        {
            answer = String::from_utf8_lossy(&buf[..n]).into_owned();
            break;
        }
    }
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(5),
        "{took:?}"
    );

    // An idle keep-alive connection after a request: closed by the header-read limit.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let idle_from = Instant::now();
    let (out, closed) = until_closed(&mut s).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(closed - idle_from < Duration::from_secs(5));

    // Shutdown with a slow client still sending: the process ends within the grace period.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut server = server;
    let pid = server.child.id();
    let signalled = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let keep_sending = async {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let exited = async {
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let status = tokio::select! {
        s = exited => s,
        () = async { keep_sending.await; std::future::pending::<()>().await } => unreachable!(),
    };
    let took = signalled.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}

#[tokio::test]
async fn a_stalled_connection_is_closed_when_idle() {
    // The request limit is far away: only the idle limit (2 s) can end this.
    let server = start_with(&[
        ("ORGD_REQUEST_TIMEOUT_SECS", "60"),
        ("ORGD_IDLE_TIMEOUT_SECS", "2"),
    ])
    .await;
    let mut s = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    s.write_all(
        b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .await
    .unwrap();
    let stalled = Instant::now();
    let (out, closed) = until_closed(&mut s).await;
    let took = closed - stalled;
    assert!(!out.contains("408"), "{out}");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

async fn preflight(app: &TestApp, origin: &str) -> axum::http::Response<()> {
    let req = Request::builder()
        .method("OPTIONS")
        .uri("/organizations")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .body(Body::empty())
        .unwrap();
    let res = app.send(req).await;
    let mut out = axum::http::Response::new(());
    *out.status_mut() = res.status;
    *out.headers_mut() = res.headers;
    out
}

#[tokio::test]
async fn cors_answers_allowed_origins_only() {
    let app = TestApp::sqlite_with(|c| {
        c.cors_allowed_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let res = preflight(&app, "https://app.example.com").await;
    assert!(res.status().is_success(), "{:?}", res.status());
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        methods.contains("PATCH") && methods.contains("DELETE"),
        "{methods}"
    );
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    // A real request from the origin carries the header, and exposes the request id.
    let user = app.user("cors").await;
    let req = Request::builder()
        .uri("/users/me")
        .header("origin", "https://app.example.com")
        .header("authorization", format!("Bearer {}", user.token))
        .body(Body::empty())
        .unwrap();
    let res = app.send(req).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        res.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        res.headers["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("x-request-id")
    );
    // Another origin gets no CORS header: the browser refuses.
    let res = preflight(&app, "https://evil.example.com").await;
    assert!(res.headers().get("access-control-allow-origin").is_none());

    // Off by default.
    let plain = TestApp::sqlite().await;
    let res = preflight(&plain, "https://app.example.com").await;
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert_eq!(res.status(), 405);
}

#[test]
fn cors_origins_are_validated() {
    use orgd::config::{Config, Settings};
    for bad in [
        "app.example.com",
        "https://app.example.com/path",
        "ftp://x",
        "*,https://a.b",
    ] {
        let cli = Settings {
            cors_allowed_origins: Some(bad.split(',').map(String::from).collect()),
            ..Settings::default()
        };
        assert!(Config::load(None, cli).is_err(), "{bad}");
    }
    let cli = Settings {
        cors_allowed_origins: Some(vec![
            "https://a.example.com/".into(),
            "http://localhost:3000".into(),
        ]),
        ..Settings::default()
    };
    assert_eq!(
        Config::load(None, cli).unwrap().cors_allowed_origins,
        ["https://a.example.com", "http://localhost:3000"]
    );
}

fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_move_with_requests_and_name_no_one() {
    let app = TestApp::sqlite().await;
    let owner = app.user("metrics-owner").await;
    let org = app.org(&owner, "Metered").await;
    let scrape = || async {
        let r = app
            .request(axum::http::Method::GET, "/metrics", None, None)
            .await;
        assert_eq!(r.status, 200);
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        r.text
    };
    let before = scrape().await;
    let route =
        r#"orgd_http_requests_total{method="GET",route="/organizations/{org}",status="200"}"#;
    for _ in 0..3 {
        app.get(&format!("/organizations/{org}"), &owner.token)
            .await
            .expect(200);
    }
    app.request(
        axum::http::Method::POST,
        "/auth/login",
        None,
        Some(json!({"login": "metrics-owner", "password": "wrong password!"})),
    )
    .await
    .expect_error(401, "invalid_credentials");
    let after = scrape().await;
    assert_eq!(
        metric(&after, route) - metric(&before, route),
        3.0,
        "{after}"
    );
    assert!(
        metric(&after, "orgd_login_failures_total")
            >= 1.0 + metric(&before, "orgd_login_failures_total")
    );
    assert!(
        metric(&after, "orgd_cache_hits_total{name=\"access\"}")
            > metric(&before, "orgd_cache_hits_total{name=\"access\"}")
    );
    for name in [
        "orgd_http_request_duration_seconds_bucket",
        "orgd_http_requests_in_flight",
        "orgd_db_pool_connections",
        "orgd_db_pool_max_connections",
        "orgd_db_write_wait_seconds_count",
        "orgd_cache_misses_total",
        "orgd_mail_failures_total",
        "orgd_build_info",
    ] {
        assert!(after.contains(name), "{name} missing");
    }
    // Route templates, never ids.
    assert!(!after.contains(&org), "an organization id in the metrics");
    assert!(
        !after.contains(&owner.id.to_string()),
        "a user id in the metrics"
    );

    // On its own listener, the main one does not serve it.
    let separate =
        TestApp::sqlite_with(|c| c.metrics_listen = Some("127.0.0.1:9".parse().unwrap())).await;
    separate
        .request(axum::http::Method::GET, "/metrics", None, None)
        .await
        .expect_error(404, "not_found");
}
