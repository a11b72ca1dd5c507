//! Liveness and readiness.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::Json;
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Prometheus metrics (OpenMetrics text): requests by route template and status, latency,
/// in-flight requests, rate-limit refusals, login failures, the database pool, cache hits and
/// misses, mail deliveries, build information. Served here unless `metrics_listen` moves it to
/// its own address.
#[utoipa::path(get, path = "/metrics", tag = "health", security(()),
    responses((status = 200, description = "OpenMetrics text exposition", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 404, description = "Served on `metrics_listen` instead", body = ErrorBody)))]
pub async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if state.config.metrics_listen.is_some() {
        return ApiError::not_found("Route").into_response();
    }
    render_metrics(State(state)).await
}

/// The metrics text, with the pool's figures read now.
pub async fn render_metrics(State(state): State<AppState>) -> axum::response::Response {
    use crate::metrics::METRICS;
    use axum::response::IntoResponse;
    let pool = state.store.pool_stats();
    METRICS.pool_connections.set(pool.size as i64);
    METRICS.pool_idle.set(pool.idle as i64);
    METRICS.pool_max.set(pool.max as i64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        METRICS.render(),
    )
        .into_response()
}

/// The database is reachable.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    match state.store.ping().await {
        Ok(()) => Ok(Json(Health {
            status: "ready".into(),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::unavailable("The database is unreachable"))
        }
    }
}
