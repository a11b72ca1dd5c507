//! SSO against a real OpenID Provider (`oidc-provider` from npm, on loopback), on both engines:
//! verified domains, the whole redirect flow (PKCE, state, nonce), just-in-time membership,
//! account linking, home-realm discovery, refused ID tokens (tampered, wrong audience, expired,
//! wrong nonce, `alg: none`, HMAC confusion), a replayed state, a key rotation, force SSO with
//! its break-glass path, and redirects only to allowed URLs.

mod common;

use common::TestApp;
use common::idp::{CLIENT_ID, CLIENT_SECRET, Provider};
use serde_json::{Value, json};

/// Runs a story on both engines with the provider's proof URL in the configuration.
macro_rules! sso_story {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let idp = crate::common::idp::Provider::start();
                    let proof = idp.proof_url();
                    let issuer = idp.issuer();
                    let app = crate::common::TestApp::sqlite_with(|c| {
                        c.domain_verification_url = proof;
                        c.external_jwt = Some((issuer, "orgd-api".into()));
                    })
                    .await;
                    super::$name(app, idp).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let idp = crate::common::idp::Provider::start();
                    let proof = idp.proof_url();
                    let issuer = idp.issuer();
                    let adjust = |c: &mut orgd::config::Config| {
                        c.domain_verification_url = proof;
                        c.external_jwt = Some((issuer, "orgd-api".into()));
                    };
                    if let Some(app) = crate::common::TestApp::postgres_with(adjust).await {
                        super::$name(app, idp).await;
                    }
                }
            )*
        }
    };
}

/// An organization owned by `owner` with `acme.test` verified through its well-known file.
async fn verified_org(app: &TestApp, idp: &Provider, owner: &common::TestUser) -> String {
    let org = app.org(owner, "Acme").await;
    let d = app
        .post(
            &format!("/organizations/{org}/domains"),
            &owner.token,
            json!({"domain": "Acme.TEST"}),
        )
        .await
        .expect(201)
        .clone();
    assert_eq!(d["domain"], "acme.test");
    assert_eq!(d["verified"], false);
    let id = d["id"].as_str().unwrap();
    let verify = format!("/organizations/{org}/domains/{id}/verify");
    // No proof yet.
    let r = app.post(&verify, &owner.token, json!({})).await;
    r.expect_error(409, "conflict");
    assert!(r.text.contains("is not verified"), "{}", r.text);
    idp.prove("acme.test", d["verification"]["token"].as_str().unwrap())
        .await;
    let done = app.post(&verify, &owner.token, json!({})).await;
    assert_eq!(done.expect(200)["verified"], true);
    assert_eq!(done.body["verified_by"], "http");
    org
}

async fn provider(
    app: &TestApp,
    idp: &Provider,
    org: &str,
    owner: &common::TestUser,
    extra: Value,
) -> Value {
    let mut body = json!({
        "name": "Acme IdP",
        "issuer": idp.issuer(),
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "domains": ["acme.test"],
        "jit_provisioning": true,
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.post(
        &format!("/organizations/{org}/sso-providers"),
        &owner.token,
        body,
    )
    .await
    .expect(201)
    .clone()
}

/// Starts at `start` (an orgd path), signs in at the provider, and answers orgd's callback.
async fn sign_in(app: &TestApp, idp: &Provider, start: &str) -> common::TestResponse {
    let r = app
        .request(axum::http::Method::GET, start, None, None)
        .await;
    assert_eq!(r.status, 302, "{start}: {}", r.text);
    let location = r.header("location").unwrap().to_string();
    let back = idp.sign_in(&location).await;
    assert!(back.starts_with("/auth/sso/callback?"), "{back}");
    app.request(axum::http::Method::GET, &back, None, None)
        .await
}

async fn signing_in_through_the_provider(app: TestApp, idp: Provider) {
    let owner = app.user("owner").await;
    let org = verified_org(&app, &idp, &owner).await;

    // Another organization cannot verify the same domain.
    let rival = app.user("rival").await;
    let other = app.org(&rival, "Rival").await;
    let d = app
        .post(
            &format!("/organizations/{other}/domains"),
            &rival.token,
            json!({"domain": "acme.test"}),
        )
        .await
        .expect(201)
        .clone();
    let r = app
        .post(
            &format!(
                "/organizations/{other}/domains/{}/verify",
                d["id"].as_str().unwrap()
            ),
            &rival.token,
            json!({}),
        )
        .await;
    r.expect_error(409, "conflict");
    // Nor may a non-superuser skip the proof.
    app.post(
        &format!(
            "/organizations/{other}/domains/{}/verify",
            d["id"].as_str().unwrap()
        ),
        &rival.token,
        json!({"skip_check": true}),
    )
    .await
    .expect(403);

    // A provider only routes verified domains, and never makes owners.
    let base = format!("/organizations/{org}/sso-providers");
    for (bad, field) in [
        (json!({"domains": ["other.test"]}), "other.test"),
        (json!({"default_role": "owner"}), "owner"),
        (json!({"issuer": "ftp://x"}), "issuer"),
    ] {
        let mut body =
            json!({"name": "X", "issuer": idp.issuer(), "client_id": "c", "client_secret": "s"});
        for (k, v) in bad.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app.post(&base, &owner.token, body).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert!(r.text.contains(field), "{}", r.text);
    }
    // A caller who may manage providers but holds less than the default role would grant:
    // refused, so SSO cannot hand out more than its maker has.
    app.post(
        &format!("/organizations/{org}/roles"),
        &owner.token,
        json!({"key": "sso-admin", "name": "SSO admin", "permissions": ["organization:update"]}),
    )
    .await
    .expect(201);
    let limited = app.user("limited").await;
    app.add(&org, &owner, &limited, "sso-admin").await;
    let r = app
        .post(
            &base,
            &limited.token,
            json!({"name": "X", "issuer": idp.issuer(), "client_id": "c", "client_secret": "s",
                   "default_role": "member"}),
        )
        .await;
    r.expect_error(403, "forbidden");
    assert!(r.text.contains("you do not hold"), "{}", r.text);
    let p = provider(&app, &idp, &org, &owner, json!({})).await;
    assert_eq!(p["type"], "oidc");
    assert_eq!(p["redirect_uri"], "http://orgd.test/auth/sso/callback");
    assert_eq!(p["scopes"], json!(["openid", "email", "profile"]));
    let pid = p["id"].as_str().unwrap().to_string();
    let listed = app.get(&base, &owner.token).await;
    assert!(
        !listed.text.contains(CLIENT_SECRET),
        "the secret is never shown"
    );
    assert!(
        !app.get(&format!("/organizations/{org}/audit-log"), &owner.token)
            .await
            .text
            .contains(CLIENT_SECRET)
    );

    // The redirect carries PKCE, state and nonce.
    let r = app
        .request(
            axum::http::Method::GET,
            &format!("/auth/sso/{pid}/start"),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 302);
    let to = r.header("location").unwrap();
    for part in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "response_type=code",
    ] {
        assert!(to.contains(part), "{part} in {to}");
    }

    // A first sign-in provisions the user, verified, and makes them a member (JIT).
    idp.account("alice-sub", "alice@acme.test", true).await;
    let r = sign_in(&app, &idp, &format!("/auth/sso/{pid}/start")).await;
    let alice = r.expect(200).clone();
    assert_eq!(alice["user"]["email"], "alice@acme.test");
    assert_eq!(alice["user"]["email_verified"], true);
    let alice_token = alice["access_token"].as_str().unwrap().to_string();
    let member = app
        .get(
            &format!(
                "/organizations/{org}/members/{}",
                alice["user"]["id"].as_str().unwrap()
            ),
            &owner.token,
        )
        .await;
    assert_eq!(member.expect(200)["role"], "member");
    app.get(&format!("/organizations/{org}"), &alice_token)
        .await
        .expect(200);
    // The sign-in is in the audit log.
    let log = app
        .get(
            &format!("/organizations/{org}/audit-log?action=session.created"),
            &owner.token,
        )
        .await;
    assert!(
        log.text.contains(alice["user"]["id"].as_str().unwrap()),
        "{}",
        log.text
    );

    // The same identity signs in as the same user.
    let again = sign_in(&app, &idp, &format!("/auth/sso/{pid}/start")).await;
    assert_eq!(again.expect(200)["user"]["id"], alice["user"]["id"]);

    // An existing account with that email is linked, not duplicated.
    let bob = app
        .post(
            "/auth/signup",
            "",
            json!({"email": "bob@acme.test", "password": common::PASSWORD}),
        )
        .await
        .expect(201)
        .clone();
    idp.account("bob-sub", "BOB@acme.test", true).await;
    let r = sign_in(&app, &idp, &format!("/auth/sso/start?organization={org}")).await;
    assert_eq!(r.expect(200)["user"]["id"], bob["user"]["id"]);

    // Home-realm discovery by the email's domain, with the email as login hint.
    let r = app
        .request(
            axum::http::Method::GET,
            "/auth/sso/start?email=carol%40acme.test",
            None,
            None,
        )
        .await;
    assert_eq!(r.status, 302, "{}", r.text);
    assert!(
        r.header("location")
            .unwrap()
            .contains("login_hint=carol%40acme.test")
    );
    app.request(
        axum::http::Method::GET,
        "/auth/sso/start?email=carol%40elsewhere.test",
        None,
        None,
    )
    .await
    .expect(404);

    // A state is used once.
    let r = app
        .request(
            axum::http::Method::GET,
            &format!("/auth/sso/{pid}/start"),
            None,
            None,
        )
        .await;
    let back = idp.sign_in(r.header("location").unwrap()).await;
    app.request(axum::http::Method::GET, &back, None, None)
        .await
        .expect(200);
    app.request(axum::http::Method::GET, &back, None, None)
        .await
        .expect_error(400, "invalid_request");

    // After the sign-in, only an allowed URL, with the session in the fragment.
    let r = sign_in(
        &app,
        &idp,
        &format!("/auth/sso/{pid}/start?return_to=https%3A%2F%2Fapp.acme.test%2Fsigned-in%2Fhome"),
    )
    .await;
    assert_eq!(r.status, 302, "{}", r.text);
    let to = r.header("location").unwrap();
    assert!(
        to.starts_with("https://app.acme.test/signed-in/home#access_token=orgd_s_"),
        "{to}"
    );
    for evil in [
        "https://evil.test/signed-in",
        "https://app.acme.test.evil.test/signed-in",
        "https://app.acme.test/elsewhere",
        "http://app.acme.test/signed-in",
    ] {
        let path = format!(
            "/auth/sso/{pid}/start?return_to={}",
            url::form_urlencoded::byte_serialize(evil.as_bytes()).collect::<String>()
        );
        app.request(axum::http::Method::GET, &path, None, None)
            .await
            .expect_error(400, "invalid_request");
    }

    // An address outside the provider's verified domains is never signed in: another
    // organization's provider cannot take over a stranger's account.
    app.user("victim").await;
    idp.account("mallory", "victim@example.com", true).await;
    let r = sign_in(&app, &idp, &format!("/auth/sso/{pid}/start")).await;
    r.expect_error(403, "forbidden");
    // Nor an unverified address.
    idp.account("dave-sub", "dave@acme.test", false).await;
    let r = sign_in(&app, &idp, &format!("/auth/sso/{pid}/start")).await;
    r.expect_error(401, "sso_failed");
    app.get("/users/me", &owner.token).await.expect(200);
}

async fn bad_id_tokens_are_refused(app: TestApp, idp: Provider) {
    let owner = app.user("owner").await;
    let org = verified_org(&app, &idp, &owner).await;
    let p = provider(&app, &idp, &org, &owner, json!({})).await;
    let start = format!("/auth/sso/{}/start", p["id"].as_str().unwrap());
    idp.account("erin-sub", "erin@acme.test", true).await;
    for mode in [
        "signature",
        "audience",
        "expired",
        "nonce",
        "alg_none",
        "hs256",
    ] {
        idp.tamper(Some(mode)).await;
        let r = sign_in(&app, &idp, &start).await;
        assert_eq!(r.status, 401, "{mode}: {}", r.text);
        assert_eq!(r.code(), "sso_failed", "{mode}");
    }
    // No account was made by any of them.
    let members = app
        .get(&format!("/organizations/{org}/members"), &owner.token)
        .await
        .expect(200)
        .clone();
    assert_eq!(members.as_array().unwrap().len(), 1);

    // A key rotation: orgd fetches the new key set and signs the user in.
    idp.tamper(None).await;
    sign_in(&app, &idp, &start).await.expect(200);
    idp.rotate().await;
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let r = sign_in(&app, &idp, &start).await;
    assert_eq!(r.status, 200, "after a key rotation: {}", r.text);
}

async fn force_sso_requires_the_provider(app: TestApp, idp: Provider) {
    let owner = app.user("owner").await;
    // The owner's own address is in the domain: the break-glass path keeps it working.
    let owner_login = app
        .post(
            "/auth/signup",
            "",
            json!({"email": "root@acme.test", "password": common::PASSWORD}),
        )
        .await
        .expect(201)
        .clone();
    let boss_token = owner_login["access_token"].as_str().unwrap().to_string();
    let org = verified_org(&app, &idp, &owner).await;
    let boss_id: uuid::Uuid = owner_login["user"]["id"].as_str().unwrap().parse().unwrap();
    app.post(
        &format!("/organizations/{org}/members"),
        &owner.token,
        json!({"user_id": boss_id, "role": "owner"}),
    )
    .await
    .expect(201);
    // A member of the domain with a password, and one of another domain.
    let frank = app
        .post(
            "/auth/signup",
            "",
            json!({"email": "frank@acme.test", "password": common::PASSWORD}),
        )
        .await
        .expect(201)
        .clone();
    let frank_id: uuid::Uuid = frank["user"]["id"].as_str().unwrap().parse().unwrap();
    let frank_password = frank["access_token"].as_str().unwrap().to_string();
    app.post(
        &format!("/organizations/{org}/members"),
        &owner.token,
        json!({"user_id": frank_id, "role": "member"}),
    )
    .await
    .expect(201);
    let guest = app.user("guest").await;
    app.add(&org, &owner, &guest, "member").await;
    let frank_pat = app
        .post("/tokens", &frank_password, json!({"name": "ci"}))
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();

    let p = provider(&app, &idp, &org, &owner, json!({"force_sso": true})).await;
    let pid = p["id"].as_str().unwrap().to_string();
    let path = format!("/organizations/{org}");
    // A password session and a token minted from one: refused.
    app.get(&path, &frank_password)
        .await
        .expect_error(403, "sso_required");
    let r = app.get(&format!("{path}/members"), &frank_pat).await;
    r.expect_error(403, "sso_required");
    assert!(r.text.contains(&pid), "{}", r.text);
    // Others are not affected: another domain, and owners (break glass).
    app.get(&path, &guest.token).await.expect(200);
    app.get(&path, &boss_token).await.expect(200);
    app.get(&path, &owner.token).await.expect(200);

    // Through the provider: the session and a token minted from it work.
    idp.account("frank-sub", "frank@acme.test", true).await;
    let r = sign_in(&app, &idp, &format!("/auth/sso/{pid}/start")).await;
    let sso = r.expect(200)["access_token"].as_str().unwrap().to_string();
    assert_eq!(r.body["user"]["id"], frank["user"]["id"]);
    app.get(&path, &sso).await.expect(200);
    let sso_pat = app
        .post("/tokens", &sso, json!({"name": "from sso"}))
        .await
        .expect(201)["token"]
        .as_str()
        .unwrap()
        .to_string();
    app.get(&path, &sso_pat).await.expect(200);

    // Switched off: password sessions work again at once.
    app.patch(
        &format!("/organizations/{org}/sso-providers/{pid}"),
        &owner.token,
        json!({"force_sso": false}),
    )
    .await
    .expect(200);
    app.get(&path, &frank_password).await.expect(200);
    app.get(&path, &frank_pat).await.expect(200);

    // A plain member cannot manage providers.
    app.patch(
        &format!("/organizations/{org}/sso-providers/{pid}"),
        &guest.token,
        json!({"force_sso": true}),
    )
    .await
    .expect(403);

    // Removing the provider ends the sessions it made.
    app.delete(
        &format!("/organizations/{org}/sso-providers/{pid}"),
        &owner.token,
    )
    .await
    .expect(200);
    app.get("/users/me", &sso).await.expect(401);
    app.get("/users/me", &sso_pat).await.expect(401);
    app.get("/users/me", &frank_password).await.expect(200);
}

async fn the_installations_provider_signs_bearer_tokens(app: TestApp, idp: Provider) {
    let token = idp
        .mint(json!({"sub": "gina-sub", "email": "gina@corp.test", "aud": "orgd-api"}))
        .await;
    // Provisioned on first use, the same user after.
    let me = app.get("/users/me", &token).await.expect(200).clone();
    assert_eq!(me["email"], "gina@corp.test");
    assert_eq!(me["email_verified"], true);
    let again = app.get("/users/me", &token).await;
    assert_eq!(again.expect(200)["id"], me["id"]);
    // It acts as the user: an organization of their own.
    let org = app
        .post("/organizations", &token, json!({"name": "Gina's"}))
        .await
        .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.get(&format!("/organizations/{org}"), &token)
        .await
        .expect(200);
    // An existing account is the one it maps to.
    let owner = app.user("hal").await;
    let hal = idp
        .mint(json!({"sub": "hal", "email": owner.email, "aud": "orgd-api"}))
        .await;
    assert_eq!(
        app.get("/users/me", &hal).await.expect(200)["id"],
        owner.id.to_string()
    );
    // Refused: another audience, an expired token, an unverified email, `alg: none`, a
    // tampered signature, a superuser's address.
    let refused = [
        idp.mint(json!({"sub": "g", "email": "gina@corp.test", "aud": "someone-else"})).await,
        idp.mint(json!({"sub": "g", "email": "gina@corp.test", "aud": "orgd-api", "expires_in": -600})).await,
        idp.mint(json!({"sub": "i", "email": "ivan@corp.test", "aud": "orgd-api", "email_verified": false})).await,
        idp.mint(json!({"sub": "g", "email": "gina@corp.test", "aud": "orgd-api", "alg_none": true})).await,
        {
            let t = idp.mint(json!({"sub": "g", "email": "gina@corp.test", "aud": "orgd-api"})).await;
            let (rest, sig) = t.rsplit_once('.').unwrap();
            let flipped = if sig.starts_with('A') { "B" } else { "A" };
            format!("{rest}.{flipped}{}", &sig[1..])
        },
        {
            let root = app.superuser("root").await;
            idp.mint(json!({"sub": "r", "email": root.email, "aud": "orgd-api"})).await
        },
    ];
    for t in &refused {
        app.get("/users/me", t)
            .await
            .expect_error(401, "unauthenticated");
    }
    // No account was made for the unverified address.
    let root = app.superuser("root2").await;
    let users = app.get("/users?q=ivan", &root.token).await;
    assert_eq!(users.expect(200), &json!([]));
}

sso_story!(
    the_installations_provider_signs_bearer_tokens,
    signing_in_through_the_provider,
    bad_id_tokens_are_refused,
    force_sso_requires_the_provider,
);
