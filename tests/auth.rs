//! Sign-up, login, sessions, profiles and superuser user management.

mod common;

use axum::http::Method;
use common::{PASSWORD, TestApp};
use orgd::store::TokenKind;
use serde_json::json;

async fn anon(
    app: &TestApp,
    method: Method,
    path: &str,
    body: serde_json::Value,
) -> common::TestResponse {
    app.request(method, path, None, Some(body)).await
}

async fn signup_issues_a_session_and_validates(app: TestApp) {
    let r = anon(
        &app,
        Method::POST,
        "/auth/signup",
        json!({"email": "Alice@Example.com", "password": "hunter2hunter2", "name": "Alice"}),
    )
    .await;
    let body = r.expect(201).clone();
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap().to_string();
    assert!(
        token.starts_with("orgd_s_") && token.len() == 7 + 64,
        "{token}"
    );
    assert_eq!(body["user"]["username"], "Alice");
    assert_eq!(body["user"]["is_superuser"], false);
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    let me = app.get("/users/me", &token).await;
    assert_eq!(me.expect(200)["email"], "Alice@Example.com");

    // Emails and usernames are unique case-insensitively.
    anon(
        &app,
        Method::POST,
        "/auth/signup",
        json!({"email": "alice@EXAMPLE.com", "password": "hunter2hunter2"}),
    )
    .await
    .expect_error(409, "conflict");
    anon(
        &app,
        Method::POST,
        "/auth/signup",
        json!({"email": "other@example.com", "username": "ALICE", "password": "hunter2hunter2"}),
    )
    .await
    .expect_error(409, "conflict");
    // A derived username that is taken gets a free variant.
    let r = anon(
        &app,
        Method::POST,
        "/auth/signup",
        json!({"email": "alice@elsewhere.org", "password": "hunter2hunter2"}),
    )
    .await;
    assert_eq!(r.expect(201)["user"]["username"], "alice2");

    let r = anon(
        &app,
        Method::POST,
        "/auth/signup",
        json!({"email": "nope", "password": "short", "username": "bad name"}),
    )
    .await;
    r.expect_error(400, "invalid_request");
    let fields: Vec<&str> = r.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password", "username"]);
    anon(
        &app,
        Method::POST,
        "/auth/signup",
        json!({"email": "x@example.com", "password": "x".repeat(257)}),
    )
    .await
    .expect_error(400, "invalid_request");
    // Mass assignment: privileged fields are refused, not ignored.
    anon(
        &app,
        Method::POST,
        "/auth/signup",
        json!({"email": "mallory@example.com", "password": "hunter2hunter2", "is_superuser": true}),
    )
    .await
    .expect_error(400, "invalid_request");
    let root = app.superuser("root").await;
    let users = app.get("/users?q=mallory", &root.token).await;
    assert_eq!(users.expect(200).as_array().unwrap().len(), 0);
}

async fn signup_can_be_disabled(_app: TestApp) {
    let app = if _app.engine == "sqlite" {
        TestApp::sqlite_with(|c| c.signup_enabled = false).await
    } else {
        TestApp::postgres_with(|c| c.signup_enabled = false)
            .await
            .unwrap()
    };
    anon(
        &app,
        Method::POST,
        "/auth/signup",
        json!({"email": "a@example.com", "password": "hunter2hunter2"}),
    )
    .await
    .expect_error(403, "forbidden");
}

async fn login_by_email_or_username_with_one_error_for_every_failure(app: TestApp) {
    let alice = app.user("alice").await;
    for login in ["alice@example.com", "ALICE@example.com", "alice", "Alice"] {
        let r = anon(
            &app,
            Method::POST,
            "/auth/login",
            json!({"login": login, "password": PASSWORD}),
        )
        .await;
        let body = r.expect(200);
        assert_eq!(body["user"]["id"], alice.id.to_string());
        assert!(
            body["access_token"]
                .as_str()
                .unwrap()
                .starts_with("orgd_s_")
        );
    }
    let wrong = anon(
        &app,
        Method::POST,
        "/auth/login",
        json!({"login": "alice", "password": "wrong password"}),
    )
    .await;
    let unknown = anon(
        &app,
        Method::POST,
        "/auth/login",
        json!({"login": "nobody", "password": PASSWORD}),
    )
    .await;
    wrong.expect_error(401, "invalid_credentials");
    unknown.expect_error(401, "invalid_credentials");
    assert_eq!(wrong.body["error"], unknown.body["error"]);
    // Service accounts and deactivated users cannot log in with a password.
    let sa = app.service_account("robot").await;
    let _ = sa;
    anon(
        &app,
        Method::POST,
        "/auth/login",
        json!({"login": "robot", "password": PASSWORD}),
    )
    .await
    .expect_error(401, "invalid_credentials");
    let root = app.superuser("root").await;
    app.patch(
        &format!("/users/{}", alice.id),
        &root.token,
        json!({"is_active": false}),
    )
    .await
    .expect(200);
    anon(
        &app,
        Method::POST,
        "/auth/login",
        json!({"login": "alice", "password": PASSWORD}),
    )
    .await
    .expect_error(401, "invalid_credentials");
    // Deactivation also ends existing sessions.
    app.get("/users/me", &alice.token)
        .await
        .expect_error(401, "unauthenticated");
}

async fn bad_tokens_get_401_with_www_authenticate(app: TestApp) {
    let alice = app.user("alice").await;
    let (forged, _) = orgd::auth::mint(TokenKind::Session);
    let pat_shaped = alice.token.replace("orgd_s_", "orgd_pat_");
    for header in [
        None,
        Some("Bearer".to_string()),
        Some("Basic YWxpY2U6cGFzcw==".to_string()),
        Some(format!("Bearer {forged}")),
        Some(format!("Bearer {pat_shaped}")),
        Some(format!("Bearer {}x", alice.token)),
    ] {
        let mut req = axum::http::Request::builder().uri("/users/me");
        if let Some(h) = &header {
            req = req.header("authorization", h);
        }
        let r = app.send(req.body(axum::body::Body::empty()).unwrap()).await;
        r.expect_error(401, "unauthenticated");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{header:?}");
    }
    // An expired token is refused.
    let (expired, hash) = orgd::auth::mint(TokenKind::Pat);
    app.store
        .create_token(orgd::store::NewToken {
            sso_provider_id: None,
            user_id: alice.id,
            kind: TokenKind::Pat,
            name: None,
            hash,
            organization_id: None,
            expires_at: Some(orgd::domain::Timestamp(
                orgd::domain::Timestamp::now().0 - 1,
            )),
        })
        .await
        .unwrap();
    app.get("/users/me", &expired)
        .await
        .expect_error(401, "unauthenticated");
    app.get("/users/me", &alice.token).await.expect(200);
}

async fn logout_revokes_the_presented_token_only(app: TestApp) {
    let alice = app.user("alice").await;
    let other = app.token_for(alice.id, TokenKind::Session, None).await;
    assert_eq!(
        app.post_empty("/auth/logout", &alice.token)
            .await
            .expect(200),
        &json!({"ok": true})
    );
    app.get("/users/me", &alice.token)
        .await
        .expect_error(401, "unauthenticated");
    app.get("/users/me", &other).await.expect(200);
}

async fn profile_updates_and_mass_assignment(app: TestApp) {
    let alice = app.user("alice").await;
    app.user("bob").await;
    let r = app
        .patch("/users/me", &alice.token, json!({"name": "Alice A.", "company": "Acme", "job_title": "CTO", "avatar_url": "https://example.com/a.png", "metadata": {"theme": "dark"}}))
        .await;
    let body = r.expect(200);
    assert_eq!(body["name"], "Alice A.");
    assert_eq!(body["metadata"], json!({"theme": "dark"}));
    let r = app
        .patch("/users/me", &alice.token, json!({"company": null}))
        .await;
    assert_eq!(r.expect(200)["company"], serde_json::Value::Null);
    assert_eq!(r.body["job_title"], "CTO");
    app.patch("/users/me", &alice.token, json!({"username": "BOB"}))
        .await
        .expect_error(409, "conflict");
    app.patch(
        "/users/me",
        &alice.token,
        json!({"avatar_url": "javascript:alert(1)"}),
    )
    .await
    .expect_error(400, "invalid_request");
    app.patch("/users/me", &alice.token, json!({"metadata": [1, 2]}))
        .await
        .expect_error(400, "invalid_request");
    for field in [
        "is_superuser",
        "is_active",
        "is_service_account",
        "email",
        "id",
        "password_hash",
    ] {
        app.patch("/users/me", &alice.token, json!({ field: true }))
            .await
            .expect_error(400, "invalid_request");
    }
    let me = app.get("/users/me", &alice.token).await;
    assert_eq!(me.expect(200)["is_superuser"], false);
    assert_eq!(me.body["is_active"], true);
}

async fn password_change_revokes_other_sessions(app: TestApp) {
    let alice = app.user("alice").await;
    let other = app.token_for(alice.id, TokenKind::Session, None).await;
    let pat = app.token_for(alice.id, TokenKind::Pat, None).await;
    app.post(
        "/users/me/password",
        &alice.token,
        json!({"current_password": "not it at all", "new_password": "a brand new one"}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        "/users/me/password",
        &alice.token,
        json!({"current_password": PASSWORD, "new_password": "short"}),
    )
    .await
    .expect_error(400, "invalid_request");
    app.post(
        "/users/me/password",
        &alice.token,
        json!({"current_password": PASSWORD, "new_password": "a brand new one"}),
    )
    .await
    .expect(200);
    app.get("/users/me", &alice.token).await.expect(200);
    app.get("/users/me", &other)
        .await
        .expect_error(401, "unauthenticated");
    app.get("/users/me", &pat).await.expect(200);
    anon(
        &app,
        Method::POST,
        "/auth/login",
        json!({"login": "alice", "password": PASSWORD}),
    )
    .await
    .expect_error(401, "invalid_credentials");
    anon(
        &app,
        Method::POST,
        "/auth/login",
        json!({"login": "alice", "password": "a brand new one"}),
    )
    .await
    .expect(200);
}

async fn superusers_manage_users(app: TestApp) {
    let root = app.superuser("root").await;
    let alice = app.user("alice").await;
    // Not for everyone.
    app.get("/users", &alice.token)
        .await
        .expect_error(403, "forbidden");
    app.post("/users", &alice.token, json!({"email": "x@example.com"}))
        .await
        .expect_error(403, "forbidden");
    app.get(&format!("/users/{}", root.id), &alice.token)
        .await
        .expect_error(403, "forbidden");
    app.patch(
        &format!("/users/{}", alice.id),
        &alice.token,
        json!({"is_superuser": true}),
    )
    .await
    .expect_error(403, "forbidden");
    app.delete(&format!("/users/{}", root.id), &alice.token)
        .await
        .expect_error(403, "forbidden");

    let sa = app
        .post(
            "/users",
            &root.token,
            json!({"email": "robot@example.com", "username": "robot", "is_service_account": true}),
        )
        .await;
    let sa = sa.expect(201).clone();
    assert_eq!(sa["is_service_account"], true);
    app.post("/users", &root.token, json!({"email": "r2@example.com", "is_service_account": true, "password": "hunter2hunter2"}))
        .await
        .expect_error(400, "invalid_request");
    let u = app
        .post(
            "/users",
            &root.token,
            json!({"email": "carol@example.com", "password": "hunter2hunter2", "name": "Carol"}),
        )
        .await;
    let carol = u.expect(201)["id"].as_str().unwrap().to_string();
    anon(
        &app,
        Method::POST,
        "/auth/login",
        json!({"login": "carol@example.com", "password": "hunter2hunter2"}),
    )
    .await
    .expect(200);

    let found = app.get("/users?q=CAROL", &root.token).await;
    assert_eq!(found.expect(200).as_array().unwrap().len(), 1);
    let page = app.get("/users?limit=2", &root.token).await;
    assert_eq!(page.expect(200).as_array().unwrap().len(), 2);
    assert!(page.header("link").unwrap().contains("after="));

    app.get(&format!("/users/{carol}"), &root.token)
        .await
        .expect(200);
    app.get("/users/not-a-uuid", &root.token)
        .await
        .expect_error(404, "not_found");
    app.get(&format!("/users/{}", uuid::Uuid::now_v7()), &root.token)
        .await
        .expect_error(404, "not_found");
    let r = app
        .patch(
            &format!("/users/{carol}"),
            &root.token,
            json!({"is_superuser": true, "email": "carol@new.example.com"}),
        )
        .await;
    assert_eq!(r.expect(200)["is_superuser"], true);
    app.patch(
        &format!("/users/{}", sa["id"].as_str().unwrap()),
        &root.token,
        json!({"is_superuser": true}),
    )
    .await
    .expect_error(400, "invalid_request");
    app.patch(
        &format!("/users/{}", root.id),
        &root.token,
        json!({"is_superuser": false}),
    )
    .await
    .expect_error(400, "invalid_request");

    // Deleting the only owner of an organization is refused; with a second owner it goes.
    let org = app.org(&alice, "Acme").await;
    app.delete(&format!("/users/{}", alice.id), &root.token)
        .await
        .expect_error(400, "last_owner");
    let bob = app.user("bob").await;
    app.add(&org, &alice, &bob, "owner").await;
    app.delete(&format!("/users/{}", alice.id), &root.token)
        .await
        .expect(200);
    app.get("/users/me", &alice.token)
        .await
        .expect_error(401, "unauthenticated");
    let o = app.get(&format!("/organizations/{org}"), &bob.token).await;
    assert_eq!(o.expect(200)["owner"]["id"], bob.id.to_string());
    assert_eq!(o.body["member_count"], 1);
}

on_both_engines!(
    signup_issues_a_session_and_validates,
    signup_can_be_disabled,
    login_by_email_or_username_with_one_error_for_every_failure,
    bad_tokens_get_401_with_www_authenticate,
    logout_revokes_the_presented_token_only,
    profile_updates_and_mass_assignment,
    password_change_revokes_other_sessions,
    superusers_manage_users,
);
