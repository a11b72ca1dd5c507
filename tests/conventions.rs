//! Conventions every endpoint shares: the error body, extractor rejections, request ids,
//! health, the OpenAPI document and its interactive reference.

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use common::TestApp;
use serde_json::json;

async fn extractor_rejections_use_the_error_body(app: TestApp) {
    let alice = app.user("alice").await;
    let auth = format!("Bearer {}", alice.token);
    let send = |content_type: Option<&'static str>, body: &'static str| {
        let mut req = Request::post("/organizations").header("authorization", auth.clone());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.body(Body::from(body)).unwrap()
    };
    app.send(send(Some("application/json"), "{not json"))
        .await
        .expect_error(400, "invalid_request");
    app.send(send(Some("application/json"), "[1,2]"))
        .await
        .expect_error(400, "invalid_request");
    // An array that serde would map onto the request's fields by position is still not an object.
    app.send(send(Some("application/json"), " [\"Positional\"]"))
        .await
        .expect_error(400, "invalid_request");
    let mine = app.get("/organizations", &alice.token).await;
    assert_eq!(mine.expect(200).as_array().unwrap().len(), 0);
    app.send(send(Some("application/json"), "{\"name\": 7}"))
        .await
        .expect_error(400, "invalid_request");
    app.send(send(Some("text/plain"), "{\"name\": \"x\"}"))
        .await
        .expect_error(415, "unsupported_media_type");
    app.send(send(None, "{\"name\": \"x\"}"))
        .await
        .expect_error(415, "unsupported_media_type");
    app.request(Method::PUT, "/organizations", Some(&alice.token), None)
        .await
        .expect_error(405, "method_not_allowed");
    app.get("/no/such/route", &alice.token)
        .await
        .expect_error(404, "not_found");
    app.get("/organizations/%FF%FE", &alice.token)
        .await
        .expect_error(404, "not_found");
    // Nothing was created by any of it.
    assert_eq!(
        app.get("/organizations", &alice.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

async fn oversized_bodies_get_413(_app: TestApp) {
    let app = if _app.engine == "sqlite" {
        TestApp::sqlite_with(|c| c.body_limit_bytes = 2048).await
    } else {
        TestApp::postgres_with(|c| c.body_limit_bytes = 2048)
            .await
            .unwrap()
    };
    let alice = app.user("alice").await;
    let r = app
        .post(
            "/organizations",
            &alice.token,
            json!({"name": "x", "description": "y".repeat(4096)}),
        )
        .await;
    r.expect_error(413, "payload_too_large");
    assert_eq!(
        app.get("/organizations", &alice.token)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

async fn request_ids_are_echoed_or_generated(app: TestApp) {
    let req = Request::get("/healthz")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.header("x-request-id"), Some("abc-123"));
    let r = app
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    let generated = r.header("x-request-id").unwrap().to_string();
    assert_eq!(generated.len(), 32);
    // Errors carry the same id in the body.
    let req = Request::get("/users/me")
        .header("x-request-id", "trace-42")
        .body(Body::empty())
        .unwrap();
    let r = app.send(req).await;
    assert_eq!(r.body["request_id"], "trace-42");
    // An unusable id is replaced rather than echoed.
    let req = Request::get("/healthz")
        .header("x-request-id", "a b\"c")
        .body(Body::empty())
        .unwrap();
    assert_ne!(app.send(req).await.header("x-request-id"), Some("a b\"c"));
}

async fn health_and_readiness(app: TestApp) {
    let r = app
        .send(Request::get("/healthz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.expect(200), &json!({"status": "ok"}));
    let r = app
        .send(Request::get("/readyz").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.expect(200), &json!({"status": "ready"}));
}

async fn docs_are_served_without_a_cdn(app: TestApp) {
    let r = app
        .send(Request::get("/docs/").body(Body::empty()).unwrap())
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("swagger-ui"), "{}", r.text);
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let r = app
            .send(Request::get(asset).body(Body::empty()).unwrap())
            .await;
        assert_eq!(r.status, 200, "{asset}");
        assert!(!r.text.is_empty(), "{asset}");
    }
    let html = app
        .send(Request::get("/docs/").body(Body::empty()).unwrap())
        .await
        .text;
    let init = app
        .send(
            Request::get("/docs/swagger-initializer.js")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .text;
    for page in [html, init.clone()] {
        assert!(
            !page.contains("https://") && !page.contains("http://"),
            "external reference in {page}"
        );
    }
    assert!(init.contains("/openapi.json"), "{init}");
    let spec = app
        .send(Request::get("/openapi.json").body(Body::empty()).unwrap())
        .await;
    assert_eq!(spec.expect(200)["openapi"], "3.1.0");
}

on_both_engines!(
    extractor_rejections_use_the_error_body,
    oversized_bodies_get_413,
    request_ids_are_echoed_or_generated,
    health_and_readiness,
    docs_are_served_without_a_cdn,
);

/// The committed `openapi.json` is the generated one: regenerate with
/// `cargo run -- openapi > openapi.json` (or `UPDATE_OPENAPI=1 cargo test --test conventions`).
#[test]
fn committed_openapi_spec_is_current() {
    let generated = serde_json::to_string_pretty(&orgd::openapi()).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json is stale: run `cargo run -- openapi > openapi.json` and commit it"
    );
}

/// Every operation documents its error responses with the error body and says how it is
/// authenticated.
#[test]
fn every_operation_documents_errors_and_security() {
    let spec = serde_json::to_value(orgd::openapi()).unwrap();
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let public = [
        "/auth/signup",
        "/auth/login",
        "/auth/password-reset",
        "/auth/password-reset/confirm",
        "/auth/verify-email",
        "/auth/verify-email/resend",
        "/healthz",
        "/readyz",
        "/metrics",
    ];
    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            let errors: Vec<_> = responses
                .keys()
                .filter(|s| s.starts_with('4') || s.starts_with('5'))
                .collect();
            assert!(
                !errors.is_empty() || path == "/healthz",
                "{method} {path} documents no error response"
            );
            for status in errors {
                let schema = &responses[status]["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(
                    schema, "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
            if ["/invitations/accept", "/invitations/decline"].contains(&path.as_str()) {
                assert_eq!(
                    op["security"],
                    json!([{}, {"bearer": []}]),
                    "{method} {path}"
                );
            } else if public.contains(&path.as_str()) {
                assert_eq!(
                    op["security"],
                    json!([{}]),
                    "{method} {path} should be public"
                );
            } else {
                assert!(
                    op.get("security").is_none(),
                    "{method} {path} overrides the bearer default"
                );
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents no 401"
                );
            }
        }
    }
    assert!(operations >= 45, "{operations}");
}
