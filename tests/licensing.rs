//! Plans, licenses, an organization's license and its limits, trials, deployments and owner
//! deactivation. Time-dependent rules run on the licensing clock, moved forward by the tests.

mod common;

use axum::http::Method;
use common::{TestApp, TestUser};
use orgd::config::Config;
use serde_json::{Value, json};

const DAY: i64 = 24 * 3600;

/// Small limits, so that every one of them is reached by a story.
fn small_plans(c: &mut Config) {
    for s in [
        "free.members=3",
        "free.projects=1",
        "free.applications=1",
        "free.tokens=3",
        "free.service_accounts=1",
        "team.members=6",
        "team.projects=5",
        "team.features=custom_roles sso",
    ] {
        c.plans.apply(s).unwrap();
    }
    c.deployment_stale_secs = 3600;
    c.deployment_requests_per_hour = 6;
}

async fn issue(app: &TestApp, root: &TestUser, body: Value) -> Value {
    app.post("/licenses", &root.token, body)
        .await
        .expect(201)
        .clone()
}

async fn org_view(app: &TestApp, org: &str, token: &str) -> Value {
    app.get(&format!("/organizations/{org}"), token)
        .await
        .expect(200)
        .clone()
}

async fn license_of(app: &TestApp, org: &str, token: &str) -> Value {
    app.get(&format!("/organizations/{org}/license"), token)
        .await
        .expect(200)
        .clone()
}

async fn add_by_id(
    app: &TestApp,
    org: &str,
    by: &TestUser,
    user: &TestUser,
) -> common::TestResponse {
    app.post(
        &format!("/organizations/{org}/members"),
        &by.token,
        json!({"user_id": user.id}),
    )
    .await
}

#[track_caller]
fn limit_reached(r: &common::TestResponse, resource: &str, limit: i64, usage: i64, plan: &str) {
    r.expect_error(403, "plan_limit_reached");
    assert_eq!(
        r.body["limit"],
        json!({"resource": resource, "limit": limit, "usage": usage, "plan": plan}),
        "{}",
        r.text
    );
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains(&limit.to_string()),
        "{}",
        r.text
    );
}

async fn licenses_are_issued_changed_and_revoked_by_superusers(app: TestApp) {
    let root = app.superuser("root").await;
    let alice = app.user("alice").await;

    let plans = app.get("/plans", &alice.token).await.expect(200).clone();
    let names: Vec<&str> = plans
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["free", "team", "business", "enterprise"]);
    assert_eq!(plans[0]["limits"]["members"], 3);
    assert_eq!(plans[1]["features"], json!(["custom_roles", "sso"]));
    assert_eq!(plans[3]["limits"]["members"], Value::Null);

    let issued = issue(
        &app,
        &root,
        json!({"plan": "team", "name": "Acme", "seats": 4, "max_deployments": 2,
               "features": ["priority_support"], "expires_at": "2999-01-01T00:00:00.000Z"}),
    )
    .await;
    let key = issued["key"].as_str().unwrap();
    assert!(
        key.starts_with("orgd_lic_") && key.len() == "orgd_lic_".len() + 64,
        "{key}"
    );
    assert!(key.starts_with(issued["key_hint"].as_str().unwrap().trim_end_matches('…')));
    assert_eq!(issued["status"], "active");
    assert_eq!(issued["seats"], 4);
    assert_eq!(issued["organization_id"], Value::Null);
    let id = issued["id"].as_str().unwrap().to_string();

    // The key is never shown again, and only its hash is stored.
    let got = app.get(&format!("/licenses/{id}"), &root.token).await;
    assert!(got.expect(200).get("key").is_none());
    assert!(!got.text.contains(key));
    let listed = app.get("/licenses?plan=team", &root.token).await;
    assert_eq!(listed.expect(200).as_array().unwrap().len(), 1);
    assert!(!listed.text.contains(key));
    assert_eq!(
        app.get("/licenses?plan=business", &root.token)
            .await
            .expect(200),
        &json!([])
    );

    // Superusers only.
    for (method, path, body) in [
        (Method::GET, "/licenses".to_string(), None),
        (
            Method::POST,
            "/licenses".into(),
            Some(json!({"plan": "team"})),
        ),
        (Method::GET, format!("/licenses/{id}"), None),
        (
            Method::PATCH,
            format!("/licenses/{id}"),
            Some(json!({"seats": 99})),
        ),
        (Method::DELETE, format!("/licenses/{id}"), None),
    ] {
        app.request(method, &path, Some(&alice.token), body)
            .await
            .expect_error(403, "forbidden");
    }

    // Bad input changes nothing.
    for bad in [
        json!({"plan": "gold"}),
        json!({"plan": "team", "seats": -1}),
        json!({"plan": "team", "trial": true}),
        json!({"plan": "team", "starts_at": "2030-01-01T00:00:00.000Z",
               "expires_at": "2029-01-01T00:00:00.000Z"}),
        json!({"plan": "team", "features": ["Not A Label"]}),
        json!({"plan": "team", "key": "orgd_lic_mine"}),
    ] {
        app.post("/licenses", &root.token, bad.clone())
            .await
            .expect_error(400, "invalid_request");
    }
    app.post(
        "/licenses",
        &root.token,
        json!({"plan": "team", "organization_id": uuid::Uuid::now_v7()}),
    )
    .await
    .expect_error(404, "not_found");
    assert_eq!(
        app.get("/licenses", &root.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let changed = app
        .patch(
            &format!("/licenses/{id}"),
            &root.token,
            json!({"seats": null, "plan": "business", "name": null}),
        )
        .await;
    let changed = changed.expect(200);
    assert_eq!(changed["plan"], "business");
    assert_eq!(changed["seats"], Value::Null);
    assert_eq!(changed["name"], Value::Null);
    app.patch(
        &format!("/licenses/{id}"),
        &root.token,
        json!({"expires_at": "2000-01-01T00:00:00.000Z"}),
    )
    .await
    .expect_error(400, "invalid_request");

    let revoked = app.delete(&format!("/licenses/{id}"), &root.token).await;
    assert_eq!(revoked.expect(200)["status"], "revoked");
    let at = revoked.body["revoked_at"].clone();
    assert!(at.is_string());
    // Revoking again changes nothing; a revoked license cannot be changed.
    let again = app.delete(&format!("/licenses/{id}"), &root.token).await;
    assert_eq!(again.expect(200)["revoked_at"], at);
    app.patch(
        &format!("/licenses/{id}"),
        &root.token,
        json!({"seats": 10}),
    )
    .await
    .expect_error(409, "conflict");
    app.get(&format!("/licenses/{}", uuid::Uuid::now_v7()), &root.token)
        .await
        .expect_error(404, "not_found");
    app.get("/licenses/not-an-id", &root.token)
        .await
        .expect_error(404, "not_found");
}

async fn an_organizations_license_decides_its_plan(app: TestApp) {
    let root = app.superuser("root").await;
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let other = app.user("other").await;
    let org = app.org(&owner, "Acme").await;
    let elsewhere = app.org(&other, "Elsewhere").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;

    // No license: the free plan, with its limits and the usage.
    let l = license_of(&app, &org, &member.token).await;
    assert_eq!(l["plan"], "free");
    assert_eq!(l["license"], Value::Null);
    assert_eq!(l["has_active_subscription"], false);
    assert_eq!(l["limits"]["members"], 3);
    assert_eq!(l["usage"]["members"], 3);
    let o = org_view(&app, &org, &member.token).await;
    assert_eq!(
        (
            &o["plan"],
            &o["has_active_subscription"],
            &o["trial_expiry"]
        ),
        (&json!("free"), &json!(false), &Value::Null)
    );

    let team = issue(&app, &root, json!({"plan": "team"})).await;
    let key = team["key"].as_str().unwrap().to_string();
    // Owners attach by key; admins cannot; owners cannot attach by id.
    app.put(
        &format!("/organizations/{org}/license"),
        &admin.token,
        json!({"license_key": key}),
    )
    .await
    .expect_error(403, "forbidden");
    app.put(
        &format!("/organizations/{org}/license"),
        &owner.token,
        json!({"license_id": team["id"]}),
    )
    .await
    .expect_error(403, "forbidden");
    for bad in [
        json!({}),
        json!({"license_key": key, "license_id": team["id"]}),
        json!({"license_key": "orgd_lic_nope"}),
    ] {
        app.put(&format!("/organizations/{org}/license"), &owner.token, bad)
            .await
            .expect_error(400, "invalid_request");
    }
    // A well-formed key of no license.
    let unknown = app
        .put(
            &format!("/organizations/{org}/license"),
            &owner.token,
            json!({"license_key": format!("orgd_lic_{}", "0".repeat(64))}),
        )
        .await;
    unknown.expect_error(404, "not_found");
    assert_eq!(license_of(&app, &org, &owner.token).await["plan"], "free");

    let attached = app
        .put(
            &format!("/organizations/{org}/license"),
            &owner.token,
            json!({"license_key": format!(" {key} ")}),
        )
        .await;
    let attached = attached.expect(200);
    assert_eq!(attached["plan"], "team");
    assert_eq!(attached["limits"]["members"], 6);
    assert_eq!(attached["features"], json!(["custom_roles", "sso"]));
    assert_eq!(attached["license"]["id"], team["id"]);
    let o = org_view(&app, &org, &member.token).await;
    assert_eq!(o["plan"], "team");
    assert_eq!(o["has_active_subscription"], true);
    let listed = app.get("/organizations?plan=team", &owner.token).await;
    assert_eq!(listed.expect(200).as_array().unwrap().len(), 1);
    assert_eq!(listed.body[0]["plan"], "team");
    assert_eq!(
        app.get("/organizations?plan=free", &owner.token)
            .await
            .expect(200),
        &json!([])
    );
    let all_free = app.get("/organizations?plan=free", &root.token).await;
    assert_eq!(all_free.expect(200)[0]["id"], elsewhere);
    app.get("/organizations?plan=gold", &owner.token)
        .await
        .expect_error(400, "invalid_request");

    // A license belongs to one organization at most.
    app.put(
        &format!("/organizations/{elsewhere}/license"),
        &other.token,
        json!({"license_key": key}),
    )
    .await
    .expect_error(409, "conflict");
    app.put(
        &format!("/organizations/{elsewhere}/license"),
        &root.token,
        json!({"license_id": team["id"]}),
    )
    .await
    .expect_error(409, "conflict");

    // A superuser attaches by id, replacing the current license, whose holder is cleared.
    let business = issue(&app, &root, json!({"plan": "business", "seats": 2})).await;
    let replaced = app
        .put(
            &format!("/organizations/{org}/license"),
            &root.token,
            json!({"license_id": business["id"]}),
        )
        .await;
    let replaced = replaced.expect(200);
    assert_eq!(replaced["plan"], "business");
    // The license's seats replace the plan's member limit.
    assert_eq!(replaced["limits"]["members"], 2);
    // The business plan's own limits (unlimited projects in this configuration) stay.
    assert_eq!(replaced["limits"]["projects"], Value::Null);
    let old = app
        .get(
            &format!("/licenses/{}", team["id"].as_str().unwrap()),
            &root.token,
        )
        .await;
    assert_eq!(old.expect(200)["organization_id"], Value::Null);
    let held = app
        .get(&format!("/licenses?organization_id={org}"), &root.token)
        .await;
    assert_eq!(held.expect(200)[0]["id"], business["id"]);

    // A revocation is the free plan at once, cached views included.
    app.delete(
        &format!("/licenses/{}", business["id"].as_str().unwrap()),
        &root.token,
    )
    .await
    .expect(200);
    assert_eq!(org_view(&app, &org, &member.token).await["plan"], "free");
    let l = license_of(&app, &org, &member.token).await;
    assert_eq!(l["plan"], "free");
    assert_eq!(l["license"]["status"], "revoked");
    // …and a revoked license cannot be attached again.
    app.put(
        &format!("/organizations/{elsewhere}/license"),
        &root.token,
        json!({"license_id": business["id"]}),
    )
    .await
    .expect_error(409, "conflict");
    // By key, a revoked license is refused exactly like an unknown one.
    let revoked_key = app
        .put(
            &format!("/organizations/{elsewhere}/license"),
            &other.token,
            json!({"license_key": business["key"]}),
        )
        .await;
    revoked_key.expect_error(404, "not_found");
    assert_eq!(revoked_key.body["error"], unknown.body["error"]);

    // Back to free by removing it (owners only).
    app.put(
        &format!("/organizations/{org}/license"),
        &owner.token,
        json!({"license_key": key}),
    )
    .await
    .expect(200);
    app.delete(&format!("/organizations/{org}/license"), &admin.token)
        .await
        .expect_error(403, "forbidden");
    app.delete(&format!("/organizations/{org}/license"), &owner.token)
        .await
        .expect(200);
    assert_eq!(org_view(&app, &org, &owner.token).await["plan"], "free");
    app.delete(&format!("/organizations/{org}/license"), &owner.token)
        .await
        .expect_error(404, "not_found");
    // Deleting an organization frees its license for another.
    app.put(
        &format!("/organizations/{org}/license"),
        &owner.token,
        json!({"license_key": key}),
    )
    .await
    .expect(200);
    app.delete(&format!("/organizations/{org}"), &owner.token)
        .await
        .expect(200);
    app.put(
        &format!("/organizations/{elsewhere}/license"),
        &other.token,
        json!({"license_key": key}),
    )
    .await
    .expect(200);
}

async fn expiry_and_trials_follow_the_clock(app: TestApp) {
    let root = app.superuser("root").await;
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Acme").await;
    let now = app.state.now();
    let in_days = |d: i64| now.plus_secs(d * DAY).to_rfc3339();

    let trial = issue(
        &app,
        &root,
        json!({"plan": "team", "trial": true, "expires_at": in_days(14), "organization_id": org}),
    )
    .await;
    assert_eq!(trial["organization_id"], org);
    let o = org_view(&app, &org, &owner.token).await;
    assert_eq!(o["plan"], "team");
    assert_eq!(o["has_active_subscription"], false);
    assert_eq!(o["trial_expiry"], json!(in_days(14)));
    let listed = app.get("/organizations", &owner.token).await;
    assert_eq!(listed.expect(200)[0]["trial_expiry"], json!(in_days(14)));

    // During the trial, the team plan's seats.
    let mut people = Vec::new();
    for i in 0..5 {
        let u = app.user(&format!("user{i}")).await;
        add_by_id(&app, &org, &owner, &u).await.expect(201);
        people.push(u);
    }
    assert_eq!(
        license_of(&app, &org, &owner.token).await["usage"]["members"],
        6
    );

    // The trial ends: the free plan at once, with no job; everyone is kept, nobody new joins.
    app.advance(15 * DAY);
    let o = org_view(&app, &org, &owner.token).await;
    assert_eq!(o["plan"], "free");
    assert_eq!(o["trial_expiry"], json!(in_days(14)));
    assert_eq!(o["member_count"], 6);
    let l = license_of(&app, &org, &owner.token).await;
    assert_eq!(l["license"]["status"], "expired");
    assert_eq!(
        (&l["limits"]["members"], &l["usage"]["members"]),
        (&json!(3), &json!(6))
    );
    assert_eq!(
        app.get("/organizations?plan=free", &owner.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let late = app.user("late").await;
    limit_reached(
        &add_by_id(&app, &org, &owner, &late).await,
        "members",
        3,
        6,
        "free",
    );
    // A member may still leave; removals are never blocked by a plan.
    app.delete(
        &format!("/organizations/{org}/members/{}", people[0].id),
        &owner.token,
    )
    .await
    .expect(200);

    // A license that starts later is the free plan until it starts.
    let starts = app.state.now().plus_secs(2 * DAY).to_rfc3339();
    let scheduled = issue(
        &app,
        &root,
        json!({"plan": "business", "starts_at": starts}),
    )
    .await;
    assert_eq!(scheduled["status"], "scheduled");
    app.put(
        &format!("/organizations/{org}/license"),
        &owner.token,
        json!({"license_key": scheduled["key"]}),
    )
    .await
    .expect(200);
    assert_eq!(org_view(&app, &org, &owner.token).await["plan"], "free");
    assert_eq!(
        org_view(&app, &org, &owner.token).await["trial_expiry"],
        Value::Null
    );
    app.advance(3 * DAY);
    let o = org_view(&app, &org, &owner.token).await;
    assert_eq!(o["plan"], "business");
    assert_eq!(o["has_active_subscription"], true);
    add_by_id(&app, &org, &owner, &late).await.expect(201);
}

async fn every_addition_is_held_to_the_plan(app: TestApp) {
    let root = app.superuser("root").await;
    let owner = app.user("owner").await;
    let a = app.user("a").await;
    let b = app.user("b").await;
    let c = app.user("c").await;
    let org = app.org(&owner, "Acme").await;
    let base = format!("/organizations/{org}");

    // Seats: 3 on the free plan, the owner holds one.
    add_by_id(&app, &org, &owner, &a).await.expect(201);
    // Pending invitations take no seat, however many.
    let inv_c = app
        .post(
            &format!("{base}/invitations"),
            &owner.token,
            json!({"email": c.email}),
        )
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let inv_d = app
        .post(
            &format!("{base}/invitations"),
            &owner.token,
            json!({"email": "d@example.com"}),
        )
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    add_by_id(&app, &org, &owner, &b).await.expect(201);
    limit_reached(
        &add_by_id(&app, &org, &owner, &c).await,
        "members",
        3,
        3,
        "free",
    );
    // Provisioning by email and accepting an invitation are held to the same seats, and the
    // refused invitation stays usable.
    limit_reached(
        &app.post(
            &format!("{base}/members"),
            &owner.token,
            json!({"email": "new.person@example.com"}),
        )
        .await,
        "members",
        3,
        3,
        "free",
    );
    limit_reached(
        &app.post("/invitations/accept", &c.token, json!({"token": inv_c}))
            .await,
        "members",
        3,
        3,
        "free",
    );
    let anon = app
        .request(
            Method::POST,
            "/invitations/accept",
            None,
            Some(json!({"token": inv_d, "password": "a long password"})),
        )
        .await;
    limit_reached(&anon, "members", 3, 3, "free");
    // The refused accept created no account either: one transaction, all or nothing.
    let accounts = app.get("/users?q=d@example.com", &root.token).await;
    assert_eq!(accounts.expect(200), &json!([]));
    assert_eq!(org_view(&app, &org, &owner.token).await["member_count"], 3);
    assert_eq!(
        org_view(&app, &org, &owner.token).await["pending_member_count"],
        2
    );

    // Service accounts take no seat here; their own limit is 1.
    let sa = app
        .post(
            &format!("{base}/service-accounts"),
            &owner.token,
            json!({"name": "Bot"}),
        )
        .await
        .expect(201)
        .clone();
    let sa_id = sa["user"]["id"].as_str().unwrap().to_string();
    limit_reached(
        &app.post(
            &format!("{base}/service-accounts"),
            &owner.token,
            json!({"name": "Bot 2"}),
        )
        .await,
        "service_accounts",
        1,
        1,
        "free",
    );

    // Projects and applications.
    app.post(
        &format!("{base}/projects"),
        &owner.token,
        json!({"name": "P"}),
    )
    .await
    .expect(201);
    limit_reached(
        &app.post(
            &format!("{base}/projects"),
            &owner.token,
            json!({"name": "Q"}),
        )
        .await,
        "projects",
        1,
        1,
        "free",
    );
    app.post(
        &format!("{base}/applications"),
        &owner.token,
        json!({"name": "A"}),
    )
    .await
    .expect(201);
    limit_reached(
        &app.post(
            &format!("{base}/applications"),
            &owner.token,
            json!({"name": "B"}),
        )
        .await,
        "applications",
        1,
        1,
        "free",
    );

    // Tokens scoped to the organization: the service account's first token counts.
    assert_eq!(
        license_of(&app, &org, &owner.token).await["usage"]["tokens"],
        1
    );
    app.post(
        "/tokens",
        &a.token,
        json!({"name": "ci", "organization": org}),
    )
    .await
    .expect(201);
    app.post(
        &format!("{base}/service-accounts/{sa_id}/tokens"),
        &owner.token,
        json!({"name": "second"}),
    )
    .await
    .expect(201);
    limit_reached(
        &app.post(
            "/tokens",
            &b.token,
            json!({"name": "ci", "organization": org}),
        )
        .await,
        "tokens",
        3,
        3,
        "free",
    );
    limit_reached(
        &app.post(
            &format!("{base}/service-accounts/{sa_id}/tokens"),
            &owner.token,
            json!({"name": "third"}),
        )
        .await,
        "tokens",
        3,
        3,
        "free",
    );
    // Unscoped tokens are not the organization's.
    app.post("/tokens", &b.token, json!({"name": "mine"}))
        .await
        .expect(201);

    let usage = license_of(&app, &org, &owner.token).await["usage"].clone();
    assert_eq!(
        usage,
        json!({"members": 3, "projects": 1, "applications": 1, "tokens": 3,
               "service_accounts": 1, "deployments": 0})
    );

    // An upgrade admits more; a downgrade keeps everything and blocks only additions.
    let team = issue(&app, &root, json!({"plan": "team", "organization_id": org})).await;
    app.post("/invitations/accept", &c.token, json!({"token": inv_c}))
        .await
        .expect(200);
    app.post(
        &format!("{base}/projects"),
        &owner.token,
        json!({"name": "Q"}),
    )
    .await
    .expect(201);
    app.delete(
        &format!("/licenses/{}", team["id"].as_str().unwrap()),
        &root.token,
    )
    .await
    .expect(200);
    let l = license_of(&app, &org, &owner.token).await;
    assert_eq!(
        (&l["usage"]["members"], &l["usage"]["projects"]),
        (&json!(4), &json!(2))
    );
    limit_reached(
        &app.post(
            &format!("{base}/projects"),
            &owner.token,
            json!({"name": "R"}),
        )
        .await,
        "projects",
        1,
        2,
        "free",
    );
    let projects = app.get(&format!("{base}/projects"), &owner.token).await;
    assert_eq!(projects.expect(200).as_array().unwrap().len(), 2);
    // Changing what exists is not an addition.
    let p = projects.body[0]["id"].as_str().unwrap();
    app.patch(
        &format!("{base}/projects/{p}"),
        &owner.token,
        json!({"name": "Renamed"}),
    )
    .await
    .expect(200);
}

fn seats_for_service_accounts(c: &mut Config) {
    small_plans(c);
    c.plans
        .apply("free.service_accounts_take_seats=true")
        .unwrap();
}

async fn a_plan_can_count_service_accounts_as_seats(app: TestApp) {
    let owner = app.user("owner").await;
    let a = app.user("a").await;
    let org = app.org(&owner, "Acme").await;
    let base = format!("/organizations/{org}");
    app.post(
        &format!("{base}/service-accounts"),
        &owner.token,
        json!({"name": "Bot"}),
    )
    .await
    .expect(201);
    let l = license_of(&app, &org, &owner.token).await;
    assert_eq!(l["service_accounts_take_seats"], true);
    assert_eq!(l["usage"]["members"], 2);
    add_by_id(&app, &org, &owner, &a).await.expect(201);
    let b = app.user("b").await;
    limit_reached(
        &add_by_id(&app, &org, &owner, &b).await,
        "members",
        3,
        3,
        "free",
    );
}

/// With S seats left, S additions and S invitation accepts race: exactly S new members.
async fn seats_hold_under_concurrent_additions_and_accepts(app: TestApp) {
    const S: usize = 10;
    let root = app.superuser("root").await;
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Acme").await;
    // The owner holds one seat of 1 + S.
    issue(
        &app,
        &root,
        json!({"plan": "team", "seats": 1 + S, "organization_id": org}),
    )
    .await;
    let mut jobs = Vec::new();
    for i in 0..S {
        let added = app.user(&format!("added{i}")).await;
        jobs.push((
            format!("/organizations/{org}/members"),
            owner.token.clone(),
            json!({"user_id": added.id}),
        ));
        let invitee = app.user(&format!("invitee{i}")).await;
        let token = app
            .post(
                &format!("/organizations/{org}/invitations"),
                &owner.token,
                json!({"email": invitee.email}),
            )
            .await
            .expect(201)["token"]
            .as_str()
            .unwrap()
            .to_string();
        jobs.push((
            "/invitations/accept".into(),
            invitee.token.clone(),
            json!({"token": token}),
        ));
    }
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for (path, token, body) in jobs {
        let router = app.router.clone();
        tasks.push(tokio::spawn(async move {
            let req = axum::http::Request::builder()
                .method("POST")
                .uri(path)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            use tower::ServiceExt;
            let res = router.oneshot(req).await.unwrap();
            let status = res.status().as_u16();
            let bytes = http_body_util::BodyExt::collect(res.into_body())
                .await
                .unwrap()
                .to_bytes();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (status, body["code"].as_str().unwrap_or("").to_string())
        }));
    }
    let mut admitted = 0;
    let mut refused = 0;
    for t in tasks {
        let (status, code) = t.await.unwrap();
        match status {
            200 | 201 => admitted += 1,
            403 if code == "plan_limit_reached" => refused += 1,
            other => panic!("unexpected answer {other} {code}"),
        }
    }
    let elapsed = started.elapsed();
    assert_eq!((admitted, refused), (S, S));
    let l = license_of(&app, &org, &owner.token).await;
    assert_eq!(l["usage"]["members"], 1 + S);
    let members = app
        .get(&format!("/organizations/{org}/members"), &owner.token)
        .await;
    assert_eq!(members.expect(200).as_array().unwrap().len(), 1 + S);
    assert_eq!(
        org_view(&app, &org, &owner.token).await["member_count"],
        1 + S
    );
    eprintln!(
        "[{}] seat race: {} concurrent additions and accepts for {S} seats: {admitted} admitted, \
         {refused} refused with plan_limit_reached, in {:.1} ms",
        app.engine,
        2 * S,
        elapsed.as_secs_f64() * 1000.0
    );
}

async fn register(app: &TestApp, key: &str, name: &str) -> common::TestResponse {
    app.request(
        Method::POST,
        "/deployments/register",
        None,
        Some(
            json!({"license_key": key, "name": name, "hostname": format!("{name}.local"),
                    "version": "1.0.0"}),
        ),
    )
    .await
}

async fn heartbeat(app: &TestApp, id: &str, token: &str, version: &str) -> common::TestResponse {
    app.request(
        Method::POST,
        &format!("/deployments/{id}/heartbeat"),
        Some(token),
        Some(json!({"version": version})),
    )
    .await
}

async fn deployments_register_beat_and_go_stale(app: TestApp) {
    let root = app.superuser("root").await;
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let org = app.org(&owner, "Acme").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    let lic = issue(
        &app,
        &root,
        json!({"plan": "enterprise", "max_deployments": 2, "organization_id": org,
               "expires_at": app.state.now().plus_secs(30 * DAY).to_rfc3339()}),
    )
    .await;
    let key = lic["key"].as_str().unwrap().to_string();

    let r = register(&app, &key, "prod").await;
    let reg = r.expect(201).clone();
    let id = reg["id"].as_str().unwrap().to_string();
    let token = reg["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("orgd_dep_"));
    assert_eq!(reg["deployment"]["status"], "active");
    let staging = register(&app, &key, "staging").await.expect(201).clone();
    // The license caps its deployments.
    let third = register(&app, &key, "third").await;
    limit_reached(&third, "deployments", 2, 2, "enterprise");

    // Unknown, malformed, revoked and expired keys are refused alike.
    let revoked = issue(&app, &root, json!({"plan": "team"})).await;
    app.delete(
        &format!("/licenses/{}", revoked["id"].as_str().unwrap()),
        &root.token,
    )
    .await
    .expect(200);
    let expiring = issue(
        &app,
        &root,
        json!({"plan": "team", "expires_at": app.state.now().plus_secs(DAY).to_rfc3339()}),
    )
    .await;
    let unknown = format!("orgd_lic_{}", "a".repeat(64));
    let mut refusals = Vec::new();
    for bad in [
        unknown.as_str(),
        "orgd_lic_short",
        revoked["key"].as_str().unwrap(),
    ] {
        let r = register(&app, bad, "x").await;
        r.expect_error(401, "invalid_credentials");
        refusals.push(r.body["error"].clone());
    }
    register(&app, expiring["key"].as_str().unwrap(), "early")
        .await
        .expect(201);

    // Owners and admins list them; members cannot.
    let list = app
        .get(&format!("/organizations/{org}/deployments"), &admin.token)
        .await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 2);
    assert_eq!(list.body[0]["name"], "prod");
    assert_eq!(list.body[0]["hostname"], "prod.local");
    app.get(&format!("/organizations/{org}/deployments"), &member.token)
        .await
        .expect_error(403, "forbidden");
    assert_eq!(
        license_of(&app, &org, &owner.token).await["usage"]["deployments"],
        2
    );
    assert_eq!(
        app.get(
            &format!("/licenses/{}", lic["id"].as_str().unwrap()),
            &root.token
        )
        .await
        .expect(200)["deployment_count"],
        2
    );

    // A heartbeat is authenticated by the deployment's own token.
    let beat = heartbeat(&app, &id, &token, "1.1.0").await;
    let beat = beat.expect(200);
    assert_eq!(beat["deployment"]["version"], "1.1.0");
    assert_eq!(beat["license"]["status"], "active");
    assert_eq!(beat["license"]["plan"], "enterprise");
    heartbeat(&app, &id, staging["token"].as_str().unwrap(), "1.1.0")
        .await
        .expect_error(401, "unauthenticated");
    heartbeat(&app, &id, &owner.token, "1.1.0")
        .await
        .expect_error(401, "unauthenticated");
    heartbeat(&app, "nope", &token, "1.1.0")
        .await
        .expect_error(401, "unauthenticated");
    heartbeat(&app, &id, &token, "")
        .await
        .expect_error(400, "invalid_request");

    // No heartbeat within the window: stale; the next one makes it active again.
    app.advance(2 * 3600);
    let list = app
        .get(&format!("/organizations/{org}/deployments"), &owner.token)
        .await;
    assert_eq!(list.expect(200)[0]["status"], "stale");
    assert_eq!(list.body[1]["status"], "stale");
    heartbeat(&app, &id, &token, "1.2.0").await.expect(200);
    let list = app
        .get(&format!("/organizations/{org}/deployments"), &owner.token)
        .await;
    assert_eq!(list.expect(200)[0]["status"], "active");
    assert_eq!(list.body[0]["version"], "1.2.0");
    assert_eq!(list.body[1]["status"], "stale");

    // The expired license no longer registers anything.
    app.advance(2 * DAY);
    register(&app, expiring["key"].as_str().unwrap(), "late")
        .await
        .expect_error(401, "invalid_credentials");

    // Removing a deployment ends its token and frees its place under the cap.
    let staging_id = staging["id"].as_str().unwrap();
    app.delete(
        &format!("/organizations/{org}/deployments/{staging_id}"),
        &member.token,
    )
    .await
    .expect_error(403, "forbidden");
    app.delete(
        &format!("/organizations/{org}/deployments/{staging_id}"),
        &admin.token,
    )
    .await
    .expect(200);
    heartbeat(&app, staging_id, staging["token"].as_str().unwrap(), "1")
        .await
        .expect_error(401, "unauthenticated");
    register(&app, &key, "replacement").await.expect(201);

    // A revoked license: heartbeats learn it.
    app.delete(
        &format!("/licenses/{}", lic["id"].as_str().unwrap()),
        &root.token,
    )
    .await
    .expect(200);
    let beat = heartbeat(&app, &id, &token, "1.2.0").await;
    assert_eq!(beat.expect(200)["license"]["status"], "revoked");
    register(&app, &key, "after")
        .await
        .expect_error(401, "invalid_credentials");

    // Registrations are rate-limited per key (6 per hour here): the 7th attempt with one key.
    let busy = issue(&app, &root, json!({"plan": "team", "max_deployments": 100})).await;
    let busy_key = busy["key"].as_str().unwrap();
    for i in 0..6 {
        register(&app, busy_key, &format!("n{i}")).await.expect(201);
    }
    let r = register(&app, busy_key, "n7").await;
    r.expect_error(429, "rate_limited");
    assert!(r.header("retry-after").is_some());
    // Another key has its own budget.
    register(&app, &format!("orgd_lic_{}", "b".repeat(64)), "x")
        .await
        .expect_error(401, "invalid_credentials");
}

async fn owners_deactivate_and_reactivate_their_organization(app: TestApp) {
    let root = app.superuser("root").await;
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let invitee = app.user("invitee").await;
    let org = app.org(&owner, "Acme").await;
    let other = app.org(&owner, "Other").await;
    issue(&app, &root, json!({"plan": "team", "organization_id": org})).await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    let base = format!("/organizations/{org}");
    let inv = app
        .post(
            &format!("{base}/invitations"),
            &owner.token,
            json!({"email": invitee.email}),
        )
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(org_view(&app, &org, &member.token).await["active"], true);

    // Admins cannot deactivate; owners can.
    app.patch(&base, &admin.token, json!({"active": false}))
        .await
        .expect_error(403, "forbidden");
    let off = app
        .patch(&base, &owner.token, json!({"active": false}))
        .await;
    assert_eq!(off.expect(200)["active"], false);

    // Members read it; nothing changes.
    let o = org_view(&app, &org, &member.token).await;
    assert_eq!(o["active"], false);
    app.get(&format!("{base}/members"), &member.token)
        .await
        .expect(200);
    let late = app.user("late").await;
    for r in [
        app.patch(&base, &owner.token, json!({"name": "Renamed"}))
            .await,
        app.patch(&base, &owner.token, json!({"active": false, "name": "X"}))
            .await,
        add_by_id(&app, &org, &owner, &late).await,
        app.post(
            &format!("{base}/projects"),
            &owner.token,
            json!({"name": "P"}),
        )
        .await,
        app.post(&format!("{base}/leave"), &member.token, json!({}))
            .await,
        app.delete(&base, &owner.token).await,
        app.post("/invitations/accept", &invitee.token, json!({"token": inv}))
            .await,
        app.post(
            "/tokens",
            &owner.token,
            json!({"name": "ci", "organization": org}),
        )
        .await,
    ] {
        r.expect_error(403, "organization_inactive");
    }
    assert_eq!(org_view(&app, &org, &owner.token).await["name"], "Acme");
    assert_eq!(org_view(&app, &org, &owner.token).await["member_count"], 3);

    // `active_only` leaves it out; a superuser's status is separate.
    let active = app
        .get("/organizations?active_only=true", &owner.token)
        .await;
    let ids: Vec<&Value> = active
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["id"])
        .collect();
    assert_eq!(ids, [&json!(other)]);
    let suspended = app
        .patch(&base, &root.token, json!({"status": "suspended"}))
        .await;
    assert_eq!(
        (&suspended.expect(200)["status"], &suspended.body["active"]),
        (&json!("suspended"), &json!(false))
    );
    app.patch(&base, &root.token, json!({"status": "active"}))
        .await
        .expect(200);

    // Admins cannot reactivate; owners can, and everything works again.
    app.patch(&base, &admin.token, json!({"active": true}))
        .await
        .expect_error(403, "forbidden");
    let on = app
        .patch(&base, &owner.token, json!({"active": true}))
        .await;
    assert_eq!(on.expect(200)["active"], true);
    app.post("/invitations/accept", &invitee.token, json!({"token": inv}))
        .await
        .expect(200);
    app.patch(&base, &owner.token, json!({"name": "Renamed"}))
        .await
        .expect(200);
    assert_eq!(
        app.get("/organizations?active_only=true", &owner.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// One key, attached by the owners of several organizations at once: exactly one holds it.
async fn a_license_is_held_by_one_organization_under_concurrent_attaches(app: TestApp) {
    const N: usize = 8;
    let root = app.superuser("root").await;
    let lic = issue(&app, &root, json!({"plan": "business"})).await;
    let key = lic["key"].as_str().unwrap().to_string();
    let mut owners = Vec::new();
    for i in 0..N {
        let owner = app.user(&format!("owner{i}")).await;
        let org = app.org(&owner, &format!("Org {i}")).await;
        owners.push((org, owner.token));
    }
    let mut tasks = Vec::new();
    for (org, token) in owners.clone() {
        let router = app.router.clone();
        let body = json!({"license_key": key}).to_string();
        tasks.push(tokio::spawn(async move {
            let req = axum::http::Request::builder()
                .method("PUT")
                .uri(format!("/organizations/{org}/license"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body))
                .unwrap();
            use tower::ServiceExt;
            (org, router.oneshot(req).await.unwrap().status().as_u16())
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        let (org, status) = t.await.unwrap();
        match status {
            200 => winners.push(org),
            409 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let held = app
        .get(
            &format!("/licenses/{}", lic["id"].as_str().unwrap()),
            &root.token,
        )
        .await;
    assert_eq!(held.expect(200)["organization_id"], json!(winners[0]));
    let mut on_business = 0;
    for (org, token) in &owners {
        if org_view(&app, org, token).await["plan"] == "business" {
            on_business += 1;
        }
    }
    assert_eq!(on_business, 1);
}

on_both_engines_with!(small_plans;
    licenses_are_issued_changed_and_revoked_by_superusers,
    an_organizations_license_decides_its_plan,
    expiry_and_trials_follow_the_clock,
    every_addition_is_held_to_the_plan,
    seats_hold_under_concurrent_additions_and_accepts,
    deployments_register_beat_and_go_stale,
    owners_deactivate_and_reactivate_their_organization,
    a_license_is_held_by_one_organization_under_concurrent_attaches,
);

mod service_account_seats {
    use super::*;
    on_both_engines_with!(seats_for_service_accounts; a_plan_can_count_service_accounts_as_seats);
}
