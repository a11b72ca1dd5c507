//! Attacks from outside, each as the exact sequence that once worked, and the edges hardened
//! with them: what an action lets its caller grant, reach or become, and every cascade raced.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use common::{PASSWORD, SmtpSink, TestApp, TestResponse, TestUser};
use serde_json::{Value, json};

async fn invite(app: &TestApp, org: &str, token: &str, email: &str, role: &str) -> TestResponse {
    app.post(
        &format!("/organizations/{org}/invitations"),
        token,
        json!({"email": email, "role": role}),
    )
    .await
}

async fn anon(app: &TestApp, path: &str, body: Value) -> TestResponse {
    app.request(Method::POST, path, None, Some(body)).await
}

async fn login(app: &TestApp, login: &str, password: &str) -> TestResponse {
    anon(
        app,
        "/auth/login",
        json!({"login": login, "password": password}),
    )
    .await
}

/// The password-reset token in a mail.
fn reset_token_in(mail: &str) -> String {
    let text = common::decode_qp(mail);
    let start = text.find("orgd_pwr_").expect("a reset token in the mail");
    text[start..start + "orgd_pwr_".len() + 64].to_string()
}

// High 1: an admin made itself an owner through an invitation resend.
async fn an_admin_cannot_act_on_an_owner_invitation(app: TestApp) {
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let org = app.org(&owner, "Acme").await;
    app.add(&org, &owner, &admin, "admin").await;
    let inv = invite(&app, &org, &owner.token, "new@x.example", "owner").await;
    let id = inv.expect(201)["id"].as_str().unwrap().to_string();

    // The attack: resend as the admin to get a fresh link (no mail server: returned once).
    let r = app
        .post_empty(
            &format!("/organizations/{org}/invitations/{id}/resend"),
            &admin.token,
        )
        .await;
    r.expect_error(403, "forbidden");
    assert!(!r.text.contains("orgd_inv_"), "{}", r.text);
    // Nor through any other action on it: re-inviting the address refreshes its link,
    // revoking ends it, and a new owner invitation grants the role outright.
    invite(&app, &org, &admin.token, "new@x.example", "member")
        .await
        .expect_error(403, "forbidden");
    app.delete(
        &format!("/organizations/{org}/invitations/{id}"),
        &admin.token,
    )
    .await
    .expect_error(403, "forbidden");
    invite(&app, &org, &admin.token, "other@x.example", "owner")
        .await
        .expect_error(403, "forbidden");
    // The invitation is untouched: still pending, still an owner invitation.
    let list = app
        .get(&format!("/organizations/{org}/invitations"), &owner.token)
        .await;
    let pending: Vec<&Value> = list
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "pending")
        .collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["role"], "owner");
    assert_eq!(pending[0]["inviter"]["id"], owner.id.to_string());

    // Owners act on owner invitations; admins on the invitations they could grant.
    app.post_empty(
        &format!("/organizations/{org}/invitations/{id}/resend"),
        &owner.token,
    )
    .await
    .expect(200);
    let m = invite(&app, &org, &admin.token, "m@x.example", "admin").await;
    let mid = m.expect(201)["id"].as_str().unwrap().to_string();
    app.post_empty(
        &format!("/organizations/{org}/invitations/{mid}/resend"),
        &admin.token,
    )
    .await
    .expect(200);
    app.delete(
        &format!("/organizations/{org}/invitations/{mid}"),
        &admin.token,
    )
    .await
    .expect(200);
}

// High 2: any user took over a password-less account through an invitation of its own org.
async fn an_invitation_never_sets_an_existing_accounts_password(app: TestApp) {
    let sink = SmtpSink::start().await;
    let x_owner = app.user("xowner").await;
    let x = app.org(&x_owner, "X").await;
    // Org X adds v@corp by email: orgd provisions an account with no password.
    let v = app
        .post(
            &format!("/organizations/{x}/members"),
            &x_owner.token,
            json!({"email": "v@corp.example", "role": "admin"}),
        )
        .await;
    let v_id = v.expect(201)["user_id"].as_str().unwrap().to_string();

    // The attack: another user creates org Y, invites v@corp, gets the token back (no mail
    // server) and accepts it with a password of their choosing.
    let mallory = app.user("mallory").await;
    let y = app.org(&mallory, "Y").await;
    let r = invite(&app, &y, &mallory.token, "v@corp.example", "member").await;
    let token = r.expect(201)["token"].as_str().unwrap().to_string();
    let r = anon(
        &app,
        "/invitations/accept",
        json!({"token": token, "password": "mallory was here"}),
    )
    .await;
    r.expect_error(409, "conflict");
    assert!(r.body.get("session").is_none());
    login(&app, "v@corp.example", "mallory was here")
        .await
        .expect_error(401, "invalid_credentials");
    // The invitation is still pending, for v to accept once signed in.
    let list = app
        .get(&format!("/organizations/{y}/invitations"), &mallory.token)
        .await;
    assert_eq!(list.expect(200)[0]["status"], "pending");

    // The same on a deactivated account.
    let root = app.superuser("root").await;
    let w = app
        .post(
            &format!("/organizations/{x}/members"),
            &x_owner.token,
            json!({"email": "w@corp.example"}),
        )
        .await;
    let w_id = w.expect(201)["user_id"].as_str().unwrap().to_string();
    app.patch(
        &format!("/users/{w_id}"),
        &root.token,
        json!({"is_active": false}),
    )
    .await
    .expect(200);
    let r = invite(&app, &y, &mallory.token, "w@corp.example", "member").await;
    let token = r.expect(201)["token"].as_str().unwrap().to_string();
    anon(
        &app,
        "/invitations/accept",
        json!({"token": token, "password": "mallory was here"}),
    )
    .await
    .expect_error(409, "conflict");
    login(&app, "w@corp.example", "mallory was here")
        .await
        .expect_error(401, "invalid_credentials");

    // v claims the account the way it is meant to: a reset link sent to the address only.
    let app = app.reconfigured(|c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
    });
    let r = anon(
        &app,
        "/auth/password-reset",
        json!({"email": "V@corp.example"}),
    )
    .await;
    assert_eq!(r.expect(202), &json!({"ok": true}));
    let mail = sink.wait_for(1).await;
    assert!(mail.contains("To: v@corp.example"), "{mail}");
    let reset = reset_token_in(&mail);
    let r = anon(
        &app,
        "/auth/password-reset/confirm",
        json!({"token": reset, "password": "v's own password"}),
    )
    .await;
    assert_eq!(r.expect(200)["user"]["id"], v_id);
    let v_token = r.body["access_token"].as_str().unwrap().to_string();
    login(&app, "v@corp.example", "v's own password")
        .await
        .expect(200);
    // Signed in, v accepts Y's invitation with a fresh link; X's role is unchanged.
    let r = app
        .post_empty(
            &format!(
                "/organizations/{y}/invitations/{}/resend",
                list.body[0]["id"].as_str().unwrap()
            ),
            &mallory.token,
        )
        .await;
    r.expect(200);
    let mail = sink.wait_for(2).await;
    let token = common::token_in(&mail);
    let r = app
        .post("/invitations/accept", &v_token, json!({"token": token}))
        .await;
    assert_eq!(r.expect(200)["member"]["role"], "member");
    let m = app
        .get(&format!("/organizations/{x}/members/{v_id}"), &v_token)
        .await;
    assert_eq!(m.expect(200)["role"], "admin");
}

async fn a_password_reset_link_reaches_only_the_address(app: TestApp) {
    let alice = app.user("alice").await;
    let pat = app
        .post("/tokens", &alice.token, json!({"name": "ci"}))
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    // Without a mail server the link goes to the server log only; the answer is the same for
    // an address with no account.
    let known = anon(
        &app,
        "/auth/password-reset",
        json!({"email": "alice@example.com"}),
    )
    .await;
    let unknown = anon(
        &app,
        "/auth/password-reset",
        json!({"email": "nobody@example.com"}),
    )
    .await;
    assert_eq!(known.expect(202), unknown.expect(202));
    assert!(!known.text.contains("orgd_pwr_"));
    anon(
        &app,
        "/auth/password-reset",
        json!({"email": "not an email"}),
    )
    .await
    .expect_error(400, "invalid_request");

    let sink = SmtpSink::start().await;
    let app = app.reconfigured(|c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
        c.password_reset_url = "https://app.example.com/reset?t={token}".into();
    });
    anon(
        &app,
        "/auth/password-reset",
        json!({"email": "alice@example.com"}),
    )
    .await
    .expect(202);
    let mail = sink.wait_for(1).await;
    assert!(
        common::decode_qp(&mail).contains("https://app.example.com/reset?t=orgd_pwr_"),
        "{mail}"
    );
    let token = reset_token_in(&mail);
    anon(
        &app,
        "/auth/password-reset/confirm",
        json!({"token": token, "password": "short"}),
    )
    .await
    .expect_error(400, "invalid_request");
    let r = anon(
        &app,
        "/auth/password-reset/confirm",
        json!({"token": token, "password": "a brand new password"}),
    )
    .await;
    r.expect(200);
    // Single use; every old session ends; personal tokens survive unless asked.
    anon(
        &app,
        "/auth/password-reset/confirm",
        json!({"token": token, "password": "yet another password"}),
    )
    .await
    .expect_error(404, "not_found");
    app.get("/users/me", &alice.token)
        .await
        .expect_error(401, "unauthenticated");
    app.get("/users/me", &pat).await.expect(200);
    login(&app, "alice", PASSWORD)
        .await
        .expect_error(401, "invalid_credentials");
    login(&app, "alice", "a brand new password")
        .await
        .expect(200);
    // With revoke_tokens, the personal tokens go too.
    anon(
        &app,
        "/auth/password-reset",
        json!({"email": "alice@example.com"}),
    )
    .await
    .expect(202);
    let token = reset_token_in(&sink.wait_for(2).await);
    anon(
        &app,
        "/auth/password-reset/confirm",
        json!({"token": token, "password": "the third password", "revoke_tokens": true}),
    )
    .await
    .expect(200);
    app.get("/users/me", &pat)
        .await
        .expect_error(401, "unauthenticated");

    // No mail for a deactivated account or a service account.
    let root = app.superuser("root").await;
    let bob = app.user("bob").await;
    app.patch(
        &format!("/users/{}", bob.id),
        &root.token,
        json!({"is_active": false}),
    )
    .await
    .expect(200);
    let bot = app.service_account("bot").await;
    for email in ["bob@example.com", "bot@example.com"] {
        anon(&app, "/auth/password-reset", json!({"email": email}))
            .await
            .expect(202);
    }
    let _ = bot;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages.lock().await.len(), 2);
}

async fn changing_the_password_can_revoke_personal_tokens(app: TestApp) {
    let alice = app.user("alice").await;
    let pat = app
        .post("/tokens", &alice.token, json!({"name": "ci"}))
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/users/me/password",
        &alice.token,
        json!({"current_password": PASSWORD, "new_password": "second password"}),
    )
    .await
    .expect(200);
    // By default personal access tokens survive, and the session used stays.
    app.get("/users/me", &pat).await.expect(200);
    app.get("/users/me", &alice.token).await.expect(200);
    app.post(
        "/users/me/password",
        &alice.token,
        json!({"current_password": "second password", "new_password": "third password",
               "revoke_tokens": true}),
    )
    .await
    .expect(200);
    app.get("/users/me", &pat)
        .await
        .expect_error(401, "unauthenticated");
    app.get("/users/me", &alice.token).await.expect(200);
}

// Medium 3: a scoped token minted during a removal outlived it.
async fn a_scoped_token_never_outlives_a_removal(app: TestApp) {
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Acme").await;
    let app = Arc::new(app);
    let mut minted_then_removed = 0;
    for round in 0..24 {
        let user = app.user(&format!("u{round}")).await;
        app.add(&org, &owner, &user, "member").await;
        let leave = round % 2 == 1;
        let (a, b) = (app.clone(), app.clone());
        let (u1, u2, o1, o2, ot) = (
            user.clone(),
            user.clone(),
            org.clone(),
            org.clone(),
            owner.token.clone(),
        );
        let mint = tokio::spawn(async move {
            a.post(
                "/tokens",
                &u1.token,
                json!({"name": "scoped", "organization": o1}),
            )
            .await
        });
        let remove = tokio::spawn(async move {
            if leave {
                b.post_empty(&format!("/organizations/{o2}/leave"), &u2.token)
                    .await
            } else {
                b.delete(&format!("/organizations/{o2}/members/{}", u2.id), &ot)
                    .await
            }
        });
        let (mint, remove) = (mint.await.unwrap(), remove.await.unwrap());
        remove.expect(200);
        assert!(
            mint.status == 201 || mint.status == 404,
            "mint during a removal: {} {}",
            mint.status,
            mint.text
        );
        // Whatever the order, no scoped token is left, and none works after re-adding.
        let listed = app.get("/tokens", &user.token).await;
        assert!(
            listed
                .expect(200)
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["organization_id"] != org.as_str()),
            "a scoped token outlived the removal: {}",
            listed.text
        );
        if mint.status == 201 {
            minted_then_removed += 1;
            let secret = mint.body["token"].as_str().unwrap();
            app.add(&org, &owner, &user, "member").await;
            app.get(&format!("/organizations/{org}"), secret)
                .await
                .expect_error(401, "unauthenticated");
        }
    }
    eprintln!(
        "[{}] rounds where the mint won: {minted_then_removed}",
        app.engine
    );
}

// Medium 4: creates racing an organization's deletion answered 500.
async fn creates_racing_an_organizations_deletion_answer_404(app: TestApp) {
    let app = Arc::new(app);
    let kinds = [
        "project",
        "application",
        "invitation",
        "member",
        "service_account",
        "scoped_token",
        "project_member",
        "update",
        "webhook",
        "domain",
        "sso_provider",
    ];
    for kind in kinds {
        for round in 0..6 {
            let owner = app.user(&format!("o{kind}{round}")).await;
            let other = app.user(&format!("x{kind}{round}")).await;
            let org = app.org(&owner, &format!("Doomed {kind} {round}")).await;
            app.add(&org, &owner, &other, "member").await;
            let project = app
                .post(
                    &format!("/organizations/{org}/projects"),
                    &owner.token,
                    json!({"name": "P"}),
                )
                .await
                .expect(201)["id"]
                .as_str()
                .unwrap()
                .to_string();
            let base = format!("/organizations/{org}");
            let (path, body) = match kind {
                "project" => (format!("{base}/projects"), json!({"name": "Q"})),
                "application" => (format!("{base}/applications"), json!({"name": "A"})),
                "invitation" => (
                    format!("{base}/invitations"),
                    json!({"email": "i@example.com"}),
                ),
                "member" => (
                    format!("{base}/members"),
                    json!({"email": format!("new{round}@example.com")}),
                ),
                "service_account" => (format!("{base}/service-accounts"), json!({"name": "B"})),
                "scoped_token" => (
                    "/tokens".to_string(),
                    json!({"name": "t", "organization": org}),
                ),
                "project_member" => (
                    format!("{base}/projects/{project}/members"),
                    json!({"user_id": other.id}),
                ),
                "webhook" => (
                    format!("{base}/webhooks"),
                    json!({"url": "https://93.184.215.14/hook", "event_types": ["*"]}),
                ),
                "domain" => (format!("{base}/domains"), json!({"domain": "doomed.test"})),
                "sso_provider" => (
                    format!("{base}/sso-providers"),
                    json!({
                        "name": "IdP",
                        "issuer": common::idp::shared().lock().unwrap_or_else(|e| e.into_inner()).issuer(),
                        "client_id": "c",
                        "client_secret": "s"
                    }),
                ),
                _ => (format!("{base}/projects/{project}"), json!({"name": "R"})),
            };
            let (a, b) = (app.clone(), app.clone());
            let (t1, t2, o2) = (owner.token.clone(), owner.token.clone(), org.clone());
            let method = if kind == "update" {
                Method::PATCH
            } else {
                Method::POST
            };
            let create =
                tokio::spawn(async move { a.request(method, &path, Some(&t1), Some(body)).await });
            let delete =
                tokio::spawn(async move { b.delete(&format!("/organizations/{o2}"), &t2).await });
            let (create, delete) = (create.await.unwrap(), delete.await.unwrap());
            delete.expect(200);
            assert!(
                create.status.is_success() || create.status == 404,
                "[{}] {kind} racing the deletion: {} {}",
                app.engine,
                create.status,
                create.text
            );
            if create.status == 404 {
                assert_eq!(create.code(), "not_found");
            }
            // Nothing survived the organization.
            app.get(&base, &owner.token)
                .await
                .expect_error(404, "not_found");
            let org_id: uuid::Uuid = org.parse().unwrap();
            let page = orgd::domain::paging::Page::default();
            assert!(
                app.store
                    .list_webhooks(Some(org_id), &page)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(app.store.list_domains(org_id).await.unwrap().is_empty());
            assert!(
                app.store
                    .list_sso_providers(org_id)
                    .await
                    .unwrap()
                    .is_empty()
            );
            let tokens = app.get("/tokens", &owner.token).await;
            assert!(
                tokens
                    .expect(200)
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|t| t["organization_id"] != org.as_str())
            );
        }
    }
}

// Medium 5: NUL bytes gave 500 on PostgreSQL.
async fn nul_bytes_and_control_characters_are_refused(app: TestApp) {
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Acme").await;
    let base = format!("/organizations/{org}");
    let raw = |method: Method, path: &str, token: Option<&str>, body: &str| {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req.header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let cases: Vec<(Method, String, Option<&str>, String)> = vec![
        (
            Method::POST,
            "/organizations".into(),
            Some(&owner.token),
            r#"{"name": "a\u0000b"}"#.into(),
        ),
        (
            Method::PATCH,
            base.clone(),
            Some(&owner.token),
            r#"{"description": "x\u0000"}"#.into(),
        ),
        (
            Method::PATCH,
            base.clone(),
            Some(&owner.token),
            r#"{"metadata": {"k": "\u0000"}}"#.into(),
        ),
        (
            Method::PATCH,
            base.clone(),
            Some(&owner.token),
            r#"{"metadata": {"k\u0000": 1}}"#.into(),
        ),
        (
            Method::POST,
            "/auth/login".into(),
            None,
            r#"{"login": "\u0000", "password": "x"}"#.into(),
        ),
        (
            Method::POST,
            format!("{base}/projects"),
            Some(&owner.token),
            r#"{"name": "p", "description": "\\\u0000"}"#.into(),
        ),
        (
            Method::GET,
            format!("{base}/members?q=a%00b"),
            Some(&owner.token),
            String::new(),
        ),
        (
            Method::GET,
            "/organizations/acme%00".into(),
            Some(&owner.token),
            String::new(),
        ),
        (
            Method::GET,
            "/organizations?name=%00".into(),
            Some(&owner.token),
            String::new(),
        ),
        (
            Method::PATCH,
            base.clone(),
            Some(&owner.token),
            r#"{"name": "bell\u0007"}"#.into(),
        ),
        (
            Method::PATCH,
            "/users/me".into(),
            Some(&owner.token),
            r#"{"name": "tab\there"}"#.into(),
        ),
        (
            Method::PATCH,
            base.clone(),
            Some(&owner.token),
            r#"{"description": "escape\u001b[31m"}"#.into(),
        ),
    ];
    for (method, path, token, body) in cases {
        let req = if body.is_empty() {
            let mut r = Request::builder().method(method.clone()).uri(&path);
            if let Some(t) = token {
                r = r.header("authorization", format!("Bearer {t}"));
            }
            r.body(Body::empty()).unwrap()
        } else {
            raw(method.clone(), &path, token, &body)
        };
        let r = app.send(req).await;
        assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.text);
        assert!(r.code() == "invalid_request", "{}", r.text);
    }
    // Nothing changed.
    let o = app.get(&base, &owner.token).await;
    assert_eq!(o.expect(200)["name"], "Acme");
    assert_eq!(o.body["description"], Value::Null);
    assert_eq!(o.body["project_count"], 0);
    let list = app.get("/organizations", &owner.token).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 1);
    // An escaped backslash before `u0000` is six ordinary characters; line breaks are text.
    let r = app
        .send(raw(
            Method::PATCH,
            &base,
            Some(&owner.token),
            r#"{"description": "C:\\u0000 and\na line"}"#,
        ))
        .await;
    assert_eq!(
        r.expect(200)["description"],
        "C:\\u0000 and\na line",
        "{}",
        r.text
    );
}

// Medium 6: failed logins were counted per login string, and anyone could lock an account.
async fn failed_logins_count_per_account_and_address(app: TestApp) {
    let app = app.reconfigured(|c| c.trust_forwarded_for = true);
    app.user("alice").await;
    let from = |ip: &str, login: &str, password: &str| {
        Request::post("/auth/login")
            .header("content-type", "application/json")
            .header("x-forwarded-for", ip)
            .body(Body::from(
                json!({"login": login, "password": password}).to_string(),
            ))
            .unwrap()
    };
    // Email and username are one account: ten failures between them, not ten each.
    for i in 0..10 {
        let login = if i % 2 == 0 {
            "alice@example.com"
        } else {
            "ALICE"
        };
        app.send(from("203.0.113.7", login, "wrong password"))
            .await
            .expect_error(401, "invalid_credentials");
    }
    app.send(from("203.0.113.7", "alice", PASSWORD))
        .await
        .expect_error(429, "rate_limited");
    app.send(from("203.0.113.7", "alice@example.com", PASSWORD))
        .await
        .expect_error(429, "rate_limited");
    // The owner, from elsewhere, is not locked out.
    app.send(from("198.51.100.9", "alice", PASSWORD))
        .await
        .expect(200);
}

async fn the_bearer_scheme_is_case_insensitive(app: TestApp) {
    let alice = app.user("alice").await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let req = Request::get("/users/me")
            .header("authorization", format!("{scheme} {}", alice.token))
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.send(req).await.expect(200)["id"], alice.id.to_string());
    }
    for header in ["Basic x", "Bearer", "Bearer ", "Token abc"] {
        let req = Request::get("/users/me")
            .header("authorization", header)
            .body(Body::empty())
            .unwrap();
        app.send(req).await.expect_error(401, "unauthenticated");
    }
}

async fn error_messages_name_no_internal_types(app: TestApp) {
    let alice = app.user("alice").await;
    let org = app.org(&alice, "Acme").await;
    let probes = [
        app.request(Method::POST, "/tokens", Some(&alice.token), Some(json!([])))
            .await,
        app.request(Method::POST, "/tokens", Some(&alice.token), Some(json!(5)))
            .await,
        app.post(
            &format!("/organizations/{org}/members"),
            &alice.token,
            json!({"user_id": "x", "role": "king"}),
        )
        .await,
        app.post(
            &format!("/organizations/{org}/members"),
            &alice.token,
            json!({"email": "a@example.com", "role": 7}),
        )
        .await,
        app.get(
            &format!("/organizations/{org}/members?limit=abc"),
            &alice.token,
        )
        .await,
        app.get("/organizations?status=gone", &alice.token).await,
    ];
    for r in probes {
        assert_eq!(r.status, 400, "{}", r.text);
        let message = r.body["error"].as_str().unwrap();
        for word in [
            "struct ", "enum ", "Request", "Option<", "Vec<", "u32", "u64", "i64", "::",
        ] {
            assert!(
                !message.contains(word),
                "{message:?} names an internal type ({word})"
            );
        }
    }
}

async fn every_response_carries_security_headers(app: TestApp) {
    let alice = app.user("alice").await;
    for (path, token) in [
        ("/healthz", None),
        ("/users/me", Some(alice.token.as_str())),
        ("/no/such/route", None),
        ("/docs/", None),
        ("/docs/no-such-asset.js", None),
        ("/openapi.json", None),
    ] {
        let r = app.request(Method::GET, path, token, None).await;
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        let csp = r.header("content-security-policy").unwrap_or("");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        if path.starts_with("/docs") {
            assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        }
        if r.status == 404 {
            r.expect_error(404, "not_found");
        }
    }
}

async fn service_account_tokens_are_managed_by_the_organizations_admins(app: TestApp) {
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let org = app.org(&owner, "Acme").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    let base = format!("/organizations/{org}/service-accounts");
    let created = app
        .post(&base, &owner.token, json!({"name": "Deployer"}))
        .await;
    let sa = created.expect(201)["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = created.body["token"]["token"].as_str().unwrap().to_string();
    let first_id = created.body["token"]["id"].as_str().unwrap().to_string();
    let owner_bot = app
        .post(
            &base,
            &owner.token,
            json!({"name": "Root bot", "role": "owner"}),
        )
        .await;
    let owner_bot = owner_bot.expect(201)["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let list = app.get(&format!("{base}/{sa}/tokens"), &admin.token).await;
    let tokens = list.expect(200).as_array().unwrap().clone();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["id"], first_id);
    assert!(tokens[0].get("token").is_none());
    // A member may not; an admin may not manage an owner-role account's tokens.
    app.get(&format!("{base}/{sa}/tokens"), &member.token)
        .await
        .expect_error(403, "forbidden");
    app.get(&format!("{base}/{owner_bot}/tokens"), &admin.token)
        .await
        .expect_error(403, "forbidden");
    app.delete(&format!("{base}/{sa}/tokens/{first_id}"), &member.token)
        .await
        .expect_error(403, "forbidden");
    app.get(&format!("/organizations/{org}"), &first)
        .await
        .expect(200);
    app.delete(&format!("{base}/{sa}/tokens/{first_id}"), &admin.token)
        .await
        .expect(200);
    app.get(&format!("/organizations/{org}"), &first)
        .await
        .expect_error(401, "unauthenticated");
    app.delete(&format!("{base}/{sa}/tokens/{first_id}"), &admin.token)
        .await
        .expect_error(404, "not_found");
    // Another organization's admin sees nothing.
    let stranger = app.user("stranger").await;
    let other = app.org(&stranger, "Other").await;
    app.get(
        &format!("/organizations/{other}/service-accounts/{sa}/tokens"),
        &stranger.token,
    )
    .await
    .expect_error(404, "not_found");
    app.get(&format!("{base}/{sa}/tokens"), &stranger.token)
        .await
        .expect_error(404, "not_found");
}

async fn a_service_account_mints_tokens_only_where_allowed(app: TestApp) {
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let org = app.org(&owner, "Acme").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;
    let created = app
        .post(
            &format!("/organizations/{org}/service-accounts"),
            &owner.token,
            json!({"name": "Deployer"}),
        )
        .await;
    let sa_token = created.expect(201)["token"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mint = || {
        app.post(
            "/tokens",
            &sa_token,
            json!({"name": "child", "organization": org}),
        )
    };
    mint().await.expect_error(403, "forbidden");
    let o = app
        .get(&format!("/organizations/{org}"), &owner.token)
        .await;
    assert_eq!(o.expect(200)["service_accounts_can_mint_tokens"], false);
    // A member may not change it; an admin may.
    app.patch(
        &format!("/organizations/{org}"),
        &member.token,
        json!({"service_accounts_can_mint_tokens": true}),
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
    let r = mint().await;
    assert_eq!(r.expect(201)["kind"], "sa");
    assert_eq!(r.body["organization_id"], org.as_str());
}

async fn another_organizations_service_account_cannot_be_added(app: TestApp) {
    let a_owner = app.user("aowner").await;
    let b_owner = app.user("bowner").await;
    let a = app.org(&a_owner, "A").await;
    let b = app.org(&b_owner, "B").await;
    let sa = app
        .post(
            &format!("/organizations/{a}/service-accounts"),
            &a_owner.token,
            json!({"name": "A bot", "username": "abot"}),
        )
        .await;
    let sa_id = sa.expect(201)["user"]["id"].as_str().unwrap().to_string();
    let sa_email = sa.body["user"]["email"].as_str().unwrap().to_string();
    for body in [
        json!({"user_id": sa_id}),
        json!({"username": "abot"}),
        json!({"email": sa_email}),
    ] {
        app.post(&format!("/organizations/{b}/members"), &b_owner.token, body)
            .await
            .expect_error(403, "forbidden");
    }
    let members = app
        .get(&format!("/organizations/{b}/members"), &b_owner.token)
        .await;
    assert_eq!(members.expect(200).as_array().unwrap().len(), 1);
}

async fn accepting_into_a_new_account_counts_as_a_sign_up(app: TestApp) {
    let app = app.reconfigured(|c| c.signups_per_hour = 2);
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Acme").await;
    let mut statuses = Vec::new();
    for i in 0..3 {
        let r = invite(
            &app,
            &org,
            &owner.token,
            &format!("n{i}@example.com"),
            "member",
        )
        .await;
        let token = r.expect(201)["token"].as_str().unwrap().to_string();
        let r = anon(
            &app,
            "/invitations/accept",
            json!({"token": token, "password": "new account password"}),
        )
        .await;
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 429]);
    // The limit is shared with sign-up itself.
    anon(
        &app,
        "/auth/signup",
        json!({"email": "s@example.com", "password": "sign up password"}),
    )
    .await
    .expect_error(429, "rate_limited");
}

async fn with_consent_required_adding_an_account_invites_it(app: TestApp) {
    let sink = SmtpSink::start().await;
    let app = app.reconfigured(|c| {
        c.member_add_requires_consent = true;
        c.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
    });
    let owner = app.user("owner").await;
    let carol: TestUser = app.user("carol").await;
    app.user("dave").await;
    let org = app.org(&owner, "Acme").await;
    let members = format!("/organizations/{org}/members");
    let r = app
        .post(
            &members,
            &owner.token,
            json!({"username": "carol", "role": "admin"}),
        )
        .await;
    let body = r.expect(202).clone();
    assert!(!r.text.contains("carol@example.com"), "{}", r.text);
    assert!(body.get("token").is_none(), "{}", r.text);
    assert_eq!(body["email"], "c***@example.com");
    assert_eq!(body["user_id"], carol.id.to_string());
    assert_eq!(body["role"], "admin");
    app.get(&format!("{members}/{}", carol.id), &owner.token)
        .await
        .expect_error(404, "not_found");
    let list = app
        .get(&format!("/organizations/{org}/invitations"), &owner.token)
        .await;
    assert!(!list.text.contains("carol@example.com"), "{}", list.text);

    // Carol sees it with her own address and says yes; the link went only to her.
    let mine = app.get("/users/me/invitations", &carol.token).await;
    assert_eq!(mine.expect(200)[0]["email"], "carol@example.com");
    let mail = sink.wait_for(1).await;
    assert!(mail.contains("To: carol@example.com"), "{mail}");
    let r = app
        .post(
            "/invitations/accept",
            &carol.token,
            json!({"token": common::token_in(&mail)}),
        )
        .await;
    assert_eq!(r.expect(200)["member"]["role"], "admin");

    // By email the answer is the same whether or not an account exists, and nobody is
    // provisioned.
    let known = app
        .post(&members, &owner.token, json!({"email": "dave@example.com"}))
        .await;
    let unknown = app
        .post(
            &members,
            &owner.token,
            json!({"email": "ghost@example.com"}),
        )
        .await;
    assert_eq!(known.status, 202, "{}", known.text);
    assert_eq!(unknown.status, 202, "{}", unknown.text);
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&known.body), keys(&unknown.body));
    let root = app.superuser("root").await;
    let users = app.get("/users?q=ghost", &root.token).await;
    assert_eq!(users.expect(200).as_array().unwrap().len(), 0);
}

/// Project member management is open to the project's admins too; for a project that does not
/// exist the answer is 404 whoever asks, never a 403 that would tell ids apart.
async fn a_missing_project_is_not_found_for_everyone(app: TestApp) {
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let org = app.org(&owner, "Acme").await;
    app.add(&org, &owner, &member, "member").await;
    let nowhere = uuid::Uuid::now_v7();
    for who in [&owner, &member] {
        app.post(
            &format!("/organizations/{org}/projects/{nowhere}/members"),
            &who.token,
            json!({"user_id": member.id}),
        )
        .await
        .expect_error(404, "not_found");
    }
}

on_both_engines!(
    a_missing_project_is_not_found_for_everyone,
    an_admin_cannot_act_on_an_owner_invitation,
    an_invitation_never_sets_an_existing_accounts_password,
    a_password_reset_link_reaches_only_the_address,
    changing_the_password_can_revoke_personal_tokens,
    a_scoped_token_never_outlives_a_removal,
    creates_racing_an_organizations_deletion_answer_404,
    nul_bytes_and_control_characters_are_refused,
    failed_logins_count_per_account_and_address,
    the_bearer_scheme_is_case_insensitive,
    error_messages_name_no_internal_types,
    every_response_carries_security_headers,
    service_account_tokens_are_managed_by_the_organizations_admins,
    a_service_account_mints_tokens_only_where_allowed,
    another_organizations_service_account_cannot_be_added,
    accepting_into_a_new_account_counts_as_a_sign_up,
    with_consent_required_adding_an_account_invites_it,
);
