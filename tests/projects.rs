//! Projects, project members, applications, and the cascades of member removal and
//! organization deletion.

mod common;

use common::{TestApp, TestUser};
use serde_json::json;

async fn setup(app: &TestApp) -> (TestUser, TestUser, TestUser, String) {
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let org = app.org(&owner, "Acme").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    (owner, admin, member, org)
}

async fn projects_crud_and_permissions(app: TestApp) {
    let (_owner, admin, member, org) = setup(&app).await;
    let base = format!("/organizations/{org}/projects");
    app.post(&base, &member.token, json!({"name": "Web"}))
        .await
        .expect_error(403, "forbidden");
    let p = app
        .post(
            &base,
            &admin.token,
            json!({"name": "Web App", "description": "front"}),
        )
        .await;
    let p = p.expect(201).clone();
    assert_eq!(p["slug"], "web-app");
    let id = p["id"].as_str().unwrap();
    app.post(
        &base,
        &admin.token,
        json!({"name": "Other", "slug": "WEB-APP"}),
    )
    .await
    .expect_error(409, "conflict");
    let p2 = app
        .post(&base, &admin.token, json!({"name": "Web App"}))
        .await;
    assert_eq!(p2.expect(201)["slug"], "web-app-2");
    app.post(&base, &admin.token, json!({"name": ""}))
        .await
        .expect_error(400, "invalid_request");
    app.post(
        &base,
        &admin.token,
        json!({"name": "x", "organization_id": org}),
    )
    .await
    .expect_error(400, "invalid_request");

    let list = app.get(&base, &member.token).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 2);
    let paged = app.get(&format!("{base}?limit=1"), &member.token).await;
    assert!(paged.header("link").unwrap().contains("after="));
    app.get(&format!("{base}/{id}"), &member.token)
        .await
        .expect(200);
    app.patch(
        &format!("{base}/{id}"),
        &member.token,
        json!({"name": "Mine"}),
    )
    .await
    .expect_error(403, "forbidden");
    let r = app
        .patch(
            &format!("{base}/{id}"),
            &admin.token,
            json!({"name": "Website", "description": null}),
        )
        .await;
    assert_eq!(r.expect(200)["name"], "Website");
    assert_eq!(r.body["description"], serde_json::Value::Null);
    let o = app
        .get(&format!("/organizations/{org}"), &member.token)
        .await;
    assert_eq!(o.expect(200)["project_count"], 2);
    app.delete(&format!("{base}/{id}"), &member.token)
        .await
        .expect_error(403, "forbidden");
    app.delete(&format!("{base}/{id}"), &admin.token)
        .await
        .expect(200);
    app.get(&format!("{base}/{id}"), &member.token)
        .await
        .expect_error(404, "not_found");
    app.get(&format!("{base}/not-an-id"), &member.token)
        .await
        .expect_error(404, "not_found");
}

async fn project_members_are_organization_members(app: TestApp) {
    let (owner, admin, member, org) = setup(&app).await;
    let outsider = app.user("outsider").await;
    let other = app.user("other").await;
    app.add(&org, &owner, &other, "member").await;
    let p = app
        .post(
            &format!("/organizations/{org}/projects"),
            &admin.token,
            json!({"name": "API"}),
        )
        .await;
    let pid = p.expect(201)["id"].as_str().unwrap().to_string();
    let base = format!("/organizations/{org}/projects/{pid}/members");

    app.post(&base, &admin.token, json!({"user_id": outsider.id}))
        .await
        .expect_error(409, "conflict");
    let m = app
        .post(
            &base,
            &admin.token,
            json!({"user_id": member.id, "role": "admin"}),
        )
        .await;
    assert_eq!(m.expect(201)["role"], "admin");
    app.post(&base, &admin.token, json!({"user_id": member.id}))
        .await
        .expect_error(409, "conflict");
    app.post(
        &base,
        &admin.token,
        json!({"user_id": other.id, "role": "owner"}),
    )
    .await
    .expect_error(400, "invalid_request");
    // A project admin (an ordinary organization member) manages the project's members.
    let r = app
        .post(&base, &member.token, json!({"user_id": other.id}))
        .await;
    assert_eq!(r.expect(201)["role"], "viewer");
    app.patch(
        &format!("{base}/{}", other.id),
        &member.token,
        json!({"role": "editor"}),
    )
    .await
    .expect(200);
    // An editor does not.
    app.post(&base, &other.token, json!({"user_id": owner.id}))
        .await
        .expect_error(403, "forbidden");
    app.delete(&format!("{base}/{}", member.id), &other.token)
        .await
        .expect_error(403, "forbidden");
    let list = app.get(&base, &other.token).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 2);

    // Leaving the organization removes one's project memberships.
    app.post_empty(&format!("/organizations/{org}/leave"), &other.token)
        .await
        .expect(200);
    let list = app.get(&base, &admin.token).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 1);
    // So does being removed.
    app.delete(
        &format!("/organizations/{org}/members/{}", member.id),
        &admin.token,
    )
    .await
    .expect(200);
    assert!(
        app.get(&base, &admin.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.delete(&format!("{base}/{}", member.id), &admin.token)
        .await
        .expect_error(404, "not_found");
}

async fn applications_crud(app: TestApp) {
    let (owner, admin, member, org) = setup(&app).await;
    let base = format!("/organizations/{org}/applications");
    let pid = app
        .post(
            &format!("/organizations/{org}/projects"),
            &admin.token,
            json!({"name": "API"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other_org = app.org(&owner, "Other").await;
    let foreign = app
        .post(
            &format!("/organizations/{other_org}/projects"),
            &owner.token,
            json!({"name": "F"}),
        )
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();

    app.post(&base, &member.token, json!({"name": "CLI"}))
        .await
        .expect_error(403, "forbidden");
    app.post(
        &base,
        &admin.token,
        json!({"name": "CLI", "project_id": foreign}),
    )
    .await
    .expect_error(409, "conflict");
    let a = app
        .post(
            &base,
            &admin.token,
            json!({"name": "CLI", "project_id": pid, "description": "tool"}),
        )
        .await;
    let a = a.expect(201).clone();
    assert_eq!(a["project_id"], pid);
    let id = a["id"].as_str().unwrap();
    app.post(&base, &admin.token, json!({"name": "Web"}))
        .await
        .expect(201);
    assert_eq!(
        app.get(&base, &member.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let o = app
        .get(&format!("/organizations/{org}"), &member.token)
        .await;
    assert_eq!(o.expect(200)["application_count"], 2);

    let r = app
        .patch(
            &format!("{base}/{id}"),
            &admin.token,
            json!({"project_id": null, "name": "CLI 2"}),
        )
        .await;
    assert_eq!(r.expect(200)["project_id"], serde_json::Value::Null);
    assert_eq!(r.body["name"], "CLI 2");
    app.patch(
        &format!("{base}/{id}"),
        &admin.token,
        json!({"project_id": pid}),
    )
    .await
    .expect(200);
    // Deleting the project keeps the application, outside any project.
    app.delete(
        &format!("/organizations/{org}/projects/{pid}"),
        &admin.token,
    )
    .await
    .expect(200);
    let r = app.get(&format!("{base}/{id}"), &member.token).await;
    assert_eq!(r.expect(200)["project_id"], serde_json::Value::Null);
    app.delete(&format!("{base}/{id}"), &admin.token)
        .await
        .expect(200);
    app.get(&format!("{base}/{id}"), &member.token)
        .await
        .expect_error(404, "not_found");
}

async fn deleting_an_organization_removes_everything_under_it(app: TestApp) {
    let (owner, admin, _member, org) = setup(&app).await;
    let keep = app.org(&owner, "Keep").await;
    app.add(&keep, &owner, &admin, "member").await;
    for o in [&org, &keep] {
        let pid = app
            .post(
                &format!("/organizations/{o}/projects"),
                &owner.token,
                json!({"name": "P"}),
            )
            .await
            .expect(201)["id"]
            .as_str()
            .unwrap()
            .to_string();
        app.post(
            &format!("/organizations/{o}/projects/{pid}/members"),
            &owner.token,
            json!({"user_id": owner.id}),
        )
        .await
        .expect(201);
        app.post(
            &format!("/organizations/{o}/applications"),
            &owner.token,
            json!({"name": "A", "project_id": pid}),
        )
        .await
        .expect(201);
        app.post(
            &format!("/organizations/{o}/invitations"),
            &owner.token,
            json!({"email": "new@example.com"}),
        )
        .await
        .expect(201);
        app.post(
            &format!("/organizations/{o}/service-accounts"),
            &owner.token,
            json!({"name": "Bot"}),
        )
        .await
        .expect(201);
        app.post(
            "/tokens",
            &admin.token,
            json!({"name": "scoped", "organization": o}),
        )
        .await
        .expect(201);
    }
    let count = |table: &str| format!("SELECT COUNT(*) FROM {table}");
    let before: Vec<i64> = futures_counts(&app, &count).await;
    app.delete(&format!("/organizations/{org}"), &owner.token)
        .await
        .expect(200);
    let after: Vec<i64> = futures_counts(&app, &count).await;
    // projects, project_members, applications, invitations, organization-scoped tokens: halved.
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert_eq!(*a * 2, *b, "table #{i}: {b} before, {a} after");
    }
    // The kept organization is intact.
    let o = app
        .get(&format!("/organizations/{keep}"), &owner.token)
        .await;
    let o = o.expect(200);
    assert_eq!(
        (
            o["project_count"].as_i64(),
            o["application_count"].as_i64(),
            o["pending_member_count"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
}

async fn futures_counts(app: &TestApp, count: &impl Fn(&str) -> String) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "projects",
        "project_members",
        "applications",
        "invitations",
        "tokens WHERE organization_id IS NOT NULL",
        "users WHERE is_service_account",
    ] {
        out.push(app.count(&count(table)).await);
    }
    out
}

on_both_engines!(
    projects_crud_and_permissions,
    project_members_are_organization_members,
    applications_crud,
    deleting_an_organization_removes_everything_under_it,
);
