//! The one table from every failure to its HTTP status and JSON body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use entente_dss::{DssError, StoreError};
use serde::Serialize;

use crate::auth::AuthError;
use crate::scd::types::{ConstraintReference, OperationalIntentReference};
use crate::wire::ErrorResponse;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Dss(#[from] DssError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Malformed input caught at the edge, before the domain sees it.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    MethodNotAllowed(String),
}

impl ApiError {
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(message.into())
    }
}

#[derive(Serialize)]
struct AirspaceConflictResponse {
    message: String,
    missing_operational_intents: Vec<OperationalIntentReference>,
    missing_constraints: Vec<ConstraintReference>,
}

fn status_of(e: &ApiError) -> StatusCode {
    match e {
        ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
        ApiError::Auth(_) => StatusCode::UNAUTHORIZED,
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(&self);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(error = %self, "request failed in storage");
        }
        match self {
            ApiError::Dss(DssError::AirspaceConflict(conflict)) => {
                let body = AirspaceConflictResponse {
                    message: conflict.message,
                    missing_operational_intents: conflict
                        .missing_operational_intents
                        .iter()
                        .map(OperationalIntentReference::from_view)
                        .collect(),
                    missing_constraints: conflict
                        .missing_constraints
                        .iter()
                        .map(ConstraintReference::from_view)
                        .collect(),
                };
                (status, Json(body)).into_response()
            }
            other => (status, Json(ErrorResponse { message: other.to_string() })).into_response(),
        }
    }
}
