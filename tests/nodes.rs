//! Two orgd processes on one PostgreSQL database, each with a long cache lifetime (60 s): a
//! change made through node A must be refused by node B right away, which only the published
//! invalidations can explain. Prints the propagation delays it saw (`ORGD_PROPAGATION_ROUNDS`
//! sets how many rounds of each change; the load harness uses it to report p50/p99).

mod common;

use std::time::{Duration, Instant};

use common::TestApp;
use common::node::Node;
use serde_json::{Value, json};

async fn start_node(database_url: &str) -> Node {
    Node::start(database_url, &[("ORGD_CACHE_TTL_MS", "60000")]).await
}

async fn call(
    node: &Node,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> std::io::Result<(u16, Value)> {
    node.call(method, path, token, body).await
}

async fn status(node: &Node, method: &str, path: &str, token: &str, body: Option<Value>) -> u16 {
    call(node, method, path, Some(token), body)
        .await
        .expect("request")
        .0
}

/// Polls `path` on `node` until it answers `want`; returns how long that took after the change.
async fn until(node: &Node, path: &str, token: &str, want: u16, since: Instant) -> Duration {
    loop {
        let got = status(node, "GET", path, token, None).await;
        if got == want {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(3),
            "node B still answers {got} for {path}, not {want}, 3 s after the change on node A \
             (its cache lives 60 s: the invalidation never arrived)"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Asks `node` for a permission check until it answers `allowed: want`; returns how long that
/// took after the change.
async fn until_check(
    node: &Node,
    org: &str,
    token: &str,
    body: &Value,
    want: bool,
    since: Instant,
) -> Duration {
    let path = format!("/organizations/{org}/permissions/check");
    loop {
        let (code, got) = call(node, "POST", &path, Some(token), Some(body.clone()))
            .await
            .expect("request");
        assert_eq!(code, 200, "{got}");
        if got["allowed"] == want {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(3),
            "node B still answers allowed = {} for {body}, 3 s after the change on node A",
            !want
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Reads `path` twice on `node`, so that its caches hold the answer.
async fn warm(node: &Node, path: &str, token: &str, want: u16) {
    for _ in 0..2 {
        assert_eq!(status(node, "GET", path, token, None).await, want, "{path}");
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_on_one_node_are_refused_by_the_other_at_once() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let url = app.state.config.database_url.clone();
    let a = start_node(&url).await;
    let b = start_node(&url).await;
    let rounds: usize = std::env::var("ORGD_PROPAGATION_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Acme").await;
    let base = format!("/organizations/{org}");
    let mut delays: Vec<(&str, Duration)> = Vec::new();
    for round in 0..rounds {
        // A member removed on A is refused by B.
        let m = app.user(&format!("m{round}")).await;
        app.add(&org, &owner, &m, "member").await;
        warm(&b, &base, &m.token, 200).await;
        let t = Instant::now();
        let r = status(
            &a,
            "DELETE",
            &format!("{base}/members/{}", m.id),
            &owner.token,
            None,
        )
        .await;
        assert_eq!(r, 200);
        delays.push(("member removed", until(&b, &base, &m.token, 404, t).await));

        // A role lowered on A is refused by B.
        let adm = app.user(&format!("a{round}")).await;
        app.add(&org, &owner, &adm, "admin").await;
        let invitations = format!("{base}/invitations");
        warm(&b, &invitations, &adm.token, 200).await;
        let t = Instant::now();
        let r = status(
            &a,
            "PATCH",
            &format!("{base}/members/{}", adm.id),
            &owner.token,
            Some(json!({"role": "member"})),
        )
        .await;
        assert_eq!(r, 200);
        delays.push((
            "role lowered",
            until(&b, &invitations, &adm.token, 403, t).await,
        ));

        // A permission check answered on B follows a role change on A: the member itself and
        // the owner asking about it.
        let checked = app.user(&format!("c{round}")).await;
        app.add(&org, &owner, &checked, "admin").await;
        let own = json!({"permission": "members:write"});
        let about = json!({"permission": "members:write", "user_id": checked.id});
        assert!(
            until_check(&b, &org, &checked.token, &own, true, Instant::now()).await
                < Duration::from_secs(3)
        );
        until_check(&b, &org, &owner.token, &about, true, Instant::now()).await;
        let t = Instant::now();
        let r = status(
            &a,
            "PATCH",
            &format!("{base}/members/{}", checked.id),
            &owner.token,
            Some(json!({"role": "member"})),
        )
        .await;
        assert_eq!(r, 200);
        delays.push((
            "check after role change",
            until_check(&b, &org, &checked.token, &own, false, t).await,
        ));
        delays.push((
            "check about a member after role change",
            until_check(&b, &org, &owner.token, &about, false, t).await,
        ));

        // A custom role losing a permission on A: B's check follows.
        let key = format!("ops{round}");
        let r = status(
            &a,
            "POST",
            &format!("{base}/roles"),
            &owner.token,
            Some(json!({"key": key, "name": "Ops", "permissions": ["projects:write"]})),
        )
        .await;
        assert_eq!(r, 201);
        let r = status(
            &a,
            "PATCH",
            &format!("{base}/members/{}", checked.id),
            &owner.token,
            Some(json!({"role": key})),
        )
        .await;
        assert_eq!(r, 200);
        let projects = json!({"permission": "projects:write"});
        until_check(&b, &org, &checked.token, &projects, true, Instant::now()).await;
        let t = Instant::now();
        let r = status(
            &a,
            "PATCH",
            &format!("{base}/roles/{key}"),
            &owner.token,
            Some(json!({"permissions": []})),
        )
        .await;
        assert_eq!(r, 200);
        delays.push((
            "check after a role lost a permission",
            until_check(&b, &org, &checked.token, &projects, false, t).await,
        ));

        // A token revoked on A is refused by B.
        let (code, created) = call(
            &a,
            "POST",
            "/tokens",
            Some(&owner.token),
            Some(json!({"name": format!("ci{round}")})),
        )
        .await
        .unwrap();
        assert_eq!(code, 201, "{created}");
        let pat = created["token"].as_str().unwrap().to_string();
        let id = created["id"].as_str().unwrap().to_string();
        warm(&b, "/users/me", &pat, 200).await;
        let t = Instant::now();
        let r = status(&a, "DELETE", &format!("/tokens/{id}"), &owner.token, None).await;
        assert_eq!(r, 200);
        delays.push(("token revoked", until(&b, "/users/me", &pat, 401, t).await));
    }
    let mut all: Vec<Duration> = delays.iter().map(|(_, d)| *d).collect();
    all.sort();
    eprintln!(
        "propagation A -> B over {} changes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        all.len(),
        percentile(&all, 0.5).as_secs_f64() * 1000.0,
        percentile(&all, 0.99).as_secs_f64() * 1000.0,
        all.last().unwrap().as_secs_f64() * 1000.0,
    );
}

/// A license revoked through node A is the free plan on node B at once, though B holds the
/// organization's view in its cache (60 s): the revocation invalidates the holder's views.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_license_revoked_on_one_node_is_the_free_plan_on_the_other_at_once() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let url = app.state.config.database_url.clone();
    let a = start_node(&url).await;
    let b = start_node(&url).await;
    let root = app.superuser("root").await;
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Acme").await;
    let (_, license) = app.license("business", Some(&org)).await;
    let path = format!("/organizations/{org}");
    for _ in 0..2 {
        let (code, o) = call(&b, "GET", &path, Some(&owner.token), None)
            .await
            .unwrap();
        assert_eq!((code, o["plan"].as_str()), (200, Some("business")));
    }
    let t = Instant::now();
    let r = status(
        &a,
        "DELETE",
        &format!("/licenses/{license}"),
        &root.token,
        None,
    )
    .await;
    assert_eq!(r, 200);
    loop {
        let (_, o) = call(&b, "GET", &path, Some(&owner.token), None)
            .await
            .unwrap();
        if o["plan"] == "free" {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "node B still shows {} 3 s after the revocation on node A",
            o["plan"]
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    eprintln!(
        "license revocation seen by the other node after {:?}",
        t.elapsed()
    );
}
