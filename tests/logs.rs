//! Request logs name the client's address and the caller (by id, never by token), so an operator
//! can tell who did what from the log alone.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::TestApp;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_logs_carry_the_client_address_and_the_caller_never_the_token() {
    let captured = Captured::default();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(captured.clone())
            .finish(),
    )
    .unwrap();
    let app = TestApp::sqlite_with(|c| c.trust_forwarded_for = true).await;
    let alice = app.user("alice").await;
    let get = |path: &str, token: Option<&str>| {
        let mut req = axum::http::Request::get(path)
            .header("x-forwarded-for", "203.0.113.9, 10.0.0.1")
            .header("x-request-id", format!("log-test-{}", path.len()));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req.body(axum::body::Body::empty()).unwrap()
    };
    app.send(get("/users/me", Some(&alice.token)))
        .await
        .expect(200);
    app.send(get("/organizations", None))
        .await
        .expect_error(401, "unauthenticated");

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line = |id: &str| {
        log.lines()
            .find(|l| l.contains(id) && l.contains("request"))
            .unwrap_or_else(|| panic!("no request line for {id} in:\n{log}"))
            .to_string()
    };
    let signed_in = line(&format!("request_id=log-test-{}", "/users/me".len()));
    assert!(signed_in.contains("client=203.0.113.9"), "{signed_in}");
    assert!(
        signed_in.contains(&format!("caller={}", alice.id)),
        "{signed_in}"
    );
    assert!(signed_in.contains("status=200"), "{signed_in}");
    let anonymous = line(&format!("request_id=log-test-{}", "/organizations".len()));
    assert!(anonymous.contains("caller=-"), "{anonymous}");
    assert!(anonymous.contains("status=401"), "{anonymous}");
    assert!(!log.contains(&alice.token), "a token reached the log");
    let secret_part = alice.token.split('_').next_back().unwrap();
    assert!(!log.contains(secret_part), "a token reached the log");
}
