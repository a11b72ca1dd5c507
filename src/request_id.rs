//! `X-Request-Id`: echoed when the client sends a sane one, generated otherwise; available to
//! error bodies through a task-local, and logged with every request together with the client's
//! address and, once authentication knows it, the caller's id (never a token).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    static REQUEST_ID: String;
}

pub const HEADER: &str = "x-request-id";

/// The id of the request being served (empty outside a request).
pub fn current() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_default()
}

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Who made the request, filled in by authentication (the `Caller` extractor, a login) and logged
/// with the request.
#[derive(Clone, Default)]
pub struct CallerSlot(Arc<OnceLock<uuid::Uuid>>);

impl CallerSlot {
    /// Records `id` as the request's caller, if the request carries a slot.
    pub fn record(extensions: &axum::http::Extensions, id: uuid::Uuid) {
        if let Some(slot) = extensions.get::<CallerSlot>() {
            let _ = slot.0.set(id);
        }
    }
}

pub async fn layer(State(state): State<crate::AppState>, mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let client = crate::ratelimit::client_ip(
        req.headers(),
        req.extensions(),
        state.config.trust_forwarded_for,
    );
    let caller = CallerSlot::default();
    req.extensions_mut().insert(caller.clone());
    let user_agent = crate::audit::changes(method.as_str(), &path)
        .then(|| req.headers().get(axum::http::header::USER_AGENT).cloned())
        .flatten();
    let started = Instant::now();
    let in_flight = crate::metrics::InFlight::start();
    let audited = crate::audit::scope(
        client.clone(),
        user_agent.as_ref().and_then(|v| v.to_str().ok()),
        id.clone(),
        method.as_str(),
        &path,
        async {
            let res = next.run(req).await;
            let refusal = crate::audit::refusal(res.status().as_u16(), &path);
            (res, refusal)
        },
    );
    let ((mut res, refusal), quota) = REQUEST_ID
        .scope(id.clone(), crate::ratelimit::scope(audited))
        .await;
    drop(in_flight);
    if let Some(entry) = refusal
        && let Err(e) = state.store.record_audit(entry).await
    {
        tracing::warn!(error = %e, request_id = %id, "could not record a refused attempt");
    }
    if let Some(q) = quota {
        crate::ratelimit::headers(q, res.headers_mut());
    }
    crate::metrics::observe(method.as_str(), &res, started.elapsed());
    let status = res.status().as_u16();
    tracing::info!(
        request_id = %id,
        %method,
        %path,
        status,
        %client,
        caller = %caller.0.get().map_or_else(|| "-".to_string(), |id| id.to_string()),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, v);
    }
    res
}
