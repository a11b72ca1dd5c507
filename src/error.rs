//! The one error type of the HTTP API and the one body every error has.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::request_id;
use crate::store::StoreError;

/// A field-level validation problem.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Human-readable description.
    pub error: String,
    /// Stable machine-readable code, e.g. `not_found`, `last_owner`.
    pub code: String,
    /// The id of the request, also sent as `X-Request-Id`.
    pub request_id: String,
    /// Present on validation errors only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldError>>,
    /// Present on `plan_limit_reached` only: the limit, its value and the current usage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<crate::domain::plans::LimitReached>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Vec<FieldError>>,
    pub retry_after: Option<u64>,
    pub limit: Option<crate::domain::plans::LimitReached>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            limit: None,
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    pub fn validation(details: Vec<FieldError>) -> Self {
        let mut e = Self::invalid("Validation failed");
        e.details = Some(details);
        e
    }
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
        )
    }
    pub fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
            "Invalid login or password",
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    pub fn last_owner() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "last_owner",
            "The organization must keep at least one owner",
        )
    }
    pub fn inactive() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "organization_inactive",
            "The organization is deactivated: it can be read, and an owner can reactivate it",
        )
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
        e.retry_after = Some(1);
        e
    }
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests",
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict(msg) => ApiError::conflict(msg),
            StoreError::LastOwner => ApiError::last_owner(),
            StoreError::Forbidden(msg) => ApiError::forbidden(msg),
            StoreError::Invalid(msg) => ApiError::invalid(msg),
            StoreError::OrganizationLimit => ApiError::new(
                StatusCode::FORBIDDEN,
                "organization_limit_exceeded",
                "The limit of organizations per user is reached",
            ),
            StoreError::PlanLimit(reached) => {
                let mut e = ApiError::new(
                    StatusCode::FORBIDDEN,
                    "plan_limit_reached",
                    reached.to_string(),
                );
                e.limit = Some(reached);
                e
            }
            StoreError::Inactive => ApiError::inactive(),
            StoreError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "database unavailable");
                ApiError::unavailable("The database is unavailable, try again shortly")
            }
            StoreError::Internal(detail) => {
                tracing::error!(error = %detail, "internal store error");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            code: self.code.to_string(),
            request_id: request_id::current(),
            details: self.details,
            limit: self.limit,
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}
