//! The one error type at the HTTP edge.
//!
//! Every failure a client can see is an [`AppError`]: an HTTP status, a stable
//! machine code (`unit.parent_unknown`), the offending field when there is one,
//! and a message in Vietnamese for people. Internal errors are logged once here
//! and reach the client only as a generic `internal` error.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

pub use crate::domain::import::LineProblem;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub field: Option<String>,
    pub message: String,
    pub problems: Vec<LineProblem>,
    /// Kept for the log only; never sent to the client.
    source: Option<anyhow::Error>,
}

/// The JSON body of every error response.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `unit.parent_unknown`.
    pub code: String,
    /// Human-readable message in Vietnamese.
    pub message: String,
    /// The request field the error is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For file imports: every problem found, with its line number.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<LineProblem>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            field: None,
            message: message.into(),
            problems: Vec::new(),
            source: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_problems(mut self, problems: Vec<LineProblem>) -> Self {
        self.problems = problems;
        self
    }

    /// 400 with a field: the value sent for `field` is not acceptable.
    pub fn invalid(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message).with_field(field)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "auth.required",
            "Cần đăng nhập để thực hiện thao tác này.",
        )
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "auth.forbidden",
            "Bạn không có quyền thực hiện thao tác này.",
        )
    }

    /// Outside the caller's subtree. Answered as "not found" so that a manager
    /// cannot learn which codes exist in other units.
    pub fn out_of_scope(code: &'static str, message: impl Into<String>) -> Self {
        Self::not_found(code, message)
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Lỗi hệ thống. Vui lòng thử lại sau.",
        );
        e.source = Some(err.into());
        e
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            // A busy database under load is temporary: tell the client to retry.
            sqlx::Error::PoolTimedOut => AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server.busy",
                "Máy chủ đang bận. Vui lòng thử lại sau giây lát.",
            ),
            _ => AppError::internal(err),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError::internal(err)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let Some(source) = &self.source {
            tracing::error!(error = ?source, code = self.code, "request failed");
        }
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code.to_string(),
                message: self.message,
                field: self.field,
                problems: self.problems,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
