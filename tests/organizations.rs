//! Organizations: fields and rules, lookups, lists, per-field permissions, status, deletion.

mod common;

use common::TestApp;
use serde_json::json;

async fn create_with_every_field_and_derived_slug(app: TestApp) {
    let alice = app.user("alice").await;
    let r = app
        .post(
            "/organizations",
            &alice.token,
            json!({"name": "Acme Inc.", "description": "Anvils", "logo_url": "https://acme.test/logo.png", "country_code": "DE", "metadata": {"tier": 1}}),
        )
        .await;
    let o = r.expect(201).clone();
    assert_eq!(o["slug"], "acme-inc");
    assert_eq!(o["country_code"], "DE");
    assert_eq!(o["status"], "active");
    assert_eq!(o["verified"], false);
    assert_eq!(o["owner"]["id"], alice.id.to_string());
    assert_eq!(o["owner"]["username"], "alice");
    assert_eq!(o["member_count"], 1);
    assert_eq!(o["pending_member_count"], 0);
    assert_eq!(o["project_count"], 0);
    assert_eq!(o["application_count"], 0);
    assert_eq!(o["plan"], "free");
    assert_eq!(o["has_active_subscription"], false);
    assert_eq!(o["trial_expiry"], serde_json::Value::Null);
    assert_eq!(o["managed_by"], json!([]));
    assert_eq!(o["metadata"], json!({"tier": 1}));
    let created = o["created_at"].as_str().unwrap();
    assert_eq!(created.len(), "2025-07-19T14:26:05.721Z".len(), "{created}");
    // A second organization with the same name gets a free slug; an explicit taken slug is a
    // conflict, whatever its case.
    let r = app
        .post("/organizations", &alice.token, json!({"name": "Acme Inc."}))
        .await;
    assert_eq!(r.expect(201)["slug"], "acme-inc-2");
    app.post(
        "/organizations",
        &alice.token,
        json!({"name": "X", "slug": "ACME-INC"}),
    )
    .await
    .expect_error(409, "conflict");
    // The owner is a member with role owner.
    let m = app
        .get(
            &format!(
                "/organizations/{}/members/{}",
                o["id"].as_str().unwrap(),
                alice.id
            ),
            &alice.token,
        )
        .await;
    assert_eq!(m.expect(200)["role"], "owner");
}

async fn create_validates_every_field(app: TestApp) {
    let alice = app.user("alice").await;
    let bad = [
        json!({"name": ""}),
        json!({"name": "x".repeat(257)}),
        json!({"name": "A", "slug": "no spaces"}),
        json!({"name": "A", "slug": "under_score"}),
        json!({"name": "A", "slug": ""}),
        json!({"name": "A", "slug": "a".repeat(254)}),
        json!({"name": "A", "slug": uuid::Uuid::now_v7().to_string()}),
        json!({"name": "A", "country_code": "XX"}),
        json!({"name": "A", "country_code": "UK"}),
        json!({"name": "A", "country_code": "DEU"}),
        json!({"name": "A", "country_code": "de"}),
        json!({"name": "A", "logo_url": "not a url"}),
        json!({"name": "A", "logo_url": "ftp://example.com/x.png"}),
        json!({"name": "A", "metadata": "text"}),
        json!({"name": "A", "status": "banned"}),
        json!({"name": "A", "verified": true}),
        json!({"slug": "no-name"}),
    ];
    for body in bad {
        app.post("/organizations", &alice.token, body.clone())
            .await
            .expect_error(400, "invalid_request");
    }
    let r = app
        .post(
            "/organizations",
            &alice.token,
            json!({"name": "", "slug": "a b", "country_code": "ZZ"}),
        )
        .await;
    r.expect_error(400, "invalid_request");
    assert_eq!(r.body["details"].as_array().unwrap().len(), 3);
    app.post(
        "/organizations",
        &alice.token,
        json!({"name": "A", "slug": "a".repeat(253)}),
    )
    .await
    .expect(201);
    let list = app.get("/organizations", &alice.token).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 1);
}

async fn owner_id_service_accounts_and_the_cap(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let root = app.superuser("root").await;
    app.post(
        "/organizations",
        &alice.token,
        json!({"name": "A", "owner_id": bob.id}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        "/organizations",
        &alice.token,
        json!({"name": "A", "owner_id": alice.id}),
    )
    .await
    .expect(201);
    let r = app
        .post(
            "/organizations",
            &root.token,
            json!({"name": "For Bob", "owner_id": bob.id}),
        )
        .await;
    assert_eq!(r.expect(201)["owner"]["id"], bob.id.to_string());
    let sa = app.service_account("robot").await;
    app.post("/organizations", &sa.token, json!({"name": "Robots"}))
        .await
        .expect_error(403, "forbidden");
    app.post(
        "/organizations",
        &root.token,
        json!({"name": "Robots", "owner_id": sa.id}),
    )
    .await
    .expect_error(403, "forbidden");

    let capped = if app.engine == "sqlite" {
        TestApp::sqlite_with(|c| c.max_organizations_per_user = Some(2)).await
    } else {
        TestApp::postgres_with(|c| c.max_organizations_per_user = Some(2))
            .await
            .unwrap()
    };
    let carol = capped.user("carol").await;
    // Racing creations cannot exceed the cap.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let router = capped.router.clone();
        let token = carol.token.clone();
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post("/organizations")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"name": format!("Org {i}")}).to_string(),
                ))
                .unwrap();
            router.oneshot(req).await.unwrap().status().as_u16()
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => created += 1,
            403 => {}
            s => panic!("unexpected {s}"),
        }
    }
    assert_eq!(created, 2);
    capped
        .post("/organizations", &carol.token, json!({"name": "One more"}))
        .await
        .expect_error(403, "organization_limit_exceeded");
}

async fn lookup_by_id_or_slug_and_embedded_members(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let id = app.org(&alice, "Globex").await;
    app.add(&id, &alice, &bob, "member").await;
    for key in [id.as_str(), "globex", "GLOBEX", "GloBex"] {
        let r = app.get(&format!("/organizations/{key}"), &bob.token).await;
        assert_eq!(r.expect(200)["id"], id);
        assert!(r.body.get("members").is_none());
        assert!(r.body.get("role").is_none());
    }
    let r = app
        .get("/organizations/globex?include=members", &bob.token)
        .await;
    assert_eq!(r.expect(200)["members"].as_array().unwrap().len(), 2);
    app.get("/organizations/globex?include=everything", &bob.token)
        .await
        .expect_error(400, "invalid_request");
    app.get("/organizations/nope", &bob.token)
        .await
        .expect_error(404, "not_found");
    app.get(
        &format!("/organizations/{}", uuid::Uuid::now_v7()),
        &bob.token,
    )
    .await
    .expect_error(404, "not_found");
}

async fn lists_filter_and_page(app: TestApp) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let root = app.superuser("root").await;
    let mut ids = Vec::new();
    for name in [
        "Alpha Corp",
        "Beta LLC",
        "Gamma Corp",
        "Delta",
        "Epsilon corp",
    ] {
        ids.push(app.org(&alice, name).await);
    }
    let bobs = app.org(&bob, "Bob's Own").await;
    app.add(&ids[0], &alice, &bob, "admin").await;

    let mine = app.get("/organizations", &bob.token).await;
    let mine = mine.expect(200).as_array().unwrap().clone();
    assert_eq!(mine.len(), 2);
    let roles: Vec<(&str, &str)> = mine
        .iter()
        .map(|o| (o["slug"].as_str().unwrap(), o["role"].as_str().unwrap()))
        .collect();
    assert!(
        roles.contains(&("alpha-corp", "admin")) && roles.contains(&("bob-s-own", "owner")),
        "{roles:?}"
    );

    let corp = app.get("/organizations?name=CORP", &alice.token).await;
    assert_eq!(corp.expect(200).as_array().unwrap().len(), 3);
    let owned = app
        .get(&format!("/organizations?owner_id={}", bob.id), &bob.token)
        .await;
    assert_eq!(owned.expect(200).as_array().unwrap()[0]["id"], bobs);

    // Superusers see all, with no role where they are not members.
    let all = app.get("/organizations", &root.token).await;
    let all = all.expect(200).as_array().unwrap().clone();
    assert_eq!(all.len(), 6);
    assert!(all.iter().all(|o| o.get("role").is_none()));

    app.patch(
        &format!("/organizations/{}", ids[1]),
        &root.token,
        json!({"status": "suspended"}),
    )
    .await
    .expect(200);
    let active = app
        .get("/organizations?active_only=true", &alice.token)
        .await;
    assert_eq!(active.expect(200).as_array().unwrap().len(), 4);
    let suspended = app
        .get("/organizations?status=suspended", &alice.token)
        .await;
    assert_eq!(suspended.expect(200).as_array().unwrap()[0]["id"], ids[1]);

    // Keyset paging in creation order.
    let p1 = app.get("/organizations?limit=2", &alice.token).await;
    let p1b = p1.expect(200).as_array().unwrap().clone();
    assert_eq!(
        p1b.iter().map(|o| o["id"].clone()).collect::<Vec<_>>(),
        vec![json!(ids[0]), json!(ids[1])]
    );
    let link = p1.header("link").unwrap().to_string();
    let next = &link[1..link.find('>').unwrap()];
    let p2 = app.get(next, &alice.token).await;
    assert_eq!(p2.expect(200).as_array().unwrap()[0]["id"], ids[2]);
    let p3 = app
        .get("/organizations?limit=2&offset=4", &alice.token)
        .await;
    assert_eq!(p3.expect(200).as_array().unwrap().len(), 1);
    assert!(p3.header("link").is_none());
    for bad in [
        "limit=5000",
        "status=gone",
        "owner_id=nope",
        "after=t1_x",
        // A well-formed time cursor on a list ordered by id.
        "after=t1_00000000000000000000000000000000",
        "active_only=maybe",
        "limit=2&limit=3",
    ] {
        app.get(&format!("/organizations?{bad}"), &alice.token)
            .await
            .expect_error(400, "invalid_request");
    }
}

async fn patch_enforces_per_field_permissions(app: TestApp) {
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let root = app.superuser("root").await;
    let org = app.org(&owner, "Initech").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    let path = format!("/organizations/{org}");

    app.patch(&path, &member.token, json!({"name": "Mine"}))
        .await
        .expect_error(403, "forbidden");
    let r = app.patch(&path, &admin.token, json!({"name": "Initech Ltd", "slug": "initech-ltd", "description": "TPS", "country_code": "US", "metadata": {"a": 1}})).await;
    let body = r.expect(200);
    assert_eq!(body["slug"], "initech-ltd");
    assert_eq!(body["country_code"], "US");
    let r = app
        .patch(
            &path,
            &admin.token,
            json!({"description": null, "country_code": null}),
        )
        .await;
    assert_eq!(r.expect(200)["description"], serde_json::Value::Null);
    // Privileged fields: forbidden to those who may not set them, and nothing changes.
    app.patch(&path, &admin.token, json!({"owner_id": admin.id}))
        .await
        .expect_error(403, "forbidden");
    app.patch(&path, &owner.token, json!({"status": "active"}))
        .await
        .expect_error(403, "forbidden");
    app.patch(
        &path,
        &owner.token,
        json!({"verified": true, "name": "Sneaky"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.patch(
        &path,
        &owner.token,
        json!({"managed_by": [{"type": "scim", "id": "d1"}]}),
    )
    .await
    .expect_error(403, "forbidden");
    app.patch(&path, &owner.token, json!({"id": uuid::Uuid::now_v7()}))
        .await
        .expect_error(400, "invalid_request");
    app.patch(&path, &owner.token, json!({"member_count": 99}))
        .await
        .expect_error(400, "invalid_request");
    let now = app.get(&path, &owner.token).await;
    let now = now.expect(200);
    assert_eq!(now["name"], "Initech Ltd");
    assert_eq!(now["verified"], false);
    assert_eq!(now["managed_by"], json!([]));
    // Slug conflicts.
    app.org(&owner, "Other").await;
    app.patch(&path, &owner.token, json!({"slug": "OTHER"}))
        .await
        .expect_error(409, "conflict");
    // Superusers set the rest.
    let r = app
        .patch(&path, &root.token, json!({"verified": true, "status_reason": "KYC done", "managed_by": [{"type": "scim", "id": "dir_123"}]}))
        .await;
    let body = r.expect(200);
    assert_eq!(body["verified"], true);
    assert_eq!(
        body["managed_by"],
        json!([{"type": "scim", "id": "dir_123"}])
    );
}

async fn ownership_transfer(app: TestApp) {
    let owner = app.user("owner").await;
    let bob = app.user("bob").await;
    let outsider = app.user("outsider").await;
    let org = app.org(&owner, "Hooli").await;
    app.add(&org, &owner, &bob, "admin").await;
    let path = format!("/organizations/{org}");
    app.patch(&path, &owner.token, json!({"owner_id": outsider.id}))
        .await
        .expect_error(409, "conflict");
    let r = app
        .patch(&path, &owner.token, json!({"owner_id": bob.id}))
        .await;
    assert_eq!(r.expect(200)["owner"]["id"], bob.id.to_string());
    let b = app
        .get(&format!("{path}/members/{}", bob.id), &owner.token)
        .await;
    assert_eq!(b.expect(200)["role"], "owner");
    let o = app
        .get(&format!("{path}/members/{}", owner.id), &owner.token)
        .await;
    assert_eq!(o.expect(200)["role"], "owner");
    // The previous primary owner is still an owner but no longer the primary one.
    app.patch(&path, &owner.token, json!({"owner_id": owner.id}))
        .await
        .expect_error(403, "forbidden");
}

async fn suspended_is_read_only_and_banned_is_closed(app: TestApp) {
    let owner = app.user("owner").await;
    let bob = app.user("bob").await;
    let root = app.superuser("root").await;
    let org = app.org(&owner, "Umbrella").await;
    let path = format!("/organizations/{org}");
    app.patch(
        &path,
        &root.token,
        json!({"status": "suspended", "status_reason": "unpaid"}),
    )
    .await
    .expect(200);
    let r = app.get(&path, &owner.token).await;
    assert_eq!(r.expect(200)["status"], "suspended");
    assert_eq!(r.body["status_reason"], "unpaid");
    app.get(&format!("{path}/members"), &owner.token)
        .await
        .expect(200);
    app.patch(&path, &owner.token, json!({"name": "New"}))
        .await
        .expect_error(403, "organization_suspended");
    app.post(
        &format!("{path}/members"),
        &owner.token,
        json!({"user_id": bob.id}),
    )
    .await
    .expect_error(403, "organization_suspended");
    app.delete(&path, &owner.token)
        .await
        .expect_error(403, "organization_suspended");

    app.patch(&path, &root.token, json!({"status": "banned"}))
        .await
        .expect(200);
    app.get(&path, &owner.token)
        .await
        .expect_error(403, "organization_banned");
    app.get(&format!("{path}/members"), &owner.token)
        .await
        .expect_error(403, "organization_banned");
    app.get(&path, &root.token).await.expect(200);
    // A non-member still learns nothing.
    app.get(&path, &bob.token)
        .await
        .expect_error(404, "not_found");

    app.patch(
        &path,
        &root.token,
        json!({"status": "active", "status_reason": null}),
    )
    .await
    .expect(200);
    app.patch(&path, &owner.token, json!({"name": "New"}))
        .await
        .expect(200);
}

async fn delete_is_for_owners_and_cascades(app: TestApp) {
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let org = app.org(&owner, "Soylent").await;
    app.add(&org, &owner, &admin, "admin").await;
    let scoped = app
        .token_for(
            admin.id,
            orgd::store::TokenKind::Pat,
            Some(org.parse().unwrap()),
        )
        .await;
    app.get(&format!("/organizations/{org}"), &scoped)
        .await
        .expect(200);
    app.delete(&format!("/organizations/{org}"), &admin.token)
        .await
        .expect_error(403, "forbidden");
    assert_eq!(
        app.delete(&format!("/organizations/{org}"), &owner.token)
            .await
            .expect(200),
        &json!({"ok": true})
    );
    app.get(&format!("/organizations/{org}"), &owner.token)
        .await
        .expect_error(404, "not_found");
    assert_eq!(
        app.get("/organizations", &admin.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Tokens scoped to the deleted organization are gone with it.
    app.get("/users/me", &scoped)
        .await
        .expect_error(401, "unauthenticated");
    // The slug is free again.
    app.post(
        "/organizations",
        &owner.token,
        json!({"name": "Soylent", "slug": "soylent"}),
    )
    .await
    .expect(201);
}

async fn scoped_tokens_see_only_their_organization(app: TestApp) {
    let alice = app.user("alice").await;
    let a = app.org(&alice, "A").await;
    let b = app.org(&alice, "B").await;
    let scoped = app
        .token_for(
            alice.id,
            orgd::store::TokenKind::Pat,
            Some(a.parse().unwrap()),
        )
        .await;
    app.get(&format!("/organizations/{a}"), &scoped)
        .await
        .expect(200);
    app.get(&format!("/organizations/{b}"), &scoped)
        .await
        .expect_error(404, "not_found");
    app.get(&format!("/organizations/{b}/members"), &scoped)
        .await
        .expect_error(404, "not_found");
    let list = app.get("/organizations", &scoped).await;
    let list = list.expect(200).as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], a);
    app.post("/organizations", &scoped, json!({"name": "C"}))
        .await
        .expect_error(403, "forbidden");
    app.get("/users/me", &scoped).await.expect(200);
}

on_both_engines!(
    create_with_every_field_and_derived_slug,
    create_validates_every_field,
    owner_id_service_accounts_and_the_cap,
    lookup_by_id_or_slug_and_embedded_members,
    lists_filter_and_page,
    patch_enforces_per_field_permissions,
    ownership_transfer,
    suspended_is_read_only_and_banned_is_closed,
    delete_is_for_owners_and_cascades,
    scoped_tokens_see_only_their_organization,
);
