//! Personal access tokens (optionally scoped) and service accounts.

mod common;

use axum::http::Method;
use common::{PASSWORD, TestApp};
use serde_json::json;

async fn personal_access_tokens_are_shown_once_and_revocable(app: TestApp) {
    let alice = app.user("alice").await;
    let r = app
        .post(
            "/tokens",
            &alice.token,
            json!({"name": "ci", "expires_at": "2099-01-01T00:00:00Z"}),
        )
        .await;
    let created = r.expect(201).clone();
    let pat = created["token"].as_str().unwrap().to_string();
    assert!(pat.starts_with("orgd_pat_"));
    assert_eq!(created["kind"], "pat");
    assert_eq!(created["expires_at"], "2099-01-01T00:00:00.000Z");
    let me = app.get("/users/me", &pat).await;
    assert_eq!(me.expect(200)["id"], alice.id.to_string());
    let list = app.get("/tokens", &alice.token).await;
    let list = list.expect(200).as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert!(list[0].get("token").is_none());
    assert!(
        list[0]["last_used_at"].is_string(),
        "used once already: {:?}",
        list[0]
    );

    app.post("/tokens", &alice.token, json!({"name": ""}))
        .await
        .expect_error(400, "invalid_request");
    // A token whose expiry has passed is born expired: created, but refused.
    let old = app
        .post(
            "/tokens",
            &alice.token,
            json!({"name": "old", "expires_at": "2001-01-01T00:00:00Z"}),
        )
        .await;
    let old = old.expect(201)["token"].as_str().unwrap().to_string();
    app.get("/users/me", &old)
        .await
        .expect_error(401, "unauthenticated");
    app.post(
        "/tokens",
        &alice.token,
        json!({"name": "x", "kind": "session"}),
    )
    .await
    .expect_error(400, "invalid_request");

    // Revocation takes effect on the very next request.
    let id = created["id"].as_str().unwrap();
    app.delete(&format!("/tokens/{id}"), &alice.token)
        .await
        .expect(200);
    app.get("/users/me", &pat)
        .await
        .expect_error(401, "unauthenticated");
    app.delete(&format!("/tokens/{id}"), &alice.token)
        .await
        .expect_error(404, "not_found");
    // Someone else's token cannot be revoked.
    let bob = app.user("bob").await;
    let bobs = app
        .post("/tokens", &bob.token, json!({"name": "b"}))
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(&format!("/tokens/{bobs}"), &alice.token)
        .await
        .expect_error(404, "not_found");
}

async fn scoped_tokens_never_widen_and_follow_membership(app: TestApp) {
    let owner = app.user("owner").await;
    let alice = app.user("alice").await;
    let a = app.org(&owner, "A").await;
    let b = app.org(&owner, "B").await;
    app.add(&a, &owner, &alice, "admin").await;
    app.add(&b, &owner, &alice, "member").await;
    // Only for organizations one belongs to.
    let outsider = app.user("outsider").await;
    app.post(
        "/tokens",
        &outsider.token,
        json!({"name": "x", "organization": a}),
    )
    .await
    .expect_error(404, "not_found");

    let hour = orgd::domain::Timestamp::now().plus_secs(3600).to_rfc3339();
    let scoped = app
        .post(
            "/tokens",
            &alice.token,
            json!({"name": "a-only", "organization": "a", "expires_at": hour}),
        )
        .await;
    let scoped = scoped.expect(201)["token"].as_str().unwrap().to_string();
    app.get(&format!("/organizations/{a}"), &scoped)
        .await
        .expect(200);
    for path in [
        format!("/organizations/{b}"),
        format!("/organizations/{b}/members"),
        format!("/organizations/{b}/projects"),
    ] {
        app.get(&path, &scoped).await.expect_error(404, "not_found");
    }
    let list = app.get("/organizations", &scoped).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 1);
    // A scoped token cannot make a wider one.
    app.post("/tokens", &scoped, json!({"name": "wider"}))
        .await
        .expect_error(403, "forbidden");
    app.post(
        "/tokens",
        &scoped,
        json!({"name": "other", "organization": b}),
    )
    .await
    .expect_error(404, "not_found");
    app.post(
        "/tokens",
        &scoped,
        json!({"name": "same", "organization": a, "expires_at": "2099-01-01T00:00:00Z"}),
    )
    .await
    .expect_error(400, "invalid_request");
    let half_hour = orgd::domain::Timestamp::now().plus_secs(1800).to_rfc3339();
    app.post(
        "/tokens",
        &scoped,
        json!({"name": "same", "organization": a, "expires_at": half_hour}),
    )
    .await
    .expect(201);

    // The token has what its owner has, now: demoted, it loses admin powers at once.
    app.patch(
        &format!("/organizations/{a}"),
        &scoped,
        json!({"description": "by token"}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/organizations/{a}/members/{}", alice.id),
        &owner.token,
        json!({"role": "member"}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/organizations/{a}"),
        &scoped,
        json!({"description": "again"}),
    )
    .await
    .expect_error(403, "forbidden");
    // Removed, the scoped token is gone on the next request; an unscoped one sees nothing of A.
    let pat = app
        .post("/tokens", &alice.token, json!({"name": "wide"}))
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(
        &format!("/organizations/{a}/members/{}", alice.id),
        &owner.token,
    )
    .await
    .expect(200);
    app.get("/users/me", &scoped)
        .await
        .expect_error(401, "unauthenticated");
    app.get(&format!("/organizations/{a}"), &pat)
        .await
        .expect_error(404, "not_found");
    app.get(&format!("/organizations/{b}"), &pat)
        .await
        .expect(200);
}

async fn service_accounts_are_token_only_members(app: TestApp) {
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let org = app.org(&owner, "Acme").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    let base = format!("/organizations/{org}/service-accounts");

    app.post(&base, &member.token, json!({"name": "Robot"}))
        .await
        .expect_error(403, "forbidden");
    app.post(
        &base,
        &admin.token,
        json!({"name": "Robot", "role": "owner"}),
    )
    .await
    .expect_error(403, "forbidden");
    let r = app
        .post(
            &base,
            &admin.token,
            json!({"name": "Deploy Bot", "role": "admin"}),
        )
        .await;
    let sa = r.expect(201).clone();
    assert_eq!(sa["user"]["is_service_account"], true);
    assert_eq!(sa["member"]["role"], "admin");
    let sa_id = sa["user"]["id"].as_str().unwrap().to_string();
    let sa_token = sa["token"]["token"].as_str().unwrap().to_string();
    assert!(sa_token.starts_with("orgd_sa_"));

    // It works inside the organization, and only there.
    app.get(&format!("/organizations/{org}/members"), &sa_token)
        .await
        .expect(200);
    let other = app.org(&owner, "Other").await;
    app.get(&format!("/organizations/{other}"), &sa_token)
        .await
        .expect_error(404, "not_found");
    // It cannot log in with a password, or create organizations.
    let username = sa["user"]["username"].as_str().unwrap();
    app.request(
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"login": username, "password": PASSWORD})),
    )
    .await
    .expect_error(401, "invalid_credentials");
    app.post("/organizations", &sa_token, json!({"name": "Bots"}))
        .await
        .expect_error(403, "forbidden");
    // Tokens it makes, where its organization allows it, are service-account tokens, and never
    // wider than its own.
    app.post(
        "/tokens",
        &sa_token,
        json!({"name": "child", "organization": org}),
    )
    .await
    .expect_error(403, "forbidden");
    app.patch(
        &format!("/organizations/{org}"),
        &admin.token,
        json!({"service_accounts_can_mint_tokens": true}),
    )
    .await
    .expect(200);
    let t = app
        .post(
            "/tokens",
            &sa_token,
            json!({"name": "child", "organization": org}),
        )
        .await;
    assert_eq!(t.expect(201)["kind"], "sa");
    assert!(t.body["token"].as_str().unwrap().starts_with("orgd_sa_"));

    // Listed like members.
    let listed = app.get(&base, &admin.token).await;
    assert_eq!(listed.expect(200).as_array().unwrap().len(), 1);
    let members = app
        .get(
            &format!("/organizations/{org}/members?q=deploy"),
            &member.token,
        )
        .await;
    assert_eq!(members.expect(200).as_array().unwrap().len(), 1);
    app.get(&base, &member.token)
        .await
        .expect_error(403, "forbidden");

    // More tokens for it, from the organization's admins.
    let extra = app
        .post(
            &format!("{base}/{sa_id}/tokens"),
            &admin.token,
            json!({"name": "rotation"}),
        )
        .await;
    let extra = extra.expect(201)["token"].as_str().unwrap().to_string();
    app.get(&format!("/organizations/{org}"), &extra)
        .await
        .expect(200);
    app.post(
        &format!("{base}/{}/tokens", member.id),
        &admin.token,
        json!({"name": "x"}),
    )
    .await
    .expect_error(404, "not_found");

    // Removal deletes it with its tokens.
    app.delete(&format!("{base}/{}", member.id), &admin.token)
        .await
        .expect_error(404, "not_found");
    app.delete(&format!("{base}/{sa_id}"), &admin.token)
        .await
        .expect(200);
    app.get("/users/me", &sa_token)
        .await
        .expect_error(401, "unauthenticated");
    app.get("/users/me", &extra)
        .await
        .expect_error(401, "unauthenticated");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM users WHERE is_service_account")
            .await,
        0
    );
}

async fn superusers_issue_tokens_for_service_accounts(app: TestApp) {
    let root = app.superuser("root").await;
    let alice = app.user("alice").await;
    let sa = app
        .post(
            "/users",
            &root.token,
            json!({"email": "robot@example.com", "is_service_account": true}),
        )
        .await;
    let sa = sa.expect(201)["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/users/{sa}/tokens"),
        &alice.token,
        json!({"name": "x"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        &format!("/users/{}/tokens", alice.id),
        &root.token,
        json!({"name": "x"}),
    )
    .await
    .expect_error(400, "invalid_request");
    let t = app
        .post(
            &format!("/users/{sa}/tokens"),
            &root.token,
            json!({"name": "ops"}),
        )
        .await;
    let token = t.expect(201)["token"].as_str().unwrap().to_string();
    let me = app.get("/users/me", &token).await;
    assert_eq!(me.expect(200)["is_service_account"], true);
    let org = app.org(&alice, "Acme").await;
    // An installation's service account joins an organization through a superuser only.
    app.post(
        &format!("/organizations/{org}/members"),
        &alice.token,
        json!({"user_id": sa}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        &format!("/organizations/{org}/members"),
        &root.token,
        json!({"user_id": sa}),
    )
    .await
    .expect(201);
    app.get(&format!("/organizations/{org}"), &token)
        .await
        .expect(200);
}

/// An admin must not borrow an owner's powers through an owner service account's tokens.
async fn admins_cannot_issue_tokens_for_owner_service_accounts(app: TestApp) {
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let org = app.org(&owner, "Acme").await;
    app.add(&org, &owner, &admin, "admin").await;
    let base = format!("/organizations/{org}/service-accounts");
    let osa = app
        .post(
            &base,
            &owner.token,
            json!({"name": "Release Bot", "role": "owner"}),
        )
        .await;
    let osa = osa.expect(201)["user"]["id"].as_str().unwrap().to_string();
    let asa = app
        .post(
            &base,
            &owner.token,
            json!({"name": "Helper Bot", "role": "admin"}),
        )
        .await;
    let asa = asa.expect(201)["user"]["id"].as_str().unwrap().to_string();
    app.post(
        &format!("{base}/{osa}/tokens"),
        &admin.token,
        json!({"name": "mine now"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.delete(&format!("{base}/{osa}"), &admin.token)
        .await
        .expect_error(403, "forbidden");
    app.post(
        &format!("{base}/{asa}/tokens"),
        &admin.token,
        json!({"name": "ok"}),
    )
    .await
    .expect(201);
    app.post(
        &format!("{base}/{osa}/tokens"),
        &owner.token,
        json!({"name": "ok"}),
    )
    .await
    .expect(201);
    let m = app
        .get(
            &format!("/organizations/{org}/members/{}", admin.id),
            &owner.token,
        )
        .await;
    assert_eq!(m.expect(200)["role"], "admin");
}

/// Sessions are listed apart from tokens, the current one marked, and end with `DELETE /tokens/{id}`.
async fn sessions_are_listed_and_end_one_by_one(app: TestApp) {
    let alice = app.user("alice").await;
    let login = app
        .request(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"login": "alice@example.com", "password": PASSWORD})),
        )
        .await;
    let second = login.expect(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    app.post("/tokens", &alice.token, json!({"name": "script"}))
        .await
        .expect(201);

    let listed = app.get("/users/me/sessions", &alice.token).await;
    let listed = listed.expect(200).as_array().unwrap().clone();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|s| s["kind"] == "session"));
    assert_eq!(listed.iter().filter(|s| s["current"] == true).count(), 1);
    // The personal token is not a session, and sessions are not personal tokens.
    let tokens = app.get("/tokens", &alice.token).await;
    assert!(
        tokens
            .expect(200)
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["kind"] != "session")
    );
    // Another user sees only their own.
    let bob = app.user("bob").await;
    let theirs = app.get("/users/me/sessions", &bob.token).await;
    assert_eq!(theirs.expect(200).as_array().unwrap().len(), 1);

    // Ending the other session signs that one out, and only it.
    let other = listed.iter().find(|s| s["current"] == false).unwrap();
    app.delete(
        &format!("/tokens/{}", other["id"].as_str().unwrap()),
        &alice.token,
    )
    .await
    .expect(200);
    app.get("/users/me", &second)
        .await
        .expect_error(401, "unauthenticated");
    let left = app.get("/users/me/sessions", &alice.token).await;
    assert_eq!(left.expect(200).as_array().unwrap().len(), 1);
    // Bob cannot end Alice's session.
    app.delete(
        &format!("/tokens/{}", listed[0]["id"].as_str().unwrap()),
        &bob.token,
    )
    .await
    .expect_error(404, "not_found");
}

on_both_engines!(
    sessions_are_listed_and_end_one_by_one,
    admins_cannot_issue_tokens_for_owner_service_accounts,
    personal_access_tokens_are_shown_once_and_revocable,
    scoped_tokens_never_widen_and_follow_membership,
    service_accounts_are_token_only_members,
    superusers_issue_tokens_for_service_accounts,
);
