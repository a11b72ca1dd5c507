//! Members: adding, roles, removal, leaving, and the last-owner invariant under races.

mod common;

use common::{TestApp, TestUser};
use serde_json::json;

async fn org_with(app: &TestApp, owner: &TestUser, name: &str) -> String {
    app.org(owner, name).await
}

async fn add_by_id_username_and_email(app: TestApp) {
    let owner = app.user("owner").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    let org = org_with(&app, &owner, "Acme").await;
    let path = format!("/organizations/{org}/members");

    let m = app
        .post(&path, &owner.token, json!({"user_id": bob.id}))
        .await;
    let m = m.expect(201);
    assert_eq!(m["role"], "member");
    assert_eq!(m["admin"], false);
    assert_eq!(m["username"], "bob");

    let m = app
        .post(
            &path,
            &owner.token,
            json!({"username": "CAROL", "admin": true}),
        )
        .await;
    assert_eq!(m.expect(201)["role"], "admin");
    assert_eq!(m.body["user_id"], carol.id.to_string());

    // An unknown email provisions a password-less user.
    let m = app
        .post(
            &path,
            &owner.token,
            json!({"email": "dave@example.com", "name": "Dave"}),
        )
        .await;
    let m = m.expect(201).clone();
    assert_eq!(m["email"], "dave@example.com");
    assert_eq!(m["name"], "Dave");
    let login = app
        .request(
            axum::http::Method::POST,
            "/auth/login",
            None,
            Some(json!({"login": "dave@example.com", "password": ""})),
        )
        .await;
    login.expect_error(401, "invalid_credentials");

    // Existing email: added, not provisioned again.
    let eve = app.user("eve").await;
    let m = app
        .post(&path, &owner.token, json!({"email": "EVE@example.com"}))
        .await;
    assert_eq!(m.expect(201)["user_id"], eve.id.to_string());

    app.post(&path, &owner.token, json!({"user_id": bob.id}))
        .await
        .expect_error(409, "conflict");
    app.post(
        &path,
        &owner.token,
        json!({"user_id": uuid::Uuid::now_v7()}),
    )
    .await
    .expect_error(404, "not_found");
    app.post(&path, &owner.token, json!({"username": "nobody"}))
        .await
        .expect_error(404, "not_found");
    app.post(&path, &owner.token, json!({}))
        .await
        .expect_error(400, "invalid_request");
    app.post(
        &path,
        &owner.token,
        json!({"user_id": bob.id, "username": "bob"}),
    )
    .await
    .expect_error(400, "invalid_request");
    app.post(
        &path,
        &owner.token,
        json!({"email": "x@example.com", "role": "admin", "admin": true}),
    )
    .await
    .expect_error(400, "invalid_request");
    app.post(
        &path,
        &owner.token,
        json!({"email": "x@example.com", "role": "superadmin"}),
    )
    .await
    .expect_error(409, "conflict");
    app.post(
        &path,
        &owner.token,
        json!({"email": "x@example.com", "role": "Super Admin"}),
    )
    .await
    .expect_error(400, "invalid_request");
    app.post(&path, &owner.token, json!({"email": "not-an-email"}))
        .await
        .expect_error(400, "invalid_request");

    let list = app.get(&path, &owner.token).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 5);
    let org_body = app
        .get(&format!("/organizations/{org}"), &owner.token)
        .await;
    assert_eq!(org_body.expect(200)["member_count"], 5);
}

async fn only_owners_and_admins_add_and_only_owners_add_owners(app: TestApp) {
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let x = app.user("x").await;
    let org = org_with(&app, &owner, "Acme").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    let path = format!("/organizations/{org}/members");

    app.post(&path, &member.token, json!({"user_id": x.id}))
        .await
        .expect_error(403, "forbidden");
    app.post(
        &path,
        &admin.token,
        json!({"user_id": x.id, "role": "owner"}),
    )
    .await
    .expect_error(403, "forbidden");
    assert_eq!(
        app.get(&format!("{path}/{}", x.id), &owner.token)
            .await
            .status,
        404
    );
    app.post(
        &path,
        &admin.token,
        json!({"user_id": x.id, "role": "admin"}),
    )
    .await
    .expect(201);
}

async fn role_changes_follow_the_owner_rules(app: TestApp) {
    let owner = app.user("owner").await;
    let owner2 = app.user("owner2").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let org = org_with(&app, &owner, "Acme").await;
    app.add(&org, &owner, &owner2, "owner").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    let m = |u: &TestUser| format!("/organizations/{org}/members/{}", u.id);

    // Members cannot change roles, not even their own.
    app.patch(&m(&member), &member.token, json!({"role": "admin"}))
        .await
        .expect_error(403, "forbidden");
    // Admins cannot grant, demote or touch owners.
    app.patch(&m(&member), &admin.token, json!({"role": "owner"}))
        .await
        .expect_error(403, "forbidden");
    app.patch(&m(&owner2), &admin.token, json!({"role": "member"}))
        .await
        .expect_error(403, "forbidden");
    app.patch(&m(&admin), &admin.token, json!({"role": "owner"}))
        .await
        .expect_error(403, "forbidden");
    // Admins manage members and admins.
    let r = app
        .patch(&m(&member), &admin.token, json!({"role": "admin"}))
        .await;
    assert_eq!(r.expect(200)["role"], "admin");
    app.patch(&m(&member), &admin.token, json!({"role": "member"}))
        .await
        .expect(200);
    // Owners grant and take away owner.
    app.patch(&m(&member), &owner.token, json!({"role": "owner"}))
        .await
        .expect(200);
    app.patch(&m(&member), &owner.token, json!({"role": "member"}))
        .await
        .expect(200);
    // Bad input.
    app.patch(&m(&member), &owner.token, json!({"role": "king"}))
        .await
        .expect_error(409, "conflict");
    app.patch(&m(&member), &owner.token, json!({"role": "King"}))
        .await
        .expect_error(400, "invalid_request");
    app.patch(
        &m(&member),
        &owner.token,
        json!({"role": "admin", "is_superuser": true}),
    )
    .await
    .expect_error(400, "invalid_request");
    app.patch(
        &format!("/organizations/{org}/members/{}", uuid::Uuid::now_v7()),
        &owner.token,
        json!({"role": "admin"}),
    )
    .await
    .expect_error(404, "not_found");
    // Owners can step down while another owner remains, but not the last one.
    app.patch(&m(&owner2), &owner2.token, json!({"role": "admin"}))
        .await
        .expect(200);
    app.patch(&m(&owner), &owner.token, json!({"role": "admin"}))
        .await
        .expect_error(400, "last_owner");
    let listed = app
        .get(
            &format!("/organizations/{org}/members?role=owner"),
            &owner.token,
        )
        .await;
    assert_eq!(listed.expect(200).as_array().unwrap().len(), 1);
}

async fn toggle_admin_flips_members_and_admins_only(app: TestApp) {
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let org = org_with(&app, &owner, "Acme").await;
    app.add(&org, &owner, &member, "member").await;
    let t = format!("/organizations/{org}/members/{}/toggle-admin", member.id);
    let r = app.post_empty(&t, &owner.token).await;
    assert_eq!(r.expect(200), &json!({"ok": true, "admin": true}));
    let r = app.post_empty(&t, &owner.token).await;
    assert_eq!(r.expect(200), &json!({"ok": true, "admin": false}));
    app.post_empty(&t, &member.token)
        .await
        .expect_error(403, "forbidden");
    app.post_empty(
        &format!("/organizations/{org}/members/{}/toggle-admin", owner.id),
        &owner.token,
    )
    .await
    .expect_error(400, "invalid_request");
    let me = app
        .get(
            &format!("/organizations/{org}/members/{}", owner.id),
            &owner.token,
        )
        .await;
    assert_eq!(me.expect(200)["role"], "owner");
}

async fn removal_and_leaving(app: TestApp) {
    let owner = app.user("owner").await;
    let owner2 = app.user("owner2").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let org = org_with(&app, &owner, "Acme").await;
    app.add(&org, &owner, &owner2, "owner").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    let m = |u: &TestUser| format!("/organizations/{org}/members/{}", u.id);

    app.delete(&m(&admin), &member.token)
        .await
        .expect_error(403, "forbidden");
    app.delete(&m(&owner2), &admin.token)
        .await
        .expect_error(403, "forbidden");
    assert_eq!(
        app.delete(&m(&member), &admin.token).await.expect(200),
        &json!({"ok": true})
    );
    // The removed member no longer sees the organization.
    app.get(&format!("/organizations/{org}"), &member.token)
        .await
        .expect_error(404, "not_found");
    app.delete(&m(&member), &admin.token)
        .await
        .expect_error(404, "not_found");
    // The admin leaves.
    app.post_empty(&format!("/organizations/{org}/leave"), &admin.token)
        .await
        .expect(200);
    // One owner removes the other, then cannot leave as the last one.
    app.delete(&m(&owner2), &owner.token).await.expect(200);
    app.post_empty(&format!("/organizations/{org}/leave"), &owner.token)
        .await
        .expect_error(400, "last_owner");
    app.delete(&m(&owner), &owner.token)
        .await
        .expect_error(400, "last_owner");
    let o = app
        .get(&format!("/organizations/{org}"), &owner.token)
        .await;
    assert_eq!(o.expect(200)["member_count"], 1);
}

async fn primary_owner_hands_over_when_leaving(app: TestApp) {
    let owner = app.user("owner").await;
    let owner2 = app.user("owner2").await;
    let org = org_with(&app, &owner, "Acme").await;
    app.add(&org, &owner, &owner2, "owner").await;
    app.post_empty(&format!("/organizations/{org}/leave"), &owner.token)
        .await
        .expect(200);
    let o = app
        .get(&format!("/organizations/{org}"), &owner2.token)
        .await;
    assert_eq!(o.expect(200)["owner"]["id"], owner2.id.to_string());
}

async fn member_lists_filter_search_and_page(app: TestApp) {
    let owner = app.user("owner").await;
    let org = org_with(&app, &owner, "Acme").await;
    for i in 0..7 {
        let u = app.user(&format!("user{i}")).await;
        app.add(
            &org,
            &owner,
            &u,
            if i % 2 == 0 { "admin" } else { "member" },
        )
        .await;
    }
    let base = format!("/organizations/{org}/members");
    let admins = app.get(&format!("{base}?role=admin"), &owner.token).await;
    assert_eq!(admins.expect(200).as_array().unwrap().len(), 4);
    let found = app.get(&format!("{base}?q=USER3"), &owner.token).await;
    let found = found.expect(200).as_array().unwrap().clone();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["username"], "user3");
    // Wildcards are literal.
    assert_eq!(
        app.get(&format!("{base}?q=%25"), &owner.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Keyset paging walks all 8 members through Link headers, without repeats.
    let mut seen = Vec::new();
    let mut next = Some(format!("{base}?limit=3"));
    while let Some(url) = next.take() {
        let page = app.get(&url, &owner.token).await;
        for m in page.expect(200).as_array().unwrap() {
            seen.push(m["user_id"].as_str().unwrap().to_string());
        }
        next = page.header("link").map(|l| {
            assert!(l.ends_with("; rel=\"next\""), "{l}");
            l[1..l.find('>').unwrap()].to_string()
        });
    }
    assert_eq!(seen.len(), 8);
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 8);

    // Offset paging.
    let p = app
        .get(&format!("{base}?limit=5&offset=5"), &owner.token)
        .await;
    assert_eq!(p.expect(200).as_array().unwrap().len(), 3);
    assert!(p.header("link").is_none());
    let p = app
        .get(&format!("{base}?limit=2&offset=2"), &owner.token)
        .await;
    assert!(p.header("link").unwrap().contains("offset=4"));

    for bad in [
        "limit=0",
        "limit=1001",
        "after=garbage",
        "offset=1&after=x",
        "role=King",
        "role=a%20b",
        "offset=-1",
        "colour=red",
        // An id cursor on a list ordered by joining time.
        "after=i00000000000000000000000000000000",
        "limit=5&colour=red",
    ] {
        app.get(&format!("{base}?{bad}"), &owner.token)
            .await
            .expect_error(400, "invalid_request");
    }
}

/// 50 concurrent conflicting demote / remove / leave requests per round, 20 rounds: every
/// organization keeps at least one owner, and its primary owner is one of them.
async fn last_owner_survives_concurrent_demotions_removals_and_leaves(app: TestApp) {
    let root = app.superuser("root").await;
    for round in 0..20 {
        let a = app.user(&format!("a{round}")).await;
        let b = app.user(&format!("b{round}")).await;
        let c = app.user(&format!("c{round}")).await;
        let org = org_with(&app, &a, &format!("Race {round}")).await;
        app.add(&org, &a, &b, "owner").await;
        app.add(&org, &a, &c, "owner").await;
        let owners = [a.clone(), b.clone(), c.clone()];
        let mut tasks = Vec::new();
        for i in 0..50 {
            let actor = owners[i % 3].clone();
            let target = owners[(i / 3 + 1 + i) % 3].clone();
            let router = app.router.clone();
            let (method, path, body) = match i % 5 {
                0 | 1 => (
                    "PATCH",
                    format!("/organizations/{org}/members/{}", target.id),
                    Some(json!({"role": "member"})),
                ),
                2 => (
                    "DELETE",
                    format!("/organizations/{org}/members/{}", target.id),
                    None,
                ),
                3 => ("POST", format!("/organizations/{org}/leave"), None),
                _ => (
                    "POST",
                    format!("/organizations/{org}/members/{}/toggle-admin", target.id),
                    None,
                ),
            };
            tasks.push(tokio::spawn(async move {
                let mut req = axum::http::Request::builder()
                    .method(method)
                    .uri(path)
                    .header("authorization", format!("Bearer {}", actor.token));
                let body = match body {
                    Some(b) => {
                        req = req.header("content-type", "application/json");
                        axum::body::Body::from(b.to_string())
                    }
                    None => axum::body::Body::empty(),
                };
                use tower::ServiceExt;
                router
                    .oneshot(req.body(body).unwrap())
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
        for t in tasks {
            let status = t.await.unwrap();
            assert!(
                [200, 400, 403, 404].contains(&status),
                "unexpected status {status}"
            );
        }
        let owners = app
            .get(
                &format!("/organizations/{org}/members?role=owner"),
                &root.token,
            )
            .await;
        let owners: Vec<String> = owners
            .expect(200)
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user_id"].as_str().unwrap().to_string())
            .collect();
        assert!(
            !owners.is_empty(),
            "round {round}: organization lost its last owner"
        );
        let o = app.get(&format!("/organizations/{org}"), &root.token).await;
        let primary = o.expect(200)["owner"]["id"].as_str().unwrap().to_string();
        assert!(
            owners.contains(&primary),
            "round {round}: primary owner {primary} is not an owner"
        );
    }
}

on_both_engines!(
    add_by_id_username_and_email,
    only_owners_and_admins_add_and_only_owners_add_owners,
    role_changes_follow_the_owner_rules,
    toggle_admin_flips_members_and_admins_only,
    removal_and_leaving,
    primary_owner_hands_over_when_leaving,
    member_lists_filter_search_and_page,
    last_owner_survives_concurrent_demotions_removals_and_leaves,
);
