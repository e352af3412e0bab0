//! The one error type of the HTTP API: every non-2xx answer is an
//! [`ErrorBody`] with the status of its [`ErrorCode`].
//!
//! Internal failures are logged with their cause and answered with a generic
//! message: database paths, SQL and stack details never reach a client.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sync_protocol::{ErrorBody, ErrorCode, ErrorDetail};

/// An error answer: a code, a message for the person reading the sync log,
/// and (with `sequence_gap`) the device sequence the server expects next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub expected_seq: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            expected_seq: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn sequence_gap(expected: u64, got: u64) -> ApiError {
        ApiError {
            code: ErrorCode::SequenceGap,
            message: format!(
                "this push starts at op {got} but the server has everything up to op {} only; push again starting at op {expected}",
                expected.saturating_sub(1)
            ),
            expected_seq: Some(expected),
        }
    }

    /// A server failure: logged here with its cause, answered generically.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            ErrorCode::Internal,
            "the server failed and changed nothing; retry later (the server's log has the details)",
        )
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        Self::new(ErrorCode::Unavailable, message)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                expected_seq: self.expected_seq,
            },
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        ApiError::internal(&e)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> ApiError {
        ApiError::internal(&e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> ApiError {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                ErrorCode::PayloadTooLarge,
                "the request body is larger than this server accepts; push fewer ops at a time",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ApiError::bad_request("send the body as JSON with Content-Type: application/json")
            }
            _ => ApiError::bad_request(format!(
                "the body is not a valid request: {}",
                r.body_text()
            )),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> ApiError {
        ApiError::bad_request(format!(
            "the query string is not valid: {}; use ?cursor=EPOCH.SEQ&limit=N (both optional)",
            r.body_text()
        ))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body())).into_response()
    }
}
