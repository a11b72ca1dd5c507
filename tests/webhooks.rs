//! Webhooks end to end, on both engines: endpoints and their rules, events written with their
//! change and delivered by the worker to a real HTTP receiver on loopback whose signature check
//! is the `standardwebhooks` package (not orgd's code), retries with backoff, an endpoint that
//! keeps failing disabled, secret rotation, test events, scopes and SSRF refusals. Processes
//! killed mid-retry and two nodes sharing a burst are in `tests/webhook_nodes.rs`.

mod common;

use std::time::Duration;

use common::receiver::Receiver;
use common::{TestApp, TestUser};
use orgd::config::Config;
use orgd::webhooks::Schedule;
use serde_json::{Value, json};

/// Targets on loopback over http, a short retry schedule, a worker that looks often.
fn deliverable(c: &mut Config) {
    c.webhooks_allow_private = true;
    c.webhooks_allow_http = true;
    c.webhook_retry_schedule = Schedule::parse("150ms,150ms,150ms").unwrap();
    c.webhook_timeout_ms = 3000;
    c.webhook_poll_ms = 50;
}

/// The defaults: https only, no private targets.
fn strict(c: &mut Config) {
    c.webhook_retry_schedule = Schedule::parse("100ms").unwrap();
    c.webhook_poll_ms = 50;
}

const WAIT: Duration = Duration::from_secs(20);

/// This app's delivery worker, stopped with the test.
struct Worker(tokio::task::JoinHandle<()>);

impl Worker {
    fn start(app: &TestApp) -> Worker {
        Worker(orgd::webhooks::spawn_worker(app.state.clone()))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn webhook(app: &TestApp, path: &str, by: &TestUser, url: &str, types: &[&str]) -> Value {
    app.post(path, &by.token, json!({"url": url, "event_types": types}))
        .await
        .expect(201)
        .clone()
}

/// Polls `path` until `done` holds for its body.
async fn until(app: &TestApp, path: &str, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = std::time::Instant::now();
    loop {
        let res = app.get(path, token).await;
        if res.status == 200 && done(&res.body) {
            return res.body;
        }
        assert!(
            started.elapsed() < WAIT,
            "{path} never got there: {}",
            res.text
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn endpoints_and_their_rules(app: TestApp) {
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let org = app.org(&owner, "Hooks").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    let path = format!("/organizations/{org}/webhooks");

    // Bad input: a clear error per field, and nothing made.
    let res = app
        .post(
            &path,
            &owner.token,
            json!({"url": "ftp://example.com/x", "event_types": [], "description": "x".repeat(1001)}),
        )
        .await;
    res.expect_error(400, "invalid_request");
    let fields = res.body["details"].to_string();
    for f in ["url", "event_types", "description"] {
        assert!(fields.contains(f), "{f} in {fields}");
    }
    app.post(
        &path,
        &owner.token,
        json!({"url": "http://127.0.0.1:9/x", "event_types": ["member.nope"]}),
    )
    .await
    .expect_error(400, "invalid_request");
    assert_eq!(app.get(&path, &owner.token).await.expect(200), &json!([]));

    // Made: the secret once, the event types in order without repeats.
    let made = app
        .post(
            &path,
            &admin.token,
            json!({"url": "http://127.0.0.1:9/x", "event_types": ["member.removed", "member.added", "member.added"], "description": "CRM sync"}),
        )
        .await
        .expect(201)
        .clone();
    let id = made["id"].as_str().unwrap().to_string();
    assert!(made["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(
        made["event_types"],
        json!(["member.added", "member.removed"])
    );
    assert_eq!(made["enabled"], true);
    assert_eq!(made["organization_id"], org);
    let shown = app
        .get(&format!("{path}/{id}"), &owner.token)
        .await
        .expect(200)
        .clone();
    assert!(shown.get("secret").is_none(), "the secret is shown once");
    assert!(!app.get(&path, &owner.token).await.text.contains("whsec_"));

    // Changed.
    let changed = app
        .patch(
            &format!("{path}/{id}"),
            &owner.token,
            json!({"event_types": ["*"], "enabled": false, "description": null}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(changed["event_types"], json!(["*"]));
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["disabled_reason"], Value::Null);
    assert_eq!(changed["description"], Value::Null);
    app.patch(
        &format!("{path}/{id}"),
        &owner.token,
        json!({"url": "gopher://x"}),
    )
    .await
    .expect_error(400, "invalid_request");

    // The change is in the audit log, without the secret.
    let log = app
        .get(
            &format!("/organizations/{org}/audit-log?target_type=webhook"),
            &owner.token,
        )
        .await
        .expect(200)
        .clone();
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["webhook.updated", "webhook.created"]);
    assert!(!log.to_string().contains("whsec_"));

    // A plain member manages no webhooks (and sees none).
    app.get(&path, &member.token).await.expect(403);
    app.post(
        &path,
        &member.token,
        json!({"url": "http://127.0.0.1:9/x", "event_types": ["*"]}),
    )
    .await
    .expect(403);
    app.post_empty(&format!("{path}/{id}/rotate-secret"), &member.token)
        .await
        .expect(403);

    // The catalogue.
    let types = app
        .get("/webhooks/event-types", &member.token)
        .await
        .expect(200)
        .clone();
    let types = types["event_types"].to_string();
    for t in ["member.added", "organization.deleted", "webhook.ping"] {
        assert!(types.contains(t), "{t}");
    }

    // Installation webhooks are for superusers.
    app.get("/webhooks", &owner.token).await.expect(403);
    let root = app.superuser("root").await;
    assert_eq!(
        app.get("/webhooks", &root.token).await.expect(200),
        &json!([])
    );
    // An organization's webhook is not the installation's.
    app.get(&format!("/webhooks/{id}"), &root.token)
        .await
        .expect(404);

    app.delete(&format!("{path}/{id}"), &owner.token)
        .await
        .expect(200);
    app.get(&format!("{path}/{id}"), &owner.token)
        .await
        .expect(404);
}

async fn targets_must_be_public(app: TestApp) {
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Strict").await;
    let path = format!("/organizations/{org}/webhooks");
    let res = app
        .post(
            &path,
            &owner.token,
            json!({"url": "http://example.com/hook", "event_types": ["*"]}),
        )
        .await;
    res.expect_error(400, "invalid_request");
    assert!(res.text.contains("https"), "{}", res.text);
    for url in [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://10.0.0.7/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fd00:ec2::254]/hook",
        "https://0.0.0.0/hook",
    ] {
        let res = app
            .post(
                &path,
                &owner.token,
                json!({"url": url, "event_types": ["*"]}),
            )
            .await;
        res.expect_error(400, "invalid_request");
        assert!(res.text.contains("does not allow"), "{url}: {}", res.text);
    }
    let root = app.superuser("root").await;
    app.post(
        "/webhooks",
        &root.token,
        json!({"url": "https://127.0.0.1/hook", "event_types": ["*"]}),
    )
    .await
    .expect_error(400, "invalid_request");

    // A name that resolves somewhere private by the time of delivery (rebinding) is refused
    // then too: the endpoint is written as if its name had changed since registration.
    let org_id = uuid::Uuid::parse_str(&org).unwrap();
    let hook = app
        .store
        .create_webhook(
            Some(org_id),
            orgd::store::NewWebhook {
                url: "https://localhost:1/hook".into(),
                description: None,
                event_types: vec!["*".into()],
                enabled: true,
                secret: orgd::webhooks::mint_secret(),
            },
        )
        .await
        .unwrap();
    let _worker = Worker::start(&app);
    app.patch(
        &format!("/organizations/{org}"),
        &owner.token,
        json!({"description": "changed"}),
    )
    .await
    .expect(200);
    let list = until(
        &app,
        &format!("{path}/{}/deliveries", hook.id),
        &owner.token,
        |b| b[0]["attempts"].as_i64() >= Some(1) && b[0]["error"].is_string(),
    )
    .await;
    let error = list[0]["error"].as_str().unwrap();
    assert!(error.contains("does not allow"), "{error}");
    assert_eq!(list[0]["response_code"], Value::Null);
}

async fn events_are_delivered_signed(app: TestApp) {
    let receiver = Receiver::start();
    let _worker = Worker::start(&app);
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let newcomer = app.user("newcomer").await;
    let root = app.superuser("root").await;
    let org = app.org(&owner, "Signed").await;
    let other = app.org(&member, "Elsewhere").await;
    app.add(&org, &owner, &member, "member").await;

    let hook = webhook(
        &app,
        &format!("/organizations/{org}/webhooks"),
        &owner,
        &receiver.url("org"),
        &["member.added", "organization.updated"],
    )
    .await;
    receiver
        .configure("org", &[hook["secret"].as_str().unwrap()], 0)
        .await;
    let all = webhook(&app, "/webhooks", &root, &receiver.url("all"), &["*"]).await;
    receiver
        .configure("all", &[all["secret"].as_str().unwrap()], 0)
        .await;

    // Two subscribed changes, one that is not, one refused, one in another organization.
    app.add(&org, &owner, &newcomer, "member").await;
    app.patch(
        &format!("/organizations/{org}"),
        &owner.token,
        json!({"description": "now with webhooks"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/organizations/{org}/projects"),
        &owner.token,
        json!({"name": "Apollo"}),
    )
    .await
    .expect(201);
    app.patch(
        &format!("/organizations/{org}"),
        &member.token,
        json!({"description": "refused"}),
    )
    .await
    .expect(403);
    app.patch(
        &format!("/organizations/{other}"),
        &member.token,
        json!({"description": "elsewhere"}),
    )
    .await
    .expect(200);

    let got = receiver.wait_for("org", WAIT, |g| g.len() >= 2).await;
    let all_got = receiver
        .wait_for("all", WAIT, |g| {
            g.iter().any(|r| r["type"] == "project.created")
                && g.iter()
                    .filter(|r| r["type"] == "organization.updated")
                    .count()
                    >= 2
        })
        .await;
    // Nothing more comes for the organization's endpoint.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_after = receiver.wait_for("org", WAIT, |_| true).await;
    assert_eq!(got_after.len(), 2, "{got_after:?}");
    let mut types: Vec<&str> = got.iter().map(|r| r["type"].as_str().unwrap()).collect();
    types.sort();
    assert_eq!(types, ["member.added", "organization.updated"]);
    // (The installation endpoint's own `webhook.created` may arrive before the receiver knows
    // its secret.)
    for r in got
        .iter()
        .chain(all_got.iter().filter(|r| r["type"] != "webhook.created"))
    {
        assert_eq!(r["verified_with"], 0, "verified by standardwebhooks: {r}");
        assert_eq!(r["webhook_id"], r["id"]);
        assert_eq!(r["signatures"], 1);
    }
    assert!(got.iter().all(|r| r["organization_id"] == org));
    // The installation's endpoint sees every organization, and the refusal is no event.
    assert!(all_got.iter().any(|r| r["organization_id"] == other));
    assert!(!all_got.iter().any(|r| r["type"] == "organization.updated"
        && r["organization_id"] == org
        && r["id"] == Value::Null));

    // Each event is the change's audit entry.
    let log = app
        .get(&format!("/organizations/{org}/audit-log"), &owner.token)
        .await
        .expect(200)
        .clone();
    for r in &got {
        let entry = log
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == r["id"])
            .unwrap_or_else(|| panic!("no audit entry {}", r["id"]));
        assert_eq!(entry["action"], r["type"]);
        assert_eq!(entry["outcome"], "succeeded");
    }

    // The deliveries as the organization sees them.
    let id = hook["id"].as_str().unwrap();
    let deliveries = until(
        &app,
        &format!("/organizations/{org}/webhooks/{id}/deliveries"),
        &owner.token,
        |b| {
            b.as_array().unwrap().len() == 2
                && b.as_array()
                    .unwrap()
                    .iter()
                    .all(|d| d["status"] == "succeeded")
        },
    )
    .await;
    for d in deliveries.as_array().unwrap() {
        assert_eq!(d["attempts"], 1);
        assert_eq!(d["response_code"], 204);
        assert!(d["latency_ms"].as_i64().is_some());
        assert_eq!(d["next_attempt_at"], Value::Null);
        assert_eq!(d["webhook_id"], id);
    }
    // Newest first.
    assert!(deliveries[0]["id"].as_str() > deliveries[1]["id"].as_str());
    let first = deliveries[1]["id"].as_str().unwrap();
    let detail = app
        .get(
            &format!("/organizations/{org}/webhooks/{id}/deliveries/{first}"),
            &owner.token,
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(detail["payload"]["type"], "member.added");
    assert_eq!(
        detail["payload"]["data"]["target"]["id"],
        newcomer.id.to_string()
    );
    assert_eq!(
        detail["payload"]["data"]["actor"]["id"],
        owner.id.to_string()
    );
    assert_eq!(detail["payload"]["organization_id"], org);
    let ok = app
        .get(
            &format!("/organizations/{org}/webhooks/{id}/deliveries?status=succeeded&limit=1"),
            &owner.token,
        )
        .await;
    assert_eq!(ok.expect(200).as_array().unwrap().len(), 1);
    assert!(ok.header("link").is_some());
    app.get(
        &format!("/organizations/{org}/webhooks/{id}/deliveries?status=lost"),
        &owner.token,
    )
    .await
    .expect(400);
    // Another organization's ids are not found.
    app.get(
        &format!("/organizations/{other}/webhooks/{id}/deliveries"),
        &member.token,
    )
    .await
    .expect(404);
}

async fn failing_endpoints_are_retried_then_disabled(app: TestApp) {
    let receiver = Receiver::start();
    let _worker = Worker::start(&app);
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Flaky").await;
    let path = format!("/organizations/{org}/webhooks");
    let flaky = webhook(
        &app,
        &path,
        &owner,
        &receiver.url("flaky"),
        &["project.created"],
    )
    .await;
    let down = webhook(
        &app,
        &path,
        &owner,
        &receiver.url("down"),
        &["project.created"],
    )
    .await;
    receiver
        .configure("flaky", &[flaky["secret"].as_str().unwrap()], 2)
        .await;
    receiver
        .configure("down", &[down["secret"].as_str().unwrap()], 1000)
        .await;

    app.post(
        &format!("/organizations/{org}/projects"),
        &owner.token,
        json!({"name": "One"}),
    )
    .await
    .expect(201);

    // Two failures, then accepted: one delivery, three attempts, the same event each time.
    let got = receiver
        .wait_for("flaky", WAIT, |g| g.iter().any(|r| r["answered"] == 204))
        .await;
    let answers: Vec<i64> = got
        .iter()
        .map(|r| r["answered"].as_i64().unwrap())
        .collect();
    assert_eq!(answers, [500, 500, 204]);
    assert!(got.iter().all(|r| r["webhook_id"] == got[0]["webhook_id"]));
    assert!(got.iter().all(|r| r["verified_with"] == 0));
    // Backoff: the attempts are spread by the schedule (150 ms ± 20%), not sent at once.
    let gap = got[1]["arrived_ms"].as_i64().unwrap() - got[0]["arrived_ms"].as_i64().unwrap();
    assert!(gap >= 100, "{gap} ms between attempts");
    let flaky_id = flaky["id"].as_str().unwrap();
    let d = until(
        &app,
        &format!("{path}/{flaky_id}/deliveries"),
        &owner.token,
        |b| b[0]["status"] == "succeeded",
    )
    .await;
    assert_eq!(d[0]["attempts"], 3);
    assert_eq!(d[0]["error"], Value::Null);

    // Never accepted: four attempts (the schedule has three waits), then failed, and the
    // endpoint, which accepted nothing since, is disabled with the reason.
    let down_id = down["id"].as_str().unwrap();
    let d = until(
        &app,
        &format!("{path}/{down_id}/deliveries"),
        &owner.token,
        |b| b[0]["status"] == "failed",
    )
    .await;
    assert_eq!(d[0]["attempts"], 4);
    assert_eq!(d[0]["response_code"], 500);
    assert!(d[0]["error"].as_str().unwrap().contains("500"), "{}", d[0]);
    assert_eq!(
        receiver
            .wait_for("down", WAIT, |g| g.len() >= 4)
            .await
            .len(),
        4
    );
    let shown = app
        .get(&format!("{path}/{down_id}"), &owner.token)
        .await
        .expect(200)
        .clone();
    assert_eq!(shown["enabled"], false);
    let reason = shown["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("no delivery succeeded"), "{reason}");
    // The flaky one, which recovered, stays enabled.
    let flaky_shown = app.get(&format!("{path}/{flaky_id}"), &owner.token).await;
    assert_eq!(flaky_shown.body["enabled"], true);
    assert!(flaky_shown.body["last_success_at"].is_string());

    // A disabled endpoint gets no new events, and takes no retry or ping.
    app.post(
        &format!("/organizations/{org}/projects"),
        &owner.token,
        json!({"name": "Two"}),
    )
    .await
    .expect(201);
    receiver
        .wait_for("flaky", WAIT, |g| {
            g.iter().filter(|r| r["answered"] == 204).count() == 2
        })
        .await;
    let list = app
        .get(&format!("{path}/{down_id}/deliveries"), &owner.token)
        .await
        .expect(200)
        .clone();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let delivery = list[0]["id"].as_str().unwrap();
    let retry = format!("{path}/{down_id}/deliveries/{delivery}/retry");
    app.post_empty(&retry, &owner.token)
        .await
        .expect_error(409, "conflict");
    app.post_empty(&format!("{path}/{down_id}/ping"), &owner.token)
        .await
        .expect_error(409, "conflict");

    // Enabled again, the reason goes; a retry is one more attempt, now accepted.
    receiver.fail("down", 0).await;
    let enabled = app
        .patch(
            &format!("{path}/{down_id}"),
            &owner.token,
            json!({"enabled": true}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(enabled["disabled_reason"], Value::Null);
    let again = app.post_empty(&retry, &owner.token).await;
    assert_eq!(again.expect(202)["status"], "pending");
    // A pending delivery is not retried twice.
    let twice = app.post_empty(&retry, &owner.token).await;
    assert!(twice.status == 409 || twice.status == 202, "{}", twice.text);
    let d = until(
        &app,
        &format!("{path}/{down_id}/deliveries"),
        &owner.token,
        |b| b[0]["status"] == "succeeded",
    )
    .await;
    assert!(d[0]["attempts"].as_i64().unwrap() >= 5);
    assert_eq!(d[0]["response_code"], 204);
}

async fn rotation_signs_with_both_secrets(app: TestApp) {
    let receiver = Receiver::start();
    let _worker = Worker::start(&app);
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Rotating").await;
    let path = format!("/organizations/{org}/webhooks");
    let hook = webhook(&app, &path, &owner, &receiver.url("r"), &["webhook.ping"]).await;
    let id = hook["id"].as_str().unwrap();
    let old = hook["secret"].as_str().unwrap().to_string();

    let rotated = app
        .post_empty(&format!("{path}/{id}/rotate-secret"), &owner.token)
        .await
        .expect(200)
        .clone();
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_expires_at"].is_string());

    // A receiver still on the old secret verifies; so does one on the new.
    receiver.configure("r", &[&old], 0).await;
    let ping = app
        .post_empty(&format!("{path}/{id}/ping"), &owner.token)
        .await;
    assert_eq!(ping.expect(202)["event_type"], "webhook.ping");
    let got = receiver.wait_for("r", WAIT, |g| !g.is_empty()).await;
    assert_eq!(got[0]["type"], "webhook.ping");
    assert_eq!(got[0]["verified_with"], 0);
    assert_eq!(got[0]["signatures"], 2);
    receiver.configure("r", &[&new], 0).await;
    app.post_empty(&format!("{path}/{id}/ping"), &owner.token)
        .await
        .expect(202);
    let got = receiver.wait_for("r", WAIT, |g| g.len() >= 2).await;
    assert_eq!(got[1]["verified_with"], 0);
    // A receiver with neither secret refuses.
    receiver
        .configure("r", &[&orgd::webhooks::mint_secret()], 0)
        .await;
    app.post_empty(&format!("{path}/{id}/ping"), &owner.token)
        .await
        .expect(202);
    let got = receiver.wait_for("r", WAIT, |g| g.len() >= 3).await;
    assert_eq!(got[2]["verified_with"], Value::Null);

    // The installation's endpoints ping the same way.
    let root = app.superuser("root").await;
    let all = webhook(
        &app,
        "/webhooks",
        &root,
        &receiver.url("i"),
        &["webhook.ping"],
    )
    .await;
    receiver
        .configure("i", &[all["secret"].as_str().unwrap()], 0)
        .await;
    let all_id = all["id"].as_str().unwrap();
    app.post_empty(&format!("/webhooks/{all_id}/ping"), &root.token)
        .await
        .expect(202);
    let got = receiver.wait_for("i", WAIT, |g| !g.is_empty()).await;
    assert_eq!(got[0]["verified_with"], 0);
    assert_eq!(got[0]["organization_id"], Value::Null);

    // Retention: finished deliveries older than the period go, the recent ones stay.
    let deliveries = format!("{path}/{id}/deliveries");
    until(&app, &deliveries, &owner.token, |b| {
        b.as_array().unwrap().len() == 3
            && b.as_array()
                .unwrap()
                .iter()
                .all(|d| d["status"] == "succeeded")
    })
    .await;
    let now = orgd::domain::Timestamp::now();
    assert_eq!(
        orgd::webhooks::apply_retention(app.store.as_ref(), 30, now).await,
        0
    );
    let later = now.plus_secs(31 * 24 * 3600);
    let purged = orgd::webhooks::apply_retention(app.store.as_ref(), 30, later).await;
    assert_eq!(
        purged, 4,
        "three of this endpoint, one of the installation's"
    );
    assert_eq!(
        app.get(&deliveries, &owner.token).await.expect(200),
        &json!([])
    );
}

async fn an_organizations_endpoints_end_with_it(app: TestApp) {
    let receiver = Receiver::start();
    let _worker = Worker::start(&app);
    let owner = app.user("owner").await;
    let root = app.superuser("root").await;
    let org = app.org(&owner, "Ephemeral").await;
    let hook = webhook(
        &app,
        &format!("/organizations/{org}/webhooks"),
        &owner,
        &receiver.url("org"),
        &["*"],
    )
    .await;
    let all = webhook(
        &app,
        "/webhooks",
        &root,
        &receiver.url("all"),
        &["organization.deleted"],
    )
    .await;
    receiver
        .configure("all", &[all["secret"].as_str().unwrap()], 0)
        .await;
    app.delete(&format!("/organizations/{org}"), &owner.token)
        .await
        .expect(200);
    let got = receiver.wait_for("all", WAIT, |g| !g.is_empty()).await;
    assert_eq!(got[0]["type"], "organization.deleted");
    assert_eq!(got[0]["organization_id"], org);
    let org_id = uuid::Uuid::parse_str(&org).unwrap();
    let hook_id = uuid::Uuid::parse_str(hook["id"].as_str().unwrap()).unwrap();
    assert!(
        app.store
            .webhook(Some(org_id), hook_id)
            .await
            .unwrap()
            .is_none()
    );
}

mod allowed {
    use super::*;
    on_both_engines_with!(deliverable;
        endpoints_and_their_rules,
        events_are_delivered_signed,
        failing_endpoints_are_retried_then_disabled,
        rotation_signs_with_both_secrets,
        an_organizations_endpoints_end_with_it,
    );
}

mod defaults {
    use super::*;
    on_both_engines_with!(strict; targets_must_be_public);
}
