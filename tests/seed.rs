//! `orgd admin seed`: the shape the load harness relies on.

mod common;

use common::TestApp;
use orgd::seed::{SeedOptions, seed};

async fn seeding_builds_the_promised_shape(app: TestApp) {
    let hash = orgd::auth::hash_password(orgd::seed::PASSWORD).unwrap();
    let opts = SeedOptions {
        orgs: 120,
        members_per_org: 15,
        users: Some(1200),
    };
    let progress = std::sync::Mutex::new(Vec::new());
    let report = seed(app.store.as_ref(), opts, hash, |done, total| {
        progress.lock().unwrap().push((done, total))
    })
    .await
    .unwrap();
    assert_eq!(progress.lock().unwrap().last(), Some(&(1800, 1800)));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM memberships").await as u64,
        report.memberships
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM organizations").await as u64,
        report.organizations
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users").await as u64,
        report.users
    );
    // Every organization has exactly one owner, who is its primary owner.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM organizations o WHERE (SELECT COUNT(*) FROM memberships m \
             WHERE m.organization_id = o.id AND m.role = 'owner') <> 1 OR NOT EXISTS (SELECT 1 FROM \
             memberships m WHERE m.organization_id = o.id AND m.user_id = o.owner_id AND m.role = 'owner')"
        )
        .await,
        0
    );

    let x = format!("/organizations/{}", report.org_x.slug);
    let org = app.get(&x, &report.member.token).await;
    assert_eq!(org.expect(200)["member_count"], 20);
    app.get(&x, &report.outsider.token)
        .await
        .expect_error(404, "not_found");
    let mine = app.get("/organizations", &report.owner.token).await;
    assert_eq!(mine.expect(200).as_array().unwrap().len(), 20);
    let big = app
        .get(
            &format!("/organizations/{}/members?limit=100", report.big_org.id),
            &report.member.token,
        )
        .await;
    assert_eq!(big.expect(200).as_array().unwrap().len(), 100);
    assert!(big.header("link").is_some());
    let target = report.big_org_members[3];
    let m = app
        .get(
            &format!("/organizations/{}/members/{target}", report.big_org.id),
            &report.owner.token,
        )
        .await;
    assert_eq!(m.expect(200)["role"], "member");
    // Seeded users sign in with the seed password.
    let login =
        serde_json::json!({"login": report.owner.username, "password": orgd::seed::PASSWORD});
    app.request(axum::http::Method::POST, "/auth/login", None, Some(login))
        .await
        .expect(200);
}

on_both_engines!(seeding_builds_the_promised_shape);
