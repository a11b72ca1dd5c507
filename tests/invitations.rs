//! Invitations: lifecycle, single use under races, email matching, account creation, and
//! delivery over real SMTP (and its retry when the mail server is down).

mod common;

use axum::http::Method;
use common::{PASSWORD, SmtpSink, TestApp, token_in};
use serde_json::json;

async fn invite(
    app: &TestApp,
    org: &str,
    token: &str,
    email: &str,
    role: &str,
) -> common::TestResponse {
    app.post(
        &format!("/organizations/{org}/invitations"),
        token,
        json!({"email": email, "role": role}),
    )
    .await
}

async fn accept_anon(app: &TestApp, body: serde_json::Value) -> common::TestResponse {
    app.request(Method::POST, "/invitations/accept", None, Some(body))
        .await
}

async fn lifecycle_in_development_mode(app: TestApp) {
    let owner = app.user("owner").await;
    let admin = app.user("admin").await;
    let member = app.user("member").await;
    let bob = app.user("bob").await;
    let org = app.org(&owner, "Acme").await;
    app.add(&org, &owner, &admin, "admin").await;
    app.add(&org, &owner, &member, "member").await;

    let r = invite(&app, &org, &admin.token, "Bob@Example.com", "admin").await;
    let inv = r.expect(201).clone();
    assert_eq!(inv["status"], "pending");
    assert_eq!(inv["role"], "admin");
    assert_eq!(inv["delivery"], "none");
    assert_eq!(inv["inviter"]["id"], admin.id.to_string());
    assert_eq!(inv["organization"]["id"], org);
    let token = inv["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("orgd_inv_"));
    assert!(inv["accept_url"].as_str().unwrap().ends_with(&token));
    let o = app
        .get(&format!("/organizations/{org}"), &owner.token)
        .await;
    assert_eq!(o.expect(200)["pending_member_count"], 1);
    // The list never shows the token again.
    let list = app
        .get(&format!("/organizations/{org}/invitations"), &admin.token)
        .await;
    let list = list.expect(200).as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert!(list[0].get("token").is_none() && list[0].get("accept_url").is_none());

    // Re-inviting refreshes the pending invitation: same id, new token, old one dead.
    let again = invite(&app, &org, &admin.token, "bob@example.com", "member").await;
    assert_eq!(again.expect(200)["id"], inv["id"]);
    let new_token = again.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        app.get(&format!("/organizations/{org}/invitations"), &admin.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.post("/invitations/accept", &bob.token, json!({"token": token}))
        .await
        .expect_error(404, "not_found");

    // Who may invite whom.
    invite(&app, &org, &member.token, "x@example.com", "member")
        .await
        .expect_error(403, "forbidden");
    invite(&app, &org, &admin.token, "x@example.com", "owner")
        .await
        .expect_error(403, "forbidden");
    invite(&app, &org, &owner.token, "x@example.com", "owner")
        .await
        .expect(201);
    invite(&app, &org, &owner.token, "MEMBER@example.com", "member")
        .await
        .expect_error(409, "conflict");
    invite(&app, &org, &owner.token, "not an email", "member")
        .await
        .expect_error(400, "invalid_request");
    app.get(&format!("/organizations/{org}/invitations"), &member.token)
        .await
        .expect_error(403, "forbidden");

    // Bob sees and accepts his invitation.
    let mine = app.get("/users/me/invitations", &bob.token).await;
    assert_eq!(mine.expect(200).as_array().unwrap().len(), 1);
    assert!(mine.body[0].get("token").is_none());
    let r = app
        .post(
            "/invitations/accept",
            &bob.token,
            json!({"token": new_token}),
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["member"]["role"], "member");
    assert!(body.get("session").is_none());
    let m = app
        .get(
            &format!("/organizations/{org}/members/{}", bob.id),
            &bob.token,
        )
        .await;
    assert_eq!(m.expect(200)["role"], "member");
    // Single use.
    app.post(
        "/invitations/accept",
        &bob.token,
        json!({"token": new_token}),
    )
    .await
    .expect_error(409, "conflict");
    let o = app
        .get(&format!("/organizations/{org}"), &owner.token)
        .await;
    assert_eq!(o.expect(200)["pending_member_count"], 1);
    assert!(
        app.get("/users/me/invitations", &bob.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .is_empty()
    );
}

async fn accepting_needs_the_invited_email(app: TestApp) {
    let owner = app.user("owner").await;
    let mallory = app.user("mallory").await;
    let org = app.org(&owner, "Acme").await;
    let token = invite(&app, &org, &owner.token, "carol@example.com", "admin")
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        "/invitations/accept",
        &mallory.token,
        json!({"token": token}),
    )
    .await
    .expect_error(403, "forbidden");
    app.get(&format!("/organizations/{org}"), &mallory.token)
        .await
        .expect_error(404, "not_found");
    // Declining someone else's invitation is refused as well.
    app.post(
        "/invitations/decline",
        &mallory.token,
        json!({"token": token}),
    )
    .await
    .expect_error(403, "forbidden");
    app.post(
        "/invitations/accept",
        &mallory.token,
        json!({"token": "orgd_inv_nope"}),
    )
    .await
    .expect_error(404, "not_found");
}

async fn accepting_creates_the_account_of_a_new_invitee(app: TestApp) {
    let owner = app.user("owner").await;
    let org = app.org(&owner, "Acme").await;
    let token = invite(&app, &org, &owner.token, "dana@example.com", "member")
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    accept_anon(&app, json!({"token": token}))
        .await
        .expect_error(400, "invalid_request");
    accept_anon(&app, json!({"token": token, "password": "short"}))
        .await
        .expect_error(400, "invalid_request");
    let r = accept_anon(
        &app,
        json!({"token": token, "password": "dana's password", "name": "Dana"}),
    )
    .await;
    let body = r.expect(200).clone();
    let session = body["session"]["access_token"].as_str().unwrap();
    assert_eq!(body["session"]["user"]["email"], "dana@example.com");
    let o = app.get(&format!("/organizations/{org}"), session).await;
    assert_eq!(o.expect(200)["member_count"], 2);
    app.request(
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"login": "dana@example.com", "password": "dana's password"})),
    )
    .await
    .expect(200);

    // An invitee with a password account must sign in instead.
    app.user("erin").await;
    let token = invite(&app, &org, &owner.token, "erin@example.com", "member")
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    accept_anon(
        &app,
        json!({"token": token, "password": "taking over erin"}),
    )
    .await
    .expect_error(409, "conflict");
    app.request(
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"login": "erin", "password": "taking over erin"})),
    )
    .await
    .expect_error(401, "invalid_credentials");

    // Nor a provisioned, password-less account: it is claimed through password reset, by
    // whoever receives the address's mail (tests/security.rs).
    app.post(
        &format!("/organizations/{org}/members"),
        &owner.token,
        json!({"email": "fred@example.com"}),
    )
    .await
    .expect(201);
    let other = app.org(&owner, "Other").await;
    let token = invite(&app, &other, &owner.token, "fred@example.com", "admin")
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = accept_anon(&app, json!({"token": token, "password": "fred's password"})).await;
    r.expect_error(409, "conflict");
    app.request(
        Method::POST,
        "/auth/login",
        None,
        Some(json!({"login": "fred@example.com", "password": "fred's password"})),
    )
    .await
    .expect_error(401, "invalid_credentials");
}

async fn revoked_declined_and_expired_invitations_are_refused(app: TestApp) {
    let owner = app.user("owner").await;
    let gina = app.user("gina").await;
    let org = app.org(&owner, "Acme").await;
    let inv = invite(&app, &org, &owner.token, "gina@example.com", "member")
        .await
        .expect(201)
        .clone();
    let path = format!(
        "/organizations/{org}/invitations/{}",
        inv["id"].as_str().unwrap()
    );
    assert_eq!(
        app.delete(&path, &owner.token).await.expect(200),
        &json!({"ok": true})
    );
    app.delete(&path, &owner.token)
        .await
        .expect_error(409, "conflict");
    app.post(
        "/invitations/accept",
        &gina.token,
        json!({"token": inv["token"]}),
    )
    .await
    .expect_error(409, "conflict");
    let list = app
        .get(&format!("/organizations/{org}/invitations"), &owner.token)
        .await;
    assert_eq!(list.expect(200)[0]["status"], "revoked");

    let inv = invite(&app, &org, &owner.token, "gina@example.com", "member")
        .await
        .expect(201)
        .clone();
    app.request(
        Method::POST,
        "/invitations/decline",
        None,
        Some(json!({"token": inv["token"]})),
    )
    .await
    .expect(200);
    app.post(
        "/invitations/accept",
        &gina.token,
        json!({"token": inv["token"]}),
    )
    .await
    .expect_error(409, "conflict");

    let inv = invite(&app, &org, &owner.token, "gina@example.com", "member")
        .await
        .expect(201)
        .clone();
    app.exec("UPDATE invitations SET expires_at = 1000 WHERE status = 'pending'")
        .await;
    app.post(
        "/invitations/accept",
        &gina.token,
        json!({"token": inv["token"]}),
    )
    .await
    .expect_error(409, "conflict");
    let o = app
        .get(&format!("/organizations/{org}"), &owner.token)
        .await;
    assert_eq!(o.expect(200)["pending_member_count"], 0);
    let list = app
        .get(&format!("/organizations/{org}/invitations"), &owner.token)
        .await;
    let statuses: Vec<&str> = list
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["revoked", "declined", "expired"]);
    // Resending an expired-but-pending invitation renews it.
    let r = app
        .post_empty(
            &format!(
                "/organizations/{org}/invitations/{}/resend",
                inv["id"].as_str().unwrap()
            ),
            &owner.token,
        )
        .await;
    let renewed = r.expect(200).clone();
    assert_eq!(renewed["status"], "pending");
    app.post(
        "/invitations/accept",
        &gina.token,
        json!({"token": inv["token"]}),
    )
    .await
    .expect_error(404, "not_found");
    app.post(
        "/invitations/accept",
        &gina.token,
        json!({"token": renewed["token"]}),
    )
    .await
    .expect(200);
}

async fn fifty_concurrent_accepts_make_one_membership(app: TestApp) {
    let owner = app.user("owner").await;
    let hank = app.user("hank").await;
    let org = app.org(&owner, "Acme").await;
    let token = invite(&app, &org, &owner.token, "hank@example.com", "member")
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let router = app.router.clone();
        let (token, auth) = (token.clone(), hank.token.clone());
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post("/invitations/accept")
                .header("authorization", format!("Bearer {auth}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(json!({"token": token}).to_string()))
                .unwrap();
            router.oneshot(req).await.unwrap().status().as_u16()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            200 => ok += 1,
            409 => {}
            s => panic!("unexpected status {s}"),
        }
    }
    assert_eq!(ok, 1, "exactly one accept succeeds");
    let n = app.count("SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.username = 'hank'").await;
    assert_eq!(n, 1);
    let o = app
        .get(&format!("/organizations/{org}"), &owner.token)
        .await;
    assert_eq!(o.expect(200)["member_count"], 2);
}

async fn delivery_over_smtp_carries_the_accept_link(app: TestApp) {
    let sink = SmtpSink::start().await;
    let app = app.reconfigured(|c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
        c.invitation_url = "https://app.example.com/join?token={token}".into();
    });
    let owner = app.user("owner").await;
    let ivy = app.user("ivy").await;
    let org = app.org(&owner, "Acme Mail").await;
    let r = invite(&app, &org, &owner.token, "ivy@example.com", "admin").await;
    let body = r.expect(201);
    assert_eq!(body["delivery"], "sent");
    // With a mail server, the token travels only by email.
    assert!(body.get("token").is_none() && body.get("accept_url").is_none());
    let mails = sink.messages.lock().await.clone();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: ivy@example.com"), "{}", mails[0]);
    assert!(mails[0].contains("Acme Mail"), "{}", mails[0]);
    assert!(
        common::decode_qp(&mails[0]).contains("https://app.example.com/join?token=orgd_inv_"),
        "{}",
        mails[0]
    );
    let token = token_in(&mails[0]);
    let r = app
        .post("/invitations/accept", &ivy.token, json!({"token": token}))
        .await;
    assert_eq!(r.expect(200)["member"]["role"], "admin");
}

async fn an_unreachable_mail_server_loses_no_invitation(app: TestApp) {
    // A port with nothing listening (yet).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = app.reconfigured(|c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.smtp_retry_secs = 1;
    });
    let owner = app.user("owner").await;
    let jo = app.user("jo").await;
    let org = app.org(&owner, "Acme").await;
    let r = invite(&app, &org, &owner.token, "jo@example.com", "member").await;
    let body = r.expect(201).clone();
    assert_eq!(body["delivery"], "failed");
    assert!(!body["delivery_error"].as_str().unwrap().is_empty());
    let list = app
        .get(&format!("/organizations/{org}/invitations"), &owner.token)
        .await;
    assert_eq!(list.expect(200)[0]["status"], "pending");
    assert_eq!(list.body[0]["delivery"], "failed");

    // The mail server comes back; the retry delivers a working link.
    let sink = SmtpSink::start_on(port).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    orgd::mailer::retry_due(&app.state).await;
    let mails = sink.messages.lock().await.clone();
    assert_eq!(mails.len(), 1);
    let list = app
        .get(&format!("/organizations/{org}/invitations"), &owner.token)
        .await;
    assert_eq!(list.expect(200)[0]["delivery"], "sent");
    app.post(
        "/invitations/accept",
        &jo.token,
        json!({"token": token_in(&mails[0])}),
    )
    .await
    .expect(200);
    let _ = PASSWORD;
}

/// The invitee answers from their own list, without the link: only with a verified address that
/// is the invited one, and a personal session.
async fn invitees_answer_from_their_own_list(app: TestApp) {
    let owner = app.user("owner").await;
    let bob = app.user("bob").await;
    let eve = app.user("eve").await;
    let org = app.org(&owner, "Acme").await;
    let inv = invite(&app, &org, &owner.token, "bob@example.com", "admin").await;
    let id = inv.expect(201)["id"].as_str().unwrap().to_string();
    let accept = format!("/users/me/invitations/{id}/accept");

    // Another user, even one who knows the id, is told there is no such invitation.
    app.post(&accept, &eve.token, json!({}))
        .await
        .expect_error(404, "not_found");
    app.post(
        "/users/me/invitations/not-an-id/accept",
        &bob.token,
        json!({}),
    )
    .await
    .expect_error(404, "not_found");
    // A token scoped to an organization (here one of Bob's own) answers nothing.
    let own = app.org(&bob, "Bob's").await;
    let scoped = app
        .token_for(
            bob.id,
            orgd::store::TokenKind::Pat,
            Some(own.parse().unwrap()),
        )
        .await;
    app.post(&accept, &scoped, json!({}))
        .await
        .expect_error(403, "forbidden");
    // An unverified address proves nothing: the link is needed then.
    let su = app.superuser("root").await;
    app.patch(
        &format!("/users/{}", bob.id),
        &su.token,
        json!({"email_verified": false}),
    )
    .await
    .expect(200);
    app.post(&accept, &bob.token, json!({}))
        .await
        .expect_error(403, "forbidden");
    assert_eq!(
        app.get(&format!("/organizations/{org}"), &owner.token)
            .await
            .expect(200)["member_count"],
        1
    );
    app.patch(
        &format!("/users/{}", bob.id),
        &su.token,
        json!({"email_verified": true}),
    )
    .await
    .expect(200);

    let accepted = app.post(&accept, &bob.token, json!({})).await;
    assert_eq!(accepted.expect(200)["member"]["role"], "admin");
    assert!(accepted.body["session"].is_null());
    app.get(
        &format!("/organizations/{org}/members/{}", bob.id),
        &owner.token,
    )
    .await
    .expect(200);
    // Once.
    app.post(&accept, &bob.token, json!({}))
        .await
        .expect_error(404, "not_found");

    // Declining: the invitation is declined and its link dead.
    let inv = invite(&app, &org, &owner.token, "eve@example.com", "member").await;
    let inv = inv.expect(201).clone();
    app.post(
        &format!(
            "/users/me/invitations/{}/decline",
            inv["id"].as_str().unwrap()
        ),
        &eve.token,
        json!({}),
    )
    .await
    .expect(200);
    app.post(
        "/invitations/accept",
        &eve.token,
        json!({"token": inv["token"]}),
    )
    .await
    .expect_error(409, "conflict");
    assert_eq!(
        app.get("/users/me/invitations", &eve.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

/// Accepting by id and by the link at once, twenty-five times each, and a revocation racing them:
/// at most one membership, and none after a revocation that won.
async fn accepts_by_id_and_by_link_race_to_one_membership(app: TestApp) {
    use tower::ServiceExt;
    let owner = app.user("owner").await;
    let hank = app.user("hank").await;
    let org = app.org(&owner, "Acme").await;
    let inv = invite(&app, &org, &owner.token, "hank@example.com", "member").await;
    let inv = inv.expect(201).clone();
    let (id, token) = (
        inv["id"].as_str().unwrap().to_string(),
        inv["token"].as_str().unwrap().to_string(),
    );
    let mut tasks = Vec::new();
    for i in 0..51 {
        let router = app.router.clone();
        let (id, token, org) = (id.clone(), token.clone(), org.clone());
        let (auth, owner_auth) = (hank.token.clone(), owner.token.clone());
        tasks.push(tokio::spawn(async move {
            let req = match i {
                50 => axum::http::Request::delete(format!("/organizations/{org}/invitations/{id}"))
                    .header("authorization", format!("Bearer {owner_auth}"))
                    .body(axum::body::Body::empty()),
                i if i % 2 == 0 => {
                    axum::http::Request::post(format!("/users/me/invitations/{id}/accept"))
                        .header("authorization", format!("Bearer {auth}"))
                        .body(axum::body::Body::empty())
                }
                _ => axum::http::Request::post("/invitations/accept")
                    .header("authorization", format!("Bearer {auth}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(json!({"token": token}).to_string())),
            }
            .unwrap();
            (i, router.oneshot(req).await.unwrap().status().as_u16())
        }));
    }
    let (mut accepted, mut revoked) = (0, false);
    for t in tasks {
        match t.await.unwrap() {
            (50, 200) => revoked = true,
            (50, s) => assert!(matches!(s, 400 | 404 | 409), "revocation: {s}"),
            (_, 200) => accepted += 1,
            (_, s) => assert!(matches!(s, 400 | 404 | 409), "accept: {s}"),
        }
    }
    let n = app.count("SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.username = 'hank'").await;
    assert_eq!(n, accepted, "memberships made");
    assert!(accepted <= 1, "{accepted} accepts succeeded");
    assert!(
        accepted == 1 || revoked,
        "neither an accept nor the revocation won"
    );
    assert!(
        !(accepted == 1 && revoked),
        "both an accept and the revocation won"
    );
}

on_both_engines!(
    accepts_by_id_and_by_link_race_to_one_membership,
    invitees_answer_from_their_own_list,
    lifecycle_in_development_mode,
    accepting_needs_the_invited_email,
    accepting_creates_the_account_of_a_new_invitee,
    revoked_declined_and_expired_invitations_are_refused,
    fifty_concurrent_accepts_make_one_membership,
    delivery_over_smtp_carries_the_accept_link,
    an_unreachable_mail_server_loses_no_invitation,
);
