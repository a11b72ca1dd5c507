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
pub mod auth;
pub mod health;
pub mod invitations;
pub mod members;
pub mod organizations;
pub mod projects;
pub mod service_accounts;
pub mod tokens;
pub mod users;

/// JSON body in and out; unknown fields and malformed bodies get `400 invalid_request`.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

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
                    format!("Invalid request body: {}", source_text(e))
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
        ApiError::invalid(format!("Invalid query string: {}", source_text(&r)))
    }
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

pub fn page(
    limit: Option<u32>,
    offset: Option<u64>,
    after: Option<&str>,
) -> Result<Page, ApiError> {
    Page::parse(limit, offset, after).map_err(|(field, msg)| ApiError::field(field, msg))
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
