//! The console in a real browser, on both engines: `orgd serve` as a process, Debian's headless
//! chromium (`common::browser`). The sign-in page answers 200 with its form at a phone's width
//! and a desktop's, without console errors or CSP violations. Screenshots go to
//! `target/console-screenshots/` (sign-in-360.png, sign-in-1440.png).

mod common;

use common::TestApp;
use common::browser::{Browser, screenshot_dir};
use common::node::Node;

async fn sign_in_page_has_its_form(app: TestApp) {
    let node = Node::start(&app.state.config.database_url, &[]).await;
    let b = Browser::start().await;
    let url = format!("http://127.0.0.1:{}/console/sign-in", node.port);
    for width in [360, 1440] {
        let page = format!("w{width}");
        b.open(&page, width, 900).await;
        let status = b.goto(&page, &url).await;
        // Before the assertions: a failure leaves the picture of what was shown.
        b.screenshot(&page, screenshot_dir().join(format!("sign-in-{width}.png")))
            .await;
        assert_eq!(
            status,
            200,
            "GET {url} at {width} px; the page says: {}",
            b.text(&page, "body").await
        );
        for field in ["login", "password"] {
            assert!(
                b.exists(&page, &format!("form input[name={field}]")).await,
                "no form input named {field} at {width} px: {}",
                b.html(&page).await
            );
        }
        b.assert_no_problems(&page).await;
        b.close(&page).await;
    }
    b.quit().await;
}

on_both_engines!(sign_in_page_has_its_form);
