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
        "/deployments/register",
        "/auth/sso/start",
        "/auth/sso/{provider_id}/start",
        "/auth/sso/callback",
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
            } else if path == "/deployments/{id}/heartbeat" {
                assert_eq!(
                    op["security"],
                    json!([{"deployment": []}]),
                    "{method} {path}"
                );
                assert!(responses.contains_key("401"), "{method} {path}");
            } else if public.contains(&path.as_str()) {
                assert_eq!(
                    op["security"],
                    json!([]),
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

/// Every operation has a stable camelCase operationId from the one table in `spec.rs`, which
/// generated clients name their functions after; the table has a row for each operation and no
/// row for a route that is gone.
#[test]
fn every_operation_has_a_unique_camel_case_operation_id() {
    let spec = orgd::openapi();
    let mut seen = std::collections::HashSet::new();
    let mut operations = std::collections::HashSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations.insert((method.clone(), path.clone()));
            let id = op["operationId"].as_str().unwrap_or_default();
            let camel = id.starts_with(|c: char| c.is_ascii_lowercase())
                && id.chars().all(|c| c.is_ascii_alphanumeric());
            assert!(
                camel,
                "{method} {path}: operationId {id:?} is not camelCase"
            );
            assert!(
                seen.insert(id.to_string()),
                "{method} {path}: {id} is taken"
            );
            let row = orgd::spec::OPERATION_IDS
                .iter()
                .find(|(m, p, _)| m == method && p == path);
            assert_eq!(row.map(|r| r.2), Some(id), "{method} {path} has no row");
        }
    }
    let mut rows = std::collections::HashSet::new();
    for (method, path, id) in orgd::spec::OPERATION_IDS {
        assert!(
            operations.contains(&(method.to_string(), path.to_string())),
            "stale row: {method} {path} ({id}) is no operation"
        );
        assert!(rows.insert((method, path)), "two rows for {method} {path}");
    }
}

/// Every response is described; every operation can answer `500 internal`, every one that
/// reads the database `503 unavailable`, and the rate-limited ones `429 rate_limited` with the
/// `RateLimit` headers; the answers that ask the client to come back say when, with
/// `Retry-After`.
#[test]
fn every_response_is_described_and_retryable_ones_say_when() {
    let spec = orgd::openapi();
    let mut limited = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for (status, response) in responses {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(
                    !description.trim().is_empty(),
                    "{method} {path} {status} has no description"
                );
                assert!(
                    response.get("headers").is_none_or(|h| h.is_object()),
                    "{method} {path} {status} headers"
                );
                if status == "429" || status == "503" {
                    assert_eq!(
                        response["headers"]["Retry-After"]["schema"]["type"], "integer",
                        "{method} {path} {status}"
                    );
                }
            }
            assert!(responses.contains_key("500"), "{method} {path} has no 500");
            let database = !["/healthz", "/metrics"].contains(&path.as_str());
            assert_eq!(
                responses.contains_key("503"),
                database,
                "{method} {path} 503"
            );
            if let Some(refused) = responses.get("429") {
                limited.push(op["operationId"].as_str().unwrap().to_string());
                for header in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"] {
                    assert_eq!(
                        refused["headers"][header]["schema"]["type"], "integer",
                        "{method} {path} 429 {header}"
                    );
                }
            }
        }
    }
    limited.sort();
    let mut expected: Vec<String> = orgd::spec::RATE_LIMITED
        .iter()
        .map(|s| s.to_string())
        .collect();
    expected.sort();
    assert_eq!(limited, expected);
    for id in [
        "signup",
        "login",
        "requestPasswordReset",
        "createInvitation",
    ] {
        assert!(limited.iter().any(|l| l == id), "{id}");
    }
}

/// A relative server: the document is generated offline and served by every node.
#[test]
fn the_document_names_its_server() {
    let spec = orgd::openapi();
    assert_eq!(spec["servers"][0]["url"], "/");
    assert!(spec["servers"][0]["description"].is_string());
}

/// Every request body has an example (schemathesis sends it; the client lint checks it against
/// the schema), and so do the bodies clients read most.
#[test]
fn request_bodies_and_main_responses_have_examples() {
    let spec = orgd::openapi();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(body) = op.get("requestBody") {
                assert!(
                    body["content"]["application/json"]["example"].is_object(),
                    "{method} {path} has no request example"
                );
            }
        }
    }
    let example = |path: &str, method: &str, status: &str| {
        spec["paths"][path][method]["responses"][status]["content"]["application/json"]["example"]
            .clone()
    };
    assert_eq!(
        example("/organizations", "post", "201")["slug"],
        json!("acme")
    );
    assert_eq!(
        example("/organizations/{org}/members", "get", "200")[0]["role"],
        json!("admin")
    );
    assert!(example("/auth/signup", "post", "201")["access_token"].is_string());
}

/// Request models are plain objects: a rule across fields (such as "exactly one of `user_id`,
/// `username`, `email`" when adding a member) is checked by the server and told in the
/// description, since generators turn `oneOf`/`not` into one class per branch that drops the
/// other fields.
#[test]
fn request_schemas_are_plain_objects() {
    let spec = orgd::openapi();
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        if !name.ends_with("Request") {
            continue;
        }
        for keyword in ["oneOf", "anyOf", "allOf", "not", "if"] {
            assert!(schema.get(keyword).is_none(), "{name} uses {keyword}");
        }
    }
    let add = &spec["components"]["schemas"]["AddMemberRequest"];
    for field in ["user_id", "username", "email", "name", "role", "admin"] {
        assert!(add["properties"][field].is_object(), "{field}");
    }
    assert!(
        add["description"]
            .as_str()
            .unwrap()
            .contains("exactly one of `user_id`, `username`")
    );
}

/// The country codes are one shared, nullable enum, not a copy in every model.
#[test]
fn country_codes_are_one_shared_schema() {
    let spec = orgd::openapi();
    let codes = &spec["components"]["schemas"]["CountryCode"];
    assert_eq!(codes["type"], "string");
    assert!(codes["enum"].as_array().unwrap().contains(&json!("DE")));
    let text = spec.to_string();
    assert_eq!(text.matches("\"ZW\"").count(), 1, "the enum is copied");
    for model in ["CreateOrganizationRequest", "UpdateOrganizationRequest"] {
        assert_eq!(
            spec["components"]["schemas"][model]["properties"]["country_code"]["oneOf"],
            json!([{"type": "null"}, {"$ref": "#/components/schemas/CountryCode"}]),
            "{model}"
        );
    }
}
