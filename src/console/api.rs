//! The console's only way to the data: the public API, called in process through the same router
//! (and so the same authentication, authorization, validation, rate limits and audit log) that
//! serves every other client. The console holds nothing but the caller's session token.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, Request, header};
use serde_json::Value;
use tower::ServiceExt;

/// The largest API answer the console reads (a page of 1000 audit entries fits).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Headers of the browser's request that the API sees as well: who the client is.
const FORWARDED: [&str; 3] = ["x-forwarded-for", "user-agent", "x-request-id"];

#[derive(Clone)]
pub struct Api {
    router: Router,
    token: Option<String>,
    peer: Option<ConnectInfo<SocketAddr>>,
    forwarded: Vec<(&'static str, HeaderValue)>,
}

/// A successful answer.
pub struct Reply {
    pub body: Value,
    /// The query string of the next page (`Link: <…>; rel="next"`), when there is one.
    pub next: Option<String>,
    /// Where a redirect goes.
    pub location: Option<String>,
}

/// A refused or failed call, as the API explained it.
#[derive(Clone, Debug)]
pub struct Failure {
    pub status: u16,
    pub code: String,
    /// The API's human-readable error text.
    pub message: String,
    /// Field errors of a validation failure: (field, message).
    pub details: Vec<(String, String)>,
}

impl Failure {
    pub fn new(status: u16, code: &str, message: &str) -> Self {
        Failure {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
            details: Vec::new(),
        }
    }
}

impl Api {
    pub fn new(router: Router, token: Option<String>, parts: &Parts) -> Self {
        Api {
            router,
            token,
            peer: parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned(),
            forwarded: FORWARDED
                .iter()
                .filter_map(|h| parts.headers.get(*h).map(|v| (*h, v.clone())))
                .collect(),
        }
    }

    /// The same caller with another token (right after signing in).
    pub fn with_token(&self, token: &str) -> Self {
        Api {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, Failure> {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = &self.token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (name, value) in &self.forwarded {
            req = req.header(*name, value.clone());
        }
        let body = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&b).unwrap_or_default())
            }
            None => Body::empty(),
        };
        let mut req = req
            .body(body)
            .map_err(|_| Failure::new(400, "invalid_request", "That address is not valid."))?;
        if let Some(peer) = self.peer {
            req.extensions_mut().insert(peer);
        }
        let Ok(res) = self.router.clone().oneshot(req).await;
        let status = res.status();
        let next = res
            .headers()
            .get(header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_query);
        let location = res
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(res.into_body(), MAX_BODY)
            .await
            .unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() || status.is_redirection() {
            return Ok(Reply {
                body,
                next,
                location,
            });
        }
        Err(Failure {
            status: status.as_u16(),
            code: body["code"].as_str().unwrap_or("error").to_owned(),
            message: body["error"]
                .as_str()
                .unwrap_or("The request failed.")
                .to_owned(),
            details: body["details"]
                .as_array()
                .map(|ds| {
                    ds.iter()
                        .map(|d| {
                            (
                                d["field"].as_str().unwrap_or_default().to_owned(),
                                d["message"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        Ok(self.call(Method::GET, path, None).await?.body)
    }

    /// A list page: the items and the next page's query, if any.
    pub async fn list(&self, path: &str) -> Result<(Vec<Value>, Option<String>), Failure> {
        let r = self.call(Method::GET, path, None).await?;
        let items = match r.body {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        Ok((items, r.next))
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, Failure> {
        Ok(self.call(Method::POST, path, Some(body)).await?.body)
    }

    pub async fn patch(&self, path: &str, body: Value) -> Result<Value, Failure> {
        Ok(self.call(Method::PATCH, path, Some(body)).await?.body)
    }

    pub async fn put(&self, path: &str, body: Value) -> Result<Value, Failure> {
        Ok(self.call(Method::PUT, path, Some(body)).await?.body)
    }

    pub async fn delete(&self, path: &str) -> Result<Value, Failure> {
        Ok(self.call(Method::DELETE, path, None).await?.body)
    }

    /// A `GET` whose answer is text, not JSON (the metrics exposition).
    pub async fn text(&self, path: &str) -> Result<String, Failure> {
        let mut req = Request::builder().method(Method::GET).uri(path);
        if let Some(t) = &self.token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (name, value) in &self.forwarded {
            req = req.header(*name, value.clone());
        }
        let mut req = req
            .body(Body::empty())
            .map_err(|_| Failure::new(400, "invalid_request", "That address is not valid."))?;
        if let Some(peer) = self.peer {
            req.extensions_mut().insert(peer);
        }
        let Ok(res) = self.router.clone().oneshot(req).await;
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), MAX_BODY)
            .await
            .unwrap_or_default();
        if status.is_success() {
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Err(Failure::new(
            status.as_u16(),
            body["code"].as_str().unwrap_or("error"),
            body["error"].as_str().unwrap_or("The request failed."),
        ))
    }
}

/// The query of the `rel="next"` target of a `Link` header.
fn next_query(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.contains("rel=\"next\"") {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        Some(
            target
                .split_once('?')
                .map(|(_, q)| q)
                .unwrap_or("")
                .to_owned(),
        )
    })
}

/// One path segment, percent-encoded: ids from the browser never change the path's shape.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'~' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string from pairs, leaving out empty values.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .copied()
        .collect();
    if kept.is_empty() {
        return String::new();
    }
    format!("?{}", serde_urlencoded::to_string(kept).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_link_gives_its_query() {
        assert_eq!(
            next_query("</organizations?limit=2&after=abc>; rel=\"next\"").as_deref(),
            Some("limit=2&after=abc")
        );
        assert_eq!(next_query("</x?a=1>; rel=\"prev\""), None);
    }

    #[test]
    fn segments_cannot_climb() {
        assert_eq!(seg("../users"), "%2E%2E%2Fusers");
        assert_eq!(seg("0193-ab_c"), "0193-ab_c");
    }
}
