//! A request id on every answer (the `x-request-id` header), also in the body of an answer that failed inside the
//! server (storage, a panic): the details of such a failure go to the log under that id, never to the client, who
//! can quote the id to the operator.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use entente_wire::ErrorResponse;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Carried by an answer whose cause is the server's own: what the client may read, and what only the log gets.
#[derive(Clone, Debug)]
pub(crate) struct Internal {
    public: String,
    details: String,
}

impl Internal {
    /// A JSON error answer saying `public`; [`request_id`] logs `details` and adds the id to the body.
    pub(crate) fn response(
        status: StatusCode,
        public: impl Into<String>,
        details: impl Into<String>,
    ) -> Response {
        let public = public.into();
        let body = ErrorResponse { message: public.clone(), request_id: None };
        let mut response = (status, axum::Json(body)).into_response();
        response.extensions_mut().insert(Internal { public, details: details.into() });
        response
    }
}

/// Middleware, outermost: gives the request its id, logs an internal failure's details under it, and answers it.
pub(crate) async fn request_id(req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let mut response = next.run(req).await;
    if let Some(internal) = response.extensions_mut().remove::<Internal>() {
        let status = response.status().as_u16();
        tracing::error!(request_id = %id, status, error = %internal.details, "request failed inside the server");
        let body = ErrorResponse { message: internal.public, request_id: Some(id.clone()) };
        let (mut parts, _) = response.into_parts();
        parts.headers.remove(CONTENT_LENGTH);
        let json = serde_json::to_vec(&body).unwrap_or_default();
        response = Response::from_parts(parts, Body::from(json));
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}
