//! The HTTP error type: one `match` from error to status, rendered as
//! `application/problem+json` (RFC 9457). Internal causes are logged, never sent.

use std::time::Duration;

use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::Invalid;
use crate::store::StoreError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad JSON, unknown field); the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// A field's value is refused.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The request body is over the size limit.
    #[error("{0}")]
    TooLarge(String),
    /// No valid session.
    #[error("sign in first")]
    Unauthorized,
    /// Signed in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing.
    #[error("not found")]
    NotFound,
    /// The request conflicts with the current state (a taken email, a phase
    /// that changed meanwhile).
    #[error("{0}")]
    Conflict(String),
    /// Too many requests (or failed sign-ins); retry after the given time.
    #[error("too many requests; retry in {} s", .0.as_secs().max(1))]
    TooManyRequests(Duration),
    /// The server cannot serve this now (shutting down, database down).
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; the cause is logged, not sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// A forbidden action, explained.
    pub fn forbidden(why: impl Into<String>) -> Self {
        ApiError::Forbidden(why.into())
    }

    /// An internal failure with its cause (logged, not sent).
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(cause.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_),
            ) => ApiError::Unavailable("the database is unavailable; try again".into()),
            error => ApiError::Internal(error.into()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(rejection.body_text())
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, detail, field) = match &self {
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, Some(message.clone()), None),
            ApiError::Invalid(invalid) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(invalid.to_string()),
                Some(invalid.field),
            ),
            ApiError::TooLarge(message) => {
                (StatusCode::PAYLOAD_TOO_LARGE, Some(message.clone()), None)
            }
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, Some(self.to_string()), None),
            ApiError::Forbidden(message) => (StatusCode::FORBIDDEN, Some(message.clone()), None),
            ApiError::NotFound => (StatusCode::NOT_FOUND, None, None),
            ApiError::Conflict(message) => (StatusCode::CONFLICT, Some(message.clone()), None),
            ApiError::TooManyRequests(_) => {
                (StatusCode::TOO_MANY_REQUESTS, Some(self.to_string()), None)
            }
            ApiError::Unavailable(message) => {
                (StatusCode::SERVICE_UNAVAILABLE, Some(message.clone()), None)
            }
            ApiError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, None, None)
            }
        };
        let problem = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            field,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::TooManyRequests(wait) => {
                if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                    headers.insert(header::RETRY_AFTER, value);
                }
            }
            _ => {}
        }
        response
    }
}

/// `axum::Json` whose rejections are problem+json like every other error.
#[derive(Debug, Clone, Copy, Default, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}
