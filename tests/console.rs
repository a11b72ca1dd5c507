//! The web console in a real browser (Debian's headless chromium, `common::browser`) against
//! `orgd serve` as a process, on both engines: inviting and accepting, role changes, the last
//! owner, what an admin is offered, tenant isolation, the operator's suspension, CSRF from
//! another origin, the keyboard, and screenshots of the main pages at 360 and 1440 px
//! (`target/console-screenshots/`).

mod common;

use common::browser::{Browser, screenshot_dir};
use common::idp::Provider;
use common::node::Node;
use common::{PASSWORD, TestApp, wire};
use serde_json::{Value, json};

/// Signs in on `page` with the form, keyboard only: type, Tab, type, Enter.
async fn sign_in(b: &Browser, page: &str, base: &str, login: &str) {
    b.goto(page, &format!("{base}/console/sign-in")).await;
    // The login field has the focus when the page opens (autofocus applies at the next
    // rendering, which a busy machine may delay a little).
    let mut focused = None;
    for _ in 0..50 {
        focused = b.focused(page).await.id;
        if focused.as_deref() == Some("login") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(focused.as_deref(), Some("login"));
    b.fill(page, "#login", login).await;
    b.press(page, "Tab").await;
    assert_eq!(b.focused(page).await.id.as_deref(), Some("password"));
    b.fill(page, "#password", PASSWORD).await;
    b.press(page, "Enter").await;
    let url = b.url(page).await;
    assert!(
        url.ends_with("/console"),
        "signed in as {login}, at {url}: {}",
        b.text(page, "body").await
    );
}

async fn api(node: &Node, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let (status, body) = node
        .call(method, path, Some(token), body)
        .await
        .expect("the node answers");
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {body}"
    );
    body
}

/// A new organization of the caller's, made through the API: its id.
async fn organization(node: &Node, token: &str, body: Value) -> String {
    let org = api(node, "POST", "/organizations", token, Some(body)).await;
    org["id"].as_str().unwrap().to_string()
}

/// The notice that explains a refusal, as the page shows it.
async fn error_shown(b: &Browser, page: &str) -> String {
    assert!(
        b.exists(page, ".notice.error").await,
        "no error shown at {}: {}",
        b.url(page).await,
        b.text(page, "body").await
    );
    b.text(page, ".notice.error").await
}

async fn members_story(app: TestApp) {
    let owner = app.user("olive").await;
    let node = Node::start(&app.state.config.database_url, &[]).await;
    let base = format!("http://127.0.0.1:{}", node.port);
    let org = organization(&node, &owner.token, json!({"name": "Acme"})).await;
    let b = Browser::start().await;
    b.open("owner", 1440, 900).await;
    sign_in(&b, "owner", &base, "olive@example.com").await;

    // The owner invites Bob. Without a mail server, the page hands over the link, once.
    b.goto("owner", &format!("{base}/console/orgs/{org}/members"))
        .await;
    b.fill("owner", "#invite-email", "bob@example.com").await;
    b.select("owner", "#invite-role", "member").await;
    assert_eq!(b.submit("owner", "#invite form").await, Some(201));
    let link = b.text("owner", "#secret").await;
    assert!(
        link.starts_with(&format!(
            "{base}/console/invitations/accept?token=orgd_inv_"
        )),
        "{link}"
    );
    b.goto("owner", &format!("{base}/console/orgs/{org}/invitations"))
        .await;
    assert!(
        b.text("owner", "#invitations")
            .await
            .contains("bob@example.com")
    );

    // Bob opens the link on his phone and creates his account.
    b.open("bob", 360, 780).await;
    assert_eq!(b.goto("bob", &link).await, 200);
    b.fill("bob", "#new-account-name", "Bob Example").await;
    b.fill("bob", "#new-account-password", "bob's long password")
        .await;
    b.submit("bob", "form[action='/console/invitations/new-account']")
        .await;
    assert!(
        b.url("bob")
            .await
            .ends_with(&format!("/console/orgs/{org}"))
    );
    assert!(b.text("bob", "h1").await.contains("Acme"));

    // He is in the owner's list, and the invitation is gone from the pending ones.
    b.goto("owner", &format!("{base}/console/orgs/{org}/members"))
        .await;
    let members = b.text("owner", "#members").await;
    assert!(members.contains("bob@example.com"), "{members}");
    let bob = api(
        &node,
        "GET",
        &format!("/organizations/{org}/members?q=bob"),
        &owner.token,
        None,
    )
    .await;
    let bob_id = bob[0]["user_id"].as_str().unwrap().to_string();
    assert_eq!(bob[0]["role"], "member");

    // A role change, with the keyboard: the role's select, the arrow up to "Admin" (just above
    // "Member"), Tab to its button, Enter.
    b.eval(
        "owner",
        &format!("document.getElementById('role-{bob_id}').focus()"),
    )
    .await;
    b.press("owner", "ArrowUp").await;
    assert_eq!(
        b.eval(
            "owner",
            &format!("document.getElementById('role-{bob_id}').value")
        )
        .await,
        json!("admin")
    );
    b.press("owner", "Tab").await;
    assert_eq!(b.focused("owner").await.text, "Change role");
    b.press("owner", "Enter").await;
    assert!(
        b.text("owner", ".notice.ok")
            .await
            .contains("bob@example.com is now admin")
    );
    let m = api(
        &node,
        "GET",
        &format!("/organizations/{org}/members/{bob_id}"),
        &owner.token,
        None,
    )
    .await;
    assert_eq!(m["role"], "admin");

    // The last owner cannot step down: the API's explanation is shown, and nothing changed.
    let owner_id = owner.id.to_string();
    b.select("owner", &format!("#role-{owner_id}"), "member")
        .await;
    assert_eq!(
        b.submit("owner", &format!("tr[data-user='{owner_id}'] form"))
            .await,
        Some(400)
    );
    let shown = error_shown(&b, "owner").await;
    // The browser logs the refusal's status; that one is expected.
    b.problems("owner").await;
    assert!(
        shown.contains("The organization must keep at least one owner"),
        "{shown}"
    );
    assert!(
        !shown.contains("last_owner"),
        "a code, not the text: {shown}"
    );
    let m = api(
        &node,
        "GET",
        &format!("/organizations/{org}/members/{owner_id}"),
        &owner.token,
        None,
    )
    .await;
    assert_eq!(m["role"], "owner");

    // Bob, an admin, is offered no owner-only action: not the owner's role, not ownership, not
    // the owner's removal, not deleting or transferring the organization.
    b.goto("bob", &format!("{base}/console/orgs/{org}/members"))
        .await;
    assert!(b.exists("bob", "#invite-role").await, "admins invite");
    assert!(!b.exists("bob", "#invite-role option[value=owner]").await);
    assert!(!b.exists("bob", &format!("#role-{owner_id}")).await);
    assert!(
        !b.exists("bob", &format!("tr[data-user='{owner_id}'] button"))
            .await
    );
    assert!(
        !b.exists("bob", &format!("#role-{bob_id} option[value=owner]"))
            .await
    );
    b.goto("bob", &format!("{base}/console/orgs/{org}")).await;
    let overview = b.text("bob", "main").await;
    assert!(
        overview.contains("Settings"),
        "admins change settings: {overview}"
    );
    assert!(!overview.contains("Delete organization"), "{overview}");
    assert!(!overview.contains("Transfer ownership"), "{overview}");
    // What the page does not offer, the API refuses: Bob posts the deletion anyway, with his own
    // valid form token, and the organization stays.
    let csrf = b.attr("bob", "input[name=_csrf]", "value").await.unwrap();
    let refused = b
        .eval(
            "bob",
            &format!(
                "fetch('/console/orgs/{org}/delete', {{method: 'POST', headers: {{'Content-Type': \
                 'application/x-www-form-urlencoded'}}, body: '_csrf={csrf}&_form=delete&_confirmed=yes'}})\
                 .then(r => r.status)"
            ),
        )
        .await;
    assert_eq!(refused, json!(403));
    api(
        &node,
        "GET",
        &format!("/organizations/{org}"),
        &owner.token,
        None,
    )
    .await;
    b.problems("bob").await;
    // The owner is offered it.
    b.goto("owner", &format!("{base}/console/orgs/{org}")).await;
    assert!(
        b.text("owner", "main")
            .await
            .contains("Delete organization")
    );

    // Carol, who has an account with a verified address, accepts from her own list.
    app.user("carol").await;
    b.goto("owner", &format!("{base}/console/orgs/{org}/members"))
        .await;
    b.fill("owner", "#invite-email", "carol@example.com").await;
    b.submit("owner", "#invite form").await;
    b.open("carol", 1440, 900).await;
    sign_in(&b, "carol", &base, "carol@example.com").await;
    assert!(b.text("carol", "#invitations").await.contains("Acme"));
    b.submit("carol", "#invitations form").await;
    assert!(
        b.url("carol")
            .await
            .ends_with(&format!("/console/orgs/{org}"))
    );
    assert!(
        b.text("carol", ".notice.ok")
            .await
            .contains("You joined the organization")
    );
    b.assert_no_problems("carol").await;

    b.assert_no_problems("owner").await;
    b.assert_no_problems("bob").await;
    b.quit().await;
}

async fn tenants_never_see_each_other(app: TestApp) {
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    let node = Node::start(&app.state.config.database_url, &[]).await;
    let base = format!("http://127.0.0.1:{}", node.port);
    let a = organization(&node, &alice.token, json!({"name": "Alpha Secret Corp"})).await;
    api(
        &node,
        "POST",
        "/organizations",
        &mallory.token,
        Some(json!({"name": "Bravo"})),
    )
    .await;

    let b = Browser::start().await;
    b.open("mallory", 1440, 900).await;
    sign_in(&b, "mallory", &base, "mallory@example.com").await;
    let home = b.text("mallory", "main").await;
    assert!(home.contains("Bravo"), "{home}");
    assert!(!home.contains("Alpha"), "{home}");
    for section in [
        "",
        "/members",
        "/invitations",
        "/projects",
        "/roles",
        "/audit-log",
        "/webhooks",
        "/license",
        "/sso",
    ] {
        let url = format!("{base}/console/orgs/{a}{section}");
        assert_eq!(b.goto("mallory", &url).await, 404, "{url}");
        let text = b.text("mallory", "body").await;
        assert!(!text.contains("Alpha"), "{url}: {text}");
    }
    // A form aimed at the other organization, with Mallory's own valid CSRF token, is refused
    // by the API like any other call of hers.
    b.goto("mallory", &format!("{base}/console")).await;
    let csrf = b
        .attr("mallory", "input[name=_csrf]", "value")
        .await
        .unwrap();
    let removed = b
        .eval(
            "mallory",
            &format!(
                "fetch('/console/orgs/{a}/members/remove', {{method: 'POST', headers: {{'Content-Type': 'application/x-www-form-urlencoded'}}, body: '_csrf={csrf}&_confirmed=yes&user_id={}'}}).then(r => r.status)",
                alice.id
            ),
        )
        .await;
    assert_eq!(removed, json!(404));
    api(
        &node,
        "GET",
        &format!("/organizations/{a}/members/{}", alice.id),
        &alice.token,
        None,
    )
    .await;
    b.quit().await;
}

async fn the_operator_suspends_an_organization(app: TestApp) {
    let owner = app.user("olive").await;
    app.superuser("root").await;
    let node = Node::start(&app.state.config.database_url, &[]).await;
    let base = format!("http://127.0.0.1:{}", node.port);
    let org = organization(&node, &owner.token, json!({"name": "Acme"})).await;

    let b = Browser::start().await;
    b.open("root", 1440, 900).await;
    sign_in(&b, "root", &base, "root@example.com").await;
    b.goto("root", &format!("{base}/console/operator?status=active"))
        .await;
    let row = format!("tr[data-org='{org}']");
    b.click("root", &format!("{row} summary")).await;
    b.select("root", &format!("#st-{org}"), "suspended").await;
    b.fill("root", &format!("#why-{org}"), "Unpaid invoices")
        .await;
    b.submit(
        "root",
        &format!("{row} form[action='/console/operator/organizations/status']"),
    )
    .await;
    // A confirmation that says what follows, then the change.
    let confirm = b.text("root", "main").await;
    assert!(
        confirm.contains("organization_suspended") || confirm.contains("refused"),
        "{confirm}"
    );
    assert!(confirm.contains("Unpaid invoices"), "{confirm}");
    b.click("root", ".confirm button.danger").await;
    assert!(
        b.text("root", ".notice.ok")
            .await
            .contains("Acme is now suspended")
    );
    b.goto("root", &format!("{base}/console/operator?status=suspended"))
        .await;
    assert!(
        b.text("root", &format!("{row} td.status"))
            .await
            .contains("suspended")
    );

    // The owner can still read, is told why nothing can change, and a change is refused by the
    // API, in the API's words.
    let (status, refused) = node
        .call(
            "POST",
            &format!("/organizations/{org}/invitations"),
            Some(&owner.token),
            Some(json!({"email": "bob@example.com", "role": "member"})),
        )
        .await
        .unwrap();
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("organization_suspended"))
    );
    b.open("owner", 1440, 900).await;
    sign_in(&b, "owner", &base, "olive@example.com").await;
    assert_eq!(
        b.goto("owner", &format!("{base}/console/orgs/{org}/members"))
            .await,
        200
    );
    let banner = b.text("owner", "#banner").await;
    assert!(
        banner.contains("suspended") && banner.contains("Unpaid invoices"),
        "{banner}"
    );
    b.fill("owner", "#invite-email", "bob@example.com").await;
    assert_eq!(b.submit("owner", "#invite form").await, Some(403));
    let shown = error_shown(&b, "owner").await;
    assert!(
        shown.contains(refused["error"].as_str().unwrap()),
        "{shown} / {refused}"
    );
    // What was typed is still there.
    assert_eq!(
        b.attr("owner", "#invite-email", "value").await.as_deref(),
        Some("bob@example.com")
    );
    b.quit().await;
}

/// A page on another origin that posts a form to the console as soon as it loads.
async fn attacker(target: String, fields: Vec<(String, String)>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let inputs: String = fields
        .iter()
        .map(|(k, v)| format!("<input type=hidden name=\"{k}\" value=\"{v}\">"))
        .collect();
    let page = format!(
        "<!doctype html><html><body><form id=f method=post action=\"{target}\">{inputs}</form>\
         <script>document.getElementById('f').submit()</script></body></html>"
    );
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let res = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = s.write_all(res.as_bytes()).await;
        }
    });
    port
}

async fn forms_from_another_origin_fail(app: TestApp) {
    let owner = app.user("olive").await;
    let bob = app.user("bob").await;
    let node = Node::start(&app.state.config.database_url, &[]).await;
    let base = format!("http://127.0.0.1:{}", node.port);
    let org = organization(&node, &owner.token, json!({"name": "Acme"})).await;
    api(
        &node,
        "POST",
        &format!("/organizations/{org}/members"),
        &owner.token,
        Some(json!({"user_id": bob.id, "role": "member"})),
    )
    .await;
    let still_there = || async {
        node.call(
            "GET",
            &format!("/organizations/{org}/members/{}", bob.id),
            Some(&owner.token),
            None,
        )
        .await
        .unwrap()
        .0 == 200
    };

    let b = Browser::start().await;
    b.open("owner", 1440, 900).await;
    sign_in(&b, "owner", &base, "olive@example.com").await;
    let target = format!("{base}/console/orgs/{org}/members/remove");
    // Another port is the same site, so the SameSite=Lax cookie goes along: what stops these is
    // the origin check and the token.
    for csrf in [None, Some("0".repeat(32))] {
        let mut fields = vec![
            ("user_id".to_string(), bob.id.to_string()),
            ("_confirmed".to_string(), "yes".to_string()),
        ];
        if let Some(t) = csrf {
            fields.push(("_csrf".to_string(), t));
        }
        let port = attacker(target.clone(), fields).await;
        b.goto("owner", &format!("http://127.0.0.1:{port}/")).await;
        for _ in 0..50 {
            if b.url("owner").await.starts_with(&target) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(b.url("owner").await.starts_with(&target));
        assert!(b.text("owner", "h1").await.contains("Form refused"));
        assert!(still_there().await, "the forged form removed bob");
    }

    // Without a browser's headers: the session cookie alone, no token or a wrong one, is refused;
    // the page's own token from another origin is refused; the same post from the console's own
    // origin with its token goes through (the check can fail).
    let (login_status, session) = node
        .call(
            "POST",
            "/auth/login",
            None,
            Some(json!({"login": "olive@example.com", "password": PASSWORD})),
        )
        .await
        .unwrap();
    assert_eq!(login_status, 200);
    let cookie = format!("orgd_session={}", session["access_token"].as_str().unwrap());
    let page = wire::request(
        node.port,
        "GET",
        &format!("/console/orgs/{org}/members"),
        &[("Cookie".into(), cookie.clone())],
        None,
    )
    .await
    .unwrap();
    assert_eq!(page.status, 200);
    let csrf = page
        .body
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let path = format!("/console/orgs/{org}/members/remove");
    let form = |token: &str| format!("user_id={}&_confirmed=yes&_csrf={token}", bob.id);
    let post = |body: String, origin: Option<&'static str>| {
        let cookie = cookie.clone();
        let path = path.clone();
        async move {
            let mut headers = vec![
                ("Cookie".to_string(), cookie),
                (
                    "Content-Type".to_string(),
                    "application/x-www-form-urlencoded".to_string(),
                ),
            ];
            if let Some(o) = origin {
                headers.push(("Origin".to_string(), o.to_string()));
            }
            wire::send(node.port, "POST", &path, &headers, &body)
                .await
                .unwrap()
                .status
        }
    };
    assert_eq!(
        post(format!("user_id={}&_confirmed=yes", bob.id), None).await,
        403
    );
    assert_eq!(post(form(&"f".repeat(32)), None).await, 403);
    assert_eq!(post(form(&csrf), Some("http://evil.example")).await, 403);
    assert!(still_there().await);
    assert_eq!(post(form(&csrf), None).await, 303);
    assert!(!still_there().await, "the console's own form removes bob");
    b.quit().await;
}

/// Every main page at a phone's width and a desktop's, filled with a little of everything:
/// each answers 200 with no console error or CSP violation, and leaves its picture.
async fn screenshots_of_the_main_pages(app: TestApp) {
    let owner = app.user("olive").await;
    let root = app.superuser("root").await;
    let node = Node::start(&app.state.config.database_url, &[]).await;
    let base = format!("http://127.0.0.1:{}", node.port);
    let org = organization(
        &node,
        &owner.token,
        json!({"name": "Acme Rockets", "description": "Rockets for everyone"}),
    )
    .await;
    for (name, role) in [("bob", "admin"), ("carol", "member"), ("dave", "member")] {
        let u = app.user(name).await;
        api(
            &node,
            "POST",
            &format!("/organizations/{org}/members"),
            &owner.token,
            Some(json!({"user_id": u.id, "role": role})),
        )
        .await;
    }
    api(
        &node,
        "POST",
        &format!("/organizations/{org}/invitations"),
        &owner.token,
        Some(json!({"email": "erin@example.com", "role": "member"})),
    )
    .await;
    let project = api(
        &node,
        "POST",
        &format!("/organizations/{org}/projects"),
        &owner.token,
        Some(json!({"name": "Launchpad"})),
    )
    .await;
    api(
        &node,
        "POST",
        &format!("/organizations/{org}/applications"),
        &owner.token,
        Some(json!({"name": "Mission control", "project_id": project["id"]})),
    )
    .await;
    api(
        &node,
        "POST",
        &format!("/organizations/{org}/service-accounts"),
        &owner.token,
        Some(json!({"name": "CI deploys", "role": "member"})),
    )
    .await;
    api(&node, "POST", &format!("/organizations/{org}/roles"), &owner.token, Some(json!({"key": "auditor", "name": "Auditor", "permissions": ["organization:read", "members:read"]}))).await;
    api(
        &node,
        "POST",
        "/organizations",
        &root.token,
        Some(json!({"name": "Beta Industries"})),
    )
    .await;

    let pages: Vec<(&str, String, &str)> = vec![
        ("home", "/console".into(), "owner"),
        ("overview", format!("/console/orgs/{org}"), "owner"),
        ("members", format!("/console/orgs/{org}/members"), "owner"),
        (
            "invitations",
            format!("/console/orgs/{org}/invitations"),
            "owner",
        ),
        ("projects", format!("/console/orgs/{org}/projects"), "owner"),
        (
            "service-accounts",
            format!("/console/orgs/{org}/service-accounts"),
            "owner",
        ),
        ("roles", format!("/console/orgs/{org}/roles"), "owner"),
        ("sso", format!("/console/orgs/{org}/sso"), "owner"),
        ("license", format!("/console/orgs/{org}/license"), "owner"),
        (
            "deployments",
            format!("/console/orgs/{org}/deployments"),
            "owner",
        ),
        (
            "audit-log",
            format!("/console/orgs/{org}/audit-log"),
            "owner",
        ),
        ("webhooks", format!("/console/orgs/{org}/webhooks"), "owner"),
        ("account", "/console/account".into(), "owner"),
        ("tokens", "/console/account/tokens".into(), "owner"),
        ("operator", "/console/operator".into(), "root"),
        ("operator-users", "/console/operator/users".into(), "root"),
        (
            "operator-licenses",
            "/console/operator/licenses".into(),
            "root",
        ),
        ("operator-health", "/console/operator/health".into(), "root"),
    ];
    let b = Browser::start().await;
    for width in [360, 1440] {
        let (o, r) = (format!("owner-{width}"), format!("root-{width}"));
        b.open(&o, width, 900).await;
        b.open(&r, width, 900).await;
        sign_in(&b, &o, &base, "olive@example.com").await;
        sign_in(&b, &r, &base, "root@example.com").await;
        for (name, path, who) in &pages {
            let p = if *who == "owner" { &o } else { &r };
            let status = b.goto(p, &format!("{base}{path}")).await;
            b.screenshot(p, screenshot_dir().join(format!("{name}-{width}.png")))
                .await;
            assert_eq!(
                status,
                200,
                "{path} at {width}px: {}",
                b.text(p, "body").await
            );
            b.assert_no_problems(p).await;
            // Nothing wider than the screen but the tables, which scroll in their frame.
            let overflow = b
                .eval(
                    p,
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth",
                )
                .await;
            assert!(
                overflow.as_i64().unwrap_or(0) <= 1,
                "{path} scrolls sideways at {width}px by {overflow}"
            );
        }
    }
    // An admin and a member: every section their navigation offers opens, and what it leaves
    // out the API refuses (403) or does not show (404).
    for who in ["bob", "carol"] {
        b.open(who, 1440, 900).await;
        sign_in(&b, who, &base, &format!("{who}@example.com")).await;
        b.goto(who, &format!("{base}/console/orgs/{org}")).await;
        let offered: Vec<String> = serde_json::from_value(
            b.eval(
                who,
                "Array.from(document.querySelectorAll('nav.side a')).map(a => a.getAttribute('href'))",
            )
            .await,
        )
        .unwrap();
        for (_, path, w) in &pages {
            if *w != "owner" || !path.starts_with("/console/orgs/") {
                continue;
            }
            let status = b.goto(who, &format!("{base}{path}")).await;
            if offered.contains(path) {
                assert_eq!(
                    status,
                    200,
                    "{who} at {path}: {}",
                    b.text(who, "body").await
                );
                b.assert_no_problems(who).await;
            } else {
                assert!(matches!(status, 403 | 404), "{who} at {path}: {status}");
                b.problems(who).await;
            }
        }
        let sections = offered.len();
        assert!(
            if who == "bob" {
                sections >= 10
            } else {
                (3..=5).contains(&sections)
            },
            "{who} is offered {offered:?}"
        );
    }
    b.quit().await;
}

/// Single sign-on from the console's sign-in page, against the real OpenID Provider: the email's
/// domain finds the provider, the provider signs the user in, and the console's script hands the
/// session from the fragment to the cookie.
async fn single_sign_on_from_the_sign_in_page(app: TestApp) {
    let owner = app.user("olive").await;
    let root = app.superuser("root").await;
    let node = Node::start(
        &app.state.config.database_url,
        &[
            ("ORGD_SSO_ENCRYPTION_KEY", common::SSO_KEY),
            ("ORGD_SSO_ALLOW_INSECURE", "true"),
        ],
    )
    .await;
    let base = format!("http://127.0.0.1:{}", node.port);
    let idp = Provider::start_with(&format!("{base}/auth/sso/callback"));
    idp.account("carol-1", "carol@acme.test", true).await;
    let org = organization(&node, &owner.token, json!({"name": "Acme"})).await;
    let d = api(
        &node,
        "POST",
        &format!("/organizations/{org}/domains"),
        &owner.token,
        Some(json!({"domain": "acme.test"})),
    )
    .await;
    api(
        &node,
        "POST",
        &format!(
            "/organizations/{org}/domains/{}/verify",
            d["id"].as_str().unwrap()
        ),
        &root.token,
        Some(json!({"skip_check": true})),
    )
    .await;
    api(
        &node,
        "POST",
        &format!("/organizations/{org}/sso-providers"),
        &owner.token,
        Some(json!({"name": "Acme IdP", "issuer": idp.issuer(), "client_id": common::idp::CLIENT_ID,
                    "client_secret": common::idp::CLIENT_SECRET, "domains": ["acme.test"], "default_role": "member", "jit_provisioning": true})),
    )
    .await;

    let b = Browser::start().await;
    b.open("carol", 1440, 900).await;
    b.goto("carol", &format!("{base}/console/sign-in")).await;
    b.click("carol", "details.sso summary").await;
    b.fill("carol", "#sso-email", "carol@acme.test").await;
    b.submit("carol", "form[action='/console/sign-in/sso']")
        .await;
    for _ in 0..100 {
        if b.url("carol").await.ends_with("/console") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        b.url("carol").await.ends_with("/console"),
        "at {}: {}",
        b.url("carol").await,
        b.text("carol", "body").await
    );
    // Signed in as Carol, a member of Acme just in time, and the session left the address bar.
    assert!(b.text("carol", "header").await.contains("carol"));
    let home = b.text("carol", "main").await;
    assert!(home.contains("Acme"), "{home}");
    b.goto("carol", &format!("{base}/console/account/tokens"))
        .await;
    assert!(b.text("carol", "#sessions").await.contains("this browser"));
    b.assert_no_problems("carol").await;

    // A session handed to another browser through the way back (a link carrying someone else's
    // session in its fragment) does not sign it in: the sign-in was not started there.
    b.open("victim", 1440, 900).await;
    b.goto(
        "victim",
        &format!(
            "{base}/console/sso?binding={}#access_token={}",
            "0".repeat(32),
            owner.token
        ),
    )
    .await;
    // The page posts itself at once; read its heading once the answer has replaced it.
    for _ in 0..50 {
        let h1 = b
            .try_command(json!({"cmd": "text", "page": "victim", "selector": "h1"}))
            .await;
        if h1.is_ok_and(|t| t.as_str().is_some_and(|t| t.contains("failed"))) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        b.text("victim", "h1")
            .await
            .contains("Single sign-on failed")
    );
    b.problems("victim").await;
    b.goto("victim", &format!("{base}/console")).await;
    assert!(b.url("victim").await.contains("/console/sign-in"));
    b.quit().await;
}

/// The cookies' and pages' security attributes, without a browser: `HttpOnly`, `SameSite=Lax`,
/// `Secure` exactly when the console is served over https, a policy without inline scripts, no
/// framing.
async fn cookies_and_headers(app: TestApp) {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt;
    app.user("olive").await;
    for https in [false, true] {
        let mut config = (*app.state.config).clone();
        config.public_url = if https {
            "https://orgd.example"
        } else {
            "http://orgd.example"
        }
        .into();
        let state = orgd::AppState::new(app.state.store.clone(), config).unwrap();
        let router = orgd::app(state);
        let res = router
            .clone()
            .oneshot(
                Request::get("/console/sign-in")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let h = res.headers();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self';") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        let pre = h[header::SET_COOKIE].to_str().unwrap().to_string();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(!body.contains("<script>"), "no inline script: {body}");
        let csrf = pre
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string();
        let form = format!(
            "_csrf={csrf}&login=olive%40example.com&password={}",
            PASSWORD.replace(' ', "+")
        );
        let res = router
            .clone()
            .oneshot(
                Request::post("/console/sign-in")
                    .header(header::COOKIE, format!("orgd_csrf={csrf}"))
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(form))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        let session = res.headers()[header::SET_COOKIE].to_str().unwrap();
        for c in [pre.as_str(), session] {
            assert!(
                c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/console"),
                "{c}"
            );
            assert_eq!(c.contains("Secure"), https, "{c}");
        }
        assert!(session.starts_with("orgd_session=orgd_"), "{session}");
        // A wrong password: the API's words, the login kept, no session.
        let form = format!("_csrf={csrf}&login=olive%40example.com&password=wrong");
        let res = router
            .oneshot(
                Request::post("/console/sign-in")
                    .header(header::COOKIE, format!("orgd_csrf={csrf}"))
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(form))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert!(res.headers().get(header::SET_COOKIE).is_none());
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("value=\"olive@example.com\""), "{body}");
        assert!(!body.contains("invalid_credentials"), "{body}");
    }
}

on_both_engines!(
    cookies_and_headers,
    single_sign_on_from_the_sign_in_page,
    members_story,
    tenants_never_see_each_other,
    the_operator_suspends_an_organization,
    forms_from_another_origin_fail,
    screenshots_of_the_main_pages,
);
