//! Reading the audit log: an organization's (owners and admins) and the installation's
//! (superusers), newest first with keyset paging, or every matching entry as NDJSON.

use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::Query;
use crate::AppState;
use crate::audit::Entry;
use crate::auth::{OrgContext, SuperuserCaller};
use crate::domain::Timestamp;
use crate::domain::paging::Cursor;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::store::{AuditFilter, Store};

/// Entries read per statement while exporting.
const EXPORT_BATCH: i64 = 1000;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// An action, e.g. `member.added`.
    pub action: Option<String>,
    /// The acting user or service account.
    pub actor_id: Option<Uuid>,
    /// `user`, `organization`, `project`, `token`, …
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Entries at or after this time.
    pub since: Option<Timestamp>,
    /// Entries before this time.
    pub until: Option<Timestamp>,
    /// Cursor from the previous page's `Link` header: entries older than its entry.
    pub after: Option<String>,
    /// 1 to 1000, default 100 (ignored by `format=ndjson`).
    pub limit: Option<u32>,
    /// `json` (default): a page as a JSON array; `ndjson`: every matching entry, one JSON
    /// object per line, streamed.
    pub format: Option<String>,
}

impl AuditQuery {
    /// The filter; an empty text filter is no filter.
    fn filter(&self, organization_id: Option<Uuid>) -> ApiResult<AuditFilter> {
        let text = |field: &str, v: &Option<String>| -> ApiResult<Option<String>> {
            match v.as_deref() {
                None | Some("") => Ok(None),
                Some(v) if v.len() > 256 => {
                    Err(ApiError::field(field, "must be at most 256 characters"))
                }
                Some(v) => Ok(Some(v.to_owned())),
            }
        };
        Ok(AuditFilter {
            organization_id,
            action: text("action", &self.action)?,
            actor_id: self.actor_id,
            target_type: text("target_type", &self.target_type)?,
            target_id: text("target_id", &self.target_id)?,
            since: self.since,
            until: self.until,
        })
    }

    /// The entry the page starts after.
    fn cursor(&self) -> ApiResult<Option<Uuid>> {
        match self.after.as_deref() {
            None => Ok(None),
            Some(raw) => match Cursor::decode(raw) {
                Some(Cursor::Id(id)) => Ok(Some(id)),
                _ => Err(ApiError::field("after", "is not a valid cursor")),
            },
        }
    }
}

/// An organization's audit log (owners and admins), newest first.
#[utoipa::path(get, path = "/organizations/{org}/audit-log", tag = "audit",
    params(("org" = String, Path, description = "Organization id or slug"), AuditQuery),
    responses((status = 200, headers(("link" = String, description = "RFC 8288 next page")),
        content((Vec<Entry> = "application/json"), (String = "application/x-ndjson")),
        description = "A page of entries, newest first; with `format=ndjson`, every matching entry as `application/x-ndjson`, one JSON object per line"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn organization_log(
    State(state): State<AppState>,
    OrgContext { access, .. }: OrgContext,
    uri: Uri,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    let filter = q.filter(Some(access.id))?;
    answer(&state, &uri, &q, filter).await
}

/// The installation's audit log (superusers), newest first.
#[utoipa::path(get, path = "/audit-log", tag = "audit", params(AuditQuery),
    responses((status = 200, headers(("link" = String, description = "RFC 8288 next page")),
        content((Vec<Entry> = "application/json"), (String = "application/x-ndjson")),
        description = "A page of entries, newest first; with `format=ndjson`, every matching entry as `application/x-ndjson`, one JSON object per line"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn installation_log(
    State(state): State<AppState>,
    _: SuperuserCaller,
    uri: Uri,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    let filter = q.filter(None)?;
    answer(&state, &uri, &q, filter).await
}

async fn answer(
    state: &AppState,
    uri: &Uri,
    q: &AuditQuery,
    filter: AuditFilter,
) -> ApiResult<Response> {
    let after = q.cursor()?;
    match q.format.as_deref() {
        None | Some("" | "json") => {}
        Some("ndjson") => return Ok(export(state.store.clone(), filter, after)),
        Some(_) => return Err(ApiError::field("format", "must be json or ndjson")),
    }
    let limit = match q.limit {
        None => 100,
        Some(n @ 1..=1000) => n as i64,
        Some(_) => return Err(ApiError::field("limit", "must be 1 to 1000")),
    };
    let mut entries = state.store.audit_log(&filter, after, limit + 1).await?;
    let more = entries.len() as i64 > limit;
    entries.truncate(limit as usize);
    let next = match (more, entries.last()) {
        (true, Some(last)) => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
                if k != "after" {
                    query.append_pair(&k, &v);
                }
            }
            query.append_pair("after", &Cursor::Id(last.id).encode());
            Some(format!("<{}?{}>; rel=\"next\"", uri.path(), query.finish()))
        }
        _ => None,
    };
    let mut res = axum::Json(entries).into_response();
    if let Some(link) = next.and_then(|l| HeaderValue::from_str(&l).ok()) {
        res.headers_mut().insert(header::LINK, link);
    }
    Ok(res)
}

/// Every matching entry, newest first, one JSON object per line, read in batches as the client
/// takes them.
fn export(store: std::sync::Arc<dyn Store>, filter: AuditFilter, after: Option<Uuid>) -> Response {
    let stream = futures_util::stream::unfold(Some(after), move |cursor| {
        let store = store.clone();
        let filter = filter.clone();
        async move {
            let before = cursor?;
            match store.audit_log(&filter, before, EXPORT_BATCH).await {
                Ok(batch) if batch.is_empty() => None,
                Ok(batch) => {
                    let next =
                        (batch.len() as i64 == EXPORT_BATCH).then(|| batch.last().map(|e| e.id));
                    let mut lines = Vec::with_capacity(batch.len() * 300);
                    for e in &batch {
                        if serde_json::to_writer(&mut lines, e).is_ok() {
                            lines.push(b'\n');
                        }
                    }
                    Some((
                        Ok::<_, std::io::Error>(bytes::Bytes::from(lines)),
                        next.flatten().map(Some),
                    ))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "audit log export stopped");
                    Some((Err(std::io::Error::other("export stopped")), None))
                }
            }
        }
    });
    let mut res = axum::body::Body::from_stream(stream).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    res
}
