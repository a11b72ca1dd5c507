//! Email verification over real SMTP: the link sent at sign-up verifies the address once; an
//! installation can require verified addresses to sign in; resending does not tell who has an
//! account; a new address is unverified again; superusers mark addresses verified and set
//! forgotten passwords.

mod common;

use common::{SmtpSink, TestApp};
use serde_json::{Value, json};

async fn anon(app: &TestApp, path: &str, body: Value) -> common::TestResponse {
    app.request(axum::http::Method::POST, path, None, Some(body))
        .await
}

/// The `orgd_vfy_…` token in a mail (quoted-printable may wrap it: joined first).
fn token_in(mail: &str) -> String {
    let joined = mail.replace("=\n", "");
    let start = joined
        .find("orgd_vfy_")
        .expect("a verification token in the mail");
    joined[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

async fn the_signup_link_verifies_the_address_once(app: TestApp) {
    let sink = SmtpSink::start().await;
    let app = app.reconfigured(|c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
    });
    let r = anon(
        &app,
        "/auth/signup",
        json!({"email": "vera@example.com", "password": "correct horse battery"}),
    )
    .await;
    let session = r.expect(201)["access_token"].as_str().unwrap().to_string();
    assert_eq!(r.body["user"]["email_verified"], false);
    let mail = sink.wait_for(1).await;
    assert!(mail.contains("vera@example.com"), "{mail}");
    let plain = mail.replace("=\n", "").replace("=3D", "=");
    assert!(
        plain.contains("/console/verify-email?token=orgd_vfy_"),
        "{mail}"
    );
    let token = token_in(&mail);

    // A wrong or malformed token changes nothing.
    for bad in ["orgd_vfy_0000", "orgd_pwr_abc", ""] {
        anon(&app, "/auth/verify-email", json!({"token": bad}))
            .await
            .expect_error(404, "not_found");
    }
    assert_eq!(
        app.get("/users/me", &session).await.expect(200)["email_verified"],
        false
    );
    let verified = anon(&app, "/auth/verify-email", json!({"token": token})).await;
    assert_eq!(verified.expect(200)["email_verified"], true);
    assert_eq!(
        app.get("/users/me", &session).await.expect(200)["email_verified"],
        true
    );
    // Single use.
    anon(&app, "/auth/verify-email", json!({"token": token}))
        .await
        .expect_error(404, "not_found");
    // Verified: a resend sends nothing, and answers the same as for an unknown address.
    for email in ["vera@example.com", "nobody@example.com"] {
        assert_eq!(
            anon(&app, "/auth/verify-email/resend", json!({"email": email}))
                .await
                .expect(202),
            &json!({"ok": true})
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.messages.lock().await.len(), 1);

    // A new address is unverified again, and an old link no longer verifies it.
    let r = anon(
        &app,
        "/auth/signup",
        json!({"email": "walt@example.com", "password": "correct horse battery"}),
    )
    .await;
    let walt = r.expect(201)["user"]["id"].as_str().unwrap().to_string();
    let old = token_in(&sink.wait_for(2).await);
    let root = app.superuser("root").await;
    let moved = app
        .patch(
            &format!("/users/{walt}"),
            &root.token,
            json!({"email_verified": true}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(moved["email_verified"], true);
    let moved = app
        .patch(
            &format!("/users/{walt}"),
            &root.token,
            json!({"email": "walter@example.com"}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(moved["email_verified"], false);
    // The link went to the old address: it proves nothing about the new one.
    anon(&app, "/auth/verify-email", json!({"token": old}))
        .await
        .expect_error(404, "not_found");

    // Expired links are refused.
    anon(
        &app,
        "/auth/verify-email/resend",
        json!({"email": "walter@example.com"}),
    )
    .await
    .expect(202);
    let fresh = token_in(&sink.wait_for(3).await);
    assert!(sink.wait_for(3).await.contains("walter@example.com"));
    app.exec("UPDATE email_verifications SET expires_at = 0")
        .await;
    anon(&app, "/auth/verify-email", json!({"token": fresh}))
        .await
        .expect_error(404, "not_found");
}

async fn an_installation_can_require_verified_addresses(app: TestApp) {
    let sink = SmtpSink::start().await;
    let app = app.reconfigured(|c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{}", sink.port));
        c.require_verified_email = true;
    });
    let r = anon(
        &app,
        "/auth/signup",
        json!({"email": "una@example.com", "password": "correct horse battery"}),
    )
    .await;
    let body = r.expect(202).clone();
    assert_eq!(body["email_verification_required"], true);
    assert!(body.get("access_token").is_none(), "{body}");
    let login = json!({"login": "una@example.com", "password": "correct horse battery"});
    anon(&app, "/auth/login", login.clone())
        .await
        .expect_error(403, "email_not_verified");
    // A wrong password still gets the same 401 as for anyone: nothing leaks.
    anon(
        &app,
        "/auth/login",
        json!({"login": "una@example.com", "password": "wrong password!"}),
    )
    .await
    .expect_error(401, "invalid_credentials");
    // The first link, then a resent one: either verifies; after one, the other is spent.
    let first = token_in(&sink.wait_for(1).await);
    anon(
        &app,
        "/auth/verify-email/resend",
        json!({"email": "UNA@example.com"}),
    )
    .await
    .expect(202);
    let second = token_in(&sink.wait_for(2).await);
    assert_ne!(first, second);
    anon(&app, "/auth/verify-email", json!({"token": second}))
        .await
        .expect(200);
    anon(&app, "/auth/verify-email", json!({"token": first}))
        .await
        .expect_error(404, "not_found");
    anon(&app, "/auth/login", login).await.expect(200);
}

async fn superusers_verify_addresses_and_set_passwords(app: TestApp) {
    let root = app.superuser("root").await;
    let r = anon(
        &app,
        "/auth/signup",
        json!({"email": "xena@example.com", "password": "correct horse battery"}),
    )
    .await;
    let session = r.expect(201)["access_token"].as_str().unwrap().to_string();
    let id = r.body["user"]["id"].as_str().unwrap().to_string();
    // Nobody marks their own address verified.
    app.patch("/users/me", &session, json!({"email_verified": true}))
        .await
        .expect_error(400, "invalid_request");
    app.patch(
        &format!("/users/{id}"),
        &session,
        json!({"email_verified": true}),
    )
    .await
    .expect_error(403, "forbidden");
    let u = app
        .patch(
            &format!("/users/{id}"),
            &root.token,
            json!({"email_verified": true}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(u["email_verified"], true);
    // A forgotten password, set by a superuser: the old one and every session end.
    app.patch(
        &format!("/users/{id}"),
        &root.token,
        json!({"password": "short"}),
    )
    .await
    .expect_error(400, "invalid_request");
    app.patch(
        &format!("/users/{id}"),
        &root.token,
        json!({"password": "a brand new passphrase"}),
    )
    .await
    .expect(200);
    app.get("/users/me", &session)
        .await
        .expect_error(401, "unauthenticated");
    anon(
        &app,
        "/auth/login",
        json!({"login": "xena@example.com", "password": "correct horse battery"}),
    )
    .await
    .expect_error(401, "invalid_credentials");
    anon(
        &app,
        "/auth/login",
        json!({"login": "xena@example.com", "password": "a brand new passphrase"}),
    )
    .await
    .expect(200);
    // Service accounts have no password to set.
    let bot = app.service_account("bot").await;
    app.patch(
        &format!("/users/{}", bot.id),
        &root.token,
        json!({"password": "a brand new passphrase"}),
    )
    .await
    .expect_error(400, "invalid_request");
    // A superuser-provisioned account can start verified.
    let created = app
        .post(
            "/users",
            &root.token,
            json!({"email": "yuri@example.com", "email_verified": true}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(created["email_verified"], true);
}

on_both_engines!(
    the_signup_link_verifies_the_address_once,
    an_installation_can_require_verified_addresses,
    superusers_verify_addresses_and_set_passwords,
);
