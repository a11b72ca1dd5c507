//! Security headers on every response, and the error body for every 404 and 405, whichever part
//! of the router (or the vendored API reference) answered.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The API reference at `/docs` runs the vendored Swagger UI: its own scripts and styles, the
/// spec from this origin, never framed.
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";
/// Everything else is JSON, which needs no capabilities at all.
const API_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

pub async fn layer(req: Request, next: Next) -> Response {
    let docs = req.uri().path() == "/docs" || req.uri().path().starts_with("/docs/");
    let mut res = next.run(req).await;
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        match res.status() {
            StatusCode::NOT_FOUND => res = ApiError::not_found("Route").into_response(),
            StatusCode::METHOD_NOT_ALLOWED => {
                res = ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "Method not allowed",
                )
                .into_response()
            }
            _ => {}
        }
    }
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if docs { DOCS_POLICY } else { API_POLICY }),
    );
    res
}
