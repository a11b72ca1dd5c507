//! The audit log: every change leaves one entry written with it (the organization routes are
//! checked route by route in `tests/policy.rs`), refused attempts are recorded, failed changes
//! leave nothing, and the log reads with filters, keyset paging and an NDJSON export.

mod common;

use axum::http::Method;
use common::{PASSWORD, TestApp};
use orgd::audit::Outcome;
use serde_json::{Value, json};

/// Every operation that can change something has an action, and every action names a route.
#[test]
fn every_change_has_an_action() {
    let spec = orgd::openapi();
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            ops.push((method.to_uppercase(), path.clone()));
        }
    }
    for (method, path) in &ops {
        let reads = orgd::audit::READS
            .iter()
            .any(|(m, p)| m == method && p == path);
        let action = orgd::audit::action_of(method, path);
        let changing_read = orgd::audit::CHANGING_READS
            .iter()
            .any(|(m, p)| m == method && p == path);
        if (method == "GET" && !changing_read) || reads {
            assert!(action.is_none(), "{method} {path} reads: no action");
        } else {
            assert!(
                action.is_some(),
                "{method} {path} changes something: add an action"
            );
        }
    }
    for (m, p, a) in orgd::audit::ACTIONS {
        assert!(
            ops.iter().any(|(om, op)| om == m && op == p),
            "{a}: no route {m} {p}"
        );
        assert!(
            a.split_once('.')
                .is_some_and(|(r, v)| !r.is_empty() && !v.is_empty()),
            "{a}"
        );
    }
}

async fn log(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    app.get(&format!("/audit-log?{query}"), token)
        .await
        .expect(200)
        .as_array()
        .unwrap()
        .clone()
}

async fn installation_changes_are_recorded_with_their_actor(app: TestApp) {
    let root = app.superuser("root").await;
    // Sign-up: the new user is the actor and the target.
    let signup = app
        .request(
            Method::POST,
            "/auth/signup",
            None,
            Some(json!({"email": "carol@example.com", "password": PASSWORD})),
        )
        .await;
    let carol = signup.expect(201)["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let carol_token = signup.body["access_token"].as_str().unwrap().to_string();
    let e = &log(&app, &root.token, "action=user.signed_up").await[0];
    assert_eq!(e["actor"]["type"], "user");
    assert_eq!(e["actor"]["id"], carol);
    assert_eq!(e["target"], json!({"type": "user", "id": carol}));
    assert_eq!(e["outcome"], "succeeded");
    assert!(e["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(e["ip"].is_string());

    // Sign-in, a token, a password change, sign-out.
    let login = app
        .request(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"login": "carol@example.com", "password": PASSWORD})),
        )
        .await;
    login.expect(200);
    let created = app
        .post("/tokens", &carol_token, json!({"name": "ci"}))
        .await
        .expect(201)
        .clone();
    app.post(
        "/users/me/password",
        &carol_token,
        json!({"current_password": PASSWORD, "new_password": "another long password"}),
    )
    .await
    .expect(200);
    app.post_empty("/auth/logout", &carol_token)
        .await
        .expect(200);
    let mine = log(&app, &root.token, &format!("actor_id={carol}")).await;
    let actions: Vec<&str> = mine.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "session.revoked",
            "user.password_changed",
            "token.created",
            "session.created",
            "user.signed_up"
        ]
    );
    assert_eq!(mine[2]["target"]["id"], created["id"]);
    // Never a secret: the token, the password or a hash.
    let text = serde_json::to_string(&mine).unwrap();
    for secret in [
        created["token"].as_str().unwrap(),
        PASSWORD,
        "another long password",
        "$argon2",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(mine[1]["changes"]["password"]["to"], "(set)");

    // A superuser's change of a user records the fields, and the superuser as actor.
    app.patch(
        &format!("/users/{carol}"),
        &root.token,
        json!({"is_active": false}),
    )
    .await
    .expect(200);
    let e = &log(&app, &root.token, "action=user.updated").await[0];
    assert_eq!(
        e["actor"],
        json!({"type": "superuser", "id": root.id, "token_id": e["actor"]["token_id"]})
    );
    assert_eq!(
        e["changes"],
        json!({"is_active": {"from": true, "to": false}})
    );
}

async fn refused_attempts_are_recorded_and_failed_changes_leave_nothing(app: TestApp) {
    let root = app.superuser("root").await;
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let outsider = app.user("outsider").await;
    let org = app.org(&owner, "Acme").await;
    app.add(&org, &owner, &member, "member").await;
    let count = |entries: &Vec<Value>| entries.len();
    let all_before = count(&log(&app, &root.token, "limit=1000").await);

    // A member lacking the permission: refused, in the organization.
    app.patch(
        &format!("/organizations/{org}"),
        &member.token,
        json!({"name": "Mine"}),
    )
    .await
    .expect_error(403, "forbidden");
    let e = &log(&app, &root.token, "action=organization.updated").await[0];
    assert_eq!(e["outcome"], "refused");
    assert_eq!(e["actor"]["id"], member.id.to_string());
    assert_eq!(e["organization_id"], org);

    // An outsider: refused against the caller, without the organization.
    app.delete(&format!("/organizations/{org}"), &outsider.token)
        .await
        .expect_error(404, "not_found");
    let e = &log(&app, &root.token, "action=organization.deleted").await[0];
    assert_eq!(e["outcome"], "refused");
    assert_eq!(e["actor"]["id"], outsider.id.to_string());
    assert_eq!(e["organization_id"], Value::Null);
    assert_eq!(e["target"], Value::Null);
    // …and the organization's own log does not show it.
    let own = app
        .get(&format!("/organizations/{org}/audit-log"), &owner.token)
        .await;
    assert!(
        !own.expect(200)
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"]["id"] == outsider.id.to_string())
    );

    // Failed changes leave no entry: a conflict, a validation error, a missing nested id.
    let mid = count(&log(&app, &root.token, "limit=1000").await);
    assert_eq!(mid, all_before + 2);
    app.post(
        "/organizations",
        &owner.token,
        json!({"name": "Acme", "slug": "acme"}),
    )
    .await
    .expect_error(409, "conflict");
    app.post(
        &format!("/organizations/{org}/members"),
        &owner.token,
        json!({"user_id": member.id}),
    )
    .await
    .expect_error(409, "conflict");
    app.post("/organizations", &owner.token, json!({"name": ""}))
        .await
        .expect_error(400, "invalid_request");
    app.delete(
        &format!("/organizations/{org}/projects/{}", uuid::Uuid::now_v7()),
        &owner.token,
    )
    .await
    .expect_error(404, "not_found");
    // Reads leave nothing either; anonymous requests are nobody's.
    app.get(&format!("/organizations/{org}/members"), &member.token)
        .await
        .expect(200);
    app.request(Method::DELETE, &format!("/organizations/{org}"), None, None)
        .await
        .expect_error(401, "unauthenticated");
    assert_eq!(count(&log(&app, &root.token, "limit=1000").await), mid);

    // A change made in the transaction that failed at its last statement leaves nothing: the
    // last-owner rule refuses the owner's own demotion after reading everything.
    app.patch(
        &format!("/organizations/{org}/members/{}", owner.id),
        &owner.token,
        json!({"role": "member"}),
    )
    .await
    .expect_error(400, "last_owner");
    assert_eq!(count(&log(&app, &root.token, "limit=1000").await), mid);
}

async fn the_log_reads_with_filters_paging_and_export(app: TestApp) {
    let root = app.superuser("root").await;
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let org = app.org(&owner, "Acme").await;
    let other = app.org(&owner, "Other").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    // Entries made before and after `started` are apart by more than the clock's millisecond.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let started = app.state.now();
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    for i in 0..7 {
        app.post(
            &format!("/organizations/{org}/projects"),
            &admin.token,
            json!({"name": format!("P{i}")}),
        )
        .await
        .expect(201);
    }
    app.patch(
        &format!("/organizations/{org}/members/{}", member.id),
        &owner.token,
        json!({"role": "admin"}),
    )
    .await
    .expect(200);
    app.post(
        &format!("/organizations/{other}/projects"),
        &owner.token,
        json!({"name": "Elsewhere"}),
    )
    .await
    .expect(201);

    let base = format!("/organizations/{org}/audit-log");
    // Owners and admins read it; members cannot.
    app.get(&base, &member.token).await.expect(200);
    app.patch(
        &format!("/organizations/{org}/members/{}", member.id),
        &owner.token,
        json!({"role": "member"}),
    )
    .await
    .expect(200);
    app.get(&base, &member.token)
        .await
        .expect_error(403, "forbidden");
    let all = app.get(&base, &admin.token).await.expect(200).clone();
    let all = all.as_array().unwrap();
    // Newest first; only this organization's, from its creation on.
    assert_eq!(all[0]["action"], "member.role_changed");
    let first = all.last().unwrap();
    assert_eq!(first["action"], "organization.created");
    assert_eq!(first["target"], json!({"type": "organization", "id": org}));
    assert_eq!(
        all[0]["changes"],
        json!({"role": {"from": "admin", "to": "member"}})
    );
    assert_eq!(all[0]["target"], json!({"type": "user", "id": member.id}));
    assert!(all.iter().all(|e| e["organization_id"] == org));
    let ids: Vec<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);

    // Filters.
    let created = app
        .get(&format!("{base}?action=project.created"), &owner.token)
        .await
        .expect(200)
        .clone();
    assert_eq!(created.as_array().unwrap().len(), 7);
    assert!(
        created
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"]["id"] == admin.id.to_string() && e["target"]["type"] == "project")
    );
    let project = created[0]["target"]["id"].as_str().unwrap();
    let one = app
        .get(
            &format!("{base}?target_type=project&target_id={project}"),
            &owner.token,
        )
        .await;
    assert_eq!(one.expect(200).as_array().unwrap().len(), 1);
    let by_owner = app
        .get(&format!("{base}?actor_id={}", owner.id), &owner.token)
        .await;
    assert!(
        by_owner
            .expect(200)
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"]["id"] == owner.id.to_string())
    );
    let since = app
        .get(
            &format!("{base}?since={}", started.to_rfc3339()),
            &owner.token,
        )
        .await;
    assert_eq!(since.expect(200).as_array().unwrap().len(), 9);
    let until = app
        .get(
            &format!("{base}?until={}", started.to_rfc3339()),
            &owner.token,
        )
        .await;
    assert_eq!(until.expect(200).as_array().unwrap().len(), all.len() - 9);

    // Keyset paging through the Link header reaches every entry once.
    let mut seen = Vec::new();
    let mut next = Some(format!("{base}?limit=3"));
    while let Some(url) = next {
        let page = app.get(&url, &owner.token).await;
        for e in page.expect(200).as_array().unwrap() {
            seen.push(e["id"].as_str().unwrap().to_string());
        }
        next = page
            .header("link")
            .map(|l| l[1..l.find('>').unwrap()].to_string());
    }
    assert_eq!(seen, ids);

    // The export streams every matching entry as NDJSON.
    let export = app
        .get(&format!("{base}?format=ndjson"), &owner.token)
        .await;
    assert_eq!(export.status, 200);
    assert_eq!(export.header("content-type"), Some("application/x-ndjson"));
    let lines: Vec<Value> = export
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ids
    );

    // The installation's log, superusers only, spans organizations.
    app.get("/audit-log", &owner.token)
        .await
        .expect_error(403, "forbidden");
    let everywhere = log(&app, &root.token, "action=project.created").await;
    assert_eq!(everywhere.len(), 8);

    // Bad input.
    for bad in [
        "limit=0",
        "limit=1001",
        "format=xml",
        "after=nope",
        "after=t1_00000000000000000000000000000000",
        "since=yesterday",
        "bogus=1",
    ] {
        app.get(&format!("{base}?{bad}"), &owner.token)
            .await
            .expect_error(400, "invalid_request");
    }

    // The entries are append-only: no route changes or deletes them.
    let spec = orgd::openapi();
    for path in ["/audit-log", "/organizations/{org}/audit-log"] {
        let methods: Vec<&String> = spec["paths"][path].as_object().unwrap().keys().collect();
        assert_eq!(methods, ["get"]);
    }
}

async fn retention_deletes_old_entries_in_small_batches(app: TestApp) {
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Acme").await;
    app.post(
        &format!("/organizations/{org}/projects"),
        &owner.token,
        json!({"name": "P"}),
    )
    .await
    .expect(201);
    let now = orgd::domain::Timestamp::now();
    // Old entries, more than one batch of them.
    let n = orgd::audit::RETENTION_BATCH as usize * 2 + 17;
    for i in 0..n {
        let at = now.plus_secs(-400 * 24 * 3600 - i as i64);
        let mut e = orgd::audit::Entry {
            id: orgd::audit::id_at(at),
            action: "project.created".into(),
            outcome: Outcome::Succeeded,
            actor: orgd::audit::Actor {
                kind: orgd::audit::ActorType::System,
                id: None,
                token_id: None,
            },
            organization_id: Some(org.parse().unwrap()),
            target: None,
            ip: None,
            user_agent: None,
            request_id: None,
            changes: json!({}),
            created_at: at,
        };
        e.request_id = Some(format!("old-{i}"));
        app.store.record_audit(e).await.unwrap();
    }
    let filter = orgd::store::AuditFilter {
        organization_id: Some(org.parse().unwrap()),
        ..Default::default()
    };
    let before = app
        .store
        .audit_log(&filter, None, 100_000)
        .await
        .unwrap()
        .len();
    assert!(before > n);
    // Keeping forever deletes nothing; a year deletes exactly the old ones.
    assert_eq!(
        orgd::audit::apply_retention(app.store.as_ref(), 0, now).await,
        0
    );
    assert_eq!(
        orgd::audit::apply_retention(app.store.as_ref(), 365, now).await,
        n as u64
    );
    let after = app.store.audit_log(&filter, None, 100_000).await.unwrap();
    assert_eq!(after.len(), before - n);
    assert!(
        after
            .iter()
            .all(|e| e.created_at.0 > now.plus_secs(-365 * 24 * 3600).0)
    );
}

on_both_engines!(
    installation_changes_are_recorded_with_their_actor,
    refused_attempts_are_recorded_and_failed_changes_leave_nothing,
    the_log_reads_with_filters_paging_and_export,
    retention_deletes_old_entries_in_small_batches,
);
