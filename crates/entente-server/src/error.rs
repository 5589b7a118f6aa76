//! The one table from every failure to its HTTP status and JSON body.

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};
use entente_dss::{DssError, StoreError};
use entente_uss::UssError;
use entente_uss::service::CallError;
use entente_wire::scd::AirspaceConflictResponse;
use entente_wire::uss_core::plan_conflict_out;
use entente_wire::{ErrorResponse, WireError};

use crate::auth::AuthError;
use crate::request_id::Internal;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Dss(#[from] DssError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Wire input that makes no valid domain value: the field and the rule it breaks.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Malformed input caught at the edge, before the domain sees it.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The request body arrived too slowly.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A state or version that contradicts what this server holds (a notification going backwards, say).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    /// The DSS or a peer USS did not answer, or answered what this server cannot use.
    #[error("{0}")]
    Upstream(String),
    /// What the USS core refused or failed at; a conflicting plan carries the nearest plans that would not.
    #[error(transparent)]
    Uss(#[from] UssError),
    /// The client has as many requests in flight as it may; it may try again after `retry_after_s`.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_s: u64 },
}

impl ApiError {
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(message.into())
    }
}

pub(crate) fn status_of(e: &ApiError) -> StatusCode {
    match e {
        ApiError::BadRequest(_) | ApiError::Wire(_) => StatusCode::BAD_REQUEST,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
        ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
        ApiError::Auth(_) => StatusCode::UNAUTHORIZED,
        ApiError::Conflict(_) => StatusCode::CONFLICT,
        ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
        ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
        ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        ApiError::Uss(u) => uss_status(u),
        ApiError::Dss(d) => match d {
            DssError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DssError::Forbidden(_) => StatusCode::FORBIDDEN,
            DssError::NotFound(_) => StatusCode::NOT_FOUND,
            DssError::Conflict(_) | DssError::AirspaceConflict(_) => StatusCode::CONFLICT,
            DssError::AreaTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            DssError::UssDown(_) => StatusCode::PRECONDITION_FAILED,
            DssError::TooManySubscriptions(_) => StatusCode::TOO_MANY_REQUESTS,
            DssError::Contended(_)
            | DssError::Store(StoreError::Io(_) | StoreError::Corrupt(_) | StoreError::Poisoned) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        },
    }
}

/// The status of what the USS core refused or failed at.
pub(crate) fn uss_status(u: &UssError) -> StatusCode {
    match u {
        UssError::Transition { .. }
        | UssError::AuditBroken { .. }
        | UssError::ActivatedAfterEnd { .. }
        | UssError::NotFlying { .. }
        | UssError::ZoneSetSource { .. }
        | UssError::Conflict(_) => StatusCode::CONFLICT,
        UssError::Position(_)
        | UssError::Route(_)
        | UssError::View(_)
        | UssError::Area(_)
        | UssError::FixFromTheFuture { .. }
        | UssError::ZoneSet(_)
        | UssError::Call(CallError::Invalid(_)) => StatusCode::BAD_REQUEST,
        UssError::ViewTooLarge { .. } | UssError::Call(CallError::TooLarge(_)) => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        UssError::PriorityNotGranted { .. } => StatusCode::FORBIDDEN,
        UssError::NoSuchFlight(_) | UssError::NoSuchZone(_) | UssError::NoSuchZoneSet(_) => {
            StatusCode::NOT_FOUND
        }
        UssError::Call(CallError::Refused(_)) => StatusCode::PRECONDITION_FAILED,
        UssError::Call(CallError::Failed(_)) => StatusCode::BAD_GATEWAY,
        UssError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self);
        if status == StatusCode::BAD_GATEWAY {
            tracing::warn!(error = %self, "a call to the DSS or a peer failed");
        }
        match self {
            ApiError::Dss(DssError::AirspaceConflict(conflict)) => {
                (status, Json(AirspaceConflictResponse::from_domain(&conflict))).into_response()
            }
            ApiError::Uss(UssError::Conflict(refusal)) => {
                (status, Json(plan_conflict_out(&refusal))).into_response()
            }
            ApiError::Uss(UssError::Store(e)) => Internal::response(
                status,
                "this USS's storage failed; the request was not applied",
                e.to_string(),
            ),
            ApiError::TooManyRequests { message, retry_after_s } => {
                let body = ErrorResponse { message, request_id: None };
                (status, [(RETRY_AFTER, retry_after_s.to_string())], Json(body)).into_response()
            }
            ApiError::Dss(DssError::Store(store)) => {
                let public = match store {
                    StoreError::Io(_) => "the server's storage failed; the request was not applied",
                    StoreError::Corrupt(_) => "data the server stores does not read back intact",
                    StoreError::Poisoned => "writes are refused after an earlier storage failure",
                };
                Internal::response(status, public, store.to_string())
            }
            other => {
                (status, Json(ErrorResponse { message: other.to_string(), request_id: None })).into_response()
            }
        }
    }
}
