//! HTTP resources, one file each, and the extractors they share. Extractor rejections become
//! the one error body.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::domain::paging::{Cursor, Page};
use crate::error::ApiError;

pub mod applications;
pub mod audit;
pub mod auth;
pub mod health;
pub mod invitations;
pub mod licensing;
pub mod members;
pub mod organizations;
pub mod projects;
pub mod roles;
pub mod service_accounts;
pub mod sso;
pub mod tokens;
pub mod users;
pub mod webhooks;

/// JSON body in and out; unknown fields, malformed bodies and text with NUL characters get
/// `400 invalid_request`.
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|m| {
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Expected a request with Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| {
                if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "The request body is too large",
                    )
                } else {
                    ApiError::invalid("The request body could not be read")
                }
            })?;
        if crate::domain::validate::json_has_nul(&bytes) {
            return Err(ApiError::invalid(NUL_MESSAGE));
        }
        // Every request body is an object. serde would also fill a struct from an array, by
        // position (`[null, null]` as the first two fields), which the contract never allows.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::invalid("The request body must be a JSON object"));
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Json(value))
    }
}

const NUL_MESSAGE: &str = "Text must not contain NUL (\\u0000) characters";

/// Answers `408 request_timeout` when a request (reading its body included) takes longer than
/// `limit`: a client sending a body slowly cannot hold a request open for minutes. Whatever the
/// handler had begun is dropped: a store change commits whole or not at all.
pub async fn time_limit(
    limit: std::time::Duration,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The request took too long (reading its body included)",
        )
        .into_response(),
    }
}

/// Refuses a NUL character anywhere in the path or query string (`%00`), before any route sees
/// it: PostgreSQL cannot store it, and no orgd value may hold it. Bodies are checked by `Json`.
pub async fn refuse_nul(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = req.uri();
    let has_nul = |s: &str| s.as_bytes().windows(3).any(|w| w == b"%00");
    if has_nul(uri.path()) || uri.query().is_some_and(has_nul) {
        return ApiError::invalid(NUL_MESSAGE).into_response();
    }
    next.run(req).await
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is too large",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Expected a request with Content-Type: application/json",
            ),
            _ => ApiError::invalid(match &r {
                JsonRejection::JsonDataError(e) => {
                    format!("Invalid request body: {}", plain(&source_text(e)))
                }
                JsonRejection::JsonSyntaxError(_) => {
                    "The request body is not valid JSON".to_string()
                }
                _ => "The request body could not be read".to_string(),
            }),
        }
    }
}

fn source_text(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        last = s.to_string();
        cur = s.source();
    }
    last
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::invalid(format!("Invalid query string: {}", plain(&source_text(&r))))
    }
}

/// A deserializer's message in the API's words: serde names the Rust type it expected
/// (`expected struct CreateTokenRequest`, `Option<u32>`), which says nothing to a client and
/// tells an attacker about the implementation.
fn plain(message: &str) -> String {
    let mut out = message.to_string();
    for (marker, replacement) in [
        ("expected struct ", "expected an object"),
        ("expected enum ", "expected one of the allowed values"),
        ("expected tuple struct ", "expected a value"),
        ("expected unit struct ", "expected a value"),
        ("expected newtype struct ", "expected a value"),
    ] {
        while let Some(start) = out.find(marker) {
            let rest = &out[start + marker.len()..];
            let end = rest
                .find(|c: char| {
                    !(c.is_alphanumeric() || c == '_' || c == ':' || c == '<' || c == '>')
                })
                .unwrap_or(rest.len());
            out = format!("{}{replacement}{}", &out[..start], &rest[end..]);
        }
    }
    for (rust, word) in [
        ("expected u32", "expected an unsigned integer"),
        ("expected u64", "expected an unsigned integer"),
        ("expected i64", "expected an integer"),
        ("expected u8", "expected an unsigned integer"),
    ] {
        out = out.replace(rust, word);
    }
    out
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::not_found("Resource")
    }
}

/// Reads `{user}`-style ids: anything that is not a UUID names nothing.
pub fn parse_id(raw: &str, what: &'static str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::try_parse(raw).map_err(|_| ApiError::not_found(what))
}

/// For PATCH bodies: absent → `None`, `null` → `Some(None)`, a value → `Some(Some(v))`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ok {
    pub ok: bool,
}

pub fn ok() -> Json<Ok> {
    Json(Ok { ok: true })
}

/// Longest search string (`q`, `name`) in a list query.
pub const SEARCH_MAX: usize = 256;

/// A search string, refused when longer than `SEARCH_MAX` characters; empty means none.
pub fn search(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.chars().count() > SEARCH_MAX => Err(ApiError::field(
            field,
            format!("must be at most {SEARCH_MAX} characters"),
        )),
        Some(v) if v.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// The paging parameters every list takes.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 1000, default 100.
    pub limit: Option<u32>,
    pub offset: Option<u64>,
    /// Cursor from the previous page's `Link` header.
    pub after: Option<String>,
}

/// How a list is ordered, which decides the cursors it accepts.
pub enum Order {
    /// By id: `after` is an id cursor.
    Id,
    /// By the time a row was added, then id: `after` is a time cursor.
    Added,
}

/// A list's own query parameters (its filters), which name no paging parameter and refuse
/// unknown ones.
pub trait ListFilters: serde::de::DeserializeOwned {
    const ORDER: Order;
}

/// The query of a list ordered by id with no filters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ById {}

impl ListFilters for ById {
    const ORDER: Order = Order::Id;
}

/// The query of a list ordered by the time its rows were added, with no filters.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ByAdded {}

impl ListFilters for ByAdded {
    const ORDER: Order = Order::Added;
}

/// A list request's query string: the paging parameters, checked into a `Page` (a cursor of the
/// other order is refused), and the list's own filters.
pub struct Listing<F> {
    pub page: Page,
    pub filters: F,
}

impl<S: Send + Sync, F: ListFilters> FromRequestParts<S> for Listing<F> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        let (paging, rest): (Vec<&str>, Vec<&str>) = raw
            .split('&')
            .filter(|pair| !pair.is_empty())
            .partition(|pair| matches!(pair.split('=').next(), Some("limit" | "offset" | "after")));
        let invalid = |e: serde_urlencoded::de::Error| {
            ApiError::invalid(format!("Invalid query string: {}", plain(&e.to_string())))
        };
        let q: PageQuery = serde_urlencoded::from_str(&paging.join("&")).map_err(invalid)?;
        let filters: F = serde_urlencoded::from_str(&rest.join("&")).map_err(invalid)?;
        let page = Page::parse(q.limit, q.offset, q.after.as_deref())
            .map_err(|(field, msg)| ApiError::field(field, msg))?;
        match (F::ORDER, &page.after) {
            (Order::Id, Some(Cursor::At(..))) | (Order::Added, Some(Cursor::Id(_))) => {
                Err(ApiError::field("after", "is not a valid cursor"))
            }
            _ => Ok(Listing { page, filters }),
        }
    }
}

/// A list response: the bare array, and a `Link: <…>; rel="next"` header when more items exist.
pub fn paged<T: Serialize>(
    uri: &Uri,
    page: &Page,
    mut items: Vec<T>,
    key: impl Fn(&T) -> Cursor,
) -> Response {
    let more = items.len() > page.limit as usize;
    items.truncate(page.limit as usize);
    let next = match (more, items.last()) {
        (true, Some(last)) => {
            let (set, value) = if page.by_offset {
                ("offset", (page.offset + page.limit as u64).to_string())
            } else {
                ("after", key(last).encode())
            };
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
                if k != "offset" && k != "after" {
                    query.append_pair(&k, &v);
                }
            }
            query.append_pair(set, &value);
            Some(format!("<{}?{}>; rel=\"next\"", uri.path(), query.finish()))
        }
        _ => None,
    };
    let mut res = axum::Json(items).into_response();
    if let Some(link) = next.and_then(|l| HeaderValue::from_str(&l).ok()) {
        res.headers_mut().insert(header::LINK, link);
    }
    res
}
