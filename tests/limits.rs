//! Rate limits and resource bounds: 429 with Retry-After, and a login flood that cannot starve
//! other requests.

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use common::{PASSWORD, TestApp};
use serde_json::json;

fn login_from(ip: &str, login: &str, password: &str) -> Request<Body> {
    Request::post("/auth/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", ip)
        .body(Body::from(
            json!({"login": login, "password": password}).to_string(),
        ))
        .unwrap()
}

async fn repeated_login_failures_lock_the_account_for_a_while(app: TestApp) {
    let app = app.reconfigured(|c| c.login_failures_per_account = 3);
    app.user("alice").await;
    app.user("bob").await;
    for _ in 0..3 {
        app.send(login_from("10.0.0.1", "alice", "wrong password"))
            .await
            .expect_error(401, "invalid_credentials");
    }
    // Even the right password waits now, from any address.
    let r = app.send(login_from("10.0.0.2", "ALICE", PASSWORD)).await;
    r.expect_error(429, "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Other accounts are unaffected.
    app.send(login_from("10.0.0.1", "bob", PASSWORD))
        .await
        .expect(200);
}

async fn logins_per_address_are_bounded(app: TestApp) {
    let app = app.reconfigured(|c| {
        c.login_attempts_per_minute = 4;
        c.trust_forwarded_for = true;
    });
    app.user("alice").await;
    // Each answer says what is left of the limit (IETF RateLimit headers).
    for left in (0..4).rev() {
        let r = app.send(login_from("192.0.2.7", "alice", PASSWORD)).await;
        r.expect(200);
        assert_eq!(r.header("ratelimit-limit").unwrap(), "4");
        assert_eq!(r.header("ratelimit-remaining").unwrap(), left.to_string());
        assert_eq!(r.header("ratelimit-policy").unwrap(), "4;w=60");
        let reset: u64 = r.header("ratelimit-reset").unwrap().parse().unwrap();
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let r = app.send(login_from("192.0.2.7", "alice", PASSWORD)).await;
    r.expect_error(429, "rate_limited");
    assert_eq!(r.header("ratelimit-remaining").unwrap(), "0");
    assert_eq!(r.header("ratelimit-reset"), r.header("retry-after"));
    // Routes without a limit carry no RateLimit headers.
    let u = app.user("carol").await;
    let me = app.get("/users/me", &u.token).await;
    assert!(me.header("ratelimit-limit").is_none());
    app.send(login_from("192.0.2.8", "alice", PASSWORD))
        .await
        .expect(200);
}

async fn signups_and_invitations_are_bounded(app: TestApp) {
    let app = app.reconfigured(|c| {
        c.signups_per_hour = 2;
        c.invitations_per_hour = 2;
    });
    for i in 0..2 {
        let body = json!({"email": format!("s{i}@example.com"), "password": "hunter2hunter2"});
        app.request(Method::POST, "/auth/signup", None, Some(body))
            .await
            .expect(201);
    }
    let body = json!({"email": "s9@example.com", "password": "hunter2hunter2"});
    app.request(Method::POST, "/auth/signup", None, Some(body))
        .await
        .expect_error(429, "rate_limited");

    let owner = app.user("owner").await;
    let org = app.org(&owner, "Acme").await;
    let path = format!("/organizations/{org}/invitations");
    app.post(&path, &owner.token, json!({"email": "a@example.com"}))
        .await
        .expect(201);
    app.post(&path, &owner.token, json!({"email": "b@example.com"}))
        .await
        .expect(201);
    let r = app
        .post(&path, &owner.token, json!({"email": "c@example.com"}))
        .await;
    r.expect_error(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // The refused invitation was not created.
    assert_eq!(
        app.get(&path, &owner.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn limits_can_be_switched_off(app: TestApp) {
    let app = app.reconfigured(|c| {
        c.rate_limits_enabled = false;
        c.login_failures_per_account = 1;
    });
    app.user("alice").await;
    for _ in 0..3 {
        app.send(login_from("10.0.0.1", "alice", "wrong password"))
            .await
            .expect_error(401, "invalid_credentials");
    }
    app.send(login_from("10.0.0.1", "alice", PASSWORD))
        .await
        .expect(200);
}

/// With one hashing slot and a short queue, a burst of logins is partly turned away with 503
/// while requests that need no hashing are all served.
async fn a_login_flood_does_not_starve_reads(app: TestApp) {
    let app = app.reconfigured(|c| {
        c.rate_limits_enabled = false;
        c.password_hash_concurrency = 1;
        c.password_hash_queue_ms = 30;
    });
    let alice = app.user("alice").await;
    let mut logins = Vec::new();
    for _ in 0..40 {
        let router = app.router.clone();
        logins.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let res = router
                .oneshot(login_from("10.0.0.1", "alice", PASSWORD))
                .await
                .unwrap();
            (
                res.status().as_u16(),
                res.headers().contains_key("retry-after"),
            )
        }));
    }
    let mut reads = 0;
    for _ in 0..40 {
        app.get("/users/me", &alice.token).await.expect(200);
        reads += 1;
    }
    let mut unavailable = 0;
    for l in logins {
        match l.await.unwrap() {
            (200, _) => {}
            (503, true) => unavailable += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(reads, 40);
    assert!(unavailable > 0, "a saturated hasher answers 503");
}

on_both_engines!(
    repeated_login_failures_lock_the_account_for_a_while,
    logins_per_address_are_bounded,
    signups_and_invitations_are_bounded,
    limits_can_be_switched_off,
    a_login_flood_does_not_starve_reads,
);
