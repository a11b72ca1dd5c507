//! `TestApp`: the router on a fresh database, driven with HTTP requests in-process. Every test
//! runs on SQLite and on PostgreSQL (`on_both_engines!`).
//!
//! PostgreSQL: `ORGD_TEST_POSTGRES_URL` (a server where databases may be created), else a
//! throwaway cluster started once per test binary with the installed `initdb`/`pg_ctl` and
//! stopped when the binary exits. Without PostgreSQL the tests fail under `CI=true`, and are
//! reported as skipped otherwise.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use orgd::config::Config;
use orgd::domain::Timestamp;
use orgd::store::{NewToken, NewUser, Store, TokenKind};
use orgd::{AppState, app};
use serde_json::{Value, json};
use sqlx::Connection;
use tower::ServiceExt;
use uuid::Uuid;

pub mod browser;
pub mod idp;
pub mod node;
pub mod npm;
pub mod receiver;
pub mod wire;

pub const PASSWORD: &str = "correct horse battery";

#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::TestApp::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(app) = $crate::common::TestApp::postgres().await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

/// `on_both_engines!` with a configuration change, `adjust(&mut Config)`, applied on both.
#[macro_export]
macro_rules! on_both_engines_with {
    ($adjust:ident; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::TestApp::sqlite_with(super::$adjust).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    if let Some(app) = $crate::common::TestApp::postgres_with(super::$adjust).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub store: std::sync::Arc<dyn Store>,
    pub engine: &'static str,
    sqlite_file: Option<PathBuf>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(f) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", f.display()));
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub token: String,
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestResponse {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        &self.body
    }
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(self.code(), code, "unexpected code; body: {}", self.text);
        assert!(
            self.body["request_id"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{}",
            self.text
        );
        assert!(
            self.body["error"].as_str().is_some_and(|r| !r.is_empty()),
            "{}",
            self.text
        );
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn config(database_url: String) -> Config {
    Config {
        database_url,
        database_max_connections: 8,
        password_hash_concurrency: 2,
        plans: unlimited_plans(),
        // SSO against the test provider on loopback (`idp.rs`).
        public_url: idp::PUBLIC_URL.into(),
        sso_encryption_key: Some(SSO_KEY.into()),
        sso_allow_insecure: true,
        sso_redirect_urls: vec!["https://app.acme.test/signed-in".into()],
        ..Config::default()
    }
}

/// The tests' `sso_encryption_key`.
pub const SSO_KEY: &str = "b3JnZC10ZXN0cy1zc28ta2V5LTMyLWJ5dGVzLWxvbmc=";

/// Plans without limits: the tests of other things add as many members, projects and tokens
/// as their stories need. The licensing tests set the limits they check.
pub fn unlimited_plans() -> orgd::domain::plans::Plans {
    let mut plans = orgd::domain::plans::Plans::default();
    for plan in ["free", "team", "business"] {
        for key in [
            "members",
            "projects",
            "applications",
            "tokens",
            "service_accounts",
        ] {
            plans
                .apply(&format!("{plan}.{key}=unlimited"))
                .expect("a valid plan setting");
        }
    }
    plans
}

/// One argon2id hash for the fixtures' password, computed once per test binary.
fn fixture_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| orgd::auth::hash_password(PASSWORD).expect("hash"))
        .clone()
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        Self::sqlite_with(|_| {}).await
    }

    pub async fn sqlite_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let file = std::env::temp_dir().join(format!("orgd-test-{}.db", Uuid::now_v7().simple()));
        let mut cfg = config(format!("sqlite://{}", file.display()));
        adjust(&mut cfg);
        let mut app = Self::build(cfg, "sqlite").await;
        app.sqlite_file = Some(file);
        app
    }

    pub async fn postgres() -> Option<TestApp> {
        Self::postgres_with(|_| {}).await
    }

    pub async fn postgres_with(adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let admin_url = match postgres_admin_url() {
            Ok(url) => url,
            Err(why) => {
                if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                    panic!("PostgreSQL is required under CI=true but unavailable: {why}");
                }
                eprintln!("SKIPPED (PostgreSQL unavailable: {why})");
                return None;
            }
        };
        let url = create_database(&admin_url).await;
        let mut cfg = config(url);
        adjust(&mut cfg);
        Some(Self::build(cfg, "postgres").await)
    }

    /// An app on a fresh database of a given PostgreSQL server.
    pub async fn postgres_at(admin_url: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut cfg = config(create_database(admin_url).await);
        adjust(&mut cfg);
        Self::build(cfg, "postgres").await
    }

    pub async fn sqlite_at(url: &str) -> TestApp {
        Self::build(config(url.to_string()), "sqlite").await
    }

    async fn build(cfg: Config, engine: &'static str) -> TestApp {
        let store = orgd::store::connect(&cfg.database_url, cfg.database_max_connections)
            .await
            .expect("open test store");
        let state = AppState::new(store.clone(), cfg).expect("test state");
        TestApp {
            router: app(state.clone()),
            state,
            store,
            engine,
            sqlite_file: None,
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> TestResponse {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&b).unwrap())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.send(req).await
    }

    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        let res = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("infallible router");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        // No response, whatever the route, may carry a secret's hash.
        for secret in ["$argon2", "\"password_hash\":", "\"token_hash\":"] {
            assert!(!text.contains(secret), "response leaks {secret}: {text}");
        }
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::String(text.clone()));
        assert!(
            headers.contains_key("x-request-id"),
            "no X-Request-Id on {status}"
        );
        TestResponse {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> TestResponse {
        self.request(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> TestResponse {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }
    pub async fn post_empty(&self, path: &str, token: &str) -> TestResponse {
        self.request(Method::POST, path, Some(token), None).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> TestResponse {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }
    pub async fn delete(&self, path: &str, token: &str) -> TestResponse {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    async fn make_user(&self, name: &str, superuser: bool, service_account: bool) -> TestUser {
        let user = self
            .store
            .create_user(NewUser {
                email: format!("{name}@example.com"),
                username: Some(name.to_string()),
                name: Some(name.to_string()),
                password_hash: (!service_account).then(fixture_hash),
                is_superuser: superuser,
                is_service_account: service_account,
                email_verified: !service_account,
            })
            .await
            .expect("create fixture user");
        let kind = if service_account {
            TokenKind::Sa
        } else {
            TokenKind::Session
        };
        let token = self.token_for(user.id, kind, None).await;
        TestUser {
            id: user.id,
            username: user.username,
            email: user.email,
            token,
        }
    }

    /// A user with a session token, whose password is `PASSWORD`.
    pub async fn user(&self, name: &str) -> TestUser {
        self.make_user(name, false, false).await
    }
    pub async fn superuser(&self, name: &str) -> TestUser {
        self.make_user(name, true, false).await
    }
    pub async fn service_account(&self, name: &str) -> TestUser {
        self.make_user(name, false, true).await
    }

    /// A new token of `kind` for `user`, optionally scoped to an organization.
    pub async fn token_for(&self, user: Uuid, kind: TokenKind, org: Option<Uuid>) -> String {
        let (token, hash) = orgd::auth::mint(kind);
        self.store
            .create_token(NewToken {
                sso_provider_id: None,
                user_id: user,
                kind,
                name: None,
                hash,
                organization_id: org,
                expires_at: Some(Timestamp::now().plus_secs(3600)),
            })
            .await
            .expect("create fixture token");
        token
    }

    /// Creates an organization owned by `owner` through the API; returns its id.
    pub async fn org(&self, owner: &TestUser, name: &str) -> String {
        let res = self
            .post("/organizations", &owner.token, json!({ "name": name }))
            .await;
        res.expect(201)["id"].as_str().unwrap().to_string()
    }

    /// Moves the licensing clock forward (license expiry, stale deployments).
    pub fn advance(&self, secs: i64) {
        self.store.licensing().clock.advance_secs(secs);
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> TestResponse {
        self.request(Method::PUT, path, Some(token), Some(body))
            .await
    }

    /// A license of `plan` issued directly in the store (a fixture), held by `org` when given;
    /// returns its key and id.
    pub async fn license(&self, plan: &str, org: Option<&str>) -> (String, String) {
        let (key, key_hash) = orgd::auth::mint_secret(orgd::auth::LICENSE_KEY_PREFIX);
        let license = self
            .store
            .create_license(orgd::store::NewLicense {
                key_hash,
                key_hint: key[..15].to_string(),
                name: None,
                plan: orgd::domain::plans::PlanName::parse(plan).expect("a plan"),
                seats: None,
                features: Vec::new(),
                trial: false,
                max_deployments: None,
                starts_at: Timestamp(0),
                expires_at: None,
                organization_id: org.map(|o| o.parse().expect("an organization id")),
            })
            .await
            .expect("create fixture license");
        (key, license.id.to_string())
    }

    /// Registers a deployment under the license `key` through the API; returns its id.
    pub async fn deployment(&self, key: &str) -> String {
        self.request(
            Method::POST,
            "/deployments/register",
            None,
            Some(json!({"license_key": key, "name": "Plant", "hostname": "plant.local", "version": "1.0.0"})),
        )
        .await
        .expect(201)["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Adds `user` to `org` with `role`, as `by`.
    pub async fn add(&self, org: &str, by: &TestUser, user: &TestUser, role: &str) {
        self.post(
            &format!("/organizations/{org}/members"),
            &by.token,
            json!({ "user_id": user.id, "role": role }),
        )
        .await
        .expect(201);
    }
}

/// Creates a database on the server of `admin_url` and returns its URL.
async fn create_database(admin_url: &str) -> String {
    let db = format!("orgd_test_{}", Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to the test cluster");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let _ = conn.close().await;
    match admin_url.rfind('/') {
        Some(i) if admin_url[..i].contains('@') || admin_url[..i].matches('/').count() >= 2 => {
            let (base, rest) = admin_url.split_at(i);
            let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
            format!("{base}/{db}{query}")
        }
        _ => panic!("ORGD_TEST_POSTGRES_URL must name a database: {admin_url}"),
    }
}

pub fn postgres_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn postgres_admin_url() -> Result<String, String> {
    if let Ok(url) = std::env::var("ORGD_TEST_POSTGRES_URL") {
        return Ok(url);
    }
    static CLUSTER: OnceLock<Result<String, String>> = OnceLock::new();
    CLUSTER.get_or_init(start_cluster).clone()
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A throwaway PostgreSQL cluster (run as the `postgres` user when the tests run as root:
/// initdb refuses root), removed by a watchdog when this process exits.
pub struct PgCluster {
    root: PathBuf,
    data: PathBuf,
    pub port: u16,
    as_root: bool,
}

impl PgCluster {
    fn pg(&self, program: &str) -> Command {
        if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        }
    }

    pub fn create(name: &str) -> Result<PgCluster, String> {
        let root = std::env::temp_dir().join(format!("orgd-test-pg-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout == b"0\n")
            .unwrap_or(false);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| e.to_string())?;
        let cluster = PgCluster {
            data: root.join("data"),
            root,
            port,
            as_root,
        };
        if as_root {
            run(Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(&cluster.root))?;
        }
        run(cluster.pg("initdb").arg("-D").arg(&cluster.data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ]))?;
        cluster.start()?;
        let stop = format!(
            "{}pg_ctl -D {} -m immediate stop",
            if as_root {
                "runuser -u postgres -- "
            } else {
                ""
            },
            cluster.data.display()
        );
        let watchdog = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {root}",
            pid = std::process::id(),
            root = cluster.root.display()
        );
        Command::new("setsid")
            .args(["sh", "-c", &watchdog])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("watchdog: {e}"))?;
        Ok(cluster)
    }

    pub fn start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            self.port,
            self.root.display()
        );
        run(self
            .pg("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-o", &opts, "-w", "-l"])
            .arg(self.root.join("log"))
            .arg("start"))
    }

    pub fn stop(&self) -> Result<(), String> {
        run(self
            .pg("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"]))
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

fn start_cluster() -> Result<String, String> {
    let cluster = PgCluster::create("shared")?;
    Ok(cluster.url("postgres"))
}

impl TestApp {
    /// Runs SQL on the test database directly (for facts no endpoint shows, like clocks).
    pub async fn exec(&self, sql: &str) {
        let url = &self.state.config.database_url;
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        if self.engine == "sqlite" {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        } else {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
        // A change behind orgd's back: its read caches cannot know.
        orgd::store::cache::bump_all();
    }

    /// A count from the test database.
    pub async fn count(&self, sql: &str) -> i64 {
        let url = &self.state.config.database_url;
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        if self.engine == "sqlite" {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
        } else {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap()
        }
    }

    /// The same app with a changed configuration, on the same database.
    pub fn reconfigured(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut cfg = (*self.state.config).clone();
        adjust(&mut cfg);
        let state = AppState::new(self.store.clone(), cfg).expect("test state");
        TestApp {
            router: app(state.clone()),
            state,
            store: self.store.clone(),
            engine: self.engine,
            sqlite_file: None,
        }
    }
}

/// A minimal SMTP server on loopback speaking the real protocol (EHLO, MAIL, RCPT, DATA,
/// QUIT); it keeps every message it accepts.
pub struct SmtpSink {
    pub port: u16,
    pub messages: std::sync::Arc<tokio::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    /// The `n`th message (from 1), waiting up to 5 s for it.
    pub async fn wait_for(&self, n: usize) -> String {
        for _ in 0..100 {
            let mails = self.messages.lock().await.clone();
            if mails.len() >= n {
                return mails[n - 1].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("mail {n} never arrived");
    }

    pub async fn start() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve(listener)
    }

    pub async fn start_on(port: u16) -> SmtpSink {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        Self::serve(listener)
    }

    fn serve(listener: tokio::net::TcpListener) -> SmtpSink {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let port = listener.local_addr().unwrap().port();
        let messages = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
        let store = messages.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP ready\r\n").await;
                    while let Ok(Some(line)) = lines.next_line().await {
                        let verb = line
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                            "DATA" => {
                                let _ = write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await;
                                let mut body = String::new();
                                while let Ok(Some(l)) = lines.next_line().await {
                                    if l == "." {
                                        break;
                                    }
                                    body.push_str(&l);
                                    body.push('\n');
                                }
                                store.lock().await.push(body);
                                b"250 OK queued\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                break;
                            }
                            _ => b"502 command not implemented\r\n",
                        };
                        if write.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SmtpSink { port, messages }
    }
}

/// A mail body with its quoted-printable encoding undone (soft breaks and `=XX` escapes).
pub fn decode_qp(mail: &str) -> String {
    let joined = mail.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The invitation token in an email's accept link.
pub fn token_in(mail: &str) -> String {
    let text = decode_qp(mail);
    let start = text
        .find("orgd_inv_")
        .expect("an invitation token in the mail");
    text[start..start + "orgd_inv_".len() + 64].to_string()
}
