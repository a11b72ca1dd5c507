//! Webhook deliveries across processes: an orgd killed (SIGKILL) while its deliveries wait for a
//! retry loses none of them once a node runs again, on both engines; and two orgd processes on
//! one PostgreSQL deliver a burst of 1,000 events with each event received exactly once. The
//! receiver is `tests/webhooks/receiver.py` (signatures checked by `standardwebhooks`). Prints
//! the burst's delivery throughput and latency.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::TestApp;
use common::node::Node;
use common::receiver::Receiver;
use serde_json::{Value, json};

/// Settings of a node that delivers to loopback.
const DELIVERING: &[(&str, &str)] = &[
    ("ORGD_WEBHOOKS_ALLOW_PRIVATE", "true"),
    ("ORGD_WEBHOOKS_ALLOW_HTTP", "true"),
    ("ORGD_WEBHOOK_TIMEOUT_MS", "1000"),
    ("ORGD_WEBHOOK_POLL_MS", "100"),
    ("ORGD_WEBHOOK_RETRY_SCHEDULE", "1s,1s,1s,1s,1s,1s,1s,1s"),
];

/// An endpoint of `org` for receiver endpoint `name`, written in the store (the test app's
/// configuration refuses loopback targets; the nodes' allows them).
async fn endpoint(app: &TestApp, org: &str, receiver: &Receiver, name: &str, types: &[&str]) {
    let secret = orgd::webhooks::mint_secret();
    app.store
        .create_webhook(
            Some(org.parse().unwrap()),
            orgd::store::NewWebhook {
                url: receiver.url(name),
                description: None,
                event_types: types.iter().map(|t| t.to_string()).collect(),
                enabled: true,
                secret: secret.clone(),
            },
        )
        .await
        .unwrap();
    receiver.configure(name, &[&secret], 0).await;
}

/// Event ids answered 204, with how many times each was.
fn accepted(got: &[Value]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for r in got.iter().filter(|r| r["answered"] == 204) {
        *seen
            .entry(r["id"].as_str().unwrap_or_default().to_string())
            .or_insert(0) += 1;
    }
    seen
}

async fn a_killed_node_loses_no_delivery(app: TestApp) {
    let url = app.state.config.database_url.clone();
    let receiver = Receiver::start();
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Durable").await;
    endpoint(&app, &org, &receiver, "k", &["organization.updated"]).await;
    receiver.fail("k", 1_000_000).await;

    let mut first = Node::start(&url, DELIVERING).await;
    const EVENTS: usize = 20;
    for i in 0..EVENTS {
        let (code, body) = first
            .call(
                "PATCH",
                &format!("/organizations/{org}"),
                Some(&owner.token),
                Some(json!({"description": format!("change {i}")})),
            )
            .await
            .unwrap();
        assert_eq!(code, 200, "{body}");
    }
    // Every event was attempted and refused; the node dies while they wait for their retry.
    receiver
        .wait_for("k", Duration::from_secs(20), |g| {
            g.iter()
                .map(|r| r["id"].as_str())
                .collect::<std::collections::HashSet<_>>()
                .len()
                == EVENTS
        })
        .await;
    first.kill();
    let before_restart = receiver
        .wait_for("k", Duration::from_secs(1), |_| true)
        .await;
    assert!(accepted(&before_restart).is_empty());

    // The receiver recovers; another node on the same database delivers every event.
    receiver.fail("k", 0).await;
    let _second = Node::start(&url, DELIVERING).await;
    let got = receiver
        .wait_for("k", Duration::from_secs(30), |g| {
            accepted(g).len() == EVENTS
        })
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got_after = receiver
        .wait_for("k", Duration::from_secs(1), |_| true)
        .await;
    let once = accepted(&got_after);
    assert_eq!(once.len(), EVENTS);
    assert!(once.values().all(|n| *n == 1), "accepted twice: {once:?}");
    assert!(got.iter().all(|r| r["verified_with"] == 0));
    eprintln!(
        "[{}] {EVENTS} events: {} attempts before the kill, all accepted once after the restart",
        app.engine,
        before_restart.len()
    );
}

on_both_engines!(a_killed_node_loses_no_delivery);

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The `orgd_webhook_attempts_total{name="succeeded"}` of a node.
async fn succeeded_attempts(node: &Node) -> u64 {
    let (_, text) = node.call("GET", "/metrics", None, None).await.unwrap();
    text.as_str()
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("orgd_webhook_attempts_total{name=\"succeeded\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_deliver_a_burst_exactly_once() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let url = app.state.config.database_url.clone();
    let burst: usize = std::env::var("ORGD_WEBHOOK_BURST")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let receiver = Receiver::start();
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Bursty").await;
    endpoint(&app, &org, &receiver, "burst", &["organization.updated"]).await;
    let a = Node::start(&url, DELIVERING).await;
    let b = Node::start(&url, DELIVERING).await;

    // The burst: changes made through both nodes, 8 at a time.
    let started = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let made = std::sync::Mutex::new(Vec::new());
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let node = if c % 2 == 0 { &a } else { &b };
            let (next, made, owner, org) = (&next, &made, &owner, &org);
            async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= burst {
                        return;
                    }
                    let (code, body) = node
                        .call(
                            "PATCH",
                            &format!("/organizations/{org}"),
                            Some(&owner.token),
                            Some(json!({"description": format!("burst {i}")})),
                        )
                        .await
                        .unwrap();
                    assert_eq!(code, 200, "{body}");
                    made.lock().unwrap().push(i);
                }
            }
        })
        .collect();
    futures_util::future::join_all(clients).await;
    let written = started.elapsed();
    assert_eq!(made.lock().unwrap().len(), burst);

    let got = receiver
        .wait_for("burst", Duration::from_secs(120), |g| {
            accepted(g).len() == burst
        })
        .await;
    let delivered = started.elapsed();
    // Anything sent twice would have arrived by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_after = receiver
        .wait_for("burst", Duration::from_secs(1), |_| true)
        .await;
    let once = accepted(&got_after);
    assert_eq!(once.len(), burst);
    assert_eq!(
        got_after.len(),
        burst,
        "every event arrives exactly once (no attempt repeated)"
    );
    assert!(got.iter().all(|r| r["verified_with"] == 0));

    // Latency: from the change's commit time (the event id's time) to its arrival.
    let mut latency: Vec<i64> = got
        .iter()
        .map(|r| {
            let id: uuid::Uuid = r["id"].as_str().unwrap().parse().unwrap();
            r["arrived_ms"].as_i64().unwrap() - orgd::audit::time_of(id).0
        })
        .collect();
    latency.sort_unstable();
    let (on_a, on_b) = (succeeded_attempts(&a).await, succeeded_attempts(&b).await);
    assert_eq!(
        on_a + on_b,
        burst as u64,
        "one successful attempt per event"
    );
    eprintln!(
        "burst of {burst} events through two nodes: written in {:.2} s, all delivered after \
         {:.2} s ({:.0} deliveries/s); latency from commit p50 {} ms, p99 {} ms, max {} ms; \
         delivered by node A {on_a}, node B {on_b}",
        written.as_secs_f64(),
        delivered.as_secs_f64(),
        burst as f64 / delivered.as_secs_f64(),
        percentile(&latency, 0.5),
        percentile(&latency, 0.99),
        latency.last().unwrap()
    );
}
