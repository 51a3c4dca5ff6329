//! One error type for every handler, rendered as RFC 9457 problem+json.
//!
//! Policy: client mistakes say exactly what to fix (field and reason); server faults are
//! logged with their detail and answered with a generic 500 that shows nothing internal.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tend_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("authentication required")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("internal error")]
    Internal(String),
    #[error("service unavailable")]
    Unavailable(String),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
    pub fn not_found(what: impl Into<String>) -> AppError {
        AppError::NotFound(what.into())
    }
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
    fn slug(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad-request",
            AppError::Invalid { .. } => "invalid-field",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not-found",
            AppError::Conflict(_) => "conflict",
            AppError::PayloadTooLarge(_) => "payload-too-large",
            AppError::UnsupportedMediaType(_) => "unsupported-media-type",
            AppError::TooManyRequests { .. } => "too-many-requests",
            AppError::Internal(_) => "internal",
            AppError::Unavailable(_) => "unavailable",
        }
    }
    fn detail(&self) -> String {
        match self {
            AppError::BadRequest(m)
            | AppError::Forbidden(m)
            | AppError::Conflict(m)
            | AppError::PayloadTooLarge(m)
            | AppError::UnsupportedMediaType(m) => m.clone(),
            AppError::Invalid { field, message } => format!("{field}: {message}"),
            AppError::Unauthorized(m) => m.clone(),
            AppError::NotFound(what) => format!("{what} not found (or you may not see it)"),
            AppError::TooManyRequests { retry_after_secs } => {
                format!("too many attempts; try again in {retry_after_secs} s")
            }
            AppError::Internal(_) => "something went wrong on our side; it has been logged".into(),
            AppError::Unavailable(_) => "the service is not ready; try again shortly".into(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AppError::NotFound(what.into()),
            StoreError::Conflict(m) => AppError::Conflict(m),
            StoreError::Invalid { field, message } => AppError::Invalid { field, message },
            StoreError::Backend(m) => AppError::Internal(m),
        }
    }
}

impl From<tend_core::Invalid> for AppError {
    fn from(e: tend_core::Invalid) -> Self {
        AppError::Invalid {
            field: e.field,
            message: e.message,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            AppError::Internal(m) | AppError::Unavailable(m) => {
                tracing::error!(error = %m, status = status.as_u16(), "request failed")
            }
            _ => tracing::debug!(error = %self, status = status.as_u16(), "request rejected"),
        }
        let field = match &self {
            AppError::Invalid { field, .. } => Some(field.as_str()),
            _ => None,
        };
        let body = Problem {
            kind: format!("https://tend.dev/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.detail(),
            field,
        };
        let mut resp = (status, serde_json::to_vec(&body).unwrap_or_default()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let AppError::Unauthorized(_) = self {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tend\""),
            );
        }
        if let AppError::TooManyRequests { retry_after_secs } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, AppError>;
